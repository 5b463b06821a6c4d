package exec

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// sortKeysInput is n random rows of every type the normalized keys encode,
// with nulls, NaN, -0, infinities, empty strings, zero bytes, unicode and
// long strings sharing prefixes, cut into batches (one of them a slice).
func sortKeysInput(t *testing.T, n int, rng *rand.Rand) (*arrow.Schema, [][]any) {
	schema := schemaOf(
		arrow.PrimitiveTypes.Int8, i64, arrow.PrimitiveTypes.Uint32, arrow.PrimitiveTypes.Float32, arrow.PrimitiveTypes.Float64,
		utf8, lstr, arrow.BinaryTypes.Binary, dec(9, 2), boo, d32, &arrow.TimestampType{Unit: arrow.Microsecond}, i64)
	strs := []string{"", "a", "ab", "a\x00", "a\x00b", "\x00", "b", "Z", "ä", "日本", "日本語", "\xff",
		strings.Repeat("long shared prefix ", 3) + "x", strings.Repeat("long shared prefix ", 3) + "y",
		strings.Repeat("long shared prefix ", 3), strings.Repeat("long shared prefix ", 3) + "x\x00"}
	floats := []float64{0, math.Copysign(0, -1), 1.5, -1.5, math.Inf(1), math.Inf(-1), math.NaN(), -math.NaN(), 1e300, -1e-300, 3}
	cols := make([][]any, schema.NumFields())
	for c := range cols {
		cols[c] = make([]any, n)
	}
	null := func() bool { return rng.Intn(7) == 0 }
	for i := range n {
		set := func(c int, v any) {
			if !null() {
				cols[c][i] = v
			}
		}
		set(0, int64(rng.Intn(256)-128))
		set(1, []int64{math.MinInt64, math.MaxInt64, 0, -1, 1, int64(rng.Intn(5))}[rng.Intn(6)])
		set(2, uint64([]uint32{0, math.MaxUint32, 7, uint32(rng.Intn(4))}[rng.Intn(4)]))
		set(3, floats[rng.Intn(len(floats))])
		set(4, floats[rng.Intn(len(floats))])
		set(5, strs[rng.Intn(len(strs))])
		set(6, strs[rng.Intn(len(strs))])
		set(7, strs[rng.Intn(len(strs))])
		set(8, fmt.Sprintf("%d.%02d", rng.Intn(2001)-1000, rng.Intn(100)))
		set(9, rng.Intn(2) == 0)
		set(10, int64(rng.Intn(9)-4))
		set(11, int64(rng.Intn(3))*1_000_000_000_000)
		cols[12][i] = int64(i) // never null: the row's input position
	}
	return schema, cols
}

// binary values arrive as strings in buildBatch: give it its builder.
func buildSortBatches(t *testing.T, schema *arrow.Schema, cols [][]any, cuts ...int) []arrow.RecordBatch {
	t.Helper()
	mem, _ := newMem(t)
	// buildBatch has no binary builder case: build that column as utf8 and
	// relabel its data.
	utf8Schema := arrow.NewSchema(append([]arrow.Field{}, schema.Fields()...), nil)
	fields := utf8Schema.Fields()
	for i, f := range fields {
		if f.Type.ID() == arrow.BINARY {
			fields[i].Type = utf8
		}
	}
	utf8Schema = arrow.NewSchema(fields, nil)
	var out []arrow.RecordBatch
	for _, b := range splitBatches(t, mem, utf8Schema, cols, cuts...) {
		arrs := make([]arrow.Array, b.NumCols())
		for i, c := range b.Columns() {
			if schema.Field(i).Type.ID() == arrow.BINARY {
				d := array.NewData(schema.Field(i).Type, c.Len(), c.Data().Buffers(), nil, c.NullN(), c.Data().Offset())
				arrs[i] = array.MakeFromData(d)
				d.Release()
			} else {
				c.Retain()
				arrs[i] = c
			}
		}
		out = append(out, array.NewRecordBatch(schema, arrs, b.NumRows()))
		releaseArrays(arrs)
		b.Release()
	}
	return out
}

// TestNormalizedKeySortMatchesRowOrder sorts random rows by random keys
// with the normalized keys and checks the order against rowOrder (the
// order the merge of spilled runs uses), ties in input order.
func TestNormalizedKeySortMatchesRowOrder(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for _, n := range []int{0, 1, 5, 150, 3000} {
		schema, cols := sortKeysInput(t, n, rng)
		cuts := []int{n / 3, n/3 + 1, 2 * n / 3}
		var batches []arrow.RecordBatch
		if n > 10 {
			// The last batch cut in two slices: offsets into its buffers.
			batches = buildSortBatches(t, schema, cols, cuts[:2]...)
			last := batches[len(batches)-1]
			split := int64(cuts[2] - cuts[1])
			batches = append(batches[:len(batches)-1], last.NewSlice(0, split), last.NewSlice(split, last.NumRows()))
			last.Release()
		} else {
			batches = buildSortBatches(t, schema, cols)
		}
		tbl := array.NewTableFromRecords(schema, batches)
		rec, err := concatBatches(memOf(t), schema, batches)
		if err != nil {
			t.Fatal(err)
		}
		ReleaseAll(batches)
		for trial := range 40 {
			var keys []SortKey
			for range 1 + rng.Intn(4) {
				keys = append(keys, SortKey{Column: rng.Intn(12), Descending: rng.Intn(2) == 0, NullsLast: rng.Intn(2) == 0})
			}
			if trial == 0 {
				keys = []SortKey{{Column: 12}} // unique, not null
			}
			got := normalizedOrder(t, tbl, keys, 1+trial%3)
			want := make([]int, n)
			for i := range want {
				want[i] = i
			}
			order, err := newRowOrder(schema, keys)
			if err != nil {
				t.Fatal(err)
			}
			sort.SliceStable(want, func(a, b int) bool { return order.compare(rec, want[a], rec, want[b]) < 0 })
			for i := range want {
				if int(got[i]) != want[i] {
					for _, r := range []int{int(got[i]), want[i]} {
						var vals []any
						for _, k := range keys {
							vals = append(vals, fmt.Sprintf("%q", fmt.Sprint(cols[k.Column][r])))
						}
						t.Logf("row %d: %v", r, vals)
					}
					t.Fatalf("n=%d keys %+v: row %d of the order is input row %d, want %d", n, keys, i, got[i], want[i])
				}
			}
		}
		tbl.Release()
		rec.Release()
	}
}

func memOf(t *testing.T) *memory.CheckedAllocator {
	mem, _ := newMem(t)
	return mem
}

func normalizedOrder(t *testing.T, tbl arrow.Table, keys []SortKey, workers int) []uint32 {
	t.Helper()
	types := make([]arrow.DataType, tbl.NumCols())
	for i := range types {
		types[i] = tbl.Column(i).DataType()
	}
	if !normalizable(types, keys) {
		t.Fatalf("keys %+v not normalizable", keys)
	}
	cols := make([]*sortCol, len(keys))
	for i, k := range keys {
		kind, _ := colKind(types[k.Column])
		cols[i] = &sortCol{key: k, kind: kind, chunks: tbl.Column(k.Column).Data().Chunks()}
	}
	n := int(tbl.NumRows())
	rows, err := sortedRows(context.Background(), encodeKeys(cols, n, workers), n, workers)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestNormalizedKeySortDeepRuns: many rows whose keys share long prefixes
// and tie often go through the radix passes and the runs at every depth.
func TestNormalizedKeySortDeepRuns(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	const n = 20000
	schema := schemaOf(utf8, i64, arrow.PrimitiveTypes.Float64, i64)
	cols := [][]any{make([]any, n), make([]any, n), make([]any, n), make([]any, n)}
	for i := range n {
		if rng.Intn(50) > 0 {
			cols[0][i] = fmt.Sprintf("user-%s%d", strings.Repeat("0", rng.Intn(20)), rng.Intn(300))
		}
		cols[1][i] = int64(rng.Intn(3) - 1)
		if rng.Intn(30) > 0 {
			cols[2][i] = float64(rng.Intn(5)) / 2
		}
		cols[3][i] = int64(i)
	}
	batches := buildSortBatches(t, schema, cols, 1000, 7000, 7001, 15000)
	tbl := array.NewTableFromRecords(schema, batches)
	defer tbl.Release()
	rec, err := concatBatches(memOf(t), schema, batches)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	ReleaseAll(batches)
	for _, keys := range [][]SortKey{
		{{Column: 0}},
		{{Column: 0, Descending: true, NullsLast: true}, {Column: 1}},
		{{Column: 1, Descending: true}, {Column: 0}, {Column: 2, NullsLast: true}},
		{{Column: 2, Descending: true}, {Column: 1}},
	} {
		got := normalizedOrder(t, tbl, keys, 2)
		want := make([]int, n)
		for i := range want {
			want[i] = i
		}
		order, err := newRowOrder(schema, keys)
		if err != nil {
			t.Fatal(err)
		}
		sort.SliceStable(want, func(a, b int) bool { return order.compare(rec, want[a], rec, want[b]) < 0 })
		for i := range want {
			if int(got[i]) != want[i] {
				t.Fatalf("keys %+v: row %d of the order is input row %d, want %d", keys, i, got[i], want[i])
			}
		}
	}
}

// TestChunkGather gathers rows of every gatherable type, and of a type it
// leaves to takeRows, from several chunks, nulls included.
func TestChunkGather(t *testing.T) {
	mem, ctx := newMem(t)
	rng := rand.New(rand.NewSource(5))
	schema, cols := sortKeysInput(t, 500, rng)
	batches := buildSortBatches(t, schema, cols, 100, 101, 333)
	g := gatherOf(t, mem, schema, batches)
	rows := []uint32{499, 0, 100, 100, 332, 333, 17, 250}
	b, err := g.batch(ctx, mem, rows)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	for k, r := range rows {
		for c := range cols {
			var got any
			if bin, ok := b.Column(c).(*array.Binary); ok {
				if bin.IsValid(k) {
					got = string(bin.Value(k))
				}
			} else {
				got = goValue(b.Column(c), k)
			}
			want := cols[c][r]
			if !sameValue(got, want) && !(want != nil && fmt.Sprint(got) == fmt.Sprint(want)) {
				t.Fatalf("column %d row %d (input %d): %v, want %v", c, k, r, got, want)
			}
		}
	}
}

// BenchmarkGatherStrings gathers 2Mi strings from 32 batches in random
// order, as a sort by a string key does.
func BenchmarkGatherStrings(b *testing.B) {
	mem := memory.NewGoAllocator()
	const rows = 1 << 21
	var batches []arrow.RecordBatch
	schema := schemaOf(utf8)
	for off := 0; off < rows; off += BatchRows {
		bld := array.NewStringBuilder(mem)
		for i := off; i < off+BatchRows; i++ {
			bld.Append(fmt.Sprintf("user-%d", i*7919%rows))
		}
		a := bld.NewArray()
		batches = append(batches, array.NewRecordBatch(schema, []arrow.Array{a}, int64(a.Len())))
		a.Release()
	}
	tbl := array.NewTableFromRecords(schema, batches)
	g, err := newChunkGather(mem, tbl)
	if err != nil {
		b.Fatal(err)
	}
	order := rand.New(rand.NewSource(1)).Perm(rows)
	rows32 := make([]uint32, rows)
	for i, r := range order {
		rows32[i] = uint32(r)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for s := 0; s < rows; s += BatchRows {
			out, err := g.batch(context.Background(), mem, rows32[s:s+BatchRows])
			if err != nil {
				b.Fatal(err)
			}
			out.Release()
		}
	}
}

// BenchmarkSortStringKeys sorts 8Mi rows by a string of ~10^6 values
// sharing a prefix, then an int64: the order of a sort by a high-cardinality
// string key.
func BenchmarkSortStringKeys(b *testing.B) {
	mem := memory.NewGoAllocator()
	const rows = 1 << 23
	rng := rand.New(rand.NewSource(1))
	schema := schemaOf(utf8, arrow.PrimitiveTypes.Int64)
	var batches []arrow.RecordBatch
	for off := 0; off < rows; off += BatchRows {
		sb := array.NewStringBuilder(mem)
		ib := array.NewInt64Builder(mem)
		for i := off; i < off+BatchRows; i++ {
			sb.Append(fmt.Sprintf("user-%d", rng.Intn(rows/8)))
			ib.Append(int64(i))
		}
		s, id := sb.NewArray(), ib.NewArray()
		batches = append(batches, array.NewRecordBatch(schema, []arrow.Array{s, id}, int64(s.Len())))
		s.Release()
		id.Release()
	}
	tbl := array.NewTableFromRecords(schema, batches)
	cols := []*sortCol{
		{key: SortKey{Column: 0}, kind: colVarBytes, chunks: tbl.Column(0).Data().Chunks()},
		{key: SortKey{Column: 1}, kind: colOrdered, chunks: tbl.Column(1).Data().Chunks()},
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		keys := encodeKeys(cols, rows, sortWorkers())
		if _, err := sortedRows(context.Background(), keys, rows, sortWorkers()); err != nil {
			b.Fatal(err)
		}
	}
}

// TestGatherStringsOfEveryLength: values of 0 to 40 bytes, the last ones
// ending their chunk's bytes (so a 16-byte load would run past them), from
// a sliced chunk and a whole one, gathered in a shuffled order.
func TestGatherStringsOfEveryLength(t *testing.T) {
	mem, ctx := newMem(t)
	schema := schemaOf(utf8)
	var want []string
	var batches []arrow.RecordBatch
	for c := range 2 {
		bld := array.NewStringBuilder(mem)
		for n := 40; n >= 0; n-- {
			bld.Append(strings.Repeat(string(rune('a'+c)), n) + fmt.Sprint(n%10))
		}
		for n := 16; n >= 0; n-- {
			bld.Append(strings.Repeat("z", n))
		}
		a := bld.NewArray()
		bld.Release()
		if c == 0 { // its bytes end where its last value does, as a file's may
			str := a.(*array.String)
			vals := []byte(string(str.ValueBytes()))
			offs := arrow.Int32Traits.CastToBytes(append([]int32(nil), str.ValueOffsets()...))
			data := array.NewData(arrow.BinaryTypes.String, a.Len(),
				[]*memory.Buffer{nil, memory.NewBufferBytes(offs), memory.NewBufferBytes(vals[:len(vals):len(vals)])}, nil, 0, 0)
			a.Release()
			a = array.MakeFromData(data)
			data.Release()
		}
		if c == 1 { // a slice: its offsets do not start at zero
			s := array.NewSlice(a, 3, int64(a.Len()))
			a.Release()
			a = s
		}
		for i := range a.Len() {
			want = append(want, a.(*array.String).Value(i))
		}
		batches = append(batches, array.NewRecordBatch(schema, []arrow.Array{a}, int64(a.Len())))
		a.Release()
	}
	g := gatherOf(t, mem, schema, batches)
	rows := make([]uint32, len(want))
	for i, r := range rand.New(rand.NewSource(3)).Perm(len(want)) {
		rows[i] = uint32(r)
	}
	b, err := g.batch(ctx, mem, rows)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	got := b.Column(0).(*array.String)
	for k, r := range rows {
		if got.Value(k) != want[r] {
			t.Fatalf("row %d (input %d): %q, want %q", k, r, got.Value(k), want[r])
		}
	}
}

// gatherOf is a gather over batches (released here) as one table, which
// lives as long as the test.
func gatherOf(t *testing.T, mem memory.Allocator, schema *arrow.Schema, batches []arrow.RecordBatch) *chunkGather {
	t.Helper()
	tbl := array.NewTableFromRecords(schema, batches)
	ReleaseAll(batches)
	t.Cleanup(tbl.Release)
	g, err := newChunkGather(mem, tbl)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.release)
	return g
}
