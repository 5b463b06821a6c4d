package exec

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// A sort encodes each row's keys once into a normalized key: bytes whose
// order (bytes.Compare) is the rows' order (docs/design.md). The rows are
// then sorted by 8-byte slices of their keys, most significant first: a
// stable radix sort by the first 8 bytes, then, within each run of equal
// slices, by the next 8, and so on. No comparison goes through a column's
// type, and the runs of the first split are sorted in parallel.
//
// Each key column contributes, in key order:
//   - fixed-width values (integers, floats, dates, times, booleans): the
//     value mapped to a uint64 in order (sign bit flipped; floats by their
//     bits, -0 as 0, every NaN one NaN above +Inf), minus the column's least
//     value, in as few bytes as the column's range needs; descending counts
//     down from the greatest. A null is one more code below or above the
//     values (a byte of its own only when the values span all 2^64 codes);
//   - strings and binaries: a byte 1 (0 for null first, 2 for null last,
//     only when the column has nulls), the bytes with 0 written as 0 0xFF,
//     then 0 0: no key is a prefix of another. Descending inverts them
//     (not the null byte: nulls go where NullsLast says in either order);
//   - decimals: the null byte, then 16 bytes, sign bit flipped, inverted
//     when descending.
//
// Rows with equal keys keep their input order: the radix passes are
// stable and the small runs sorted by comparison compare row numbers last.

// normKeys are the normalized keys of n rows.
type normKeys struct {
	buf    []byte
	offs   []int // row i's key is buf[offs[i]:offs[i+1]]; nil: every key is stride bytes
	stride int
}

func (k *normKeys) key(row uint32) []byte {
	if k.offs == nil {
		s := int(row) * k.stride
		return k.buf[s : s+k.stride]
	}
	return k.buf[k.offs[row]:k.offs[row+1]]
}

// bytes is what the keys hold.
func (k *normKeys) bytes() int64 { return int64(cap(k.buf)) + int64(cap(k.offs))*8 }

// sortCol encodes one key column.
type sortCol struct {
	key    SortKey
	chunks []arrow.Array
	nulls  bool
	// fixed-width: kind, the least and greatest ordered values, bytes a row.
	kind   int
	lo, hi uint64
	width  int
}

const (
	colOrdered = iota // fixed-width, as an ordered uint64
	colVarBytes
	colDecimal
)

// normalizable says whether every key column is of a type sortKeys encodes.
func normalizable(types []arrow.DataType, keys []SortKey) bool {
	for _, k := range keys {
		if _, ok := colKind(types[k.Column]); !ok {
			return false
		}
	}
	return true
}

func colKind(t arrow.DataType) (int, bool) {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT32, arrow.FLOAT64, arrow.DATE32, arrow.DATE64, arrow.TIMESTAMP, arrow.TIME32, arrow.TIME64,
		arrow.DURATION, arrow.BOOL:
		return colOrdered, true
	case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY:
		return colVarBytes, true
	case arrow.DECIMAL128:
		return colDecimal, true
	}
	return 0, false
}

// orderedValues calls f with each non-null value of a as a uint64 in the
// value's order, and its row.
func orderedValues(a arrow.Array, f func(i int, u uint64)) {
	nulls := a.NullN() > 0
	each := func(n int, u func(i int) uint64) {
		for i := range n {
			if nulls && a.IsNull(i) {
				continue
			}
			f(i, u(i))
		}
	}
	switch x := a.(type) {
	case *array.Int8:
		v := x.Int8Values()
		each(len(v), func(i int) uint64 { return uint64(v[i]) ^ 1<<63 })
	case *array.Int16:
		v := x.Int16Values()
		each(len(v), func(i int) uint64 { return uint64(v[i]) ^ 1<<63 })
	case *array.Int32:
		v := x.Int32Values()
		each(len(v), func(i int) uint64 { return uint64(v[i]) ^ 1<<63 })
	case *array.Int64:
		v := x.Int64Values()
		each(len(v), func(i int) uint64 { return uint64(v[i]) ^ 1<<63 })
	case *array.Uint8:
		v := x.Uint8Values()
		each(len(v), func(i int) uint64 { return uint64(v[i]) })
	case *array.Uint16:
		v := x.Uint16Values()
		each(len(v), func(i int) uint64 { return uint64(v[i]) })
	case *array.Uint32:
		v := x.Uint32Values()
		each(len(v), func(i int) uint64 { return uint64(v[i]) })
	case *array.Uint64:
		v := x.Uint64Values()
		each(len(v), func(i int) uint64 { return v[i] })
	case *array.Float32:
		v := x.Float32Values()
		each(len(v), func(i int) uint64 { return floatOrdered(float64(v[i])) })
	case *array.Float64:
		v := x.Float64Values()
		each(len(v), func(i int) uint64 { return floatOrdered(v[i]) })
	case *array.Date32:
		v := x.Date32Values()
		each(len(v), func(i int) uint64 { return uint64(v[i]) ^ 1<<63 })
	case *array.Date64:
		v := x.Date64Values()
		each(len(v), func(i int) uint64 { return uint64(v[i]) ^ 1<<63 })
	case *array.Timestamp:
		v := x.TimestampValues()
		each(len(v), func(i int) uint64 { return uint64(v[i]) ^ 1<<63 })
	case *array.Time32:
		v := x.Time32Values()
		each(len(v), func(i int) uint64 { return uint64(v[i]) ^ 1<<63 })
	case *array.Time64:
		v := x.Time64Values()
		each(len(v), func(i int) uint64 { return uint64(v[i]) ^ 1<<63 })
	case *array.Duration:
		v := x.DurationValues()
		each(len(v), func(i int) uint64 { return uint64(v[i]) ^ 1<<63 })
	case *array.Boolean:
		each(x.Len(), func(i int) uint64 {
			if x.Value(i) {
				return 1
			}
			return 0
		})
	}
}

// floatOrdered maps a float to a uint64 in its order: -0 as 0, every NaN
// one NaN above +Inf (compare.go's order).
func floatOrdered(f float64) uint64 {
	switch {
	case f == 0:
		f = 0
	case f != f:
		return math.Float64bits(math.Inf(1)) | 1<<63 + 1
	}
	b := math.Float64bits(f)
	if b>>63 == 1 {
		return ^b
	}
	return b | 1<<63
}

// prepare finds the column's nulls and, for fixed-width values, its range
// and the bytes a row takes.
func (c *sortCol) prepare() {
	for _, ch := range c.chunks {
		if ch.NullN() > 0 {
			c.nulls = true
		}
	}
	if c.kind != colOrdered {
		return
	}
	c.lo, c.hi = math.MaxUint64, 0
	for _, ch := range c.chunks {
		orderedValues(ch, func(_ int, u uint64) {
			c.lo, c.hi = min(c.lo, u), max(c.hi, u)
		})
	}
	if c.hi < c.lo { // no value: every row is null
		c.lo, c.hi = 0, 0
	}
	top := c.hi - c.lo
	if c.nulls {
		if top == math.MaxUint64 { // no code left for null: a byte of its own
			c.width = 9
			return
		}
		top++ // the null's code
	}
	c.width = (bits.Len64(top) + 7) / 8
}

// code is the fixed-width code of an ordered value u.
func (c *sortCol) code(u uint64) uint64 {
	v := u - c.lo
	if c.key.Descending {
		v = c.hi - u
	}
	if c.nulls && !c.key.NullsLast && c.width < 9 {
		v++
	}
	return v
}

func (c *sortCol) nullCode() uint64 {
	if c.key.NullsLast {
		return c.hi - c.lo + 1
	}
	return 0
}

// varSizes adds to sizes the bytes of each row of a string chunk.
func (c *sortCol) varSizes(a arrow.Array, sizes []int) {
	switch x := a.(type) {
	case *array.String:
		varSizes(c, a, x.ValueOffsets(), x.ValueBytes(), sizes)
	case *array.LargeString:
		varSizes(c, a, x.ValueOffsets(), x.ValueBytes(), sizes)
	case *array.Binary:
		varSizes(c, a, x.ValueOffsets(), x.ValueBytes(), sizes)
	case *array.LargeBinary:
		varSizes(c, a, x.ValueOffsets(), x.ValueBytes(), sizes)
	}
}

// varSizes adds the bytes of each row whose value is data[offs[i]-offs[0]:
// offs[i+1]-offs[0]] (the offsets and bytes of a string or binary array).
func varSizes[O int32 | int64](c *sortCol, a arrow.Array, offs []O, data []byte, sizes []int) {
	flag := 0
	if c.nulls {
		flag = 1
	}
	if len(sizes) == 0 {
		return
	}
	base := offs[0]
	// Most chunks hold no zero byte: one scan of them all instead of one
	// count a value.
	zeros := bytes.IndexByte(data[:offs[len(sizes)]-base], 0) >= 0
	for i := range sizes {
		if c.nulls && a.IsNull(i) {
			sizes[i]++
			continue
		}
		v := data[offs[i]-base : offs[i+1]-base]
		sizes[i] += flag + len(v) + 2
		if zeros {
			sizes[i] += bytes.Count(v, zero)
		}
	}
}

var zero = []byte{0}

// encodeVar writes the keys of a string or binary chunk (see varSizes).
func encodeVar[O int32 | int64](c *sortCol, a arrow.Array, offs []O, data []byte, buf []byte, at []int) {
	var inv byte
	if c.key.Descending {
		inv = 0xFF
	}
	if len(at) == 0 {
		return
	}
	base := offs[0]
	plain := inv == 0 && bytes.IndexByte(data[:offs[len(at)]-base], 0) < 0
	for i := range at {
		p := at[i]
		if c.nulls {
			if a.IsNull(i) {
				buf[p] = nullByte(c.key.NullsLast)
				at[i] = p + 1
				continue
			}
			buf[p] = 1
			p++
		}
		v := data[offs[i]-base : offs[i+1]-base]
		if plain || inv == 0 && bytes.IndexByte(v, 0) < 0 {
			p += copy(buf[p:], v)
		} else {
			for _, ch := range v {
				buf[p] = ch ^ inv
				p++
				if ch == 0 {
					buf[p] = 0xFF ^ inv
					p++
				}
			}
		}
		buf[p], buf[p+1] = inv, inv
		at[i] = p + 2
	}
}

// encode writes row i's part of the key of every row of chunk a at
// buf[at[i]:], advancing at[i].
func (c *sortCol) encode(a arrow.Array, buf []byte, at []int) {
	switch c.kind {
	case colOrdered:
		w := c.width
		put := func(i int, v uint64) {
			p := at[i]
			for b := w - 1; b >= 0; b-- {
				buf[p+b] = byte(v)
				v >>= 8
			}
			at[i] = p + w
		}
		if w == 9 { // a null byte, then 8 bytes
			for i := range at {
				buf[at[i]] = 1
				if a.IsNull(i) {
					buf[at[i]] = nullByte(c.key.NullsLast)
					clear(buf[at[i]+1 : at[i]+9])
					at[i] += 9
				}
			}
			orderedValues(a, func(i int, u uint64) {
				binary.BigEndian.PutUint64(buf[at[i]+1:], c.code(u))
				at[i] += 9
			})
			return
		}
		if c.nulls {
			nc := c.nullCode()
			for i := range at {
				if a.IsNull(i) {
					put(i, nc)
				}
			}
		}
		if w == 8 {
			orderedValues(a, func(i int, u uint64) {
				binary.BigEndian.PutUint64(buf[at[i]:], c.code(u))
				at[i] += 8
			})
			return
		}
		orderedValues(a, func(i int, u uint64) { put(i, c.code(u)) })
	case colVarBytes:
		switch x := a.(type) {
		case *array.String:
			encodeVar(c, a, x.ValueOffsets(), x.ValueBytes(), buf, at)
		case *array.LargeString:
			encodeVar(c, a, x.ValueOffsets(), x.ValueBytes(), buf, at)
		case *array.Binary:
			encodeVar(c, a, x.ValueOffsets(), x.ValueBytes(), buf, at)
		case *array.LargeBinary:
			encodeVar(c, a, x.ValueOffsets(), x.ValueBytes(), buf, at)
		}
	case colDecimal:
		d := a.(*array.Decimal128)
		for i := range at {
			p := at[i]
			if c.nulls {
				if a.IsNull(i) {
					buf[p] = nullByte(c.key.NullsLast)
					at[i] = p + 1
					continue
				}
				buf[p] = 1
				p++
			}
			v := d.Value(i)
			hi, lo := uint64(v.HighBits())^1<<63, v.LowBits()
			if c.key.Descending {
				hi, lo = ^hi, ^lo
			}
			binary.BigEndian.PutUint64(buf[p:], hi)
			binary.BigEndian.PutUint64(buf[p+8:], lo)
			at[i] = p + 16
		}
	}
}

func nullByte(last bool) byte {
	if last {
		return 2
	}
	return 0
}

// fixedWidth is the bytes a row of the column takes whatever its value
// (-1 for strings, whose rows differ).
func (c *sortCol) fixedWidth() int {
	switch c.kind {
	case colOrdered:
		return c.width
	case colDecimal:
		if c.nulls {
			return -1 // a null is the null byte alone
		}
		return 16
	}
	return -1
}

// encodeKeys builds the normalized keys of the rows of columns (chunked
// alike, n rows in all), using up to workers goroutines.
func encodeKeys(cols []*sortCol, n int, workers int) *normKeys {
	var chunkLens []int
	for _, ch := range cols[0].chunks {
		chunkLens = append(chunkLens, ch.Len())
	}
	parallel(len(cols), workers, func(i int) { cols[i].prepare() })
	stride := 0
	for _, c := range cols {
		w := c.fixedWidth()
		if w < 0 {
			stride = -1
			break
		}
		stride += w
	}
	k := &normKeys{}
	at := make([]int, n)
	if stride >= 0 {
		k.stride = stride
		k.buf = make([]byte, n*stride+8) // +8: loads of 8 bytes past the last key
		for i := range at {
			at[i] = i * stride
		}
	} else {
		// Each row's size, column by column, then its offset.
		starts := chunkStarts(chunkLens)
		parallel(len(chunkLens), workers, func(ch int) {
			sizes := at[starts[ch]:starts[ch+1]]
			for _, c := range cols {
				if w := c.fixedWidth(); w >= 0 {
					for i := range sizes {
						sizes[i] += w
					}
					continue
				}
				if c.kind == colDecimal {
					a := c.chunks[ch]
					for i := range sizes {
						sizes[i]++
						if !a.IsNull(i) {
							sizes[i] += 16
						}
					}
					continue
				}
				c.varSizes(c.chunks[ch], sizes)
			}
		})
		total, longest := 0, 0
		for _, s := range at {
			total += s
			longest = max(longest, s)
		}
		if longest*n <= total+8*n {
			// Keys of about one length (ids, codes, names of a pattern)
			// are padded with zeros to the longest: no key is a prefix of
			// another, so the padding never decides an order, and a sort
			// reading keys in random order then misses the caches once a
			// key, not once for its offset and again for its bytes.
			// Padding keys 8 bytes each on average costs no more than
			// their offsets.
			k.stride = longest
			k.buf = make([]byte, n*longest+8)
			for i := range at {
				at[i] = i * longest
			}
		} else {
			k.offs = make([]int, n+1)
			total = 0
			for i, s := range at {
				k.offs[i] = total
				at[i] = total
				total += s
			}
			k.offs[n] = total
			k.buf = make([]byte, total+8)
		}
	}
	starts := chunkStarts(chunkLens)
	parallel(len(chunkLens), workers, func(ch int) {
		for _, c := range cols {
			c.encode(c.chunks[ch], k.buf, at[starts[ch]:starts[ch+1]])
		}
	})
	return k
}

func chunkStarts(lens []int) []int {
	s := make([]int, len(lens)+1)
	for i, l := range lens {
		s[i+1] = s[i] + l
	}
	return s
}

// parallel runs f(0..n-1) on up to workers goroutines.
func parallel(n, workers int, f func(i int)) {
	if workers <= 1 || n <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}

// sortItem is a row and 8 bytes of its key, from the current depth.
type sortItem struct {
	pre uint64
	row uint32
}

// slice8 is the 8 bytes of key from byte 8*depth, zero past its end.
func slice8(key []byte, depth int) uint64 {
	s := 8 * depth
	if s+8 <= len(key) {
		return binary.BigEndian.Uint64(key[s:])
	}
	var v uint64
	for i := 0; i < 8; i++ {
		v <<= 8
		if s+i < len(key) {
			v |= uint64(key[s+i])
		}
	}
	return v
}

// smallSort: runs up to this long are sorted by comparison.
const smallSort = 192

// parallelSort: at least this many items are split across the workers
// before each part is sorted alone.
const parallelSort = 1 << 16

// sortedRows is the order of the rows by their keys, ties in row order.
func sortedRows(ctx context.Context, k *normKeys, n int, workers int) ([]uint32, error) {
	items := make([]sortItem, n)
	tmp := make([]sortItem, n)
	parallel(workers, workers, func(w int) {
		lo, hi := n*w/workers, n*(w+1)/workers
		for i := lo; i < hi; i++ {
			items[i] = sortItem{slice8(k.key(uint32(i)), 0), uint32(i)}
		}
	})
	if err := k.sortItems(ctx, items, tmp, 0, workers); err != nil {
		return nil, err
	}
	rows := make([]uint32, n)
	parallel(workers, workers, func(w int) {
		for i := n * w / workers; i < n*(w+1)/workers; i++ {
			rows[i] = items[i].row
		}
	})
	return rows, nil
}

// sortItems sorts items, whose keys are equal before depth and whose pre
// is the slice at depth, by key and then row. Many items are first split
// by the most significant byte of pre that differs (a stable MSD radix
// pass, each worker scattering its share), so that the parts sort in
// parallel and the radix passes over each part stay in the caches.
func (k *normKeys) sortItems(ctx context.Context, items, tmp []sortItem, depth, workers int) error {
	n := len(items)
	if n < parallelSort {
		k.sortSlice(ctx, items, tmp, depth)
		return ctx.Err()
	}
	share := func(w int) (int, int) { return n * w / workers, n * (w + 1) / workers }
	diffs := make([]uint64, workers) // the bits of pre that differ from the first item's
	parallel(workers, workers, func(w int) {
		lo, hi := share(w)
		first, d := items[0].pre, uint64(0)
		for _, it := range items[lo:hi] {
			d |= it.pre ^ first
		}
		diffs[w] = d
	})
	var diff uint64
	for _, d := range diffs {
		diff |= d
	}
	if diff == 0 { // every pre is equal
		if !k.longer(items[0].row, depth) {
			return nil // every key is equal: the rows are in order
		}
		parallel(workers, workers, func(w int) {
			lo, hi := share(w)
			k.refill(items[lo:hi], depth+1)
		})
		return k.sortItems(ctx, items, tmp, depth+1, workers)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	shift := (63 - bits.LeadingZeros64(diff)) &^ 7
	counts := make([][256]int, workers)
	parallel(workers, workers, func(w int) {
		lo, hi := share(w)
		c := &counts[w]
		for _, it := range items[lo:hi] {
			c[byte(it.pre>>shift)]++
		}
	})
	// Worker w's items of byte value v go after those of the workers before it.
	var bounds [257]int
	pos := 0
	for v := range 256 {
		bounds[v] = pos
		for w := range workers {
			c := counts[w][v]
			counts[w][v] = pos
			pos += c
		}
	}
	bounds[256] = n
	parallel(workers, workers, func(w int) {
		lo, hi := share(w)
		at := &counts[w]
		for _, it := range items[lo:hi] {
			v := byte(it.pre >> shift)
			tmp[at[v]] = it
			at[v]++
		}
	})
	var parts [][2]int
	for v := range 256 {
		lo, hi := bounds[v], bounds[v+1]
		if workers > 1 && hi-lo > n/2 { // most of the items: split again by all workers
			copy(items[lo:hi], tmp[lo:hi])
			if err := k.sortItems(ctx, items[lo:hi], tmp[lo:hi], depth, workers); err != nil {
				return err
			}
		} else if hi > lo {
			parts = append(parts, [2]int{lo, hi})
		}
	}
	var failed atomic.Bool
	parallel(len(parts), workers, func(p int) {
		if failed.Load() || ctx.Err() != nil {
			failed.Store(true)
			return
		}
		lo, hi := parts[p][0], parts[p][1]
		copy(items[lo:hi], tmp[lo:hi])
		_ = k.sortItems(ctx, items[lo:hi], tmp[lo:hi], depth, 1)
	})
	return ctx.Err()
}

// longer says whether row's key goes on past the slice at depth (else the
// rows of its run, which share that slice, have equal keys).
func (k *normKeys) longer(row uint32, depth int) bool {
	return len(k.key(row)) > 8*(depth+1)
}

func (k *normKeys) refill(items []sortItem, depth int) {
	for i := range items {
		items[i].pre = slice8(k.key(items[i].row), depth)
	}
}

// sortSlice sorts a few items, whose keys are equal before depth and
// whose pre is the slice at depth, by key and then row, on this goroutine.
func (k *normKeys) sortSlice(ctx context.Context, items, tmp []sortItem, depth int) {
	if len(items) <= smallSort {
		k.sortSmall(items, depth)
		return
	}
	radixSort(items, tmp)
	var runs [][2]int
	for _, r := range equalRuns(items, runs) {
		if k.longer(items[r[0]].row, depth) {
			lo, hi := r[0], r[1]
			k.refill(items[lo:hi], depth+1)
			_ = k.sortItems(ctx, items[lo:hi], tmp[lo:hi], depth+1, 1)
		}
	}
}

// sortSmall sorts items by comparison: the slice at depth, the rest of
// the keys, the row.
func (k *normKeys) sortSmall(items []sortItem, depth int) {
	from := 8 * (depth + 1)
	slices.SortFunc(items, func(a, b sortItem) int {
		if c := cmp.Compare(a.pre, b.pre); c != 0 {
			return c
		}
		ka, kb := k.key(a.row), k.key(b.row)
		if c := bytes.Compare(ka[min(from, len(ka)):], kb[min(from, len(kb)):]); c != 0 {
			return c
		}
		return cmp.Compare(a.row, b.row)
	})
}

// equalRuns appends the [lo, hi) ranges of items with equal pre, longer
// than one.
func equalRuns(items []sortItem, runs [][2]int) [][2]int {
	for lo := 0; lo < len(items); {
		hi := lo + 1
		for hi < len(items) && items[hi].pre == items[lo].pre {
			hi++
		}
		if hi-lo > 1 {
			runs = append(runs, [2]int{lo, hi})
		}
		lo = hi
	}
	return runs
}

// radixSort sorts items by pre, stably, one pass per byte that is not
// the same in every item; tmp is scratch of the same length.
func radixSort(items, tmp []sortItem) {
	var counts [8][256]int
	for _, it := range items {
		p := it.pre
		for b := 0; b < 8; b++ {
			counts[b][byte(p>>(8*b))]++
		}
	}
	src, dst := items, tmp
	for b := 0; b < 8; b++ {
		c := &counts[b]
		if c[byte(items[0].pre>>(8*b))] == len(items) {
			continue // one value: nothing to move
		}
		sum := 0
		for v := range c {
			c[v], sum = sum, sum+c[v]
		}
		shift := 8 * b
		for _, it := range src {
			v := byte(it.pre >> shift)
			dst[c[v]] = it
			c[v]++
		}
		src, dst = dst, src
	}
	if &src[0] != &items[0] {
		copy(items, src)
	}
}

// sortWorkers is how many goroutines a sort uses.
func sortWorkers() int { return max(1, runtime.GOMAXPROCS(0)) }
