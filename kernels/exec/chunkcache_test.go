package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/internal/parquettest"
	"slipstream/kernels/budget"
)

// A Parquet file scanned again reads its decoded column chunks from the
// cache: the same rows, with no page of a held chunk read (the chunks live
// in the node's account); a scan of other columns reads those; a new
// version of the file is read anew; and everything is released when the
// cache lets the chunks go.
func TestDecodedParquetChunksAreKept(t *testing.T) {
	pool, mem, ctx := withChunkCache(t, 64<<20)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "city", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "v", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	write := func(path string, rows int) {
		cols := make([][]any, 3)
		for i := range rows {
			cols[0] = append(cols[0], int64(i))
			var city any = []string{"Zürich", "Oslo", "Lagos"}[i%3]
			if i%17 == 0 {
				city = nil
			}
			cols[1] = append(cols[1], city)
			cols[2] = append(cols[2], float64(i)/4)
		}
		rec := buildBatch(t, mem, schema, cols...)
		defer rec.Release()
		parquettest.Write(t, mem, path, rec, 700)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "t.parquet")
	write(path, 2000)
	scan := func(cols []int) [][]any {
		q := pool.Begin("q")
		defer q.Close()
		rows, _ := drain(t, ctx, NewScan(q, Parquet, []string{path}, schema, cols, nil, CSVOptions{}))
		return rows
	}
	first := scan([]int{0, 1})
	for range 3 { // asked for again: admitted
		if again := scan([]int{0, 1}); !sameRows(first, again) {
			t.Fatal("a cached chunk reads differently")
		}
		decodedChunks.c.Wait()
	}
	if decodedChunks.held() == 0 || pool.Node().Used() == 0 {
		t.Fatalf("no chunk held (cache %d bytes, node account %d)", decodedChunks.held(), pool.Node().Used())
	}
	// Held chunks are served without opening their pages: a file whose
	// bytes are gone but whose version is the same still reads the same.
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	original, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	garbage := make([]byte, len(original))
	copy(garbage[:4], original[:4]) // the magic number stays
	if err := os.WriteFile(path, garbage, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	held := fmt.Sprint(scan([]int{0, 1}))
	if len(first) != 2000 || held != fmt.Sprint(first) {
		t.Fatalf("%d rows first; held chunks read differently", len(first))
	}
	if err := os.WriteFile(path, original, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	// Another column of the file, and all three together.
	if rows := scan([]int{2, 0}); len(rows) != 2000 || rows[5][0] != 1.25 || rows[5][1] != int64(5) {
		t.Fatalf("another column: %d rows, row 5 %v", len(rows), rows[5])
	}
	// The string column read as its dictionary (for a group-by or a
	// Filter) is another chunk than the plain one: each scan gets its own.
	for range 3 {
		q := pool.Begin("dictionaries")
		sc := NewScan(q, Parquet, []string{path}, schema, []int{0, 1}, nil, CSVOptions{})
		sc.dictionaries = true
		n := 0
		for {
			b, err := sc.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.Column(1).DataType().ID() != arrow.DICTIONARY {
				t.Fatalf("the scan meant to read dictionaries reads %s", b.Column(1).DataType())
			}
			n += int(b.NumRows())
			b.Release()
		}
		sc.Close()
		q.Close()
		if n != 2000 {
			t.Fatalf("read as dictionaries: %d rows", n)
		}
		decodedChunks.c.Wait()
		if again := scan([]int{0, 1}); !sameRows(first, again) {
			t.Fatal("a plain scan after one that read dictionaries reads differently")
		}
	}
	// A new version of the file is read anew.
	time.Sleep(10 * time.Millisecond)
	tmp := filepath.Join(dir, "new.parquet")
	write(tmp, 900)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	if rows := scan([]int{0, 1}); len(rows) != 900 {
		t.Fatalf("a new version of the file: %d rows, want its 900", len(rows))
	}
}

// withChunkCache turns the decoded-chunk cache on at bound bytes, counted
// in a new pool's node account, and off again (empty) when t ends.
func withChunkCache(t *testing.T, bound int64) (*budget.Pool, *memory.CheckedAllocator, context.Context) {
	mem, ctx := newMem(t)
	pool, err := budget.NewPool(budget.Options{Limit: 1 << 30, Base: mem})
	if err != nil {
		t.Fatal(err)
	}
	CountCachesIn(pool.Node())
	SetDecodedChunkBytes(bound)
	t.Cleanup(func() {
		decodedChunks.drop()
		SetDecodedChunkBytes(0)
		CountCachesIn(nil)
		mem.AssertSize(t, 0)
	})
	return pool, mem, ctx
}

// Decoded chunks kept for the next scan give way to a query short of
// memory: with the cache full, a reservation that the node has room for
// only without the cache gets it (the pool's WhenShort drops the cache,
// as the node's does), and the cache's buffers are freed.
func TestAQueryShortOfMemoryTakesTheCachesRoom(t *testing.T) {
	mem, ctx := newMem(t)
	const limit = 4 << 20
	pool, err := budget.NewPool(budget.Options{Limit: limit, Base: mem, WhenShort: DropDecoded})
	if err != nil {
		t.Fatal(err)
	}
	CountCachesIn(pool.Node())
	SetDecodedChunkBytes(limit / 2)
	t.Cleanup(func() {
		decodedChunks.drop()
		SetDecodedChunkBytes(0)
		CountCachesIn(nil)
		mem.AssertSize(t, 0)
	})
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)
	var ids []any
	for i := range 100_000 {
		ids = append(ids, int64(i)*7919)
	}
	rec := buildBatch(t, mem, schema, ids)
	path := filepath.Join(t.TempDir(), "a.parquet")
	parquettest.Write(t, mem, path, rec, 10_000)
	rec.Release()
	for range 3 { // asked for again: admitted
		q := pool.Begin("scan")
		drain(t, ctx, NewScan(q, Parquet, []string{path}, schema, nil, nil, CSVOptions{}))
		q.Close()
		decodedChunks.c.Wait()
	}
	held := decodedChunks.held()
	if held < 400_000 || pool.Used() < held {
		t.Fatalf("the cache holds %d bytes, the node counts %d: want the file's chunks held", held, pool.Used())
	}
	other := pool.Used() - held // the planning caches: footers, column ranges
	q := pool.Begin("join")
	defer q.Close()
	r := q.Reserve("join table")
	if err := r.TryResize(limit - held/2); err != nil {
		t.Fatalf("a query the node has room for once the cache gives way: %v", err)
	}
	if decodedChunks.held() != 0 || pool.Used() != other+limit-held/2 {
		t.Fatalf("after the query took the room: cache %d bytes, node %d, want %d", decodedChunks.held(), pool.Used(), other+limit-held/2)
	}
	r.Free()
}

// A query of more than the cache holds takes no more than half of it,
// its scans together: run after run the same first chunks stay and
// answer, instead of each run pushing out what the last one kept.
func TestAQueryTakesHalfTheCache(t *testing.T) {
	const bound = 512 << 10
	pool, mem, ctx := withChunkCache(t, bound)
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)
	var ids []any
	for i := range 40_000 {
		ids = append(ids, int64(i)*7919)
	}
	rec := buildBatch(t, mem, schema, ids)
	dir := t.TempDir()
	paths := []string{filepath.Join(dir, "a.parquet"), filepath.Join(dir, "b.parquet")}
	for _, path := range paths {
		parquettest.Write(t, mem, path, rec, 1000) // 40 chunks of 8 KB: 320 KB
	}
	rec.Release()
	var first [][]any
	for run := range 4 {
		q := pool.Begin("q")
		var rows [][]any
		for _, path := range paths { // two scans, as two workers run them
			r, _ := drain(t, ctx, NewScan(q, Parquet, []string{path}, schema, nil, nil, CSVOptions{}))
			rows = append(rows, r...)
		}
		q.Close()
		if run == 0 {
			first = rows
		} else if !sameRows(first, rows) {
			t.Fatalf("run %d reads differently", run)
		}
		decodedChunks.c.Wait()
		// The last offer may pass the half by its one chunk.
		if held, most := decodedChunks.held(), int64(bound/2+8000); held == 0 || held > most {
			t.Fatalf("run %d: the cache holds %d bytes, want some and at most %d", run, held, most)
		}
	}
	if len(first) != 80_000 {
		t.Fatalf("%d rows, want 80000", len(first))
	}
}

// A chunk read as its dictionary costs the dictionary's strings, once for
// all the batches that share it: the cache bounds what it really holds.
func TestHeldBytesCountsADictionaryOnce(t *testing.T) {
	mem, _ := newMem(t)
	b := array.NewDictionaryBuilder(mem, &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}).(*array.BinaryDictionaryBuilder)
	defer b.Release()
	for i := range 1000 {
		if err := b.AppendString(fmt.Sprintf("a string of some length %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	whole := b.NewArray().(*array.Dictionary)
	defer whole.Release()
	halves := []arrow.Array{array.NewSlice(whole, 0, 500), array.NewSlice(whole, 500, 1000)}
	defer releaseArrays(halves)
	var want int64 // the whole array's buffers and its dictionary's, once
	for _, buf := range append(whole.Data().Buffers(), whole.Dictionary().Data().Buffers()...) {
		if buf != nil {
			want += int64(buf.Len())
		}
	}
	if got := heldBytes(halves); got != want {
		t.Fatalf("two batches sharing one dictionary hold %d bytes, want %d (indices, then the dictionary once)", got, want)
	}
}
