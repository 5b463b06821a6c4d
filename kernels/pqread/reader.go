// Package pqread reads the columns of flat Parquet files straight into the
// Arrow arrays the engine computes on.
//
// pqarrow, arrow-go's Parquet reader, reads every layout Parquet has, but
// on the common one (flat columns, PLAIN or dictionary pages) it spends
// more than the rest of a scan: decimals stored as integers pass through
// an integer copy before widening, a chunk's dictionary is decoded lazily
// and grown by append, and every batch's values go through a record
// reader's buffers. This package decodes such pages itself: a chunk's
// dictionary once, in the output type, then one gather per batch. It still
// uses arrow-go for everything below the page (headers, decompression).
// Open says whether it can read a file's columns; when it cannot, the
// caller uses pqarrow.
package pqread

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/schema"
)

// Reader is an array.RecordReader over some columns of some row groups of
// one file, in batches of at most batchRows rows within one row group.
type Reader struct {
	refs      atomic.Int64
	pf        *file.Reader
	schema    *arrow.Schema
	cols      []*column
	groups    []int
	mem       memory.Allocator
	batchRows int64

	g    int   // groups[g] is the next row group
	left int64 // rows of the current row group not read
	cur  arrow.RecordBatch
	err  error

	// late columns are read by Fill, for the rows a filter keeps; until
	// then a batch holds a null array in their place (schema lateSchema).
	// unread[i] says late column i has not read the current batch's
	// pending rows.
	late       []bool
	lateSchema *arrow.Schema
	pending    int
	unread     []bool

	// chunks, when set, holds decoded column chunks: a column of a row
	// group found there is not read at all, and one read whole (not late)
	// is offered to it once its row group is done. batch counts the
	// current row group's batches.
	chunks Chunks
	batch  int
}

// Chunks is a cache of decoded column chunks of one file: the arrays, one
// per batch, that a column of a row group decodes to.
type Chunks interface {
	// Get is the chunk of leaf in row group decoded as type t (a string
	// column may be read plainly or as its dictionary), each array
	// retained for the caller, or false.
	Get(rowGroup, leaf int, t arrow.DataType) ([]arrow.Array, bool)
	// Put offers a chunk decoded as t, taking over the caller's references.
	Put(rowGroup, leaf int, t arrow.DataType, batches []arrow.Array)
	// Wants says whether a chunk of that many bytes, decoded, is worth
	// keeping (while its row group is read, its batches are held).
	Wants(bytes int64) bool
	// Allocator is where a chunk meant for the cache is decoded (it
	// outlives the query that reads it).
	Allocator() memory.Allocator
}

// SetChunks makes r read and offer column chunks through c. It must be
// called before the first Next.
func (r *Reader) SetChunks(c Chunks) { r.chunks = c }

// Open returns a reader of the leaf columns cols (of a flat file, so also
// the fields of its Arrow schema) of the row groups groups, whose batches
// have schema sc; or false when some column is not one this package reads.
func Open(pf *file.Reader, sc *arrow.Schema, cols, groups []int, mem memory.Allocator, batchRows int) (*Reader, bool) {
	md := pf.MetaData()
	// as many fields as leaves: each field is one leaf, so leaf i is field i
	if md.Schema.Root().NumFields() != md.Schema.NumColumns() || len(cols) != sc.NumFields() || len(cols) == 0 {
		return nil, false
	}
	r := &Reader{pf: pf, schema: sc, groups: groups, mem: mem, batchRows: int64(batchRows)}
	for i, leaf := range cols {
		if leaf < 0 || leaf >= md.Schema.NumColumns() {
			return nil, false
		}
		descr := md.Schema.Column(leaf)
		if descr.MaxRepetitionLevel() != 0 || descr.MaxDefinitionLevel() > 1 || len(descr.ColumnPath()) != 1 {
			return nil, false
		}
		s := sinkFor(descr, sc.Field(i).Type)
		if s == nil {
			return nil, false
		}
		for _, g := range groups {
			cc, err := md.RowGroup(g).ColumnChunk(leaf)
			if err != nil || cc.CryptoMetadata() != nil {
				return nil, false
			}
			for _, e := range cc.Encodings() {
				if e != parquet.Encodings.Plain && e != parquet.Encodings.RLE && e != parquet.Encodings.RLEDict && e != parquet.Encodings.PlainDict {
					return nil, false
				}
			}
		}
		r.cols = append(r.cols, &column{leaf: leaf, defined: descr.MaxDefinitionLevel() == 1, sink: s})
	}
	r.refs.Add(1)
	return r, true
}

// asStored are the Arrow types whose values are a column's 4- or 8-byte
// values as the file holds them, with the physical type that holds them.
var asStored = map[arrow.Type]parquet.Type{arrow.INT32: parquet.Types.Int32, arrow.DATE32: parquet.Types.Int32,
	arrow.FLOAT32: parquet.Types.Float, arrow.INT64: parquet.Types.Int64, arrow.FLOAT64: parquet.Types.Double}

// timeUnits pairs Arrow's timestamp units with Parquet's.
var timeUnits = map[arrow.TimeUnit]schema.TimeUnitType{arrow.Millisecond: schema.TimeUnitMillis,
	arrow.Microsecond: schema.TimeUnitMicros, arrow.Nanosecond: schema.TimeUnitNanos}

// sinkFor is the sink reading a column of descr as typ, or nil.
func sinkFor(descr *schema.Column, typ arrow.DataType) sink {
	phys := descr.PhysicalType()
	switch typ.ID() {
	case arrow.INT32, arrow.DATE32, arrow.FLOAT32, arrow.INT64, arrow.FLOAT64:
		if asStored[typ.ID()] == phys {
			return storedSink(typ, phys)
		}
	case arrow.TIMESTAMP:
		// as stored only when the file's unit is the type's
		lt, ok := descr.LogicalType().(interface{ TimeUnit() schema.TimeUnitType })
		if u, known := timeUnits[typ.(*arrow.TimestampType).Unit]; phys == parquet.Types.Int64 && ok && known && lt.TimeUnit() == u {
			return storedSink(typ, phys)
		}
	case arrow.DECIMAL128:
		switch phys {
		case parquet.Types.Int32:
			return &fixedSink[decimal128.Num]{typ: typ, size: 4, conv: decimalOf32}
		case parquet.Types.Int64:
			return &fixedSink[decimal128.Num]{typ: typ, size: 8, conv: decimalOf64}
		}
	case arrow.STRING, arrow.BINARY:
		if phys == parquet.Types.ByteArray {
			return &binarySink{typ: typ}
		}
	case arrow.DICTIONARY:
		dt := typ.(*arrow.DictionaryType)
		v := dt.ValueType.ID()
		if phys == parquet.Types.ByteArray && dt.IndexType.ID() == arrow.INT32 && (v == arrow.STRING || v == arrow.BINARY) {
			return &dictSink{typ: dt}
		}
	}
	return nil
}

// storedSink reads 4- or 8-byte values as the file holds them.
func storedSink(typ arrow.DataType, phys parquet.Type) sink {
	if phys == parquet.Types.Int32 || phys == parquet.Types.Float {
		return &fixedSink[uint32]{typ: typ, size: 4, conv: le32}
	}
	return &fixedSink[uint64]{typ: typ, size: 8, conv: le64}
}

func (r *Reader) Schema() *arrow.Schema          { return r.schema }
func (r *Reader) RecordBatch() arrow.RecordBatch { return r.cur }
func (r *Reader) Record() arrow.RecordBatch      { return r.cur }
func (r *Reader) Err() error                     { return r.err }
func (r *Reader) Retain()                        { r.refs.Add(1) }

func (r *Reader) Release() {
	if r.refs.Add(-1) != 0 {
		return
	}
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	for _, c := range r.cols {
		c.close()
		if d, ok := c.sink.(*dictSink); ok {
			d.release()
		}
	}
}

func (r *Reader) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if r.err != nil {
		return false
	}
	if r.late != nil {
		if r.err = r.skipLate(); r.err != nil {
			return false
		}
	}
	for r.left == 0 {
		if r.g >= len(r.groups) {
			return false
		}
		rg := r.pf.RowGroup(r.groups[r.g])
		r.g++
		r.left, r.batch = rg.NumRows(), 0
		for i, c := range r.cols {
			c.close()
			cacheable := r.chunks != nil && (r.late == nil || !r.late[i])
			if cacheable {
				if c.cached, cacheable = r.chunks.Get(r.groups[r.g-1], c.leaf, r.schema.Field(i).Type); cacheable {
					continue // decoded already: no page is read
				}
				if cc, err := rg.MetaData().ColumnChunk(c.leaf); err == nil {
					c.keep = r.chunks.Wants(cc.TotalUncompressedSize())
				}
			}
			if c.pages, r.err = rg.GetColumnPageReader(c.leaf); r.err != nil {
				return false
			}
			c.sink.startChunk()
			c.hasDict, c.left = false, 0
		}
	}
	n := min(r.batchRows, r.left)
	arrs := make([]arrow.Array, 0, len(r.cols))
	defer func() {
		for _, a := range arrs {
			a.Release()
		}
	}()
	for i, c := range r.cols {
		if r.late != nil && r.late[i] {
			arrs = append(arrs, array.NewNull(int(n)))
			continue
		}
		if c.cached != nil {
			if r.batch >= len(c.cached) || int64(c.cached[r.batch].Len()) != n {
				r.err = fmt.Errorf("pqread: a cached chunk of column %d does not match its row group", c.leaf)
				return false
			}
			c.cached[r.batch].Retain()
			arrs = append(arrs, c.cached[r.batch])
			continue
		}
		mem := r.mem
		if c.keep {
			mem = r.chunks.Allocator()
		}
		a, err := c.read(mem, int(n), nil)
		if err != nil {
			r.err = err
			return false
		}
		if c.keep {
			a.Retain()
			c.kept = append(c.kept, a)
		}
		arrs = append(arrs, a)
	}
	r.left -= n
	r.batch++
	if r.left == 0 && r.chunks != nil {
		for i, c := range r.cols {
			if c.keep {
				r.chunks.Put(r.groups[r.g-1], c.leaf, r.schema.Field(i).Type, c.kept) // its references go with it
				c.kept, c.keep = nil, false
			}
		}
	}
	if r.late != nil {
		r.pending = int(n)
		copy(r.unread, r.late)
		r.cur = array.NewRecordBatch(r.lateSchema, arrs, n)
		return true
	}
	r.cur = array.NewRecordBatch(r.schema, arrs, n)
	return true
}

// SetLate makes the columns cols (indices into the schema) late: Next
// leaves them out of its batches, holding a null array in their place,
// and Fill reads them for the rows a filter keeps. It must be called
// before the first Next.
func (r *Reader) SetLate(cols []int) {
	if len(cols) == 0 {
		return
	}
	r.late, r.unread = make([]bool, len(r.cols)), make([]bool, len(r.cols))
	fields := slices.Clone(r.schema.Fields())
	for _, i := range cols {
		r.late[i] = true
		fields[i].Type = arrow.Null
	}
	md := r.schema.Metadata()
	r.lateSchema = arrow.NewSchema(fields, &md)
}

// Fill reads the late columns cols (indices into the schema) of the
// current batch at rows (ascending row numbers in the batch; nil for every
// row), one array per column. Each late column reads a batch once; rows it
// is not asked for are passed over, not gathered and widened, and the next
// Next passes over the batches of columns no Fill read.
func (r *Reader) Fill(cols []int, rows []int64) ([]arrow.Array, error) {
	if r.err != nil {
		return nil, r.err
	}
	out := make([]arrow.Array, 0, len(cols))
	for _, i := range cols {
		if i < 0 || i >= len(r.cols) || !r.unread[i] {
			releaseAll(out)
			return nil, fmt.Errorf("parquet: column %d is not a late column unread in this batch", i)
		}
		r.unread[i] = false
		a, err := r.cols[i].read(r.mem, r.pending, rows)
		if err != nil {
			releaseAll(out)
			r.err = err
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// Unread says whether late column i has not yet read the current batch.
func (r *Reader) Unread(i int) bool { return r.unread != nil && r.unread[i] }

// skipLate passes over the rows of the last batch of the late columns no
// Fill read.
func (r *Reader) skipLate() error {
	for i, c := range r.cols {
		if r.unread[i] {
			r.unread[i] = false
			a, err := c.read(r.mem, r.pending, []int64{})
			if err != nil {
				return err
			}
			a.Release()
		}
	}
	return nil
}

func releaseAll(arrs []arrow.Array) {
	for _, a := range arrs {
		a.Release()
	}
}

// column reads one column chunk after another.
type column struct {
	leaf    int
	defined bool // optional: definition levels say which rows have a value
	sink    sink
	pages   file.PageReader
	hasDict bool // the chunk's dictionary page was read

	// the current data page: left values (null or not) not read; their
	// levels, and their values (dictionary indices or PLAIN bytes)
	left         int
	defs         hybrid
	dictEncoded  bool
	ids          hybrid
	plain        []byte
	levels, idsv []uint32

	// scratch of pick: the values the picked rows hold, their levels, and
	// their PLAIN bytes
	vals       []int
	pickLevels []uint32
	scratch    []byte

	// the chunk's batches from the cache (cached), or decoded for it (kept,
	// while keep)
	cached, kept []arrow.Array
	keep         bool
}

func (c *column) close() {
	if c.pages != nil {
		c.pages.Close()
		c.pages = nil
	}
	releaseAll(c.cached)
	releaseAll(c.kept)
	c.cached, c.kept, c.keep = nil, nil, false
}

// read reads the next rows rows as an array: all of them, or with sel
// (ascending row numbers below rows) only those.
func (c *column) read(mem memory.Allocator, rows int, sel []int64) (arrow.Array, error) {
	arr, validity, err := c.decode(mem, rows, sel)
	if validity != nil {
		validity.Release() // the array holds its own reference
	}
	return arr, err
}

func (c *column) decode(mem memory.Allocator, rows int, sel []int64) (arrow.Array, *memory.Buffer, error) {
	all, outRows := sel == nil, rows
	if !all {
		outRows = len(sel)
	}
	c.sink.begin(mem, outRows)
	// A column read whole gets a validity bitmap at its first null; one
	// read in part marks its picks as it goes.
	var validity *memory.Buffer
	var bitmap []byte
	newBitmap := func(valid int) {
		validity = memory.NewResizableBuffer(mem)
		validity.Resize(int(bitutil.BytesForBits(int64(outRows))))
		bitmap = validity.Bytes()
		clear(bitmap)
		bitutil.SetBitsTo(bitmap, 0, int64(valid), true)
	}
	if c.defined && !all {
		newBitmap(0)
	}
	fail := func(err error) (arrow.Array, *memory.Buffer, error) {
		c.sink.finish(validity, 0).Release()
		return nil, validity, err
	}
	nulls, out := 0, 0 // null rows and rows written
	for row := 0; row < rows; {
		if c.left == 0 {
			if err := c.nextPage(); err != nil {
				return fail(err)
			}
			continue
		}
		k := min(rows-row, c.left)
		m := k
		var levels []uint32
		if c.defined {
			// a page without nulls has its levels in one run of ones
			full, err := c.defs.runOf(k, 1)
			if err != nil {
				return fail(err)
			}
			if !full {
				c.levels = grow(c.levels, k)
				levels = c.levels
				if err := c.defs.decode(levels); err != nil {
					return fail(err)
				}
				m = countOnes(levels)
				if m == k {
					levels = nil
				}
			}
		}
		var err error
		if all {
			if c.dictEncoded {
				c.idsv = grow(c.idsv, m)
				if err = c.ids.decode(c.idsv); err == nil {
					err = c.sink.fromDict(c.idsv, levels)
				}
			} else {
				c.plain, err = c.sink.fromPlain(c.plain, m, levels)
			}
			if levels != nil {
				if bitmap == nil {
					newBitmap(out)
				}
				nulls += setValid(bitmap, out, levels)
			} else if bitmap != nil {
				bitutil.SetBitsTo(bitmap, int64(out), int64(k), true)
			}
			out += k
		} else {
			n := 0 // sel[:n] are among these k rows
			for n < len(sel) && sel[n] < int64(row+k) {
				n++
			}
			var w int
			w, err = c.pick(sel[:n], row, m, levels, bitmap, out)
			nulls += n - w
			out += n
			sel = sel[n:]
		}
		if err != nil {
			return fail(err)
		}
		row += k
		c.left -= k
	}
	if validity != nil && nulls == 0 {
		validity.Release()
		validity = nil
	}
	return c.sink.finish(validity, nulls), validity, nil
}

// pick hands the sink only the rows picks (numbered from the batch's
// start, which is row rows before the page's next value) of the page's
// next rows, m of which hold a value (levels nil when all do). It marks
// the picked rows with a value valid in bitmap from bit out, and says how
// many have one.
func (c *column) pick(picks []int64, row, m int, levels []uint32, bitmap []byte, out int) (int, error) {
	if levels == nil && c.dictEncoded && len(picks) > 0 { // the common case, in one pass
		if bitmap != nil {
			bitutil.SetBitsTo(bitmap, int64(out), int64(len(picks)), true)
		}
		if 8*len(picks) < m { // few: read just those
			c.idsv = grow(c.idsv, len(picks))
			if err := c.ids.gather(m, picks, int64(row), c.idsv); err != nil {
				return 0, err
			}
			return len(picks), c.sink.fromDict(c.idsv, nil)
		}
		c.idsv = grow(c.idsv, m)
		if err := c.ids.decode(c.idsv); err != nil {
			return 0, err
		}
		ids := c.idsv[:0]
		for _, p := range picks { // in place: p-row is at least its position
			ids = append(ids, c.idsv[int(p)-row])
		}
		return len(picks), c.sink.fromDict(ids, nil)
	}
	// which values the picked rows hold, and their levels
	c.vals = c.vals[:0]
	var pl []uint32
	if levels == nil {
		for _, p := range picks {
			c.vals = append(c.vals, int(p)-row)
		}
		if bitmap != nil {
			bitutil.SetBitsTo(bitmap, int64(out), int64(len(picks)), true)
		}
	} else {
		c.pickLevels = grow(c.pickLevels, len(picks))
		pl = c.pickLevels
		v, r := 0, 0
		for i, p := range picks {
			p := int(p) - row
			for ; r < p; r++ {
				v += int(levels[r])
			}
			pl[i] = levels[p]
			if levels[p] == 1 {
				c.vals = append(c.vals, v)
				bitutil.SetBit(bitmap, out+i)
			}
		}
		if len(c.vals) == len(picks) {
			pl = nil
		}
	}
	var err error
	if c.dictEncoded {
		if len(picks) == 0 {
			return 0, c.ids.skip(m)
		}
		c.idsv = grow(c.idsv, m)
		if err = c.ids.decode(c.idsv); err != nil {
			return 0, err
		}
		ids := c.idsv[:0]
		for _, v := range c.vals { // in place: v >= its position
			ids = append(ids, c.idsv[v])
		}
		err = c.sink.fromDict(ids, pl)
	} else {
		var picked []byte
		if picked, c.plain, err = c.pickPlain(c.plain, m); err == nil {
			_, err = c.sink.fromPlain(picked, len(c.vals), pl)
		}
	}
	return len(c.vals), err
}

// pickPlain copies the PLAIN values c.vals of the next m values of data
// into c.scratch, and returns them and what follows the m values.
func (c *column) pickPlain(data []byte, m int) (picked, rest []byte, err error) {
	c.scratch = c.scratch[:0]
	if size := c.sink.plainSize(); size > 0 {
		if len(data) < m*size {
			return nil, nil, errTruncated
		}
		for _, v := range c.vals {
			c.scratch = append(c.scratch, data[v*size:(v+1)*size]...)
		}
		return c.scratch, data[m*size:], nil
	}
	j := 0
	for v := range m {
		start := data
		var err error
		if _, data, err = plainValue(data); err != nil {
			return nil, nil, err
		}
		if j < len(c.vals) && c.vals[j] == v {
			c.scratch = append(c.scratch, start[:len(start)-len(data)]...)
			j++
		}
	}
	return c.scratch, data, nil
}

// setValid marks valid the rows of levels that have a value, from bit
// out of bitmap, and says how many rows are null.
func setValid(bitmap []byte, out int, levels []uint32) int {
	nulls := 0
	for i, l := range levels {
		if l == 1 {
			bitutil.SetBit(bitmap, out+i)
		} else {
			nulls++
		}
	}
	return nulls
}

func countOnes(levels []uint32) int {
	m := 0
	for _, l := range levels {
		m += int(l)
	}
	return m
}

// nextPage moves to the next data page, taking in a dictionary page first.
func (c *column) nextPage() error {
	for {
		if !c.pages.Next() {
			if err := c.pages.Err(); err != nil {
				return err
			}
			return unsupported("column chunk %d ends before its row group does (corrupt file?)", c.leaf)
		}
		var data []byte
		switch p := c.pages.Page().(type) {
		case *file.DictionaryPage:
			if err := c.sink.dictionary(p.Data(), int(p.NumValues())); err != nil {
				return err
			}
			c.hasDict = true
			continue
		case *file.DataPageV1:
			data = p.Data()
			if c.defined {
				if parquet.Encoding(p.DefinitionLevelEncoding()) != parquet.Encodings.RLE {
					return unsupported("definition levels in %s encoding", parquet.Encoding(p.DefinitionLevelEncoding()))
				}
				if len(data) < 4 {
					return errTruncated
				}
				n := binary.LittleEndian.Uint32(data)
				if uint64(n) > uint64(len(data)-4) {
					return errTruncated
				}
				c.defs.reset(data[4:4+n], 1)
				data = data[4+n:]
			}
		case *file.DataPageV2:
			data = p.Data()
			rep, def := int(p.RepetitionLevelByteLen()), int(p.DefinitionLevelByteLen())
			if rep+def > len(data) {
				return errTruncated
			}
			c.defs.reset(data[rep:rep+def], 1)
			data = data[rep+def:]
		default:
			continue
		}
		c.left = int(c.pages.Page().NumValues())
		switch enc := parquet.Encoding(c.pages.Page().Encoding()); enc {
		case parquet.Encodings.Plain:
			c.dictEncoded, c.plain = false, data
		case parquet.Encodings.RLEDict, parquet.Encodings.PlainDict:
			if !c.hasDict {
				return unsupported("a dictionary-encoded page in column chunk %d, which has no dictionary", c.leaf)
			}
			c.dictEncoded = true
			if len(data) == 0 { // no values: every row null
				c.ids.reset(nil, 0)
				break
			}
			if data[0] > 32 {
				return unsupported("dictionary indices %d bits wide", data[0])
			}
			c.ids.reset(data[1:], uint(data[0]))
		default:
			return unsupported("data pages in %s encoding", enc)
		}
		return nil
	}
}
