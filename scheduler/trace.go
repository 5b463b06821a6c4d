package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"slipstream/kernels"
)

// Tracing: one trace per query. The runner around the query core (never
// the core: it stays free of clocks and I/O) opens a span for the query
// and one for each stage that runs; each node opens a span for every task
// attempt it runs, under the stage's span: directly when the coordinator
// runs the task itself, else under the gRPC spans of the run_task call,
// whose context the flight layer carries in the W3C traceparent header.
// With no tracer provider configured the spans cost next to nothing (the
// global provider is a no-op; the binary's drops what it does not sample)
// and attributes are built only for spans that record.

// tracerName names the instrumentation scope of the scheduler's spans.
const tracerName = "slipstream/scheduler"

// Span attribute keys.
const (
	attrQuery     = attribute.Key("slipstream.query_id")
	attrStage     = attribute.Key("slipstream.stage")
	attrPartition = attribute.Key("slipstream.partition") // the task's index in its stage
	attrAttempt   = attribute.Key("slipstream.attempt")
	attrNode      = attribute.Key("slipstream.node")
	attrNodes     = attribute.Key("slipstream.nodes")
	attrStages    = attribute.Key("slipstream.stages")
	attrTasks     = attribute.Key("slipstream.tasks")
	attrRowsOut   = attribute.Key("slipstream.rows_out")
	attrBytesOut  = attribute.Key("slipstream.bytes_out")
	attrRowsRead  = attribute.Key("slipstream.rows_read")
	attrBytesRead = attribute.Key("slipstream.bytes_read")
	attrSpilled   = attribute.Key("slipstream.spilled_bytes")
	attrShuffled  = attribute.Key("slipstream.bytes_shuffled")
	attrCancelled = attribute.Key("slipstream.cancelled")
)

func (e *Engine) tracer() trace.Tracer {
	tp := e.Tracing
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return tp.Tracer(tracerName)
}

// endSpan ends span as its work ended: err nil is success; a cancel is
// marked (slipstream.cancelled, an event with the reason) but is not an
// error of the span; any other error is recorded and sets the status.
func endSpan(span trace.Span, err error, opts ...trace.SpanEndOption) {
	if err != nil && span.IsRecording() {
		if cancelled(err) {
			span.SetAttributes(attrCancelled.Bool(true))
			span.AddEvent("cancelled", trace.WithAttributes(attribute.String("reason", err.Error())))
		} else {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
	}
	span.End(opts...)
}

func cancelled(err error) bool {
	return kernels.KindOf(err) == kernels.Cancelled || errors.Is(err, context.Canceled)
}

// traceID is the id of the trace ctx's span belongs to ("" when none).
func traceID(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		return sc.TraceID().String()
	}
	return ""
}

// queryLog is the logger for lines about query id: every one carries the
// query id and the trace id.
func queryLog(id, traceID string) *slog.Logger {
	return slog.Default().With("query_id", id, "trace_id", traceID)
}

// stageSpans are the spans of a distributed query's stages, opened by the
// runner when a stage's first attempt starts and ended with the query, at
// the time its last attempt reported.
type stageSpans struct {
	ctx   context.Context // the query's span's
	spans map[int]trace.Span
	last  map[int]time.Time
}

// start gives stage s's span, opening it if need be.
func (st *stageSpans) start(r *queryRun, s int) trace.Span {
	span, ok := st.spans[s]
	if !ok {
		_, span = r.e.tracer().Start(st.ctx, fmt.Sprintf("stage %d", s),
			trace.WithAttributes(attrQuery.String(r.status.ID), attrStage.Int(s), attrTasks.Int(len(r.shares[s]))))
		st.spans[s] = span
	}
	return span
}

// reported notes when an attempt of a stage reported.
func (st *stageSpans) reported(ev coreEvent) {
	switch ev := ev.(type) {
	case taskDone:
		st.last[ev.id.Stage] = time.Now()
	case taskFailed:
		st.last[ev.id.Stage] = time.Now()
	case inputLost:
		st.last[ev.id.Stage] = time.Now()
	}
}

// end ends every stage span: with what the done tasks wrote, and as the
// query ended when the stage did not complete. receipts are the core's;
// the caller holds r.mu.
func (st *stageSpans) end(receipts []*Receipt, complete func(int) bool, err error) {
	type out struct{ rows, bytes int64 }
	outs := map[int]out{}
	for _, rc := range receipts {
		if rc.State == "done" {
			o := outs[rc.Stage]
			o.rows += rc.Rows
			o.bytes += rc.Bytes
			outs[rc.Stage] = o
		}
	}
	for s, span := range st.spans {
		if span.IsRecording() {
			span.SetAttributes(attrRowsOut.Int64(outs[s].rows), attrBytesOut.Int64(outs[s].bytes))
		}
		var serr error
		if err != nil && !complete(s) {
			serr = err
		}
		var opts []trace.SpanEndOption
		if t, ok := st.last[s]; ok {
			opts = append(opts, trace.WithTimestamp(t))
		}
		endSpan(span, serr, opts...)
	}
}

// traceEnd ends the query's spans and logs how it ended, once its status
// is final.
func (r *queryRun) traceEnd(err error) {
	r.mu.Lock()
	st := *r.status
	var rows, bytes int64
	stages := 0
	if r.core != nil {
		r.stages.end(r.core.receipts, r.core.complete, err)
		last := len(r.core.stages) - 1
		for _, rc := range r.core.receipts {
			if rc.Stage == last && rc.State == "done" {
				rows += rc.Rows
				bytes += rc.Bytes
			}
		}
		stages = len(r.core.stages)
	}
	if l := r.local; l != nil {
		l.mu.Lock()
		rows, bytes, st.Spilled = l.rowsOut, l.bytesOut, l.spilled
		l.mu.Unlock()
	} else {
		st.RowsRead, st.BytesRead, st.Spilled = r.read.rows, r.read.bytes, r.read.spilled
	}
	nodes := max(1, len(r.members))
	r.mu.Unlock()
	span := r.span
	if span == nil { // a query that failed before it ran
		span = noop.Span{}
	}
	if span.IsRecording() {
		span.SetAttributes(attrNodes.Int(nodes), attrRowsOut.Int64(rows), attrBytesOut.Int64(bytes),
			attrRowsRead.Int64(st.RowsRead), attrBytesRead.Int64(st.BytesRead), attrSpilled.Int64(st.Spilled))
		if r.local == nil {
			span.SetAttributes(attrStages.Int(stages), attrShuffled.Int64(st.Shuffled))
		}
	}
	endSpan(span, err)
	level := slog.LevelInfo
	if st.State == queryFailed {
		level = slog.LevelWarn
	}
	args := []any{"state", st.State, "seconds", st.Seconds, "nodes", nodes, "rows_out", rows, "bytes_out", bytes}
	if st.Error != "" {
		args = append(args, "err", st.Error)
	}
	r.log.Log(context.Background(), level, "query "+st.State, args...)
}
