package exec

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"slipstream/kernels"
	"slipstream/kernels/expr"
)

// nextAfterCancel calls op.Next with ctx, cancels ctx shortly after, and
// fails the test unless Next returns a cancellation error promptly.
func nextAfterCancel(t *testing.T, ctx context.Context, op Operator) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		for {
			b, err := op.Next(ctx)
			if err != nil {
				done <- err
				return
			}
			b.Release() // streaming operators: keep pulling until cancelled
		}
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || kernels.KindOf(err) != kernels.Cancelled {
			t.Errorf("%s: Next after cancel returned %v, want a cancellation", op, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: Next did not return within 5s of the cancel", op)
	}
}

func TestCancelStopsEveryOperator(t *testing.T) {
	falsePred := &expr.Literal{Value: scalar.NewBooleanScalar(false)}
	builds := map[string]func(mem memory.Allocator, in Operator) Operator{
		"filter keeping nothing": func(_ memory.Allocator, in Operator) Operator {
			f, _ := NewFilter(in, falsePred)
			return f
		},
		"filter keeping all": func(_ memory.Allocator, in Operator) Operator {
			f, _ := NewFilter(in, &expr.Literal{Value: scalar.NewBooleanScalar(true)})
			return f
		},
		"project": func(_ memory.Allocator, in Operator) Operator {
			return NewProject(in, []expr.Expr{colExpr(in.Schema(), 0)}, []string{"x"})
		},
		"limit with a huge offset": func(_ memory.Allocator, in Operator) Operator { return NewLimit(in, 1<<62, 1) },
		"limit":                    func(_ memory.Allocator, in Operator) Operator { return NewLimit(in, 0, -1) },
		"sort": func(_ memory.Allocator, in Operator) Operator {
			s, _ := NewSort(in, []SortKey{{Column: 0}}, -1)
			return s
		},
		"topk": func(_ memory.Allocator, in Operator) Operator {
			s, _ := NewSort(in, []SortKey{{Column: 0}}, 3)
			return s
		},
		"hash aggregate": func(mem memory.Allocator, in Operator) Operator {
			return NewHashAggregate(mem, in, []int{0}, []Agg{{Fn: mustFnNoT("len"), Arg: -1, Name: "n", Type: i64}})
		},
		"global aggregate": func(mem memory.Allocator, in Operator) Operator {
			return NewHashAggregate(mem, in, nil, []Agg{{Fn: mustFnNoT("sum"), Arg: 0, Name: "s", Type: i64}})
		},
		"union": func(_ memory.Allocator, in Operator) Operator { return NewUnion([]Operator{in}, true) },
	}
	for name, build := range builds {
		// A source that honours ctx, and one that does not: then only the
		// operator's own loop can notice the cancel.
		sources := []bool{true, false}
		if name == "project" {
			// One pull per Next and no loop of its own: a Next is as
			// prompt as its source's.
			sources = sources[:1]
		}
		for _, checks := range sources {
			t.Run(fmt.Sprintf("%s/source checks ctx %v", name, checks), func(t *testing.T) {
				mem, ctx := newMem(t)
				op := build(mem, newEndless(mem, checks))
				nextAfterCancel(t, ctx, op)
				op.Close()
			})
		}
	}
}

func mustFnNoT(name string) *expr.Function {
	f, ok := expr.Lookup(name)
	if !ok {
		panic(name)
	}
	return f
}

func TestCancelledBeforeNext(t *testing.T) {
	mem, ctx := newMem(t)
	dir := t.TempDir()
	pqPath, pqFileSchema := parquetFile(t, mem, dir, "t.parquet")
	ipcPath, ipcSchema := writeIPC(t, mem, dir, "t.arrow", false, 2)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	schema := schemaOf(i64)
	ops := []Operator{
		records(schema, batchJSON(t, mem, schema, `[{"c0": 1}]`)),
		NewScan(mem, Parquet, []string{pqPath}, pqFileSchema, nil, nil, CSVOptions{}),
		NewScan(mem, IPC, []string{ipcPath}, ipcSchema, nil, nil, CSVOptions{}),
		NewScan(mem, CSV, []string{filepath.Join(dir, "missing.csv")}, schema, nil, nil, CSVOptions{}),
	}
	for _, op := range ops {
		b, err := op.Next(cancelled)
		if b != nil {
			b.Release()
		}
		if kernels.KindOf(err) != kernels.Cancelled {
			t.Errorf("%s: Next with a cancelled ctx returned %v", op, err)
		}
		op.Close()
	}

	// A scan cancelled between two batches stops there.
	s := NewScan(mem, IPC, []string{ipcPath}, ipcSchema, nil, nil, CSVOptions{})
	defer s.Close()
	live, stop := context.WithCancel(ctx)
	b, err := s.Next(live)
	if err != nil {
		t.Fatal(err)
	}
	b.Release()
	stop()
	if _, err := s.Next(live); kernels.KindOf(err) != kernels.Cancelled {
		t.Errorf("Next after cancel mid-file returned %v", err)
	}
}
