package expr

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// Time zones. A timestamp with a time zone stores UTC; its calendar and
// clock fields (dt.hour, dt.day, dt.date, dt.time, dt.strftime, ...) are
// read on the wall clock of its zone, as polars reads them.
// convert_time_zone keeps the instant and changes the zone (only the type
// changes); replace_time_zone keeps the wall clock and changes the zone,
// so the instant moves: a wall time the zone skips (spring forward) or
// repeats (fall back) is resolved by non_existent / ambiguous as polars:
// "raise" (an error), "null", and for a repeated time "earliest" or
// "latest".

func init() {
	register(&Function{Name: "date", Arity: 1, eval: dateOf,
		Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
			t, err := temporalArg("dt.date", in[0])
			if err != nil {
				return nil, nil, err
			}
			return arrow.FixedWidthTypes.Date32, []arrow.DataType{t}, nil
		}})
	register(&Function{Name: "convert_time_zone", Arity: 2, eval: convertTimeZone,
		Resolve: needConstArgs("dt.convert_time_zone"),
		ResolveConst: func(in []arrow.DataType, consts []scalar.Scalar) (arrow.DataType, []arrow.DataType, error) {
			ts, ok := in[0].(*arrow.TimestampType)
			if !ok {
				return nil, nil, invalid("dt.convert_time_zone needs a timestamp, got %s", TypeName(in[0]))
			}
			if ts.TimeZone == "" {
				return nil, nil, invalid("dt.convert_time_zone needs a timestamp with a time zone, got %s: set one first with dt.replace_time_zone", TypeName(in[0]))
			}
			zone, ok := constText(consts[1])
			if !ok {
				return nil, nil, invalid("dt.convert_time_zone needs a constant time zone name such as \"Europe/Berlin\"")
			}
			if _, err := loadZone("dt.convert_time_zone", zone); err != nil {
				return nil, nil, err
			}
			return &arrow.TimestampType{Unit: ts.Unit, TimeZone: zone}, []arrow.DataType{ts, arrow.BinaryTypes.String}, nil
		}})
	register(&Function{Name: "replace_time_zone", Arity: 4, eval: replaceTimeZone,
		Resolve: needConstArgs("dt.replace_time_zone"),
		ResolveConst: func(in []arrow.DataType, consts []scalar.Scalar) (arrow.DataType, []arrow.DataType, error) {
			ts, ok := in[0].(*arrow.TimestampType)
			if !ok {
				return nil, nil, invalid("dt.replace_time_zone needs a timestamp, got %s", TypeName(in[0]))
			}
			zone := ""
			if consts[1] != nil && consts[1].IsValid() {
				z, ok := constText(consts[1])
				if !ok {
					return nil, nil, invalid("dt.replace_time_zone needs a time zone name such as \"Europe/Berlin\", or None")
				}
				if _, err := loadZone("dt.replace_time_zone", z); err != nil {
					return nil, nil, err
				}
				zone = z
			} else if consts[1] == nil {
				return nil, nil, invalid("dt.replace_time_zone needs a constant time zone name, or None")
			}
			for i, allowed := range map[int][]string{2: {"raise", "earliest", "latest", "null"}, 3: {"raise", "null"}} {
				v, ok := constText(consts[i])
				if !ok || !contains(allowed, v) {
					what := map[int]string{2: "ambiguous", 3: "non_existent"}[i]
					return nil, nil, invalid("dt.replace_time_zone's %s must be one of %q", what, allowed)
				}
			}
			s := arrow.BinaryTypes.String
			return &arrow.TimestampType{Unit: ts.Unit, TimeZone: zone}, []arrow.DataType{ts, s, s, s}, nil
		}})
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// needConstArgs is the Resolve of a function whose type needs
// ResolveConst (the planner calls that one).
func needConstArgs(fn string) func([]arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
	return func([]arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
		return nil, nil, invalid("%s needs constant arguments", fn)
	}
}

func loadZone(fn, name string) (*time.Location, error) {
	loc, err := time.LoadLocation(name)
	if err != nil || name == "" || name == "Local" {
		return nil, invalid("%s: unknown time zone %q: use a name of the IANA database such as \"Europe/Berlin\" or \"UTC\"", fn, name)
	}
	return loc, nil
}

// zoneOf is the location a timestamp type's values are read in, nil for
// a naive timestamp, a date or UTC (no conversion needed).
func zoneOf(t arrow.DataType) (*time.Location, error) {
	ts, ok := t.(*arrow.TimestampType)
	if !ok || ts.TimeZone == "" || ts.TimeZone == "UTC" {
		return nil, nil
	}
	loc, err := ts.GetZone()
	if err != nil || loc == nil {
		return nil, invalid("unknown time zone %q in %s", ts.TimeZone, TypeName(t))
	}
	return loc, nil
}

// unitsPerSecond is how many units of a timestamp type make a second.
func unitsPerSecond(t arrow.DataType) int64 {
	_, nanoPer := unitsOf(t)
	return 1_000_000_000 / nanoPer
}

// localTimes reads a date or timestamp array as int64 values, a timestamp
// with a time zone on its zone's wall clock.
func localTimes(a arrow.Array) ([]int64, error) {
	vals := times(a)
	loc, err := zoneOf(a.DataType())
	if loc == nil || err != nil {
		return vals, err
	}
	out := make([]int64, len(vals))
	perSec := unitsPerSecond(a.DataType())
	for i, v := range vals {
		if a.IsValid(i) {
			out[i] = v + offsetAt(loc, floorDiv(v, perSec))*perSec
		}
	}
	return out, nil
}

// offsetAt is the zone's offset from UTC, in seconds, at an instant.
func offsetAt(loc *time.Location, unixSec int64) int64 {
	_, off := time.Unix(unixSec, 0).In(loc).Zone()
	return int64(off)
}

// fromWallClock is the instant (seconds) a wall-clock time (seconds since
// the epoch as if the zone were UTC) stands for in loc: two when the clock
// repeats it, none when the clock skips it.
func fromWallClock(loc *time.Location, wall int64) (instants [2]int64, n int) {
	// The offsets a day around cover any transition near the wall time.
	for _, off := range [2]int64{offsetAt(loc, wall-86400), offsetAt(loc, wall+86400)} {
		t := wall - off
		if offsetAt(loc, t) != off || (n == 1 && instants[0] == t) {
			continue
		}
		instants[n] = t
		n++
	}
	if n == 2 && instants[0] > instants[1] {
		instants[0], instants[1] = instants[1], instants[0]
	}
	return instants, n
}

// dateOf is dt.date: the calendar day on the zone's wall clock.
func dateOf(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
	mem, x, anyArray, err := firstArg(ctx, args)
	if err != nil {
		return nil, err
	}
	defer x.Release()
	vals, err := localTimes(x)
	if err != nil {
		return nil, err
	}
	perDay, _ := unitsOf(x.DataType())
	out := make([]int32, len(vals))
	for i, v := range vals {
		out[i] = int32(floorDiv(v, perDay))
	}
	validity, nulls := copyValidity(mem, x)
	return result(FixedWidthArray(mem, arrow.FixedWidthTypes.Date32, out, validity, nulls), anyArray)
}

// convertTimeZone relabels the timestamps with the new zone: the values
// (UTC instants) stay.
func convertTimeZone(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
	zone, ok, err := stringArg("dt.convert_time_zone", "time zone", args[1])
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, invalid("dt.convert_time_zone needs a time zone, got null")
	}
	ts := datumType(args[0]).(*arrow.TimestampType)
	to := &arrow.TimestampType{Unit: ts.Unit, TimeZone: zone}
	_, anyArray := rowCount(args)
	x, err := asArray(Allocator(ctx), args[0], 1)
	if err != nil {
		return nil, err
	}
	defer x.Release()
	d := x.Data()
	data := array.NewData(to, d.Len(), d.Buffers(), nil, d.NullN(), d.Offset())
	defer data.Release()
	return result(array.MakeFromData(data), anyArray)
}

// replaceTimeZone keeps each wall-clock time and reads it in the new zone
// (no zone: a naive timestamp).
func replaceTimeZone(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
	zone, _, err := stringArg("dt.replace_time_zone", "time zone", args[1])
	if err != nil {
		return nil, err
	}
	ambiguous, _, err := stringArg("dt.replace_time_zone", "ambiguous", args[2])
	if err != nil {
		return nil, err
	}
	nonExistent, _, err := stringArg("dt.replace_time_zone", "non_existent", args[3])
	if err != nil {
		return nil, err
	}
	ts := datumType(args[0]).(*arrow.TimestampType)
	to := &arrow.TimestampType{Unit: ts.Unit, TimeZone: zone}
	var loc *time.Location
	if zone != "" && zone != "UTC" {
		if loc, err = loadZone("dt.replace_time_zone", zone); err != nil {
			return nil, err
		}
	}
	mem, x, anyArray, err := firstArg(ctx, args)
	if err != nil {
		return nil, err
	}
	defer x.Release()
	wall, err := localTimes(x)
	if err != nil {
		return nil, err
	}
	perSec := unitsPerSecond(ts)
	out := make([]int64, len(wall))
	valid := make([]bool, len(wall))
	for i, w := range wall {
		if !x.IsValid(i) {
			continue
		}
		if loc == nil {
			out[i], valid[i] = w, true
			continue
		}
		sec := floorDiv(w, perSec)
		frac := w - sec*perSec
		instants, n := fromWallClock(loc, sec)
		switch {
		case n == 1:
			out[i], valid[i] = instants[0]*perSec+frac, true
		case n == 0 && nonExistent == "null", n == 2 && ambiguous == "null":
		case n == 0:
			return nil, invalid("dt.replace_time_zone: %s does not exist in %s (the clocks skip it); non_existent=\"null\" gives null", wallText(sec), zone)
		case ambiguous == "earliest":
			out[i], valid[i] = instants[0]*perSec+frac, true
		case ambiguous == "latest":
			out[i], valid[i] = instants[1]*perSec+frac, true
		default:
			return nil, invalid("dt.replace_time_zone: %s is ambiguous in %s (the clocks repeat it); ambiguous=\"earliest\", \"latest\" or \"null\" says which", wallText(sec), zone)
		}
	}
	b := array.NewTimestampBuilder(mem, to)
	defer b.Release()
	b.Reserve(len(out))
	for i, v := range out {
		if valid[i] {
			b.Append(arrow.Timestamp(v))
		} else {
			b.AppendNull()
		}
	}
	return result(b.NewArray(), anyArray)
}

func wallText(sec int64) string {
	return fmt.Sprint(time.Unix(sec, 0).UTC().Format("2006-01-02 15:04:05"))
}

// onWallClock applies f, a function of timestamp values, to the wall
// clock of t's time zone: the value is read on the wall clock, f applied,
// and the result read back as an instant, keeping the value's offset from
// UTC when the wall time is ambiguous (as polars' dt.truncate). A naive
// or UTC timestamp takes f as it is.
func onWallClock(t arrow.DataType, f func(int64) int64) func(int64) int64 {
	loc, err := zoneOf(t)
	if loc == nil || err != nil {
		return f
	}
	perSec := unitsPerSecond(t)
	return func(v int64) int64 {
		off := offsetAt(loc, floorDiv(v, perSec))
		wall := f(v+off*perSec) - off*perSec // f on the wall clock, read back with v's offset
		if offsetAt(loc, floorDiv(wall, perSec)) == off {
			return wall
		}
		sec := floorDiv(wall+off*perSec, perSec)
		frac := wall + off*perSec - sec*perSec
		if instants, n := fromWallClock(loc, sec); n > 0 {
			return instants[0]*perSec + frac
		}
		// A wall time the clocks skip: the instant after the gap.
		return (sec-offsetAt(loc, sec-86400))*perSec + frac
	}
}
