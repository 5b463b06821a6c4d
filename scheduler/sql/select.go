package sql

import (
	"fmt"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"slipstream/kernels"
	"slipstream/scheduler/plan"
	pb "slipstream/scheduler/planpb"
)

// A relation in scope is a FROM item under its alias. Its node's columns
// are renamed "<alias>.<column>", so that columns of different relations
// never clash in a join; the final projection names them back.
type relation struct {
	alias  string // as the query names it
	prefix string // in the plan's column names: the alias, made unique in the query
	cols   []string
}

// scope is the relations a query's expressions may name; outer, for a
// subquery, is the enclosing query's, whose columns it may name too (a
// correlated subquery).
type scope struct {
	rels  []relation
	outer *scope
}

func qualified(alias, col string) string { return alias + "." + col }

// resolve finds the internal name of a column reference: [col] or
// [alias, col].
func (s *scope) resolve(parts []string) (string, error) {
	name, _, err := s.resolveOuter(parts)
	return name, err
}

// resolveOuter is resolve, looking in the enclosing queries' scopes for a
// name this one does not have; outer says it was found there.
func (s *scope) resolveOuter(parts []string) (string, bool, error) {
	name, err := s.resolveHere(parts)
	if err != nil && s.outer != nil && !s.has(parts) {
		if o, _, oerr := s.outer.resolveOuter(parts); oerr == nil {
			return o, true, nil
		}
	}
	return name, false, err
}

// has says whether this scope (not the enclosing ones) has a relation or
// column the reference could mean.
func (s *scope) has(parts []string) bool {
	for _, r := range s.rels {
		if len(parts) == 2 && strings.EqualFold(r.alias, parts[0]) {
			return true
		}
		if len(parts) == 1 {
			for _, c := range r.cols {
				if strings.EqualFold(c, parts[0]) {
					return true
				}
			}
		}
	}
	return false
}

func (s *scope) resolveHere(parts []string) (string, error) {
	switch len(parts) {
	case 1:
		var found []string
		for _, r := range s.rels {
			for _, c := range r.cols {
				if strings.EqualFold(c, parts[0]) {
					found = append(found, qualified(r.prefix, c))
				}
			}
		}
		if len(found) == 1 {
			return found[0], nil
		}
		if len(found) > 1 {
			return "", kernels.Errorf(kernels.Invalid, "SQL: column reference %q is ambiguous: it could be %s", parts[0], strings.Join(found, " or "))
		}
		return "", kernels.Errorf(kernels.Invalid, "SQL: unknown column %q%s", parts[0], s.suggest(parts[0]))
	case 2:
		for _, r := range s.rels {
			if !strings.EqualFold(r.alias, parts[0]) {
				continue
			}
			for _, c := range r.cols {
				if strings.EqualFold(c, parts[1]) {
					return qualified(r.prefix, c), nil
				}
			}
			return "", kernels.Errorf(kernels.Invalid, "SQL: %s has no column %q%s", r.alias, parts[1], suggestion(parts[1], r.cols))
		}
		var aliases []string
		for _, r := range s.rels {
			aliases = append(aliases, r.alias)
		}
		return "", kernels.Errorf(kernels.Invalid, "SQL: unknown table or alias %q in %s.%s%s", parts[0], parts[0], parts[1], suggestion(parts[0], aliases))
	}
	return "", notSupported(fmt.Sprintf("column references of %d parts (%s)", len(parts), strings.Join(parts, ".")))
}

func (s *scope) suggest(name string) string {
	var all []string
	for _, r := range s.rels {
		all = append(all, r.cols...)
	}
	return suggestion(name, all)
}

// suggestion is ` (did you mean "x"?)` for the closest of names, if any
// is close.
func suggestion(name string, names []string) string {
	best, dist := "", 1<<30
	for _, n := range names {
		if d := editDistance(strings.ToLower(name), strings.ToLower(n)); d < dist {
			best, dist = n, d
		}
	}
	if best == "" || dist > max(2, len(name)/3) {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// columns are the column names of n.
func (c *compiler) columns(n *pb.Node) ([]string, error) {
	p, err := plan.Build(&pb.Query{Root: n}, c.r)
	if err != nil {
		return nil, err
	}
	s := p.Schema()
	names := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		names[i] = f.Name
	}
	return names, nil
}

// bring puts n in scope under alias: its columns renamed to qualified
// names.
func (c *compiler) bring(n *pb.Node, alias string) (*pb.Node, relation, error) {
	cols, err := c.columns(n)
	if err != nil {
		return nil, relation{}, err
	}
	prefix := alias
	for c.aliases[strings.ToLower(prefix)] {
		c.hidden++
		prefix = fmt.Sprintf("%s#%d", alias, c.hidden)
	}
	c.aliases[strings.ToLower(prefix)] = true
	exprs := make([]*pb.Expr, len(cols))
	for i, col := range cols {
		exprs[i] = alias_(column(col), qualified(prefix, col))
	}
	return selectNode(n, exprs), relation{alias: alias, prefix: prefix, cols: cols}, nil
}

func column(name string) *pb.Expr {
	return &pb.Expr{Kind: &pb.Expr_Column{Column: &pb.Column{Name: name}}}
}

func alias_(e *pb.Expr, name string) *pb.Expr {
	return &pb.Expr{Kind: &pb.Expr_Alias{Alias: &pb.Alias{Expr: e, Name: name}}}
}

func call(fn string, args ...*pb.Expr) *pb.Expr {
	return &pb.Expr{Kind: &pb.Expr_Call{Call: &pb.Call{Function: fn, Args: args}}}
}

func selectNode(in *pb.Node, exprs []*pb.Expr) *pb.Node {
	return &pb.Node{Kind: &pb.Node_Select{Select: &pb.Select{Input: in, Exprs: exprs}}}
}

func filterNode(in *pb.Node, pred *pb.Expr) *pb.Node {
	return &pb.Node{Kind: &pb.Node_Filter{Filter: &pb.Filter{Input: in, Predicate: pred}}}
}

// query compiles a SELECT, with its set operations and WITH clause.
func (c *compiler) query(s *pg.SelectStmt) (*pb.Node, error) {
	if w := s.GetWithClause(); w != nil {
		if w.GetRecursive() {
			return nil, notSupported("recursive WITH queries")
		}
		saved := c.ctes
		c.ctes = make(map[string]*pb.Node, len(saved))
		for k, v := range saved {
			c.ctes[k] = v
		}
		defer func() { c.ctes = saved }()
		for _, item := range w.GetCtes() {
			cte := item.GetCommonTableExpr()
			sub := cte.GetCtequery().GetSelectStmt()
			if sub == nil {
				return nil, notSupported("WITH queries other than SELECT")
			}
			n, err := c.query(sub)
			if err != nil {
				return nil, err
			}
			if names := cte.GetAliascolnames(); len(names) > 0 {
				if n, err = c.renameColumns(n, names, cte.GetCtename()); err != nil {
					return nil, err
				}
			}
			c.ctes[strings.ToLower(cte.GetCtename())] = n
		}
	}
	switch op := s.GetOp(); op {
	case pg.SetOperation_SETOP_UNION, pg.SetOperation_SETOP_INTERSECT, pg.SetOperation_SETOP_EXCEPT:
		l, err := c.query(s.GetLarg())
		if err != nil {
			return nil, err
		}
		r, err := c.query(s.GetRarg())
		if err != nil {
			return nil, err
		}
		if r, err = c.renameLike(r, l); err != nil {
			return nil, err
		}
		n, err := c.setOperation(op, s.GetAll(), l, r)
		if err != nil {
			return nil, err
		}
		return c.orderLimit(n, s, nil)
	}
	if len(s.GetValuesLists()) > 0 {
		n, err := c.values(s.GetValuesLists())
		if err != nil {
			return nil, err
		}
		return c.orderLimit(n, s, nil)
	}
	return c.selectCore(s)
}

// renameColumns gives n's columns the names of a WITH item's column list.
func (c *compiler) renameColumns(n *pb.Node, names []*pg.Node, of string) (*pb.Node, error) {
	cols, err := c.columns(n)
	if err != nil {
		return nil, err
	}
	if len(names) > len(cols) {
		return nil, kernels.Errorf(kernels.Invalid, "SQL: %s names %d columns but its query has %d", of, len(names), len(cols))
	}
	exprs := make([]*pb.Expr, len(cols))
	for i, col := range cols {
		exprs[i] = column(col)
		if i < len(names) {
			exprs[i] = alias_(column(col), names[i].GetString_().GetSval())
		}
	}
	return selectNode(n, exprs), nil
}

// renameLike names r's columns as l's, by position (UNION takes the
// first query's names).
func (c *compiler) renameLike(r, l *pb.Node) (*pb.Node, error) {
	lc, err := c.columns(l)
	if err != nil {
		return nil, err
	}
	rc, err := c.columns(r)
	if err != nil {
		return nil, err
	}
	if len(lc) != len(rc) {
		return nil, kernels.Errorf(kernels.Invalid, "SQL: each UNION query must have the same number of columns: %d and %d", len(lc), len(rc))
	}
	exprs := make([]*pb.Expr, len(rc))
	for i := range rc {
		exprs[i] = alias_(column(rc[i]), lc[i])
	}
	return selectNode(r, exprs), nil
}

// output is one column of a SELECT list.
type output struct {
	name string
	expr *pb.Expr // over the FROM scope, or over the aggregate's output
}

// selectCore compiles SELECT ... FROM ... WHERE ... GROUP BY ... HAVING
// ... ORDER BY ... LIMIT.
func (c *compiler) selectCore(s *pg.SelectStmt) (*pb.Node, error) {
	sc := &scope{}
	var where []*pg.Node
	if w := s.GetWhereClause(); w != nil {
		where = conjuncts(w)
	}
	n, where, err := c.from(s.GetFromClause(), sc, where)
	if err != nil {
		return nil, err
	}
	if n, where, err = c.subqueries(n, sc, where); err != nil {
		return nil, err
	}
	ex := &exprCompiler{c: c, sc: sc}
	if len(where) > 0 {
		var pred *pb.Expr
		for _, w := range where {
			e, err := ex.expr(w)
			if err != nil {
				return nil, err
			}
			if pred == nil {
				pred = e
			} else {
				pred = call("and", pred, e)
			}
		}
		n = filterNode(n, pred)
	}
	// The SELECT list, * expanded.
	var outs []output
	for _, t := range s.GetTargetList() {
		rt := t.GetResTarget()
		if ref := rt.GetVal().GetColumnRef(); ref != nil && isStar(ref) {
			fields := ref.GetFields()
			for _, r := range sc.rels {
				if len(fields) == 2 && !strings.EqualFold(fields[0].GetString_().GetSval(), r.alias) {
					continue
				}
				for _, col := range r.cols {
					outs = append(outs, output{name: col, expr: column(qualified(r.prefix, col))})
				}
			}
			continue
		}
		e, err := ex.expr(rt.GetVal())
		if err != nil {
			return nil, err
		}
		name := rt.GetName()
		if name == "" {
			name = c.nameOf(rt.GetVal())
		}
		outs = append(outs, output{name: name, expr: e})
	}
	// Aggregation: by GROUP BY, or by aggregates in the list or HAVING.
	having := s.GetHavingClause()
	groupBy := s.GetGroupClause()
	aggregated := len(groupBy) > 0 || having != nil || ex.sawAggregate
	var havingExpr *pb.Expr
	var havingSubs []*pb.Node // scalar subqueries of HAVING, crossed in after the aggregate
	if having != nil {
		for _, sl := range scalarSubLinks(having) {
			if namesOuter(c, sl.GetSubselect().GetSelectStmt(), sc) {
				return nil, notSupported("subqueries in HAVING that name the outer query")
			}
			sub, col, err := c.oneColumn(sl, "a scalar subquery")
			if err != nil {
				return nil, err
			}
			c.sublinks[sl] = col
			havingSubs = append(havingSubs, sub)
		}
		if havingExpr, err = ex.expr(having); err != nil {
			return nil, err
		}
	}
	var sortKeys []*pb.SortKey
	if !aggregated {
		// ORDER BY may name output columns or FROM columns.
		if sortKeys, err = c.sortKeys(s.GetSortClause(), ex, outs); err != nil {
			return nil, err
		}
	}
	if aggregated {
		var keys []*pb.Expr
		if len(groupBy) == 1 && isGroupByAll(groupBy[0]) {
			for _, o := range outs {
				if !hasAggregate(o.expr) {
					keys = append(keys, o.expr)
				}
			}
		} else {
			for _, g := range groupBy {
				if pos, ok := position(g); ok {
					if pos < 1 || pos > len(outs) {
						return nil, kernels.Errorf(kernels.Invalid, "SQL: GROUP BY %d: the SELECT list has %d columns", pos, len(outs))
					}
					keys = append(keys, unalias(outs[pos-1].expr))
					continue
				}
				k, err := ex.exprOrOutput(g, outs)
				if err != nil {
					return nil, err
				}
				keys = append(keys, k)
			}
		}
		if sortKeys, err = c.sortKeys(s.GetSortClause(), ex, outs); err != nil {
			return nil, err
		}
		var agg *aggregation
		if n, agg, err = c.aggregate(n, keys, outs, havingExpr, sortKeys); err != nil {
			return nil, err
		}
		for i := range outs {
			outs[i].expr = agg.over(outs[i].expr)
		}
		for _, k := range sortKeys {
			k.Expr = agg.over(k.Expr)
		}
		for _, sub := range havingSubs {
			n = c.join(n, sub, pb.Join_CROSS, nil, nil)
		}
		if havingExpr != nil {
			n = filterNode(n, agg.over(havingExpr))
		}
	}
	if s.GetDistinctClause() != nil {
		if len(s.GetDistinctClause()) > 1 || s.GetDistinctClause()[0] != nil && s.GetDistinctClause()[0].GetNode() != nil {
			return nil, notSupported("DISTINCT ON")
		}
		return c.distinct(n, outs, s)
	}
	return c.project(n, outs, sortKeys, s)
}

// project sorts by keys (over the input of the projection, so that they
// may use columns the output drops), projects outs, and limits.
func (c *compiler) project(n *pb.Node, outs []output, keys []*pb.SortKey, s *pg.SelectStmt) (*pb.Node, error) {
	exprs := make([]*pb.Expr, len(outs))
	names := uniqueNames(outs)
	for i, o := range outs {
		exprs[i] = alias_(o.expr, names[i])
	}
	if len(keys) > 0 {
		// Sort over the input with the outputs added as hidden columns,
		// then keep the outputs only.
		hidden := make([]*pb.Expr, len(outs))
		for i, o := range outs {
			hidden[i] = alias_(o.expr, fmt.Sprintf("#out%d", i))
		}
		n = &pb.Node{Kind: &pb.Node_WithColumns{WithColumns: &pb.WithColumns{Input: n, Exprs: hidden}}}
		n = &pb.Node{Kind: &pb.Node_Sort{Sort: &pb.Sort{Input: n, Keys: keys}}}
		for i := range outs {
			exprs[i] = alias_(column(fmt.Sprintf("#out%d", i)), names[i])
		}
	}
	n = selectNode(n, exprs)
	return c.limit(n, s)
}

// setOperation combines two queries of the same columns. UNION ALL stacks
// them; UNION keeps one row of each distinct row. INTERSECT and EXCEPT
// stack both sides tagged 1 and 2 and group by every column, which
// treats nulls as equal, as SQL's set operations do: a row of both sides
// has tags 1 and 2, a row of the left only has tag 1 alone.
func (c *compiler) setOperation(op pg.SetOperation, all bool, l, r *pb.Node) (*pb.Node, error) {
	stack := func(l, r *pb.Node) *pb.Node {
		return &pb.Node{Kind: &pb.Node_Concat{Concat: &pb.Concat{Inputs: []*pb.Node{l, r}}}}
	}
	if op == pg.SetOperation_SETOP_UNION && all {
		return stack(l, r), nil
	}
	if all {
		return nil, notSupported("INTERSECT ALL and EXCEPT ALL")
	}
	names, err := c.columns(l)
	if err != nil {
		return nil, err
	}
	keys := make([]*pb.Expr, len(names))
	for i, name := range names {
		keys[i] = column(name)
	}
	if op == pg.SetOperation_SETOP_UNION {
		return &pb.Node{Kind: &pb.Node_Aggregate{Aggregate: &pb.Aggregate{Input: stack(l, r), Keys: keys}}}, nil
	}
	c.hidden++
	side, lo, hi := fmt.Sprintf("__side%d", c.hidden), fmt.Sprintf("__lo%d", c.hidden), fmt.Sprintf("__hi%d", c.hidden)
	tag := func(n *pb.Node, v int64) *pb.Node {
		exprs := append(append([]*pb.Expr{}, keys...), alias_(literal(&pb.Literal{Value: &pb.Literal_IntValue{IntValue: v}}), side))
		return selectNode(n, exprs)
	}
	n := &pb.Node{Kind: &pb.Node_Aggregate{Aggregate: &pb.Aggregate{Input: stack(tag(l, 1), tag(r, 2)), Keys: keys,
		Aggs: []*pb.Expr{alias_(call("min", column(side)), lo), alias_(call("max", column(side)), hi)}}}}
	one := literal(&pb.Literal{Value: &pb.Literal_IntValue{IntValue: 1}})
	keep := call("eq", column(hi), one) // EXCEPT: the left side only
	if op == pg.SetOperation_SETOP_INTERSECT {
		keep = call("and", call("eq", column(lo), one), call("eq", column(hi), literal(&pb.Literal{Value: &pb.Literal_IntValue{IntValue: 2}})))
	}
	return selectNode(filterNode(n, keep), keys), nil
}

// distinct keeps one row of each distinct output, then sorts by ORDER BY
// (which may name only outputs) and limits.
func (c *compiler) distinct(n *pb.Node, outs []output, s *pg.SelectStmt) (*pb.Node, error) {
	names := uniqueNames(outs)
	keys := make([]*pb.Expr, len(outs))
	for i, o := range outs {
		keys[i] = alias_(o.expr, names[i])
	}
	n = &pb.Node{Kind: &pb.Node_Aggregate{Aggregate: &pb.Aggregate{Input: n, Keys: keys}}}
	return c.orderLimit(n, s, names)
}

// orderLimit sorts a finished result by ORDER BY, which may name its
// columns or give their positions, and limits it.
func (c *compiler) orderLimit(n *pb.Node, s *pg.SelectStmt, names []string) (*pb.Node, error) {
	if names == nil {
		var err error
		if names, err = c.columns(n); err != nil {
			return nil, err
		}
	}
	var keys []*pb.SortKey
	for _, item := range s.GetSortClause() {
		sb := item.GetSortBy()
		var e *pb.Expr
		if pos, ok := position(sb.GetNode()); ok {
			if pos < 1 || pos > len(names) {
				return nil, kernels.Errorf(kernels.Invalid, "SQL: ORDER BY %d: the result has %d columns", pos, len(names))
			}
			e = column(names[pos-1])
		} else if ref := sb.GetNode().GetColumnRef(); ref != nil && len(ref.GetFields()) == 1 {
			name := ref.GetFields()[0].GetString_().GetSval()
			found := ""
			for _, n := range names {
				if strings.EqualFold(n, name) {
					found = n
				}
			}
			if found == "" {
				return nil, kernels.Errorf(kernels.Invalid, "SQL: ORDER BY %q: for SELECT DISTINCT or UNION, ORDER BY must name a column of the result%s", name, suggestion(name, names))
			}
			e = column(found)
		} else {
			return nil, notSupported("ORDER BY expressions over SELECT DISTINCT or UNION (name a result column)")
		}
		keys = append(keys, sortKey(e, sb))
	}
	if len(keys) > 0 {
		n = &pb.Node{Kind: &pb.Node_Sort{Sort: &pb.Sort{Input: n, Keys: keys}}}
	}
	return c.limit(n, s)
}

func sortKey(e *pb.Expr, sb *pg.SortBy) *pb.SortKey {
	desc := sb.GetSortbyDir() == pg.SortByDir_SORTBY_DESC
	// DuckDB's default: nulls last, ascending or descending (Postgres puts
	// them first descending).
	nullsLast := true
	switch sb.GetSortbyNulls() {
	case pg.SortByNulls_SORTBY_NULLS_FIRST:
		nullsLast = false
	case pg.SortByNulls_SORTBY_NULLS_LAST:
		nullsLast = true
	}
	return &pb.SortKey{Expr: e, Descending: desc, NullsLast: nullsLast}
}

// sortKeys compiles ORDER BY of a plain or aggregated SELECT: a position
// or an output's name gives that output's expression, anything else is an
// expression over the FROM scope.
func (c *compiler) sortKeys(items []*pg.Node, ex *exprCompiler, outs []output) ([]*pb.SortKey, error) {
	var keys []*pb.SortKey
	for _, item := range items {
		sb := item.GetSortBy()
		var e *pb.Expr
		if pos, ok := position(sb.GetNode()); ok {
			if pos < 1 || pos > len(outs) {
				return nil, kernels.Errorf(kernels.Invalid, "SQL: ORDER BY %d: the SELECT list has %d columns", pos, len(outs))
			}
			e = unalias(outs[pos-1].expr)
		} else {
			var err error
			if e, err = ex.exprOrOutput(sb.GetNode(), outs); err != nil {
				return nil, err
			}
		}
		keys = append(keys, sortKey(e, sb))
	}
	return keys, nil
}

func (c *compiler) limit(n *pb.Node, s *pg.SelectStmt) (*pb.Node, error) {
	count, offset := int64(-1), int64(0)
	if lc := s.GetLimitCount(); lc != nil {
		v, ok := intConst(lc)
		if !ok {
			if lc.GetAConst().GetIsnull() {
				v, ok = -1, true
			}
		}
		if !ok || v < -1 {
			return nil, kernels.Errorf(kernels.Invalid, "SQL: LIMIT wants a non-negative whole number")
		}
		count = v
	}
	if lo := s.GetLimitOffset(); lo != nil {
		v, ok := intConst(lo)
		if !ok || v < 0 {
			return nil, kernels.Errorf(kernels.Invalid, "SQL: OFFSET wants a non-negative whole number")
		}
		offset = v
	}
	if count < 0 && offset == 0 {
		return n, nil
	}
	return &pb.Node{Kind: &pb.Node_Limit{Limit: &pb.Limit{Input: n, Offset: offset, Count: count}}}, nil
}

// uniqueNames are the outputs' names, a repeated one suffixed _1, _2, ...
// (a result's columns must differ).
func uniqueNames(outs []output) []string {
	seen := map[string]int{}
	names := make([]string, len(outs))
	for i, o := range outs {
		name := o.name
		for k := seen[strings.ToLower(name)]; k > 0; k++ {
			cand := fmt.Sprintf("%s_%d", o.name, k)
			if seen[strings.ToLower(cand)] == 0 {
				name = cand
				break
			}
		}
		seen[strings.ToLower(o.name)]++
		seen[strings.ToLower(name)]++
		names[i] = name
	}
	return names
}

func isStar(ref *pg.ColumnRef) bool {
	f := ref.GetFields()
	return len(f) > 0 && f[len(f)-1].GetAStar() != nil
}

func isGroupByAll(n *pg.Node) bool {
	// Compile wrote GROUP BY ALL as GROUP BY "*".
	ref := n.GetColumnRef()
	return ref != nil && len(ref.GetFields()) == 1 && ref.GetFields()[0].GetString_().GetSval() == "*"
}

func position(n *pg.Node) (int, bool) {
	v, ok := intConst(n)
	return int(v), ok
}

func intConst(n *pg.Node) (int64, bool) {
	c := n.GetAConst()
	if c == nil || c.GetIval() == nil {
		return 0, false
	}
	return int64(c.GetIval().GetIval()), true
}

func conjuncts(n *pg.Node) []*pg.Node {
	if b := n.GetBoolExpr(); b != nil && b.GetBoolop() == pg.BoolExprType_AND_EXPR {
		var out []*pg.Node
		for _, a := range b.GetArgs() {
			out = append(out, conjuncts(a)...)
		}
		return out
	}
	return []*pg.Node{n}
}

func unalias(e *pb.Expr) *pb.Expr {
	for e.GetAlias() != nil {
		e = e.GetAlias().GetExpr()
	}
	return e
}
