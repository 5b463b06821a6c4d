package exec

import (
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels"
	"slipstream/kernels/expr"
)

// windowSpillInput is 20,000 rows (g, o, v, s) in batches of 1000 as
// copies allocated from mem: g from 2,000 values, some null; o with ties;
// v with nulls; s unicode strings.
func windowSpillInput(t *testing.T, base, mem memory.Allocator) (*arrow.Schema, Operator) {
	rng := rand.New(rand.NewPCG(21, 22))
	schema := schemaOf(arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Int64, arrow.BinaryTypes.String)
	var bs []arrow.RecordBatch
	names := []string{"ä", "b", "", "ß€", "zz"}
	for b := 0; b < 20; b++ {
		var gs, os, vs, ss []any
		for range 1000 {
			var g, v any = int64(rng.IntN(2000)), int64(rng.IntN(100))
			if rng.IntN(60) == 0 { // the null key is one partition: it must fit
				g = nil
			}
			if rng.IntN(6) == 0 {
				v = nil
			}
			gs, os, vs, ss = append(gs, g), append(os, int64(rng.IntN(10))), append(vs, v), append(ss, names[rng.IntN(len(names))])
		}
		bs = append(bs, buildBatch(t, base, schema, gs, os, vs, ss))
	}
	return schema, &copying{Records: records(schema, bs...), mem: mem}
}

func windowSpillExprs(t *testing.T, partitionBy []int) []WindowExpr {
	sum, _ := expr.Lookup("sum")
	nUnique, _ := expr.Lookup("n_unique")
	i64 := arrow.PrimitiveTypes.Int64
	order := []SortKey{{Column: 1}}
	return []WindowExpr{
		{Func: expr.WinRowNumber, Arg: -1, PartitionBy: partitionBy, OrderBy: order, Name: "rn", Type: i64},
		{Func: expr.WinRank, Arg: -1, PartitionBy: partitionBy, OrderBy: order, Name: "rank", Type: i64},
		{Func: expr.WinLag, Arg: 3, WindowArgs: expr.WindowArgs{Offset: 1}, PartitionBy: partitionBy, OrderBy: order, Name: "lag", Type: arrow.BinaryTypes.String},
		{Func: expr.WinCumSum, Arg: 2, PartitionBy: partitionBy, OrderBy: order, Name: "cs", Type: i64},
		{Func: expr.WinAggregate, Agg: sum, Arg: 2, PartitionBy: partitionBy, Name: "total", Type: i64},
		{Func: expr.WinAggregate, Agg: nUnique, Arg: 3, PartitionBy: append([]int{1}, partitionBy...), Name: "distinct", Type: i64},
	}
}

// A window over an input several times the budget computes part by part
// and gives the rows of the window in memory, in the same (input) order.
func TestWindowSpillsSameAnswer(t *testing.T) {
	mem, ctx := newMem(t)
	pool := tinyPool(t, mem, 256<<10, true)
	q := pool.Begin("window")
	_, in := windowSpillInput(t, mem, q)
	w := NewWindow(q, in, windowSpillExprs(t, []int{0}))
	w.SetBudget(q)
	got := drainReleasing(t, ctx, w)
	if q.Spilled() == 0 {
		t.Fatal("the window did not spill: the test does not exercise spilling")
	}
	_, ref := windowSpillInput(t, mem, mem)
	want, _ := drain(t, ctx, NewWindow(mem, ref, windowSpillExprs(t, []int{0})))
	if !sameRows(got, want) {
		for i := range min(len(got), len(want)) {
			if !sameRows(got[i:i+1], want[i:i+1]) {
				t.Fatalf("row %d: got %v, want %v", i, got[i], want[i])
			}
		}
		t.Fatalf("got %d rows, want %d", len(got), len(want))
	}
	finished(t, pool, q)
}

// A window over the whole input cannot be split; without spilling no
// window can: both fail alone, naming why, and leave nothing behind.
func TestWindowThatCannotSpillFailsAlone(t *testing.T) {
	for _, c := range []struct {
		name        string
		spill       bool
		partitionBy []int
	}{{"no partition_by", true, nil}, {"spilling off", false, []int{0}}} {
		t.Run(c.name, func(t *testing.T) {
			mem, ctx := newMem(t)
			pool := tinyPool(t, mem, 256<<10, c.spill)
			q := pool.Begin("window")
			_, in := windowSpillInput(t, mem, q)
			w := NewWindow(q, in, windowSpillExprs(t, c.partitionBy))
			w.SetBudget(q)
			_, err := w.Next(ctx)
			if kernels.KindOf(err) != kernels.ResourceExhausted {
				t.Fatalf("got %v, want a resource exhausted error", err)
			}
			t.Log(err)
			w.Close()
			finished(t, pool, q)
		})
	}
}
