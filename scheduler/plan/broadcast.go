package plan

import (
	"slipstream/kernels/expr"
	"slipstream/scheduler/planpb"
)

// polars lets an aggregate stand where rows are expected: in
// with_columns(col("x").sum()), select(col("x"), col("x").mean()),
// filter(col("x") > col("x").mean()) or sort(...) the aggregate's one value
// is repeated on every row. Build reads such an aggregate as a window over
// all rows (Over with no partition), which the Window node computes; a
// select whose every expression is an aggregate (or a constant) stays one
// row, as in polars.

// isAggregateCall reports whether e is a call of an aggregate function.
func isAggregateCall(e *planpb.Expr) bool {
	fn, ok := expr.Lookup(e.GetCall().GetFunction())
	return e.GetCall() != nil && ok && fn.Kind == expr.Aggregate
}

// broadcast returns e with every aggregate call that is not inside a
// window made a window over all rows. e itself is not changed.
func broadcast(e *planpb.Expr) *planpb.Expr {
	switch k := e.GetKind().(type) {
	case *planpb.Expr_Call:
		if isAggregateCall(e) {
			return &planpb.Expr{Kind: &planpb.Expr_Over{Over: &planpb.Over{Expr: e}}}
		}
		args := make([]*planpb.Expr, len(k.Call.GetArgs()))
		for i, a := range k.Call.GetArgs() {
			args[i] = broadcast(a)
		}
		return &planpb.Expr{Kind: &planpb.Expr_Call{Call: &planpb.Call{Function: k.Call.GetFunction(), Args: args}}}
	case *planpb.Expr_Alias:
		return &planpb.Expr{Kind: &planpb.Expr_Alias{Alias: &planpb.Alias{Expr: broadcast(k.Alias.GetExpr()), Name: k.Alias.GetName()}}}
	case *planpb.Expr_Cast:
		return &planpb.Expr{Kind: &planpb.Expr_Cast{Cast: &planpb.Cast{Expr: broadcast(k.Cast.GetExpr()), To: k.Cast.GetTo()}}}
	}
	return e
}

// broadcastAll is broadcast of each of es.
func broadcastAll(es []*planpb.Expr) []*planpb.Expr {
	out := make([]*planpb.Expr, len(es))
	for i, e := range es {
		out[i] = broadcast(e)
	}
	return out
}

// rowwise reports whether e reads a column outside every aggregate: its
// value differs from row to row (a window counts as row by row too).
func rowwise(e *planpb.Expr) bool {
	switch k := e.GetKind().(type) {
	case *planpb.Expr_Column, *planpb.Expr_Over:
		return true
	case *planpb.Expr_Alias:
		return rowwise(k.Alias.GetExpr())
	case *planpb.Expr_Cast:
		return rowwise(k.Cast.GetExpr())
	case *planpb.Expr_Call:
		if isAggregateCall(e) {
			return false
		}
		for _, a := range k.Call.GetArgs() {
			if rowwise(a) {
				return true
			}
		}
	}
	return false
}

// scalarSelect reports whether a select of es is one row of aggregates:
// some expression aggregates and none reads a column row by row.
func scalarSelect(es []*planpb.Expr) bool {
	agg := false
	for _, e := range es {
		if rowwise(e) {
			return false
		}
		agg = agg || containsAggregate(e)
	}
	return agg
}

// withWindows evaluates es over in, the windows they hold computed by a
// Window node under them; it returns the node the expressions read (in,
// or a Window over it whose first columns are in's).
func (b *builder) withWindows(es []*planpb.Expr, in Node) (Node, []Expr, error) {
	return b.exprsWithWindows(broadcastAll(es), in)
}

// dropExtra keeps the first width columns of n (a Window's own columns go).
func dropExtra(n Node, width int) Node {
	s := n.Schema()
	if s.NumFields() == width {
		return n
	}
	exprs := make([]Expr, width)
	for i := range width {
		exprs[i] = &ColumnRef{Index: i, Field: s.Field(i)}
	}
	return &Project{Input: n, Exprs: exprs}
}

// mustLookup is a function of the registry that must exist.
func mustLookup(name string) *expr.Function {
	fn, ok := expr.Lookup(name)
	if !ok {
		panic("plan: no function " + name + " in the registry")
	}
	return fn
}
