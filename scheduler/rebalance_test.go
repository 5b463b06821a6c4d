package scheduler

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/scheduler/catalog"
	"slipstream/scheduler/cluster"
)

func TestPlanMoves(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tables []*catalog.Table
		alive  []string
		want   int
		limit  int
		jobs   string
	}{
		{"even", tablesOf([]string{"a", "b"}, []string{"b", "c"}, []string{"c", "a"}), []string{"a", "b", "c"}, 2, 9, ""},
		// c joined two nodes holding three partitions each: two move to it,
		// one from each (6 copies, 2 each).
		{"join", tablesOf([]string{"a", "b"}, []string{"a", "b"}, []string{"a", "b"}), []string{"a", "b", "c"}, 2, 9,
			"p0 a->c for a; p1 b->c for b"},
		{"limit", tablesOf([]string{"a", "b"}, []string{"a", "b"}, []string{"a", "b"}), []string{"a", "b", "c"}, 2, 1, "p0 a->c for a"},
		// A difference of one is even enough.
		{"off by one", tablesOf([]string{"a", "b"}, []string{"a", "c"}), []string{"a", "b", "c"}, 2, 9, ""},
		// A partition with a holder down, or short of copies, is not moved.
		{"holder down", tablesOf([]string{"a", "d"}, []string{"a", "d"}), []string{"a", "b", "c"}, 2, 9, ""},
		{"short", tablesOf([]string{"a"}, []string{"a"}, []string{"a"}), []string{"a", "b", "c"}, 2, 9, ""},
		// Replication 1: single copies spread too.
		{"one copy", tablesOf([]string{"a"}, []string{"a"}, []string{"a"}, []string{"a"}), []string{"a", "b"}, 1, 9,
			"p0 a->b for a; p1 a->b for a"},
	} {
		if got := renderJobs(planMoves(tc.tables, tc.alive, tc.want, tc.limit)); got != tc.jobs {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.jobs)
		}
	}
}

// A node that joins a loaded cluster receives its share: the driver moves
// copies to it one at a time, every partition keeps two holders with good
// copies throughout, queries answer right, and the nodes moved from drop
// their surplus files only afterwards.
func TestJoiningNodeReceivesItsShare(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	engines, net := testCluster(t, 3, mem)
	for _, e := range engines[:2] { // n3 is not there yet
		e.Members.(*cluster.Fake).Fail("n3")
	}
	storeEvents(t, engines[0], mem)
	nodes := byName(engines)
	n3 := nodes["n3"]
	for _, e := range engines[:2] {
		e.Members.(*cluster.Fake).Join(n3.Self)
	}
	n3.SyncCatalog(context.Background())
	loads := func() map[string]int {
		out := map[string]int{}
		tbl, _ := engines[0].Catalog.Table("events")
		for _, p := range tbl.M.Parts {
			for _, h := range p.Holders {
				out[h]++
			}
		}
		return out
	}
	if l := loads(); l["n1"] != 10 || l["n2"] != 10 || l["n3"] != 0 {
		t.Fatalf("before the join: loads %v", l)
	}
	if n := engines[1].Replicate(context.Background()); n != 0 {
		t.Fatalf("n2 is not the driver but moved %d copies", n)
	}
	for round := 0; ; round++ {
		n := engines[0].Replicate(context.Background())
		for _, e := range engines {
			tbl, _ := e.Catalog.Table("events")
			for i, p := range tbl.M.Parts {
				if len(p.Holders) != 2 || p.Holders[0] == p.Holders[1] {
					t.Fatalf("%s: partition %d holders %v", e.Self.Name, i, p.Holders)
				}
				for _, h := range p.Holders {
					if !holdsGoodCopy(nodes[h], "events", p) {
						t.Fatalf("partition %d: %s has no good copy", i, h)
					}
				}
			}
		}
		runGrouped(t, engines, net, engines[round%3])
		if n == 0 {
			break
		}
		if round > 3 {
			t.Fatal("rebalancing does not settle")
		}
	}
	if l := loads(); l["n1"] != 7 || l["n2"] != 7 || l["n3"] != 6 {
		t.Fatalf("after rebalancing: loads %v, want 7, 7, 6", l)
	}
	if st := engines[0].ClusterStatus(); st["rebalanced"] != int64(6) {
		t.Fatalf("status says %v moves", st["rebalanced"])
	}
	// The copies moved away stay until kept long enough, then go.
	files := func(e *Engine) int {
		m, _ := filepath.Glob(filepath.Join(e.Catalog.Dir(), "parts", "*.arrow"))
		return len(m)
	}
	for _, e := range engines[:2] {
		if dropped := e.DropSurplus(0); dropped != 0 || files(e) != 10 {
			t.Fatalf("%s dropped %d at once; %d files", e.Self.Name, dropped, files(e))
		}
		if dropped := e.DropSurplus(0); dropped != 3 || files(e) != 7 {
			t.Fatalf("%s dropped %d copies; %d files left, want 7", e.Self.Name, dropped, files(e))
		}
	}
	runGrouped(t, engines, net, engines[2])
	// Any one node down: the others still hold every partition.
	for _, down := range engines {
		net.mu.Lock()
		net.dead[down.Self.Addr] = true
		net.mu.Unlock()
		for _, e := range engines {
			e.Members.(*cluster.Fake).Fail(down.Self.Name)
		}
		ask := engines[0]
		if ask == down {
			ask = engines[1]
		}
		runGrouped(t, engines, net, ask)
		net.mu.Lock()
		net.dead[down.Self.Addr] = false
		net.mu.Unlock()
		for _, e := range engines {
			e.Members.(*cluster.Fake).Join(down.Self)
		}
	}
}

// A copy moved away is kept while the holders named instead are down.
func TestSurplusIsKeptWhileItsHoldersAreDown(t *testing.T) {
	engines, _, _ := eventsCluster(t)
	n1 := engines[0]
	tbl, _ := n1.Catalog.Table("events")
	var p catalog.Part
	for _, q := range tbl.M.Parts {
		if contains(q.Holders, "n1") {
			p = q
			break
		}
	}
	other := p.Holders[0]
	if other == "n1" {
		other = p.Holders[1]
	}
	// A manifest moves p from n1 to the third node.
	third := map[string]bool{"n1": true, "n2": true, "n3": true}
	delete(third, "n1")
	delete(third, other)
	var to string
	for n := range third {
		to = n
	}
	m := withHolder(tbl, copyJob{Table: "events", Part: p, Source: "n1", Target: to, Gone: "n1", Move: true})
	if _, err := n1.Catalog.Commit(*m, ""); err != nil {
		t.Fatal(err)
	}
	n1.Members.(*cluster.Fake).Fail(to)
	path := filepath.Join(n1.Catalog.Dir(), "parts", p.ID+".arrow")
	for range 3 {
		if n1.DropSurplus(0) != 0 {
			t.Fatal("dropped a copy while a holder named instead is down")
		}
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	n1.Members.(*cluster.Fake).Join(byName(engines)[to].Self)
	if n1.DropSurplus(0) != 1 {
		t.Fatal("kept the surplus copy with every holder up")
	}
	if _, err := os.Stat(path); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("the file is still there: %v", err)
	}
}
