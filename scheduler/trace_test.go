package scheduler

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"slipstream/kernels"
)

// A query that fails has its error on its span; one cancelled is marked
// cancelled, not failed.
func TestQuerySpanEnds(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	engines, _ := testCluster(t, 2, memory.NewGoAllocator())
	for _, e := range engines {
		e.Tracing = tp
	}
	querySpan := func(id string) tracetest.SpanStub {
		t.Helper()
		for _, s := range exp.GetSpans() {
			for _, kv := range s.Attributes {
				if kv.Key == attrQuery && kv.Value.AsString() == id && s.Name == "query" {
					return s
				}
			}
		}
		t.Fatalf("no span of query %s", id)
		return tracetest.SpanStub{}
	}
	cancelledAttr := func(s tracetest.SpanStub) bool {
		for _, kv := range s.Attributes {
			if kv.Key == attrCancelled {
				return kv.Value.AsBool()
			}
		}
		return false
	}

	if _, err := engines[0].RunQueryID(context.Background(), "q-missing", query(table("no_such_table"))); kernels.KindOf(err) != kernels.NotFound {
		t.Fatalf("want NotFound, got %v", err)
	}
	s := querySpan("q-missing")
	if s.Status.Code != codes.Error || s.Status.Description == "" || len(s.Events) == 0 || cancelledAttr(s) {
		t.Errorf("a failed query's span: status %+v, events %v, cancelled %v", s.Status, s.Events, cancelledAttr(s))
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	storeEvents(t, engines[0], memory.NewGoAllocator())
	if _, err := engines[0].RunQueryID(ctx, "q-cancelled", groupedQuery()); kernels.KindOf(err) != kernels.Cancelled {
		t.Fatalf("want Cancelled, got %v", err)
	}
	s = querySpan("q-cancelled")
	if s.Status.Code == codes.Error || !cancelledAttr(s) {
		t.Errorf("a cancelled query's span: status %+v, cancelled %v", s.Status, cancelledAttr(s))
	}
}
