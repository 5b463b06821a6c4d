package exec

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"slipstream/kernels/expr"
)

// The figures are polars 2.1's for the same input.
func TestEwmMean(t *testing.T) {
	mem, _ := newMem(t)
	x := batchJSON(t, mem, schemaOf(arrow.PrimitiveTypes.Float64), `[{"c0": 1}, {"c0": 2}, {"c0": 2}, {"c0": null}, {"c0": 3.5}, {"c0": -1}, {"c0": 2}]`)
	defer x.Release()
	perm := []int64{0, 1, 2, 3, 4, 5, 6}
	start := make([]int, len(perm))
	for _, tc := range []struct {
		name string
		e    WindowExpr
		want []any
	}{
		{"adjust", WindowExpr{WindowArgs: expr.WindowArgs{Alpha: 0.5, Adjust: true}}, []any{1.0, 1.6666666666666667, 1.8571428571428572, nil, 3.0, 0.6727272727272727, 1.3865546218487395}},
		{"recursive", WindowExpr{WindowArgs: expr.WindowArgs{Alpha: 0.5}}, []any{1.0, 1.5, 1.75, nil, 2.9166666666666665, 0.9583333333333333, 1.4791666666666667}},
		{"min_samples", WindowExpr{WindowArgs: expr.WindowArgs{Alpha: 0.5, Adjust: true, MinSamples: 3}}, []any{nil, nil, 1.8571428571428572, nil, 3.0, 0.6727272727272727, 1.3865546218487395}},
	} {
		got := ewmMean(mem, x.Column(0), perm, start, tc.e)
		for i, w := range tc.want {
			if g := goValue(got, i); !sameValue(g, w) {
				t.Errorf("%s: row %d = %v, want %v", tc.name, i, g, w)
			}
		}
		got.Release()
	}
}
