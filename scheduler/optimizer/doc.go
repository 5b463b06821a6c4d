// Package optimizer rewrites logical plans into cheaper equivalent ones.
// Each rule is a function from plan.Node to plan.Node that keeps the
// result, its schema included, exactly the same:
//   - FoldConstants: calls on constants are evaluated once, at planning.
//   - PushFilters: filters move below projections and into join inputs.
//   - PruneColumns: scans read only the columns the plan uses.
//   - PushBounds: simple comparisons in a filter above a scan become
//     Bounds the scan checks against Parquet row-group statistics.
package optimizer

import "slipstream/scheduler/plan"

// Optimize applies every rule in order.
func Optimize(n plan.Node) plan.Node {
	n = FoldConstants(n)
	n = PushFilters(n)
	n = PruneColumns(n)
	n = PushBounds(n)
	return n
}
