package expr

import (
	"context"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"slipstream/kernels"
)

// modulo is a % b with the sign of a (truncated, as in SQL and Go). Arrow's
// compute has no modulo, so this is a typed loop per type.
func modulo(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
	mem := Allocator(ctx)
	n, anyArray := 1, false
	for _, a := range args {
		if ad, ok := a.(*compute.ArrayDatum); ok {
			n, anyArray = int(ad.Len()), true
		}
	}
	arrs := make([]arrow.Array, 2)
	for i, a := range args {
		switch v := a.(type) {
		case *compute.ArrayDatum:
			arrs[i] = v.MakeArray()
		case *compute.ScalarDatum:
			arr, err := scalar.MakeArrayFromScalar(v.Value, n, mem)
			if err != nil {
				return nil, err
			}
			arrs[i] = arr
		}
		defer arrs[i].Release()
	}
	var out arrow.Array
	var err error
	switch arrs[0].DataType().ID() {
	case arrow.INT8:
		out, err = modInts[int8](mem, arrs[0], arrs[1])
	case arrow.INT16:
		out, err = modInts[int16](mem, arrs[0], arrs[1])
	case arrow.INT32:
		out, err = modInts[int32](mem, arrs[0], arrs[1])
	case arrow.INT64:
		out, err = modInts[int64](mem, arrs[0], arrs[1])
	case arrow.UINT8:
		out, err = modInts[uint8](mem, arrs[0], arrs[1])
	case arrow.UINT16:
		out, err = modInts[uint16](mem, arrs[0], arrs[1])
	case arrow.UINT32:
		out, err = modInts[uint32](mem, arrs[0], arrs[1])
	case arrow.UINT64:
		out, err = modInts[uint64](mem, arrs[0], arrs[1])
	case arrow.FLOAT32:
		out = modFloats[float32](mem, arrs[0], arrs[1])
	case arrow.FLOAT64:
		out = modFloats[float64](mem, arrs[0], arrs[1])
	case arrow.DECIMAL128:
		out, err = modDecimals(mem, arrs[0], arrs[1])
	default:
		return nil, kernels.Errorf(kernels.NotSupported, "modulo of %s is not supported", TypeName(arrs[0].DataType()))
	}
	if err != nil {
		return nil, err
	}
	defer out.Release()
	if !anyArray {
		s, err := scalar.GetScalar(out, 0)
		if err != nil {
			return nil, err
		}
		return compute.NewDatum(s), nil
	}
	return compute.NewDatum(out), nil
}

type integer interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

// Values is the typed view of a fixed-width array's data buffer, offset applied.
func Values[T arrow.FixedWidthType](a arrow.Array) []T {
	return arrow.GetValues[T](a.Data(), 1)
}

// bothValid is the validity bitmap of rows where a and b are both non-null
// (nil when every row is).
func bothValid(mem memory.Allocator, a, b arrow.Array) (*memory.Buffer, int) {
	if a.NullN() == 0 && b.NullN() == 0 {
		return nil, 0
	}
	n := a.Len()
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(int(bitutil.BytesForBits(int64(n))))
	bits := buf.Bytes()
	nulls := 0
	for i := 0; i < n; i++ {
		ok := a.IsValid(i) && b.IsValid(i)
		bitutil.SetBitTo(bits, i, ok)
		if !ok {
			nulls++
		}
	}
	return buf, nulls
}

// FixedWidthArray builds an array of type t over a copy of vals; it takes
// ownership of validity (nil: no nulls).
func FixedWidthArray[T arrow.FixedWidthType](mem memory.Allocator, t arrow.DataType, vals []T, validity *memory.Buffer, nulls int) arrow.Array {
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(len(vals) * int(unsafeSizeof[T]()))
	copy(arrow.GetData[T](buf.Bytes()), vals)
	data := array.NewData(t, len(vals), []*memory.Buffer{validity, buf}, nil, nulls, 0)
	defer data.Release()
	buf.Release()
	if validity != nil {
		validity.Release()
	}
	return array.MakeFromData(data)
}

func modInts[T integer](mem memory.Allocator, a, b arrow.Array) (arrow.Array, error) {
	x, y := Values[T](a), Values[T](b)
	out := make([]T, len(x))
	validity, nulls := bothValid(mem, a, b)
	for i := range x {
		if y[i] == 0 {
			if validity == nil || bitutil.BitIsSet(validity.Bytes(), i) {
				if validity != nil {
					validity.Release()
				}
				return nil, kernels.Errorf(kernels.Invalid, "division by zero in modulo (row %d); filter out zero divisors or cast to float64", i)
			}
			continue
		}
		out[i] = x[i] % y[i]
	}
	return FixedWidthArray(mem, a.DataType(), out, validity, nulls), nil
}

func modFloats[T float32 | float64](mem memory.Allocator, a, b arrow.Array) arrow.Array {
	x, y := Values[T](a), Values[T](b)
	out := make([]T, len(x))
	for i := range x {
		out[i] = T(math.Mod(float64(x[i]), float64(y[i])))
	}
	validity, nulls := bothValid(mem, a, b)
	return FixedWidthArray(mem, a.DataType(), out, validity, nulls)
}

// modDecimals is the remainder of two decimals of one type, with the sign
// of the dividend.
func modDecimals(mem memory.Allocator, a, b arrow.Array) (arrow.Array, error) {
	x, y := Values[decimal128.Num](a), Values[decimal128.Num](b)
	out := make([]decimal128.Num, len(x))
	validity, nulls := bothValid(mem, a, b)
	for i := range x {
		if validity != nil && !bitutil.BitIsSet(validity.Bytes(), i) {
			continue
		}
		if y[i] == (decimal128.Num{}) {
			if validity != nil {
				validity.Release()
			}
			return nil, kernels.Errorf(kernels.Invalid, "division by zero in modulo (row %d); filter out zero divisors", i)
		}
		_, out[i] = x[i].Div(y[i])
	}
	return FixedWidthArray(mem, a.DataType(), out, validity, nulls), nil
}
