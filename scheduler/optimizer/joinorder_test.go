package optimizer

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"slipstream/internal/parquettest"
	"slipstream/kernels/exec"
	"slipstream/kernels/expr"
	"slipstream/scheduler/cardinality"
	"slipstream/scheduler/plan"
)

// star is a fact table of 20000 rows, two dimensions and a tiny third
// one, as Parquet files whose statistics the estimator reads.
var starRows = map[string]int{"fact": 20000, "dim_a": 1000, "dim_b": 100, "dim_c": 10}

// table writes (once per test) a Parquet file of starRows[name] rows:
// column i of row r holds r, or r modulo 7 for a column named *_grp, or a
// name for a column named *name.
func table(t *testing.T, name string, cols ...string) *plan.Scan {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = arrow.Field{Name: c, Type: arrow.PrimitiveTypes.Int64}
		if strings.HasSuffix(c, "name") {
			fields[i].Type = arrow.BinaryTypes.String
		}
	}
	schema := arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for r := 0; r < starRows[name]; r++ {
		for i, c := range cols {
			switch {
			case strings.HasSuffix(c, "name"):
				b.Field(i).(*array.StringBuilder).Append(fmt.Sprintf("name %d", r%5))
			case strings.HasSuffix(c, "_grp"):
				b.Field(i).(*array.Int64Builder).Append(int64(r % 7))
			default:
				b.Field(i).(*array.Int64Builder).Append(int64(r))
			}
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	path := filepath.Join(t.TempDir(), name+".parquet")
	parquettest.Write(t, mem, path, rec, 1<<20)
	return &plan.Scan{Files: []string{path}, Format: exec.Parquet, FileSchema: schema}
}

func colOf(n plan.Node, name string) *plan.ColumnRef {
	s := n.Schema()
	for i, f := range s.Fields() {
		if f.Name == name {
			return &plan.ColumnRef{Index: i, Field: f}
		}
	}
	panic("no column " + name)
}

// innerJoin joins l and r on l.lk = r.rk and keeps every column but rk.
func innerJoin(l, r plan.Node, lk, rk string) *plan.Join {
	j := &plan.Join{Left: l, Right: r, How: plan.Inner, LeftKeys: []plan.Expr{colOf(l, lk)}, RightKeys: []plan.Expr{colOf(r, rk)}}
	for i, f := range l.Schema().Fields() {
		j.Output = append(j.Output, plan.JoinCol{Index: i, Field: f})
	}
	for i, f := range r.Schema().Fields() {
		if f.Name != rk {
			j.Output = append(j.Output, plan.JoinCol{Right: true, Index: i, Field: f})
		}
	}
	return j
}

func compare(op string, a, b plan.Expr) plan.Expr {
	fn, _ := expr.Lookup(op)
	return &plan.Call{Fn: fn, Args: []plan.Expr{a, b}, Out: arrow.FixedWidthTypes.Boolean}
}

func starEstimator() *cardinality.Estimator { return &cardinality.Estimator{} }

// deepestJoin is the most indented Join line of an EXPLAIN.
func deepestJoin(n plan.Node) string {
	best, depth := "", -1
	for _, line := range strings.Split(plan.Explain(n), "\n") {
		trimmed := strings.TrimLeft(line, " ")
		if d := len(line) - len(trimmed); strings.HasPrefix(trimmed, "Join") && d > depth {
			best, depth = trimmed, d
		}
	}
	return best
}

func TestTheSmallFilteredDimensionIsJoinedFirst(t *testing.T) {
	dimC := table(t, "dim_c", "c_grp", "c_name")
	onlyOne := &plan.Filter{Input: dimC, Predicate: compare("eq", colOf(dimC, "c_name"), &plan.Literal{Value: scalar.NewStringScalar("x")})}
	written := innerJoin(
		innerJoin(innerJoin(table(t, "fact", "f_a", "f_b", "v"), table(t, "dim_b", "b_id", "b_name"), "f_b", "b_id"), table(t, "dim_a", "a_id", "a_grp"), "f_a", "a_id"),
		onlyOne, "a_grp", "c_grp")
	got := Optimize(written, starEstimator())
	if !sameColumns(got, written) {
		t.Fatalf("schema changed:\n%s\nwas\n%s", got.Schema(), written.Schema())
	}
	if j := deepestJoin(got); j != "Join inner on=[col(a_grp) = col(c_grp)]" && j != "Join inner on=[col(c_grp) = col(a_grp)]" {
		t.Errorf("the first join is %q, want dim_a with dim_c:\n%s", j, plan.Explain(got))
	}
}

func TestAConditionOverTwoInputsGoesBackAboveTheirJoin(t *testing.T) {
	written := innerJoin(innerJoin(table(t, "fact", "f_a", "f_b", "v"), table(t, "dim_b", "b_id", "b_name"), "f_b", "b_id"), table(t, "dim_a", "a_id", "a_grp"), "f_a", "a_id")
	cond := &plan.Filter{Input: written, Predicate: compare("lt", colOf(written, "f_b"), colOf(written, "a_grp"))}
	got := Optimize(cond, starEstimator())
	text := plan.Explain(got)
	if strings.Count(text, "Filter (col(f_b) < col(a_grp))") != 1 {
		t.Fatalf("the condition is lost or doubled:\n%s", text)
	}
	// it sits right above the join that brings b_id and a_grp together
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		if strings.Contains(line, "Filter (col(f_b) < col(a_grp))") && !strings.Contains(lines[i+1], "Join") {
			t.Errorf("the condition is not right above a join:\n%s", text)
		}
	}
	if !sameColumns(got, cond) {
		t.Errorf("schema changed:\n%s\nwas\n%s", got.Schema(), cond.Schema())
	}
}

func TestKeysWithoutStatisticsAreLeftAsWritten(t *testing.T) {
	// stored tables: no statistics count their keys' values
	stored := func(name string, cols ...string) *plan.Scan {
		s := table(t, name, cols...)
		s.Table, s.Files = name, nil
		return s
	}
	rows := &cardinality.Estimator{TableRows: func(name string) (int64, error) { return int64(starRows[name]), nil }}
	written := innerJoin(innerJoin(stored("fact", "f_a", "f_b"), stored("dim_b", "b_id", "b_name"), "f_b", "b_id"), stored("dim_a", "a_id", "a_grp"), "f_a", "a_id")
	if got, want := plan.Explain(ReorderJoins(written, rows)), plan.Explain(written); got != want {
		t.Errorf("reordered without statistics:\n%s\nwas\n%s", got, want)
	}
}

func TestTwoInputsAreLeftAsWritten(t *testing.T) {
	written := innerJoin(table(t, "dim_a", "a_id", "a_grp"), table(t, "fact", "f_a", "f_b", "v"), "a_id", "f_a")
	if got, want := plan.Explain(ReorderJoins(written, starEstimator())), plan.Explain(written); got != want {
		t.Errorf("reordered two inputs:\n%s\nwas\n%s", got, want)
	}
}

func TestInputsNotConnectedByKeysAreLeftAsWritten(t *testing.T) {
	// dim_c meets the others only through a cross join: the run is two inputs
	ab := innerJoin(table(t, "fact", "f_a", "f_b", "v"), table(t, "dim_a", "a_id", "a_grp"), "f_a", "a_id")
	c := table(t, "dim_c", "c_grp", "c_name")
	cross := &plan.Join{Left: ab, Right: c, How: plan.Cross}
	for i, f := range ab.Schema().Fields() {
		cross.Output = append(cross.Output, plan.JoinCol{Index: i, Field: f})
	}
	for i, f := range c.Schema().Fields() {
		cross.Output = append(cross.Output, plan.JoinCol{Right: true, Index: i, Field: f})
	}
	written := innerJoin(cross, table(t, "dim_b", "b_id", "b_name"), "f_b", "b_id")
	got := ReorderJoins(written, starEstimator())
	if !sameColumns(got, written) {
		t.Fatalf("schema changed")
	}
	if !strings.Contains(plan.Explain(got), "Join cross") {
		t.Errorf("the cross join is gone:\n%s", plan.Explain(got))
	}
}

// sameColumns compares names and types (a Project marks columns nullable).
func sameColumns(a, b plan.Node) bool {
	x, y := a.Schema().Fields(), b.Schema().Fields()
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i].Name != y[i].Name || !arrow.TypeEqual(x[i].Type, y[i].Type) {
			return false
		}
	}
	return true
}
