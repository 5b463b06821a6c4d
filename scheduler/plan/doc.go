// Package plan is the closed logical plan: the Node and Expr types the
// optimizer switches over exhaustively, built and type-checked from the
// protobuf plan (planpb) that clients send.
//
// Build resolves every column name to an index and every function against
// the kernels' registry, inserts implicit casts and derives each node's
// schema, so that a plan that builds will run: errors a user can fix (an
// unknown column, with the closest name suggested; a type mismatch naming
// both types) surface here, before any data is read. Explain renders the
// tree as text for EXPLAIN and for golden tests.
package plan
