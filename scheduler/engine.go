package scheduler

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"slipstream/kernels"
	"slipstream/kernels/budget"
	"slipstream/kernels/exec"
	"slipstream/kernels/expr"
	"slipstream/kernels/fsroot"
	"slipstream/scheduler/catalog"
	"slipstream/scheduler/cluster"
	"slipstream/scheduler/config"
	"slipstream/scheduler/optimizer"
	"slipstream/scheduler/physical"
	"slipstream/scheduler/plan"
	"slipstream/scheduler/planpb"
	"slipstream/scheduler/sql"
	"slipstream/scheduler/stage"
)

// Engine plans and runs queries on one node: alone against its catalog
// and files, or as one node of a cluster (see node.go).
type Engine struct {
	Catalog *catalog.Catalog
	Mem     memory.Allocator
	// Memory is the node's budget: every query runs in an account of it
	// and its operators spill or fail within it (nil: no limit).
	Memory *budget.Pool
	// Partitions is how many pipelines a query may run at once (0: GOMAXPROCS).
	Partitions int

	// The cluster; with Members nil the node is alone.
	Self    cluster.Member
	Members cluster.Membership
	Net     Transport
	// Config is the node's configuration; the scheduler reads Replication,
	// TasksPerNode, BroadcastRows, PartRows and Compress (zero fields take
	// their defaults).
	Config config.Node
	// Roots are the directories users' file scans (read_parquet, ...) may
	// read; nil allows any path (tests that build an Engine directly).
	Roots *fsroot.Roots
	// Tracing makes the spans of queries, stages and tasks (trace.go);
	// nil: the global provider (otel.SetTracerProvider).
	Tracing trace.TracerProvider
	// Fault, when set, is called at named points of a task's life
	// ("task:<stage>" as a task of that stage writes its output,
	// "shuffle-read" as another node reads an output): the tests' way to
	// kill a node at an exact moment.
	Fault func(point string)
	// MeterProvider receives the node's metrics (metrics.go); nil: none.
	MeterProvider metric.MeterProvider

	once    sync.Once
	metrics *metrics
	outputs *Outputs
	queries *registry
	tasks   taskRuns
	// Caches of planning, by bytes (exec.Cache, in the node's budget): the
	// stages of recent queries, so that the tasks of one query on one node
	// cut it once (cutting opens files for schemas and row counts), and the
	// plans of recent queries.
	cuts  *exec.Cache[*stage.Graph]
	plans *exec.Cache[planned]

	// The memory figures of queries, for explain(analyze=True) and
	// query_status (analyze.go): the queries run on this node alone, and
	// the accounts of the tasks of cluster queries run here.
	runs      localRuns
	taskAccts taskAccounts
	memCache  memoryCache // of running cluster queries

	// repairsLeft and repaired count this node's repairs (replicas.go).
	repairsLeft, repaired atomic.Int64
	repl                  replicator // re-replication (rereplicate.go)
	copies                copies     // copies in progress and their pace (copies.go)
	partBytes             int64      // tests: a lower maxPartBytes
}

// planned is an optimized plan and when it was made.
type planned struct {
	n  plan.Node
	at time.Time
}

// plansFresh is how long a plan is reused: a client asks GetFlightInfo,
// then DoGet with the same query a moment later, and each plans it.
// Files a plan reads could change meanwhile; the window keeps that small.
const plansFresh = 5 * time.Second

// TableSchema implements plan.Resolver.
func (e *Engine) TableSchema(name string) (*arrow.Schema, error) { return e.Catalog.TableSchema(name) }

var extensions = map[exec.Format][]string{
	exec.Parquet: {".parquet", ".pq"},
	exec.CSV:     {".csv", ".tsv", ".txt"},
	exec.IPC:     {".arrow", ".feather", ".ipc", ".arrows"},
}

// SQL implements plan.Resolver: it compiles SQL text into plan nodes.
// EXPLAIN gives the query's plan as rows of text.
func (e *Engine) SQL(s *planpb.Sql) (*planpb.Node, error) {
	st, err := sql.Parse(s.GetQuery(), s.GetTables(), e)
	if err != nil {
		return nil, err
	}
	switch st.Kind {
	case sql.Query:
		return st.Input, nil
	case sql.Explain:
		txt, err := e.Explain(&planpb.Query{Root: st.Input})
		if err != nil {
			return nil, err
		}
		return sql.Lines("plan", txt), nil
	}
	return nil, st.NotAQuery()
}

// FileRoots implements plan.Resolver.
func (e *Engine) FileRoots() *fsroot.Roots { return e.Roots }

// FileSchema implements plan.Resolver: it expands globs and directories
// and checks that every file has the same schema. Every lookup goes
// through e.Roots: a path outside them is PermissionDenied.
func (e *Engine) FileSchema(paths []string, format exec.Format, opts exec.CSVOptions) ([]string, *arrow.Schema, error) {
	var files []string
	for _, p := range paths {
		matches, err := e.Roots.Glob(p)
		var refused *kernels.Error
		if errors.As(err, &refused) {
			return nil, nil, err // outside the roots
		}
		if err != nil {
			return nil, nil, kernels.Errorf(kernels.Invalid, "bad path pattern %q: %v", p, err)
		}
		if len(matches) == 0 {
			return nil, nil, kernels.Errorf(kernels.NotFound, "no file matches %s (paths are on the server, relative to its working directory)", p)
		}
		sort.Strings(matches)
		for _, m := range matches {
			st, err := e.Roots.Stat(m)
			if err != nil {
				return nil, nil, exec.OpenError(m, err)
			}
			if !st.IsDir() {
				files = append(files, m)
				continue
			}
			entries, err := e.Roots.ReadDir(m)
			if err != nil {
				return nil, nil, exec.OpenError(m, err)
			}
			n := len(files)
			for _, en := range entries {
				for _, ext := range extensions[format] {
					if !en.IsDir() && strings.HasSuffix(strings.ToLower(en.Name()), ext) {
						files = append(files, filepath.Join(m, en.Name()))
					}
				}
			}
			if len(files) == n {
				return nil, nil, kernels.Errorf(kernels.NotFound, "directory %s holds no %s files", m, format)
			}
		}
	}
	var schema *arrow.Schema
	for _, f := range files {
		var s *arrow.Schema
		var err error
		if format == exec.CSV {
			s, err = exec.InferCSV(e.Roots, f, opts)
		} else {
			s, err = exec.FileSchema(e.Mem, e.Roots, format, f, opts)
		}
		if err != nil {
			return nil, nil, err
		}
		switch {
		case schema == nil:
			schema = s
		case format == exec.CSV:
			// CSV types are guesses from a sample: widen them to fit every file.
			if schema, err = exec.WidenCSV(schema, s); err != nil {
				return nil, nil, fmt.Errorf("%s and %s: %w", files[0], f, err)
			}
		case !schema.Equal(s):
			return nil, nil, kernels.Errorf(kernels.Invalid, "%s has a different schema from %s:\n%s\nvs\n%s", f, files[0], s, schema)
		}
	}
	return files, schema, nil
}

// Plan builds, checks and optimizes a query. The same query planned in
// the last few seconds, with no table changed since, reuses that plan.
func (e *Engine) Plan(q *planpb.Query) (plan.Node, error) {
	e.init()
	key, err := proto.MarshalOptions{Deterministic: true}.Marshal(q)
	if err == nil && e.Catalog != nil {
		key = fmt.Appendf(key, "@%d", e.Catalog.Generation())
		if p, ok := e.plans.Get(string(key)); ok && time.Since(p.at) < plansFresh {
			return p.n, nil
		}
	}
	n, err := plan.Build(q, e)
	if err != nil {
		return nil, err
	}
	n = optimizer.Optimize(n, e.planner().Estimator())
	if key != nil && e.Catalog != nil {
		e.plans.Put(string(key), planned{n: n, at: time.Now()}, planCost*int64(len(key)))
	}
	return n, nil
}

// Execute plans q and returns the root operator; the caller closes it,
// which ends the query's memory account (and removes its spill files).
func (e *Engine) Execute(q *planpb.Query) (exec.Operator, error) {
	n, err := e.Plan(q)
	if err != nil {
		return nil, err
	}
	p, acct := e.queryPlanner("query")
	p.Read = &exec.ReadCount{}
	op, err := p.Build(n)
	if err != nil {
		acct.Close()
		return nil, err
	}
	t := e.track(op, acct)
	t.read = p.Read
	return t, nil
}

// queryPlanner is a planner whose operators allocate from, and spill
// within, a new account of the node's budget; the caller closes it.
func (e *Engine) queryPlanner(name string) (*physical.Planner, *budget.Query) {
	p := e.planner()
	acct := e.Memory.Begin(name)
	p.Mem, p.Budget = acct, acct
	return p, acct
}

func (e *Engine) planner() *physical.Planner {
	e.init()
	return &physical.Planner{Mem: e.Mem, Storage: e.Catalog, Partitions: e.Partitions}
}

// accounted closes a query's account after its operators.
type accounted struct {
	exec.Operator
	acct *budget.Query
	read *exec.ReadCount // what its scans read
}

// Next runs the operators with the query's account in ctx: Arrow's
// compute functions (a Project's arithmetic, a Filter's comparisons)
// allocate from the allocator ctx carries, Go's own otherwise, which
// neither counts nor reuses their buffers.
func (a *accounted) Next(ctx context.Context) (arrow.RecordBatch, error) {
	return a.Operator.Next(expr.WithAllocator(ctx, a.acct))
}

func (a *accounted) Close() error {
	err := a.Operator.Close()
	a.acct.Close()
	return err
}

// Children shows the operators under the account in EXPLAIN.
func (a *accounted) Children() []exec.Operator {
	if p, ok := a.Operator.(exec.Parent); ok {
		return p.Children()
	}
	return nil
}

// Explain renders the logical plan as given, the optimized plan, the
// physical operators and the output schema.
func (e *Engine) Explain(q *planpb.Query) (string, error) {
	n, err := plan.Build(q, e)
	if err != nil {
		return "", err
	}
	opt := optimizer.Optimize(n, e.planner().Estimator())
	if e.Distributed() {
		p := e.planner()
		g := stage.Cut(opt, stage.Config{BroadcastRows: e.broadcastRows(), Estimate: p.Estimate})
		return fmt.Sprintf("== logical plan ==\n%s\n== optimized plan ==\n%s\n== stages (%d alive nodes) ==\n%s\n== schema ==\n%s",
			plan.Explain(n), plan.Explain(opt), len(e.Alive()), g, plan.SchemaString(opt)), nil
	}
	op, err := e.planner().Build(opt)
	if err != nil {
		return "", err
	}
	defer op.Close()
	return fmt.Sprintf("== logical plan ==\n%s\n== optimized plan ==\n%s\n== physical plan ==\n%s\n== schema ==\n%s",
		plan.Explain(n), plan.Explain(opt), exec.Explain(op), plan.SchemaString(opt)), nil
}
