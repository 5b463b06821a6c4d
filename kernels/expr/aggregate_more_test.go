package expr

import (
	"math"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// runAgg feeds values (given as JSON, cast the way Resolve asks) to fn in
// two batches, the second a slice at an odd offset, and returns Finish.
func runAgg(t *testing.T, mem memory.Allocator, fn string, dt arrow.DataType, js string, ids []uint32, ngroups int, params ...scalar.Scalar) []any {
	t.Helper()
	f, ok := Lookup(fn)
	if !ok {
		t.Fatalf("no aggregate %s", fn)
	}
	types := []arrow.DataType{dt}
	for _, p := range params {
		types = append(types, p.DataType())
	}
	_, casts, err := f.Resolve(types)
	if err != nil {
		t.Fatalf("resolve %s(%s): %v", fn, dt, err)
	}
	whole := fromJSON(t, mem, casts[0], js)
	defer whole.Release()
	// Batch 1 is the first half; batch 2 the rest, read through a slice of
	// an array with one extra row in front.
	half := whole.Len() / 2
	b1 := array.NewSlice(whole, 0, int64(half))
	defer b1.Release()
	padded, err := array.Concatenate([]arrow.Array{whole, whole}, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer padded.Release()
	b2 := array.NewSlice(padded, int64(whole.Len()+half), int64(2*whole.Len()))
	defer b2.Release()
	acc := f.NewAccumulator(casts[0], params)
	acc.Update(b1, ids[:half], ngroups)
	acc.Update(b2, ids[half:], ngroups)
	out := acc.Finish(mem, ngroups)
	defer out.Release()
	return goValues(out)
}

func TestMoreAggregates(t *testing.T) {
	cases := []struct {
		name, fn string
		dt       arrow.DataType
		js       string
		ids      []uint32
		groups   int
		params   []scalar.Scalar
		want     []any
	}{
		{"n_unique_ints", "n_unique", i64, `[1, 2, 1, null, 3, 3, null, 2]`, []uint32{0, 0, 0, 1, 1, 1, 1, 0}, 3, nil,
			[]any{int64(2), int64(1), int64(0)}},
		{"n_unique_strings", "n_unique", utf8, `["a", "", "a", null, "日本", "", "日本", "b"]`, []uint32{0, 0, 0, 0, 1, 1, 1, 0}, 2, nil,
			[]any{int64(3), int64(2)}},
		{"n_unique_large", "n_unique", lstr, `["a", "a", null, "b"]`, []uint32{0, 0, 0, 0}, 1, nil, []any{int64(2)}},
		{"n_unique_floats", "n_unique", f64, `[0.0, -0.0, 1.5, null, 1.5, 2]`, []uint32{0, 0, 0, 0, 0, 1}, 2, nil,
			[]any{int64(2), int64(1)}},
		{"n_unique_decimal", "n_unique", dec(5, 2), `["1.00", "1.00", "2.50", null]`, []uint32{0, 0, 0, 0}, 1, nil, []any{int64(2)}},
		{"n_unique_bool", "n_unique", boo, `[true, false, true, null]`, []uint32{0, 0, 1, 1}, 2, nil, []any{int64(2), int64(1)}},
		{"var", "var", i64, `[1, 2, 3, 4, null, 10, 7, null]`, []uint32{0, 0, 0, 0, 0, 1, 2, 2}, 3, nil,
			[]any{5.0 / 3, nil, nil}},
		{"var_ddof0", "var", f64, `[1, 2, 3, 4]`, []uint32{0, 0, 0, 0}, 1, []scalar.Scalar{scalar.NewInt64Scalar(0)}, []any{1.25}},
		{"std", "std", dec(5, 1), `["1.0", "2.0", "3.0", "4.0", null, "5.5", "6.5"]`, []uint32{0, 0, 0, 0, 1, 1, 1}, 2, nil,
			[]any{math.Sqrt(5.0 / 3), math.Sqrt(0.5)}},
		{"median_odd_even", "median", i32, `[5, 1, 3, 4, 2, 1, null, 10]`, []uint32{0, 0, 0, 1, 1, 1, 1, 1}, 3, nil,
			[]any{3.0, 3.0, nil}},
		{"quantile", "quantile", f64, `[1, 2, 3, 4, 5, null]`, []uint32{0, 0, 0, 0, 0, 0}, 1, []scalar.Scalar{scalar.NewFloat64Scalar(0.3)},
			[]any{2.2}},
		{"quantile_ends", "quantile", f64, `[3, 1, 2, 7]`, []uint32{0, 0, 1, 1}, 2, []scalar.Scalar{scalar.NewFloat64Scalar(1)},
			[]any{3.0, 7.0}},
		{"quantile_out_of_range", "quantile", f64, `[3, 1]`, []uint32{0, 0}, 1, []scalar.Scalar{scalar.NewFloat64Scalar(1.5)},
			[]any{nil}},
		{"first", "first", i64, `[null, 2, 3, 4, 5, null]`, []uint32{0, 0, 1, 1, 2, 2}, 4, nil,
			[]any{nil, int64(3), int64(5), nil}},
		{"last", "last", i64, `[1, null, 3, 4, 5, null]`, []uint32{0, 0, 1, 1, 2, 0}, 3, nil,
			[]any{nil, int64(4), int64(5)}},
		{"first_strings", "first", utf8, `["x", "y", null, "ü", "", "z"]`, []uint32{0, 0, 1, 1, 2, 2}, 3, nil,
			[]any{"x", nil, ""}},
		{"last_strings", "last", lstr, `["x", "y", null, "ü", "", "z"]`, []uint32{0, 0, 1, 1, 2, 2}, 3, nil,
			[]any{"y", "ü", "z"}},
		{"last_decimal", "last", dec(4, 2), `["1.00", "2.00", "3.00", null]`, []uint32{0, 0, 1, 0}, 2, nil,
			[]any{nil, "3.00"}},
		{"first_bool", "first", boo, `[true, false, null, true]`, []uint32{0, 0, 1, 1}, 2, nil, []any{true, nil}},
		{"any", "any", boo, `[false, null, true, false, null, null]`, []uint32{0, 0, 0, 1, 1, 2}, 3, nil,
			[]any{true, false, nil}},
		{"all", "all", boo, `[true, null, true, false, true, null]`, []uint32{0, 0, 0, 1, 1, 2}, 3, nil,
			[]any{true, false, nil}},
		// polars' answers, picked by a parameter (SQL passes none).
		{"n_unique_count_null", "n_unique", i64, `[1, 2, 1, null, null, 3, null, 2]`, []uint32{0, 0, 0, 0, 1, 1, 2, 0}, 4,
			[]scalar.Scalar{scalar.NewBooleanScalar(true)}, []any{int64(3), int64(2), int64(1), int64(0)}},
		{"n_unique_count_null_strings", "n_unique", utf8, `["a", null, "a", null]`, []uint32{0, 0, 0, 1}, 2,
			[]scalar.Scalar{scalar.NewBooleanScalar(true)}, []any{int64(2), int64(1)}},
		{"any_ignore_nulls", "any", boo, `[false, null, true, false, null, null]`, []uint32{0, 0, 0, 1, 1, 2}, 4,
			[]scalar.Scalar{scalar.NewBooleanScalar(true)}, []any{true, false, false, false}},
		{"all_ignore_nulls", "all", boo, `[true, null, true, false, true, null]`, []uint32{0, 0, 0, 1, 1, 2}, 4,
			[]scalar.Scalar{scalar.NewBooleanScalar(true)}, []any{true, false, true, true}},
		{"any_kleene", "any", boo, `[false, null, true, false, null, false]`, []uint32{0, 0, 1, 1, 2, 3}, 5,
			[]scalar.Scalar{scalar.NewBooleanScalar(false)}, []any{nil, true, nil, false, false}},
		{"all_kleene", "all", boo, `[true, null, false, null, true, null]`, []uint32{0, 0, 1, 1, 2, 3}, 5,
			[]scalar.Scalar{scalar.NewBooleanScalar(false)}, []any{nil, false, true, nil, true}},
		{"sum_zero_if_empty", "sum", i64, `[1, null, null, 2]`, []uint32{0, 1, 1, 0}, 3,
			[]scalar.Scalar{scalar.NewBooleanScalar(true)}, []any{int64(3), int64(0), int64(0)}},
		{"max_ignore_nan", "max", f64, `[1, "NaN", 2, "NaN", null, 3]`, []uint32{0, 0, 0, 1, 1, 2}, 3,
			[]scalar.Scalar{scalar.NewBooleanScalar(true)}, []any{2.0, math.NaN(), 3.0}},
		{"max_nan_greatest", "max", f64, `[1, "NaN", 2]`, []uint32{0, 0, 0}, 1, nil, []any{math.NaN()}},
		{"max_nan_propagates", "max", f64, `[1, "NaN", 2, 3]`, []uint32{0, 0, 0, 1}, 2,
			[]scalar.Scalar{scalar.NewBooleanScalar(false)}, []any{math.NaN(), 3.0}},
		{"min_nan_propagates", "min", f64, `[1, "NaN", 2, 3]`, []uint32{0, 0, 0, 1}, 2,
			[]scalar.Scalar{scalar.NewBooleanScalar(false)}, []any{math.NaN(), 3.0}},
		{"min_ignore_nan", "min", f64, `["NaN", 1, 2]`, []uint32{0, 0, 0}, 1,
			[]scalar.Scalar{scalar.NewBooleanScalar(true)}, []any{1.0}},
		{"sum_sql_empty", "sum", f64, `[1, null]`, []uint32{0, 1}, 2, nil, []any{1.0, nil}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mem, _ := newMem(t)
			if got := runAgg(t, mem, tc.fn, tc.dt, tc.js, tc.ids, tc.groups, tc.params...); !sameValues(got, tc.want) {
				t.Errorf("%s = %v, want %v", tc.fn, got, tc.want)
			}
		})
	}
}

// TestQuantileMethods checks each method on 1, 2, 3, 4, 10 against the
// values polars 2.1 gives for the same quantiles.
func TestQuantileMethods(t *testing.T) {
	qs := []float64{0, 0.1, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.9, 1}
	want := map[string][]float64{
		"nearest":      {1, 1, 2, 2, 3, 3, 4, 4, 10, 10},
		"higher":       {1, 2, 2, 2, 3, 3, 4, 4, 10, 10},
		"lower":        {1, 1, 1, 2, 2, 3, 3, 4, 4, 10},
		"midpoint":     {1, 1.5, 1.5, 2, 2.5, 3, 3.5, 4, 7, 10},
		"linear":       {1, 1.4, 1.5, 2, 2.5, 3, 3.5, 4, 7.6, 10},
		"equiprobable": {1, 1, 1, 2, 2, 3, 4, 4, 10, 10},
	}
	for method, ws := range want {
		for i, q := range qs {
			mem, _ := newMem(t)
			got := runAgg(t, mem, "quantile", i64, `[10, 2, null, 4, 1, 3]`, []uint32{0, 0, 0, 0, 0, 0}, 1,
				scalar.NewFloat64Scalar(q), scalar.NewStringScalar(method))
			if !sameValues(got, []any{ws[i]}) {
				t.Errorf("quantile(%v, %q) = %v, want %v", q, method, got, ws[i])
			}
		}
	}
	f, _ := Lookup("quantile")
	if err := f.CheckParams([]scalar.Scalar{scalar.NewFloat64Scalar(0.5), scalar.NewStringScalar("cubic")}); err == nil || !strings.Contains(err.Error(), `got "cubic"`) {
		t.Errorf("quantile method cubic: error %v, want one naming it", err)
	}
}

func TestMoreAggregatesResolve(t *testing.T) {
	for _, tc := range []struct {
		fn     string
		in     []arrow.DataType
		errHas string
	}{
		{"any", []arrow.DataType{i64}, "any needs booleans, got int64"},
		{"std", []arrow.DataType{utf8}, "std needs numbers, got utf8"},
		{"quantile", []arrow.DataType{f64, utf8}, "quantile must be a number between 0 and 1, got utf8"},
		{"n_unique", []arrow.DataType{arrow.ListOf(i64)}, "n_unique needs numbers, strings"},
		{"n_unique", []arrow.DataType{i64, i64}, "n_unique's count_null must be a constant of another type, got int64"},
		{"quantile", []arrow.DataType{f64, f64, i64}, "quantile's interpolation must be"},
		{"sum", []arrow.DataType{i64, utf8}, "sum's zero_if_empty must be"},
	} {
		f, _ := Lookup(tc.fn)
		if _, _, err := f.Resolve(tc.in); err == nil || !strings.Contains(err.Error(), tc.errHas) {
			t.Errorf("%s(%v): error %v, want %q", tc.fn, tc.in, err, tc.errHas)
		}
	}
}
