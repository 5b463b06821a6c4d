package exec

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"slipstream/internal/parquettest"
	"slipstream/kernels/budget"
)

// A Parquet file scanned again reads its decoded column chunks from the
// cache: the same rows, with no page of a held chunk read (the chunks live
// in the node's account); a scan of other columns reads those; a new
// version of the file is read anew; and everything is released when the
// cache lets the chunks go.
func TestDecodedParquetChunksAreKept(t *testing.T) {
	mem, ctx := newMem(t)
	pool, err := budget.NewPool(budget.Options{Limit: 1 << 30, Base: mem})
	if err != nil {
		t.Fatal(err)
	}
	CountCachesIn(pool.Node())
	SetDecodedChunkBytes(64 << 20)
	defer func() {
		decodedChunks.init()
		decodedChunks.c.Clear()
		SetDecodedChunkBytes(0)
		CountCachesIn(nil)
		mem.AssertSize(t, 0)
	}()
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
