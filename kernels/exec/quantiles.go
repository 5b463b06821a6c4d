package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels"
	"slipstream/kernels/budget"
	"slipstream/kernels/expr"
)

// Quantile is one median or quantile a Quantiles operator answers.
type Quantile struct {
	Q      float64 // NaN: the answer is null
	Method string  // as expr.PickQuantile takes it
	Name   string
}

// Quantiles answers medians and quantiles of its input's one float64
// column over the whole input, in one row: an aggregate without keys, whose
// values a hash aggregate would hold as the state of one group, which it
// cannot split past the query's share. While the values fit in the share
// they are held, sorted and picked from; past it they go through a Sort,
// which spills sorted runs and merges them, and the answers are read from
// the sorted stream at the positions they need (at most two each), counted
// as the input is read.
type Quantiles struct {
	input  *countValid
	qs     []Quantile
	schema *arrow.Schema
	mem    memory.Allocator
	res    *budget.Reservation // nil: no budget, everything is held
	sort   *Sort               // made once the values do not fit
	held   []arrow.RecordBatch
	done   bool
}

// NewQuantiles answers qs over input's first column (float64).
func NewQuantiles(mem memory.Allocator, input Operator, qs []Quantile) (*Quantiles, error) {
	if t := input.Schema().Field(0).Type; t.ID() != arrow.FLOAT64 {
		return nil, kernels.Errorf(kernels.Internal, "quantiles of %s values, want float64", expr.TypeName(t))
	}
	fields := make([]arrow.Field, len(qs))
	for i, q := range qs {
		fields[i] = arrow.Field{Name: q.Name, Type: arrow.PrimitiveTypes.Float64, Nullable: true}
	}
	return &Quantiles{input: &countValid{Operator: input}, qs: qs, schema: arrow.NewSchema(fields, nil), mem: mem}, nil
}

// SetBudget holds the values within q's share of memory, sorting them
// through spill files past it.
func (o *Quantiles) SetBudget(q *budget.Query) {
	if q != nil {
		o.res = q.Reserve(o.String())
	}
}

// Memory implements MemoryUser: the values held, and the sort's figures.
func (o *Quantiles) Memory() budget.OperatorStats {
	var s budget.OperatorStats
	if o.res != nil {
		s = o.res.Stats()
	}
	if o.sort != nil {
		s = s.Add(o.sort.Memory())
	}
	return s
}

func (o *Quantiles) Schema() *arrow.Schema { return o.schema }
func (o *Quantiles) Children() []Operator  { return []Operator{o.input.Operator} }
func (o *Quantiles) String() string {
	parts := make([]string, len(o.qs))
	for i, q := range o.qs {
		parts[i] = fmt.Sprintf("quantile(%s, %g, %s) AS %s", o.input.Schema().Field(0).Name, q.Q, q.Method, q.Name)
	}
	return "Quantiles " + strings.Join(parts, ", ")
}

func (o *Quantiles) Close() error {
	ReleaseAll(o.held)
	o.held = nil
	if o.res != nil {
		o.res.Free()
	}
	if o.sort != nil {
		return o.sort.Close()
	}
	return o.input.Close()
}

func (o *Quantiles) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if o.done {
		return nil, io.EOF
	}
	o.done = true
	all, err := o.hold(ctx)
	if err != nil {
		return nil, err
	}
	var at func(int64) float64
	if all {
		vals := o.sorted()
		at = func(i int64) float64 { return vals[i] }
	} else if at, err = o.external(ctx); err != nil {
		return nil, err
	}
	n := o.input.valid
	cols := make([]arrow.Array, len(o.qs))
	for i, q := range o.qs {
		bld := array.NewFloat64Builder(o.mem)
		if n > 0 && q.Q >= 0 && q.Q <= 1 {
			bld.Append(expr.PickQuantile(n, at, q.Q, q.Method))
		} else {
			bld.AppendNull()
		}
		cols[i] = bld.NewArray()
		bld.Release()
	}
	defer releaseArrays(cols)
	if o.res != nil {
		o.res.Free()
	}
	return array.NewRecordBatch(o.schema, cols, 1), nil
}

// hold reads the input while its batches, and a copy of their values to
// sort, fit in the share; all says it read everything.
func (o *Quantiles) hold(ctx context.Context) (all bool, err error) {
	var bytes int64
	for {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		b, err := o.input.Next(ctx)
		if errors.Is(err, io.EOF) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		o.held = append(o.held, b)
		bytes += BatchBytes(b)
		if o.res == nil {
			continue
		}
		o.res.NotePeak(2 * bytes)
		q := o.res.Query()
		if (!q.Within(bytes) || o.res.OverLimit(2*bytes)) && bytes >= minHold(q) {
			return false, nil
		}
	}
}

// sorted is the values held, non-null, sorted (NaN after every number).
func (o *Quantiles) sorted() []float64 {
	n := o.input.valid
	if o.res != nil {
		o.res.Resize(8 * n)
	}
	vals := make([]float64, 0, n)
	var nan int
	for _, b := range o.held {
		col := b.Column(0)
		for i, v := range expr.Values[float64](col) {
			switch {
			case col.IsNull(i):
			case v != v:
				nan++
			default:
				vals = append(vals, v)
			}
		}
	}
	ReleaseAll(o.held)
	o.held = nil
	slices.Sort(vals)
	for range nan {
		vals = append(vals, math.NaN())
	}
	return vals
}

// external sorts the values held and the rest of the input through a
// Sort, and returns the values at the positions the answers need.
func (o *Quantiles) external(ctx context.Context) (func(int64) float64, error) {
	in := &prepended{Operator: o.input, held: o.held}
	o.held = nil
	s, err := NewSort(in, []SortKey{{Column: 0, NullsLast: true}}, -1)
	if err != nil {
		o.held = in.held // Close releases them and closes the input
		return nil, err
	}
	o.sort = s
	s.SetBudget(o.res.Query())
	o.res.Free()
	first, err := s.Next(ctx)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	// The sort has read all its input: the count is whole.
	n := o.input.valid
	want := map[int64]float64{}
	for _, q := range o.qs {
		if n > 0 && q.Q >= 0 && q.Q <= 1 {
			expr.PickQuantile(n, func(i int64) float64 { want[i] = 0; return 0 }, q.Q, q.Method)
		}
	}
	// Non-null values come first (nulls last), in order.
	left, at, b := len(want), int64(0), first
	for b != nil && left > 0 && at < n {
		vals := expr.Values[float64](b.Column(0))
		for i := range vals {
			if _, ok := want[at+int64(i)]; ok {
				want[at+int64(i)] = vals[i]
				left--
			}
		}
		at += b.NumRows()
		b.Release()
		if b, err = s.Next(ctx); errors.Is(err, io.EOF) {
			b = nil
		} else if err != nil {
			return nil, err
		}
	}
	if b != nil {
		b.Release()
	}
	return func(i int64) float64 { return want[i] }, nil
}

// prepended hands out held batches, then the rest of its input.
type prepended struct {
	Operator
	held []arrow.RecordBatch
}

func (p *prepended) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if len(p.held) > 0 {
		b := p.held[0]
		p.held = p.held[1:]
		return b, nil
	}
	return p.Operator.Next(ctx)
}

func (p *prepended) Close() error {
	ReleaseAll(p.held)
	p.held = nil
	return p.Operator.Close()
}

// countValid passes its input through, counting its first column's
// non-null values.
type countValid struct {
	Operator
	valid int64
}

func (c *countValid) Next(ctx context.Context) (arrow.RecordBatch, error) {
	b, err := c.Operator.Next(ctx)
	if err == nil {
		col := b.Column(0)
		c.valid += int64(col.Len() - col.NullN())
	}
	return b, err
}

func (c *countValid) Children() []Operator { return []Operator{c.Operator} }
func (c *countValid) String() string       { return "CountNonNull" }
