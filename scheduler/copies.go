package scheduler

import (
	"context"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"slipstream/scheduler/catalog"
)

// Copies between nodes: repairs (a node fetching a copy it should hold),
// re-replication and rebalancing (a node fetching a copy the driver asked
// it to make). Every copy a node receives is paced by one limiter of
// --repair-rate bytes per second, so that queries go on beside them: the
// receiver writes each chunk only once the limiter allows it, and gRPC's
// flow control holds the sender back meanwhile. Each copy in progress is
// listed in the cluster status (ClusterStatus "repairs").

// copyKind names why a copy is made.
const (
	kindRepair    = "repair"         // this node fetches its own missing or damaged copy
	kindReplicate = "re-replication" // this node drives a copy replacing a gone holder
	kindRebalance = "rebalancing"    // this node drives a move to even out placement
	kindCopy      = "copy"           // this node makes a copy another node drives
)

// copyProgress is one copy in progress, as the status shows it.
type copyProgress struct {
	Kind    string    `json:"kind"`
	Table   string    `json:"table"`
	Part    string    `json:"partition_id"`
	From    string    `json:"from"`
	To      string    `json:"to"`
	Started time.Time `json:"started"`
	bytes   atomic.Int64
}

// copies is the copies a node is making or driving.
type copies struct {
	mu      sync.Mutex
	running map[*copyProgress]bool
	limiter *rate.Limiter
}

// startCopy lists a copy as in progress until the returned func is called.
func (e *Engine) startCopy(kind, table, part, from, to string) (*copyProgress, func()) {
	cp := &copyProgress{Kind: kind, Table: table, Part: part, From: from, To: to, Started: time.Now()}
	c := &e.copies
	c.mu.Lock()
	if c.running == nil {
		c.running = map[*copyProgress]bool{}
	}
	c.running[cp] = true
	c.mu.Unlock()
	return cp, func() {
		c.mu.Lock()
		delete(c.running, cp)
		c.mu.Unlock()
	}
}

// CopyStatus is one copy in progress in the cluster status.
type CopyStatus struct {
	Kind        string  `json:"kind"`
	Table       string  `json:"table"`
	Part        string  `json:"partition_id"`
	From        string  `json:"from"`
	To          string  `json:"to"`
	BytesCopied int64   `json:"bytes_copied"`
	Seconds     float64 `json:"seconds"`
}

// copiesRunning lists the copies in progress, oldest first.
func (e *Engine) copiesRunning() []CopyStatus {
	c := &e.copies
	c.mu.Lock()
	out := make([]CopyStatus, 0, len(c.running))
	for cp := range c.running {
		out = append(out, CopyStatus{Kind: cp.Kind, Table: cp.Table, Part: cp.Part, From: cp.From, To: cp.To,
			BytesCopied: cp.bytes.Load(), Seconds: time.Since(cp.Started).Seconds()})
	}
	c.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool { return out[i].Seconds > out[j].Seconds })
	return out
}

// limiter is the node's pace for the copies it receives.
func (e *Engine) limiter() *rate.Limiter {
	c := &e.copies
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.limiter == nil {
		r := e.Settings().RepairRate
		c.limiter = rate.NewLimiter(rate.Limit(r), int(min(r, catalog.ChunkSize)))
	}
	return c.limiter
}

// fetch is a catalog.Fetch of partition id of table from the node at
// addr, paced by --repair-rate and counted in cp.
func (e *Engine) fetch(ctx context.Context, addr, table, id string, cp *copyProgress) catalog.Fetch {
	return func(w io.Writer) (string, error) {
		return e.Net.FetchPart(ctx, addr, table, id, &paced{ctx: ctx, lim: e.limiter(), w: w, n: &cp.bytes})
	}
}

// paced writes to w no faster than lim allows, counting the bytes in n.
type paced struct {
	ctx context.Context
	lim *rate.Limiter
	w   io.Writer
	n   *atomic.Int64
}

func (p *paced) Write(b []byte) (int, error) {
	done := 0
	for done < len(b) {
		k := min(len(b)-done, p.lim.Burst())
		if err := p.lim.WaitN(p.ctx, k); err != nil {
			return done, err
		}
		m, err := p.w.Write(b[done : done+k])
		done += m
		p.n.Add(int64(m))
		if err != nil {
			return done, err
		}
	}
	return done, nil
}
