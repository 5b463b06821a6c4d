package expr

import (
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"slipstream/kernels"
)

func TestCommonNumeric(t *testing.T) {
	cases := []struct {
		a, b arrow.DataType
		want string
	}{
		{i8, i8, "int8"}, {i8, i16, "int16"}, {i32, i8, "int32"}, {i16, i64, "int64"},
		{u8, u16, "uint16"}, {u64, u32, "uint64"},
		{u8, i8, "int16"}, {i8, u8, "int16"}, {u16, i32, "int32"}, {i16, u8, "int16"},
		{u32, i32, "int64"}, {u32, i64, "int64"},
		{f32, f32, "float32"}, {f32, i8, "float64"}, {u64, f64, "float64"},
		{dec(5, 2), i8, "decimal128(5, 2)"}, {dec(5, 2), i64, "decimal128(21, 2)"},
		{dec(5, 2), dec(10, 4), "decimal128(10, 4)"}, {dec(38, 10), dec(38, 0), "decimal128(38, 10)"},
		{dec(5, 2), f32, "float64"},
	}
	for _, tc := range cases {
		got, err := CommonNumeric(tc.a, tc.b)
		if err != nil {
			t.Errorf("CommonNumeric(%s, %s): %v", tc.a, tc.b, err)
			continue
		}
		if TypeName(got) != tc.want {
			t.Errorf("CommonNumeric(%s, %s) = %s, want %s", TypeName(tc.a), TypeName(tc.b), TypeName(got), tc.want)
		}
	}
	if _, err := CommonNumeric(utf8, i64); err == nil || kernels.KindOf(err) != kernels.Invalid {
		t.Errorf("CommonNumeric(utf8, int64): want an invalid-argument error, got %v", err)
	}
}

func TestCommonComparable(t *testing.T) {
	cases := []struct {
		a, b arrow.DataType
		want string
	}{
		{utf8, lstr, "large_utf8"}, {utf8, utf8, "utf8"}, {arrow.BinaryTypes.StringView, utf8, "large_utf8"}, {arrow.BinaryTypes.StringView, arrow.BinaryTypes.StringView, "large_utf8"},
		{d32, d32, "date32"}, {d32, ts(arrow.Millisecond, ""), "timestamp[ms]"},
		{ts(arrow.Second, "UTC"), ts(arrow.Nanosecond, "UTC"), "timestamp[ns, tz=UTC]"},
		{boo, boo, "bool"}, {i8, u64, ""}, // checked below: must hold every value of both
	}
	for _, tc := range cases {
		got, err := CommonComparable(tc.a, tc.b)
		if err != nil {
			t.Errorf("CommonComparable(%s, %s): %v", tc.a, tc.b, err)
			continue
		}
		if tc.want != "" && TypeName(got) != tc.want {
			t.Errorf("CommonComparable(%s, %s) = %s, want %s", TypeName(tc.a), TypeName(tc.b), TypeName(got), tc.want)
		}
	}
	for _, bad := range [][2]arrow.DataType{{utf8, i64}, {d32, i32}, {boo, u8}, {ts(arrow.Second, ""), i64}, {dec(5, 2), lstr}} {
		_, err := CommonComparable(bad[0], bad[1])
		if err == nil {
			t.Errorf("CommonComparable(%s, %s): want an error", bad[0], bad[1])
			continue
		}
		for _, dt := range bad {
			if !strings.Contains(err.Error(), TypeName(dt)) {
				t.Errorf("error %q does not name %s", err, TypeName(dt))
			}
		}
	}
}

func TestTypePredicates(t *testing.T) {
	orderable := []arrow.DataType{i8, u64, f32, boo, utf8, lstr, arrow.BinaryTypes.StringView, d32, ts(arrow.Second, ""), dec(5, 1),
		arrow.BinaryTypes.Binary, &arrow.DurationType{Unit: arrow.Millisecond}, Time64Nanos}
	for _, dt := range orderable {
		if !IsOrderable(dt) {
			t.Errorf("%s should be orderable", dt)
		}
	}
	for _, dt := range []arrow.DataType{arrow.Null, arrow.ListOf(i64), arrow.StructOf(arrow.Field{Name: "a", Type: i64})} {
		if IsOrderable(dt) {
			t.Errorf("%s should not be orderable", dt)
		}
	}
	if IsNumeric(boo) || IsNumeric(d32) || !IsNumeric(dec(5, 1)) || !IsNumeric(u8) {
		t.Error("IsNumeric: bool and date32 are not numbers, decimals and integers are")
	}
	names := map[arrow.DataType]string{utf8: "utf8", lstr: "large_utf8", arrow.BinaryTypes.StringView: "string_view", dec(7, 3): "decimal128(7, 3)", i64: "int64"}
	for dt, want := range names {
		if got := TypeName(dt); got != want {
			t.Errorf("TypeName(%s) = %s, want %s", dt, got, want)
		}
	}
}

func TestRegistry(t *testing.T) {
	names := Names()
	if !slices.IsSorted(names) {
		t.Errorf("Names() is not sorted: %v", names)
	}
	for _, n := range []string{"add", "subtract", "multiply", "divide", "modulo", "negate", "eq", "ne", "lt", "le", "gt", "ge",
		"and", "or", "not", "is_null", "is_not_null", "count", "len", "sum", "min", "max", "mean"} {
		f, ok := Lookup(n)
		if !ok || f.Name != n {
			t.Errorf("Lookup(%q) = %v, %v", n, f, ok)
		}
		if !slices.Contains(names, n) {
			t.Errorf("Names() lacks %s", n)
		}
	}
	if _, ok := Lookup("no_such_function"); ok {
		t.Error("Lookup of an unknown name succeeded")
	}
	for _, n := range []string{"count", "len", "sum", "min", "max", "mean"} {
		if f, _ := Lookup(n); f.Kind != Aggregate || f.NewAccumulator == nil {
			t.Errorf("%s is not an aggregate with an accumulator", n)
		}
	}
}

func TestExprStrings(t *testing.T) {
	mem, _ := newMem(t)
	b := batchOf(fromJSON(t, mem, i32, `[1]`), fromJSON(t, mem, utf8, `["x"]`))
	defer b.Release()
	cases := []struct {
		e    Expr
		want string
	}{
		{mustCall(t, "add", col(b, 0), &Literal{Value: scalar.NewInt32Scalar(1)}), "(col(c0) + 1)"},
		{mustCall(t, "eq", col(b, 1), &Literal{Value: scalar.NewStringScalar("a\"b")}), `(col(c1) == "a\"b")`},
		{mustCall(t, "add", col(b, 0), &Literal{Value: scalar.NewInt64Scalar(1)}), "(col(c0).cast(int64) + 1)"},
		{mustCall(t, "not", mustCall(t, "is_null", col(b, 1))), "not(is_null(col(c1)))"},
		{nullLit(), "null"},
		{&Literal{Value: scalar.NewDecimal128Scalar(decimal128.FromI64(125), dec(5, 2))}, "1.25"},
	}
	for _, tc := range cases {
		if got := tc.e.String(); got != tc.want {
			t.Errorf("String() = %s, want %s", got, tc.want)
		}
	}
}

func TestAggregateResolve(t *testing.T) {
	cases := []struct {
		fn      string
		in      arrow.DataType
		out     string // "" => error
		argType string
	}{
		{"sum", i8, "int64", "int64"}, {"sum", i64, "int64", "int64"}, {"sum", u16, "uint64", "uint64"},
		{"sum", f32, "float64", "float64"}, {"sum", boo, "int64", "int64"}, {"sum", dec(5, 2), "decimal128(38, 2)", "decimal128(5, 2)"},
		{"sum", arrow.Null, "int64", "int64"}, {"sum", utf8, "", ""}, {"sum", d32, "", ""},
		{"mean", i32, "float64", "float64"}, {"mean", dec(5, 2), "float64", "float64"}, {"mean", boo, "float64", "float64"}, {"mean", lstr, "", ""},
		{"min", utf8, "utf8", "utf8"}, {"max", arrow.BinaryTypes.StringView, "large_utf8", "large_utf8"},
		{"min", d32, "date32", "date32"}, {"max", boo, "bool", "bool"}, {"min", dec(5, 2), "decimal128(5, 2)", "decimal128(5, 2)"},
		{"max", arrow.ListOf(i64), "", ""},
		{"count", utf8, "int64", "utf8"}, {"count", arrow.Null, "int64", "null"},
	}
	for _, tc := range cases {
		f, _ := Lookup(tc.fn)
		out, args, err := f.Resolve([]arrow.DataType{tc.in})
		if tc.out == "" {
			if err == nil || !strings.Contains(err.Error(), TypeName(tc.in)) || kernels.KindOf(err) != kernels.Invalid {
				t.Errorf("%s(%s): want an invalid-argument error naming the type, got %v", tc.fn, TypeName(tc.in), err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s(%s): %v", tc.fn, TypeName(tc.in), err)
			continue
		}
		if TypeName(out) != tc.out || TypeName(args[0]) != tc.argType {
			t.Errorf("%s(%s) = %s with argument %s, want %s with %s", tc.fn, TypeName(tc.in), TypeName(out), TypeName(args[0]), tc.out, tc.argType)
		}
	}
	f, _ := Lookup("len")
	if out, _, err := f.Resolve(nil); err != nil || TypeName(out) != "int64" {
		t.Errorf("len() = %v, %v", out, err)
	}
}
