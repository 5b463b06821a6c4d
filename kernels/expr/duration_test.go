package expr

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

func TestDurationsAndTimes(t *testing.T) {
	tsUS := &arrow.TimestampType{Unit: arrow.Microsecond}
	tsMS := &arrow.TimestampType{Unit: arrow.Millisecond}
	durUS := &arrow.DurationType{Unit: arrow.Microsecond}
	durS := &arrow.DurationType{Unit: arrow.Second}
	tsUTC := &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	stamps := c(tsUS, `[86400000001, -1, null, 0]`)
	// 1 h, -1 day + 5 s, null, 2 days + 7 us
	durs := c(durUS, `[3600000000, -86395000000, null, 172800000007]`)
	runFn(t, []fnCase{
		{name: "ts_minus_ts", fn: "subtract", args: []fnArg{stamps, c(tsMS, `[0, 0, 5, 1]`)},
			want: []any{int64(86400000001), int64(-1), nil, int64(-1000)}, wantType: durUS},
		{name: "date_minus_date", fn: "subtract", args: []fnArg{c(d32, `[1, -1, null]`), c(d32, `[0, 0, 0]`)},
			want: []any{int64(86400000000), int64(-86400000000), nil}, wantType: durUS},
		{name: "ts_plus_duration", fn: "add", args: []fnArg{stamps, l(scalar.NewDurationScalar(2, durS))},
			want: []any{int64(86402000001), int64(1999999), nil, int64(2000000)}, wantType: tsUS},
		{name: "duration_plus_ts", fn: "add", args: []fnArg{durs, stamps},
			want: []any{int64(90000000001), int64(-86395000001), nil, int64(172800000007)}, wantType: tsUS},
		{name: "ts_minus_duration", fn: "subtract", args: []fnArg{stamps, durs},
			want: []any{int64(82800000001), int64(86394999999), nil, int64(-172800000007)}},
		{name: "date_plus_duration", fn: "add", args: []fnArg{c(d32, `[1, -1, null, 0]`), c(durUS, `[-3600000000, -1, 5, 86400000000]`)},
			want: []any{int64(0), int64(-2), nil, int64(1)}, wantType: d32},
		{name: "duration_plus_date", fn: "add", args: []fnArg{c(durUS, `[-3600000000, 1]`), c(d32, `[1, -1]`)},
			want: []any{int64(0), int64(-1)}, wantType: d32},
		{name: "date_minus_duration", fn: "subtract", args: []fnArg{c(d32, `[1, -1, 0]`), c(durS, `[1, -1, -86400]`)},
			want: []any{int64(0), int64(-1), int64(1)}, wantType: d32},
		{name: "duration_minus_date", fn: "subtract", args: []fnArg{c(durS, `[1]`), c(d32, `[1]`)}, errHas: "cannot apply subtract to duration[s] and date32"},
		{name: "duration_minus_duration", fn: "subtract", args: []fnArg{durs, durs},
			want: []any{int64(0), int64(0), nil, int64(0)}, wantType: durUS},
		{name: "ts_plus_ts", fn: "add", args: []fnArg{stamps, stamps}, errHas: "a timestamp minus a timestamp gives a duration"},
		{name: "duration_minus_ts", fn: "subtract", args: []fnArg{durs, stamps}, errHas: "cannot apply subtract to duration[us] and timestamp[us]"},
		{name: "zones_differ", fn: "subtract", args: []fnArg{stamps, c(tsUTC, `[0, 0, 0, 0]`)}, errHas: "time zones differ"},

		{name: "total_days", fn: "total_days", args: []fnArg{durs},
			want: []any{int64(0), int64(0), nil, int64(2)}, wantType: i64},
		{name: "total_hours", fn: "total_hours", args: []fnArg{durs},
			want: []any{int64(1), int64(-23), nil, int64(48)}},
		{name: "total_seconds", fn: "total_seconds", args: []fnArg{durs},
			want: []any{int64(3600), int64(-86395), nil, int64(172800)}},
		{name: "total_nanoseconds", fn: "total_nanoseconds", args: []fnArg{durs},
			want: []any{int64(3600000000000), int64(-86395000000000), nil, int64(172800000007000)}},
		{name: "total_ms_of_seconds", fn: "total_milliseconds", args: []fnArg{c(durS, `[-3, null]`)},
			want: []any{int64(-3000), nil}},
		{name: "total_hours_fractional", fn: "total_hours", args: []fnArg{c(durS, `[5400, -1800, null]`), l(scalar.NewBooleanScalar(true))},
			want: []any{1.5, -0.5, nil}, wantType: f64},
		{name: "total_of_timestamp", fn: "total_days", args: []fnArg{stamps}, errHas: "dt.total_days needs a duration, got timestamp[us]"},

		{name: "time_of_timestamp", fn: "time", args: []fnArg{stamps},
			want: []any{int64(1000), int64(86399999999000), nil, int64(0)}, wantType: Time64Nanos},
		{name: "time_of_duration", fn: "time", args: []fnArg{durs}, errHas: "dt.time needs a timestamp, got duration[us]"},
		{name: "hour_of_time", fn: "hour", args: []fnArg{c(&arrow.Time32Type{Unit: arrow.Second}, `[0, 86399, null, 45296]`)},
			want: []any{int64(0), int64(23), nil, int64(12)}, wantType: i8},
		{name: "minute_of_time", fn: "minute", args: []fnArg{c(Time64Nanos, `[45296000000001, null]`)},
			want: []any{int64(34), nil}},
		{name: "second_of_time", fn: "second", args: []fnArg{c(&arrow.Time64Type{Unit: arrow.Microsecond}, `[45296000001]`)},
			want: []any{int64(56)}},
		{name: "year_of_time", fn: "year", args: []fnArg{c(Time64Nanos, `[1]`)}, errHas: "year needs a date or a timestamp"},

		{name: "compare_durations", fn: "lt", args: []fnArg{durs, l(scalar.NewDurationScalar(0, durS))},
			want: []any{false, true, nil, false}},
		{name: "compare_times", fn: "ge", args: []fnArg{c(Time64Nanos, `[1, 5, null]`), c(&arrow.Time32Type{Unit: arrow.Second}, `[0, 1, 1]`)},
			want: []any{true, false, nil}},
		{name: "binary_equal", fn: "eq", args: []fnArg{c(arrow.BinaryTypes.Binary, `["YWI=", "", null]`), l(scalar.NewBinaryScalar(memory.NewBufferBytes([]byte{}), arrow.BinaryTypes.Binary))},
			want: []any{false, true, nil}},
	})
}
