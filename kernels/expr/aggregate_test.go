package expr

import (
	"math"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// accumulate runs fn over batches of (values, ids) pairs, the groups
// growing from batch to batch, and returns Finish(ngroups) as Go values.
func accumulate(t *testing.T, mem memory.Allocator, fn string, in arrow.DataType, batches []arrow.Array, ids [][]uint32, ngroups []int, final int) []any {
	t.Helper()
	f, ok := Lookup(fn)
	if !ok {
		t.Fatalf("no aggregate %s", fn)
	}
	acc := f.NewAccumulator(in, nil)
	for i, vals := range batches {
		acc.Update(vals, ids[i], ngroups[i])
	}
	out := acc.Finish(mem, final)
	defer out.Release()
	if out.Len() != final {
		t.Fatalf("%s finished %d groups, want %d", fn, out.Len(), final)
	}
	return goValues(out)
}

func TestAccumulatorsGrowAcrossBatches(t *testing.T) {
	mem, _ := newMem(t)
	// Batch 1 knows groups 0..1, batch 2 adds group 2; group 3 never gets a
	// row and group 1 only gets nulls.
	b1 := fromJSON(t, mem, i64, `[5, null, 7]`)
	b2 := fromJSON(t, mem, i64, `[-1, 10, null]`)
	defer b1.Release()
	defer b2.Release()
	arrs := []arrow.Array{b1, b2}
	ids := [][]uint32{{0, 1, 0}, {2, 0, 1}}
	ng := []int{2, 3}

	cases := []struct {
		fn   string
		want []any
	}{
		{"count", []any{int64(3), int64(0), int64(1), int64(0)}},
		{"sum", []any{int64(22), nil, int64(-1), nil}},
		{"min", []any{int64(5), nil, int64(-1), nil}},
		{"max", []any{int64(10), nil, int64(-1), nil}},
	}
	for _, tc := range cases {
		if got := accumulate(t, mem, tc.fn, i64, arrs, ids, ng, 4); !sameValues(got, tc.want) {
			t.Errorf("%s = %v, want %v", tc.fn, got, tc.want)
		}
	}
	f, _ := Lookup("len")
	acc := f.NewAccumulator(nil, nil)
	acc.Update(nil, ids[0], 2)
	acc.Update(nil, ids[1], 3)
	out := acc.Finish(mem, 4)
	defer out.Release()
	if got := goValues(out); !sameValues(got, []any{int64(3), int64(2), int64(1), int64(0)}) {
		t.Errorf("len = %v", got)
	}

	fl := f64s(mem, []float64{1, 2, 4, 0}, []bool{true, true, true, false})
	defer fl.Release()
	if got := accumulate(t, mem, "mean", f64, []arrow.Array{fl}, [][]uint32{{0, 0, 1, 2}}, []int{3}, 3); !sameValues(got, []any{1.5, 4.0, nil}) {
		t.Errorf("mean = %v", got)
	}
}

// An integer min or max keeps its groups' values from a bound (the least
// int for max): a group whose values are the bound itself has a value, a
// group of nulls has none.
func TestMinMaxOfTheBoundingValues(t *testing.T) {
	mem, _ := newMem(t)
	for _, tc := range []struct {
		fn   string
		typ  arrow.DataType
		json string // the bound, null, 3, the bound, null
	}{
		{"max", i64, `[-9223372036854775808, null, 3, -9223372036854775808, null]`},
		{"min", i64, `[9223372036854775807, null, 3, 9223372036854775807, null]`},
		{"max", arrow.PrimitiveTypes.Int8, `[-128, null, 3, -128, null]`},
		{"min", arrow.PrimitiveTypes.Uint32, `[4294967295, null, 3, 4294967295, null]`},
		{"max", arrow.PrimitiveTypes.Uint16, `[0, null, 3, 0, null]`},
	} {
		vals := fromJSON(t, mem, tc.typ, tc.json)
		// Group 0: the bound alone; 1: nulls; 2: 3 and the bound, in a
		// later batch; 3: no rows.
		first, second := array.NewSlice(vals, 0, 2), array.NewSlice(vals, 2, 5)
		got := accumulate(t, mem, tc.fn, tc.typ, []arrow.Array{first, second}, [][]uint32{{0, 1}, {2, 2, 1}}, []int{2, 3}, 4)
		bound, three := goValues(first)[0], goValues(second)[0]
		first.Release()
		second.Release()
		vals.Release()
		if want := []any{bound, nil, three, nil}; !sameValues(got, want) {
			t.Errorf("%s of %s %s = %v, want %v", tc.fn, tc.typ, tc.json, got, want)
		}
	}
}

// A sum told that every group comes through Update keeps no bits while
// no value is null; a group whose rows are all null, after the first
// null, and a total of no rows still have none.
func TestSumOfGroupsAllUpdated(t *testing.T) {
	mem, _ := newMem(t)
	f, _ := Lookup("sum")
	b1 := fromJSON(t, mem, i64, `[1, 2, 3]`)
	b2 := fromJSON(t, mem, i64, `[4, null, 6]`)
	b3 := fromJSON(t, mem, i64, `[7]`)
	none := fromJSON(t, mem, i64, `[]`)
	for _, b := range []arrow.Array{b1, b2, b3, none} {
		defer b.Release()
	}
	for _, tc := range []struct {
		batches []arrow.Array
		ids     [][]uint32
		ngroups []int
		want    []any
	}{
		{[]arrow.Array{b1, b2, b3}, [][]uint32{{0, 1, 0}, {2, 3, 1}, {4}}, []int{2, 4, 5}, []any{int64(4), int64(8), int64(4), nil, int64(7)}},
		{[]arrow.Array{b1, b3}, [][]uint32{{0, 1, 0}, {2}}, []int{2, 3}, []any{int64(4), int64(2), int64(7)}},
		{[]arrow.Array{none}, [][]uint32{{}}, []int{1}, []any{nil}},
	} {
		acc := f.NewAccumulator(i64, nil)
		acc.(EveryGroupUpdated).EveryGroupUpdated()
		for i, b := range tc.batches {
			acc.Update(b, tc.ids[i], tc.ngroups[i])
		}
		n := len(tc.want)
		out := acc.Finish(mem, n)
		if got := goValues(out); !sameValues(got, tc.want) {
			t.Errorf("sum = %v, want %v", got, tc.want)
		}
		out.Release()
		if n > 1 { // and a batch at a time
			part := acc.(RangeFinisher).FinishRange(mem, 1, n)
			if got := goValues(part); !sameValues(got, tc.want[1:]) {
				t.Errorf("groups 1.. = %v, want %v", got, tc.want[1:])
			}
			part.Release()
		}
	}
}

func TestMinMaxStringsOutliveTheirBatch(t *testing.T) {
	mem, _ := newMem(t)
	arr := fromJSON(t, mem, lstr, `["pear", "apple", null, "ünïcode"]`)
	f, _ := Lookup("max")
	acc := f.NewAccumulator(lstr, nil)
	acc.Update(arr, []uint32{0, 0, 1, 1}, 2)
	// Scribble over the batch's bytes, as a reused buffer would, then free it.
	data := arr.Data().Buffers()[2].Bytes()
	for i := range data {
		data[i] = 'X'
	}
	arr.Release()
	out := acc.Finish(mem, 2)
	defer out.Release()
	if got := goValues(out); !sameValues(got, []any{"pear", "ünïcode"}) {
		t.Errorf("max = %v, want [pear ünïcode]", got)
	}
}

func TestMinMaxEveryType(t *testing.T) {
	cases := []struct {
		dt       arrow.DataType
		js       string
		min, max any
	}{
		{i8, `[3, -128, null, 127]`, int64(-128), int64(127)},
		{i16, `[3, -2, null]`, int64(-2), int64(3)},
		{i32, `[3, -2, null]`, int64(-2), int64(3)},
		{i64, `[3, -9223372036854775808, null]`, int64(-9223372036854775808), int64(3)},
		{u8, `[3, 255, null]`, uint64(3), uint64(255)},
		{u16, `[3, 65535, null]`, uint64(3), uint64(65535)},
		{u32, `[3, 4294967295, null]`, uint64(3), uint64(4294967295)},
		{u64, `[18446744073709551615, 1, null]`, uint64(1), uint64(18446744073709551615)},
		{f32, `[1.5, -2.5, null]`, -2.5, 1.5},
		{f64, `[1.5, -2.5, null]`, -2.5, 1.5},
		{boo, `[true, false, null]`, false, true},
		{lstr, `["b", "a", null, "é"]`, "a", "é"},
		{d32, `[19000, 18000, null]`, int64(18000), int64(19000)},
		{ts(arrow.Millisecond, "UTC"), `[5, -5, null]`, int64(-5), int64(5)},
		{dec(20, 3), `["-1.500", "12345678901234567.000", null, "0.001"]`, "-1.500", "12345678901234567.000"},
	}
	for _, tc := range cases {
		t.Run(TypeName(tc.dt), func(t *testing.T) {
			mem, _ := newMem(t)
			arr := fromJSON(t, mem, tc.dt, tc.js)
			defer arr.Release()
			ids := make([]uint32, arr.Len())
			for name, want := range map[string]any{"min": tc.min, "max": tc.max} {
				got := accumulate(t, mem, name, tc.dt, []arrow.Array{arr}, [][]uint32{ids}, []int{1}, 1)
				if !sameValue(got[0], want) {
					t.Errorf("%s = %v, want %v", name, got[0], want)
				}
			}
		})
	}
}

func TestValidityOf(t *testing.T) {
	mem, _ := newMem(t)
	if buf, nulls := ValidityOf(mem, []bool{true, true}); buf != nil || nulls != 0 {
		t.Errorf("no nulls: got a bitmap (%v) or %d nulls", buf, nulls)
	}
	buf, nulls := ValidityOf(mem, []bool{true, false, true, false, false})
	if nulls != 3 {
		t.Errorf("nulls = %d, want 3", nulls)
	}
	arr := FixedWidthArray(mem, i32, []int32{1, 2, 3, 4, 5}, buf, nulls)
	defer arr.Release()
	if got := goValues(arr); !sameValues(got, []any{int64(1), nil, int64(3), nil, nil}) {
		t.Errorf("FixedWidthArray = %v", got)
	}
	if _, ok := arr.(*array.Int32); !ok {
		t.Errorf("FixedWidthArray made %T", arr)
	}
}

func TestMinMaxNaN(t *testing.T) {
	// NaN is greater than every number (DuckDB's order, and Arrow's sort):
	// min skips it, max is NaN once one is seen.
	nan := math.NaN()
	cases := []struct {
		vals     []float64
		valid    []bool
		min, max any
	}{
		{[]float64{1, nan, -2}, nil, -2.0, nan},
		{[]float64{nan, 1, -2}, nil, -2.0, nan},
		{[]float64{nan, nan}, nil, nan, nan},
		{[]float64{nan, 3}, []bool{false, true}, 3.0, 3.0},
		{[]float64{math.Inf(1), nan, math.Inf(-1)}, nil, math.Inf(-1), nan},
	}
	for _, tc := range cases {
		for _, dt := range []arrow.DataType{f64, f32} {
			mem, _ := newMem(t)
			arr := f64s(mem, tc.vals, tc.valid)
			in := arr
			if dt == f32 {
				b := array.NewFloat32Builder(mem)
				for i, v := range tc.vals {
					if tc.valid != nil && !tc.valid[i] {
						b.AppendNull()
					} else {
						b.Append(float32(v))
					}
				}
				in = b.NewArray()
				b.Release()
				arr.Release()
			}
			ids := make([]uint32, in.Len())
			for name, want := range map[string]any{"min": tc.min, "max": tc.max} {
				if got := accumulate(t, mem, name, dt, []arrow.Array{in}, [][]uint32{ids}, []int{1}, 1); !sameValue(got[0], want) {
					t.Errorf("%s(%v) as %s = %v, want %v", name, tc.vals, dt, got[0], want)
				}
			}
			in.Release()
		}
	}
}

// The common aggregates build any range of groups alone (a group-by's
// output a batch at a time), the same values as Finish, groups past the
// last one updated included.
func TestFinishRangeIsFinishInPieces(t *testing.T) {
	mem, _ := newMem(t)
	b1 := fromJSON(t, mem, f64, `[5, null, 7]`)
	b2 := fromJSON(t, mem, f64, `[-1, 10, null]`)
	defer b1.Release()
	defer b2.Release()
	for _, fn := range []string{"len", "count", "sum", "min", "max", "mean"} {
		f, _ := Lookup(fn)
		var in arrow.DataType = f64
		if fn == "len" {
			in = nil
		}
		whole, pieces := f.NewAccumulator(in, nil), f.NewAccumulator(in, nil)
		for _, acc := range []Accumulator{whole, pieces} {
			acc.Update(b1, []uint32{0, 1, 0}, 2)
			acc.Update(b2, []uint32{2, 0, 1}, 3)
		}
		out := whole.Finish(mem, 5)
		want := goValues(out)
		out.Release()
		rf, ok := pieces.(RangeFinisher)
		if !ok {
			t.Fatalf("%s does not finish a range", fn)
		}
		var got []any
		for _, r := range [][2]int{{0, 1}, {1, 3}, {3, 5}} {
			part := rf.FinishRange(mem, r[0], r[1])
			if part.Len() != r[1]-r[0] {
				t.Errorf("%s: range %v has %d values", fn, r, part.Len())
			}
			got = append(got, goValues(part)...)
			part.Release()
		}
		if !sameValues(got, want) {
			t.Errorf("%s in pieces = %v, whole = %v", fn, got, want)
		}
	}
}
