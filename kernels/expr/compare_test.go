package expr

import (
	"math"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels"
)

func ts(unit arrow.TimeUnit, tz string) arrow.DataType {
	return &arrow.TimestampType{Unit: unit, TimeZone: tz}
}

func stringViews(vals []string, valid []bool) mkArr {
	return func(_ *testing.T, mem memory.Allocator) arrow.Array {
		b := newStringViewBuilder(mem)
		defer b.Release()
		b.AppendValues(vals, valid)
		return b.NewArray()
	}
}

func TestComparisons(t *testing.T) {
	nan := math.NaN()
	T, F := any(true), any(false)
	runBinary(t, []binaryCase{
		{name: "lt int8 int64", op: "lt", a: js(i8, `[1, null, 3, -128]`), b: js(i64, `[2, 2, null, -129]`),
			wantType: "bool", want: []any{T, nil, nil, F}},
		{name: "eq int16 uint8", op: "eq", a: js(i16, `[255, -1, 0]`), b: js(u8, `[255, 255, 0]`),
			wantType: "bool", want: []any{T, F, T}},
		{name: "gt uint32 int32", op: "gt", a: js(u32, `[4294967295, 0, null]`), b: js(i32, `[-1, -1, 0]`),
			wantType: "bool", want: []any{T, T, nil}},
		{name: "gt uint64 int8 beyond int64", op: "gt", a: js(u64, `[18446744073709551615, 0]`), b: js(i8, `[-1, -1]`),
			wantType: "bool", want: []any{T, T}},
		{name: "eq uint64 int64 beyond int64", op: "eq", a: js(u64, `[9223372036854775808, 5]`), b: js(i64, `[-9223372036854775808, 5]`),
			wantType: "bool", want: []any{F, T}},
		{name: "ne uint16 uint64", op: "ne", a: js(u16, `[1, 2]`), b: js(u64, `[1, 3]`),
			wantType: "bool", want: []any{F, T}},
		{name: "le float32 float64", op: "le", a: js(f32, `[0.5, 1.5, null]`), b: js(f64, `[0.5, 1.25, 1]`),
			wantType: "bool", want: []any{T, F, nil}},
		// NaN is above every number and equal to itself, as in DuckDB and polars.
		{name: "NaN equals NaN only", op: "eq", a: floats([]float64{nan, nan, 1, math.Copysign(0, -1)}, nil), b: floats([]float64{nan, 1, nan, 0}, nil),
			wantType: "bool", want: []any{T, F, F, T}},
		{name: "NaN is greatest", op: "gt", a: floats([]float64{nan, math.Inf(1), 1, nan}, nil), b: floats([]float64{1, nan, nan, nan}, nil),
			wantType: "bool", want: []any{T, F, F, F}},
		{name: "NaN against a float32 constant", op: "lt", a: js(f32, `[1, "NaN", null]`), b: js(f32, `["NaN", 2, 1]`),
			wantType: "bool", want: []any{T, F, nil}},
		{name: "ge int64 float64", op: "ge", a: js(i64, `[2, 1, null]`), b: js(f64, `[1.5, 1.5, 0]`),
			wantType: "bool", want: []any{T, F, nil}},
		{name: "eq decimals of different scales", op: "eq", a: js(dec(5, 2), `["1.25", "2.00", null]`), b: js(dec(7, 3), `["1.250", "2.001", "1.000"]`),
			wantType: "bool", want: []any{T, F, nil}},
		{name: "lt decimal int64", op: "lt", a: js(dec(5, 2), `["0.99", "1.00", "-1.50"]`), b: js(i64, `[1, 1, -1]`),
			wantType: "bool", want: []any{T, F, T}},
		{name: "gt decimal float", op: "gt", a: js(dec(5, 2), `["1.50"]`), b: js(f64, `[1.25]`),
			wantType: "bool", want: []any{T}},
		{name: "lt utf8 large_utf8", op: "lt", a: js(utf8, `["a", "é", null, "b", ""]`), b: js(lstr, `["b", "e", "x", "b", "a"]`),
			wantType: "bool", want: []any{T, F, nil, F, T}},
		{name: "eq utf8 utf8 unicode", op: "eq", a: js(utf8, `["größe", "日本", null]`), b: js(utf8, `["größe", "日本語", null]`),
			wantType: "bool", want: []any{T, F, nil}},
		{name: "ge large_utf8 string_view", op: "ge", a: js(lstr, `["b", "a", null]`), b: stringViews([]string{"a", "b", "c"}, nil),
			wantType: "bool", want: []any{T, F, nil}},
		{name: "eq string_view string_view", op: "eq", a: stringViews([]string{"a", "long enough not to be inlined", "c"}, []bool{true, true, false}),
			b:        stringViews([]string{"a", "long enough not to be inlined!", "c"}, nil),
			wantType: "bool", want: []any{T, F, nil}},
		{name: "lt string_view string_view", op: "lt", a: stringViews([]string{"a", "b"}, nil), b: stringViews([]string{"b", "b"}, nil),
			wantType: "bool", want: []any{T, F}},
		{name: "lt date32", op: "lt", a: js(d32, `[18262, null, 18263]`), b: js(d32, `[18263, 18262, 18263]`),
			wantType: "bool", want: []any{T, nil, F}},
		{name: "eq timestamps of different units", op: "eq", a: js(ts(arrow.Millisecond, ""), `[1000, 1, null]`), b: js(ts(arrow.Microsecond, ""), `[1000000, 1, 5]`),
			wantType: "bool", want: []any{T, F, nil}},
		{name: "gt timestamp seconds nanos", op: "gt", a: js(ts(arrow.Second, "UTC"), `[2, 1]`), b: js(ts(arrow.Nanosecond, "UTC"), `[1999999999, 1000000000]`),
			wantType: "bool", want: []any{T, F}},
		{name: "gt date32 timestamp", op: "gt", a: js(d32, `[1, 1, null]`), b: js(ts(arrow.Second, ""), `[43200, 86400, 0]`),
			wantType: "bool", want: []any{T, F, nil}},
		{name: "le timestamp date32", op: "le", a: js(ts(arrow.Millisecond, ""), `[86400000, 86400001]`), b: js(d32, `[1, 1]`),
			wantType: "bool", want: []any{T, F}},
		{name: "lt bools", op: "lt", a: js(boo, `[false, true, false, true, null]`), b: js(boo, `[true, false, false, true, false]`),
			wantType: "bool", want: []any{T, F, F, F, nil}},
		{name: "ge bools", op: "ge", a: js(boo, `[false, true, false, true, null]`), b: js(boo, `[true, false, false, true, false]`),
			wantType: "bool", want: []any{F, T, T, T, nil}},
		{name: "eq bools", op: "eq", a: js(boo, `[true, false, null]`), b: js(boo, `[true, true, true]`),
			wantType: "bool", want: []any{T, F, nil}},
		{name: "utf8 with int64", op: "eq", a: js(utf8, `["1"]`), b: js(i64, `[1]`),
			errKind: kernels.Invalid, errHas: []string{"compare", "utf8", "int64"}},
		{name: "large_utf8 with float", op: "lt", a: js(lstr, `["1"]`), b: js(f64, `[1]`),
			errKind: kernels.Invalid, errHas: []string{"large_utf8", "float64"}},
		{name: "date32 with int32", op: "lt", a: js(d32, `[1]`), b: js(i32, `[1]`),
			errKind: kernels.Invalid, errHas: []string{"date32", "int32"}},
		{name: "bool with int64", op: "eq", a: js(boo, `[true]`), b: js(i64, `[1]`),
			errKind: kernels.Invalid, errHas: []string{"bool", "int64"}},
		{name: "decimal with utf8", op: "eq", a: js(dec(5, 2), `["1.00"]`), b: js(utf8, `["1"]`),
			errKind: kernels.Invalid, errHas: []string{"decimal128(5, 2)", "utf8"}},
	})
}

func TestComparisonWithNullLiteral(t *testing.T) {
	mem, ctx := newMem(t)
	b := batchOf(fromJSON(t, mem, i64, `[1, null]`))
	defer b.Release()
	for _, args := range [][2]Expr{{col(b, 0), nullLit()}, {nullLit(), col(b, 0)}, {nullLit(), nullLit()}} {
		c := mustCall(t, "eq", args[0], args[1])
		_, got, err := evalValues(t, ctx, c, b)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if !sameValues(got, []any{nil, nil}) {
			t.Errorf("%s = %v, want all null", c, got)
		}
	}
}
