// Package expr evaluates typed expressions over Arrow record batches.
//
// An Expr is already resolved: columns are indices, every node knows its
// Arrow type, implicit casts have been inserted. The registry (registry.go)
// is the single list of functions: the planner calls Function.Resolve to
// type-check a call and learn the casts it needs, and evaluation dispatches
// through the same entry, so the two can never disagree.
//
// Scalar functions run on Arrow's compute kernels where Arrow has them
// (arithmetic, comparison, boolean, cast) and on typed loops here where it
// does not (modulo). Aggregates are Accumulators (aggregate.go): they fold
// batches into per-group state held in Go slices and build one Arrow array
// at the end.
package expr
