package expr

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

func TestCategoricalFunctions(t *testing.T) {
	cats := ls(`["lo", "mid", "hi"]`)
	runFn(t, []fnCase{
		{name: "to_categorical", fn: "to_categorical", args: []fnArg{c(utf8, `["b", null, "a"]`)},
			want: []any{"b", nil, "a"}, wantType: utf8},
		{name: "to_enum", fn: "to_enum", args: []fnArg{c(lstr, `["hi", null, "lo", "hi"]`), cats},
			want: []any{"hi", nil, "lo", "hi"}, wantType: lstr},
		{name: "to_enum_unknown", fn: "to_enum", args: []fnArg{c(lstr, `["hi", "x", "lo"]`), cats},
			errHas: `["x"] is not one of the categories [lo, mid, hi]`},
		{name: "to_categorical_of_int", fn: "to_categorical", args: []fnArg{c(i64, `[1]`)},
			errHas: "cannot cast int64 to Categorical"},
		{name: "enum_rank", fn: "enum_rank", args: []fnArg{c(utf8, `["hi", null, "lo", "mid"]`), cats},
			want: []any{int64(2), nil, int64(0), int64(1)}, wantType: arrow.PrimitiveTypes.Int32},
	})
	md, ok := CategoricalMetadata("to_enum", []string{"", `["lo","hi"]`})
	if !ok {
		t.Fatal("to_enum gives no metadata")
	}
	if got, ok := EnumCategories(md); !ok || len(got) != 2 || got[1] != "hi" {
		t.Fatalf("EnumCategories = %v, %v", got, ok)
	}
	if md, ok := CategoricalMetadata("to_categorical", nil); !ok || md.Values()[0] != "categorical" {
		t.Fatalf("to_categorical's metadata = %v", md)
	}
	if _, ok := CategoricalMetadata("upper", nil); ok {
		t.Fatal("upper gives metadata")
	}
}

func TestEnumMinMax(t *testing.T) {
	mem, _ := newMem(t)
	cats := []scalar.Scalar{scalar.NewStringScalar(`["lo", "mid", "hi"]`)}
	b1 := fromJSON(t, mem, lstr, `["hi", "lo", null, "mid"]`)
	b2 := fromJSON(t, mem, lstr, `["mid", "mid", null, "lo"]`)
	defer b1.Release()
	defer b2.Release()
	ids := [][]uint32{{0, 1, 2, 3}, {0, 1, 2, 4}}
	for fn, want := range map[string][]any{
		"min_enum": {"mid", "lo", nil, "mid", "lo"},
		"max_enum": {"hi", "mid", nil, "mid", "lo"},
	} {
		f, _ := Lookup(fn)
		acc := f.NewAccumulator(lstr, cats)
		acc.Update(b1, ids[0], 4)
		acc.Update(b2, ids[1], 5)
		out := acc.Finish(mem, 5)
		got := goValues(out)
		out.Release()
		if !sameValues(got, want) {
			t.Errorf("%s = %v, want %v", fn, got, want)
		}
	}
	if f, _ := Lookup("max_enum"); f.CheckParams([]scalar.Scalar{scalar.NewStringScalar("lo")}) == nil {
		t.Error("max_enum takes categories that are no JSON list")
	}
}
