package exec

import (
	"context"
	"math"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels"
)

// A sort's output gathers rows from all the batches it holds. Arrow's take
// over chunked columns grows its string buffers value by value (most of a
// sort by a string key went there); chunkGather copies each column with
// one typed loop per output batch, and batches are gathered in parallel.

// chunkRef is row of chunk.
type chunkRef struct{ chunk, row uint32 }

// chunkGather gathers rows from the chunks of the columns of a table.
type chunkGather struct {
	schema *arrow.Schema
	starts []int // chunk c holds the rows starts[c]..starts[c+1]-1
	// chunkAt[r>>chunkAtShift] is the chunk holding row r rounded down.
	chunkAt []uint32
	cols    []gatherCol
}

const chunkAtShift = 10

type gatherCol struct {
	chunks []arrow.Array
	// whole, for types gathered by takeRows: the chunks concatenated.
	whole arrow.Array
}

// newChunkGather prepares to gather rows of tbl (which it must outlive).
func newChunkGather(mem memory.Allocator, tbl arrow.Table) (*chunkGather, error) {
	g := &chunkGather{schema: tbl.Schema()}
	for c := 0; c < int(tbl.NumCols()); c++ {
		chunks := tbl.Column(c).Data().Chunks()
		if c == 0 {
			lens := make([]int, len(chunks))
			for i, ch := range chunks {
				lens[i] = ch.Len()
			}
			g.starts = chunkStarts(lens)
		}
		col := gatherCol{chunks: chunks}
		if !gatherable(tbl.Column(c).DataType()) {
			whole, err := array.Concatenate(chunks, mem)
			if err != nil {
				g.release()
				return nil, err
			}
			col.whole = whole
		}
		g.cols = append(g.cols, col)
	}
	n := g.starts[len(g.starts)-1]
	g.chunkAt = make([]uint32, n>>chunkAtShift+1)
	c := 0
	for b := range g.chunkAt {
		for c+1 < len(g.starts)-1 && g.starts[c+1] <= b<<chunkAtShift {
			c++
		}
		g.chunkAt[b] = uint32(c)
	}
	return g, nil
}

func (g *chunkGather) release() {
	for _, c := range g.cols {
		if c.whole != nil {
			c.whole.Release()
		}
	}
	g.cols = nil
}

func gatherable(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.STRING, arrow.BINARY, arrow.LARGE_STRING, arrow.LARGE_BINARY, arrow.BOOL:
		return true
	case arrow.DICTIONARY, arrow.EXTENSION:
		return false
	}
	fw, ok := t.(arrow.FixedWidthDataType)
	if !ok {
		return false
	}
	switch fw.BitWidth() {
	case 8, 16, 32, 64, 128:
		return true
	}
	return false
}

// refs locates the given rows of the table.
func (g *chunkGather) refs(rows []uint32) []chunkRef {
	out := make([]chunkRef, len(rows))
	for k, r := range rows {
		c := int(g.chunkAt[r>>chunkAtShift])
		for int(r) >= g.starts[c+1] {
			c++
		}
		out[k] = chunkRef{uint32(c), r - uint32(g.starts[c])}
	}
	return out
}

// batch gathers the given rows into a new batch.
func (g *chunkGather) batch(ctx context.Context, mem memory.Allocator, rows []uint32) (arrow.RecordBatch, error) {
	return g.batchOf(ctx, mem, g.refs(rows))
}

// batchOf gathers the rows refs names into a new batch.
func (g *chunkGather) batchOf(ctx context.Context, mem memory.Allocator, refs []chunkRef) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, 0, len(g.cols))
	defer func() { releaseArrays(cols) }()
	for _, c := range g.cols {
		var out arrow.Array
		if c.whole != nil {
			idx := make([]int64, len(refs))
			for k, r := range refs {
				idx[k] = int64(g.starts[r.chunk]) + int64(r.row)
			}
			var err error
			if out, err = takeRows(ctx, mem, c.whole, idx); err != nil {
				return nil, err
			}
		} else {
			var err error
			if out, err = gatherChunks(mem, c.chunks, refs); err != nil {
				return nil, err
			}
		}
		cols = append(cols, out)
	}
	return array.NewRecordBatch(g.schema, cols, int64(len(refs))), nil
}

// gatherChunks copies the rows refs names from chunks (one column, of a
// type gatherable accepts) into one array.
func gatherChunks(mem memory.Allocator, chunks []arrow.Array, refs []chunkRef) (arrow.Array, error) {
	t := chunks[0].DataType()
	n := len(refs)
	validity, nulls := gatherValidity(mem, chunks, refs)
	var bufs []*memory.Buffer
	switch t.ID() {
	case arrow.BOOL:
		out := newBuffer(mem, int(bitutil.BytesForBits(int64(n))))
		dst := out.Bytes()
		clear(dst)
		for k, r := range refs {
			d := chunks[r.chunk].Data()
			if bitutil.BitIsSet(bufferBytes(d, 1), d.Offset()+int(r.row)) {
				bitutil.SetBit(dst, k)
			}
		}
		bufs = []*memory.Buffer{validity, out}
	case arrow.STRING, arrow.BINARY:
		b, err := gatherVarBinary[int32](mem, chunks, refs, validity)
		if err != nil {
			return nil, err
		}
		bufs = b
	case arrow.LARGE_STRING, arrow.LARGE_BINARY:
		b, err := gatherVarBinary[int64](mem, chunks, refs, validity)
		if err != nil {
			return nil, err
		}
		bufs = b
	default:
		var out *memory.Buffer
		switch t.(arrow.FixedWidthDataType).BitWidth() {
		case 8:
			out = gatherFixed[uint8](mem, chunks, refs)
		case 16:
			out = gatherFixed[uint16](mem, chunks, refs)
		case 32:
			out = gatherFixed[uint32](mem, chunks, refs)
		case 64:
			out = gatherFixed[uint64](mem, chunks, refs)
		case 128:
			out = gatherFixed[decimal128.Num](mem, chunks, refs)
		}
		bufs = []*memory.Buffer{validity, out}
	}
	data := array.NewData(t, n, bufs, nil, nulls, 0)
	for _, b := range bufs {
		if b != nil {
			b.Release()
		}
	}
	defer data.Release()
	return array.MakeFromData(data), nil
}

// gatherValidity is the validity bitmap of the rows and their null count;
// nil when no chunk has a null.
func gatherValidity(mem memory.Allocator, chunks []arrow.Array, refs []chunkRef) (*memory.Buffer, int) {
	hasNulls := false
	for _, c := range chunks {
		if c.NullN() > 0 {
			hasNulls = true
			break
		}
	}
	if !hasNulls {
		return nil, 0
	}
	out := newBuffer(mem, int(bitutil.BytesForBits(int64(len(refs)))))
	dst := out.Bytes()
	clear(dst)
	nulls := 0
	for k, r := range refs {
		if chunks[r.chunk].IsValid(int(r.row)) {
			bitutil.SetBit(dst, k)
		} else {
			nulls++
		}
	}
	return out, nulls
}

func gatherFixed[T uint8 | uint16 | uint32 | uint64 | decimal128.Num](mem memory.Allocator, chunks []arrow.Array, refs []chunkRef) *memory.Buffer {
	src := make([][]T, len(chunks))
	for i, c := range chunks {
		src[i] = arrow.GetValues[T](c.Data(), 1)
	}
	var zero T
	out := newWrittenBuffer(mem, len(refs)*int(unsafe.Sizeof(zero)))
	dst := arrow.GetData[T](out.Bytes())[:len(refs)]
	for k, r := range refs {
		dst[k] = src[r.chunk][r.row]
	}
	return out
}

// gatherVarBinary gathers strings or binaries with offsets of type O.
func gatherVarBinary[O int32 | int64](mem memory.Allocator, chunks []arrow.Array, refs []chunkRef, validity *memory.Buffer) ([]*memory.Buffer, error) {
	offs := make([][]O, len(chunks))
	data := make([][]byte, len(chunks))
	for i, c := range chunks {
		d := c.Data()
		if o := arrow.GetData[O](bufferBytes(d, 1)); len(o) > 0 {
			offs[i] = o[d.Offset():]
		}
		data[i] = bufferBytes(d, 2)
	}
	// Where each value is, read once: the offsets of random rows miss the
	// cache, and the copy below would read them again.
	spans := make([][2]O, len(refs))
	var size int64
	for k, r := range refs {
		o := offs[r.chunk][r.row : r.row+2]
		spans[k] = [2]O{o[0], o[1]}
		size += int64(o[1] - o[0])
	}
	if size > int64(math.MaxInt32) && unsafe.Sizeof(O(0)) == 4 {
		if validity != nil {
			validity.Release()
		}
		return nil, kernels.Errorf(kernels.NotSupported, "%d rows of strings hold %d bytes, over the 2 GiB a batch of them can hold", len(refs), size)
	}
	offBuf := newWrittenBuffer(mem, (len(refs)+1)*int(unsafe.Sizeof(O(0))))
	outOffs := arrow.GetData[O](offBuf.Bytes())[:len(refs)+1]
	valBuf := newWrittenBuffer(mem, int(size)+moveRoom)
	dst := valBuf.Bytes()
	var at O
	for k, r := range refs {
		outOffs[k] = at
		at += moveValue(dst, at, data[r.chunk], spans[k][0], spans[k][1])
	}
	valBuf.ResizeNoShrink(int(at)) // the room past the values holds nothing written
	outOffs[len(refs)] = at
	return []*memory.Buffer{validity, offBuf, valBuf}, nil
}
