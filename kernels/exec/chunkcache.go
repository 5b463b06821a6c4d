package exec

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels/budget"
)

// Decoded column chunks: the arrays a column of a Parquet row group
// decodes to, kept by file version, row group and column, so that a scan
// reading the same columns of the same file again (a notebook's next
// query) neither reads nor decodes them. As the hot IPC files are, the
// chunks are decoded into the node's account (they outlive the query), so
// the budget counts them at the allocator; ristretto bounds them at
// SetDecodedChunkBytes and releases a chunk's arrays when it evicts it.
// Columns a scan reads late (the rows a filter keeps) are neither taken
// from the cache nor offered to it.
var decodedChunks = sizedCache[*decodedChunk]{name: "parquet-chunks", counters: 1_000_000, allocated: true,
	size:    func(c *decodedChunk) int64 { return c.bytes },
	release: func(c *decodedChunk) { c.release() }}

var decodedChunkBytes atomic.Int64

// SetDecodedChunkBytes bounds the decoded column chunks at n bytes; 0 (the
// default) turns the cache off. Call it once, before the first scan (the
// node does, with a share of --memory-limit).
func SetDecodedChunkBytes(n int64) {
	decodedChunkBytes.Store(n)
	decodedChunks.maxCost = max(n, 1)
}

// decodedChunk is one column chunk's batches. A scan takes references
// under mu, so that an eviction at the same time cannot free them.
type decodedChunk struct {
	arrays []arrow.Array
	bytes  int64

	mu   sync.Mutex
	gone bool
}

// take is the chunk's arrays, retained for the caller, or nil when they
// were released.
func (c *decodedChunk) take() []arrow.Array {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone {
		return nil
	}
	for _, a := range c.arrays {
		a.Retain()
	}
	return append([]arrow.Array(nil), c.arrays...)
}

func (c *decodedChunk) release() {
	if c == nil { // ristretto may report an update's exit without its value
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.gone {
		c.gone = true
		for _, a := range c.arrays {
			a.Release()
		}
	}
}

// fileChunks is the cache as one file's reader sees it (pqread.Chunks).
type fileChunks struct {
	version string
	mem     memory.Allocator
	share   *atomic.Int64
}

// chunksOf is the cache for the file of that version, or nil when the
// cache is off. share is what the query may still take of the cache, in
// bytes (queryShare).
func chunksOf(version string, share *atomic.Int64) *fileChunks {
	node := cacheAccount.Load()
	if decodedChunkBytes.Load() <= 0 || node == nil {
		return nil
	}
	return &fileChunks{version: version, mem: node, share: share}
}

// queryShare is the query's share of the cache (a scan's own when mem is
// not a query's account): half its bound, taken by the chunks its scans
// read from the cache and those they offer. A query of more than the cache
// holds would push out its own first chunks before a second run reads
// them again, so that every run would decode everything, and into fresh
// memory the node then holds; within its share the first chunks stay, the
// rest decode into the query's own reused buffers, and the other half
// stays for other queries' files.
func queryShare(mem memory.Allocator) *atomic.Int64 {
	share := decodedChunkBytes.Load() / 2
	if q, ok := mem.(*budget.Query); ok {
		return q.CacheShare(share)
	}
	var n atomic.Int64
	n.Store(share)
	return &n
}

// key names a chunk by its file's version, place and the type it was
// decoded as: a string column read as its dictionary (for a Filter or a
// group-by) is not the plain column another scan wants.
func (f *fileChunks) key(rowGroup, leaf int, t arrow.DataType) string {
	return fmt.Sprintf("%s\x00%d\x00%d\x00%s", f.version, rowGroup, leaf, t)
}

func (f *fileChunks) Get(rowGroup, leaf int, t arrow.DataType) ([]arrow.Array, bool) {
	c, ok := decodedChunks.lookup(f.key(rowGroup, leaf, t))
	if !ok {
		return nil, false
	}
	arrays := c.take()
	if arrays != nil {
		f.share.Add(-c.bytes) // the share counts what the query reads from the cache too
	}
	return arrays, arrays != nil
}

func (f *fileChunks) Put(rowGroup, leaf int, t arrow.DataType, arrays []arrow.Array) {
	c := &decodedChunk{arrays: arrays, bytes: heldBytes(arrays)}
	f.share.Add(-c.bytes)
	if c.bytes > decodedChunkBytes.Load()/4 {
		c.release() // larger decoded than its file said: it would push out most of the others
		return
	}
	if held, _ := decodedChunks.get(f.key(rowGroup, leaf, t), func() (*decodedChunk, error) { return c, nil }); held != c {
		c.release() // another scan offered the chunk first
	}
}

// Wants keeps chunks of at most a sixteenth of the bound (a scan holds a
// chunk's batches outside its query's account until its row group is
// read, so large ones are not worth that) while the query's share lasts
// (Put counts a chunk's decoded bytes against it).
func (f *fileChunks) Wants(bytes int64) bool {
	return bytes <= decodedChunkBytes.Load()/16 && f.share.Load() > 0
}

func (f *fileChunks) Allocator() memory.Allocator { return f.mem }

// heldBytes is the bytes the arrays hold: each buffer once, however many
// of them share it, and their dictionaries too (the batches of a chunk
// read as its dictionary share one, of up to a row group's strings).
func heldBytes(arrays []arrow.Array) int64 {
	seen := map[*memory.Buffer]bool{}
	var n int64
	var walk func(d arrow.ArrayData)
	walk = func(d arrow.ArrayData) {
		for _, buf := range d.Buffers() {
			if buf != nil && !seen[buf] {
				seen[buf] = true
				n += int64(buf.Len())
			}
		}
		for _, c := range d.Children() {
			walk(c)
		}
		if d.DataType().ID() == arrow.DICTIONARY { // others hold a typed nil
			walk(d.Dictionary())
		}
	}
	for _, a := range arrays {
		walk(a.Data())
	}
	return n
}
