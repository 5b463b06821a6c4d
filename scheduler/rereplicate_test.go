package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/scheduler/catalog"
	"slipstream/scheduler/cluster"
)

func tablesOf(parts ...[]string) []*catalog.Table {
	m := catalog.Manifest{Name: "t"}
	for i, h := range parts {
		m.Parts = append(m.Parts, catalog.Part{ID: fmt.Sprintf("p%d", i), Holders: h})
	}
	return []*catalog.Table{{Name: "t", M: m}}
}

func renderJobs(jobs []copyJob) string {
	var out []string
	for _, j := range jobs {
		out = append(out, fmt.Sprintf("%s %s->%s for %s", j.Part.ID, j.Source, j.Target, j.Gone))
	}
	return strings.Join(out, "; ")
}

func TestPlanCopies(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tables []*catalog.Table
		alive  []string
		gone   []string
		want   int
		limit  int
		jobs   string
	}{
		{"nothing gone", tablesOf([]string{"a", "b"}), []string{"a", "b", "c"}, nil, 2, 9, ""},
		// c is down but not for the grace period yet: no copy.
		{"down, not gone", tablesOf([]string{"a", "c"}), []string{"a", "b"}, nil, 2, 9, ""},
		// Targets spread by how many partitions each live node holds.
		{"spread", tablesOf([]string{"a", "c"}, []string{"b", "c"}, []string{"c", "d"}, []string{"a", "b"}), []string{"a", "b", "d"}, []string{"c"}, 2, 9,
			"p0 a->d for c; p1 b->a for c; p2 d->b for c"},
		{"limit", tablesOf([]string{"a", "c"}, []string{"b", "c"}), []string{"a", "b", "d"}, []string{"c"}, 2, 1, "p0 a->d for c"},
		// Every live node holds it already, or no live holder is left.
		{"no target", tablesOf([]string{"a", "b", "c"}), []string{"a", "b"}, []string{"c"}, 2, 9, ""},
		{"no source", tablesOf([]string{"c", "d"}), []string{"a", "b"}, []string{"c", "d"}, 2, 9, ""},
		// Replication 3 with two holders gone: one copy a round each.
		{"one at a time", tablesOf([]string{"a", "c", "d"}), []string{"a", "b", "e"}, []string{"c", "d"}, 3, 9, "p0 a->b for c"},
		// Stored while one node was up: copied once a second is alive.
		{"short from birth", tablesOf([]string{"a"}, []string{"a", "b"}), []string{"a", "b"}, nil, 2, 9, "p0 a->b for "},
		// A holder down within the grace may come back: wait.
		{"short, holder down", tablesOf([]string{"a", "c"}, []string{"a"}), []string{"a", "b"}, nil, 2, 9, "p1 a->b for "},
	} {
		gone := map[string]bool{}
		for _, g := range tc.gone {
			gone[g] = true
		}
		if got := renderJobs(planCopies(tc.tables, tc.alive, gone, tc.want, tc.limit)); got != tc.jobs {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.jobs)
		}
	}
}

// A node gone past the grace period: the driver (the first alive node)
// copies each of its partitions from a survivor to another node, the
// manifest then names the new copy in place of the gone one on every node,
// and the table reads whole with only the survivors.
func TestGoneNodeIsReReplicated(t *testing.T) {
	engines, net, _ := eventsCluster(t)
	for _, e := range engines {
		e.Config.RepairGrace = time.Millisecond
		e.Members.(*cluster.Fake).Fail("n3")
	}
	net.dead["grpc://n3"] = true
	if n := engines[1].Replicate(context.Background()); n != 0 {
		t.Fatalf("n2 is not the driver but made %d copies", n)
	}
	engines[0].Replicate(context.Background()) // notes n3 down
	time.Sleep(2 * time.Millisecond)
	// While n3 is down its partitions show, by table and in the status of
	// a query reading them.
	shown := func() (int, int) {
		tables := engines[0].ClusterStatus()["tables"].(map[string]*TableReplicas)
		res := runGrouped(t, engines, net, engines[0])
		raw, err := engines[0].QueryStatus(context.Background(), res.ID)
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			Under []UnderReplicated `json:"under_replicated"`
		}
		if err := json.Unmarshal(raw, &st); err != nil {
			t.Fatal(err)
		}
		for _, u := range st.Under {
			if u.Table != "events" || contains(u.Alive, "n3") {
				t.Fatalf("query status shows %+v", u)
			}
		}
		return len(tables["events"].UnderReplicated), len(st.Under)
	}
	before, _ := engines[0].Catalog.Table("events")
	onN3 := 0
	for _, p := range before.M.Parts {
		if contains(p.Holders, "n3") {
			onN3++
		}
	}
	if byTable, inQuery := shown(); byTable != onN3 || inQuery != onN3 {
		t.Fatalf("n3 held %d partitions; the status shows %d under-replicated, a query's status %d", onN3, byTable, inQuery)
	}
	if n := engines[0].Replicate(context.Background()); n != onN3 || n == 0 {
		t.Fatalf("made %d copies; n3 held %d partitions", n, onN3)
	}
	nodes := byName(engines)
	for _, e := range engines[:2] {
		tbl, _ := e.Catalog.Table("events")
		for i, p := range tbl.M.Parts {
			if len(p.Holders) != 2 || contains(p.Holders, "n3") {
				t.Fatalf("%s: partition %d holders %v", e.Self.Name, i, p.Holders)
			}
			for _, h := range p.Holders {
				if !holdsGoodCopy(nodes[h], "events", p) {
					t.Fatalf("partition %d: %s has no good copy", i, h)
				}
			}
		}
	}
	if under := engines[0].ClusterStatus()["under_replicated"].([]UnderReplicated); len(under) != 0 {
		t.Fatalf("still under-replicated: %+v", under)
	}
	if byTable, inQuery := shown(); byTable != 0 || inQuery != 0 {
		t.Fatalf("after re-replication the status shows %d under-replicated, a query's status %d", byTable, inQuery)
	}
	runGrouped(t, engines, net, engines[1])
}

// A partition stored while its node was alone gets its second copy once
// another node is up.
func TestCopiesStoredAloneAreReplicated(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	engines, net := testCluster(t, 2, mem)
	n1, n2 := engines[0], engines[1]
	n1.Members.(*cluster.Fake).Fail("n2")
	storeEvents(t, n1, mem)
	tbl, _ := n1.Catalog.Table("events")
	for _, p := range tbl.M.Parts {
		if strings.Join(p.Holders, ",") != "n1" {
			t.Fatalf("stored alone: holders %v", p.Holders)
		}
	}
	n1.Members.(*cluster.Fake).Join(n2.Self)
	if n := n1.Replicate(context.Background()); n != len(tbl.M.Parts) {
		t.Fatalf("made %d copies of %d partitions", n, len(tbl.M.Parts))
	}
	tbl, _ = n2.Catalog.Table("events")
	for i, p := range tbl.M.Parts {
		if strings.Join(p.Holders, ",") != "n1,n2" || !holdsGoodCopy(n2, "events", p) {
			t.Fatalf("partition %d: holders %v", i, p.Holders)
		}
	}
	net.mu.Lock()
	net.dead["grpc://n1"] = true
	net.mu.Unlock()
	n2.Members.(*cluster.Fake).Fail("n1")
	if files, err := n2.Catalog.TableFiles("events"); err != nil || len(files) != len(tbl.M.Parts) {
		t.Fatalf("n2 alone: %v", err)
	}
}

// A re-replication's manifest never wins over an upload committed
// meanwhile: it takes the version after the one it changed.
func TestReReplicationLosesToAConcurrentAppend(t *testing.T) {
	old := &catalog.Table{Name: "t", M: catalog.Manifest{Name: "t", Version: 100, Parts: []catalog.Part{{ID: "p0", Holders: []string{"a", "c"}}}}}
	m := withHolder(old, copyJob{Table: "t", Part: old.M.Parts[0], Source: "a", Target: "b", Gone: "c"})
	if m.Version != 101 || strings.Join(m.Parts[0].Holders, ",") != "a,b" || strings.Join(old.M.Parts[0].Holders, ",") != "a,c" {
		t.Fatalf("got %+v (old now %+v)", m, old.M)
	}
}
