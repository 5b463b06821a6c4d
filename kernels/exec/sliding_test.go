package exec

import (
	"math"
	"math/big"
	"math/rand"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"slipstream/kernels/expr"
)

// slidingSum against a direct sum of each frame, over floats with nulls,
// NaN, infinities and magnitudes far apart, in two partitions.
func TestSlidingSumMatchesDirect(t *testing.T) {
	mem, _ := newMem(t)
	rng := rand.New(rand.NewSource(7))
	pool := []float64{0.125, -2.5, 1e9, -1e9, 3.75, math.NaN(), math.Inf(1), math.Inf(-1), 1e-3}
	const n = 400
	b := array.NewFloat64Builder(mem)
	for i := 0; i < n; i++ {
		if rng.Intn(6) == 0 {
			b.AppendNull()
		} else {
			b.Append(pool[rng.Intn(len(pool))])
		}
	}
	vals := b.NewArray()
	b.Release()
	defer vals.Release()
	perm := make([]int64, n)
	start, end := make([]int, n), make([]int, n)
	for k := range perm {
		perm[k] = int64((k * 7) % n) // a permutation: window order is not row order
		start[k], end[k] = 0, 150
		if k >= 150 {
			start[k], end[k] = 150, n
		}
	}
	sum, _ := expr.Lookup("sum")
	mean, _ := expr.Lookup("mean")
	for _, fn := range []*expr.Function{sum, mean} {
		for _, frame := range [][3]int64{{3, 0, 1}, {2, 2, 3}, {0, 5, 2}, {10, 0, 10}} {
			e := WindowExpr{Agg: fn, WindowArgs: expr.WindowArgs{Preceding: frame[0], Following: frame[1], MinSamples: frame[2]}, Type: arrow.PrimitiveTypes.Float64}
			frameLo, frameHi, err := frames(nil, e, perm, start, end)
			if err != nil {
				t.Fatal(err)
			}
			got := slidingSum(mem, vals, e, perm, frameLo, frameHi)
			defer got.Release()
			fv := expr.Values[float64](vals)
			for k, row := range perm {
				lo, hi := max(start[k], k-int(frame[0])), min(end[k]-1, k+int(frame[1]))
				// exactly: finite values in big floats, NaN and infinities counted
				exact := new(big.Float).SetPrec(300)
				var c, nans, pinf, ninf int64
				for j := lo; j <= hi; j++ {
					if !vals.IsValid(int(perm[j])) {
						continue
					}
					c++
					switch x := fv[perm[j]]; {
					case math.IsNaN(x):
						nans++
					case math.IsInf(x, 1):
						pinf++
					case math.IsInf(x, -1):
						ninf++
					default:
						exact.Add(exact, new(big.Float).SetPrec(300).SetFloat64(x))
					}
				}
				s, _ := exact.Float64()
				switch {
				case nans > 0 || (pinf > 0 && ninf > 0):
					s = math.NaN()
				case pinf > 0:
					s = math.Inf(1)
				case ninf > 0:
					s = math.Inf(-1)
				}
				var want any
				if c >= frame[2] {
					if fn == mean {
						s /= float64(c)
					}
					want = s
				}
				g := goValue(got, int(row))
				if gf, ok := g.(float64); ok && want != nil {
					w := want.(float64)
					if !(math.IsNaN(gf) && math.IsNaN(w)) && gf != w && math.Abs(gf-w) > 1e-9*math.Max(1, math.Abs(w)) {
						t.Fatalf("%s frame %v at %d: %v, want %v", fn.Name, frame, k, gf, w)
					}
				} else if (g == nil) != (want == nil) {
					t.Fatalf("%s frame %v at %d: %v, want %v", fn.Name, frame, k, g, want)
				}
			}
		}
	}
}
