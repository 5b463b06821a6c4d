package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"go.opentelemetry.io/otel/trace"

	"slipstream/kernels"
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
	// Start is when the attempt started, in seconds after the query did.
	Start float64 `json:"start"`
	Error string  `json:"error,omitempty"`
}

// QueryStatus is what the query_status action reports.
type QueryStatus struct {
	ID string `json:"id"`
	// TraceID is the id of the query's trace (the client's, when its
	// request carried a traceparent header); empty when none.
	TraceID string `json:"trace_id,omitempty"`
	// User is who started it (a token's name); empty without auth.
	User string `json:"user,omitempty"`
	// State is planning, ready (one node: waiting for its result to be
	// read), running, cancelling, done, failed or cancelled.
	State   string    `json:"state"`
	Started time.Time `json:"started"`
	// Seconds is how long it has run (while it runs) or ran.
	Seconds  float64    `json:"seconds"`
	Stages   string     `json:"stages"`
	Shuffled int64      `json:"bytes_shuffled"`
	Error    string     `json:"error,omitempty"`
	Receipts []*Receipt `json:"receipts"`
	// Progress counts the tasks of each stage done and running (a query
	// run by one node alone is one stage of one task).
	Progress []StageProgress `json:"progress"`
	// Nodes is how many nodes it runs on; Stage the first stage with tasks
	// running (else the first not complete); Tasks and TasksDone are summed
	// over the stages.
	Nodes     int `json:"nodes"`
	Stage     int `json:"stage"`
	Tasks     int `json:"tasks"`
	TasksDone int `json:"tasks_done"`
	// RowsRead and BytesRead are what finished tasks read (stored
	// partitions and shuffle outputs); Spilled the bytes finished tasks
	// (one node alone: the query, live) wrote to spill files; RowsOut and
	// BytesOut the result sent so far by a query run by one node alone.
	RowsRead  int64 `json:"rows_read"`
	BytesRead int64 `json:"bytes_read"`
	Spilled   int64 `json:"spilled_bytes"`
	RowsOut   int64 `json:"rows_out"`
	BytesOut  int64 `json:"bytes_out"`
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
	// cancel stops the query while it runs (nil before it starts and once
	// it ended); cancelWhy is the client's reason.
	cancel    context.CancelCauseFunc
	cancelWhy string
	// resultDropped: a cancel after the query was done dropped its result.
	resultDropped bool
	// read sums what the finished tasks read and spilled.
	read struct{ rows, bytes, spilled int64 }
	// local is set for a query this node runs alone (queries.go).
	local *streamedRun
	// metered: its end was counted in the node's metrics (metrics.go).
	metered bool
	// span is the query's span, stages its stages' (trace.go); log the
	// logger of lines about the query.
	span   trace.Span
	stages *stageSpans
	log    *slog.Logger
}

// RunQuery runs q across the alive nodes, this node coordinating, and
// returns where its result partitions wait. A task whose node dies is
// re-run elsewhere, with the tasks whose output died with it; a query
// fails only on an error of the plan itself or when data is lost for good.
func (e *Engine) RunQuery(ctx context.Context, q *planpb.Query) (*Result, error) {
	return e.RunQueryID(ctx, "", q)
}

// RunQueryID is RunQuery with the query's id chosen by the caller (""
// makes one): Cancel(id) stops it, from planning on.
func (e *Engine) RunQueryID(ctx context.Context, id string, q *planpb.Query) (*Result, error) {
	e.init()
	if id == "" {
		id = newQueryID()
	}
	if why, ok := e.queries.wasCancelled(id); ok {
		return nil, kernels.Errorf(kernels.Cancelled, "query %s was cancelled: %s", id, why)
	}
	ctx, span := e.tracer().Start(ctx, "query", trace.WithAttributes(attrQuery.String(id), attrNode.String(e.Self.Name)))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r := &queryRun{e: e, q: q, members: map[string]cluster.Member{}, cancel: cancel, span: span}
	r.status = &QueryStatus{ID: id, TraceID: traceID(ctx), User: userFrom(ctx), State: queryPlanning, Started: time.Now()}
	r.log = queryLog(id, r.status.TraceID)
	e.register(r)
	fail := func(err error) (*Result, error) {
		r.mu.Lock()
		r.cancel = nil
		r.status.Seconds = time.Since(r.status.Started).Seconds()
		r.status.State, r.status.Error = queryFailed, err.Error()
		if ctx.Err() != nil || kernels.KindOf(err) == kernels.Cancelled {
			r.status.State = queryCancelled
		}
		e.metrics.queryEnded(r)
		r.mu.Unlock()
		r.traceEnd(err)
		return nil, err
	}
	broadcast := e.broadcastRows()
	g, err := e.cut(q, broadcast)
	if err != nil {
		return fail(err)
	}
	alive := e.Alive()
	per := e.Settings().TasksPerNode
	r.mu.Lock()
	r.g, r.fp, r.buckets, r.perNode, r.broadcast = g, g.String(), len(alive)*per, per, broadcast
	r.status.Stages = r.fp
	r.mu.Unlock()
	e.cuts.Put(r.status.ID, g, graphCost(g))
	var nodes []coreNode
	for _, m := range alive {
		r.members[m.Name] = m
		nodes = append(nodes, coreNode{name: m.Name, cores: m.Cores})
	}
	var specs []stageSpec
	for _, s := range g.Stages {
		spec, shares, err := r.makeTasks(s, alive)
		if err != nil {
			return fail(err)
		}
		specs = append(specs, spec)
		r.shares = append(r.shares, shares)
	}
	r.mu.Lock()
	if r.status.State != queryPlanning || ctx.Err() != nil { // cancelled while planning
		r.mu.Unlock()
		cause := context.Cause(ctx)
		if kernels.KindOf(cause) != kernels.Cancelled {
			cause = kernels.Errorf(kernels.Cancelled, "query cancelled: %v", cause)
		}
		return fail(cause)
	}
	r.core = newQueryCore(r.status.ID, e.Self.Name, nodes, specs, maxAttempts)
	r.status.State = queryRunning
	r.stages = &stageSpans{ctx: ctx, spans: map[int]trace.Span{}, last: map[int]time.Time{}}
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
				r.mu.Lock()
				r.core.started(c.id, time.Since(r.status.Started).Seconds())
				r.mu.Unlock()
				actx, cancel := context.WithCancel(ctx)
				actx = trace.ContextWithSpan(actx, r.stages.start(r, c.id.Stage))
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
			r.stages.reported(ev)
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
					r.log.Warn("the cluster marked a node failed while the query used it; re-running its work", "node", name)
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
		r.stages.reported(ev)
		r.mu.Lock()
		r.core.step(ev) // the query is over: only late receipts
		r.mu.Unlock()
	}
	r.finish(fin.err, release)
	return fin.err
}

// finish records the end of the query and has every node forget the
// query's outputs but those release keeps. A query that failed or was
// cancelled says so only once every node has stopped its tasks and freed
// what they held (until then it is cancelling); a done query's release
// runs behind the answer.
func (r *queryRun) finish(err error, release *releaseOutputs) {
	r.mu.Lock()
	r.cancel = nil
	r.status.Shuffled = r.core.shuffled()
	final := queryDone
	if err != nil {
		final, r.status.Error = queryFailed, err.Error()
		if kernels.KindOf(err) == kernels.Cancelled {
			final = queryCancelled
			if r.cancelWhy != "" {
				r.status.Error = "query cancelled: " + r.cancelWhy
			}
		}
		r.status.State = queryCancelling
	}
	r.mu.Unlock()
	bg := trace.ContextWithSpan(context.Background(), r.span) // the release is the query's, but outlives its cancel
	if release != nil && err != nil {
		r.releaseEverywhere(bg, int32(release.keep))
	}
	r.mu.Lock()
	r.status.State = final
	r.status.Seconds = time.Since(r.status.Started).Seconds()
	r.e.metrics.queryEnded(r)
	r.mu.Unlock()
	r.traceEnd(err)
	if release != nil && err == nil {
		go r.releaseEverywhere(bg, int32(release.keep))
	}
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
		Buckets: 1, BroadcastRows: r.broadcast, Fingerprint: r.fp, Share: r.shares[c.id.Stage][c.id.Task], Compress: r.e.Settings().Compress,
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
		r.mu.Lock()
		r.read.rows += res.GetRowsRead()
		r.read.bytes += res.GetBytesRead()
		r.read.spilled += res.GetSpilledBytes()
		r.mu.Unlock()
		return taskDone{id: c.id, rows: res.GetRows(), bytes: res.GetBytes(), seconds: secs}
	}
	if li := (*LostInput)(nil); errors.As(err, &li) {
		alive := r.e.answers(query, li.Node)
		r.log.Warn("a task lost its input; re-running the task that made it", "stage", li.Stage, "task", li.Task, "node", li.Node, "answers", alive, "err", err)
		return inputLost{id: c.id, stage: int(li.Stage), task: int(li.Task), node: li.Node, alive: alive, err: err, seconds: secs}
	}
	unreachable := kernels.KindOf(err) == kernels.Unavailable && c.node != r.e.Self.Name && ctx.Err() == nil
	if unreachable {
		r.log.Warn("a node is unreachable; re-running its tasks elsewhere", "node", c.node, "err", err)
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

func (e *Engine) broadcastRows() int64 { return e.Settings().BroadcastRows }
