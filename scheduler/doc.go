// Package scheduler plans and runs queries on a node. The Engine ties the
// pieces together: plan (build and type-check), optimizer (rewrite),
// physical (operators), catalog (stored tables).
//
// Subpackages import downward only: scheduler -> {plan, optimizer,
// physical, catalog} -> kernels.
package scheduler
