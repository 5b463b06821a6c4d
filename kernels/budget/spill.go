package budget

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"slipstream/kernels"
)

// spillBuffer is each spill file's compression block and read buffer. An
// operator that spills by hash keeps 16 files open and a merge reads 16
// runs at once, so the buffers (outside the budget) stay small beside a
// limit.
const spillBuffer = 256 << 10

// Spill codecs (--spill-compression): a spill file is an Arrow IPC stream
// compressed as a whole by one of klauspost/compress's streaming codecs.
// Files are read back once, soon, from the same disk, so speed matters more
// than size (docs/design.md has the figures).
const (
	SpillS2   = "s2"   // LZ4-class speed; the default
	SpillZstd = "zstd" // a third smaller files for about 2.5× the CPU: slow or small disks
	SpillNone = "none" // no CPU, twice the bytes: fast disks, or a page cache with room
)

// SpillCodecs are the codecs --spill-compression accepts.
var SpillCodecs = []string{SpillS2, SpillZstd, SpillNone}

// compressor is the codec's stream writer over w.
func compressor(codec string, w io.Writer) io.WriteCloser {
	switch codec {
	case SpillNone:
		return flushCloser{bufio.NewWriterSize(w, spillBuffer)}
	case SpillZstd:
		enc, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(spillBuffer), zstd.WithLowerEncoderMem(true))
		if err != nil {
			panic("spill codec zstd: " + err.Error()) // constant options: a programming error
		}
		return enc
	}
	return s2.NewWriter(w, s2.WriterConcurrency(1), s2.WriterBlockSize(spillBuffer))
}

// decompressor is the codec's stream reader over r, and what frees it.
func decompressor(codec string, r io.Reader) (io.Reader, func(), error) {
	switch codec {
	case SpillNone:
		return r, func() {}, nil
	case SpillZstd:
		dec, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(spillBuffer))
		if err != nil {
			return nil, nil, err
		}
		return dec, dec.Close, nil
	}
	return s2.NewReader(r, s2.ReaderMaxBlockSize(spillBuffer)), func() {}, nil
}

// flushCloser writes plain spill files a buffer at a time.
type flushCloser struct{ *bufio.Writer }

func (f flushCloser) Close() error { return f.Flush() }

// SpillWriter writes batches an operator cannot hold to a file of its
// query's spill folder.
type SpillWriter struct {
	r    *Reservation
	path string
	f    *os.File
	cw   *countingWriter
	z    io.WriteCloser
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
	z := compressor(q.pool.spillCodec, cw)
	w := ipc.NewWriter(z, ipc.WithSchema(schema), ipc.WithAllocator(q))
	return &SpillWriter{r: r, path: path, f: f, cw: cw, z: z, w: w}, nil
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
	w.z.Close()
	w.f.Close()
	w.discard()
}

// Finish closes the file and returns it, ready to read back.
func (w *SpillWriter) Finish() (*SpillFile, error) {
	if err := w.w.Close(); err != nil {
		return nil, w.fail(err)
	}
	if err := w.z.Close(); err != nil {
		return nil, w.fail(err)
	}
	if err := w.f.Close(); err != nil {
		w.discard()
		return nil, kernels.Errorf(kernels.ResourceExhausted, "writing spill file %s: %v", w.path, err)
	}
	return &SpillFile{q: w.r.q, path: w.path, codec: w.r.q.pool.spillCodec, size: w.cw.n, Rows: w.rows}, nil
}

// SpillFile is a finished spill file.
type SpillFile struct {
	q     *Query
	path  string
	codec string
	size  int64
	Rows  int64
}

// Open reads the file back; batches are allocated from the query.
func (s *SpillFile) Open() (*SpillReader, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, kernels.Errorf(kernels.Internal, "reading spill file back: %v", err)
	}
	z, free, err := decompressor(s.codec, bufio.NewReaderSize(f, spillBuffer))
	if err != nil {
		f.Close()
		return nil, kernels.Errorf(kernels.Internal, "reading spill file %s back: %v", s.path, err)
	}
	r, err := ipc.NewReader(z, ipc.WithAllocator(s.q))
	if err != nil {
		free()
		f.Close()
		return nil, kernels.Errorf(kernels.Internal, "reading spill file %s back: %v", s.path, err)
	}
	return &SpillReader{f: f, free: free, r: r}, nil
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

// OpenAhead reads the file back as Open does, decoding the next batch on
// its own goroutine while the caller works on the last: for a merge of
// runs, which would otherwise wait on each decompression in turn.
func (s *SpillFile) OpenAhead() (*SpillReader, error) {
	r, err := s.Open()
	if err != nil {
		return nil, err
	}
	r.ahead = make(chan readAhead, 1)
	r.stop = make(chan struct{})
	go func() {
		defer close(r.ahead)
		for {
			select {
			case <-r.stop:
				return
			default:
			}
			b, err := r.read()
			select {
			case r.ahead <- readAhead{b, err}:
				if b == nil || err != nil {
					return
				}
			case <-r.stop:
				if b != nil {
					b.Release()
				}
				return
			}
		}
	}()
	return r, nil
}

// SpillReader streams a spill file's batches.
type SpillReader struct {
	f    *os.File
	free func() // the decompressor's
	r    *ipc.Reader
	// With OpenAhead: the batches read ahead, and what stops the reading.
	ahead chan readAhead
	stop  chan struct{}
}

type readAhead struct {
	b   arrow.RecordBatch
	err error
}

// Next is the next batch, owned by the caller, or nil at the end.
func (r *SpillReader) Next() (arrow.RecordBatch, error) {
	if r.ahead != nil {
		next, ok := <-r.ahead
		if !ok {
			return nil, nil
		}
		return next.b, next.err
	}
	return r.read()
}

func (r *SpillReader) read() (arrow.RecordBatch, error) {
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
	if r.ahead != nil {
		close(r.stop)
		for next := range r.ahead { // until the reading goroutine is done
			if next.b != nil {
				next.b.Release()
			}
		}
	}
	r.r.Release()
	r.free()
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
