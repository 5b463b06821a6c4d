package flight

import (
	"context"
	"errors"
	"io"
	"math"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// Results leave the node without being copied into messages. Arrow's
// Flight writer copies each batch's buffers into one body, and gRPC's
// codec copies that body again as it marshals the FlightData; only then
// does the transport copy it into its frames. A batch writer here encodes
// the FlightData's fields itself and hands gRPC the header and the
// batch's own buffers as the message's parts (flightCodec passes them
// on), so the transport's copy is the only one. gRPC writes a message
// after SendMsg returns, so the parts hold a reference to their batch
// that gRPC drops once it has written them: a released buffer may be
// reused at once by its query (see budget's spare buffers), and a stream's
// write quota bounds how much is held.

// FlightData's fields (Flight.proto): the IPC message header and body.
const (
	fieldDataHeader protowire.Number = 2
	fieldDataBody   protowire.Number = 1000
)

// encodedFlightData is a FlightData already in its wire form.
type encodedFlightData struct{ parts mem.BufferSlice }

// flightCodec is gRPC's protobuf codec that sends an encodedFlightData as
// it is.
type flightCodec struct{ encoding.CodecV2 }

func (c flightCodec) Marshal(v any) (mem.BufferSlice, error) {
	if m, ok := v.(*encodedFlightData); ok {
		return m.parts, nil
	}
	return c.CodecV2.Marshal(v)
}

func serverCodec() grpc.ServerOption {
	return grpc.ForceServerCodecV2(flightCodec{encoding.GetCodecV2(grpcproto.Name)})
}

// newBatchWriter writes record batches to a DoGet stream as FlightData
// messages whose bodies are the batches' buffers (see above). The stream
// must be served with serverCodec. What the writer makes itself
// (compressed bodies) comes from Go's allocator, whose memory the
// collector keeps while gRPC holds it: the writer frees it as soon as it
// has handed it over.
func newBatchWriter(stream grpc.ServerStream, schema *arrow.Schema, opts ...ipc.Option) *batchWriter {
	s := &payloadSender{stream: stream}
	opts = append(opts, ipc.WithSchema(schema), ipc.WithAllocator(memory.NewGoAllocator()))
	return &batchWriter{ipc.NewWriterWithPayloadWriter(s, opts...), s}
}

type batchWriter struct {
	w *ipc.Writer
	s *payloadSender
}

func (w *batchWriter) Write(b arrow.RecordBatch) error {
	w.s.batch = b
	defer func() { w.s.batch = nil }()
	return w.w.Write(b)
}

// Close ends the stream's result (a failed stream sends nothing more).
func (w *batchWriter) Close(failed bool) error {
	if failed {
		w.s.skip = math.MaxInt
	}
	return w.w.Close()
}

type payloadSender struct {
	stream grpc.ServerStream
	batch  arrow.RecordBatch // the batch being written, whose buffers the parts are
	skip   int               // payloads to drop: ones the stream already has
}

func (s *payloadSender) Start() error { return nil }
func (s *payloadSender) Close() error { return nil }

func (s *payloadSender) WritePayload(p ipc.Payload) error {
	if s.skip > 0 {
		s.skip--
		return nil
	}
	meta := p.Meta()
	defer meta.Release()
	var body bodyParts
	if err := p.SerializeBody(&body); err != nil {
		return err
	}
	head := make([]byte, 0, meta.Len()+16)
	if meta.Len() > 0 {
		head = protowire.AppendTag(head, fieldDataHeader, protowire.BytesType)
		head = protowire.AppendBytes(head, meta.Bytes())
	}
	if body.n > 0 {
		head = protowire.AppendTag(head, fieldDataBody, protowire.BytesType)
		head = protowire.AppendVarint(head, uint64(body.n))
	}
	parts := make(mem.BufferSlice, 0, len(body.parts)+1)
	parts = append(parts, mem.SliceBuffer(head))
	hold := &heldBatch{batch: s.batch}
	for _, b := range body.parts {
		if s.batch == nil || mem.IsBelowBufferPoolingThreshold(cap(b)) {
			// gRPC would not say when it is done with so small a part
			parts = append(parts, mem.SliceBuffer(append([]byte(nil), b...)))
			continue
		}
		hold.parts.Add(1)
		parts = append(parts, mem.NewBuffer(&b, hold))
	}
	if hold.parts.Load() > 0 {
		s.batch.Retain()
	}
	return s.stream.SendMsg(&encodedFlightData{parts})
}

// heldBatch keeps a batch while gRPC holds parts of it: gRPC gives each
// part back (Put) when it has written it or dropped the message.
type heldBatch struct {
	batch arrow.RecordBatch
	parts atomic.Int32
}

func (h *heldBatch) Put(*[]byte) {
	if h.parts.Add(-1) == 0 {
		h.batch.Release()
	}
}

func (h *heldBatch) Get(int) *[]byte { panic("heldBatch lends no buffers") }

// bodyParts collects what an IPC body is written as (buffers, padding)
// without copying it.
type bodyParts struct {
	parts [][]byte
	n     int
}

func (b *bodyParts) Write(p []byte) (int, error) {
	b.parts = append(b.parts, p)
	b.n += len(p)
	return len(p), nil
}

// sendResult writes next's batches to w until io.EOF, telling sent of
// each written; w is closed either way.
func sendResult(ctx context.Context, w resultWriter, next func(context.Context) (arrow.RecordBatch, error), sent func(arrow.RecordBatch)) (err error) {
	defer func() {
		if cerr := w.Close(err != nil); err == nil {
			err = cerr
		}
	}()
	for {
		b, err := next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		err = w.Write(b)
		if err == nil && sent != nil {
			sent(b)
		}
		b.Release()
		if err != nil {
			return err
		}
	}
}
