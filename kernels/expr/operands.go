package expr

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// This file holds what the function kernels of conditional.go, strings.go,
// numeric.go and temporal.go share: reading evaluated arguments, typed
// views of string and boolean arrays, and building results.

// rowCount is the length of the array arguments (1 when every argument is
// a scalar), and whether there is any array.
func rowCount(args []compute.Datum) (int, bool) {
	for _, a := range args {
		if ad, ok := a.(*compute.ArrayDatum); ok {
			return int(ad.Len()), true
		}
	}
	return 1, false
}

// asArray is d as an array of n rows (a scalar is repeated); the caller
// releases it.
func asArray(mem memory.Allocator, d compute.Datum, n int) (arrow.Array, error) {
	switch v := d.(type) {
	case *compute.ArrayDatum:
		return v.MakeArray(), nil
	case *compute.ScalarDatum:
		return scalar.MakeArrayFromScalar(v.Value, n, mem)
	}
	return nil, fmt.Errorf("expected an array or a scalar, got a %s", d.Kind())
}

// firstArg reads a function's first argument as an array (a scalar
// repeated to the other arguments' length) from the query's allocator, and
// says whether any argument is an array (else the answer is a scalar: see
// result); the caller releases x.
func firstArg(ctx context.Context, args []compute.Datum) (mem memory.Allocator, x arrow.Array, anyArray bool, err error) {
	n, anyArray := rowCount(args)
	mem = Allocator(ctx)
	x, err = asArray(mem, args[0], n)
	return mem, x, anyArray, err
}

// asArrays is asArray for each argument; release frees them all.
func asArrays(mem memory.Allocator, args []compute.Datum, n int) (arrs []arrow.Array, release func(), err error) {
	arrs = make([]arrow.Array, 0, len(args))
	release = func() {
		for _, a := range arrs {
			a.Release()
		}
	}
	for _, d := range args {
		a, err := asArray(mem, d, n)
		if err != nil {
			release()
			return nil, nil, err
		}
		arrs = append(arrs, a)
	}
	return arrs, release, nil
}

// result wraps out (taking ownership) as the function's value: an array,
// or its one row as a scalar when every argument was a scalar.
func result(out arrow.Array, anyArray bool) (compute.Datum, error) {
	defer out.Release()
	if anyArray {
		return compute.NewDatum(out), nil
	}
	s, err := scalar.GetScalar(out, 0)
	if err != nil {
		return nil, err
	}
	return compute.NewDatumWithoutOwning(s), nil
}

// constant is the value of a scalar argument, or nil for an array.
func constant(d compute.Datum) scalar.Scalar {
	if s, ok := d.(*compute.ScalarDatum); ok {
		return s.Value
	}
	return nil
}

// scalarString is the text of a valid string scalar.
func scalarString(s scalar.Scalar) (string, bool) {
	if s == nil || !s.IsValid() {
		return "", false
	}
	if b, ok := s.(scalar.BinaryScalar); ok {
		return string(b.Data()), true
	}
	return "", false
}

// scalarInt is the value of a valid integer scalar.
func scalarInt(s scalar.Scalar) (int64, bool) {
	if s == nil || !s.IsValid() {
		return 0, false
	}
	switch v := s.(type) {
	case *scalar.Int64:
		return v.Value, true
	case *scalar.Int32:
		return int64(v.Value), true
	case *scalar.Int16:
		return int64(v.Value), true
	case *scalar.Int8:
		return int64(v.Value), true
	case *scalar.Uint64:
		return int64(v.Value), true
	case *scalar.Uint32:
		return int64(v.Value), true
	case *scalar.Uint16:
		return int64(v.Value), true
	case *scalar.Uint8:
		return int64(v.Value), true
	}
	return 0, false
}

// bitsOf is the bitmap of a boolean array's values and its bit offset.
func bitsOf(a arrow.Array) ([]byte, int) {
	if b := a.Data().Buffers()[1]; b != nil {
		return b.Bytes(), a.Data().Offset()
	}
	return nil, 0
}

// validBits is an array's validity bitmap and bit offset; nil when it has
// no nulls.
func validBits(a arrow.Array) ([]byte, int) {
	if a.NullN() == 0 {
		return nil, 0
	}
	if a.DataType().ID() == arrow.NULL {
		return make([]byte, bitutil.BytesForBits(int64(a.Len()))), 0
	}
	return a.NullBitmapBytes(), a.Data().Offset()
}

func isValidAt(bits []byte, off, i int) bool {
	return bits == nil || bitutil.BitIsSet(bits, off+i)
}

// strView is a typed view of a utf8 or large_utf8 array: row i is
// data[offs[i]:offs[i+1]] and is null when valid says so.
type strView[O int32 | int64] struct {
	offs  []O
	data  []byte
	valid []byte
	voff  int
}

func viewOf[O int32 | int64](a arrow.Array) strView[O] {
	d := a.Data()
	v := strView[O]{}
	if d.Len() == 0 {
		v.offs = []O{0}
		return v
	}
	v.offs = arrow.GetData[O](d.Buffers()[1].Bytes())[d.Offset() : d.Offset()+d.Len()+1]
	if b := d.Buffers()[2]; b != nil {
		v.data = b.Bytes()
	}
	v.valid, v.voff = validBits(a)
	return v
}

func (v strView[O]) isValid(i int) bool { return v.valid == nil || bitutil.BitIsSet(v.valid, v.voff+i) }

// at is row i without a copy; it aliases the array's buffer.
func (v strView[O]) at(i int) string {
	b := v.data[v.offs[i]:v.offs[i+1]]
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// boolOut builds a boolean array bit by bit.
type boolOut struct {
	vals, valid *memory.Buffer
	n, nulls    int
}

func newBoolOut(mem memory.Allocator, n int) *boolOut {
	o := &boolOut{n: n, vals: memory.NewResizableBuffer(mem)}
	o.vals.Resize(int(bitutil.BytesForBits(int64(n))))
	memory.Set(o.vals.Bytes(), 0)
	return o
}

func (o *boolOut) set(i int, v bool) {
	if v {
		bitutil.SetBit(o.vals.Bytes(), i)
	}
}

func (o *boolOut) setNull(i int, mem memory.Allocator) {
	if o.valid == nil {
		o.valid = memory.NewResizableBuffer(mem)
		o.valid.Resize(int(bitutil.BytesForBits(int64(o.n))))
		memory.Set(o.valid.Bytes(), 0xFF)
	}
	bitutil.ClearBit(o.valid.Bytes(), i)
	o.nulls++
}

func (o *boolOut) finish() arrow.Array {
	data := array.NewData(arrow.FixedWidthTypes.Boolean, o.n, []*memory.Buffer{o.valid, o.vals}, nil, o.nulls, 0)
	defer data.Release()
	o.vals.Release()
	if o.valid != nil {
		o.valid.Release()
	}
	return array.MakeFromData(data)
}

// strOut builds a utf8 (int32 offsets) or large_utf8 (int64) array.
type strOut[O int32 | int64] struct {
	mem   memory.Allocator
	dt    arrow.DataType
	offs  []O
	data  []byte
	valid []bool
	nulls int
}

func newStrOut[O int32 | int64](mem memory.Allocator, dt arrow.DataType, n, bytes int) *strOut[O] {
	o := &strOut[O]{mem: mem, dt: dt, offs: make([]O, 1, n+1), data: make([]byte, 0, bytes), valid: make([]bool, 0, n)}
	return o
}

func (o *strOut[O]) append(s string) {
	o.data = append(o.data, s...)
	o.offs = append(o.offs, O(len(o.data)))
	o.valid = append(o.valid, true)
}

// endRow closes a row whose bytes were appended to data directly.
func (o *strOut[O]) endRow() {
	o.offs = append(o.offs, O(len(o.data)))
	o.valid = append(o.valid, true)
}

func (o *strOut[O]) appendNull() {
	o.offs = append(o.offs, O(len(o.data)))
	o.valid = append(o.valid, false)
	o.nulls++
}

func (o *strOut[O]) finish() (arrow.Array, error) {
	if len(o.data) > 0 && int64(len(o.data)) != int64(O(len(o.data))) {
		return nil, invalid("a string result holds %d bytes, more than utf8 offsets can address; cast to large_utf8 first", len(o.data))
	}
	offs := memory.NewResizableBuffer(o.mem)
	offs.Resize(len(o.offs) * int(unsafe.Sizeof(O(0))))
	copy(arrow.GetData[O](offs.Bytes()), o.offs)
	data := memory.NewResizableBuffer(o.mem)
	data.Resize(len(o.data))
	copy(data.Bytes(), o.data)
	var valid *memory.Buffer
	if o.nulls > 0 {
		valid, _ = ValidityOf(o.mem, o.valid)
	}
	arr := array.NewData(o.dt, len(o.valid), []*memory.Buffer{valid, offs, data}, nil, o.nulls, 0)
	defer arr.Release()
	offs.Release()
	data.Release()
	if valid != nil {
		valid.Release()
	}
	return array.MakeFromData(arr), nil
}

// stringType is the type a string function computes in: utf8 and
// large_utf8 as they are, views as large_utf8; ok is false for non-strings.
func stringType(t arrow.DataType) (arrow.DataType, bool) {
	switch t.ID() {
	case arrow.STRING, arrow.LARGE_STRING:
		return t, true
	case arrow.STRING_VIEW:
		return arrow.BinaryTypes.LargeString, true
	}
	return nil, false
}

// commonType is the type every value of a conditional or coalesce is cast
// to: untyped nulls take the others' type; numbers widen; strings become
// large_utf8 unless all are utf8; dates meet timestamps as timestamps.
func commonType(fn string, types []arrow.DataType) (arrow.DataType, error) {
	var common arrow.DataType
	for _, t := range types {
		if IsNull(t) {
			continue
		}
		if t.ID() == arrow.STRING_VIEW {
			t = arrow.BinaryTypes.LargeString
		}
		if common == nil || arrow.TypeEqual(common, t) {
			common = t
			continue
		}
		next, err := CommonComparable(common, t)
		if err != nil {
			return nil, invalid("%s cannot combine values of types %s and %s: cast them to one type first", fn, TypeName(common), TypeName(t))
		}
		common = next
	}
	if common == nil {
		return arrow.Null, nil
	}
	return common, nil
}

func repeat(t arrow.DataType, n int) []arrow.DataType {
	out := make([]arrow.DataType, n)
	for i := range out {
		out[i] = t
	}
	return out
}

// pick builds the result of a conditional: row i is row i of source
// choice[i] (sources are arrays as long as the batch, or scalars). It
// concatenates the sources and takes from them, so it handles every type.
func pick(ctx context.Context, dt arrow.DataType, sources []compute.Datum, choice []int, n int) (arrow.Array, error) {
	mem := Allocator(ctx)
	parts := make([]arrow.Array, len(sources))
	base := make([]int64, len(sources))
	isArr := make([]bool, len(sources))
	defer func() {
		for _, p := range parts {
			if p != nil {
				p.Release()
			}
		}
	}()
	var total int64
	for j, s := range sources {
		_, isArr[j] = s.(*compute.ArrayDatum)
		rows := 1
		if isArr[j] {
			rows = n
		}
		p, err := asArray(mem, s, rows)
		if err != nil {
			return nil, err
		}
		parts[j] = p
		base[j] = total
		total += int64(rows)
	}
	idx := make([]int64, n)
	for i, j := range choice {
		idx[i] = base[j]
		if isArr[j] {
			idx[i] += int64(i)
		}
	}
	all, err := array.Concatenate(parts, mem)
	if err != nil {
		return nil, err
	}
	defer all.Release()
	indices := FixedWidthArray(mem, arrow.PrimitiveTypes.Int64, idx, nil, 0)
	defer indices.Release()
	if !arrow.TypeEqual(all.DataType(), dt) {
		return nil, fmt.Errorf("conditional sources are %s, want %s", all.DataType(), dt)
	}
	return compute.TakeArray(ctx, all, indices)
}

// boolAsUint8 is a boolean datum as 0/1 uint8 values, for comparisons
// Arrow has no boolean kernel for. Arrow's own cast (v18.8.0) ignores the
// offset of a sliced boolean array, so the values came from the wrong rows.
func boolAsUint8(ctx context.Context, d compute.Datum) (compute.Datum, error) {
	if s := constant(d); s != nil {
		if !s.IsValid() {
			return compute.NewDatum(scalar.MakeNullScalar(arrow.PrimitiveTypes.Uint8)), nil
		}
		v := uint8(0)
		if s.(*scalar.Boolean).Value {
			v = 1
		}
		return compute.NewDatum(scalar.NewUint8Scalar(v)), nil
	}
	arr := d.(*compute.ArrayDatum).MakeArray()
	defer arr.Release()
	mem := Allocator(ctx)
	n := arr.Len()
	vals := make([]uint8, n)
	bits, off := bitsOf(arr)
	for i := range vals {
		if bits != nil && bitIsSet(bits, off+i) {
			vals[i] = 1
		}
	}
	var validity *memory.Buffer
	if arr.NullN() > 0 {
		validity = memory.NewResizableBuffer(mem)
		validity.Resize(int(bitutil.BytesForBits(int64(n))))
		bitutil.CopyBitmap(arr.NullBitmapBytes(), arr.Data().Offset(), n, validity.Bytes(), 0)
	}
	out := FixedWidthArray(mem, arrow.PrimitiveTypes.Uint8, vals, validity, arr.NullN())
	defer out.Release()
	return compute.NewDatum(out), nil
}
