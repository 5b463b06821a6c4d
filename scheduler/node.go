package scheduler

import (
	"context"
	"hash/fnv"
	"log/slog"
	"maps"
	"slipstream/kernels/budget"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"

	"slipstream/kernels/exec"
	"slipstream/scheduler/catalog"
	"slipstream/scheduler/cluster"
	"slipstream/scheduler/config"
	"slipstream/scheduler/stage"
)

func (e *Engine) init() {
	e.once.Do(func() {
		e.queries = newRegistry()
		if e.Self.Name == "" {
			e.Self = cluster.Member{Name: e.Catalog.Self(), State: cluster.Alive}
		}
		e.Config.EnsureDefaults()
		if e.Memory == nil { // no limit; allocations go to Mem, as tests check them
			e.Memory, _ = budget.NewPool(budget.Options{Limit: 1 << 60, Base: e.Mem})
		}
		e.outputs = newOutputs(e.Memory.Node())
		e.cuts = exec.NewCache[*stage.Graph]("cut-stages", 16<<20)
		e.plans = exec.NewCache[planned]("plans", 16<<20)
		e.metrics = e.newMetrics()
		exec.CountCachesIn(e.Memory.Node()) // one node per process; in tests, the last made
	})
}

// Outputs is what tasks run on this node left for others to read.
func (e *Engine) Outputs() *Outputs {
	e.init()
	return e.outputs
}

// Alive lists the nodes that get work, this one included, by name.
func (e *Engine) Alive() []cluster.Member {
	e.init()
	if e.Members == nil {
		return []cluster.Member{e.Self}
	}
	return e.Members.Alive()
}

// Distributed says whether queries run across nodes: more than one node
// is alive. (Alone, a node can read only the partitions it holds.)
func (e *Engine) Distributed() bool { return len(e.Alive()) > 1 }

// Settings is the node's configuration, its defaults filled in.
func (e *Engine) Settings() *config.Node {
	e.init()
	return &e.Config
}

func (e *Engine) replication(alive int) int {
	return max(1, min(e.Settings().Replication, alive))
}

// Store uploads a table: its rows are cut into partitions of
// Config.PartRows rows, each encoded once and stored durably on
// Replication alive nodes (replicas.go); when some partition is durable on
// fewer than the minimum (Config.MinReplicas) the upload is refused with
// Unavailable and nothing of it becomes visible. Otherwise the new manifest
// is committed here, then on every alive node. It returns the rows written
// and the table's rows after.
func (e *Engine) Store(ctx context.Context, name string, mode catalog.Mode, schema *arrow.Schema, next func() (arrow.RecordBatch, error)) (int64, int64, error) {
	e.init()
	if err := catalog.CheckUpload(e.Catalog.Current(name), name, mode, schema); err != nil {
		return 0, 0, err
	}
	alive := e.Alive()
	upload := catalog.NewID()
	start := int(hashString(name) % uint64(len(alive)))
	pw := e.newPartWriter(ctx, name, upload, schema, e.replication(len(alive)), func(i int) []cluster.Member { return rotate(alive, start+i) })
	defer pw.release()
	fail := func(err error) (int64, int64, error) {
		e.abortUpload(alive, upload)
		return 0, 0, err
	}
	for {
		b, err := next()
		if err != nil {
			return fail(err)
		}
		if b == nil {
			break
		}
		err = pw.write(b)
		b.Release()
		if err != nil {
			return fail(err)
		}
	}
	parts, err := pw.finish(true) // an empty upload still stores a partition
	if err != nil {
		return fail(err)
	}
	total, err := e.commit(ctx, name, upload, mode, schema, parts)
	if err != nil {
		return fail(err)
	}
	e.metrics.uploaded(pw.written, pw.bytes)
	return pw.written, total, nil
}

// maxPartBytes is the most bytes one partition file may take: an upload
// sends each partition to its holders in one message, and a gRPC message
// stops short of 2 GiB (copies between nodes stream in chunks and have no
// such limit). A partition of --part-rows rows that encodes larger is cut
// in halves until each half fits.
const maxPartBytes = 1<<31 - 1<<20

func (e *Engine) maxPartBytes() int64 {
	if e.partBytes > 0 {
		return e.partBytes
	}
	return maxPartBytes
}

// splitRows cuts batches into their first n rows and the rest (slices,
// which the caller releases; batches keep their own references).
func splitRows(batches []arrow.RecordBatch, n int64) (first, second []arrow.RecordBatch) {
	for _, b := range batches {
		switch k := b.NumRows(); {
		case n >= k:
			b.Retain()
			first = append(first, b)
			n -= k
		case n <= 0:
			b.Retain()
			second = append(second, b)
		default:
			first = append(first, b.NewSlice(0, n))
			second = append(second, b.NewSlice(n, k))
			n = 0
		}
	}
	return first, second
}

func (e *Engine) abortUpload(alive []cluster.Member, upload string) {
	e.Catalog.Abort(upload)
	for _, n := range alive {
		if n.Name != e.Self.Name {
			if err := e.Net.Abort(context.Background(), n.Addr, upload); err != nil {
				slog.Debug("abort_upload", "node", n.Name, "err", err)
			}
		}
	}
}

// broadcastManifest commits m (already committed here, which is what
// makes it visible) on every other alive node. A node that misses it
// catches up when it syncs: every holder the manifest names has its copy
// durably staged, and moves it into place when the manifest reaches it.
func (e *Engine) broadcastManifest(ctx context.Context, m catalog.Manifest, upload string) error {
	for _, n := range e.Alive() {
		if n.Name == e.Self.Name {
			continue
		}
		if err := e.Net.Commit(ctx, n.Addr, m, upload); err != nil {
			slog.Warn("a node missed a table's manifest; it will catch up when it syncs", "node", n.Name, "table", m.Name, "err", err)
		}
	}
	return nil
}

// CommitManifest adopts a manifest another node committed (Transport.Commit).
func (e *Engine) CommitManifest(m catalog.Manifest, upload string) error {
	_, err := e.Catalog.Commit(m, upload)
	return err
}

// Drop drops a table on every alive node.
func (e *Engine) Drop(ctx context.Context, name string) (bool, error) {
	tomb, err := e.Catalog.Drop(name)
	if tomb == nil || err != nil {
		return false, err
	}
	return true, e.broadcastManifest(ctx, *tomb, "")
}

// SyncCatalog adopts every manifest an alive node has that is newer than
// this node's: how a node that joins late, or restarts, learns the catalog.
func (e *Engine) SyncCatalog(ctx context.Context) {
	for _, n := range e.Alive() {
		if n.Name != e.Self.Name {
			e.syncFrom(ctx, n.Addr)
		}
	}
}

// syncFrom adopts the newer manifests of the node at addr.
func (e *Engine) syncFrom(ctx context.Context, addr string) {
	ms, err := e.Net.Manifests(ctx, addr)
	if err != nil {
		slog.Debug("catalog sync", "node", addr, "err", err)
		return
	}
	for _, m := range ms {
		if ok, err := e.Catalog.Commit(m, ""); err != nil {
			slog.Warn("catalog sync", "table", m.Name, "err", err)
		} else if ok {
			slog.Info("learned a table from a peer", "table", m.Name, "version", m.Version, "from", addr)
		}
	}
}

// ClusterStatus describes the cluster as this node sees it (cl.cluster()).
func (e *Engine) ClusterStatus() map[string]any {
	e.init()
	members := []cluster.Member{e.Self}
	if e.Members != nil {
		members = e.Members.Members()
	}
	held := map[string]int{}
	for _, t := range e.Catalog.Tables() {
		for _, p := range t.M.Parts {
			for _, h := range p.Holders {
				held[h]++
			}
		}
	}
	type row struct {
		cluster.Member
		Partitions int `json:"partitions"`
	}
	rows := make([]row, len(members))
	for i, m := range members {
		rows[i] = row{m, held[m.Name]}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	out := map[string]any{"self": e.Self.Name, "members": rows, "replication": e.replication(len(e.Alive()))}
	maps.Copy(out, e.replicaStatus())
	return out
}

func hashString(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}
