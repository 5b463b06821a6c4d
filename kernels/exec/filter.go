package exec

import (
	"context"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"slipstream/kernels"
	"slipstream/kernels/expr"
)

// Filter keeps the rows whose predicate is true; null counts as false. A
// predicate a & b & ... is applied one condition at a time: once a
// condition has dropped most rows, the batch is compacted and the next
// conditions see only the rows left (a costly condition placed last runs
// on few rows).
type Filter struct {
	input Operator
	pred  expr.Expr
	conj  []expr.Expr
	// conjCols[i] lists the columns conj[i] reads
	conjCols [][]int
	scan     *Scan // the input, when it is a Parquet scan that reads columns late
	// handOff: the operator above (a join's probe) reads the columns no
	// condition read, for the rows it keeps of those the Filter keeps;
	// last is their lateBatch, for the batch Next returned last.
	handOff bool
	last    *lateBatch
	claimed bool // a join reads the columns handed off
	// dictionaries: the operator above takes dictionary columns (see
	// GroupDictionaries); those the conditions did not expand stay so.
	dictionaries bool
}

// NewFilter checks that pred is boolean.
func NewFilter(input Operator, pred expr.Expr) (*Filter, error) {
	if pred.DataType().ID() != arrow.BOOL {
		return nil, kernels.Errorf(kernels.Invalid, "filter predicate %s is %s, not boolean", pred, expr.TypeName(pred.DataType()))
	}
	f := &Filter{input: input, pred: pred, conj: splitAnd(pred)}
	f.scan = lateScan(input, f)
	for _, c := range f.conj {
		f.conjCols = append(f.conjCols, columnsOf(c))
	}
	return f, nil
}

func splitAnd(e expr.Expr) []expr.Expr {
	if c, ok := e.(*expr.Call); ok && c.Fn.Name == "and" {
		return append(splitAnd(c.Args[0]), splitAnd(c.Args[1])...)
	}
	return []expr.Expr{e}
}

func (f *Filter) Schema() *arrow.Schema { return f.input.Schema() }
func (f *Filter) String() string {
	if f.handOff {
		return "Filter " + f.pred.String() + " hand_off_late"
	}
	return "Filter " + f.pred.String()
}
func (f *Filter) Children() []Operator { return []Operator{f.input} }
func (f *Filter) Close() error         { return f.input.Close() }

func (f *Filter) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if f.handOff && !f.claimed {
		return nil, kernels.Errorf(kernels.Internal, "%s hands unread columns on, but no join probe reads them (a plan error)", f)
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b, err := f.input.Next(ctx)
		if err != nil {
			return nil, err
		}
		out, err := f.apply(ctx, b)
		b.Release()
		if err != nil {
			return nil, err
		}
		if out != nil && out.NumRows() > 0 {
			return out, nil
		}
		if out != nil {
			out.Release()
		}
	}
}

func (f *Filter) apply(ctx context.Context, b arrow.RecordBatch) (arrow.RecordBatch, error) {
	// late reads the columns b leaves out (all, at first): each when a
	// condition first needs it, for the rows left then, and the others at
	// the end, for the rows kept.
	late := f.scan.late()
	f.last = nil
	b.Retain()
	var pending *array.Boolean // rows kept so far, while b is not compacted
	defer func() {
		if pending != nil {
			pending.Release()
		}
	}()
	for i, c := range f.conj {
		if late != nil {
			var err error
			if b, err = late.fill(ctx, b, f.conjCols[i]); err != nil {
				return nil, err
			}
		}
		mask, all, err := f.maskOf(ctx, c, &b)
		if err != nil || (mask == nil && !all) {
			if b != nil {
				b.Release()
			}
			return nil, err // an error, or no row left
		}
		if mask == nil {
			continue // every row passes
		}
		if pending != nil {
			both, err := compute.CallFunction(ctx, "and_kleene", nil, compute.NewDatumWithoutOwning(pending), compute.NewDatumWithoutOwning(mask))
			mask.Release()
			if err != nil {
				b.Release()
				return nil, err
			}
			mask = both.(*compute.ArrayDatum).MakeArray().(*array.Boolean)
			both.Release()
			pending.Release()
			pending = nil
		}
		kept := countTrue(mask)
		switch {
		case kept == 0:
			mask.Release()
			b.Release()
			return nil, nil
		case kept == int(b.NumRows()):
			mask.Release()
		case 2*kept < int(b.NumRows()):
			// Most rows gone: compact, so later conditions see fewer.
			sel := selectedRows(mask, kept)
			taken, err := takeBatch(ctx, expr.Allocator(ctx), b, sel)
			mask.Release()
			b.Release()
			if err != nil {
				return nil, err
			}
			b = taken
			if late != nil {
				late.narrow(sel)
			}
		default:
			pending = mask
		}
	}
	if pending != nil {
		sel := selectedRows(pending, countTrue(pending))
		taken, err := takeBatch(ctx, expr.Allocator(ctx), b, sel)
		b.Release()
		if err != nil {
			return nil, err
		}
		b = taken
		if late != nil {
			late.narrow(sel)
		}
	}
	switch {
	case late != nil && f.handOff:
		late.plain, f.last = true, late // the join above reads the rest
	case late != nil:
		var err error
		if b, err = late.fill(ctx, b, late.all()); err != nil {
			return nil, err
		}
	}
	if f.dictionaries {
		return b, nil
	}
	return f.expand(ctx, b, nil)
}

// expand turns the dictionary columns of b (all, or those in only) into
// plain ones, taking ownership of b. The result has the filter's schema
// once every column is plain.
func (f *Filter) expand(ctx context.Context, b arrow.RecordBatch, only []int) (arrow.RecordBatch, error) {
	return expandColumns(ctx, b, f.Schema(), func(i int) bool { return only == nil || slices.Contains(only, i) })
}

// expandColumns turns the dictionary columns i of b for which which(i)
// holds into plain ones of schema's types, taking ownership of b. The
// result has schema once every column is plain, the batch's own types
// where dictionaries stay.
func expandColumns(ctx context.Context, b arrow.RecordBatch, schema *arrow.Schema, which func(int) bool) (arrow.RecordBatch, error) {
	var cols []arrow.Array
	for i, c := range b.Columns() {
		if !which(i) {
			continue
		}
		plain, err := plainOf(ctx, c, schema.Field(i).Type)
		if err != nil {
			releaseArrays(cols)
			b.Release()
			return nil, err
		}
		if plain == nil {
			continue
		}
		if cols == nil {
			cols = slices.Clone(b.Columns())
			for _, c := range cols {
				c.Retain()
			}
		}
		cols[i].Release()
		cols[i] = plain
	}
	if cols == nil {
		return b, nil
	}
	defer b.Release()
	defer releaseArrays(cols)
	return array.NewRecordBatch(batchSchema(schema, cols), cols, b.NumRows()), nil
}

// plainOf is a, a dictionary array read for a column of type want that is
// not one, expanded to want's plain values; nil when a needs no expanding.
func plainOf(ctx context.Context, a arrow.Array, want arrow.DataType) (arrow.Array, error) {
	d, ok := a.(*array.Dictionary)
	if !ok || want.ID() == arrow.DICTIONARY {
		return nil, nil // plain, or a dictionary in the file's own schema
	}
	return expandDictionary(ctx, expr.Allocator(ctx), d)
}

// maskOf evaluates the boolean condition c over *b: a mask, or nil with
// all telling whether every row or no row passes (a scalar result). A
// condition on one dictionary column is tested on the dictionary's values;
// any other first expands the dictionary columns it reads (replacing *b).
func (f *Filter) maskOf(ctx context.Context, c expr.Expr, b *arrow.RecordBatch) (*array.Boolean, bool, error) {
	cols := columnsOf(c)
	if len(cols) == 1 {
		if d, ok := (*b).Column(cols[0]).(*array.Dictionary); ok {
			return dictionaryMask(ctx, c, cols[0], d)
		}
	}
	expanded, err := f.expand(ctx, *b, cols)
	if err != nil {
		*b = nil
		return nil, false, err
	}
	*b = expanded
	return evalMask(ctx, c, expanded)
}

// dictionaryMask tests the condition c, which reads only column col, a
// dictionary array d, on d's distinct values (and once on null, for the
// null rows) and spreads the answers over the rows.
func dictionaryMask(ctx context.Context, c expr.Expr, col int, d *array.Dictionary) (*array.Boolean, bool, error) {
	values := d.Dictionary()
	one := rebind(c, col)
	onValues := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "v", Type: values.DataType(), Nullable: true}}, nil), []arrow.Array{values}, int64(values.Len()))
	defer onValues.Release()
	answers, all, err := evalMask(ctx, one, onValues)
	if err != nil || answers == nil && d.NullN() == 0 {
		return nil, all, err
	}
	nullPasses := false
	if d.NullN() > 0 {
		null := array.MakeArrayOfNull(expr.Allocator(ctx), values.DataType(), 1)
		onNull := array.NewRecordBatch(onValues.Schema(), []arrow.Array{null}, 1)
		null.Release()
		m, allNull, err := evalMask(ctx, one, onNull)
		onNull.Release()
		if err != nil {
			if answers != nil {
				answers.Release()
			}
			return nil, false, err
		}
		nullPasses = allNull || m != nil && m.IsValid(0) && m.Value(0)
		if m != nil {
			m.Release()
		}
	}
	// passes[v] is 1 when dictionary value v passes; the last, for null rows
	passes := make([]byte, values.Len()+1)
	for v := range values.Len() {
		if all || answers != nil && answers.IsValid(v) && answers.Value(v) {
			passes[v] = 1
		}
	}
	if answers != nil {
		answers.Release()
	}
	if nullPasses {
		passes[values.Len()] = 1
	}
	n := d.Len()
	buf := newBuffer(expr.Allocator(ctx), int(bitutil.BytesForBits(int64(n))))
	bitmap := buf.Bytes()
	clear(bitmap)
	rows := dictionaryRows(d)
	pass := func(v int64) byte {
		if v < 0 {
			return passes[len(passes)-1] // a null row
		}
		return passes[v]
	}
	i := 0
	for ; i+8 <= n; i += 8 { // a byte of the mask at a time
		var b byte
		for j, v := range rows[i : i+8] {
			b |= pass(v) << j
		}
		bitmap[i/8] = b
	}
	for ; i < n; i++ {
		if pass(rows[i]) == 1 {
			bitutil.SetBit(bitmap, i)
		}
	}
	data := array.NewData(arrow.FixedWidthTypes.Boolean, n, []*memory.Buffer{nil, buf}, nil, 0, 0)
	buf.Release()
	defer data.Release()
	return array.NewBooleanData(data), false, nil
}

// columnsOf lists the columns e reads, each once.
func columnsOf(e expr.Expr) []int {
	var out []int
	walkExpr(e, func(x expr.Expr) {
		if c, ok := x.(*expr.Column); ok && !slices.Contains(out, c.Index) {
			out = append(out, c.Index)
		}
	})
	return out
}

// walkExpr calls f on e and, below calls and casts, on their arguments.
func walkExpr(e expr.Expr, f func(expr.Expr)) {
	f(e)
	switch e := e.(type) {
	case *expr.Call:
		for _, a := range e.Args {
			walkExpr(a, f)
		}
	case *expr.Cast:
		walkExpr(e.Arg, f)
	}
}

// rebind is e reading column 0 where it read column col.
func rebind(e expr.Expr, col int) expr.Expr {
	return rewriteExpr(e, func(x expr.Expr) expr.Expr {
		if c, ok := x.(*expr.Column); ok && c.Index == col {
			return &expr.Column{Index: 0, Name: c.Name, Type: c.Type}
		}
		return nil
	})
}

// rewriteExpr rebuilds e top-down: a node for which f gives an expression
// is replaced by it whole; calls and casts are rebuilt over their
// rewritten arguments; other nodes stay.
func rewriteExpr(e expr.Expr, f func(expr.Expr) expr.Expr) expr.Expr {
	if r := f(e); r != nil {
		return r
	}
	switch e := e.(type) {
	case *expr.Call:
		args := make([]expr.Expr, len(e.Args))
		for i, a := range e.Args {
			args[i] = rewriteExpr(a, f)
		}
		return &expr.Call{Fn: e.Fn, Args: args, Type: e.Type}
	case *expr.Cast:
		return &expr.Cast{Arg: rewriteExpr(e.Arg, f), To: e.To}
	}
	return e
}

// evalMask evaluates the boolean condition c over b: a mask, or nil with
// all telling whether every row or no row passes (a scalar result).
func evalMask(ctx context.Context, c expr.Expr, b arrow.RecordBatch) (mask *array.Boolean, all bool, err error) {
	d, err := c.Eval(ctx, b)
	if err != nil {
		return nil, false, err
	}
	defer d.Release()
	if s, ok := d.(*compute.ScalarDatum); ok {
		v, ok := s.Value.(*scalar.Boolean)
		return nil, ok && v.IsValid() && v.Value, nil
	}
	return d.(*compute.ArrayDatum).MakeArray().(*array.Boolean), false, nil
}

// countTrue counts the rows that are true and not null.
func countTrue(a *array.Boolean) int {
	if a.Len() == 0 {
		return 0
	}
	data := a.Data()
	values := data.Buffers()[1].Bytes()
	if a.NullN() == 0 {
		return bitutil.CountSetBits(values, data.Offset(), data.Len())
	}
	// Null rows may have their value bit set: count true and valid.
	kept := 0
	for i := 0; i < a.Len(); i++ {
		if a.IsValid(i) && a.Value(i) {
			kept++
		}
	}
	return kept
}
