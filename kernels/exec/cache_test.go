package exec

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/internal/parquettest"
	"slipstream/kernels/budget"
)

// A cache holds at most its byte budget, and what it holds is reserved in
// the node's account: it grows as values come in and shrinks as ristretto
// evicts them.
func TestCachesAreCountedInTheNodesBudget(t *testing.T) {
	pool, err := budget.NewPool(budget.Options{Limit: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	CountCachesIn(pool.Node())
	defer CountCachesIn(nil)
	c := &sizedCache[string]{name: "test", maxCost: 64 << 10, counters: 10_000, size: func(v string) int64 { return int64(len(v)) }}
	value := string(make([]byte, 1024))
	for i := range 2000 { // 2 MiB offered to a 64 KiB cache, keys asked for twice
		for range 2 {
			if _, err := c.get(fmt.Sprint(i), func() (string, error) { return value, nil }); err != nil {
				t.Fatal(err)
			}
		}
		c.c.Wait()
	}
	held := c.held()
	if held == 0 || held > 64<<10 {
		t.Fatalf("the cache holds %d bytes; want some, at most 64 KiB", held)
	}
	if pool.Used() != held {
		t.Errorf("the node's account holds %d bytes, the cache %d", pool.Used(), held)
	}
}

// A Cache (the scheduler's plans) gives back what was put, replaces a
// value without counting it twice, and stays within its bytes, counted in
// the node's account.
func TestCacheForPlanning(t *testing.T) {
	pool, err := budget.NewPool(budget.Options{Limit: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	CountCachesIn(pool.Node())
	defer CountCachesIn(nil)
	c := NewCache[int]("plans-test", 64<<10)
	c.Put("q1", 1, 1000)
	c.Put("q1", 2, 1000)
	if v, ok := c.Get("q1"); !ok || v != 2 {
		t.Fatalf("got %v %v, want the replacing value 2", v, ok)
	}
	if pool.Used() != 1000 {
		t.Errorf("the node's account holds %d bytes for one value of 1000", pool.Used())
	}
	for i := range 1000 { // 1 MB offered to a 64 KiB cache
		c.Put(fmt.Sprint("k", i), i, 1000)
	}
	if held := c.sc.held(); held == 0 || held > 64<<10 || pool.Used() != held {
		t.Errorf("the cache holds %d bytes, the account %d; want some, at most 64 KiB, the same", held, pool.Used())
	}
}

// A Parquet footer is read once per file version: the same metadata comes
// back while the file is unchanged.
func TestParquetFootersAreCached(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	rec := buildBatch(t, mem, joinSchema, []any{int64(1)}, []any{"a"}, []any{int64(2)})
	path := filepath.Join(t.TempDir(), "f.parquet")
	parquettest.Write(t, mem, path, rec, 1)
	rec.Release()
	first, err := parquetFooter(nil, path)
	if err != nil {
		t.Fatal(err)
	}
	footers.c.Wait()
	again, err := parquetFooter(nil, path)
	if err != nil {
		t.Fatal(err)
	}
	if first != again {
		t.Error("the footer was read again for an unchanged file")
	}
}
