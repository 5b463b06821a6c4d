package exec

import (
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/ristretto/v2"

	"slipstream/kernels/budget"
)

// The planning caches (Parquet footers, per-file column ranges and
// dictionary counts) are process-wide, like the files they describe. Each
// keeps its values within a byte budget with ristretto (admission by how
// often a key is asked for, eviction by cost), and what it holds is
// reserved in the node's memory budget once CountCachesIn names the
// node's account.

var cacheAccount atomic.Pointer[budget.Query]

// CountCachesIn counts what the caches hold in q (the node's own account).
func CountCachesIn(q *budget.Query) { cacheAccount.Store(q) }

// sizedCache keeps values by key, at most maxCost bytes of them (as size
// estimates them).
type sizedCache[V any] struct {
	name     string
	maxCost  int64
	counters int64 // about ten times the items it holds when full
	size     func(V) int64
	// release, when set, is called once a value leaves the cache (evicted,
	// rejected, replaced, or never admitted).
	release func(V)
	// allocated: the values are Arrow memory, counted in the node's account
	// at its allocator already; the cache only bounds them.
	allocated bool

	once sync.Once
	c    *ristretto.Cache[string, V]

	mu    sync.Mutex
	bytes int64
	res   *budget.Reservation
}

func (c *sizedCache[V]) init() {
	c.once.Do(func() {
		var err error
		c.c, err = ristretto.NewCache(&ristretto.Config[string, V]{
			NumCounters:        c.counters,
			MaxCost:            c.maxCost,
			BufferItems:        64,
			IgnoreInternalCost: true, // the costs are the values' own sizes
			OnEvict:            func(it *ristretto.Item[V]) { c.account(-it.Cost) },
			OnReject:           func(it *ristretto.Item[V]) { c.account(-it.Cost) },
			OnExit: func(v V) {
				if c.release != nil {
					c.release(v)
				}
			},
		})
		if err != nil {
			panic("cache " + c.name + ": " + err.Error()) // only for a bad Config
		}
	})
}

// account moves what the cache holds by d bytes and reserves it. Two
// goroutines that read the same missing key both set it, so the count may
// run ahead of the truth: it is kept within [0, maxCost].
func (c *sizedCache[V]) account(d int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bytes = min(max(c.bytes+d, 0), c.maxCost)
	q := cacheAccount.Load()
	if q == nil || c.allocated {
		return
	}
	if c.res == nil || c.res.Query() != q {
		if c.res != nil {
			c.res.Free()
		}
		c.res = q.Reserve("Cache " + c.name)
	}
	c.res.Resize(c.bytes)
}

// get is the value of key, read (and offered to the cache, unless read
// fails) when missing.
func (c *sizedCache[V]) get(key string, read func() (V, error)) (V, error) {
	c.init()
	if v, ok := c.c.Get(key); ok {
		return v, nil
	}
	v, err := read()
	if err != nil {
		return v, err
	}
	cost := max(c.size(v), 1)
	if c.c.Set(key, v, cost) {
		c.account(cost)
	} else if c.release != nil {
		c.release(v) // dropped at once: no callback comes
	}
	return v, nil
}

// drop empties the cache (each value released as an eviction releases
// it); an empty cache is left alone.
func (c *sizedCache[V]) drop() {
	if c.held() == 0 {
		return
	}
	c.init()
	c.c.Clear()
	c.mu.Lock()
	c.bytes = 0 // Clear evicted every value; what the count ran ahead goes too
	c.mu.Unlock()
	if !c.allocated {
		c.account(0)
	}
}

// DropDecoded empties the caches of decoded data (Parquet column chunks,
// hot IPC files), whose Arrow buffers the node's budget counts: the
// budget's WhenShort, so that a query short of memory takes it from them
// before it spills. A scan holding a chunk keeps it until it is done.
func DropDecoded() {
	decodedChunks.drop()
	hotFiles.drop()
}

// held is what the cache holds, in bytes (for tests and status).
func (c *sizedCache[V]) held() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

// lookup is the value held under key.
func (c *sizedCache[V]) lookup(key string) (V, bool) {
	c.init()
	return c.c.Get(key)
}

// put offers v under key at cost bytes; a value already there is replaced
// (counted once: a replacement costs about what it replaces).
func (c *sizedCache[V]) put(key string, v V, cost int64) {
	c.init()
	cost = max(cost, 1)
	_, had := c.c.Get(key)
	if c.c.Set(key, v, cost) && !had {
		c.account(cost)
	}
	c.c.Wait() // the next lookup sees it
}

// Cache is a byte-bounded cache for other layers' planning (the
// scheduler's plans and cut stages), counted in the node's budget as the
// file caches here are; costs are the caller's estimates of the bytes a
// value holds.
type Cache[V any] struct{ sc sizedCache[V] }

// NewCache makes a cache of at most maxCost bytes.
func NewCache[V any](name string, maxCost int64) *Cache[V] {
	return &Cache[V]{sc: sizedCache[V]{name: name, maxCost: maxCost, counters: 20_000}}
}

// Get is the value held under key.
func (c *Cache[V]) Get(key string) (V, bool) { return c.sc.lookup(key) }

// Put offers v under key at cost bytes; the cache may decline it (it
// admits by how often keys are asked for) or evict it later.
func (c *Cache[V]) Put(key string, v V, cost int64) { c.sc.put(key, v, cost) }
