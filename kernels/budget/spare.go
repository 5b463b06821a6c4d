package budget

import (
	"sync"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// spare keeps some of the Arrow buffers a query frees, by size, and hands
// them out again for its next buffers of that size. A query's batches come
// in few sizes (BatchRows values of a type), so most buffers find a spare.
// A buffer freed a moment ago is still in the caches: clearing it costs a
// fraction of what a new one costs, which Go clears while it is cold, and
// which stays on the heap until a collection finds it.
//
// A kept buffer still counts as held by its query; the query's Close frees
// them. Go's allocator has no way to reuse a buffer as soon as it is freed
// (it must wait for a collection), hence this list.
type spare struct {
	mu     sync.Mutex
	free   map[int][][]byte
	bytes  int64
	limit  int64
	closed bool
	poison bool
}

// Sizes below spareMin are left to Go: its small-object allocator serves
// them well.
const spareMin = 32 << 10

// spareLimit is what a query of a pool of limit bytes keeps spare.
func spareLimit(limit int64) int64 { return min(limit/32, 64<<20) }

// take returns a kept buffer of size bytes, cleared if zero is set, or
// nil.
func (s *spare) take(size int, zero bool) []byte {
	if size < spareMin {
		return nil
	}
	s.mu.Lock()
	list := s.free[size]
	if len(list) == 0 {
		s.mu.Unlock()
		return nil
	}
	b := list[len(list)-1]
	list[len(list)-1] = nil
	s.free[size] = list[:len(list)-1]
	s.bytes -= int64(size)
	s.mu.Unlock()
	if zero {
		clear(b)
	}
	return b
}

// keep takes b in, unless there is no room, and says whether it did. With
// poison set, a freed buffer is overwritten first, so that a read of it
// after its release gives nonsense (in tests) instead of the old values.
func (s *spare) keep(b []byte) bool {
	if len(b) < spareMin {
		return false
	}
	if s.poison {
		for i := range b {
			b[i] = 0xA5
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.bytes+int64(len(b)) > s.limit {
		return false
	}
	if s.free == nil {
		s.free = map[int][][]byte{}
	}
	s.free[len(b)] = append(s.free[len(b)], b)
	s.bytes += int64(len(b))
	return true
}

// close stops keeping buffers and returns those kept.
func (s *spare) close() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	var out [][]byte
	for _, list := range s.free {
		out = append(out, list...)
	}
	s.free, s.bytes = nil, 0
	return out
}

// Unzeroed is mem for buffers whose every byte the caller writes before
// anything reads it (the values of a gather, of a decoded column): a
// query's spare buffer is then handed out as it is, not cleared first.
// Other allocators are returned as they are.
func Unzeroed(mem memory.Allocator) memory.Allocator {
	if q, ok := mem.(*Query); ok {
		return unzeroed{q}
	}
	return mem
}

type unzeroed struct{ q *Query }

func (u unzeroed) Allocate(size int) []byte { return u.q.allocate(size, false) }

func (u unzeroed) Reallocate(size int, b []byte) []byte { return u.q.Reallocate(size, b) }
func (u unzeroed) Free(b []byte)                        { u.q.Free(b) }
