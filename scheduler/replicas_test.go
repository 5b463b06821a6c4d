package scheduler

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels"
	"slipstream/scheduler/catalog"
	"slipstream/scheduler/cluster"
)

// storeRows uploads n rows of (k int64) as table name through e.
func storeRows(e *Engine, mem memory.Allocator, name string, mode catalog.Mode, n int) error {
	schema := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for i := range n {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
	}
	rec := b.NewRecordBatch()
	sent := false
	_, _, err := e.Store(context.Background(), name, mode, schema, func() (arrow.RecordBatch, error) {
		if sent {
			return nil, nil
		}
		sent = true
		return rec, nil
	})
	if !sent {
		rec.Release()
	}
	return err
}

// holdsGoodCopy says whether node e has partition p of table in place and
// matching its checksum.
func holdsGoodCopy(e *Engine, table string, p catalog.Part) bool {
	var data bytes.Buffer
	sum, err := (&loopback{engines: map[string]*Engine{"a": e}}).FetchPart(context.Background(), "a", table, p.ID, &data)
	return err == nil && data.Len() > 0 && sum == p.Checksum && catalog.Checksum(data.Bytes()) == sum
}

func byName(engines []*Engine) map[string]*Engine {
	out := map[string]*Engine{}
	for _, e := range engines {
		out[e.Self.Name] = e
	}
	return out
}

// A node the cluster still takes for alive but that does not answer gets
// no copy; the manifest names only the nodes that made theirs durable, and
// each of them has it, checksum and all.
func TestUploadNamesOnlyDurableCopies(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	engines, net := testCluster(t, 3, mem)
	net.dead["grpc://n3"] = true
	if err := storeRows(engines[0], mem, "t", catalog.Create, 1000); err != nil {
		t.Fatal(err)
	}
	nodes := byName(engines)
	tbl, _ := engines[0].Catalog.Table("t")
	for i, p := range tbl.M.Parts {
		if len(p.Holders) != 2 || strings.Contains(strings.Join(p.Holders, ","), "n3") || !strings.HasPrefix(p.Checksum, "crc32c:") {
			t.Fatalf("partition %d: holders %v checksum %q; want n1 and n2 and a checksum", i, p.Holders, p.Checksum)
		}
		for _, h := range p.Holders {
			if !holdsGoodCopy(nodes[h], "t", p) {
				t.Fatalf("partition %d: holder %s has no good copy", i, h)
			}
		}
	}
}

// When fewer nodes than --min-replicas can take a partition, the upload
// is refused with Unavailable naming the partition and the nodes that
// failed, and nothing of it is visible anywhere, not even to an append.
func TestUploadRefusedWhenTooFewNodesTakeIt(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	engines, net := testCluster(t, 3, mem)
	for _, e := range engines {
		e.Config.MinReplicas = 2
	}
	if err := storeRows(engines[0], mem, "t", catalog.Create, 300); err != nil {
		t.Fatal(err)
	}
	net.dead["grpc://n2"], net.dead["grpc://n3"] = true, true
	for _, mode := range []catalog.Mode{catalog.Create, catalog.Append} {
		name := map[catalog.Mode]string{catalog.Create: "u", catalog.Append: "t"}[mode]
		err := storeRows(engines[0], mem, name, mode, 1000)
		if kernels.KindOf(err) != kernels.Unavailable {
			t.Fatalf("mode %d: want Unavailable, got %v", mode, err)
		}
		for _, want := range []string{"partition 0", "2 copies are required", "n2 (", "n3 ("} {
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("the refusal should say %q: %v", want, err)
			}
		}
	}
	if _, err := engines[0].Catalog.Table("u"); kernels.KindOf(err) != kernels.NotFound {
		t.Fatalf("a refused upload is visible: %v", err)
	}
	if rows, _ := engines[0].Catalog.TableRows("t"); rows != 300 {
		t.Fatalf("a refused append changed the table: %d rows, want 300", rows)
	}
	staged, _ := os.ReadDir(engines[0].Catalog.Dir() + "/tmp")
	if len(staged) != 0 {
		t.Fatalf("a refused upload left staging behind: %v", staged)
	}
}

// With one node alive, one copy is enough (a single node must take
// uploads); with two, never fewer than two.
func TestMinReplicasDefault(t *testing.T) {
	e := &Engine{Self: cluster.Member{Name: "n1"}}
	e.Config.Replication = 3
	for alive, want := range map[int]int{1: 1, 2: 2, 3: 3, 5: 3} {
		if got := e.minReplicas(e.replication(alive)); got != want {
			t.Errorf("%d alive: min replicas %d, want %d", alive, got, want)
		}
	}
	e.Config.MinReplicas = 2
	if got := e.minReplicas(e.replication(1)); got != 2 {
		t.Errorf("--min-replicas 2 with one alive: %d", got)
	}
}

// A copy that is missing, or whose bits flipped, is detected: reads go to
// the other holder, and Repair fetches a good copy from it.
func TestDamagedAndMissingCopiesAreRepaired(t *testing.T) {
	engines, net, _ := eventsCluster(t)
	nodes := byName(engines)
	tbl, _ := engines[0].Catalog.Table("events")
	for i, p := range tbl.M.Parts {
		e := nodes[p.Holders[0]]
		path := e.Catalog.Dir() + "/parts/" + p.ID + ".arrow"
		if i%2 == 0 {
			os.Remove(path)
			continue
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		raw[(i*7919)%len(raw)] ^= 0x10
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runGrouped(t, engines, net, engines[1])
	for _, e := range engines {
		e.Repair(context.Background(), true)
	}
	for i, p := range tbl.M.Parts {
		for _, h := range p.Holders {
			if !holdsGoodCopy(nodes[h], "events", p) {
				t.Fatalf("partition %d on %s was not repaired", i, h)
			}
		}
	}
	// The damage was found (by the query or the full check) and reported.
	found := 0
	for _, e := range engines {
		found += e.Catalog.DamagedFound()
	}
	if found != len(tbl.M.Parts)/2 {
		t.Fatalf("%d damaged copies found, want %d", found, len(tbl.M.Parts)/2)
	}
	runGrouped(t, engines, net, engines[2])
}

// A damaged copy is named as such, with its file, when a read finds it.
func TestDamagedCopyErrorNamesTheFile(t *testing.T) {
	engines, _, _ := eventsCluster(t)
	tbl, _ := engines[0].Catalog.Table("events")
	p := tbl.M.Parts[0]
	e := byName(engines)[p.Holders[0]]
	path := e.Catalog.Dir() + "/parts/" + p.ID + ".arrow"
	raw, _ := os.ReadFile(path)
	raw[len(raw)/2] ^= 1
	os.WriteFile(path, raw, 0o644)
	_, err := e.Catalog.PartFiles("events", []string{p.ID})
	if kernels.KindOf(err) != kernels.NotFound || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("want a NotFound naming %s as damaged, got %v", path, err)
	}
}

// A holder missing a partition whose other holder is down fails the query
// at once, naming the partition and its holders, without retrying it.
func TestNoGoodCopyLeftFailsAtOnce(t *testing.T) {
	engines, net, _ := eventsCluster(t)
	nodes := byName(engines)
	tbl, _ := engines[0].Catalog.Table("events")
	p := tbl.M.Parts[0]
	os.Remove(nodes[p.Holders[0]].Catalog.Dir() + "/parts/" + p.ID + ".arrow")
	net.dead[nodes[p.Holders[1]].Self.Addr] = true
	coord := engines[0]
	for _, e := range engines {
		if e.Self.Name != p.Holders[1] {
			coord = e
		}
	}
	_, err := coord.RunQuery(context.Background(), groupedQuery())
	if kernels.KindOf(err) != kernels.Unavailable || !strings.Contains(err.Error(), `partition 0 of table "events" is lost`) ||
		!strings.Contains(err.Error(), p.Holders[0]) || !strings.Contains(err.Error(), p.Holders[1]) {
		t.Fatalf("want partition 0 named lost with its holders, got %v", err)
	}
	waitReleased(t, engines)
}

// The cluster's status lists the partitions with fewer copies on alive
// nodes than the replication asks for, and a node's own pending repairs.
func TestStatusShowsUnderReplicatedPartitions(t *testing.T) {
	engines, _, _ := eventsCluster(t)
	status := func() []UnderReplicated { return engines[0].ClusterStatus()["under_replicated"].([]UnderReplicated) }
	if got := status(); len(got) != 0 {
		t.Fatalf("nothing is under-replicated yet: %+v", got)
	}
	engines[0].Members.(*cluster.Fake).Fail("n3")
	tbl, _ := engines[0].Catalog.Table("events")
	want := 0
	for _, p := range tbl.M.Parts {
		if strings.Contains(strings.Join(p.Holders, ","), "n3") {
			want++
		}
	}
	got := status()
	if len(got) != want || want == 0 {
		t.Fatalf("%d partitions under-replicated, want the %d n3 holds: %+v", len(got), want, got)
	}
	for _, u := range got {
		if len(u.Alive) != 1 || u.Table != "events" {
			t.Fatalf("%+v", u)
		}
	}
	// n2 loses a copy: its status says so until it repairs it.
	n2 := byName(engines)["n2"]
	p := tbl.M.Parts[0]
	for _, q := range tbl.M.Parts {
		if q.Holders[0] == "n2" || q.Holders[1] == "n2" {
			p = q
			break
		}
	}
	os.Remove(n2.Catalog.Dir() + "/parts/" + p.ID + ".arrow")
	n2.Members.(*cluster.Fake).Fail("n1")
	n2.Members.(*cluster.Fake).Fail("n3")
	if _, left := n2.Repair(context.Background(), false); left != 1 || n2.ClusterStatus()["repairs_pending"] != int64(1) {
		t.Fatalf("with its replicas down n2 should have one repair pending: %v", n2.ClusterStatus()["repairs_pending"])
	}
}
