package flight

import (
	"github.com/apache/arrow-go/v18/arrow/ipc"
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
// on), so the transport's copy is the only one. The buffers stay valid
// after the batch is released: the node's allocator leaves memory to Go's
// collector, which keeps it while gRPC holds it (a stream's write quota
// bounds how much that is).

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
// must be served with serverCodec.
func newBatchWriter(stream grpc.ServerStream, opts ...ipc.Option) *ipc.Writer {
	return ipc.NewWriterWithPayloadWriter(&payloadSender{stream: stream}, opts...)
}

type payloadSender struct{ stream grpc.ServerStream }

func (s *payloadSender) Start() error { return nil }
func (s *payloadSender) Close() error { return nil }

func (s *payloadSender) WritePayload(p ipc.Payload) error {
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
	parts = append(append(parts, mem.SliceBuffer(head)), body.parts...)
	return s.stream.SendMsg(&encodedFlightData{parts})
}

// bodyParts collects what an IPC body is written as (buffers, padding)
// without copying it.
type bodyParts struct {
	parts mem.BufferSlice
	n     int
}

func (b *bodyParts) Write(p []byte) (int, error) {
	b.parts = append(b.parts, mem.SliceBuffer(p))
	b.n += len(p)
	return len(p), nil
}
