package exec

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// takeRows must give what Arrow's own take kernel gives, for every type it
// gathers itself and for one it hands on, on sliced inputs, with nulls,
// and with missing rows (-1: null, as an unmatched join side).
func TestTakeRowsMatchesArrowTake(t *testing.T) {
	mem, ctx := newMem(t)
	cases := []struct {
		dt   arrow.DataType
		json string
	}{
		{i8, `[1, null, -3, 4, 5, 6]`},
		{i16, `[1, 2, null, 4, 5, 6]`},
		{i32, `[1, 2, 3, null, 5, 6]`},
		{i64, `[9223372036854775807, 2, 3, 4, null, -9223372036854775808]`},
		{f64, `[1.5, null, "NaN", 4, 5, 6]`},
		{boo, `[true, false, null, true, true, false]`},
		{d32, `[1, 2, 3, 4, 5, null]`},
		{dec(15, 2), `["1.25", null, "-3.50", "4.00", "5.01", "9999999999999.99"]`},
		{utf8, `["a", "", null, "ünïcødé", "long string value", "z"]`},
		{lstr, `["a", "", null, "ünïcødé", "long string value", "z"]`},
		{arrow.BinaryTypes.Binary, `["YQ==", null, "", "Yg==", "Yw==", "ZA=="]`},
		{arrow.ListOf(i64), `[[1], null, [], [2, 3], [4], [5]]`}, // handed to Arrow
		{arrow.Null, `[null, null, null, null, null, null]`},
	}
	rowSets := [][]int64{{0, 1, 2, 3, 4}, {4, 4, 0, -1, 2}, {-1, -1}, {}, {3}}
	for _, tc := range cases {
		full, _, err := array.FromJSON(mem, tc.dt, strings.NewReader(tc.json))
		if err != nil {
			t.Fatalf("%s: %v", tc.dt, err)
		}
		src := array.NewSlice(full, 1, 6) // an offset, as slices of batches have
		for _, rows := range rowSets {
			got, err := takeRows(ctx, mem, src, rows)
			if err != nil {
				t.Fatalf("%s %v: %v", tc.dt, rows, err)
			}
			idx := indexArray(mem, rows)
			want, err := compute.TakeArray(ctx, src, idx)
			if err != nil {
				t.Fatal(err)
			}
			if !array.ApproxEqual(got, want, array.WithNaNsEqual(true)) || got.NullN() != want.NullN() {
				t.Errorf("%s rows %v: got %v, want %v", tc.dt, rows, got, want)
			}
			if ids, ok := asIDs(rows); ok { // a join's build rows named by group ids
				byID, err := takeRows(ctx, mem, src, ids)
				if err != nil {
					t.Fatalf("%s ids %v: %v", tc.dt, ids, err)
				}
				if !array.ApproxEqual(byID, want, array.WithNaNsEqual(true)) || byID.NullN() != want.NullN() {
					t.Errorf("%s ids %v: got %v, want %v", tc.dt, ids, byID, want)
				}
				byID.Release()
			}
			got.Release()
			want.Release()
			idx.Release()
		}
		src.Release()
		full.Release()
	}
}

// asIDs is rows as uint32 indices, when none is missing.
func asIDs(rows []int64) ([]uint32, bool) {
	ids := make([]uint32, len(rows))
	for k, r := range rows {
		if r < 0 {
			return nil, false
		}
		ids[k] = uint32(r)
	}
	return ids, true
}

// An empty build side (its buffers may be absent) gives all-null rows.
func TestTakeRowsFromEmpty(t *testing.T) {
	mem, ctx := newMem(t)
	for _, dt := range []arrow.DataType{i64, boo, utf8, lstr, dec(15, 2)} {
		empty := array.MakeArrayOfNull(mem, dt, 0)
		got, err := takeRows(ctx, mem, empty, []int64{-1, -1, -1})
		if err != nil {
			t.Fatal(err)
		}
		if got.Len() != 3 || got.NullN() != 3 {
			t.Errorf("%s: got %v, want three nulls", dt, got)
		}
		got.Release()
		empty.Release()
	}
}

// selectedRows reads masks 64 rows at a time; it must list exactly the
// true, non-null rows of masks of any length, offset and null layout
// (null rows may have their value bit set, and bits past the end may be).
func TestSelectedRows(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	randomBits := func(n int) *memory.Buffer {
		b := make([]byte, n/8+9)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return memory.NewBufferBytes(b)
	}
	for _, n := range []int{0, 1, 63, 64, 65, 200, 1000} {
		for _, nulls := range []bool{false, true} {
			for _, off := range []int{0, 3, 8, 64} {
				var valid *memory.Buffer
				nullCount := 0
				if nulls {
					valid, nullCount = randomBits(n+off), array.UnknownNullCount
				}
				data := array.NewData(boo, n, []*memory.Buffer{valid, randomBits(n + off)}, nil, nullCount, off)
				mask := array.NewBooleanData(data)
				data.Release()
				var want []int64
				for i := range mask.Len() {
					if mask.IsValid(i) && mask.Value(i) {
						want = append(want, int64(i))
					}
				}
				got := selectedRows(mask, countTrue(mask))
				if fmt.Sprint(got) != fmt.Sprint(want) || len(want) != countTrue(mask) {
					t.Errorf("%d rows from %d, nulls %v: got %v, want %v", n, off, nulls, got, want)
				}
				mask.Release()
			}
		}
	}
}
