package flight

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	arrowflight "github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"slipstream/internal/parquettest"
	pb "slipstream/scheduler/planpb"
)

// sharedNode is a node that hands results through shared memory in a
// folder under root, in files of about fileBytes.
func sharedNode(t *testing.T, root string, fileBytes, sparePercent int64) (*testNode, *SharedResults) {
	n := startNode(t)
	shm, err := OpenSharedResults(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shm.Close() })
	shm.fileBytes, shm.sparePercent = fileBytes, sparePercent
	shm.streamFirst = 0 // files from the first batch on
	n.svc.ShareResults(shm)
	return n, shm
}

// putBatches stores batches of rows 0, 1, 2, ... as table.
func (n *testNode) putBatches(t *testing.T, table string, batches, rows int) {
	t.Helper()
	stream, err := n.client.DoPut(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	w := arrowflight.NewRecordWriter(stream, ipc.WithSchema(schema))
	w.SetFlightDescriptor(&arrowflight.FlightDescriptor{Type: arrowflight.DescriptorCMD, Cmd: wrap(t, &pb.Upload{Table: table, Mode: pb.Upload_CREATE})})
	for i := range batches {
		b := array.NewInt64Builder(memory.DefaultAllocator)
		for j := range rows {
			b.Append(int64(i*rows + j))
		}
		arr := b.NewArray()
		rec := array.NewRecordBatch(schema, []arrow.Array{arr}, int64(rows))
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
		arr.Release()
		b.Release()
	}
	w.Close()
	stream.CloseSend()
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
}

// sharedResult reads a query's result as a client on this machine does:
// the values of its column, in order, whether they came as batches or in
// the files the stream named (listed in files).
func (n *testNode) sharedResult(t *testing.T, q *pb.Query, ask bool) (values []int64, files []string, err error) {
	t.Helper()
	info, err := n.client.GetFlightInfo(context.Background(), &arrowflight.FlightDescriptor{Type: arrowflight.DescriptorCMD, Cmd: wrap(t, q)})
	if err != nil {
		return nil, nil, err
	}
	ctx := context.Background()
	if ask {
		ctx = metadata.AppendToOutgoingContext(ctx, ResultsHeader, "shm")
	}
	add := func(b arrow.RecordBatch) { values = append(values, b.Column(0).(*array.Int64).Int64Values()...) }
	for _, ep := range info.GetEndpoint() {
		stream, err := n.client.DoGet(ctx, ep.GetTicket())
		if err != nil {
			return nil, nil, err
		}
		named := &namingStream{DataStreamReader: stream, file: func(path string) error {
			files = append(files, path)
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			fi, err := f.Stat()
			if err != nil {
				return err
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("result file %s has mode %v, want 0600 (this user only)", path, fi.Mode().Perm())
			}
			if err := os.Remove(path); err != nil { // taken, as the client does
				return err
			}
			r, err := ipc.NewReader(f)
			if err != nil {
				return err
			}
			defer r.Release()
			for r.Next() {
				add(r.RecordBatch())
			}
			return r.Err()
		}}
		r, err := arrowflight.NewRecordReader(named)
		if err != nil {
			return nil, nil, err
		}
		for r.Next() {
			add(r.RecordBatch())
		}
		err = r.Err()
		r.Release()
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, nil, err
		}
	}
	return values, files, nil
}

// namingStream hands the stream's messages that name a result file to
// file, in their place in the stream, and the others on.
type namingStream struct {
	arrowflight.DataStreamReader
	file func(path string) error
}

func (s *namingStream) Recv() (*arrowflight.FlightData, error) {
	for {
		fd, err := s.DataStreamReader.Recv()
		if err != nil || len(fd.GetDataHeader()) > 0 || !bytes.HasPrefix(fd.GetAppMetadata(), []byte(shmFilePrefix)) {
			return fd, err
		}
		if err := s.file(string(bytes.TrimPrefix(fd.GetAppMetadata(), []byte(shmFilePrefix)))); err != nil {
			return nil, err
		}
	}
}

func wantSequence(t *testing.T, got []int64, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("got %d rows, want %d", len(got), n)
	}
	for i, v := range got {
		if v != int64(i) {
			t.Fatalf("row %d is %d: the result is out of order", i, v)
		}
	}
}

func TestResultsThroughSharedMemory(t *testing.T) {
	n, shm := sharedNode(t, t.TempDir(), 256<<10, 0)
	const batches, rows = 10, 40_000 // 320 KB each
	n.putBatches(t, "t", batches, rows)

	got, files, err := n.sharedResult(t, scan("t"), true)
	if err != nil {
		t.Fatal(err)
	}
	wantSequence(t, got, batches*rows)
	if len(files) < 2 {
		t.Fatalf("the result came in %d files, want several of about 256 KiB", len(files))
	}
	for _, f := range files {
		if filepath.Dir(f) != shm.Dir() {
			t.Errorf("result file %s is not in the node's folder %s", f, shm.Dir())
		}
	}
	folderEmpty(t, shm)

	// A caller that does not ask gets batches through the stream.
	got, files, err = n.sharedResult(t, scan("t"), false)
	if err != nil {
		t.Fatal(err)
	}
	wantSequence(t, got, batches*rows)
	if len(files) != 0 {
		t.Errorf("a caller that did not ask was handed files %v", files)
	}
}

func TestResultsThroughSharedMemoryGoOnThroughTheStreamWhenItIsFull(t *testing.T) {
	// A 4 MiB tmpfs, and no check for room first (sparePercent < 0): the
	// third batch of 1.5 MiB (ints and dictionary indices) does not fit.
	root := t.TempDir()
	if err := syscall.Mount("tmpfs", root, "tmpfs", 0, "size=4m"); err != nil {
		t.Skipf("cannot mount a small tmpfs here (%v)", err)
	}
	t.Cleanup(func() { syscall.Unmount(root, 0) })
	n, shm := sharedNode(t, root, 3584<<10, -100)
	const batches, rows = 5, 131_072
	q := dictionaryFile(t, n, batches*rows, rows)

	got, files, err := n.sharedResult(t, q, true)
	if err != nil {
		t.Fatal(err)
	}
	wantSequence(t, got, batches*rows)
	if len(files) != 1 {
		t.Fatalf("the result came in %d files, want 1 (cut back to its 2 whole batches)", len(files))
	}
	folderEmpty(t, shm)
}

// folderEmpty: every result file is gone (taken, or removed by the node).
func folderEmpty(t *testing.T, shm *SharedResults) {
	t.Helper()
	left, err := os.ReadDir(shm.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("result files left in the node's folder: %v", left)
	}
}

func TestResultFilesOfACancelledStreamAreRemoved(t *testing.T) {
	n, shm := sharedNode(t, t.TempDir(), 256<<10, 0)
	n.putBatches(t, "t", 10, 40_000)
	info, err := n.client.GetFlightInfo(context.Background(), &arrowflight.FlightDescriptor{Type: arrowflight.DescriptorCMD, Cmd: wrap(t, scan("t"))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(context.Background(), ResultsHeader, "shm"))
	stream, err := n.client.DoGet(ctx, info.GetEndpoint()[0].GetTicket())
	if err != nil {
		t.Fatal(err)
	}
	for { // the schema, then the first file's name: not taken
		fd, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if bytes.HasPrefix(fd.GetAppMetadata(), []byte(shmFilePrefix)) {
			break
		}
	}
	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for {
		left, err := os.ReadDir(shm.Dir())
		if err != nil {
			t.Fatal(err)
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("10 s after the client cancelled, result files are left: %v", left)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFoldersOfNodesNoLongerRunningAreRemoved(t *testing.T) {
	root := t.TempDir()
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(root, fmt.Sprintf("%s%d-1", shmFolderPrefix, gone.Process.Pid))
	running := filepath.Join(root, fmt.Sprintf("%s%d-2", shmFolderPrefix, os.Getppid()))
	other := filepath.Join(root, "not-ours")
	for _, d := range []string{left, running, other} {
		if err := os.MkdirAll(filepath.Join(d, "sub"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	shm, err := OpenSharedResults(root)
	if err != nil {
		t.Fatal(err)
	}
	defer shm.Close()
	if _, err := os.Stat(left); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the folder of a node no longer running is still there (%v)", err)
	}
	for _, d := range []string{running, other, shm.Dir()} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s: %v, want it kept", d, err)
		}
	}
	if err := shm.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(shm.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the node's folder is still there after Close (%v)", err)
	}
}

func TestSharedMemoryShortSendsTheResultThroughTheStream(t *testing.T) {
	n, shm := sharedNode(t, t.TempDir(), 256<<10, 100) // all of it kept free
	n.putBatches(t, "t", 10, 40_000)
	got, files, err := n.sharedResult(t, scan("t"), true)
	if err != nil {
		t.Fatal(err)
	}
	wantSequence(t, got, 400_000)
	if len(files) != 0 {
		t.Errorf("with no room in shared memory, the node named files %v", files)
	}
	folderEmpty(t, shm)
}

// dictionaryFile writes x = 0, 1, ... and a dictionary-encoded string
// column as Parquet in the node's directory, in row groups of group rows.
func dictionaryFile(t *testing.T, n *testNode, rows, group int) *pb.Query {
	mem := memory.DefaultAllocator
	xs := array.NewInt64Builder(mem)
	defer xs.Release()
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	names := array.NewDictionaryBuilder(mem, dt).(*array.BinaryDictionaryBuilder)
	defer names.Release()
	for i := range rows {
		xs.Append(int64(i))
		names.AppendString(fmt.Sprintf("name %d", i%1000))
	}
	x, d := xs.NewArray(), names.NewArray()
	defer x.Release()
	defer d.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}, {Name: "name", Type: dt}}, nil)
	rec := array.NewRecordBatch(schema, []arrow.Array{x, d}, int64(rows))
	defer rec.Release()
	path := filepath.Join(n.dir, "dict.parquet")
	parquettest.Write(t, mem, path, rec, int64(group))
	return &pb.Query{Root: &pb.Node{Kind: &pb.Node_FileScan{FileScan: &pb.FileScan{Paths: []string{path}, Format: pb.FileFormat_PARQUET}}}}
}

func TestDictionaryResultsThroughSharedMemory(t *testing.T) {
	// The node's checked allocator, asserted empty at the end, catches a
	// dictionary the file writer keeps.
	for _, spare := range []int64{0, 100} {
		n, shm := sharedNode(t, t.TempDir(), 256<<10, spare)
		q := dictionaryFile(t, n, 300_000, 40_000)
		got, _, err := n.sharedResult(t, q, true)
		if err != nil {
			t.Fatal(err)
		}
		wantSequence(t, got, 300_000)
		folderEmpty(t, shm)
	}
}

func TestAsksShmOnlyFromLoopback(t *testing.T) {
	ask := metadata.NewIncomingContext(context.Background(), metadata.Pairs(ResultsHeader, "shm"))
	for _, c := range []struct {
		ctx  context.Context
		addr net.Addr
		want bool
	}{
		{ask, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5}, true},
		{ask, &net.TCPAddr{IP: net.IPv6loopback, Port: 5}, true},
		{ask, &net.UnixAddr{Name: "/run/x.sock", Net: "unix"}, true},
		{ask, &net.TCPAddr{IP: net.IPv4(10, 0, 0, 7), Port: 5}, false},
		{metadata.NewIncomingContext(context.Background(), metadata.Pairs(ResultsHeader, "no")), &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5}, false},
		{context.Background(), &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5}, false},
	} {
		ctx := peer.NewContext(c.ctx, &peer.Peer{Addr: c.addr})
		if got := asksShm(ctx); got != c.want {
			t.Errorf("asksShm from %v: %v, want %v", c.addr, got, c.want)
		}
	}
}

func TestTheFirstMegabyteOfAResultGoesThroughTheStream(t *testing.T) {
	n, shm := sharedNode(t, t.TempDir(), 256<<10, 0)
	shm.streamFirst = 1 << 20
	n.putBatches(t, "small", 1, 100_000) // 800 KB: no file
	got, files, err := n.sharedResult(t, scan("small"), true)
	if err != nil {
		t.Fatal(err)
	}
	wantSequence(t, got, 100_000)
	if len(files) != 0 {
		t.Errorf("a result of 800 KB came in files %v, want all of it through the stream", files)
	}
	n.putBatches(t, "big", 10, 40_000) // 3.2 MB: the first 1.28 MB through the stream
	got, files, err = n.sharedResult(t, scan("big"), true)
	if err != nil {
		t.Fatal(err)
	}
	wantSequence(t, got, 400_000)
	if len(files) == 0 {
		t.Error("a result of 3.2 MB came all through the stream, want the rest of its first MiB in files")
	}
	folderEmpty(t, shm)
}
