package scheduler

import (
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"slipstream/kernels"
	"slipstream/kernels/exec"
	"slipstream/scheduler/planpb"
)

// outputTTL bounds how long the outputs of a query nobody touches (no task
// written, nothing read) are kept: a client that never fetches its result
// does not hold memory for ever.
const outputTTL = 10 * time.Minute

type outputKey struct {
	query                        string
	stage, task, attempt, bucket int32
}

func keyOf(k *planpb.OutputKey) outputKey {
	return outputKey{k.GetQueryId(), k.GetStage(), k.GetTask(), k.GetAttempt(), k.GetBucket()}
}

type output struct {
	schema  *arrow.Schema
	batches []arrow.RecordBatch
}

// Outputs holds the output of the tasks a node ran, per bucket, until the
// stages that read it are done (shuffle data) or the client has read it
// (results).
type Outputs struct {
	mu      sync.Mutex
	m       map[outputKey]*output
	touched map[string]time.Time // by query
	swept   time.Time
}

func newOutputs() *Outputs {
	return &Outputs{m: map[outputKey]*output{}, touched: map[string]time.Time{}}
}

// sweepLocked marks query as touched now and, at most once a second,
// forgets the outputs of queries untouched for outputTTL.
func (o *Outputs) sweepLocked(query string) {
	now := time.Now()
	o.touched[query] = now
	if now.Sub(o.swept) < time.Second {
		return // a sweep walks every output: not on every call
	}
	o.swept = now
	for key, out := range o.m {
		if now.Sub(o.touched[key.query]) > outputTTL {
			exec.ReleaseAll(out.batches)
			delete(o.m, key)
		}
	}
	for q, at := range o.touched {
		if now.Sub(at) > outputTTL {
			delete(o.touched, q)
		}
	}
}

// put keeps batches (owned from now on) under k.
func (o *Outputs) put(k outputKey, schema *arrow.Schema, batches []arrow.RecordBatch) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sweepLocked(k.query)
	if old, ok := o.m[k]; ok {
		exec.ReleaseAll(old.batches)
	}
	o.m[k] = &output{schema: schema, batches: batches}
}

// Open streams the batches kept under k; with release, the node forgets
// them once they are read.
func (o *Outputs) Open(k *planpb.OutputKey, release bool) (exec.Operator, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	key := keyOf(k)
	o.sweepLocked(key.query)
	out, ok := o.m[key]
	if !ok {
		return nil, kernels.Errorf(kernels.NotFound, "no output for query %s stage %d task %d attempt %d bucket %d on this node (released, expired, or the node restarted)",
			k.GetQueryId(), k.GetStage(), k.GetTask(), k.GetAttempt(), k.GetBucket())
	}
	batches := make([]arrow.RecordBatch, len(out.batches))
	for i, b := range out.batches {
		b.Retain()
		batches[i] = b
	}
	if release {
		exec.ReleaseAll(out.batches)
		delete(o.m, key)
	}
	return exec.NewRecords(out.schema, batches), nil
}

// Release forgets a query's outputs, except those of stage keep.
func (o *Outputs) Release(query string, keep int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for key, out := range o.m {
		if key.query == query && key.stage != keep {
			exec.ReleaseAll(out.batches)
			delete(o.m, key)
		}
	}
}

// Bytes is the memory the outputs hold.
func (o *Outputs) Bytes() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	var n int64
	for _, out := range o.m {
		for _, b := range out.batches {
			n += batchBytes(b)
		}
	}
	return n
}

func batchBytes(b arrow.RecordBatch) int64 {
	var n int64
	for _, c := range b.Columns() {
		for _, buf := range c.Data().Buffers() {
			if buf != nil {
				n += int64(buf.Len())
			}
		}
	}
	return n
}
