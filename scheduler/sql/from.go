package sql

import (
	"fmt"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"slipstream/kernels"
	pb "slipstream/scheduler/planpb"
)

// from compiles a FROM list into one node, joining its items left to
// right. An equality in where between a column of the items so far and a
// column of the next item becomes a key of their join (so that comma joins
// are hash joins, as the optimizer then reorders); the conditions not used
// are returned.
func (c *compiler) from(items []*pg.Node, sc *scope, where []*pg.Node) (*pb.Node, []*pg.Node, error) {
	if len(items) == 0 { // SELECT without FROM reads one row of no columns
		return valuesNode(nil, [][]*pb.Expr{nil}), where, nil
	}
	where = factorOr(where)
	type item struct {
		n    *pb.Node
		rels []relation
	}
	var todo []item
	for _, it := range items {
		n, rels, err := c.fromItem(it)
		if err != nil {
			return nil, nil, err
		}
		for _, r := range rels {
			for _, l := range sc.rels {
				if strings.EqualFold(l.alias, r.alias) {
					return nil, nil, kernels.Errorf(kernels.Invalid, "SQL: the table name %q is given more than once in FROM: give each an alias", r.alias)
				}
			}
			sc.rels = append(sc.rels, r) // in FROM order: SELECT * lists columns so
		}
		todo = append(todo, item{n, rels})
	}
	// Join the items in FROM order, except that the next one joined is the
	// first that the WHERE clause ties to those joined so far: a comma
	// join is a cross product only when nothing ties its tables (TPC-H q9
	// lists part, then supplier, which only lineitem ties together).
	n, joined := todo[0].n, append([]relation{}, todo[0].rels...)
	todo = todo[1:]
	for len(todo) > 0 {
		left := &scope{rels: joined}
		pick := 0
		for j, it := range todo {
			if c.tied(where, left, &scope{rels: it.rels}) {
				pick = j
				break
			}
		}
		right := todo[pick]
		todo = append(todo[:pick:pick], todo[pick+1:]...)
		var keys [][2]*pb.Expr
		var rest []*pg.Node
		for _, w := range where {
			if l, r, ok := c.equiKey(w, left, &scope{rels: right.rels}); ok {
				keys = append(keys, [2]*pb.Expr{l, r})
			} else {
				rest = append(rest, w)
			}
		}
		where = rest
		how := pb.Join_INNER
		if len(keys) == 0 {
			how = pb.Join_CROSS
		}
		n = c.join(n, right.n, how, keys, nil)
		joined = append(joined, right.rels...)
	}
	return n, where, nil
}

// tied says whether some condition of where is an equality between left
// and right.
func (c *compiler) tied(where []*pg.Node, left, right *scope) bool {
	for _, w := range where {
		if _, _, ok := c.equiKey(w, left, right); ok {
			return true
		}
	}
	return false
}

// values compiles a VALUES list: columns col0, col1, ... as DuckDB names
// them.
func (c *compiler) values(lists []*pg.Node) (*pb.Node, error) {
	ex := &exprCompiler{c: c, sc: &scope{}}
	var rows [][]*pb.Expr
	var names []string
	for i, l := range lists {
		cells, err := ex.list(l.GetList().GetItems())
		if err != nil {
			return nil, err
		}
		if i == 0 {
			for j := range cells {
				names = append(names, fmt.Sprintf("col%d", j))
			}
		} else if len(cells) != len(names) {
			return nil, kernels.Errorf(kernels.Invalid, "SQL: VALUES lists must all have the same length: row 1 has %d values, row %d has %d", len(names), i+1, len(cells))
		}
		rows = append(rows, cells)
	}
	return valuesNode(names, rows), nil
}

func valuesNode(names []string, rows [][]*pb.Expr) *pb.Node {
	v := &pb.Values{Names: names}
	for _, cells := range rows {
		v.Rows = append(v.Rows, &pb.Values_Row{Cells: cells})
	}
	return &pb.Node{Kind: &pb.Node_Values{Values: v}}
}

// equiKey says whether cond is left_expr = right_expr with each side
// reading only one of the two scopes, and returns them in that order.
func (c *compiler) equiKey(cond *pg.Node, left, right *scope) (*pb.Expr, *pb.Expr, bool) {
	a := cond.GetAExpr()
	if a == nil || a.GetKind() != pg.A_Expr_Kind_AEXPR_OP || opName(a) != "=" {
		return nil, nil, false
	}
	side := func(n *pg.Node, sc *scope) (*pb.Expr, bool) {
		ex := &exprCompiler{c: c, sc: sc}
		e, err := ex.expr(n)
		return e, err == nil && !ex.sawAggregate
	}
	if l, ok := side(a.GetLexpr(), left); ok {
		if r, ok := side(a.GetRexpr(), right); ok {
			return l, r, true
		}
	}
	if l, ok := side(a.GetRexpr(), left); ok {
		if r, ok := side(a.GetLexpr(), right); ok {
			return l, r, true
		}
	}
	return nil, nil, false
}

// join joins left and right on keys. Each key is first copied to a
// hidden column (a plain key column of one side is not repeated in the
// join's output, and SQL keeps both sides' columns).
func (c *compiler) join(left, right *pb.Node, how pb.Join_How, keys [][2]*pb.Expr, filter *pb.Expr) *pb.Node {
	j := &pb.Join{How: how, Filter: filter}
	if len(keys) > 0 {
		var lk, rk []*pb.Expr
		for i, k := range keys {
			c.hidden++
			ln, rn := fmt.Sprintf("#lk%d_%d", c.hidden, i), fmt.Sprintf("#rk%d_%d", c.hidden, i)
			lk = append(lk, alias_(k[0], ln))
			rk = append(rk, alias_(k[1], rn))
			j.LeftOn = append(j.LeftOn, column(ln))
			j.RightOn = append(j.RightOn, column(rn))
		}
		left = &pb.Node{Kind: &pb.Node_WithColumns{WithColumns: &pb.WithColumns{Input: left, Exprs: lk}}}
		right = &pb.Node{Kind: &pb.Node_WithColumns{WithColumns: &pb.WithColumns{Input: right, Exprs: rk}}}
	}
	j.Left, j.Right = left, right
	return &pb.Node{Kind: &pb.Node_Join{Join: j}}
}

// fromItem compiles one FROM item: a table, a WITH name, a table function,
// a subquery or a join, and the relations it brings in scope.
func (c *compiler) fromItem(item *pg.Node) (*pb.Node, []relation, error) {
	switch {
	case item.GetRangeVar() != nil:
		rv := item.GetRangeVar()
		if rv.GetSchemaname() != "" {
			return nil, nil, notSupported("schema-qualified table names")
		}
		name := rv.GetRelname()
		alias := name
		if a := rv.GetAlias(); a != nil {
			alias = a.GetAliasname()
		}
		n, ok := c.ctes[strings.ToLower(name)]
		if !ok {
			n = &pb.Node{Kind: &pb.Node_TableScan{TableScan: &pb.TableScan{Table: name}}}
		}
		return c.bringAliased(n, alias, rv.GetAlias())
	case item.GetRangeFunction() != nil:
		rf := item.GetRangeFunction()
		fns := rf.GetFunctions()
		if len(fns) != 1 || len(fns[0].GetList().GetItems()) == 0 {
			return nil, nil, notSupported("this table function form")
		}
		fc := fns[0].GetList().GetItems()[0].GetFuncCall()
		if fc == nil {
			return nil, nil, notSupported("this table function form")
		}
		n, name, err := c.tableFunction(fc)
		if err != nil {
			return nil, nil, err
		}
		alias := name
		if a := rf.GetAlias(); a != nil {
			alias = a.GetAliasname()
		}
		return c.bringAliased(n, alias, rf.GetAlias())
	case item.GetRangeSubselect() != nil:
		rs := item.GetRangeSubselect()
		if rs.GetLateral() {
			return nil, nil, notSupported("LATERAL subqueries")
		}
		n, err := c.query(rs.GetSubquery().GetSelectStmt())
		if err != nil {
			return nil, nil, err
		}
		alias := "subquery"
		if a := rs.GetAlias(); a != nil {
			alias = a.GetAliasname()
		}
		return c.bringAliased(n, alias, rs.GetAlias())
	case item.GetJoinExpr() != nil:
		return c.joinExpr(item.GetJoinExpr())
	}
	return nil, nil, notSupported(fmt.Sprintf("this kind of FROM item (%T)", item.GetNode()))
}

// bringAliased brings n in scope under alias, renaming its columns when
// the alias lists names: FROM t AS x(a, b).
func (c *compiler) bringAliased(n *pb.Node, alias string, a *pg.Alias) (*pb.Node, []relation, error) {
	if a != nil && len(a.GetColnames()) > 0 {
		var err error
		if n, err = c.renameColumns(n, a.GetColnames(), alias); err != nil {
			return nil, nil, err
		}
	}
	n, rel, err := c.bring(n, alias)
	if err != nil {
		return nil, nil, err
	}
	return n, []relation{rel}, nil
}

// tableFunction compiles read_parquet('path'), read_csv('path') and
// read_ipc('path'); a path may be a glob, or a list of paths.
func (c *compiler) tableFunction(fc *pg.FuncCall) (*pb.Node, string, error) {
	name := funcName(fc)
	formats := map[string]pb.FileFormat{
		"read_parquet": pb.FileFormat_PARQUET, "parquet_scan": pb.FileFormat_PARQUET,
		"read_csv": pb.FileFormat_CSV, "read_csv_auto": pb.FileFormat_CSV,
		"read_ipc": pb.FileFormat_IPC, "read_arrow": pb.FileFormat_IPC,
	}
	format, ok := formats[name]
	if !ok {
		return nil, "", kernels.Errorf(kernels.Invalid, "SQL: unknown table function %s: want read_parquet, read_csv or read_ipc", name)
	}
	args := fc.GetArgs()
	if len(args) == 0 {
		return nil, "", kernels.Errorf(kernels.Invalid, "SQL: %s needs a path", name)
	}
	var paths []string
	if list := args[0].GetAArrayExpr(); list != nil {
		for _, e := range list.GetElements() {
			if s := e.GetAConst().GetSval(); s != nil {
				paths = append(paths, s.GetSval())
			}
		}
	} else if s := args[0].GetAConst().GetSval(); s != nil {
		paths = []string{s.GetSval()}
	}
	if len(paths) == 0 {
		return nil, "", kernels.Errorf(kernels.Invalid, "SQL: %s wants a path in single quotes, or a list of them ['a', 'b']", name)
	}
	if len(args) > 1 {
		return nil, "", notSupported(name + " options")
	}
	return &pb.Node{Kind: &pb.Node_FileScan{FileScan: &pb.FileScan{Paths: paths, Format: format}}}, name, nil
}

// joinExpr compiles a JOIN ... ON / USING.
func (c *compiler) joinExpr(j *pg.JoinExpr) (*pb.Node, []relation, error) {
	if j.GetIsNatural() {
		return nil, nil, notSupported("NATURAL joins")
	}
	left, lrels, err := c.fromItem(j.GetLarg())
	if err != nil {
		return nil, nil, err
	}
	right, rrels, err := c.fromItem(j.GetRarg())
	if err != nil {
		return nil, nil, err
	}
	how := map[pg.JoinType]pb.Join_How{pg.JoinType_JOIN_INNER: pb.Join_INNER, pg.JoinType_JOIN_LEFT: pb.Join_LEFT,
		pg.JoinType_JOIN_RIGHT: pb.Join_RIGHT, pg.JoinType_JOIN_FULL: pb.Join_FULL}
	h, ok := how[j.GetJointype()]
	if !ok {
		return nil, nil, notSupported(fmt.Sprintf("joins of type %s", j.GetJointype()))
	}
	ls, rs := &scope{rels: lrels}, &scope{rels: rrels}
	both := &scope{rels: append(append([]relation{}, lrels...), rrels...)}
	var keys [][2]*pb.Expr
	var filter *pb.Expr
	if using := j.GetUsingClause(); len(using) > 0 {
		for _, u := range using {
			col := u.GetString_().GetSval()
			l, err := ls.resolve([]string{col})
			if err != nil {
				return nil, nil, err
			}
			r, err := rs.resolve([]string{col})
			if err != nil {
				return nil, nil, err
			}
			keys = append(keys, [2]*pb.Expr{column(l), column(r)})
		}
	} else if q := j.GetQuals(); q != nil {
		for _, cond := range conjuncts(q) {
			if l, r, ok := c.equiKey(cond, ls, rs); ok {
				keys = append(keys, [2]*pb.Expr{l, r})
				continue
			}
			ex := &exprCompiler{c: c, sc: both}
			e, err := ex.expr(cond)
			if err != nil {
				return nil, nil, err
			}
			if filter == nil {
				filter = e
			} else {
				filter = call("and", filter, e)
			}
		}
	}
	if len(keys) == 0 {
		if h != pb.Join_INNER {
			return nil, nil, notSupported("outer joins without an equality between the two sides")
		}
		n := c.join(left, right, pb.Join_CROSS, nil, nil)
		if filter != nil {
			n = filterNode(n, filter)
		}
		return n, both.rels, nil
	}
	return c.join(left, right, h, keys, filter), both.rels, nil
}

// factorOr adds, for each condition that is an OR, the conjuncts every
// branch of it shares as conditions of their own (TPC-H's q19 repeats its
// join condition in each branch): they then become join keys. The OR
// stays as it was: the shared conjuncts are true wherever it is.
func factorOr(where []*pg.Node) []*pg.Node {
	out := where
	for _, w := range where {
		b := w.GetBoolExpr()
		if b == nil || b.GetBoolop() != pg.BoolExprType_OR_EXPR {
			continue
		}
		var shared []*pg.Node
		for i, branch := range b.GetArgs() {
			parts := conjuncts(branch)
			if i == 0 {
				shared = parts
				continue
			}
			var keep []*pg.Node
			for _, s := range shared {
				for _, p := range parts {
					if sameNode(s, p) {
						keep = append(keep, s)
						break
					}
				}
			}
			shared = keep
		}
		out = append(out, shared...)
	}
	return out
}

// sameNode compares two parse trees, not minding where in the text each
// was written.
func sameNode(a, b *pg.Node) bool {
	return proto.Equal(withoutLocations(a), withoutLocations(b))
}

func withoutLocations(n *pg.Node) proto.Message {
	m := proto.Clone(n)
	var clear func(m protoreflect.Message)
	clear = func(m protoreflect.Message) {
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.Name() == "location":
				m.Clear(fd)
			case fd.IsList() && fd.Message() != nil:
				for i := 0; i < v.List().Len(); i++ {
					clear(v.List().Get(i).Message())
				}
			case fd.Message() != nil && !fd.IsMap():
				clear(v.Message())
			}
			return true
		})
	}
	clear(m.ProtoReflect())
	return m
}
