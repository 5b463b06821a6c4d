package budget

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels"
)

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{
		"4GiB": 4 << 30, "512MiB": 512 << 20, "1.5g": 3 << 29, "2000000000": 2e9, "10 MB": 1e7, "0": 0, "64k": 64 << 10,
	} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "lots", "-1GiB", "4 GiBs", "NaN", "1e30"} {
		if _, err := ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q) took it", bad)
		}
	}
}

// TestAccountsCannotDrift: Arrow buffers and reservations of concurrent
// queries add up in the pool and return to zero when released and closed.
func TestAccountsCannotDrift(t *testing.T) {
	checked := memory.NewCheckedAllocator(memory.NewGoAllocator())
	p, err := NewPool(Options{Limit: 1 << 30, Base: checked})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := p.Begin("q")
			r := q.Reserve("op")
			for j := range 200 {
				b := memory.NewResizableBuffer(q)
				b.Resize(100 + i*j)
				s := memory.SliceBuffer(b, 0, 10) // a slice counts nothing more
				r.Resize(int64(j))
				s.Release()
				b.Release()
			}
			q.Close()
		}()
	}
	wg.Wait()
	if p.Used() != 0 {
		t.Errorf("pool counts %d bytes after every query ended", p.Used())
	}
	checked.AssertSize(t, 0)
}

// TestFairShare: alone a query may take the whole pool; with another
// running it is held to half, and the other can still reserve.
func TestFairShare(t *testing.T) {
	p, _ := NewPool(Options{Limit: 1000})
	big := p.Begin("big").Reserve("op")
	if err := big.TryResize(900); err != nil {
		t.Fatalf("a lone query could not take 90%%: %v", err)
	}
	small := p.Begin("small").Reserve("op")
	if err := small.TryResize(200); kernels.KindOf(err) != kernels.ResourceExhausted {
		t.Fatalf("the node is full, yet: %v", err)
	}
	if err := big.TryResize(950); err == nil {
		t.Fatal("a query over its half grew further")
	}
	big.Resize(400) // it spilled
	if err := small.TryResize(450); err != nil {
		t.Fatalf("the small query could not take its share: %v", err)
	}
}

func TestOperatorLimit(t *testing.T) {
	p, err := NewPool(Options{Limit: 1 << 30, OperatorLimit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	r := p.Begin("q").Reserve("Sort x")
	if err := r.TryResize(1000); err != nil {
		t.Fatalf("at the operator limit: %v", err)
	}
	err = r.TryResize(1001)
	if kernels.KindOf(err) != kernels.ResourceExhausted || r.Size() != 1000 {
		t.Fatalf("past the operator limit with the pool nearly empty: %v, size %d", err, r.Size())
	}
	if !r.OverLimit(1001) || r.OverLimit(1000) {
		t.Error("OverLimit disagrees with TryResize")
	}
	other := p.Begin("q2").Reserve("Sort y")
	if err := other.TryResize(900); err != nil {
		t.Fatalf("each operator has its own limit: %v", err)
	}
	if _, err := NewPool(Options{Limit: 1, OperatorLimit: -1}); err == nil {
		t.Error("a negative operator limit was taken")
	}
	unlimited, _ := NewPool(Options{Limit: 1 << 30})
	if unlimited.Begin("q").Reserve("op").OverLimit(1 << 29) {
		t.Error("no operator limit, yet over it")
	}
}

func TestSpillFilesGoWithTheQuery(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "old-query"), 0o700)
	p, err := NewPool(Options{Limit: 1 << 30, SpillDir: dir, SpillLimit: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("a crashed node's spill folder survived the start: %v", left)
	}
	q := p.Begin("q")
	w, err := q.Reserve("op").Spill(nil)
	if err == nil {
		w.Abort()
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("spill folder left after Close: %v", left)
	}
	if p.Spilled() != 0 {
		t.Fatalf("pool counts %d spilled bytes", p.Spilled())
	}
}

func TestWhenIdleRunsOnceNoQueryIsOpen(t *testing.T) {
	const IdleDelay = time.Second
	idle := make(chan struct{}, 4)
	p, err := NewPool(Options{Limit: 1 << 20, WhenIdle: func() { idle <- struct{}{} }, IdleDelay: IdleDelay})
	if err != nil {
		t.Fatal(err)
	}
	a, b := p.Begin("a"), p.Begin("b")
	a.Close()
	c := p.Begin("c") // a query came while b runs: still not idle
	b.Close()
	select {
	case <-idle:
		t.Fatal("WhenIdle ran while a query was open")
	case <-time.After(IdleDelay + IdleDelay/2):
	}
	c.Close()
	d := p.Begin("d") // back to back: the timer set when c closed must not fire
	d.Close()
	select {
	case <-idle:
	case <-time.After(3 * IdleDelay):
		t.Fatal("WhenIdle did not run once the last query closed")
	}
	select {
	case <-idle:
		t.Fatal("WhenIdle ran twice for one idle spell")
	case <-time.After(IdleDelay + IdleDelay/2):
	}
}

// TestFreedBuffersAreReused: a query's next buffer of a size it freed is
// the same memory, cleared; what it keeps spare counts as held until it
// closes, and a buffer freed after that goes back to the allocator.
func TestFreedBuffersAreReused(t *testing.T) {
	if guardFreed {
		t.Skip("SLIPSTREAM_GUARD_FREED keeps no spare buffers")
	}
	checked := memory.NewCheckedAllocator(memory.NewGoAllocator())
	p, err := NewPool(Options{Limit: 1 << 30, Base: checked})
	if err != nil {
		t.Fatal(err)
	}
	q := p.Begin("q")
	a := q.Allocate(spareMin)
	a[0], a[len(a)-1] = 7, 7
	q.Free(a)
	if a[0] != 0xA5 {
		t.Errorf("a freed buffer is not overwritten in tests")
	}
	b := q.Allocate(spareMin)
	if &a[0] != &b[0] {
		t.Errorf("a buffer of the size just freed is new memory")
	}
	for i, v := range b {
		if v != 0 {
			t.Fatalf("a reused buffer holds %d at %d", v, i)
		}
	}
	small := q.Allocate(spareMin - 64) // left to Go
	q.Free(small)
	q.Free(b)
	if q.Used() != spareMin || p.Used() != spareMin {
		t.Errorf("with one spare buffer the query holds %d, the pool %d; want %d", q.Used(), p.Used(), spareMin)
	}
	u := Unzeroed(q).Allocate(spareMin) // for a caller that writes every byte
	if &u[0] != &b[0] || u[0] != 0xA5 {
		t.Errorf("an unzeroed allocation is not the spare buffer as it was freed")
	}
	q.Free(u)
	late := q.Allocate(1 << 20)
	q.Close()
	if p.Used() != 1<<20 {
		t.Errorf("after close the pool holds %d; want the live buffer's %d", p.Used(), 1<<20)
	}
	q.Free(late)
	if p.Used() != 0 {
		t.Errorf("pool counts %d bytes after every buffer was freed", p.Used())
	}
	checked.AssertSize(t, 0)
}

// TestSpareIsBounded: a query keeps at most its spare limit of freed
// buffers; the rest go back to the allocator at once.
func TestSpareIsBounded(t *testing.T) {
	if guardFreed {
		t.Skip("SLIPSTREAM_GUARD_FREED keeps no spare buffers")
	}
	checked := memory.NewCheckedAllocator(memory.NewGoAllocator())
	p, err := NewPool(Options{Limit: 32 * 8 * spareMin, Base: checked})
	if err != nil {
		t.Fatal(err)
	}
	q := p.Begin("q")
	var bufs [][]byte
	for range 20 {
		bufs = append(bufs, q.Allocate(spareMin))
	}
	for _, b := range bufs {
		q.Free(b)
	}
	if q.Used() != 8*spareMin {
		t.Errorf("the query keeps %d bytes spare; want its limit %d", q.Used(), 8*spareMin)
	}
	q.Close()
	if p.Used() != 0 {
		t.Errorf("pool counts %d bytes after the query closed", p.Used())
	}
	checked.AssertSize(t, 0)
}

// A query that asks for more than the node has room for gets it when
// WhenShort frees what the node holds (its caches), and is refused when
// nothing is freed; WhenShort runs only when the room is short.
func TestWhenShortMakesRoom(t *testing.T) {
	checked := memory.NewCheckedAllocator(memory.NewGoAllocator())
	var cached []byte
	calls := 0
	var p *Pool
	p, err := NewPool(Options{Limit: 1000, Base: checked, WhenShort: func() {
		calls++
		if cached != nil {
			p.Node().Free(cached)
			cached = nil
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	cached = p.Node().Allocate(600) // a cache's decoded data, in the node's account
	q := p.Begin("q")
	defer q.Close()
	r := q.Reserve("join table")
	if err := r.TryResize(300); err != nil || calls != 0 {
		t.Fatalf("room enough: %v, WhenShort ran %d times", err, calls)
	}
	if err := r.TryResize(900); err != nil {
		t.Fatalf("the cache was there to free: %v", err)
	}
	if calls != 1 || cached != nil || p.Used() != 900 {
		t.Fatalf("WhenShort ran %d times, the node counts %d bytes", calls, p.Used())
	}
	if err := r.TryResize(1100); err == nil || calls != 2 {
		t.Fatalf("nothing left to free: %v, WhenShort ran %d times", err, calls)
	}
	r.Free()
	checked.AssertSize(t, 0)
}
