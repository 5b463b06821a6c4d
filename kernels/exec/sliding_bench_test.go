package exec

import (
	"context"
	"fmt"
	"math/rand"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels/expr"
)

// BenchmarkRollingSum: rolling_sum over 1M float64 rows by frame size,
// the sliding path against the general fold it replaced for sum and mean.
//
//	go test ./kernels/exec -run '^$' -bench RollingSum -benchtime 3x
func BenchmarkRollingSum(b *testing.B) {
	const n = 1 << 20
	rng := rand.New(rand.NewSource(1))
	bld := array.NewFloat64Builder(memory.DefaultAllocator)
	for i := 0; i < n; i++ {
		bld.Append(rng.Float64())
	}
	vals := bld.NewArray()
	bld.Release()
	defer vals.Release()
	perm := make([]int64, n)
	start, end := make([]int, n), make([]int, n)
	for k := range perm {
		perm[k], end[k] = int64(k), n
	}
	sum, _ := expr.Lookup("sum")
	w := &Window{mem: memory.DefaultAllocator}
	for _, frame := range []int64{10, 100, 1000} {
		e := WindowExpr{Agg: sum, WindowArgs: expr.WindowArgs{Preceding: frame - 1, MinSamples: frame}, Type: arrow.PrimitiveTypes.Float64}
		lo, hi, err := frames(nil, e, perm, start, end)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("sliding/frame=%d", frame), func(b *testing.B) {
			for b.Loop() {
				slidingSum(memory.DefaultAllocator, vals, e, perm, lo, hi).Release()
			}
		})
		if frame > 100 {
			continue // the fold takes too long here
		}
		b.Run(fmt.Sprintf("fold/frame=%d", frame), func(b *testing.B) {
			for b.Loop() {
				out, err := w.rollingFold(context.Background(), vals, vals.DataType(), e, perm, start, end, lo, hi)
				if err != nil {
					b.Fatal(err)
				}
				out.Release()
			}
		})
	}
}
