package exec

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"slipstream/kernels"
	"slipstream/kernels/budget"
	"slipstream/kernels/expr"
)

// Agg is one aggregate of a HashAggregate: Fn over the input column Arg
// (-1 for len, which takes none), named Name in the output.
type Agg struct {
	Fn     *expr.Function
	Arg    int
	Params []scalar.Scalar // constant arguments after the first
	Name   string
	Type   arrow.DataType
	// Filtered: only the rows where the boolean input column Filter is
	// true are aggregated.
	Filtered bool
	Filter   int
}

// HashAggregate groups its input by the key columns and folds every group
// with the aggregates. Output: the keys, then the aggregates. Without keys
// it returns exactly one row, even for empty input.
type HashAggregate struct {
	input  Operator
	keys   []int
	aggs   []Agg
	schema *arrow.Schema
	mem    memory.Allocator
	// res, when set, bounds the grouper and accumulators: past the query's
	// share of memory the aggregate spills the rows of new groups
	// (aggspill.go). level counts the rounds of spilling above this one.
	res     *budget.Reservation
	level   int
	spilled atomic.Bool // read by a Union's goroutine (LooseOnceSpilled)

	// Partial: the aggregate is the partial phase of a two-phase one, whose
	// final merges any rows of one group it gives (see passThrough).
	Partial bool
	passing bool        // the partial phase gave up grouping: rows pass through
	rowIDs  []uint32    // 0, 1, 2, ...: a batch's rows as groups of their own
	ones    arrow.Array // int64 ones: len of a batch's rows (ofOneRow)

	// dictionaries: the input may hand key columns on as dictionary arrays
	// (see GroupDictionaries), which the grouper encodes a value at a time.
	dictionaries bool

	out   groupsOut
	parts []*budget.SpillFile  // spilled partitions not yet aggregated
	sub   *HashAggregate       // the partition being aggregated
	below budget.OperatorStats // the memory figures of the parts aggregated
}

// NewHashAggregate builds the output schema from the key fields and aggs.
func NewHashAggregate(mem memory.Allocator, input Operator, keys []int, aggs []Agg) *HashAggregate {
	var fields []arrow.Field
	for _, k := range keys {
		f := input.Schema().Field(k)
		f.Nullable = true
		fields = append(fields, f)
	}
	for _, a := range aggs {
		fields = append(fields, arrow.Field{Name: a.Name, Type: a.Type, Nullable: true})
	}
	return &HashAggregate{input: input, keys: keys, aggs: aggs, schema: arrow.NewSchema(fields, nil), mem: mem}
}

func (h *HashAggregate) Schema() *arrow.Schema { return h.schema }
func (h *HashAggregate) Children() []Operator  { return []Operator{h.input} }
func (h *HashAggregate) String() string {
	keys := make([]string, len(h.keys))
	for i, k := range h.keys {
		keys[i] = h.input.Schema().Field(k).Name
	}
	aggs := make([]string, len(h.aggs))
	for i, a := range h.aggs {
		arg := ""
		if a.Arg >= 0 {
			arg = h.input.Schema().Field(a.Arg).Name
		}
		aggs[i] = fmt.Sprintf("%s(%s) AS %s", a.Fn.Name, arg, a.Name)
	}
	txt := fmt.Sprintf("HashAggregate keys=[%s] aggs=[%s]", strings.Join(keys, ", "), strings.Join(aggs, ", "))
	if h.dictionaries {
		txt += " dictionary_keys"
	}
	return txt
}

func (h *HashAggregate) Close() error {
	h.out.release()
	if h.ones != nil {
		h.ones.Release()
		h.ones = nil
	}
	if h.sub != nil {
		h.below = h.below.Add(h.sub.Memory())
		h.sub.Close()
		h.sub = nil
	}
	removeRuns(h.parts)
	h.parts = nil
	if h.res != nil {
		h.res.Free()
	}
	return h.input.Close()
}

func (h *HashAggregate) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if !h.out.ready {
		if err := h.build(ctx); err != nil {
			return nil, err
		}
	}
	b, err := h.out.next(ctx, h.mem, h.schema)
	if err != io.EOF {
		return b, err
	}
	if h.out.g != nil { // the groups are out: their tables go
		h.out.release()
		if h.res != nil {
			h.res.Resize(0)
		}
	}
	if h.passing {
		return h.passNext(ctx)
	}
	return h.nextPartition(ctx)
}

// A partial aggregate whose groups are about as many as its rows (a
// group-by of ids, of users, of six keys) does not reduce what its final
// merges; it only costs a hash table as large as its input. Past
// passProbeRows rows, a Partial aggregate holding more than passRatio
// groups per row gives up (as DataFusion's and DuckDB's partial
// aggregates do): it emits the groups it holds, then passes every further
// row on as a group of its own, its aggregates computed on that one row,
// and the final (split over the cores by a hash of the keys) does the
// grouping once.
var passProbeRows = 1 << 20 // a variable: tests lower it

const passRatio = 0.8

// Keys all distinct in the first passEarlyRows rows (but a few in
// passEarlyRatio) are drawn from many more than passProbeRows could
// repeat: the partial gives up then (a million keys drawn 131,072 times
// repeat in 6% of the draws).
const (
	passEarlyRows  = 1 << 17
	passEarlyRatio = 0.98
)

// givesUp says whether a partial aggregate that found groups groups in
// its first rows rows should pass the rest on.
func (h *HashAggregate) givesUp(rows, groups int) bool {
	if rows >= passEarlyRows && rows < passProbeRows && passEarlyRows < passProbeRows {
		return float64(groups) > passEarlyRatio*float64(rows)
	}
	return rows >= passProbeRows && float64(groups) > passRatio*float64(rows)
}

// passNext is the next input batch as partial results, a group per row.
// Keys read as a file's dictionary of a few values a row at most stay
// dictionaries: the Repartition hashes each value once and moves the
// rows' indices, and the finals encode each value once, not every row's
// string. A dictionary of about a value a row (strings all distinct) is
// no cheaper than the strings, and each final would take it whole.
func (h *HashAggregate) passNext(ctx context.Context) (arrow.RecordBatch, error) {
	b, err := h.input.Next(ctx)
	if err == nil && hasDictionary(b) {
		cols := b.Columns()
		b, err = expandColumns(ctx, b, h.input.Schema(), func(i int) bool {
			d, ok := cols[i].(*array.Dictionary)
			return !ok || !slices.Contains(h.keys, i) || 4*d.Dictionary().Len() > d.Len()
		})
	}
	if err != nil {
		return nil, err
	}
	defer b.Release()
	n := int(b.NumRows())
	if cap(h.rowIDs) < n {
		h.rowIDs = make([]uint32, n)
		for i := range h.rowIDs {
			h.rowIDs[i] = uint32(i)
		}
	}
	ids := h.rowIDs[:n]
	cols := make([]arrow.Array, 0, h.schema.NumFields())
	defer func() { releaseArrays(cols) }()
	for _, k := range h.keys {
		c := b.Column(k)
		c.Retain()
		cols = append(cols, c)
	}
	for _, a := range h.aggs {
		var in arrow.DataType
		var vals arrow.Array
		if a.Arg >= 0 {
			vals, in = b.Column(a.Arg), h.input.Schema().Field(a.Arg).Type
		}
		if c := h.ofOneRow(a, vals, n); c != nil {
			cols = append(cols, c)
			continue
		}
		acc := a.Fn.NewAccumulator(in, a.Params)
		if a.Filtered {
			if err := updateWhere(ctx, h.mem, acc, vals, ids, n, b.Column(a.Filter)); err != nil {
				return nil, err
			}
		} else {
			acc.Update(vals, ids, n)
		}
		cols = append(cols, acc.Finish(h.mem, n))
	}
	return array.NewRecordBatch(batchSchema(h.schema, cols), cols, int64(n)), nil
}

// ofOneRow is aggregate a of each of the n rows of vals as a group of its
// own, when that needs no accumulator: vals itself for min, max and a sum
// of no nulls (the same type in and out), ones for len. Else nil.
func (h *HashAggregate) ofOneRow(a Agg, vals arrow.Array, n int) arrow.Array {
	switch {
	case a.Filtered:
		return nil
	case a.Fn.Name == "len" && arrow.TypeEqual(a.Type, arrow.PrimitiveTypes.Int64):
		if h.ones == nil || h.ones.Len() < n {
			if h.ones != nil {
				h.ones.Release()
			}
			ones := make([]int64, max(n, BatchRows))
			for i := range ones {
				ones[i] = 1
			}
			h.ones = expr.FixedWidthArray(h.mem, a.Type, ones, nil, 0)
		}
		return array.NewSlice(h.ones, 0, int64(n))
	case vals == nil || !arrow.TypeEqual(vals.DataType(), a.Type):
		return nil
	case a.Fn.Name == "min" || a.Fn.Name == "max" || a.Fn.Name == "sum" && vals.NullN() == 0:
		vals.Retain()
		return vals
	}
	return nil
}

func (h *HashAggregate) build(ctx context.Context) error {
	keyTypes := make([]arrow.DataType, len(h.keys))
	for i, k := range h.keys {
		keyTypes[i] = h.input.Schema().Field(k).Type
	}
	g, err := newGrouper(keyTypes)
	if err != nil {
		return err
	}
	accs := make([]expr.Accumulator, len(h.aggs))
	for i, a := range h.aggs {
		var in arrow.DataType
		if a.Arg >= 0 {
			in = h.input.Schema().Field(a.Arg).Type
		}
		accs[i] = a.Fn.NewAccumulator(in, a.Params)
		if c, ok := accs[i].(expr.EveryGroupUpdated); ok && !a.Filtered {
			c.EveryGroupUpdated() // a group's first row makes it and is folded in
		}
	}
	keyArrs := make([]arrow.Array, len(h.keys))
	var idBuf []uint32 // the ids of one batch, consumed before the next
	rows := 0
	var sp *aggSpill
	defer func() {
		if sp != nil {
			sp.abort()
		}
	}()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		// The keys may stay dictionaries, also once frozen: the rows that
		// go to disk are expanded as they are written.
		b, err := h.plainInput(ctx, func(i int) bool { return !slices.Contains(h.keys, i) })
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		for i, k := range h.keys {
			keyArrs[i] = b.Column(k)
		}
		rows += int(b.NumRows())
		idBuf = g.groupIDsInto(keyArrs, int(b.NumRows()), idBuf)
		ids := idBuf
		if sp != nil {
			// Frozen: the rows of groups not in memory go to disk.
			if b, ids, err = sp.split(ctx, b, keyArrs, ids); err != nil {
				return err
			}
		}
		if b != nil {
			for i, a := range h.aggs {
				var vals arrow.Array
				if a.Arg >= 0 {
					vals = b.Column(a.Arg)
				}
				if a.Filtered {
					if err := updateWhere(ctx, h.mem, accs[i], vals, ids, g.n, b.Column(a.Filter)); err != nil {
						return err
					}
					continue
				}
				accs[i].Update(vals, ids, g.n)
			}
			b.Release()
		}
		if h.res != nil {
			if sp, err = h.account(g, accs, sp); err != nil {
				return err
			}
		}
		if h.Partial && sp == nil && len(h.keys) > 0 && h.givesUp(rows, g.n) {
			h.passing = true // the groups so far, then the rest of the rows as they come
			break
		}
	}
	if sp != nil {
		parts, err := sp.finish()
		sp = nil
		if err != nil {
			return err
		}
		h.parts = parts
	}
	if len(h.keys) == 0 {
		g.n = 1
	}
	g.dropIndex()
	all, whole := stateBytes(accs, g.n)
	held, _ := g.bytes()
	h.out = groupsOut{ready: true, g: g, accs: accs, whole: make([]arrow.Array, len(accs)), n: g.n}
	for i, acc := range accs {
		if _, ok := acc.(expr.RangeFinisher); !ok { // an Arrow array now, counted at the allocator
			h.out.whole[i] = acc.Finish(h.mem, g.n)
			h.out.accs[i] = nil
		}
	}
	if h.res != nil {
		h.res.Resize(held + all - whole)
	}
	return nil
}

// groupsOut streams an aggregate's groups BatchRows at a time. A batch's
// key values are built from the grouper when the batch is asked for, so
// the keys of all the groups are never built at once beside the tables
// that hold them (10^8 groups of six keys took 7 GB more, every page of
// it a fault).
type groupsOut struct {
	ready bool
	g     *grouper // nil once every group is out
	// Aggregate i is built a batch at a time by accs[i] (RangeFinisher)
	// or is whole[i], every group's.
	accs  []expr.Accumulator
	whole []arrow.Array
	at, n int // the next group out, and how many there are
}

func (o *groupsOut) next(ctx context.Context, mem memory.Allocator, schema *arrow.Schema) (arrow.RecordBatch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if o.g == nil || o.at == o.n {
		return nil, io.EOF
	}
	lo, hi := o.at, min(o.at+BatchRows, o.n)
	cols := o.g.keyColumns(mem, lo, hi)
	for i, a := range o.whole {
		if a == nil {
			cols = append(cols, o.accs[i].(expr.RangeFinisher).FinishRange(mem, lo, hi))
		} else {
			cols = append(cols, array.NewSlice(a, int64(lo), int64(hi)))
		}
	}
	o.at = hi
	b := array.NewRecordBatch(schema, cols, int64(hi-lo))
	releaseArrays(cols)
	return b, nil
}

// release drops the groups.
func (o *groupsOut) release() {
	for _, a := range o.whole {
		if a != nil {
			a.Release()
		}
	}
	o.g, o.accs, o.whole = nil, nil, nil
}

// GroupDictionaries lets h's string keys come from a Parquet file as the
// dictionary arrays the file holds them in, when h reads a Project of a
// Parquet scan with nothing to normalize, or of a Filter over one: the
// grouper then encodes each dictionary's values once, not every row's
// string (TPC-H's flags, a key of a thousand names). The Project passes
// dictionaries on where it passes a column as it is and expands those its
// expressions compute on; h expands every other column. The physical
// planner decides; EXPLAIN shows dictionary_keys. It reports whether it
// did.
func GroupDictionaries(h *HashAggregate) bool {
	p, ok := h.input.(*Project)
	if !ok || len(h.keys) == 0 {
		return false
	}
	switch in := p.input.(type) {
	case *Scan:
		if in.Format != Parquet || in.raw != in.out || in.readLate {
			return false
		}
		in.dictionaries = true
	case *Filter:
		if in.scan == nil || !in.scan.dictionaries || in.handOff {
			return false
		}
		in.dictionaries = true
	default:
		return false
	}
	p.computed = nil
	for _, e := range p.exprs {
		if _, bare := e.(*expr.Column); !bare {
			for _, c := range columnsOf(e) {
				if !slices.Contains(p.computed, c) {
					p.computed = append(p.computed, c)
				}
			}
		}
	}
	p.dictionaries, h.dictionaries = true, true
	return true
}

// plainInput is the input's next batch with its dictionary columns i for
// which expand(i) holds made plain: those of a scan read as dictionaries
// (GroupDictionaries), or the keys a partial aggregate passed on as they
// came.
func (h *HashAggregate) plainInput(ctx context.Context, expand func(int) bool) (arrow.RecordBatch, error) {
	b, err := h.input.Next(ctx)
	if err != nil || !hasDictionary(b) {
		return b, err
	}
	return expandColumns(ctx, b, h.input.Schema(), expand)
}

func hasDictionary(b arrow.RecordBatch) bool {
	for _, c := range b.Columns() {
		if c.DataType().ID() == arrow.DICTIONARY {
			return true
		}
	}
	return false
}

// updateWhere folds into acc only the rows where mask is true (not null).
func updateWhere(ctx context.Context, mem memory.Allocator, acc expr.Accumulator, vals arrow.Array, ids []uint32, ngroups int, mask arrow.Array) error {
	m, ok := mask.(*array.Boolean)
	if !ok {
		return kernels.Errorf(kernels.Internal, "aggregate filter of type %s", mask.DataType())
	}
	keep := make([]uint32, 0, len(ids))
	rows := make([]int64, 0, len(ids))
	for i, g := range ids {
		if m.IsValid(i) && m.Value(i) {
			keep = append(keep, g)
			rows = append(rows, int64(i))
		}
	}
	if vals == nil {
		acc.Update(nil, keep, ngroups)
		return nil
	}
	picked, err := takeRows(ctx, mem, vals, rows)
	if err != nil {
		return err
	}
	defer picked.Release()
	acc.Update(picked, keep, ngroups)
	return nil
}
