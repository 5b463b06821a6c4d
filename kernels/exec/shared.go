package exec

import (
	"context"
	"io"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
)

// Shared runs one input once for several readers: a subplan a query uses
// twice (the same join feeding an aggregate and a join, as a correlated
// subquery rewritten by hand does) is computed once and held in memory
// until its last reader closes.
type Shared struct {
	input Operator

	mu      sync.Mutex
	readers int  // open readers
	done    bool // every reader closed: input closed, batches released

	once    sync.Once
	batches []arrow.RecordBatch
	err     error
}

// NewShared wraps input; Reader makes its readers.
func NewShared(input Operator) *Shared { return &Shared{input: input} }

// Reader returns a new reader of s, or false once every earlier reader has
// closed (s is spent; wrap a new input instead).
func (s *Shared) Reader() (Operator, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return nil, false
	}
	s.readers++
	return &sharedReader{s: s, first: s.readers == 1}, true
}

func (s *Shared) collect(ctx context.Context) {
	s.once.Do(func() { s.batches, s.err = Collect(ctx, s.input) })
}

func (s *Shared) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readers--
	if s.readers > 0 || s.done {
		return
	}
	s.done = true
	ReleaseAll(s.batches)
	s.batches = nil
	s.input.Close()
}

type sharedReader struct {
	s      *Shared
	first  bool // EXPLAIN shows the input under the first reader only
	next   int
	closed bool
}

func (r *sharedReader) Schema() *arrow.Schema { return r.s.input.Schema() }
func (r *sharedReader) String() string {
	if r.first {
		return "Shared (computed once, read by every Shared below)"
	}
	return "Shared (the one above)"
}

func (r *sharedReader) Children() []Operator {
	if r.first {
		return []Operator{r.s.input}
	}
	return nil
}

func (r *sharedReader) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.s.collect(ctx)
	if r.s.err != nil {
		return nil, r.s.err
	}
	if r.next >= len(r.s.batches) {
		return nil, io.EOF
	}
	b := r.s.batches[r.next]
	r.next++
	b.Retain()
	return b, nil
}

func (r *sharedReader) Close() error {
	if !r.closed {
		r.closed = true
		r.s.release()
	}
	return nil
}
