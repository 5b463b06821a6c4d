package optimizer

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"slipstream/kernels/expr"
	"slipstream/scheduler/cardinality"
	"slipstream/scheduler/plan"
)

// star is a fact table of a million rows, two dimensions and a tiny
// third one, as stored tables whose sizes the estimator knows.
var starRows = map[string]int64{"fact": 1_000_000, "dim_a": 1000, "dim_b": 100, "dim_c": 10}

func table(name string, cols ...string) *plan.Scan {
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = arrow.Field{Name: c, Type: arrow.PrimitiveTypes.Int64}
		if strings.HasSuffix(c, "name") {
			fields[i].Type = arrow.BinaryTypes.String
		}
	}
	return &plan.Scan{Table: name, FileSchema: arrow.NewSchema(fields, nil)}
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

func starEstimator() *cardinality.Estimator {
	return &cardinality.Estimator{TableRows: func(name string) (int64, error) { return starRows[name], nil }}
}

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
	dimC := table("dim_c", "c_grp", "c_name")
	onlyOne := &plan.Filter{Input: dimC, Predicate: compare("eq", colOf(dimC, "c_name"), &plan.Literal{Value: scalar.NewStringScalar("x")})}
	written := innerJoin(
		innerJoin(innerJoin(table("fact", "f_a", "f_b", "v"), table("dim_b", "b_id", "b_name"), "f_b", "b_id"), table("dim_a", "a_id", "a_grp"), "f_a", "a_id"),
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
	written := innerJoin(innerJoin(table("fact", "f_a", "f_b", "v"), table("dim_b", "b_id", "b_name"), "f_b", "b_id"), table("dim_a", "a_id", "a_grp"), "f_a", "a_id")
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

func TestTwoInputsAreLeftAsWritten(t *testing.T) {
	written := innerJoin(table("dim_a", "a_id", "a_grp"), table("fact", "f_a", "f_b", "v"), "a_id", "f_a")
	if got, want := plan.Explain(ReorderJoins(written, starEstimator())), plan.Explain(written); got != want {
		t.Errorf("reordered two inputs:\n%s\nwas\n%s", got, want)
	}
}

func TestInputsNotConnectedByKeysAreLeftAsWritten(t *testing.T) {
	// dim_c meets the others only through a cross join: the run is two inputs
	ab := innerJoin(table("fact", "f_a", "f_b", "v"), table("dim_a", "a_id", "a_grp"), "f_a", "a_id")
	c := table("dim_c", "c_grp", "c_name")
	cross := &plan.Join{Left: ab, Right: c, How: plan.Cross}
	for i, f := range ab.Schema().Fields() {
		cross.Output = append(cross.Output, plan.JoinCol{Index: i, Field: f})
	}
	for i, f := range c.Schema().Fields() {
		cross.Output = append(cross.Output, plan.JoinCol{Right: true, Index: i, Field: f})
	}
	written := innerJoin(cross, table("dim_b", "b_id", "b_name"), "f_b", "b_id")
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
