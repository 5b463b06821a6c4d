package expr

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
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
