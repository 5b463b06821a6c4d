package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels"
	"slipstream/kernels/exec"
	"slipstream/scheduler/catalog"
	"slipstream/scheduler/cluster"
	"slipstream/scheduler/config"
	pb "slipstream/scheduler/planpb"
)

// loopback is a Transport between engines of one process: the scheduler's
// logic without gossip or sockets. A node in dead answers nothing, as if
// killed; dieAfter kills a node once it has run that many tasks; a node in
// forgets forgets a query's outputs, as if restarted, when next asked to
// store or write one.
type loopback struct {
	mu       sync.Mutex
	engines  map[string]*Engine // by address
	dead     map[string]bool
	dieAfter map[string]int
	forgets  map[string]bool
}

// output is node(addr) for a call on one of query's outputs.
func (l *loopback) output(addr, query string) (*Engine, error) {
	e, err := l.node(addr)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	forget := l.forgets[addr]
	delete(l.forgets, addr)
	l.mu.Unlock()
	if forget {
		e.Outputs().Release(query, -1)
	}
	return e, nil
}

func (l *loopback) node(addr string) (*Engine, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dead[addr] {
		return nil, kernels.Errorf(kernels.Unavailable, "node %s: connection refused", addr)
	}
	return l.engines[addr], nil
}

func (l *loopback) RunTask(ctx context.Context, addr string, t *pb.Task) (*pb.TaskResult, error) {
	e, err := l.node(addr)
	if err != nil {
		return nil, err
	}
	res, err := e.RunTask(ctx, t)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	if n, ok := l.dieAfter[addr]; ok {
		if l.dieAfter[addr] = n - 1; n <= 1 {
			l.dead[addr] = true
		}
	}
	l.mu.Unlock()
	return res, nil
}

func (l *loopback) Release(_ context.Context, addr, query string, keep int32) error {
	e, err := l.node(addr)
	if err != nil {
		return err
	}
	return e.ReleaseQuery(context.Background(), query, keep)
}

func (l *loopback) Commit(_ context.Context, addr string, m catalog.Manifest, upload string) error {
	e, err := l.node(addr)
	if err != nil {
		return err
	}
	return e.CommitManifest(m, upload)
}

func (l *loopback) StoreOutput(ctx context.Context, addr string, cmd *pb.StoreOutput) ([]catalog.Part, error) {
	e, err := l.output(addr, cmd.GetOutput().GetQueryId())
	if err != nil {
		return nil, err
	}
	return e.StoreOutput(ctx, cmd)
}

func (l *loopback) WriteOutput(ctx context.Context, addr string, cmd *pb.WriteOutput) (int64, error) {
	e, err := l.output(addr, cmd.GetOutput().GetQueryId())
	if err != nil {
		return 0, err
	}
	return e.WriteOutput(ctx, cmd)
}

func (l *loopback) Abort(_ context.Context, addr, upload string) error {
	e, err := l.node(addr)
	if err != nil {
		return err
	}
	e.Catalog.Abort(upload)
	return nil
}

func (l *loopback) Manifests(_ context.Context, addr string) ([]catalog.Manifest, error) {
	e, err := l.node(addr)
	if err != nil {
		return nil, err
	}
	return e.Catalog.Manifests(), nil
}

func (l *loopback) Health(_ context.Context, addr string) error {
	_, err := l.node(addr)
	return err
}

func (l *loopback) TaskMemory(_ context.Context, addr, query string) ([]TaskMemory, error) {
	e, err := l.node(addr)
	if err != nil {
		return nil, err
	}
	return e.TaskMemory(query), nil
}

func (l *loopback) StorePart(_ context.Context, addr string, cmd *pb.StorePart) error {
	e, err := l.node(addr)
	if err != nil {
		return err
	}
	return e.Catalog.StageBytes(cmd.GetUploadId(), cmd.GetPartId(), cmd.GetTable(), cmd.GetData(), cmd.GetChecksum())
}

func (l *loopback) FetchPart(_ context.Context, addr, table, id string, w io.Writer) (string, error) {
	e, err := l.node(addr)
	if err != nil {
		return "", err
	}
	var sum string
	err = e.Catalog.SendPart(table, id, func(s string, chunk []byte) error {
		sum = s
		_, err := w.Write(chunk)
		return err
	})
	return sum, err
}

func (l *loopback) CopyPart(ctx context.Context, addr string, cmd *pb.StorePart) error {
	e, err := l.node(addr)
	if err != nil {
		return err
	}
	return e.CopyPartFrom(ctx, cmd)
}

func (l *loopback) Fetch(_ context.Context, addr string, key *pb.OutputKey, _ bool) (exec.Operator, error) {
	e, err := l.node(addr)
	if err != nil {
		return nil, err
	}
	return e.Outputs().Open(key, false)
}

// testCluster makes n engines that see each other through fake
// membership; PartRows is small so that tables spread over all of them.
// Broadcast joins are off, so that joins shuffle.
func testCluster(t *testing.T, n int, mem memory.Allocator) ([]*Engine, *loopback) {
	t.Helper()
	net := &loopback{engines: map[string]*Engine{}, dead: map[string]bool{}, dieAfter: map[string]int{}, forgets: map[string]bool{}}
	var members []cluster.Member
	for i := 1; i <= n; i++ {
		members = append(members, cluster.Member{Name: fmt.Sprintf("n%d", i), Addr: fmt.Sprintf("grpc://n%d", i), Cores: 2, State: cluster.Alive})
	}
	var engines []*Engine
	for _, m := range members {
		cat, err := catalog.Open(filepath.Join(t.TempDir(), m.Name), mem, m.Name)
		if err != nil {
			t.Fatal(err)
		}
		e := &Engine{Catalog: cat, Mem: mem, Self: m, Members: cluster.NewFake(m, members...), Net: net,
			Config: config.Node{BroadcastRows: -1, PartRows: 100}}
		net.engines[m.Addr] = e
		engines = append(engines, e)
	}
	return engines, net
}

// events has 1000 rows: k = i % 37, v = i.
// eventsCluster is three engines on a loopback network with the events
// table stored, allocating from a checked allocator that must be empty when
// the test ends (after its results are released).
func eventsCluster(t *testing.T) ([]*Engine, *loopback, memory.Allocator) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	engines, net := testCluster(t, 3, mem)
	storeEvents(t, engines[0], mem)
	return engines, net, mem
}

func storeEvents(t *testing.T, e *Engine, mem memory.Allocator) {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for i := int64(0); i < 1000; i++ {
		b.Field(0).(*array.Int64Builder).Append(i % 37)
		b.Field(1).(*array.Int64Builder).Append(i)
	}
	rec := b.NewRecordBatch()
	sent := false
	if _, _, err := e.Store(context.Background(), "events", catalog.Create, schema, func() (arrow.RecordBatch, error) {
		if sent {
			return nil, nil
		}
		sent = true
		return rec, nil
	}); err != nil {
		t.Fatal(err)
	}
}

// groupedQuery: events grouped by k, sum(v) and count, joined back to
// events on k (a shuffle of both sides), sorted.
func groupedQuery() *pb.Query {
	grouped := agg(table("events"), []*pb.Expr{col("k")}, alias(call("sum", col("v")), "total"), alias(call("len"), "n"))
	j := join(grouped, table("events"), pb.Join_INNER, "k")
	again := agg(j, []*pb.Expr{col("k")}, alias(call("max", col("total")), "total"), alias(call("len"), "rows"))
	return query(sortBy(again, false, col("k")))
}

// collectResult reads a distributed result from the nodes holding it.
func collectResult(t *testing.T, net *loopback, res *Result) []string {
	t.Helper()
	var rows []string
	for _, p := range res.Parts {
		op, err := net.engines[p.Node.Addr].Outputs().Open(p.Key, true)
		if err != nil {
			t.Fatal(err)
		}
		bs, err := exec.Collect(context.Background(), op)
		op.Close()
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, renderRows(bs)...)
		exec.ReleaseAll(bs)
	}
	return rows
}

// runGrouped runs groupedQuery coordinated by e and checks its answer.
func runGrouped(t *testing.T, engines []*Engine, net *loopback, e *Engine) *Result {
	t.Helper()
	res, err := e.RunQuery(context.Background(), groupedQuery())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { release(engines, res.ID) })
	if got, want := strings.Join(collectResult(t, net, res), "\n"), strings.Join(expectedGrouped(), "\n"); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	return res
}

func release(engines []*Engine, id string) {
	for _, e := range engines {
		e.Outputs().Release(id, -1)
	}
}

func expectedGrouped() []string {
	var rows []string
	for k := 0; k < 37; k++ {
		total, n := 0, 0
		for i := k; i < 1000; i += 37 {
			total += i
			n++
		}
		rows = append(rows, fmt.Sprintf("%d | %d | %d", k, total, n))
	}
	return rows
}

func TestDistributedQueryMatchesTheOracle(t *testing.T) {
	engines, net, _ := eventsCluster(t)
	// Every node learned the manifest; partitions are on two nodes each.
	for _, e := range engines {
		tbl, err := e.Catalog.Table("events")
		if err != nil || tbl.Rows != 1000 || len(tbl.M.Parts) != 10 {
			t.Fatalf("%s: %+v %v", e.Self.Name, tbl, err)
		}
		for _, p := range tbl.M.Parts {
			if len(p.Holders) != 2 {
				t.Fatalf("partition %s has holders %v, want 2", p.ID, p.Holders)
			}
		}
	}
	runGrouped(t, engines, net, engines[1])
}

func TestDeadNodeTasksAreRerunFromReplicas(t *testing.T) {
	engines, net, _ := eventsCluster(t)
	net.dieAfter["grpc://n3"] = 2 // dies with shuffle output that others need
	res := runGrouped(t, engines, net, engines[0])
	raw, err := engines[0].Status(res.ID)
	if err != nil {
		t.Fatal(err)
	}
	var st QueryStatus
	json.Unmarshal(raw, &st)
	lost, retried := 0, 0
	for _, r := range st.Receipts {
		if r.Node == "n3" && r.State == "lost" {
			lost++
		}
		if r.Attempt > 0 {
			retried++
			if r.Node == "n3" {
				t.Errorf("a retry went to the dead node: %+v", r)
			}
		}
	}
	if lost == 0 || retried == 0 {
		t.Fatalf("want lost outputs on n3 and retries; receipts: %s", raw)
	}
}

func TestLostPartitionsAreNamed(t *testing.T) {
	engines, net, _ := eventsCluster(t)
	net.dead["grpc://n2"], net.dead["grpc://n3"] = true, true
	_, err := engines[0].RunQuery(context.Background(), groupedQuery())
	if kernels.KindOf(err) != kernels.Unavailable || !strings.Contains(err.Error(), `of table "events" is lost`) {
		t.Fatalf("want the lost partition named, got %v", err)
	}
	// A failed query releases its stages' outputs in the background;
	// tasks cancelled on other nodes may store theirs a moment later.
	waitReleased(t, engines)
}

// waitReleased waits, a few seconds at most, until no engine holds an
// output, then releases what is left (a late task's, which the outputs'
// TTL would release in time) so that the allocator check sees none.
func waitReleased(t *testing.T, engines []*Engine) {
	t.Helper()
	held := func() (n int) {
		for _, e := range engines {
			e.Outputs().mu.Lock()
			n += len(e.Outputs().m)
			e.Outputs().mu.Unlock()
		}
		return n
	}
	for deadline := time.Now().Add(5 * time.Second); held() > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	for _, e := range engines {
		o := e.Outputs()
		o.mu.Lock()
		for k, out := range o.m {
			exec.ReleaseAll(out.batches)
			delete(o.m, k)
		}
		o.mu.Unlock()
	}
}

func TestPlanErrorsAreNotRetried(t *testing.T) {
	engines, _, _ := eventsCluster(t)
	// v runs to 999: casting it to int8 overflows in the tasks.
	overflow := &pb.Expr{Kind: &pb.Expr_Cast{Cast: &pb.Cast{Expr: col("v"), To: &pb.DataType{Kind: pb.DataType_INT8}}}}
	bad := query(sel(table("events"), alias(overflow, "v")))
	_, err := engines[0].RunQuery(context.Background(), bad)
	if err == nil || kernels.KindOf(err) == kernels.Unavailable {
		t.Fatalf("want a plan error, got %v", err)
	}
	raw, _ := engines[0].Status("")
	var st QueryStatus
	json.Unmarshal(raw, &st)
	for _, r := range st.Receipts {
		if r.Attempt > 0 {
			t.Fatalf("a plan error was retried: %s", raw)
		}
	}
	if st.State != "failed" {
		t.Fatalf("state %s", st.State)
	}
}

func TestStageCut(t *testing.T) {
	engines, _, _ := eventsCluster(t)
	g, err := engines[0].cut(groupedQuery(), -1)
	if err != nil {
		t.Fatal(err)
	}
	var heads []string
	for _, line := range strings.Split(g.String(), "\n") {
		if strings.HasPrefix(line, "Stage") {
			heads = append(heads, line)
		}
	}
	// Partial aggregate where the data is, final per key bucket, both
	// join sides shuffled on k, the second aggregate's partial where the
	// join ran, local sorts, then one merge.
	want := []string{
		"Stage 0 tasks=scan output=hash(col(k))",
		"Stage 1 tasks=hash output=hash(col(k))",
		"Stage 2 tasks=scan output=hash(col(k))",
		"Stage 3 tasks=hash output=hash(col(k))",
		"Stage 4 tasks=hash output=gather",
		"Stage 5 tasks=single output=result",
	}
	if strings.Join(heads, "\n") != strings.Join(want, "\n") {
		t.Fatalf("stages:\n%s", g)
	}
	// With a broadcast threshold the small side goes whole to the other.
	g, _ = engines[0].cut(groupedQuery(), 1<<20)
	if !strings.Contains(g.String(), "output=broadcast") {
		t.Fatalf("no broadcast:\n%s", g)
	}
}

// A holder that lacks a partition it is listed for (it missed the commit,
// or its disk lost the file) sends the task to another replica.
func TestMissingPartitionFileUsesAnotherReplica(t *testing.T) {
	engines, net, _ := eventsCluster(t)
	tbl, _ := engines[0].Catalog.Table("events")
	removed := 0
	for _, p := range tbl.M.Parts {
		for _, e := range engines {
			if e.Self.Name == p.Holders[0] {
				files, err := e.Catalog.PartFiles("events", []string{p.ID})
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Remove(files[0]); err != nil {
					t.Fatal(err)
				}
				removed++
			}
		}
	}
	if removed != len(tbl.M.Parts) {
		t.Fatalf("removed %d files", removed)
	}
	runGrouped(t, engines, net, engines[2])
}

// A query cancelled while its tasks run ends at once as cancelled, says so
// in its status, and leaves no output behind on any node.
func TestCancelledQueryStopsAndReleases(t *testing.T) {
	engines, _, _ := eventsCluster(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	for _, e := range engines {
		e.Fault = func(point string) {
			if point == "task:1" { // the first shuffle read has begun
				once.Do(cancel)
			}
		}
	}
	_, err := engines[0].RunQuery(ctx, groupedQuery())
	if kernels.KindOf(err) != kernels.Cancelled {
		t.Fatalf("want Cancelled, got %v", err)
	}
	raw, _ := engines[0].Status("")
	var st QueryStatus
	json.Unmarshal(raw, &st)
	if st.State != "cancelled" || !strings.Contains(st.Error, "cancelled") {
		t.Fatalf("status: %s", raw)
	}
	done := 0
	for _, p := range st.Progress {
		done += p.Done
	}
	if len(st.Progress) != 6 || done == 0 || st.Progress[5].Done != 0 {
		t.Fatalf("progress: %+v", st.Progress)
	}
	// Every attempt has returned; the release runs in the background.
	held := func() (n int) {
		for _, e := range engines {
			e.Outputs().mu.Lock()
			n += len(e.Outputs().m)
			e.Outputs().mu.Unlock()
		}
		return n
	}
	for deadline := time.Now().Add(2 * time.Second); held() > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := held(); n > 0 {
		t.Fatalf("%d outputs left after the cancel", n)
	}
}
