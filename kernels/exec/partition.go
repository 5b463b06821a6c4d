package exec

import (
	"context"
	"encoding/binary"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels"
	"slipstream/kernels/expr"
)

// Partitioner splits batches into n buckets by a hash of key expressions,
// so that equal keys land in the same bucket on every node: the hash is
// a fixed function of the values (not seeded per process), integers hash
// by value whatever their width, and strings by their bytes whatever
// their offset width.
type Partitioner struct {
	mem  memory.Allocator
	keys []expr.Expr
	n    int
}

// NewPartitioner hashes keys into n buckets.
func NewPartitioner(mem memory.Allocator, keys []expr.Expr, n int) *Partitioner {
	return &Partitioner{mem: mem, keys: keys, n: n}
}

// Split returns one batch per bucket (nil where the bucket gets no row).
func (p *Partitioner) Split(ctx context.Context, b arrow.RecordBatch) ([]arrow.RecordBatch, error) {
	out := make([]arrow.RecordBatch, p.n)
	if p.n == 1 {
		b.Retain()
		out[0] = b
		return out, nil
	}
	keys, err := keyArrays(ctx, p.keys, b)
	if err != nil {
		return nil, err
	}
	defer releaseArrays(keys)
	rows := int(b.NumRows())
	hashes := make([]uint64, rows)
	for _, k := range keys {
		if err := hashColumn(k, hashes); err != nil {
			return nil, err
		}
	}
	idx := make([][]int64, p.n)
	for i, h := range hashes {
		bucket := (h >> 1) % uint64(p.n)
		idx[bucket] = append(idx[bucket], int64(i))
	}
	for bucket, rows := range idx {
		if len(rows) == 0 {
			continue
		}
		taken, err := takeBatch(ctx, p.mem, b, rows)
		if err != nil {
			ReleaseAll(out)
			return nil, err
		}
		out[bucket] = taken
	}
	return out, nil
}

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

// hashColumn folds each row's value of a into hashes.
func hashColumn(a arrow.Array, hashes []uint64) error {
	switch a := a.(type) {
	case *array.Int8:
		hashValues(a, hashes, func(v int8) uint64 { return uint64(int64(v)) })
	case *array.Int16:
		hashValues(a, hashes, func(v int16) uint64 { return uint64(int64(v)) })
	case *array.Int32:
		hashValues(a, hashes, func(v int32) uint64 { return uint64(int64(v)) })
	case *array.Int64:
		hashValues(a, hashes, func(v int64) uint64 { return uint64(v) })
	case *array.Uint8:
		hashValues(a, hashes, func(v uint8) uint64 { return uint64(v) })
	case *array.Uint16:
		hashValues(a, hashes, func(v uint16) uint64 { return uint64(v) })
	case *array.Uint32:
		hashValues(a, hashes, func(v uint32) uint64 { return uint64(v) })
	case *array.Uint64:
		hashValues(a, hashes, func(v uint64) uint64 { return v })
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
		hashValues(a, hashes, func(v arrow.Date32) uint64 { return uint64(int64(v)) })
	case *array.Date64:
		hashValues(a, hashes, func(v arrow.Date64) uint64 { return uint64(int64(v)) })
	case *array.Timestamp:
		hashValues(a, hashes, func(v arrow.Timestamp) uint64 { return uint64(int64(v)) })
	case *array.Duration:
		hashValues(a, hashes, func(v arrow.Duration) uint64 { return uint64(int64(v)) })
	case *array.Time32:
		hashValues(a, hashes, func(v arrow.Time32) uint64 { return uint64(int64(v)) })
	case *array.Time64:
		hashValues(a, hashes, func(v arrow.Time64) uint64 { return uint64(int64(v)) })
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
	default:
		return kernels.Errorf(kernels.NotSupported, "cannot hash-partition on a %s column", expr.TypeName(a.DataType()))
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
