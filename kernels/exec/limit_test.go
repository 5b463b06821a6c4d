package exec

import (
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// tenRowBatches is five batches of ten rows: 0..9, 10..19, ..., 40..49.
func tenRowBatches(t *testing.T, mem memory.Allocator) (*arrow.Schema, []arrow.RecordBatch) {
	schema := schemaOf(i64)
	var bs []arrow.RecordBatch
	for b := 0; b < 5; b++ {
		vals := make([]any, 10)
		for i := range vals {
			vals[i] = int64(b*10 + i)
		}
		bs = append(bs, buildBatch(t, mem, schema, vals))
	}
	return schema, bs
}

func TestLimit(t *testing.T) {
	cases := []struct {
		offset, count int64
		first, n      int64 // rows first..first+n-1
		pulls         int64 // batches the limit may pull at most
	}{
		{0, -1, 0, 50, 5},
		{0, 10, 0, 10, 1},
		{0, 11, 0, 11, 2},
		{5, 3, 5, 3, 1},
		{9, 2, 9, 2, 2},
		{15, 10, 15, 10, 3},
		{10, 0, 0, 0, 0},
		{0, 0, 0, 0, 0},
		{20, -1, 20, 30, 5},
		{45, 100, 45, 5, 5},
		{0, 50, 0, 50, 5},
		{50, 5, 0, 0, 5},
		{60, -1, 0, 0, 5},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("offset %d count %d", tc.offset, tc.count), func(t *testing.T) {
			mem, ctx := newMem(t)
			schema, bs := tenRowBatches(t, mem)
			in := &counting{Operator: records(schema, bs...)}
			op := NewLimit(in, tc.offset, tc.count)
			rows, _ := drain(t, ctx, op)
			if int64(len(rows)) != tc.n {
				t.Fatalf("%d rows, want %d", len(rows), tc.n)
			}
			for i, r := range rows {
				if r[0] != tc.first+int64(i) {
					t.Fatalf("row %d is %v, want %d", i, r[0], tc.first+int64(i))
				}
			}
			if got := in.pulls.Load(); got != tc.pulls {
				t.Errorf("pulled %d batches, want %d", got, tc.pulls)
			}
			if in.closed.Load() != 1 {
				t.Errorf("input closed %d times, want 1", in.closed.Load())
			}
		})
	}
}

func TestLimitStopsPullingEndlessInput(t *testing.T) {
	mem, ctx := newMem(t)
	in := &counting{Operator: newEndless(mem, true)}
	op := NewLimit(in, 100, 10)
	rows, _ := drain(t, ctx, op)
	if len(rows) != 10 || rows[0][0] != int64(64+100) {
		t.Errorf("got %d rows starting at %v, want 10 from %d", len(rows), rows[0][0], 64+100)
	}
	if in.pulls.Load() != 2 {
		t.Errorf("pulled %d batches of an endless input, want 2", in.pulls.Load())
	}
}

func TestLimitString(t *testing.T) {
	newMem(t)
	op := NewLimit(records(schemaOf(i64)), 3, -1)
	defer op.Close()
	if got := op.String(); got != "Limit offset=3 count=-1" {
		t.Errorf("String() = %q", got)
	}
}
