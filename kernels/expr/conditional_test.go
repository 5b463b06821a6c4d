package expr

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"slipstream/kernels"
)

// fnArg is one argument of a function case: a column given as JSON, or a
// literal.
type fnArg struct {
	dt  arrow.DataType
	js  string
	lit scalar.Scalar
}

func c(dt arrow.DataType, js string) fnArg { return fnArg{dt: dt, js: js} }
func l(s scalar.Scalar) fnArg              { return fnArg{lit: s} }
func ls(s string) fnArg                    { return l(scalar.NewStringScalar(s)) }
func li(v int64) fnArg                     { return l(scalar.NewInt64Scalar(v)) }
func lf(v float64) fnArg                   { return l(scalar.NewFloat64Scalar(v)) }
func lnull() fnArg                         { return l(scalar.MakeNullScalar(arrow.Null)) }

// fnCase evaluates one call over a batch of its column arguments.
type fnCase struct {
	name     string
	fn       string
	args     []fnArg
	want     []any
	wantType arrow.DataType // checked when set
	errHas   string         // an Invalid error containing this is expected
}

// runFn checks each case over the whole batch, then over slices of it at
// odd offsets (the rows must match the whole result's), so every kernel is
// tested on sliced inputs too.
func runFn(t *testing.T, cases []fnCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mem, ctx := newMem(t)
			var cols []arrowArray
			for _, a := range tc.args {
				if a.lit == nil {
					cols = append(cols, fromJSON(t, mem, a.dt, a.js))
				}
			}
			if len(cols) == 0 { // only literals: a batch of len(want) rows
				cols = append(cols, fromJSON(t, mem, i64, "["+strings.TrimSuffix(strings.Repeat("0,", len(tc.want)), ",")+"]"))
			}
			b := batchOf(cols...)
			defer b.Release()
			build := func(b arrowBatch) (*Call, error) {
				args := make([]Expr, len(tc.args))
				ci := 0
				for i, a := range tc.args {
					if a.lit != nil {
						args[i] = &Literal{Value: a.lit}
					} else {
						args[i] = col(b, ci)
						ci++
					}
				}
				return newCall(tc.fn, args...)
			}
			call, err := build(b)
			if err == nil {
				var got []any
				var dt arrow.DataType
				dt, got, err = evalValues(t, ctx, call, b)
				if err == nil {
					if tc.errHas != "" {
						t.Fatalf("%s = %v, want an error with %q", call, got, tc.errHas)
					}
					if tc.wantType != nil && !arrow.TypeEqual(dt, tc.wantType) {
						t.Errorf("%s has type %s, want %s", call, dt, tc.wantType)
					}
					if !sameValues(got, tc.want) {
						t.Errorf("%s = %v, want %v", call, got, tc.want)
					}
				}
			}
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) || kernels.KindOf(err) != kernels.Invalid {
					t.Fatalf("error %v (kind %v), want an invalid-argument error with %q", err, kernels.KindOf(err), tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			n := int64(len(tc.want))
			for _, off := range []int64{1, 3} {
				if off >= n {
					continue
				}
				s := b.NewSlice(off, n)
				call, err := build(s)
				if err != nil {
					t.Fatal(err)
				}
				_, got, err := evalValues(t, ctx, call, s)
				if err != nil {
					t.Fatalf("%s over rows %d..: %v", call, off, err)
				}
				if want := tc.want[off:]; !sameValues(got, want) {
					t.Errorf("%s over rows %d.. = %v, want %v", call, off, got, want)
				}
				s.Release()
			}
		})
	}
}

func TestConditionals(t *testing.T) {
	bools := c(boo, `[true, false, null, true, false, null]`)
	bools2 := c(boo, `[false, true, true, null, false, false]`)
	runFn(t, []fnCase{
		{name: "case_when_columns", fn: "case_when",
			args: []fnArg{c(i64, `[1, 2, 3, 4, 5, 6]`), c(i64, `[10, 20, 30, null, 50, 60]`), li(-1), bools, bools2},
			want: []any{int64(1), int64(20), int64(30), int64(4), int64(-1), int64(-1)}, wantType: i64},
		{name: "case_when_null_otherwise", fn: "case_when",
			args: []fnArg{c(utf8, `["a", "b", "c", "d", "e", "🙂"]`), lnull(), bools},
			want: []any{"a", nil, nil, "d", nil, nil}, wantType: utf8},
		{name: "case_when_widens", fn: "case_when",
			args: []fnArg{c(i8, `[1, 2, 3, 4, 5, 6]`), c(f64, `[0.5, 1.5, 2.5, 3.5, 4.5, null]`), bools},
			want: []any{1.0, 1.5, 2.5, 4.0, 4.5, nil}, wantType: f64},
		{name: "case_when_strings_mixed", fn: "case_when",
			args: []fnArg{c(utf8, `["a", "b", "c", "d", "e", "f"]`), c(lstr, `["x", "y", "z", "w", "", null]`), bools},
			want: []any{"a", "y", "z", "d", "", nil}, wantType: lstr},
		{name: "case_when_decimal", fn: "case_when",
			args: []fnArg{c(dec(5, 2), `["1.25", "2.00", null, "3.50", "4.00", "5.00"]`), l(scalar.NewDecimal128Scalar(decimal128.FromI64(7), dec(3, 0))), bools},
			want: []any{"1.25", "7.00", "7.00", "3.50", "7.00", "7.00"}, wantType: dec(5, 2)},
		{name: "case_when_constant_condition", fn: "case_when",
			args: []fnArg{c(i64, `[1, null, 3]`), li(0), l(scalar.NewBooleanScalar(true))},
			want: []any{int64(1), nil, int64(3)}},
		{name: "case_when_all_literals", fn: "case_when",
			args: []fnArg{li(1), li(2), l(scalar.NewBooleanScalar(false))},
			want: []any{int64(2), int64(2)}},
		{name: "case_when_even", fn: "case_when", args: []fnArg{li(1), li(2), bools, bools2}, errHas: "odd number"},
		{name: "case_when_not_bool", fn: "case_when", args: []fnArg{li(1), li(2), c(i64, `[1]`)}, errHas: "condition 1 must be boolean, got int64"},
		{name: "case_when_mismatch", fn: "case_when", args: []fnArg{ls("a"), li(2), c(boo, `[true]`)}, errHas: "utf8 and int64"},

		{name: "coalesce", fn: "coalesce",
			args: []fnArg{c(i32, `[null, 1, null, null, 5]`), c(i64, `[2, 9, null, null, 8]`), c(i64, `[3, 3, 3, null, null]`)},
			want: []any{int64(2), int64(1), int64(3), nil, int64(5)}, wantType: i64},
		{name: "coalesce_literal", fn: "coalesce",
			args: []fnArg{c(utf8, `[null, "", "ç", null]`), ls("zz")},
			want: []any{"zz", "", "ç", "zz"}, wantType: utf8},
		{name: "coalesce_one", fn: "coalesce", args: []fnArg{c(f64, `[null, 1.5]`)}, want: []any{nil, 1.5}},
		{name: "coalesce_dates", fn: "coalesce",
			args: []fnArg{c(d32, `[null, 1, 2]`), c(d32, `[10, 11, null]`)},
			want: []any{int64(10), int64(1), int64(2)}, wantType: d32},
		{name: "coalesce_bools", fn: "coalesce",
			args: []fnArg{c(boo, `[null, true, false, null]`), l(scalar.NewBooleanScalar(false))},
			want: []any{false, true, false, false}},
		{name: "coalesce_mismatch", fn: "coalesce", args: []fnArg{c(boo, `[true]`), ls("x")}, errHas: "bool and utf8"},
		{name: "fill_null", fn: "fill_null", args: []fnArg{c(i64, `[null, 2, null, -4]`), li(0)},
			want: []any{int64(0), int64(2), int64(0), int64(-4)}},

		{name: "is_in_ints", fn: "is_in",
			args: []fnArg{c(i64, `[1, 2, 3, null, -5, 2]`), li(2), li(-5), li(7)},
			want: []any{false, true, false, nil, true, true}},
		{name: "is_in_with_null", fn: "is_in",
			args: []fnArg{c(i64, `[1, 2, null, 4]`), li(2), lnull()},
			want: []any{nil, true, nil, nil}},
		{name: "is_in_widens", fn: "is_in",
			args: []fnArg{c(i8, `[1, 2, 3, null]`), li(300), li(3)},
			want: []any{false, false, true, nil}},
		{name: "is_in_strings", fn: "is_in",
			args: []fnArg{c(lstr, `["a", "", "日本", null, "b"]`), ls(""), ls("日本")},
			want: []any{false, true, true, nil, false}},
		{name: "is_in_utf8", fn: "is_in",
			args: []fnArg{c(utf8, `["a", "", "日本", null, "b"]`), ls("b")},
			want: []any{false, false, false, nil, true}},
		{name: "is_in_floats_nan", fn: "is_in",
			args: []fnArg{c(f64, `[1.5, 2, -0.0, null]`), lf(0), lf(1.5)},
			want: []any{true, false, true, nil}},
		{name: "is_in_decimal", fn: "is_in",
			args: []fnArg{c(dec(5, 2), `["1.50", "2.00", null]`), lf(1.5)},
			want: []any{true, false, nil}},
		{name: "is_in_bool", fn: "is_in",
			args: []fnArg{c(boo, `[true, false, null]`), l(scalar.NewBooleanScalar(true))},
			want: []any{true, false, nil}},
		{name: "is_in_dates", fn: "is_in",
			args: []fnArg{c(d32, `[1, 2, null]`), l(scalar.NewDate32Scalar(2))},
			want: []any{false, true, nil}},
		{name: "is_in_column_values", fn: "is_in",
			args: []fnArg{c(i64, `[1, 2, 3, null]`), c(i64, `[1, null, 4, 1]`), li(3)},
			want: []any{true, nil, true, nil}},
		{name: "is_in_column_bools", fn: "is_in",
			args: []fnArg{c(boo, `[true, false, null, true]`), c(boo, `[true, true, true, null]`)},
			want: []any{true, false, nil, nil}},
		{name: "is_in_mismatch", fn: "is_in", args: []fnArg{c(i64, `[1]`), ls("a")}, errHas: "int64 and utf8"},

		{name: "is_between_both", fn: "is_between",
			args: []fnArg{c(i64, `[0, 1, 5, 10, 11, null]`), li(1), li(10), ls("both")},
			want: []any{false, true, true, true, false, nil}},
		{name: "is_between_none", fn: "is_between",
			args: []fnArg{c(i64, `[0, 1, 5, 10, 11, null]`), li(1), li(10), ls("none")},
			want: []any{false, false, true, false, false, nil}},
		{name: "is_between_left_null_bound", fn: "is_between",
			args: []fnArg{c(f64, `[0, 1, 5, 10, 11]`), c(f64, `[null, 1, null, 3, 3]`), lf(10), ls("left")},
			want: []any{nil, true, nil, false, false}},
		{name: "is_between_bools", fn: "is_between",
			args: []fnArg{c(boo, `[true, false, null, true, false]`), l(scalar.NewBooleanScalar(false)), c(boo, `[true, false, true, false, null]`), ls("both")},
			want: []any{true, true, nil, false, nil}},
		{name: "is_between_strings", fn: "is_between",
			args: []fnArg{c(utf8, `["a", "b", "c", null]`), ls("b"), ls("c"), ls("right")},
			want: []any{false, false, true, nil}},
		{name: "is_between_bad_closed", fn: "is_between",
			args: []fnArg{c(i64, `[1]`), li(1), li(2), ls("middle")}, errHas: `"both", "left", "right" or "none"`},
		{name: "is_between_mismatch", fn: "is_between",
			args: []fnArg{c(i64, `[1]`), ls("a"), li(2), ls("both")}, errHas: "int64 and utf8"},
	})
}

// The types runFn uses, named once.
type (
	arrowArray = arrow.Array
	arrowBatch = arrow.RecordBatch
)
