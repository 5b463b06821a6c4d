package exec

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels/budget"
)

// BatchRows is the number of rows operators aim for in a batch they build.
const BatchRows = 64 * 1024

// Operator is a pull-based stream of record batches.
type Operator interface {
	Schema() *arrow.Schema
	// Next returns the next batch, owned by the caller, or io.EOF.
	Next(ctx context.Context) (arrow.RecordBatch, error)
	// Close frees what the operator and its inputs hold.
	Close() error
	// String is the operator's one-line EXPLAIN text.
	String() string
}

// Parent is an operator with inputs; EXPLAIN walks them.
type Parent interface {
	Children() []Operator
}

// MemoryUser is an operator that holds memory in its query's budget (a
// budget.Reservation named by its EXPLAIN line): EXPLAIN ANALYZE shows
// the most it held and the bytes it spilled. Memory may be called after
// the operator is closed (its figures stay).
type MemoryUser interface {
	Memory() budget.OperatorStats
}

// Explain renders the operator tree, one operator per line, indented.
func Explain(op Operator) string {
	var sb strings.Builder
	Walk(op, func(op Operator, depth int) {
		sb.WriteString(strings.Repeat("  ", depth))
		sb.WriteString(op.String())
		sb.WriteByte('\n')
	})
	return sb.String()
}

// Walk calls fn for op and every operator under it, parents first, with
// its depth in the tree (EXPLAIN's order). Call it before the operators
// are closed.
func Walk(op Operator, fn func(op Operator, depth int)) {
	var walk func(op Operator, depth int)
	walk = func(op Operator, depth int) {
		fn(op, depth)
		if p, ok := op.(Parent); ok {
			for _, c := range p.Children() {
				walk(c, depth+1)
			}
		}
	}
	walk(op, 0)
}

// Collect drains op into a slice of batches the caller releases. It does
// not close op.
func Collect(ctx context.Context, op Operator) ([]arrow.RecordBatch, error) {
	if u, ok := op.(*Union); ok && u.ordered && !u.started && !u.drained {
		return u.collectAll(ctx)
	}
	var out []arrow.RecordBatch
	for {
		if err := ctx.Err(); err != nil {
			ReleaseAll(out)
			return nil, err
		}
		b, err := op.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			ReleaseAll(out)
			return nil, err
		}
		out = append(out, b)
	}
}

// ReleaseAll releases every batch (nil entries are skipped).
func ReleaseAll(bs []arrow.RecordBatch) {
	for _, b := range bs {
		if b != nil {
			b.Release()
		}
	}
}

// Records is an operator over batches already in memory (tests, results).
type Records struct {
	schema  *arrow.Schema
	batches []arrow.RecordBatch
}

// NewRecords takes ownership of batches.
func NewRecords(schema *arrow.Schema, batches []arrow.RecordBatch) *Records {
	return &Records{schema: schema, batches: batches}
}

func (r *Records) Schema() *arrow.Schema { return r.schema }
func (r *Records) String() string        { return "Records" }
func (r *Records) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(r.batches) == 0 {
		return nil, io.EOF
	}
	b := r.batches[0]
	r.batches = r.batches[1:]
	return b, nil
}
func (r *Records) Close() error {
	ReleaseAll(r.batches)
	r.batches = nil
	return nil
}

// NormalizeType is the type a column is computed in: string views become
// large_utf8 and binary views large_binary, because Arrow's compute kernels
// (comparison, take, filter) do not all take views yet. Every other type
// is kept.
// Lists and structs are normalized inside, and a large list becomes a
// list: the list functions build 32-bit offsets.
func NormalizeType(t arrow.DataType) arrow.DataType {
	switch t := t.(type) {
	case *arrow.StringViewType:
		return arrow.BinaryTypes.LargeString
	case *arrow.BinaryViewType:
		return arrow.BinaryTypes.LargeBinary
	case *arrow.ListType:
		if e := NormalizeType(t.Elem()); !arrow.TypeEqual(e, t.Elem()) {
			return arrow.ListOfField(arrow.Field{Name: t.ElemField().Name, Type: e, Nullable: t.ElemField().Nullable})
		}
	case *arrow.LargeListType:
		f := t.ElemField()
		return arrow.ListOfField(arrow.Field{Name: f.Name, Type: NormalizeType(f.Type), Nullable: f.Nullable})
	case *arrow.StructType:
		fields := make([]arrow.Field, t.NumFields())
		changed := false
		for i, f := range t.Fields() {
			fields[i] = f
			fields[i].Type = NormalizeType(f.Type)
			changed = changed || !arrow.TypeEqual(f.Type, fields[i].Type)
		}
		if changed {
			return arrow.StructOf(fields...)
		}
	}
	return t
}

// NormalizeSchema applies NormalizeType to every field.
func NormalizeSchema(s *arrow.Schema) *arrow.Schema {
	fields := make([]arrow.Field, s.NumFields())
	changed := false
	for i, f := range s.Fields() {
		f.Type = NormalizeType(f.Type)
		changed = changed || !arrow.TypeEqual(f.Type, s.Field(i).Type)
		fields[i] = f
	}
	if !changed {
		return s
	}
	md := s.Metadata()
	return arrow.NewSchema(fields, &md)
}

// normalizeBatch casts the columns of b that NormalizeType changes, taking
// ownership of b. schema is NormalizeSchema(b.Schema()).
func normalizeBatch(ctx context.Context, mem memory.Allocator, schema *arrow.Schema, b arrow.RecordBatch) (arrow.RecordBatch, error) {
	if schema == b.Schema() {
		return b, nil
	}
	defer b.Release()
	cols := make([]arrow.Array, b.NumCols())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, c := range b.Columns() {
		want := schema.Field(i).Type
		if arrow.TypeEqual(c.DataType(), want) {
			c.Retain()
			cols[i] = c
			continue
		}
		out, err := compute.CastArray(ctx, c, compute.SafeCastOptions(want))
		if err != nil {
			return nil, err
		}
		cols[i] = out
	}
	return array.NewRecordBatch(schema, cols, b.NumRows()), nil
}

// project keeps the columns of b at idx (all when idx is nil), taking
// ownership of b.
func project(b arrow.RecordBatch, schema *arrow.Schema, idx []int) arrow.RecordBatch {
	if idx == nil {
		return b
	}
	defer b.Release()
	cols := make([]arrow.Array, len(idx))
	for i, j := range idx {
		cols[i] = b.Column(j)
	}
	return array.NewRecordBatch(schema, cols, b.NumRows())
}

// projectSchema is the schema of the fields at idx (all when nil).
func projectSchema(s *arrow.Schema, idx []int) *arrow.Schema {
	if idx == nil {
		return s
	}
	fields := make([]arrow.Field, len(idx))
	for i, j := range idx {
		fields[i] = s.Field(j)
	}
	return arrow.NewSchema(fields, nil)
}

// concatBatches joins batches of one schema into a single batch the caller
// releases (an empty one when there are none).
func concatBatches(mem memory.Allocator, schema *arrow.Schema, batches []arrow.RecordBatch) (arrow.RecordBatch, error) {
	var rows int64
	for _, b := range batches {
		rows += b.NumRows()
	}
	cols := make([]arrow.Array, 0, schema.NumFields())
	defer func() { releaseArrays(cols) }()
	for c := 0; c < schema.NumFields(); c++ {
		if len(batches) == 0 {
			cols = append(cols, array.MakeArrayOfNull(mem, schema.Field(c).Type, 0))
			continue
		}
		parts := make([]arrow.Array, len(batches))
		for i, b := range batches {
			parts[i] = b.Column(c)
		}
		col, err := array.Concatenate(parts, mem)
		if err != nil {
			return nil, err
		}
		cols = append(cols, col)
	}
	return array.NewRecordBatch(schema, cols, rows), nil
}

// materialized streams, BatchRows at a time, the result an operator built
// whole (Sort, Window, HashAggregate).
type materialized struct{ r *array.TableReader }

func (m *materialized) built() bool { return m.r != nil }

// set takes the rows of b (retained; the caller keeps its own reference).
func (m *materialized) set(schema *arrow.Schema, b ...arrow.RecordBatch) {
	tbl := array.NewTableFromRecords(schema, b)
	defer tbl.Release()
	m.setTable(tbl)
}

// setTable takes the rows of tbl (retained).
func (m *materialized) setTable(tbl arrow.Table) { m.r = array.NewTableReader(tbl, BatchRows) }

func (m *materialized) next(ctx context.Context) (arrow.RecordBatch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !m.r.Next() {
		return nil, io.EOF
	}
	b := m.r.RecordBatch()
	b.Retain()
	return b, nil
}

func (m *materialized) release() {
	if m.r != nil {
		m.r.Release()
		m.r = nil
	}
}
