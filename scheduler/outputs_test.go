package scheduler

import (
	"context"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels/budget"
	pb "slipstream/scheduler/planpb"
)

// While the node's memory is short, a task's output buckets go to disk
// and read back as they were, by shuffle reads (kept for other readers)
// and by the reader that releases them; released or forgotten, nothing
// is left in memory or on disk.
func TestTaskOutputsSpillWhenMemoryIsShort(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	pool, err := budget.NewPool(budget.Options{Limit: 1 << 20, SpillDir: dir, SpillLimit: 1 << 30, Base: mem})
	if err != nil {
		t.Fatal(err)
	}
	outs := newOutputs(pool.Node())
	schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	batch := func(from int64) arrow.RecordBatch {
		b := array.NewInt64Builder(outs.Allocator())
		defer b.Release()
		for i := range int64(4096) {
			b.Append(from + i)
		}
		col := b.NewArray()
		defer col.Release()
		return array.NewRecordBatch(schema, []arrow.Array{col}, 4096)
	}
	task := outs.newTaskOutput(schema, 2)
	var want [2]int64          // sums per bucket
	for k := range int64(64) { // 2 MiB, twice the limit
		b := batch(k * 4096)
		for i := range b.NumRows() {
			want[k%2] += b.Column(0).(*array.Int64).Value(int(i))
		}
		if err := task.add(int(k%2), b); err != nil {
			t.Fatal(err)
		}
	}
	key := func(i int) outputKey { return outputKey{"q1", 0, 0, 0, int32(i)} }
	if err := task.keep(key); err != nil {
		t.Fatal(err)
	}
	if pool.Spilled() == 0 {
		t.Fatal("nothing spilled: the test does not exercise spilling")
	}
	if pool.Used() > 1<<20 {
		t.Errorf("outputs hold %d bytes in memory, over the limit", pool.Used())
	}
	sum := func(i int, release bool) int64 {
		op, err := outs.Open(&pb.OutputKey{QueryId: "q1", Bucket: int32(i)}, release)
		if err != nil {
			t.Fatal(err)
		}
		defer op.Close()
		var s int64
		for {
			b, err := op.Next(context.Background())
			if errors.Is(err, io.EOF) {
				return s
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range b.Column(0).(*array.Int64).Int64Values() {
				s += v
			}
			b.Release()
		}
	}
	for i := range 2 {
		if got := sum(i, false); got != want[i] {
			t.Errorf("bucket %d read as shuffle input: sum %d, want %d", i, got, want[i])
		}
	}
	if got := sum(0, true); got != want[0] {
		t.Errorf("bucket 0 read by the releasing reader: sum %d, want %d", got, want[0])
	}
	if _, err := outs.Open(&pb.OutputKey{QueryId: "q1", Bucket: 0}, false); err == nil {
		t.Error("a released output can still be read")
	}
	outs.Release("q1", -1)
	if pool.Used() != 0 || pool.Spilled() != 0 {
		t.Errorf("after release the pool holds %d bytes and %d spilled", pool.Used(), pool.Spilled())
	}
	left := 0
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		files, _ := os.ReadDir(dir + "/" + e.Name())
		left += len(files)
	}
	if left != 0 {
		t.Errorf("%d spill files left", left)
	}
}
