package expr

import (
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// formatsAsString reports whether castToString handles values of t.
// Arrow's casts from these types to strings (v18.8.0) never release the
// array they build, so every such cast leaked its output's memory.
func formatsAsString(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.BOOL, arrow.DATE32, arrow.TIMESTAMP:
		return true
	}
	return IsInteger(t) || IsFloat(t)
}

// castToString formats arr as text of string type to, the way Arrow's cast does.
func castToString(mem memory.Allocator, arr arrow.Array, to arrow.DataType) (arrow.Array, error) {
	format, err := formatter(arr)
	if err != nil {
		return nil, err
	}
	bld := array.NewBuilder(mem, to)
	defer bld.Release()
	sb := bld.(array.StringLikeBuilder)
	sb.Reserve(arr.Len())
	for i := 0; i < arr.Len(); i++ {
		if arr.IsNull(i) {
			sb.AppendNull()
		} else {
			sb.Append(format(i))
		}
	}
	return bld.NewArray(), nil
}

func formatter(arr arrow.Array) (func(int) string, error) {
	switch a := arr.(type) {
	case *array.Int8:
		return func(i int) string { return strconv.FormatInt(int64(a.Value(i)), 10) }, nil
	case *array.Int16:
		return func(i int) string { return strconv.FormatInt(int64(a.Value(i)), 10) }, nil
	case *array.Int32:
		return func(i int) string { return strconv.FormatInt(int64(a.Value(i)), 10) }, nil
	case *array.Int64:
		return func(i int) string { return strconv.FormatInt(a.Value(i), 10) }, nil
	case *array.Uint8:
		return func(i int) string { return strconv.FormatUint(uint64(a.Value(i)), 10) }, nil
	case *array.Uint16:
		return func(i int) string { return strconv.FormatUint(uint64(a.Value(i)), 10) }, nil
	case *array.Uint32:
		return func(i int) string { return strconv.FormatUint(uint64(a.Value(i)), 10) }, nil
	case *array.Uint64:
		return func(i int) string { return strconv.FormatUint(a.Value(i), 10) }, nil
	case *array.Float32:
		return func(i int) string { return strconv.FormatFloat(float64(a.Value(i)), 'g', -1, 32) }, nil
	case *array.Float64:
		return func(i int) string { return strconv.FormatFloat(a.Value(i), 'g', -1, 64) }, nil
	case *array.Boolean:
		return func(i int) string { return strconv.FormatBool(a.Value(i)) }, nil
	case *array.Date32:
		return func(i int) string { return a.Value(i).FormattedString() }, nil
	case *array.Timestamp:
		return timestampFormatter(a)
	}
	return nil, invalid("cannot format %s as text", TypeName(arr.DataType()))
}

// timestampFormatter matches Arrow's timestamp-to-string cast: fractional
// digits by unit, the zone offset when the type has a time zone, and the
// raw number outside years 0..9999.
func timestampFormatter(a *array.Timestamp) (func(int) string, error) {
	t := a.DataType().(*arrow.TimestampType)
	toTime, err := t.GetToTimeFunc()
	if err != nil {
		return nil, err
	}
	layout := "2006-01-02 15:04:05" + map[arrow.TimeUnit]string{arrow.Millisecond: ".000", arrow.Microsecond: ".000000", arrow.Nanosecond: ".000000000"}[t.Unit]
	if t.TimeZone != "" {
		layout += "Z0700"
	}
	return func(i int) string {
		v := toTime(a.Value(i))
		if v.Year() < 0 || v.Year() > 9999 {
			return strconv.FormatInt(int64(a.Value(i)), 10)
		}
		if t.TimeZone != "" {
			if _, off := v.Zone(); off%60 != 0 {
				return v.Format(layout[:len(layout)-5] + "Z070000")
			}
		}
		return v.Format(layout)
	}, nil
}
