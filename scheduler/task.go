package scheduler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"go.opentelemetry.io/otel/trace"

	"slipstream/kernels"
	"slipstream/kernels/exec"
	"slipstream/kernels/expr"
	"slipstream/scheduler/physical"
	"slipstream/scheduler/planpb"
	"slipstream/scheduler/stage"
)

// cut plans a query and cuts it into stages as every node does alike.
func (e *Engine) cut(q *planpb.Query, broadcastRows int64) (*stage.Graph, error) {
	n, err := e.Plan(q)
	if err != nil {
		return nil, err
	}
	p := e.planner()
	return stage.Cut(n, stage.Config{BroadcastRows: broadcastRows, Estimate: p.Estimate}), nil
}

func lost(node string, stage, task int32, err error) error {
	return &LostInput{Node: node, Stage: stage, Task: task, Cause: err.Error()}
}

// RunTask runs one task of a stage on this node and keeps its output,
// cut into t.Buckets buckets, for the tasks that read it.
func (e *Engine) RunTask(ctx context.Context, t *planpb.Task) (res *planpb.TaskResult, err error) {
	ctx, span := e.tracer().Start(ctx, fmt.Sprintf("task %d/%d", t.GetStage(), t.GetTask()), trace.WithAttributes(
		attrQuery.String(t.GetQueryId()), attrStage.Int(int(t.GetStage())), attrPartition.Int(int(t.GetTask())),
		attrAttempt.Int(int(t.GetAttempt())), attrNode.String(e.Self.Name)))
	defer func() { e.endTask(ctx, span, t, res, err) }()
	tctx, finish, err := e.startTask(ctx, t.GetQueryId())
	if err != nil { // ctx stays set: endTask reads it
		return nil, err
	}
	ctx = tctx
	defer finish()
	// A cut cached under the id is used only if it is this query's (a
	// client may reuse an id).
	if g, ok := e.cuts.Get(t.GetQueryId()); ok && g.String() == t.GetFingerprint() {
		return e.runStage(ctx, t, g)
	}
	g, err := e.cut(t.GetQuery(), t.GetBroadcastRows())
	if (err != nil || g.String() != t.GetFingerprint()) && t.GetCoordinator() != "" {
		// This node may have missed a manifest (it joined a moment ago).
		e.syncFrom(ctx, t.GetCoordinator())
		g, err = e.cut(t.GetQuery(), t.GetBroadcastRows())
	}
	if err != nil {
		return nil, err
	}
	if got := g.String(); got != t.GetFingerprint() {
		return nil, kernels.Errorf(kernels.Internal, "node %s cuts the query differently from the coordinator (are the catalogs in sync?):\n%s\nvs the coordinator's\n%s", e.Self.Name, got, t.GetFingerprint())
	}
	e.cuts.Put(t.GetQueryId(), g, graphCost(g))
	return e.runStage(ctx, t, g)
}

// endTask ends a task attempt's span with what it wrote and read; an
// attempt whose context was cancelled (the coordinator gave up on it) is
// marked cancelled, whatever error that caused.
func (e *Engine) endTask(ctx context.Context, span trace.Span, t *planpb.Task, res *planpb.TaskResult, err error) {
	if err != nil && ctx.Err() != nil && !cancelled(err) {
		err = kernels.Errorf(kernels.Cancelled, "attempt cancelled: %v", err)
	}
	if res != nil && span.IsRecording() {
		span.SetAttributes(attrRowsOut.Int64(res.GetRows()), attrBytesOut.Int64(res.GetBytes()), attrRowsRead.Int64(res.GetRowsRead()),
			attrBytesRead.Int64(res.GetBytesRead()), attrSpilled.Int64(res.GetSpilledBytes()))
	}
	endSpan(span, err)
	if err != nil && !cancelled(err) {
		queryLog(t.GetQueryId(), traceID(ctx)).Info("task failed", "stage", t.GetStage(), "task", t.GetTask(), "attempt", t.GetAttempt(), "err", err)
	}
}

// runStage runs task t of a query cut into g.
func (e *Engine) runStage(ctx context.Context, t *planpb.Task, g *stage.Graph) (*planpb.TaskResult, error) {
	var err error
	if int(t.GetStage()) >= len(g.Stages) {
		return nil, kernels.Errorf(kernels.Invalid, "task names stage %d; the query has %d", t.GetStage(), len(g.Stages))
	}
	st := g.Stages[t.GetStage()]
	p, acct := e.queryPlanner(fmt.Sprintf("%s-s%d-t%d", t.GetQueryId(), t.GetStage(), t.GetTask()))
	defer acct.Close()
	e.taskAccts.add(t, acct) // for explain(analyze=True) and query_status
	res := &planpb.TaskResult{}
	if sh := t.GetShare(); sh != nil && st.Scan != nil {
		if p.Share, err = e.share(st.Scan.Table, sh); err != nil {
			// This node should hold the partition but does not (it missed
			// the commit): the coordinator places the task on another holder.
			return nil, lost(e.Self.Name, t.GetStage(), t.GetTask(), err)
		}
		if st.Scan.Table != "" {
			res.RowsRead, res.BytesRead = e.partsRead(st.Scan.Table, sh.GetParts(), p.Share.Files)
		}
	}
	var opened []exec.Operator
	var read counted
	p.Exchange = func(id int) ([]exec.Operator, error) {
		ops, err := e.inputs(ctx, t, int32(id), &read)
		opened = append(opened, ops...)
		return ops, err
	}
	op, err := p.Build(st.Root)
	if err != nil {
		for _, o := range opened {
			o.Close()
		}
		return nil, err
	}
	defer op.Close()
	buckets := max(1, int(t.GetBuckets()))
	keys := make([]expr.Expr, len(st.Keys))
	for i, k := range st.Keys {
		keys[i] = physical.Compile(k)
	}
	outs := e.outputs.newTaskOutput(op.Schema(), buckets)
	split := exec.NewPartitioner(e.outputs.Allocator(), keys, buckets)
	opCtx := expr.WithAllocator(ctx, acct) // as accounted.Next
	for {
		b, err := op.Next(opCtx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			outs.abort()
			return nil, err
		}
		parts, err := split.Split(ctx, b)
		b.Release()
		if err != nil {
			outs.abort()
			return nil, err
		}
		for i, part := range parts {
			if part == nil {
				continue
			}
			res.Rows += part.NumRows()
			res.Bytes += exec.BatchBytes(part)
			if err := outs.add(i, part); err != nil {
				exec.ReleaseAll(parts[i+1:])
				outs.abort()
				return nil, err
			}
		}
	}
	if e.Fault != nil {
		e.Fault(fmt.Sprintf("task:%d", t.GetStage()))
	}
	err = outs.keep(func(i int) outputKey {
		return outputKey{t.GetQueryId(), t.GetStage(), t.GetTask(), t.GetAttempt(), int32(i)}
	})
	if err != nil {
		return nil, err
	}
	res.RowsRead += read.rows.Load()
	res.BytesRead += read.bytes.Load()
	res.SpilledBytes = acct.Spilled()
	return res, nil
}

// share turns a task's share into files of this node.
func (e *Engine) share(table string, sh *planpb.Share) (*physical.Share, error) {
	if table != "" {
		files, err := e.Catalog.PartFiles(table, sh.GetParts())
		if err != nil {
			return nil, err
		}
		return &physical.Share{Files: files}, nil
	}
	out := &physical.Share{}
	for _, f := range sh.GetFiles() {
		out.Files = append(out.Files, f.GetPath())
		var groups []int
		for _, g := range f.GetRowGroups() {
			groups = append(groups, int(g))
		}
		out.Groups = append(out.Groups, groups)
	}
	return out, nil
}

// inputs opens the streams a task reads from one input stage, in the
// order of that stage's tasks.
func (e *Engine) inputs(ctx context.Context, t *planpb.Task, id int32, read *counted) ([]exec.Operator, error) {
	for _, in := range t.GetInputs() {
		if in.GetStage() != id {
			continue
		}
		ops := make([]exec.Operator, 0, len(in.GetSources()))
		for _, src := range in.GetSources() {
			key := &planpb.OutputKey{QueryId: t.GetQueryId(), Stage: id, Task: src.GetTask(), Attempt: src.GetAttempt(), Bucket: in.GetBucket()}
			var op exec.Operator
			var err error
			if src.GetNode() == e.Self.Name {
				op, err = e.outputs.Open(key, false)
			} else {
				op, err = e.Net.Fetch(ctx, src.GetAddress(), key, t.GetCompress())
			}
			if err != nil {
				for _, o := range ops {
					o.Close()
				}
				return nil, lost(src.GetNode(), id, src.GetTask(), err)
			}
			ops = append(ops, &guarded{Operator: op, node: src.GetNode(), stage: id, task: src.GetTask(), read: read})
		}
		return ops, nil
	}
	return nil, kernels.Errorf(kernels.Invalid, "task lists no input for stage %d", id)
}

// guarded marks the errors of reading another node's output as lost input.
// It counts what it reads in read.
type guarded struct {
	exec.Operator
	node        string
	stage, task int32
	read        *counted
}

func (g *guarded) Next(ctx context.Context) (arrow.RecordBatch, error) {
	b, err := g.Operator.Next(ctx)
	if err != nil && !errors.Is(err, io.EOF) && ctx.Err() == nil {
		return nil, lost(g.node, g.stage, g.task, err)
	}
	if b != nil && g.read != nil {
		g.read.rows.Add(b.NumRows())
		g.read.bytes.Add(exec.BatchBytes(b))
	}
	return b, err
}

// counted is what a task read from its inputs (the streams of an
// exchange may be read by several goroutines).
type counted struct{ rows, bytes atomic.Int64 }

// partsRead is the rows of a task's stored partitions, and the bytes of
// their files.
func (e *Engine) partsRead(table string, parts []string, files []string) (rows, bytes int64) {
	if tbl, err := e.Catalog.Table(table); err == nil {
		want := map[string]bool{}
		for _, id := range parts {
			want[id] = true
		}
		for _, p := range tbl.M.Parts {
			if want[p.ID] {
				rows += p.Rows
			}
		}
	}
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			bytes += st.Size()
		}
	}
	return rows, bytes
}

// Estimates of what planning's cached values hold, in bytes: a plan's nodes
// and expressions take several times its encoded query (planCost per
// byte); a cut query about what its fingerprint text spells out, several
// times over.
const planCost = 8

func graphCost(g *stage.Graph) int64 { return 4 * int64(len(g.String())) }

// recent keeps the last values put, by key (ids cancelled before their
// query arrived, queries ended): state with a bound, not a cache.
type recent[V any] struct {
	mu    sync.Mutex
	order []string
	m     map[string]V
}

const recentKept = 32

func (c *recent[V]) get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	return v, ok
}

// put keeps v under key unless the key has a value already.
func (c *recent[V]) put(key string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]V{}
	}
	if _, ok := c.m[key]; ok {
		return
	}
	c.m[key] = v
	c.order = append(c.order, key)
	if len(c.order) > recentKept {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
}
