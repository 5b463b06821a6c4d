package expr

import (
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestHashColumnIntegers: an integer hashes by its value whatever its
// width or sign (so equal keys of different widths meet), a null as
// nullHash, in sliced arrays too; a dictionary of strings hashes each row
// as its string does.
func TestHashColumnIntegers(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	vals := []int64{-3, 0, 7, -128, 127, 5}
	valid := []bool{true, true, false, true, true, true}
	want := make([]uint64, len(vals))
	for i, v := range vals {
		x := uint64(nullHash)
		if valid[i] {
			x = uint64(v)
		}
		want[i] = mix(11, x)
	}
	for _, typ := range []arrow.DataType{arrow.PrimitiveTypes.Int8, arrow.PrimitiveTypes.Int16, arrow.PrimitiveTypes.Int32,
		arrow.PrimitiveTypes.Int64, arrow.FixedWidthTypes.Date32, arrow.FixedWidthTypes.Duration_s} {
		b := array.NewBuilder(mem, typ)
		b.AppendNull() // sliced off below
		for i, v := range vals {
			if !valid[i] {
				b.AppendNull()
				continue
			}
			switch bb := b.(type) {
			case *array.Int8Builder:
				bb.Append(int8(v))
			case *array.Int16Builder:
				bb.Append(int16(v))
			case *array.Int32Builder:
				bb.Append(int32(v))
			case *array.Int64Builder:
				bb.Append(v)
			case *array.Date32Builder:
				bb.Append(arrow.Date32(v))
			case *array.DurationBuilder:
				bb.Append(arrow.Duration(v))
			}
		}
		whole := b.NewArray()
		b.Release()
		a := array.NewSlice(whole, 1, int64(whole.Len()))
		hashes := make([]uint64, len(vals))
		for i := range hashes {
			hashes[i] = 11
		}
		if err := HashColumn(a, hashes); err != nil {
			t.Fatal(err)
		}
		for i := range hashes {
			if hashes[i] != want[i] {
				t.Errorf("%s row %d: hash %x, want %x", typ, i, hashes[i], want[i])
			}
		}
		a.Release()
		whole.Release()
	}

	sb := array.NewStringBuilder(mem)
	sb.AppendValues([]string{"x", "a longer string than eight", "x", ""}, []bool{true, true, false, true})
	plain := sb.NewArray()
	sb.AppendValues([]string{"", "x", "a longer string than eight"}, nil)
	dict := sb.NewArray()
	sb.Release()
	ib := array.NewInt32Builder(mem)
	ib.AppendValues([]int32{1, 2, 0, 0}, []bool{true, true, false, true})
	idx := ib.NewArray()
	ib.Release()
	d := array.NewDictionaryArray(&arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}, idx, dict)
	hashAlike(t, "", plain, d)
	// a slice reads its own rows of the indices
	ps, ds := array.NewSlice(plain, 1, 4), array.NewSlice(d, 1, 4)
	defer ps.Release()
	defer ds.Release()
	hashAlike(t, "sliced ", ps, ds)
	for _, a := range []arrow.Array{plain, dict, idx, d} {
		a.Release()
	}
}

// hashString tells apart strings that differ in one byte anywhere (the
// words it loads overlap) or only in length, at every length around its
// sixteen-byte steps.
func TestHashStringEveryByte(t *testing.T) {
	seen := map[uint64]string{}
	for n := range 40 {
		base := []byte(strings.Repeat("k", n))
		check := func(s string) {
			h := hashString(s)
			if other, ok := seen[h]; ok && other != s {
				t.Fatalf("%q and %q hash alike", s, other)
			}
			seen[h] = s
		}
		check(string(base))
		check(string(base) + "\x00")
		for p := range n {
			for _, c := range []byte{0, 0xff, 'j'} {
				b := slices.Clone(base)
				b[p] = c
				check(string(b))
			}
		}
	}
}

// hashAlike checks that each row of the dictionary array d hashes as the
// same row of plain.
func hashAlike(t *testing.T, what string, plain, d arrow.Array) {
	t.Helper()
	hp, hd := make([]uint64, plain.Len()), make([]uint64, d.Len())
	if err := HashColumn(plain, hp); err != nil {
		t.Fatal(err)
	}
	if err := HashColumn(d, hd); err != nil {
		t.Fatal(err)
	}
	for i := range hp {
		if hp[i] != hd[i] {
			t.Errorf("%srow %d: dictionary hash %x, plain %x", what, i, hd[i], hp[i])
		}
	}
}
