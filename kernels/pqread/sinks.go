package pqread

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels/budget"
)

// A sink turns one column's values into the Arrow array of a batch. The
// column reader hands it runs of values, each either dictionary indices or
// PLAIN-encoded bytes, with the definition levels of the rows they cover
// (nil when every row has a value).
type sink interface {
	startChunk()
	// dictionary takes a chunk's dictionary page: n PLAIN-encoded values.
	dictionary(page []byte, n int) error
	begin(mem memory.Allocator, rows int)
	fromDict(ids []uint32, levels []uint32) error
	// fromPlain reads len(levels) rows (m of them with a value, or m rows
	// when levels is nil) from data and returns what follows.
	fromPlain(data []byte, m int, levels []uint32) ([]byte, error)
	finish(validity *memory.Buffer, nulls int) arrow.Array
	// plainSize is the bytes of a PLAIN value, or 0 for byte arrays
	// (each after its length).
	plainSize() int
}

var errIndex = errors.New("parquet: dictionary index out of range (corrupt page?)")

// fixedSink reads 4- or 8-byte values, as stored (T the same width) or
// widened to decimal128.
type fixedSink[T uint32 | uint64 | decimal128.Num] struct {
	typ  arrow.DataType
	size int                       // bytes of one stored value
	conv func(dst []T, src []byte) // decodes len(dst) stored values
	dict []T
	buf  *memory.Buffer
	out  []T
	rows int
	pos  int
}

func (s *fixedSink[T]) startChunk() { s.dict = s.dict[:0] }

func (s *fixedSink[T]) dictionary(page []byte, n int) error {
	if n < 0 || len(page) < n*s.size {
		return errTruncated
	}
	s.dict = grow(s.dict, n)
	s.conv(s.dict, page)
	return nil
}

func (s *fixedSink[T]) begin(mem memory.Allocator, rows int) {
	var zero T
	s.buf = memory.NewResizableBuffer(budget.Unzeroed(mem)) // every row is written
	s.buf.Resize(rows * int(unsafe.Sizeof(zero)))
	s.out, s.rows, s.pos = nil, rows, 0
	if rows > 0 {
		s.out = unsafe.Slice((*T)(unsafe.Pointer(&s.buf.Bytes()[0])), rows)
	}
}

func (s *fixedSink[T]) fromDict(ids []uint32, levels []uint32) error {
	dst, d := s.out[s.pos:s.pos+len(ids)], s.dict
	for j, ix := range ids {
		if int(ix) >= len(d) {
			return errIndex
		}
		dst[j] = d[ix]
	}
	s.spread(len(ids), levels)
	return nil
}

func (s *fixedSink[T]) fromPlain(data []byte, m int, levels []uint32) ([]byte, error) {
	if len(data) < m*s.size {
		return nil, errTruncated
	}
	s.conv(s.out[s.pos:s.pos+m], data)
	s.spread(m, levels)
	return data[m*s.size:], nil
}

// spread moves the m values just written at pos to the rows that have a
// value, from the back, and zeroes the null rows.
func (s *fixedSink[T]) spread(m int, levels []uint32) {
	if levels == nil {
		s.pos += m
		return
	}
	src := s.pos + m - 1
	var zero T
	for r := len(levels) - 1; r >= 0; r-- {
		if levels[r] == 1 {
			s.out[s.pos+r] = s.out[src]
			src--
		} else {
			s.out[s.pos+r] = zero
		}
	}
	s.pos += len(levels)
}

func (s *fixedSink[T]) finish(validity *memory.Buffer, nulls int) arrow.Array {
	data := array.NewData(s.typ, s.rows, []*memory.Buffer{validity, s.buf}, nil, nulls, 0)
	defer data.Release()
	s.buf.Release()
	s.buf, s.out = nil, nil
	return array.MakeFromData(data)
}

func (s *fixedSink[T]) plainSize() int { return s.size }
func (s *binarySink) plainSize() int   { return 0 }
func (s *dictSink) plainSize() int     { return 0 }

// le32 and le64 decode little-endian values: on a little-endian machine a
// copy, which runs several times faster than a loop of loads.
func le32(dst []uint32, src []byte) { leCopy(dst, src, binary.LittleEndian.Uint32) }
func le64(dst []uint64, src []byte) { leCopy(dst, src, binary.LittleEndian.Uint64) }

func leCopy[T uint32 | uint64](dst []T, src []byte, load func([]byte) T) {
	size := int(unsafe.Sizeof(T(0)))
	if len(dst) == 0 {
		return
	}
	_ = src[len(dst)*size-1]
	if littleEndian {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(dst))), len(dst)*size), src)
		return
	}
	for i := range dst {
		dst[i] = load(src[size*i:])
	}
}

var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

func decimalOf32(dst []decimal128.Num, src []byte) {
	for i := range dst {
		dst[i] = decimal128.FromI64(int64(int32(binary.LittleEndian.Uint32(src[4*i:]))))
	}
}

func decimalOf64(dst []decimal128.Num, src []byte) {
	for i := range dst {
		dst[i] = decimal128.FromI64(int64(binary.LittleEndian.Uint64(src[8*i:])))
	}
}

// byteValues holds byte strings end to end: value i is
// data[off[i]:off[i+1]].
type byteValues struct {
	off  []int32
	data []byte
}

func (v *byteValues) reset()   { v.off, v.data = append(v.off[:0], 0), v.data[:0] }
func (v *byteValues) len() int { return len(v.off) - 1 }

// truncate keeps the first n values.
func (v *byteValues) truncate(n int) { v.off, v.data = v.off[:n+1], v.data[:v.off[n]] }

func (v *byteValues) value(i uint32) ([]byte, error) {
	if int(i) >= v.len() {
		return nil, errIndex
	}
	return v.data[v.off[i]:v.off[i+1]], nil
}

func (v *byteValues) add(b []byte) error {
	if len(v.data)+len(b) > math.MaxInt32 {
		return errors.New("parquet: more than 2 GiB of strings in one batch")
	}
	v.data = append(v.data, b...)
	v.off = append(v.off, int32(len(v.data)))
	return nil
}

// plainValue splits the first PLAIN byte array off data.
func plainValue(data []byte) (val, rest []byte, err error) {
	if len(data) < 4 {
		return nil, nil, errTruncated
	}
	n := binary.LittleEndian.Uint32(data)
	if uint64(n) > uint64(len(data)-4) {
		return nil, nil, errTruncated
	}
	return data[4 : 4+n], data[4+n:], nil
}

// readPlain adds n PLAIN byte arrays of page to v.
func (v *byteValues) readPlain(page []byte, n int) error {
	for range n {
		val, rest, err := plainValue(page)
		if err != nil {
			return err
		}
		if err := v.add(val); err != nil {
			return err
		}
		page = rest
	}
	return nil
}

// array builds v as a string or binary array with mem.
func (v *byteValues) array(mem memory.Allocator, typ arrow.DataType, validity *memory.Buffer, nulls int) arrow.Array {
	return v.arrayFrom(mem, typ, validity, nulls, 0)
}

// arrayFrom builds v's values from the first-th on as a string or binary
// array with mem.
func (v *byteValues) arrayFrom(mem memory.Allocator, typ arrow.DataType, validity *memory.Buffer, nulls, first int) arrow.Array {
	offs := memory.NewResizableBuffer(mem)
	offs.Resize((len(v.off) - first) * 4)
	dst, start := arrow.Int32Traits.CastFromBytes(offs.Bytes()), v.off[first]
	for i, o := range v.off[first:] {
		dst[i] = o - start
	}
	data := memory.NewResizableBuffer(mem)
	data.Resize(len(v.data) - int(start))
	copy(data.Bytes(), v.data[start:])
	d := array.NewData(typ, v.len()-first, []*memory.Buffer{validity, offs, data}, nil, nulls, 0)
	defer d.Release()
	offs.Release()
	data.Release()
	return array.MakeFromData(d)
}

// binarySink reads byte arrays as a string or binary array.
type binarySink struct {
	typ  arrow.DataType
	dict byteValues
	out  byteValues // the batch's values (null rows empty)
	mem  memory.Allocator
}

func (s *binarySink) startChunk() { s.dict.reset() }

func (s *binarySink) dictionary(page []byte, n int) error {
	s.dict.reset()
	return s.dict.readPlain(page, n)
}

func (s *binarySink) begin(mem memory.Allocator, rows int) {
	s.mem = mem
	s.out.reset()
	s.out.off = slices.Grow(s.out.off, rows)
}

func (s *binarySink) fromDict(ids []uint32, levels []uint32) error {
	j := 0
	for r := range max(len(levels), len(ids)) {
		var val []byte
		if levels == nil || levels[r] == 1 {
			var err error
			if val, err = s.dict.value(ids[j]); err != nil {
				return err
			}
			j++
		}
		if err := s.out.add(val); err != nil {
			return err
		}
	}
	return nil
}

func (s *binarySink) fromPlain(data []byte, m int, levels []uint32) ([]byte, error) {
	for r := range max(len(levels), m) {
		var val []byte
		if levels == nil || levels[r] == 1 {
			var err error
			if val, data, err = plainValue(data); err != nil {
				return nil, err
			}
		}
		if err := s.out.add(val); err != nil {
			return nil, err
		}
	}
	return data, nil
}

func (s *binarySink) finish(validity *memory.Buffer, nulls int) arrow.Array {
	return s.out.array(s.mem, s.typ, validity, nulls)
}

// dictSink reads byte arrays as a dictionary array (int32 indices) over
// the chunk's dictionary; a value of a PLAIN page (the writer's dictionary
// filled up) joins the dictionary for its batch only: the next batch's
// dictionary is the chunk's again. Kept for the chunk, the values of
// every PLAIN page would be copied again for each later batch, and
// encoded again by the group-by reading the dictionary: work quadratic in
// a row group of distinct strings.
type dictSink struct {
	typ     *arrow.DictionaryType
	dict    byteValues
	pageLen int         // the values of the chunk's dictionary page
	plain   bool        // dict holds the batch's PLAIN values past pageLen
	paged   bool        // a row of the batch is a value of the dictionary page
	arr     arrow.Array // dict as an array, while it has arrLen values
	arrLen  int
	mem     memory.Allocator
	buf     *memory.Buffer
	ids     []int32
	pos     int
	rows    int
}

func (s *dictSink) startChunk() {
	s.release()
	s.dict.reset()
	s.pageLen, s.plain = 0, false
}

func (s *dictSink) dictionary(page []byte, n int) error {
	s.startChunk()
	err := s.dict.readPlain(page, n)
	s.pageLen = s.dict.len()
	return err
}

func (s *dictSink) begin(mem memory.Allocator, rows int) {
	if s.plain { // the last batch's PLAIN values were its own
		s.release()
		s.dict.truncate(s.pageLen)
		s.plain = false
	}
	s.mem, s.rows, s.pos, s.paged = mem, rows, 0, false
	s.buf = memory.NewResizableBuffer(mem)
	s.buf.Resize(rows * 4)
	s.ids = arrow.Int32Traits.CastFromBytes(s.buf.Bytes())
}

func (s *dictSink) fromDict(ids []uint32, levels []uint32) error {
	j, n := 0, uint32(s.dict.len())
	for r := range max(len(levels), len(ids)) {
		id := int32(0)
		if levels == nil || levels[r] == 1 {
			if ids[j] >= n {
				return errIndex
			}
			id = int32(ids[j])
			j++
			s.paged = true
		}
		s.ids[s.pos] = id
		s.pos++
	}
	return nil
}

func (s *dictSink) fromPlain(data []byte, m int, levels []uint32) ([]byte, error) {
	for r := range max(len(levels), m) {
		id := int32(0)
		if levels == nil || levels[r] == 1 {
			var val []byte
			var err error
			if val, data, err = plainValue(data); err != nil {
				return nil, err
			}
			if err := s.dict.add(val); err != nil {
				return nil, err
			}
			s.plain = true
			id = int32(s.dict.len() - 1)
		}
		s.ids[s.pos] = id
		s.pos++
	}
	return data, nil
}

func (s *dictSink) finish(validity *memory.Buffer, nulls int) arrow.Array {
	if s.plain && !s.paged && s.pageLen > 0 {
		// Every row is on a PLAIN page (the writer's dictionary filled
		// up): the batch's dictionary is its own values, not the page's
		// too, which a group-by reading it would encode batch after batch.
		for i, id := range s.ids[:s.pos] {
			s.ids[i] = max(id-int32(s.pageLen), 0) // a null row's 0 stays 0
		}
		values := s.dict.arrayFrom(s.mem, s.typ.ValueType, nil, 0, s.pageLen)
		defer values.Release()
		return s.indexed(validity, nulls, values)
	}
	if s.arr == nil || s.arrLen != s.dict.len() || s.dict.len() == 0 {
		s.release()
		s.arr, s.arrLen = s.dict.array(s.mem, s.typ.ValueType, nil, 0), s.dict.len()
	}
	return s.indexed(validity, nulls, s.arr)
}

// indexed is the batch's ids (and validity) over the dictionary values.
func (s *dictSink) indexed(validity *memory.Buffer, nulls int, values arrow.Array) arrow.Array {
	d := array.NewData(s.typ.IndexType, s.rows, []*memory.Buffer{validity, s.buf}, nil, nulls, 0)
	defer d.Release()
	s.buf.Release()
	s.buf, s.ids = nil, nil
	idx := array.MakeFromData(d)
	defer idx.Release()
	return array.NewDictionaryArray(s.typ, idx, values)
}

func (s *dictSink) release() {
	if s.arr != nil {
		s.arr.Release()
		s.arr = nil
	}
}

// grow returns s with length n, reusing its storage when it is enough.
func grow[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n)
}

func unsupported(format string, args ...any) error {
	return fmt.Errorf("parquet: "+format, args...)
}
