package expr

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// TestResolveAgreesWithEvalWide is TestResolveAgreesWithEval for the
// functions of three or more arguments: every call Resolve accepts over
// three columns of a smaller set of types (plus a constant fourth argument)
// evaluates. The only error allowed is a column where a constant must be,
// which Resolve cannot see (it knows types, not values).
func TestResolveAgreesWithEvalWide(t *testing.T) {
	inputs := []struct {
		dt arrow.DataType
		js string
	}{
		{i8, `[1, null]`}, {i64, `[1, null]`}, {u64, `[1, null]`}, {f64, `[1, null]`}, {boo, `[true, null]`},
		{utf8, `["1", null]`}, {lstr, `["1", null]`}, {d32, `[1, null]`}, {ts(arrow.Microsecond, ""), `[1, null]`},
		{dec(5, 2), `["1.00", null]`}, {dec(38, 10), `["1.0000000000", null]`}, {arrow.Null, `[null, null]`},
	}
	mem, ctx := newMem(t)
	var arrs []arrow.Array
	for _, in := range inputs {
		arrs = append(arrs, fromJSON(t, mem, in.dt, in.js))
	}
	b := batchOf(arrs...)
	defer b.Release()
	var args []Expr
	for i := range inputs {
		args = append(args, col(b, i))
	}
	fourth := []Expr{&Literal{Value: scalar.NewStringScalar("both")}, &Literal{Value: scalar.NewBooleanScalar(false)}}
	accepted := 0
	for _, name := range Names() {
		fn, _ := Lookup(name)
		if fn.Kind != Scalar || !(fn.AcceptsArgs(3) || fn.AcceptsArgs(4)) {
			continue
		}
		for _, x := range args {
			for _, y := range args {
				for _, z := range args {
					calls := [][]Expr{{x, y, z}}
					for _, f := range fourth {
						calls = append(calls, []Expr{x, y, z, f})
					}
					for _, call := range calls {
						if !fn.AcceptsArgs(len(call)) {
							continue
						}
						c, err := newCall(name, call...)
						if err != nil {
							continue
						}
						accepted++
						if _, _, err := evalValues(t, ctx, c, b); err != nil && !strings.Contains(err.Error(), "must be a constant") {
							t.Errorf("%s resolves but fails: %v", c, err)
						}
					}
				}
			}
		}
	}
	if accepted < 1000 {
		t.Errorf("only %d calls resolved", accepted)
	}
}
