package flight

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	arrowflight "github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"slipstream/kernels/exec"
	pb "slipstream/scheduler/planpb"
)

// captured records the FlightData messages a writer sends, so that a test
// can alter their bytes before sending them to a node.
type captured struct{ msgs []*arrowflight.FlightData }

func (c *captured) Send(d *arrowflight.FlightData) error {
	c.msgs = append(c.msgs, proto.Clone(d).(*arrowflight.FlightData)) // the writer reuses d
	return nil
}

// encode writes rec as the messages of an upload of table.
func encode(t testing.TB, table string, rec arrow.RecordBatch, opts ...ipc.Option) []*arrowflight.FlightData {
	var c captured
	w := arrowflight.NewRecordWriter(&c, append([]ipc.Option{ipc.WithSchema(rec.Schema())}, opts...)...)
	w.SetFlightDescriptor(&arrowflight.FlightDescriptor{Type: arrowflight.DescriptorCMD, Cmd: wrap(t, &pb.Upload{Table: table, Mode: pb.Upload_CREATE})})
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return c.msgs
}

// putRaw sends upload messages as they are and returns the node's answer.
func (n *testNode) putRaw(t testing.TB, msgs []*arrowflight.FlightData) error {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	stream, err := n.client.DoPut(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if ctx.Err() != nil {
			t.Fatalf("the node did not answer an upload of %d messages within 20s", len(msgs))
		}
	}()
	for _, m := range msgs {
		if err := stream.Send(m); err != nil {
			break // the node answered early; Recv gives its error
		}
	}
	stream.CloseSend()
	_, err = stream.Recv()
	return err
}

// patch replaces the first occurrence of the little-endian from in the
// batch message's body with to.
func patch(t *testing.T, msgs []*arrowflight.FlightData, from, to uint64) {
	var f, r [8]byte
	binary.LittleEndian.PutUint64(f[:], from)
	binary.LittleEndian.PutUint64(r[:], to)
	for _, m := range msgs {
		if i := bytes.Index(m.DataBody, f[:]); len(m.DataBody) > 0 && i >= 0 {
			copy(m.DataBody[i:], r[:])
			return
		}
	}
	t.Fatalf("%d not found in the batch", from)
}

func strs(vals ...string) arrow.RecordBatch {
	b := array.NewStringBuilder(memory.DefaultAllocator)
	defer b.Release()
	b.AppendValues(vals, nil)
	arr := b.NewArray()
	defer arr.Release()
	s := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	return array.NewRecordBatch(s, []arrow.Array{arr}, int64(len(vals)))
}

// A compressed buffer whose header declares a terabyte (a decompression
// bomb) is refused with ResourceExhausted naming the limit; the node
// allocates nothing of the sort, stays up and stores nothing.
func TestUploadDecompressionBombIsRefused(t *testing.T) {
	n := startNode(t)
	rec := ints(1000)
	defer rec.Release()
	for name, codec := range map[string]ipc.Option{"lz4": ipc.WithLZ4(), "zstd": ipc.WithZstd()} {
		msgs := encode(t, "bomb_"+name, rec, codec)
		patch(t, msgs, 8000, 1<<40) // the data buffer's declared uncompressed size
		err := n.putRaw(t, msgs)
		if code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "--max-batch-size") {
			t.Errorf("%s bomb: got %v, want ResourceExhausted naming --max-batch-size", name, err)
		}
		if _, _, err := n.query(t, scan("bomb_"+name)); code(err) != codes.NotFound {
			t.Errorf("%s bomb left a table: %v", name, err)
		}
	}
	// A declared size that is negative is refused too.
	msgs := encode(t, "negative", rec, ipc.WithLZ4())
	patch(t, msgs, 8000, 1<<63)
	if err := n.putRaw(t, msgs); err == nil {
		t.Error("a negative declared size was accepted")
	}
	if res, err := n.put(t, "after", pb.Upload_CREATE, rec); err != nil || res.GetRowsWritten() != 1000 {
		t.Fatalf("upload after the bombs: %v %v", res, err)
	}
}

// A batch whose string offsets run past its data is refused with
// InvalidArgument naming the batch and column, before anything is stored.
func TestUploadMalformedBatchIsRefused(t *testing.T) {
	n := startNode(t)
	rec := strs("alpha", "beta", "gamma", "delta")
	defer rec.Release()
	msgs := encode(t, "lies", rec)
	// Offsets are int32: 0,5,9,14,19. Make the third point far past the data.
	var f, r [4]byte
	binary.LittleEndian.PutUint32(f[:], 14)
	binary.LittleEndian.PutUint32(r[:], 1<<30)
	patched := false
	for _, m := range msgs {
		if i := bytes.Index(m.DataBody, append([]byte{9, 0, 0, 0}, f[:]...)); i >= 0 {
			copy(m.DataBody[i+4:], r[:])
			patched = true
		}
	}
	if !patched {
		t.Fatal("offsets not found")
	}
	err := n.putRaw(t, msgs)
	if code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), `uploaded batch 1 of "lies": column "s" is malformed`) {
		t.Errorf("got %v, want InvalidArgument naming the batch and column", err)
	}
	if _, _, err := n.query(t, scan("lies")); code(err) != codes.NotFound {
		t.Errorf("the malformed upload left a table: %v", err)
	}
}

// A compressed buffer that holds less than it declares fails the upload
// with InvalidArgument, and the buffers the decoder had made are given
// back (the checked allocator of startNode finds none left).
func TestUploadShortCompressedBufferFreesWhatItDecoded(t *testing.T) {
	n := startNode(t)
	rec := ints(1000)
	defer rec.Release()
	msgs := encode(t, "short", rec, ipc.WithZstd())
	patch(t, msgs, 8000, 16000)
	if err := n.putRaw(t, msgs); code(err) != codes.InvalidArgument {
		t.Errorf("got %v, want InvalidArgument", err)
	}
}

// Metadata whose vectors declare more elements than the message holds is
// refused before Arrow's reader allocates by it.
func TestUploadLyingMetadataIsRefused(t *testing.T) {
	n := startNode(t)
	rec := ints(3)
	defer rec.Release()
	msgs := encode(t, "meta", rec)
	// The schema's fields vector holds 1 field; declare four billion.
	hdr := msgs[0].DataHeader
	patched := false
	for i := 0; i+4 <= len(hdr); i += 4 {
		if binary.LittleEndian.Uint32(hdr[i:]) == 1 && bytes.Contains(hdr[i:], []byte("x")) {
			binary.LittleEndian.PutUint32(hdr[i:], 0xFFFFFFF0)
			if exec.VerifyIPCMessage(hdr) != nil {
				patched = true
				break
			}
			binary.LittleEndian.PutUint32(hdr[i:], 1)
		}
	}
	if !patched {
		t.Fatal("no vector length found to patch")
	}
	err := n.putRaw(t, msgs)
	if code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "malformed Arrow IPC metadata") {
		t.Errorf("got %v, want InvalidArgument naming the metadata", err)
	}
}
