package catalog

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels"
)

var schema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

func batch(mem memory.Allocator, from, n int) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for i := from; i < from+n; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("row-%d-ß", i))
	}
	return b.NewRecordBatch()
}

func store(t *testing.T, c *Catalog, name string, mode Mode, n int) (int64, error) {
	t.Helper()
	up, err := c.BeginUpload(name, mode, schema)
	if err != nil {
		return 0, err
	}
	b := batch(c.mem, 0, n)
	defer b.Release()
	if err := up.Write(b); err != nil {
		up.Abort()
		return 0, err
	}
	return up.Commit()
}

func TestCreateReplaceAppendDrop(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	c, err := Open(dir, mem, "n1")
	if err != nil {
		t.Fatal(err)
	}
	if rows, err := store(t, c, "t", Create, 10); err != nil || rows != 10 {
		t.Fatalf("create: %d %v", rows, err)
	}
	if _, err := store(t, c, "t", Create, 1); kernels.KindOf(err) != kernels.AlreadyExists {
		t.Fatalf("second create: %v", err)
	}
	if rows, err := store(t, c, "t", Append, 5); err != nil || rows != 15 {
		t.Fatalf("append: %d %v", rows, err)
	}
	if rows, err := store(t, c, "t", Replace, 3); err != nil || rows != 3 {
		t.Fatalf("replace: %d %v", rows, err)
	}
	if _, err := store(t, c, "missing", Append, 1); kernels.KindOf(err) != kernels.NotFound {
		t.Fatalf("append to missing: %v", err)
	}
	other := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int32}}, nil)
	if _, err := c.BeginUpload("t", Append, other); kernels.KindOf(err) != kernels.Invalid {
		t.Fatalf("append with another schema: %v", err)
	}
	// Restart: what was acknowledged is there, in one directory.
	c2, err := Open(dir, mem, "n1")
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := c2.Table("t")
	if err != nil || tbl.Rows != 3 || !tbl.Schema.Equal(schema) {
		t.Fatalf("after restart: %+v %v", tbl, err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "parts"))
	if len(entries) != 1 {
		t.Fatalf("replace left %d partition files, want the 1 of the new contents", len(entries))
	}
	if tomb, err := c2.Drop("t"); tomb == nil || !tomb.Dropped || err != nil {
		t.Fatalf("drop: %v %v", tomb, err)
	}
	if _, err := c2.Table("t"); kernels.KindOf(err) != kernels.NotFound {
		t.Fatalf("after drop: %v", err)
	}
	c3, _ := Open(dir, mem, "n1")
	if len(c3.Tables()) != 0 {
		t.Fatalf("a dropped table came back after restart")
	}
}

func TestEmptyUploadKeepsSchema(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	c, _ := Open(dir, mem, "n1")
	up, err := c.BeginUpload("empty", Create, schema)
	if err != nil {
		t.Fatal(err)
	}
	if rows, err := up.Commit(); err != nil || rows != 0 {
		t.Fatalf("%d %v", rows, err)
	}
	c2, _ := Open(dir, mem, "n1")
	tbl, err := c2.Table("empty")
	if err != nil || tbl.Rows != 0 || !tbl.Schema.Equal(schema) {
		t.Fatalf("%+v %v", tbl, err)
	}
}

func TestLargeUploadIsPartitioned(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c, _ := Open(t.TempDir(), mem, "n1")
	up, _ := c.BeginUpload("big", Create, schema)
	up.PartRows = 1000
	for i := 0; i < 5; i++ {
		b := batch(mem, i*500, 500)
		if err := up.Write(b); err != nil {
			t.Fatal(err)
		}
		b.Release()
	}
	rows, err := up.Commit()
	if err != nil || rows != 2500 {
		t.Fatalf("%d %v", rows, err)
	}
	files, _ := c.TableFiles("big")
	if len(files) != 3 {
		t.Fatalf("want 3 partitions, got %d", len(files))
	}
}

func TestBadNamesAndSchemas(t *testing.T) {
	c, _ := Open(t.TempDir(), memory.NewGoAllocator(), "n1")
	for _, name := range []string{"", "a\x00b", string(make([]byte, 300))} {
		if _, err := c.BeginUpload(name, Create, schema); kernels.KindOf(err) != kernels.Invalid {
			t.Errorf("name %q: %v", name, err)
		}
	}
	dup := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64}, {Name: "a", Type: arrow.PrimitiveTypes.Int64}}, nil)
	if _, err := c.BeginUpload("d", Create, dup); kernels.KindOf(err) != kernels.Invalid {
		t.Errorf("duplicate columns: %v", err)
	}
	if _, err := c.BeginUpload("ünïcode table ✓", Create, schema); err != nil {
		t.Errorf("unicode name: %v", err)
	}
}

func TestConcurrentUploads(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c, _ := Open(t.TempDir(), mem, "n1")
	if _, err := store(t, c, "shared", Create, 1); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if _, err := store(t, c, "shared", Append, 10); err != nil {
				t.Error(err)
			}
			if _, err := store(t, c, fmt.Sprintf("own-%d", i), Replace, 5); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	tbl, _ := c.Table("shared")
	if tbl.Rows != 81 {
		t.Fatalf("appends lost rows: %d", tbl.Rows)
	}
	if len(c.Tables()) != 9 {
		t.Fatalf("tables: %d", len(c.Tables()))
	}
}
