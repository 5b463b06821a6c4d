package budget

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"slipstream/kernels"
)

// spillBuffer is each spill file's write or read buffer. An operator that
// spills by hash keeps 16 files open and a merge reads 16 runs at once,
// so the buffers (outside the budget) stay small beside a limit.
const spillBuffer = 256 << 10

// SpillWriter writes batches an operator cannot hold to a file of its
// query's spill folder: an Arrow IPC stream with LZ4-frame bodies (Arrow's
// codec; its zstd costs several times the CPU, see docs/design.md).
type SpillWriter struct {
	r    *Reservation
	path string
	f    *os.File
	buf  *bufio.Writer
	cw   *countingWriter
	w    *ipc.Writer
	rows int64
}

// Spill starts a spill file for batches of schema.
func (r *Reservation) Spill(schema *arrow.Schema) (*SpillWriter, error) {
	q := r.q
	if !q.CanSpill() {
		return nil, q.Exhausted(r.Name)
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil, kernels.Errorf(kernels.Cancelled, "query %s ended while %s was spilling", q.id, r.Name)
	}
	if q.dir == "" {
		q.dir = filepath.Join(q.pool.spillDir, q.id)
		if err := os.MkdirAll(q.dir, 0o700); err != nil {
			q.dir = ""
			q.mu.Unlock()
			return nil, kernels.Errorf(kernels.ResourceExhausted, "cannot make a spill folder under --spill-dir %s: %v", q.pool.spillDir, err)
		}
	}
	q.files++
	path := filepath.Join(q.dir, fmt.Sprintf("%05d.arrows", q.files))
	q.mu.Unlock()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, kernels.Errorf(kernels.ResourceExhausted, "cannot write spill file %s: %v", path, err)
	}
	cw := &countingWriter{f: f, r: r}
	buf := bufio.NewWriterSize(cw, spillBuffer)
	w := ipc.NewWriter(buf, ipc.WithSchema(schema), ipc.WithLZ4(), ipc.WithAllocator(q))
	return &SpillWriter{r: r, path: path, f: f, buf: buf, cw: cw, w: w}, nil
}

// Write appends b to the file; the caller keeps its reference.
func (w *SpillWriter) Write(b arrow.RecordBatch) error {
	w.rows += b.NumRows()
	if err := w.w.Write(b); err != nil {
		return w.fail(err)
	}
	return nil
}

func (w *SpillWriter) fail(err error) error {
	w.f.Close()
	w.discard()
	if kernels.KindOf(err) == kernels.ResourceExhausted {
		return err
	}
	return kernels.Errorf(kernels.ResourceExhausted, "writing spill file %s: %v", w.path, err)
}

func (w *SpillWriter) discard() {
	os.Remove(w.path)
	w.r.q.unspill(w.cw.n)
}

// Abort removes the file unfinished.
func (w *SpillWriter) Abort() {
	w.w.Close()
	w.f.Close()
	w.discard()
}

// Finish closes the file and returns it, ready to read back.
func (w *SpillWriter) Finish() (*SpillFile, error) {
	if err := w.w.Close(); err != nil {
		return nil, w.fail(err)
	}
	if err := w.buf.Flush(); err != nil {
		return nil, w.fail(err)
	}
	if err := w.f.Close(); err != nil {
		w.discard()
		return nil, kernels.Errorf(kernels.ResourceExhausted, "writing spill file %s: %v", w.path, err)
	}
	return &SpillFile{q: w.r.q, path: w.path, size: w.cw.n, Rows: w.rows}, nil
}

// SpillFile is a finished spill file.
type SpillFile struct {
	q    *Query
	path string
	size int64
	Rows int64
}

// Open reads the file back; batches are allocated from the query.
func (s *SpillFile) Open() (*SpillReader, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, kernels.Errorf(kernels.Internal, "reading spill file back: %v", err)
	}
	r, err := ipc.NewReader(bufio.NewReaderSize(f, spillBuffer), ipc.WithAllocator(s.q))
	if err != nil {
		f.Close()
		return nil, kernels.Errorf(kernels.Internal, "reading spill file %s back: %v", s.path, err)
	}
	return &SpillReader{f: f, r: r}, nil
}

// Remove deletes the file (its query's Close removes any left).
func (s *SpillFile) Remove() {
	if s.path == "" {
		return
	}
	os.Remove(s.path)
	s.q.unspill(s.size)
	s.path = ""
}

// SpillReader streams a spill file's batches.
type SpillReader struct {
	f *os.File
	r *ipc.Reader
}

// Next is the next batch, owned by the caller, or nil at the end.
func (r *SpillReader) Next() (arrow.RecordBatch, error) {
	if r.r.Next() {
		b := r.r.RecordBatch()
		b.Retain()
		return b, nil
	}
	if err := r.r.Err(); err != nil {
		return nil, kernels.Errorf(kernels.Internal, "reading spill file back: %v", err)
	}
	return nil, nil
}

// Close closes the file.
func (r *SpillReader) Close() {
	r.r.Release()
	r.f.Close()
}

func (q *Query) unspill(n int64) {
	q.mu.Lock()
	if !q.closed {
		q.onDisk -= n
		q.pool.spilled.Add(-n)
	}
	q.mu.Unlock()
}

// countingWriter counts what reaches the file against the spill limit.
type countingWriter struct {
	f *os.File
	r *Reservation
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	q := c.r.q
	pool := q.pool
	if pool.spilled.Load()+int64(len(p)) > pool.spillLimit {
		return 0, kernels.Errorf(kernels.ResourceExhausted, "%s: the node's spill files reached --spill-limit %s; raise --spill-limit or --memory-limit",
			c.r.Name, FormatBytes(pool.spillLimit))
	}
	n, err := c.f.Write(p)
	c.n += int64(n)
	q.mu.Lock()
	if !q.closed {
		q.onDisk += int64(n)
		q.spilled += int64(n)
		pool.spilled.Add(int64(n))
	}
	q.mu.Unlock()
	c.r.spilled.Add(int64(n))
	if err != nil {
		return n, kernels.Errorf(kernels.ResourceExhausted, "writing a spill file under --spill-dir %s: %v", pool.spillDir, err)
	}
	return n, nil
}
