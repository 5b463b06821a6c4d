package exec

import (
	"hash/maphash"
	"math/bits"
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
	t.slots = make([]u64Slot, size)
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

// strTable finds strings among the values the caller keeps by id. A slot
// holds the string's hash beside its id: one cache miss per lookup.
type strTable struct {
	seed  maphash.Seed
	slots []strSlot
	n     int
}

type strSlot struct {
	hash uint64
	id   uint32 // id+1; 0: empty
}

func newStrTable() *strTable {
	return &strTable{seed: maphash.MakeSeed(), slots: make([]strSlot, 1<<10)}
}

// find returns the id of s in vals, or inserts s under id len(vals) and
// reports added; the caller then appends s to vals.
func (t *strTable) find(s string, vals []string) (id uint32, added bool) {
	h := maphash.String(t.seed, s)
	mask := uint64(len(t.slots) - 1)
	i := h & mask
	for {
		slot := t.slots[i]
		if slot.id == 0 {
			break
		}
		if slot.hash == h && vals[slot.id-1] == s {
			return slot.id - 1, false
		}
		i = (i + 1) & mask
	}
	id = uint32(len(vals))
	t.slots[i] = strSlot{h, id + 1}
	t.n++
	if 2*t.n > len(t.slots) {
		t.grow()
	}
	return id, true
}

// lookup returns the id of s in vals, or noID.
func (t *strTable) lookup(s string, vals []string) uint32 {
	h := maphash.String(t.seed, s)
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; t.slots[i].id != 0; i = (i + 1) & mask {
		if t.slots[i].hash == h && vals[t.slots[i].id-1] == s {
			return t.slots[i].id - 1
		}
	}
	return noID
}

func (t *strTable) grow() {
	old := t.slots
	t.slots = make([]strSlot, 2*len(old))
	mask := uint64(len(t.slots) - 1)
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
