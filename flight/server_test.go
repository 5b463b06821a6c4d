package flight

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	arrowflight "github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"slipstream/kernels/fsroot"
	"slipstream/scheduler"
	"slipstream/scheduler/catalog"
	pb "slipstream/scheduler/planpb"
)

type testNode struct {
	client arrowflight.Client
	mem    *memory.CheckedAllocator
	addr   string // grpc://host:port
	cat    *catalog.Catalog
	svc    *Service
	dir    string // its data directory, the one root files may be read under
}

// startNode runs a real Flight server on a loopback port.
func startNode(t testing.TB) *testNode {
	t.Helper()
	return startNodeWith(t, 0)
}

// startNodeWith runs a real Flight server that lets one client have
// maxCalls calls open at once (0: the default), with more server options
// (auth's interceptors).
func startNodeWith(t testing.TB, maxCalls int, more ...grpc.ServerOption) *testNode {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	dir := t.TempDir()
	cat, err := catalog.Open(dir, mem, "n1")
	if err != nil {
		t.Fatal(err)
	}
	roots, err := fsroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { roots.Close() })
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := arrowflight.NewServerWithMiddleware(nil, append(ServerOptions(maxCalls), more...)...)
	srv.InitListener(lis)
	svc := NewService(&scheduler.Engine{Catalog: cat, Mem: mem, Roots: roots}, "grpc://"+lis.Addr().String())
	srv.RegisterFlightService(svc)
	go srv.Serve()
	client, err := arrowflight.NewClientWithMiddleware(lis.Addr().String(), nil, nil,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<30), grpc.MaxCallSendMsgSize(1<<30)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.Close()
		srv.Shutdown()
		mem.AssertSize(t, 0)
	})
	return &testNode{client: client, mem: mem, addr: "grpc://" + lis.Addr().String(), cat: cat, svc: svc, dir: dir}
}

func wrap(t testing.TB, m proto.Message) []byte {
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := proto.Marshal(a)
	return b
}

func ints(n int) arrow.RecordBatch {
	b := array.NewInt64Builder(memory.DefaultAllocator)
	defer b.Release()
	for i := 0; i < n; i++ {
		b.Append(int64(i))
	}
	arr := b.NewArray()
	defer arr.Release()
	s := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	return array.NewRecordBatch(s, []arrow.Array{arr}, int64(n))
}

func (n *testNode) put(t testing.TB, table string, mode pb.Upload_Mode, rec arrow.RecordBatch) (*pb.UploadResult, error) {
	stream, err := n.client.DoPut(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	w := arrowflight.NewRecordWriter(stream, ipc.WithSchema(rec.Schema()))
	w.SetFlightDescriptor(&arrowflight.FlightDescriptor{Type: arrowflight.DescriptorCMD, Cmd: wrap(t, &pb.Upload{Table: table, Mode: mode})})
	if err := w.Write(rec); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	} // io.EOF: the server ended the call early (a refused upload); Recv has its status
	w.Close()
	stream.CloseSend()
	res, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	out := &pb.UploadResult{}
	return out, proto.Unmarshal(res.GetAppMetadata(), out)
}

func (n *testNode) query(t testing.TB, q *pb.Query) (int64, int64, error) {
	info, err := n.client.GetFlightInfo(context.Background(), &arrowflight.FlightDescriptor{Type: arrowflight.DescriptorCMD, Cmd: wrap(t, q)})
	if err != nil {
		return 0, 0, err
	}
	var rows, sum int64
	for _, ep := range info.GetEndpoint() {
		stream, err := n.client.DoGet(context.Background(), ep.GetTicket())
		if err != nil {
			return 0, 0, err
		}
		r, err := arrowflight.NewRecordReader(stream)
		if err != nil {
			return 0, 0, err
		}
		for r.Next() {
			b := r.RecordBatch()
			rows += b.NumRows()
			for _, v := range b.Column(0).(*array.Int64).Int64Values() {
				sum += v
			}
		}
		err = r.Err()
		r.Release()
		if err != nil && err != io.EOF {
			return 0, 0, err
		}
	}
	return rows, sum, nil
}

func scan(table string) *pb.Query {
	return &pb.Query{Root: &pb.Node{Kind: &pb.Node_TableScan{TableScan: &pb.TableScan{Table: table}}}}
}

func code(err error) codes.Code { return status.Code(err) }

func TestUploadAndQueryLargeBatch(t *testing.T) {
	n := startNode(t)
	rec := ints(2_000_000) // 16 MB in one batch: far over gRPC's 4 MiB default
	defer rec.Release()
	res, err := n.put(t, "big", pb.Upload_CREATE, rec)
	if err != nil {
		t.Fatal(err)
	}
	if res.GetRowsWritten() != 2_000_000 || res.GetTableRows() != 2_000_000 {
		t.Fatalf("ack: %v", res)
	}
	rows, sum, err := n.query(t, scan("big"))
	if err != nil {
		t.Fatal(err)
	}
	if rows != 2_000_000 || sum != 1999999*2000000/2 {
		t.Fatalf("rows %d sum %d", rows, sum)
	}
}

func TestErrorsCarryCodesAndServerStaysUp(t *testing.T) {
	n := startNode(t)
	rec := ints(10)
	defer rec.Release()
	if _, err := n.put(t, "t", pb.Upload_CREATE, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := n.put(t, "t", pb.Upload_CREATE, rec); code(err) != codes.AlreadyExists {
		t.Errorf("create twice: %v", err)
	}
	bad := &pb.Query{Root: &pb.Node{Kind: &pb.Node_Filter{Filter: &pb.Filter{
		Input:     scan("t").Root,
		Predicate: &pb.Expr{Kind: &pb.Expr_Column{Column: &pb.Column{Name: "y"}}},
	}}}}
	if _, _, err := n.query(t, bad); code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), `unknown column "y"`) {
		t.Errorf("unknown column: %v", err)
	}
	if _, _, err := n.query(t, scan("nope")); code(err) != codes.NotFound {
		t.Errorf("unknown table: %v", err)
	}
	outside := &pb.Query{Root: &pb.Node{Kind: &pb.Node_FileScan{FileScan: &pb.FileScan{Paths: []string{"/etc/passwd"}, Format: pb.FileFormat_CSV}}}}
	if _, _, err := n.query(t, outside); code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "--allow-path") {
		t.Errorf("a file outside the allowed directories: %v", err)
	}
	_, err := n.client.GetFlightInfo(context.Background(), &arrowflight.FlightDescriptor{Type: arrowflight.DescriptorCMD, Cmd: []byte("\xff\xffgarbage")})
	if code(err) != codes.InvalidArgument {
		t.Errorf("malformed cmd: %v", err)
	}
	stream, err := n.client.DoGet(context.Background(), &arrowflight.Ticket{Ticket: []byte("garbage")})
	if err == nil {
		_, err = stream.Recv()
	}
	if code(err) != codes.InvalidArgument {
		t.Errorf("malformed ticket: %v", err)
	}
	// Still serving.
	if rows, _, err := n.query(t, scan("t")); err != nil || rows != 10 {
		t.Fatalf("after errors: %d %v", rows, err)
	}
}

func (n *testNode) action(t *testing.T, typ string, body []byte) ([]byte, error) {
	stream, err := n.client.DoAction(context.Background(), &arrowflight.Action{Type: typ, Body: body})
	if err != nil {
		return nil, err
	}
	res, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	return res.GetBody(), nil
}

func TestActionsAndListFlights(t *testing.T) {
	n := startNode(t)
	rec := ints(7)
	defer rec.Release()
	n.put(t, "seven", pb.Upload_CREATE, rec)
	body, err := n.action(t, "health", nil)
	if err != nil || !strings.Contains(string(body), `"ok"`) {
		t.Fatalf("health: %s %v", body, err)
	}
	body, err = n.action(t, "list_tables", nil)
	var listed struct {
		Tables []struct {
			Name string
			Rows int64
		}
	}
	if err != nil || json.Unmarshal(body, &listed) != nil || len(listed.Tables) != 1 || listed.Tables[0].Rows != 7 {
		t.Fatalf("list_tables: %s %v", body, err)
	}
	stream, err := n.client.ListFlights(context.Background(), &arrowflight.Criteria{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Recv()
	if err != nil || info.GetTotalRecords() != 7 || info.GetFlightDescriptor().GetPath()[0] != "seven" {
		t.Fatalf("list flights: %v %v", info, err)
	}
	q, _ := proto.Marshal(scan("seven"))
	if body, err := n.action(t, "explain", q); err != nil || !strings.Contains(string(body), "Scan table=seven") {
		t.Fatalf("explain: %s %v", body, err)
	}
	if _, err := n.action(t, "frobnicate", nil); code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "drop_table") {
		t.Fatalf("unknown action: %v", err)
	}
	if _, err := n.action(t, "drop_table", []byte(`{"name": "seven"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := n.action(t, "drop_table", []byte(`{"name": "seven"}`)); code(err) != codes.NotFound {
		t.Fatalf("drop twice: %v", err)
	}
	if _, err := n.action(t, "drop_table", []byte(`{"name": "seven", "if_exists": true}`)); err != nil {
		t.Fatalf("drop if_exists: %v", err)
	}
}

func TestConcurrentQueries(t *testing.T) {
	n := startNode(t)
	rec := ints(100_000)
	defer rec.Release()
	n.put(t, "t", pb.Upload_CREATE, rec)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if rows, _, err := n.query(t, scan("t")); err != nil || rows != 100_000 {
				t.Errorf("%d %v", rows, err)
			}
		}()
	}
	wg.Wait()
}

func TestPanicIsRecovered(t *testing.T) {
	_, err := unaryGuard(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/x"}, func(context.Context, any) (any, error) {
		panic("boom")
	})
	if code(err) != codes.Internal || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("unary: %v", err)
	}
	err = streamGuard(nil, nil, &grpc.StreamServerInfo{FullMethod: "/y"}, func(any, grpc.ServerStream) error {
		var rows []int
		return status.Errorf(codes.OK, "%d", rows[len(rows)]) // index out of range: a runtime panic
	})
	if code(err) != codes.Internal {
		t.Fatalf("stream: %v", err)
	}
}
