package expr

import (
	"math"
	"testing"
)

func TestNumericFunctions(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	runFn(t, []fnCase{
		{name: "abs_int", fn: "abs", args: []fnArg{c(i8, `[-3, 0, null, 5, -128]`)}, errHas: "overflow"},
		{name: "abs_i64", fn: "abs", args: []fnArg{c(i64, `[-3, 0, null, 5, -7]`)},
			want: []any{int64(3), int64(0), nil, int64(5), int64(7)}, wantType: i64},
		{name: "abs_float", fn: "abs", args: []fnArg{c(f64, `[-1.5, 0, null, 2.25]`)}, want: []any{1.5, 0.0, nil, 2.25}},
		{name: "abs_decimal", fn: "abs", args: []fnArg{c(dec(6, 2), `["-1.50", "0.00", null, "2.25"]`)},
			want: []any{"1.50", "0.00", nil, "2.25"}, wantType: dec(6, 2)},
		{name: "abs_unsigned", fn: "abs", args: []fnArg{c(u8, `[1, null, 255]`)}, want: []any{uint64(1), nil, uint64(255)}},
		{name: "round_float", fn: "round", args: []fnArg{c(f64, `[1.25, -1.25, 2.5, -2.5, null, 1234.5678]`), li(1)},
			want: []any{1.3, -1.3, 2.5, -2.5, nil, 1234.6}, wantType: f64},
		{name: "round_half_away", fn: "round", args: []fnArg{c(f64, `[0.5, 1.5, 2.5, -0.5, -2.5, null]`), li(0)},
			want: []any{1.0, 2.0, 3.0, -1.0, -3.0, nil}},
		{name: "round_half_to_even", fn: "round", args: []fnArg{c(f64, `[0.5, 1.5, 2.5, -0.5, -2.5, 1.25, null]`), li(0), ls("half_to_even")},
			want: []any{0.0, 2.0, 2.0, math.Copysign(0, -1), -2.0, 1.0, nil}},
		{name: "round_half_to_even_digits", fn: "round", args: []fnArg{c(f64, `[1.25, 0.125, -2.35]`), li(1), ls("half_to_even")},
			want: []any{1.2, 0.1, -2.4}},
		{name: "round_decimal_half_to_even", fn: "round", args: []fnArg{c(dec(7, 3), `["1.245", "1.235", null]`), li(2), ls("half_to_even")},
			want: []any{"1.240", "1.240", nil}},
		{name: "round_bad_mode", fn: "round", args: []fnArg{c(f64, `[1.5]`), li(0), ls("up")}, errHas: `got "up"`},
		{name: "round_negative_digits", fn: "round", args: []fnArg{c(f64, `[1250, -1249, 15, null]`), li(-2)},
			want: []any{1300.0, -1200.0, 0.0, nil}},
		{name: "round_decimal", fn: "round", args: []fnArg{c(dec(7, 3), `["1.245", "-1.245", "2.999", null, "0.000"]`), li(2)},
			want: []any{"1.250", "-1.250", "3.000", nil, "0.000"}, wantType: dec(7, 3)},
		{name: "round_decimal_more_digits", fn: "round", args: []fnArg{c(dec(7, 3), `["1.245", null]`), li(5)},
			want: []any{"1.245", nil}},
		{name: "round_int", fn: "round", args: []fnArg{c(i32, `[12, -7, null]`), li(1)},
			want: []any{int64(12), int64(-7), nil}, wantType: i32},
		{name: "round_int_negative", fn: "round", args: []fnArg{c(i32, `[1250, -1249, null]`), li(-2)},
			want: []any{int64(1300), int64(-1200), nil}, wantType: i32},
		{name: "round_null_digits", fn: "round", args: []fnArg{c(f64, `[1.5, null]`), lnull()}, want: []any{nil, nil}},
		{name: "floor", fn: "floor", args: []fnArg{c(f64, `[1.5, -1.5, null, 2]`)}, want: []any{1.0, -2.0, nil, 2.0}},
		{name: "floor_decimal", fn: "floor", args: []fnArg{c(dec(6, 2), `["1.50", "-1.50", null, "2.00"]`)},
			want: []any{"1.00", "-2.00", nil, "2.00"}, wantType: dec(6, 2)},
		{name: "floor_int", fn: "floor", args: []fnArg{c(i16, `[3, null, -4]`)}, want: []any{int64(3), nil, int64(-4)}, wantType: i16},
		{name: "ceil", fn: "ceil", args: []fnArg{c(f32, `[1.5, -1.5, null, 2]`)}, want: []any{2.0, -1.0, nil, 2.0}, wantType: f32},
		{name: "ceil_decimal", fn: "ceil", args: []fnArg{c(dec(6, 2), `["1.01", "-1.99", null]`)},
			want: []any{"2.00", "-1.00", nil}},
		{name: "sqrt", fn: "sqrt", args: []fnArg{c(i64, `[4, 0, null, -1, 2]`)},
			want: []any{2.0, 0.0, nil, nan, math.Sqrt2}, wantType: f64},
		{name: "sqrt_decimal", fn: "sqrt", args: []fnArg{c(dec(6, 2), `["2.25", null]`)}, want: []any{1.5, nil}},
		{name: "ln", fn: "ln", args: []fnArg{c(f64, `[1, 0, null, -1, 2.718281828459045]`)},
			want: []any{0.0, -inf, nil, nan, 1.0}},
		{name: "log_base", fn: "log", args: []fnArg{c(f64, `[8, 1, null, 0.25]`), lf(2)},
			want: []any{3.0, 0.0, nil, -2.0}},
		{name: "exp", fn: "exp", args: []fnArg{c(i32, `[0, 1, null, -1]`)},
			want: []any{1.0, math.E, nil, 1 / math.E}, wantType: f64},
		{name: "power", fn: "power", args: []fnArg{c(i64, `[2, -2, null, 9, 0]`), c(f64, `[10, 3, 1, 0.5, -1]`)},
			want: []any{1024.0, -8.0, nil, 3.0, inf}},
		{name: "power_literal", fn: "power", args: []fnArg{c(dec(4, 1), `["1.5", null, "-2.0"]`), li(2)},
			want: []any{2.25, nil, 4.0}},
		{name: "not_a_number", fn: "sqrt", args: []fnArg{c(utf8, `["4"]`)}, errHas: "sqrt needs numbers, got utf8"},
		{name: "abs_string", fn: "abs", args: []fnArg{c(utf8, `["4"]`)}, errHas: "abs needs a number, got utf8"},
	})
}

// TestHorizontal checks the *_horizontal functions and the float tests
// against the answers polars 2.1 gives for the same rows.
func TestHorizontal(t *testing.T) {
	a := c(i64, `[1, null, null, 4]`)
	b := c(f64, `[2.5, null, 1.0, "NaN"]`)
	p := c(boo, `[true, null, false, null]`)
	q := c(boo, `[null, null, true, true]`)
	runFn(t, []fnCase{
		{name: "sum", fn: "sum_horizontal", args: []fnArg{a, b}, want: []any{3.5, 0.0, 1.0, math.NaN()}},
		{name: "sum_ints", fn: "sum_horizontal", args: []fnArg{a, a}, want: []any{int64(2), int64(0), int64(0), int64(8)}},
		{name: "mean", fn: "mean_horizontal", args: []fnArg{a, b}, want: []any{1.75, nil, 1.0, math.NaN()}},
		{name: "min", fn: "min_horizontal", args: []fnArg{a, b}, want: []any{1.0, nil, 1.0, 4.0}},
		{name: "max", fn: "max_horizontal", args: []fnArg{a, b}, want: []any{2.5, nil, 1.0, 4.0}},
		{name: "max_ints_keeps_type", fn: "max_horizontal", args: []fnArg{c(i32, `[1, null, 3]`), li(2)}, want: []any{int64(2), int64(2), int64(3)}},
		{name: "any", fn: "any_horizontal", args: []fnArg{p, q}, want: []any{true, nil, true, true}},
		{name: "all", fn: "all_horizontal", args: []fnArg{p, q}, want: []any{nil, nil, false, nil}},
		{name: "is_nan", fn: "is_nan", args: []fnArg{b}, want: []any{false, nil, false, true}},
		{name: "is_finite", fn: "is_finite", args: []fnArg{c(f64, `[1, "Inf", "NaN", null]`)}, want: []any{true, false, false, nil}},
		{name: "is_infinite_int", fn: "is_infinite", args: []fnArg{c(i32, `[1, null]`)}, want: []any{false, nil}},
		{name: "floordiv_ints", fn: "floordiv", args: []fnArg{c(i64, `[7, -7, 7, -7, 5, null]`), c(i64, `[2, 2, -2, -2, 0, 1]`)},
			want: []any{int64(3), int64(-4), int64(-4), int64(3), nil, nil}},
		{name: "floordiv_floats", fn: "floordiv", args: []fnArg{c(f64, `[7, -7, 1]`), c(f64, `[2, 2, 0]`)}, want: []any{3.0, -4.0, math.Inf(1)}},
		{name: "sum_strings", fn: "sum_horizontal", args: []fnArg{c(utf8, `["a"]`)}, errHas: "sum_horizontal needs numbers, got utf8"},
	})
}
