package budget

import (
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// guardFreed (SLIPSTREAM_GUARD_FREED=1, for hunting bugs) gives every
// Arrow buffer its own pages and makes them unreadable when it is freed,
// with no spare buffers kept: code that reads a buffer after releasing it
// stops there with its stack, instead of reading what reuse put there.
// Freed pages are given back, and their addresses stay reserved for the
// last guardQuarantine buffers freed (a process may hold only so many
// mappings); it is for tests only.
var guardFreed = os.Getenv("SLIPSTREAM_GUARD_FREED") != ""

const guardQuarantine = 20000

type guardAllocator struct{}

// quarantine holds the freed buffers whose pages stay reserved (made on
// first use: a global array of slices would be scanned at every
// collection of every node).
var quarantine struct {
	sync.Mutex
	ring [][]byte
	next int
}

const pageSize = 4096

func pages(n int) int { return max((n+pageSize-1)&^(pageSize-1), pageSize) }

func (guardAllocator) Allocate(size int) []byte {
	b, err := syscall.Mmap(-1, 0, pages(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		panic("guarded allocation: " + err.Error())
	}
	return b[:size:size] // as Go's allocator: Arrow reads cap as what it asked for
}

func (g guardAllocator) Reallocate(size int, b []byte) []byte {
	if size <= cap(b) {
		return b[:size:size]
	}
	nb := g.Allocate(size)
	copy(nb, b)
	g.Free(b)
	return nb
}

func (guardAllocator) Free(b []byte) {
	if cap(b) == 0 {
		return
	}
	all := unsafe.Slice(unsafe.SliceData(b), pages(cap(b)))
	_ = syscall.Madvise(all, syscall.MADV_DONTNEED)
	_ = syscall.Mprotect(all, syscall.PROT_NONE)
	quarantine.Lock()
	defer quarantine.Unlock()
	if quarantine.ring == nil {
		quarantine.ring = make([][]byte, guardQuarantine)
	}
	if old := quarantine.ring[quarantine.next]; old != nil {
		_ = syscall.Munmap(old)
	}
	quarantine.ring[quarantine.next] = all
	quarantine.next = (quarantine.next + 1) % guardQuarantine
}
