package plan

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"slipstream/kernels/exec"
	"slipstream/kernels/expr"
	"slipstream/kernels/fsroot"
)

// Node is a logical plan node. The set is closed: only this package
// implements it, so a switch over the types below is exhaustive.
type Node interface {
	Schema() *arrow.Schema
	Children() []Node
	sealed()
}

// Scan reads a stored table or files.
type Scan struct {
	Table string // a stored table; or, when empty, the files below
	Files []string
	// Roots are the directories Files were found under and may be read
	// from (nil: anywhere); every read of them goes through Roots.
	Roots *fsroot.Roots
	// Format and CSV apply to Files.
	Format exec.Format
	CSV    exec.CSVOptions
	// FileSchema is the schema of the data as stored.
	FileSchema *arrow.Schema
	// Columns are the indices of FileSchema read (nil: all); set by the optimizer.
	Columns []int
	// Bounds are simple predicates a Parquet scan can check against
	// row-group statistics; set by the optimizer.
	Bounds []exec.Bound
}

// Project computes Exprs; each output column is named by its expression.
type Project struct {
	Input Node
	Exprs []Expr
}

// Filter keeps rows whose Predicate is true.
type Filter struct {
	Input     Node
	Predicate Expr
}

// Aggregate groups by Keys and computes Aggs (each an *AggCall, maybe
// inside an *Alias). Output: keys then aggs.
type Aggregate struct {
	Input Node
	Keys  []Expr
	Aggs  []Expr
}

// SortKey is one key of a Sort.
type SortKey struct {
	Expr       Expr
	Descending bool
	NullsLast  bool
}

// Sort orders its input, stable.
type Sort struct {
	Input Node
	Keys  []SortKey
}

// Limit skips Offset rows then keeps Count (all when < 0).
type Limit struct {
	Input  Node
	Offset int64
	Count  int64
}

// JoinType says which rows a Join keeps.
type JoinType int

const (
	Inner JoinType = iota
	LeftJoin
	RightJoin
	FullJoin
	Semi
	Anti
	Cross
)

func (j JoinType) String() string {
	return [...]string{"inner", "left", "right", "full", "semi", "anti", "cross"}[j]
}

// JoinCol is one output column of a Join: column Index of the left or the
// right input, under the name in Field.
type JoinCol struct {
	Right bool
	Index int
	Field arrow.Field
}

// Join combines Left and Right where LeftKeys equal RightKeys (already cast
// to common types); a null key matches nothing.
type Join struct {
	Left, Right         Node
	LeftKeys, RightKeys []Expr
	How                 JoinType
	Output              []JoinCol
	// Filter, when set, is a further condition on a pair of rows, over the
	// left columns followed by the right ones.
	Filter Expr
}

// WindowExpr computes one column over windows of rows (see Window).
type WindowExpr struct {
	// Fn is the registry's window function (row_number, lag, cum_sum,
	// rolling, ...), or nil for Agg over the whole partition.
	Fn   *expr.Function
	Agg  *AggCall // the aggregate of a partition or of a rolling frame
	Arg  Expr
	Args expr.WindowArgs // Fn's constant arguments, decoded
	// Peers: a running aggregate gives each row its last peer's value
	// (SQL's RANGE frame).
	Peers       bool
	PartitionBy []Expr
	OrderBy     []SortKey
	Out         arrow.DataType
	Name        string // for EXPLAIN and the output field
}

// Op is the Window operator's computation of w.
func (w *WindowExpr) Op() expr.WindowOp {
	if w.Fn == nil {
		return expr.WinAggregate
	}
	return w.Fn.Op
}

func (w *WindowExpr) String() string {
	var fn string
	switch {
	case w.Fn == nil:
		fn = w.Agg.String()
	case w.Fn.Op == expr.WinRolling:
		fn = fmt.Sprintf("rolling(%s, rows=[-%d, +%d], min_samples=%d)", w.Agg, w.Args.Preceding, w.Args.Following, w.Args.MinSamples)
	case w.Fn.Op == expr.WinRollingBy:
		fn = fmt.Sprintf("rolling_by(%s, period=%d, closed=%s, min_samples=%d)", w.Agg, w.Args.Period, w.Args.Closed, w.Args.MinSamples)
	case w.Fn.Op == expr.WinLag || w.Fn.Op == expr.WinLead:
		fn = fmt.Sprintf("%s(%s, %d)", w.Fn.Name, exprList(nonNil(w.Arg)), w.Args.Offset)
	default:
		fn = w.Fn.Name + "(" + exprList(nonNil(w.Arg)) + ")"
	}
	if w.Peers {
		fn += " with peers"
	}
	order := make([]string, len(w.OrderBy))
	for i, k := range w.OrderBy {
		order[i] = k.Expr.String()
		if k.Descending {
			order[i] += " desc"
		}
		if k.NullsLast {
			order[i] += " nulls_last"
		}
	}
	return fmt.Sprintf("%s over(partition_by=[%s] order_by=[%s])", fn, exprList(w.PartitionBy), strings.Join(order, ", "))
}

func nonNil(e Expr) []Expr {
	if e == nil {
		return nil
	}
	return []Expr{e}
}

// Window appends one column per expression to its input's columns and
// keeps the input's rows and their order.
type Window struct {
	Input Node
	Exprs []*WindowExpr
}

func (*Window) sealed()            {}
func (w *Window) Children() []Node { return []Node{w.Input} }
func (w *Window) Schema() *arrow.Schema {
	fields := append([]arrow.Field{}, w.Input.Schema().Fields()...)
	for _, e := range w.Exprs {
		fields = append(fields, windowField(e))
	}
	return arrow.NewSchema(fields, nil)
}

// Values is rows given in the plan, each cell a constant expression of
// its column's type (Out).
type Values struct {
	Rows [][]Expr
	Out  *arrow.Schema
}

func (*Values) sealed()                 {}
func (*Values) Children() []Node        { return nil }
func (v *Values) Schema() *arrow.Schema { return v.Out }

// Explode gives each value of the list Columns its own row (see
// plan.proto); the other columns are repeated.
type Explode struct {
	Input       Node
	Columns     []int
	EmptyAsNull bool
	DropNulls   bool
}

func (*Explode) sealed()            {}
func (e *Explode) Children() []Node { return []Node{e.Input} }
func (e *Explode) Schema() *arrow.Schema {
	in := e.Input.Schema()
	fields := append([]arrow.Field(nil), in.Fields()...)
	for _, c := range e.Columns {
		fields[c].Type = fields[c].Type.(arrow.ListLikeType).Elem()
		fields[c].Nullable = true
	}
	return arrow.NewSchema(fields, nil)
}

// Concat stacks Inputs, in order; Build has made their schemas equal.
type Concat struct {
	Inputs []Node
}

func (*Concat) sealed()                 {}
func (c *Concat) Children() []Node      { return c.Inputs }
func (c *Concat) Schema() *arrow.Schema { return c.Inputs[0].Schema() }

func (*Join) sealed()            {}
func (j *Join) Children() []Node { return []Node{j.Left, j.Right} }
func (j *Join) Schema() *arrow.Schema {
	fields := make([]arrow.Field, len(j.Output))
	for i, c := range j.Output {
		fields[i] = c.Field
	}
	return arrow.NewSchema(fields, nil)
}

func (*Scan) sealed()      {}
func (*Project) sealed()   {}
func (*Filter) sealed()    {}
func (*Aggregate) sealed() {}
func (*Sort) sealed()      {}
func (*Limit) sealed()     {}

func (s *Scan) Schema() *arrow.Schema {
	fields := s.FileSchema.Fields()
	if s.Columns != nil {
		fields = make([]arrow.Field, len(s.Columns))
		for i, c := range s.Columns {
			fields[i] = s.FileSchema.Field(c)
		}
	}
	return exec.NormalizeSchema(arrow.NewSchema(fields, nil))
}
func (p *Project) Schema() *arrow.Schema { return schemaOf(p.Exprs) }
func (f *Filter) Schema() *arrow.Schema  { return f.Input.Schema() }
func (a *Aggregate) Schema() *arrow.Schema {
	return schemaOf(append(append([]Expr{}, a.Keys...), a.Aggs...))
}
func (s *Sort) Schema() *arrow.Schema  { return s.Input.Schema() }
func (l *Limit) Schema() *arrow.Schema { return l.Input.Schema() }

func (*Scan) Children() []Node        { return nil }
func (p *Project) Children() []Node   { return []Node{p.Input} }
func (f *Filter) Children() []Node    { return []Node{f.Input} }
func (a *Aggregate) Children() []Node { return []Node{a.Input} }
func (s *Sort) Children() []Node      { return []Node{s.Input} }
func (l *Limit) Children() []Node     { return []Node{l.Input} }

func schemaOf(exprs []Expr) *arrow.Schema {
	fields := make([]arrow.Field, len(exprs))
	for i, e := range exprs {
		fields[i] = outField(e)
	}
	return arrow.NewSchema(fields, nil)
}

// MapChildren is n with f applied to each of its children (n itself when
// it has none); n is not changed.
func MapChildren(n Node, f func(Node) Node) Node {
	children := n.Children()
	if len(children) == 0 {
		return n
	}
	mapped := make([]Node, len(children))
	for i, c := range children {
		mapped[i] = f(c)
	}
	return WithChildren(n, mapped)
}

// WithChildren is n with its children replaced, in the order Children
// gives them; n itself is not changed.
func WithChildren(n Node, children []Node) Node {
	switch n := n.(type) {
	case *Project:
		return &Project{Input: children[0], Exprs: n.Exprs}
	case *Filter:
		return &Filter{Input: children[0], Predicate: n.Predicate}
	case *Aggregate:
		return &Aggregate{Input: children[0], Keys: n.Keys, Aggs: n.Aggs}
	case *Sort:
		return &Sort{Input: children[0], Keys: n.Keys}
	case *Limit:
		return &Limit{Input: children[0], Offset: n.Offset, Count: n.Count}
	case *Window:
		return &Window{Input: children[0], Exprs: n.Exprs}
	case *Join:
		j := *n
		j.Left, j.Right = children[0], children[1]
		return &j
	case *Concat:
		return &Concat{Inputs: children}
	case *Explode:
		e := *n
		e.Input = children[0]
		return &e
	}
	return n // no children
}
