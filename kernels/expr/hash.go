package expr

import (
	"context"
	"encoding/binary"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"slipstream/kernels"
)

const nullHash = 0x9e3779b97f4a7c15

// mix folds v into h (a 64-bit finalizer, as in splitmix64).
func mix(h, v uint64) uint64 {
	h ^= v + 0x9e3779b97f4a7c15 + (h << 6) + (h >> 2)
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ (h >> 31)
}

// valued is an Arrow array of T values.
type valued[T any] interface {
	Value(int) T
	IsNull(int) bool
}

// hashValues folds bits(value) of each row of a into hashes.
func hashValues[T any](a valued[T], hashes []uint64, bits func(T) uint64) {
	for i := range hashes {
		v := uint64(nullHash)
		if !a.IsNull(i) {
			v = bits(a.Value(i))
		}
		hashes[i] = mix(hashes[i], v)
	}
}

// hashInts is hashValues of integers (as their int64 or uint64 value),
// read straight from the values and the validity bitmap.
func hashInts[T ~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64](a arrow.Array, vals []T, hashes []uint64) {
	vals = vals[:len(hashes)]
	if a.NullN() == 0 {
		for i, v := range vals {
			hashes[i] = mix(hashes[i], uint64(v))
		}
		return
	}
	for i, v := range vals {
		x := uint64(nullHash)
		if a.IsValid(i) {
			x = uint64(v)
		}
		hashes[i] = mix(hashes[i], x)
	}
}

// HashColumn folds each row's value of a into hashes: a fixed function
// of the values (not seeded per process), so that equal keys hash alike on
// every node; integers hash by value whatever their width, strings by
// their bytes whatever their offset width.
func HashColumn(a arrow.Array, hashes []uint64) error {
	switch a := a.(type) {
	case *array.Int8:
		hashInts(a, a.Values(), hashes)
	case *array.Int16:
		hashInts(a, a.Values(), hashes)
	case *array.Int32:
		hashInts(a, a.Values(), hashes)
	case *array.Int64:
		hashInts(a, a.Values(), hashes)
	case *array.Uint8:
		hashInts(a, a.Values(), hashes)
	case *array.Uint16:
		hashInts(a, a.Values(), hashes)
	case *array.Uint32:
		hashInts(a, a.Values(), hashes)
	case *array.Uint64:
		hashInts(a, a.Values(), hashes)
	case *array.Float32:
		hashValues(a, hashes, func(v float32) uint64 { return floatBits(float64(v)) })
	case *array.Float64:
		hashValues(a, hashes, floatBits)
	case *array.Boolean:
		hashValues(a, hashes, func(v bool) uint64 {
			if v {
				return 1
			}
			return 0
		})
	case *array.Date32:
		hashInts(a, a.Values(), hashes)
	case *array.Date64:
		hashInts(a, a.Values(), hashes)
	case *array.Timestamp:
		hashInts(a, a.Values(), hashes)
	case *array.Duration:
		hashInts(a, a.Values(), hashes)
	case *array.Time32:
		hashInts(a, a.Values(), hashes)
	case *array.Time64:
		hashInts(a, a.Values(), hashes)
	case *array.Decimal128:
		hashValues(a, hashes, func(v decimal128.Num) uint64 { return mix(v.LowBits(), uint64(v.HighBits())) })
	case *array.String:
		hashValues(a, hashes, hashString)
	case *array.LargeString:
		hashValues(a, hashes, hashString)
	case *array.StringView:
		hashValues(a, hashes, hashString)
	case *array.Binary:
		hashValues(a, hashes, func(v []byte) uint64 { return hashString(string(v)) })
	case *array.LargeBinary:
		hashValues(a, hashes, func(v []byte) uint64 { return hashString(string(v)) })
	case *array.Null:
		for i := range hashes {
			hashes[i] = mix(hashes[i], nullHash)
		}
	case *array.Dictionary:
		return hashDictionary(a, hashes)
	default:
		return kernels.Errorf(kernels.NotSupported, "cannot hash a %s column", TypeName(a.DataType()))
	}
	return nil
}

// StringAt is value i of a string or binary array (plain or large) as a
// Go string over its bytes; ok is false for any other array.
func StringAt(a arrow.Array, i int) (v string, ok bool) {
	switch a := a.(type) {
	case *array.String:
		return a.Value(i), true
	case *array.LargeString:
		return a.Value(i), true
	case *array.Binary:
		return a.ValueString(i), true
	case *array.LargeBinary:
		return a.ValueString(i), true
	}
	return "", false
}

// hashDictionary hashes each row of a dictionary array of strings as its
// value would hash (a row's value hashed once for all the rows naming it).
func hashDictionary(a *array.Dictionary, hashes []uint64) error {
	dict := a.Dictionary()
	if _, ok := StringAt(dict, 0); !ok && dict.Len() > 0 {
		return kernels.Errorf(kernels.NotSupported, "cannot hash a %s column", TypeName(a.DataType()))
	}
	of := make([]uint64, dict.Len())
	for k := range of {
		of[k] = nullHash
		if dict.IsValid(k) {
			v, _ := StringAt(dict, k)
			of[k] = hashString(v)
		}
	}
	if idx, ok := a.Indices().(*array.Int32); ok { // what the Parquet readers give
		nulls := a.NullN() > 0
		for i, k := range idx.Int32Values() {
			v := uint64(nullHash)
			if !nulls || a.IsValid(i) {
				v = of[k]
			}
			hashes[i] = mix(hashes[i], v)
		}
		return nil
	}
	for i := range hashes {
		v := uint64(nullHash)
		if a.IsValid(i) {
			v = of[a.GetValueIndex(i)]
		}
		hashes[i] = mix(hashes[i], v)
	}
	return nil
}

// hashString hashes bytes eight at a time through mix. Written here
// because kernels use Arrow alone and Arrow's own hashing is internal.
func hashString(s string) uint64 {
	h := uint64(len(s))
	for len(s) >= 8 {
		h = mix(h, binary.LittleEndian.Uint64([]byte(s[:8])))
		s = s[8:]
	}
	var tail [8]byte
	copy(tail[:], s)
	return mix(h, binary.LittleEndian.Uint64(tail[:]))
}

// floatBits makes equal floats hash alike: -0 as 0, every NaN as one.
func floatBits(f float64) uint64 {
	switch {
	case f == 0:
		return 0
	case math.IsNaN(f):
		return binary.LittleEndian.Uint64([]byte{0, 0, 0, 0, 0, 0, 0xf8, 0x7f})
	}
	return math.Float64bits(f)
}

func init() {
	// hash(x, seed): a uint64 hash of each value, the same on every node
	// and run (polars' Expr.hash; the values differ from polars').
	u64 := arrow.PrimitiveTypes.Uint64
	register(&Function{Name: "hash", Arity: 1, MaxArity: 2,
		Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
			if err := checkParam("hash", "seed", in, 1, IsInteger); err != nil {
				return nil, nil, err
			}
			return u64, append([]arrow.DataType{in[0]}, paramTypes(in[1:], u64)...), nil
		},
		eval: func(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
			mem := Allocator(ctx)
			n, anyArray := rowCount(args)
			arrs, release, err := asArrays(mem, args, n)
			if err != nil {
				return nil, err
			}
			defer release()
			hashes := make([]uint64, n)
			if len(arrs) == 2 {
				seeds := arrs[1].(*array.Uint64)
				for i := range hashes {
					if seeds.IsValid(i) {
						hashes[i] = seeds.Value(i)
					}
				}
			}
			if err := HashColumn(arrs[0], hashes); err != nil {
				return nil, err
			}
			return result(FixedWidthArray(mem, u64, hashes, nil, 0), anyArray)
		}})
}
