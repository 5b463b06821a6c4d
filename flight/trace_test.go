package flight

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	arrowflight "github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"slipstream/scheduler"
	"slipstream/scheduler/catalog"
	"slipstream/scheduler/cluster"
	"slipstream/scheduler/config"
	pb "slipstream/scheduler/planpb"
)

// startCluster runs n real Flight servers on loopback ports, each a node
// of one cluster (fake membership, the real node-to-node client), and
// returns a client of each. Small partitions spread a table over all.
func startCluster(t testing.TB, n int) []*testNode {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	var members []cluster.Member
	var listeners []net.Listener
	for i := 1; i <= n; i++ {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		listeners = append(listeners, lis)
		members = append(members, cluster.Member{Name: fmt.Sprintf("n%d", i), Addr: "grpc://" + lis.Addr().String(), Cores: 2, State: cluster.Alive})
	}
	var nodes []*testNode
	dir := t.TempDir()
	for i, m := range members {
		cat, err := catalog.Open(filepath.Join(dir, m.Name), mem, m.Name)
		if err != nil {
			t.Fatal(err)
		}
		peers := NewPeers(mem)
		e := &scheduler.Engine{Catalog: cat, Mem: mem, Self: m, Members: cluster.NewFake(m, members...), Net: peers,
			Config: config.Node{BroadcastRows: -1, PartRows: 100}}
		srv := arrowflight.NewServerWithMiddleware(nil, ServerOptions(0)...)
		srv.InitListener(listeners[i])
		srv.RegisterFlightService(NewService(e, m.Addr))
		go srv.Serve()
		client, err := arrowflight.NewClientWithMiddleware(listeners[i].Addr().String(), nil, nil,
			grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			client.Close()
			peers.Close()
			srv.Shutdown()
		})
		nodes = append(nodes, &testNode{client: client, mem: mem, addr: m.Addr})
	}
	return nodes
}

// collectSpans makes the global tracer provider (the one the nodes and
// their gRPC instrumentation use) record every span in memory, until the
// test ends.
func collectSpans(t *testing.T) (*tracetest.InMemoryExporter, *sdktrace.TracerProvider) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() {
		otel.SetTracerProvider(prev)
		tp.Shutdown(context.Background())
	})
	return exp, tp
}

// groupedNums groups nums by x: a scan and partial aggregate per
// partition, a shuffle, a final aggregate per bucket, a sort on the
// coordinator (so that one node holds the result).
func groupedNums() *pb.Query {
	x := &pb.Expr{Kind: &pb.Expr_Column{Column: &pb.Column{Name: "x"}}}
	n := &pb.Node{Kind: &pb.Node_Aggregate{Aggregate: &pb.Aggregate{Input: scan("nums").GetRoot(), Keys: []*pb.Expr{x},
		Aggs: []*pb.Expr{{Kind: &pb.Expr_Alias{Alias: &pb.Alias{Name: "n", Expr: &pb.Expr{Kind: &pb.Expr_Call{Call: &pb.Call{Function: "len"}}}}}}}}}}
	return &pb.Query{Root: &pb.Node{Kind: &pb.Node_Sort{Sort: &pb.Sort{Input: n, Keys: []*pb.SortKey{{Expr: x}}}}}}
}

// waitFor waits up to 10 s for ok.
func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for spans")
		}
	}
}

func remoteTasks(st scheduler.QueryStatus) int {
	n := 0
	for _, rc := range st.Receipts {
		if rc.Node != "n1" {
			n++
		}
	}
	return n
}

func attrs(s tracetest.SpanStub) map[string]string {
	out := map[string]string{}
	for _, kv := range s.Attributes {
		out[string(kv.Key)] = kv.Value.String()
	}
	return out
}

// One query over three nodes makes one trace: the client's span (sent as
// a traceparent header, as the Python client does), the gRPC call, the
// query, a span per stage under it and a span per task attempt, recorded
// by the node that ran it, under its stage's span; the attempts run on
// other nodes hang under the gRPC spans of their run_task calls.
func TestClusterQueryTrace(t *testing.T) {
	exp, tp := collectSpans(t)
	nodes := startCluster(t, 3)
	rec := ints(1000)
	defer rec.Release()
	if _, err := nodes[0].put(t, "nums", pb.Upload_CREATE, rec); err != nil {
		t.Fatal(err)
	}
	// The upload's server span ends a moment after the client has its answer.
	waitFor(t, func() bool {
		for _, s := range exp.GetSpans() {
			if s.Name == "arrow.flight.protocol.FlightService/DoPut" && s.SpanKind == trace.SpanKindServer {
				return true
			}
		}
		return false
	})
	exp.Reset()

	// The notebook's span, and its context as the Python client sends it.
	started := time.Now()
	ctx, notebook := tp.Tracer("notebook").Start(context.Background(), "notebook cell")
	sc := notebook.SpanContext()
	ctx = metadata.AppendToOutgoingContext(ctx, "traceparent", fmt.Sprintf("00-%s-%s-01", sc.TraceID(), sc.SpanID()))
	info, err := nodes[0].client.GetFlightInfo(ctx, &arrowflight.FlightDescriptor{Type: arrowflight.DescriptorCMD, Cmd: wrap(t, groupedNums())})
	if err != nil {
		t.Fatal(err)
	}
	id := string(info.GetAppMetadata())
	var rows int64
	for _, ep := range info.GetEndpoint() {
		stream, err := nodes[0].client.DoGet(ctx, ep.GetTicket())
		if err != nil {
			t.Fatal(err)
		}
		r, err := arrowflight.NewRecordReader(stream)
		if err != nil {
			t.Fatal(err)
		}
		for r.Next() {
			rows += r.RecordBatch().NumRows()
		}
		if err := r.Err(); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		r.Release()
	}
	notebook.End()
	if rows != 1000 {
		t.Fatalf("the query gave %d groups; want 1000", rows)
	}

	stream, err := nodes[0].client.DoAction(ctx, &arrowflight.Action{Type: "query_status", Body: []byte(id)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	raw := res.GetBody()
	var st scheduler.QueryStatus
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	if st.TraceID != sc.TraceID().String() {
		t.Errorf("query_status says trace %q; the client's is %s", st.TraceID, sc.TraceID())
	}
	if len(st.Progress) < 3 {
		t.Fatalf("want a query of at least three stages, got %+v", st.Progress)
	}
	taskNodes := map[string]bool{}
	for _, rc := range st.Receipts {
		taskNodes[rc.Node] = true
	}
	if len(taskNodes) < 3 {
		t.Fatalf("tasks ran on %v; want all three nodes", taskNodes)
	}

	// Every task span ends before its run_task call answers, but the gRPC
	// server spans around them may end a moment after: wait for them.
	waitFor(t, func() bool {
		server := 0
		for _, s := range exp.GetSpans() {
			if s.SpanKind == trace.SpanKindServer && s.Name == "arrow.flight.protocol.FlightService/DoAction" {
				server++
			}
		}
		// run_task on n2 and n3, a release on each, and query_status
		return server >= remoteTasks(st)+2+1
	})
	spans := exp.GetSpans()
	byID := map[trace.SpanID]tracetest.SpanStub{}
	for _, s := range spans {
		byID[s.SpanContext.SpanID()] = s
	}
	// under says whether span s descends from span p, and through how many
	// gRPC spans.
	under := func(s tracetest.SpanStub, p trace.SpanID) (bool, int) {
		hops := 0
		for {
			if !s.Parent.IsValid() {
				return false, hops
			}
			if s.Parent.SpanID() == p {
				return true, hops
			}
			parent, ok := byID[s.Parent.SpanID()]
			if !ok {
				return false, hops
			}
			if parent.SpanKind == trace.SpanKindServer || parent.SpanKind == trace.SpanKindClient {
				hops++
			}
			s = parent
		}
	}

	var query *tracetest.SpanStub
	stages := map[string]tracetest.SpanStub{}
	var tasks []tracetest.SpanStub
	for i, s := range spans {
		// (The upload's last node-to-node spans may end after the reset.)
		if s.SpanContext.TraceID() != sc.TraceID() && !s.StartTime.Before(started) {
			t.Errorf("span %q (%v) is in trace %s; every span of the query should be in the client's %s", s.Name, attrs(s), s.SpanContext.TraceID(), sc.TraceID())
		}
		a := attrs(s)
		if a["slipstream.query_id"] != id {
			continue
		}
		switch {
		case s.Name == "query":
			if query != nil {
				t.Errorf("two query spans")
			}
			query = &spans[i]
		case a["slipstream.partition"] != "":
			tasks = append(tasks, s)
		case a["slipstream.stage"] != "":
			stages[a["slipstream.stage"]] = s
		}
	}
	if query == nil {
		t.Fatalf("no query span among %d spans", len(spans))
	}
	if ok, hops := under(*query, sc.SpanID()); !ok || hops != 1 {
		t.Errorf("the query span should hang under the client's span through the GetFlightInfo server span: %v, %d gRPC spans", ok, hops)
	}
	if a := attrs(*query); a["slipstream.rows_out"] != "1000" || a["slipstream.stages"] != fmt.Sprint(len(st.Progress)) || a["slipstream.node"] != "n1" {
		t.Errorf("query span attributes: %v", a)
	}
	if len(stages) != len(st.Progress) {
		t.Errorf("%d stage spans; the query has %d stages", len(stages), len(st.Progress))
	}
	for name, s := range stages {
		if s.Parent.SpanID() != query.SpanContext.SpanID() {
			t.Errorf("stage %s is not a child of the query span", name)
		}
	}
	if len(tasks) != len(st.Receipts) {
		t.Errorf("%d task spans; the query has %d task attempts", len(tasks), len(st.Receipts))
	}
	remote := 0
	for _, rc := range st.Receipts {
		found := false
		for _, s := range tasks {
			a := attrs(s)
			if a["slipstream.stage"] != fmt.Sprint(rc.Stage) || a["slipstream.partition"] != fmt.Sprint(rc.Task) || a["slipstream.attempt"] != fmt.Sprint(rc.Attempt) {
				continue
			}
			found = true
			if a["slipstream.node"] != rc.Node || a["slipstream.rows_out"] != fmt.Sprint(rc.Rows) || a["slipstream.bytes_out"] != fmt.Sprint(rc.Bytes) {
				t.Errorf("task %d/%d#%d span attributes %v; its receipt %+v", rc.Stage, rc.Task, rc.Attempt, a, rc)
			}
			stage, ok := stages[fmt.Sprint(rc.Stage)]
			if !ok {
				break
			}
			under, hops := under(s, stage.SpanContext.SpanID())
			// A task on the coordinator is its stage span's child; one on
			// another node is reached through run_task's client and
			// server spans.
			want := 0
			if rc.Node != "n1" {
				want, remote = 2, remote+1
			}
			if !under || hops != want {
				t.Errorf("task %d/%d on %s: under its stage's span %v through %d gRPC spans; want %d", rc.Stage, rc.Task, rc.Node, under, hops, want)
			}
		}
		if !found {
			t.Errorf("no span for task attempt %+v", rc)
		}
	}
	if remote == 0 {
		t.Errorf("no task ran on another node than the coordinator")
	}
}

// countSpans counts the spans that end.
type countSpans struct {
	sdktrace.SpanProcessor
	n atomic.Int64
}

func (c *countSpans) OnEnd(s sdktrace.ReadOnlySpan) { c.n.Add(1); c.SpanProcessor.OnEnd(s) }

// BenchmarkClusterQueryTracing is the cost of tracing a small query on
// three nodes (most of its time is calls between nodes, so tracing weighs
// the most): "off" as a node runs with no collector (spans sampled out),
// "export" with every span recorded and sent over OTLP/HTTP to a receiver
// that discards it. spans/op counts the spans a query makes.
func BenchmarkClusterQueryTracing(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	defer sink.Close()
	prevLog := slog.Default()
	slog.SetDefault(slog.New(slog.DiscardHandler))
	defer slog.SetDefault(prevLog)
	for _, mode := range []string{"off", "export"} {
		b.Run(mode, func(b *testing.B) {
			count := &countSpans{}
			opts := []sdktrace.TracerProviderOption{sdktrace.WithSampler(sdktrace.NeverSample())}
			if mode == "export" {
				exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(sink.URL+"/v1/traces"))
				if err != nil {
					b.Fatal(err)
				}
				count.SpanProcessor = sdktrace.NewBatchSpanProcessor(exp)
				opts = []sdktrace.TracerProviderOption{sdktrace.WithSpanProcessor(count)}
			}
			tp := sdktrace.NewTracerProvider(opts...)
			prev := otel.GetTracerProvider()
			otel.SetTracerProvider(tp)
			defer func() {
				otel.SetTracerProvider(prev)
				tp.Shutdown(context.Background())
			}()
			nodes := startCluster(b, 3)
			rec := ints(1000)
			defer rec.Release()
			if _, err := nodes[0].put(b, "nums", pb.Upload_CREATE, rec); err != nil {
				b.Fatal(err)
			}
			q := groupedNums()
			before := count.n.Load()
			b.ResetTimer()
			for range b.N {
				if rows, _, err := nodes[0].query(b, q); err != nil || rows != 1000 {
					b.Fatalf("%d rows, %v", rows, err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(count.n.Load()-before)/float64(b.N), "spans/op")
		})
	}
}
