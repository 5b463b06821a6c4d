package sql

import (
	"fmt"

	pg "github.com/pganalyze/pg_query_go/v6"

	"slipstream/kernels"
	pb "slipstream/scheduler/planpb"
)

// Subqueries in WHERE and HAVING are decorrelated into joins before the
// conditions are compiled:
//   - [NOT] EXISTS (...) is a semi (anti) join; the subquery's conditions
//     that name the outer query become the join's keys (equalities) and
//     filter (the rest).
//   - x IN (...) is a semi join on x; x NOT IN (...) an anti join, kept
//     only where SQL's three values say true: the subquery is empty, or x
//     is not null and the subquery holds no null.
//   - A scalar subquery is joined in as a column: one that names the outer
//     query is grouped by the inner sides of its equalities and left
//     joined (an aggregate of no rows is null), one that does not is
//     crossed in (its single row to every row).

// subqueries joins the subqueries of the WHERE conditions into n and
// returns the conditions left to compile.
func (c *compiler) subqueries(n *pb.Node, sc *scope, where []*pg.Node) (*pb.Node, []*pg.Node, error) {
	var rest []*pg.Node
	for _, w := range where {
		negated := false
		cond := w
		if b := w.GetBoolExpr(); b != nil && b.GetBoolop() == pg.BoolExprType_NOT_EXPR && len(b.GetArgs()) == 1 && b.GetArgs()[0].GetSubLink() != nil {
			negated, cond = true, b.GetArgs()[0]
		}
		sl := cond.GetSubLink()
		var err error
		switch {
		case sl != nil && sl.GetSubLinkType() == pg.SubLinkType_EXISTS_SUBLINK:
			n, err = c.exists(n, sc, sl, negated)
		case sl != nil && sl.GetSubLinkType() == pg.SubLinkType_ANY_SUBLINK && isEqualsOp(sl):
			n, err = c.in(n, sc, sl, negated)
		default:
			n, err = c.scalars(n, sc, w)
			rest = append(rest, w)
		}
		if err != nil {
			return nil, nil, err
		}
	}
	return n, rest, nil
}

func isEqualsOp(sl *pg.SubLink) bool {
	names := sl.GetOperName()
	return len(names) == 0 || names[len(names)-1].GetString_().GetSval() == "="
}

// correlatedFrom compiles a subquery's FROM and the conditions of its
// WHERE that name only its own tables; the conditions that also name the
// outer query come back as join keys (inner = outer) and a join filter.
func (c *compiler) correlatedFrom(s *pg.SelectStmt, outer *scope) (*pb.Node, *scope, [][2]*pb.Expr, *pb.Expr, error) {
	if s.GetOp() != pg.SetOperation_SETOP_NONE || s.GetWithClause() != nil {
		return nil, nil, nil, nil, notSupported("set operations and WITH inside a subquery that names the outer query")
	}
	inner := &scope{outer: outer}
	var where []*pg.Node
	if w := s.GetWhereClause(); w != nil {
		where = conjuncts(w)
	}
	n, where, err := c.from(s.GetFromClause(), inner, where)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if n, where, err = c.subqueries(n, inner, where); err != nil {
		return nil, nil, nil, nil, err
	}
	var keys [][2]*pb.Expr
	var own, filter *pb.Expr
	here := &scope{rels: inner.rels}
	both := &scope{rels: append(append([]relation{}, inner.rels...), outer.rels...), outer: outer.outer}
	for _, w := range where {
		ex := &exprCompiler{c: c, sc: inner}
		e, err := ex.expr(w)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		if !ex.correlated {
			own = and(own, e)
			continue
		}
		if i, o, ok := c.equiKey(w, here, outer); ok {
			keys = append(keys, [2]*pb.Expr{i, o})
			continue
		}
		ex = &exprCompiler{c: c, sc: both}
		if e, err = ex.expr(w); err != nil {
			return nil, nil, nil, nil, err
		}
		filter = and(filter, e)
	}
	if own != nil {
		n = filterNode(n, own)
	}
	return n, inner, keys, filter, nil
}

func and(a, b *pb.Expr) *pb.Expr {
	if a == nil {
		return b
	}
	return call("and", a, b)
}

// exists joins [NOT] EXISTS (subquery) into n.
func (c *compiler) exists(n *pb.Node, sc *scope, sl *pg.SubLink, negated bool) (*pb.Node, error) {
	sub, _, keys, filter, err := c.correlatedFrom(sl.GetSubselect().GetSelectStmt(), sc)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, notSupported("EXISTS subqueries without an equality to the outer query")
	}
	how := pb.Join_SEMI
	if negated {
		how = pb.Join_ANTI
	}
	return c.join(n, sub, how, swap(keys), filter), nil
}

// swap turns (inner, outer) key pairs into (outer, inner): the outer query
// is the join's left side.
func swap(keys [][2]*pb.Expr) [][2]*pb.Expr {
	out := make([][2]*pb.Expr, len(keys))
	for i, k := range keys {
		out[i] = [2]*pb.Expr{k[1], k[0]}
	}
	return out
}

// in joins x [NOT] IN (subquery) into n. The subquery may not name the
// outer query.
func (c *compiler) in(n *pb.Node, sc *scope, sl *pg.SubLink, negated bool) (*pb.Node, error) {
	x, err := (&exprCompiler{c: c, sc: sc}).expr(sl.GetTestexpr())
	if err != nil {
		return nil, err
	}
	sub, col, err := c.oneColumn(sl, "IN")
	if err != nil {
		return nil, err
	}
	if !negated {
		return c.join(n, sub, pb.Join_SEMI, [][2]*pb.Expr{{x, column(col)}}, nil), nil
	}
	c.hidden++
	rows, nonNull := fmt.Sprintf("#in%d_rows", c.hidden), fmt.Sprintf("#in%d_values", c.hidden)
	stats := &pb.Node{Kind: &pb.Node_Aggregate{Aggregate: &pb.Aggregate{Input: sub,
		Aggs: []*pb.Expr{alias_(call("len"), rows), alias_(call("count", column(col)), nonNull)}}}}
	n = c.join(n, sub, pb.Join_ANTI, [][2]*pb.Expr{{x, column(col)}}, nil)
	n = c.join(n, stats, pb.Join_CROSS, nil, nil)
	zero := literal(&pb.Literal{Value: &pb.Literal_IntValue{IntValue: 0}})
	keep := call("or", call("eq", column(rows), zero),
		call("and", call("is_not_null", x), call("eq", column(rows), column(nonNull))))
	return filterNode(n, keep), nil
}

// oneColumn compiles a subquery that does not name the outer query and
// must give one column, renamed apart.
func (c *compiler) oneColumn(sl *pg.SubLink, what string) (*pb.Node, string, error) {
	sub, err := c.query(sl.GetSubselect().GetSelectStmt())
	if err != nil {
		return nil, "", err
	}
	cols, err := c.columns(sub)
	if err != nil {
		return nil, "", err
	}
	if len(cols) != 1 {
		return nil, "", kernels.Errorf(kernels.Invalid, "SQL: the subquery of %s gives %d columns; it must give one", what, len(cols))
	}
	c.hidden++
	name := fmt.Sprintf("#sq%d", c.hidden)
	return selectNode(sub, []*pb.Expr{alias_(column(cols[0]), name)}), name, nil
}

// scalars joins into n every scalar subquery in cond, and names the
// column of each in c.sublinks for the condition's compiling.
func (c *compiler) scalars(n *pb.Node, sc *scope, cond *pg.Node) (*pb.Node, error) {
	var err error
	for _, sl := range scalarSubLinks(cond) {
		if n, err = c.scalar(n, sc, sl); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func (c *compiler) scalar(n *pb.Node, sc *scope, sl *pg.SubLink) (*pb.Node, error) {
	s := sl.GetSubselect().GetSelectStmt()
	if !namesOuter(c, s, sc) {
		sub, col, err := c.oneColumn(sl, "a scalar subquery")
		if err != nil {
			return nil, err
		}
		c.sublinks[sl] = col
		return c.join(n, sub, pb.Join_CROSS, nil, nil), nil
	}
	sub, inner, keys, filter, err := c.correlatedFrom(s, sc)
	if err != nil {
		return nil, err
	}
	if filter != nil || len(keys) == 0 {
		return nil, notSupported("scalar subqueries whose conditions on the outer query are not equalities")
	}
	if len(s.GetTargetList()) != 1 || len(s.GetGroupClause()) > 0 || s.GetHavingClause() != nil {
		return nil, notSupported("scalar subqueries naming the outer query other than one aggregate (SELECT avg(x) FROM ... WHERE ...)")
	}
	ex := &exprCompiler{c: c, sc: &scope{rels: inner.rels}}
	value, err := ex.expr(s.GetTargetList()[0].GetResTarget().GetVal())
	if err != nil {
		return nil, err
	}
	if !ex.sawAggregate {
		return nil, notSupported("scalar subqueries naming the outer query without an aggregate")
	}
	innerKeys := make([]*pb.Expr, len(keys))
	for i, k := range keys {
		innerKeys[i] = k[0]
	}
	agg, a, err := c.aggregate(sub, innerKeys, []output{{expr: value}}, nil, nil)
	if err != nil {
		return nil, err
	}
	c.hidden++
	name := fmt.Sprintf("#sq%d", c.hidden)
	exprs := []*pb.Expr{alias_(a.over(value), name)}
	outerKeys := make([][2]*pb.Expr, len(keys))
	for i, k := range keys {
		kn := fmt.Sprintf("%s_k%d", name, i)
		exprs = append(exprs, alias_(column(fmt.Sprintf("#g%d", i)), kn))
		outerKeys[i] = [2]*pb.Expr{k[1], column(kn)}
	}
	c.sublinks[sl] = name
	return c.join(n, selectNode(agg, exprs), pb.Join_LEFT, outerKeys, nil), nil
}

// namesOuter says whether a subquery names a column of sc (or beyond):
// compiling its FROM and WHERE with no outer scope fails where it does.
func namesOuter(c *compiler, s *pg.SelectStmt, sc *scope) bool {
	if s.GetOp() != pg.SetOperation_SETOP_NONE || len(s.GetFromClause()) == 0 {
		return false
	}
	probe := &compiler{text: c.text, r: c.r, ctes: c.ctes, aliases: map[string]bool{}, sublinks: map[*pg.SubLink]string{}}
	_, err := probe.query(s)
	if err == nil {
		return false
	}
	_, _, _, _, cerr := probe.correlatedFrom(s, sc)
	return cerr == nil
}

// scalarSubLinks are the scalar subqueries in an expression, outermost
// first, not looking inside subqueries.
func scalarSubLinks(n *pg.Node) []*pg.SubLink {
	var out []*pg.SubLink
	var walk func(n *pg.Node)
	walk = func(n *pg.Node) {
		if n == nil {
			return
		}
		if sl := n.GetSubLink(); sl != nil {
			if sl.GetSubLinkType() == pg.SubLinkType_EXPR_SUBLINK {
				out = append(out, sl)
			}
			return
		}
		switch {
		case n.GetAExpr() != nil:
			walk(n.GetAExpr().GetLexpr())
			walk(n.GetAExpr().GetRexpr())
			for _, i := range n.GetAExpr().GetRexpr().GetList().GetItems() {
				walk(i)
			}
		case n.GetBoolExpr() != nil:
			for _, a := range n.GetBoolExpr().GetArgs() {
				walk(a)
			}
		case n.GetFuncCall() != nil:
			for _, a := range n.GetFuncCall().GetArgs() {
				walk(a)
			}
		case n.GetTypeCast() != nil:
			walk(n.GetTypeCast().GetArg())
		case n.GetNullTest() != nil:
			walk(n.GetNullTest().GetArg())
		case n.GetCaseExpr() != nil:
			for _, w := range n.GetCaseExpr().GetArgs() {
				walk(w.GetCaseWhen().GetExpr())
				walk(w.GetCaseWhen().GetResult())
			}
			walk(n.GetCaseExpr().GetDefresult())
		}
	}
	walk(n)
	return out
}
