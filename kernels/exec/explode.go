package exec

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels"
)

// Explode gives each value of the list columns its own row, repeating the
// other columns, as polars' explode: the lists of one row must have the
// same length. An empty list gives no row, or one with a null when
// emptyAsNull; a null list one row with a null, or none unless keepNulls.
// Row order is kept.
type Explode struct {
	mem         memory.Allocator
	input       Operator
	columns     []int
	emptyAsNull bool
	keepNulls   bool
	schema      *arrow.Schema
}

// NewExplode explodes the list columns of input (their indices).
func NewExplode(mem memory.Allocator, input Operator, columns []int, emptyAsNull, keepNulls bool) *Explode {
	in := input.Schema()
	fields := append([]arrow.Field(nil), in.Fields()...)
	for _, c := range columns {
		fields[c].Type = fields[c].Type.(arrow.ListLikeType).Elem()
		fields[c].Nullable = true
	}
	md := in.Metadata()
	return &Explode{mem: mem, input: input, columns: columns, emptyAsNull: emptyAsNull, keepNulls: keepNulls,
		schema: arrow.NewSchema(fields, &md)}
}

func (e *Explode) Schema() *arrow.Schema { return e.schema }
func (e *Explode) Children() []Operator  { return []Operator{e.input} }
func (e *Explode) Close() error          { return e.input.Close() }
func (e *Explode) String() string {
	names := make([]string, len(e.columns))
	for i, c := range e.columns {
		names[i] = e.schema.Field(c).Name
	}
	return fmt.Sprintf("Explode %s empty_as_null=%v keep_nulls=%v", strings.Join(names, ", "), e.emptyAsNull, e.keepNulls)
}

func (e *Explode) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := e.input.Next(ctx)
	if err != nil {
		return nil, err
	}
	defer b.Release()
	return e.explode(compute.WithAllocator(ctx, e.mem), b)
}

func (e *Explode) explode(ctx context.Context, b arrow.RecordBatch) (arrow.RecordBatch, error) {
	lists := make([]array.ListLike, len(e.columns))
	for i, c := range e.columns {
		lists[i] = b.Column(c).(array.ListLike)
	}
	// rows[k] is the input row of output row k; elems[i][k] the element of
	// list column i it holds (valid[k] false: a null, for a null or empty list).
	var rows []int64
	elems := make([][]int64, len(e.columns))
	var valid []bool
	for r := 0; r < int(b.NumRows()); r++ {
		n, null := int64(-1), true
		for i, l := range lists {
			null = null && l.IsNull(r)
			m := int64(0)
			if l.IsValid(r) {
				s, end := l.ValueOffsets(r)
				m = end - s
			}
			if n >= 0 && m != n {
				return nil, kernels.Errorf(kernels.Invalid, "explode: row %d has lists of %d and %d values in %s and %s; exploded columns must have lists of equal length",
					r, n, m, e.schema.Field(e.columns[0]).Name, e.schema.Field(e.columns[i]).Name)
			}
			n = m
		}
		if n == 0 && ((null && e.keepNulls) || (!null && e.emptyAsNull)) {
			rows = append(rows, int64(r))
			valid = append(valid, false)
			for i := range elems {
				elems[i] = append(elems[i], 0)
			}
			continue
		}
		for k := int64(0); k < n; k++ {
			rows = append(rows, int64(r))
			valid = append(valid, true)
			for i, l := range lists {
				s, _ := l.ValueOffsets(r)
				elems[i] = append(elems[i], s+k)
			}
		}
	}
	take := func(values arrow.Array, idx []int64, ok []bool) (arrow.Array, error) {
		ib := array.NewInt64Builder(e.mem)
		defer ib.Release()
		ib.AppendValues(idx, ok)
		indices := ib.NewArray()
		defer indices.Release()
		return compute.TakeArray(ctx, values, indices)
	}
	cols := make([]arrow.Array, b.NumCols())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	exploded := map[int]int{}
	for i, c := range e.columns {
		exploded[c] = i
	}
	for c := range cols {
		var err error
		if i, ok := exploded[c]; ok {
			cols[c], err = take(lists[i].ListValues(), elems[i], valid)
		} else {
			cols[c], err = take(b.Column(c), rows, nil)
		}
		if err != nil {
			return nil, fmt.Errorf("explode: %w", err)
		}
	}
	return array.NewRecordBatch(e.schema, cols, int64(len(rows))), nil
}
