package flight

import (
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/grpc"
)

// Traces cross the network in gRPC metadata. otel's gRPC instrumentation
// (stats handlers, not interceptors: they see every call and stream) opens
// a client span for each call a node makes and a server span for each call
// it serves, and carries the caller's span context in the W3C traceparent
// header: node to node (a task's run_task call, a shuffle read) and from
// any client that sends one (the Python client does). The header is read
// even when this node records no spans, so a query's status and log lines
// carry the client's trace id.

// propagator is the one trace-context format on the wire.
var propagator = propagation.TraceContext{}

// serverTracing traces the calls a node serves, with the global tracer
// provider.
func serverTracing() grpc.ServerOption {
	return grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithPropagators(propagator)))
}

// clientTracing traces the calls a node makes to another.
func clientTracing() grpc.DialOption {
	return grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithPropagators(propagator)))
}
