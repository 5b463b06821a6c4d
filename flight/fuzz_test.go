package flight

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	arrowflight "github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	pb "slipstream/scheduler/planpb"
)

// seedUploads are uploads of the types users send, plain and compressed,
// framed for FuzzUpload: the seeds.
func seedUploads(f *testing.F) [][]byte {
	mem := memory.NewGoAllocator()
	md := arrow.NewMetadata([]string{"k"}, []string{"v"})
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "l", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
		{Name: "d", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}, Nullable: true},
	}, &md)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2, 3}, []bool{true, false, true})
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"a", "ü", ""}, []bool{true, true, false})
	lb := b.Field(2).(*array.ListBuilder)
	lb.Append(true)
	lb.ValueBuilder().(*array.StringBuilder).AppendValues([]string{"x", "y"}, nil)
	lb.AppendNull()
	lb.Append(true)
	db := b.Field(3).(*array.BinaryDictionaryBuilder)
	db.AppendString("p")
	db.AppendNull()
	db.AppendString("p")
	rec := b.NewRecordBatch()
	defer rec.Release()
	var out [][]byte
	for _, opts := range [][]ipc.Option{nil, {ipc.WithLZ4()}, {ipc.WithZstd()}} {
		out = append(out, frame(encode(f, "fuzz", rec, opts...)))
	}
	return out
}

// frame writes upload messages as FuzzUpload reads them: for each, the
// length of its metadata, the metadata, the length of its body, the body.
func frame(msgs []*arrowflight.FlightData) []byte {
	var out []byte
	for _, m := range msgs {
		out = binary.LittleEndian.AppendUint32(out, uint32(len(m.DataHeader)))
		out = append(out, m.DataHeader...)
		out = binary.LittleEndian.AppendUint32(out, uint32(len(m.DataBody)))
		out = append(out, m.DataBody...)
	}
	return out
}

// unframe reads what frame writes, as far as it can.
func unframe(data []byte) []*arrowflight.FlightData {
	var msgs []*arrowflight.FlightData
	next := func() ([]byte, bool) {
		if len(data) < 4 {
			return nil, false
		}
		n := int(binary.LittleEndian.Uint32(data))
		if n > len(data)-4 {
			return nil, false
		}
		part := bytes.Clone(data[4 : 4+n])
		data = data[4+n:]
		return part, true
	}
	for {
		hdr, ok := next()
		if !ok {
			return msgs
		}
		body, _ := next()
		msgs = append(msgs, &arrowflight.FlightData{DataHeader: hdr, DataBody: body})
	}
}

// FuzzUpload sends arbitrary bytes, cut into Flight messages, as an upload
// to a real node: whatever they hold, the node answers with a refusal or
// an acknowledgement (never an internal error), stays up, can read back
// what it acknowledged, and keeps no buffer of it (the node's checked
// allocator is asserted empty when the target ends).
//
//	go test ./flight -run '^$' -fuzz FuzzUpload -fuzztime 60s
func FuzzUpload(f *testing.F) {
	for _, s := range seedUploads(f) {
		f.Add(s)
	}
	n := startNode(f)
	desc := &arrowflight.FlightDescriptor{Type: arrowflight.DescriptorCMD, Cmd: wrap(f, &pb.Upload{Table: "fuzz", Mode: pb.Upload_REPLACE})}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		msgs := unframe(data)
		if len(msgs) == 0 {
			return
		}
		msgs[0].FlightDescriptor = desc
		err := n.putRaw(t, msgs)
		if code(err) == codes.Internal || code(err) == codes.Unknown {
			t.Fatalf("an upload got an internal error: %v", err)
		}
		if err != nil {
			return
		}
		stream, err := n.client.DoGet(context.Background(), &arrowflight.Ticket{Ticket: ticketOf(t, "fuzz")})
		if err != nil {
			t.Fatal(err)
		}
		r, err := arrowflight.NewRecordReader(stream)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return
			}
			t.Fatalf("reading back an acknowledged upload: %v", err)
		}
		for r.Next() {
		}
		if err := r.Err(); err != nil && !errors.Is(err, io.EOF) {
			t.Fatalf("reading back an acknowledged upload: %v", err)
		}
		r.Release()
	})
}

// ticketOf is the ticket of a query that scans table.
func ticketOf(t testing.TB, table string) []byte {
	b, err := proto.Marshal(&pb.Ticket{Query: scan(table)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzTicket sends arbitrary bytes as a DoGet ticket: the node answers
// with batches or a refusal with a code (never an internal error) and
// stays up.
//
//	go test ./flight -run '^$' -fuzz FuzzTicket -fuzztime 60s
func FuzzTicket(f *testing.F) {
	n := startNode(f)
	rec := ints(10)
	defer rec.Release()
	if _, err := n.put(f, "t", pb.Upload_CREATE, rec); err != nil {
		f.Fatal(err)
	}
	for _, tk := range []*pb.Ticket{{Query: scan("t")}, {Output: &pb.OutputKey{QueryId: "q", Stage: 1}}, {Output: &pb.OutputKey{QueryId: "q", Bucket: -1}, Shuffle: true, Compress: true}, {Query: scan("nope")}} {
		b, _ := proto.Marshal(tk)
		f.Add(b)
	}
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		stream, err := n.client.DoGet(context.Background(), &arrowflight.Ticket{Ticket: data})
		if err == nil {
			for err == nil {
				_, err = stream.Recv()
			}
			if errors.Is(err, io.EOF) {
				err = nil
			}
		}
		if code(err) == codes.Internal || code(err) == codes.Unknown {
			t.Fatalf("ticket %q: an internal error: %v", data, err)
		}
	})
}
