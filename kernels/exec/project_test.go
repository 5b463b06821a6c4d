package exec

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"slipstream/kernels/expr"
)

// A call written in several output columns is computed once per batch,
// and every column holds what the expressions give computed one by one;
// two columns of one name stay two columns.
func TestProjectSharesCommonCalls(t *testing.T) {
	mem, ctx := newMem(t)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "a", Type: i64, Nullable: true}, {Name: "b", Type: i64, Nullable: true}, {Name: "a", Type: i64, Nullable: true},
	}, nil)
	rec := buildBatch(t, mem, schema, []any{int64(1), nil, int64(5), int64(-4)}, []any{int64(2), int64(3), nil, int64(7)}, []any{int64(10), int64(20), int64(30), int64(40)})
	defer rec.Release()
	one := &expr.Literal{Value: scalar.NewInt64Scalar(1)}
	a, b, a2 := colExpr(schema, 0), colExpr(schema, 1), colExpr(schema, 2)
	disc := call(t, "multiply", a, call(t, "subtract", one, b))   // twice, once inside another
	disc2 := call(t, "multiply", a2, call(t, "subtract", one, b)) // same text, the other a
	exprs := []expr.Expr{disc, call(t, "multiply", disc, call(t, "add", one, b)), disc2, a}
	names := []string{"disc", "charge", "disc2", "a"}
	p := NewProject(records(schema, rec), exprs, names)
	if len(p.shared) == 0 {
		t.Fatal("nothing shared")
	}
	for _, s := range p.shared {
		if exprKey(s) == exprKey(disc2) {
			t.Errorf("%s shared, though written once", s)
		}
	}
	rec.Retain()
	got, _ := drain(t, ctx, p)
	// one by one, without the Project
	want := make([][]any, rec.NumRows())
	for _, e := range exprs {
		arr, err := expr.EvalArray(ctx, e, rec)
		if err != nil {
			t.Fatal(err)
		}
		for r := range want {
			want[r] = append(want[r], goValue(arr, r))
		}
		arr.Release()
	}
	if !sameRows(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
