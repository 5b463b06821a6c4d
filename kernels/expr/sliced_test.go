package expr

import (
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// TestSlicedEqualsWhole evaluates every scalar function over slices of a
// batch at odd offsets: the result must equal the matching rows of the
// result over the whole batch.
func TestSlicedEqualsWhole(t *testing.T) {
	mem, ctx := newMem(t)
	const n = 77
	bools, bools2, ints, smalls, strs, decs := "[", "[", "[", "[", "[", "["
	for i := 0; i < n; i++ {
		sep := ","
		if i == n-1 {
			sep = "]"
		}
		switch {
		case i%5 == 0:
			bools += "null" + sep
		default:
			bools += fmt.Sprint(i%3 == 0) + sep
		}
		if i%6 == 2 {
			bools2 += "null" + sep
		} else {
			bools2 += fmt.Sprint(i%4 < 2) + sep
		}
		if i%7 == 3 {
			ints += "null" + sep
			strs += "null" + sep
		} else {
			ints += fmt.Sprint(i*37%101-50) + sep
			strs += fmt.Sprintf("%q", fmt.Sprintf("s%d", i*13%17)) + sep
		}
		if i%4 == 1 {
			smalls += "null" + sep
			decs += "null" + sep
		} else {
			smalls += fmt.Sprint(i%9+1) + sep
			decs += fmt.Sprintf(`"%d.%02d"`, i%11, i%100) + sep
		}
	}
	full := batchOf(fromJSON(t, mem, boo, bools), fromJSON(t, mem, boo, bools2),
		fromJSON(t, mem, i64, ints), fromJSON(t, mem, i8, smalls), fromJSON(t, mem, utf8, strs), fromJSON(t, mem, dec(6, 2), decs))
	defer full.Release()

	exprs := func(b arrow.RecordBatch) []Expr {
		return []Expr{
			mustCall(t, "and", col(b, 0), col(b, 1)),
			mustCall(t, "or", col(b, 0), col(b, 1)),
			mustCall(t, "not", col(b, 0)),
			mustCall(t, "is_null", col(b, 2)),
			mustCall(t, "is_not_null", col(b, 5)),
			mustCall(t, "add", col(b, 2), col(b, 3)),
			mustCall(t, "subtract", col(b, 3), col(b, 2)),
			mustCall(t, "multiply", col(b, 2), col(b, 3)),
			mustCall(t, "divide", col(b, 2), col(b, 3)),
			mustCall(t, "modulo", col(b, 2), col(b, 3)),
			mustCall(t, "negate", col(b, 2)),
			mustCall(t, "lt", col(b, 2), col(b, 3)),
			mustCall(t, "ge", col(b, 4), &Literal{Value: scalar.NewStringScalar("s5")}),
			mustCall(t, "eq", col(b, 5), col(b, 3)),
			mustCall(t, "add", col(b, 5), col(b, 5)),
			&Cast{Arg: col(b, 2), To: utf8},
			&Cast{Arg: col(b, 5), To: f64},
		}
	}
	whole := map[string][]any{}
	for _, e := range exprs(full) {
		_, got, err := evalValues(t, ctx, e, full)
		if err != nil {
			t.Fatalf("%s: %v", e, err)
		}
		whole[e.String()] = got
	}
	for _, off := range []int64{1, 3, 8, 13, 63} {
		for _, length := range []int64{0, 1, 5, 14} {
			b := full.NewSlice(off, off+length)
			for _, e := range exprs(b) {
				_, got, err := evalValues(t, ctx, e, b)
				if err != nil {
					t.Fatalf("%s over rows %d..%d: %v", e, off, off+length, err)
				}
				if want := whole[e.String()][off : off+length]; !sameValues(got, want) {
					t.Errorf("%s over rows %d..%d = %v, want %v", e, off, off+length, got, want)
				}
			}
			b.Release()
		}
	}
}
