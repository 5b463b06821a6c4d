package exec

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels"
	"slipstream/kernels/expr"
)

// Repartition reads its inputs concurrently and splits every batch by a
// hash of its key columns into n outputs, so that each output holds every
// row of the keys that hash to it: n aggregates, one per output, then each
// hold a share of the groups and run in parallel, where one aggregate over
// all the inputs would merge every group on one core. Output p gives the
// rows of input 0 that hash to p, then those of input 1, and so on, each
// input's in its order: a group's rows reach its aggregate in the order an
// ordered Union would give them (first and last stay right, and float sums
// come out the same on every run). An input works at most repartitionAhead
// batches ahead of each output; outputs must be read concurrently (each by
// its own goroutine, as Union reads its inputs), or the inputs may wait on
// an output no one reads.
type Repartition struct {
	mem    memory.Allocator
	inputs []Operator
	keys   []int
	outs   []*RepartitionOutput

	once   sync.Once
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	cond   *sync.Cond
	queues [][][]arrow.RecordBatch // [input][output]: batches not read yet
	done   []bool                  // input i has ended
	err    error                   // the first input error
	open   int                     // outputs not closed
	gone   []bool                  // output p is closed: its rows are dropped
	closed bool                    // every output is
}

// repartitionAhead bounds the batches an input may hold for one output.
const repartitionAhead = 4

// repartitionSeed starts the hash of the keys: a function of its own,
// apart from the cluster's shuffle (unseeded, Partitioner) and the spill
// parts (seeded by the round), so that rows a shuffle sent to one node,
// or a spill to one file, still spread over the outputs.
const repartitionSeed = 0x2545F4914F6CDD1D

// NewRepartition splits the rows of inputs (all of one schema) into n
// outputs by a hash of the columns keys.
func NewRepartition(mem memory.Allocator, inputs []Operator, keys []int, n int) (*Repartition, error) {
	schema := inputs[0].Schema()
	for _, k := range keys {
		if t := schema.Field(k).Type; !Hashable(t) {
			return nil, kernels.Errorf(kernels.NotSupported, "cannot hash-partition on a %s column", expr.TypeName(t))
		}
	}
	r := &Repartition{mem: mem, inputs: inputs, keys: keys, open: n, done: make([]bool, len(inputs)), gone: make([]bool, n)}
	r.cond = sync.NewCond(&r.mu)
	r.queues = make([][][]arrow.RecordBatch, len(inputs))
	for i := range r.queues {
		r.queues[i] = make([][]arrow.RecordBatch, n)
	}
	for p := 0; p < n; p++ {
		r.outs = append(r.outs, &RepartitionOutput{r: r, p: p})
	}
	return r, nil
}

// Hashable says whether Repartition (and Partitioner) can hash values of t.
func Hashable(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT32, arrow.FLOAT64, arrow.BOOL, arrow.DATE32, arrow.DATE64, arrow.TIMESTAMP, arrow.DURATION,
		arrow.TIME32, arrow.TIME64, arrow.DECIMAL128, arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW,
		arrow.BINARY, arrow.LARGE_BINARY, arrow.NULL:
		return true
	}
	return false
}

// Outputs are the n streams, output p first reading the rows that hash to p.
func (r *Repartition) Outputs() []Operator {
	out := make([]Operator, len(r.outs))
	for i, o := range r.outs {
		out[i] = o
	}
	return out
}

func (r *Repartition) start(ctx context.Context) {
	r.mu.Lock()
	ctx, r.cancel = context.WithCancel(ctx)
	r.mu.Unlock()
	for i, in := range r.inputs {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			err := r.feed(ctx, i, in)
			r.mu.Lock()
			if err != nil && r.err == nil {
				r.err = err
			}
			r.done[i] = true
			r.cond.Broadcast()
			r.mu.Unlock()
		}()
	}
	// Wake the waiting outputs when the query is cancelled.
	go func() {
		<-ctx.Done()
		r.mu.Lock()
		r.cond.Broadcast()
		r.mu.Unlock()
	}()
}

// feed splits the batches of input i into its queues.
func (r *Repartition) feed(ctx context.Context, i int, in Operator) error {
	keys := make([]arrow.Array, len(r.keys))
	for {
		b, err := in.Next(ctx)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		parts, err := r.split(ctx, b, keys)
		b.Release()
		if err != nil {
			return err
		}
		r.mu.Lock()
		for p, part := range parts {
			if part == nil {
				continue
			}
			for len(r.queues[i][p]) >= repartitionAhead && !r.gone[p] && !r.closed && ctx.Err() == nil {
				r.cond.Wait()
			}
			if r.gone[p] && !r.closed {
				part.Release()
				continue
			}
			if r.closed || ctx.Err() != nil {
				r.mu.Unlock()
				ReleaseAll(parts[p:])
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return nil
			}
			r.queues[i][p] = append(r.queues[i][p], part)
			r.cond.Broadcast()
		}
		r.mu.Unlock()
	}
}

// split cuts b into one batch per output (nil where none of its rows go).
func (r *Repartition) split(ctx context.Context, b arrow.RecordBatch, keys []arrow.Array) ([]arrow.RecordBatch, error) {
	n := len(r.outs)
	out := make([]arrow.RecordBatch, n)
	rows := int(b.NumRows())
	if rows == 0 {
		return out, nil
	}
	hashes := make([]uint64, rows)
	for i := range hashes {
		hashes[i] = repartitionSeed
	}
	for j, k := range r.keys {
		keys[j] = b.Column(k)
		if err := hashColumn(keys[j], hashes); err != nil {
			return nil, err
		}
	}
	counts := make([]int, n)
	part := make([]uint16, rows)
	for i, h := range hashes {
		p := uint16((h >> 32) * uint64(n) >> 32)
		part[i] = p
		counts[p]++
	}
	for p, c := range counts {
		if c == rows { // every row goes to p: no copy
			b.Retain()
			out[p] = b
			return out, nil
		}
	}
	idx := make([][]uint32, n)
	for p, c := range counts {
		idx[p] = make([]uint32, 0, c)
	}
	for i, p := range part {
		idx[p] = append(idx[p], uint32(i))
	}
	for p, sel := range idx {
		if len(sel) == 0 {
			continue
		}
		taken, err := takeBatch(ctx, r.mem, b, sel)
		if err != nil {
			ReleaseAll(out)
			return nil, err
		}
		out[p] = taken
	}
	return out, nil
}

// next is output p's next batch: input cur's queue for p, in input order.
func (r *Repartition) next(ctx context.Context, o *RepartitionOutput) (arrow.RecordBatch, error) {
	r.once.Do(func() { r.start(ctx) })
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		if r.err != nil {
			return nil, r.err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if o.cur >= len(r.inputs) {
			return nil, io.EOF
		}
		if q := r.queues[o.cur][o.p]; len(q) > 0 {
			b := q[0]
			r.queues[o.cur][o.p] = q[1:]
			r.cond.Broadcast()
			return b, nil
		}
		if r.done[o.cur] {
			o.cur++
			continue
		}
		r.cond.Wait()
	}
}

// closeOutput closes output p; the last one stops the inputs and closes them.
func (r *Repartition) closeOutput(p int) error {
	r.mu.Lock()
	r.gone[p] = true
	for i := range r.queues {
		ReleaseAll(r.queues[i][p])
		r.queues[i][p] = nil
	}
	r.open--
	last := r.open == 0
	if last {
		r.closed = true
		r.cond.Broadcast()
	}
	cancel := r.cancel
	r.mu.Unlock()
	if !last {
		return nil
	}
	if cancel != nil {
		cancel()
		r.wg.Wait()
	}
	for _, qs := range r.queues {
		for _, q := range qs {
			ReleaseAll(q)
		}
	}
	r.queues = nil
	var first error
	for _, in := range r.inputs {
		if err := in.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// RepartitionOutput is one output of a Repartition.
type RepartitionOutput struct {
	r      *Repartition
	p      int
	cur    int // the input being read
	closed bool
}

func (o *RepartitionOutput) Schema() *arrow.Schema { return o.r.inputs[0].Schema() }

// Children lists the inputs under the first output only: EXPLAIN shows
// them once.
func (o *RepartitionOutput) Children() []Operator {
	if o.p == 0 {
		return o.r.inputs
	}
	return nil
}

func (o *RepartitionOutput) String() string {
	names := make([]string, len(o.r.keys))
	for i, k := range o.r.keys {
		names[i] = o.Schema().Field(k).Name
	}
	return fmt.Sprintf("Repartition part=%d/%d keys=[%s]", o.p+1, len(o.r.outs), strings.Join(names, ", "))
}

func (o *RepartitionOutput) Next(ctx context.Context) (arrow.RecordBatch, error) {
	return o.r.next(ctx, o)
}

func (o *RepartitionOutput) Close() error {
	if o.closed {
		return nil
	}
	o.closed = true
	return o.r.closeOutput(o.p)
}
