package plan

import (
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"slipstream/kernels/expr"
)

func TestLiteralMeetingDecimalKeepsItsValue(t *testing.T) {
	dec := &arrow.Decimal128Type{Precision: 15, Scale: 2}
	col := &ColumnRef{Index: 0, Field: arrow.Field{Name: "price", Type: dec}}
	for _, c := range []struct {
		lit  scalar.Scalar
		want int64 // unscaled, scale 2
	}{
		{scalar.NewInt64Scalar(1), 100},
		{scalar.NewInt64Scalar(-7), -700},
	} {
		got, ok := adoptType(&Literal{Value: c.lit, Untyped: true}, col).(*Literal)
		if !ok || !arrow.TypeEqual(got.Type(), dec) {
			t.Fatalf("%v: did not adopt %s: %v", c.lit, dec, got)
		}
		if n := got.Value.(*scalar.Decimal128).Value; n != decimal128.FromI64(c.want) {
			t.Errorf("%v became unscaled %v, want %d", c.lit, n, c.want)
		}
	}
}

func TestLiteralAdoptsIntegerWidthOnlyWhenItFits(t *testing.T) {
	i8 := &ColumnRef{Field: arrow.Field{Name: "small", Type: arrow.PrimitiveTypes.Int8}}
	if got := adoptType(&Literal{Value: scalar.NewInt64Scalar(100), Untyped: true}, i8); !arrow.TypeEqual(got.Type(), arrow.PrimitiveTypes.Int8) {
		t.Errorf("100 vs int8: %s", got.Type())
	}
	if got := adoptType(&Literal{Value: scalar.NewInt64Scalar(1000), Untyped: true}, i8); !arrow.TypeEqual(got.Type(), arrow.PrimitiveTypes.Int64) {
		t.Errorf("1000 vs int8 must stay int64, got %s", got.Type())
	}
}

func TestSuggest(t *testing.T) {
	names := []string{"fare", "vendor", "passenger_count"}
	for in, want := range map[string]string{"fair": ` (did you mean "fare"?)`, "Vendor": ` (did you mean "vendor"?)`, "zzzzzz": ""} {
		if got := suggest(in, names); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFloatLiteralMeetingDecimalIsExact(t *testing.T) {
	dec := &arrow.Decimal128Type{Precision: 15, Scale: 2}
	col := &ColumnRef{Index: 0, Field: arrow.Field{Name: "price", Type: dec}}
	for in, want := range map[float64]string{0.0001: "decimal128(4, 4) 1", 0.25: "decimal128(2, 2) 25", -12.5: "decimal128(3, 1) -125", 3: "decimal128(1, 0) 3"} {
		got, ok := adoptType(&Literal{Value: scalar.NewFloat64Scalar(in), Untyped: true}, col).(*Literal)
		if !ok {
			t.Fatalf("%v: not a literal", in)
		}
		d := got.Value.(*scalar.Decimal128)
		if s := fmt.Sprintf("%s %s", expr.TypeName(d.Type), d.Value.BigInt()); s != want {
			t.Errorf("%v became %s, want %s", in, s, want)
		}
	}
}
