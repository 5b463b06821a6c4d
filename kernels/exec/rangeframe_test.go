package exec

import (
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"slipstream/kernels/expr"
)

// Range frames (rolling_by): the rows whose key lies within Period of the
// current row's, at either end as Closed says; a null key has no frame.
// Positions are sorted by key, nulls last, in one partition.
func TestRangeFrames(t *testing.T) {
	mem, _ := newMem(t)
	rec := batchJSON(t, mem, schemaOf(arrow.PrimitiveTypes.Int64), `[{"c0": 1}, {"c0": 1}, {"c0": 2}, {"c0": 4}, {"c0": 6}, {"c0": null}]`)
	defer rec.Release()
	n := int(rec.NumRows())
	perm := []int64{0, 1, 2, 3, 4, 5}
	start, end := make([]int, n), make([]int, n)
	for k := range end {
		end[k] = n
	}
	want := map[string]string{ // [lo, hi] per position; hi < lo is no frame
		"right": "[0 1] [0 1] [0 2] [3 3] [4 4] [5 4]",   // (t-2, t]
		"left":  "[0 -1] [0 -1] [0 1] [2 2] [3 3] [5 4]", // [t-2, t)
		"both":  "[0 1] [0 1] [0 2] [2 3] [3 4] [5 4]",   // [t-2, t]
		"none":  "[0 -1] [0 -1] [0 1] [3 2] [4 3] [5 4]", // (t-2, t)
	}
	for closed, w := range want {
		e := WindowExpr{Func: expr.WinRollingBy, OrderBy: []SortKey{{Column: 0, NullsLast: true}},
			WindowArgs: expr.WindowArgs{Period: 2, Closed: closed}}
		lo, hi, err := frames(rec, e, perm, start, end)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for k := range lo {
			if k > 0 {
				got += " "
			}
			got += fmt.Sprintf("[%d %d]", lo[k], hi[k])
		}
		if got != w {
			t.Errorf("closed=%s: frames %s, want %s", closed, got, w)
		}
	}
}
