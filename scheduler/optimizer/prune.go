package optimizer

import (
	"maps"
	"slices"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"

	"slipstream/scheduler/plan"
)

// PruneColumns makes every scan read only the columns used above it. A
// subplan the plan repeats (plan.Reusable) is pruned to the columns all its
// uses need together, so that its copies stay equal and the physical
// planner computes it once.
func PruneColumns(n plan.Node) plan.Node {
	fps := plan.Fingerprints{}
	p := pruner{repeated: plan.Repeated(n, fps), fps: fps}
	if len(p.repeated) > 0 {
		p.needs = map[string]map[int]bool{}
		p.prune(n, nil) // learn what each repeated subplan must give
		p.learnt = true
	}
	out, _ := p.prune(n, nil)
	return out
}

type pruner struct {
	repeated map[string]bool
	fps      plan.Fingerprints
	// needs is, per repeated subplan, the columns its uses need (nil: all).
	needs  map[string]map[int]bool
	learnt bool
}

// common widens need, at a repeated subplan, to what all its uses need.
func (p *pruner) common(n plan.Node, need map[int]bool) map[int]bool {
	if len(p.repeated) == 0 || !plan.Reusable(n) {
		return need
	}
	fp := p.fps.Of(n)
	if !p.repeated[fp] {
		return need
	}
	if p.learnt {
		return p.needs[fp]
	}
	all, seen := p.needs[fp]
	switch {
	case need == nil:
		p.needs[fp] = nil
	case !seen:
		p.needs[fp] = maps.Clone(need)
	case all != nil:
		maps.Copy(all, need)
	}
	return need
}

// used adds the input columns e reads to need.
func used(e plan.Expr, need map[int]bool) {
	plan.Walk(e, func(x plan.Expr) {
		if c, ok := x.(*plan.ColumnRef); ok {
			need[c.Index] = true
		}
	})
}

// remapExpr points e's column references at their new indices.
func remapExpr(e plan.Expr, m []int) plan.Expr {
	if m == nil {
		return e
	}
	return plan.Rewrite(e, func(x plan.Expr) plan.Expr {
		if c, ok := x.(*plan.ColumnRef); ok {
			return &plan.ColumnRef{Index: m[c.Index], Field: c.Field}
		}
		return x
	})
}

func remapAll(es []plan.Expr, m []int) []plan.Expr {
	out := make([]plan.Expr, len(es))
	for i, e := range es {
		out[i] = remapExpr(e, m)
	}
	return out
}

// prune rewrites n so that it produces at least the output columns in need
// (nil: all). It returns the new node and where each old output column now
// is (nil: unchanged); a column not needed maps to -1.
func (p *pruner) prune(n plan.Node, need map[int]bool) (plan.Node, []int) {
	need = p.common(n, need)
	switch n := n.(type) {
	case *plan.Scan:
		if need == nil {
			return n, nil
		}
		keep := make([]int, 0, len(need))
		for i := range need {
			keep = append(keep, i)
		}
		sort.Ints(keep)
		width := n.Schema().NumFields()
		m := make([]int, width)
		for i := range m {
			m[i] = -1
		}
		cols := make([]int, len(keep))
		for newIdx, old := range keep {
			m[old] = newIdx
			cols[newIdx] = old
			if n.Columns != nil {
				cols[newIdx] = n.Columns[old]
			}
		}
		s := *n
		s.Columns = cols
		return &s, m
	case *plan.Filter:
		child, m := p.prune(n.Input, withExprs(need, n.Predicate))
		return &plan.Filter{Input: child, Predicate: remapExpr(n.Predicate, m)}, m
	case *plan.Sort:
		keys := make([]plan.Expr, len(n.Keys))
		for i, k := range n.Keys {
			keys[i] = k.Expr
		}
		child, m := p.prune(n.Input, withExprs(need, keys...))
		s := &plan.Sort{Input: child}
		for _, k := range n.Keys {
			s.Keys = append(s.Keys, plan.SortKey{Expr: remapExpr(k.Expr, m), Descending: k.Descending, NullsLast: k.NullsLast})
		}
		return s, m
	case *plan.Limit:
		child, m := p.prune(n.Input, need)
		return &plan.Limit{Input: child, Offset: n.Offset, Count: n.Count}, m
	case *plan.Explode: // its columns keep their places: read what is needed and the lists
		needIn := need
		if need != nil {
			needIn = map[int]bool{}
			for i := range need {
				needIn[i] = true
			}
			for _, c := range n.Columns {
				needIn[c] = true
			}
		}
		child, m := p.prune(n.Input, needIn)
		cols := make([]int, len(n.Columns))
		for i, c := range n.Columns {
			cols[i] = c
			if m != nil {
				cols[i] = m[c]
			}
		}
		return &plan.Explode{Input: child, Columns: cols, EmptyAsNull: n.EmptyAsNull, DropNulls: n.DropNulls}, m
	case *plan.Project:
		if need == nil {
			child, m := p.prune(n.Input, withExprs(map[int]bool{}, n.Exprs...))
			return &plan.Project{Input: child, Exprs: remapAll(n.Exprs, m)}, nil
		}
		// Drop the outputs nobody above reads (with_columns passes every
		// column through; most are not used).
		var kept []plan.Expr
		out := make([]int, len(n.Exprs))
		for i, e := range n.Exprs {
			out[i] = -1
			if need[i] {
				out[i] = len(kept)
				kept = append(kept, e)
			}
		}
		child, m := p.prune(n.Input, withExprs(map[int]bool{}, kept...))
		return &plan.Project{Input: child, Exprs: remapAll(kept, m)}, out
	case *plan.Window:
		width := n.Input.Schema().NumFields()
		needIn := map[int]bool{}
		for i := 0; i < width; i++ {
			if need == nil || need[i] {
				needIn[i] = true
			}
		}
		for _, we := range n.Exprs {
			for _, e := range windowExprs(we) {
				used(e, needIn)
			}
		}
		child, m := p.prune(n.Input, needIn)
		out := &plan.Window{Input: child}
		for _, we := range n.Exprs {
			c := *we
			c.PartitionBy = remapAll(we.PartitionBy, m)
			c.OrderBy = nil
			for _, k := range we.OrderBy {
				c.OrderBy = append(c.OrderBy, plan.SortKey{Expr: remapExpr(k.Expr, m), Descending: k.Descending, NullsLast: k.NullsLast})
			}
			if we.Arg != nil {
				c.Arg = remapExpr(we.Arg, m)
			}
			if we.Agg != nil {
				c.Agg = remapExpr(we.Agg, m).(*plan.AggCall)
			}
			out.Exprs = append(out.Exprs, &c)
		}
		if m == nil {
			return out, nil
		}
		newWidth := child.Schema().NumFields()
		remap := make([]int, width+len(n.Exprs))
		copy(remap, m)
		for j := range n.Exprs {
			remap[width+j] = newWidth + j
		}
		return out, remap
	case *plan.Values:
		if need == nil {
			return n, nil
		}
		m := make([]int, n.Out.NumFields())
		var keep []int
		for i := range m {
			m[i] = -1
			if need[i] {
				m[i] = len(keep)
				keep = append(keep, i)
			}
		}
		out := &plan.Values{Rows: make([][]plan.Expr, len(n.Rows))}
		fields := make([]arrow.Field, len(keep))
		for j, i := range keep {
			fields[j] = n.Out.Field(i)
		}
		out.Out = arrow.NewSchema(fields, nil)
		for r, row := range n.Rows {
			for _, i := range keep {
				out.Rows[r] = append(out.Rows[r], row[i])
			}
		}
		return out, m
	case *plan.Concat:
		// The inputs, pruned alike, move their columns alike, and the
		// Concat's columns with them (a parent that reads fewer columns
		// than the inputs give drops some of them).
		out := &plan.Concat{}
		var moved []int
		for i, in := range n.Inputs {
			child, m := p.prune(in, need)
			if i > 0 && !slices.Equal(m, moved) {
				keep := &plan.Concat{} // cannot happen; keep every column rather than guess
				for _, in := range n.Inputs {
					child, _ := p.prune(in, nil)
					keep.Inputs = append(keep.Inputs, child)
				}
				return keep, nil
			}
			moved = m
			out.Inputs = append(out.Inputs, child)
		}
		return out, moved
	case *plan.Join:
		needL, needR := map[int]bool{}, map[int]bool{}
		for i, c := range n.Output {
			if need == nil || need[i] {
				if c.Right {
					needR[c.Index] = true
				} else {
					needL[c.Index] = true
				}
			}
		}
		for _, k := range n.LeftKeys {
			used(k, needL)
		}
		for _, k := range n.RightKeys {
			used(k, needR)
		}
		width := n.Left.Schema().NumFields()
		if n.Filter != nil {
			pair := map[int]bool{}
			used(n.Filter, pair)
			for i := range pair {
				if i < width {
					needL[i] = true
				} else {
					needR[i-width] = true
				}
			}
		}
		left, ml := p.prune(n.Left, needL)
		right, mr := p.prune(n.Right, needR)
		out := &plan.Join{Left: left, Right: right, LeftKeys: remapAll(n.LeftKeys, ml), RightKeys: remapAll(n.RightKeys, mr), How: n.How}
		if n.Filter != nil {
			newWidth := left.Schema().NumFields()
			out.Filter = plan.Rewrite(n.Filter, func(x plan.Expr) plan.Expr {
				c, ok := x.(*plan.ColumnRef)
				if !ok {
					return x
				}
				switch {
				case c.Index < width && ml != nil:
					return &plan.ColumnRef{Index: ml[c.Index], Field: c.Field}
				case c.Index >= width && mr != nil:
					return &plan.ColumnRef{Index: newWidth + mr[c.Index-width], Field: c.Field}
				case c.Index >= width:
					return &plan.ColumnRef{Index: newWidth + c.Index - width, Field: c.Field}
				}
				return x
			})
		}
		var m []int
		if need != nil {
			m = make([]int, len(n.Output))
		}
		for i, c := range n.Output {
			if need != nil && !need[i] {
				m[i] = -1
				continue
			}
			if m != nil {
				m[i] = len(out.Output)
			}
			side := ml
			if c.Right {
				side = mr
			}
			if side != nil {
				c.Index = side[c.Index]
			}
			out.Output = append(out.Output, c)
		}
		return out, m
	case *plan.Aggregate:
		child, m := p.prune(n.Input, withExprs(map[int]bool{}, append(append([]plan.Expr{}, n.Keys...), n.Aggs...)...))
		return &plan.Aggregate{Input: child, Keys: remapAll(n.Keys, m), Aggs: remapAll(n.Aggs, m)}, nil
	}
	return n, nil
}

// windowExprs lists the expressions a window expression reads.
func windowExprs(we *plan.WindowExpr) []plan.Expr {
	out := append([]plan.Expr{}, we.PartitionBy...)
	for _, k := range we.OrderBy {
		out = append(out, k.Expr)
	}
	if we.Arg != nil {
		out = append(out, we.Arg)
	}
	if we.Agg != nil {
		out = append(out, we.Agg)
	}
	return out
}

// withExprs is need plus the columns exprs read; nil (all) stays nil.
func withExprs(need map[int]bool, exprs ...plan.Expr) map[int]bool {
	if need == nil {
		return nil
	}
	out := make(map[int]bool, len(need))
	for k := range need {
		out[k] = true
	}
	for _, e := range exprs {
		used(e, out)
	}
	return out
}
