package scheduler

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/protobuf/proto"

	"slipstream/kernels"
	"slipstream/kernels/exec"
	"slipstream/kernels/fsroot"
	pb "slipstream/scheduler/planpb"
)

// FuzzQuery decodes arbitrary bytes as a query, plans it and runs it on a
// small engine whose file scans may read only the test's folder: whatever
// the bytes, the node does not panic, errors have a kind, a query ends
// within its time, and every buffer it allocated is freed. The seeds are
// the plans of testdata/explain.
//
//	go test ./scheduler -run '^$' -fuzz FuzzQuery -fuzztime 60s
func FuzzQuery(f *testing.F) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	e, path := testEngine(f, mem)
	roots, err := fsroot.Open(filepath.Dir(path))
	if err != nil {
		f.Fatal(err)
	}
	e.Roots = roots
	for _, q := range queries(path) {
		b, err := proto.Marshal(q)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var q pb.Query
		if len(data) > 64<<10 || proto.Unmarshal(data, &q) != nil {
			return
		}
		before := mem.CurrentAlloc()
		if _, err := e.Explain(&q); err != nil {
			if kernels.KindOf(err) == kernels.Internal {
				t.Logf("internal error planning %v: %v", &q, err)
			}
			return
		}
		op, err := e.Execute(&q)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		batches, err := exec.Collect(ctx, op)
		exec.ReleaseAll(batches)
		op.Close()
		if ctx.Err() != nil {
			t.Fatalf("the query did not end within 5s of its deadline: %v", &q)
		}
		_ = err // a failing query is fine; a leaking or hanging one is not
		if after := mem.CurrentAlloc(); after != before {
			t.Fatalf("the query left %d bytes allocated: %v", after-before, &q)
		}
	})
}

// A plan nested far deeper than any real query is refused at once with
// InvalidArgument, instead of recursing through the planner.
func TestDeepPlanIsRefused(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	e, _ := testEngine(t, mem)
	n := table("trips")
	for range 3000 {
		n = filter(n, call("gt", col("fare"), lit(1)))
	}
	started := time.Now()
	_, err := e.Explain(query(n))
	if kernels.KindOf(err) != kernels.Invalid {
		t.Fatalf("a plan 3000 deep: got %v, want an invalid-argument error", err)
	}
	t.Log(err, time.Since(started))
	x := col("fare")
	for range 3000 {
		x = call("add", x, lit(1))
	}
	if _, err := e.Explain(query(sel(table("trips"), alias(x, "deep")))); kernels.KindOf(err) != kernels.Invalid {
		t.Fatalf("an expression 3000 deep: got %v, want an invalid-argument error", err)
	}
}
