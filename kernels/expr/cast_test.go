package expr

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"slipstream/kernels"
)

func TestCast(t *testing.T) {
	cases := []struct {
		name   string
		in     mkArr
		to     arrow.DataType
		want   []any
		errHas []string
	}{
		{"int64 to int8", js(i64, `[1, null, -128]`), i8, []any{int64(1), nil, int64(-128)}, nil},
		{"int64 to int8 overflow", js(i64, `[1, null, 300]`), i8, nil, []string{"cast int64 to int8"}},
		{"negative to uint32", js(i32, `[-1]`), u32, nil, []string{"cast int32 to uint32"}},
		{"float64 fraction to int64 truncates", js(f64, `[1.5, -2.7]`), i64, []any{int64(1), int64(-2)}, nil},
		{"float64 too large for int32", js(f64, `[3e10]`), i32, nil, []string{"cast float64 to int32"}},
		{"float64 whole to int64", js(f64, `[2, null]`), i64, []any{int64(2), nil}, nil},
		{"utf8 to int64", js(utf8, `["12", null, "-3"]`), i64, []any{int64(12), nil, int64(-3)}, nil},
		{"utf8 not a number", js(utf8, `["12", "x"]`), i64, nil, []string{"cast utf8 to int64"}},
		{"int64 to utf8", js(i64, `[12, null, -9223372036854775808]`), utf8, []any{"12", nil, "-9223372036854775808"}, nil},
		{"uint64 to large_utf8", js(u64, `[18446744073709551615, null]`), lstr, []any{"18446744073709551615", nil}, nil},
		{"int8 to utf8", js(i8, `[-5]`), utf8, []any{"-5"}, nil},
		{"uint16 to string_view", js(u16, `[65535, null]`), arrow.BinaryTypes.StringView, []any{"65535", nil}, nil},
		{"float64 to utf8", js(f64, `[1.5, null, 100000000000000000000, 0.1]`), utf8, []any{"1.5", nil, "1e+20", "0.1"}, nil},
		{"float32 to utf8", js(f32, `[0.1]`), utf8, []any{"0.1"}, nil},
		{"bool to utf8", js(boo, `[true, false, null]`), utf8, []any{"true", "false", nil}, nil},
		{"date32 to utf8", js(d32, `[18262, null]`), lstr, []any{"2020-01-01", nil}, nil},
		{"timestamp to utf8", js(ts(arrow.Millisecond, ""), `[1500, null]`), utf8, []any{"1970-01-01 00:00:01.500", nil}, nil},
		{"timestamp with zone to utf8", js(ts(arrow.Second, "UTC"), `[12]`), utf8, []any{"1970-01-01 00:00:12Z"}, nil},
		{"timestamp in Kolkata to utf8", js(ts(arrow.Second, "Asia/Kolkata"), `[0]`), utf8, []any{"1970-01-01 05:30:00+0530"}, nil},
		{"utf8 to large_utf8", js(utf8, `["é", null]`), lstr, []any{"é", nil}, nil},
		{"string_view to large_utf8", stringViews([]string{"a long string that is not inlined", "b"}, []bool{true, false}), lstr,
			[]any{"a long string that is not inlined", nil}, nil},
		{"decimal to float64", js(dec(5, 2), `["1.25", null]`), f64, []any{1.25, nil}, nil},
		{"int32 to decimal", js(i32, `[7, null]`), dec(12, 2), []any{"7.00", nil}, nil},
		{"decimal too narrow", js(dec(6, 2), `["1234.56"]`), dec(4, 2), nil, []string{"cast decimal128(6, 2) to decimal128(4, 2)"}},
		{"bool to int64", js(boo, `[true, false, null]`), i64, []any{int64(1), int64(0), nil}, nil},
		{"date32 to timestamp", js(d32, `[1, null]`), ts(arrow.Second, ""), []any{int64(86400), nil}, nil},
		{"timestamp ms to us", js(ts(arrow.Millisecond, ""), `[5]`), ts(arrow.Microsecond, ""), []any{int64(5000)}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mem, ctx := newMem(t)
			b := batchOf(tc.in(t, mem))
			defer b.Release()
			c := &Cast{Arg: col(b, 0), To: tc.to}
			_, got, err := evalValues(t, ctx, c, b)
			if tc.errHas != nil {
				if err == nil {
					t.Fatalf("want an error, got %v", got)
				}
				for _, s := range tc.errHas {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				if k := kernels.KindOf(err); k != kernels.Invalid {
					t.Errorf("a failed cast is %v, want invalid argument (%v)", k, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !sameValues(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCastScalars(t *testing.T) {
	mem, ctx := newMem(t)
	b := batchOf(fromJSON(t, mem, i64, `[1, 2, 3]`))
	defer b.Release()

	// A null literal becomes a typed null without calling Arrow's cast.
	_, got, err := evalValues(t, ctx, &Cast{Arg: nullLit(), To: dec(10, 2)}, b)
	if err != nil {
		t.Fatal(err)
	}
	if !sameValues(got, []any{nil, nil, nil}) {
		t.Errorf("null cast = %v", got)
	}
	_, got, err = evalValues(t, ctx, &Cast{Arg: &Literal{Value: scalar.NewStringScalar("42")}, To: i16}, b)
	if err != nil {
		t.Fatal(err)
	}
	if !sameValues(got, []any{int64(42), int64(42), int64(42)}) {
		t.Errorf("'42' cast = %v", got)
	}
	_, got, err = evalValues(t, ctx, &Cast{Arg: &Literal{Value: scalar.NewInt64Scalar(-7)}, To: lstr}, b)
	if err != nil {
		t.Fatal(err)
	}
	if !sameValues(got, []any{"-7", "-7", "-7"}) {
		t.Errorf("-7 cast to large_utf8 = %v", got)
	}
	if _, _, err = evalValues(t, ctx, &Cast{Arg: &Literal{Value: scalar.NewInt64Scalar(1000)}, To: i8}, b); err == nil {
		t.Error("1000 cast to int8: want an error")
	}

	// Eval of a cast to its own type hands back the same column.
	d, err := (&Cast{Arg: col(b, 0), To: i64}).Eval(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	if ad, ok := d.(*compute.ArrayDatum); !ok || ad.Value != b.Column(0).Data() {
		t.Errorf("a no-op cast copied the column: %v", d)
	}
}

func TestLiteralReusedAcrossBatches(t *testing.T) {
	// A literal is evaluated once per batch: evaluating must not give away
	// the literal's own reference.
	mem, ctx := newMem(t)
	lit := &Literal{Value: scalar.NewLargeStringScalar("needle")}
	for i := 0; i < 3; i++ {
		b := batchOf(fromJSON(t, mem, utf8, `["needle", "hay", null]`))
		c := mustCall(t, "eq", col(b, 0), lit)
		_, got, err := evalValues(t, ctx, c, b)
		b.Release()
		if err != nil {
			t.Fatal(err)
		}
		if !sameValues(got, []any{true, false, nil}) {
			t.Fatalf("batch %d: %v", i, got)
		}
	}
}
