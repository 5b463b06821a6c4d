package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"slipstream/kernels"
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
	Plan      string                 `json:"plan"`
	Peak      int64                  `json:"peak_bytes"`
	Spilled   int64                  `json:"spilled_bytes"`
	Operators []budget.OperatorStats `json:"operators"`
	Error     string                 `json:"error,omitempty"`
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
		s.Peak, s.Spilled, s.Operators = run.acct.Peak(), run.acct.Spilled(), run.acct.Operators()
	}
	return s
}

// finish records how the run ended, once its operators are closed.
func (run *localRun) finish(rows int64, state string, err error) {
	ops := run.acct.Operators()
	txt := run.explain()
	run.mu.Lock()
	defer run.mu.Unlock()
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
func (e *Engine) QueryStatus(id string) ([]byte, error) {
	e.init()
	run, ok := e.runs.get(id)
	if id == "" && ok {
		if started, any := e.latestCoordinated(); any && started.After(run.snapshot().Started) {
			return e.Status("")
		}
	}
	if !ok {
		return e.Status(id)
	}
	return json.Marshal(run.snapshot())
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

// ExplainAnalyze runs q on this node, dropping its rows, and renders its
// plans with, for each operator that held memory, the most it held and
// the bytes it spilled, and the run's totals.
func (e *Engine) ExplainAnalyze(ctx context.Context, q *planpb.Query) (string, error) {
	if e.Distributed() {
		return "", kernels.Errorf(kernels.NotSupported, "explain(analyze=True) runs a query on one node only for now; this node is one of %d: run it on a single node, or read query_status() after collecting it", len(e.Alive()))
	}
	given, err := plan.Build(q, e)
	if err != nil {
		return "", err
	}
	opt, err := e.Plan(q)
	if err != nil {
		return "", err
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
