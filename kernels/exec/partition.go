package exec

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

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

// hashColumn folds each row's value of a into hashes (expr.HashColumn:
// the scalar hash function and partitioning hash alike).
func hashColumn(a arrow.Array, hashes []uint64) error { return expr.HashColumn(a, hashes) }
