package exec

import (
	"math"
	"slices"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels"
	"slipstream/kernels/expr"
)

// grouper gives every distinct combination of key values a dense group id,
// stable across batches. Each key column has its own dictionary (value ->
// dense id); with several keys, a row's tuple of key ids is hashed once
// into one table of tuples (tupleTable), so no row is ever encoded into
// bytes and a group-by with one group per row probes one table, not one
// per key.
type grouper struct {
	dicts  []keyDict
	tuples *tupleTable // with two keys or more
	n      int
	frozen bool
	// scratch, per key: the ids of a batch's rows.
	ids [][]uint32
}

// freeze makes groupIDs a pure lookup: a key not seen before gets noID and
// nothing is added, so any number of goroutines may look up at once (the
// probes of a hash join).
func (g *grouper) freeze() {
	g.frozen = true
	for _, d := range g.dicts {
		d.freeze()
	}
	g.ids = nil
}

func newGrouper(types []arrow.DataType) (*grouper, error) {
	g := &grouper{}
	for _, t := range types {
		d, err := newKeyDict(t)
		if err != nil {
			return nil, err
		}
		g.dicts = append(g.dicts, d)
	}
	if len(types) > 1 {
		g.tuples = newTupleTable(len(types))
	}
	return g, nil
}

// groupIDs returns the group id of every row of keys (one array per key).
func (g *grouper) groupIDs(keys []arrow.Array, rows int) []uint32 {
	return g.groupIDsInto(keys, rows, nil)
}

// groupIDsInto is groupIDs written over into (grown when short): a caller
// that consumes the ids before its next batch reuses one buffer, not a
// fresh quarter megabyte a batch to zero and fault in.
func (g *grouper) groupIDsInto(keys []arrow.Array, rows int, into []uint32) []uint32 {
	if len(keys) == 0 {
		if !g.frozen {
			g.n = 1
		}
		out := slices.Grow(into[:0], rows)[:rows]
		clear(out)
		return out
	}
	if len(keys) == 1 {
		ids := g.dicts[0].encode(keys[0], into[:0])
		if !g.frozen {
			g.n = g.dicts[0].len()
		}
		return ids
	}
	cols := g.ids
	if g.frozen { // shared by concurrent probes: scratch of their own
		cols = make([][]uint32, len(keys))
	} else if cols == nil {
		cols = make([][]uint32, len(keys))
		g.ids = cols
	}
	for j := range keys {
		cols[j] = g.dicts[j].encode(keys[j], cols[j][:0])
	}
	out := slices.Grow(into[:0], rows)[:rows] // every row's id is written
	if g.frozen {
		g.tuples.lookup(cols, out)
		return out
	}
	g.tuples.add(cols, out)
	g.n = g.tuples.len()
	return out
}

// keyColumns builds the key values of groups lo..hi-1, one array per key.
func (g *grouper) keyColumns(mem memory.Allocator, lo, hi int) []arrow.Array {
	if len(g.dicts) == 0 {
		return nil
	}
	out := make([]arrow.Array, len(g.dicts))
	ids := make([]uint32, hi-lo)
	if len(g.dicts) == 1 {
		for i := range ids {
			ids[i] = uint32(lo + i)
		}
		out[0] = g.dicts[0].values(mem, ids)
		return out
	}
	for j, d := range g.dicts {
		g.tuples.column(j, lo, ids)
		out[j] = d.values(mem, ids)
	}
	return out
}

// keyDict maps the values of one key column to dense ids.
type keyDict interface {
	// encode appends the id of every row of arr to out, adding new values
	// (once frozen: noID for a value not seen, adding nothing).
	encode(arr arrow.Array, out []uint32) []uint32
	freeze()
	len() int
	// bytes is what finding values takes (tables) and what keeping them
	// takes (values needs only these).
	bytes() (index, values int64)
	// dropIndex lets go of what only finding values needs: once the
	// groups are all in, only their values are built.
	dropIndex()
	// values builds the array of the values with the given ids.
	values(mem memory.Allocator, ids []uint32) arrow.Array
}

const noID = math.MaxUint32

func newKeyDict(t arrow.DataType) (keyDict, error) {
	switch t.ID() {
	case arrow.INT8, arrow.UINT8:
		return newIntDict[uint8](t), nil
	case arrow.INT16, arrow.UINT16:
		return newIntDict[uint16](t), nil
	case arrow.INT32, arrow.UINT32, arrow.DATE32, arrow.TIME32:
		return newIntDict[uint32](t), nil
	case arrow.INT64, arrow.UINT64, arrow.TIMESTAMP, arrow.DURATION, arrow.TIME64:
		return newIntDict[uint64](t), nil
	case arrow.FLOAT32:
		d := newIntDict[uint32](t)
		d.canon = func(v uint32) uint32 { return math.Float32bits(float32(canonFloat(float64(math.Float32frombits(v))))) }
		return d, nil
	case arrow.FLOAT64:
		d := newIntDict[uint64](t)
		d.canon = func(v uint64) uint64 { return math.Float64bits(canonFloat(math.Float64frombits(v))) }
		return d, nil
	case arrow.DECIMAL128:
		return newFixedDict[decimal128.Num](t), nil
	case arrow.BOOL:
		return &boolDict{ids: [2]uint32{noID, noID}, null: noID}, nil
	case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY:
		return &stringDict{t: t, tbl: newStrTable(), null: noID, short: newU64Table()}, nil
	}
	return nil, kernels.Errorf(kernels.NotSupported, "cannot group by %s values yet", expr.TypeName(t))
}

// canonFloat makes -0 equal 0 and every NaN one NaN, as SQL groups them.
func canonFloat(f float64) float64 {
	switch {
	case f == 0:
		return 0
	case f != f:
		return math.NaN()
	}
	return f
}

// fixedDict keys fixed-width values by their bits.
type fixedDict[T interface {
	comparable
	arrow.FixedWidthType
}] struct {
	t      arrow.DataType
	m      map[T]uint32
	vals   []T
	null   uint32 // id of null, noID until one is seen
	canon  func(T) T
	frozen bool
}

func newFixedDict[T interface {
	comparable
	arrow.FixedWidthType
}](t arrow.DataType) *fixedDict[T] {
	return &fixedDict[T]{t: t, m: map[T]uint32{}, null: noID}
}

func (d *fixedDict[T]) len() int { return len(d.vals) }
func (d *fixedDict[T]) freeze()  { d.frozen = true }

func (d *fixedDict[T]) encode(arr arrow.Array, out []uint32) []uint32 {
	raw := expr.Values[T](arr) // nil for an empty batch, whose data buffer may be nil
	for i, v := range raw {
		if arr.IsNull(i) {
			if d.null == noID && !d.frozen {
				d.null = uint32(len(d.vals))
				var zero T
				d.vals = append(d.vals, zero)
			}
			out = append(out, d.null)
			continue
		}
		if d.canon != nil {
			v = d.canon(v)
		}
		id, ok := d.m[v]
		if !ok && d.frozen {
			id = noID
		} else if !ok {
			id = uint32(len(d.vals))
			d.m[v] = id
			d.vals = append(d.vals, v)
		}
		out = append(out, id)
	}
	return out
}

func (d *fixedDict[T]) values(mem memory.Allocator, ids []uint32) arrow.Array {
	return dictValues(mem, d.t, d.vals, d.null, ids)
}

// dictValues builds the array of the fixed-width values with the given ids
// (the id null stands for null).
// The values are written into the array's buffer, not gathered into a Go
// slice first: a group-by of 10^7 groups spent a second copying.
func dictValues[T arrow.FixedWidthType](mem memory.Allocator, t arrow.DataType, all []T, null uint32, ids []uint32) arrow.Array {
	buf := newWrittenBuffer(mem, len(ids)*int(unsafe.Sizeof(*new(T))))
	vals := arrow.GetData[T](buf.Bytes())
	var validity *memory.Buffer
	nulls := 0
	for i, id := range ids {
		if id == null {
			if validity == nil {
				validity = memory.NewResizableBuffer(mem)
				validity.Resize(int(bitutil.BytesForBits(int64(len(ids)))))
				bitutil.SetBitsTo(validity.Bytes(), 0, int64(len(ids)), true)
			}
			bitutil.ClearBit(validity.Bytes(), i)
			nulls++
			vals[i] = *new(T)
			continue
		}
		vals[i] = all[id]
	}
	data := array.NewData(t, len(ids), []*memory.Buffer{validity, buf}, nil, nulls, 0)
	defer data.Release()
	buf.Release()
	if validity != nil {
		validity.Release()
	}
	return array.MakeFromData(data)
}

// intDict keys fixed-width values of up to 64 bits by their bits, in a u64Table.
type intDict[T uint8 | uint16 | uint32 | uint64] struct {
	t      arrow.DataType
	tbl    *u64Table
	vals   []T
	null   uint32
	canon  func(T) T
	frozen bool
	// direct, once frozen and dense: direct[v-lo] is the id of v (noID: none).
	direct []uint32
	lo     uint64
	// hashLo and hashHi bound the keys in tbl (toDense).
	hashLo, hashHi uint64
	// dense: the keys seen span a range under denseSpan of their number,
	// and direct (over a range holding them) is the dictionary, not tbl.
	dense bool
	// present, once frozen and not dense but within a range under 256
	// times the number of keys: bit v-lo is set for every key v. A probe
	// that misses (most, in a selective join) is answered by this bitmap,
	// smaller than the table (whose slots take 256 to 512 bits a key), and
	// so more of it in the cache.
	present []uint64
}

func newIntDict[T uint8 | uint16 | uint32 | uint64](t arrow.DataType) *intDict[T] {
	return &intDict[T]{t: t, tbl: newU64Table(), null: noID, hashLo: math.MaxUint64}
}

func (d *intDict[T]) len() int { return len(d.vals) }

// freeze also maps dense keys directly: when the distinct values span a
// range at most a few times their number (the keys of a dimension table,
// 1..N), a lookup is one index into an array of ids over that range, not
// a probe of a hash table many times the size.
// bitmapSpan bounds, per key, the range a frozen key set keeps a bitmap of.
const bitmapSpan = 256

func (d *intDict[T]) freeze() {
	d.frozen, d.tbl.frozen = true, true
	if d.dense || d.canon != nil || len(d.vals) == 0 {
		return
	}
	lo, hi := uint64(math.MaxUint64), uint64(0)
	for id, v := range d.vals {
		if uint32(id) != d.null {
			lo, hi = min(lo, uint64(v)), max(hi, uint64(v))
		}
	}
	if hi < lo {
		return
	}
	if span := hi - lo; span >= uint64(4*len(d.vals)+1024) {
		if span < uint64(bitmapSpan*len(d.vals)) {
			d.lo, d.present = lo, make([]uint64, span/64+1)
			for id, v := range d.vals {
				if uint32(id) != d.null {
					off := uint64(v) - lo
					d.present[off/64] |= 1 << (off % 64)
				}
			}
		}
		return
	}
	d.direct, d.lo = make([]uint32, hi-lo+1), lo
	for i := range d.direct {
		d.direct[i] = noID
	}
	for id, v := range d.vals {
		if uint32(id) != d.null {
			d.direct[uint64(v)-lo] = uint32(id)
		}
	}
}

// denseSpan bounds the range of the keys a dictionary indexes directly:
// 4 slots a key and 1024 more (freeze's bound). Before a batch, the bound
// counts its rows as keys; after it, its keys, so that a few keys spread
// wide go back to the hash table.
func denseSpan(keys int) uint64 { return 4*uint64(keys) + 1024 }

// toHash moves the keys of a dense dictionary to its hash table, in id order.
func (d *intDict[T]) toHash() {
	for id, v := range d.vals {
		if uint32(id) == d.null {
			d.tbl.reserve()
		} else {
			d.tbl.id(uint64(v))
			d.hashLo, d.hashHi = min(d.hashLo, uint64(v)), max(d.hashHi, uint64(v))
		}
	}
	d.dense, d.direct = false, nil
}

// toDense moves the keys of a hashed dictionary to direct, once they are
// many enough for their range (the first batch of a million keys holds
// too few of them to tell).
func (d *intDict[T]) toDense() {
	d.direct, d.lo = noIDs(int(d.hashHi-d.hashLo+1)), d.hashLo
	for id, v := range d.vals {
		if uint32(id) != d.null {
			d.direct[uint64(v)-d.lo] = uint32(id)
		}
	}
	d.dense, d.tbl = true, newU64Table()
}

// useDense says whether the dictionary indexes the keys of raw directly,
// widening its range for them, or turning to its hash table when their
// range would be too wide for their number.
func (d *intDict[T]) useDense(arr arrow.Array, raw []T) bool {
	if d.frozen || !(d.dense || len(d.vals) == 0) || d.canon != nil {
		return d.dense
	}
	lo, hi, any := uint64(math.MaxUint64), uint64(0), false
	nulls := arr.NullN() > 0
	for i, v := range raw {
		if nulls && arr.IsNull(i) {
			continue
		}
		lo, hi, any = min(lo, uint64(v)), max(hi, uint64(v)), true
	}
	if !any {
		return d.dense // nulls only: nothing to decide
	}
	limit := denseSpan(len(d.vals) + len(raw))
	if !d.dense {
		if hi-lo >= limit {
			return false
		}
		d.dense, d.lo = true, lo
		d.direct = noIDs(int(hi - lo + 1))
		return true
	}
	top := d.lo + uint64(len(d.direct)) - 1
	if lo >= d.lo && hi <= top {
		return true
	}
	newLo, newHi := min(lo, d.lo), max(hi, top)
	if newHi-newLo >= limit {
		d.toHash()
		return false
	}
	// Room for as much again beyond the new keys, within the bound of the
	// keys already seen.
	span, room := newHi-newLo+1, denseSpan(len(d.vals))
	if hi > top {
		newHi = max(newHi, min(newLo+room-1, newHi+span))
	} else if newHi-newLo+1 < room {
		newLo -= min(newLo, span, room-(newHi-newLo+1))
	}
	direct := noIDs(int(newHi - newLo + 1))
	copy(direct[d.lo-newLo:], d.direct)
	d.direct, d.lo = direct, newLo
	return true
}

func noIDs(n int) []uint32 {
	s := make([]uint32, n)
	for i := range s {
		s[i] = noID
	}
	return s
}

// encodeDense encodes through direct (useDense).
func (d *intDict[T]) encodeDense(arr arrow.Array, raw []T, out []uint32) []uint32 {
	start := len(out)
	out = slices.Grow(out, len(raw))[:start+len(raw)]
	// First every row's id as direct holds it, loads that wait on nothing
	// (a million keys' ids are past the nearest caches); then the nulls
	// and the keys not seen before.
	missed := d.lookupDense(raw, out[start:])
	return d.addDense(arr, raw, out, start, missed)
}

// lookupDense is denseIDs, except that when the first rows miss (a join's
// build, the first batches of a group a row) the rest are left noID, to be
// looked up once each as addDense adds them: a first pass over keys not
// seen would miss the caches on every row for nothing.
func (d *intDict[T]) lookupDense(raw []T, ids []uint32) (missed bool) {
	head := min(len(raw), 64)
	headMissed := d.denseIDs(raw[:head], ids[:head])
	if headMissed && !d.frozen { // a frozen dictionary adds nothing: look every key up
		rest := ids[head:len(raw)]
		for i := range rest {
			rest[i] = noID
		}
		return true
	}
	return d.denseIDs(raw[head:], ids[head:]) || headMissed
}

// roomFor is vals with room for n more, unless frozen: a join's build
// adds all its keys in one call, and growing the values by doubling
// copied 400 MB of them over and over (1.3 s of a 5·10^7-row build).
func roomFor[T any](vals []T, n int, frozen bool) []T {
	if frozen || n <= 0 || cap(vals)-len(vals) >= n {
		return vals
	}
	return slices.Grow(vals, n)
}

// denseGrown turns the dictionary to hashing once direct spans too many
// values for the keys it holds; it returns out.
func (d *intDict[T]) denseGrown(out []uint32) []uint32 {
	if !d.frozen && uint64(len(d.direct)) > denseSpan(len(d.vals)) {
		d.toHash()
	}
	return out
}

// addDense completes out[start:], raw's ids as direct held them: the nulls'
// id, and new ids for the keys not seen before when any row missed.
func (d *intDict[T]) addDense(arr arrow.Array, raw []T, out []uint32, start int, missed bool) []uint32 {
	ids := out[start:]
	direct, lo := d.direct, d.lo
	var valid []byte
	at := arr.Data().Offset()
	if arr.NullN() > 0 {
		valid = arr.NullBitmapBytes()
	} else if d.frozen || !missed {
		return out // no null to name, no key to add
	}
	if missed {
		// new keys: at most the batch, and at most what direct spans
		d.vals = roomFor(d.vals, min(len(raw), len(direct)+1-len(d.vals)), d.frozen)
	}
	for i, v := range raw {
		if valid != nil && valid[(at+i)>>3]&(1<<((at+i)&7)) == 0 {
			if d.null == noID && !d.frozen {
				d.null = uint32(len(d.vals))
				d.vals = append(d.vals, 0)
			}
			ids[i] = d.null
			continue
		}
		if ids[i] != noID || d.frozen {
			continue // frozen: a key never seen stays noID
		}
		off := uint64(v) - lo // within direct: useDense widened it for raw
		if id := direct[off]; id != noID {
			ids[i] = id // the key came earlier in this batch
			continue
		}
		id := uint32(len(d.vals))
		direct[off] = id
		d.vals = append(d.vals, v)
		ids[i] = id
	}
	return out
}

// denseIDs sets ids[i] to raw[i]'s id as direct holds it (noID outside
// direct or not seen yet), reporting whether any row missed.
func (d *intDict[T]) denseIDs(raw []T, ids []uint32) (missed bool) {
	direct, lo := d.direct, d.lo
	ids = ids[:len(raw)]
	var top uint32 // noID's top bit; a true id past 2^31 only costs the slow path
	for i, v := range raw {
		id := uint32(noID)
		if off := uint64(v) - lo; off < uint64(len(direct)) {
			id = direct[off]
		}
		ids[i] = id
		top |= id
	}
	return top>>31 != 0
}

func (d *intDict[T]) encode(arr arrow.Array, out []uint32) []uint32 {
	raw := expr.Values[T](arr) // nil for an empty batch, whose data buffer may be nil
	// Past the first batches of a group-by every key was seen before: their
	// ids, without first scanning the batch for its range (useDense). A
	// batch whose first keys are new (a join's build, a group a row) looks
	// each key up once, as it adds it: a first pass would miss on every row.
	if d.dense && !d.frozen && arr.NullN() == 0 && len(raw) > 0 {
		start := len(out)
		out = slices.Grow(out, len(raw))[:start+len(raw)]
		if !d.lookupDense(raw, out[start:]) {
			return out
		}
		if d.useDense(arr, raw) { // the ids found stay right: they index vals
			return d.denseGrown(d.addDense(arr, raw, out, start, true))
		}
		out = out[:start]
	}
	if d.useDense(arr, raw) {
		return d.denseGrown(d.encodeDense(arr, raw, out))
	}
	hasNulls := arr.NullN() > 0
	if !hasNulls && d.direct != nil {
		out = slices.Grow(out, len(raw))
		for _, v := range raw {
			id := uint32(noID)
			if off := uint64(v) - d.lo; off < uint64(len(d.direct)) {
				id = d.direct[off]
			}
			out = append(out, id)
		}
		return out
	}
	if d.canon == nil {
		// The common case in a tight loop: a key found in its first slot
		// costs one load, and the loads of successive rows overlap.
		out = slices.Grow(out, len(raw))
		t := d.tbl
		var valid []byte
		off := arr.Data().Offset()
		if hasNulls {
			valid = arr.NullBitmapBytes()
		}
		for i, v := range raw {
			if valid != nil && valid[(off+i)>>3]&(1<<((off+i)&7)) == 0 {
				if d.null == noID && !d.frozen {
					d.null = t.reserve()
					d.vals = append(d.vals, 0)
				}
				out = append(out, d.null)
				continue
			}
			k := uint64(v)
			if d.present != nil {
				if off := k - d.lo; off/64 >= uint64(len(d.present)) || d.present[off/64]&(1<<(off%64)) == 0 {
					out = append(out, noID)
					continue
				}
			}
			if id, ok := t.atFirstSlot(k); ok {
				out = append(out, id)
				continue
			}
			id := t.id(k)
			if int(id) == len(d.vals) {
				d.vals = append(d.vals, v)
				d.hashLo, d.hashHi = min(d.hashLo, k), max(d.hashHi, k)
			}
			out = append(out, id)
		}
		if !d.frozen && d.hashHi >= d.hashLo && d.hashHi-d.hashLo < denseSpan(len(d.vals)) {
			d.toDense()
		}
		return out
	}
	for i, v := range raw {
		if hasNulls && arr.IsNull(i) {
			if d.null == noID && !d.frozen {
				d.null = d.tbl.reserve()
				d.vals = append(d.vals, 0)
			}
			out = append(out, d.null)
			continue
		}
		if d.canon != nil {
			v = d.canon(v)
		}
		id := d.tbl.id(uint64(v))
		if int(id) == len(d.vals) {
			d.vals = append(d.vals, v)
		}
		out = append(out, id)
	}
	return out
}

func (d *intDict[T]) values(mem memory.Allocator, ids []uint32) arrow.Array {
	return dictValues(mem, d.t, d.vals, d.null, ids)
}

type boolDict struct {
	ids    [2]uint32
	null   uint32
	vals   []bool
	n      int
	frozen bool
}

func (d *boolDict) len() int { return d.n }
func (d *boolDict) freeze()  { d.frozen = true }

func (d *boolDict) encode(arr arrow.Array, out []uint32) []uint32 {
	b := arr.(*array.Boolean)
	for i := 0; i < b.Len(); i++ {
		slot := &d.null
		if b.IsValid(i) {
			slot = &d.ids[0]
			if b.Value(i) {
				slot = &d.ids[1]
			}
		}
		if *slot == noID && !d.frozen {
			*slot = uint32(d.n)
			d.vals = append(d.vals, b.IsValid(i) && b.Value(i))
			d.n++
		}
		out = append(out, *slot)
	}
	return out
}

func (d *boolDict) values(mem memory.Allocator, ids []uint32) arrow.Array {
	bld := array.NewBooleanBuilder(mem)
	defer bld.Release()
	for _, id := range ids {
		if id == d.null {
			bld.AppendNull()
		} else {
			bld.Append(d.vals[id])
		}
	}
	return bld.NewArray()
}

type stringDict struct {
	t      arrow.DataType
	tbl    *strTable
	vals   strHeap
	null   uint32
	frozen bool
	// Strings of up to 7 bytes (flags, codes, modes) are found by their
	// bytes and length packed into a uint64, without hashing the string:
	// short maps the packed key to an index into shortIDs, the string's id.
	short    *u64Table
	shortIDs []uint32
	// dict is the dictionary of the last dictionary array encoded, dictIDs
	// the ids of its values: the batches of a Parquet column chunk share
	// one, encoded once. Only its identity is kept (not a reference: its
	// buffers may go; the Go object, referenced here, cannot be reused).
	dict    arrow.ArrayData
	dictIDs []uint32
	// dictUsed[i]: dictIDs[i] holds value i's id (a row used it);
	// dictFresh: scratch.
	dictUsed  []bool
	dictFresh []int64
	touched   uint32 // what strTable.touch read, kept so its reads are kept
}

func (d *stringDict) len() int { return d.vals.len() }
func (d *stringDict) freeze()  { d.frozen, d.short.frozen = true, true }

// packShort packs a string of at most 7 bytes, its length in the top byte.
func packShort(v string) uint64 {
	w := packInline(v) // its bytes in w.lo, its length atop w.hi
	return w.lo | w.hi
}

func (d *stringDict) encode(arr arrow.Array, out []uint32) []uint32 {
	switch a := arr.(type) {
	case *array.String:
		return encodePacked(d, a, a.ValueOffsets(), a.ValueBytes(), out)
	case *array.LargeString:
		return encodePacked(d, a, a.ValueOffsets(), a.ValueBytes(), out)
	case *array.Binary: // binary keys share stringDict: a Go string holds any bytes
		return encodePacked(d, a, a.ValueOffsets(), a.ValueBytes(), out)
	case *array.LargeBinary:
		return encodePacked(d, a, a.ValueOffsets(), a.ValueBytes(), out)
	case *array.Dictionary:
		return d.encodeDictionary(a, out)
	}
	return encodeStrings(d, arr.(interface {
		arrow.Array
		Value(int) string
	}), out)
}

// encodePacked encodes the strings of a straight from their offsets and
// bytes (which start at the first offset), nulls from its validity bitmap:
// a short string already seen
// costs its packing and one slot.
func encodePacked[O int32 | int64](d *stringDict, a arrow.Array, offsets []O, data []byte, out []uint32) []uint32 {
	if len(offsets) < 2 {
		return out
	}
	out = slices.Grow(out, len(offsets)-1)
	var valid []byte
	off := a.Data().Offset()
	if a.NullN() > 0 {
		valid = a.NullBitmapBytes()
	}
	base := offsets[0]
	isNull := func(i int) bool { return valid != nil && valid[(off+i)>>3]&(1<<((off+i)&7)) == 0 }
	// A table past the caches is touched ahead, touchRows strings at a
	// time (strTable.touch), then searched.
	touching := len(d.tbl.slots) > touchSlots
	var hs [touchRows]uint32
	var ws [touchRows]words // the strings of hs held in slots, packed
	for w := 0; w+1 < len(offsets); w += touchRows {
		end := min(w+touchRows, len(offsets)-1)
		n := 0
		if touching {
			for i := w; i < end; i++ {
				if lo, hi := offsets[i]-base, offsets[i+1]-base; hi-lo > 7 && !isNull(i) {
					v := unsafe.String(&data[lo], int(hi-lo))
					if len(v) <= maxInline {
						pw := packLong(v) // of 8 bytes or more here
						ws[n], hs[n] = pw, d.tbl.hashInline(pw)
					} else {
						hs[n] = d.tbl.hash(v)
					}
					n++
				}
			}
			if sum := d.tbl.touch(hs[:n], &d.vals); !d.frozen { // frozen: probes share d
				d.touched += sum
			}
		}
		n = 0
		for i := w; i < end; i++ {
			if isNull(i) {
				if d.null == noID && !d.frozen {
					d.null = uint32(d.vals.len())
					d.vals.add("")
				}
				out = append(out, d.null)
				continue
			}
			lo, hi := offsets[i]-base, offsets[i+1]-base
			if hi-lo <= 7 {
				k := uint64(hi-lo) << 56
				for j := lo; j < hi; j++ {
					k |= uint64(data[j]) << (8 * (j - lo))
				}
				if sid, ok := d.short.atFirstSlot(k); ok && int(sid) < len(d.shortIDs) {
					out = append(out, d.shortIDs[sid])
					continue
				}
				var v string
				if hi > lo {
					v = unsafe.String(&data[lo], int(hi-lo)) // aliases the batch: idOf clones what it keeps
				}
				out = append(out, d.idOf(v))
				continue
			}
			v := unsafe.String(&data[lo], int(hi-lo))
			if len(v) <= maxInline {
				var pw words
				var h uint32
				if touching {
					pw, h = ws[n], hs[n]
					n++
				} else {
					pw = packLong(v) // of 8 bytes or more here
					h = d.tbl.hashInline(pw)
				}
				out = append(out, d.inlineID(v, pw, h))
				continue
			}
			var h uint32
			if touching {
				h = hs[n]
				n++
			} else {
				h = d.tbl.hash(v)
			}
			out = append(out, d.longID(v, h))
		}
	}
	return out
}

// Strings are touched ahead (strTable.touch) in windows of touchRows,
// enough misses in flight for the processor to overlap, once the table
// has more than touchSlots slots (512 KiB of tuple slots, 1 MiB of
// string slots: past a core's share of the caches nearest it).
const (
	touchRows  = 32
	touchSlots = 1 << 16
)

func encodeStrings[A interface {
	arrow.Array
	Value(int) string
}](d *stringDict, a A, out []uint32) []uint32 {
	hasNulls := a.NullN() > 0
	for i := 0; i < a.Len(); i++ {
		if hasNulls && a.IsNull(i) {
			if d.null == noID && !d.frozen {
				d.null = uint32(d.vals.len())
				d.vals.add("")
			}
			out = append(out, d.null)
			continue
		}
		out = append(out, d.idOf(a.Value(i)))
	}
	return out
}

// encodeDictionary encodes a dictionary array's values once (once for
// all the arrays sharing its dictionary), then each row by its index. It
// encodes only the values some row uses: a value no row uses (its rows
// filtered out, or sent to another share of the groups) is no group.
func (d *stringDict) encodeDictionary(a *array.Dictionary, out []uint32) []uint32 {
	values := a.Dictionary()
	if d.dict != values.Data() {
		d.dict = values.Data()
		d.dictIDs = slices.Grow(d.dictIDs[:0], values.Len())[:values.Len()]
		d.dictUsed = slices.Grow(d.dictUsed[:0], values.Len())[:values.Len()]
		clear(d.dictUsed)
	}
	rows := dictionaryRows(a)
	fresh := d.dictFresh[:0] // the values first used here, in the order of their rows
	for _, r := range rows {
		if r >= 0 && !d.dictUsed[r] {
			d.dictUsed[r] = true
			fresh = append(fresh, r)
		}
	}
	d.dictFresh = fresh
	if len(fresh) == values.Len() {
		d.dictIDs = d.encode(values, d.dictIDs[:0]) // all of them: at once
	} else {
		for _, r := range fresh {
			v, _ := expr.StringAt(values, int(r)) // a Parquet string column's dictionary
			d.dictIDs[r] = d.idOf(v)
		}
	}
	for _, r := range rows {
		if r < 0 {
			if d.null == noID && !d.frozen {
				d.null = uint32(d.vals.len())
				d.vals.add("")
			}
			out = append(out, d.null)
			continue
		}
		out = append(out, d.dictIDs[r])
	}
	return out
}

// idOf is the id of v (noID when frozen and never seen), added if new. v
// may alias a batch: it is cloned before it is kept.
func (d *stringDict) idOf(v string) uint32 {
	if len(v) <= 7 {
		sid := d.short.id(packShort(v))
		switch {
		case sid == noID: // frozen, and never seen
			return noID
		case int(sid) < len(d.shortIDs):
			return d.shortIDs[sid]
		}
		// new: the long way gives it its id
		id, added := d.tbl.find(v, &d.vals)
		if added {
			d.vals.add(v)
		}
		d.shortIDs = append(d.shortIDs, id)
		return id
	}
	return d.longID(v, d.tbl.hash(v))
}

// inlineID is longID of a string a slot holds, packed as pw, of hash h.
func (d *stringDict) inlineID(v string, pw words, h uint32) uint32 {
	if d.frozen {
		return d.tbl.lookupInline(pw, h)
	}
	id, added := d.tbl.findInline(pw, h, d.vals.len())
	if added {
		d.vals.add(v)
	}
	return id
}

// longID is idOf of a string of over 7 bytes whose hash (strTable.hash)
// the caller has.
func (d *stringDict) longID(v string, h uint32) uint32 {
	if d.frozen {
		return d.tbl.lookupHashed(v, h, &d.vals)
	}
	id, added := d.tbl.findHashed(v, h, &d.vals)
	if added {
		d.vals.add(v)
	}
	return id
}

// appendText appends a Go string to a binary builder as its bytes.
type appendText struct{ *array.BinaryBuilder }

func (b appendText) Append(v string) { b.AppendString(v) }

func (d *stringDict) values(mem memory.Allocator, ids []uint32) arrow.Array {
	var bufs []*memory.Buffer
	if id := d.t.ID(); id == arrow.LARGE_STRING || id == arrow.LARGE_BINARY {
		bufs = heapValues[int64](mem, &d.vals, d.null, ids)
	} else if bufs = heapValues[int32](mem, &d.vals, d.null, ids); bufs == nil {
		return d.built(mem, ids) // over 2 GiB: the builder says what it says
	}
	nulls := 0
	if bufs[0] != nil {
		nulls = len(ids) - bitutil.CountSetBits(bufs[0].Bytes(), 0, len(ids))
	}
	data := array.NewData(d.t, len(ids), bufs, nil, nulls, 0)
	for _, b := range bufs {
		if b != nil {
			b.Release()
		}
	}
	defer data.Release()
	return array.MakeFromData(data)
}

// built is values through Arrow's builder.
func (d *stringDict) built(mem memory.Allocator, ids []uint32) arrow.Array {
	bld := array.NewBuilder(mem, d.t)
	defer bld.Release()
	var sb interface {
		Append(string)
		AppendNull()
	}
	if bb, ok := bld.(*array.BinaryBuilder); ok {
		sb = appendText{bb}
	} else {
		sb = bld.(interface {
			Append(string)
			AppendNull()
		})
	}
	for _, id := range ids {
		if id == d.null {
			sb.AppendNull()
		} else {
			sb.Append(d.vals.at(id))
		}
	}
	return bld.NewArray()
}

// heapValues are the validity, offsets and data buffers of the strings
// with the given ids (null the id of null), copied from the heap; nil when
// they do not fit offsets of type O.
func heapValues[O int32 | int64](mem memory.Allocator, h *strHeap, null uint32, ids []uint32) []*memory.Buffer {
	size := 0
	hasNull := false
	for _, id := range ids {
		if id == null {
			hasNull = true
			continue
		}
		size += h.offs[id+1] - h.offs[id]
	}
	if unsafe.Sizeof(O(0)) == 4 && size > math.MaxInt32 {
		return nil
	}
	var validity *memory.Buffer
	if hasNull {
		validity = newBuffer(mem, int(bitutil.BytesForBits(int64(len(ids)))))
		bitutil.SetBitsTo(validity.Bytes(), 0, int64(len(ids)), true)
	}
	offBuf := newWrittenBuffer(mem, (len(ids)+1)*int(unsafe.Sizeof(O(0))))
	offs := arrow.GetData[O](offBuf.Bytes())[:len(ids)+1]
	valBuf := newWrittenBuffer(mem, size+moveRoom)
	dst := valBuf.Bytes()
	at := 0
	for k, id := range ids {
		offs[k] = O(at)
		if id == null {
			bitutil.ClearBit(validity.Bytes(), k)
			continue
		}
		at += moveValue(dst, at, h.data, h.offs[id], h.offs[id+1])
	}
	valBuf.ResizeNoShrink(at) // the room past the values holds nothing written
	offs[len(ids)] = O(at)
	return []*memory.Buffer{validity, offBuf, valBuf}
}

// bytes is about what the grouper holds in Go memory (its tables, the key
// values it keeps): what a HashAggregate reserves in its query's budget.
// index is the part that only finding groups needs (dropIndex).
func (g *grouper) bytes() (total, index int64) {
	for _, d := range g.dicts {
		i, v := d.bytes()
		total, index = total+i+v, index+i
	}
	if g.tuples != nil {
		i, v := g.tuples.bytes()
		total, index = total+i+v, index+i
	}
	for _, c := range g.ids {
		total += int64(cap(c)) * 4
		index += int64(cap(c)) * 4
	}
	return total, index
}

// dropIndex lets go of the tables that find groups: once every row is in,
// keyColumns needs only the groups' values.
func (g *grouper) dropIndex() {
	for _, d := range g.dicts {
		d.dropIndex()
	}
	if g.tuples != nil {
		g.tuples.slots, g.tuples.direct, g.tuples.keys = nil, nil, nil
	}
	g.ids = nil
}

// Bytes of each dictionary: slots and kept values (a map entry of a
// fixedDict is about three times its key).
func (d *fixedDict[T]) bytes() (index, values int64) {
	var v T
	w := int64(unsafe.Sizeof(v))
	return int64(len(d.m)) * (3*w + 8), int64(cap(d.vals)) * w
}

func (d *intDict[T]) bytes() (index, values int64) {
	var v T
	return int64(len(d.tbl.slots))*16 + int64(cap(d.direct))*4 + int64(cap(d.present))*8, int64(cap(d.vals)) * int64(unsafe.Sizeof(v))
}

func (d *boolDict) bytes() (index, values int64) { return 0, 64 }

func (d *stringDict) bytes() (index, values int64) {
	return int64(len(d.tbl.slots))*int64(unsafe.Sizeof(strSlot{})) + int64(len(d.short.slots))*16 + int64(cap(d.shortIDs))*4 + int64(cap(d.dictIDs))*4, d.vals.bytes()
}

func (d *fixedDict[T]) dropIndex() { d.m = nil }
func (d *intDict[T]) dropIndex()   { d.tbl, d.direct, d.present = &u64Table{}, nil, nil }
func (d *boolDict) dropIndex()     {}
func (d *stringDict) dropIndex() {
	d.tbl, d.short, d.shortIDs = &strTable{}, &u64Table{}, nil
	d.dict, d.dictIDs, d.dictUsed, d.dictFresh = nil, nil, nil, nil
}
