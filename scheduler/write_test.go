package scheduler

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"slipstream/kernels"
	"slipstream/scheduler/catalog"
	pb "slipstream/scheduler/planpb"
)

func sqlQuery(text string) *pb.Query {
	return &pb.Query{Root: &pb.Node{Kind: &pb.Node_Sql{Sql: &pb.Sql{Query: text}}}}
}

// A query's result stored as a table on a cluster: each partition is held
// first by a node that computed it (not all by the coordinator), on as many
// nodes as an upload's, and every node reads the same rows.
func TestWriteTableStoresEachPartitionWhereItWasComputed(t *testing.T) {
	engines, net, _ := eventsCluster(t)
	ctx := context.Background()
	written, total, err := engines[1].WriteTable(ctx, "", "late", catalog.Create, sqlQuery("SELECT k, v FROM events WHERE v >= 100"))
	if err != nil {
		t.Fatal(err)
	}
	if written != 900 || total != 900 {
		t.Fatalf("wrote %d rows, table has %d; want 900 and 900", written, total)
	}
	firsts := map[string]bool{}
	for _, e := range engines {
		tbl, err := e.Catalog.Table("late")
		if err != nil || tbl.Rows != 900 {
			t.Fatalf("%s: %+v %v", e.Self.Name, tbl, err)
		}
		for _, p := range tbl.M.Parts {
			if len(p.Holders) != 2 {
				t.Fatalf("partition %s has holders %v, want 2", p.ID, p.Holders)
			}
			firsts[p.Holders[0]] = true
		}
	}
	if len(firsts) < 2 {
		t.Fatalf("every partition is held first by %v: the result went through one node", firsts)
	}
	res, err := engines[2].RunQuery(ctx, sqlQuery("SELECT count(*) AS n, sum(v) AS s FROM late"))
	if err != nil {
		t.Fatal(err)
	}
	defer release(engines, res.ID)
	want := 0
	for v := 100; v < 1000; v++ {
		want += v
	}
	if got := strings.Join(collectResult(t, net, res), "\n"); got != fmt.Sprintf("900 | %d", want) {
		t.Fatalf("got %q, want 900 | %d", got, want)
	}
	// Appending the same query doubles it; a second create is refused.
	if _, total, err := engines[0].WriteTable(ctx, "", "late", catalog.Append, sqlQuery("SELECT k, v FROM events WHERE v >= 100")); err != nil || total != 1800 {
		t.Fatalf("append: %d rows, %v", total, err)
	}
	if _, _, err := engines[0].WriteTable(ctx, "", "late", catalog.Create, sqlQuery("SELECT k, v FROM events")); err == nil {
		t.Fatal("a second create of the same table succeeded")
	}
}

// COPY TO on a cluster: one Parquet file per result partition, written by
// the node holding it, the rows of the query in all.
func TestWriteFilesWritesOneFilePerResultPartition(t *testing.T) {
	engines, net, _ := eventsCluster(t)
	dir := filepath.Join(t.TempDir(), "out")
	n, err := engines[0].ExecSQL(context.Background(), "COPY (SELECT k, v FROM events WHERE k < 10) TO '"+dir+"' (FORMAT parquet)")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 || len(entries) < 2 {
		t.Fatalf("wrote %d rows into %d files; want the rows of k < 10 in several files", n, len(entries))
	}
	res, err := engines[1].RunQuery(context.Background(), sqlQuery("SELECT count(*) AS n FROM read_parquet('"+dir+"')"))
	if err != nil {
		t.Fatal(err)
	}
	defer release(engines, res.ID)
	if got := strings.Join(collectResult(t, net, res), "\n"); got != fmt.Sprint(n) {
		t.Fatalf("the files hold %s rows, COPY said %d", got, n)
	}
}

// A node that restarts after CREATE TABLE AS ran but before it stored its
// result partitions costs a re-run of the query, not the statement; COPY
// TO, whose files already written would be in the way, is refused as
// Unavailable, naming the node.
func TestLostResultPartitionReruns(t *testing.T) {
	engines, net, _ := eventsCluster(t)
	ctx := context.Background()
	net.forgets[engines[2].Self.Addr] = true
	written, total, err := engines[0].WriteTable(ctx, "", "late", catalog.Create, sqlQuery("SELECT k, v FROM events WHERE v >= 100"))
	if err != nil || written != 900 || total != 900 {
		t.Fatalf("wrote %d rows, table has %d, %v; want 900 and 900", written, total, err)
	}
	if net.forgets[engines[2].Self.Addr] {
		t.Fatal("the node was never asked to store a partition: the test tests nothing")
	}
	net.forgets[engines[2].Self.Addr] = true
	dir := filepath.Join(t.TempDir(), "out")
	_, err = engines[0].ExecSQL(ctx, "COPY (SELECT k, v FROM events) TO '"+dir+"' (FORMAT parquet)")
	if kernels.KindOf(err) != kernels.Unavailable || !strings.Contains(fmt.Sprint(err), "node n3 lost a result partition") {
		t.Fatalf("COPY TO after a node forgot its result: %v; want Unavailable naming n3", err)
	}
}

// A task that reaches a node after the node released its query (a cancel
// racing with the call that carries it) is refused as Cancelled; the node
// stays up (it used to dereference a nil context and crash).
func TestTaskOfReleasedQueryIsRefused(t *testing.T) {
	engines, _, _ := eventsCluster(t)
	ctx := context.Background()
	if err := engines[1].ReleaseQuery(ctx, "late-task", -1); err != nil {
		t.Fatal(err)
	}
	_, err := engines[1].RunTask(ctx, &pb.Task{QueryId: "late-task", Stage: 0, Task: 0})
	if kernels.KindOf(err) != kernels.Cancelled || !strings.Contains(fmt.Sprint(err), "has ended") {
		t.Fatalf("a task of a released query: %v; want Cancelled, the query has ended", err)
	}
}
