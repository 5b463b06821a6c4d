package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"google.golang.org/protobuf/proto"

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
	State    string     `json:"state"` // running, done, failed
	Started  time.Time  `json:"started"`
	Seconds  float64    `json:"seconds"`
	Stages   string     `json:"stages"`
	Shuffled int64      `json:"bytes_shuffled"`
	Error    string     `json:"error,omitempty"`
	Receipts []*Receipt `json:"receipts"`
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
	return json.Marshal(q.status)
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

type task struct {
	st      *stage.Stage
	index   int
	share   *planpb.Share
	holders []string // the nodes that may run it; nil: any
	what    string   // what is lost when no holder is alive
	node    cluster.Member
	attempt int
	done    bool
	res     *planpb.TaskResult
	receipt *Receipt
}

type queryRun struct {
	e         *Engine
	q         *planpb.Query
	g         *stage.Graph
	fp        string
	buckets   int // of hash exchanges: the task count of FromHash stages
	perNode   int // tasks per node of hash stages and file scans
	broadcast int64
	tasks     [][]*task
	dead      map[string]bool
	status    *QueryStatus
	mu        sync.Mutex
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
	r := &queryRun{e: e, q: q, g: g, fp: g.String(), buckets: len(alive) * per, perNode: per, broadcast: broadcast, dead: map[string]bool{}}
	r.status = &QueryStatus{ID: catalog.NewID(), State: "running", Started: time.Now(), Stages: r.fp}
	e.queries.add(r)
	e.cuts.put(r.status.ID, g)
	for _, s := range g.Stages {
		ts, err := r.makeTasks(s, alive)
		if err != nil {
			return nil, r.finish(err)
		}
		r.tasks = append(r.tasks, ts)
	}
	if err := r.ensure(ctx, g.Result().ID); err != nil {
		return nil, r.finish(err)
	}
	res := &Result{ID: r.status.ID, Schema: g.Result().Root.Schema()}
	for _, t := range r.tasks[g.Result().ID] {
		res.Parts = append(res.Parts, ResultPart{Node: t.node, Rows: t.res.GetRows(),
			Key: &planpb.OutputKey{QueryId: res.ID, Stage: int32(t.st.ID), Task: int32(t.index), Attempt: int32(t.attempt)}})
	}
	return res, r.finish(nil)
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
			_, err := e.Net.Action(ctx, m.Addr, "health", nil)
			return err == nil
		}
	}
	return false
}

func (e *Engine) broadcastRows() int64 { return e.conf().BroadcastRows }

// finish records the end of the query and releases what its stages left
// on the nodes, except the result.
func (r *queryRun) finish(err error) error {
	r.mu.Lock()
	r.status.Seconds = time.Since(r.status.Started).Seconds()
	r.status.State = "done"
	if err != nil {
		r.status.State, r.status.Error = "failed", err.Error()
	}
	keep := int32(r.g.Result().ID)
	if err != nil {
		keep = -1
	}
	// Every alive node: one wrongly thought dead may hold outputs too.
	nodes := r.e.Alive()
	for _, ts := range r.tasks[:len(r.tasks)-min(1, len(r.tasks))] {
		for _, t := range ts {
			if t.res != nil {
				r.status.Shuffled += t.res.GetBytes()
			}
		}
	}
	r.mu.Unlock()
	id := r.status.ID
	body, _ := json.Marshal(map[string]any{"query": id, "keep": keep})
	go func() {
		for _, n := range nodes {
			if n.Name == r.e.Self.Name {
				r.e.outputs.Release(id, keep)
				continue
			}
			if _, err := r.e.Net.Action(context.Background(), n.Addr, "release", body); err != nil {
				slog.Debug("release", "node", n.Name, "err", err)
			}
		}
	}()
	return err
}

// makeTasks lists a stage's tasks: one per partition of a stored table
// (run where a replica is), one per share of a file scan, one per hash
// bucket, or one on this node.
func (r *queryRun) makeTasks(s *stage.Stage, alive []cluster.Member) ([]*task, error) {
	var ts []*task
	switch s.Driver {
	case stage.FromScan:
		if s.Scan.Table != "" {
			tbl, err := r.e.Catalog.Table(s.Scan.Table)
			if err != nil {
				return nil, err
			}
			for i, p := range tbl.M.Parts {
				ts = append(ts, &task{st: s, index: i, share: &planpb.Share{Parts: []string{p.ID}}, holders: p.Holders,
					what: fmt.Sprintf("partition %d of table %q", i, tbl.Name)})
			}
			break
		}
		// One task per node: each runs on all its cores, and a broadcast
		// join side is built once per node, not once per core.
		shares, err := physical.Divide(s.Scan, len(alive)*r.perNode)
		if err != nil {
			return nil, err
		}
		for i, sh := range shares {
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
			ts = append(ts, &task{st: s, index: i, share: ps, what: fmt.Sprintf("stage %d task %d", s.ID, i)})
		}
	case stage.FromHash:
		for i := 0; i < r.buckets; i++ {
			ts = append(ts, &task{st: s, index: i})
		}
	case stage.Single:
		ts = append(ts, &task{st: s, index: 0, holders: []string{r.e.Self.Name}})
	}
	return ts, nil
}

// place picks the node for a task's next attempt: the least busy alive
// node among those that may run it.
func (r *queryRun) place(t *task, load map[string]int) error {
	var cands []cluster.Member
	for _, m := range r.e.Alive() {
		if r.dead[m.Name] {
			continue
		}
		if t.holders == nil || contains(t.holders, m.Name) {
			cands = append(cands, m)
		}
	}
	if len(cands) == 0 && t.holders != nil {
		return kernels.Errorf(kernels.Unavailable, "%s is lost: the nodes holding it (%s) are all down", t.what, strings.Join(t.holders, ", "))
	}
	if len(cands) == 0 {
		return kernels.Errorf(kernels.Unavailable, "no alive node is left to run stage %d task %d (down: %s)", t.st.ID, t.index, strings.Join(r.deadNodes(), ", "))
	}
	// A node where this task failed before (it may lack a partition it
	// should hold) comes last.
	tried := map[string]bool{}
	for _, n := range r.triedOn(t) {
		tried[n] = true
	}
	untried := cands[:0:0]
	for _, m := range cands {
		if !tried[m.Name] {
			untried = append(untried, m)
		}
	}
	if len(untried) > 0 {
		cands = untried
	}
	sort.SliceStable(cands, func(i, j int) bool { return load[cands[i].Name] < load[cands[j].Name] })
	// Among the least busy, spread tasks by their index.
	best := 0
	for best+1 < len(cands) && load[cands[best+1].Name] == load[cands[0].Name] {
		best++
	}
	t.node = cands[t.index%(best+1)]
	load[t.node.Name]++
	return nil
}

func (r *queryRun) deadNodes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for n := range r.dead {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// triedOn lists the nodes a task's attempts ran on.
func (r *queryRun) triedOn(t *task) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, rc := range r.status.Receipts {
		if rc.Stage == t.st.ID && rc.Task == t.index {
			out = append(out, rc.Node)
		}
	}
	return out
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// ensure makes every task of stage id done, its output on a live node,
// running its inputs first; it re-runs what dead nodes took with them.
func (r *queryRun) ensure(ctx context.Context, id int) error {
	for {
		for _, in := range r.g.Stages[id].Inputs {
			if err := r.ensure(ctx, in); err != nil {
				return err
			}
		}
		var pending []*task
		load := map[string]int{}
		for _, t := range r.tasks[id] {
			if !t.done {
				pending = append(pending, t)
			}
		}
		if len(pending) == 0 {
			return nil
		}
		for _, t := range pending {
			if t.receipt != nil {
				t.attempt++
			}
			if t.attempt >= maxAttempts {
				return kernels.Errorf(kernels.Unavailable, "stage %d task %d failed %d times (on %s); last: %s", id, t.index, t.attempt, strings.Join(r.triedOn(t), ", "), t.receipt.Error)
			}
			if err := r.place(t, load); err != nil {
				return err
			}
		}
		errs := make([]error, len(pending))
		var wg sync.WaitGroup
		limits := map[string]chan struct{}{}
		for _, t := range pending {
			if limits[t.node.Name] == nil {
				limits[t.node.Name] = make(chan struct{}, max(1, t.node.Cores))
			}
		}
		gone := make([]string, len(pending)) // a dead node a task waited on
		cancels := make([]context.CancelFunc, len(pending))
		for i, t := range pending {
			tctx, cancel := context.WithCancel(ctx)
			cancels[i] = cancel
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer cancel()
				sem := limits[t.node.Name]
				sem <- struct{}{}
				defer func() { <-sem }()
				errs[i] = r.exec(tctx, t)
			}()
		}
		stopWatch := r.watch(pending, gone, cancels)
		wg.Wait()
		stopWatch()
		var hard error
		for i, err := range errs {
			if err == nil {
				continue
			}
			if ctx.Err() != nil {
				return kernels.Errorf(kernels.Cancelled, "query cancelled: %v", ctx.Err())
			}
			t := pending[i]
			if gone[i] != "" {
				slog.Warn("the cluster marked a node failed while a task needed it; re-running", "query", r.status.ID, "node", gone[i])
				r.lose(gone[i], -1, -1)
				continue
			}
			if m := lostPattern.FindStringSubmatch(err.Error()); m != nil {
				st, _ := strconv.Atoi(m[1])
				ti, _ := strconv.Atoi(m[2])
				node := m[3]
				if r.e.answers(ctx, node) {
					node = r.e.Self.Name // alive: only that one output is gone
				}
				slog.Warn("a task lost its input; re-running the task that made it", "query", r.status.ID, "stage", st, "task", ti, "node", m[3], "err", err)
				r.lose(node, st, ti)
				continue
			}
			if kernels.KindOf(err) == kernels.Unavailable && t.node.Name != r.e.Self.Name {
				slog.Warn("a node is unreachable; re-running its tasks elsewhere", "query", r.status.ID, "node", t.node.Name, "err", err)
				r.lose(t.node.Name, -1, -1)
				continue
			}
			if hard == nil {
				hard = err
			}
		}
		if hard != nil {
			return hard
		}
	}
}

// watch cancels, until stopped, every task whose node or input node the
// cluster marks failed, and records which node in gone: a hung node (no
// answer, no closed connection) costs the failure-detection time, not a
// hang.
func (r *queryRun) watch(pending []*task, gone []string, cancels []context.CancelFunc) (stop func()) {
	if r.e.Members == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			alive := map[string]bool{}
			for _, m := range r.e.Members.Alive() {
				alive[m.Name] = true
			}
			r.mu.Lock()
			for i, t := range pending {
				if gone[i] != "" {
					continue
				}
				needs := []string{t.node.Name}
				for _, in := range t.st.Inputs {
					for _, src := range r.tasks[in] {
						needs = append(needs, src.node.Name)
					}
				}
				for _, n := range needs {
					if !alive[n] {
						gone[i] = n
						cancels[i]()
						break
					}
				}
			}
			r.mu.Unlock()
		}
	}()
	return func() { close(done); <-finished }
}

// lose marks a node dead for this query and every task output it held as
// lost; with stage and task >= 0 (a task on this node whose output is
// gone) only that one.
func (r *queryRun) lose(node string, st, ti int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if node == r.e.Self.Name {
		if st >= 0 && st < len(r.tasks) && ti >= 0 && ti < len(r.tasks[st]) && r.tasks[st][ti].done {
			r.tasks[st][ti].done = false
			r.tasks[st][ti].receipt.State = "lost"
		}
		return
	}
	r.dead[node] = true
	for _, ts := range r.tasks {
		for _, t := range ts {
			if t.done && t.node.Name == node {
				t.done = false
				t.receipt.State = "lost"
			}
		}
	}
}

// exec runs one attempt of a task on its node and records its receipt.
func (r *queryRun) exec(ctx context.Context, t *task) error {
	rc := &Receipt{Query: r.status.ID, Stage: t.st.ID, Task: t.index, Attempt: t.attempt, Node: t.node.Name, State: "running"}
	r.mu.Lock()
	t.receipt = rc
	r.status.Receipts = append(r.status.Receipts, rc)
	pt := &planpb.Task{QueryId: r.status.ID, Query: r.q, Stage: int32(t.st.ID), Task: int32(t.index), Attempt: int32(t.attempt),
		Buckets: 1, BroadcastRows: r.broadcast, Fingerprint: r.fp, Share: t.share, Compress: r.e.conf().Compress, Coordinator: r.e.Self.Addr}
	if t.st.Out == stage.Hash {
		pt.Buckets = int32(r.buckets)
	}
	for _, in := range t.st.Inputs {
		pi := &planpb.Input{Stage: int32(in)}
		if r.g.Stages[in].Out == stage.Hash {
			pi.Bucket = int32(t.index)
		}
		for _, src := range r.tasks[in] {
			pi.Sources = append(pi.Sources, &planpb.Source{Address: src.node.Addr, Node: src.node.Name, Task: int32(src.index), Attempt: int32(src.attempt)})
		}
		pt.Inputs = append(pt.Inputs, pi)
	}
	r.mu.Unlock()
	start := time.Now()
	var res *planpb.TaskResult
	var err error
	if t.node.Name == r.e.Self.Name {
		res, err = r.e.RunTask(ctx, pt)
	} else {
		var body, raw []byte
		if body, err = proto.Marshal(pt); err == nil {
			if raw, err = r.e.Net.Action(ctx, t.node.Addr, "run_task", body); err == nil {
				res = &planpb.TaskResult{}
				err = proto.Unmarshal(raw, res)
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rc.Seconds = time.Since(start).Seconds()
	if err != nil {
		rc.State, rc.Error = "failed", err.Error()
		return err
	}
	rc.State, rc.Rows, rc.Bytes = "done", res.GetRows(), res.GetBytes()
	t.res, t.done = res, true
	return nil
}
