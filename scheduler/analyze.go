package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"slipstream/kernels/budget"
	"slipstream/kernels/exec"
	"slipstream/scheduler/catalog"
	"slipstream/scheduler/plan"
	"slipstream/scheduler/planpb"
)

// LocalStatus is what query_status reports of a query this node ran
// alone (a client reading a query ticket, or EXPLAIN ANALYZE): how it
// ended and, for each operator that held memory in the query's budget,
// the most it held and the bytes it spilled.
type LocalStatus struct {
	ID string `json:"id"`
	// State is running, done, failed, cancelled (by its caller), or
	// stopped (closed before its end without an error).
	State   string    `json:"state"`
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"`
	Rows    int64     `json:"rows"`
	// Plan is the physical plan, each operator that held memory followed
	// by peak=… spilled=… (set when the query ends).
	Plan      string            `json:"plan"`
	Peak      int64             `json:"peak_bytes"`
	Spilled   int64             `json:"spilled_bytes"`
	Operators []OperatorFigures `json:"operators"` // folded by name (stage 0)
	Error     string            `json:"error,omitempty"`
}

// localRun is one query run on this node alone.
type localRun struct {
	mu     sync.Mutex
	acct   *budget.Query
	lines  []planLine // its physical plan, read before it runs
	status LocalStatus
}

// planLine is one line of a physical plan: its text, and its operator
// when that holds memory.
type planLine struct {
	text string
	mem  exec.MemoryUser
}

// explain renders the plan with each operator's memory figures.
func (run *localRun) explain() string {
	var sb strings.Builder
	for _, l := range run.lines {
		sb.WriteString(l.text)
		if l.mem != nil {
			s := l.mem.Memory()
			fmt.Fprintf(&sb, "  peak=%s spilled=%s", bytesText(s.Peak), bytesText(s.Spilled))
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}

// localRuns keeps the last keepQueries local runs, by id; its zero value
// is ready.
type localRuns struct {
	mu    sync.Mutex
	order []string
	m     map[string]*localRun
}

func (r *localRuns) start(op exec.Operator, acct *budget.Query) *localRun {
	run := &localRun{acct: acct, status: LocalStatus{ID: catalog.NewID(), State: "running", Started: time.Now()}}
	exec.Walk(op, func(o exec.Operator, depth int) {
		l := planLine{text: strings.Repeat("  ", depth) + o.String()}
		l.mem, _ = o.(exec.MemoryUser)
		run.lines = append(run.lines, l)
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]*localRun{}
	}
	r.m[run.status.ID] = run
	r.order = append(r.order, run.status.ID)
	if len(r.order) > keepQueries {
		delete(r.m, r.order[0])
		r.order = r.order[1:]
	}
	return run
}

func (r *localRuns) get(id string) (*localRun, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id == "" && len(r.order) > 0 {
		id = r.order[len(r.order)-1]
	}
	run, ok := r.m[id]
	return run, ok
}

// snapshot is the run's status now: a running query's operators as far
// as they have got.
func (run *localRun) snapshot() LocalStatus {
	run.mu.Lock()
	defer run.mu.Unlock()
	s := run.status
	if s.State == "running" {
		s.Seconds = time.Since(s.Started).Seconds()
		s.Peak, s.Spilled, s.Operators = run.acct.Peak(), run.acct.Spilled(), fold([]OperatorFigures{}, 0, run.acct.Operators())
	}
	return s
}

// finish records how the run ended, once its operators are closed.
func (run *localRun) finish(rows int64, state string, err error) {
	ops := fold([]OperatorFigures{}, 0, run.acct.Operators())
	txt := run.explain()
	run.mu.Lock()
	defer run.mu.Unlock()
	run.lines = nil // the text stays; the closed operators may go
	s := &run.status
	s.State, s.Rows, s.Plan = state, rows, txt
	s.Seconds = time.Since(s.Started).Seconds()
	s.Peak, s.Spilled, s.Operators = run.acct.Peak(), run.acct.Spilled(), ops
	if err != nil {
		s.Error = err.Error()
	}
}

func bytesText(n int64) string { return strings.ReplaceAll(budget.FormatBytes(n), " ", "") }

// tracked is a query run on this node alone, recorded for query_status.
type tracked struct {
	*accounted
	run   *localRun
	rows  int64
	state string // "" until the end of the stream or an error
	err   error
}

// track wraps a query's operators so that the run is recorded from now
// until it is closed.
func (e *Engine) track(op exec.Operator, acct *budget.Query) *tracked {
	return &tracked{accounted: &accounted{Operator: op, acct: acct}, run: e.runs.start(op, acct)}
}

func (t *tracked) Next(ctx context.Context) (arrow.RecordBatch, error) {
	b, err := t.accounted.Next(ctx)
	switch {
	case err == nil:
		t.rows += b.NumRows()
	case errors.Is(err, io.EOF):
		if t.state == "" {
			t.state = "done"
		}
	case t.state != "":
	case ctx.Err() != nil:
		t.state, t.err = "cancelled", err
	default:
		t.state, t.err = "failed", err
	}
	return b, err
}

func (t *tracked) Close() error {
	err := t.accounted.Close()
	state := t.state
	if state == "" {
		state = "stopped"
	}
	t.run.finish(t.rows, state, t.err)
	return err
}

// QueryStatus reports a query this node coordinated on the cluster or
// ran alone (id "": the latest of either).
func (e *Engine) QueryStatus(ctx context.Context, id string) ([]byte, error) {
	e.init()
	run, ok := e.runs.get(id)
	if id == "" && ok {
		if started, any := e.latestCoordinated(); any && started.After(run.snapshot().Started) {
			return e.coordinatedStatus(ctx, "")
		}
	}
	if !ok {
		return e.coordinatedStatus(ctx, id)
	}
	return json.Marshal(run.snapshot())
}

// coordinatedStatus is the status of a cluster query with the memory
// figures of its tasks on every node: the largest task's peak_bytes, the
// spilled_bytes of all, and its operators by stage.
func (e *Engine) coordinatedStatus(ctx context.Context, id string) ([]byte, error) {
	raw, err := e.Status(id)
	if err != nil {
		return nil, err
	}
	var st map[string]any
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, err
	}
	qid, _ := st["id"].(string)
	state, _ := st["state"].(string)
	mem := e.memCache.get(qid, state == queryRunning, func() queryMemory { return e.clusterMemory(ctx, qid) })
	st["peak_bytes"], st["spilled_bytes"] = mem.peak(), mem.spilled()
	st["operators"] = mem.operators()
	st["under_replicated"], st["repairs"] = e.queryReplicas(qid)
	return json.Marshal(st)
}

// latestCoordinated is when the latest query this node coordinated started.
func (e *Engine) latestCoordinated() (time.Time, bool) {
	r := e.queries
	r.mu.Lock()
	if len(r.order) == 0 {
		r.mu.Unlock()
		return time.Time{}, false
	}
	q := r.m[r.order[len(r.order)-1]]
	r.mu.Unlock()
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.status.Started, true
}

// ExplainAnalyze runs q, dropping its rows, and renders its plans with,
// for each operator that held memory, the most it held and the bytes it
// spilled, and the run's totals. On a cluster the figures are gathered
// from the tasks on every node, by stage.
func (e *Engine) ExplainAnalyze(ctx context.Context, q *planpb.Query) (string, error) {
	given, err := plan.Build(q, e)
	if err != nil {
		return "", err
	}
	opt, err := e.Plan(q)
	if err != nil {
		return "", err
	}
	if e.Distributed() {
		return e.explainAnalyzeCluster(ctx, given, opt, q)
	}
	op, err := e.Execute(q)
	if err != nil {
		return "", err
	}
	t := op.(*tracked)
	for {
		b, err := t.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Close()
			return "", err
		}
		b.Release()
	}
	t.Close()
	s := t.run.snapshot()
	return fmt.Sprintf("== logical plan ==\n%s\n== optimized plan ==\n%s\n== physical plan (analyzed) ==\n%s\n== run ==\nid=%s rows=%d seconds=%.3f peak=%s spilled=%s\n== schema ==\n%s",
		plan.Explain(given), plan.Explain(opt), s.Plan, s.ID, s.Rows, s.Seconds, bytesText(s.Peak), bytesText(s.Spilled), plan.SchemaString(opt)), nil
}

// explainAnalyzeCluster runs q across the cluster, drops its result and
// renders its stages with the memory figures of their tasks.
func (e *Engine) explainAnalyzeCluster(ctx context.Context, given, opt plan.Node, q *planpb.Query) (string, error) {
	started := time.Now()
	res, err := e.RunQuery(ctx, q)
	if err != nil {
		return "", err
	}
	secs := time.Since(started).Seconds()
	var rows int64
	for _, p := range res.Parts {
		rows += p.Rows
	}
	e.releaseEverywhere(ctx, res.ID)
	mem := e.clusterMemory(ctx, res.ID)
	stages := ""
	if r, ok := e.queries.get(res.ID); ok {
		r.mu.Lock()
		stages = r.fp
		r.mu.Unlock()
	}
	return fmt.Sprintf("== logical plan ==\n%s\n== optimized plan ==\n%s\n== stages (%d alive nodes) ==\n%s\n== memory by stage (analyzed) ==\n%s== run ==\nid=%s rows=%d seconds=%.3f peak=%s spilled=%s (peak: the largest task's)\n== schema ==\n%s",
		plan.Explain(given), plan.Explain(opt), len(e.Alive()), stages, mem.text(), res.ID, rows, secs, bytesText(mem.peak()), bytesText(mem.spilled()), plan.SchemaString(opt)), nil
}

// releaseEverywhere drops a query's outputs on every alive node.
func (e *Engine) releaseEverywhere(ctx context.Context, id string) {
	for _, m := range e.Alive() {
		if m.Name == e.Self.Name {
			e.Outputs().Release(id, -1)
			continue
		}
		e.Net.Release(ctx, m.Addr, id, -1)
	}
}

// TaskMemory is what one task attempt of a cluster query held and spilled.
type TaskMemory struct {
	Stage     int32                  `json:"stage"`
	Task      int32                  `json:"task"`
	Attempt   int32                  `json:"attempt"`
	Node      string                 `json:"node"`
	Peak      int64                  `json:"peak_bytes"`
	Spilled   int64                  `json:"spilled_bytes"`
	Operators []budget.OperatorStats `json:"operators"`
}

// taskAccounts keeps the accounts of the tasks this node ran, by query,
// for the last keepQueries queries; its zero value is ready.
type taskAccounts struct {
	mu    sync.Mutex
	order []string
	m     map[string][]taskAccount
}

type taskAccount struct {
	stage, task, attempt int32
	acct                 *budget.Query
}

// add records the account of a task attempt (figures are read from it
// later, while it runs or after it is closed).
func (r *taskAccounts) add(t *planpb.Task, acct *budget.Query) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string][]taskAccount{}
	}
	id := t.GetQueryId()
	if _, ok := r.m[id]; !ok {
		r.order = append(r.order, id)
		if len(r.order) > keepQueries {
			delete(r.m, r.order[0])
			r.order = r.order[1:]
		}
	}
	r.m[id] = append(r.m[id], taskAccount{t.GetStage(), t.GetTask(), t.GetAttempt(), acct})
}

// TaskMemory lists the figures of the tasks of query id this node ran.
func (e *Engine) TaskMemory(id string) []TaskMemory {
	r := &e.taskAccts
	r.mu.Lock()
	accts := append([]taskAccount(nil), r.m[id]...)
	r.mu.Unlock()
	out := make([]TaskMemory, 0, len(accts))
	for _, a := range accts {
		out = append(out, TaskMemory{Stage: a.stage, Task: a.task, Attempt: a.attempt, Node: e.Self.Name,
			Peak: a.acct.Peak(), Spilled: a.acct.Spilled(), Operators: a.acct.Operators()})
	}
	return out
}

// queryMemory is the figures of a cluster query's tasks, from every node
// that answered.
type queryMemory struct {
	tasks  []TaskMemory
	silent []string // nodes that did not answer
}

// clusterMemory asks every alive node at once for the figures of query
// id's tasks.
func (e *Engine) clusterMemory(ctx context.Context, id string) queryMemory {
	alive := e.Alive()
	got := make([][]TaskMemory, len(alive))
	failed := make([]bool, len(alive))
	var wg sync.WaitGroup
	for i, m := range alive {
		if m.Name == e.Self.Name {
			got[i] = e.TaskMemory(id)
			continue
		}
		wg.Go(func() {
			actx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			var err error
			got[i], err = e.Net.TaskMemory(actx, m.Addr, id)
			failed[i] = err != nil
		})
	}
	wg.Wait()
	var mem queryMemory
	for i, m := range alive {
		if failed[i] {
			mem.silent = append(mem.silent, m.Name)
		}
		mem.tasks = append(mem.tasks, got[i]...)
	}
	sort.Slice(mem.tasks, func(i, j int) bool {
		a, b := mem.tasks[i], mem.tasks[j]
		if a.Stage != b.Stage {
			return a.Stage < b.Stage
		}
		if a.Task != b.Task {
			return a.Task < b.Task
		}
		return a.Attempt < b.Attempt
	})
	return mem
}

// memoryFresh is how long the memory figures of a running cluster query
// are served again before the nodes are asked anew: a progress bar polls
// the status four times a second, and each ask is a call to every node,
// which a cluster busy with the query answers slowly.
const memoryFresh = time.Second

// memoryCache keeps the latest memory figures of running cluster
// queries; its zero value is ready.
type memoryCache struct {
	mu sync.Mutex
	m  map[string]cachedMemory
}

type cachedMemory struct {
	at  time.Time
	mem queryMemory
}

// get is query id's figures: those fetched less than memoryFresh ago
// while it runs (running), else fetch's, kept while it runs.
func (c *memoryCache) get(id string, running bool, fetch func() queryMemory) queryMemory {
	c.mu.Lock()
	got, ok := c.m[id]
	c.mu.Unlock()
	if running && ok && time.Since(got.at) < memoryFresh {
		return got.mem
	}
	mem := fetch()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !running { // an ended query's figures do not change: fetched once more, not kept
		delete(c.m, id)
		return mem
	}
	if c.m == nil {
		c.m = map[string]cachedMemory{}
	}
	now := time.Now()
	for q, old := range c.m { // queries whose status nobody asked for again
		if now.Sub(old.at) > 10*memoryFresh {
			delete(c.m, q)
		}
	}
	c.m[id] = cachedMemory{at: now, mem: mem}
	return mem
}

func (m queryMemory) peak() int64 {
	var p int64
	for _, t := range m.tasks {
		p = max(p, t.Peak)
	}
	return p
}

func (m queryMemory) spilled() int64 {
	var s int64
	for _, t := range m.tasks {
		s += t.Spilled
	}
	return s
}

// OperatorFigures are the figures of the operators of one name (in one
// stage of a cluster query) folded together: parallel pipelines, the
// tasks of a stage, the rounds of a spilled aggregate. Peak is the
// largest, Spilled the sum, Count how many were folded.
type OperatorFigures struct {
	Stage int32 `json:"stage"`
	budget.OperatorStats
	Count int `json:"count"`
}

// fold adds ops (of stage) to out, one entry per stage and name.
func fold(out []OperatorFigures, stage int32, ops []budget.OperatorStats) []OperatorFigures {
	for _, o := range ops {
		i := slices.IndexFunc(out, func(f OperatorFigures) bool { return f.Stage == stage && f.Name == o.Name })
		if i < 0 {
			i = len(out)
			out = append(out, OperatorFigures{Stage: stage, OperatorStats: budget.OperatorStats{Name: o.Name}})
		}
		out[i].Count++
		out[i].OperatorStats = out[i].OperatorStats.Add(o)
	}
	return out
}

// operators folds the tasks' operators by stage and name.
func (m queryMemory) operators() []OperatorFigures {
	out := []OperatorFigures{}
	for _, t := range m.tasks {
		out = fold(out, t.Stage, t.Operators)
	}
	return out
}

// text renders the figures by stage: each stage's tasks, then each of its
// operators that held memory.
func (m queryMemory) text() string {
	var sb strings.Builder
	ops := m.operators()
	seen := map[int32]bool{}
	for _, t := range m.tasks {
		if seen[t.Stage] {
			continue
		}
		seen[t.Stage] = true
		var n int
		var peak, spilled int64
		for _, u := range m.tasks {
			if u.Stage == t.Stage {
				n++
				peak, spilled = max(peak, u.Peak), spilled+u.Spilled
			}
		}
		fmt.Fprintf(&sb, "stage %d: %d task attempts, largest peak=%s spilled=%s\n", t.Stage, n, bytesText(peak), bytesText(spilled))
		for _, o := range ops {
			if o.Stage == t.Stage {
				fmt.Fprintf(&sb, "  %s  peak=%s spilled=%s\n", o.Name, bytesText(o.Peak), bytesText(o.Spilled))
			}
		}
	}
	if len(m.silent) > 0 {
		fmt.Fprintf(&sb, "(no figures from %s: did not answer)\n", strings.Join(m.silent, ", "))
	}
	return sb.String()
}
