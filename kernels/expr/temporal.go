package expr

import (
	"context"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// Date and time functions over date32 and timestamp (any unit). The
// calendar is the proleptic Gregorian one, computed with integer
// arithmetic (no time.Time per row). A timestamp with a time zone is read
// on its zone's wall clock (timezone.go).

func init() {
	i8, i16, i32 := arrow.PrimitiveTypes.Int8, arrow.PrimitiveTypes.Int16, arrow.PrimitiveTypes.Int32
	fields := []struct {
		name string
		out  arrow.DataType
		f    func(days, nanos int64) int64
	}{
		{"year", i32, func(d, _ int64) int64 { y, _, _ := civil(d); return y }},
		{"month", i8, func(d, _ int64) int64 { _, m, _ := civil(d); return m }},
		{"day", i8, func(d, _ int64) int64 { _, _, day := civil(d); return day }},
		{"weekday", i8, func(d, _ int64) int64 { return floorMod(d+3, 7) + 1 }}, // 1970-01-01 was a Thursday
		{"hour", i8, func(_, ns int64) int64 { return ns / 3_600_000_000_000 }},
		{"minute", i8, func(_, ns int64) int64 { return ns / 60_000_000_000 % 60 }},
		{"second", i8, func(_, ns int64) int64 { return ns / 1_000_000_000 % 60 }},
		{"millisecond", i32, func(_, ns int64) int64 { return ns / 1_000_000 % 1000 }},
		{"microsecond", i32, func(_, ns int64) int64 { return ns / 1000 % 1_000_000 }},
		{"nanosecond", i32, func(_, ns int64) int64 { return ns % 1_000_000_000 }},
		{"quarter", i8, func(d, _ int64) int64 { _, m, _ := civil(d); return (m-1)/3 + 1 }},
		{"ordinal_day", i16, func(d, _ int64) int64 { y, _, _ := civil(d); return d - daysFromCivil(y, 1, 1) + 1 }},
		{"week", i8, func(d, _ int64) int64 { _, w := isoWeek(d); return w }},
		{"iso_year", i32, func(d, _ int64) int64 { y, _ := isoWeek(d); return y }},
	}
	clock := map[string]bool{"hour": true, "minute": true, "second": true, "millisecond": true, "microsecond": true, "nanosecond": true}
	for _, f := range fields {
		register(&Function{Name: f.name, Arity: 1, eval: temporalField(f.out, f.f),
			Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
				if IsTime(in[0]) && clock[f.name] {
					return f.out, []arrow.DataType{Time64Nanos}, nil
				}
				t, err := temporalArg(f.name, in[0])
				if err != nil {
					return nil, nil, err
				}
				return f.out, []arrow.DataType{t}, nil
			}})
	}
	for _, name := range []string{"truncate", "offset_by"} {
		eval := truncate
		if name == "offset_by" {
			eval = offsetBy
		}
		register(&Function{Name: name, Arity: 2, eval: eval,
			Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
				t, err := temporalArg("dt."+name, in[0])
				if err != nil {
					return nil, nil, err
				}
				if !IsString(in[1]) {
					return nil, nil, invalid("dt.%s needs a duration string such as \"1mo\" or \"3d\", got %s", name, TypeName(in[1]))
				}
				return t, []arrow.DataType{t, arrow.BinaryTypes.String}, nil
			}})
	}
	register(&Function{Name: "days_between", Arity: 2, eval: daysBetween,
		Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
			for _, t := range in {
				if !IsNull(t) && t.ID() != arrow.DATE32 {
					return nil, nil, invalid("dt.days_between needs two dates, got %s and %s: cast timestamps to date first", TypeName(in[0]), TypeName(in[1]))
				}
			}
			d := arrow.FixedWidthTypes.Date32
			return arrow.PrimitiveTypes.Int64, []arrow.DataType{d, d}, nil
		}})
}

func temporalArg(fn string, t arrow.DataType) (arrow.DataType, error) {
	switch {
	case IsNull(t):
		return arrow.FixedWidthTypes.Date32, nil
	case t.ID() == arrow.DATE32, t.ID() == arrow.TIMESTAMP:
		return t, nil
	}
	return nil, invalid("%s needs a date or a timestamp, got %s", fn, TypeName(t))
}

// perDay is how many units of t make a day (1 for a date), and nanoPer
// the nanoseconds in one unit (0 for a date).
func unitsOf(t arrow.DataType) (perDay, nanoPer int64) {
	if ts, ok := t.(*arrow.TimestampType); ok {
		nanoPer = map[arrow.TimeUnit]int64{arrow.Second: 1e9, arrow.Millisecond: 1e6, arrow.Microsecond: 1e3, arrow.Nanosecond: 1}[ts.Unit]
		return 86_400_000_000_000 / nanoPer, nanoPer
	}
	if t.ID() == arrow.TIME64 { // resolved to nanoseconds
		return 86_400_000_000_000, 1
	}
	return 1, 0
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// civil is the (year, month, day) of a count of days since 1970-01-01
// (Howard Hinnant's algorithm).
func civil(days int64) (y, m, d int64) {
	z := days + 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// daysFromCivil is civil's inverse.
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := m + 9
	if m > 2 {
		mp = m - 3
	}
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// isoWeek is the ISO 8601 year and week of a day: the week (Monday to
// Sunday) belongs to the year of its Thursday.
func isoWeek(days int64) (year, week int64) {
	thursday := days - floorMod(days+3, 7) + 3
	year, _, _ = civil(thursday)
	return year, (thursday-daysFromCivil(year, 1, 1))/7 + 1
}

func daysInMonth(y, m int64) int64 {
	switch m {
	case 4, 6, 9, 11:
		return 30
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	}
	return 31
}

// times reads a date or timestamp array as int64 values.
func times(a arrow.Array) []int64 {
	if a.DataType().ID() == arrow.DATE32 {
		in := Values[int32](a)
		out := make([]int64, len(in))
		for i, v := range in {
			out[i] = int64(v)
		}
		return out
	}
	return Values[int64](a)
}

// temporalField extracts a calendar or clock field: f gets the days since
// the epoch and the nanoseconds into the day.
func temporalField(out arrow.DataType, f func(days, nanos int64) int64) func(context.Context, []compute.Datum) (compute.Datum, error) {
	return func(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
		mem, x, anyArray, err := firstArg(ctx, args)
		if err != nil {
			return nil, err
		}
		defer x.Release()
		perDay, nanoPer := unitsOf(x.DataType())
		vals, err := localTimes(x)
		if err != nil {
			return nil, err
		}
		res := make([]int64, len(vals))
		for i, v := range vals {
			days := floorDiv(v, perDay)
			res[i] = f(days, (v-days*perDay)*nanoPer)
		}
		validity, nulls := copyValidity(mem, x)
		var arr arrow.Array
		switch out.ID() {
		case arrow.INT32:
			arr = FixedWidthArray(mem, out, convert[int32](res), validity, nulls)
		case arrow.INT16:
			arr = FixedWidthArray(mem, out, convert[int16](res), validity, nulls)
		default:
			arr = FixedWidthArray(mem, out, convert[int8](res), validity, nulls)
		}
		return result(arr, anyArray)
	}
}

func convert[T int8 | int16 | int32](in []int64) []T {
	out := make([]T, len(in))
	for i, v := range in {
		out[i] = T(v)
	}
	return out
}

// timeResult builds an array of x's type from int64 values.
func timeResult(mem memory.Allocator, x arrow.Array, vals []int64) arrow.Array {
	validity, nulls := copyValidity(mem, x)
	if x.DataType().ID() == arrow.DATE32 {
		return FixedWidthArray(mem, x.DataType(), convert[int32](vals), validity, nulls)
	}
	return FixedWidthArray(mem, x.DataType(), vals, validity, nulls)
}

// duration is a parsed polars duration string: calendar months and a
// fixed number of nanoseconds.
type duration struct {
	months int64
	nanos  int64
	// days is the part of nanos given in days and weeks: on a zoned
	// timestamp's wall clock, dt.offset_by moves by calendar days.
	days int64
}

var durationUnits = map[string]int64{
	"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9, "d": 86400e9, "w": 7 * 86400e9,
}

// parseDuration reads "3d", "-1mo", "1y2mo", "6h30m" and the like.
func parseDuration(fn, text string) (duration, error) {
	bad := func() (duration, error) {
		return duration{}, invalid("%s: %q is not a duration: write an integer and a unit, e.g. \"3d\", \"-2mo\" or \"1y6mo\" (units ns, us, ms, s, m, h, d, w, mo, q, y)", fn, text)
	}
	s := strings.TrimSpace(text)
	sign := int64(1)
	if strings.HasPrefix(s, "-") {
		sign, s = -1, s[1:]
	}
	if s == "" {
		return bad()
	}
	var d duration
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		j := i
		for j < len(s) && (s[j] < '0' || s[j] > '9') {
			j++
		}
		if i == 0 || j == i {
			return bad()
		}
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil {
			return bad()
		}
		switch unit := s[i:j]; unit {
		case "mo":
			d.months += n
		case "q":
			d.months += 3 * n
		case "y":
			d.months += 12 * n
		default:
			mult, ok := durationUnits[unit]
			if !ok {
				return bad()
			}
			d.nanos += n * mult
			if unit == "d" || unit == "w" {
				d.days += n * mult / 86400e9
			}
		}
		s = s[j:]
	}
	d.months *= sign
	d.nanos *= sign
	d.days *= sign
	return d, nil
}

// addMonths moves a day count by months, keeping the day of the month
// (clamped to the last day of the target month).
func addMonths(days, months int64) int64 {
	y, m, d := civil(days)
	total := y*12 + (m - 1) + months
	y, m = floorDiv(total, 12), floorMod(total, 12)+1
	return daysFromCivil(y, m, min(d, daysInMonth(y, m)))
}

// offsetBy is polars' dt.offset_by: months first, then the fixed part.
func offsetBy(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
	text, ok, err := stringArg("dt.offset_by", "duration", args[1])
	if err != nil {
		return nil, err
	}
	if !ok {
		return nullLike(args[0]), nil
	}
	dur, err := parseDuration("dt.offset_by", text)
	if err != nil {
		return nil, err
	}
	perDay, nanoPer := unitsOf(datumType(args[0]))
	step := int64(0)
	switch {
	case nanoPer == 0 && dur.nanos%86400e9 != 0:
		return nil, invalid("dt.offset_by: a date moves by whole days, got %q: cast to a timestamp first", text)
	case nanoPer == 0:
		step = dur.nanos / 86400e9
	case dur.nanos%nanoPer != 0:
		return nil, invalid("dt.offset_by: %q is finer than the column's %s unit", text, datumType(args[0]).(*arrow.TimestampType).Unit)
	default:
		step = dur.nanos / nanoPer
	}
	if loc, _ := zoneOf(datumType(args[0])); loc != nil {
		// A zoned timestamp: months and days on the wall clock, as polars,
		// the rest (hours and finer) on the instant.
		fixed := step - dur.days*perDay
		calendar := onWallClock(datumType(args[0]), func(v int64) int64 {
			days := floorDiv(v, perDay)
			return addMonths(days, dur.months)*perDay + (v - days*perDay) + dur.days*perDay
		})
		return mapTimes(ctx, args[0], func(v int64) int64 {
			if dur.months != 0 || dur.days != 0 {
				v = calendar(v)
			}
			return v + fixed
		})
	}
	return mapTimes(ctx, args[0], func(v int64) int64 {
		if dur.months != 0 {
			days := floorDiv(v, perDay)
			v = addMonths(days, dur.months)*perDay + (v - days*perDay)
		}
		return v + step
	})
}

// truncate is polars' dt.truncate for one unit of a period: the start of
// the year, quarter, month, ISO week (Monday), day, hour, minute, ... on
// the wall clock of a timestamp's time zone, as polars.
func truncate(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
	every, ok, err := stringArg("dt.truncate", "every", args[1])
	if err != nil {
		return nil, err
	}
	if !ok {
		return nullLike(args[0]), nil
	}
	dur, err := parseDuration("dt.truncate", every)
	if err != nil {
		return nil, err
	}
	perDay, nanoPer := unitsOf(datumType(args[0]))
	unsupported := invalid("dt.truncate supports \"1y\", \"1q\", \"1mo\", \"1w\" and fixed lengths such as \"1d\", \"6h\", \"15m\", \"1s\", got %q", every)
	switch {
	case dur.months != 0 && dur.nanos != 0:
		return nil, unsupported
	case dur.months == 1 || dur.months == 3 || dur.months == 12:
		months := dur.months
		return mapTimes(ctx, args[0], onWallClock(datumType(args[0]), func(v int64) int64 {
			y, m, _ := civil(floorDiv(v, perDay))
			m -= (m - 1) % months
			return daysFromCivil(y, m, 1) * perDay
		}))
	case dur.months != 0:
		return nil, unsupported
	case dur.nanos == 7*86400e9:
		return mapTimes(ctx, args[0], onWallClock(datumType(args[0]), func(v int64) int64 {
			days := floorDiv(v, perDay)
			return (days - floorMod(days+3, 7)) * perDay
		}))
	}
	// A fixed length ("15m", "2h", "3d"): multiples of it from the epoch.
	if dur.nanos <= 0 || dur.nanos%(7*86400e9) == 0 {
		return nil, unsupported
	}
	if nanoPer == 0 {
		if dur.nanos%86400e9 != 0 {
			return nil, invalid("dt.truncate: a date has no time of day to truncate to %q", every)
		}
		nanoPer = 86400e9
	}
	if dur.nanos <= nanoPer {
		return cloneDatum(args[0]), nil // already that precise
	}
	if dur.nanos%nanoPer != 0 {
		return nil, invalid("dt.truncate: %q is not a whole number of the column's units", every)
	}
	step := dur.nanos / nanoPer
	return mapTimes(ctx, args[0], onWallClock(datumType(args[0]), func(v int64) int64 { return floorDiv(v, step) * step }))
}

// mapTimes applies f to every date or timestamp value.
func mapTimes(ctx context.Context, d compute.Datum, f func(int64) int64) (compute.Datum, error) {
	_, anyArray := rowCount([]compute.Datum{d})
	mem := Allocator(ctx)
	x, err := asArray(mem, d, 1)
	if err != nil {
		return nil, err
	}
	defer x.Release()
	vals := times(x)
	valid, off := validBits(x)
	out := make([]int64, len(vals))
	for i, v := range vals {
		if isValidAt(valid, off, i) {
			out[i] = f(v)
		}
	}
	return result(timeResult(mem, x, out), anyArray)
}

// daysBetween is a - b in days, for two dates.
func daysBetween(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
	n, anyArray := rowCount(args)
	mem := Allocator(ctx)
	arrs, release, err := asArrays(mem, args, n)
	if err != nil {
		return nil, err
	}
	defer release()
	a, b := Values[int32](arrs[0]), Values[int32](arrs[1])
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(a[i]) - int64(b[i])
	}
	validity, nulls := bothValid(mem, arrs[0], arrs[1])
	return result(FixedWidthArray(mem, arrow.PrimitiveTypes.Int64, out, validity, nulls), anyArray)
}

// epoch(x, unit) is polars' dt.epoch: the time since 1970-01-01 00:00 UTC
// in whole units ("ns", "us", "ms", "s": int64; "d": int32), rounded
// down. A timestamp with a time zone counts its instant.
func init() {
	units := map[string]int64{"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9, "d": 86400e9}
	register(&Function{Name: "epoch", Arity: 2, eval: epoch(units), Resolve: needConstArgs("dt.epoch"),
		ResolveConst: func(in []arrow.DataType, consts []scalar.Scalar) (arrow.DataType, []arrow.DataType, error) {
			t, err := temporalArg("dt.epoch", in[0])
			if err != nil {
				return nil, nil, err
			}
			unit, ok := constText(consts[1])
			if _, known := units[unit]; !ok || !known {
				return nil, nil, invalid("dt.epoch's time_unit must be one of \"ns\", \"us\", \"ms\", \"s\", \"d\"")
			}
			out := arrow.PrimitiveTypes.Int64
			if unit == "d" {
				out = arrow.PrimitiveTypes.Int32
			}
			return out, []arrow.DataType{t, arrow.BinaryTypes.String}, nil
		}})
}

func epoch(units map[string]int64) func(context.Context, []compute.Datum) (compute.Datum, error) {
	return func(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
		unit, ok, err := stringArg("dt.epoch", "time_unit", args[1])
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, invalid("dt.epoch needs a time_unit")
		}
		per := units[unit]
		mem, x, anyArray, err := firstArg(ctx, args)
		if err != nil {
			return nil, err
		}
		defer x.Release()
		_, nanoPer := unitsOf(x.DataType())
		if nanoPer == 0 { // a date: days
			nanoPer = 86400e9
		}
		vals := times(x)
		res := make([]int64, len(vals))
		for i, v := range vals {
			if nanoPer >= per {
				res[i] = v * (nanoPer / per)
			} else {
				res[i] = floorDiv(v, per/nanoPer)
			}
		}
		validity, nulls := copyValidity(mem, x)
		if unit == "d" {
			return result(FixedWidthArray(mem, arrow.PrimitiveTypes.Int32, convert[int32](res), validity, nulls), anyArray)
		}
		return result(FixedWidthArray(mem, arrow.PrimitiveTypes.Int64, res, validity, nulls), anyArray)
	}
}
