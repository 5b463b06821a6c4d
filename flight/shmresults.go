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

	"slipstream/kernels/exec"
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
// The DoGet stream stays the channel: the schema goes first, as always,
// and the first shmStreamFirst bytes of batches; then, for each file of
// about shmFileBytes, a message with no data
// whose app_metadata is shmFilePrefix and the file's path. The client
// maps the file and unlinks it, which leaves its pages to the mapping
// alone; the node writes at most shmFilesAhead files ahead of it. When
// shared memory is short (checked before each batch) or a write fails,
// the file ends where its last whole batch ends, and the rest of the
// result goes through the stream as batches, in order. Files of a
// stream that fails are removed; the node's folder goes when the node
// stops, and a folder a killed node left is removed by the next node
// that starts.

const (
	// ResultsHeader asks for a result through shared memory: its value is
	// "shm". A node without --shm-results, or a caller not on this
	// machine, gets the batches through the stream as before.
	ResultsHeader = "x-slipstream-results"
	// shmFilePrefix starts the app_metadata that names a result file.
	shmFilePrefix = "slipstream.shm:"
	// shmFileBytes is about the most a result file holds: the client maps
	// each as it arrives, while the node writes the next.
	shmFileBytes = 64 << 20
	// shmStreamFirst bytes of a result go through the stream all the same:
	// a file costs a small result more (about 1.5 ms) than it saves.
	shmStreamFirst  = 1 << 20
	shmFolderPrefix = "slipstream-results-"
	// shmTakeWait is how long a stream waits for its client to take the
	// files named to it (it maps each as soon as it reads its name).
	shmTakeWait = 2 * time.Minute
)

// SharedResults is a node's folder of result files in shared memory.
type SharedResults struct {
	dir         string
	fileBytes   int64 // about the most one file holds (shmFileBytes; tests make it small)
	streamFirst int64 // bytes of a result sent through the stream first (shmStreamFirst)
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
	return &SharedResults{dir: dir, fileBytes: shmFileBytes, streamFirst: shmStreamFirst, sparePercent: 25}, nil
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
// for it, this node allows it and the caller is on this machine; ctx is
// the query's (its end, a cancel, ends a wait for the client).
func (s *Service) resultWriterFor(ctx context.Context, stream grpc.ServerStream, schema *arrow.Schema, opts ...ipc.Option) resultWriter {
	if s.shm != nil && asksShm(stream.Context()) {
		socket := newBatchWriter(stream, schema, opts...)
		socket.s.skip = 1 // the shmWriter sends the schema
		return &shmWriter{ctx: ctx, stream: stream, schema: schema, to: s.shm, socket: socket}
	}
	return newBatchWriter(stream, schema, opts...)
}

// asksShm: the call asks for its result through shared memory, from
// loopback. The nodes sl.connect() starts take calls only with the token
// of the client that started them, which is on this machine.
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

// shmFilesAhead is how many files a stream names before the client has
// taken them: the node writes no further ahead of its client.
const shmFilesAhead = 2

// shmWriter writes a result as IPC stream files in the node's folder and
// names each on the stream once it is whole.
type shmWriter struct {
	ctx    context.Context
	stream grpc.ServerStream
	schema *arrow.Schema
	to     *SharedResults
	socket *batchWriter // batches sent through the stream (the first, and any files cannot take)

	started  bool            // the schema was sent
	streamed int64           // bytes sent through the stream
	short    bool            // shared memory was short: the rest goes through the stream
	file     *os.File        // the file being written, if any
	buf      *bufio.Writer   // over file
	count    *countingWriter // over buf: the bytes written to file
	w        *ipc.Writer     // over count
	whole    int64           // file's length after its last whole batch
	named    []string        // files named to the client and not yet taken
}

func (w *shmWriter) Write(b arrow.RecordBatch) error {
	if err := w.start(); err != nil {
		return err
	}
	n := exec.BatchBytes(b)
	if w.short || w.streamed < w.to.streamFirst {
		w.streamed += n
		return w.socket.Write(b)
	}
	if err := w.room(n); err != nil {
		slog.Warn("results go through the stream: shared memory is short", "dir", w.to.dir, "err", err)
		if w.file != nil {
			if err := w.endFile(false); err != nil {
				return err
			}
		}
		return w.fallBack(b)
	}
	if w.file == nil {
		if err := w.waitTaken(shmFilesAhead - 1); err != nil {
			return err
		}
		if err := w.open(); err != nil {
			slog.Warn("results go through the stream: no file in shared memory", "dir", w.to.dir, "err", err)
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

// room says whether shared memory has room for n more bytes, beside the
// share of it left to everything else.
func (w *shmWriter) room(n int64) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(w.to.dir, &st); err != nil {
		return err
	}
	free, total := int64(st.Bavail)*st.Bsize, int64(st.Blocks)*st.Bsize
	if free-n < total*w.to.sparePercent/100 {
		return fmt.Errorf("%d of %d bytes free, %d needed beside %d%% kept free", free, total, n, w.to.sparePercent)
	}
	return nil
}

// open starts a file.
func (w *shmWriter) open() error {
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
	// Closing the IPC writer also lets go of the dictionaries it keeps.
	if err := errors.Join(w.w.Close(), w.buf.Flush()); err != nil {
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
	w.short = true
	return w.socket.Write(b)
}

func (w *shmWriter) Close(failed bool) error {
	if failed {
		w.socket.Close(true)
		w.removeFiles()
		return nil
	}
	err := w.start()
	if err == nil && w.file != nil {
		err = w.endFile(false)
	}
	if err == nil {
		// Sends nothing (the schema went first, arrow-go's IPC writer
		// starts with the schema's payload alone, and a Flight stream has
		// no end marker), but lets go of the dictionaries it keeps.
		err = w.socket.Close(false)
	}
	if err == nil {
		err = w.waitTaken(0)
	}
	if err != nil {
		w.removeFiles()
	}
	return err
}

// waitTaken waits until the client has taken (unlinked) all but keep of
// the files named to it. The client maps each as soon as it reads its
// name; one that stops reading (cancelled, gone) ends the stream or the
// query, and the wait with it, as does shmTakeWait.
func (w *shmWriter) waitTaken(keep int) error {
	deadline := time.Now().Add(shmTakeWait)
	for pause := 20 * time.Microsecond; ; pause = min(2*pause, time.Millisecond) {
		for len(w.named) > keep {
			if _, err := os.Stat(w.named[0]); !errors.Is(err, os.ErrNotExist) {
				break
			}
			w.named = w.named[1:]
		}
		if len(w.named) <= keep {
			return nil
		}
		for _, ctx := range []context.Context{w.stream.Context(), w.ctx} {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the client did not take its result files in %s", shmTakeWait)
		}
		select {
		case <-w.stream.Context().Done():
		case <-w.ctx.Done():
		case <-time.After(pause):
		}
	}
}

// removeFiles removes the file being written and those named to the
// client that it has not taken.
func (w *shmWriter) removeFiles() {
	if w.file != nil {
		w.w.Close()
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
