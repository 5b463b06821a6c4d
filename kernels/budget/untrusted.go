package budget

import (
	"sync"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels"
)

// Untrusted wraps alloc for decoding bytes that come from outside the node
// (an upload, a user's IPC file): an allocation larger than max (the
// setting named by limit, such as "--max-batch-size") panics with a
// ResourceExhausted error, which Arrow's IPC reader recovers and returns
// as its error. Without it a compressed buffer whose header declares a
// terabyte makes the reader ask the runtime for a terabyte, and the
// runtime ends the process instead of failing the call.
func Untrusted(alloc memory.Allocator, max int64, limit string) *UntrustedAllocator {
	return &UntrustedAllocator{Allocator: alloc, max: max, limit: limit, live: map[*byte]int{}}
}

// UntrustedAllocator is the allocator Untrusted makes. It also knows the
// buffers it handed out and has not had back: when Arrow's IPC reader
// fails half way through a batch (a compressed buffer shorter than it
// declares), it drops the buffers it had made without releasing them, and
// Settle gives their bytes back to the account.
type UntrustedAllocator struct {
	memory.Allocator
	max   int64
	limit string
	mu    sync.Mutex
	live  map[*byte]int
}

func (u *UntrustedAllocator) check(size int) {
	if size < 0 || int64(size) > u.max {
		panic(kernels.Errorf(kernels.ResourceExhausted,
			"the data declares a buffer of %s, more than the node's %s of %s allows",
			FormatBytes(int64(size)), u.limit, FormatBytes(u.max)))
	}
}

func (u *UntrustedAllocator) track(b []byte, add bool) {
	if cap(b) == 0 {
		return
	}
	p := unsafe.SliceData(b[:1])
	u.mu.Lock()
	if add {
		u.live[p] = len(b)
	} else {
		delete(u.live, p)
	}
	u.mu.Unlock()
}

func (u *UntrustedAllocator) Allocate(size int) []byte {
	u.check(size)
	b := u.Allocator.Allocate(size)
	u.track(b, true)
	return b
}

func (u *UntrustedAllocator) Reallocate(size int, b []byte) []byte {
	u.check(size)
	u.track(b, false)
	nb := u.Allocator.Reallocate(size, b)
	u.track(nb, true)
	return nb
}

func (u *UntrustedAllocator) Free(b []byte) {
	u.track(b, false)
	u.Allocator.Free(b)
}

// Settle frees, in the account below, every buffer still out, and returns
// their bytes. Call it once nothing decoded through u is held any more
// (the upload has been stored or refused): what is still out then was
// dropped by a failed read and is garbage.
func (u *UntrustedAllocator) Settle() int64 {
	u.mu.Lock()
	live := u.live
	u.live = map[*byte]int{}
	u.mu.Unlock()
	var n int64
	for p, size := range live {
		u.Allocator.Free(unsafe.Slice(p, size))
		n += int64(size)
	}
	return n
}
