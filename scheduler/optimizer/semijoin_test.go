package optimizer

import (
	"strings"
	"testing"

	"slipstream/scheduler/plan"
)

// semiJoin keeps the rows of l whose columns lks equal r's rks (anti: none).
func semiJoin(how plan.JoinType, l, r plan.Node, lks, rks []string) *plan.Join {
	j := &plan.Join{Left: l, Right: r, How: how}
	for i := range lks {
		j.LeftKeys = append(j.LeftKeys, colOf(l, lks[i]))
		j.RightKeys = append(j.RightKeys, colOf(r, rks[i]))
	}
	for i, f := range l.Schema().Fields() {
		j.Output = append(j.Output, plan.JoinCol{Index: i, Field: f})
	}
	return j
}

// A semi or anti join on the columns of one side of an inner join is
// joined to that side, below the inner join; the result keeps its columns.
func TestSemiJoinsMoveToTheSideOfTheirKeys(t *testing.T) {
	for _, how := range []plan.JoinType{plan.Semi, plan.Anti} {
		fact, dimA := table(t, "fact", "f_a", "f_b", "v"), table(t, "dim_a", "a_id", "a_grp")
		dimC := table(t, "dim_c", "c_grp", "c_name")
		inner := innerJoin(fact, dimA, "f_a", "a_id")
		for _, key := range []string{"a_grp", "f_b"} { // the right side's column, then the left's
			written := semiJoin(how, inner, dimC, []string{key}, []string{"c_grp"})
			got := PushSemiJoins(written)
			if !sameColumns(got, written) {
				t.Fatalf("schema changed:\n%s\nwas\n%s", got.Schema(), written.Schema())
			}
			j, ok := got.(*plan.Join)
			if !ok || j.How != plan.Inner {
				t.Fatalf("%s on %s: the inner join is not on top:\n%s", how, key, plan.Explain(got))
			}
			pushed, other, want := j.Right, j.Left, plan.Node(fact)
			if key == "f_b" {
				pushed, other, want = j.Left, j.Right, dimA
			}
			if s, ok := pushed.(*plan.Join); !ok || s.How != how || other != want {
				t.Errorf("%s on %s: not moved to its side:\n%s", how, key, plan.Explain(got))
			}
			if want := "col(" + key + ") = col(c_grp)"; !strings.Contains(plan.Explain(got), want) {
				t.Errorf("%s on %s: the keys changed:\n%s", how, key, plan.Explain(got))
			}
		}
	}
}

// Keys on both sides of the inner join, or a condition beyond the keys:
// the semi join stays where it is.
func TestSemiJoinsOverBothSidesStay(t *testing.T) {
	inner := innerJoin(table(t, "fact", "f_a", "f_b", "v"), table(t, "dim_a", "a_id", "a_grp"), "f_a", "a_id")
	dimC := table(t, "dim_c", "c_grp", "c_name")
	both := semiJoin(plan.Semi, inner, table(t, "dim_b", "b_id", "b_grp"), []string{"f_b", "a_grp"}, []string{"b_id", "b_grp"})
	filtered := semiJoin(plan.Semi, inner, dimC, []string{"a_grp"}, []string{"c_grp"})
	filtered.Filter = compare("lt", colOf(inner, "v"), &plan.ColumnRef{Index: len(inner.Output), Field: dimC.Schema().Field(0)})
	for name, written := range map[string]*plan.Join{"keys on both sides": both, "a condition": filtered} {
		if got, want := plan.Explain(PushSemiJoins(written)), plan.Explain(written); got != want {
			t.Errorf("%s: moved:\n%s\nwas\n%s", name, got, want)
		}
	}
}
