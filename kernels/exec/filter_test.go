package exec

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"slipstream/kernels"
	"slipstream/kernels/expr"
)

func TestFilter(t *testing.T) {
	mem, ctx := newMem(t)
	schema := schemaOf(i64, utf8)
	batches := func() []arrow.RecordBatch {
		return []arrow.RecordBatch{
			batchJSON(t, mem, schema, `[{"c0": 1, "c1": "a"}, {"c0": null, "c1": "b"}, {"c0": 5, "c1": null}, {"c0": 3, "c1": "ü"}]`),
			batchJSON(t, mem, schema, `[{"c0": 2, "c1": "c"}, {"c0": null, "c1": "d"}, {"c0": -7, "c1": "e"}]`),
			batchJSON(t, mem, schema, `[{"c0": 9, "c1": "f"}, {"c0": 0, "c1": null}]`),
		}
	}
	gt := func(v int64) expr.Expr {
		return call(t, "gt", colExpr(schema, 0), &expr.Literal{Value: scalar.NewInt64Scalar(v)})
	}
	boolLit := func(v any) expr.Expr {
		if v == nil {
			return &expr.Literal{Value: scalar.MakeNullScalar(boo)}
		}
		return &expr.Literal{Value: scalar.NewBooleanScalar(v.(bool))}
	}
	all := [][]any{{int64(1), "a"}, {nil, "b"}, {int64(5), nil}, {int64(3), "ü"}, {int64(2), "c"}, {nil, "d"}, {int64(-7), "e"}, {int64(9), "f"}, {int64(0), nil}}
	cases := []struct {
		name    string
		pred    expr.Expr
		want    [][]any
		batches int
	}{
		{"c0 > 2 drops null rows and the empty middle batch", gt(2), [][]any{{int64(5), nil}, {int64(3), "ü"}, {int64(9), "f"}}, 2},
		{"c0 > 100 keeps nothing", gt(100), nil, 0},
		{"c0 > -100 passes the last batch through whole", gt(-100),
			[][]any{{int64(1), "a"}, {int64(5), nil}, {int64(3), "ü"}, {int64(2), "c"}, {int64(-7), "e"}, {int64(9), "f"}, {int64(0), nil}}, 3},
		{"true keeps all", boolLit(true), all, 3},
		{"false keeps nothing", boolLit(false), nil, 0},
		{"null keeps nothing", boolLit(nil), nil, 0},
		{"is_null(c1)", call(t, "is_null", colExpr(schema, 1)), [][]any{{int64(5), nil}, {int64(0), nil}}, 2},
		{"c1 >= c1 is null where c1 is", call(t, "ge", colExpr(schema, 1), colExpr(schema, 1)),
			[][]any{{int64(1), "a"}, {nil, "b"}, {int64(3), "ü"}, {int64(2), "c"}, {nil, "d"}, {int64(-7), "e"}, {int64(9), "f"}}, 3},
		{"not(c0 > 2) drops nulls too", call(t, "not", gt(2)), [][]any{{int64(1), "a"}, {int64(2), "c"}, {int64(-7), "e"}, {int64(0), nil}}, 3},
		{"c0 > 2 or c1 is null", call(t, "or", gt(2), call(t, "is_null", colExpr(schema, 1))),
			[][]any{{int64(5), nil}, {int64(3), "ü"}, {int64(9), "f"}, {int64(0), nil}}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := &counting{Operator: records(schema, batches()...)}
			f, err := NewFilter(in, tc.pred)
			if err != nil {
				t.Fatal(err)
			}
			rows, n := drain(t, ctx, f)
			if !sameRows(rows, tc.want) {
				t.Errorf("got %v, want %v", rows, tc.want)
			}
			if n != tc.batches {
				t.Errorf("%d batches, want %d", n, tc.batches)
			}
			if in.pulls.Load() != 3 {
				t.Errorf("pulled %d batches, want all 3", in.pulls.Load())
			}
		})
	}
}

func TestFilterErrors(t *testing.T) {
	mem, ctx := newMem(t)
	schema := schemaOf(i64, i64)
	in := records(schema)
	_, err := NewFilter(in, colExpr(schema, 0))
	if err == nil || kernels.KindOf(err) != kernels.Invalid || !strings.Contains(err.Error(), "int64") {
		t.Errorf("an int64 predicate: want an invalid-argument error naming int64, got %v", err)
	}
	in.Close()

	// An evaluation error (modulo by zero) travels out of Next.
	in = records(schema, batchJSON(t, mem, schema, `[{"c0": 1, "c1": 1}, {"c0": 1, "c1": 0}]`))
	pred := call(t, "eq", call(t, "modulo", colExpr(schema, 0), colExpr(schema, 1)), &expr.Literal{Value: scalar.NewInt64Scalar(0)})
	f, err := NewFilter(in, pred)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Next(ctx); err == nil || kernels.KindOf(err) != kernels.Invalid || !strings.Contains(err.Error(), "division by zero") {
		t.Errorf("want the modulo error, got %v", err)
	}
}

func TestProject(t *testing.T) {
	mem, ctx := newMem(t)
	schema := schemaOf(i32, utf8)
	in := records(schema,
		batchJSON(t, mem, schema, `[{"c0": 1, "c1": "a"}, {"c0": null, "c1": "b"}]`),
		batchJSON(t, mem, schema, `[{"c0": 2147483647, "c1": null}]`))
	exprs := []expr.Expr{
		call(t, "add", colExpr(schema, 0), &expr.Literal{Value: scalar.NewInt64Scalar(1)}),
		colExpr(schema, 1),
		&expr.Literal{Value: scalar.NewStringScalar("k")},
		call(t, "is_null", colExpr(schema, 0)),
		&expr.Cast{Arg: colExpr(schema, 0), To: utf8},
	}
	p := NewProject(in, exprs, []string{"next", "c1", "const", "missing", "text"})
	wantSchema := "next: type=int64, nullable|c1: type=utf8, nullable|const: type=utf8, nullable|missing: type=bool, nullable|text: type=utf8, nullable"
	var got []string
	for _, f := range p.Schema().Fields() {
		got = append(got, f.Name+": type="+f.Type.String()+", nullable")
	}
	if strings.Join(got, "|") != wantSchema {
		t.Errorf("schema %v, want %s", got, wantSchema)
	}
	if want := `Project (col(c0).cast(int64) + 1) AS next, col(c1) AS c1, "k" AS const, is_null(col(c0)) AS missing, col(c0).cast(utf8) AS text`; p.String() != want {
		t.Errorf("String() = %s\nwant       %s", p.String(), want)
	}
	rows, _ := drain(t, ctx, p)
	want := [][]any{
		{int64(2), "a", "k", false, "1"},
		{nil, "b", "k", true, nil},
		{int64(2147483648), nil, "k", false, "2147483647"},
	}
	if !sameRows(rows, want) {
		t.Errorf("got %v, want %v", rows, want)
	}
}

func TestProjectError(t *testing.T) {
	mem, ctx := newMem(t)
	schema := schemaOf(i64)
	in := records(schema, batchJSON(t, mem, schema, `[{"c0": 9223372036854775807}]`))
	p := NewProject(in, []expr.Expr{call(t, "add", colExpr(schema, 0), colExpr(schema, 0))}, []string{"twice"})
	defer p.Close()
	if _, err := p.Next(ctx); err == nil || kernels.KindOf(err) != kernels.Invalid || !strings.Contains(err.Error(), "overflow") {
		t.Errorf("want an overflow error, got %v", err)
	}
}

func TestExplain(t *testing.T) {
	mem, _ := newMem(t)
	schema := schemaOf(i64, utf8)
	f, err := NewFilter(records(schema), call(t, "gt", colExpr(schema, 0), &expr.Literal{Value: scalar.NewInt64Scalar(1)}))
	if err != nil {
		t.Fatal(err)
	}
	agg := hashAgg(t, mem, f, []int{1}, []aggSpec{{"count", 0}})
	s, err := NewSort(agg, []SortKey{{Column: 1, Descending: true}}, 3)
	if err != nil {
		t.Fatal(err)
	}
	op := NewLimit(s, 0, 3)
	defer op.Close()
	want := `Limit offset=0 count=3
  TopK k=3 count0 desc nulls_first
    HashAggregate keys=[c1] aggs=[count(__agg0) AS count0]
      Project col(c1) AS c1, col(c0) AS __agg0
        Filter (col(c0) > 1)
          Records
`
	if got := Explain(op); got != want {
		t.Errorf("Explain:\n%s\nwant:\n%s", got, want)
	}
}
