package plan

import (
	"fmt"
	"strings"

	"slipstream/kernels/expr"
)

// Explain renders the logical plan, one node per line, children indented.
func Explain(n Node) string {
	var sb strings.Builder
	var walk func(n Node, depth int)
	walk = func(n Node, depth int) {
		sb.WriteString(strings.Repeat("  ", depth))
		sb.WriteString(line(n))
		sb.WriteByte('\n')
		for _, c := range n.Children() {
			walk(c, depth+1)
		}
	}
	walk(n, 0)
	return sb.String()
}

func exprList(es []Expr) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.String()
	}
	return strings.Join(parts, ", ")
}

func line(n Node) string {
	switch n := n.(type) {
	case *Scan:
		cols := make([]string, 0)
		for _, f := range n.Schema().Fields() {
			cols = append(cols, f.Name)
		}
		src := fmt.Sprintf("table=%s", n.Table)
		if n.Table == "" {
			src = fmt.Sprintf("%s files=%d", n.Format, len(n.Files))
		}
		txt := fmt.Sprintf("Scan %s columns=[%s]", src, strings.Join(cols, ", "))
		if len(n.Bounds) > 0 {
			b := make([]string, len(n.Bounds))
			for i, x := range n.Bounds {
				b[i] = x.String(n.FileSchema)
			}
			txt += " row_group_filter=[" + strings.Join(b, ", ") + "]"
		}
		return txt
	case *Project:
		return "Project " + exprList(n.Exprs)
	case *Filter:
		return "Filter " + n.Predicate.String()
	case *Aggregate:
		return fmt.Sprintf("Aggregate keys=[%s] aggs=[%s]", exprList(n.Keys), exprList(n.Aggs))
	case *Sort:
		parts := make([]string, len(n.Keys))
		for i, k := range n.Keys {
			dir, nulls := "asc", "nulls_first"
			if k.Descending {
				dir = "desc"
			}
			if k.NullsLast {
				nulls = "nulls_last"
			}
			parts[i] = fmt.Sprintf("%s %s %s", k.Expr, dir, nulls)
		}
		return "Sort " + strings.Join(parts, ", ")
	case *Limit:
		return fmt.Sprintf("Limit offset=%d count=%d", n.Offset, n.Count)
	case *Explode:
		names := make([]string, len(n.Columns))
		for i, c := range n.Columns {
			names[i] = n.Input.Schema().Field(c).Name
		}
		return fmt.Sprintf("Explode %s empty_as_null=%v keep_nulls=%v", strings.Join(names, ", "), n.EmptyAsNull, !n.DropNulls)
	case *Window:
		parts := make([]string, len(n.Exprs))
		for i, e := range n.Exprs {
			parts[i] = e.String() + " AS " + e.Name
		}
		return "Window " + strings.Join(parts, ", ")
	case *Concat:
		return fmt.Sprintf("Concat inputs=%d", len(n.Inputs))
	case *Values:
		return fmt.Sprintf("Values rows=%d columns=%d", len(n.Rows), n.Out.NumFields())
	case *Exchange:
		return fmt.Sprintf("Exchange stage=%d", n.Stage)
	case *Join:
		on := make([]string, len(n.LeftKeys))
		for i := range on {
			on[i] = n.LeftKeys[i].String() + " = " + n.RightKeys[i].String()
		}
		txt := fmt.Sprintf("Join %s on=[%s]", n.How, strings.Join(on, ", "))
		if n.Filter != nil {
			txt += " filter=" + n.Filter.String()
		}
		return txt
	}
	panic(fmt.Sprintf("plan: unknown node %T", n))
}

// SchemaString renders a schema as "name: type" lines, for EXPLAIN.
func SchemaString(n Node) string {
	var sb strings.Builder
	for _, f := range n.Schema().Fields() {
		fmt.Fprintf(&sb, "%s: %s\n", f.Name, expr.TypeName(f.Type))
	}
	return sb.String()
}

// Fingerprints remembers the fingerprint of every node of a plan it was
// asked about (a node's includes its children's: computed once each).
type Fingerprints map[Node]string

// Of is the fingerprint of n, which identifies what n computes: equal
// fingerprints, equal results. It is Explain with what Explain leaves out:
// the files a scan reads, every expression again with column positions and
// the types of literals and calls, and the type of every output column.
func (fps Fingerprints) Of(n Node) string {
	if fp, ok := fps[n]; ok {
		return fp
	}
	var sb strings.Builder
	sb.WriteString(line(n))
	switch n := n.(type) {
	case *Scan:
		fmt.Fprintf(&sb, " files=%q columns=%v csv=%+v", n.Files, n.Columns, n.CSV)
	case *Join:
		fmt.Fprintf(&sb, " output=%v", n.Output)
	case *Explode:
		fmt.Fprintf(&sb, " columns=%v", n.Columns)
	case *Values:
		for _, row := range n.Rows {
			fmt.Fprintf(&sb, " (%s)", exprList(row))
		}
	case *Window:
		for _, w := range n.Exprs {
			fmt.Fprintf(&sb, " %s/%+v/%s/%s/%v", w.Op(), w.Args, w.Name, w.Out, w.Peers)
			for _, k := range w.OrderBy {
				fmt.Fprintf(&sb, "/%v%v", k.Descending, k.NullsLast)
			}
		}
	}
	sb.WriteString(" {")
	for _, e := range nodeExprs(n) {
		exprKey(&sb, e)
		sb.WriteString("; ")
	}
	sb.WriteString("} -> ")
	sb.WriteString(n.Schema().String())
	sb.WriteString(" (")
	for _, c := range n.Children() {
		sb.WriteString(fps.Of(c))
		sb.WriteString(", ")
	}
	sb.WriteString(")")
	fps[n] = sb.String()
	return fps[n]
}

// nodeExprs lists the expressions a node evaluates.
func nodeExprs(n Node) []Expr {
	switch n := n.(type) {
	case *Project:
		return n.Exprs
	case *Filter:
		return []Expr{n.Predicate}
	case *Aggregate:
		return append(append([]Expr{}, n.Keys...), n.Aggs...)
	case *Sort:
		out := make([]Expr, len(n.Keys))
		for i, k := range n.Keys {
			out[i] = k.Expr
		}
		return out
	case *Join:
		return append(append(append([]Expr{}, n.LeftKeys...), n.RightKeys...), nonNil(n.Filter)...)
	case *Window:
		var out []Expr
		for _, w := range n.Exprs {
			out = append(append(out, nonNil(w.Arg)...), w.PartitionBy...)
			if w.Agg != nil {
				out = append(out, w.Agg)
			}
			for _, k := range w.OrderBy {
				out = append(out, k.Expr)
			}
		}
		return out
	}
	return nil
}

// ExprKey identifies what e computes: equal keys, equal results.
func ExprKey(e Expr) string {
	var sb strings.Builder
	exprKey(&sb, e)
	return sb.String()
}

// exprKey writes e with column positions and the types of literals and
// calls, which String leaves out.
func exprKey(sb *strings.Builder, e Expr) {
	args := func(es ...Expr) {
		sb.WriteByte('(')
		for _, a := range es {
			if a != nil {
				exprKey(sb, a)
			}
			sb.WriteByte(',')
		}
		sb.WriteByte(')')
	}
	switch e := e.(type) {
	case *ColumnRef:
		fmt.Fprintf(sb, "#%d", e.Index)
	case *Literal:
		fmt.Fprintf(sb, "%s:%s", e.Value, e.Value.DataType())
	case *Call:
		sb.WriteString(e.Fn.Name)
		args(e.Args...)
		fmt.Fprintf(sb, ":%s", e.Out)
	case *Cast:
		sb.WriteString("cast")
		args(e.Arg)
		fmt.Fprintf(sb, ":%s", e.To)
	case *Alias:
		args(e.Arg)
		fmt.Fprintf(sb, " as %q", e.Alias)
	case *AggCall:
		sb.WriteString(e.Fn.Name)
		args(e.Arg)
		fmt.Fprintf(sb, "%v:%s", e.Params, e.Out)
	default:
		sb.WriteString(e.String())
	}
}

// Reusable reports whether n is worth computing once when a plan repeats
// it: joins and aggregates. Scans and filters are cheaper to run again
// than to hold.
func Reusable(n Node) bool {
	switch n.(type) {
	case *Join, *Aggregate:
		return true
	}
	return false
}

// Repeated is the set of fingerprints of the reusable subplans root
// computes more than once. A repeat inside a repeated subplan counts once:
// that subplan is computed once.
func Repeated(root Node, fps Fingerprints) map[string]bool {
	total := map[string]int{}
	var count func(n Node)
	count = func(n Node) {
		if Reusable(n) {
			total[fps.Of(n)]++
		}
		for _, c := range n.Children() {
			count(c)
		}
	}
	count(root)
	uses := map[string]int{}
	var walk func(n Node)
	walk = func(n Node) {
		if Reusable(n) {
			if fp := fps.Of(n); total[fp] > 1 {
				if uses[fp]++; uses[fp] > 1 {
					return // computed once, at its first use
				}
			}
		}
		for _, c := range n.Children() {
			walk(c)
		}
	}
	walk(root)
	out := map[string]bool{}
	for fp, k := range uses {
		if k > 1 {
			out[fp] = true
		}
	}
	return out
}
