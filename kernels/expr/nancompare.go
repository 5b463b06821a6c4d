package expr

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/compute"
)

// Comparisons of floats put NaN above every number and equal to itself,
// as DuckDB (SQL's oracle) and polars both do, and as our sort does: NaN >
// 1e308 is true, NaN == NaN is true. Arrow's kernels follow IEEE (every
// comparison with NaN false but !=), so float comparisons are a loop of
// ours; -0.0 equals 0.0 either way.

// nanAware wraps the comparison op (eq, ne, lt, le, gt, ge) so that float
// operands compare in that order; other types go to inner.
func nanAware(op string, inner func(context.Context, []compute.Datum) (compute.Datum, error)) func(context.Context, []compute.Datum) (compute.Datum, error) {
	test := map[string]func(c int) bool{
		"eq": func(c int) bool { return c == 0 }, "ne": func(c int) bool { return c != 0 },
		"lt": func(c int) bool { return c < 0 }, "le": func(c int) bool { return c <= 0 },
		"gt": func(c int) bool { return c > 0 }, "ge": func(c int) bool { return c >= 0 },
	}[op]
	return func(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
		t := datumType(args[0])
		if t.ID() != arrow.FLOAT64 && t.ID() != arrow.FLOAT32 {
			return inner(ctx, args)
		}
		n, anyArray := rowCount(args)
		mem := Allocator(ctx)
		arrs, release, err := asArrays(mem, args, n)
		if err != nil {
			return nil, err
		}
		defer release()
		at := floatReader(arrs[0])
		bt := floatReader(arrs[1])
		out := newBoolOut(mem, n)
		for i := range n {
			if !arrs[0].IsValid(i) || !arrs[1].IsValid(i) {
				out.setNull(i, mem)
				continue
			}
			if test(totalCompare(at(i), bt(i))) {
				out.set(i, true)
			}
		}
		return result(out.finish(), anyArray)
	}
}

func floatReader(a arrow.Array) func(int) float64 {
	if a.DataType().ID() == arrow.FLOAT32 {
		v := Values[float32](a)
		return func(i int) float64 { return float64(v[i]) }
	}
	v := Values[float64](a)
	return func(i int) float64 { return v[i] }
}

// totalCompare orders floats with NaN greatest and equal to itself.
func totalCompare(a, b float64) int {
	an, bn := a != a, b != b
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
