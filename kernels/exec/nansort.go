package exec

import (
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Arrow's sort (v18.8.0) puts NaN next to the nulls: first when nulls go
// first, whatever the direction. Our order (compare.go, DuckDB, polars) is
// NaN above every number: last ascending, first descending, nulls apart.
// nanSortKeys adds, before each float key, a boolean key "is NaN" with the
// key's direction and null placement, which puts NaN where it belongs; the
// float key then orders the numbers.

// nanFlags is a boolean array, true where a holds NaN, null where a is null.
func nanFlags(mem memory.Allocator, a arrow.Array) arrow.Array {
	b := array.NewBooleanBuilder(mem)
	defer b.Release()
	b.Reserve(a.Len())
	for i := range a.Len() {
		if a.IsNull(i) {
			b.AppendNull()
			continue
		}
		var v float64
		switch x := a.(type) {
		case *array.Float32:
			v = float64(x.Value(i))
		case *array.Float64:
			v = x.Value(i)
		}
		b.Append(math.IsNaN(v))
	}
	return b.NewArray()
}

func isFloat(t arrow.DataType) bool { return t.ID() == arrow.FLOAT32 || t.ID() == arrow.FLOAT64 }

// nanSortKeys returns keys with a NaN key before each float key; the NaN
// keys read the columns numbered from width on, one per float key, which
// flags(column) makes.
func nanSortKeys(keys []compute.SortKey, types []arrow.DataType) (out []compute.SortKey, floats []int) {
	for _, k := range keys {
		if isFloat(types[k.ColumnIndex]) {
			nk := k
			nk.ColumnIndex = len(types) + len(floats)
			out = append(out, nk)
			floats = append(floats, k.ColumnIndex)
		}
		out = append(out, k)
	}
	return out, floats
}

// withNaNKeysTable is tbl with the NaN columns nanSortKeys asks for.
func withNaNKeysTable(mem memory.Allocator, tbl arrow.Table, keys []compute.SortKey) (arrow.Table, []compute.SortKey) {
	types := make([]arrow.DataType, tbl.NumCols())
	for i := range types {
		types[i] = tbl.Column(i).DataType()
	}
	out, floats := nanSortKeys(keys, types)
	if len(floats) == 0 {
		tbl.Retain()
		return tbl, keys
	}
	fields := append([]arrow.Field{}, tbl.Schema().Fields()...)
	cols := make([]arrow.Column, 0, len(fields)+len(floats))
	for i := range types {
		cols = append(cols, *tbl.Column(i))
	}
	var made []*arrow.Chunked
	for n, c := range floats {
		var chunks []arrow.Array
		for _, ch := range tbl.Column(c).Data().Chunks() {
			chunks = append(chunks, nanFlags(mem, ch))
		}
		f := arrow.Field{Name: "__nan" + string(rune('0'+n%10)), Type: arrow.FixedWidthTypes.Boolean, Nullable: true}
		fields = append(fields, f)
		chunked := arrow.NewChunked(f.Type, chunks)
		for _, ch := range chunks {
			ch.Release()
		}
		made = append(made, chunked)
		col := arrow.NewColumn(f, chunked)
		cols = append(cols, *col)
	}
	t := array.NewTable(arrow.NewSchema(fields, nil), cols, tbl.NumRows())
	for _, m := range made {
		m.Release()
	}
	return t, out
}

// withNaNKeysRecord is rec with the NaN columns nanSortKeys asks for.
func withNaNKeysRecord(mem memory.Allocator, rec arrow.RecordBatch, keys []compute.SortKey) (arrow.RecordBatch, []compute.SortKey) {
	types := make([]arrow.DataType, rec.NumCols())
	for i := range types {
		types[i] = rec.Column(i).DataType()
	}
	out, floats := nanSortKeys(keys, types)
	if len(floats) == 0 {
		rec.Retain()
		return rec, keys
	}
	fields := append([]arrow.Field{}, rec.Schema().Fields()...)
	cols := append([]arrow.Array{}, rec.Columns()...)
	var made []arrow.Array
	for n, c := range floats {
		a := nanFlags(mem, rec.Column(c))
		made = append(made, a)
		fields = append(fields, arrow.Field{Name: "__nan" + string(rune('0'+n%10)), Type: arrow.FixedWidthTypes.Boolean, Nullable: true})
		cols = append(cols, a)
	}
	r := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, rec.NumRows())
	releaseArrays(made)
	return r, out
}
