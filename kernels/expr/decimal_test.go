package expr

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// randomDecimals is n values of type t, extremes of its precision included,
// with a null in about every fifth row.
func randomDecimals(mem memory.Allocator, rng *rand.Rand, t *arrow.Decimal128Type, n int) arrow.Array {
	b := array.NewDecimal128Builder(mem, t)
	defer b.Release()
	limit := decimal128.GetScaleMultiplier(int(t.Precision)).Sub(decimal128.FromI64(1)) // 99...9
	for i := 0; i < n; i++ {
		switch rng.IntN(10) {
		case 0, 1:
			b.AppendNull()
		case 2:
			b.Append(limit)
		case 3:
			b.Append(limit.Negate())
		default:
			bound := int64(1_000_000_000)
			if t.Precision < 9 {
				bound = int64(limit.LowBits()) + 1
			}
			b.Append(decimal128.FromI64(rng.Int64N(2*bound-1) - bound + 1))
		}
	}
	return b.NewArray()
}

// The one-loop decimal kernels give what Arrow's kernels give, for arrays
// and scalars on either side, scales that differ, nulls, slices, and the
// largest values the types hold.
func TestDecimalArithMatchesArrow(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	types := [][2]*arrow.Decimal128Type{
		{{Precision: 15, Scale: 2}, {Precision: 15, Scale: 2}},
		{{Precision: 15, Scale: 2}, {Precision: 3, Scale: 0}},
		{{Precision: 12, Scale: 4}, {Precision: 10, Scale: 1}},
		{{Precision: 18, Scale: 0}, {Precision: 19, Scale: 18}},
	}
	for _, op := range []string{"add", "subtract", "multiply"} {
		for _, tt := range types {
			for _, shape := range []string{"array-array", "array-scalar", "scalar-array"} {
				t.Run(fmt.Sprintf("%s/%s/%s", op, tt, shape), func(t *testing.T) {
					mem, ctx := newMem(t)
					full := randomDecimals(mem, rng, tt[0], 200)
					defer full.Release()
					a := array.NewSlice(full, 3, 200)
					defer a.Release()
					b := randomDecimals(mem, rng, tt[1], 197)
					defer b.Release()
					args := []compute.Datum{compute.NewDatum(a), compute.NewDatum(b)}
					switch shape {
					case "array-scalar":
						args[1].Release()
						args[1] = compute.NewDatum(scalar.NewDecimal128Scalar(decimal128.FromI64(-123), tt[1]))
					case "scalar-array":
						args[0].Release()
						args[0] = compute.NewDatum(scalar.NewDecimal128Scalar(decimal128.FromI64(98765), tt[0]))
					}
					defer args[0].Release()
					defer args[1].Release()
					got, err := decimalArith(op)(ctx, args)
					if err != nil {
						t.Fatal(err)
					}
					defer got.Release()
					want, err := arrowCall(op)(ctx, args)
					if err != nil {
						t.Fatal(err)
					}
					defer want.Release()
					g, w := got.(*compute.ArrayDatum).MakeArray(), want.(*compute.ArrayDatum).MakeArray()
					defer g.Release()
					defer w.Release()
					if !arrow.TypeEqual(g.DataType(), w.DataType()) || !array.Equal(g, w) {
						t.Errorf("got %s %v\nwant %s %v", g.DataType(), g, w.DataType(), w)
					}
				})
			}
		}
	}
}

// Widening a decimal (same scale, more digits) shares the values' memory
// and equals Arrow's cast; a narrowing still goes through Arrow's checks.
func TestDecimalWidenMatchesArrowCast(t *testing.T) {
	mem, ctx := newMem(t)
	from := &arrow.Decimal128Type{Precision: 15, Scale: 2}
	full := randomDecimals(mem, rand.New(rand.NewPCG(1, 2)), from, 50)
	defer full.Release()
	a := array.NewSlice(full, 5, 50)
	defer a.Release()
	to := &arrow.Decimal128Type{Precision: 21, Scale: 2}
	got, err := castDatum(ctx, compute.NewDatum(a), to)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	want, err := compute.CastArray(ctx, a, compute.SafeCastOptions(to))
	if err != nil {
		t.Fatal(err)
	}
	defer want.Release()
	g := got.(*compute.ArrayDatum).MakeArray()
	defer g.Release()
	if !arrow.TypeEqual(g.DataType(), to) || !array.Equal(g, want) {
		t.Errorf("got %s %v, want %v", g.DataType(), g, want)
	}
	narrow := &arrow.Decimal128Type{Precision: 4, Scale: 2}
	if _, err := castDatum(ctx, compute.NewDatum(a), narrow); err == nil {
		t.Error("values of 15 digits cast to 4 digits: no error")
	}
}

// A cast to fewer digits at the same scale keeps the values when they all
// fit (a null row's value, whatever it is, does not count), as Arrow's
// cast does, and fails when one does not.
func TestDecimalNarrowCast(t *testing.T) {
	_, ctx := newMem(t)
	from := &arrow.Decimal128Type{Precision: 32, Scale: 4}
	to := &arrow.Decimal128Type{Precision: 21, Scale: 4}
	big := decimal128.GetScaleMultiplier(25)
	vals := []decimal128.Num{decimal128.FromI64(-123456789), big, decimal128.GetScaleMultiplier(21).Sub(decimal128.FromI64(1)), decimal128.FromI64(0)}
	buf := memory.NewBufferBytes(arrow.Decimal128Traits.CastToBytes(vals))
	valid := memory.NewBufferBytes([]byte{0b1101}) // row 1, the 25-digit value, is null
	data := array.NewData(from, len(vals), []*memory.Buffer{valid, buf}, nil, 1, 0)
	a := array.MakeFromData(data)
	data.Release()
	defer a.Release()
	got, err := castDatum(ctx, compute.NewDatum(a), to)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	g := got.(*compute.ArrayDatum).MakeArray()
	defer g.Release()
	if !arrow.TypeEqual(g.DataType(), to) || g.NullN() != 1 || fmt.Sprint(g) != "[-12345.6789 (null) 99999999999999999.9999 0]" {
		t.Errorf("got %s %v", g.DataType(), g)
	}
	all := array.NewSlice(a, 2, 4) // fits
	defer all.Release()
	if _, err := castDatum(ctx, compute.NewDatum(all), to); err != nil {
		t.Error(err)
	}
	vals[0] = big // now a valid row holds 25 digits
	if _, err := castDatum(ctx, compute.NewDatum(a), to); err == nil {
		t.Error("a 25-digit value cast to 21 digits: no error")
	}
}
