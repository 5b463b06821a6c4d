package scheduler

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/cockroachdb/datadriven"

	"slipstream/internal/parquettest"
	"slipstream/kernels"
	"slipstream/kernels/exec"
	"slipstream/kernels/fsroot"
	"slipstream/scheduler/catalog"
	pb "slipstream/scheduler/planpb"
)

// Small plan builders so that test queries read like the Python API.

func col(n string) *pb.Expr { return &pb.Expr{Kind: &pb.Expr_Column{Column: &pb.Column{Name: n}}} }
func lit(v int64) *pb.Expr {
	return &pb.Expr{Kind: &pb.Expr_Literal{Literal: &pb.Literal{Value: &pb.Literal_IntValue{IntValue: v}}}}
}
func str(v string) *pb.Expr {
	return &pb.Expr{Kind: &pb.Expr_Literal{Literal: &pb.Literal{Value: &pb.Literal_StringValue{StringValue: v}}}}
}
func call(f string, args ...*pb.Expr) *pb.Expr {
	return &pb.Expr{Kind: &pb.Expr_Call{Call: &pb.Call{Function: f, Args: args}}}
}
func alias(e *pb.Expr, n string) *pb.Expr {
	return &pb.Expr{Kind: &pb.Expr_Alias{Alias: &pb.Alias{Expr: e, Name: n}}}
}
func table(n string) *pb.Node {
	return &pb.Node{Kind: &pb.Node_TableScan{TableScan: &pb.TableScan{Table: n}}}
}
func parquetScan(p string) *pb.Node {
	return &pb.Node{Kind: &pb.Node_FileScan{FileScan: &pb.FileScan{Paths: []string{p}, Format: pb.FileFormat_PARQUET}}}
}
func filter(in *pb.Node, e *pb.Expr) *pb.Node {
	return &pb.Node{Kind: &pb.Node_Filter{Filter: &pb.Filter{Input: in, Predicate: e}}}
}
func sel(in *pb.Node, es ...*pb.Expr) *pb.Node {
	return &pb.Node{Kind: &pb.Node_Select{Select: &pb.Select{Input: in, Exprs: es}}}
}
func withCols(in *pb.Node, es ...*pb.Expr) *pb.Node {
	return &pb.Node{Kind: &pb.Node_WithColumns{WithColumns: &pb.WithColumns{Input: in, Exprs: es}}}
}
func agg(in *pb.Node, keys []*pb.Expr, aggs ...*pb.Expr) *pb.Node {
	return &pb.Node{Kind: &pb.Node_Aggregate{Aggregate: &pb.Aggregate{Input: in, Keys: keys, Aggs: aggs}}}
}
func sortBy(in *pb.Node, desc bool, keys ...*pb.Expr) *pb.Node {
	s := &pb.Sort{Input: in}
	for _, k := range keys {
		s.Keys = append(s.Keys, &pb.SortKey{Expr: k, Descending: desc})
	}
	return &pb.Node{Kind: &pb.Node_Sort{Sort: s}}
}
func limit(in *pb.Node, n int64) *pb.Node {
	return &pb.Node{Kind: &pb.Node_Limit{Limit: &pb.Limit{Input: in, Count: n}}}
}
func query(n *pb.Node) *pb.Query { return &pb.Query{Root: n} }
func over(e *pb.Expr, partition []*pb.Expr, order ...*pb.Expr) *pb.Expr {
	o := &pb.Over{Expr: e, PartitionBy: partition}
	for _, k := range order {
		o.OrderBy = append(o.OrderBy, &pb.SortKey{Expr: k})
	}
	return &pb.Expr{Kind: &pb.Expr_Over{Over: o}}
}

func join(l, r *pb.Node, how pb.Join_How, on ...string) *pb.Node {
	j := &pb.Join{Left: l, Right: r, How: how}
	for _, k := range on {
		j.LeftOn, j.RightOn = append(j.LeftOn, col(k)), append(j.RightOn, col(k))
	}
	return &pb.Node{Kind: &pb.Node_Join{Join: j}}
}

// testEngine stores a small "trips" table and writes a Parquet file of
// four row groups whose "id" column runs 0..399.
func testEngine(t testing.TB, mem memory.Allocator) (*Engine, string) {
	t.Helper()
	dir := t.TempDir()
	cat, err := catalog.Open(filepath.Join(dir, "data"), mem, "n1")
	if err != nil {
		t.Fatal(err)
	}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "vendor", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "fare", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "passengers", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"a", "b", "a", "ü", "b"}, []bool{true, true, true, true, false})
	b.Field(1).(*array.Float64Builder).AppendValues([]float64{12, 3, 40, 7, 11}, []bool{true, true, true, true, true})
	b.Field(2).(*array.Int32Builder).AppendValues([]int32{1, 2, 3, 4, 5}, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()
	up, err := cat.BeginUpload("trips", catalog.Create, schema)
	if err != nil {
		t.Fatal(err)
	}
	if err := up.Write(rec); err != nil {
		t.Fatal(err)
	}
	if _, err := up.Commit(); err != nil {
		t.Fatal(err)
	}

	ids := array.NewInt64Builder(mem)
	defer ids.Release()
	for i := int64(0); i < 400; i++ {
		ids.Append(i)
	}
	idArr := ids.NewArray()
	defer idArr.Release()
	ps := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	prec := array.NewRecordBatch(ps, []arrow.Array{idArr}, 400)
	defer prec.Release()
	path := filepath.Join(dir, "ids.parquet")
	parquettest.Write(t, mem, path, prec, 100)
	// Two pipelines whatever the machine, so that plans are the same everywhere.
	return &Engine{Catalog: cat, Mem: mem, Partitions: 2}, path
}

// queries are the named plans of testdata/explain.
func queries(parquetPath string) map[string]*pb.Query {
	return map[string]*pb.Query{
		"topk": query(limit(sortBy(agg(filter(table("trips"), call("gt", col("fare"), lit(10))),
			[]*pb.Expr{col("vendor")}, alias(call("sum", col("fare")), "total"), alias(call("len"), "n")), true, col("total")), 2)),
		"pruned_projection":  query(sel(filter(table("trips"), call("eq", col("vendor"), str("a"))), alias(call("multiply", col("fare"), lit(2)), "double_fare"))),
		"with_columns":       query(withCols(table("trips"), alias(call("add", col("passengers"), lit(1)), "passengers"), alias(call("divide", col("fare"), col("passengers")), "per_head"))),
		"parquet_bounds":     query(filter(parquetScan(parquetPath), call("and", call("ge", col("id"), lit(150)), call("gt", lit(180), col("id"))))),
		"sort_by_expression": query(sortBy(table("trips"), false, call("negate", col("fare")))),
		"global_agg":         query(agg(table("trips"), nil, call("max", col("vendor")), alias(call("count", col("vendor")), "vendors"))),
		"concat": query(agg(&pb.Node{Kind: &pb.Node_Concat{Concat: &pb.Concat{Inputs: []*pb.Node{
			sel(table("trips"), col("vendor"), alias(col("passengers"), "x")),
			sel(table("trips"), col("vendor"), alias(col("fare"), "x")),
		}}}}, []*pb.Expr{col("vendor")}, alias(call("sum", col("x")), "total"))),
		"agg_expressions": query(agg(table("trips"), []*pb.Expr{col("vendor")},
			alias(call("divide", call("sum", col("fare")), call("len")), "mean_fare"),
			alias(call("subtract", call("max", col("passengers")), call("min", col("passengers"))), "spread"),
			alias(call("add", call("count", col("vendor")), lit(1)), "count_plus_one"))),
		"select_aggregates": query(sel(table("trips"), alias(call("multiply", call("sum", col("fare")), lit(2)), "twice"))),
		"windows": query(sortBy(withCols(table("trips"),
			alias(over(call("row_number"), []*pb.Expr{col("vendor")}, col("fare")), "rn"),
			alias(over(call("rank"), nil, col("vendor")), "vendor_rank"),
			alias(over(call("sum", col("fare")), []*pb.Expr{col("vendor")}), "vendor_total"),
			alias(over(call("lag", col("fare")), []*pb.Expr{col("vendor")}, col("passengers")), "prev_fare"),
			alias(call("subtract", col("fare"), over(call("cum_sum", col("fare")), nil, col("passengers"))), "minus_running"),
		), false, col("passengers"))),
		"constant_folding": query(filter(table("trips"), call("gt", col("fare"), call("multiply", lit(5), call("add", lit(1), lit(1)))))),
		"filter_through_join": query(filter(join(table("trips"), agg(table("trips"), []*pb.Expr{col("vendor")}, alias(call("len"), "rides")), pb.Join_INNER, "vendor"),
			call("and", call("and", call("gt", col("fare"), lit(10)), call("gt", col("rides"), lit(1))), call("gt", col("fare"), col("rides"))))),
		"with_columns_pruned": query(agg(withCols(table("trips"), alias(call("multiply", col("fare"), lit(2)), "f2")), []*pb.Expr{col("vendor")}, alias(call("sum", col("f2")), "s"))),
		"join_pruned": query(sel(join(table("trips"), agg(table("trips"), []*pb.Expr{col("vendor")}, alias(call("len"), "rides")), pb.Join_LEFT, "vendor"),
			col("fare"), col("rides"))),
	}
}

func TestExplain(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	e, path := testEngine(t, mem)
	qs := queries(path)
	datadriven.RunTest(t, "testdata/explain", func(t *testing.T, d *datadriven.TestData) string {
		q, ok := qs[d.CmdArgs[0].Key]
		if !ok {
			t.Fatalf("no query named %s", d.CmdArgs[0].Key)
		}
		switch d.Cmd {
		case "explain":
			txt, err := e.Explain(q)
			if err != nil {
				return "error: " + err.Error()
			}
			return strings.ReplaceAll(txt, path, "ids.parquet")
		case "run":
			return run(t, e, q)
		}
		t.Fatalf("unknown command %s", d.Cmd)
		return ""
	})
}

// run executes q and renders its rows, one per line.
func run(t *testing.T, e *Engine, q *pb.Query) string {
	op, err := e.Execute(q)
	if err != nil {
		return "error: " + err.Error()
	}
	defer op.Close()
	batches, err := exec.Collect(context.Background(), op)
	if err != nil {
		return "error: " + err.Error()
	}
	defer exec.ReleaseAll(batches)
	var sb strings.Builder
	for _, row := range renderRows(batches) {
		sb.WriteString(row + "\n")
	}
	return sb.String()
}

// renderRows renders each row as its cells joined by " | ".
func renderRows(batches []arrow.RecordBatch) []string {
	var rows []string
	for _, b := range batches {
		for r := 0; r < int(b.NumRows()); r++ {
			cells := make([]string, b.NumCols())
			for c := range cells {
				cells[c] = b.Column(c).ValueStr(r)
			}
			rows = append(rows, strings.Join(cells, " | "))
		}
	}
	return rows
}

func TestPlanErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	e, _ := testEngine(t, mem)
	cases := []struct {
		name string
		q    *pb.Query
		kind kernels.Kind
		want []string
	}{
		{"unknown column", query(filter(table("trips"), call("gt", col("fair"), lit(1)))), kernels.Invalid, []string{`unknown column "fair"`, `did you mean "fare"`}},
		{"type mismatch", query(filter(table("trips"), call("gt", col("vendor"), lit(1)))), kernels.Invalid, []string{"utf8", "int64"}},
		{"unknown function", query(sel(table("trips"), call("summ", col("fare")))), kernels.Invalid, []string{`unknown function "summ"`, `did you mean "sum"`}},
		// An aggregate in with_columns is broadcast (polars); as a group key it is an error.
		{"aggregate as a key", query(agg(table("trips"), []*pb.Expr{call("sum", col("fare"))}, call("len"))), kernels.Invalid, []string{"inside group_by"}},
		{"nested aggregates", query(agg(table("trips"), nil, call("sum", call("max", col("fare"))))), kernels.Invalid, []string{"do not nest"}},
		{"not an aggregate", query(agg(table("trips"), []*pb.Expr{col("vendor")}, col("fare"))), kernels.Invalid, []string{`column "fare" is neither aggregated nor a group key`}},
		{"unknown table", query(table("tripz")), kernels.NotFound, []string{`table "tripz" does not exist`, "trips"}},
		{"missing file", query(parquetScan("/nonexistent/x.parquet")), kernels.NotFound, []string{"no file matches /nonexistent/x.parquet"}},
		{"non-boolean filter", query(filter(table("trips"), col("fare"))), kernels.Invalid, []string{"expected boolean"}},
		{"duplicate names", query(sel(table("trips"), col("fare"), col("fare"))), kernels.Invalid, []string{`"fare" twice`}},
		{"empty plan", &pb.Query{}, kernels.Invalid, []string{"no plan"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.Plan(c.q)
			if err == nil {
				t.Fatal("expected an error")
			}
			if k := kernels.KindOf(err); k != c.kind {
				t.Errorf("kind %v, want %v (%v)", k, c.kind, err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestPushedBoundsSkipRowGroups(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	e, path := testEngine(t, mem)
	op, err := e.Execute(queries(path)["parquet_bounds"])
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	batches, err := exec.Collect(context.Background(), op)
	if err != nil {
		t.Fatal(err)
	}
	defer exec.ReleaseAll(batches)
	var got []int64
	for _, b := range batches {
		got = append(got, b.Column(0).(*array.Int64).Int64Values()...)
	}
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	if len(got) != 30 || got[0] != 150 || got[29] != 179 {
		t.Fatalf("got %d rows %v", len(got), got)
	}
	// The file may be split over several pipelines: count over all scans.
	var read, skipped, scans int
	var find func(op exec.Operator)
	find = func(op exec.Operator) {
		if s, ok := op.(*exec.Scan); ok {
			read, skipped, scans = read+s.RowGroupsRead, skipped+s.RowGroupsSkipped, scans+1
		}
		if p, ok := op.(exec.Parent); ok {
			for _, c := range p.Children() {
				find(c)
			}
		}
	}
	find(op)
	if scans == 0 || read != 1 || skipped != 3 {
		t.Fatalf("%d scans read %d and skipped %d row groups, want 1 and 3", scans, read, skipped)
	}
}

func TestARecentPlanIsReusedUntilATableChanges(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	e, _ := testEngine(t, mem)
	q := query(filter(table("trips"), call("gt", col("fare"), lit(10))))
	first, err := e.Plan(q)
	if err != nil {
		t.Fatal(err)
	}
	// GetFlightInfo then DoGet: the second asks again with an equal query
	if again, _ := e.Plan(query(filter(table("trips"), call("gt", col("fare"), lit(10))))); again != first {
		t.Error("the same query was planned again")
	}
	if other, _ := e.Plan(query(filter(table("trips"), call("gt", col("fare"), lit(11))))); other == first {
		t.Error("another query got the first one's plan")
	}
	// replacing the table with one of another schema: the old plan would read a column that is gone
	schema := arrow.NewSchema([]arrow.Field{{Name: "fare", Type: arrow.PrimitiveTypes.Float64, Nullable: true}}, nil)
	up, err := e.Catalog.BeginUpload("trips", catalog.Replace, schema)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.Commit(); err != nil {
		t.Fatal(err)
	}
	after, err := e.Plan(q)
	if err != nil {
		t.Fatal(err)
	}
	if after == first || after.Schema().NumFields() != 1 {
		t.Errorf("after the table changed, the plan is the old one: %s", after.Schema())
	}
}

// With Roots set, file scans read only under them: a file elsewhere, a link
// leading out, and a file swapped for such a link after planning are all
// refused, naming --allow-path.
func TestFileScansStayUnderRoots(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	e, path := testEngine(t, mem)
	roots, err := fsroot.Open(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	defer roots.Close()
	e.Roots = roots
	if got := run(t, e, query(agg(parquetScan(path), nil, alias(call("len"), "n")))); got != "400\n" {
		t.Fatalf("the allowed file: %q", got)
	}
	outside := filepath.Join(t.TempDir(), "ids.parquet")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(outside, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(filepath.Dir(path), "link.parquet")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{outside, link, filepath.Dir(path) + "/../*/ids.parquet", filepath.Dir(path) + "/*.parquet"} {
		_, err := e.Execute(query(parquetScan(p)))
		if kernels.KindOf(err) != kernels.PermissionDenied || !strings.Contains(err.Error(), "--allow-path") {
			t.Errorf("%s: %v, want permission denied naming --allow-path", p, err)
		}
	}
	// Planned while the file is inside; swapped for a link out before the
	// scan opens it.
	op, err := e.Execute(query(parquetScan(path)))
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	if err := os.Rename(link, path); err != nil {
		t.Fatal(err)
	}
	batches, err := exec.Collect(context.Background(), op)
	exec.ReleaseAll(batches)
	if kernels.KindOf(err) != kernels.PermissionDenied {
		t.Errorf("a file swapped for a link out after planning: %v, want permission denied", err)
	}
}
