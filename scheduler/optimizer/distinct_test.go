package optimizer

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"slipstream/kernels/expr"
	"slipstream/scheduler/plan"
)

func aggOf(t *testing.T, fn string, arg plan.Expr, name string, params ...scalar.Scalar) plan.Expr {
	t.Helper()
	f, ok := expr.Lookup(fn)
	if !ok {
		t.Fatalf("no function %s", fn)
	}
	return &plan.Alias{Arg: &plan.AggCall{Fn: f, Arg: arg, Params: params, Out: arrow.PrimitiveTypes.Int64}, Alias: name}
}

// Distinct counts become a group-by on their argument and a count of the
// groups (len when null counts, count when it does not), with the same
// columns; without keys, several arguments and other aggregates are
// computed apart and put side by side.
func TestDistinctCountsBecomeGroups(t *testing.T) {
	in := table(t, "t", "k", "v", "name")
	polars := scalar.NewBooleanScalar(true)

	keyed := &plan.Aggregate{Input: in, Keys: []plan.Expr{colOf(in, "k")},
		Aggs: []plan.Expr{aggOf(t, "n_unique", colOf(in, "name"), "u", polars), aggOf(t, "n_unique", colOf(in, "name"), "s")}}
	got := DistinctToGroups(keyed)
	if !sameColumns(got, keyed) {
		t.Fatalf("schema changed:\n%s\nwas\n%s", got.Schema(), keyed.Schema())
	}
	outer, ok := got.(*plan.Aggregate)
	if !ok || len(outer.Keys) != 1 {
		t.Fatalf("not an aggregate of groups:\n%s", plan.Explain(got))
	}
	groups, ok := outer.Input.(*plan.Aggregate)
	if !ok || len(groups.Keys) != 2 || len(groups.Aggs) != 0 {
		t.Fatalf("the groups are not by k and name:\n%s", plan.Explain(got))
	}
	if fns := []string{plan.Unalias(outer.Aggs[0]).(*plan.AggCall).Fn.Name, plan.Unalias(outer.Aggs[1]).(*plan.AggCall).Fn.Name}; fns[0] != "len" || fns[1] != "count" {
		t.Errorf("polars' count (null a value) and SQL's: got %v, want [len count]", fns)
	}

	whole := &plan.Aggregate{Input: in, Aggs: []plan.Expr{
		aggOf(t, "n_unique", colOf(in, "name"), "a"), aggOf(t, "sum", colOf(in, "v"), "b"),
		aggOf(t, "n_unique", colOf(in, "k"), "c", polars), aggOf(t, "n_unique", colOf(in, "name"), "d", polars)}}
	got = DistinctToGroups(whole)
	if !sameColumns(got, whole) {
		t.Fatalf("schema changed:\n%s\nwas\n%s", got.Schema(), whole.Schema())
	}
	text := plan.Explain(got)
	if strings.Count(text, "cross") != 2 || strings.Count(text, "Aggregate") != 5 {
		t.Errorf("want the sum and the two distinct arguments apart, side by side:\n%s", text)
	}

	filtered := &plan.Aggregate{Input: in, Aggs: []plan.Expr{aggOf(t, "n_unique", colOf(in, "name"), "a")}}
	plan.Unalias(filtered.Aggs[0]).(*plan.AggCall).Filter = colOf(in, "v")
	mixed := &plan.Aggregate{Input: in, Keys: []plan.Expr{colOf(in, "k")},
		Aggs: []plan.Expr{aggOf(t, "n_unique", colOf(in, "name"), "a"), aggOf(t, "sum", colOf(in, "v"), "b")}}
	for _, n := range []plan.Node{filtered, mixed} {
		if got := DistinctToGroups(n); plan.Explain(got) != plan.Explain(n) {
			t.Errorf("rewritten, want kept:\n%s\nbecame\n%s", plan.Explain(n), plan.Explain(got))
		}
	}
}
