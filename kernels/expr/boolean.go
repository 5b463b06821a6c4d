package expr

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// isNull is is_null (want true) or is_not_null (want false), read from the
// validity bitmap. Arrow's own kernels (v18.8.0) panic on decimals, call
// every row of a null-typed array valid, and is_not_null ignores the
// offset of a sliced array.
func isNull(want bool) func(context.Context, []compute.Datum) (compute.Datum, error) {
	return func(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
		switch v := args[0].(type) {
		case *compute.ScalarDatum:
			return compute.NewDatum(scalar.NewBooleanScalar(v.Value.IsValid() != want)), nil
		case *compute.ArrayDatum:
			arr := v.MakeArray()
			defer arr.Release()
			n := arr.Len()
			buf := memory.NewResizableBuffer(Allocator(ctx))
			defer buf.Release()
			buf.Resize(int(bitutil.BytesForBits(int64(n))))
			bits := buf.Bytes()
			switch {
			case arr.DataType().ID() == arrow.NULL:
				memory.Set(bits, fill(want))
			case arr.NullN() == 0:
				memory.Set(bits, fill(!want))
			case want:
				bitutil.InvertBitmap(arr.NullBitmapBytes(), arr.Data().Offset(), n, bits, 0)
			default:
				bitutil.CopyBitmap(arr.NullBitmapBytes(), arr.Data().Offset(), n, bits, 0)
			}
			data := array.NewData(arrow.FixedWidthTypes.Boolean, n, []*memory.Buffer{nil, buf}, nil, 0, 0)
			defer data.Release()
			return compute.NewDatum(data), nil
		}
		return nil, fmt.Errorf("is_null of a %s", args[0].Kind())
	}
}

func fill(set bool) byte {
	if set {
		return 0xFF
	}
	return 0
}

// not inverts booleans; null stays null. Arrow's "not" (v18.8.0) keeps the
// input's validity bitmap but drops its offset, so on a sliced batch the
// nulls landed on the wrong rows.
func not(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
	switch v := args[0].(type) {
	case *compute.ScalarDatum:
		if !v.Value.IsValid() {
			return compute.NewDatum(scalar.MakeNullScalar(arrow.FixedWidthTypes.Boolean)), nil
		}
		return compute.NewDatum(scalar.NewBooleanScalar(!v.Value.(*scalar.Boolean).Value)), nil
	case *compute.ArrayDatum:
		arr := v.MakeArray()
		defer arr.Release()
		mem := Allocator(ctx)
		n, off := arr.Len(), arr.Data().Offset()
		vals := memory.NewResizableBuffer(mem)
		defer vals.Release()
		vals.Resize(int(bitutil.BytesForBits(int64(n))))
		var validity *memory.Buffer
		if n > 0 {
			bitutil.InvertBitmap(arr.Data().Buffers()[1].Bytes(), off, n, vals.Bytes(), 0)
			if arr.NullN() > 0 {
				validity = memory.NewResizableBuffer(mem)
				defer validity.Release()
				validity.Resize(int(bitutil.BytesForBits(int64(n))))
				bitutil.CopyBitmap(arr.NullBitmapBytes(), off, n, validity.Bytes(), 0)
			}
		}
		data := array.NewData(arrow.FixedWidthTypes.Boolean, n, []*memory.Buffer{validity, vals}, nil, arr.NullN(), 0)
		defer data.Release()
		return compute.NewDatum(data), nil
	}
	return nil, fmt.Errorf("not of a %s", args[0].Kind())
}
