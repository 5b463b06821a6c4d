package expr

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// Money expressions (price * (1 - discount)) are decimal arithmetic on
// every row. Arrow's kernels first rescale each operand into a new array,
// then combine values one callback at a time; these loops do both in one
// pass. The result type is the exact one resolveArith chose (at most 38
// digits, which 128 bits always hold), so no value can overflow.

// decimalArith is add, subtract or multiply, in one loop when both
// operands are decimal128 and at least one is an array; else Arrow's.
func decimalArith(op string) func(context.Context, []compute.Datum) (compute.Datum, error) {
	fallback := arrowCall(op)
	return func(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
		x, okx := decimalOperandOf(args[0])
		defer x.release()
		y, oky := decimalOperandOf(args[1])
		defer y.release()
		if !okx || !oky || x.n < 0 && y.n < 0 {
			return fallback(ctx, args)
		}
		var p, s int32
		if op == "multiply" {
			p, s = decimalMulType(x.t, y.t)
		} else {
			p, s = decimalAddType(x.t, y.t)
		}
		if p > 38 {
			return fallback(ctx, args)
		}
		n := max(x.n, y.n)
		mem := Allocator(ctx)
		validity, nulls := x.validity(mem, y)
		buf := memory.NewResizableBuffer(mem)
		buf.Resize(n * arrow.Decimal128SizeBytes)
		out := arrow.GetData[decimal128.Num](buf.Bytes())[:n]
		xs, ys, xi, yi := x.vals, y.vals, x.stride(), y.stride()
		if op == "multiply" {
			for i := range out {
				out[i] = xs[i*xi].Mul(ys[i*yi])
			}
		} else {
			// Both sides at the result's scale, then one add per row.
			xs, ys = rescaled(xs, int(s-x.t.Scale)), rescaled(ys, int(s-y.t.Scale))
			if op == "subtract" {
				for i := range out {
					out[i] = xs[i*xi].Sub(ys[i*yi])
				}
			} else {
				for i := range out {
					out[i] = xs[i*xi].Add(ys[i*yi])
				}
			}
		}
		data := array.NewData(&arrow.Decimal128Type{Precision: p, Scale: s}, n, []*memory.Buffer{validity, buf}, nil, nulls, 0)
		buf.Release()
		if validity != nil {
			validity.Release()
		}
		return &compute.ArrayDatum{Value: data}, nil // owns data
	}
}

// decimalOperand is a decimal128 array (n rows) or scalar (n = -1); the
// caller releases it.
type decimalOperand struct {
	t    *arrow.Decimal128Type
	vals []decimal128.Num // one value for a scalar
	arr  arrow.Array      // nil for a scalar
	n    int
}

func decimalOperandOf(d compute.Datum) (decimalOperand, bool) {
	switch d := d.(type) {
	case *compute.ArrayDatum:
		t, ok := d.Type().(*arrow.Decimal128Type)
		if !ok {
			return decimalOperand{}, false
		}
		arr := d.MakeArray()
		return decimalOperand{t: t, vals: Values[decimal128.Num](arr), arr: arr, n: arr.Len()}, true
	case *compute.ScalarDatum:
		s, ok := d.Value.(*scalar.Decimal128)
		if !ok || !s.IsValid() {
			return decimalOperand{}, false // a null scalar: Arrow's kernel makes the nulls
		}
		return decimalOperand{t: s.Type.(*arrow.Decimal128Type), vals: []decimal128.Num{s.Value}, n: -1}, true
	}
	return decimalOperand{}, false
}

func (o decimalOperand) release() {
	if o.arr != nil {
		o.arr.Release()
	}
}

// stride is how far the value of row i is from that of row 0: 0 for a scalar.
func (o decimalOperand) stride() int {
	if o.arr == nil {
		return 0
	}
	return 1
}

// rescaled is vals multiplied by 10^by (a new slice unless by is 0).
func rescaled(vals []decimal128.Num, by int) []decimal128.Num {
	if by == 0 {
		return vals
	}
	m := decimal128.GetScaleMultiplier(by)
	out := make([]decimal128.Num, len(vals))
	for i, v := range vals {
		out[i] = v.Mul(m)
	}
	return out
}

// validity is the bitmap of rows where o and other (not both scalars, and
// scalars are valid) are both valid, and its null count.
func (o decimalOperand) validity(mem memory.Allocator, other decimalOperand) (*memory.Buffer, int) {
	a, b := o.arr, other.arr
	if a == nil {
		a = b
	}
	if b == nil {
		b = a
	}
	return bothValid(mem, a, b)
}

// widenDecimal casts a decimal128 array to a type of the same scale without
// a copy, when the type's precision is at least the array's or every value
// fits it: the values stay the same bits. It takes ownership of d when ok.
func widenDecimal(d compute.Datum, t arrow.DataType) (compute.Datum, bool) {
	a, ok := d.(*compute.ArrayDatum)
	if !ok {
		return nil, false
	}
	from, ok1 := a.Type().(*arrow.Decimal128Type)
	to, ok2 := t.(*arrow.Decimal128Type)
	if !ok1 || !ok2 || from.Scale != to.Scale {
		return nil, false
	}
	v := a.Value
	if from.Precision > to.Precision {
		// Narrower (arithmetic keeping a product within 38 digits): the
		// same values when every one fits; else Arrow's cast, which says
		// which does not.
		arr := a.MakeArray()
		defer arr.Release()
		vals := Values[decimal128.Num](arr)
		for i, x := range vals {
			if !x.FitsInPrecision(to.Precision) && arr.IsValid(i) {
				return nil, false
			}
		}
	}
	out := array.NewData(to, v.Len(), v.Buffers(), nil, v.NullN(), v.Offset())
	d.Release()
	return &compute.ArrayDatum{Value: out}, true
}
