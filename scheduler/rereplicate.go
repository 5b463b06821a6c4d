package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"slipstream/kernels"
	"slipstream/scheduler/catalog"
	"slipstream/scheduler/planpb"
)

// Re-replication: the partitions of a node gone for longer than
// --repair-grace are copied, from a live holder, to the live node holding
// the fewest partitions, until each is back at the replication (or on
// every live node, when fewer are alive).
//
// One node drives it: the alive node whose name sorts first, so that two
// nodes do not copy the same partition. planCopies decides (a pure
// function, tested apart); Replicate carries the copies out one at a time,
// each paced by the target's --repair-rate (copies.go), in three steps:
//
//  1. the target fetches the copy from the source, checks it against the
//     checksum and stages it durably (copy_part);
//  2. the driver commits a manifest in which the target replaces the gone
//     holder: the old copy is dropped from the catalog only now that the
//     new one is verified and durable;
//  3. every alive node adopts it; the target moves its staged copy into
//     place (or does so when the manifest reaches it later).
//
// The manifest of step 2 takes the version after the one it changes, not
// the clock: an upload or append committed meanwhile elsewhere has a higher
// version and wins, so a re-replication can lose only its own work (the
// partition stays under-replicated and is copied again), never a row.

// copyJob copies one partition of a table from Source to Target, which
// replaces Gone among its holders.
// Move marks a rebalancing move (rebalance.go): Gone is Source, alive.
type copyJob struct {
	Table          string
	Part           catalog.Part
	Source, Target string
	Gone           string
	Move           bool
}

func (j copyJob) String() string {
	if j.Move {
		return fmt.Sprintf("partition %s of %q: %s -> %s (moving)", j.Part.ID, j.Table, j.Source, j.Target)
	}
	if j.Gone == "" {
		return fmt.Sprintf("partition %s of %q: %s -> %s (one copy short)", j.Part.ID, j.Table, j.Source, j.Target)
	}
	return fmt.Sprintf("partition %s of %q: %s -> %s (replacing %s)", j.Part.ID, j.Table, j.Source, j.Target, j.Gone)
}

// planCopies decides which partitions to copy where: each partition with
// fewer than want holders in alive gets one copy, from its first live
// holder to the live non-holder holding the fewest partitions (counting the
// copies planned; ties by name), when a holder of it is in gone (the copy
// replaces it) or every holder is alive (it was stored while fewer nodes
// were up); a partition with a holder down but not yet gone waits. At most
// limit.
func planCopies(tables []*catalog.Table, alive []string, gone map[string]bool, want, limit int) []copyJob {
	live := map[string]bool{}
	for _, n := range alive {
		live[n] = true
	}
	load := map[string]int{}
	for _, n := range alive {
		load[n] = 0
	}
	for _, t := range tables {
		for _, p := range t.M.Parts {
			for _, h := range p.Holders {
				if live[h] {
					load[h]++
				}
			}
		}
	}
	nodes := append([]string{}, alive...)
	sort.Strings(nodes)
	var jobs []copyJob
	for _, t := range tables {
		for _, p := range t.M.Parts {
			if len(jobs) >= limit {
				return jobs
			}
			var up []string
			lost, waiting := "", false
			for _, h := range p.Holders {
				switch {
				case live[h]:
					up = append(up, h)
				case gone[h]:
					if lost == "" {
						lost = h
					}
				default:
					waiting = true
				}
			}
			if len(up) == 0 || len(up) >= want || (lost == "" && waiting) {
				continue
			}
			target := ""
			for _, n := range nodes {
				if !contains(p.Holders, n) && (target == "" || load[n] < load[target]) {
					target = n
				}
			}
			if target == "" {
				continue
			}
			load[target]++
			jobs = append(jobs, copyJob{Table: t.Name, Part: p, Source: up[0], Target: target, Gone: lost})
		}
	}
	return jobs
}

// replicator is the driver's state on a node.
type replicator struct {
	mu        sync.Mutex
	downSince map[string]time.Time // holders not alive, since when this node saw them so
	copying   string               // the copy in progress, for the status
	copied    int64                // re-replications made
	moved     int64                // rebalancing moves made
}

// goneNodes notes which holders are not alive and returns those down for
// longer than grace, and how many are down at all.
func (e *Engine) goneNodes(now time.Time, grace time.Duration) (map[string]bool, int) {
	alive := map[string]bool{}
	for _, m := range e.Alive() {
		alive[m.Name] = true
	}
	r := &e.repl
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.downSince == nil {
		r.downSince = map[string]time.Time{}
	}
	seen := map[string]bool{}
	for _, t := range e.Catalog.Tables() {
		for _, p := range t.M.Parts {
			for _, h := range p.Holders {
				if !alive[h] {
					seen[h] = true
				}
			}
		}
	}
	gone := map[string]bool{}
	for n := range seen {
		since, ok := r.downSince[n]
		if !ok {
			r.downSince[n] = now
			since = now
		}
		if now.Sub(since) >= grace {
			gone[n] = true
		}
	}
	for n := range r.downSince {
		if !seen[n] {
			delete(r.downSince, n)
		}
	}
	return gone, len(seen)
}

// copiesPerRound bounds the copies one round of Replicate makes.
const copiesPerRound = 16

// Replicate runs one round of re-replication if this node drives it (the
// first alive node by name): it copies the partitions of nodes gone for
// longer than Config.RepairGrace, one at a time; when no holder is down it
// evens out placement instead (rebalance.go). It returns the copies made.
func (e *Engine) Replicate(ctx context.Context) int {
	e.init()
	alive := e.Alive()
	names := make([]string, len(alive))
	for i, m := range alive {
		names[i] = m.Name
	}
	sort.Strings(names)
	gone, down := e.goneNodes(time.Now(), e.Settings().RepairGrace)
	if len(names) == 0 || names[0] != e.Self.Name {
		return 0
	}
	want := e.replication(len(alive))
	jobs := planCopies(e.Catalog.Tables(), names, gone, want, copiesPerRound)
	if len(jobs) == 0 && down == 0 {
		jobs = planMoves(e.Catalog.Tables(), names, want, copiesPerRound)
	}
	done := 0
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		if err := e.copyPart(ctx, j); err != nil {
			slog.Warn("re-replication or rebalancing: a copy failed; it is tried again next round", "copy", j.String(), "err", err)
			continue
		}
		done++
		if j.Move {
			slog.Info("moved a partition to even out placement", "copy", j.String())
		} else {
			slog.Info("re-replicated a partition", "copy", j.String())
		}
	}
	return done
}

// copyPart carries out one copy job (the three steps above).
func (e *Engine) copyPart(ctx context.Context, j copyJob) error {
	addrs := map[string]string{}
	for _, m := range e.Alive() {
		addrs[m.Name] = m.Addr
	}
	if addrs[j.Source] == "" || addrs[j.Target] == "" {
		return kernels.Errorf(kernels.Unavailable, "%s: the source or the target is no longer alive", j)
	}
	kind := kindReplicate
	if j.Move {
		kind = kindRebalance
	}
	cp, done := e.startCopy(kind, j.Table, j.Part.ID, j.Source, j.Target)
	defer done()
	e.repl.mu.Lock()
	e.repl.copying = j.String()
	e.repl.mu.Unlock()
	defer func() {
		e.repl.mu.Lock()
		e.repl.copying = ""
		e.repl.mu.Unlock()
	}()
	stage := "copy" + catalog.NewID()
	cmd := &planpb.StorePart{UploadId: stage, PartId: j.Part.ID, Table: j.Table, Source: addrs[j.Source], Checksum: j.Part.Checksum}
	var err error
	if j.Target == e.Self.Name {
		err = e.copyFrom(ctx, cmd, cp)
	} else {
		err = e.Net.CopyPart(ctx, addrs[j.Target], cmd)
	}
	if err != nil {
		return err
	}
	var m *catalog.Manifest
	err = e.Catalog.Update(j.Table, stage, func(old *catalog.Table) (*catalog.Manifest, error) {
		m = withHolder(old, j)
		return m, nil
	})
	if err != nil || m == nil {
		e.abortUpload(e.Alive(), stage)
		if err == nil {
			err = kernels.Errorf(kernels.Unavailable, "%s: the table changed meanwhile", j)
		}
		return err
	}
	e.repl.mu.Lock()
	if j.Move {
		e.repl.moved++
	} else {
		e.repl.copied++
	}
	e.repl.mu.Unlock()
	return e.broadcastManifest(ctx, *m, stage)
}

// withHolder is old's manifest with j.Target holding j's partition in
// place of j.Gone, at the next version; nil when the partition is gone
// from the table or already held by the target.
func withHolder(old *catalog.Table, j copyJob) *catalog.Manifest {
	if old == nil {
		return nil
	}
	m := old.M
	m.Version++
	m.Parts = make([]catalog.Part, len(old.M.Parts))
	copy(m.Parts, old.M.Parts)
	for i, p := range m.Parts {
		if p.ID != j.Part.ID {
			continue
		}
		if contains(p.Holders, j.Target) {
			return nil
		}
		var holders []string
		for _, h := range p.Holders {
			if h != j.Gone {
				holders = append(holders, h)
			}
		}
		m.Parts[i].Holders = append(holders, j.Target)
		return &m
	}
	return nil
}

// CopyPartFrom fetches a copy of a partition from the node at cmd.Source
// and stages it durably under cmd.UploadId, checked against cmd.Checksum
// (the driver's manifest's; else this node's manifest's) (Transport.CopyPart
// on the target).
func (e *Engine) CopyPartFrom(ctx context.Context, cmd *planpb.StorePart) error {
	from := cmd.GetSource()
	for _, m := range e.Alive() {
		if m.Addr == from {
			from = m.Name
		}
	}
	cp, done := e.startCopy(kindCopy, cmd.GetTable(), cmd.GetPartId(), from, e.Self.Name)
	defer done()
	return e.copyFrom(ctx, cmd, cp)
}

func (e *Engine) copyFrom(ctx context.Context, cmd *planpb.StorePart, cp *copyProgress) error {
	return e.Catalog.StageFrom(cmd.GetUploadId(), cmd.GetPartId(), cmd.GetTable(), cmd.GetChecksum(),
		e.fetch(ctx, cmd.GetSource(), cmd.GetTable(), cmd.GetPartId(), cp))
}
