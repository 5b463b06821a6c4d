package exec

import (
	"context"
	"encoding/binary"
	"math"
	"math/bits"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels/budget"
)

// Filters and joins spend much of their time gathering rows. Arrow's take
// kernel appends value by value through builders and callbacks; these
// gathers copy with one typed loop per column (docs/design.md). Types they
// do not know (nested ones) go to Arrow's kernel.

// rowIndex is how gathers name rows: int64, where -1 stands for a null
// row, or uint32 (a join's build rows that are its group ids, every one
// present), which saves widening the ids and looking for negatives.
type rowIndex interface{ int64 | uint32 }

// takeRows gathers rows of arr: row k of the result is row rows[k] of arr,
// or null where rows[k] is negative.
func takeRows[I rowIndex](ctx context.Context, mem memory.Allocator, arr arrow.Array, rows []I) (arrow.Array, error) {
	if d, ok := arr.(*array.Dictionary); ok {
		// The indices move; the dictionary stays as it is.
		idx, err := takeRows(ctx, mem, d.Indices(), rows)
		if err != nil {
			return nil, err
		}
		defer idx.Release()
		return array.NewDictionaryArray(d.DataType(), idx, d.Dictionary()), nil
	}
	n := len(rows)
	if arr.DataType().ID() == arrow.NULL {
		return array.NewNull(n), nil
	}
	data := arr.Data()
	validity, nulls := takeValidity(mem, arr, rows)
	var bufs []*memory.Buffer
	switch dt := arr.DataType().(type) {
	case *arrow.BooleanType:
		out := newBuffer(mem, int(bitutil.BytesForBits(int64(n))))
		src, off := bufferBytes(data, 1), data.Offset()
		dst := out.Bytes()
		clear(dst)
		for k, r := range rows {
			if r >= 0 && bitutil.BitIsSet(src, off+int(r)) {
				bitutil.SetBit(dst, k)
			}
		}
		bufs = []*memory.Buffer{validity, out}
	case *arrow.StringType, *arrow.BinaryType:
		if varBinarySize[int32, I](data, rows) <= math.MaxInt32 { // else Arrow's take says it does not fit
			bufs = takeVarBinary[int32, I](mem, data, rows, validity)
		}
	case *arrow.LargeStringType, *arrow.LargeBinaryType:
		bufs = takeVarBinary[int64, I](mem, data, rows, validity)
	case arrow.FixedWidthDataType:
		if dt.ID() == arrow.DICTIONARY || dt.ID() == arrow.EXTENSION || len(data.Buffers()) != 2 {
			break // the values are not the whole story
		}
		var out *memory.Buffer
		switch dt.BitWidth() {
		case 8:
			out = gather[uint8, I](mem, arr, rows)
		case 16:
			out = gather[uint16, I](mem, arr, rows)
		case 32:
			out = gather[uint32, I](mem, arr, rows)
		case 64:
			out = gather[uint64, I](mem, arr, rows)
		case 128:
			out = gather[decimal128.Num, I](mem, arr, rows)
		}
		if out != nil {
			bufs = []*memory.Buffer{validity, out}
		}
	}
	if bufs == nil {
		if validity != nil {
			validity.Release()
		}
		idx := indexArray(mem, rows)
		defer idx.Release()
		return compute.TakeArray(ctx, arr, idx)
	}
	out := array.NewData(arr.DataType(), n, bufs, nil, nulls, 0)
	for _, b := range bufs {
		if b != nil {
			b.Release()
		}
	}
	defer out.Release()
	return array.MakeFromData(out), nil
}

func newBuffer(mem memory.Allocator, size int) *memory.Buffer {
	b := memory.NewResizableBuffer(mem)
	b.Resize(size)
	return b
}

// newWrittenBuffer is newBuffer for a buffer the caller writes whole
// before it is read: it may hold old bytes until then.
func newWrittenBuffer(mem memory.Allocator, size int) *memory.Buffer {
	return newBuffer(budget.Unzeroed(mem), size)
}

// takeValidity is the validity bitmap of the gathered rows and its null
// count; nil when none is null.
func takeValidity[I rowIndex](mem memory.Allocator, arr arrow.Array, rows []I) (*memory.Buffer, int) {
	srcNulls := arr.NullN() > 0
	missing := false
	if _, unsigned := any(rows).([]uint32); !srcNulls && unsigned {
		return nil, 0
	}
	if !srcNulls {
		for _, r := range rows {
			if r < 0 {
				missing = true
				break
			}
		}
		if !missing {
			return nil, 0
		}
	}
	out := newBuffer(mem, int(bitutil.BytesForBits(int64(len(rows)))))
	dst := out.Bytes()
	clear(dst)
	nulls := 0
	var valid []byte // read as a bitmap: IsValid through the interface is a call a row
	off := arr.Data().Offset()
	if srcNulls {
		valid = arr.NullBitmapBytes()
	}
	for k, r := range rows {
		if r >= 0 && (!srcNulls || bitutil.BitIsSet(valid, off+int(r))) {
			bitutil.SetBit(dst, k)
		} else {
			nulls++
		}
	}
	return out, nulls
}

// gather copies the fixed-width values at rows (zero where rows[k] < 0).
func gather[T uint8 | uint16 | uint32 | uint64 | decimal128.Num, I rowIndex](mem memory.Allocator, arr arrow.Array, rows []I) *memory.Buffer {
	src := arrow.GetValues[T](arr.Data(), 1)
	out := newWrittenBuffer(mem, len(rows)*int(unsafe.Sizeof(src[0])))
	dst := arrow.GetData[T](out.Bytes())[:len(rows)]
	for k, r := range rows {
		if r >= 0 {
			dst[k] = src[r]
		} else {
			var zero T
			dst[k] = zero
		}
	}
	return out
}

// takeVarBinary gathers strings or binaries with offsets of type O: one
// pass sizes the data, the next copies it.
func takeVarBinary[O int32 | int64, I rowIndex](mem memory.Allocator, data arrow.ArrayData, rows []I, validity *memory.Buffer) []*memory.Buffer {
	offs := arrow.GetData[O](bufferBytes(data, 1))
	if len(offs) > 0 {
		offs = offs[data.Offset():]
	}
	src := bufferBytes(data, 2)
	size := varBinarySize[O](data, rows)
	offBuf := newWrittenBuffer(mem, (len(rows)+1)*int(unsafe.Sizeof(offs[0])))
	outOffs := arrow.GetData[O](offBuf.Bytes())[:len(rows)+1]
	valBuf := newWrittenBuffer(mem, int(size)+moveRoom)
	dst := valBuf.Bytes()
	var at O
	for k, r := range rows {
		outOffs[k] = at
		if r >= 0 {
			at += moveValue(dst, at, src, offs[r], offs[r+1])
		}
	}
	valBuf.ResizeNoShrink(int(at)) // the room past the values holds nothing written
	outOffs[len(rows)] = at
	return []*memory.Buffer{validity, offBuf, valBuf}
}

// moveRoom is the bytes a string gather allocates past its values, so that
// moveValue may copy a short value as one 16-byte move, not a call to
// memmove; the buffer is then cut back to the values.
const moveRoom = 16

// moveValue copies src[lo:hi] to dst from at and says how many bytes it
// copied. dst must have moveRoom bytes past where the values end.
func moveValue[O int32 | int64 | int](dst []byte, at O, src []byte, lo, hi O) O {
	if hi-lo <= moveRoom && int(lo)+moveRoom <= len(src) {
		*(*[moveRoom]byte)(dst[at : at+moveRoom]) = *(*[moveRoom]byte)(src[lo : lo+moveRoom])
		return hi - lo
	}
	return O(copy(dst[at:], src[lo:hi]))
}

// expandDictionary is the values of d, row by row, as a plain array.
func expandDictionary(ctx context.Context, mem memory.Allocator, d *array.Dictionary) (arrow.Array, error) {
	return takeRows(ctx, mem, d.Dictionary(), dictionaryRows(d))
}

// dictionaryRows is, for each row of d, the index of its value in the
// dictionary, or -1 for a null row.
func dictionaryRows(d *array.Dictionary) []int64 {
	rows := make([]int64, d.Len())
	idx, fast := d.Indices().(*array.Int32) // what the Parquet readers give
	if fast && d.NullN() == 0 {
		for k, v := range idx.Int32Values() {
			rows[k] = int64(v)
		}
		return rows
	}
	for k := range rows {
		switch {
		case d.IsNull(k):
			rows[k] = -1
		case fast:
			rows[k] = int64(idx.Value(k))
		default:
			rows[k] = int64(d.GetValueIndex(k))
		}
	}
	return rows
}

// varBinarySize is the bytes of the strings or binaries at rows.
func varBinarySize[O int32 | int64, I rowIndex](data arrow.ArrayData, rows []I) int64 {
	offs := arrow.GetData[O](bufferBytes(data, 1))
	if len(offs) > 0 {
		offs = offs[data.Offset():]
	}
	var size int64
	for _, r := range rows {
		if r >= 0 {
			size += int64(offs[r+1] - offs[r])
		}
	}
	return size
}

// bufferBytes is buffer i of data, nil when absent (an empty array may have none).
func bufferBytes(data arrow.ArrayData, i int) []byte {
	if b := data.Buffers()[i]; b != nil {
		return b.Bytes()
	}
	return nil
}

// selectedRows lists the rows whose mask is true and not null.
func selectedRows(mask *array.Boolean, kept int) []int64 {
	rows := make([]int64, 0, kept)
	if mask.Len() == 0 {
		return rows
	}
	data := mask.Data()
	values, off, n := data.Buffers()[1].Bytes(), data.Offset(), mask.Len()
	var valid []byte
	if mask.NullN() > 0 {
		valid = data.Buffers()[0].Bytes()
	}
	// 64 rows at a time: most words of a selective mask are 0
	for i := 0; i < n; i += 64 {
		k := min(64, n-i)
		w := bitsAt(values, off+i, k)
		if valid != nil {
			w &= bitsAt(valid, off+i, k)
		}
		for ; w != 0; w &= w - 1 {
			rows = append(rows, int64(i+bits.TrailingZeros64(w)))
		}
	}
	return rows
}

// bitsAt is the k (at most 64) bits of bitmap from bit start, the first
// the lowest.
func bitsAt(bitmap []byte, start, k int) uint64 {
	var w uint64
	if b := start / 8; start%8 == 0 && b+8 <= len(bitmap) {
		w = binary.LittleEndian.Uint64(bitmap[b:])
	} else {
		for j := range k {
			if bitutil.BitIsSet(bitmap, start+j) {
				w |= 1 << j
			}
		}
	}
	if k < 64 {
		w &= 1<<k - 1
	}
	return w
}

// takeBatch copies the given rows of b into a new batch.
func takeBatch[I rowIndex](ctx context.Context, mem memory.Allocator, b arrow.RecordBatch, rows []I) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, 0, b.NumCols())
	defer func() { releaseArrays(cols) }()
	for _, c := range b.Columns() {
		out, err := takeRows(ctx, mem, c, rows)
		if err != nil {
			return nil, err
		}
		cols = append(cols, out)
	}
	return array.NewRecordBatch(b.Schema(), cols, int64(len(rows))), nil
}
