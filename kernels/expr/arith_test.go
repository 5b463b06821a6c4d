package expr

import (
	"math"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"slipstream/kernels"
)

type mkArr func(t *testing.T, mem memory.Allocator) arrow.Array

func js(dt arrow.DataType, s string) mkArr {
	return func(t *testing.T, mem memory.Allocator) arrow.Array { return fromJSON(t, mem, dt, s) }
}

func floats(vals []float64, valid []bool) mkArr {
	return func(_ *testing.T, mem memory.Allocator) arrow.Array { return f64s(mem, vals, valid) }
}

var (
	i8   = arrow.PrimitiveTypes.Int8
	i16  = arrow.PrimitiveTypes.Int16
	i32  = arrow.PrimitiveTypes.Int32
	i64  = arrow.PrimitiveTypes.Int64
	u8   = arrow.PrimitiveTypes.Uint8
	u16  = arrow.PrimitiveTypes.Uint16
	u32  = arrow.PrimitiveTypes.Uint32
	u64  = arrow.PrimitiveTypes.Uint64
	f32  = arrow.PrimitiveTypes.Float32
	f64  = arrow.PrimitiveTypes.Float64
	boo  = arrow.FixedWidthTypes.Boolean
	utf8 = arrow.BinaryTypes.String
	lstr = arrow.BinaryTypes.LargeString
	d32  = arrow.FixedWidthTypes.Date32
)

func dec(p, s int32) arrow.DataType { return &arrow.Decimal128Type{Precision: p, Scale: s} }

// binaryCase evaluates `a op b` over two columns of one batch.
type binaryCase struct {
	name     string
	op       string
	a, b     mkArr
	wantType string // TypeName of the result
	want     []any
	errKind  kernels.Kind
	errHas   []string // substrings of the error; set => an error is expected
}

func runBinary(t *testing.T, cases []binaryCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mem, ctx := newMem(t)
			b := batchOf(tc.a(t, mem), tc.b(t, mem))
			defer b.Release()
			call, err := newCall(tc.op, col(b, 0), col(b, 1))
			var got []any
			var gotType arrow.DataType
			if err == nil {
				gotType, got, err = evalValues(t, ctx, call, b)
			}
			if len(tc.errHas) > 0 {
				if err == nil {
					t.Fatalf("want an error containing %q, got %v", tc.errHas, got)
				}
				for _, s := range tc.errHas {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				if k := kernels.KindOf(err); k != tc.errKind {
					t.Errorf("error kind %v, want %v (%v)", k, tc.errKind, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if TypeName(gotType) != tc.wantType {
				t.Errorf("type %s, want %s", TypeName(gotType), tc.wantType)
			}
			if !sameValues(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestArithmetic(t *testing.T) {
	inf := math.Inf(1)
	runBinary(t, []binaryCase{
		{name: "add int64 nulls", op: "add", a: js(i64, `[1, null, 3, -4]`), b: js(i64, `[10, 20, null, 4]`),
			wantType: "int64", want: []any{int64(11), nil, nil, int64(0)}},
		{name: "add int8 int16 widens", op: "add", a: js(i8, `[127, -128, null]`), b: js(i16, `[1, -1, 5]`),
			wantType: "int16", want: []any{int64(128), int64(-129), nil}},
		{name: "add int32 uint32 to int64", op: "add", a: js(i32, `[-1, null]`), b: js(u32, `[4294967295, 1]`),
			wantType: "int64", want: []any{int64(4294967294), nil}},
		{name: "add uint8 uint16", op: "add", a: js(u8, `[255, null]`), b: js(u16, `[1, 1]`),
			wantType: "uint16", want: []any{uint64(256), nil}},
		{name: "add int64 overflow", op: "add", a: js(i64, `[1, 9223372036854775807]`), b: js(i64, `[1, 1]`),
			errKind: kernels.Invalid, errHas: []string{"add", "overflow"}},
		{name: "add int8 overflow", op: "add", a: js(i8, `[127]`), b: js(i8, `[1]`),
			errKind: kernels.Invalid, errHas: []string{"overflow"}},
		{name: "add overflow in a null row is ignored", op: "add", a: js(i64, `[9223372036854775807, 1]`), b: js(i64, `[null, 1]`),
			wantType: "int64", want: []any{nil, int64(2)}},
		{name: "subtract uint64 underflow", op: "subtract", a: js(u64, `[0]`), b: js(u64, `[1]`),
			errKind: kernels.Invalid, errHas: []string{"overflow"}},
		{name: "subtract int64 underflow", op: "subtract", a: js(i64, `[-9223372036854775808]`), b: js(i64, `[1]`),
			errKind: kernels.Invalid, errHas: []string{"overflow"}},
		{name: "subtract nulls", op: "subtract", a: js(i16, `[5, null, -3]`), b: js(i16, `[7, 1, -3]`),
			wantType: "int16", want: []any{int64(-2), nil, int64(0)}},
		{name: "multiply int32 overflow", op: "multiply", a: js(i32, `[65536]`), b: js(i32, `[65536]`),
			errKind: kernels.Invalid, errHas: []string{"overflow"}},
		{name: "multiply int64 by float32", op: "multiply", a: js(i64, `[3, null, -2]`), b: js(f32, `[0.5, 2, null]`),
			wantType: "float64", want: []any{1.5, nil, nil}},
		{name: "add float64 inf and nan", op: "add", a: floats([]float64{inf, 1, math.NaN(), 0}, []bool{true, true, true, false}), b: floats([]float64{-inf, inf, 1, 1}, nil),
			wantType: "float64", want: []any{math.NaN(), inf, math.NaN(), nil}},
		{name: "add decimals of different scales", op: "add", a: js(dec(5, 2), `["1.25", null, "-3.10"]`), b: js(dec(4, 1), `["2.5", "1.0", "0.1"]`),
			wantType: "decimal128(6, 2)", want: []any{"3.75", nil, "-3.00"}},
		{name: "add decimal and int64", op: "add", a: js(dec(5, 2), `["1.25", "2.00"]`), b: js(i64, `[1, null]`),
			wantType: "decimal128(22, 2)", want: []any{"2.25", nil}},
		{name: "multiply decimals", op: "multiply", a: js(dec(4, 2), `["1.50", null]`), b: js(dec(3, 1), `["2.5", "1.0"]`),
			wantType: "decimal128(8, 3)", want: []any{"3.750", nil}},
		// Arrow refuses results over 38 digits: sum() gives decimal128(38, s),
		// and sum(x) + 1 must still work.
		{name: "add decimal(38, 2) and int64", op: "add", a: js(dec(38, 2), `["12345.67", null]`), b: js(i64, `[1, 1]`),
			wantType: "decimal128(38, 2)", want: []any{"12346.67", nil}},
		{name: "multiply decimal(20, 3) by int64", op: "multiply", a: js(dec(20, 3), `["1.500"]`), b: js(i64, `[-4]`),
			wantType: "decimal128(38, 3)", want: []any{"-6.000"}},
		{name: "add decimal(38, 0) and decimal(38, 10)", op: "add", a: js(dec(38, 0), `["1"]`), b: js(dec(38, 10), `["1.5"]`),
			wantType: "decimal128(38, 10)", want: []any{"2.5000000000"}},
		{name: "a value too wide for the narrowed operand", op: "add", a: js(dec(38, 0), `["1000000000000000000000000000000"]`), b: js(dec(38, 10), `["1.5"]`),
			errKind: kernels.Invalid, errHas: []string{"cast decimal128(38, 0) to decimal128(27, 0)"}},
		{name: "multiply decimals with 40 fraction digits in float64", op: "multiply", a: js(dec(38, 20), `["1.5"]`), b: js(dec(38, 20), `["2"]`),
			wantType: "float64", want: []any{3.0}},
		{name: "subtract decimal and float gives float", op: "subtract", a: js(dec(4, 2), `["1.50"]`), b: js(f64, `[0.25]`),
			wantType: "float64", want: []any{1.25}},
		{name: "divide ints gives float64 with IEEE inf", op: "divide", a: js(i64, `[7, 1, -1, 0, null, 3]`), b: js(i64, `[2, 0, 0, 0, 5, null]`),
			wantType: "float64", want: []any{3.5, inf, -inf, math.NaN(), nil, nil}},
		{name: "divide uint8 by int8", op: "divide", a: js(u8, `[255]`), b: js(i8, `[-2]`),
			wantType: "float64", want: []any{-127.5}},
		{name: "divide decimal", op: "divide", a: js(dec(5, 2), `["1.00", null]`), b: js(i32, `[4, 4]`),
			wantType: "float64", want: []any{0.25, nil}},
		{name: "modulo int64 truncates toward zero", op: "modulo", a: js(i64, `[7, -7, 7, -7, null, 5, -9223372036854775808]`), b: js(i64, `[3, 3, -3, -3, 2, null, -1]`),
			wantType: "int64", want: []any{int64(1), int64(-1), int64(1), int64(-1), nil, nil, int64(0)}},
		{name: "modulo int8 min by -1", op: "modulo", a: js(i8, `[-128, 100]`), b: js(i8, `[-1, 7]`),
			wantType: "int8", want: []any{int64(0), int64(2)}},
		{name: "modulo uint8 uint32", op: "modulo", a: js(u8, `[200, null]`), b: js(u32, `[7, 0]`),
			wantType: "uint32", want: []any{uint64(4), nil}},
		{name: "modulo int16 uint16", op: "modulo", a: js(i16, `[-7]`), b: js(u16, `[4]`),
			wantType: "int32", want: []any{int64(-3)}},
		{name: "modulo by zero", op: "modulo", a: js(i64, `[7, 8]`), b: js(i64, `[2, 0]`),
			errKind: kernels.Invalid, errHas: []string{"modulo", "division by zero", "row 1"}},
		{name: "modulo uint64 by zero", op: "modulo", a: js(u64, `[1]`), b: js(u64, `[0]`),
			errKind: kernels.Invalid, errHas: []string{"division by zero"}},
		{name: "modulo by zero in a null row is null", op: "modulo", a: js(i32, `[null, 9]`), b: js(i32, `[0, 4]`),
			wantType: "int32", want: []any{nil, int64(1)}},
		{name: "modulo by a null zero is null", op: "modulo", a: js(i32, `[5]`), b: js(i32, `[null]`),
			wantType: "int32", want: []any{nil}},
		{name: "modulo floats keeps the dividend's sign", op: "modulo",
			a:        floats([]float64{7.5, -7.5, 7.5, 1, inf, 3, 0}, []bool{true, true, true, true, true, true, false}),
			b:        floats([]float64{2, 2, -2, 0, 2, inf, 1}, nil),
			wantType: "float64", want: []any{1.5, -1.5, 1.5, math.NaN(), math.NaN(), 3.0, nil}},
		{name: "modulo float32", op: "modulo", a: js(f32, `[5.5, -5.5, null]`), b: js(f32, `[2, 2, 2]`),
			wantType: "float32", want: []any{1.5, -1.5, nil}},
		{name: "modulo int and float", op: "modulo", a: js(i64, `[7]`), b: js(f64, `[2.5]`),
			wantType: "float64", want: []any{2.0}},
		{name: "modulo decimals", op: "modulo", a: js(dec(5, 2), `["7.50", "-7.50", null, "1.00"]`), b: js(dec(4, 1), `["2.0", "2.0", "1.0", null]`),
			wantType: "decimal128(5, 2)", want: []any{"1.50", "-1.50", nil, nil}},
		{name: "modulo decimal by zero", op: "modulo", a: js(dec(5, 2), `["1.00"]`), b: js(dec(5, 2), `["0.00"]`),
			errKind: kernels.Invalid, errHas: []string{"division by zero"}},
		{name: "add utf8 and int64", op: "add", a: js(utf8, `["1"]`), b: js(i64, `[1]`),
			errKind: kernels.Invalid, errHas: []string{"add", "utf8", "int64"}},
		{name: "multiply bool", op: "multiply", a: js(boo, `[true]`), b: js(i64, `[1]`),
			errKind: kernels.Invalid, errHas: []string{"bool", "int64"}},
		{name: "add dates", op: "add", a: js(d32, `[1]`), b: js(d32, `[1]`),
			errKind: kernels.Invalid, errHas: []string{"date32", "a timestamp minus a timestamp gives a duration"}},
	})
}

func TestArithmeticWithScalars(t *testing.T) {
	mem, ctx := newMem(t)
	b := batchOf(fromJSON(t, mem, i32, `[7, -7, null, 10]`))
	defer b.Release()
	three := &Literal{Value: scalar.NewInt32Scalar(3)}

	cases := []struct {
		name string
		e    Expr
		want []any
	}{
		{"col % 3", mustCall(t, "modulo", col(b, 0), three), []any{int64(1), int64(-1), nil, int64(1)}},
		{"col + 3", mustCall(t, "add", col(b, 0), three), []any{int64(10), int64(-4), nil, int64(13)}},
		{"3 - col", mustCall(t, "subtract", three, col(b, 0)), []any{int64(-4), int64(10), nil, int64(-7)}},
		{"7 % 3 on both scalars", mustCall(t, "modulo", &Literal{Value: scalar.NewInt64Scalar(7)}, &Literal{Value: scalar.NewInt64Scalar(3)}),
			[]any{int64(1), int64(1), int64(1), int64(1)}},
		{"col % null", mustCall(t, "modulo", col(b, 0), &Literal{Value: scalar.MakeNullScalar(arrow.Null)}), []any{nil, nil, nil, nil}},
		{"null + col", mustCall(t, "add", &Literal{Value: scalar.MakeNullScalar(arrow.Null)}, col(b, 0)), []any{nil, nil, nil, nil}},
		{"col / 0", mustCall(t, "divide", col(b, 0), &Literal{Value: scalar.NewInt32Scalar(0)}), []any{math.Inf(1), math.Inf(-1), nil, math.Inf(1)}},
		{"negate col", mustCall(t, "negate", col(b, 0)), []any{int64(-7), int64(7), nil, int64(-10)}},
	}
	for _, tc := range cases {
		_, got, err := evalValues(t, ctx, tc.e, b)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !sameValues(got, tc.want) {
			t.Errorf("%s = %v, want %v", tc.name, got, tc.want)
		}
	}

	// A scalar divisor of zero fails like an array one.
	if _, _, err := evalValues(t, ctx, mustCall(t, "modulo", col(b, 0), &Literal{Value: scalar.NewInt32Scalar(0)}), b); err == nil || kernels.KindOf(err) != kernels.Invalid {
		t.Errorf("col %% 0: want an invalid-argument error, got %v", err)
	}
	// A null literal on both sides resolves to int64 nulls.
	c := mustCall(t, "add", &Literal{Value: scalar.MakeNullScalar(arrow.Null)}, &Literal{Value: scalar.MakeNullScalar(arrow.Null)})
	if TypeName(c.Type) != "int64" {
		t.Errorf("null + null is %s, want int64", TypeName(c.Type))
	}
}

func TestNegate(t *testing.T) {
	mem, ctx := newMem(t)
	b := batchOf(fromJSON(t, mem, i64, `[-9223372036854775808]`), fromJSON(t, mem, utf8, `["x"]`))
	defer b.Release()
	if _, _, err := evalValues(t, ctx, mustCall(t, "negate", col(b, 0)), b); err == nil || kernels.KindOf(err) != kernels.Invalid {
		t.Errorf("negating the smallest int64: want an overflow error, got %v", err)
	}
	for _, dt := range []arrow.DataType{utf8, u8, u64} {
		_, err := newCall("negate", &Column{Name: "x", Type: dt})
		if err == nil || !strings.Contains(err.Error(), TypeName(dt)) || kernels.KindOf(err) != kernels.Invalid {
			t.Errorf("negate(%s): want an invalid-argument error naming the type, got %v", TypeName(dt), err)
		}
	}
	// What Resolve accepts, evaluation can do.
	nb := batchOf(fromJSON(t, mem, dec(5, 2), `["1.25", null]`), fromJSON(t, mem, f32, `[-0.5, null]`), fromJSON(t, mem, i8, `[-127, null]`))
	defer nb.Release()
	for i, want := range [][]any{{"-1.25", nil}, {0.5, nil}, {int64(127), nil}} {
		_, got, err := evalValues(t, ctx, mustCall(t, "negate", col(nb, i)), nb)
		if err != nil || !sameValues(got, want) {
			t.Errorf("negate(%s) = %v, %v; want %v", TypeName(nb.Column(i).DataType()), got, err, want)
		}
	}
}

func TestModuloSlicedInput(t *testing.T) {
	// Offsets of sliced arrays must be honoured by the typed loop.
	mem, ctx := newMem(t)
	full := batchOf(fromJSON(t, mem, i64, `[100, 100, 9, -9, null]`), fromJSON(t, mem, i64, `[0, 0, 4, 4, 0]`))
	defer full.Release()
	b := full.NewSlice(2, 5)
	defer b.Release()
	_, got, err := evalValues(t, ctx, mustCall(t, "modulo", col(b, 0), col(b, 1)), b)
	if err != nil {
		t.Fatal(err)
	}
	if want := []any{int64(1), int64(-1), nil}; !sameValues(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
