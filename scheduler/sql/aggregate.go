package sql

import (
	"fmt"
	"strings"

	"slipstream/kernels"
	pb "slipstream/scheduler/planpb"
)

// aggregation is a GROUP BY's Aggregate node: its keys, named #g0, #g1,
// ..., and its aggregate calls, named #a0, #a1, ...; over rewrites an
// expression of the SELECT list, HAVING or ORDER BY to read them.
type aggregation struct {
	keys []*pb.Expr
	aggs []*pb.Expr
}

var registryAggregates = func() map[string]bool {
	m := map[string]bool{"len": true, "n_unique": true} // count(*), count(DISTINCT x)
	for _, fn := range aggregates {
		m[fn] = true
	}
	return m
}()

func isAggregateCall(e *pb.Expr) bool {
	c := e.GetCall()
	return c != nil && registryAggregates[c.GetFunction()]
}

func hasAggregate(e *pb.Expr) bool {
	found := false
	walk(e, func(x *pb.Expr) bool {
		if isAggregateCall(x) {
			found = true
		}
		return !found
	})
	return found
}

// walk visits e and its sub-expressions, depth first, while fn says to go
// on into an expression's children.
func walk(e *pb.Expr, fn func(*pb.Expr) bool) {
	if e == nil || !fn(e) {
		return
	}
	switch k := e.GetKind().(type) {
	case *pb.Expr_Call:
		for _, a := range k.Call.GetArgs() {
			walk(a, fn)
		}
	case *pb.Expr_Alias:
		walk(k.Alias.GetExpr(), fn)
	case *pb.Expr_Cast:
		walk(k.Cast.GetExpr(), fn)
	}
}

// aggregate makes the Aggregate node of keys and of every aggregate call
// in the outputs, having and sort keys.
func (c *compiler) aggregate(n *pb.Node, keys []*pb.Expr, outs []output, having *pb.Expr, sortKeys []*pb.SortKey) (*pb.Node, *aggregation, error) {
	a := &aggregation{keys: keys}
	collect := func(e *pb.Expr) {
		walk(e, func(x *pb.Expr) bool {
			if isAggregateCall(x) {
				for _, have := range a.aggs {
					if equal(have, x) {
						return false
					}
				}
				a.aggs = append(a.aggs, x)
				return false
			}
			return true
		})
	}
	for _, o := range outs {
		collect(o.expr)
	}
	collect(having)
	for _, k := range sortKeys {
		collect(k.GetExpr())
	}
	node := &pb.Aggregate{Input: n}
	for i, k := range keys {
		node.Keys = append(node.Keys, alias_(k, fmt.Sprintf("#g%d", i)))
	}
	for i, g := range a.aggs {
		node.Aggs = append(node.Aggs, alias_(g, fmt.Sprintf("#a%d", i)))
	}
	// Every column an output reads must be a key, or inside an aggregate.
	for _, o := range outs {
		if err := a.check(a.over(o.expr)); err != nil {
			return nil, nil, err
		}
	}
	if having != nil {
		if err := a.check(a.over(having)); err != nil {
			return nil, nil, err
		}
	}
	for _, k := range sortKeys {
		if err := a.check(a.over(k.GetExpr())); err != nil {
			return nil, nil, err
		}
	}
	return &pb.Node{Kind: &pb.Node_Aggregate{Aggregate: node}}, a, nil
}

// over rewrites e to read the aggregate's output: a key, or an aggregate
// call, becomes its column.
func (a *aggregation) over(e *pb.Expr) *pb.Expr {
	if e == nil {
		return nil
	}
	for i, k := range a.keys {
		if equal(k, e) {
			return column(fmt.Sprintf("#g%d", i))
		}
	}
	for i, g := range a.aggs {
		if equal(g, e) {
			return column(fmt.Sprintf("#a%d", i))
		}
	}
	switch k := e.GetKind().(type) {
	case *pb.Expr_Call:
		args := make([]*pb.Expr, len(k.Call.GetArgs()))
		for i, x := range k.Call.GetArgs() {
			args[i] = a.over(x)
		}
		return call(k.Call.GetFunction(), args...)
	case *pb.Expr_Alias:
		return alias_(a.over(k.Alias.GetExpr()), k.Alias.GetName())
	case *pb.Expr_Cast:
		return &pb.Expr{Kind: &pb.Expr_Cast{Cast: &pb.Cast{Expr: a.over(k.Cast.GetExpr()), To: k.Cast.GetTo()}}}
	}
	return e
}

// check refuses an expression over the aggregate's output that still
// reads an input column.
func (a *aggregation) check(e *pb.Expr) error {
	var bad string
	walk(e, func(x *pb.Expr) bool {
		if col := x.GetColumn(); col != nil && !strings.HasPrefix(col.GetName(), "#") && bad == "" {
			bad = col.GetName()
		}
		return bad == ""
	})
	if bad != "" {
		return kernels.Errorf(kernels.Invalid, "SQL: column %s must appear in the GROUP BY clause or be used in an aggregate function", bad)
	}
	return nil
}
