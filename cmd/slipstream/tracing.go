package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"slipstream/scheduler/config"
)

// newLogger is the node's logger: text or JSON lines on w.
func newLogger(format string, w io.Writer) *slog.Logger {
	if format == config.LogJSON {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// setupTracing installs the node's tracer provider and the W3C trace
// context propagator. With a collector configured, spans are sampled
// (a trace the caller sampled is kept; a new one only when it is a query
// or an upload: sampling every status poll and health check would drown
// them) and exported in batches over OTLP/HTTP. Without one, no span is
// recorded, yet every query still has a trace id (its client's, or a new
// one) for its status and log lines, and passes it on to other nodes.
// The returned function flushes what is left to export.
func setupTracing(cfg config.Node, version string) (func(context.Context) error, error) {
	res, err := resource.New(context.Background(),
		resource.WithTelemetrySDK(),
		resource.WithAttributes(attribute.String("service.name", "slipstream"), attribute.String("service.version", version),
			attribute.String("service.instance.id", cfg.Name)),
		resource.WithFromEnv()) // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithSampler(sdktrace.NeverSample())}
	if cfg.OTLPEndpoint != "" {
		exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(tracesURL(cfg.OTLPEndpoint)))
		if err != nil {
			return nil, fmt.Errorf("--otlp-endpoint: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp), sdktrace.WithSampler(sdktrace.ParentBased(rootSampler{})))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	return tp.Shutdown, nil
}

// tracesURL is the collector's traces endpoint: a URL with no path gets
// OTLP's /v1/traces.
func tracesURL(endpoint string) string {
	if u, err := url.Parse(endpoint); err == nil && strings.Trim(u.Path, "/") == "" {
		u.Path = "/v1/traces"
		return u.String()
	}
	return endpoint
}

// rootSampler decides for spans that start a trace: the calls that run a
// query or an upload are kept; the rest (status polls, health checks,
// catalog sync, the node-to-node calls of background work) are not.
type rootSampler struct{}

// rootCalls are the gRPC methods whose spans may start a trace.
var rootCalls = map[string]bool{
	"arrow.flight.protocol.FlightService/GetFlightInfo":  true,
	"arrow.flight.protocol.FlightService/PollFlightInfo": true,
	"arrow.flight.protocol.FlightService/DoGet":          true,
	"arrow.flight.protocol.FlightService/DoPut":          true,
	"arrow.flight.protocol.FlightService/DoExchange":     true,
}

func (rootSampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	d := sdktrace.Drop
	if rootCalls[p.Name] && p.Kind == trace.SpanKindServer {
		d = sdktrace.RecordAndSample
	}
	return sdktrace.SamplingResult{Decision: d, Tracestate: trace.SpanContextFromContext(p.ParentContext).TraceState()}
}

func (rootSampler) Description() string { return "slipstream queries and uploads" }
