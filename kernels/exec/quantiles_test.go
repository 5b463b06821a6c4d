package exec

import (
	"context"
	"io"
	"math"
	"math/rand"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"slipstream/kernels"
	"slipstream/kernels/expr"
)

// quantileInput is n float64 values (nulls, NaN, -0, duplicates) in
// batches of 500, copied into mem as they are read.
func quantileInput(t *testing.T, base, mem memory.Allocator, n int) (Operator, []arrow.RecordBatch) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Float64, Nullable: true}}, nil)
	rng := rand.New(rand.NewSource(7))
	var batches []arrow.RecordBatch
	for done := 0; done < n; done += 500 {
		b := array.NewFloat64Builder(base)
		for range min(500, n-done) {
			switch r := rng.Intn(100); {
			case r < 10:
				b.AppendNull()
			case r < 12:
				b.Append(math.NaN())
			case r < 14:
				b.Append(math.Copysign(0, -1))
			default:
				b.Append(float64(rng.Intn(2000)-1000) / 8)
			}
		}
		arr := b.NewArray()
		batches = append(batches, array.NewRecordBatch(schema, []arrow.Array{arr}, int64(arr.Len())))
		arr.Release()
		b.Release()
	}
	for _, b := range batches {
		b.Retain() // one reference for the input, which releases them, one for the caller
	}
	return &copying{Records: records(schema, batches...), mem: mem}, batches
}

// want is what the quantile accumulator answers over the batches.
func wantQuantile(mem memory.Allocator, batches []arrow.RecordBatch, q Quantile) any {
	fn, _ := expr.Lookup("quantile")
	acc := fn.NewAccumulator(arrow.PrimitiveTypes.Float64, []scalar.Scalar{scalar.NewFloat64Scalar(q.Q), scalar.NewStringScalar(q.Method)})
	for _, b := range batches {
		acc.Update(b.Column(0), make([]uint32, b.NumRows()), 1)
	}
	out := acc.Finish(mem, 1)
	defer out.Release()
	return goValue(out, 0)
}

// Medians and quantiles of a whole input, by every method, answer as the
// aggregate's accumulator does: in memory, and sorted through spill files
// at a limit far below the values.
func TestQuantilesMatchTheAccumulator(t *testing.T) {
	var qs []Quantile
	for _, m := range expr.QuantileMethods {
		for _, q := range []float64{0, 0.1, 0.25, 0.5, 0.9, 1} {
			qs = append(qs, Quantile{Q: q, Method: m, Name: "q"})
		}
	}
	qs = append(qs, Quantile{Q: math.NaN(), Method: "linear", Name: "none"}, Quantile{Q: 1.5, Method: "linear", Name: "out"})
	for _, tc := range []struct {
		name  string
		rows  int
		limit int64
	}{{"in memory", 20_000, 1 << 30}, {"spilled", 20_000, 128 << 10}, {"empty", 0, 1 << 30}, {"one", 1, 1 << 30}} {
		t.Run(tc.name, func(t *testing.T) {
			mem, ctx := newMem(t)
			base := memory.NewGoAllocator()
			pool := tinyPool(t, mem, tc.limit, true)
			query := pool.Begin("q")
			defer query.Close()
			in, batches := quantileInput(t, base, query, tc.rows)
			op, err := NewQuantiles(query, in, qs)
			if err != nil {
				t.Fatal(err)
			}
			op.SetBudget(query)
			got, n := drain(t, ctx, op)
			if n != 1 {
				t.Fatalf("%d rows, want one", n)
			}
			for i, q := range qs {
				if want := wantQuantile(base, batches, q); !sameValue(got[0][i], want) {
					t.Errorf("quantile %g %s: got %v, want %v", q.Q, q.Method, got[0][i], want)
				}
			}
			spilled := op.Memory().Spilled
			if (tc.name == "spilled") != (spilled > 0) {
				t.Errorf("%d bytes spilled", spilled)
			}
			op.Close()
		})
	}
}

// With spilling off, values over the limit fail the query with
// ResourceExhausted (the negative control of the spilled case above).
func TestQuantilesWithoutSpillingFail(t *testing.T) {
	mem, ctx := newMem(t)
	pool := tinyPool(t, mem, 128<<10, false)
	query := pool.Begin("q")
	defer query.Close()
	in, _ := quantileInput(t, memory.NewGoAllocator(), query, 20_000)
	op, err := NewQuantiles(query, in, []Quantile{{Q: 0.5, Method: "linear", Name: "m"}})
	if err != nil {
		t.Fatal(err)
	}
	op.SetBudget(query)
	_, err = op.Next(ctx)
	if kernels.KindOf(err) != kernels.ResourceExhausted {
		t.Fatalf("got %v, want ResourceExhausted", err)
	}
	op.Close()
	if _, err := op.Next(context.Background()); err != io.EOF {
		t.Errorf("after a failure: %v", err)
	}
}
