package flight

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	arrowflight "github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// A client on the same machine as its node (the Python client's local
// nodes) can take a result through shared memory instead of the socket
// (--shm-results). Through the socket every byte is copied by the
// node's kernel, by gRPC in the client and into the client's table, and
// both sides spend a core on it: for a result of a few hundred MB that
// is as long as the query itself. Through shared memory the node copies
// each batch once, into an Arrow IPC stream file in /dev/shm, and the
// client maps the file: its table's buffers are the file's pages.
//
// The DoGet stream stays the channel: the schema goes first, as always;
// then, for each file of at most shmFileBytes, a message with no data
// whose app_metadata is shmFilePrefix and the file's path. The client
// maps the file and unlinks it, which leaves its pages to the mapping
// alone. A file that cannot be written (/dev/shm full) ends where its
// last whole batch ends, and the rest of the result goes through the
// stream as batches, in order. Files of a stream that fails are
// removed; the node's folder goes when the node stops, and a folder a
// killed node left is removed by the next node that starts.

const (
	// ResultsHeader asks for a result through shared memory: its value is
	// "shm". A node without --shm-results, or a caller not on this
	// machine, gets the batches through the stream as before.
	ResultsHeader = "x-slipstream-results"
	// shmFilePrefix starts the app_metadata that names a result file.
	shmFilePrefix = "slipstream.shm:"
	// shmFileBytes is about the most a result file holds: the client maps
	// each as it arrives, while the node writes the next.
	shmFileBytes    = 64 << 20
	shmFolderPrefix = "slipstream-results-"
	// shmTakeWait is how long a stream waits for its client to take the
	// files named to it (it maps each as soon as it reads its name).
	shmTakeWait = 2 * time.Minute
)

// SharedResults is a node's folder of result files in shared memory.
type SharedResults struct {
	dir       string
	fileBytes int64 // about the most one file holds (shmFileBytes; tests make it small)
	// sparePercent of shared memory is left to everything else: no file
	// is started with less than that and one file free.
	sparePercent int64
}

// OpenSharedResults makes the node's folder under root (/dev/shm),
// readable by this user alone, and removes folders that nodes no longer
// running left there.
func OpenSharedResults(root string) (*SharedResults, error) {
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("--shm-results: %s is not a folder (shared memory, such as /dev/shm, is needed)", root)
	}
	removeLeftFolders(root)
	dir, err := os.MkdirTemp(root, fmt.Sprintf("%s%d-", shmFolderPrefix, os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("--shm-results: %w", err)
	}
	return &SharedResults{dir: dir, fileBytes: shmFileBytes, sparePercent: 25}, nil
}

// Dir is the folder the node writes result files in.
func (r *SharedResults) Dir() string { return r.dir }

// Close removes the folder and any file a client did not take.
func (r *SharedResults) Close() error { return os.RemoveAll(r.dir) }

// removeLeftFolders removes the result folders of this user's nodes that
// are no longer running (killed before they could remove their own).
func removeLeftFolders(root string) {
	names, _ := filepath.Glob(filepath.Join(root, shmFolderPrefix+"*"))
	for _, dir := range names {
		pidText, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(dir), shmFolderPrefix), "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 {
			continue
		}
		fi, err := os.Stat(dir)
		if err != nil {
			continue
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Getuid() {
			continue
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			os.RemoveAll(dir)
		}
	}
}

// ShareResults lets this service hand results through r (nil: never).
func (s *Service) ShareResults(r *SharedResults) { s.shm = r }

// resultWriter is how DoGet sends a result's batches.
type resultWriter interface {
	Write(arrow.RecordBatch) error
	// Close ends the result; failed: the stream failed, and nothing it
	// left for the client will be taken.
	Close(failed bool) error
}

// resultWriterFor writes through shared memory when the caller asked
// for it, this node allows it and the caller is on this machine.
func (s *Service) resultWriterFor(stream grpc.ServerStream, schema *arrow.Schema, opts ...ipc.Option) resultWriter {
	if s.shm != nil && asksShm(stream.Context()) {
		return &shmWriter{stream: stream, schema: schema, to: s.shm, opts: opts}
	}
	return newBatchWriter(stream, schema, opts...)
}

func asksShm(ctx context.Context) bool {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(ResultsHeader); len(v) == 0 || v[0] != "shm" {
		return false
	}
	p, ok := peer.FromContext(ctx)
	if !ok {
		return false
	}
	switch a := p.Addr.(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	case *net.UnixAddr:
		return true
	}
	return false
}

// shmWriter writes a result as IPC stream files in the node's folder and
// names each on the stream once it is whole.
type shmWriter struct {
	stream grpc.ServerStream
	schema *arrow.Schema
	to     *SharedResults
	opts   []ipc.Option

	started bool            // the schema was sent
	file    *os.File        // the file being written, if any
	buf     *bufio.Writer   // over file
	count   *countingWriter // over buf: the bytes written to file
	w       *ipc.Writer     // over count
	whole   int64           // file's length after its last whole batch
	named   []string        // files named to the client
	stream2 *batchWriter    // the rest of the result, once shared memory failed
}

func (w *shmWriter) Write(b arrow.RecordBatch) error {
	if err := w.start(); err != nil {
		return err
	}
	if w.stream2 != nil {
		return w.stream2.Write(b)
	}
	if w.file == nil {
		if err := w.open(); err != nil {
			slog.Warn("results go through the stream: no room in shared memory", "dir", w.to.dir, "err", err)
			return w.fallBack(b)
		}
	}
	if err := w.write(b); err != nil {
		slog.Warn("results go through the stream: writing to shared memory failed", "dir", w.to.dir, "err", err)
		if err := w.endFile(true); err != nil {
			return err
		}
		return w.fallBack(b)
	}
	if w.whole >= w.to.fileBytes {
		return w.endFile(false)
	}
	return nil
}

// start sends the schema, which Flight readers expect first.
func (w *shmWriter) start() error {
	if w.started {
		return nil
	}
	w.started = true
	p := ipc.GetSchemaPayload(w.schema, memory.DefaultAllocator)
	defer p.Release()
	return (&payloadSender{stream: w.stream}).WritePayload(p)
}

// open starts a file, when shared memory has room for one more.
func (w *shmWriter) open() error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(w.to.dir, &st); err != nil {
		return err
	}
	free, total := int64(st.Bavail)*st.Bsize, int64(st.Blocks)*st.Bsize
	if free-w.to.fileBytes < total*w.to.sparePercent/100 {
		return fmt.Errorf("%d of %d bytes free", free, total)
	}
	f, err := os.CreateTemp(w.to.dir, "result-*.arrow")
	if err != nil {
		return err
	}
	w.file, w.whole = f, 0
	w.buf = bufio.NewWriterSize(f, 1<<20)
	w.count = &countingWriter{w: w.buf}
	w.w = ipc.NewWriter(w.count, ipc.WithSchema(w.schema), ipc.WithAllocator(memory.NewGoAllocator()))
	return nil
}

func (w *shmWriter) write(b arrow.RecordBatch) error {
	if err := w.w.Write(b); err != nil {
		return err
	}
	if err := w.buf.Flush(); err != nil {
		return err
	}
	w.whole = w.count.n
	return nil
}

// endFile closes the file and names it to the client. broken: a write
// failed, so the file is cut back to its last whole batch (a stream
// reader ends at the end of the file as at its end marker).
func (w *shmWriter) endFile(broken bool) error {
	f := w.file
	w.file = nil
	if !broken && errors.Join(w.w.Close(), w.buf.Flush()) != nil {
		broken = true // no room for the end marker
	}
	var err error
	if broken {
		err = f.Truncate(w.whole)
	}
	if err = errors.Join(err, f.Close()); err != nil || w.whole == 0 {
		os.Remove(f.Name())
		return err
	}
	w.named = append(w.named, f.Name())
	return w.stream.SendMsg(&arrowflight.FlightData{AppMetadata: []byte(shmFilePrefix + f.Name())})
}

// fallBack sends b and the rest of the result through the stream.
func (w *shmWriter) fallBack(b arrow.RecordBatch) error {
	w.stream2 = newBatchWriter(w.stream, w.schema, w.opts...)
	w.stream2.s.skip = 1 // the schema went first
	return w.stream2.Write(b)
}

func (w *shmWriter) Close(failed bool) error {
	if failed {
		w.removeFiles()
		return nil
	}
	if err := w.start(); err != nil {
		return err
	}
	if w.stream2 != nil {
		if err := w.stream2.Close(false); err != nil {
			w.removeFiles()
			return err
		}
	} else if w.file != nil {
		if err := w.endFile(false); err != nil {
			w.removeFiles()
			return err
		}
	}
	return w.awaitTaken()
}

// awaitTaken holds the stream open until the client has taken (unlinked)
// every file named to it: a client that stops reading (cancelled, gone)
// ends the stream, and its files are removed then; so are files still
// there after shmTakeWait.
func (w *shmWriter) awaitTaken() error {
	ctx := w.stream.Context()
	deadline := time.Now().Add(shmTakeWait)
	for pause := 50 * time.Microsecond; ; pause = min(2*pause, 10*time.Millisecond) {
		if w.taken() {
			return nil
		}
		if ctx.Err() != nil {
			w.removeFiles()
			return context.Cause(ctx)
		}
		if time.Now().After(deadline) {
			w.removeFiles()
			return fmt.Errorf("the client did not take its result files in %s; they were removed", shmTakeWait)
		}
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
	}
}

// taken: no file named to the client is left.
func (w *shmWriter) taken() bool {
	for len(w.named) > 0 {
		if _, err := os.Stat(w.named[0]); !errors.Is(err, os.ErrNotExist) {
			return false
		}
		w.named = w.named[1:]
	}
	return true
}

// removeFiles removes the file being written and those named to the
// client that it has not taken.
func (w *shmWriter) removeFiles() {
	if w.file != nil {
		w.file.Close()
		os.Remove(w.file.Name())
		w.file = nil
	}
	for _, name := range w.named {
		os.Remove(name)
	}
	w.named = nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
