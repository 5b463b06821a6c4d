package exec

import (
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"slipstream/kernels/expr"
)

// TestWindowMatchesReference checks every window function on random rows
// (null partition keys and values, ties in the order) against a direct
// computation over the rows sorted in Go.
func TestWindowMatchesReference(t *testing.T) {
	mem, ctx := newMem(t)
	rng := rand.New(rand.NewPCG(7, 8))
	schema := schemaOf(arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Int64,
		arrow.PrimitiveTypes.Int64, arrow.FixedWidthTypes.Boolean)
	type row struct{ g, o, v, p, f any }
	rows := make([]row, 200)
	var gs, os, vs, ps, fs []any
	for i := range rows {
		r := row{int64(rng.IntN(4)), int64(rng.IntN(10)), int64(rng.IntN(100)), int64(rng.IntN(3) - 1), rng.IntN(2) == 0}
		if rng.IntN(5) == 0 {
			r.f = nil
		}
		if rng.IntN(9) == 0 {
			r.g = nil
		}
		if rng.IntN(6) == 0 {
			r.v = nil
		}
		rows[i] = r
		gs, os, vs, ps, fs = append(gs, r.g), append(os, r.o), append(vs, r.v), append(ps, r.p), append(fs, r.f)
	}
	sum, _ := expr.Lookup("sum")
	i64 := arrow.PrimitiveTypes.Int64
	order := []SortKey{{Column: 1}}
	exprs := []WindowExpr{
		{Func: expr.WinRowNumber, Arg: -1, PartitionBy: []int{0}, OrderBy: order, Name: "rn", Type: i64},
		{Func: expr.WinRank, Arg: -1, PartitionBy: []int{0}, OrderBy: order, Name: "rank", Type: i64},
		{Func: expr.WinDenseRank, Arg: -1, PartitionBy: []int{0}, OrderBy: order, Name: "dense", Type: i64},
		{Func: expr.WinLag, Arg: 2, WindowArgs: expr.WindowArgs{Offset: 2}, PartitionBy: []int{0}, OrderBy: order, Name: "lag2", Type: i64},
		{Func: expr.WinLead, Arg: 2, WindowArgs: expr.WindowArgs{Offset: 1}, PartitionBy: []int{0}, OrderBy: order, Name: "lead1", Type: i64},
		{Func: expr.WinCumSum, Arg: 2, PartitionBy: []int{0}, OrderBy: order, Name: "cs", Type: i64},
		{Func: expr.WinCumCount, Arg: 2, PartitionBy: []int{0}, OrderBy: order, Name: "cc", Type: i64},
		{Func: expr.WinCumMax, Arg: 2, PartitionBy: []int{0}, OrderBy: order, Name: "cmax", Type: i64},
		{Func: expr.WinAggregate, Agg: sum, Arg: 2, PartitionBy: []int{0}, Name: "total", Type: i64},
		{Func: expr.WinRolling, Agg: sum, Arg: 2, WindowArgs: expr.WindowArgs{Preceding: 2, Following: 1, MinSamples: 2}, PartitionBy: []int{0}, OrderBy: order, Name: "roll", Type: i64},
		{Func: expr.WinFillForward, Arg: 2, WindowArgs: expr.WindowArgs{Offset: -1}, PartitionBy: []int{0}, OrderBy: order, Name: "ff", Type: i64},
		{Func: expr.WinFillBackward, Arg: 2, WindowArgs: expr.WindowArgs{Offset: 1}, PartitionBy: []int{0}, OrderBy: order, Name: "bf1", Type: i64},
		{Func: expr.WinCumProd, Arg: 3, PartitionBy: []int{0}, OrderBy: order, Name: "cp", Type: i64},
		{Func: expr.WinAggregate, Agg: sum, Arg: 2, AggFiltered: true, AggFilter: 4, PartitionBy: []int{0}, Name: "ftotal", Type: i64},
	}
	w := NewWindow(mem, records(schema, buildBatch(t, mem, schema, gs[:90], os[:90], vs[:90], ps[:90], fs[:90]), buildBatch(t, mem, schema, gs[90:], os[90:], vs[90:], ps[90:], fs[90:])), exprs)
	got, _ := drain(t, ctx, w)

	// Reference: per partition, rows in (o, input position) order.
	parts := map[any][]int{}
	for i, r := range rows {
		parts[r.g] = append(parts[r.g], i)
	}
	want := make([][]any, len(rows))
	for _, idx := range parts {
		sort.SliceStable(idx, func(a, b int) bool { return rows[idx[a]].o.(int64) < rows[idx[b]].o.(int64) })
		var total, cs, cc, ftotal int64
		var cmax any
		anyTotal, anyF := false, false
		for _, i := range idx {
			if v, ok := rows[i].v.(int64); ok {
				total += v
				anyTotal = true
				if rows[i].f == true {
					ftotal += v
					anyF = true
				}
			}
		}
		cp := int64(1)
		rank, dense := int64(0), int64(0)
		for k, i := range idx {
			r := rows[i]
			if k == 0 || rows[idx[k-1]].o != r.o {
				rank, dense = int64(k+1), dense+1
			}
			var lag2, lead1 any
			if k >= 2 {
				lag2 = rows[idx[k-2]].v
			}
			if k+1 < len(idx) {
				lead1 = rows[idx[k+1]].v
			}
			var csOut any
			if v, ok := r.v.(int64); ok {
				cs += v
				cc++
				if cmax == nil || v > cmax.(int64) {
					cmax = v
				}
			}
			if cc > 0 {
				csOut = cs
			}
			var tot, ftot any
			if anyTotal {
				tot = total
			}
			if anyF {
				ftot = ftotal
			}
			// rolling sum over positions k-2..k+1, at least 2 values.
			var roll any
			var rs, rn int64
			for j := max(k-2, 0); j <= min(k+1, len(idx)-1); j++ {
				if v, ok := rows[idx[j]].v.(int64); ok {
					rs, rn = rs+v, rn+1
				}
			}
			if rn >= 2 {
				roll = rs
			}
			var ff, bf1 any
			for j := k; j >= 0 && ff == nil; j-- {
				ff = rows[idx[j]].v
			}
			for j := k; j <= min(k+1, len(idx)-1) && bf1 == nil; j++ {
				bf1 = rows[idx[j]].v
			}
			cp *= r.p.(int64)
			want[i] = []any{r.g, r.o, r.v, r.p, r.f, int64(k + 1), rank, dense, lag2, lead1, csOut, cc, cmax, tot, roll, ff, bf1, cp, ftot}
		}
	}
	if !sameRows(got, want) {
		for i := range got {
			if !sameRows(got[i:i+1], want[i:i+1]) {
				t.Fatalf("row %d: got %v, want %v", i, got[i], want[i])
			}
		}
		t.Fatalf("got %d rows, want %d", len(got), len(want))
	}
}
