package scheduler

import (
	"context"
	"fmt"
	"io"

	"slipstream/kernels"
	"slipstream/kernels/exec"
	"slipstream/scheduler/catalog"
	"slipstream/scheduler/planpb"
)

// Transport is every call one node makes on another, typed; the flight
// package implements it (flight/peer.go) and serves it (flight/server.go).
// addr is the other node's Flight URI. Errors carry kernels kinds: a node
// that cannot be reached gives kernels.Unavailable, and a task that could
// not read an input gives a *LostInput, typed on both sides of the wire.
type Transport interface {
	// RunTask runs one attempt of a task on the node and keeps its output
	// there.
	RunTask(ctx context.Context, addr string, t *planpb.Task) (*planpb.TaskResult, error)
	// Release has the node forget a query's task outputs, except those
	// of stage keep (-1: all).
	Release(ctx context.Context, addr, query string, keep int32) error
	// Fetch streams one bucket of a task's output from the node.
	Fetch(ctx context.Context, addr string, key *planpb.OutputKey, compress bool) (exec.Operator, error)
	// StorePart sends one partition file of an upload (cmd.Data, with its
	// checksum) to the node, which checks it and stages it durably before
	// answering.
	StorePart(ctx context.Context, addr string, cmd *planpb.StorePart) error
	// FetchPart streams the node's copy of a partition to w and returns
	// the checksum the node gives for it (for a node repairing its own, or
	// making a new copy); NotFound when it holds no good copy. The copy
	// travels in chunks (catalog.ChunkSize): no size limit, and the writer
	// paces it (--repair-rate).
	FetchPart(ctx context.Context, addr, table, id string, w io.Writer) (string, error)
	// CopyPart has the node fetch a copy of a partition from the node at
	// cmd.Source, check it and stage it durably under cmd.UploadId
	// (re-replication; a manifest naming the node commits it).
	CopyPart(ctx context.Context, addr string, cmd *planpb.StorePart) error
	// StoreOutput has the node store a result partition it holds as
	// partitions of an upload, itself first among their holders, and
	// answers them (CREATE TABLE AS on a cluster).
	StoreOutput(ctx context.Context, addr string, cmd *planpb.StoreOutput) ([]catalog.Part, error)
	// WriteOutput has the node write a result partition it holds as a
	// Parquet file under its allowed roots, and answers the rows written
	// (COPY TO on a cluster).
	WriteOutput(ctx context.Context, addr string, cmd *planpb.WriteOutput) (int64, error)
	// Commit has the node adopt a table manifest and move the upload's
	// staged partitions into place.
	Commit(ctx context.Context, addr string, m catalog.Manifest, upload string) error
	// Abort has the node discard the staging of an upload.
	Abort(ctx context.Context, addr, upload string) error
	// Manifests is every table manifest the node has (catalog sync).
	Manifests(ctx context.Context, addr string) ([]catalog.Manifest, error)
	// Health says whether the node answers.
	Health(ctx context.Context, addr string) error
	// TaskMemory is the memory figures of the tasks of a query the node
	// ran (EXPLAIN ANALYZE and query status on a cluster).
	TaskMemory(ctx context.Context, addr, query string) ([]TaskMemory, error)
}

// LostInput says a task could not read the output of task Task of stage
// Stage on node Node: the node is gone, or has forgotten it (or, with the
// task's own stage and number, the node lacks the partition the task
// reads). The coordinator re-runs the task that made it. Its kind is
// Unavailable; across the network it travels as a planpb.LostInput in the
// error's status details.
type LostInput struct {
	Node        string
	Stage, Task int32
	// Cause is why the output could not be read.
	Cause string
}

var errLostInput = &kernels.Error{Kind: kernels.Unavailable, Msg: "lost input"}

func (e *LostInput) Error() string {
	return fmt.Sprintf("lost input: the output of stage %d task %d on node %s could not be read: %s", e.Stage, e.Task, e.Node, e.Cause)
}

// Unwrap gives the error its kind, Unavailable.
func (e *LostInput) Unwrap() error { return errLostInput }
