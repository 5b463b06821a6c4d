package exec

import (
	"context"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels/budget"
)

// spillParts is how many files an operator that spills by hash (a hash
// aggregate's new groups, a hash join's two sides) splits its rows into.
// maxSpillLevels bounds the rounds: a part that does not fit after this
// many is one key (or a few) with more rows than memory holds.
const (
	spillParts     = 16
	maxSpillLevels = 6
)

// partWriter writes rows to spillParts files by a hash of their keys.
// The hash is seeded with the round of spilling (level), so a part that
// spills again splits anew instead of landing in one file; both sides of
// a join, at one level, send equal keys to the same part.
type partWriter struct {
	res    *budget.Reservation
	mem    memory.Allocator
	schema *arrow.Schema
	level  int
	files  []*budget.SpillWriter
}

func newPartWriter(res *budget.Reservation, mem memory.Allocator, schema *arrow.Schema, level int) *partWriter {
	return &partWriter{res: res, mem: mem, schema: schema, level: level, files: make([]*budget.SpillWriter, spillParts)}
}

// write sends the rows of b (those listed in rows, or all when rows is
// nil) to the parts their keys (arrays over all of b's rows) hash to.
// The caller keeps b.
func (w *partWriter) write(ctx context.Context, b arrow.RecordBatch, keys []arrow.Array, rows []int64) error {
	hashes, err := w.hashes(ctx, keys, rows)
	if err != nil {
		return err
	}
	byPart := make([][]int64, spillParts)
	for i, h := range hashes {
		r := int64(i)
		if rows != nil {
			r = rows[i]
		}
		p := (h >> 7) % spillParts
		byPart[p] = append(byPart[p], r)
	}
	all := rows == nil
	for p, sel := range byPart {
		if len(sel) == 0 {
			continue
		}
		if w.files[p] == nil {
			f, err := w.res.Spill(w.schema)
			if err != nil {
				return err
			}
			w.files[p] = f
		}
		part := b
		if !(all && len(sel) == int(b.NumRows())) {
			if part, err = takeBatch(ctx, w.mem, b, sel); err != nil {
				return err
			}
			defer part.Release()
		}
		if err := w.files[p].Write(part); err != nil {
			w.files[p] = nil // the writer removed its file
			return err
		}
	}
	return nil
}

// hashes are the seeded hashes of the keys of rows (nil: every row).
func (w *partWriter) hashes(ctx context.Context, keys []arrow.Array, rows []int64) ([]uint64, error) {
	n := len(rows)
	if rows == nil && len(keys) > 0 {
		n = keys[0].Len()
	}
	hashes := make([]uint64, n)
	seed := uint64(w.level+1) * 0x9e3779b97f4a7c15
	for i := range hashes {
		hashes[i] = seed
	}
	for _, k := range keys {
		if rows != nil {
			sub, err := takeRows(ctx, w.mem, k, rows)
			if err != nil {
				return nil, err
			}
			k = sub
			defer sub.Release()
		}
		if err := hashColumn(k, hashes); err != nil {
			return nil, err
		}
	}
	return hashes, nil
}

// finish closes the files: parts[p] is part p's file, nil when no row
// went there.
func (w *partWriter) finish() ([]*budget.SpillFile, error) {
	parts := make([]*budget.SpillFile, spillParts)
	for p, f := range w.files {
		if f == nil {
			continue
		}
		w.files[p] = nil
		done, err := f.Finish()
		if err != nil {
			removeRuns(parts)
			w.abort()
			return nil, err
		}
		parts[p] = done
	}
	return parts, nil
}

// abort removes the files unfinished.
func (w *partWriter) abort() {
	for p, f := range w.files {
		if f != nil {
			f.Abort()
			w.files[p] = nil
		}
	}
}

// NewSpillScan reads spill files back as an operator; Close removes them
// unless keep.
func NewSpillScan(schema *arrow.Schema, files []*budget.SpillFile, keep bool) Operator {
	return &spillScan{schema: schema, files: files, keep: keep}
}

// spillScan reads spill files back, one after the other, as an operator.
// Close removes them, unless keep (files several readers share, removed
// by their owner).
type spillScan struct {
	schema *arrow.Schema
	files  []*budget.SpillFile
	keep   bool
	r      *budget.SpillReader
	next   int
}

func (s *spillScan) Schema() *arrow.Schema { return s.schema }
func (s *spillScan) String() string        { return "SpillScan" }
func (s *spillScan) Next(ctx context.Context) (arrow.RecordBatch, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if s.r == nil {
			if s.next >= len(s.files) {
				return nil, io.EOF
			}
			r, err := s.files[s.next].Open()
			if err != nil {
				return nil, err
			}
			s.next++
			s.r = r
		}
		b, err := s.r.Next()
		if err != nil {
			return nil, err
		}
		if b != nil {
			return b, nil
		}
		s.r.Close()
		s.r = nil
	}
}

func (s *spillScan) Close() error {
	if s.r != nil {
		s.r.Close()
		s.r = nil
	}
	if !s.keep {
		removeRuns(s.files)
	}
	return nil
}
