package exec

import (
	"context"
	"io"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels/budget"
	"slipstream/kernels/expr"
)

// A Window whose input does not fit its query's share of memory computes
// part by part: every row gets its input position (a sequence column),
// and rows go, by a hash of the partition columns all its expressions
// share, to spillParts files. Rows of one window partition are then in
// one file, so a new Window over each file computes exactly what the
// whole would (spilling again, with other hash bits, if a part still does
// not fit). A spilling Sort by the sequence column puts the rows back in
// input order, which a Window keeps. A window over the whole input (an
// expression without partition_by) cannot be split, and fails instead.

// windowRowBytes estimates what computing holds per row beyond the
// values: partition ids, the sort permutation and partition bounds of the
// expression at hand; each expression's result adds windowResultBytes.
const (
	windowRowBytes    = 32
	windowResultBytes = 8
)

// SetBudget makes the window hold its input within q's share of memory,
// computing part by part from disk when it would go over.
func (w *Window) SetBudget(q *budget.Query) {
	if q != nil {
		w.res = q.Reserve(partName(w, w.level))
	}
}

// Memory implements MemoryUser: the window's figures with those of the
// windows of its parts and of the sort that puts their rows back in order.
func (w *Window) Memory() budget.OperatorStats {
	var s budget.OperatorStats
	if w.res != nil {
		s = w.res.Stats()
	}
	return s.Add(w.below).Add(w.partsMemory())
}

// partsMemory is the figures of the part windows and of the sort over
// them, while they are open.
func (w *Window) partsMemory() budget.OperatorStats {
	var s budget.OperatorStats
	if w.spilled == nil {
		return s
	}
	s = w.spilled.Memory()
	if p, ok := w.spilled.input.(*windowParts); ok {
		s = s.Add(p.below)
		if p.sub != nil {
			s = s.Add(p.sub.Memory())
		}
	}
	return s
}

// splitBy is the partition columns every expression shares: rows equal on
// them are in one partition of every expression (nil when there are none).
func (w *Window) splitBy() []int {
	var cols []int
	for i, e := range w.exprs {
		if i == 0 {
			cols = slices.Clone(e.PartitionBy)
			continue
		}
		cols = slices.DeleteFunc(cols, func(c int) bool { return !slices.Contains(e.PartitionBy, c) })
	}
	return cols
}

// collectWithin reads the input; once what it holds would not fit with
// the work of computing, it writes it, and the rest, to parts, and sets
// w.spilled to the sort that streams the result.
func (w *Window) collectWithin(ctx context.Context) ([]arrow.RecordBatch, error) {
	q := w.res.Query()
	seqSchema := withSeqSchema(w.input.Schema())
	var seq int64
	c := holdOrSplit{res: w.res, level: w.level, schema: seqSchema,
		need: func(bytes, rows int64) int64 {
			return bytes + rows*(windowRowBytes+windowResultBytes*int64(len(w.exprs)))
		},
		what: "its input", oneKey: "one window partition with more rows than fit",
		write: func(pw *partWriter, b arrow.RecordBatch) error {
			sb := withSeq(q, seqSchema, b, seq)
			defer sb.Release()
			seq += b.NumRows()
			keys := make([]arrow.Array, 0, len(w.splitBy()))
			for _, c := range w.splitBy() {
				keys = append(keys, b.Column(c))
			}
			return pw.write(ctx, sb, keys, nil)
		}}
	if len(w.splitBy()) == 0 {
		c.cannotSplit = "a window over the whole input (no partition_by shared by its expressions) cannot be split"
	}
	held, parts, err := c.collect(ctx, w.input)
	if err != nil || parts == nil {
		return held, err
	}
	wp := &windowParts{w: w, seqSchema: seqSchema, parts: parts}
	wp.schema = NewWindow(w.mem, &spillScan{schema: seqSchema}, w.exprs).Schema()
	sorted, err := NewSort(wp, []SortKey{{Column: w.input.Schema().NumFields()}}, -1)
	if err != nil {
		wp.Close()
		return nil, err
	}
	sorted.SetBudget(q)
	w.spilled = sorted
	return nil, nil
}

// nextSpilled streams the parts' results in input order, without the
// sequence column.
func (w *Window) nextSpilled(ctx context.Context) (arrow.RecordBatch, error) {
	b, err := w.spilled.Next(ctx)
	if err != nil {
		return nil, err
	}
	defer b.Release()
	seq := w.input.Schema().NumFields()
	cols := append(slices.Clone(b.Columns()[:seq]), b.Columns()[seq+1:]...)
	return array.NewRecordBatch(w.schema, cols, b.NumRows()), nil
}

// withSeqSchema is schema with a sequence column at the end.
func withSeqSchema(schema *arrow.Schema) *arrow.Schema {
	fields := append(slices.Clone(schema.Fields()), arrow.Field{Name: "__seq", Type: arrow.PrimitiveTypes.Int64})
	return arrow.NewSchema(fields, nil)
}

// withSeq is b with its rows' positions, from first on, appended.
func withSeq(mem memory.Allocator, schema *arrow.Schema, b arrow.RecordBatch, first int64) arrow.RecordBatch {
	pos := make([]int64, b.NumRows())
	for i := range pos {
		pos[i] = first + int64(i)
	}
	col := expr.FixedWidthArray(mem, arrow.PrimitiveTypes.Int64, pos, nil, 0)
	defer col.Release()
	cols := append(slices.Clone(b.Columns()), col)
	return array.NewRecordBatch(schema, cols, b.NumRows())
}

// windowParts computes the window over each part in turn, as one stream.
type windowParts struct {
	w         *Window
	seqSchema *arrow.Schema
	schema    *arrow.Schema
	parts     []*budget.SpillFile
	sub       *Window
	below     budget.OperatorStats // the figures of the parts computed
}

func (p *windowParts) Schema() *arrow.Schema { return p.schema }
func (p *windowParts) String() string        { return "WindowParts" }

func (p *windowParts) Next(ctx context.Context) (arrow.RecordBatch, error) {
	for {
		if p.sub != nil {
			b, err := p.sub.Next(ctx)
			if err != io.EOF {
				return b, err
			}
			p.below = p.below.Add(p.sub.Memory())
			p.sub.Close()
			p.sub = nil
		}
		for len(p.parts) > 0 && p.parts[0] == nil {
			p.parts = p.parts[1:]
		}
		if len(p.parts) == 0 {
			return nil, io.EOF
		}
		scan := &spillScan{schema: p.seqSchema, files: p.parts[:1]}
		p.parts = p.parts[1:]
		p.sub = NewWindow(p.w.mem, scan, p.w.exprs)
		p.sub.level = p.w.level + 1
		p.sub.SetBudget(p.w.res.Query())
	}
}

func (p *windowParts) Close() error {
	if p.sub != nil {
		p.sub.Close()
		p.sub = nil
	}
	removeRuns(p.parts)
	p.parts = nil
	return nil
}
