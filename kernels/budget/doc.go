// Package budget is a node's memory budget and spill space.
//
// One Pool per node holds the limit. Each query (or task of one) has a
// Query account, which is also the memory.Allocator its operators use:
// every Arrow buffer is counted once, when it is allocated, however many
// slices share it. Memory an operator keeps outside Arrow (hash tables,
// accumulators) is claimed with a Reservation. A query may hold up to an
// equal share of the pool while others run, so one huge query cannot
// starve a small one; an operator that would go over spills to files in
// the query's folder under the spill directory (Arrow IPC, LZ4 frames), or, when
// it cannot, fails its query alone with kernels.ResourceExhausted.
//
// Closing a Query frees its reservations and removes its spill folder;
// making a Pool empties the spill directory a crashed node left behind.
package budget
