// Package exec holds the physical operators: pull-based streams of Arrow
// record batches, one operator per file.
//
// Contract (operator.go): no work happens before the first Next; Next
// returns a batch the caller releases, or io.EOF at the end; an error
// travels out of Next; Close releases everything the operator holds,
// including its inputs, and is safe to call at any time, more than once.
// Every loop checks ctx so that a cancelled query stops promptly.
package exec
