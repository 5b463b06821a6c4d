package pqread

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"slipstream/internal/parquettest"
)

// table makes rows rows of every type the reader handles, nullable (about
// one null in five) and not, with repeats so dictionaries form.
func table(mem memory.Allocator, rows int, seed uint64) arrow.RecordBatch {
	r := rand.New(rand.NewPCG(seed, 7))
	fields := []arrow.Field{
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "i64", Type: arrow.PrimitiveTypes.Int64},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "ts_us", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "ts_ns", Type: &arrow.TimestampType{Unit: arrow.Nanosecond}, Nullable: true},
		{Name: "dec9", Type: &arrow.Decimal128Type{Precision: 9, Scale: 2}, Nullable: true},
		{Name: "dec18", Type: &arrow.Decimal128Type{Precision: 18, Scale: 4}},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "flag", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "none", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		// nulls in stretches: pages and batches without a null, then some
		// with
		{Name: "stretches", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}
	b := array.NewRecordBuilder(mem, arrow.NewSchema(fields, nil))
	defer b.Release()
	words := []string{"", "a", "ß", "日本語", "TRUCK", "a somewhat longer value, past any inline limit"}
	for i := 0; i < rows; i++ {
		null := func() bool { return r.IntN(5) == 0 }
		small := r.IntN(50) // few distinct values: dictionary pages
		if null() {
			b.Field(0).AppendNull()
		} else {
			b.Field(0).(*array.Int32Builder).Append(int32(small) - 25)
		}
		b.Field(1).(*array.Int64Builder).Append(r.Int64() >> r.IntN(64))
		if null() {
			b.Field(2).AppendNull()
		} else {
			b.Field(2).(*array.Float32Builder).Append(float32(r.NormFloat64()))
		}
		if null() {
			b.Field(3).AppendNull()
		} else {
			b.Field(3).(*array.Float64Builder).Append(float64(small) / 3)
		}
		if null() {
			b.Field(4).AppendNull()
		} else {
			b.Field(4).(*array.Date32Builder).Append(arrow.Date32(8000 + r.IntN(3000)))
		}
		if null() {
			b.Field(5).AppendNull()
		} else {
			b.Field(5).(*array.TimestampBuilder).Append(arrow.Timestamp(r.Int64N(1 << 50)))
		}
		if null() {
			b.Field(6).AppendNull()
		} else {
			b.Field(6).(*array.TimestampBuilder).Append(arrow.Timestamp(-r.Int64N(1 << 60)))
		}
		if null() {
			b.Field(7).AppendNull()
		} else {
			b.Field(7).(*array.Decimal128Builder).Append(decimal128.FromI64(r.Int64N(2e9) - 1e9))
		}
		b.Field(8).(*array.Decimal128Builder).Append(decimal128.FromI64(r.Int64N(2e17) - 1e17))
		if null() {
			b.Field(9).AppendNull()
		} else {
			b.Field(9).(*array.StringBuilder).Append(fmt.Sprintf("%s-%d", words[r.IntN(len(words))], r.IntN(rows)))
		}
		if null() {
			b.Field(10).AppendNull()
		} else {
			b.Field(10).(*array.StringBuilder).Append(words[small%len(words)])
		}
		if null() {
			b.Field(11).AppendNull()
		} else {
			b.Field(11).(*array.BinaryBuilder).Append([]byte{byte(small), 0, byte(r.IntN(256))}[:r.IntN(4)])
		}
		b.Field(12).AppendNull()
		if i%400 >= 300 && r.IntN(4) == 0 {
			b.Field(13).AppendNull()
		} else {
			b.Field(13).(*array.Float64Builder).Append(r.NormFloat64())
		}
	}
	return b.NewRecordBatch()
}

type layout struct {
	name  string
	props []parquet.WriterProperty
}

var layouts = []layout{
	{"dictionary", nil},
	{"plain", []parquet.WriterProperty{parquet.WithDictionaryDefault(false)}},
	// a dictionary that fills up: later pages of a chunk are PLAIN
	{"dictionary overflow", []parquet.WriterProperty{parquet.WithDictionaryPageSizeLimit(300), parquet.WithDataPageSize(512)}},
	{"v2 pages, snappy", []parquet.WriterProperty{parquet.WithDataPageVersion(parquet.DataPageV2), parquet.WithCompression(compress.Codecs.Snappy), parquet.WithDataPageSize(2048)}},
	{"v1 pages, zstd, small pages", []parquet.WriterProperty{parquet.WithCompression(compress.Codecs.Zstd), parquet.WithDataPageSize(700)}},
	{"v2 pages, uncompressed, plain", []parquet.WriterProperty{parquet.WithDataPageVersion(parquet.DataPageV2), parquet.WithDictionaryDefault(false), parquet.WithDataPageSize(1000)}},
}

func write(t *testing.T, rec arrow.RecordBatch, groupRows int64, props []parquet.WriterProperty) []byte {
	t.Helper()
	var buf bytes.Buffer
	// decimals of up to 18 digits as INT32 / INT64, as most writers store them
	props = append([]parquet.WriterProperty{parquet.WithMaxRowGroupLength(groupRows), parquet.WithStoreDecimalAsInteger(true)}, props...)
	parquettest.WriteTo(t, &buf, rec, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()), props...)
	return buf.Bytes()
}

// readAll reads every batch of rr as one array per column.
func readAll(t *testing.T, mem memory.Allocator, rr array.RecordReader) []arrow.Array {
	t.Helper()
	var chunks [][]arrow.Array
	for rr.Next() {
		b := rr.RecordBatch()
		for i, c := range b.Columns() {
			if len(chunks) <= i {
				chunks = append(chunks, nil)
			}
			c.Retain()
			chunks[i] = append(chunks[i], c)
		}
	}
	if rr.Err() != nil {
		t.Fatal(rr.Err())
	}
	out := make([]arrow.Array, len(chunks))
	for i, cs := range chunks {
		var err error
		if out[i], err = array.Concatenate(cs, mem); err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			c.Release()
		}
	}
	return out
}

// TestSameAsPqarrow reads files of every layout with this package and with
// pqarrow, whole and in part, and compares every value and null.
func TestSameAsPqarrow(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := table(memory.NewGoAllocator(), 5000, 1)
	defer rec.Release()
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			data := write(t, rec, 1800, l.props)
			pf, err := file.NewParquetReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			defer pf.Close()
			props := pqarrow.ArrowReadProperties{BatchSize: 333}
			props.SetReadDict(10, true) // flag: as a dictionary array
			sc, err := pqarrow.FromParquet(pf.MetaData().Schema, &props, pf.MetaData().KeyValueMetadata())
			if err != nil {
				t.Fatal(err)
			}
			for _, cols := range [][]int{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {9, 7}, {10}} {
				for _, groups := range [][]int{{0, 1, 2}, {1}, {0, 2}} {
					fields := make([]arrow.Field, len(cols))
					for i, c := range cols {
						fields[i] = sc.Field(c)
					}
					r, ok := Open(pf, arrow.NewSchema(fields, nil), cols, groups, mem, 333)
					if !ok {
						t.Fatalf("columns %v: not read", cols)
					}
					got := readAll(t, mem, r)
					r.Release()
					fr, err := pqarrow.NewFileReader(pf, props, memory.NewGoAllocator())
					if err != nil {
						t.Fatal(err)
					}
					rr, err := fr.GetRecordReader(context.Background(), cols, groups)
					if err != nil {
						t.Fatal(err)
					}
					want := readAll(t, memory.NewGoAllocator(), rr)
					rr.Release()
					for i := range cols {
						if !array.Equal(got[i], want[i]) {
							t.Errorf("columns %v, row groups %v: %s differs:\n got %v\nwant %v", cols, groups, fields[i].Name, got[i], want[i])
						}
						got[i].Release()
					}
				}
			}
		})
	}
}

// TestOtherLayoutsAreLeftToPqarrow: columns this package does not read
// make Open say so, rather than read them wrong.
func TestOtherLayoutsAreLeftToPqarrow(t *testing.T) {
	mem := memory.NewGoAllocator()
	fields := []arrow.Field{
		{Name: "wide", Type: &arrow.Decimal128Type{Precision: 30, Scale: 2}, Nullable: true},
		{Name: "large", Type: arrow.BinaryTypes.LargeString, Nullable: true},
		{Name: "list", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32), Nullable: true},
		{Name: "ok", Type: arrow.PrimitiveTypes.Int32},
	}
	b := array.NewRecordBuilder(mem, arrow.NewSchema(fields, nil))
	defer b.Release()
	b.Field(0).(*array.Decimal128Builder).Append(decimal128.FromI64(1))
	b.Field(1).(*array.LargeStringBuilder).Append("x")
	lb := b.Field(2).(*array.ListBuilder)
	lb.Append(true)
	lb.ValueBuilder().(*array.Int32Builder).Append(3)
	b.Field(3).(*array.Int32Builder).Append(4)
	rec := b.NewRecordBatch()
	defer rec.Release()
	pf, err := file.NewParquetReader(bytes.NewReader(write(t, rec, 10, []parquet.WriterProperty{parquet.WithStoreDecimalAsInteger(false)})))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	sc, err := pqarrow.FromParquet(pf.MetaData().Schema, &pqarrow.ArrowReadProperties{}, pf.MetaData().KeyValueMetadata())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []int{0, 1} {
		if _, ok := Open(pf, arrow.NewSchema([]arrow.Field{sc.Field(c)}, nil), []int{c}, []int{0}, mem, 10); ok {
			t.Errorf("%s: read, though this package does not read it", sc.Field(c).Name)
		}
	}
	if _, ok := Open(pf, arrow.NewSchema([]arrow.Field{sc.Field(2)}, nil), []int{2}, []int{0}, mem, 10); ok {
		t.Error("a list column: read, though this package does not read it")
	}
}

// TestHybridRuns decodes hand-made runs: an RLE run, a bit-packed run cut
// short of its padding, and a zero-width run.
func TestHybridRuns(t *testing.T) {
	// RLE: 5 x 7 (width 3: one byte); bit-packed: one group of 8 values of
	// width 3 (0..7 = 0b_111_110_101_100_011_010_001_000 in 3 bytes)
	data := []byte{5 << 1, 7, 1<<1 | 1, 0b10001000, 0b11000110, 0b11111010}
	var h hybrid
	h.reset(data, 3)
	out := make([]uint32, 24)
	if err := h.decode(out[:13]); err != nil {
		t.Fatal(err)
	}
	want := []uint32{7, 7, 7, 7, 7, 0, 1, 2, 3, 4, 5, 6, 7}
	if fmt.Sprint(out[:13]) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", out[:13], want)
	}
	if err := h.decode(out[:1]); err == nil {
		t.Error("reading past the end: no error")
	}
	// gather: some values of the same runs, counted from a base of 100
	h.reset(data, 3)
	picked := make([]uint32, 5)
	if err := h.gather(13, []int64{100, 104, 105, 109, 112}, 100, picked); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(picked) != fmt.Sprint([]uint32{7, 7, 0, 4, 7}) {
		t.Errorf("gather: got %v, want [7 7 0 4 7]", picked)
	}
	if err := h.gather(1, []int64{0}, 0, picked); err == nil {
		t.Error("gathering past the end: no error")
	}
	h.reset([]byte{3<<1 | 1}, 0)
	if err := h.decode(out[:24]); err != nil || out[0] != 0 || out[23] != 0 {
		t.Errorf("width 0: %v %v", out[:24], err)
	}
}

// TestLateColumns reads some columns eagerly and the rest late, for rows
// chosen batch by batch (none, all, sparse, dense, the last), and skips
// some batches' late columns altogether; each value must be the one
// pqarrow reads at that row.
func TestLateColumns(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := table(memory.NewGoAllocator(), 5000, 2)
	defer rec.Release()
	ctx := context.Background()
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			pf, err := file.NewParquetReader(bytes.NewReader(write(t, rec, 1800, l.props)))
			if err != nil {
				t.Fatal(err)
			}
			defer pf.Close()
			props := pqarrow.ArrowReadProperties{BatchSize: 333}
			props.SetReadDict(10, true)
			sc, err := pqarrow.FromParquet(pf.MetaData().Schema, &props, pf.MetaData().KeyValueMetadata())
			if err != nil {
				t.Fatal(err)
			}
			fr, err := pqarrow.NewFileReader(pf, props, memory.NewGoAllocator())
			if err != nil {
				t.Fatal(err)
			}
			cols := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}
			groups := []int{0, 2}
			rr, err := fr.GetRecordReader(ctx, cols, groups)
			if err != nil {
				t.Fatal(err)
			}
			want := readAll(t, memory.NewGoAllocator(), rr)
			rr.Release()

			r, ok := Open(pf, sc, cols, groups, mem, 333)
			if !ok {
				t.Fatal("not read")
			}
			defer r.Release()
			late := []int{1, 2, 3, 5, 7, 8, 9, 10, 11, 12, 13}
			r.SetLate(late)
			rnd := rand.New(rand.NewPCG(3, 4))
			start := 0
			for batch := 0; r.Next(); batch++ {
				b := r.RecordBatch()
				n := int(b.NumRows())
				for _, c := range []int{0, 4, 6} {
					if w := array.NewSlice(want[c], int64(start), int64(start+n)); !array.Equal(b.Column(c), w) {
						t.Errorf("batch %d, eager %s differs", batch, sc.Field(c).Name)
						w.Release()
					} else {
						w.Release()
					}
				}
				var sel []int64
				switch batch % 6 {
				case 0: // not filled: the next Next skips these rows
					start += n
					continue
				case 1:
					sel = nil
				case 2:
					sel = []int64{}
				case 3:
					sel = []int64{int64(n - 1)}
				case 4:
					for i := range n {
						if rnd.IntN(10) < 8 {
							sel = append(sel, int64(i))
						}
					}
				case 5:
					for i := 0; i < n; i += 1 + rnd.IntN(40) {
						sel = append(sel, int64(i))
					}
				}
				// the first late columns at sel, the others at every other row of sel
				var sel2 []int64
				if sel != nil {
					sel2 = []int64{}
					for i := 0; i < len(sel); i += 2 {
						sel2 = append(sel2, sel[i])
					}
				}
				for part, cols := range [][]int{late[:4], late[4:]} {
					at := sel
					if part == 1 {
						at = sel2
					}
					got, err := r.Fill(cols, at)
					if err != nil {
						t.Fatal(err)
					}
					if _, err := r.Fill(cols[:1], at); err == nil {
						t.Error("a second Fill of one column of one batch: no error")
					}
					for k, c := range cols {
						w := array.NewSlice(want[c], int64(start), int64(start+n))
						if at != nil {
							idx := array.NewInt64Data(array.NewData(arrow.PrimitiveTypes.Int64, len(at), []*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int64Traits.CastToBytes(at))}, nil, 0, 0))
							taken, err := compute.TakeArray(ctx, w, idx)
							idx.Release()
							if err != nil {
								t.Fatal(err)
							}
							w.Release()
							w = taken
						}
						if !sameValues(got[k], w) {
							t.Errorf("batch %d (selection %d), late %s differs:\n got %v\nwant %v", batch, batch%6, sc.Field(c).Name, got[k], w)
						}
						w.Release()
						got[k].Release()
					}
				}
				start += n
			}
			if r.Err() != nil {
				t.Fatal(r.Err())
			}
			if start != int(want[0].Len()) {
				t.Errorf("read %d rows, want %d", start, want[0].Len())
			}
			for _, w := range want {
				w.Release()
			}
		})
	}
}

// sameValues compares a and b row by row; dictionary arrays by the values
// their rows stand for, whatever the order of their dictionaries.
func sameValues(a, b arrow.Array) bool {
	if _, ok := a.(*array.Dictionary); !ok {
		return array.Equal(a, b)
	}
	if a.Len() != b.Len() {
		return false
	}
	for i := range a.Len() {
		if a.IsNull(i) != b.IsNull(i) || a.ValueStr(i) != b.ValueStr(i) {
			return false
		}
	}
	return true
}

// TestPlainValuesStayInTheirBatch: a string column read as its chunk's
// dictionary whose later pages are PLAIN (the writer's dictionary filled
// up) gives each batch a dictionary of the page's values and its own PLAIN
// values, not those of every batch before it in the chunk (which a
// group-by reading the dictionary would encode again, batch after batch).
func TestPlainValuesStayInTheirBatch(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	const rows, batch = 20000, 500
	b := array.NewStringBuilder(memory.NewGoAllocator())
	for i := range rows {
		if i%13 == 5 {
			b.AppendNull()
			continue
		}
		b.Append(fmt.Sprintf("user-%07d", i*7919%rows)) // all distinct
	}
	values := b.NewArray()
	b.Release()
	defer values.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	rec := array.NewRecordBatch(schema, []arrow.Array{values}, rows)
	defer rec.Release()
	data := write(t, rec, rows, []parquet.WriterProperty{parquet.WithDictionaryPageSizeLimit(4096), parquet.WithDataPageSize(2048)})
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	dictType := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	r, ok := Open(pf, arrow.NewSchema([]arrow.Field{{Name: "s", Type: dictType, Nullable: true}}, nil), []int{0}, []int{0}, mem, batch)
	if !ok {
		t.Fatal("not read")
	}
	defer r.Release()
	row, page, largest, own := 0, 0, 0, 0
	for r.Next() {
		col := r.RecordBatch().Column(0).(*array.Dictionary)
		if row == 0 {
			page = col.Dictionary().Len() // the first batch's rows are all on dictionary pages
		}
		largest = max(largest, col.Dictionary().Len())
		if col.Dictionary().Len() <= col.Len() {
			own++
		}
		strs := col.Dictionary().(*array.String)
		for i := range col.Len() {
			if col.IsNull(i) != values.IsNull(row) {
				t.Fatalf("row %d: null %v, want %v", row, col.IsNull(i), values.IsNull(row))
			}
			if col.IsNull(i) {
				row++
				continue
			}
			if got, want := strs.Value(col.GetValueIndex(i)), values.(*array.String).Value(row); got != want {
				t.Fatalf("row %d: %q, want %q", row, got, want)
			}
			row++
		}
	}
	if r.Err() != nil {
		t.Fatal(r.Err())
	}
	if row != rows {
		t.Fatalf("read %d rows, want %d", row, rows)
	}
	// a batch adds at most its rows to the dictionary page's values
	if largest > page+batch {
		t.Errorf("a batch's dictionary has %d values (the page's: %d): earlier batches' PLAIN values were kept", largest, page)
	}
	// a batch all on PLAIN pages has a dictionary of its own values only
	if own == 0 {
		t.Errorf("every batch's dictionary holds the page's %d values, even where no row is one of them", page)
	}
}
