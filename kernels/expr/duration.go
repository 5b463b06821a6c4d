package expr

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/compute"
)

// Durations and times of day, as polars' Duration and Time: the
// difference of two timestamps (or dates) is a duration, a timestamp plus
// or minus a duration a timestamp; dt.total_* read a duration in a unit;
// dt.hour/minute/second read a time of day, dt.time takes it from a
// timestamp. Arrow's arithmetic and comparison kernels do the work once
// both sides share a unit.

func isTemporalArith(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.TIMESTAMP, arrow.DATE32, arrow.DURATION, arrow.TIME32, arrow.TIME64:
		return true
	}
	return false
}

// resolveTemporalArith types add and subtract over timestamps, dates and
// durations; both sides are brought to the finer unit.
func resolveTemporalArith(op string, a, b arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
	unit := func(ts ...arrow.DataType) arrow.TimeUnit {
		u := arrow.Microsecond
		first := true
		for _, t := range ts {
			switch t.ID() {
			case arrow.TIMESTAMP, arrow.DURATION:
				if first || timeUnitOf(t) > u {
					u = timeUnitOf(t)
				}
				first = false
			case arrow.DATE32:
				first = false // a date counts as microseconds: polars' date - date is duration[us]
			}
		}
		return u
	}
	asTS := func(t arrow.DataType, u arrow.TimeUnit) arrow.DataType {
		tz := ""
		if ts, ok := t.(*arrow.TimestampType); ok {
			tz = ts.TimeZone
		}
		return &arrow.TimestampType{Unit: u, TimeZone: tz}
	}
	isTS := func(t arrow.DataType) bool { return t.ID() == arrow.TIMESTAMP || t.ID() == arrow.DATE32 }
	dur := func(t arrow.DataType) bool { return t.ID() == arrow.DURATION }
	u := unit(a, b)
	d := &arrow.DurationType{Unit: u}
	switch {
	case op == "subtract" && isTS(a) && isTS(b):
		ta, tb := asTS(a, u), asTS(b, u)
		if ta.(*arrow.TimestampType).TimeZone != tb.(*arrow.TimestampType).TimeZone {
			return nil, nil, invalid("cannot subtract %s from %s: the time zones differ (convert one with dt.convert_time_zone)", TypeName(b), TypeName(a))
		}
		return d, []arrow.DataType{ta, tb}, nil
	case (op == "add" || op == "subtract") && a.ID() == arrow.TIMESTAMP && dur(b):
		return asTS(a, u), []arrow.DataType{asTS(a, u), d}, nil
	case op == "add" && dur(a) && b.ID() == arrow.TIMESTAMP:
		return asTS(b, u), []arrow.DataType{d, asTS(b, u)}, nil
	// A date plus or minus a duration is a date, as polars: the day of
	// the timestamp it makes (rounded down).
	case (op == "add" || op == "subtract") && a.ID() == arrow.DATE32 && dur(b):
		return arrow.FixedWidthTypes.Date32, []arrow.DataType{asTS(a, u), d}, nil
	case op == "add" && dur(a) && b.ID() == arrow.DATE32:
		return arrow.FixedWidthTypes.Date32, []arrow.DataType{d, asTS(b, u)}, nil
	case (op == "add" || op == "subtract") && dur(a) && dur(b):
		return d, []arrow.DataType{d, d}, nil
	}
	return nil, nil, invalid("cannot apply %s to %s and %s: a timestamp minus a timestamp gives a duration, "+
		"a timestamp (or date) plus or minus a duration a timestamp (a date), durations add and subtract", op, TypeName(a), TypeName(b))
}

// nanosPerUnit is the length of one unit in nanoseconds.
func nanosPerUnit(u arrow.TimeUnit) int64 {
	return map[arrow.TimeUnit]int64{arrow.Second: 1e9, arrow.Millisecond: 1e6, arrow.Microsecond: 1e3, arrow.Nanosecond: 1}[u]
}

func init() {
	i64 := arrow.PrimitiveTypes.Int64
	// total_*(d[, fractional]): whole units in d, truncated toward zero, as
	// polars; with a second argument (fractional), the float64 quotient.
	for _, f := range []struct {
		name  string
		nanos int64
	}{
		{"total_days", 86_400e9}, {"total_hours", 3_600e9}, {"total_minutes", 60e9}, {"total_seconds", 1e9},
		{"total_milliseconds", 1e6}, {"total_microseconds", 1e3}, {"total_nanoseconds", 1},
	} {
		register(&Function{Name: f.name, Arity: 1, MaxArity: 2, eval: totalUnits(f.nanos),
			Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
				t := in[0]
				if IsNull(t) {
					t = &arrow.DurationType{Unit: arrow.Microsecond}
				}
				if t.ID() != arrow.DURATION {
					return nil, nil, invalid("dt.%s needs a duration, got %s (subtract two timestamps to get one)", f.name, TypeName(t))
				}
				if len(in) == 1 {
					return i64, []arrow.DataType{t}, nil
				}
				if !IsBool(in[1]) {
					return nil, nil, invalid("dt.%s: fractional must be a boolean constant, got %s", f.name, TypeName(in[1]))
				}
				return arrow.PrimitiveTypes.Float64, []arrow.DataType{t, in[1]}, nil
			}})
	}
	register(&Function{Name: "time", Arity: 1, eval: timeOfDay,
		Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
			t := in[0]
			switch {
			case IsNull(t):
				t = &arrow.TimestampType{Unit: arrow.Microsecond}
			case IsTime(t):
				return Time64Nanos, []arrow.DataType{Time64Nanos}, nil
			case t.ID() != arrow.TIMESTAMP:
				return nil, nil, invalid("dt.time needs a timestamp, got %s", TypeName(t))
			}
			return Time64Nanos, []arrow.DataType{t}, nil
		}})
}

func totalUnits(per int64) func(context.Context, []compute.Datum) (compute.Datum, error) {
	return func(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
		mem, x, anyArray, err := firstArg(ctx, args)
		if err != nil {
			return nil, err
		}
		defer x.Release()
		unit := nanosPerUnit(timeUnitOf(x.DataType()))
		vals := Values[int64](x)
		if len(args) == 2 { // fractional: the type says float64 whatever its value
			res := make([]float64, len(vals))
			for i, v := range vals {
				res[i] = float64(v) * float64(unit) / float64(per)
			}
			validity, nulls := copyValidity(mem, x)
			return result(FixedWidthArray(mem, arrow.PrimitiveTypes.Float64, res, validity, nulls), anyArray)
		}
		res := make([]int64, len(vals))
		for i, v := range vals {
			if unit >= per {
				res[i] = v * (unit / per)
			} else {
				res[i] = v / (per / unit) // Go truncates toward zero, as polars
			}
		}
		validity, nulls := copyValidity(mem, x)
		return result(FixedWidthArray(mem, arrow.PrimitiveTypes.Int64, res, validity, nulls), anyArray)
	}
}

// timeOfDay is the time of day of a timestamp (on its zone's wall clock,
// as the other fields), in nanoseconds.
func timeOfDay(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
	mem, x, anyArray, err := firstArg(ctx, args)
	if err != nil {
		return nil, err
	}
	defer x.Release()
	vals := Values[int64](x)
	res := make([]int64, len(vals))
	if x.DataType().ID() == arrow.TIME64 {
		copy(res, vals)
	} else {
		perDay, nanoPer := unitsOf(x.DataType())
		if vals, err = localTimes(x); err != nil {
			return nil, err
		}
		for i, v := range vals {
			res[i] = floorMod(v, perDay) * nanoPer
		}
	}
	validity, nulls := copyValidity(mem, x)
	return result(FixedWidthArray(mem, Time64Nanos, res, validity, nulls), anyArray)
}
