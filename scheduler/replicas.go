package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"slipstream/kernels"
	"slipstream/scheduler/catalog"
	"slipstream/scheduler/cluster"
	"slipstream/scheduler/planpb"
)

// Replicas: how many copies an upload makes and waits for, and how a node
// keeps the copies the catalog says it holds (repair).
//
// Invariants:
//   - A manifest names a node as a holder only once that node has the
//     partition's file fsynced (in an upload's staging or in place); a
//     staged copy survives a restart and is moved into place when the
//     manifest reaches the node.
//   - An upload is acknowledged only when every partition is durable on
//     at least minReplicas holders; otherwise nothing of it is committed.
//   - A copy that is missing or fails its checksum is never read: the
//     node answers that it does not hold it, and repairs it from another
//     holder, checking the checksum of what it fetched.

// minReplicas is how many durable copies of each partition an upload
// waits for, given that it makes rf: --min-replicas when set, else rf
// (Replication, or the alive nodes when fewer; so at least two whenever
// two nodes are alive and Replication is at least two).
func (e *Engine) minReplicas(rf int) int {
	if w := e.Settings().MinReplicas; w > 0 {
		return w
	}
	return rf
}

// rotate is nodes starting at the i-th (mod their number).
func rotate(nodes []cluster.Member, i int) []cluster.Member {
	out := make([]cluster.Member, 0, len(nodes))
	for j := range nodes {
		out = append(out, nodes[(i+j)%len(nodes)])
	}
	return out
}

// storeCopies stores the partition file in cmd on rf of nodes, in
// parallel: the first rf at once, then, for each that failed, the next
// node not tried, until rf hold it or every node was tried. It returns
// the nodes that hold a durable copy, in the order of nodes, and why each
// other node tried failed.
func (e *Engine) storeCopies(ctx context.Context, nodes []cluster.Member, rf int, cmd *planpb.StorePart) ([]string, map[string]error) {
	failed := map[string]error{}
	ok := map[string]bool{}
	next := 0
	for len(ok) < rf && next < len(nodes) {
		batch := nodes[next:min(len(nodes), next+rf-len(ok))]
		next += len(batch)
		errs := make([]error, len(batch))
		var wg sync.WaitGroup
		for i, n := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = e.storeCopy(ctx, n, cmd)
			}()
		}
		wg.Wait()
		for i, n := range batch {
			if errs[i] != nil {
				slog.Warn("could not store a partition on a node; trying another", "node", n.Name, "table", cmd.GetTable(), "part", cmd.GetPartId(), "err", errs[i])
				failed[n.Name] = errs[i]
				continue
			}
			ok[n.Name] = true
		}
		if ctx.Err() != nil {
			break
		}
	}
	var holders []string
	for _, n := range nodes {
		if ok[n.Name] {
			holders = append(holders, n.Name)
		}
	}
	return holders, failed
}

func (e *Engine) storeCopy(ctx context.Context, node cluster.Member, cmd *planpb.StorePart) error {
	if e.Fault != nil {
		e.Fault("store-part:" + node.Name)
	}
	if node.Name == e.Self.Name {
		return e.Catalog.StageBytes(cmd.GetUploadId(), cmd.GetPartId(), cmd.GetTable(), cmd.GetData(), cmd.GetChecksum())
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	return e.Net.StorePart(ctx, node.Addr, cmd)
}

// storeTimeout bounds one copy's transfer and fsync: a node that hangs
// (frozen, cut off) is given up on and another tried.
const storeTimeout = 2 * time.Minute

// refused is the error of an upload a partition of which could not be
// made durable on w nodes.
func refused(table string, i int, id string, holders []string, failed map[string]error, w int) error {
	names := make([]string, 0, len(failed))
	for n := range failed {
		names = append(names, n)
	}
	sort.Strings(names)
	why := make([]string, len(names))
	for j, n := range names {
		why[j] = fmt.Sprintf("%s (%v)", n, failed[n])
	}
	held := "no node"
	if len(holders) > 0 {
		held = strings.Join(holders, ", ")
	}
	failedText := "none; too few nodes are alive"
	if len(why) > 0 {
		failedText = strings.Join(why, "; ")
	}
	return kernels.Errorf(kernels.Unavailable,
		"upload of %q refused: partition %d (%s) is durable on %s, but %d copies are required (--min-replicas); nodes that failed: %s. Nothing of this upload was stored; retry when more nodes are up",
		table, i, id, held, w, failedText)
}

// UnderReplicated is a partition with fewer copies on alive nodes than
// the replication asks for (cl.cluster().under_replicated).
type UnderReplicated struct {
	Table     string   `json:"table"`
	Partition int      `json:"partition"`
	ID        string   `json:"id"`
	Holders   []string `json:"holders"`
	Alive     []string `json:"alive_holders"`
}

// TableReplicas is how one table's partitions stand (cluster status
// "tables"): how many it has and the indices of those under-replicated.
type TableReplicas struct {
	Partitions      int   `json:"partitions"`
	UnderReplicated []int `json:"under_replicated"`
}

// underReplicated lists the partitions of the given tables (nil: all) with
// fewer than min(--replication, nodes known) copies on alive nodes.
func (e *Engine) underReplicated(only map[string]bool) []UnderReplicated {
	alive := map[string]bool{}
	for _, m := range e.Alive() {
		alive[m.Name] = true
	}
	known := 1
	if e.Members != nil {
		known = len(e.Members.Members())
	}
	want := min(e.Settings().Replication, known)
	under := []UnderReplicated{}
	for _, t := range e.Catalog.Tables() {
		if only != nil && !only[t.Name] {
			continue
		}
		for i, p := range t.M.Parts {
			var up []string
			for _, h := range p.Holders {
				if alive[h] {
					up = append(up, h)
				}
			}
			if len(up) < want {
				under = append(under, UnderReplicated{Table: t.Name, Partition: i, ID: p.ID, Holders: p.Holders, Alive: append([]string{}, up...)})
			}
		}
	}
	return under
}

// UnderReplicatedParts lists the partitions of every table with fewer than
// min(--replication, nodes known) copies on alive nodes (the dashboard's
// tables page).
func (e *Engine) UnderReplicatedParts() []UnderReplicated { return e.underReplicated(nil) }

// replicaStatus is the replication part of ClusterStatus: the minimum
// copies an upload waits for now, the partitions with fewer than
// min(--replication, nodes known) copies on alive nodes (in a list, and
// by table), the copies this node is making or driving now (copies.go),
// and this node's own repairs: copies it lacks and has not yet fetched,
// damaged copies found since start, copies repaired since start.
func (e *Engine) replicaStatus() map[string]any {
	under := e.underReplicated(nil)
	tables := map[string]*TableReplicas{}
	for _, t := range e.Catalog.Tables() {
		tables[t.Name] = &TableReplicas{Partitions: len(t.M.Parts), UnderReplicated: []int{}}
	}
	for _, u := range under {
		if t := tables[u.Table]; t != nil {
			t.UnderReplicated = append(t.UnderReplicated, u.Partition)
		}
	}
	e.repl.mu.Lock()
	copying, copied, moved := e.repl.copying, e.repl.copied, e.repl.moved
	e.repl.mu.Unlock()
	return map[string]any{
		"re_replicating":   copying,
		"re_replicated":    copied,
		"rebalanced":       moved,
		"min_replicas":     e.minReplicas(e.replication(len(e.Alive()))),
		"under_replicated": under,
		"tables":           tables,
		"repairs":          e.copiesRunning(),
		"repairs_pending":  e.repairsLeft.Load(),
		"damaged_found":    e.Catalog.DamagedFound(),
		"repaired":         e.repaired.Load(),
	}
}

// queryReplicas is what a cluster query's status shows of replication:
// the under-replicated partitions of the stored tables it reads and the
// copies of them in progress on this node (a query reading a table being
// repaired competes with the copies, and has fewer holders to fall back on).
func (e *Engine) queryReplicas(id string) ([]UnderReplicated, []CopyStatus) {
	r, ok := e.queries.get(id)
	if !ok {
		return []UnderReplicated{}, []CopyStatus{}
	}
	r.mu.Lock()
	g := r.g
	r.mu.Unlock()
	tables := map[string]bool{}
	if g != nil {
		for _, s := range g.Stages {
			if s.Scan != nil && s.Scan.Table != "" {
				tables[s.Scan.Table] = true
			}
		}
	}
	repairs := []CopyStatus{}
	for _, c := range e.copiesRunning() {
		if tables[c.Table] {
			repairs = append(repairs, c)
		}
	}
	return e.underReplicated(tables), repairs
}

// Repair fetches from another holder every copy this node should hold
// but lacks or holds damaged (full: read every file to check it; else
// trust the files verified before and unchanged since). It returns how
// many copies it repaired and how many it could not.
func (e *Engine) Repair(ctx context.Context, full bool) (repaired, left int) {
	e.init()
	for _, ref := range e.Catalog.Reconcile(full) {
		if ctx.Err() != nil {
			e.repairsLeft.Store(int64(left + 1))
			return repaired, left + 1
		}
		if err := e.repairPart(ctx, ref); err != nil {
			slog.Warn("could not repair a partition yet; reads go to its other holders", "table", ref.Table, "part", ref.Part.ID, "problem", ref.Problem, "err", err)
			left++
			continue
		}
		repaired++
		e.repaired.Add(1)
		slog.Info("repaired a partition from a replica", "table", ref.Table, "part", ref.Part.ID, "problem", ref.Problem)
	}
	e.repairsLeft.Store(int64(left))
	return repaired, left
}

// repairPart fetches a good copy of ref's partition from its other
// holders, in turn.
func (e *Engine) repairPart(ctx context.Context, ref catalog.PartRef) error {
	addrs := map[string]string{}
	for _, m := range e.Alive() {
		addrs[m.Name] = m.Addr
	}
	var why []string
	for _, h := range ref.Part.Holders {
		if h == e.Self.Name {
			continue
		}
		addr, ok := addrs[h]
		if !ok {
			why = append(why, h+": down")
			continue
		}
		cp, done := e.startCopy(kindRepair, ref.Table, ref.Part.ID, h, e.Self.Name)
		err := e.Catalog.InstallFrom(ref.Table, ref.Part.ID, e.fetch(ctx, addr, ref.Table, ref.Part.ID, cp))
		done()
		if err != nil {
			why = append(why, fmt.Sprintf("%s: %v", h, err))
			continue
		}
		return nil
	}
	return kernels.Errorf(kernels.Unavailable, "partition %s of table %q is %s here and no other holder gave a good copy (%s)",
		ref.Part.ID, ref.Table, ref.Problem, strings.Join(why, "; "))
}

// Maintain keeps this node's catalog and copies in step with the cluster
// until ctx ends (and drives re-replication and rebalancing when it is the
// node to, rereplicate.go, and removes copies moved away, every retryRepair): it syncs the catalog and checks every copy it should
// hold (reading each file) at start, then syncs on every membership
// change and every syncEvery (a commit sent while this node was not yet
// seen alive reaches it so), and repairs whatever is found missing or
// damaged, trying again every few seconds while something is left.
func (e *Engine) Maintain(ctx context.Context, changes <-chan struct{}) {
	e.SyncCatalog(ctx)
	_, left := e.Repair(ctx, true)
	tick := time.NewTicker(retryRepair)
	defer tick.Stop()
	sync := time.NewTicker(syncEvery)
	defer sync.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-changes:
			e.SyncCatalog(ctx)
		case <-sync.C:
			e.SyncCatalog(ctx)
		case <-e.Catalog.RepairWanted():
		case <-tick.C:
			e.Replicate(ctx)
			e.DropSurplus(surplusKeep)
			if left == 0 {
				continue
			}
		}
		_, left = e.Repair(ctx, false)
	}
}

const (
	// retryRepair is how often a node tries again to repair copies it
	// could not (their other holders were down).
	retryRepair = 3 * time.Second
	// syncEvery is how often a node asks the others for newer manifests
	// besides membership changes.
	syncEvery = 10 * time.Second
)
