package expr

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

func TestTemporalFunctions(t *testing.T) {
	dates := c(d32, `[0, -1, 18321, 11016, null, -719162, 19000]`)
	tsUS := &arrow.TimestampType{Unit: arrow.Microsecond}
	tsUTC := &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}
	stamps := c(tsUS, `[-1, 1700000000123456, 951865261000000, null]`)
	runFn(t, []fnCase{
		{name: "year", fn: "year", args: []fnArg{dates},
			want: []any{int64(1970), int64(1969), int64(2020), int64(2000), nil, int64(1), int64(2022)}, wantType: i32},
		{name: "month", fn: "month", args: []fnArg{dates},
			want: []any{int64(1), int64(12), int64(2), int64(2), nil, int64(1), int64(1)}, wantType: i8},
		{name: "day", fn: "day", args: []fnArg{dates},
			want: []any{int64(1), int64(31), int64(29), int64(29), nil, int64(1), int64(8)}},
		{name: "weekday", fn: "weekday", args: []fnArg{dates},
			want: []any{int64(4), int64(3), int64(6), int64(2), nil, int64(1), int64(6)}},
		{name: "hour_of_date", fn: "hour", args: []fnArg{dates},
			want: []any{int64(0), int64(0), int64(0), int64(0), nil, int64(0), int64(0)}},
		{name: "ts_year", fn: "year", args: []fnArg{stamps}, want: []any{int64(1969), int64(2023), int64(2000), nil}},
		{name: "ts_day", fn: "day", args: []fnArg{stamps}, want: []any{int64(31), int64(14), int64(29), nil}},
		{name: "ts_weekday", fn: "weekday", args: []fnArg{stamps}, want: []any{int64(3), int64(2), int64(2), nil}},
		{name: "ts_hour", fn: "hour", args: []fnArg{stamps}, want: []any{int64(23), int64(22), int64(23), nil}},
		{name: "ts_minute", fn: "minute", args: []fnArg{stamps}, want: []any{int64(59), int64(13), int64(1), nil}},
		{name: "ts_second", fn: "second", args: []fnArg{stamps}, want: []any{int64(59), int64(20), int64(1), nil}},
		{name: "ts_seconds_tz", fn: "hour", args: []fnArg{c(tsUTC, `[3600, -3600, null]`)}, want: []any{int64(1), int64(23), nil}},
		{name: "year_of_string", fn: "year", args: []fnArg{c(utf8, `["2020"]`)}, errHas: "year needs a date or a timestamp, got utf8"},

		{name: "truncate_month", fn: "truncate", args: []fnArg{dates, ls("1mo")},
			want: []any{int64(0), int64(-31), int64(18293), int64(10988), nil, int64(-719162), int64(18993)}, wantType: d32},
		{name: "truncate_year", fn: "truncate", args: []fnArg{c(d32, `[18321, -1, null]`), ls("1y")},
			want: []any{int64(18262), int64(-365), nil}},
		{name: "truncate_quarter", fn: "truncate", args: []fnArg{c(d32, `[18321, 18382, null]`), ls("1q")},
			want: []any{int64(18262), int64(18353), nil}},
		{name: "truncate_week", fn: "truncate", args: []fnArg{c(d32, `[18321, 0, 18260, null]`), ls("1w")},
			want: []any{int64(18316), int64(-3), int64(18260), nil}},
		{name: "truncate_day_of_date", fn: "truncate", args: []fnArg{c(d32, `[18321, null]`), ls("1d")},
			want: []any{int64(18321), nil}},
		{name: "truncate_ts_day", fn: "truncate", args: []fnArg{stamps, ls("1d")},
			want: []any{int64(-86400000000), int64(1699920000000000), int64(951782400000000), nil}, wantType: tsUS},
		{name: "truncate_ts_hour", fn: "truncate", args: []fnArg{stamps, ls("1h")},
			want: []any{int64(-3600000000), int64(1699999200000000), int64(951865200000000), nil}},
		{name: "truncate_ts_month", fn: "truncate", args: []fnArg{stamps, ls("1mo")},
			want: []any{int64(-31 * 86400000000), int64(19662 * 86400000000), int64(10988 * 86400000000), nil}},
		{name: "truncate_two_days", fn: "truncate", args: []fnArg{dates, ls("2d")},
			want: []any{int64(0), int64(-2), int64(18320), int64(11016), nil, int64(-719162), int64(19000)}},
		{name: "truncate_two_weeks", fn: "truncate", args: []fnArg{dates, ls("2w")}, errHas: `supports "1y", "1q", "1mo", "1w" and fixed lengths`},
		{name: "truncate_date_hours", fn: "truncate", args: []fnArg{dates, ls("6h")}, errHas: "a date has no time of day"},
		{name: "truncate_bad", fn: "truncate", args: []fnArg{dates, ls("month")}, errHas: "is not a duration"},

		{name: "offset_days", fn: "offset_by", args: []fnArg{dates, ls("3d")},
			want: []any{int64(3), int64(2), int64(18324), int64(11019), nil, int64(-719159), int64(19003)}, wantType: d32},
		{name: "offset_negative_week", fn: "offset_by", args: []fnArg{c(d32, `[18321, null]`), ls("-1w")},
			want: []any{int64(18314), nil}},
		{name: "offset_month_clamps", fn: "offset_by", args: []fnArg{c(d32, `[18352, 18321, null]`), ls("1mo")},
			want: []any{int64(18382), int64(18350), nil}},
		{name: "offset_year_leap", fn: "offset_by", args: []fnArg{c(d32, `[18321]`), ls("1y")},
			want: []any{int64(18686)}},
		{name: "offset_back_months", fn: "offset_by", args: []fnArg{c(d32, `[18352]`), ls("-1mo")},
			want: []any{int64(18321)}},
		{name: "offset_ts", fn: "offset_by", args: []fnArg{stamps, ls("1d2h")},
			want: []any{int64(93600000000 - 1), int64(1700093600123456), int64(951958861000000), nil}},
		{name: "offset_date_by_hours", fn: "offset_by", args: []fnArg{dates, ls("5h")}, errHas: "whole days"},
		{name: "offset_seconds_by_ns", fn: "offset_by", args: []fnArg{c(tsUTC, `[1]`), ls("1ns")}, errHas: "finer than"},

		{name: "days_between", fn: "days_between", args: []fnArg{dates, l(scalar.NewDate32Scalar(18262))},
			want: []any{int64(-18262), int64(-18263), int64(59), int64(-7246), nil, int64(-737424), int64(738)}, wantType: i64},
		{name: "days_between_ts", fn: "days_between", args: []fnArg{stamps, stamps}, errHas: "needs two dates"},
	})
}

func TestStrftime(t *testing.T) {
	us := &arrow.TimestampType{Unit: arrow.Microsecond}
	ny := &arrow.TimestampType{Unit: arrow.Second, TimeZone: "America/New_York"}
	runFn(t, []fnCase{
		// 2024-03-01 09:05:07.123456 and 1969-12-31 23:59:59 (before the epoch).
		{name: "timestamp", fn: "strftime", args: []fnArg{c(us, `[1709283907123456, -1000000, null]`), ls("%Y-%m-%d %H:%M:%S%.6f %a %b %j %I%p")},
			want: []any{"2024-03-01 09:05:07.123456 Fri Mar 061 09AM", "1969-12-31 23:59:59.000000 Wed Dec 365 11PM", nil}},
		{name: "date", fn: "strftime", args: []fnArg{c(d32, `[19783]`), ls("%F %A %B %e")}, want: []any{"2024-03-01 Friday March  1"}},
		{name: "zone", fn: "strftime", args: []fnArg{c(ny, `[1709283907]`), ls("%T %z")}, want: []any{"04:05:07 -0500"}},
		{name: "bad_code", fn: "strftime", args: []fnArg{c(us, `[0]`), ls("%Q")}, errHas: "unknown format code %Q"},
	})
}
