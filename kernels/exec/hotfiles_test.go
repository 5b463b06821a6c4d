package exec

import (
	"os"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels/budget"
)

// A stored IPC file read again comes from the hot files cache: the same
// rows, held in the node's account; a new version of the file (renamed
// over it) is read anew; everything is released when the cache lets the
// files go.
func TestHotIPCFilesAreKeptDecoded(t *testing.T) {
	mem, ctx := newMem(t)
	pool, err := budget.NewPool(budget.Options{Limit: 1 << 30, Base: mem})
	if err != nil {
		t.Fatal(err)
	}
	CountCachesIn(pool.Node())
	SetHotFileBytes(64 << 20)
	defer func() {
		hotFiles.init()
		hotFiles.c.Clear()
		SetHotFileBytes(0)
		CountCachesIn(nil)
		mem.AssertSize(t, 0)
	}()
	dir := t.TempDir()
	path, schema := writeIPC(t, memory.NewGoAllocator(), dir, "part.arrow", false, 3)
	scan := func() [][]any {
		q := pool.Begin("q")
		defer q.Close()
		rows, _ := drain(t, ctx, NewScan(q, IPC, []string{path}, schema, []int{0, 2}, nil, CSVOptions{}))
		return rows
	}
	first := scan()
	if len(first) != 12 {
		t.Fatalf("%d rows, want 12", len(first))
	}
	var again [][]any
	for range 3 { // asked for again: admitted
		again = scan()
		hotFiles.c.Wait()
	}
	if !sameRows(first, again) {
		t.Fatal("a cached file reads differently")
	}
	if hotFiles.held() == 0 || pool.Node().Used() == 0 {
		t.Fatalf("the file is not held (cache %d bytes, node account %d)", hotFiles.held(), pool.Node().Used())
	}
	time.Sleep(10 * time.Millisecond)
	path2, _ := writeIPC(t, memory.NewGoAllocator(), dir, "other.arrow", false, 1)
	if err := os.Rename(path2, path); err != nil {
		t.Fatal(err)
	}
	if rows := scan(); len(rows) != 4 {
		t.Fatalf("a new version of the file: %d rows, want its 4", len(rows))
	}
}
