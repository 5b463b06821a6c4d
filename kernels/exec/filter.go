package exec

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"slipstream/kernels"
	"slipstream/kernels/expr"
)

// Filter keeps the rows whose predicate is true; null counts as false.
type Filter struct {
	input Operator
	pred  expr.Expr
}

// NewFilter checks that pred is boolean.
func NewFilter(input Operator, pred expr.Expr) (*Filter, error) {
	if pred.DataType().ID() != arrow.BOOL {
		return nil, kernels.Errorf(kernels.Invalid, "filter predicate %s is %s, not boolean", pred, expr.TypeName(pred.DataType()))
	}
	return &Filter{input: input, pred: pred}, nil
}

func (f *Filter) Schema() *arrow.Schema { return f.input.Schema() }
func (f *Filter) String() string        { return "Filter " + f.pred.String() }
func (f *Filter) Children() []Operator  { return []Operator{f.input} }
func (f *Filter) Close() error          { return f.input.Close() }

func (f *Filter) Next(ctx context.Context) (arrow.RecordBatch, error) {
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
	mask, err := f.pred.Eval(ctx, b)
	if err != nil {
		return nil, err
	}
	defer mask.Release()
	if s, ok := mask.(*compute.ScalarDatum); ok {
		if v, ok := s.Value.(*scalar.Boolean); ok && v.IsValid() && v.Value {
			b.Retain()
			return b, nil
		}
		return nil, nil
	}
	arr := mask.(*compute.ArrayDatum).MakeArray()
	defer arr.Release()
	kept := countTrue(arr.(*array.Boolean))
	switch {
	case kept == int(b.NumRows()):
		// Every row passes (common: a date bound most batches satisfy):
		// no copy.
		b.Retain()
		return b, nil
	case kept == 0:
		return nil, nil
	}
	return takeBatch(ctx, expr.Allocator(ctx), b, selectedRows(arr.(*array.Boolean), kept))
}

// countTrue counts the rows that are true and not null.
func countTrue(a *array.Boolean) int {
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
