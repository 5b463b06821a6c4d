package expr

import (
	"math"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

func TestListFunctions(t *testing.T) {
	li := arrow.ListOf(i64)
	lists := c(li, `[[1, null, 3], [], null, [null], [5, 5, -2]]`)
	floats := c(arrow.ListOf(f64), `[[1.5, "NaN"], [], null, [null, -0.5]]`)
	b := func(v bool) fnArg { return l(scalar.NewBooleanScalar(v)) }
	i := func(v int64) fnArg { return l(scalar.NewInt64Scalar(v)) }
	runFn(t, []fnCase{
		{name: "split", fn: "split", args: []fnArg{c(utf8, `["a,b", "", null, ",x"]`), ls(",")},
			want: []any{[]any{"a", "b"}, []any{""}, nil, []any{"", "x"}}, wantType: arrow.ListOf(lstr)},
		{name: "len", fn: "list_len", args: []fnArg{lists},
			want: []any{uint64(3), uint64(0), nil, uint64(1), uint64(3)}, wantType: arrow.PrimitiveTypes.Uint32},
		{name: "get", fn: "list_get", args: []fnArg{lists, i(-1), b(true)},
			want: []any{int64(3), nil, nil, nil, int64(-2)}, wantType: i64},
		{name: "get_oob", fn: "list_get", args: []fnArg{lists, i(0), b(false)}, errHas: "index 0 is out of bounds for a list of 0 values"},
		{name: "get_per_row", fn: "list_get", args: []fnArg{lists, c(i64, `[1, 0, 0, null, -3]`), b(true)},
			want: []any{nil, nil, nil, nil, int64(5)}, wantType: i64},
		{name: "get_per_row_negative", fn: "list_get", args: []fnArg{lists, c(i64, `[-1, 7, 0, 0, 2]`), b(true)},
			want: []any{int64(3), nil, nil, nil, int64(-2)}},
		{name: "get_per_row_oob", fn: "list_get", args: []fnArg{lists, c(i64, `[0, 0, 0, 0, 3]`), b(false)},
			errHas: "index 0 is out of bounds for a list of 0 values"},
		{name: "sum", fn: "list_sum", args: []fnArg{lists},
			want: []any{int64(4), int64(0), nil, int64(0), int64(8)}},
		{name: "mean", fn: "list_mean", args: []fnArg{lists},
			want: []any{2.0, nil, nil, nil, 8.0 / 3}},
		{name: "max_floats", fn: "list_max", args: []fnArg{floats},
			want: []any{1.5, nil, nil, -0.5}},
		{name: "contains", fn: "list_contains", args: []fnArg{lists, i(5)},
			want: []any{false, false, nil, false, true}},
		{name: "contains_per_row", fn: "list_contains", args: []fnArg{lists, c(i64, `[3, 1, 1, 1, -2]`)},
			want: []any{true, false, nil, false, true}},
		{name: "join", fn: "list_join", args: []fnArg{c(arrow.ListOf(utf8), `[["a", null, "b"], [], null]`), ls("-")},
			want: []any{"a-b", "", nil}},
		{name: "sort", fn: "list_sort", args: []fnArg{lists, b(true), b(true)},
			want: []any{[]any{int64(3), int64(1), nil}, []any{}, nil, []any{nil}, []any{int64(5), int64(5), int64(-2)}}},
		{name: "sort_floats", fn: "list_sort", args: []fnArg{floats, b(false), b(false)},
			want: []any{[]any{1.5, math.NaN()}, []any{}, nil, []any{nil, -0.5}}},
		{name: "unique", fn: "list_unique", args: []fnArg{lists},
			want: []any{[]any{nil, int64(1), int64(3)}, []any{}, nil, []any{nil}, []any{int64(-2), int64(5)}}},
		{name: "len_of_int", fn: "list_len", args: []fnArg{c(i64, `[1]`)}, errHas: "list.len needs a list, got int64"},
	})
}

func TestImplode(t *testing.T) {
	mem, _ := newMem(t)
	fn, _ := Lookup("implode")
	acc := fn.NewAccumulator(i64, nil)
	for _, js := range []string{`[1, 2, null]`, `[4]`} {
		a := fromJSON(t, mem, i64, js)
		acc.Update(a, []uint32{0, 2, 0}[:a.Len()], 3)
		a.Release()
	}
	out := acc.Finish(mem, 3)
	defer out.Release()
	got := goValues(out)
	want := []any{[]any{int64(1), nil, int64(4)}, []any{}, []any{int64(2)}}
	if !sameValues(got, want) {
		t.Errorf("implode = %v, want %v", got, want)
	}
	if _, ok := out.(*array.List); !ok {
		t.Errorf("implode gives %T, want a list", out)
	}
}

func TestStructFunctions(t *testing.T) {
	st := arrow.StructOf(arrow.Field{Name: "a", Type: i64, Nullable: true}, arrow.Field{Name: "b", Type: utf8, Nullable: true})
	fn, _ := Lookup("struct_field")
	for i, name := range []string{"a", "b"} {
		out, _, err := fn.ResolveConst([]arrow.DataType{st, utf8}, []scalar.Scalar{nil, scalar.NewStringScalar(name)})
		if err != nil || !arrow.TypeEqual(out, st.Field(i).Type) {
			t.Fatalf("struct_field %s resolves to %v, %v", name, out, err)
		}
	}
	if _, _, err := fn.ResolveConst([]arrow.DataType{st, utf8}, []scalar.Scalar{nil, scalar.NewStringScalar("z")}); err == nil {
		t.Error("struct_field z resolves; want an error naming the fields")
	}
}
