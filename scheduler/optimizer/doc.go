// Package optimizer rewrites logical plans into cheaper equivalent ones.
// Each rule is a function from plan.Node to plan.Node that keeps the
// result, its schema included, exactly the same:
//   - FoldConstants: calls on constants are evaluated once, at planning.
//   - PushFilters: filters move below projections and into join inputs.
//   - PushSemiJoins: a semi or anti join on one side's columns of an
//     inner join moves below it, into that side.
//   - ReorderJoins: runs of inner joins are joined in the order guessed
//     cheapest (then PushFilters again, for the conditions it lifted).
//   - FilterGroups: an aggregate below a join computes only the groups
//     whose keys the other side of the join holds, when those are few.
//   - DistinctToGroups: n_unique / count(DISTINCT x) become a group-by on x
//     and a count, so their distinct values spill and spread like groups.
//   - PruneColumns: scans read only the columns the plan uses.
//   - PushBounds: simple comparisons in a filter above a scan become
//     Bounds the scan checks against Parquet row-group statistics.
package optimizer

import (
	"slipstream/scheduler/cardinality"
	"slipstream/scheduler/plan"
)

// Optimize applies every rule in order; est guesses sizes for ReorderJoins.
func Optimize(n plan.Node, est *cardinality.Estimator) plan.Node {
	n = FoldConstants(n)
	n = PushSemiJoins(PushFilters(n))
	n = PushFilters(ReorderJoins(n, est))
	n = FilterGroups(n, est)
	n = DistinctToGroups(n)
	n = PruneColumns(n)
	n = PushBounds(n)
	return n
}
