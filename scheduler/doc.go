// Package scheduler plans and runs queries on a node. The Engine ties the
// pieces together: plan (build and type-check), optimizer (rewrite),
// physical (operators), catalog (stored tables), config (the node's
// settings).
//
// On a cluster the node a client asks coordinates the query. Its state and
// rules are a deterministic core (querycore.go: events in, commands out, no
// goroutines, clocks or I/O, tested by the transcripts in
// testdata/querycore); the runner around it (coordinator.go) starts the
// attempts, watches membership and carries out the core's commands. Every
// call on another node goes through Transport (transport.go), which the
// flight package implements; a task that cannot read an input fails with a
// typed *LostInput.
//
// Subpackages import downward only: scheduler -> {plan, optimizer,
// physical, catalog, config} -> kernels.
package scheduler
