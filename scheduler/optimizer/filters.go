package optimizer

import (
	"github.com/apache/arrow-go/v18/arrow"

	"slipstream/kernels/expr"
	"slipstream/scheduler/plan"
)

// PushFilters moves each conjunct of a filter as close to the scans as it
// can go without changing the result: below a Project when it reads only
// columns the Project passes through; into the left input of an inner,
// left, semi or anti join when it reads only left columns; into the right
// input of an inner join when it reads only right columns. Filters that
// meet are merged.
func PushFilters(n plan.Node) plan.Node {
	switch n := n.(type) {
	case *plan.Filter:
		if n.Predicate.Type().ID() != arrow.BOOL {
			return &plan.Filter{Input: PushFilters(n.Input), Predicate: n.Predicate} // lit(None): leave it be
		}
		return pushInto(PushFilters(n.Input), conjuncts(n.Predicate))
	case *plan.Project:
		return &plan.Project{Input: PushFilters(n.Input), Exprs: n.Exprs}
	case *plan.Aggregate:
		return &plan.Aggregate{Input: PushFilters(n.Input), Keys: n.Keys, Aggs: n.Aggs}
	case *plan.Sort:
		return &plan.Sort{Input: PushFilters(n.Input), Keys: n.Keys}
	case *plan.Limit:
		return &plan.Limit{Input: PushFilters(n.Input), Offset: n.Offset, Count: n.Count}
	case *plan.Join:
		j := *n
		j.Left, j.Right = PushFilters(n.Left), PushFilters(n.Right)
		return &j
	case *plan.Window:
		return &plan.Window{Input: PushFilters(n.Input), Exprs: n.Exprs}
	case *plan.Explode: // a filter above it stays there: it may read an exploded column
		e := *n
		e.Input = PushFilters(n.Input)
		return &e
	case *plan.Concat:
		c := &plan.Concat{}
		for _, in := range n.Inputs {
			c.Inputs = append(c.Inputs, PushFilters(in))
		}
		return c
	}
	return n
}

// pushInto places the conjuncts over n, pushing what it can below n.
func pushInto(n plan.Node, conj []plan.Expr) plan.Node {
	var keep []plan.Expr
	switch x := n.(type) {
	case *plan.Filter:
		return pushInto(x.Input, distinct(append(conjuncts(x.Predicate), conj...)))
	case *plan.Project:
		var below []plan.Expr
		for _, c := range conj {
			if moved, ok := throughProject(c, x); ok {
				below = append(below, moved)
			} else {
				keep = append(keep, c)
			}
		}
		if len(below) > 0 {
			n = &plan.Project{Input: pushInto(x.Input, below), Exprs: x.Exprs}
		}
	case *plan.Join:
		var left, right []plan.Expr
		leftOK, rightOK := x.How != plan.RightJoin && x.How != plan.FullJoin && x.How != plan.Cross, x.How == plan.Inner
		for _, c := range conj {
			side, moved := joinSide(c, x)
			switch {
			case side == sideLeft && leftOK:
				left = append(left, moved)
			case side == sideRight && rightOK:
				right = append(right, moved)
			default:
				keep = append(keep, c)
				// An OR over both sides still implies a condition on each
				// side alone, which can go down too (c stays on top).
				if implied := impliedBy(c, x, sideLeft); implied != nil && leftOK {
					_, moved := joinSide(implied, x)
					left = append(left, moved)
				}
				if implied := impliedBy(c, x, sideRight); implied != nil && rightOK {
					_, moved := joinSide(implied, x)
					right = append(right, moved)
				}
			}
		}
		if len(left)+len(right) > 0 {
			j := *x
			if len(left) > 0 {
				j.Left = pushInto(x.Left, left)
			}
			if len(right) > 0 {
				j.Right = pushInto(x.Right, right)
			}
			n = &j
		}
	default:
		keep = conj
	}
	if len(keep) == 0 {
		return n
	}
	pred := keep[0]
	for _, c := range keep[1:] {
		pred = and(pred, c)
	}
	return &plan.Filter{Input: n, Predicate: pred}
}

// impliedBy is, for an OR of conditions c over the output of j, a condition
// on side s of j alone that holds wherever c does: the OR, over c's
// disjuncts, of each disjunct's conjuncts that read only side s. For
// (a1 & b1) | (a2 & b2), with a on the left and b on the right, the left
// gets a1 | a2. Nil when some disjunct says nothing about side s.
func impliedBy(c plan.Expr, j *plan.Join, s side) plan.Expr {
	ds := disjuncts(c)
	if len(ds) < 2 {
		return nil
	}
	var out plan.Expr
	for _, d := range ds {
		var part plan.Expr
		for _, k := range conjuncts(d) {
			if ks, _ := joinSide(k, j); ks == s {
				part = andOrNil(part, k)
			}
		}
		if part == nil {
			return nil
		}
		if out == nil {
			out = part
		} else {
			out = or(out, part)
		}
	}
	return out
}

// distinct drops repeated conditions (an implied one, derived again when
// filters are pushed a second time).
func distinct(conj []plan.Expr) []plan.Expr {
	seen := map[string]bool{}
	out := conj[:0:0]
	for _, c := range conj {
		if k := plan.ExprKey(c); !seen[k] {
			seen[k] = true
			out = append(out, c)
		}
	}
	return out
}

func disjuncts(e plan.Expr) []plan.Expr {
	if c, ok := plan.Unalias(e).(*plan.Call); ok && c.Fn.Name == "or" {
		return append(disjuncts(c.Args[0]), disjuncts(c.Args[1])...)
	}
	return []plan.Expr{e}
}

func andOrNil(a, b plan.Expr) plan.Expr {
	if a == nil {
		return b
	}
	return and(a, b)
}

func or(a, b plan.Expr) plan.Expr {
	fn, _ := expr.Lookup("or")
	return &plan.Call{Fn: fn, Args: []plan.Expr{a, b}, Out: arrow.FixedWidthTypes.Boolean}
}

func eq(a, b plan.Expr) plan.Expr {
	fn, _ := expr.Lookup("eq")
	return &plan.Call{Fn: fn, Args: []plan.Expr{a, b}, Out: arrow.FixedWidthTypes.Boolean}
}

func and(a, b plan.Expr) plan.Expr {
	fn, _ := expr.Lookup("and")
	return &plan.Call{Fn: fn, Args: []plan.Expr{a, b}, Out: arrow.FixedWidthTypes.Boolean}
}

// throughProject rewrites c over the Project's input when every column c
// reads is one the Project passes through unchanged.
func throughProject(c plan.Expr, p *plan.Project) (plan.Expr, bool) {
	ok := true
	out := plan.Rewrite(c, func(e plan.Expr) plan.Expr {
		ref, isRef := e.(*plan.ColumnRef)
		if !isRef {
			return e
		}
		src, isCol := plan.Unalias(p.Exprs[ref.Index]).(*plan.ColumnRef)
		if !isCol {
			ok = false
			return e
		}
		return &plan.ColumnRef{Index: src.Index, Field: src.Field}
	})
	return out, ok
}

type side int

const (
	sideNone side = iota
	sideLeft
	sideRight
	sideBoth
)

// joinSide says which input of j the columns of c all come from, and
// rewrites c over that input.
func joinSide(c plan.Expr, j *plan.Join) (side, plan.Expr) {
	s := sideNone
	plan.Walk(c, func(e plan.Expr) {
		if ref, ok := e.(*plan.ColumnRef); ok {
			col := sideLeft
			if j.Output[ref.Index].Right {
				col = sideRight
			}
			if s == sideNone {
				s = col
			} else if s != col {
				s = sideBoth
			}
		}
	})
	if s != sideLeft && s != sideRight {
		return sideBoth, c
	}
	input := j.Left
	if s == sideRight {
		input = j.Right
	}
	return s, plan.Rewrite(c, func(e plan.Expr) plan.Expr {
		if ref, ok := e.(*plan.ColumnRef); ok {
			idx := j.Output[ref.Index].Index
			return &plan.ColumnRef{Index: idx, Field: input.Schema().Field(idx)}
		}
		return e
	})
}
