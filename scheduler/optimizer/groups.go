package optimizer

import (
	"slipstream/scheduler/cardinality"
	"slipstream/scheduler/plan"
)

// FilterGroups passes a join's keys down into an aggregate below one of its
// sides. When the join keeps only the groups whose keys the other side
// holds, and that side is guessed to hold few of the keys the aggregate's
// input has, the input is first semi-joined with the other side, so the
// groups the join would drop are never computed. (TPC-H q20 sums a year of
// lineitem per part and supplier for the few pairs of forest parts: this
// is what decorrelating its subquery gives.) Filters and projections that
// pass the key columns through may stand between the join and the
// aggregate. The other side is then computed twice, unless it is a join or
// an aggregate, which the physical planner computes once; so it must be
// one, or a plain read of a file or table.
func FilterGroups(n plan.Node, est *cardinality.Estimator) plan.Node {
	return groupFilter{est: est, fps: plan.Fingerprints{}}.rewrite(n)
}

type groupFilter struct {
	est *cardinality.Estimator
	fps plan.Fingerprints // one for the pass: a node's is computed once
}

func (f groupFilter) rewrite(n plan.Node) plan.Node {
	n = plan.MapChildren(n, f.rewrite)
	j, ok := n.(*plan.Join)
	if !ok || len(j.LeftKeys) == 0 {
		return n
	}
	// Which sides lose the rows whose keys the other side lacks.
	left := j.How == plan.Inner || j.How == plan.Semi || j.How == plan.RightJoin
	right := j.How == plan.Inner || j.How == plan.Semi || j.How == plan.Anti || j.How == plan.LeftJoin
	// One side at most: the other side's copy inside the rewritten side
	// must stay equal to it, to be computed once.
	out := *j
	if left && onceComputed(j.Right) {
		if x, ok := f.filter(j.Left, j.LeftKeys, j.Right, j.RightKeys); ok {
			out.Left = x
			return &out
		}
	}
	if right && onceComputed(j.Left) {
		if x, ok := f.filter(j.Right, j.RightKeys, j.Left, j.LeftKeys); ok {
			out.Right = x
			return &out
		}
	}
	return n
}

// maxFilterRows bounds the other side a join's keys come from: read
// twice, it is held in memory whole.
const maxFilterRows = 4 << 20

// onceComputed says whether a second use of n costs little: the physical
// planner computes a repeated join or aggregate once, and a read is cheap.
func onceComputed(n plan.Node) bool {
	if plan.Reusable(n) {
		return true
	}
	switch n := n.(type) {
	case *plan.Scan:
		return true
	case *plan.Filter:
		return onceComputed(n.Input)
	case *plan.Project:
		return onceComputed(n.Input)
	}
	return false
}

// filter rewrites x, whose columns keys (of a join) must equal
// otherKeys over other, so that the aggregate below x computes only groups
// other holds. ok is false when there is no such aggregate, no key is one
// of its group keys, or the guess is that few groups would go.
func (f groupFilter) filter(x plan.Node, keys []plan.Expr, other plan.Node, otherKeys []plan.Expr) (plan.Node, bool) {
	est := f.est
	var refs []keyRef
	for i, k := range keys {
		var cast *plan.Cast
		k = plan.Unalias(k)
		if c, ok := k.(*plan.Cast); ok {
			cast, k = c, plan.Unalias(c.Arg)
		}
		if ref, ok := k.(*plan.ColumnRef); ok {
			refs = append(refs, keyRef{col: ref.Index, key: i, cast: cast})
		}
	}
	return groupsOf(x, refs, func(agg *plan.Aggregate, refs []keyRef) (plan.Node, bool) {
		if f.fps.Of(agg.Input) == f.fps.Of(other) {
			return nil, false // grouped rows joined back to their groups: all keys are there
		}
		semi := &plan.Join{Left: agg.Input, Right: other, How: plan.Semi}
		for _, r := range refs {
			key := plan.Unalias(agg.Keys[r.col])
			if r.cast != nil {
				key = &plan.Cast{Arg: key, To: r.cast.To}
			}
			semi.LeftKeys = append(semi.LeftKeys, key)
			semi.RightKeys = append(semi.RightKeys, otherKeys[r.key])
		}
		for i, f := range agg.Input.Schema().Fields() {
			semi.Output = append(semi.Output, plan.JoinCol{Index: i, Field: f})
		}
		// Worth it when at most half the input is guessed to stay, a guess
		// made only on keys whose values statistics count: without them
		// every column looks unique, and any filter on the other side
		// would seem to drop groups.
		for _, k := range semi.LeftKeys {
			if !est.ExprColumn(agg.Input, k).Counted {
				return nil, false
			}
		}
		if in := est.Rows(agg.Input); est.Rows(semi) > in/2 {
			return nil, false
		}
		// The other side, read twice, is held in memory whole.
		if est.Rows(other) > maxFilterRows {
			return nil, false
		}
		return &plan.Aggregate{Input: semi, Keys: agg.Keys, Aggs: agg.Aggs}, true
	})
}

// keyRef is join key number key, read as column col of the node at hand,
// maybe cast.
type keyRef struct {
	col, key int
	cast     *plan.Cast
}

// groupsOf finds the aggregate below x that some of the key columns refs
// are group keys of, through filters and projections that pass them
// through, and rebuilds x with rewrite's result (given those keys, as
// group key positions) in the aggregate's place.
func groupsOf(x plan.Node, refs []keyRef, rewrite func(*plan.Aggregate, []keyRef) (plan.Node, bool)) (plan.Node, bool) {
	switch n := x.(type) {
	case *plan.Filter, *plan.Project:
		below := refs
		if p, ok := n.(*plan.Project); ok {
			below = nil
			for _, r := range refs {
				if ref, ok := plan.Unalias(p.Exprs[r.col]).(*plan.ColumnRef); ok {
					below = append(below, keyRef{col: ref.Index, key: r.key, cast: r.cast})
				}
			}
		}
		in, ok := groupsOf(n.Children()[0], below, rewrite)
		if !ok {
			return nil, false
		}
		return plan.WithChildren(n, []plan.Node{in}), true
	case *plan.Aggregate:
		var group []keyRef
		for _, r := range refs {
			if r.col < len(n.Keys) {
				group = append(group, r)
			}
		}
		if len(group) == 0 {
			return nil, false
		}
		return rewrite(n, group)
	}
	return nil, false
}
