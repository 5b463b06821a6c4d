// Package kernels is the bottom layer of Slipstream: functions, expressions
// and operators over Arrow record batches. It imports Arrow and nothing of
// Slipstream above it.
//
// Subpackages:
//   - expr: typed expressions and the one function registry the planner
//     type-checks against and the executor dispatches from.
//   - exec: pull-based operators (scan, filter, project, hash aggregate,
//     sort, limit) that stream arrow.RecordBatch values.
//   - fsroot: the directories users' files may be read from, each an
//     *os.Root; scans open their files through it.
//
// This package holds the error kinds every layer shares (errors.go).
package kernels
