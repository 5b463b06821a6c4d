package scheduler

import (
	"sort"
	"time"

	"slipstream/scheduler/catalog"
)

// Rebalancing: when no holder is down, the driver of re-replication
// (rereplicate.go) also evens out placement, so that a node that joins a
// loaded cluster takes its share of the partitions. A move is a copy job
// whose Gone is its Source: the lighter node fetches the copy, checks it
// and stages it durably, a manifest then names it in place of the heavier
// node, and only afterwards, and not before surplusKeep has passed, does
// the heavier node remove its file (Catalog.DropSurplus). So a partition is
// named by as many holders during a move as before it, and a copy stays on
// disk until the catalog has named its replacement for a while.

// planMoves decides which copies to move so that placement stays even:
// while the alive node holding the most copies holds two or more than the
// one holding the fewest, a partition held by the heavier and not by the
// lighter moves from one to the other. Only a partition whose holders are
// all alive and at least want is moved (one short of copies is for
// re-replication). Loads count copies, not bytes; ties go by name. At most
// limit moves.
func planMoves(tables []*catalog.Table, alive []string, want, limit int) []copyJob {
	live := map[string]bool{}
	load := map[string]int{}
	for _, n := range alive {
		live[n] = true
		load[n] = 0
	}
	type cand struct {
		table   string
		part    catalog.Part
		holders []string
	}
	var cands []*cand
	for _, t := range tables {
		for _, p := range t.M.Parts {
			ok := len(p.Holders) >= want && len(p.Holders) > 0
			for _, h := range p.Holders {
				if live[h] {
					load[h]++
				} else {
					ok = false
				}
			}
			if ok {
				cands = append(cands, &cand{t.Name, p, append([]string{}, p.Holders...)})
			}
		}
	}
	nodes := append([]string{}, alive...)
	var jobs []copyJob
	for len(jobs) < limit {
		// Heaviest first, lightest last; ties by name.
		sort.Slice(nodes, func(i, j int) bool {
			if load[nodes[i]] != load[nodes[j]] {
				return load[nodes[i]] > load[nodes[j]]
			}
			return nodes[i] < nodes[j]
		})
		var pick *cand
		var from, to string
	pairs:
		for i := 0; i < len(nodes); i++ {
			for k := len(nodes) - 1; k > i && load[nodes[i]]-load[nodes[k]] >= 2; k-- {
				for _, c := range cands {
					if contains(c.holders, nodes[i]) && !contains(c.holders, nodes[k]) {
						pick, from, to = c, nodes[i], nodes[k]
						break pairs
					}
				}
			}
		}
		if pick == nil {
			return jobs
		}
		jobs = append(jobs, copyJob{Table: pick.table, Part: pick.part, Source: from, Target: to, Gone: from, Move: true})
		load[from]--
		load[to]++
		for i, c := range cands { // moved once a round at most
			if c == pick {
				cands = append(cands[:i], cands[i+1:]...)
				break
			}
		}
	}
	return jobs
}

// surplusKeep is how long a node keeps a copy that no manifest names it
// for any more before removing it (Catalog.DropSurplus).
const surplusKeep = time.Minute

// DropSurplus removes this node's copies that the catalog no longer names
// it for, kept surplusKeep (keep, in tests) and only while the holders
// named instead are alive and at least the replication: dropping is never
// what leaves a partition short of copies.
func (e *Engine) DropSurplus(keep time.Duration) int {
	alive := map[string]bool{}
	for _, m := range e.Alive() {
		alive[m.Name] = true
	}
	want := e.replication(len(alive))
	return e.Catalog.DropSurplus(keep, func(_ string, p catalog.Part) bool {
		up := 0
		for _, h := range p.Holders {
			if alive[h] {
				up++
			}
		}
		return up >= want
	})
}
