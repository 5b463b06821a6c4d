package exec

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"slices"
	"unsafe"

	"slipstream/kernels/expr"
)

// Go's maps cost most of a group-by's time, so the grouper uses these
// open-addressing tables (linear probing, load at most 1/2): the key is
// hashed with one multiply, and a lookup touches one or two cache lines.

// hashMul spreads a key over the table: slot = key*hashMul >> shift
// (Fibonacci hashing).
const hashMul = 0x9E3779B97F4A7C15

// u64Table maps uint64 keys to dense ids 0, 1, 2, ... in insertion order.
// A slot holds its key beside its id, so a lookup misses the cache once,
// not once for the slot and again for the key.
type u64Table struct {
	slots []u64Slot
	shift uint
	n     int
	// frozen: id only looks up (noID for a new key), so readers may share it.
	frozen bool
}

type u64Slot struct {
	key uint64
	id  uint32 // id+1; 0: empty
}

func newU64Table() *u64Table {
	t := &u64Table{}
	t.resize(1 << 10)
	return t
}

func (t *u64Table) resize(size int) {
	old := t.slots
	t.slots = expr.MakeTouched[u64Slot](size, size)
	t.shift = uint(64 - bits.TrailingZeros(uint(size)))
	mask := uint64(size - 1)
	for _, s := range old {
		if s.id == 0 {
			continue
		}
		i := (s.key * hashMul) >> t.shift
		for t.slots[i].id != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = s
	}
}

// atFirstSlot returns the id of k when k sits in its first slot (the
// common case, cheap enough to inline in a loop); else false, and id,
// which probes further, decides.
func (t *u64Table) atFirstSlot(k uint64) (uint32, bool) {
	s := t.slots[(k*hashMul)>>t.shift]
	return s.id - 1, s.id != 0 && s.key == k
}

// id returns the id of k, adding it if new.
func (t *u64Table) id(k uint64) uint32 {
	mask := uint64(len(t.slots) - 1)
	i := (k * hashMul) >> t.shift
	for {
		s := &t.slots[i]
		if s.id == 0 {
			break
		}
		if s.key == k {
			return s.id - 1
		}
		i = (i + 1) & mask
	}
	if t.frozen {
		return noID
	}
	id := uint32(t.n)
	t.n++
	t.slots[i] = u64Slot{key: k, id: id + 1}
	if 2*t.n > len(t.slots) {
		t.resize(2 * len(t.slots))
	}
	return id
}

// reserve takes the next id for a value that is not a key (null).
func (t *u64Table) reserve() uint32 {
	id := uint32(t.n)
	t.n++
	return id
}

// strHeap keeps strings by id, their bytes end to end in one slice: no
// allocation per string, and no pointer per string for the GC to scan
// (a group-by of 10^7 strings held 10^7 of them).
type strHeap struct {
	data []byte
	offs []int // string id is data[offs[id]:offs[id+1]]
}

func (h *strHeap) len() int {
	if len(h.offs) == 0 {
		return 0
	}
	return len(h.offs) - 1
}

// add appends s (copied) as the next id.
func (h *strHeap) add(s string) {
	if len(h.offs) == 0 {
		h.offs = append(h.offs, 0)
	}
	if len(h.data)+len(s) > cap(h.data) { // double: append would grow by a quarter
		h.data = slices.Grow(h.data, max(len(h.data), len(s), 1024))
	}
	if len(h.offs) == cap(h.offs) {
		h.offs = slices.Grow(h.offs, len(h.offs))
	}
	h.data = append(h.data, s...)
	h.offs = append(h.offs, len(h.data))
}

// is says whether string id is s.
func (h *strHeap) is(id uint32, s string) bool {
	return string(h.data[h.offs[id]:h.offs[id+1]]) == s
}

// at is string id; it aliases the heap until the next add.
func (h *strHeap) at(id uint32) string {
	b := h.data[h.offs[id]:h.offs[id+1]]
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func (h *strHeap) bytes() int64 { return int64(cap(h.data)) + int64(cap(h.offs))*8 }

// strTable finds strings among the values the caller keeps by id. A slot
// holds 32 bits of the string's hash and its id; a string of at most
// maxInline bytes (a user name, a code, an id) is held in the slot too,
// packed (packInline), so that a probe compares two words and reads no
// heap: a table past the caches costs one miss a row, not two. A longer
// string's slot says where its bytes are in the heap, with its length: a
// probe reads the slot, then the bytes, and not the heap's offsets.
type strTable struct {
	seed   maphash.Seed
	k0, k1 uint64 // keys of the packed strings' hash
	slots  []strSlot
	n      int
	long   int // strings in the heap, not in their slots
}

type strSlot struct {
	hash uint32
	id   uint32 // id+1; 0: empty
	// A string held in the slot: its bytes, byte i at bits 8i, and its
	// length in the top byte of w.hi. Else w.lo is its offset in the heap
	// << 16 | its length (longLen: that or more), and w.hi is heapMark.
	w words
}

// words are a string's 16 bytes as two words: a struct, not an array, so
// that Go keeps them in registers (it keeps no array of two there, and
// passed them through memory a row, the reload of two stores stalling).
type words struct{ lo, hi uint64 }

// maxInline is the longest string a slot holds; heapMark marks a slot
// whose string is in the heap (no length of a held one is that).
const (
	maxInline = 15
	heapMark  = uint64(0xff) << 56
)

// longLen marks a string of 64 KiB or more, whose length the heap's
// offsets hold.
const longLen = 1<<16 - 1

func newStrTable() *strTable {
	seed := maphash.MakeSeed()
	return &strTable{seed: seed, k0: maphash.String(seed, "k0") | 1, k1: maphash.String(seed, "k1") | 1,
		slots: make([]strSlot, 1<<10)}
}

// packInline packs a string of at most maxInline bytes as a slot holds
// it, by whole-word loads that overlap where the string is not a multiple
// of their width (no byte loop, no copy).
func packInline(s string) (w words) {
	n := len(s)
	switch {
	case n >= 8:
		return packLong(s)
	case n >= 4:
		lo := uint64(binary.LittleEndian.Uint32([]byte(s[:4])))
		hi := uint64(binary.LittleEndian.Uint32([]byte(s[n-4:]))) >> (8 * (8 - n)) // bytes 4..n-1
		w.lo = lo | hi<<32
	default:
		for i := 0; i < n; i++ {
			w.lo |= uint64(s[i]) << (8 * i)
		}
	}
	w.hi |= uint64(n) << 56
	return w
}

// packLong is packInline of a string of 8 to maxInline bytes, apart so
// that a loop that knows the length inlines it: its words then stay in
// registers, where a call passed them through memory a row.
func packLong(s string) words {
	n := len(s)
	return words{le64(s, 0), le64(s, n-8)>>(8*(16-n)) | uint64(n)<<56} // bytes 8..n-1
}

// hashInline hashes a packed string: one 128-bit multiply of its words
// under the table's keys, folded.
func (t *strTable) hashInline(w words) uint32 {
	hi, lo := bits.Mul64(w.lo^t.k0, w.hi^t.k1)
	h := hi ^ lo
	return uint32(h ^ h>>32)
}

// find returns the id of s in vals, or inserts s under id len(vals) and
// reports added; the caller then appends s to vals.
func (t *strTable) find(s string, vals *strHeap) (id uint32, added bool) {
	return t.findHashed(s, t.hash(s), vals)
}

// hash is the hash of s that finding it takes.
func (t *strTable) hash(s string) uint32 {
	if len(s) <= maxInline {
		return t.hashInline(packInline(s))
	}
	return uint32(maphash.String(t.seed, s))
}

// holds says whether slot's string, a heap one, is s.
func (slot strSlot) holds(s string, vals *strHeap) bool {
	if slot.w.hi != heapMark {
		return false
	}
	n, off := int(slot.w.lo&longLen), int(slot.w.lo>>16)
	if n == longLen {
		return vals.is(slot.id-1, s)
	}
	return n == len(s) && string(vals.data[off:off+n]) == s
}

// findHashed is find of s whose hash (t.hash) the caller has.
func (t *strTable) findHashed(s string, h uint32, vals *strHeap) (id uint32, added bool) {
	if len(s) <= maxInline {
		return t.findInline(packInline(s), h, vals.len())
	}
	mask := uint32(len(t.slots) - 1)
	i := h & mask
	for {
		slot := t.slots[i]
		if slot.id == 0 {
			break
		}
		if slot.hash == h && slot.holds(s, vals) {
			return slot.id - 1, false
		}
		i = (i + 1) & mask
	}
	id = uint32(vals.len())
	t.insert(i, strSlot{h, id + 1, words{uint64(len(vals.data))<<16 | uint64(min(len(s), longLen)), heapMark}})
	t.long++
	return id, true
}

// findInline is findHashed of a packed string (packInline); a new one
// takes id next.
func (t *strTable) findInline(w words, h uint32, next int) (id uint32, added bool) {
	mask := uint32(len(t.slots) - 1)
	i := h & mask
	for {
		slot := &t.slots[i]
		if slot.id == 0 {
			break
		}
		if slot.hash == h && slot.w == w {
			return slot.id - 1, false
		}
		i = (i + 1) & mask
	}
	id = uint32(next)
	t.insert(i, strSlot{h, id + 1, w})
	return id, true
}

// insert fills the empty slot i, growing the table past half full.
func (t *strTable) insert(i uint32, slot strSlot) {
	t.slots[i] = slot
	t.n++
	if 2*t.n > len(t.slots) {
		t.grow()
	}
}

// lookupHashed returns the id of s, whose hash is h, in vals, or noID.
func (t *strTable) lookupHashed(s string, h uint32, vals *strHeap) uint32 {
	if len(s) <= maxInline {
		return t.lookupInline(packInline(s), h)
	}
	mask := uint32(len(t.slots) - 1)
	for i := h & mask; t.slots[i].id != 0; i = (i + 1) & mask {
		if t.slots[i].hash == h && t.slots[i].holds(s, vals) {
			return t.slots[i].id - 1
		}
	}
	return noID
}

// lookupInline is lookupHashed of a packed string.
func (t *strTable) lookupInline(w words, h uint32) uint32 {
	mask := uint32(len(t.slots) - 1)
	for i := h & mask; t.slots[i].id != 0; i = (i + 1) & mask {
		if t.slots[i].hash == h && t.slots[i].w == w {
			return t.slots[i].id - 1
		}
	}
	return noID
}

// touch reads what finding the strings of hashes hs will read (their
// first slots, then the heap bytes of those in the heap) and returns a
// sum of it that the caller keeps, so the reads are not dropped. A table
// larger than the caches costs a miss a read; a loop of finds waits for
// each in turn, while these loops have no read depending on another of
// the same loop, so the processor keeps many misses in flight and the
// finds that follow hit the cache.
func (t *strTable) touch(hs []uint32, vals *strHeap) uint32 {
	mask := uint32(len(t.slots) - 1)
	var sum uint32
	for _, h := range hs {
		s := &t.slots[h&mask]
		sum += s.id + uint32(s.w.hi>>56) // both ends: a quarter of the slots cross a cache line
	}
	if t.long == 0 {
		return sum
	}
	for _, h := range hs {
		if s := t.slots[h&mask]; s.hash == h && s.id != 0 && s.w.hi == heapMark {
			if o := s.w.lo >> 16; o < uint64(len(vals.data)) {
				sum += uint32(vals.data[o])
			}
		}
	}
	return sum
}

func (t *strTable) grow() {
	old := t.slots
	t.slots = expr.MakeTouched[strSlot](2*len(old), 2*len(old))
	mask := uint32(len(t.slots) - 1)
	for _, slot := range old {
		if slot.id == 0 {
			continue
		}
		i := slot.hash & mask
		for t.slots[i].id != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = slot
	}
}

// tupleTable maps tuples of k key ids (one per key column) to dense group
// ids in insertion order. A slot holds 32 bits of the tuple's hash beside
// its id (8 bytes): a probe compares the tuple itself only when the hashes
// match, and growing the table reads no tuple.
type tupleTable struct {
	k     int
	slots []tupleSlot
	shift uint // a hash's first slot is hash >> shift
	// chunks hold the groups' key ids, tupleChunk groups a chunk: group
	// g's are chunks[g/tupleChunk][(g%tupleChunk)*k:][:k]. Full chunks are
	// never copied: a table of millions of groups grows without moving
	// what it holds (only the first chunk grows by doubling, so a table of
	// a few groups stays small).
	chunks [][]uint32
	n      int
	// touched: what touch read, kept so its reads are kept.
	touched uint32
	// While every key's ids are few (a group-by of a region, a month and
	// a flag), a tuple's ids packed side by side (key j's in bits[j] bits)
	// index direct, which holds the tuple's group id (noID: none yet): a
	// row costs one load, no hash and no compare. Past packBits bits (and
	// four slots a group) the table hashes tuples into slots for good.
	// bits is nil once it does.
	bits   []uint8
	direct []uint32
	keys   []uint32 // scratch: a batch's packed tuples
}

// packBits bounds the bits of a packed tuple whatever the number of
// groups: direct then takes at most 16 MiB.
const packBits = 22

type tupleSlot struct {
	hash uint32
	id   uint32 // id+1; 0: empty
}

func newTupleTable(k int) *tupleTable {
	return &tupleTable{k: k, bits: make([]uint8, k), direct: []uint32{noID}}
}

func (t *tupleTable) len() int { return t.n }

func (t *tupleTable) bytes() (index, values int64) {
	index = int64(len(t.slots))*8 + int64(cap(t.direct)+cap(t.keys))*4
	for _, c := range t.chunks {
		values += int64(cap(c)) * 4
	}
	return index, values
}

const tupleChunk = 1 << 15

// tuple is group id's key ids.
func (t *tupleTable) tuple(id uint32) []uint32 {
	c := t.chunks[id/tupleChunk]
	at := int(id%tupleChunk) * t.k
	return c[at : at+t.k : at+t.k]
}

// push appends the key ids of a new group, row i of cols.
func (t *tupleTable) push(cols [][]uint32, i int) {
	last := len(t.chunks) - 1
	if last < 0 || len(t.chunks[last]) == tupleChunk*t.k {
		size := tupleChunk * t.k
		if last < 0 {
			size = 64 * t.k
		}
		t.chunks = append(t.chunks, make([]uint32, 0, size))
		last++
	}
	c := t.chunks[last]
	if len(c)+t.k > cap(c) { // only the first chunk: double up to its full size
		c = slices.Grow(c, min(len(c), tupleChunk*t.k-len(c)))
	}
	for _, col := range cols {
		c = append(c, col[i])
	}
	t.chunks[last] = c
}

func (t *tupleTable) resize(size int) {
	old := t.slots
	t.slots = expr.MakeTouched[tupleSlot](size, size)
	t.shift = uint(32 - bits.TrailingZeros(uint(size)))
	mask := uint32(size - 1)
	for _, s := range old {
		if s.id == 0 {
			continue
		}
		i := s.hash >> t.shift
		for t.slots[i].id != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = s
	}
}

// tupleHash mixes row i's key ids.
func tupleHash(cols [][]uint32, i int) uint32 {
	h := uint64(hashMul)
	for _, c := range cols {
		h = mixID(h, c[i])
	}
	return uint32((h * hashMul) >> 32)
}

// hashTuple is tupleHash of a group's key ids.
func hashTuple(tuple []uint32) uint32 {
	h := uint64(hashMul)
	for _, id := range tuple {
		h = mixID(h, id)
	}
	return uint32((h * hashMul) >> 32)
}

func mixID(h uint64, id uint32) uint64 {
	h = (h ^ uint64(id)) * 0xBF58476D1CE4E5B9
	return h ^ h>>31
}

// fit widens the packing for the ids of cols (rows more rows), or turns
// the table to hashing when they would take too many bits; it reports
// whether the table still packs.
func (t *tupleTable) fit(cols [][]uint32, rows int) bool {
	widths, wider, total := t.bits, false, 0
	for j, c := range cols {
		top := uint32(0)
		for _, id := range c {
			top = max(top, id)
		}
		need := uint8(32 - bits.LeadingZeros32(top))
		if need > t.bits[j] {
			if !wider {
				widths = slices.Clone(t.bits)
				wider = true
			}
			if t.bits[j] > 0 {
				need = max(need, t.bits[j]+1) // ids still growing: room for as many again
			}
			widths[j] = need
		}
		total += int(widths[j])
	}
	if !wider {
		return true
	}
	if total > 31 || total > packBits && 1<<total > 4*(t.n+rows) {
		t.toHashed()
		return false
	}
	t.bits = widths
	t.direct = noIDs(1 << total)
	for g := range t.n {
		t.direct[t.pack(t.tuple(uint32(g)))] = uint32(g)
	}
	return true
}

// pack is a tuple's packed ids.
func (t *tupleTable) pack(tuple []uint32) uint32 {
	var k uint32
	for j, id := range tuple {
		k = k<<t.bits[j] | id
	}
	return k
}

// packRows sets t.keys to the packed tuples of the rows of cols.
func (t *tupleTable) packRows(cols [][]uint32, rows int) []uint32 {
	keys := slices.Grow(t.keys[:0], rows)[:rows]
	clear(keys)
	for j, c := range cols {
		shift := t.bits[j]
		for i, id := range c[:rows] {
			keys[i] = keys[i]<<shift | id
		}
	}
	t.keys = keys
	return keys
}

// toHashed moves the groups into hashed slots, in id order.
func (t *tupleTable) toHashed() {
	t.bits, t.direct, t.keys = nil, nil, nil
	size := 1 << 10
	for 2*t.n > size {
		size *= 2
	}
	t.slots = expr.MakeTouched[tupleSlot](size, size)
	t.shift = uint(32 - bits.TrailingZeros(uint(size)))
	mask := uint32(size - 1)
	for g := range t.n {
		h := hashTuple(t.tuple(uint32(g)))
		i := h >> t.shift
		for t.slots[i].id != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = tupleSlot{h, uint32(g) + 1}
	}
}

// addPacked is add while the table packs: first every row's group id as
// direct holds it (loads that wait on nothing), then the new groups.
func (t *tupleTable) addPacked(cols [][]uint32, out []uint32) {
	keys, direct := t.packRows(cols, len(out)), t.direct
	for i, k := range keys {
		out[i] = direct[k]
	}
	for i, k := range keys {
		if out[i] != noID {
			continue
		}
		if id := direct[k]; id != noID { // a group new earlier in this batch
			out[i] = id
			continue
		}
		id := uint32(t.n)
		t.push(cols, i)
		t.n++
		direct[k], out[i] = id, id
	}
}

func (t *tupleTable) equal(id uint32, cols [][]uint32, i int) bool {
	tuple := t.tuple(id)
	for j, c := range cols {
		if tuple[j] != c[i] {
			return false
		}
	}
	return true
}

// add sets out[i] to the group id of row i's tuple (cols[j][i] for each
// key j), adding the tuples not seen before.
func (t *tupleTable) add(cols [][]uint32, out []uint32) {
	if t.bits != nil && t.fit(cols, len(out)) {
		t.addPacked(cols, out)
		return
	}
	t.inWindows(cols, len(out), func(lo, hi int, hs []uint32, touched uint32) {
		t.touched += touched
		for i := lo; i < hi; i++ {
			out[i] = t.addHashed(cols, i, hs[i-lo])
		}
	})
}

// inWindows hashes rows 0..n-1 of cols touchRows at a time and, once the
// table is past the caches, reads each window's first slots ahead (touch),
// so that the probes of the window then wait on nothing; it hands visit
// each window, its hashes, and the sum of the reads (for the caller to
// keep, or the compiler would drop them).
func (t *tupleTable) inWindows(cols [][]uint32, n int, visit func(lo, hi int, hs []uint32, touched uint32)) {
	var hs [touchRows]uint32
	for w := 0; w < n; w += touchRows {
		end := min(w+touchRows, n)
		for i := w; i < end; i++ {
			hs[i-w] = tupleHash(cols, i)
		}
		var touched uint32
		if len(t.slots) > touchSlots {
			touched = t.touch(hs[:end-w])
		}
		visit(w, end, hs[:end-w], touched)
	}
}

// touch reads the first slots of hashes hs, then the tuples of the ids in
// them, as strTable.touch does and for the same reason.
func (t *tupleTable) touch(hs []uint32) uint32 {
	var sum uint32
	for _, h := range hs {
		sum += t.slots[h>>t.shift].id
	}
	for _, h := range hs {
		if s := t.slots[h>>t.shift]; s.hash == h && s.id != 0 {
			sum += t.tuple(s.id - 1)[0]
		}
	}
	return sum
}

// addHashed is the group id of row i's tuple, whose hash is h.
func (t *tupleTable) addHashed(cols [][]uint32, i int, h uint32) uint32 {
	mask := uint32(len(t.slots) - 1)
	p := h >> t.shift
	for {
		s := t.slots[p]
		if s.id == 0 {
			break
		}
		if s.hash == h && t.equal(s.id-1, cols, i) {
			return s.id - 1
		}
		p = (p + 1) & mask
	}
	id := uint32(t.n)
	t.push(cols, i)
	t.slots[p] = tupleSlot{h, id + 1}
	t.n++
	if 2*t.n > len(t.slots) {
		t.resize(2 * len(t.slots))
	}
	return id
}

// lookup sets out[i] to the group id of row i's tuple, or noID when it is
// not in the table or a key id is noID; it changes nothing.
func (t *tupleTable) lookup(cols [][]uint32, out []uint32) {
	if t.bits != nil {
		t.lookupPacked(cols, out)
		return
	}
	// Read ahead as add does: a frozen aggregate looks up every row, most
	// of them missing. out[lo] only keeps the reads; it is written again.
	mask := uint32(len(t.slots) - 1)
	t.inWindows(cols, len(out), func(lo, hi int, hs []uint32, touched uint32) {
		out[lo] = touched
		t.lookupWindow(cols, out, lo, hi, hs, mask)
	})
}

// lookupWindow is lookup of rows lo..hi-1, whose hashes are hs.
func (t *tupleTable) lookupWindow(cols [][]uint32, out []uint32, lo, hi int, hs []uint32, mask uint32) {
rows:
	for i := lo; i < hi; i++ {
		for _, c := range cols {
			if c[i] == noID {
				out[i] = noID
				continue rows
			}
		}
		h := hs[i-lo]
		for p := h >> t.shift; ; p = (p + 1) & mask {
			s := t.slots[p]
			if s.id == 0 {
				out[i] = noID
				break
			}
			if s.hash == h && t.equal(s.id-1, cols, i) {
				out[i] = s.id - 1
				break
			}
		}
	}
}

// lookupPacked is lookup while the table packs. It writes no scratch of
// the table's: concurrent probes may call it.
func (t *tupleTable) lookupPacked(cols [][]uint32, out []uint32) {
rows:
	for i := range out {
		var k uint32
		for j, c := range cols {
			if c[i] >= 1<<t.bits[j] { // noID too
				out[i] = noID
				continue rows
			}
			k = k<<t.bits[j] | c[i]
		}
		out[i] = t.direct[k]
	}
}

// column sets ids[i] to key j's id in group lo+i.
func (t *tupleTable) column(j, lo int, ids []uint32) {
	for i := 0; i < len(ids); { // a chunk at a time: no division a group
		g := lo + i
		c := t.chunks[g/tupleChunk][(g%tupleChunk)*t.k+j:]
		n := min(len(ids)-i, tupleChunk-g%tupleChunk)
		for m := range n {
			ids[i+m] = c[m*t.k]
		}
		i += n
	}
}
