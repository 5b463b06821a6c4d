package budget

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels"
)

// Pool is one node's memory budget and spill space, shared by its queries.
type Pool struct {
	limit      int64
	spillDir   string
	spillLimit int64 // 0: spilling is off
	spillCodec string
	opLimit    int64 // 0: an operator may hold its query's share
	base       memory.Allocator
	poison     bool // see Options.PoisonFreed

	used    atomic.Int64 // Arrow bytes of every query and of the node, plus reservations
	spilled atomic.Int64 // bytes in spill files now

	mu      sync.Mutex
	queries map[*Query]struct{}
	nextID  int64
	// whenIdle runs once no query has been open for IdleDelay; idleGen
	// tells a timer whether a query came and went since it was set.
	whenIdle  func()
	idleDelay time.Duration
	idleGen   int64
	node      *Query // the node's own allocations (uploads, catalog); never closed
	// whenShort: see Options.WhenShort; shortMu lets one caller run it at
	// a time (the others then find the room it made).
	whenShort func()
	shortMu   sync.Mutex
}

// Options configure a Pool.
type Options struct {
	// Limit is the memory the node's queries may hold, in bytes (> 0).
	Limit int64
	// SpillDir holds one folder per query that spills; it is emptied when
	// the pool is made (what is there was left by a node that crashed).
	SpillDir string
	// SpillLimit bounds the bytes of spill files of the node at once; 0
	// turns spilling off (an operator over its share then fails).
	SpillLimit int64
	// SpillCodec compresses spill files: SpillS2 (the default, when empty)
	// or SpillZstd.
	SpillCodec string
	// OperatorLimit, when positive, is the most one operator (one
	// reservation, or a sort's batches) may hold before it spills, however
	// much room its query has. Small values make every operator that can
	// spill do so, on small data too (the tiny-limit mode of the tests).
	OperatorLimit int64
	// Base allocates the Arrow buffers the pool counts (default Go's;
	// tests give Arrow's checked allocator).
	Base memory.Allocator
	// PoisonFreed overwrites every freed buffer that a query could reuse,
	// so that code reading a buffer after releasing it fails its tests (on
	// in Go's test binaries).
	PoisonFreed bool
	// WhenIdle, when set, runs (on a goroutine of its own) once the node
	// has had no query open for IdleDelay (> 0): the binary gives the
	// memory its last queries freed back to the system then, instead of
	// holding up to its limit while idle beside other programs.
	WhenIdle  func()
	IdleDelay time.Duration
	// WhenShort, when set, is called when a query asks for more than the
	// node has room for, before it is refused: it drops what the node
	// holds only to go faster (decoded Parquet chunks, hot files), which
	// the budget counts, so that a query holds its data in memory instead
	// of spilling it beside a full cache.
	WhenShort func()
}

// NewPool makes a node's pool and clears its spill directory.
func NewPool(o Options) (*Pool, error) {
	if o.Limit <= 0 {
		return nil, fmt.Errorf("memory limit must be positive, got %d", o.Limit)
	}
	if o.Base == nil {
		o.Base = memory.NewGoAllocator()
	}
	if guardFreed {
		o.Base = guardAllocator{}
	}
	if o.OperatorLimit < 0 {
		return nil, fmt.Errorf("operator memory limit must not be negative, got %d", o.OperatorLimit)
	}
	if o.SpillCodec == "" {
		o.SpillCodec = SpillS2
	}
	if !slices.Contains(SpillCodecs, o.SpillCodec) {
		return nil, fmt.Errorf("spill compression %q: want one of %s", o.SpillCodec, strings.Join(SpillCodecs, ", "))
	}
	p := &Pool{limit: o.Limit, spillDir: o.SpillDir, spillLimit: o.SpillLimit, spillCodec: o.SpillCodec, opLimit: o.OperatorLimit,
		base: o.Base, poison: o.PoisonFreed || testing.Testing(), queries: map[*Query]struct{}{}, whenIdle: o.WhenIdle, idleDelay: o.IdleDelay,
		whenShort: o.WhenShort}
	if o.SpillDir != "" {
		if err := os.MkdirAll(o.SpillDir, 0o700); err != nil {
			return nil, fmt.Errorf("spill directory: %w", err)
		}
		entries, err := os.ReadDir(o.SpillDir)
		if err != nil {
			return nil, fmt.Errorf("spill directory: %w", err)
		}
		for _, e := range entries {
			if err := os.RemoveAll(filepath.Join(o.SpillDir, e.Name())); err != nil {
				return nil, fmt.Errorf("clearing spill directory: %w", err)
			}
		}
	}
	p.node = &Query{pool: p, id: "node"}
	return p, nil
}

// Limit is the pool's size in bytes.
func (p *Pool) Limit() int64 { return p.limit }

// Used is what the node holds now: Arrow buffers and reservations.
func (p *Pool) Used() int64 { return p.used.Load() }

// Spilled is the bytes in the node's spill files now.
func (p *Pool) Spilled() int64 { return p.spilled.Load() }

// SpillDir is where queries spill ("" when spilling is off).
func (p *Pool) SpillDir() string { return p.spillDir }

// Allocator counts the node's own Arrow buffers (uploads, the catalog) in
// the pool.
func (p *Pool) Allocator() memory.Allocator { return p.node }

// Node is the node's own account: what outlives a query (task outputs
// held for other nodes) is allocated, reserved and spilled through it.
// It is never closed; its spill files go when their owner removes them.
func (p *Pool) Node() *Query { return p.node }

// Begin starts accounting for a query (or a task of one). The caller
// closes it when the query ends, however it ends.
func (p *Pool) Begin(name string) *Query {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nextID++
	q := &Query{pool: p, id: fmt.Sprintf("%d-%s", p.nextID, sanitize(name))}
	q.spare.limit, q.spare.poison = spareLimit(p.limit), p.poison
	if guardFreed {
		q.spare.limit = 0
	}
	p.queries[q] = struct{}{}
	p.idleGen++
	return q
}

// idleLater arms WhenIdle after the last open query closed; p.mu is held.
func (p *Pool) idleLater() {
	p.idleGen++
	gen := p.idleGen
	time.AfterFunc(p.idleDelay, func() {
		p.mu.Lock()
		idle := gen == p.idleGen && len(p.queries) == 0
		p.mu.Unlock()
		if idle {
			p.whenIdle()
		}
	})
}

// share is what one query may hold while others run: an equal part of
// the pool, so one huge query cannot starve a small one.
func (p *Pool) share() int64 {
	p.mu.Lock()
	n := len(p.queries)
	p.mu.Unlock()
	return p.limit / int64(max(1, n))
}

// makeRoom runs WhenShort and says whether the node then has room for
// extra more bytes.
func (p *Pool) makeRoom(extra int64) bool {
	if p.whenShort == nil {
		return false
	}
	p.shortMu.Lock()
	defer p.shortMu.Unlock()
	if p.used.Load()+extra <= p.limit { // another caller made the room
		return true
	}
	p.whenShort()
	return p.used.Load()+extra <= p.limit
}

// Stats is what the pool reports for status and metrics. Used is Arrow
// buffers and reservations; Reserved the reservations alone (operators'
// tables and other memory outside Arrow).
type Stats struct {
	Limit, Used, Reserved, Spilled, SpillLimit int64
	Queries                                    int
}

// Stats reads the pool's counters.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	n := len(p.queries)
	reserved := p.node.reserved.Load()
	for q := range p.queries {
		reserved += q.reserved.Load()
	}
	p.mu.Unlock()
	return Stats{Limit: p.limit, Used: p.used.Load(), Reserved: reserved, Spilled: p.spilled.Load(), SpillLimit: p.spillLimit, Queries: n}
}

// Query is the account of one query (or task) in its node's pool: the
// Arrow buffers its operators allocate (it is their allocator), the
// memory they reserve outside Arrow, and its spill files.
type Query struct {
	pool *Pool
	id   string

	arrow    atomic.Int64 // Arrow bytes allocated through this query and not yet freed (spares included)
	reserved atomic.Int64
	spare    spare
	peak     atomic.Int64

	mu       sync.Mutex
	ops      []*Reservation
	dir      string // made on the first spill
	files    int
	spilled  int64 // bytes written to spill files, in all
	closed   bool
	onDisk   int64 // bytes of this query's spill files still on disk
	disabled bool  // spilling turned off for this query (tests, negative controls)

	shareOnce  sync.Once
	cacheShare atomic.Int64
}

// CacheShare is what the query may still take of the node's caches, in
// bytes, that its operators spend together: initial at the first call.
func (q *Query) CacheShare(initial int64) *atomic.Int64 {
	q.shareOnce.Do(func() { q.cacheShare.Store(initial) })
	return &q.cacheShare
}

// ID names the query in its spill folder and in errors.
func (q *Query) ID() string { return q.id }

// Limit is the node's limit (what a query may hold when alone).
func (q *Query) Limit() int64 { return q.pool.limit }

// OperatorLimit is the most one operator may hold before it spills (0:
// no limit beyond the query's share).
func (q *Query) OperatorLimit() int64 { return q.pool.opLimit }

// Used is what the query holds now.
func (q *Query) Used() int64 { return q.arrow.Load() + q.reserved.Load() }

// Peak is the most the query held at once.
func (q *Query) Peak() int64 { return q.peak.Load() }

// Spilled is the bytes the query wrote to spill files.
func (q *Query) Spilled() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.spilled
}

// CanSpill says whether operators of this query may spill.
func (q *Query) CanSpill() bool { return q.pool.spillDir != "" && q.pool.spillLimit > 0 && !q.disabled }

// DisableSpilling makes every operator of q fail instead of spilling.
func (q *Query) DisableSpilling() { q.disabled = true }

func (q *Query) add(n int64) {
	u := q.arrow.Load() + q.reserved.Load()
	for {
		p := q.peak.Load()
		if u <= p || q.peak.CompareAndSwap(p, u) {
			break
		}
	}
	q.pool.used.Add(n)
}

// Within says whether the query may hold extra more bytes: the node has
// room for them and the query stays within its share of the pool.
func (q *Query) Within(extra int64) bool {
	if q.pool.used.Load()+extra > q.pool.limit && !q.pool.makeRoom(extra) {
		return false
	}
	return q == q.pool.node || q.Used()+extra <= q.pool.share()
}

// Exhausted is the error of an operator that cannot go on within the
// budget; what names the operator and what it needed.
func (q *Query) Exhausted(what string) error {
	hint := "raise --memory-limit"
	if q.pool.opLimit > 0 {
		hint = "raise --operator-memory (" + FormatBytes(q.pool.opLimit) + ") or --memory-limit"
	}
	if !q.CanSpill() {
		hint += ", or give a --spill-dir and --spill-limit so that it can spill"
	}
	return kernels.Errorf(kernels.ResourceExhausted, "%s: the query holds %s of the node's memory limit of %s (%d queries share it); %s",
		what, FormatBytes(q.Used()), FormatBytes(q.pool.limit), q.pool.Stats().Queries, hint)
}

// Reserve opens a reservation for memory an operator keeps outside Arrow
// buffers (hash tables, accumulators); name says whose it is.
func (q *Query) Reserve(name string) *Reservation {
	r := &Reservation{q: q, Name: name}
	q.mu.Lock()
	q.ops = append(q.ops, r)
	q.mu.Unlock()
	return r
}

// Operators lists each reservation's name, peak and spilled bytes, for
// EXPLAIN ANALYZE and the query's status.
func (q *Query) Operators() []OperatorStats {
	rs := q.Reservations()
	out := make([]OperatorStats, len(rs))
	for i, r := range rs {
		out[i] = r.Stats()
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Reservations are the query's reservations in the order they were made
// (freed ones included: their peak and spilled bytes stay).
func (q *Query) Reservations() []*Reservation {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]*Reservation(nil), q.ops...)
}

// OperatorStats are one operator's memory figures. By convention Name is
// the operator's one-line EXPLAIN text, so that a figure can be read
// against the plan.
type OperatorStats struct {
	Name    string `json:"operator"`
	Peak    int64  `json:"peak_bytes"`
	Spilled int64  `json:"spilled_bytes"`
}

// Add folds o into s: the larger peak, the sum of spilled bytes (the
// rounds of one operator, which run one after the other).
func (s OperatorStats) Add(o OperatorStats) OperatorStats {
	s.Peak = max(s.Peak, o.Peak)
	s.Spilled += o.Spilled
	return s
}

// Close ends the query: its reservations return to zero and its spill
// folder is removed. Arrow buffers still held (results being read) keep
// counting until they are released. Close may be called more than once.
func (q *Query) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	ops, dir, onDisk := q.ops, q.dir, q.onDisk
	q.onDisk = 0
	q.mu.Unlock()
	for _, r := range ops {
		r.Free()
	}
	for _, b := range q.spare.close() {
		q.release(b)
	}
	q.pool.mu.Lock()
	delete(q.pool.queries, q)
	if len(q.pool.queries) == 0 && q.pool.whenIdle != nil && q.pool.idleDelay > 0 {
		q.pool.idleLater()
	}
	q.pool.mu.Unlock()
	q.pool.spilled.Add(-onDisk)
	if dir != "" {
		return os.RemoveAll(dir)
	}
	return nil
}

// Allocate implements memory.Allocator: every Arrow buffer of the query is
// counted once, when it is made, however many slices share it.
func (q *Query) Allocate(size int) []byte { return q.allocate(size, true) }

// allocate is Allocate, with a spare buffer cleared only if zero is set.
func (q *Query) allocate(size int, zero bool) []byte {
	if b := q.spare.take(size, zero); b != nil {
		return b
	}
	b := q.pool.base.Allocate(size)
	q.arrow.Add(int64(len(b)))
	q.add(int64(len(b)))
	return b
}

// Reallocate implements memory.Allocator.
func (q *Query) Reallocate(size int, b []byte) []byte {
	old := len(b)
	nb := q.pool.base.Reallocate(size, b)
	d := int64(len(nb) - old)
	q.arrow.Add(d)
	q.add(d)
	return nb
}

// Free implements memory.Allocator.
func (q *Query) Free(b []byte) {
	if !q.spare.keep(b) {
		q.release(b)
	}
}

func (q *Query) release(b []byte) {
	n := int64(len(b))
	q.pool.base.Free(b)
	q.arrow.Add(-n)
	q.pool.used.Add(-n)
}

// Reservation is one operator's claim on memory outside Arrow buffers.
// Its methods are safe for one goroutine at a time (its operator's).
type Reservation struct {
	q       *Query
	Name    string
	size    int64
	peak    atomic.Int64
	spilled atomic.Int64
}

// Query is the account the reservation belongs to.
func (r *Reservation) Query() *Query { return r.q }

// Size is what the reservation holds now.
func (r *Reservation) Size() int64 { return r.size }

// TryResize sets the reservation to n bytes. Growing fails (and changes
// nothing) when the query would go over its share, the node over its
// limit, or the operator over the operator limit; the operator then
// spills, or fails with the error returned.
func (r *Reservation) TryResize(n int64) error {
	if n > r.size && (!r.q.Within(n-r.size) || r.OverLimit(n)) {
		return r.q.Exhausted(r.Name)
	}
	r.Resize(n)
	return nil
}

// Resize sets the reservation to n bytes whatever the budget says: for
// memory already allocated, or freed.
func (r *Reservation) Resize(n int64) {
	d := n - r.size
	r.size = n
	r.q.reserved.Add(d)
	r.q.add(d)
	if n > r.peak.Load() {
		r.peak.Store(n)
	}
}

// Stats are the reservation's name, the most it held (or was noted to
// hold) and the bytes it wrote to spill files.
func (r *Reservation) Stats() OperatorStats {
	return OperatorStats{Name: r.Name, Peak: r.peak.Load(), Spilled: r.spilled.Load()}
}

// OverLimit says whether an operator holding n bytes is over the
// operator limit (never when there is none).
func (r *Reservation) OverLimit(n int64) bool {
	return r.q.pool.opLimit > 0 && n > r.q.pool.opLimit
}

// Free returns all the reservation holds.
func (r *Reservation) Free() { r.Resize(0) }

// NotePeak records that the operator held n bytes (Arrow buffers it
// keeps, counted at the allocator, not reserved here).
func (r *Reservation) NotePeak(n int64) {
	if n > r.peak.Load() {
		r.peak.Store(n)
	}
}

func sanitize(s string) string {
	out := []byte(s)
	for i, c := range out {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			out[i] = '_'
		}
	}
	if len(out) > 40 {
		out = out[:40]
	}
	return string(out)
}
