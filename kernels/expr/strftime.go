package expr

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
)

// strftime(x, format) formats a date or timestamp as text with polars'
// (chrono's) format codes, as polars' dt.strftime / dt.to_string: %Y %y %m
// %d %e %H %I %M %S %f (microseconds... as chrono: nanoseconds, 9 digits)
// %3f %6f %9f %.3f %.6f %.9f %.f %p %j %a %A %b %B %h %F %T %D %R %z %Z %%.
// A timestamp with a time zone is formatted in that zone.

func init() {
	register(&Function{Name: "strftime", Arity: 2, eval: strftime,
		Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
			t, err := temporalArg("dt.strftime", in[0])
			if err != nil {
				return nil, nil, err
			}
			if !IsString(in[1]) && !IsNull(in[1]) {
				return nil, nil, invalid("dt.strftime's format must be text, got %s", TypeName(in[1]))
			}
			return arrow.BinaryTypes.String, []arrow.DataType{t, arrow.BinaryTypes.String}, nil
		}})
}

func strftime(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
	f := constant(args[1])
	if f == nil || !f.IsValid() {
		return nil, invalid("dt.strftime's format must be a constant text")
	}
	format := f.String()
	mem, x, anyArray, err := firstArg(ctx, args)
	if err != nil {
		return nil, err
	}
	defer x.Release()
	perDay, nanoPer := unitsOf(x.DataType())
	loc := time.UTC
	if ts, ok := x.DataType().(*arrow.TimestampType); ok && ts.TimeZone != "" {
		if loc, err = ts.GetZone(); err != nil || loc == nil {
			loc = time.UTC
		}
	}
	var vals []int64
	if x.DataType().ID() == arrow.DATE32 {
		for _, d := range Values[int32](x) {
			vals = append(vals, int64(d))
		}
	} else {
		vals = Values[int64](x)
	}
	b := array.NewStringBuilder(mem)
	defer b.Release()
	var sb strings.Builder
	for i := range x.Len() {
		if !x.IsValid(i) {
			b.AppendNull()
			continue
		}
		days := floorDiv(vals[i], perDay)
		nanos := (vals[i] - days*perDay) * nanoPer
		t := time.Unix(days*86400, nanos).In(loc)
		sb.Reset()
		if err := formatTime(&sb, t, format); err != nil {
			return nil, err
		}
		b.Append(sb.String())
	}
	return result(b.NewArray(), anyArray)
}

// formatTime writes t by chrono's format codes.
func formatTime(sb *strings.Builder, t time.Time, format string) error {
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			sb.WriteByte(c)
			continue
		}
		i++
		if i >= len(format) {
			return invalid("dt.strftime: the format ends in a lone %%")
		}
		code := string(format[i])
		// %3f %6f %9f and %.3f %.6f %.9f %.f
		if format[i] == '.' || (format[i] >= '0' && format[i] <= '9') {
			j := i
			for j < len(format) && format[j] != 'f' {
				j++
			}
			if j >= len(format) {
				return invalid("dt.strftime: unknown code %%%s", format[i:])
			}
			code, i = format[i:j+1], j
		}
		ns := t.Nanosecond()
		switch code {
		case "Y":
			fmt.Fprintf(sb, "%04d", t.Year())
		case "y":
			fmt.Fprintf(sb, "%02d", t.Year()%100)
		case "C":
			fmt.Fprintf(sb, "%02d", t.Year()/100)
		case "m":
			fmt.Fprintf(sb, "%02d", int(t.Month()))
		case "d":
			fmt.Fprintf(sb, "%02d", t.Day())
		case "e":
			fmt.Fprintf(sb, "%2d", t.Day())
		case "H":
			fmt.Fprintf(sb, "%02d", t.Hour())
		case "I":
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			fmt.Fprintf(sb, "%02d", h)
		case "M":
			fmt.Fprintf(sb, "%02d", t.Minute())
		case "S":
			fmt.Fprintf(sb, "%02d", t.Second())
		case "f":
			fmt.Fprintf(sb, "%09d", ns)
		case "3f":
			fmt.Fprintf(sb, "%03d", ns/1e6)
		case "6f":
			fmt.Fprintf(sb, "%06d", ns/1e3)
		case "9f":
			fmt.Fprintf(sb, "%09d", ns)
		case ".3f":
			fmt.Fprintf(sb, ".%03d", ns/1e6)
		case ".6f":
			fmt.Fprintf(sb, ".%06d", ns/1e3)
		case ".9f":
			fmt.Fprintf(sb, ".%09d", ns)
		case ".f":
			switch {
			case ns == 0:
			case ns%1e6 == 0:
				fmt.Fprintf(sb, ".%03d", ns/1e6)
			case ns%1e3 == 0:
				fmt.Fprintf(sb, ".%06d", ns/1e3)
			default:
				fmt.Fprintf(sb, ".%09d", ns)
			}
		case "p":
			sb.WriteString(map[bool]string{false: "AM", true: "PM"}[t.Hour() >= 12])
		case "j":
			fmt.Fprintf(sb, "%03d", t.YearDay())
		case "a":
			sb.WriteString(t.Weekday().String()[:3])
		case "A":
			sb.WriteString(t.Weekday().String())
		case "b", "h":
			sb.WriteString(t.Month().String()[:3])
		case "B":
			sb.WriteString(t.Month().String())
		case "u":
			fmt.Fprintf(sb, "%d", (int(t.Weekday())+6)%7+1)
		case "w":
			fmt.Fprintf(sb, "%d", int(t.Weekday()))
		case "F":
			fmt.Fprintf(sb, "%04d-%02d-%02d", t.Year(), int(t.Month()), t.Day())
		case "T":
			fmt.Fprintf(sb, "%02d:%02d:%02d", t.Hour(), t.Minute(), t.Second())
		case "R":
			fmt.Fprintf(sb, "%02d:%02d", t.Hour(), t.Minute())
		case "D":
			fmt.Fprintf(sb, "%02d/%02d/%02d", int(t.Month()), t.Day(), t.Year()%100)
		case "z":
			sb.WriteString(t.Format("-0700"))
		case "Z":
			sb.WriteString(t.Format("MST"))
		case "s":
			fmt.Fprintf(sb, "%d", t.Unix())
		case "%":
			sb.WriteByte('%')
		default:
			return invalid("dt.strftime: unknown format code %%%s", code)
		}
	}
	return nil
}
