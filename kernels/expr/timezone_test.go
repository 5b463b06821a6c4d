package expr

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

func TestTimeZones(t *testing.T) {
	berlin := &arrow.TimestampType{Unit: arrow.Second, TimeZone: "Europe/Berlin"}
	kolkata := &arrow.TimestampType{Unit: arrow.Second, TimeZone: "Asia/Kolkata"}
	naive := &arrow.TimestampType{Unit: arrow.Second}
	// 2024-03-31 00:59:59 UTC (01:59:59 CET), 01:00:00 UTC (03:00 CEST),
	// 2024-10-27 00:30 UTC (02:30 CEST) and 01:30 UTC (02:30 CET), null
	stamps := `[1711846799, 1711846800, 1729989000, 1729992600, null]`
	runFn(t, []fnCase{
		{name: "hour_berlin", fn: "hour", args: []fnArg{c(berlin, stamps)},
			want: []any{int64(1), int64(3), int64(2), int64(2), nil}},
		{name: "minute_kolkata", fn: "minute", args: []fnArg{c(kolkata, stamps)},
			want: []any{int64(29), int64(30), int64(0), int64(0), nil}},
		{name: "date_kolkata", fn: "date", args: []fnArg{c(kolkata, `[1711909800, 1711909799, null]`)}, // 2024-04-01 00:00 and 03-31 23:59:59 IST
			want: []any{int64(19814), int64(19813), nil}, wantType: arrow.FixedWidthTypes.Date32},
		{name: "time_berlin", fn: "time", args: []fnArg{c(berlin, `[1711846800]`)},
			want: []any{int64(3 * 3600e9)}},
		// 2024-03-30 12:00 CET; a day later it is 12:00 CEST, 23 hours on
		{name: "offset_day_berlin", fn: "offset_by", args: []fnArg{c(berlin, `[1711796400, null]`), ls("1d")},
			want: []any{int64(1711879200), nil}},
		{name: "offset_hours_berlin", fn: "offset_by", args: []fnArg{c(berlin, `[1711796400]`), ls("24h")},
			want: []any{int64(1711882800)}},
		{name: "truncate_day_berlin", fn: "truncate", args: []fnArg{c(berlin, `[1711879200]`), ls("1d")},
			want: []any{int64(1711839600)}}, // 2024-03-31 00:00 CET
	})
	// replace_time_zone: 2024-03-31 02:30 does not exist in Berlin;
	// 2024-10-27 02:30 exists twice; 12:00 once.
	walls := c(naive, `[1711852200, 1729996200, 1711886400, null]`)
	zone := func(args ...string) []fnArg {
		out := []fnArg{walls, l(scalar.NewStringScalar("Europe/Berlin"))}
		for _, a := range args {
			out = append(out, ls(a))
		}
		return out
	}
	runFn(t, []fnCase{
		{name: "replace_earliest", fn: "replace_time_zone", args: zone("earliest", "null"),
			want: []any{nil, int64(1729989000), int64(1711879200), nil}, wantType: berlin},
		{name: "replace_latest", fn: "replace_time_zone", args: zone("latest", "null"),
			want: []any{nil, int64(1729992600), int64(1711879200), nil}},
		{name: "replace_raise_ambiguous", fn: "replace_time_zone", args: zone("raise", "null"),
			errHas: "2024-10-27 02:30:00 is ambiguous in Europe/Berlin"},
		{name: "replace_raise_skipped", fn: "replace_time_zone", args: zone("null", "raise"),
			errHas: "2024-03-31 02:30:00 does not exist in Europe/Berlin"},
		{name: "convert", fn: "convert_time_zone", args: []fnArg{c(berlin, `[0, null]`), ls("Asia/Kolkata")},
			want: []any{int64(0), nil}, wantType: kolkata},
		{name: "convert_naive", fn: "convert_time_zone", args: []fnArg{c(naive, `[0]`), ls("UTC")},
			errHas: "needs a timestamp with a time zone"},
		{name: "unknown_zone", fn: "convert_time_zone", args: []fnArg{c(berlin, `[0]`), ls("Mars/Base")},
			errHas: `unknown time zone "Mars/Base"`},
	})
}

func TestCalendarFieldsAndEpoch(t *testing.T) {
	us := &arrow.TimestampType{Unit: arrow.Microsecond}
	// 2021-01-03 (Sunday of ISO week 53 of 2020), 1960-02-29, 2024-12-30
	// (Monday of ISO week 1 of 2025), null
	days := c(d32, `[18630, -3594, 20087, null]`)
	runFn(t, []fnCase{
		{name: "week", fn: "week", args: []fnArg{days}, want: []any{int64(53), int64(9), int64(1), nil}},
		{name: "iso_year", fn: "iso_year", args: []fnArg{days}, want: []any{int64(2020), int64(1960), int64(2025), nil}},
		{name: "quarter", fn: "quarter", args: []fnArg{days}, want: []any{int64(1), int64(1), int64(4), nil}},
		{name: "ordinal_day", fn: "ordinal_day", args: []fnArg{days}, want: []any{int64(3), int64(60), int64(365), nil},
			wantType: arrow.PrimitiveTypes.Int16},
		{name: "microsecond", fn: "microsecond", args: []fnArg{c(us, `[1735520523456789, -1]`)}, want: []any{int64(456789), int64(999999)}},
		{name: "epoch_s", fn: "epoch", args: []fnArg{c(us, `[1735520523456789, -1, null]`), ls("s")},
			want: []any{int64(1735520523), int64(-1), nil}, wantType: i64},
		{name: "epoch_ns", fn: "epoch", args: []fnArg{c(us, `[-1]`), ls("ns")}, want: []any{int64(-1000)}},
		{name: "epoch_d_of_date", fn: "epoch", args: []fnArg{days, ls("d")},
			want: []any{int64(18630), int64(-3594), int64(20087), nil}, wantType: arrow.PrimitiveTypes.Int32},
		{name: "epoch_bad_unit", fn: "epoch", args: []fnArg{days, ls("h")}, errHas: "time_unit must be one of"},
	})
}
