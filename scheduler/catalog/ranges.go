package catalog

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Range is the least and the greatest value of an integer-stored column
// (signed integers, dates, timestamps, durations) in a partition, as the
// planner's statistics: how many values a key can hold, how much of a table
// a comparison keeps.
type Range struct {
	Col int   `json:"col"`
	Lo  int64 `json:"lo"`
	Hi  int64 `json:"hi"`
}

// Ranges gathers the ranges of a partition's columns as its batches are
// written. A column none of whose values is set has none.
type Ranges struct {
	seen []bool
	r    []Range
}

// Add widens the ranges to b's values.
func (rs *Ranges) Add(b arrow.RecordBatch) {
	if rs.r == nil {
		n := int(b.NumCols())
		rs.seen, rs.r = make([]bool, n), make([]Range, n)
		for i := range rs.r {
			rs.r[i].Col = i
		}
	}
	for i, c := range b.Columns() {
		lo, hi, ok := intRange(c)
		if !ok {
			continue
		}
		if !rs.seen[i] {
			rs.r[i].Lo, rs.r[i].Hi, rs.seen[i] = lo, hi, true
		}
		rs.r[i].Lo, rs.r[i].Hi = min(rs.r[i].Lo, lo), max(rs.r[i].Hi, hi)
	}
}

// List is the ranges found, by column.
func (rs *Ranges) List() []Range {
	var out []Range
	for i, r := range rs.r {
		if rs.seen[i] {
			out = append(out, r)
		}
	}
	return out
}

// intRange is the range of an integer-stored column's set values.
func intRange(c arrow.Array) (lo, hi int64, ok bool) {
	switch a := c.(type) {
	case *array.Int8:
		return rangeOf(a.Int8Values(), a)
	case *array.Int16:
		return rangeOf(a.Int16Values(), a)
	case *array.Int32:
		return rangeOf(a.Int32Values(), a)
	case *array.Int64:
		return rangeOf(a.Int64Values(), a)
	case *array.Date32:
		return rangeOf(a.Date32Values(), a)
	case *array.Date64:
		return rangeOf(a.Date64Values(), a)
	case *array.Timestamp:
		return rangeOf(a.TimestampValues(), a)
	case *array.Duration:
		return rangeOf(a.DurationValues(), a)
	}
	return 0, 0, false
}

func rangeOf[T ~int8 | ~int16 | ~int32 | ~int64](vals []T, a arrow.Array) (lo, hi int64, ok bool) {
	nulls := a.NullN() > 0
	for i, v := range vals {
		if nulls && a.IsNull(i) {
			continue
		}
		x := int64(v)
		if !ok {
			lo, hi, ok = x, x, true
		}
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi, ok
}

// TableRange is the range of column col of a stored table over all its
// partitions; ok is false when a partition with rows has none (a manifest
// written before ranges were kept, or a column of other values).
func (c *Catalog) TableRange(name string, col int) (lo, hi int64, ok bool) {
	t, err := c.Table(name)
	if err != nil {
		return 0, 0, false
	}
	for _, p := range t.M.Parts {
		if p.Rows == 0 {
			continue
		}
		found := false
		for _, r := range p.Ranges {
			if r.Col == col {
				if !ok {
					lo, hi, ok = r.Lo, r.Hi, true
				}
				lo, hi, found = min(lo, r.Lo), max(hi, r.Hi), true
			}
		}
		if !found {
			return 0, 0, false
		}
	}
	return lo, hi, ok
}
