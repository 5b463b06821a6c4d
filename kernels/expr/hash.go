package expr

import (
	"context"
	"encoding/binary"
	"math"
	"math/bits"
	"unsafe"

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
		hashVarBinary(a, a.ValueOffsets(), a.ValueBytes(), hashes)
	case *array.LargeString:
		hashVarBinary(a, a.ValueOffsets(), a.ValueBytes(), hashes)
	case *array.StringView:
		hashValues(a, hashes, hashString)
	case *array.Binary:
		hashVarBinary(a, a.ValueOffsets(), a.ValueBytes(), hashes)
	case *array.LargeBinary:
		hashVarBinary(a, a.ValueOffsets(), a.ValueBytes(), hashes)
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

// hashString hashes a string sixteen bytes at a time: two words, one
// 128-bit multiply of them under fixed keys, folded (wyhash's step; the
// same on every node), and the length in a last multiply of its own. The
// last words are loaded overlapping the ones before; the length tells
// such strings apart. Written here because kernels use Arrow alone and
// Arrow's own hashing is internal; three mixes of eight bytes each made
// hashing a string key a twelfth of a group-by's time.
func hashString(s string) uint64 {
	n := len(s)
	h := uint64(strKey0)
	for len(s) > 16 {
		h = mum(le64(s)^strKey1, le64(s[8:])^h)
		s = s[16:]
	}
	var a, b uint64
	switch m := len(s); {
	case m > 8:
		a, b = le64(s), le64(s[m-8:])
	case m >= 4:
		a = uint64(binary.LittleEndian.Uint32([]byte(s)))<<32 | uint64(binary.LittleEndian.Uint32([]byte(s[m-4:])))
	case m > 0:
		a = uint64(s[0])<<16 | uint64(s[m>>1])<<8 | uint64(s[m-1])
	}
	return mum(mum(a^strKey1, b^h)^strKey2, uint64(n)^strKey0)
}

// Keys of hashString (odd, bits spread).
const (
	strKey0 = 0xa0761d6478bd642f
	strKey1 = 0xe7037ed1a0b428db
	strKey2 = 0x8ebc6af09c88c6e3
)

func le64(s string) uint64 { return binary.LittleEndian.Uint64([]byte(s[:8])) }

// mum multiplies a and b into 128 bits and folds them.
func mum(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// hashVarBinary is hashValues of hashString for strings and binary read
// from their offsets and bytes (which start at the first offset), not a
// call through an interface a row.
func hashVarBinary[O int32 | int64](a arrow.Array, offsets []O, data []byte, hashes []uint64) {
	if len(hashes) == 0 {
		return
	}
	nulls := a.NullN() > 0
	base := offsets[0]
	for i := range hashes {
		v := uint64(nullHash)
		if !nulls || a.IsValid(i) {
			lo, hi := offsets[i]-base, offsets[i+1]-base
			v = hashString(unsafe.String(unsafe.SliceData(data[lo:hi]), int(hi-lo)))
		}
		hashes[i] = mix(hashes[i], v)
	}
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
