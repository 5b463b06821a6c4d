package optimizer

import (
	"slipstream/kernels/exec"
	"slipstream/scheduler/plan"
)

// PushBounds copies the `column op literal` conjuncts of a filter directly
// above a Parquet scan into the scan's Bounds. The filter stays: bounds
// only let the scan skip row groups that cannot match.
func PushBounds(n plan.Node) plan.Node {
	switch n := n.(type) {
	case *plan.Filter:
		input := PushBounds(n.Input)
		if s, ok := input.(*plan.Scan); ok && s.Table == "" && s.Format == exec.Parquet {
			var bounds []exec.Bound
			for _, c := range conjuncts(n.Predicate) {
				if b, ok := toBound(c, s); ok {
					bounds = append(bounds, b)
				}
			}
			if len(bounds) > 0 {
				scan := *s
				scan.Bounds = append(append([]exec.Bound{}, s.Bounds...), bounds...)
				input = &scan
			}
		}
		return &plan.Filter{Input: input, Predicate: n.Predicate}
	case *plan.Project:
		return &plan.Project{Input: PushBounds(n.Input), Exprs: n.Exprs}
	case *plan.Aggregate:
		return &plan.Aggregate{Input: PushBounds(n.Input), Keys: n.Keys, Aggs: n.Aggs}
	case *plan.Sort:
		return &plan.Sort{Input: PushBounds(n.Input), Keys: n.Keys}
	case *plan.Limit:
		return &plan.Limit{Input: PushBounds(n.Input), Offset: n.Offset, Count: n.Count}
	case *plan.Window:
		return &plan.Window{Input: PushBounds(n.Input), Exprs: n.Exprs}
	case *plan.Explode:
		e := *n
		e.Input = PushBounds(n.Input)
		return &e
	case *plan.Concat:
		out := &plan.Concat{}
		for _, in := range n.Inputs {
			out.Inputs = append(out.Inputs, PushBounds(in))
		}
		return out
	case *plan.Join:
		j := *n
		j.Left, j.Right = PushBounds(n.Left), PushBounds(n.Right)
		return &j
	}
	return n
}

func conjuncts(e plan.Expr) []plan.Expr {
	if c, ok := plan.Unalias(e).(*plan.Call); ok && c.Fn.Name == "and" {
		return append(conjuncts(c.Args[0]), conjuncts(c.Args[1])...)
	}
	return []plan.Expr{e}
}

var flipped = map[string]string{"eq": "eq", "lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}

func toBound(e plan.Expr, s *plan.Scan) (exec.Bound, bool) {
	c, ok := plan.Unalias(e).(*plan.Call)
	if !ok || len(c.Args) != 2 {
		return exec.Bound{}, false
	}
	op, ok := flipped[c.Fn.Name]
	if !ok {
		return exec.Bound{}, false
	}
	col, okc := c.Args[0].(*plan.ColumnRef)
	lit, okl := c.Args[1].(*plan.Literal)
	if !okc || !okl {
		col, okc = c.Args[1].(*plan.ColumnRef)
		lit, okl = c.Args[0].(*plan.Literal)
		if !okc || !okl {
			return exec.Bound{}, false
		}
	} else {
		op = c.Fn.Name
	}
	fileCol := col.Index
	if s.Columns != nil {
		fileCol = s.Columns[col.Index]
	}
	return exec.Bound{Column: fileCol, Op: op, Value: lit.Value}, true
}
