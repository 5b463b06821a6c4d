package plan

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"slipstream/kernels/expr"
)

func TestCategoricalMetadataKeptWhereValuesAre(t *testing.T) {
	enumMD := arrow.NewMetadata([]string{expr.CategoryKey, expr.CategoriesKey}, []string{"enum", `["lo","mid","hi"]`})
	e := &ColumnRef{Index: 0, Field: arrow.Field{Name: "e", Type: arrow.BinaryTypes.LargeString, Metadata: enumMD}}
	fn := func(name string) *expr.Function { f, _ := expr.Lookup(name); return f }
	upper, err := resolveCall(fn("upper"), []Expr{e})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		e    Expr
		kept bool
	}{
		{e, true},
		{&Alias{Arg: e, Alias: "x"}, true},
		{&AggCall{Fn: fn("max"), Arg: e, Out: e.Type()}, true},
		{&AggCall{Fn: fn("count"), Arg: e, Out: arrow.PrimitiveTypes.Int64}, false},
		{&AggCall{Fn: fn("implode"), Arg: e, Out: arrow.ListOf(e.Type())}, true},
		{upper, false},
		{&Cast{Arg: e, To: arrow.BinaryTypes.String}, false},
	} {
		f := outField(c.e)
		if f.HasMetadata() != c.kept {
			t.Errorf("%s: metadata %v, want kept=%v", c.e, f.Metadata, c.kept)
		}
	}
	for _, c := range []struct {
		lit  string
		kept bool
	}{{"hi", true}, {"top", false}} {
		fill, err := resolveCall(fn("fill_null"), []Expr{e, &Literal{Value: scalar.NewStringScalar(c.lit)}})
		if err != nil {
			t.Fatal(err)
		}
		if got := outField(fill).HasMetadata(); got != c.kept {
			t.Errorf("fill_null(e, %q) keeps the enum: %v, want %v", c.lit, got, c.kept)
		}
	}
	// Sorting an enum sorts by its categories; comparing it with text that
	// is no category is an error.
	key, err := inEnumOrder(e)
	if err != nil || !strings.HasPrefix(key.String(), "enum_rank(") {
		t.Errorf("sort key of an enum = %v, %v", key, err)
	}
	lt, err := resolveCall(fn("lt"), []Expr{e, &Literal{Value: scalar.NewStringScalar("mid")}})
	if err != nil || !strings.Contains(lt.String(), "enum_rank(col(e)") || !strings.Contains(lt.String(), " 1") {
		t.Errorf("e < \"mid\" = %v, %v", lt, err)
	}
	if _, err := resolveCall(fn("lt"), []Expr{e, &Literal{Value: scalar.NewStringScalar("top")}}); err == nil || !strings.Contains(err.Error(), "not one of the categories") {
		t.Errorf("e < \"top\": %v", err)
	}
	if alt, _, ok := enumAggregate(fn("min"), e); !ok || alt.Name != "min_enum" {
		t.Errorf("min of an enum is %v", alt)
	}
}
