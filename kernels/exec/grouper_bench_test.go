package exec

import (
	"fmt"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
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

// BenchmarkCustomerKeys groups 114k rows by q10's seven customer columns
// (38k customers, each key determined by the first).
func BenchmarkCustomerKeys(b *testing.B) {
	mem := memory.NewGoAllocator()
	const rows, groups = 114_705, 37_967
	key := array.NewInt64Builder(mem)
	strs := make([]*array.StringBuilder, 5)
	for i := range strs {
		strs[i] = array.NewStringBuilder(mem)
	}
	dec := array.NewDecimal128Builder(mem, &arrow.Decimal128Type{Precision: 15, Scale: 2})
	for i := 0; i < rows; i++ {
		c := int64((i * 7919) % groups)
		key.Append(c * 3)
		strs[0].Append(fmt.Sprintf("Customer#%09d", c*3))
		strs[1].Append(fmt.Sprintf("%d-555-%07d", c%25, c))
		strs[2].Append([]string{"FRANCE", "GERMANY", "BRAZIL"}[c%3])
		strs[3].Append(fmt.Sprintf("addr %d lorem ipsum", c))
		strs[4].Append(fmt.Sprintf("comment %d lorem ipsum dolor sit amet, consectetur adipiscing", c))
		dec.Append(decimal128.FromI64(c * 17))
	}
	cols := []arrow.Array{key.NewArray(), strs[0].NewArray(), dec.NewArray(), strs[1].NewArray(), strs[2].NewArray(), strs[3].NewArray(), strs[4].NewArray()}
	types := make([]arrow.DataType, len(cols))
	for i, c := range cols {
		types[i] = c.DataType()
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		g, err := newGrouper(types)
		if err != nil {
			b.Fatal(err)
		}
		for off := 0; off < rows; off += 4096 {
			n := min(4096, rows-off)
			batch := make([]arrow.Array, len(cols))
			for j, c := range cols {
				batch[j] = array.NewSlice(c, int64(off), int64(off+n))
			}
			g.groupIDs(batch, n)
		}
	}
}

// BenchmarkManyStringKeys groups 2Mi rows by a string key of about 10^6
// values ("user-" and a number), in batches of BatchRows.
func BenchmarkManyStringKeys(b *testing.B) {
	mem := memory.NewGoAllocator()
	const rows = 1 << 21
	var batches []arrow.Array
	for off := 0; off < rows; off += BatchRows {
		bld := array.NewStringBuilder(mem)
		for i := off; i < off+BatchRows; i++ {
			bld.Append(fmt.Sprintf("user-%d", (i*7919)%1_000_003))
		}
		batches = append(batches, bld.NewArray())
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		g, err := newGrouper([]arrow.DataType{arrow.BinaryTypes.String})
		if err != nil {
			b.Fatal(err)
		}
		for _, a := range batches {
			g.groupIDs([]arrow.Array{a}, a.Len())
		}
	}
}
