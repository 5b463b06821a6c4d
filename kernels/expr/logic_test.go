package expr

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"slipstream/kernels"
)

// The nine combinations of true, false and null.
const (
	kleeneA = `[true, true, true, false, false, false, null, null, null]`
	kleeneB = `[true, false, null, true, false, null, true, false, null]`
)

func TestKleeneLogic(t *testing.T) {
	T, F := any(true), any(false)
	runBinary(t, []binaryCase{
		{name: "and", op: "and", a: js(boo, kleeneA), b: js(boo, kleeneB),
			wantType: "bool", want: []any{T, F, nil, F, F, F, nil, F, nil}},
		{name: "or", op: "or", a: js(boo, kleeneA), b: js(boo, kleeneB),
			wantType: "bool", want: []any{T, T, T, T, F, nil, T, nil, nil}},
		{name: "and of int64", op: "and", a: js(i64, `[1]`), b: js(boo, `[true]`),
			errKind: kernels.Invalid, errHas: []string{"and", "int64"}},
		{name: "or of utf8", op: "or", a: js(boo, `[true]`), b: js(utf8, `["true"]`),
			errKind: kernels.Invalid, errHas: []string{"or", "utf8"}},
	})
}

func TestNotAndScalars(t *testing.T) {
	mem, ctx := newMem(t)
	b := batchOf(fromJSON(t, mem, boo, kleeneA))
	defer b.Release()
	T, F := any(true), any(false)
	lit := func(v bool) Expr { return &Literal{Value: scalar.NewBooleanScalar(v)} }
	cases := []struct {
		e    Expr
		want []any
	}{
		{mustCall(t, "not", col(b, 0)), []any{F, F, F, T, T, T, nil, nil, nil}},
		{mustCall(t, "and", col(b, 0), lit(false)), []any{F, F, F, F, F, F, F, F, F}},
		{mustCall(t, "or", col(b, 0), lit(true)), []any{T, T, T, T, T, T, T, T, T}},
		{mustCall(t, "and", col(b, 0), nullLit()), []any{nil, nil, nil, F, F, F, nil, nil, nil}},
		{mustCall(t, "or", nullLit(), col(b, 0)), []any{T, T, T, nil, nil, nil, nil, nil, nil}},
		{mustCall(t, "not", nullLit()), []any{nil, nil, nil, nil, nil, nil, nil, nil, nil}},
		{mustCall(t, "is_null", col(b, 0)), []any{F, F, F, F, F, F, T, T, T}},
		{mustCall(t, "is_not_null", col(b, 0)), []any{T, T, T, T, T, T, F, F, F}},
		{mustCall(t, "is_null", nullLit()), []any{T, T, T, T, T, T, T, T, T}},
		{mustCall(t, "is_not_null", lit(false)), []any{T, T, T, T, T, T, T, T, T}},
	}
	for _, tc := range cases {
		_, got, err := evalValues(t, ctx, tc.e, b)
		if err != nil {
			t.Errorf("%s: %v", tc.e, err)
			continue
		}
		if !sameValues(got, tc.want) {
			t.Errorf("%s = %v, want %v", tc.e, got, tc.want)
		}
	}
	if _, err := newCall("not", &Literal{Value: scalar.NewInt64Scalar(1)}); err == nil || !strings.Contains(err.Error(), "int64") {
		t.Errorf("not(int64): want an error naming int64, got %v", err)
	}
}

func TestIsNullEveryType(t *testing.T) {
	types := []struct {
		dt arrow.DataType
		js string
	}{
		{i8, `[1, null]`}, {i16, `[1, null]`}, {i32, `[1, null]`}, {i64, `[1, null]`},
		{u8, `[1, null]`}, {u16, `[1, null]`}, {u32, `[1, null]`}, {u64, `[1, null]`},
		{f32, `[1.5, null]`}, {f64, `[1.5, null]`}, {boo, `[false, null]`},
		{utf8, `["", null]`}, {lstr, `["x", null]`}, {d32, `[1, null]`},
		{ts(arrow.Microsecond, "UTC"), `[1, null]`}, {dec(10, 3), `["1.500", null]`},
	}
	for _, tc := range types {
		t.Run(TypeName(tc.dt), func(t *testing.T) {
			mem, ctx := newMem(t)
			b := batchOf(fromJSON(t, mem, tc.dt, tc.js))
			defer b.Release()
			for name, want := range map[string][]any{"is_null": {false, true}, "is_not_null": {true, false}} {
				_, got, err := evalValues(t, ctx, mustCall(t, name, col(b, 0)), b)
				if err != nil {
					t.Fatal(err)
				}
				if !sameValues(got, want) {
					t.Errorf("%s = %v, want %v", name, got, want)
				}
			}
		})
	}
}

func TestNullsAndNotOnSlicedInput(t *testing.T) {
	// Operators hand on slices (Limit, batches of a table): offsets of both
	// the values and the validity bitmap must be honoured.
	mem, ctx := newMem(t)
	full := batchOf(fromJSON(t, mem, boo, `[true, null, true, false, null, true, false, null, null, true, false]`),
		fromJSON(t, mem, dec(7, 2), `["1.00", null, "2.00", null, "3.00", "4.00", null, "5.00", "6.00", null, "7.00"]`))
	defer full.Release()
	b := full.NewSlice(3, 11)
	defer b.Release()
	T, F := any(true), any(false)
	cases := []struct {
		e    Expr
		want []any
	}{
		{mustCall(t, "not", col(b, 0)), []any{T, nil, F, T, nil, nil, F, T}},
		{mustCall(t, "is_null", col(b, 0)), []any{F, T, F, F, T, T, F, F}},
		{mustCall(t, "is_not_null", col(b, 0)), []any{T, F, T, T, F, F, T, T}},
		{mustCall(t, "is_null", col(b, 1)), []any{T, F, F, T, F, F, T, F}},
		{mustCall(t, "is_not_null", col(b, 1)), []any{F, T, T, F, T, T, F, T}},
	}
	for _, tc := range cases {
		_, got, err := evalValues(t, ctx, tc.e, b)
		if err != nil {
			t.Errorf("%s: %v", tc.e, err)
			continue
		}
		if !sameValues(got, tc.want) {
			t.Errorf("%s = %v, want %v", tc.e, got, tc.want)
		}
	}
}

func TestIsNullOfNullColumn(t *testing.T) {
	mem, ctx := newMem(t)
	b := batchOf(fromJSON(t, mem, arrow.Null, `[null, null, null]`))
	defer b.Release()
	for name, want := range map[string]any{"is_null": true, "is_not_null": false} {
		_, got, err := evalValues(t, ctx, mustCall(t, name, col(b, 0)), b)
		if err != nil {
			t.Fatal(err)
		}
		if !sameValues(got, []any{want, want, want}) {
			t.Errorf("%s of a null column = %v", name, got)
		}
	}
}
