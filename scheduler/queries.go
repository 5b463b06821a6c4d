package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"slipstream/kernels"
	"slipstream/kernels/budget"
	"slipstream/kernels/exec"
	"slipstream/scheduler/catalog"
	"slipstream/scheduler/planpb"
)

// The queries a node knows: those it coordinates (a cluster run, or a
// query it streams alone from DoGet), by id, with their status, and the
// tasks it runs for any coordinator, by query, so that a cancel can stop
// them and wait until they have.
//
// Query ids: a client may choose its query's id (the flight layer reads
// it from a request header) so that it can cancel the query before the
// call that runs it returns; otherwise the node makes one. A cancel that
// arrives before its query does is remembered, and the query is refused
// when it comes.

// keepQueries is how many queries a node remembers (running ones are
// never forgotten while they run: they are among the newest).
const keepQueries = 200

// Query states, as query_status and queries report them.
const (
	queryPlanning   = "planning"   // cutting into stages, placing tasks
	queryReady      = "ready"      // one node: planned, runs when its result is read
	queryRunning    = "running"    // tasks running, or the result streaming
	queryCancelling = "cancelling" // cancelled; the nodes are stopping its tasks
	queryDone       = "done"
	queryFailed     = "failed"
	queryCancelled  = "cancelled" // every node has stopped its tasks and freed what they held
)

type registry struct {
	mu    sync.Mutex
	order []string
	m     map[string]*queryRun
	// cancelled remembers the ids cancelled before their query arrived.
	cancelled recent[string]
}

func newRegistry() *registry { return &registry{m: map[string]*queryRun{}} }

// add registers q under its id, replacing an earlier query of that id.
func (r *registry) add(q *queryRun) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := q.status.ID
	if _, ok := r.m[id]; !ok {
		r.order = append(r.order, id)
		if q.e != nil {
			q.e.metrics.queryStarted()
		}
	}
	r.m[id] = q
	if len(r.order) > keepQueries {
		delete(r.m, r.order[0])
		r.order = r.order[1:]
	}
}

// register adds a query to the node's registry and, when the node has a
// --max-query-time, cancels it once that time is up (a query that ended
// by then is left as it is; one whose result is still held loses it).
func (e *Engine) register(r *queryRun) {
	e.queries.add(r)
	if d := e.Settings().MaxQueryTime; d > 0 {
		id := r.status.ID
		time.AfterFunc(d, func() {
			e.Cancel(id, fmt.Sprintf("it ran longer than the node's --max-query-time of %s", d))
		})
	}
}

func (r *registry) get(id string) (*queryRun, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q, ok := r.m[id]
	return q, ok
}

// wasCancelled says whether id was cancelled before its query arrived.
func (r *registry) wasCancelled(id string) (string, bool) { return r.cancelled.get(id) }

type userKey struct{}

// WithUser marks ctx as a call by the named user (a token's name): the
// queries it starts are theirs (Owner).
func WithUser(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, userKey{}, name)
}

func userFrom(ctx context.Context) string {
	name, _ := ctx.Value(userKey{}).(string)
	return name
}

// Owner is the user who started query id: "" when this node does not
// know the query or it was started without auth.
func (e *Engine) Owner(id string) string {
	e.init()
	r, ok := e.queries.get(id)
	if !ok {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status.User
}

// streamedRun is what a query run by one node alone (streamed from DoGet)
// reports while it runs.
type streamedRun struct {
	mu       sync.Mutex
	acct     *budget.Query // while it runs
	read     *exec.ReadCount
	spilled  int64 // once it ended
	rowsOut  int64
	bytesOut int64
}

// Track registers a query that this node runs alone, streaming its result
// from DoGet: id "" makes an id. Its state is ready until Started.
// ctx is the request's (its trace is the query's).
func (e *Engine) Track(ctx context.Context, id string) (string, error) {
	e.init()
	if id == "" {
		id = newQueryID()
	}
	if why, ok := e.queries.wasCancelled(id); ok {
		return id, kernels.Errorf(kernels.Cancelled, "query %s was cancelled: %s", id, why)
	}
	r := &queryRun{e: e, local: &streamedRun{}}
	r.status = &QueryStatus{ID: id, TraceID: traceID(ctx), User: userFrom(ctx), State: queryReady, Started: time.Now()}
	r.log = queryLog(id, r.status.TraceID)
	e.register(r)
	return id, nil
}

// Failed records that a query registered by Track failed before it ran
// (its plan is wrong): its status says so instead of waiting.
func (e *Engine) Failed(id string, err error) {
	e.init()
	r, ok := e.queries.get(id)
	if !ok || r.local == nil {
		return
	}
	r.mu.Lock()
	ready := r.status.State == queryReady
	if ready {
		r.status.State, r.status.Error = queryFailed, err.Error()
		if kernels.KindOf(err) == kernels.Cancelled {
			r.status.State = queryCancelled
		}
		r.status.Seconds = time.Since(r.status.Started).Seconds()
		e.metrics.queryEnded(r)
	}
	r.mu.Unlock()
	if ready {
		r.traceEnd(err)
	}
}

// LocalRun is a query streamed by this node alone, as DoGet runs it.
type LocalRun struct {
	r   *queryRun
	ctx context.Context
}

// Context is the query's context: cancelled by Cancel.
func (l *LocalRun) Context() context.Context { return l.ctx }

// Account attaches the query's memory account, for its spilled bytes.
func (l *LocalRun) Account(acct *budget.Query) {
	l.r.local.mu.Lock()
	l.r.local.acct = acct
	l.r.local.mu.Unlock()
}

// Sent counts rows and bytes of the result sent to the client.
func (l *LocalRun) Sent(rows, bytes int64) {
	l.r.local.mu.Lock()
	l.r.local.rowsOut += rows
	l.r.local.bytesOut += bytes
	l.r.local.mu.Unlock()
}

// End records how the query ended (err nil: done), once its operators are
// closed.
func (l *LocalRun) End(err error) {
	r := l.r
	r.local.mu.Lock()
	if r.local.acct != nil {
		r.local.spilled = r.local.acct.Spilled()
		r.local.acct = nil
	}
	r.local.mu.Unlock()
	r.mu.Lock()
	r.cancel = nil
	r.status.Seconds = time.Since(r.status.Started).Seconds()
	switch {
	case err == nil:
		r.status.State = queryDone
	case kernels.KindOf(err) == kernels.Cancelled || l.ctx.Err() != nil:
		r.status.State, r.status.Error = queryCancelled, err.Error()
		if kernels.KindOf(err) != kernels.Cancelled {
			err = kernels.Errorf(kernels.Cancelled, "%v", err)
		}
	default:
		r.status.State, r.status.Error = queryFailed, err.Error()
	}
	r.e.metrics.queryEnded(r)
	r.mu.Unlock()
	r.traceEnd(err)
}

// StartLocal marks the query id (registered by Track, or new) running,
// streamed by this node; ctx is the stream's. The caller ends it with End.
func (e *Engine) StartLocal(ctx context.Context, id string) (*LocalRun, error) {
	e.init()
	if why, ok := e.queries.wasCancelled(id); ok {
		return nil, kernels.Errorf(kernels.Cancelled, "query %s was cancelled: %s", id, why)
	}
	r, ok := e.queries.get(id)
	if !ok || r.local == nil {
		r = &queryRun{e: e, local: &streamedRun{}}
		r.status = &QueryStatus{ID: id, User: userFrom(ctx), Started: time.Now()}
		e.register(r)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.status.State == queryCancelled {
		return nil, kernels.Errorf(kernels.Cancelled, "query %s was cancelled", id)
	}
	ctx, r.span = e.tracer().Start(ctx, "query", trace.WithAttributes(attrQuery.String(id), attrNode.String(e.Self.Name)))
	r.status.TraceID = traceID(ctx)
	r.log = queryLog(id, r.status.TraceID)
	ctx, cancel := context.WithCancelCause(ctx)
	r.cancel = cancel
	r.status.State, r.status.Error = queryRunning, ""
	r.status.Started = time.Now()
	return &LocalRun{r: r, ctx: ctx}, nil
}

// CancelResult says what a cancel did.
type CancelResult string

const (
	// Cancelled: the query was running (or waiting to be read) and is
	// being stopped, or its held result was dropped.
	Cancelled CancelResult = "cancelled"
	// NotCancellable: the query had already ended.
	NotCancellable CancelResult = "not_cancellable"
	// Unknown: this node coordinates no query of that id; should one come,
	// it is refused.
	Unknown CancelResult = "unknown"
)

// Cancel stops the query id that this node coordinates, wherever its
// tasks run: the runner cancels every attempt and has every node stop its
// tasks of the query and free what they hold, then the state becomes
// cancelled. A cluster query that is done but whose result is still held
// has its result dropped and becomes cancelled too.
func (e *Engine) Cancel(id, why string) CancelResult {
	e.init()
	if why == "" {
		why = "cancelled by the client"
	}
	r, ok := e.queries.get(id)
	if !ok {
		e.queries.cancelled.put(id, why)
		return Unknown
	}
	r.mu.Lock()
	switch r.status.State {
	case queryPlanning, queryReady, queryRunning:
		r.cancelWhy = why
		if r.cancel != nil {
			r.cancel(kernels.Errorf(kernels.Cancelled, "query cancelled: %s", why))
			if r.status.State == queryRunning {
				r.status.State = queryCancelling // until every node has stopped its tasks
			}
		} else {
			// Not started yet (planning, or waiting for DoGet): it is refused when it starts.
			r.status.State, r.status.Error = queryCancelled, "query cancelled: "+why
			r.status.Seconds = time.Since(r.status.Started).Seconds()
			e.metrics.queryEnded(r)
		}
		r.mu.Unlock()
		return Cancelled
	case queryCancelling:
		r.mu.Unlock()
		return Cancelled
	case queryDone:
		if r.core == nil || r.resultDropped {
			r.mu.Unlock()
			return NotCancellable
		}
		r.resultDropped = true
		r.status.State, r.status.Error = queryCancelled, "query cancelled after it was done: its result was dropped ("+why+")"
		r.mu.Unlock()
		go r.releaseEverywhere(context.Background(), -1)
		return Cancelled
	}
	r.mu.Unlock()
	return NotCancellable
}

// QuerySummary is one query in the queries listing.
type QuerySummary struct {
	ID      string    `json:"id"`
	State   string    `json:"state"`
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"`
	// Nodes is how many nodes the query ran on (1: this node alone).
	Nodes     int    `json:"nodes"`
	Tasks     int    `json:"tasks"`
	TasksDone int    `json:"tasks_done"`
	Running   int    `json:"tasks_running"`
	Error     string `json:"error,omitempty"`
}

// Queries lists the queries this node coordinates, running and recent,
// newest first.
func (e *Engine) Queries() []QuerySummary {
	e.init()
	e.queries.mu.Lock()
	runs := make([]*queryRun, 0, len(e.queries.order))
	for _, id := range e.queries.order {
		runs = append(runs, e.queries.m[id])
	}
	e.queries.mu.Unlock()
	out := make([]QuerySummary, 0, len(runs))
	for i := len(runs) - 1; i >= 0; i-- {
		st := runs[i].snapshot()
		s := QuerySummary{ID: st.ID, State: st.State, Started: st.Started, Seconds: st.Seconds, Nodes: st.Nodes,
			Tasks: st.Tasks, TasksDone: st.TasksDone, Error: st.Error}
		for _, p := range st.Progress {
			s.Running += p.Running
		}
		out = append(out, s)
	}
	return out
}

// Status reports a query this node coordinated (id "": the latest).
func (e *Engine) Status(id string) ([]byte, error) {
	e.init()
	r := e.queries
	r.mu.Lock()
	if id == "" && len(r.order) > 0 {
		id = r.order[len(r.order)-1]
	}
	q, ok := r.m[id]
	r.mu.Unlock()
	if !ok {
		if why, cancelled := r.wasCancelled(id); cancelled {
			return json.Marshal(&QueryStatus{ID: id, State: queryCancelled, Error: "query cancelled before it started: " + why})
		}
		return nil, kernels.Errorf(kernels.NotFound, "no query %q was coordinated by node %s (it keeps the last %d)", id, e.Self.Name, keepQueries)
	}
	return json.Marshal(q.snapshot())
}

// snapshot is the query's status now, its figures filled in.
func (r *queryRun) snapshot() QueryStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := *r.status
	switch st.State {
	case queryPlanning, queryReady, queryRunning, queryCancelling:
		st.Seconds = time.Since(st.Started).Seconds()
	}
	st.Nodes = 1
	if r.core != nil {
		st.Progress = r.core.progress()
		st.Receipts = make([]*Receipt, len(r.core.receipts))
		for i, rc := range r.core.receipts { // copies: the core changes its own under r.mu
			c := *rc
			st.Receipts[i] = &c
		}
		st.Nodes = len(r.members)
		st.RowsRead, st.BytesRead, st.Spilled = r.read.rows, r.read.bytes, r.read.spilled
	}
	if l := r.local; l != nil {
		l.mu.Lock()
		st.RowsOut, st.BytesOut, st.Spilled = l.rowsOut, l.bytesOut, l.spilled
		st.RowsRead, st.BytesRead = l.read.Load()
		if l.acct != nil {
			st.Spilled = l.acct.Spilled()
		}
		l.mu.Unlock()
		p := StageProgress{Tasks: 1}
		switch st.State {
		case queryRunning:
			p.Running, p.Attempts = 1, 1
		case queryDone:
			p.Done, p.Attempts = 1, 1
		}
		st.Progress = []StageProgress{p}
	}
	st.Stage = -1
	for _, p := range st.Progress {
		st.Tasks += p.Tasks
		st.TasksDone += p.Done
		if st.Stage < 0 && p.Running > 0 {
			st.Stage = p.Stage
		}
	}
	if st.Stage < 0 && len(st.Progress) > 0 {
		st.Stage = len(st.Progress) - 1
		for _, p := range st.Progress {
			if p.Done < p.Tasks {
				st.Stage = p.Stage
				break
			}
		}
	}
	if st.Receipts == nil {
		st.Receipts = []*Receipt{}
	}
	return st
}

// taskRuns are the tasks a node runs, by query, for whichever node
// coordinates them.
type taskRuns struct {
	mu sync.Mutex
	m  map[string]map[*taskRun]struct{}
	// ended are the queries released here: a task of theirs that arrives
	// late (its coordinator cancelled it as it was sent) is refused.
	ended recent[bool]
}

type taskRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startTask registers a task of query on this node; the caller runs it
// under ctx and calls finish when the task has freed what it held.
func (e *Engine) startTask(ctx context.Context, query string) (context.Context, func(), error) {
	e.init()
	t := &e.tasks
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ended := t.ended.get(query); ended {
		return nil, nil, kernels.Errorf(kernels.Cancelled, "query %s has ended on node %s", query, e.Self.Name)
	}
	ctx, cancel := context.WithCancel(ctx)
	run := &taskRun{cancel: cancel, done: make(chan struct{})}
	if t.m == nil {
		t.m = map[string]map[*taskRun]struct{}{}
	}
	if t.m[query] == nil {
		t.m[query] = map[*taskRun]struct{}{}
	}
	t.m[query][run] = struct{}{}
	return ctx, func() {
		cancel()
		t.mu.Lock()
		delete(t.m[query], run)
		if len(t.m[query]) == 0 {
			delete(t.m, query)
		}
		t.mu.Unlock()
		close(run.done)
	}, nil
}

// RunningTasks is how many tasks of query run on this node now.
func (e *Engine) RunningTasks(query string) int {
	e.init()
	e.tasks.mu.Lock()
	defer e.tasks.mu.Unlock()
	return len(e.tasks.m[query])
}

// ReleaseQuery ends a query on this node: its running tasks are cancelled
// and waited for (until ctx ends), so that what they held is freed, and
// its outputs are forgotten except those of stage keep (-1: all).
func (e *Engine) ReleaseQuery(ctx context.Context, query string, keep int32) error {
	e.init()
	t := &e.tasks
	t.mu.Lock()
	t.ended.put(query, true)
	var waits []chan struct{}
	for run := range t.m[query] {
		run.cancel()
		waits = append(waits, run.done)
	}
	t.mu.Unlock()
	var err error
	for _, w := range waits {
		select {
		case <-w:
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			break
		}
	}
	e.outputs.Release(query, keep)
	return err
}

// releaseEverywhere has every node of the query stop its tasks and forget
// its outputs but those of stage keep, all at once, and returns when each
// has answered (or was given up on).
func (r *queryRun) releaseEverywhere(ctx context.Context, keep int32) {
	id := r.status.ID
	names := make([]string, 0, len(r.members))
	for name := range r.members {
		names = append(names, name)
	}
	sort.Strings(names)
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A node that is down answers nothing; one that hangs must not
			// hold the query for ever.
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			var err error
			if name == r.e.Self.Name {
				err = r.e.ReleaseQuery(ctx, id, keep)
			} else {
				err = r.e.Net.Release(ctx, r.members[name].Addr, id, keep)
			}
			if err != nil {
				r.log.Debug("release", "node", name, "err", err)
			}
		}()
	}
	wg.Wait()
}

// newQueryID makes a query id.
func newQueryID() string { return catalog.NewID() }

// ExecuteLocal is Execute for a query streamed by this node alone under
// run: its memory account reports the query's spilled bytes.
func (e *Engine) ExecuteLocal(run *LocalRun, q *planpb.Query) (exec.Operator, error) {
	op, err := e.Execute(q)
	if err != nil {
		return nil, err
	}
	if t, ok := op.(*tracked); ok {
		run.Account(t.acct)
		run.r.local.mu.Lock()
		run.r.local.read = t.read
		run.r.local.mu.Unlock()
	}
	return op, nil
}
