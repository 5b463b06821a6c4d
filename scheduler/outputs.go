package scheduler

import (
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels"
	"slipstream/kernels/budget"
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
	file    *budget.SpillFile // the output, on disk instead, when memory was short
}

func (o *output) release() {
	exec.ReleaseAll(o.batches)
	if o.file != nil {
		o.file.Remove()
	}
}

// Outputs holds the output of the tasks a node ran, per bucket, until the
// stages that read it are done (shuffle data) or the client has read it
// (results). Outputs outlive their task's account: they are counted in
// the node's own account, and written to its spill folder while the
// node's memory is short.
type Outputs struct {
	acct    *budget.Query
	res     *budget.Reservation // spill files of outputs
	mu      sync.Mutex
	m       map[outputKey]*output
	touched map[string]time.Time // by query
	swept   time.Time
}

func newOutputs(acct *budget.Query) *Outputs {
	return &Outputs{acct: acct, res: acct.Reserve("TaskOutput"), m: map[outputKey]*output{}, touched: map[string]time.Time{}}
}

// Allocator is what task outputs are allocated from.
func (o *Outputs) Allocator() memory.Allocator { return o.acct }

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
			out.release()
			delete(o.m, key)
		}
	}
	for q, at := range o.touched {
		if now.Sub(at) > outputTTL {
			delete(o.touched, q)
		}
	}
}

// put keeps out (owned from now on) under k.
func (o *Outputs) put(k outputKey, out *output) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sweepLocked(k.query)
	if old, ok := o.m[k]; ok {
		old.release()
	}
	o.m[k] = out
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
	if out.file != nil {
		// Read from disk; the reader that releases it removes the file.
		if release {
			delete(o.m, key)
		}
		return exec.NewSpillScan(out.schema, []*budget.SpillFile{out.file}, !release), nil
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
			out.release()
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
			n += exec.BatchBytes(b)
		}
	}
	return n
}

// taskOutput gathers the buckets of a task's output. While the node's
// memory is short (its pool over the limit), it writes what it holds to
// one spill file per bucket and goes on there, so a bucket is wholly in
// memory or wholly on disk.
type taskOutput struct {
	o       *Outputs
	schema  *arrow.Schema
	buckets [][]arrow.RecordBatch
	files   []*budget.SpillWriter
	held    int64
}

func (o *Outputs) newTaskOutput(schema *arrow.Schema, buckets int) *taskOutput {
	return &taskOutput{o: o, schema: schema, buckets: make([][]arrow.RecordBatch, buckets), files: make([]*budget.SpillWriter, buckets)}
}

// add keeps b (owned from now on) in bucket i.
func (t *taskOutput) add(i int, b arrow.RecordBatch) error {
	if w := t.files[i]; w != nil {
		defer b.Release()
		return w.Write(b)
	}
	t.buckets[i] = append(t.buckets[i], b)
	t.held += exec.BatchBytes(b)
	acct := t.o.acct
	if acct.Within(0) || !acct.CanSpill() || t.held < min(4<<20, acct.Limit()/64) {
		return nil
	}
	for i, bs := range t.buckets {
		if err := t.spill(i, bs); err != nil {
			return err
		}
	}
	t.held = 0
	return nil
}

// spill writes bucket i's batches bs (released) to its file.
func (t *taskOutput) spill(i int, bs []arrow.RecordBatch) error {
	t.buckets[i] = nil
	defer exec.ReleaseAll(bs)
	if len(bs) == 0 {
		return nil
	}
	if t.files[i] == nil {
		w, err := t.o.res.Spill(t.schema)
		if err != nil {
			return err
		}
		t.files[i] = w
	}
	for _, b := range bs {
		if err := t.files[i].Write(b); err != nil {
			t.files[i] = nil // the writer removed its file
			return err
		}
	}
	return nil
}

// keep hands every bucket to the node's outputs, under key(i).
func (t *taskOutput) keep(key func(i int) outputKey) error {
	outs := make([]*output, len(t.buckets))
	for i, bs := range t.buckets {
		if t.files[i] == nil {
			outs[i] = &output{schema: t.schema, batches: bs}
			t.buckets[i] = nil
			continue
		}
		if err := t.spill(i, bs); err != nil {
			t.abort()
			return err
		}
		f, err := t.files[i].Finish()
		t.files[i] = nil
		if err != nil {
			t.abort()
			return err
		}
		outs[i] = &output{schema: t.schema, file: f}
	}
	for i, out := range outs {
		t.o.put(key(i), out)
	}
	return nil
}

// abort drops what the task output holds.
func (t *taskOutput) abort() {
	for i, bs := range t.buckets {
		exec.ReleaseAll(bs)
		t.buckets[i] = nil
	}
	for i, w := range t.files {
		if w != nil {
			w.Abort()
			t.files[i] = nil
		}
	}
}
