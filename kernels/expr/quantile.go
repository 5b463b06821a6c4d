package expr

import (
	"math"

	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// PickQuantile is the q quantile by method of n sorted values (NaN after
// every number), value i being at(i); it reads at most two of them, so the
// values may be a sorted stream too large to hold (exec.Quantiles).
func PickQuantile(n int64, at func(int64) float64, q float64, method string) float64 {
	pos := q * float64(n-1)
	lo, hi := math.Floor(pos), math.Ceil(pos)
	switch method {
	case "nearest":
		return at(int64(math.Round(pos)))
	case "lower":
		return at(int64(lo))
	case "higher":
		return at(int64(hi))
	case "equiprobable":
		i := int64(math.Ceil(q*float64(n))) - 1
		return at(min(max(i, 0), n-1))
	}
	x, y := at(int64(lo)), at(int64(hi))
	if method == "midpoint" {
		if x == y {
			return x
		}
		return (x + y) / 2
	}
	if lo == hi || x == y {
		return x
	}
	return x + (pos-lo)*(y-x)
}

// QuantileOf is the quantile and method a median or quantile call with
// params computes (ok false for other functions); q is NaN when it is null
// or missing (every answer null).
func QuantileOf(fn *Function, params []scalar.Scalar) (q float64, method string, ok bool) {
	switch fn.Name {
	case "median":
		return 0.5, "linear", true
	case "quantile":
		q = math.NaN()
		if len(params) > 0 && params[0].IsValid() {
			if f, isF := params[0].(*scalar.Float64); isF {
				q = f.Value
			}
		}
		return q, stringParam(params, 1, "linear"), true
	}
	return 0, "", false
}
