package exec

import (
	"fmt"
	"math"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/schema"

	"slipstream/kernels/fsroot"
)

// Bound is a simple predicate `column op value` that every row a query
// keeps satisfies; a scan may skip data whose statistics rule it out. The
// filter above the scan still runs, so a Bound only ever saves work.
type Bound struct {
	Column int    // index in the file schema
	Op     string // eq lt le gt ge
	Value  scalar.Scalar
}

func (b Bound) String(s *arrow.Schema) string {
	return fmt.Sprintf("%s %s %s", s.Field(b.Column).Name, b.Op, b.Value)
}

// keepRowGroups lists the row groups of pf that some row of might satisfy every bound.
func (s *Scan) keepRowGroups(pf *file.Reader) []int {
	var keep []int
	for rg := 0; rg < pf.NumRowGroups(); rg++ {
		if !s.ruledOut(pf.MetaData().RowGroup(rg)) {
			keep = append(keep, rg)
		}
	}
	return keep
}

func (s *Scan) ruledOut(rg *metadata.RowGroupMetaData) bool {
	for _, b := range s.Bounds {
		cc, err := rg.ColumnChunk(b.Column)
		if err != nil {
			continue
		}
		if ok, err := cc.StatsSet(); err != nil || !ok {
			continue
		}
		st, err := cc.Statistics()
		if err != nil || st == nil {
			continue
		}
		if st.HasNullCount() && st.NullCount() == rg.NumRows() && rg.NumRows() > 0 {
			return true // only nulls: no comparison is true
		}
		if !st.HasMinMax() {
			continue
		}
		if lo, hi, v, ok := statRange(st, b.Value); ok && excludes(b.Op, lo, hi, v) {
			return true
		}
	}
	return false
}

// statRange brings a column chunk's min and max and the bound's value into
// one comparable domain; ok is false when it cannot (the chunk is kept).
func statRange(st metadata.TypedStatistics, v scalar.Scalar) (lo, hi, val any, ok bool) {
	if !v.IsValid() {
		return nil, nil, nil, false
	}
	switch st := st.(type) {
	case *metadata.Int32Statistics:
		if x, ok := intBound(st.Descr(), v); ok {
			return int64(st.Min()), int64(st.Max()), x, true
		}
	case *metadata.Int64Statistics:
		if x, ok := intBound(st.Descr(), v); ok {
			return st.Min(), st.Max(), x, true
		}
	case *metadata.Float32Statistics:
		if x, ok := v.(*scalar.Float32); ok && x.Value == x.Value {
			return float64(st.Min()), float64(st.Max()), float64(x.Value), true
		}
	case *metadata.Float64Statistics:
		if x, ok := v.(*scalar.Float64); ok && x.Value == x.Value {
			return st.Min(), st.Max(), x.Value, true
		}
	case *metadata.ByteArrayStatistics:
		switch x := v.(type) {
		case *scalar.String:
			return string(st.Min()), string(st.Max()), x.String(), true
		case *scalar.LargeString:
			return string(st.Min()), string(st.Max()), x.String(), true
		}
	}
	return nil, nil, nil, false
}

// intBound reads v in the domain of an integer column's statistics. It
// refuses unsigned columns (Parquet orders their statistics unsigned, so
// read as signed a uint32 of 3e9 is negative), decimals (stored scaled),
// and a timestamp of another unit than the column's (Parquet has no
// seconds: timestamp[s] is stored in milliseconds).
func intBound(col *schema.Column, v scalar.Scalar) (int64, bool) {
	if col == nil || col.SortOrder() != schema.SortSIGNED {
		return 0, false
	}
	ts, isTS := v.(*scalar.Timestamp)
	switch lt := col.LogicalType().(type) {
	case schema.DecimalLogicalType:
		return 0, false
	case schema.TimestampLogicalType:
		units := map[schema.TimeUnitType]arrow.TimeUnit{schema.TimeUnitMillis: arrow.Millisecond, schema.TimeUnitMicros: arrow.Microsecond, schema.TimeUnitNanos: arrow.Nanosecond}
		unit, known := units[lt.TimeUnit()]
		if !isTS || !known || ts.Type.(*arrow.TimestampType).Unit != unit {
			return 0, false
		}
		return int64(ts.Value), true
	}
	if isTS {
		return 0, false
	}
	return scalarInt(v)
}

// scalarInt reads signed integers and dates/timestamps stored as them.
// Unsigned values are left out: Parquet orders their statistics unsigned.
func scalarInt(v scalar.Scalar) (int64, bool) {
	switch x := v.(type) {
	case *scalar.Int8:
		return int64(x.Value), true
	case *scalar.Int16:
		return int64(x.Value), true
	case *scalar.Int32:
		return int64(x.Value), true
	case *scalar.Int64:
		return x.Value, true
	case *scalar.Date32:
		return int64(x.Value), true
	case *scalar.Timestamp:
		return int64(x.Value), true
	}
	return 0, false
}

func excludes(op string, lo, hi, v any) bool {
	if f, ok := v.(float64); ok && (f != f || op == "gt" || op == "ge") {
		// NaN compares above every number, and Parquet's statistics leave
		// NaN out: a group whose numbers are all small may still hold NaN
		// rows that pass x > v, and nothing is known of x < NaN.
		return false
	}
	less := func(a, b any) bool {
		switch a := a.(type) {
		case int64:
			return a < b.(int64)
		case float64:
			return a < b.(float64)
		case string:
			return a < b.(string)
		}
		return false
	}
	switch op {
	case "eq":
		return less(v, lo) || less(hi, v)
	case "lt": // keep rows < v: none when lo >= v
		return !less(lo, v)
	case "le":
		return less(v, lo)
	case "gt":
		return !less(v, hi)
	case "ge":
		return less(hi, v)
	}
	return false
}

// IntRange is the least and the greatest value of an integer column of
// Parquet files, from their row groups' statistics.
type IntRange struct {
	Lo, Hi int64
	read   func(scalar.Scalar) (int64, bool)
}

// NewIntRange is the range lo..hi of a column of Arrow type t (a stored
// table's, from its manifest): signed integers, dates and timestamps.
func NewIntRange(lo, hi int64, t arrow.DataType) IntRange {
	return IntRange{Lo: lo, Hi: hi, read: func(v scalar.Scalar) (int64, bool) {
		if !v.IsValid() {
			return 0, false
		}
		switch t.ID() {
		case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64:
			switch v.(type) {
			case *scalar.Int8, *scalar.Int16, *scalar.Int32, *scalar.Int64:
				return scalarInt(v)
			}
			return 0, false
		}
		if !arrow.TypeEqual(v.DataType(), t) {
			return 0, false // another unit
		}
		return scalarInt(v)
	}}
}

// Span is how many values the range holds: a bound on distinct values.
func (r IntRange) Span() int64 {
	if r.Hi-r.Lo < 0 || r.Hi-r.Lo == math.MaxInt64 {
		return math.MaxInt64
	}
	return r.Hi - r.Lo + 1
}

// Value reads v in the range's domain (as a Bound's value is read).
func (r IntRange) Value(v scalar.Scalar) (int64, bool) { return r.read(v) }

// ParquetIntRange is the range of column col (an index in the file
// schema) over Parquet files. ok is false for other than signed integer
// columns (dates and timestamps included) and when a row group has no
// statistics. Each file's range is kept per file version.
func ParquetIntRange(roots *fsroot.Roots, paths []string, col int) (r IntRange, ok bool) {
	for i, path := range paths {
		meta, version, err := parquetFooterVersion(roots, path)
		if err != nil || col < 0 || col >= meta.Schema.NumColumns() {
			return r, false
		}
		desc := meta.Schema.Column(col)
		if desc.SortOrder() != schema.SortSIGNED {
			return r, false
		}
		f, _ := fileRanges.get(columnKey(version, col), func() (fileRange, error) { return rangeOfFile(meta, col), nil })
		if !f.ok {
			return r, false
		}
		if i == 0 {
			r.Lo, r.Hi = f.lo, f.hi
		}
		r.Lo, r.Hi = min(r.Lo, f.lo), max(r.Hi, f.hi)
		r.read = func(v scalar.Scalar) (int64, bool) { return intBound(desc, v) }
	}
	return r, len(paths) > 0
}

type fileRange struct {
	lo, hi int64
	ok     bool
}

var fileRanges = sizedCache[fileRange]{name: "parquet-column-ranges", maxCost: 4 << 20, counters: 500_000,
	size: func(fileRange) int64 { return 64 }}

// rangeOfFile reads one file's range of column col from every row group's
// statistics.
func rangeOfFile(meta *metadata.FileMetaData, col int) (r fileRange) {
	for g := 0; g < meta.NumRowGroups(); g++ {
		cc, err := meta.RowGroup(g).ColumnChunk(col)
		if err != nil {
			return fileRange{}
		}
		if set, err := cc.StatsSet(); err != nil || !set {
			return fileRange{}
		}
		st, err := cc.Statistics()
		if err != nil || st == nil || !st.HasMinMax() {
			return fileRange{}
		}
		var lo, hi int64
		switch st := st.(type) {
		case *metadata.Int32Statistics:
			lo, hi = int64(st.Min()), int64(st.Max())
		case *metadata.Int64Statistics:
			lo, hi = st.Min(), st.Max()
		default:
			return fileRange{}
		}
		if !r.ok {
			r = fileRange{lo, hi, true}
		}
		r.lo, r.hi = min(r.lo, lo), max(r.hi, hi)
	}
	return r
}

// columnKey names one column of one file version: what planning reads
// of it is kept.
func columnKey(version string, col int) string { return version + "\x00" + strconv.Itoa(col) }

// smallDictionary is the largest dictionary page, compressed, that
// ParquetDictionaryValues reads: big enough for thousands of short
// strings, small enough that planning stays quick.
const smallDictionary = 64 << 10

var dictCounts = sizedCache[int64]{name: "parquet-dictionary-counts", maxCost: 4 << 20, counters: 500_000,
	size: func(int64) int64 { return 48 }}

// ParquetDictionaryValues counts the distinct values of column col (an
// index in the file schema) of Parquet files from their dictionary pages:
// the most any of the row groups read holds (the first, middle and last of
// each of the first eight files). ok is false when a chunk read has no
// dictionary or one too large to count cheaply: then the column has many
// values. Counts are kept per file version.
func ParquetDictionaryValues(roots *fsroot.Roots, paths []string, col int) (values int64, ok bool) {
	for _, path := range paths[:min(len(paths), 8)] {
		meta, version, err := parquetFooterVersion(roots, path)
		if err != nil || col < 0 || col >= meta.Schema.NumColumns() {
			return 0, false
		}
		n, _ := dictCounts.get(columnKey(version, col), func() (int64, error) { return dictionaryValues(roots, path, meta, col), nil })
		if n < 0 {
			return 0, false
		}
		values = max(values, n)
	}
	return values, len(paths) > 0
}

// dictionaryValues reads the dictionary page headers of one file's first,
// middle and last row groups; -1 when one cannot be counted.
func dictionaryValues(roots *fsroot.Roots, path string, meta *metadata.FileMetaData, col int) int64 {
	groups := meta.NumRowGroups()
	if groups == 0 {
		return 0
	}
	pf, err := openParquet(roots, path, file.WithMetadata(meta))
	if err != nil {
		return -1
	}
	defer pf.Close()
	var most int64
	for _, g := range []int{0, groups / 2, groups - 1} {
		cc, err := meta.RowGroup(g).ColumnChunk(col)
		if err != nil || !cc.HasDictionaryPage() {
			return -1
		}
		if size := cc.DataPageOffset() - cc.DictionaryPageOffset(); size <= 0 || size > smallDictionary {
			return -1
		}
		pages, err := pf.RowGroup(g).GetColumnPageReader(col)
		if err != nil || !pages.Next() {
			return -1
		}
		dict, isDict := pages.Page().(*file.DictionaryPage)
		if !isDict {
			return -1
		}
		most = max(most, int64(dict.NumValues()))
	}
	return most
}
