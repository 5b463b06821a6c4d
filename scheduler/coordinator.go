package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"slipstream/kernels"
	"slipstream/scheduler/catalog"
	"slipstream/scheduler/cluster"
	"slipstream/scheduler/physical"
	"slipstream/scheduler/planpb"
	"slipstream/scheduler/stage"
)

// maxAttempts bounds how often one task is tried before the query fails.
const maxAttempts = 4

// Receipt records one attempt of one task.
type Receipt struct {
	Query   string  `json:"query"`
	Stage   int     `json:"stage"`
	Task    int     `json:"task"`
	Attempt int     `json:"attempt"`
	Node    string  `json:"node"`
	State   string  `json:"state"` // running, done, failed, lost (its node died after it was done)
	Rows    int64   `json:"rows"`
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
	Error   string  `json:"error,omitempty"`
}

// QueryStatus is what the query_status action reports.
type QueryStatus struct {
	ID       string     `json:"id"`
	State    string     `json:"state"` // running, done, failed, cancelled
	Started  time.Time  `json:"started"`
	Seconds  float64    `json:"seconds"`
	Stages   string     `json:"stages"`
	Shuffled int64      `json:"bytes_shuffled"`
	Error    string     `json:"error,omitempty"`
	Receipts []*Receipt `json:"receipts"`
	// Progress counts the tasks of each stage done and running.
	Progress []StageProgress `json:"progress"`
}

type registry struct {
	mu    sync.Mutex
	order []string
	m     map[string]*queryRun
}

func newRegistry() *registry { return &registry{m: map[string]*queryRun{}} }

const keepQueries = 200

func (r *registry) add(q *queryRun) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[q.status.ID] = q
	r.order = append(r.order, q.status.ID)
	if len(r.order) > keepQueries {
		delete(r.m, r.order[0])
		r.order = r.order[1:]
	}
}

// Status reports a query this node coordinated (id "" : the latest).
func (e *Engine) Status(id string) ([]byte, error) {
	e.init()
	r := e.queries
	r.mu.Lock()
	defer r.mu.Unlock()
	if id == "" && len(r.order) > 0 {
		id = r.order[len(r.order)-1]
	}
	q, ok := r.m[id]
	if !ok {
		return nil, kernels.Errorf(kernels.NotFound, "no query %q was coordinated by node %s (it keeps the last %d)", id, e.Self.Name, keepQueries)
	}
	q.mu.Lock() // the query may be running
	defer q.mu.Unlock()
	st := *q.status
	if q.core != nil {
		st.Receipts, st.Progress = q.core.receipts, q.core.progress()
	}
	return json.Marshal(st)
}

// Result is where a distributed query's output waits: one part per task
// of the result stage, in order.
type Result struct {
	ID     string
	Schema *arrow.Schema
	Parts  []ResultPart
}

// ResultPart is one result partition and the node holding it.
type ResultPart struct {
	Node cluster.Member
	Key  *planpb.OutputKey
	Rows int64
}

// queryRun is the runner of one query around its core (querycore.go):
// it starts the attempts the core asks for as goroutines, turns their
// results and the cluster's failure detection into events, and releases
// outputs when the core says the query is over. Every read or change of
// the core holds mu.
type queryRun struct {
	e         *Engine
	q         *planpb.Query
	g         *stage.Graph
	fp        string
	buckets   int // of hash exchanges: the task count of FromHash stages
	perNode   int // tasks per node of hash stages and file scans
	broadcast int64
	shares    [][]*planpb.Share // per stage and task; nil: none
	members   map[string]cluster.Member

	mu     sync.Mutex
	core   *queryCore
	status *QueryStatus
}

// RunQuery runs q across the alive nodes, this node coordinating, and
// returns where its result partitions wait. A task whose node dies is
// re-run elsewhere, with the tasks whose output died with it; a query
// fails only on an error of the plan itself or when data is lost for good.
func (e *Engine) RunQuery(ctx context.Context, q *planpb.Query) (*Result, error) {
	e.init()
	broadcast := e.broadcastRows()
	g, err := e.cut(q, broadcast)
	if err != nil {
		return nil, err
	}
	alive := e.Alive()
	per := e.conf().TasksPerNode
	r := &queryRun{e: e, q: q, g: g, fp: g.String(), buckets: len(alive) * per, perNode: per, broadcast: broadcast,
		members: map[string]cluster.Member{}}
	r.status = &QueryStatus{ID: catalog.NewID(), State: "running", Started: time.Now(), Stages: r.fp}
	e.queries.add(r)
	e.cuts.put(r.status.ID, g)
	var nodes []coreNode
	for _, m := range alive {
		r.members[m.Name] = m
		nodes = append(nodes, coreNode{name: m.Name, cores: m.Cores})
	}
	var specs []stageSpec
	for _, s := range g.Stages {
		spec, shares, err := r.makeTasks(s, alive)
		if err != nil {
			r.mu.Lock()
			r.status.State, r.status.Error = "failed", err.Error()
			r.mu.Unlock()
			return nil, err
		}
		specs = append(specs, spec)
		r.shares = append(r.shares, shares)
	}
	r.mu.Lock()
	r.core = newQueryCore(r.status.ID, e.Self.Name, nodes, specs, maxAttempts)
	r.mu.Unlock()
	if err := r.run(ctx); err != nil {
		return nil, err
	}
	res := &Result{ID: r.status.ID, Schema: g.Result().Root.Schema()}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.core.result() {
		res.Parts = append(res.Parts, ResultPart{Node: r.members[p.node], Rows: p.rows,
			Key: &planpb.OutputKey{QueryId: res.ID, Stage: int32(g.Result().ID), Task: int32(p.task), Attempt: int32(p.attempt)}})
	}
	return res, nil
}

// run feeds the core until it finishes the query: attempts' results,
// nodes the cluster marks failed (checked every 250ms: a hung node, with
// no answer and no closed connection, costs the failure-detection time,
// not a hang) and the caller's cancel. Then it waits for the attempts it
// cancelled and releases the query's outputs.
func (r *queryRun) run(ctx context.Context) error {
	events := make(chan coreEvent)
	var wg sync.WaitGroup
	cancels := map[attemptID]context.CancelFunc{}
	var tick <-chan time.Time
	if r.e.Members != nil {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		tick = t.C
	}
	failed := map[string]bool{}
	var release *releaseOutputs
	var fin *finishQuery
	r.mu.Lock()
	cmds := r.core.start()
	r.mu.Unlock()
	for {
		for _, c := range cmds {
			switch c := c.(type) {
			case runTask:
				actx, cancel := context.WithCancel(ctx)
				cancels[c.id] = cancel
				wg.Add(1)
				go func() {
					defer wg.Done()
					ev := r.exec(actx, ctx, c)
					cancel()
					events <- ev
				}()
			case cancelTask:
				if cancel := cancels[c.id]; cancel != nil {
					cancel()
				}
			case releaseOutputs:
				release = &c
			case finishQuery:
				fin = &c
			}
		}
		if fin != nil {
			break
		}
		var evs []coreEvent
		select {
		case ev := <-events:
			evs = append(evs, ev)
		case <-ctx.Done():
		case <-tick:
			alive := map[string]bool{}
			for _, m := range r.e.Members.Alive() {
				alive[m.Name] = true
			}
			for name := range r.members {
				if !alive[name] && !failed[name] {
					failed[name] = true
					slog.Warn("the cluster marked a node failed while the query used it; re-running its work", "query", r.status.ID, "node", name)
					evs = append(evs, nodeFailed{node: name})
				}
			}
			sort.Slice(evs, func(i, j int) bool { return evs[i].(nodeFailed).node < evs[j].(nodeFailed).node })
		}
		if err := ctx.Err(); err != nil { // before any attempt's error, which the cancel caused
			evs = append([]coreEvent{cancelRequested{reason: err.Error()}}, evs...)
		}
		cmds = nil
		r.mu.Lock()
		for _, ev := range evs {
			cmds = append(cmds, r.core.step(ev)...)
		}
		r.mu.Unlock()
	}
	// Every attempt still running was cancelled by the core; wait for them
	// so that the release comes after their last output.
	go func() { wg.Wait(); close(events) }()
	for ev := range events {
		r.mu.Lock()
		r.core.step(ev) // the query is over: only late receipts
		r.mu.Unlock()
	}
	r.finish(fin.err, release)
	return fin.err
}

// finish records the end of the query and has every node forget the
// query's outputs but those release keeps.
func (r *queryRun) finish(err error, release *releaseOutputs) {
	r.mu.Lock()
	r.status.Seconds = time.Since(r.status.Started).Seconds()
	r.status.State = "done"
	if err != nil {
		r.status.State, r.status.Error = "failed", err.Error()
		if kernels.KindOf(err) == kernels.Cancelled {
			r.status.State = "cancelled"
		}
	}
	r.status.Shuffled = r.core.shuffled()
	r.mu.Unlock()
	if release == nil {
		return
	}
	id, keep := r.status.ID, int32(release.keep)
	go func() {
		for _, name := range release.nodes {
			if name == r.e.Self.Name {
				r.e.outputs.Release(id, keep)
				continue
			}
			// A node that is down answers nothing; one that hangs must not
			// hold this goroutine for ever.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := r.e.Net.Release(ctx, r.members[name].Addr, id, keep); err != nil {
				slog.Debug("release", "node", name, "err", err)
			}
			cancel()
		}
	}()
}

// makeTasks describes a stage's tasks to the core, with the share of the
// input each reads: one task per partition of a stored table (run where a
// replica is), one per share of a file scan, one per hash bucket, or one
// on this node.
func (r *queryRun) makeTasks(s *stage.Stage, alive []cluster.Member) (stageSpec, []*planpb.Share, error) {
	spec := stageSpec{inputs: s.Inputs}
	var shares []*planpb.Share
	switch s.Driver {
	case stage.FromScan:
		if s.Scan.Table != "" {
			tbl, err := r.e.Catalog.Table(s.Scan.Table)
			if err != nil {
				return spec, nil, err
			}
			for i, p := range tbl.M.Parts {
				spec.tasks = append(spec.tasks, taskSpec{holders: p.Holders, what: fmt.Sprintf("partition %d of table %q", i, tbl.Name)})
				shares = append(shares, &planpb.Share{Parts: []string{p.ID}})
			}
			break
		}
		// One task per node: each runs on all its cores, and a broadcast
		// join side is built once per node, not once per core.
		divided, err := physical.Divide(s.Scan, len(alive)*r.perNode)
		if err != nil {
			return spec, nil, err
		}
		for _, sh := range divided {
			ps := &planpb.Share{}
			for f, path := range sh.Files {
				fs := &planpb.FileShare{Path: path}
				if sh.Groups != nil {
					for _, g := range sh.Groups[f] {
						fs.RowGroups = append(fs.RowGroups, int32(g))
					}
				}
				ps.Files = append(ps.Files, fs)
			}
			spec.tasks = append(spec.tasks, taskSpec{})
			shares = append(shares, ps)
		}
	case stage.FromHash:
		for range r.buckets {
			spec.tasks = append(spec.tasks, taskSpec{})
			shares = append(shares, nil)
		}
	case stage.Single:
		spec.tasks = append(spec.tasks, taskSpec{holders: []string{r.e.Self.Name}})
		shares = append(shares, nil)
	}
	return spec, shares, nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// exec runs one attempt and tells the core how it went: ctx is the
// attempt's, query the query's (for the health check of a node an input
// was lost on).
func (r *queryRun) exec(ctx, query context.Context, c runTask) coreEvent {
	st := r.g.Stages[c.id.Stage]
	pt := &planpb.Task{QueryId: r.status.ID, Query: r.q, Stage: int32(c.id.Stage), Task: int32(c.id.Task), Attempt: int32(c.id.Attempt),
		Buckets: 1, BroadcastRows: r.broadcast, Fingerprint: r.fp, Share: r.shares[c.id.Stage][c.id.Task], Compress: r.e.conf().Compress,
		Coordinator: r.e.Self.Addr}
	if st.Out == stage.Hash {
		pt.Buckets = int32(r.buckets)
	}
	for _, in := range c.inputs {
		pi := &planpb.Input{Stage: int32(in.stage)}
		if r.g.Stages[in.stage].Out == stage.Hash {
			pi.Bucket = int32(c.id.Task)
		}
		for _, src := range in.sources {
			pi.Sources = append(pi.Sources, &planpb.Source{Address: r.members[src.node].Addr, Node: src.node, Task: int32(src.task), Attempt: int32(src.attempt)})
		}
		pt.Inputs = append(pt.Inputs, pi)
	}
	start := time.Now()
	var res *planpb.TaskResult
	var err error
	if c.node == r.e.Self.Name {
		res, err = r.e.RunTask(ctx, pt)
	} else {
		res, err = r.e.Net.RunTask(ctx, r.members[c.node].Addr, pt)
	}
	secs := time.Since(start).Seconds()
	if err == nil {
		return taskDone{id: c.id, rows: res.GetRows(), bytes: res.GetBytes(), seconds: secs}
	}
	if li := (*LostInput)(nil); errors.As(err, &li) {
		alive := r.e.answers(query, li.Node)
		slog.Warn("a task lost its input; re-running the task that made it", "query", r.status.ID, "stage", li.Stage, "task", li.Task, "node", li.Node, "answers", alive, "err", err)
		return inputLost{id: c.id, stage: int(li.Stage), task: int(li.Task), node: li.Node, alive: alive, err: err, seconds: secs}
	}
	unreachable := kernels.KindOf(err) == kernels.Unavailable && c.node != r.e.Self.Name && ctx.Err() == nil
	if unreachable {
		slog.Warn("a node is unreachable; re-running its tasks elsewhere", "query", r.status.ID, "node", c.node, "err", err)
	}
	return taskFailed{id: c.id, err: err, unreachable: unreachable, seconds: secs}
}

// answers says whether the node named name is alive and answers a health
// check within two seconds.
func (e *Engine) answers(ctx context.Context, name string) bool {
	if name == e.Self.Name {
		return true
	}
	for _, m := range e.Alive() {
		if m.Name == name {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			return e.Net.Health(ctx, m.Addr) == nil
		}
	}
	return false
}

func (e *Engine) broadcastRows() int64 { return e.conf().BroadcastRows }
