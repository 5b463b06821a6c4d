package optimizer

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"slipstream/kernels/expr"
	"slipstream/scheduler/plan"
)

// FoldConstants evaluates, once at planning, every call and cast whose
// arguments are all constants (lit(2) * 3, a date offset of a literal). A
// call that fails (division by zero in an integer modulo) is left to fail
// at run time with its usual error.
func FoldConstants(n plan.Node) plan.Node {
	return mapExprs(n, func(e plan.Expr) plan.Expr { return plan.Rewrite(e, fold) })
}

func fold(e plan.Expr) plan.Expr {
	var k expr.Expr
	switch x := e.(type) {
	case *plan.Call:
		args := make([]expr.Expr, len(x.Args))
		for i, a := range x.Args {
			l, ok := a.(*plan.Literal)
			if !ok {
				return e
			}
			args[i] = &expr.Literal{Value: l.Value}
		}
		k = &expr.Call{Fn: x.Fn, Args: args, Type: x.Out}
	case *plan.Cast:
		l, ok := x.Arg.(*plan.Literal)
		if !ok {
			return e
		}
		k = &expr.Cast{Arg: &expr.Literal{Value: l.Value}, To: x.To}
	default:
		return e
	}
	one := array.NewRecordBatch(arrow.NewSchema(nil, nil), nil, 1)
	defer one.Release()
	d, err := k.Eval(expr.WithAllocator(context.Background(), memory.DefaultAllocator), one)
	if err != nil {
		return e
	}
	defer d.Release()
	var v scalar.Scalar
	switch d := d.(type) {
	case *compute.ScalarDatum:
		v = d.Value
	case *compute.ArrayDatum:
		arr := d.MakeArray()
		defer arr.Release()
		if v, err = scalar.GetScalar(arr, 0); err != nil {
			return e
		}
	default:
		return e
	}
	if !arrow.TypeEqual(v.DataType(), e.Type()) {
		return e
	}
	return &plan.Literal{Value: v}
}

// mapExprs rebuilds n with f applied to every expression of every node.
func mapExprs(n plan.Node, f func(plan.Expr) plan.Expr) plan.Node {
	all := func(es []plan.Expr) []plan.Expr {
		out := make([]plan.Expr, len(es))
		for i, e := range es {
			out[i] = f(e)
		}
		return out
	}
	keys := func(ks []plan.SortKey) []plan.SortKey {
		out := make([]plan.SortKey, len(ks))
		for i, k := range ks {
			out[i] = plan.SortKey{Expr: f(k.Expr), Descending: k.Descending, NullsLast: k.NullsLast}
		}
		return out
	}
	switch n := n.(type) {
	case *plan.Project:
		return &plan.Project{Input: mapExprs(n.Input, f), Exprs: all(n.Exprs)}
	case *plan.Filter:
		return &plan.Filter{Input: mapExprs(n.Input, f), Predicate: f(n.Predicate)}
	case *plan.Aggregate:
		return &plan.Aggregate{Input: mapExprs(n.Input, f), Keys: all(n.Keys), Aggs: all(n.Aggs)}
	case *plan.Sort:
		return &plan.Sort{Input: mapExprs(n.Input, f), Keys: keys(n.Keys)}
	case *plan.Limit:
		return &plan.Limit{Input: mapExprs(n.Input, f), Offset: n.Offset, Count: n.Count}
	case *plan.Join:
		j := *n
		j.Left, j.Right = mapExprs(n.Left, f), mapExprs(n.Right, f)
		j.LeftKeys, j.RightKeys = all(n.LeftKeys), all(n.RightKeys)
		if n.Filter != nil {
			j.Filter = f(n.Filter)
		}
		return &j
	case *plan.Window:
		w := &plan.Window{Input: mapExprs(n.Input, f)}
		for _, we := range n.Exprs {
			c := *we
			c.PartitionBy, c.OrderBy = all(we.PartitionBy), keys(we.OrderBy)
			if we.Arg != nil {
				c.Arg = f(we.Arg)
			}
			w.Exprs = append(w.Exprs, &c)
		}
		return w
	case *plan.Concat:
		c := &plan.Concat{}
		for _, in := range n.Inputs {
			c.Inputs = append(c.Inputs, mapExprs(in, f))
		}
		return c
	}
	return n
}
