package exec

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// BenchmarkShortStringKeys groups 64Ki rows by a one-letter flag (q1's keys).
func BenchmarkShortStringKeys(b *testing.B) {
	mem := memory.NewGoAllocator()
	bld := array.NewStringBuilder(mem)
	for i := 0; i < 1<<16; i++ {
		bld.Append([]string{"A", "N", "R", "F", "O"}[(i*7)%5])
	}
	arr := bld.NewArray()
	defer arr.Release()
	g, err := newGrouper([]arrow.DataType{arrow.BinaryTypes.String})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		g.groupIDs([]arrow.Array{arr}, arr.Len())
	}
}
