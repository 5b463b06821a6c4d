package optimizer

import (
	"math/bits"

	"github.com/apache/arrow-go/v18/arrow"

	"slipstream/scheduler/cardinality"
	"slipstream/scheduler/plan"
)

// maxReorder is the most inputs a run of joins is reordered over: the
// search below takes 3^n steps.
const maxReorder = 12

// ReorderJoins chooses the order of every run of inner equi-joins, the
// order the user wrote them in being only one of many with the same
// result. A run is a tree of inner joins with keys, and filters between
// them, over inputs that are anything else (the leaves). Its keys are
// grouped into classes of expressions known equal (a = b and b = c make
// one class), so that any two leaves holding members of one class can be
// joined. The order chosen is the one whose intermediate results are
// guessed smallest in total (dynamic programming over connected sets of
// leaves, bushy trees allowed); the run's own filters go on top of it, for
// PushFilters to place again, and a Project restores its columns.
func ReorderJoins(n plan.Node, est *cardinality.Estimator) plan.Node {
	if inRun(n) {
		g := &joinGraph{est: est}
		out := g.flatten(n)
		if g.reorderable() {
			return g.reorder(n, out)
		}
	}
	return plan.MapChildren(n, func(c plan.Node) plan.Node { return ReorderJoins(c, est) })
}

// inRun says whether n is a join, or a filter over one, that a run takes in.
func inRun(n plan.Node) bool {
	if f, ok := n.(*plan.Filter); ok {
		n = f.Input
	}
	j, ok := n.(*plan.Join)
	return ok && j.How == plan.Inner && len(j.LeftKeys) > 0
}

// joinGraph is a run of joins taken apart. Columns are numbered across all
// leaves, in leaf order ("global" columns); keys and conditions are
// rewritten over that numbering.
type joinGraph struct {
	est      *cardinality.Estimator
	leaves   []plan.Node
	leafCols [][]int     // global columns of each leaf
	cols     []globalCol // by global column
	members  map[string]int
	classes  []*keyClass
	parent   []int // union-find over members, by index
	all      []member
	conds    []plan.Expr // conditions over several leaves, global
	rows     []int64     // guessed rows of each leaf
}

type globalCol struct {
	leaf, index int
	field       arrow.Field
}

// member is a join key over one leaf: an expression that some join of the
// run requires equal to another.
type member struct {
	leaf int
	key  plan.Expr // over the global columns
	stat cardinality.Column
}

// keyClass is a set of members known equal to each other.
type keyClass struct {
	members []member
	set     uint // the leaves holding a member, as bits
}

// flatten adds n's leaves, keys and conditions to g and returns the global
// column of each of n's columns.
func (g *joinGraph) flatten(n plan.Node) []int {
	if f, ok := n.(*plan.Filter); ok && inRun(n) {
		in := g.flatten(f.Input)
		g.conds = append(g.conds, remapExpr(f.Predicate, in))
		return in
	}
	if j, ok := n.(*plan.Join); ok && inRun(n) {
		l, r := g.flatten(j.Left), g.flatten(j.Right)
		for i := range j.LeftKeys {
			g.addEdge(remapExpr(j.LeftKeys[i], l), remapExpr(j.RightKeys[i], r))
		}
		if j.Filter != nil {
			g.conds = append(g.conds, remapExpr(j.Filter, append(append([]int{}, l...), r...)))
		}
		out := make([]int, len(j.Output))
		for i, c := range j.Output {
			if c.Right {
				out[i] = r[c.Index]
			} else {
				out[i] = l[c.Index]
			}
		}
		return out
	}
	leaf := len(g.leaves)
	g.leaves = append(g.leaves, n)
	fields := n.Schema().Fields()
	cols := make([]int, len(fields))
	for i, f := range fields {
		cols[i] = len(g.cols)
		g.cols = append(g.cols, globalCol{leaf: leaf, index: i, field: f})
	}
	g.leafCols = append(g.leafCols, cols)
	return cols
}

// addEdge records that a must equal b. A key that does not read exactly
// one leaf cannot be a member of a class: the pair becomes a condition.
func (g *joinGraph) addEdge(a, b plan.Expr) {
	la, lb := g.leafOf(a), g.leafOf(b)
	if la < 0 || lb < 0 || la == lb {
		g.conds = append(g.conds, eq(a, b))
		return
	}
	ia, ib := g.member(la, a), g.member(lb, b)
	if ra, rb := g.find(ia), g.find(ib); ra != rb {
		g.parent[ra] = rb
	}
}

// leafOf is the one leaf e reads, or -1.
func (g *joinGraph) leafOf(e plan.Expr) int {
	leaf := -1
	plan.Walk(e, func(x plan.Expr) {
		if c, ok := x.(*plan.ColumnRef); ok {
			switch l := g.cols[c.Index].leaf; {
			case leaf == -1:
				leaf = l
			case leaf != l:
				leaf = -2
			}
		}
	})
	return max(leaf, -1)
}

// member is the index of the member key of leaf, added if new.
func (g *joinGraph) member(leaf int, key plan.Expr) int {
	id := plan.ExprKey(key) // over global columns: names the leaf too
	if g.members == nil {
		g.members = map[string]int{}
	}
	if i, ok := g.members[id]; ok {
		return i
	}
	i := len(g.all)
	g.members[id] = i
	g.all = append(g.all, member{leaf: leaf, key: key})
	g.parent = append(g.parent, i)
	return i
}

func (g *joinGraph) find(i int) int {
	for g.parent[i] != i {
		g.parent[i] = g.parent[g.parent[i]]
		i = g.parent[i]
	}
	return i
}

// reorderable says whether the run is worth reordering and can be: three
// leaves or more, not too many, all connected by keys. It also reorders
// the leaves' own insides and gathers what the search needs.
func (g *joinGraph) reorderable() bool {
	n := len(g.leaves)
	if n < 3 || n > maxReorder {
		return false
	}
	byRoot := map[int]*keyClass{}
	for i, m := range g.all {
		r := g.find(i)
		if byRoot[r] == nil {
			byRoot[r] = &keyClass{}
			g.classes = append(g.classes, byRoot[r])
		}
		byRoot[r].members = append(byRoot[r].members, m)
	}
	// A join picks one member of a class on each side, so two members in
	// one leaf (a.x = b.y and a.z = b.y) would never be compared: that
	// equality becomes a condition, which filter pushdown puts in the leaf.
	for _, c := range g.classes {
		first := map[int]plan.Expr{}
		for _, m := range c.members {
			if f, ok := first[m.leaf]; ok {
				g.conds = append(g.conds, eq(f, m.key))
			} else {
				first[m.leaf] = m.key
			}
			c.set |= 1 << m.leaf
		}
	}
	reached := uint(1)
	for changed := true; changed; {
		changed = false
		for _, c := range g.classes {
			if s := c.set; s&reached != 0 && s&^reached != 0 {
				reached |= s
				changed = true
			}
		}
	}
	if reached != 1<<n-1 {
		return false
	}
	local := make([]int, len(g.cols)) // global column -> its index in its leaf
	for i, c := range g.cols {
		local[i] = c.index
	}
	for _, c := range g.classes {
		for i, m := range c.members {
			stat := g.est.ExprColumn(g.leaves[m.leaf], remapExpr(m.key, local))
			// Only keys whose values statistics count (Parquet files,
			// stored integers): without, a column's values are guessed as
			// its table's rows, every key looks unique, and a join of two
			// foreign keys (many rows to many) would look small; the order
			// as written is safer.
			if !stat.Counted {
				return false
			}
			// Two leaves may read the same table: the bound on distinct
			// combinations holds within one leaf only.
			stat.From = [2]any{m.leaf, stat.From}
			c.members[i].stat = stat
		}
	}
	for i, leaf := range g.leaves {
		g.leaves[i] = ReorderJoins(leaf, g.est)
		g.rows = append(g.rows, g.est.Rows(g.leaves[i]))
	}
	return true
}

// choice is the best way found to join a set of leaves.
type choice struct {
	found       bool
	rows, cost  float64
	left, right uint // the two sets joined; 0 for a leaf
}

// reorder joins the leaves in the cheapest order found and gives the
// result n's columns (out: their global numbers) in n's order.
func (g *joinGraph) reorder(n plan.Node, out []int) plan.Node {
	best := make([]choice, 1<<len(g.leaves))
	for i, r := range g.rows {
		best[1<<i] = choice{found: true, rows: float64(r)}
	}
	for s := uint(1); s < uint(len(best)); s++ {
		if bits.OnesCount(s) < 2 {
			continue
		}
		low := s & -s
		// Each split once: the left part holds the lowest leaf.
		for a := (s - 1) & s; a > 0; a = (a - 1) & s {
			b := s &^ a
			if a&low == 0 || !best[a].found || !best[b].found {
				continue
			}
			crossing := g.crossing(a, b)
			if len(crossing) == 0 {
				continue
			}
			rows := float64(cardinality.JoinRows(g.side(best[a].rows, crossing, a), g.side(best[b].rows, crossing, b)))
			// Every row out costs; building a hash table costs once more.
			cost := best[a].cost + best[b].cost + rows + min(best[a].rows, best[b].rows)
			if !best[s].found || cost < best[s].cost {
				best[s] = choice{found: true, rows: rows, cost: cost, left: a, right: b}
			}
		}
	}
	tree, cols := g.build(best, uint(len(best)-1))
	pos := g.positions(cols)
	if len(g.conds) > 0 {
		pred := remapExpr(g.conds[0], pos)
		for _, c := range g.conds[1:] {
			pred = and(pred, remapExpr(c, pos))
		}
		tree = &plan.Filter{Input: tree, Predicate: pred}
	}
	exprs := make([]plan.Expr, len(out))
	for i, c := range out {
		exprs[i] = &plan.ColumnRef{Index: pos[c], Field: n.Schema().Field(i)}
	}
	return &plan.Project{Input: tree, Exprs: exprs}
}

// crossing lists the classes with members in both a and b.
func (g *joinGraph) crossing(a, b uint) []*keyClass {
	var out []*keyClass
	for _, c := range g.classes {
		if s := c.set; s&a != 0 && s&b != 0 {
			out = append(out, c)
		}
	}
	return out
}

// side describes leaves s, guessed to give rows, as a side of a join on
// the keys in classes.
func (g *joinGraph) side(rows float64, classes []*keyClass, s uint) cardinality.Side {
	keys := make([][]cardinality.Column, len(classes))
	for i, c := range classes {
		for _, m := range c.members {
			if s&(1<<m.leaf) != 0 {
				keys[i] = append(keys[i], m.stat)
			}
		}
	}
	out := cardinality.Side{Rows: int64(rows)}
	out.Distinct, out.Unique = cardinality.Distinct(keys)
	return out
}

// build makes the join tree best chose for leaves s, and gives the global
// number of each of its columns.
func (g *joinGraph) build(best []choice, s uint) (plan.Node, []int) {
	c := best[s]
	if c.left == 0 {
		leaf := bits.TrailingZeros(s)
		return g.leaves[leaf], g.leafCols[leaf]
	}
	left, lcols := g.build(best, c.left)
	right, rcols := g.build(best, c.right)
	j := &plan.Join{Left: left, Right: right, How: plan.Inner}
	lpos, rpos := g.positions(lcols), g.positions(rcols)
	for _, k := range g.crossing(c.left, c.right) {
		j.LeftKeys = append(j.LeftKeys, remapExpr(k.in(c.left).key, lpos))
		j.RightKeys = append(j.RightKeys, remapExpr(k.in(c.right).key, rpos))
	}
	for i, col := range lcols {
		j.Output = append(j.Output, plan.JoinCol{Index: i, Field: g.cols[col].field})
	}
	for i, col := range rcols {
		j.Output = append(j.Output, plan.JoinCol{Right: true, Index: i, Field: g.cols[col].field})
	}
	return j, append(append([]int{}, lcols...), rcols...)
}

// in is the first member of c among leaves s.
func (c *keyClass) in(s uint) member {
	for _, m := range c.members {
		if s&(1<<m.leaf) != 0 {
			return m
		}
	}
	panic("optimizer: key class has no member in the set")
}

// positions maps each global column of cols to its position there.
func (g *joinGraph) positions(cols []int) []int {
	pos := make([]int, len(g.cols))
	for i, c := range cols {
		pos[c] = i
	}
	return pos
}
