// Package physical turns an optimized logical plan into a tree of kernel
// operators (kernels/exec) ready to stream.
package physical

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels/budget"
	"slipstream/kernels/exec"
	"slipstream/kernels/expr"
	"slipstream/scheduler/cardinality"
	"slipstream/scheduler/plan"
)

// Storage lists the files that hold a stored table.
type Storage interface {
	TableFiles(name string) ([]string, error)
	TableRows(name string) (int64, error)
}

// Planner builds operators that allocate from Mem.
type Planner struct {
	Mem memory.Allocator
	// Budget, when set, is the query's account: sorts and aggregates
	// spill within it.
	Budget  *budget.Query
	Storage Storage
	// Partitions is how many pipelines may run at once (default: GOMAXPROCS).
	Partitions int
	// Share, when set, is the part of the plan's one scan this task reads
	// (a distributed stage reads a share of its scan on each node).
	Share *Share
	// Exchange returns the streams a stage reads from another stage, in
	// the order of the other stage's tasks (plan.Exchange).
	Exchange func(stage int) ([]exec.Operator, error)
	// Read, when set, counts what the plan's scans read.
	Read *exec.ReadCount

	bound map[*plan.Exchange][]exec.Operator

	// common holds the fingerprints of the subplans the plan computes more
	// than once (set on the first Build, from the root); shared their
	// operators, built once.
	common map[string]bool
	shared map[string]*exec.Shared
	fps    plan.Fingerprints
	est    *cardinality.Estimator
}

// Share is a part of a scan: files and, for Parquet, the row groups of
// each (a nil entry: all of that file's groups).
type Share struct {
	Files  []string
	Groups [][]int
}

// streams returns the operators an Exchange reads.
func (p *Planner) streams(e *plan.Exchange) ([]exec.Operator, error) {
	if ops, ok := p.bound[e]; ok {
		delete(p.bound, e)
		return ops, nil
	}
	if p.Exchange == nil {
		return nil, fmt.Errorf("physical: no runtime for exchange from stage %d", e.Stage)
	}
	return p.Exchange(e.Stage)
}

// Build makes the operator tree of n. On error nothing is left open.
func (p *Planner) Build(n plan.Node) (exec.Operator, error) {
	if p.common == nil {
		p.fps = plan.Fingerprints{}
		p.common, p.shared = plan.Repeated(n, p.fps), map[string]*exec.Shared{}
	}
	if !plan.Reusable(n) || len(p.common) == 0 {
		return p.build(n)
	}
	fp := p.fps.Of(n)
	if !p.common[fp] {
		return p.build(n)
	}
	if s := p.shared[fp]; s != nil {
		if r, ok := s.Reader(); ok {
			return r, nil
		}
	}
	op, err := p.build(n)
	if err != nil {
		return nil, err
	}
	s := exec.NewShared(op)
	p.shared[fp] = s
	r, _ := s.Reader()
	return r, nil
}

func (p *Planner) build(n plan.Node) (exec.Operator, error) {
	switch n := n.(type) {
	case *plan.Scan, *plan.Filter, *plan.Project, *plan.Exchange:
		parts, err := p.split(n)
		if err != nil {
			return nil, err
		}
		if parts != nil {
			return exec.NewUnion(parts, true), nil
		}
		return p.pipeline(n, share{})
	case *plan.Aggregate:
		return p.aggregate(n)
	case *plan.Sort:
		return p.sort(n, -1)
	case *plan.Join:
		jp := p.planJoin(n)
		parts, err := p.splitJoin(jp)
		if err != nil {
			return nil, err
		}
		if parts != nil {
			return exec.NewUnion(parts, true), nil
		}
		return p.join(jp)
	case *plan.Window:
		return p.window(n)
	case *plan.Explode:
		in, err := p.Build(n.Input)
		if err != nil {
			return nil, err
		}
		return exec.NewExplode(p.Mem, in, n.Columns, n.EmptyAsNull, !n.DropNulls), nil
	case *plan.Values:
		return p.values(n)
	case *plan.Concat:
		ops := make([]exec.Operator, 0, len(n.Inputs))
		for _, in := range n.Inputs {
			op, err := p.Build(in)
			if err != nil {
				for _, o := range ops {
					o.Close()
				}
				return nil, err
			}
			ops = append(ops, op)
		}
		return exec.NewUnion(ops, true), nil
	case *plan.Limit:
		if s, ok := n.Input.(*plan.Sort); ok && n.Count >= 0 {
			top, err := p.sort(s, n.Offset+n.Count)
			if err != nil {
				return nil, err
			}
			return exec.NewLimit(top, n.Offset, n.Count), nil
		}
		in, err := p.Build(n.Input)
		if err != nil {
			return nil, err
		}
		return exec.NewLimit(in, n.Offset, n.Count), nil
	}
	return nil, fmt.Errorf("physical: unknown plan node %T", n)
}

// values evaluates the rows of n (constants) into one batch.
func (p *Planner) values(n *plan.Values) (exec.Operator, error) {
	ctx := expr.WithAllocator(context.Background(), p.Mem)
	one := array.NewRecordBatch(arrow.NewSchema(nil, nil), nil, 1)
	defer one.Release()
	cols := make([]arrow.Array, 0, n.Out.NumFields())
	defer func() { releaseArrays(cols) }()
	for c := range n.Out.Fields() {
		cells := make([]arrow.Array, 0, len(n.Rows))
		for _, row := range n.Rows {
			a, err := expr.EvalArray(ctx, Compile(row[c]), one)
			if err != nil {
				releaseArrays(cells)
				return nil, err
			}
			cells = append(cells, a)
		}
		col, err := array.Concatenate(cells, p.Mem)
		releaseArrays(cells)
		if err != nil {
			return nil, err
		}
		cols = append(cols, col)
	}
	b := array.NewRecordBatch(n.Out, cols, int64(len(n.Rows)))
	return exec.NewRecords(n.Out, []arrow.RecordBatch{b}), nil
}

func releaseArrays(as []arrow.Array) {
	for _, a := range as {
		a.Release()
	}
}

// share is what one pipeline of a split scan reads: files and, for
// Parquet, the row groups of each (nil: all). The zero share is everything.
type share struct {
	files  []string
	groups [][]int
	stream exec.Operator // the chain's leaf already built: a stream of an Exchange, a share of a join
}

// pipeline builds a chain of Filter and Project over a Scan of sh.
func (p *Planner) pipeline(n plan.Node, sh share) (exec.Operator, error) {
	if sh.stream != nil {
		if _, chain := n.(*plan.Filter); !chain {
			if _, chain := n.(*plan.Project); !chain {
				return sh.stream, nil // the share is the chain's leaf, built
			}
		}
	}
	switch n := n.(type) {
	case *plan.Scan:
		format := n.Format
		if n.Table != "" {
			format = exec.IPC
		}
		if sh.files == nil && p.Share != nil {
			sh.files, sh.groups = p.Share.Files, p.Share.Groups
		}
		if sh.files == nil {
			var err error
			if sh.files, err = p.scanFiles(n); err != nil {
				return nil, err
			}
		}
		s := exec.NewScan(p.Mem, format, sh.files, n.FileSchema, n.Columns, n.Bounds, n.CSV)
		s.Roots = n.Roots
		s.RowGroups = sh.groups
		s.Read = p.Read
		return s, nil
	case *plan.Filter:
		in, err := p.pipeline(n.Input, sh)
		if err != nil {
			return nil, err
		}
		exec.ReadLate(in, false)
		f, err := exec.NewFilter(in, Compile(n.Predicate))
		if err != nil {
			in.Close()
			return nil, err
		}
		return f, nil
	case *plan.Project:
		in, err := p.pipeline(n.Input, sh)
		if err != nil {
			return nil, err
		}
		return project(in, n.Exprs), nil
	case *plan.Exchange:
		ops, err := p.streams(n)
		if err != nil {
			return nil, err
		}
		return exec.NewUnion(ops, true), nil
	}
	return p.Build(n)
}

func (p *Planner) scanFiles(s *plan.Scan) ([]string, error) {
	if s.Table != "" {
		return p.Storage.TableFiles(s.Table)
	}
	return s.Files, nil
}

// split builds n as several pipelines over contiguous shares of its scan,
// in file order, or returns nil when n is not a Filter/Project chain over a
// scan of at least two files or (Parquet) two row groups.
func (p *Planner) split(n plan.Node) ([]exec.Operator, error) {
	scan := n
	for {
		switch x := scan.(type) {
		case *plan.Filter:
			scan = x.Input
			continue
		case *plan.Project:
			scan = x.Input
			continue
		}
		break
	}
	if j, ok := scan.(*plan.Join); ok {
		if len(p.common) > 0 && p.common[p.fps.Of(j)] {
			return nil, nil // computed once (Build), then read whole by each use
		}
		joins, err := p.splitJoin(p.planJoin(j))
		if err != nil || joins == nil {
			return nil, err
		}
		return p.over(n, joins)
	}
	if e, ok := scan.(*plan.Exchange); ok {
		streams, err := p.streams(e)
		if err != nil {
			return nil, err
		}
		if len(streams) == 0 {
			return nil, fmt.Errorf("physical: stage %d has no output streams", e.Stage)
		}
		return p.over(n, streams)
	}
	s, ok := scan.(*plan.Scan)
	if !ok {
		return nil, nil
	}
	files, groups := []string(nil), [][]int(nil)
	if p.Share != nil {
		files, groups = p.Share.Files, p.Share.Groups
	} else {
		var err error
		if files, err = p.scanFiles(s); err != nil {
			return nil, err
		}
	}
	k := p.Partitions
	if k <= 0 {
		k = runtime.GOMAXPROCS(0)
	}
	shares, err := divide(s, files, groups, k)
	if err != nil || len(shares) < 2 {
		return nil, err
	}
	parts := make([]exec.Operator, 0, len(shares))
	for _, sh := range shares {
		op, err := p.pipeline(n, sh)
		if err != nil {
			for _, o := range parts {
				o.Close()
			}
			return nil, err
		}
		parts = append(parts, op)
	}
	return parts, nil
}

// over builds the Filter/Project chain n once over each of streams, which
// stand for the chain's leaf.
func (p *Planner) over(n plan.Node, streams []exec.Operator) ([]exec.Operator, error) {
	parts := make([]exec.Operator, 0, len(streams))
	for i, st := range streams {
		op, err := p.pipeline(n, share{stream: st})
		if err != nil {
			closeAll(append(parts, streams[i+1:]...))
			return nil, err
		}
		parts = append(parts, op)
	}
	return parts, nil
}

// divide cuts a scan into at most k contiguous shares: by file when there
// are enough files, else (Parquet) by row group.
func divide(s *plan.Scan, files []string, groups [][]int, k int) ([]share, error) {
	if len(files) >= k || s.Table != "" || s.Format != exec.Parquet {
		k = min(k, len(files))
		out := make([]share, k)
		for i := range out {
			out[i].files = files[i*len(files)/k : (i+1)*len(files)/k]
			if groups != nil {
				out[i].groups = groups[i*len(files)/k : (i+1)*len(files)/k]
			}
		}
		return out, nil
	}
	type unit struct{ file, group int }
	var units []unit
	for f, path := range files {
		if groups != nil && groups[f] != nil {
			for _, g := range groups[f] {
				units = append(units, unit{f, g})
			}
			continue
		}
		n, err := exec.ParquetRowGroups(s.Roots, path)
		if err != nil {
			return nil, err
		}
		for g := 0; g < n; g++ {
			units = append(units, unit{f, g})
		}
	}
	k = min(k, len(units))
	out := make([]share, 0, k)
	for i := 0; i < k; i++ {
		var sh share
		for _, u := range units[i*len(units)/k : (i+1)*len(units)/k] {
			if len(sh.files) == 0 || sh.files[len(sh.files)-1] != files[u.file] {
				sh.files = append(sh.files, files[u.file])
				sh.groups = append(sh.groups, nil)
			}
			sh.groups[len(sh.groups)-1] = append(sh.groups[len(sh.groups)-1], u.group)
		}
		out = append(out, sh)
	}
	return out, nil
}

func project(in exec.Operator, exprs []plan.Expr) exec.Operator {
	compiled := make([]expr.Expr, len(exprs))
	names := make([]string, len(exprs))
	for i, e := range exprs {
		compiled[i], names[i] = Compile(e), e.Name()
	}
	return exec.NewProject(in, compiled, names)
}

// aggregate projects the keys and the aggregates' arguments into columns,
// then hash-aggregates over those columns.
func (p *Planner) aggregate(n *plan.Aggregate) (exec.Operator, error) {
	if apart := quantilesApart(n); apart != nil {
		return p.Build(apart)
	}
	parts, err := p.split(n.Input)
	if err != nil {
		return nil, err
	}
	if parts != nil {
		mergeable, ordered := plan.Mergeable(n)
		if _, merging := n.Input.(*plan.Exchange); merging || !mergeable {
			// Over another stage's output (often partial results to merge)
			// or for median, n_unique, first, ...: every pipeline feeds one
			// aggregate, in input order, so that first and last are right
			// and float sums come out the same on every run.
			if op := p.splitAggregate(n, parts); op != nil {
				return op, nil
			}
			return p.onePhase(n, exec.NewUnion(parts, merging || ordered)), nil
		}
		return p.twoPhase(n, parts)
	}
	in, err := p.Build(n.Input)
	if err != nil {
		return nil, err
	}
	return p.onePhase(n, in), nil
}

// window computes the partition keys, order keys and arguments into extra
// columns, runs the Window operator over them, then drops them.
func (p *Planner) window(n *plan.Window) (exec.Operator, error) {
	in, err := p.Build(n.Input)
	if err != nil {
		return nil, err
	}
	schema := n.Input.Schema()
	width := schema.NumFields()
	pre := make([]plan.Expr, 0, width)
	for i, f := range schema.Fields() {
		pre = append(pre, &plan.ColumnRef{Index: i, Field: f})
	}
	column := func(e plan.Expr) int {
		if c, ok := plan.Unalias(e).(*plan.ColumnRef); ok {
			return c.Index
		}
		pre = append(pre, &plan.Alias{Arg: e, Alias: fmt.Sprintf("__w%d", len(pre))})
		return len(pre) - 1
	}
	exprs := make([]exec.WindowExpr, len(n.Exprs))
	for i, we := range n.Exprs {
		e := exec.WindowExpr{Func: we.Op(), Arg: -1, WindowArgs: we.Args, Name: we.Name, Type: we.Out, Peers: we.Peers}
		for _, k := range we.PartitionBy {
			e.PartitionBy = append(e.PartitionBy, column(k))
		}
		for _, k := range we.OrderBy {
			e.OrderBy = append(e.OrderBy, exec.SortKey{Column: column(k.Expr), Descending: k.Descending, NullsLast: k.NullsLast})
		}
		arg := we.Arg
		if we.Agg != nil {
			e.Agg, e.AggParams, arg = we.Agg.Fn, we.Agg.Params, we.Agg.Arg
			if we.Agg.Filter != nil {
				e.AggFiltered, e.AggFilter = true, column(we.Agg.Filter)
			}
		}
		if arg != nil {
			e.Arg = column(arg)
		}
		exprs[i] = e
	}
	win := exec.NewWindow(p.Mem, project(in, pre), exprs)
	win.SetBudget(p.Budget)
	out := make([]expr.Expr, 0, width+len(exprs))
	names := make([]string, 0, width+len(exprs))
	for i, f := range win.Schema().Fields() {
		if i < width || i >= len(pre) {
			out = append(out, &expr.Column{Index: i, Name: f.Name, Type: f.Type})
			names = append(names, f.Name)
		}
	}
	return exec.NewProject(win, out, names), nil
}

var joinKinds = map[plan.JoinType]exec.JoinKind{
	plan.Inner: exec.JoinInner, plan.LeftJoin: exec.JoinLeft, plan.RightJoin: exec.JoinRight, plan.FullJoin: exec.JoinFull,
	plan.Semi: exec.JoinSemi, plan.Anti: exec.JoinAnti, plan.Cross: exec.JoinCross,
}

// joinPlan is how a join runs: which input probes (its order is kept)
// and which is built into a hash table.
type joinPlan struct {
	probe, build         plan.Node
	probeKeys, buildKeys []expr.Expr
	kind                 exec.JoinKind
	cols                 []exec.JoinColumn
	residual             expr.Expr
	swapped              bool
}

// planJoin probes with the left input and builds on the right one; an
// inner join whose left input looks smaller builds on the left instead
// (its output order is not defined anyway).
func (p *Planner) planJoin(n *plan.Join) joinPlan {
	// Build on the smaller side. A semi or anti join keeps rows of its left
	// side; built there, it becomes a right semi or anti join.
	swappable := map[plan.JoinType]exec.JoinKind{plan.Inner: exec.JoinInner, plan.Semi: exec.JoinRightSemi, plan.Anti: exec.JoinRightAnti}
	swapKind, canSwap := swappable[n.How]
	swap := canSwap && p.Estimate(n.Left) < p.Estimate(n.Right)
	jp := joinPlan{probe: n.Left, build: n.Right, kind: joinKinds[n.How], swapped: swap}
	if swap {
		jp.kind = swapKind
	}
	probeKeys, buildKeys := n.LeftKeys, n.RightKeys
	if swap {
		jp.probe, jp.build, probeKeys, buildKeys = n.Right, n.Left, n.RightKeys, n.LeftKeys
	}
	for i := range probeKeys {
		jp.probeKeys = append(jp.probeKeys, Compile(probeKeys[i]))
		jp.buildKeys = append(jp.buildKeys, Compile(buildKeys[i]))
	}
	jp.cols = make([]exec.JoinColumn, len(n.Output))
	for i, c := range n.Output {
		jp.cols[i] = exec.JoinColumn{Build: c.Right != swap, Index: c.Index, Name: c.Field.Name}
	}
	if n.Filter != nil {
		filter := n.Filter
		if swap {
			// The residual sees the probe (right) columns first, then the left ones.
			left, right := n.Left.Schema().NumFields(), n.Right.Schema().NumFields()
			filter = plan.Rewrite(filter, func(e plan.Expr) plan.Expr {
				if c, ok := e.(*plan.ColumnRef); ok {
					if c.Index < left {
						return &plan.ColumnRef{Index: right + c.Index, Field: c.Field}
					}
					return &plan.ColumnRef{Index: c.Index - left, Field: c.Field}
				}
				return e
			})
		}
		jp.residual = Compile(filter)
	}
	return jp
}

// join builds a hash join with one probe stream.
func (p *Planner) join(jp joinPlan) (exec.Operator, error) {
	probe, err := p.Build(jp.probe)
	if err != nil {
		return nil, err
	}
	build, err := p.Build(jp.build)
	if err != nil {
		probe.Close()
		return nil, err
	}
	if jp.kind.ReadsProbeLate() {
		exec.ReadLate(probe, true)
	}
	j, err := exec.NewHashJoin(p.Mem, probe, build, jp.probeKeys, jp.buildKeys, jp.kind, jp.cols)
	if err != nil {
		probe.Close()
		build.Close()
		return nil, err
	}
	j.Residual = jp.residual
	j.SetBudget(p.Budget)
	return j, nil
}

// splitJoin builds a join as one probe per share of its probe input, all
// sharing one build table, or returns nil when the probe input does not
// split or the join keeps its unmatched build rows after every pair (right,
// full).
func (p *Planner) splitJoin(jp joinPlan) ([]exec.Operator, error) {
	if jp.kind == exec.JoinRight || jp.kind == exec.JoinFull {
		return nil, nil
	}
	probes, err := p.split(jp.probe)
	if err != nil || probes == nil {
		return nil, err
	}
	build, err := p.Build(jp.build)
	if err != nil {
		closeAll(probes)
		return nil, err
	}
	if jp.kind.ReadsProbeLate() {
		for _, probe := range probes {
			exec.ReadLate(probe, true)
		}
	}
	joins, err := exec.NewHashJoins(p.Mem, probes, build, jp.probeKeys, jp.buildKeys, jp.kind, jp.cols)
	if err != nil {
		closeAll(probes)
		build.Close()
		return nil, err
	}
	out := make([]exec.Operator, len(joins))
	for i, j := range joins {
		j.Residual = jp.residual
		j.SetBudget(p.Budget) // one reservation: they share the table
		out[i] = j
	}
	return out, nil
}

func closeAll(ops []exec.Operator) {
	for _, o := range ops {
		o.Close()
	}
}

// Estimate guesses how many rows n produces (see package cardinality).
func (p *Planner) Estimate(n plan.Node) int64 {
	return p.Estimator().Rows(n)
}

// Estimator guesses sizes from the row counts and statistics of p's stored
// tables and files; one per planner, which remembers its guesses.
func (p *Planner) Estimator() *cardinality.Estimator {
	if p.est != nil {
		return p.est
	}
	p.est = &cardinality.Estimator{}
	if p.Storage != nil {
		p.est.TableRows = p.Storage.TableRows
	}
	if r, ok := p.Storage.(interface {
		TableRange(name string, col int) (lo, hi int64, ok bool)
	}); ok {
		p.est.TableRange = r.TableRange
	}
	return p.est
}

// onePhase aggregates in one operator over the whole input.
func (p *Planner) onePhase(n *plan.Aggregate, in exec.Operator) exec.Operator {
	if q := p.quantiles(n, in); q != nil {
		return q
	}
	pre, keys, aggs := aggregateColumns(n)
	agg := exec.NewHashAggregate(p.Mem, project(in, pre), keys, aggs)
	agg.SetBudget(p.Budget)
	exec.GroupDictionaries(agg)
	return agg
}

// splitAggregate aggregates the rows of parts in one phase, split by a
// hash of the keys over the pipelines (exec.Repartition): each aggregate
// holds every row of its groups, in input order, so any aggregate is
// exact (median, n_unique, first and last too), and the groups are
// aggregated on every core rather than on one. Nil when n has no keys or
// the keys cannot be hashed.
func (p *Planner) splitAggregate(n *plan.Aggregate, parts []exec.Operator) exec.Operator {
	if !p.splitsFinal(len(n.Keys), len(parts)) {
		return nil
	}
	pre, keys, aggs := aggregateColumns(n)
	for _, k := range n.Keys {
		if !exec.Hashable(k.Type()) {
			return nil
		}
	}
	projected := make([]exec.Operator, len(parts))
	for i, part := range parts {
		projected[i] = project(part, pre)
	}
	rp, err := exec.NewRepartition(p.Mem, projected, keys, p.pipelines())
	if err != nil { // not after Hashable
		return nil
	}
	outs := rp.Outputs()
	finals := make([]exec.Operator, len(outs))
	for i, o := range outs {
		agg := exec.NewHashAggregate(p.Mem, o, keys, aggs)
		agg.SetBudget(p.Budget)
		finals[i] = agg
	}
	return exec.NewUnion(finals, true)
}

// aggregateColumns are the columns a HashAggregate of n reads (the keys,
// then each aggregate's argument and filter), the key columns among them,
// and the aggregates over them.
func aggregateColumns(n *plan.Aggregate) ([]plan.Expr, []int, []exec.Agg) {
	pre := append([]plan.Expr{}, n.Keys...)
	keys := make([]int, len(n.Keys))
	for i := range keys {
		keys[i] = i
	}
	aggs := make([]exec.Agg, len(n.Aggs))
	for i, e := range n.Aggs {
		call := plan.Unalias(e).(*plan.AggCall)
		aggs[i] = exec.Agg{Fn: call.Fn, Arg: -1, Params: call.Params, Name: e.Name(), Type: call.Out}
		if call.Arg != nil {
			aggs[i].Arg = len(pre)
			pre = append(pre, &plan.Alias{Arg: call.Arg, Alias: fmt.Sprintf("__agg%d", i)})
		}
		if call.Filter != nil {
			aggs[i].Filtered, aggs[i].Filter = true, len(pre)
			pre = append(pre, &plan.Alias{Arg: call.Filter, Alias: fmt.Sprintf("__aggf%d", i)})
		}
	}
	return pre, keys, aggs
}

// quantiles plans an aggregate without keys whose calls are all medians
// or quantiles of one argument as exec.Quantiles, which sorts the values
// (spilling past the query's share) rather than hold them as one group's
// state; nil for any other aggregate.
func (p *Planner) quantiles(n *plan.Aggregate, in exec.Operator) exec.Operator {
	if len(n.Keys) > 0 || len(n.Aggs) == 0 {
		return nil
	}
	var arg plan.Expr
	qs := make([]exec.Quantile, len(n.Aggs))
	for i, e := range n.Aggs {
		call, ok := plan.Unalias(e).(*plan.AggCall)
		if !ok || call.Filter != nil || call.Arg == nil {
			return nil
		}
		q, method, ok := expr.QuantileOf(call.Fn, call.Params)
		if !ok || (arg != nil && !reflect.DeepEqual(plan.Unalias(arg), plan.Unalias(call.Arg))) {
			return nil
		}
		arg = call.Arg
		qs[i] = exec.Quantile{Q: q, Method: method, Name: e.Name()}
	}
	if f64 := arrow.PrimitiveTypes.Float64; !arrow.TypeEqual(arg.Type(), f64) {
		arg = &plan.Cast{Arg: arg, To: f64}
	}
	op, err := exec.NewQuantiles(p.Mem, project(in, []plan.Expr{&plan.Alias{Arg: arg, Alias: "__agg0"}}), qs)
	if err != nil {
		return nil
	}
	op.SetBudget(p.Budget)
	return op
}

// quantilesApart rewrites an aggregate without keys whose medians and
// quantiles read several arguments, or sit beside other aggregates, which
// a hash aggregate would hold as one group's state: the quantiles of each
// argument become an aggregate of their own (a Quantiles operator, which
// spills), the other aggregates one more, each over the input read again,
// and their one-row answers are joined side by side. Nil for any other
// aggregate, and for an input that cannot be read twice (another stage's
// output).
func quantilesApart(n *plan.Aggregate) plan.Node {
	if len(n.Keys) > 0 || !rereadable(n.Input) {
		return nil
	}
	var args []plan.Expr
	var groups [][]int // indices of n.Aggs: the quantiles of args[i], then the others
	var others []int
	for i, e := range n.Aggs {
		if call, ok := plan.Unalias(e).(*plan.AggCall); ok && call.Filter == nil && call.Arg != nil && isQuantile(call) {
			j := slices.IndexFunc(args, func(a plan.Expr) bool { return reflect.DeepEqual(plan.Unalias(a), plan.Unalias(call.Arg)) })
			if j < 0 {
				args, groups, j = append(args, call.Arg), append(groups, nil), len(args)
			}
			groups[j] = append(groups[j], i)
			continue
		}
		others = append(others, i)
	}
	if len(groups) == 0 || len(groups) == 1 && len(others) == 0 {
		return nil // no quantile, or the quantiles of one argument alone (p.quantiles)
	}
	if len(others) > 0 {
		groups = append(groups, others)
	}
	var joined plan.Node
	at := make([]int, len(n.Aggs)) // where n.Aggs[i] is among joined's columns
	for _, g := range groups {
		aggs := make([]plan.Expr, len(g))
		for k, i := range g {
			aggs[k] = n.Aggs[i]
			at[i] = k
			if joined != nil {
				at[i] += joined.Schema().NumFields()
			}
		}
		part := &plan.Aggregate{Input: n.Input, Aggs: aggs}
		if joined == nil {
			joined = part
			continue
		}
		var out []plan.JoinCol
		for c, f := range joined.Schema().Fields() {
			out = append(out, plan.JoinCol{Index: c, Field: f})
		}
		for c, f := range part.Schema().Fields() {
			out = append(out, plan.JoinCol{Right: true, Index: c, Field: f})
		}
		joined = &plan.Join{Left: joined, Right: part, How: plan.Cross, Output: out}
	}
	cols := make([]plan.Expr, len(n.Aggs))
	for i, c := range at {
		cols[i] = &plan.ColumnRef{Index: c, Field: joined.Schema().Field(c)}
	}
	return &plan.Project{Input: joined, Exprs: cols}
}

func isQuantile(call *plan.AggCall) bool {
	_, _, ok := expr.QuantileOf(call.Fn, call.Params)
	return ok
}

// rereadable says whether the plan n reads only files, stored tables and
// constants, so that it can be built and run twice.
func rereadable(n plan.Node) bool {
	switch n := n.(type) {
	case *plan.Scan, *plan.Values:
		return true
	case *plan.Project:
		return rereadable(n.Input)
	case *plan.Filter:
		return rereadable(n.Input)
	case *plan.Aggregate:
		return rereadable(n.Input)
	case *plan.Sort:
		return rereadable(n.Input)
	case *plan.Limit:
		return rereadable(n.Input)
	case *plan.Window:
		return rereadable(n.Input)
	case *plan.Explode:
		return rereadable(n.Input)
	case *plan.Join:
		return rereadable(n.Left) && rereadable(n.Right)
	case *plan.Concat:
		return !slices.ContainsFunc(n.Inputs, func(in plan.Node) bool { return !rereadable(in) })
	}
	return false // another stage's output (Exchange), or a node not listed
}

// twoPhase aggregates each partition on its own (partial), then merges the
// partial results (final), as plan.SplitAggregate describes.
func (p *Planner) twoPhase(n *plan.Aggregate, parts []exec.Operator) (exec.Operator, error) {
	partial, final := plan.SplitAggregate(n)
	partials := make([]exec.Operator, len(parts))
	for i, part := range parts {
		partials[i] = p.onePhase(partial, part)
		if h, ok := partials[i].(*exec.HashAggregate); ok && p.splitsFinal(len(n.Keys), len(parts)) {
			// The final is split by key over the cores: a partial that
			// does not reduce may pass its rows on.
			h.Partial = true
		}
	}
	return p.finals(final, partial.Schema(), len(n.Keys), partials)
}

// pipelines is how many pipelines run at once.
func (p *Planner) pipelines() int {
	if p.Partitions > 0 {
		return p.Partitions
	}
	return runtime.GOMAXPROCS(0)
}

// splitsFinal says whether finals splits the groups of nk keys read from
// inputs streams over the pipelines.
func (p *Planner) splitsFinal(nk, inputs int) bool {
	return nk > 0 && inputs > 1 && p.pipelines() > 1
}

// finals merges partial results (or aggregates rows) read from inputs
// with final, a plan over an exchange of their schema whose first nk
// columns are the keys. With keys and several inputs, the rows are split
// by a hash of the keys into one share per pipeline (exec.Repartition)
// and each share is aggregated by a final of its own, all in parallel:
// every group is wholly in one share, so the shares' results are disjoint
// and their union is the answer. One final aggregate would merge every
// group on one core, the cost of a group-by with about a group per row.
func (p *Planner) finals(final func(plan.Node) plan.Node, schema *arrow.Schema, nk int, inputs []exec.Operator) (exec.Operator, error) {
	keys := make([]int, nk)
	for i := range keys {
		keys[i] = i
	}
	var streams [][]exec.Operator
	if p.splitsFinal(nk, len(inputs)) {
		if rp, err := exec.NewRepartition(p.Mem, inputs, keys, p.pipelines()); err == nil {
			for _, o := range rp.Outputs() {
				streams = append(streams, []exec.Operator{o})
			}
		}
	}
	if streams == nil {
		streams = [][]exec.Operator{inputs}
	}
	outs := make([]exec.Operator, 0, len(streams))
	for i, s := range streams {
		in := &plan.Exchange{Stage: -1, Out: schema}
		q := *p
		q.bound = map[*plan.Exchange][]exec.Operator{in: s}
		op, err := q.Build(final(in))
		if err != nil {
			for _, rest := range streams[i+1:] {
				closeAll(rest)
			}
			closeAll(outs)
			return nil, err
		}
		outs = append(outs, op)
	}
	if len(outs) == 1 {
		return outs[0], nil
	}
	// Ordered: the result is the same on every run (the shares' groups
	// one share after the other). Each share is aggregated whole before
	// its first batch, so the shares still run at once, unless one
	// spills: then the order goes (LooseOnceSpilled).
	u := exec.NewUnion(outs, true)
	u.LooseOnceSpilled()
	return u, nil
}

// sort sorts on columns; keys that are expressions are computed into extra
// columns first and dropped after.
func (p *Planner) sort(n *plan.Sort, limit int64) (exec.Operator, error) {
	parts, err := p.split(n.Input)
	if err != nil {
		return nil, err
	}
	var in exec.Operator
	if parts != nil {
		in = exec.NewUnion(parts, true) // in input order: the sort is stable
	} else if in, err = p.Build(n.Input); err != nil {
		return nil, err
	}
	width := in.Schema().NumFields()
	var extra []plan.Expr
	keys := make([]exec.SortKey, len(n.Keys))
	for i, k := range n.Keys {
		keys[i] = exec.SortKey{Descending: k.Descending, NullsLast: k.NullsLast}
		if c, ok := plan.Unalias(k.Expr).(*plan.ColumnRef); ok {
			keys[i].Column = c.Index
			continue
		}
		keys[i].Column = width + len(extra)
		extra = append(extra, &plan.Alias{Arg: k.Expr, Alias: fmt.Sprintf("__sort%d", i)})
	}
	if len(extra) > 0 {
		all := make([]plan.Expr, 0, width+len(extra))
		for i, f := range n.Input.Schema().Fields() {
			all = append(all, &plan.ColumnRef{Index: i, Field: f})
		}
		in = project(in, append(all, extra...))
	}
	s, err := exec.NewSort(in, keys, limit)
	if err != nil {
		in.Close()
		return nil, err
	}
	s.SetBudget(p.Budget)
	if len(extra) == 0 {
		return s, nil
	}
	cols := make([]plan.Expr, width)
	for i, f := range n.Input.Schema().Fields() {
		cols[i] = &plan.ColumnRef{Index: i, Field: f}
	}
	return project(s, cols), nil
}

// Compile turns a logical expression into an executable one.
func Compile(e plan.Expr) expr.Expr {
	switch e := e.(type) {
	case *plan.ColumnRef:
		return &expr.Column{Index: e.Index, Name: e.Field.Name, Type: e.Field.Type}
	case *plan.Literal:
		return &expr.Literal{Value: e.Value}
	case *plan.Call:
		args := make([]expr.Expr, len(e.Args))
		for i, a := range e.Args {
			args[i] = Compile(a)
		}
		return &expr.Call{Fn: e.Fn, Args: args, Type: e.Out}
	case *plan.Cast:
		return &expr.Cast{Arg: Compile(e.Arg), To: e.To}
	case *plan.Alias:
		return Compile(e.Arg)
	}
	panic(fmt.Sprintf("physical: cannot compile %T outside an aggregate", e))
}

// Divide cuts the files of a scan into at most k contiguous shares, by
// file or (Parquet) by row group, for the tasks of a distributed stage.
func Divide(s *plan.Scan, k int) ([]Share, error) {
	shares, err := divide(s, s.Files, nil, k)
	if err != nil {
		return nil, err
	}
	out := make([]Share, len(shares))
	for i, sh := range shares {
		out[i] = Share{Files: sh.files, Groups: sh.groups}
	}
	return out, nil
}
