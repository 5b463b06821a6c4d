// Package physical turns an optimized logical plan into a tree of kernel
// operators (kernels/exec) ready to stream.
package physical

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels/exec"
	"slipstream/kernels/expr"
	"slipstream/scheduler/plan"
)

// Storage lists the files that hold a stored table.
type Storage interface {
	TableFiles(name string) ([]string, error)
}

// Planner builds operators that allocate from Mem.
type Planner struct {
	Mem     memory.Allocator
	Storage Storage
}

// Build makes the operator tree of n. On error nothing is left open.
func (p *Planner) Build(n plan.Node) (exec.Operator, error) {
	switch n := n.(type) {
	case *plan.Scan:
		files, format := n.Files, n.Format
		if n.Table != "" {
			var err error
			if files, err = p.Storage.TableFiles(n.Table); err != nil {
				return nil, err
			}
			format = exec.IPC
		}
		return exec.NewScan(p.Mem, format, files, n.FileSchema, n.Columns, n.Bounds, n.CSV), nil
	case *plan.Filter:
		in, err := p.Build(n.Input)
		if err != nil {
			return nil, err
		}
		f, err := exec.NewFilter(in, Compile(n.Predicate))
		if err != nil {
			in.Close()
			return nil, err
		}
		return f, nil
	case *plan.Project:
		in, err := p.Build(n.Input)
		if err != nil {
			return nil, err
		}
		return project(in, n.Exprs), nil
	case *plan.Aggregate:
		return p.aggregate(n)
	case *plan.Sort:
		return p.sort(n, -1)
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
	in, err := p.Build(n.Input)
	if err != nil {
		return nil, err
	}
	pre := append([]plan.Expr{}, n.Keys...)
	keys := make([]int, len(n.Keys))
	for i := range keys {
		keys[i] = i
	}
	aggs := make([]exec.Agg, len(n.Aggs))
	for i, e := range n.Aggs {
		call := plan.Unalias(e).(*plan.AggCall)
		aggs[i] = exec.Agg{Fn: call.Fn, Arg: -1, Name: e.Name(), Type: call.Out}
		if call.Arg != nil {
			aggs[i].Arg = len(pre)
			pre = append(pre, &plan.Alias{Arg: call.Arg, Alias: fmt.Sprintf("__agg%d", i)})
		}
	}
	return exec.NewHashAggregate(p.Mem, project(in, pre), keys, aggs), nil
}

// sort sorts on columns; keys that are expressions are computed into extra
// columns first and dropped after.
func (p *Planner) sort(n *plan.Sort, limit int64) (exec.Operator, error) {
	in, err := p.Build(n.Input)
	if err != nil {
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
