package expr

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

func TestDurationMeanMedian(t *testing.T) {
	mem, _ := newMem(t)
	us := &arrow.DurationType{Unit: arrow.Microsecond}
	// group 0: 1, 2 (mean 1.5 -> 1); group 1: -1, -2 (-1.5 -> -1);
	// group 2: only null; group 3: 1, 2, 2 (median 2)
	b1 := fromJSON(t, mem, us, `[1, -1, null, 1]`)
	b2 := fromJSON(t, mem, us, `[2, -2, 2, 2]`)
	defer b1.Release()
	defer b2.Release()
	arrs := []arrow.Array{b1, b2}
	ids := [][]uint32{{0, 1, 2, 3}, {0, 1, 3, 3}}
	for fn, want := range map[string][]any{
		"mean_duration":   {int64(1), int64(-1), nil, int64(1)},
		"median_duration": {int64(1), int64(-1), nil, int64(2)},
	} {
		got := accumulate(t, mem, fn, us, arrs, ids, []int{4, 4}, 4)
		if !sameValues(got, want) {
			t.Errorf("%s = %v, want %v", fn, got, want)
		}
	}
	mean, _ := Lookup("mean")
	if alt, ok := DurationAggregate(mean, []arrow.DataType{us}); !ok || alt.Name != "mean_duration" {
		t.Errorf("DurationAggregate(mean, duration) = %v, %v", alt, ok)
	}
	if _, ok := DurationAggregate(mean, []arrow.DataType{i64}); ok {
		t.Error("DurationAggregate(mean, int64) gives a duration form")
	}
	out, _, err := mustLookup(t, "quantile_duration").Resolve([]arrow.DataType{us, f64, utf8})
	if err != nil || !arrow.TypeEqual(out, us) {
		t.Errorf("quantile_duration resolves to %v, %v", out, err)
	}
}

func mustLookup(t *testing.T, name string) *Function {
	t.Helper()
	fn, ok := Lookup(name)
	if !ok {
		t.Fatalf("no function %s", name)
	}
	return fn
}
