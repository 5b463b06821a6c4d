// Package cardinality guesses how many rows a plan produces and how many
// distinct values its columns hold, from row counts (stored tables'
// manifests, Parquet footers), integer ranges (manifests, Parquet
// statistics), the values Parquet dictionary pages hold, and the shape of
// each filter. Its guesses are rough; they are used to order joins, to
// pick the side a hash join builds on and what a cluster broadcasts, where
// only their order matters.
package cardinality

import (
	"math"

	"github.com/apache/arrow-go/v18/arrow"

	"slipstream/kernels/exec"
	"slipstream/scheduler/plan"
)

// Unknown is the guess for a node whose size cannot be told: larger than
// any real input, so it is never taken for the small side.
const Unknown int64 = 1 << 40

// Estimator guesses row counts. The zero value knows files only. It
// remembers what it guessed for each node (plans do not change: planning
// asks about the same subplans again and again), so it serves one
// planning, and one goroutine.
type Estimator struct {
	// TableRows is the row count of a stored table.
	TableRows func(name string) (int64, error)
	// TableRange, when set, is the range of an integer-stored column of a
	// stored table (ok false when unknown).
	TableRange func(name string, col int) (lo, hi int64, ok bool)

	rows map[plan.Node]int64
	cols map[nodeColumn]Column
}

type nodeColumn struct {
	n plan.Node
	i int
}

// Rows guesses how many rows n produces: exact for stored tables and
// Parquet files, rough for the rest.
func (e *Estimator) Rows(n plan.Node) int64 {
	if r, ok := e.rows[n]; ok {
		return r
	}
	r := e.guessRows(n)
	if e.rows == nil {
		e.rows = map[plan.Node]int64{}
	}
	e.rows[n] = r
	return r
}

func (e *Estimator) guessRows(n plan.Node) int64 {
	switch n := n.(type) {
	case *plan.Scan:
		return e.scanRows(n)
	case *plan.Values:
		return int64(len(n.Rows))
	case *plan.Filter:
		// At least a thousandth: a guess far too low could broadcast a
		// large side to every task of a cluster.
		return clamp(float64(e.Rows(n.Input)) * max(e.Selectivity(n.Input, n.Predicate), 0.001))
	case *plan.Aggregate:
		if len(n.Keys) == 0 {
			return 1
		}
		in := e.Rows(n.Input)
		keys := make([][]Column, len(n.Keys))
		for i, k := range n.Keys {
			keys[i] = []Column{e.ExprColumn(n.Input, k)}
		}
		d, _ := Distinct(keys)
		return max(1, min(in/10, clamp(d)))
	case *plan.Limit:
		if n.Count >= 0 {
			return min(n.Count, e.Rows(n.Input))
		}
		return e.Rows(n.Input)
	case *plan.Join:
		return e.joinRows(n)
	case *plan.Concat:
		var rows int64
		for _, in := range n.Inputs {
			rows = min(rows+e.Rows(in), Unknown)
		}
		return rows
	}
	if c := n.Children(); len(c) == 1 {
		return e.Rows(c[0])
	}
	return Unknown
}

func (e *Estimator) scanRows(n *plan.Scan) int64 {
	if n.Table != "" {
		if e.TableRows == nil {
			return Unknown
		}
		rows, err := e.TableRows(n.Table)
		if err != nil {
			return Unknown
		}
		return rows
	}
	if n.Format != exec.Parquet {
		return Unknown
	}
	var rows int64
	for _, f := range n.Files {
		r, err := exec.ParquetRows(n.Roots, f)
		if err != nil {
			return Unknown
		}
		rows += r
	}
	return rows
}

func (e *Estimator) joinRows(n *plan.Join) int64 {
	l, r := e.Rows(n.Left), e.Rows(n.Right)
	if n.How == plan.Anti {
		return l
	}
	matched := clamp(float64(l) * float64(r))
	if len(n.LeftKeys) > 0 {
		lk, rk := make([][]Column, len(n.LeftKeys)), make([][]Column, len(n.RightKeys))
		for i := range n.LeftKeys {
			lk[i] = []Column{e.ExprColumn(n.Left, n.LeftKeys[i])}
			rk[i] = []Column{e.ExprColumn(n.Right, n.RightKeys[i])}
		}
		left, right := Side{Rows: l}, Side{Rows: r}
		left.Distinct, left.Unique = Distinct(lk)
		right.Distinct, right.Unique = Distinct(rk)
		matched = JoinRows(left, right)
	}
	switch n.How {
	case plan.Semi:
		return min(l, matched)
	case plan.LeftJoin:
		return max(l, matched)
	case plan.RightJoin:
		return max(r, matched)
	case plan.FullJoin:
		return max(l, r, matched)
	}
	return matched
}

// Column is what the estimator knows of a column: about how many distinct
// values it holds, and what it comes from (a scan or an aggregate node, by
// default), whose rows bound the distinct combinations of all its columns.
type Column struct {
	Distinct int64
	From     any // comparable
	FromRows int64
	// Counted says Distinct comes from statistics, not from the rows.
	Counted bool
	// Range, when known, holds every value of an integer-stored column.
	Range *exec.IntRange
}

// Column describes column i of n. A column's distinct values are guessed
// as the rows of the table it is read from, or fewer when statistics count
// them (an integer column's range, nation keys: 25; a Parquet string
// column's dictionaries): right for a key, often too many for anything
// else (JoinRows allows for that).
func (e *Estimator) Column(n plan.Node, i int) Column {
	key := nodeColumn{n, i}
	if c, ok := e.cols[key]; ok {
		return c
	}
	c := e.guessColumn(n, i)
	if e.cols == nil {
		e.cols = map[nodeColumn]Column{}
	}
	e.cols[key] = c
	return c
}

func (e *Estimator) guessColumn(n plan.Node, i int) Column {
	switch n := n.(type) {
	case *plan.Scan:
		rows := e.Rows(n)
		c := Column{Distinct: rows, From: n, FromRows: rows}
		if r, ok := e.intRange(n, i); ok {
			c.Distinct, c.Range, c.Counted = min(rows, r.Span()), &r, true
		} else if d, ok := e.dictionaryValues(n, i); ok {
			c.Distinct, c.Counted = min(rows, max(d, 1)), true
		}
		return c
	case *plan.Filter:
		return e.Column(n.Input, i)
	case *plan.Sort:
		return e.Column(n.Input, i)
	case *plan.Project:
		return e.ExprColumn(n.Input, n.Exprs[i])
	case *plan.Join:
		c := n.Output[i]
		if c.Right {
			return e.Column(n.Right, c.Index)
		}
		return e.Column(n.Left, c.Index)
	case *plan.Window:
		if i < n.Input.Schema().NumFields() {
			return e.Column(n.Input, i)
		}
	case *plan.Aggregate:
		rows := e.Rows(n)
		if i < len(n.Keys) && len(n.Keys) > 1 {
			c := e.ExprColumn(n.Input, n.Keys[i])
			return Column{Distinct: min(c.Distinct, rows), From: n, FromRows: rows}
		}
		return Column{Distinct: rows, From: n, FromRows: rows}
	}
	rows := e.Rows(n)
	return Column{Distinct: rows, From: n, FromRows: rows}
}

// intRange is the range of column i of a scan, from a stored table's
// manifest or Parquet statistics.
func (e *Estimator) intRange(n *plan.Scan, i int) (exec.IntRange, bool) {
	if n.Table != "" && e.TableRange != nil {
		col := storedColumn(n, i)
		lo, hi, ok := e.TableRange(n.Table, col)
		if !ok {
			return exec.IntRange{}, false
		}
		return exec.NewIntRange(lo, hi, n.FileSchema.Field(col).Type), true
	}
	col, ok := parquetColumn(n, i)
	if !ok {
		return exec.IntRange{}, false
	}
	return exec.ParquetIntRange(n.Roots, n.Files, col)
}

// dictionaryValues counts the values of column i of a scan from Parquet
// dictionary pages.
func (e *Estimator) dictionaryValues(n *plan.Scan, i int) (int64, bool) {
	col, ok := parquetColumn(n, i)
	if !ok {
		return 0, false
	}
	return exec.ParquetDictionaryValues(n.Roots, n.Files, col)
}

// parquetColumn is the file column of column i of a scan of Parquet files
// whose schema is flat (a field per Parquet column).
func parquetColumn(n *plan.Scan, i int) (int, bool) {
	if n.Table != "" || n.Format != exec.Parquet {
		return 0, false
	}
	for _, f := range n.FileSchema.Fields() {
		if _, nested := f.Type.(arrow.NestedType); nested {
			return 0, false
		}
	}
	return storedColumn(n, i), true
}

// storedColumn is the index in the data as stored of column i of a scan.
func storedColumn(n *plan.Scan, i int) int {
	if n.Columns != nil {
		return n.Columns[i]
	}
	return i
}

// ExprColumn describes expression x over n: a column, maybe cast, is that
// column; anything else holds at most as many values as n has rows.
func (e *Estimator) ExprColumn(n plan.Node, x plan.Expr) Column {
	switch x := plan.Unalias(x).(type) {
	case *plan.ColumnRef:
		return e.Column(n, x.Index)
	case *plan.Cast:
		if ref, ok := plan.Unalias(x.Arg).(*plan.ColumnRef); ok {
			return e.Column(n, ref.Index)
		}
	}
	rows := e.Rows(n)
	return Column{Distinct: rows, From: n, FromRows: rows}
}

// Distinct guesses the distinct combinations of a set of keys. Each key is
// given by the columns known to equal it, any of which may stand for it:
// the product of each key's fewest, but no more than the rows of a node
// every key comes from. unique says the keys look unique: they take as
// many values as that node has rows.
func Distinct(keys [][]Column) (distinct float64, unique bool) {
	prod := 1.0
	for _, k := range keys {
		fewest := math.Inf(1)
		for _, c := range k {
			fewest = min(fewest, float64(c.Distinct))
		}
		prod *= fewest
	}
	if len(keys) == 0 {
		return prod, false
	}
	for _, c := range keys[0] {
		if c.From != nil && float64(c.FromRows) <= prod && fromEvery(keys[1:], c.From) {
			prod, unique = float64(c.FromRows), true
		}
	}
	return prod, unique
}

func fromEvery(keys [][]Column, from any) bool {
	for _, k := range keys {
		found := false
		for _, c := range k {
			found = found || c.From == from
		}
		if !found {
			return false
		}
	}
	return true
}

// Side is what JoinRows knows of one side of an equi-join: its rows, the
// distinct values of its keys, and whether they look unique.
type Side struct {
	Rows     int64
	Distinct float64
	Unique   bool
}

// JoinRows guesses the rows of an equi-join. A unique side is taken as the
// key every row of the other side meets at most once (a foreign key meeting
// its table); with no unique side, each value of the side with fewer is
// taken to meet the other. When both look unique the fewer values are the
// right domain: counting a column's values as its table's rows makes a
// foreign key look unique too (lineitem's l_orderkey looks like 6M values
// where there are 1.5M orders).
func JoinRows(l, r Side) int64 {
	var d float64
	switch {
	case l.Unique && r.Unique:
		d = min(l.Distinct, r.Distinct)
	case l.Unique:
		d = l.Distinct
	case r.Unique:
		d = r.Distinct
	default:
		d = max(l.Distinct, r.Distinct)
	}
	return clamp(float64(l.Rows) * float64(r.Rows) / max(1, d))
}

func clamp(x float64) int64 {
	if x >= float64(Unknown) || math.IsNaN(x) {
		return Unknown
	}
	return max(int64(x), 1)
}

// Selectivity guesses the share of n's rows that predicate p (over n's
// columns) keeps. A comparison of an integer column (dates included) with
// a constant is read against the column's range from Parquet statistics,
// an equality as one of its distinct values. Other shapes get fixed
// guesses: an equality keeps a tenth, a range a third. Conditions combine
// as if independent.
func (e *Estimator) Selectivity(n plan.Node, p plan.Expr) float64 {
	c, ok := p.(*plan.Call)
	if !ok {
		return 0.25
	}
	switch c.Fn.Name {
	case "and":
		return e.Selectivity(n, c.Args[0]) * e.Selectivity(n, c.Args[1])
	case "or":
		a, b := e.Selectivity(n, c.Args[0]), e.Selectivity(n, c.Args[1])
		return a + b - a*b
	case "not":
		return 1 - e.Selectivity(n, c.Args[0])
	case "eq":
		return e.equality(n, c.Args[0])
	case "ne":
		return 1 - e.equality(n, c.Args[0])
	case "is_not_null":
		return 0.9
	case "is_null":
		return 0.1
	case "is_in":
		return min(0.5, e.equality(n, c.Args[0])*float64(len(c.Args)-1))
	case "lt", "le", "gt", "ge":
		if share, ok := e.rangeShare(n, c); ok {
			return share
		}
		return 1.0 / 3
	}
	return 0.25
}

// equality guesses the share of rows where x equals a constant: one of
// its distinct values when statistics count them, else a tenth.
func (e *Estimator) equality(n plan.Node, x plan.Expr) float64 {
	if ref, ok := x.(*plan.ColumnRef); ok {
		if c := e.Column(n, ref.Index); c.Counted {
			return 1 / float64(max(c.Distinct, 1))
		}
	}
	return 0.1
}

// rangeShare is the share of an integer column's range that a comparison
// with a constant keeps, taking values as spread evenly over the range.
func (e *Estimator) rangeShare(n plan.Node, c *plan.Call) (float64, bool) {
	op := c.Fn.Name
	ref, isRef := c.Args[0].(*plan.ColumnRef)
	lit, isLit := c.Args[1].(*plan.Literal)
	if !isRef {
		// constant op column: the column is on the right.
		ref, isRef = c.Args[1].(*plan.ColumnRef)
		lit, isLit = c.Args[0].(*plan.Literal)
		op = map[string]string{"lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}[op]
	}
	if !isRef || !isLit {
		return 0, false
	}
	col := e.Column(n, ref.Index)
	if col.Range == nil {
		return 0, false
	}
	v, ok := col.Range.Value(lit.Value)
	if !ok {
		return 0, false
	}
	lo, hi, x := float64(col.Range.Lo), float64(col.Range.Hi), float64(v)
	var kept float64
	switch op {
	case "lt":
		kept = x - lo
	case "le":
		kept = x - lo + 1
	case "gt":
		kept = hi - x
	case "ge":
		kept = hi - x + 1
	}
	return min(max(kept/(hi-lo+1), 0), 1), true
}
