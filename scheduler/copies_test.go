package scheduler

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/scheduler/catalog"
)

// A repair is paced by --repair-rate, travels in chunks, and is listed
// in the status while it runs.
func TestRepairIsPacedAndShown(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	engines, _ := testCluster(t, 2, mem)
	engines[0].Config.PartRows = 400_000
	if err := storeRows(engines[0], mem, "big", catalog.Create, 400_000); err != nil {
		t.Fatal(err)
	}
	n2 := engines[1]
	tbl, _ := n2.Catalog.Table("big")
	p := tbl.M.Parts[0]
	path := filepath.Join(n2.Catalog.Dir(), "parts", p.ID+".arrow")
	st, err := os.Stat(path)
	if err != nil || st.Size() < 3*catalog.ChunkSize {
		t.Fatalf("want a copy of several chunks: %v %v", st, err)
	}
	os.Remove(path)
	const rate = 1 << 20
	n2.Config.RepairRate = rate
	seen := make(chan []CopyStatus, 1)
	go func() {
		for {
			if c := n2.copiesRunning(); len(c) > 0 && c[0].BytesCopied > 0 {
				seen <- c
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	start := time.Now()
	if repaired, left := n2.Repair(context.Background(), false); repaired != 1 || left != 0 {
		t.Fatalf("repaired %d, left %d", repaired, left)
	}
	// The limiter allows one chunk at once, then rate bytes a second.
	if took, least := time.Since(start), time.Duration(float64(st.Size()-rate)/rate*float64(time.Second)); took < least {
		t.Fatalf("a copy of %d bytes at %d bytes/s took %s, less than %s", st.Size(), rate, took, least)
	}
	c := <-seen
	if c[0].Kind != kindRepair || c[0].Table != "big" || c[0].Part != p.ID || c[0].From != "n1" || c[0].To != "n2" {
		t.Fatalf("status showed %+v", c)
	}
	if len(n2.copiesRunning()) != 0 || !holdsGoodCopy(n2, "big", p) {
		t.Fatal("the repair is still listed, or its copy is not good")
	}
}

// A partition whose file would not fit in one message is cut in halves
// until each fits; every row arrives, in order. A single row too big is
// refused, naming the table and the limit.
func TestBigPartitionsAreCut(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	engines, _ := testCluster(t, 2, mem)
	e := engines[0]
	e.Config.PartRows = 10_000
	e.partBytes = 8 << 10
	if err := storeRows(e, mem, "t", catalog.Create, 10_000); err != nil {
		t.Fatal(err)
	}
	tbl, _ := e.Catalog.Table("t")
	if len(tbl.M.Parts) < 10 || tbl.Rows != 10_000 {
		t.Fatalf("%d partitions of %d rows; want at least 10 (80 KB in files of 8 KiB at most)", len(tbl.M.Parts), tbl.Rows)
	}
	files, err := e.Catalog.TableFiles("t")
	if err != nil {
		t.Fatal(err)
	}
	next := int64(0)
	for i, f := range files {
		if st, _ := os.Stat(f); st.Size() > e.partBytes {
			t.Fatalf("partition %d takes %d bytes", i, st.Size())
		}
		for _, v := range readInt64s(t, f) {
			if v != next {
				t.Fatalf("partition %d: row %d is %d", i, next, v)
			}
			next++
		}
	}
	if next != 10_000 {
		t.Fatalf("read %d rows", next)
	}
	e.partBytes = 100
	err = storeRows(e, mem, "u", catalog.Create, 10)
	if err == nil || !strings.Contains(err.Error(), `a row of "u" takes`) || !strings.Contains(err.Error(), "at most 100B") {
		t.Fatalf("got %v", err)
	}
}

// readInt64s is the first column of a partition file.
func readInt64s(t *testing.T, path string) []int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := ipc.NewFileReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []int64
	for i := 0; i < r.NumRecords(); i++ {
		rec, err := r.RecordBatch(i)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec.Column(0).(*array.Int64).Int64Values()...)
	}
	return out
}
