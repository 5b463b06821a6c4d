package exec

import (
	"context"
	"encoding/binary"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
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

// takeBatch copies the given rows of b into a new batch.
func takeBatch(ctx context.Context, mem memory.Allocator, b arrow.RecordBatch, rows []int64) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, 0, b.NumCols())
	defer func() { releaseArrays(cols) }()
	for _, c := range b.Columns() {
		t, err := takeRows(ctx, mem, c, rows)
		if err != nil {
			return nil, err
		}
		cols = append(cols, t)
	}
	return array.NewRecordBatch(b.Schema(), cols, int64(len(rows))), nil
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

// hashColumn folds each row's value of a into hashes.
func hashColumn(a arrow.Array, hashes []uint64) error {
	value := func(i int, v uint64) {
		if a.IsNull(i) {
			v = nullHash
		}
		hashes[i] = mix(hashes[i], v)
	}
	switch a := a.(type) {
	case *array.Int8:
		for i := range hashes {
			value(i, uint64(int64(a.Value(i))))
		}
	case *array.Int16:
		for i := range hashes {
			value(i, uint64(int64(a.Value(i))))
		}
	case *array.Int32:
		for i := range hashes {
			value(i, uint64(int64(a.Value(i))))
		}
	case *array.Int64:
		for i := range hashes {
			value(i, uint64(a.Value(i)))
		}
	case *array.Uint8:
		for i := range hashes {
			value(i, uint64(a.Value(i)))
		}
	case *array.Uint16:
		for i := range hashes {
			value(i, uint64(a.Value(i)))
		}
	case *array.Uint32:
		for i := range hashes {
			value(i, uint64(a.Value(i)))
		}
	case *array.Uint64:
		for i := range hashes {
			value(i, a.Value(i))
		}
	case *array.Float32:
		for i := range hashes {
			value(i, floatBits(float64(a.Value(i))))
		}
	case *array.Float64:
		for i := range hashes {
			value(i, floatBits(a.Value(i)))
		}
	case *array.Boolean:
		for i := range hashes {
			v := uint64(0)
			if a.Value(i) {
				v = 1
			}
			value(i, v)
		}
	case *array.Date32:
		for i := range hashes {
			value(i, uint64(int64(a.Value(i))))
		}
	case *array.Date64:
		for i := range hashes {
			value(i, uint64(int64(a.Value(i))))
		}
	case *array.Timestamp:
		for i := range hashes {
			value(i, uint64(int64(a.Value(i))))
		}
	case *array.Decimal128:
		for i := range hashes {
			v := a.Value(i)
			value(i, mix(v.LowBits(), uint64(v.HighBits())))
		}
	case *array.String:
		for i := range hashes {
			value(i, hashString(a.Value(i)))
		}
	case *array.LargeString:
		for i := range hashes {
			value(i, hashString(a.Value(i)))
		}
	case *array.StringView:
		for i := range hashes {
			value(i, hashString(a.Value(i)))
		}
	case *array.Binary:
		for i := range hashes {
			value(i, hashString(string(a.Value(i))))
		}
	case *array.LargeBinary:
		for i := range hashes {
			value(i, hashString(string(a.Value(i))))
		}
	case *array.Null:
		for i := range hashes {
			value(i, nullHash)
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
