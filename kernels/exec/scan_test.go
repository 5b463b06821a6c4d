package exec

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	"github.com/apache/arrow-go/v18/parquet/file"

	"slipstream/internal/parquettest"
	"slipstream/kernels"
	"slipstream/kernels/expr"
	"slipstream/kernels/fsroot"
)

// The Parquet test file: 100 rows in 4 row groups of 25, every column
// sorted by row so that row groups have disjoint ranges.
const (
	pqRows     = 100
	pqGroupLen = 25
)

var pqSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: i64, Nullable: true},                                            // i
	{Name: "f", Type: f64, Nullable: true},                                             // i/2, null when i%10 == 3
	{Name: "s", Type: utf8, Nullable: true},                                            // "k%02d", null when i%7 == 6
	{Name: "d", Type: d32, Nullable: true},                                             // 19000+i
	{Name: "u", Type: u32, Nullable: true},                                             // 3e9+i
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Second}, Nullable: true},       // 1.6e9+i seconds
	{Name: "sparse", Type: i64, Nullable: true},                                        // i, null in row group 2
	{Name: "big", Type: lstr, Nullable: true},                                          // "v%02d"
	{Name: "dec", Type: dec(9, 2), Nullable: true},                                     // i*1.25
	{Name: "i32", Type: i32, Nullable: true},                                           // i-50
	{Name: "tms", Type: &arrow.TimestampType{Unit: arrow.Millisecond}, Nullable: true}, // (1.6e9+i)*1000 ms
}, nil)

func pqNull(col string, i int) bool {
	switch col {
	case "f":
		return i%10 == 3
	case "s":
		return i%7 == 6
	case "sparse":
		return i >= 50 && i < 75
	}
	return false
}

func pqColumns() [][]any {
	cols := make([][]any, pqSchema.NumFields())
	for c := range cols {
		cols[c] = make([]any, pqRows)
	}
	for i := 0; i < pqRows; i++ {
		vals := []any{int64(i), float64(i) / 2, fmt.Sprintf("k%02d", i), int64(19000 + i), uint64(3_000_000_000 + i),
			int64(1_600_000_000 + i), int64(i), fmt.Sprintf("v%02d", i), decimal128.FromI64(int64(i) * 125).ToString(2), int64(i - 50),
			int64(1_600_000_000+i) * 1000}
		for c, v := range vals {
			if !pqNull(pqSchema.Field(c).Name, i) {
				cols[c][i] = v
			}
		}
	}
	return cols
}

// parquetFile writes the test file and returns its path and schema as
// FileSchema reads it.
func parquetFile(t *testing.T, mem memory.Allocator, dir, name string) (string, *arrow.Schema) {
	t.Helper()
	path := filepath.Join(dir, name)
	rec := buildBatch(t, mem, pqSchema, pqColumns()...)
	parquettest.Write(t, mem, path, rec, pqGroupLen)
	rec.Release()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if pf.NumRowGroups() != pqRows/pqGroupLen {
		t.Fatalf("wrote %d row groups, want %d", pf.NumRowGroups(), pqRows/pqGroupLen)
	}
	pf.Close()
	schema, err := FileSchema(mem, nil, Parquet, path, CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return path, schema
}

func fieldIndex(s *arrow.Schema, name string) int {
	idx := s.FieldIndices(name)
	if len(idx) != 1 {
		panic(name)
	}
	return idx[0]
}

func TestParquetFileSchema(t *testing.T) {
	mem, _ := newMem(t)
	_, schema := parquetFile(t, mem, t.TempDir(), "t.parquet")
	if schema.NumFields() != pqSchema.NumFields() {
		t.Fatalf("schema %s", schema)
	}
	for i, f := range pqSchema.Fields() {
		if f.Name == "ts" {
			// Parquet has no seconds: they are stored, and read, as milliseconds.
			f.Type = &arrow.TimestampType{Unit: arrow.Millisecond}
		}
		if got := schema.Field(i); got.Name != f.Name || !arrow.TypeEqual(got.Type, f.Type) {
			t.Errorf("field %d is %s: %s, want %s: %s", i, got.Name, got.Type, f.Name, f.Type)
		}
	}
}

func TestParquetRowGroupSkipping(t *testing.T) {
	type bound struct {
		col string
		op  string
		v   scalar.Scalar
	}
	ts := func(v int64, unit arrow.TimeUnit) scalar.Scalar {
		return scalar.NewTimestampScalar(arrow.Timestamp(v), &arrow.TimestampType{Unit: unit})
	}
	cases := []struct {
		name    string
		bounds  []bound
		skipped int
		keep    func(i int) bool // the rows the bounds select
	}{
		{"id eq 30", []bound{{"id", "eq", scalar.NewInt64Scalar(30)}}, 3, func(i int) bool { return i == 30 }},
		{"id eq 200", []bound{{"id", "eq", scalar.NewInt64Scalar(200)}}, 4, func(i int) bool { return false }},
		{"id eq -1", []bound{{"id", "eq", scalar.NewInt64Scalar(-1)}}, 4, func(i int) bool { return false }},
		{"id lt 25", []bound{{"id", "lt", scalar.NewInt64Scalar(25)}}, 3, func(i int) bool { return i < 25 }},
		{"id lt 26", []bound{{"id", "lt", scalar.NewInt64Scalar(26)}}, 2, func(i int) bool { return i < 26 }},
		{"id lt 0", []bound{{"id", "lt", scalar.NewInt64Scalar(0)}}, 4, func(i int) bool { return false }},
		{"id le 24", []bound{{"id", "le", scalar.NewInt64Scalar(24)}}, 3, func(i int) bool { return i <= 24 }},
		{"id le 25", []bound{{"id", "le", scalar.NewInt64Scalar(25)}}, 2, func(i int) bool { return i <= 25 }},
		{"id gt 74", []bound{{"id", "gt", scalar.NewInt64Scalar(74)}}, 3, func(i int) bool { return i > 74 }},
		{"id gt 73", []bound{{"id", "gt", scalar.NewInt64Scalar(73)}}, 2, func(i int) bool { return i > 73 }},
		{"id gt 99", []bound{{"id", "gt", scalar.NewInt64Scalar(99)}}, 4, func(i int) bool { return false }},
		{"id ge 75", []bound{{"id", "ge", scalar.NewInt64Scalar(75)}}, 3, func(i int) bool { return i >= 75 }},
		{"id ge 99", []bound{{"id", "ge", scalar.NewInt64Scalar(99)}}, 3, func(i int) bool { return i >= 99 }},
		{"id ge 0", []bound{{"id", "ge", scalar.NewInt64Scalar(0)}}, 0, func(i int) bool { return true }},
		{"id eq int32 30", []bound{{"id", "eq", scalar.NewInt32Scalar(30)}}, 3, func(i int) bool { return i == 30 }},
		{"id eq float 30 keeps all", []bound{{"id", "eq", scalar.NewFloat64Scalar(30)}}, 0, func(i int) bool { return i == 30 }},
		{"id ge 25 and lt 50", []bound{{"id", "ge", scalar.NewInt64Scalar(25)}, {"id", "lt", scalar.NewInt64Scalar(50)}}, 3, func(i int) bool { return i >= 25 && i < 50 }},
		{"id ge 25 and d lt 19060", []bound{{"id", "ge", scalar.NewInt64Scalar(25)}, {"d", "lt", scalar.NewDate32Scalar(19060)}}, 2,
			func(i int) bool { return i >= 25 && i < 60 }},
		{"i32 lt -40", []bound{{"i32", "lt", scalar.NewInt64Scalar(-40)}}, 3, func(i int) bool { return i-50 < -40 }},
		{"i32 gt int8 10", []bound{{"i32", "gt", scalar.NewInt8Scalar(10)}}, 2, func(i int) bool { return i-50 > 10 }},
		{"f lt 12.5", []bound{{"f", "lt", scalar.NewFloat64Scalar(12.5)}}, 3, func(i int) bool { return !pqNull("f", i) && float64(i)/2 < 12.5 }},
		// NaN is above every number and Parquet's statistics leave it out:
		// a float x >= v cannot skip a group on its maximum.
		{"f ge 49 keeps all", []bound{{"f", "ge", scalar.NewFloat64Scalar(49)}}, 0, func(i int) bool { return !pqNull("f", i) && float64(i)/2 >= 49 }},
		{"f le 12", []bound{{"f", "le", scalar.NewFloat64Scalar(12)}}, 3, func(i int) bool { return !pqNull("f", i) && float64(i)/2 <= 12 }},
		{"f eq 20", []bound{{"f", "eq", scalar.NewFloat64Scalar(20)}}, 3, func(i int) bool { return !pqNull("f", i) && float64(i)/2 == 20 }},
		{"f eq NaN keeps all", []bound{{"f", "eq", scalar.NewFloat64Scalar(nan())}}, 0, func(i int) bool { return false }},
		{"s eq k30", []bound{{"s", "eq", scalar.NewStringScalar("k30")}}, 3, func(i int) bool { return i == 30 }},
		{"s gt k74", []bound{{"s", "gt", scalar.NewStringScalar("k74")}}, 3, func(i int) bool { return !pqNull("s", i) && i > 74 }},
		{"s le k25", []bound{{"s", "le", scalar.NewStringScalar("k25")}}, 2, func(i int) bool { return !pqNull("s", i) && i <= 25 }},
		{"s lt large k25", []bound{{"s", "lt", scalar.NewLargeStringScalar("k25")}}, 3, func(i int) bool { return !pqNull("s", i) && i < 25 }},
		{"s eq zzz", []bound{{"s", "eq", scalar.NewStringScalar("zzz")}}, 4, func(i int) bool { return false }},
		{"big ge v50", []bound{{"big", "ge", scalar.NewLargeStringScalar("v50")}}, 2, func(i int) bool { return i >= 50 }},
		{"d eq 19030", []bound{{"d", "eq", scalar.NewDate32Scalar(19030)}}, 3, func(i int) bool { return i == 30 }},
		{"d lt 19025", []bound{{"d", "lt", scalar.NewDate32Scalar(19025)}}, 3, func(i int) bool { return i < 25 }},
		{"d ge 19075", []bound{{"d", "ge", scalar.NewDate32Scalar(19075)}}, 3, func(i int) bool { return i >= 75 }},
		{"sparse ge 0 skips the all-null group", []bound{{"sparse", "ge", scalar.NewInt64Scalar(0)}}, 1, func(i int) bool { return !pqNull("sparse", i) }},
		{"sparse eq 60", []bound{{"sparse", "eq", scalar.NewInt64Scalar(60)}}, 4, func(i int) bool { return false }},
		{"null value keeps all", []bound{{"id", "eq", scalar.MakeNullScalar(i64)}}, 0, func(i int) bool { return false }},
		{"decimal keeps all", []bound{{"dec", "eq", scalar.NewDecimal128Scalar(decimal128.FromI64(125), dec(9, 2))}}, 0, func(i int) bool { return i == 1 }},
		// Unsigned values are stored as signed Parquet integers ordered
		// unsigned: 3e9 reads as a negative int32. Nothing may be skipped
		// on such a misreading.
		{"u gt int64 5", []bound{{"u", "gt", scalar.NewInt64Scalar(5)}}, 0, func(i int) bool { return true }},
		{"u lt int64 3000000010", []bound{{"u", "lt", scalar.NewInt64Scalar(3_000_000_010)}}, -1, func(i int) bool { return i < 10 }},
		// Timestamps: the bound's unit must be honoured. Parquet has no
		// seconds: ts is stored, and read back, in milliseconds.
		{"ts eq milliseconds", []bound{{"ts", "eq", ts(1_600_000_030_000, arrow.Millisecond)}}, 3, func(i int) bool { return i == 30 }},
		{"ts eq seconds", []bound{{"ts", "eq", ts(1_600_000_030, arrow.Second)}}, -1, func(i int) bool { return i == 30 }},
		{"ts lt seconds", []bound{{"ts", "lt", ts(1_600_000_025, arrow.Second)}}, -1, func(i int) bool { return i < 25 }},
		{"tms eq milliseconds", []bound{{"tms", "eq", ts(1_600_000_030_000, arrow.Millisecond)}}, 3, func(i int) bool { return i == 30 }},
		{"tms ge microseconds", []bound{{"tms", "ge", ts(1_600_000_075_000_000, arrow.Microsecond)}}, -1, func(i int) bool { return i >= 75 }},
		{"tms lt seconds", []bound{{"tms", "lt", ts(1_600_000_025, arrow.Second)}}, -1, func(i int) bool { return i < 25 }},
	}
	mem, ctx := newMem(t)
	path, schema := parquetFile(t, mem, t.TempDir(), "t.parquet")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var bounds []Bound
			for _, b := range tc.bounds {
				bounds = append(bounds, Bound{Column: fieldIndex(schema, b.col), Op: b.op, Value: b.v})
			}
			s := NewScan(mem, Parquet, []string{path}, schema, nil, bounds, CSVOptions{})
			rows, _ := drain(t, ctx, s)
			if s.RowGroupsRead+s.RowGroupsSkipped != 4 {
				t.Errorf("read %d and skipped %d row groups of 4", s.RowGroupsRead, s.RowGroupsSkipped)
			}
			if tc.skipped >= 0 && s.RowGroupsSkipped != tc.skipped {
				t.Errorf("skipped %d row groups, want %d", s.RowGroupsSkipped, tc.skipped)
			}
			if len(rows) != s.RowGroupsRead*pqGroupLen {
				t.Errorf("%d rows from %d row groups", len(rows), s.RowGroupsRead)
			}
			got := map[int64]bool{}
			for _, r := range rows {
				got[r[0].(int64)] = true
			}
			var lost []int
			for i := 0; i < pqRows; i++ {
				if tc.keep(i) && !got[int64(i)] {
					lost = append(lost, i)
				}
			}
			if len(lost) > 0 {
				t.Errorf("%d rows satisfy the bounds but were skipped, the first %d", len(lost), lost[0])
			}

			// With the filter above the scan, as the planner builds it, the
			// result is exactly the rows the bounds select.
			s = NewScan(mem, Parquet, []string{path}, schema, nil, bounds, CSVOptions{})
			var pred expr.Expr
			for _, b := range bounds {
				c := call(t, b.Op, colExpr(s.Schema(), b.Column), &expr.Literal{Value: b.Value})
				if pred == nil {
					pred = c
				} else {
					pred = call(t, "and", pred, c)
				}
			}
			ReadLate(s, false)
			f, err := NewFilter(s, pred)
			if err != nil {
				t.Fatal(err)
			}
			rows, _ = drain(t, ctx, f)
			var want []int64
			for i := 0; i < pqRows; i++ {
				if tc.keep(i) {
					want = append(want, int64(i))
				}
			}
			var ids []int64
			for _, r := range rows {
				ids = append(ids, r[0].(int64))
			}
			if fmt.Sprint(ids) != fmt.Sprint(want) {
				t.Errorf("filtered ids %v, want %v", ids, want)
			}
		})
	}
}

func nan() float64 {
	var z float64
	return z / z
}

func TestParquetScanValuesAndProjection(t *testing.T) {
	mem, ctx := newMem(t)
	dir := t.TempDir()
	path, schema := parquetFile(t, mem, dir, "a.parquet")
	full := pqColumns()

	for i, v := range full[fieldIndex(schema, "ts")] {
		full[fieldIndex(schema, "ts")][i] = v.(int64) * 1000 // read back in milliseconds
	}

	rows, _ := drain(t, ctx, NewScan(mem, Parquet, []string{path}, schema, nil, nil, CSVOptions{}))
	if len(rows) != pqRows {
		t.Fatalf("%d rows", len(rows))
	}
	for i, r := range rows {
		for c := range r {
			if !sameValue(r[c], full[c][i]) {
				t.Fatalf("row %d column %s = %v, want %v", i, schema.Field(c).Name, r[c], full[c][i])
			}
		}
	}

	// Columns in another order, a bound on a column not read.
	cols := []int{fieldIndex(schema, "d"), fieldIndex(schema, "s")}
	s := NewScan(mem, Parquet, []string{path}, schema, cols,
		[]Bound{{Column: fieldIndex(schema, "id"), Op: "ge", Value: scalar.NewInt64Scalar(90)}}, CSVOptions{})
	if got := s.Schema().String(); !strings.Contains(got, "d: type=date32") || s.Schema().NumFields() != 2 || s.Schema().Field(1).Name != "s" {
		t.Errorf("projected schema %s", got)
	}
	if got, want := s.String(), "Scan parquet files=1 columns=[d, s] row_group_filter=[id ge 90]"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	rows, _ = drain(t, ctx, s)
	if len(rows) != pqGroupLen || s.RowGroupsSkipped != 3 {
		t.Fatalf("%d rows, %d row groups skipped", len(rows), s.RowGroupsSkipped)
	}
	for j, r := range rows {
		i := 75 + j
		if !sameValue(r[0], full[3][i]) || !sameValue(r[1], full[2][i]) {
			t.Errorf("row %d = %v, want [%v %v]", i, r, full[3][i], full[2][i])
		}
	}

	// Several files: one skipped whole, the next still read.
	other := filepath.Join(dir, "b.parquet")
	rec := buildBatch(t, mem, pqSchema, pqColumns()...)
	parquettest.Write(t, mem, other, rec, 50)
	rec.Release()
	s = NewScan(mem, Parquet, []string{path, other, path}, schema, []int{0},
		[]Bound{{Column: 0, Op: "lt", Value: scalar.NewInt64Scalar(10)}}, CSVOptions{})
	rows, _ = drain(t, ctx, s)
	if len(rows) != 25+50+25 || s.RowGroupsRead != 3 || s.RowGroupsSkipped != 3+1+3 {
		t.Errorf("%d rows, %d row groups read, %d skipped", len(rows), s.RowGroupsRead, s.RowGroupsSkipped)
	}
}

func TestScanNoColumns(t *testing.T) {
	// len() over a file reads no column at all, but the rows still count.
	mem, ctx := newMem(t)
	dir := t.TempDir()
	pqPath, pqFileSchema := parquetFile(t, mem, dir, "t.parquet")
	ipcPath, ipcSchema := writeIPC(t, mem, dir, "t.arrow", false, 3)
	csvPath := filepath.Join(dir, "t.csv")
	if err := os.WriteFile(csvPath, []byte("a,b\n1,x\n2,y\n3,z\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	csvSchema := arrow.NewSchema([]arrow.Field{{Name: "a", Type: i64, Nullable: true}, {Name: "b", Type: utf8, Nullable: true}}, nil)
	for _, tc := range []struct {
		format Format
		path   string
		schema *arrow.Schema
		rows   int64
	}{
		{Parquet, pqPath, pqFileSchema, pqRows},
		{IPC, ipcPath, ipcSchema, 3 * 4},
		{CSV, csvPath, csvSchema, 3},
	} {
		t.Run(tc.format.String(), func(t *testing.T) {
			s := NewScan(mem, tc.format, []string{tc.path}, tc.schema, []int{}, nil, CSVOptions{})
			defer s.Close()
			bs, err := Collect(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			defer ReleaseAll(bs)
			var n int64
			for _, b := range bs {
				if b.NumCols() != 0 {
					t.Errorf("a batch with %d columns", b.NumCols())
				}
				n += b.NumRows()
			}
			if n != tc.rows {
				t.Errorf("%d rows, want %d", n, tc.rows)
			}
		})
	}
}

// writeIPC writes batches batches of 4 rows (c0 int64, c1 utf8 with a null,
// c2 string_view) as an IPC file or stream.
func writeIPC(t *testing.T, mem memory.Allocator, dir, name string, stream bool, batches int) (string, *arrow.Schema) {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "n", Type: i64, Nullable: true},
		{Name: "s", Type: utf8, Nullable: true},
		{Name: "v", Type: arrow.BinaryTypes.StringView, Nullable: true},
	}, nil)
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var w interface {
		Write(arrow.RecordBatch) error
		Close() error
	}
	if stream {
		w = ipc.NewWriter(f, ipc.WithSchema(schema), ipc.WithAllocator(mem))
	} else {
		fw, err := ipc.NewFileWriter(f, ipc.WithSchema(schema), ipc.WithAllocator(mem))
		if err != nil {
			t.Fatal(err)
		}
		w = fw
	}
	for b := 0; b < batches; b++ {
		var ns, ss, vs []any
		for i := 0; i < 4; i++ {
			n := int64(b*4 + i)
			ns = append(ns, n)
			if i == 2 {
				ss = append(ss, nil)
				vs = append(vs, nil)
			} else {
				ss = append(ss, fmt.Sprintf("s%d", n))
				vs = append(vs, fmt.Sprintf("a string view long enough not to be inlined #%d ✓", n))
			}
		}
		rec := buildBatch(t, mem, schema, ns, ss, vs)
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path, schema
}

func TestIPCScan(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(map[bool]string{false: "file", true: "stream"}[stream], func(t *testing.T) {
			mem, ctx := newMem(t)
			dir := t.TempDir()
			path, written := writeIPC(t, mem, dir, "t.arrow", stream, 3)
			schema, err := FileSchema(mem, nil, IPC, path, CSVOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !schema.Equal(written) {
				t.Errorf("FileSchema = %s, want %s", schema, written)
			}
			if schema.Field(2).Type.ID() != arrow.STRING_VIEW {
				t.Errorf("FileSchema should report the file's string_view, got %s", schema.Field(2).Type)
			}
			s := NewScan(mem, IPC, []string{path, path}, schema, nil, nil, CSVOptions{})
			if got := s.Schema().Field(2).Type; got.ID() != arrow.LARGE_STRING {
				t.Errorf("the scan's string_view column is %s, want large_utf8", got)
			}
			rows, n := drain(t, ctx, s)
			if len(rows) != 24 || n != 6 {
				t.Fatalf("%d rows in %d batches, want 24 in 6", len(rows), n)
			}
			for j, r := range rows {
				i := int64(j % 12)
				if r[0] != i {
					t.Fatalf("row %d: n = %v, want %d", j, r[0], i)
				}
				if i%4 == 2 {
					if r[1] != nil || r[2] != nil {
						t.Errorf("row %d: want nulls, got %v", j, r)
					}
					continue
				}
				if r[1] != fmt.Sprintf("s%d", i) || r[2] != fmt.Sprintf("a string view long enough not to be inlined #%d ✓", i) {
					t.Errorf("row %d = %v", j, r)
				}
			}

			// Only the string_view column.
			s = NewScan(mem, IPC, []string{path}, schema, []int{2}, nil, CSVOptions{})
			rows, _ = drain(t, ctx, s)
			if len(rows) != 12 || rows[1][0] != "a string view long enough not to be inlined #1 ✓" || rows[2][0] != nil {
				t.Errorf("projected rows %v", rows[:3])
			}
		})
	}
}

func TestIPCStringViewAggregates(t *testing.T) {
	// The normalized column works with the kernels that do not take views.
	mem, ctx := newMem(t)
	path, schema := writeIPC(t, mem, t.TempDir(), "t.arrow", false, 2)
	s := NewScan(mem, IPC, []string{path}, schema, nil, nil, CSVOptions{})
	sorted, err := NewSort(hashAgg(t, mem, s, []int{2}, []aggSpec{{"len", -1}, {"max", 0}}), []SortKey{{Column: 0, NullsLast: true}}, -1)
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := drain(t, ctx, sorted)
	if len(rows) != 7 || rows[6][0] != nil || rows[6][1] != int64(2) || rows[6][2] != int64(6) {
		t.Errorf("got %v", rows)
	}
}

func TestNormalizeSchema(t *testing.T) {
	md := arrow.NewMetadata([]string{"k"}, []string{"v"})
	s := arrow.NewSchema([]arrow.Field{{Name: "a", Type: i64}, {Name: "v", Type: arrow.BinaryTypes.StringView, Nullable: true}}, &md)
	n := NormalizeSchema(s)
	if n.Field(1).Type.ID() != arrow.LARGE_STRING || n.Field(1).Name != "v" || !n.Field(1).Nullable {
		t.Errorf("normalized field %s", n.Field(1))
	}
	if !arrow.TypeEqual(n.Field(0).Type, i64) || n.Field(0).Nullable {
		t.Errorf("untouched field changed: %s", n.Field(0))
	}
	if v, ok := n.Metadata().GetValue("k"); !ok || v != "v" {
		t.Errorf("metadata lost: %v", n.Metadata())
	}
	plain := schemaOf(i64, utf8)
	if NormalizeSchema(plain) != plain {
		t.Error("a schema without views should come back as it is")
	}
	if got := NormalizeType(arrow.BinaryTypes.StringView); got.ID() != arrow.LARGE_STRING {
		t.Errorf("NormalizeType(string_view) = %s", got)
	}
	if got := NormalizeType(utf8); got.ID() != arrow.STRING {
		t.Errorf("NormalizeType(utf8) = %s", got)
	}
}

func TestCSVScan(t *testing.T) {
	mem, ctx := newMem(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "t.csv")
	content := "id;name;score;flag\n1;alpha;1.5;true\n2;;;\n3;γάμμα;-2;false\n4;\"semi;colon\";0.25;true\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := CSVOptions{Delimiter: ';'}
	schema, err := FileSchema(mem, nil, CSV, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	wantTypes := []arrow.DataType{i64, utf8, f64, boo}
	for i, name := range []string{"id", "name", "score", "flag"} {
		if f := schema.Field(i); f.Name != name || !arrow.TypeEqual(f.Type, wantTypes[i]) {
			t.Errorf("field %d = %s, want %s: %s", i, f, name, wantTypes[i])
		}
	}
	rows, _ := drain(t, ctx, NewScan(mem, CSV, []string{path}, schema, nil, nil, opts))
	want := [][]any{
		{int64(1), "alpha", 1.5, true},
		{int64(2), nil, nil, nil},
		{int64(3), "γάμμα", -2.0, false},
		{int64(4), "semi;colon", 0.25, true},
	}
	if !sameRows(rows, want) {
		t.Errorf("got %v, want %v", rows, want)
	}
	s := NewScan(mem, CSV, []string{path, path}, schema, []int{2, 1}, nil, opts)
	if got := s.String(); got != "Scan csv files=2 columns=[score, name]" {
		t.Errorf("String() = %q", got)
	}
	rows, _ = drain(t, ctx, s)
	if len(rows) != 8 || !sameRows(rows[2:4], [][]any{{-2.0, "γάμμα"}, {0.25, "semi;colon"}}) {
		t.Errorf("projected rows %v", rows)
	}

	// The default comma splits nothing here: one column.
	one, err := FileSchema(mem, nil, CSV, path, CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if one.NumFields() != 1 {
		t.Errorf("with commas the file has %d columns, want 1", one.NumFields())
	}
}

func TestCSVNoHeaderAndErrors(t *testing.T) {
	mem, ctx := newMem(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "t.csv")
	if err := os.WriteFile(path, []byte("1|x\n2|\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := CSVOptions{NoHeader: true, Delimiter: '|'}
	schema := arrow.NewSchema([]arrow.Field{{Name: "a", Type: i32, Nullable: true}, {Name: "b", Type: lstr, Nullable: true}}, nil)
	rows, _ := drain(t, ctx, NewScan(mem, CSV, []string{path}, schema, nil, nil, opts))
	if !sameRows(rows, [][]any{{int64(1), "x"}, {int64(2), nil}}) {
		t.Errorf("got %v", rows)
	}
	inferred, err := FileSchema(mem, nil, CSV, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	if inferred.NumFields() != 2 || inferred.Field(0).Type.ID() != arrow.INT64 {
		t.Errorf("inferred %s", inferred)
	}

	// A value that does not parse: the error names the file.
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte("1|x\nnope|y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := NewScan(mem, CSV, []string{bad}, schema, nil, nil, opts)
	_, err = Collect(ctx, s)
	s.Close()
	if err == nil || !strings.Contains(err.Error(), "bad.csv") {
		t.Errorf("want an error naming bad.csv, got %v", err)
	}

	empty := filepath.Join(dir, "empty.csv")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := FileSchema(mem, nil, CSV, empty, CSVOptions{}); err == nil || kernels.KindOf(err) != kernels.Invalid {
		t.Errorf("schema of an empty CSV file: want an invalid-argument error, got %v", err)
	}
}

func TestScanMissingAndBadFiles(t *testing.T) {
	mem, ctx := newMem(t)
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope")
	garbage := filepath.Join(dir, "garbage")
	if err := os.WriteFile(garbage, []byte("this is not arrow, nor parquet"), 0o644); err != nil {
		t.Fatal(err)
	}
	schema := schemaOf(i64)
	for _, format := range []Format{Parquet, CSV, IPC} {
		t.Run(format.String(), func(t *testing.T) {
			s := NewScan(mem, format, []string{missing}, schema, nil, nil, CSVOptions{})
			_, err := s.Next(ctx)
			s.Close()
			if kernels.KindOf(err) != kernels.NotFound || !strings.Contains(err.Error(), "nope") {
				t.Errorf("scan of a missing file: want not found naming it, got %v (%v)", err, kernels.KindOf(err))
			}
			_, err = FileSchema(mem, nil, format, missing, CSVOptions{})
			if kernels.KindOf(err) != kernels.NotFound {
				t.Errorf("schema of a missing file: want not found, got %v", err)
			}
			if format == CSV {
				return // any text is CSV
			}
			s = NewScan(mem, format, []string{garbage}, schema, nil, nil, CSVOptions{})
			_, err = s.Next(ctx)
			s.Close()
			if kernels.KindOf(err) != kernels.Invalid || !strings.Contains(err.Error(), "garbage") {
				t.Errorf("scan of a garbage file: want invalid argument naming it, got %v (%v)", err, kernels.KindOf(err))
			}
			if _, err = FileSchema(mem, nil, format, garbage, CSVOptions{}); kernels.KindOf(err) != kernels.Invalid {
				t.Errorf("schema of a garbage file: want invalid argument, got %v", err)
			}
		})
	}
}

func TestScanCloseEarly(t *testing.T) {
	mem, ctx := newMem(t)
	dir := t.TempDir()
	pqPath, pqFileSchema := parquetFile(t, mem, dir, "t.parquet")
	ipcPath, ipcSchema := writeIPC(t, mem, dir, "t.arrow", true, 3)
	for _, s := range []*Scan{
		NewScan(mem, Parquet, []string{pqPath, pqPath}, pqFileSchema, nil, nil, CSVOptions{}),
		NewScan(mem, IPC, []string{ipcPath, ipcPath}, ipcSchema, nil, nil, CSVOptions{}),
	} {
		b, err := s.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b.Release()
		s.Close()
		s.Close()
		if _, err := s.Next(ctx); err == nil {
			t.Errorf("%s: Next after Close returned a batch", s)
		}
	}
	// Close before the first Next opens nothing.
	s := NewScan(mem, IPC, []string{ipcPath}, ipcSchema, nil, nil, CSVOptions{})
	s.Close()
}

// Footers are cached by path, size and modification time: a file written
// again under the same name is read afresh.
func TestParquetFooterCacheSeesRewrites(t *testing.T) {
	mem, ctx := newMem(t)
	path := filepath.Join(t.TempDir(), "again.parquet")
	schema := schemaOf(i64)
	for _, rows := range []int{3, 5} {
		vals := make([]any, rows)
		for i := range vals {
			vals[i] = int64(i)
		}
		rec := buildBatch(t, mem, schema, vals)
		parquettest.Write(t, mem, path, rec, 2)
		rec.Release()
		if got, err := ParquetRows(nil, path); err != nil || got != int64(rows) {
			t.Fatalf("ParquetRows = %d, %v; want %d", got, err, rows)
		}
		s := NewScan(mem, Parquet, []string{path}, schema, nil, nil, CSVOptions{})
		got, _ := drain(t, ctx, s)
		if len(got) != rows {
			t.Errorf("scan read %d rows, want %d", len(got), rows)
		}
	}
	if _, err := ParquetRows(nil, filepath.Join(t.TempDir(), "gone.parquet")); kernels.KindOf(err) != kernels.NotFound {
		t.Errorf("a missing file: %v, want a not-found error", err)
	}
}

// A scan with Roots opens its files through them: a file swapped for a
// link leading out after planning is refused, not read.
func TestScanOpensFilesThroughRoots(t *testing.T) {
	mem, ctx := newMem(t)
	allowed, outside := t.TempDir(), t.TempDir()
	roots, err := fsroot.Open(allowed)
	if err != nil {
		t.Fatal(err)
	}
	defer roots.Close()
	write := map[Format]func(dir string) string{
		Parquet: func(dir string) string { p, _ := parquetFile(t, mem, dir, "t.parquet"); return p },
		IPC:     func(dir string) string { p, _ := writeIPC(t, mem, dir, "t.arrow", false, 2); return p },
		CSV:     func(dir string) string { return writeCSV(t, dir, "t.csv", "x,y", "1,a", "2,b") },
	}
	for _, format := range []Format{Parquet, CSV, IPC} {
		t.Run(format.String(), func(t *testing.T) {
			path, out := write[format](allowed), write[format](outside)
			schema, err := FileSchema(mem, roots, format, path, CSVOptions{})
			if err != nil {
				t.Fatal(err)
			}
			s := NewScan(mem, format, []string{path}, schema, nil, nil, CSVOptions{})
			s.Roots = roots
			if rows, _ := drain(t, ctx, s); len(rows) == 0 {
				t.Fatal("read nothing from the allowed file")
			}
			if _, err := FileSchema(mem, roots, format, out, CSVOptions{}); kernels.KindOf(err) != kernels.PermissionDenied {
				t.Errorf("schema of a file outside: %v, want permission denied", err)
			}
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(out, path); err != nil {
				t.Fatal(err)
			}
			s = NewScan(mem, format, []string{path}, schema, nil, nil, CSVOptions{})
			s.Roots = roots
			b, err := s.Next(ctx)
			s.Close()
			if b != nil {
				b.Release()
			}
			if kernels.KindOf(err) != kernels.PermissionDenied || !strings.Contains(err.Error(), "--allow-path") {
				t.Errorf("scan of a file swapped for a link out: %v (%v), want permission denied", err, kernels.KindOf(err))
			}
		})
	}
	if _, err := ParquetRows(roots, filepath.Join(outside, "t.parquet")); kernels.KindOf(err) != kernels.PermissionDenied {
		t.Errorf("ParquetRows outside: %v", err)
	}
	if _, ok := ParquetDictionaryValues(roots, []string{filepath.Join(outside, "t.parquet")}, 2); ok {
		t.Error("ParquetDictionaryValues read a file outside")
	}
}
