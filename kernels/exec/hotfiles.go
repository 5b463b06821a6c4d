package exec

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"slipstream/kernels/budget"
)

// Hot files: the batches of Arrow IPC files that scans read lately —
// stored tables' partitions above all, which a notebook queries again and
// again — kept decoded and validated by file version (path, size,
// modification time), so that the next scan of the file reads, decodes and
// checks nothing. The batches are allocated from the node's account (they
// outlive the query that read them), so they are counted in the node's
// budget at the allocator; the cache bounds them at a share of the memory
// limit (SetHotFileBytes), admits a file by how often it is read, and
// releases its batches when ristretto evicts it. A file larger than a
// quarter of the bound is streamed as before and never held whole.
var hotFiles = sizedCache[*hotFile]{name: "hot-ipc-files", counters: 100_000, allocated: true,
	size:    func(h *hotFile) int64 { return h.bytes },
	release: func(h *hotFile) { h.release() }}

var hotFileBytes atomic.Int64

// SetHotFileBytes bounds the hot files cache at n bytes; 0 (the default)
// turns it off. Call it once, before the first scan (the node does, with a
// share of --memory-limit).
func SetHotFileBytes(n int64) {
	hotFileBytes.Store(n)
	hotFiles.maxCost = max(n, 1)
}

// hotFile is one IPC file's batches. A scan takes references under mu, so
// that an eviction running at the same time cannot free them under it.
type hotFile struct {
	schema  *arrow.Schema
	batches []arrow.RecordBatch
	bytes   int64

	mu   sync.Mutex
	gone bool
}

// reader is a reader of the file's batches, or nil when they were released.
func (h *hotFile) reader() array.RecordReader {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gone {
		return nil
	}
	r, err := array.NewRecordReader(h.schema, h.batches) // retains them
	if err != nil {
		return nil
	}
	return r
}

func (h *hotFile) release() {
	if h == nil { // ristretto may report an update's exit without its value
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.gone {
		h.gone = true
		ReleaseAll(h.batches)
	}
}

// openHot reads the IPC file f (named path) through the hot files cache:
// its batches if held, else read whole from the node's account and offered
// to the cache. ok false: the cache is off or the file too large, and the
// caller streams it.
func openHot(f *os.File, path string) (r array.RecordReader, ok bool, err error) {
	limit := hotFileBytes.Load()
	node := cacheAccount.Load()
	st, statErr := f.Stat()
	if limit <= 0 || node == nil || statErr != nil || st.Size() > limit/4 {
		return nil, false, nil
	}
	version := hotVersion(path, st)
	if h, found := hotFiles.lookup(version); found {
		if r := h.reader(); r != nil {
			return r, true, nil
		}
	}
	h, err := readWhole(f, node)
	if err != nil {
		return nil, true, err
	}
	r = h.reader() // the scan's references, before the cache may drop it
	if held, _ := hotFiles.get(version, func() (*hotFile, error) { return h, nil }); held != h {
		h.release() // another scan of the file offered it first
	}
	return r, true, nil
}

// readWhole reads, validates and keeps every batch of an IPC file.
func readWhole(f *os.File, mem *budget.Query) (*hotFile, error) {
	rr, err := OpenIPC(f, mem)
	if err != nil {
		return nil, err
	}
	defer rr.Release()
	h := &hotFile{schema: rr.Schema()}
	for rr.Next() {
		b := rr.RecordBatch()
		b.Retain()
		h.batches = append(h.batches, b)
		h.bytes += BatchBytes(b)
	}
	if err := rr.Err(); err != nil {
		ReleaseAll(h.batches)
		return nil, err
	}
	return h, nil
}

// hotVersion names one version of a file, as fileVersion does, from the
// open file's own status (the file read is the file named).
func hotVersion(path string, st os.FileInfo) string {
	return fmt.Sprintf("%s\x00%d\x00%d", path, st.Size(), st.ModTime().UnixNano())
}
