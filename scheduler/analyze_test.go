package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/internal/parquettest"
	"slipstream/kernels/budget"
	"slipstream/scheduler/catalog"
	pb "slipstream/scheduler/planpb"
)

// figures reads "peak=X spilled=Y" off the line of the operator named op.
func figures(t *testing.T, txt, op string) (peak, spilled string) {
	t.Helper()
	re := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(op) + `[^\n]*  peak=(\S+) spilled=(\S+)$`)
	m := re.FindStringSubmatch(txt)
	if m == nil {
		t.Fatalf("no %q line with figures in\n%s", op, txt)
	}
	return m[1], m[2]
}

func TestExplainAnalyzeShowsEachOperatorsMemory(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	e, _ := testEngine(t, mem)
	q := query(sortBy(agg(table("trips"), []*pb.Expr{col("vendor")}, alias(call("sum", col("fare")), "total")), true, col("total")))
	txt, err := e.ExplainAnalyze(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"Sort total desc", "HashAggregate keys=[vendor]"} {
		peak, spilled := figures(t, txt, op)
		if peak == "0B" || spilled != "0B" {
			t.Errorf("%s: peak=%s spilled=%s; want some bytes held and none spilled\n%s", op, peak, spilled, txt)
		}
	}
	if !strings.Contains(txt, "== run ==\nid=") || !strings.Contains(txt, " rows=4 ") {
		t.Errorf("no run totals (4 rows):\n%s", txt)
	}

	// The run is the node's latest query: its status lists the operators.
	raw, err := e.QueryStatus(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var st LocalStatus
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	if st.State != "done" || st.Rows != 4 || !strings.Contains(st.Plan, "peak=") {
		t.Errorf("status %+v", st)
	}
	names := []string{}
	for _, o := range st.Operators {
		names = append(names, o.Name)
		if o.Peak <= 0 || o.Spilled != 0 {
			t.Errorf("operator %+v: want a peak and nothing spilled", o)
		}
	}
	if len(names) != 2 || !strings.HasPrefix(names[0], "HashAggregate keys=[vendor]") || !strings.HasPrefix(names[1], "Sort total desc") {
		t.Errorf("operators %q: want the aggregate and the sort, named by their EXPLAIN lines", names)
	}
	if again, err := e.QueryStatus(context.Background(), st.ID); err != nil || string(again) != string(raw) {
		t.Errorf("status by id: %s, %v", again, err)
	}
	if _, err := e.QueryStatus(context.Background(), "no-such-query"); err == nil {
		t.Error("status of an unknown query: no error")
	}
	mem.AssertSize(t, 0)
}

func TestExplainAnalyzeShowsSpilling(t *testing.T) {
	dir := t.TempDir()
	mem := memory.NewGoAllocator()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "s", Type: arrow.BinaryTypes.String},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	const rows = 200_000
	for i := range rows {
		b.Field(0).(*array.Int64Builder).Append(int64((i * 7919) % rows))
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("row %d with some padding text", (i*104729)%rows))
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	path := filepath.Join(dir, "big.parquet")
	parquettest.Write(t, mem, path, rec, 20_000)

	e, pool := budgetEngine(t, dir, mem, 4<<20)
	for _, tc := range []struct {
		q  *pb.Query
		op string
	}{
		{query(sortBy(parquetScan(path), false, col("s"))), "Sort s asc"},
		{query(agg(parquetScan(path), []*pb.Expr{col("s")}, alias(call("max", col("id")), "m"))), "HashAggregate keys=[s]"},
	} {
		txt, err := e.ExplainAnalyze(context.Background(), tc.q)
		if err != nil {
			t.Fatal(err)
		}
		if _, spilled := figures(t, txt, tc.op); spilled == "0B" {
			t.Errorf("%s spilled nothing under a 4 MiB limit:\n%s", tc.op, txt)
		}
		if !strings.Contains(txt, fmt.Sprintf(" rows=%d ", rows)) {
			t.Errorf("want %d rows:\n%s", rows, txt)
		}
		left, _ := os.ReadDir(filepath.Join(dir, "spill"))
		// What the node keeps for itself (cached footers) is not the query's.
		if held := pool.Used() - pool.Node().Used(); len(left) != 0 || held != 0 {
			t.Errorf("after the run: %d spill folders, %d bytes held", len(left), held)
		}
	}
}

// The columns a query computes (a Project's arithmetic, through Arrow's
// compute functions) are the query's memory: held by the caller, they
// count in the node's pool until released.
func TestComputedColumnsCountInTheBudget(t *testing.T) {
	dir := t.TempDir()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	const rows = 200_000
	ids := array.NewInt64Builder(mem)
	for i := range rows {
		ids.Append(int64(i))
	}
	idArr := ids.NewArray()
	ids.Release()
	rec := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil), []arrow.Array{idArr}, rows)
	idArr.Release()
	path := filepath.Join(dir, "ids.parquet")
	parquettest.Write(t, mem, path, rec, 50_000)
	rec.Release()

	e, pool := budgetEngine(t, dir, mem, 1<<30)
	var cols []*pb.Expr
	for k := int64(2); k < 8; k++ {
		cols = append(cols, alias(call("multiply", col("id"), lit(k)), fmt.Sprintf("times%d", k)))
	}
	op, err := e.Execute(query(sel(parquetScan(path), cols...)))
	if err != nil {
		t.Fatal(err)
	}
	var held []arrow.RecordBatch
	var bytes int64
	for {
		b, err := op.Next(context.Background())
		if err != nil {
			break
		}
		held = append(held, b)
		for _, c := range b.Columns() {
			bytes += int64(c.Data().Buffers()[1].Len())
		}
	}
	if want := int64(6 * 8 * rows); bytes < want {
		t.Fatalf("read %d bytes of values; want %d", bytes, want)
	}
	if used := pool.Used() - pool.Node().Used(); used < bytes {
		t.Errorf("the query's account holds %d bytes while its %d computed bytes are held", used, bytes)
	}
	for _, b := range held {
		b.Release()
	}
	op.Close()
	if used := pool.Used() - pool.Node().Used(); used != 0 {
		t.Errorf("after the query: %d bytes held", used)
	}
}

// budgetEngine is a one-pipeline engine over dir whose queries run within
// a pool of limit bytes, spilling under dir.
func budgetEngine(t *testing.T, dir string, mem memory.Allocator, limit int64) (*Engine, *budget.Pool) {
	t.Helper()
	pool, err := budget.NewPool(budget.Options{Limit: limit, SpillDir: filepath.Join(dir, "spill"), SpillLimit: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Open(filepath.Join(dir, "data"), mem, "n1")
	if err != nil {
		t.Fatal(err)
	}
	return &Engine{Catalog: cat, Mem: mem, Memory: pool, Partitions: 1}, pool
}

// A progress bar polls a running cluster query's status four times a
// second: the nodes are asked for its memory figures at most once a
// second; an ended query's figures are asked for every time, and not kept.
func TestMemoryCacheAsksNodesOnceASecond(t *testing.T) {
	var c memoryCache
	asked := 0
	fetch := func() queryMemory {
		asked++
		return queryMemory{tasks: []TaskMemory{{Peak: int64(asked)}}}
	}
	for range 4 {
		if got := c.get("q", true, fetch); got.peak() != 1 {
			t.Fatalf("running: peak %d, want the first figures (1)", got.peak())
		}
	}
	if asked != 1 {
		t.Fatalf("asked the nodes %d times in four polls within a second, want 1", asked)
	}
	if got := c.get("q", false, fetch); got.peak() != 2 || asked != 2 {
		t.Fatalf("ended: peak %d after %d asks, want fresh figures (2)", got.peak(), asked)
	}
	if _, kept := c.m["q"]; kept {
		t.Fatal("an ended query's figures are still kept")
	}
	c.m["old"] = cachedMemory{at: time.Now().Add(-time.Minute)}
	c.get("q", true, fetch)
	if _, kept := c.m["old"]; kept {
		t.Fatal("figures nobody asked for in a minute are still kept")
	}
}
