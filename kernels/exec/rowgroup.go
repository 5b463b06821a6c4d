package exec

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/schema"
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
