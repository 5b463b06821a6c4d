package exec

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels"
	"slipstream/kernels/budget"
	"slipstream/kernels/expr"
)

// SortKey orders by one input column.
type SortKey struct {
	Column     int
	Descending bool
	NullsLast  bool
}

// Sort is a stable sort of its whole input on several keys. With Limit >= 0
// it is a top-k: only the first Limit rows are materialized in order.
type Sort struct {
	input Operator
	keys  []SortKey
	limit int64
	// res, when set, bounds what the sort holds: past the query's share of
	// memory it writes its input as sorted runs to spill files and merges
	// them (sortspill.go).
	res *budget.Reservation

	out    materialized
	merged *runMerge
}

// NewSort checks that every key column can be ordered.
func NewSort(input Operator, keys []SortKey, limit int64) (*Sort, error) {
	for _, k := range keys {
		t := input.Schema().Field(k.Column).Type
		if !expr.IsOrderable(t) {
			return nil, kernels.Errorf(kernels.Invalid, "cannot sort by %s: %s values have no order", input.Schema().Field(k.Column).Name, expr.TypeName(t))
		}
	}
	return &Sort{input: input, keys: keys, limit: limit}, nil
}

func (s *Sort) Schema() *arrow.Schema { return s.input.Schema() }
func (s *Sort) Children() []Operator  { return []Operator{s.input} }
func (s *Sort) String() string {
	parts := make([]string, len(s.keys))
	for i, k := range s.keys {
		dir, nulls := "asc", "nulls_first"
		if k.Descending {
			dir = "desc"
		}
		if k.NullsLast {
			nulls = "nulls_last"
		}
		parts[i] = fmt.Sprintf("%s %s %s", s.input.Schema().Field(k.Column).Name, dir, nulls)
	}
	txt := "Sort " + strings.Join(parts, ", ")
	if s.limit >= 0 {
		txt = fmt.Sprintf("TopK k=%d %s", s.limit, strings.Join(parts, ", "))
	}
	return txt
}

// SetBudget makes the sort hold its input within q's share of memory,
// spilling sorted runs when it would go over.
func (s *Sort) SetBudget(q *budget.Query) {
	if q != nil {
		s.res = q.Reserve(s.String())
	}
}

// Memory implements MemoryUser.
func (s *Sort) Memory() budget.OperatorStats {
	if s.res == nil {
		return budget.OperatorStats{}
	}
	return s.res.Stats()
}

func (s *Sort) name() string {
	if s.limit >= 0 {
		return "TopK"
	}
	return "Sort"
}

func (s *Sort) Close() error {
	s.out.release()
	if s.merged != nil {
		s.merged.close()
		s.merged = nil
	}
	if s.res != nil {
		s.res.Free()
	}
	return s.input.Close()
}

func (s *Sort) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if s.merged != nil {
		return s.merged.next(ctx)
	}
	if !s.out.built() {
		if err := s.sort(ctx); err != nil {
			return nil, err
		}
		if s.merged != nil {
			return s.merged.next(ctx)
		}
	}
	return s.out.next(ctx)
}

func (s *Sort) sort(ctx context.Context) error {
	var batches []arrow.RecordBatch
	var err error
	if s.res != nil {
		batches, err = s.collectWithin(ctx)
		if err != nil || s.merged != nil {
			return err
		}
	} else if batches, err = Collect(ctx, s.input); err != nil {
		return err
	}
	tbl, err := s.sortBatches(ctx, batches)
	if err != nil {
		return err
	}
	defer tbl.Release()
	s.out.setTable(tbl)
	return nil
}

// sortBatches sorts batches (released here) into a table, the first
// s.limit rows only for a top-k.
func (s *Sort) sortBatches(ctx context.Context, batches []arrow.RecordBatch) (arrow.Table, error) {
	var out []arrow.RecordBatch
	defer func() { ReleaseAll(out) }()
	err := s.sortInto(ctx, batches, func(sorted []arrow.RecordBatch) error {
		out = append(out, sorted...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return array.NewTableFromRecords(s.input.Schema(), out), nil
}

// sortInto sorts batches (released here) and hands the sorted rows (the
// first s.limit for a top-k) to emit as batches, in order, a few at a
// time; emit owns them. It runs on its own goroutine, so that the workers
// gather the next batches while emit writes the last ones to a spill file.
func (s *Sort) sortInto(ctx context.Context, batches []arrow.RecordBatch, emit func([]arrow.RecordBatch) error) error {
	tbl := array.NewTableFromRecords(s.input.Schema(), batches)
	ReleaseAll(batches)
	defer tbl.Release()
	if tbl.NumRows() == 0 {
		return nil
	}
	rows, err := s.sortRows(ctx, tbl)
	if err != nil {
		return err
	}
	if s.limit >= 0 && s.limit < int64(len(rows)) {
		rows = rows[:s.limit]
	}
	mem := expr.Allocator(ctx)
	if s.res != nil { // count the sorted copy in the query's budget
		mem = s.res.Query()
	}
	g, err := newChunkGather(mem, tbl)
	if err != nil {
		return err
	}
	defer g.release()
	workers := sortWorkers()
	groups := make(chan []arrow.RecordBatch, 1)
	emitted := make(chan error, 1)
	var stopped atomic.Bool
	go func() {
		var err error
		for group := range groups {
			if err == nil {
				err = emit(group)
				stopped.Store(err != nil)
			} else {
				ReleaseAll(group)
			}
		}
		emitted <- err
	}()
	step := 2 * workers * BatchRows
	for lo := 0; lo < len(rows) && err == nil && !stopped.Load(); lo += step {
		group := make([]arrow.RecordBatch, (min(len(rows)-lo, step)+BatchRows-1)/BatchRows)
		errs := make([]error, len(group))
		parallel(len(group), workers, func(i int) {
			if errs[i] = ctx.Err(); errs[i] == nil {
				from := lo + i*BatchRows
				group[i], errs[i] = g.batch(ctx, mem, rows[from:min(len(rows), from+BatchRows)])
			}
		})
		if err = errors.Join(errs...); err != nil {
			ReleaseAll(group)
			break
		}
		groups <- group
	}
	close(groups)
	return errors.Join(err, <-emitted)
}

// sortRows is the sorted order of tbl's rows (fewer than 2^32).
func (s *Sort) sortRows(ctx context.Context, tbl arrow.Table) ([]uint32, error) {
	types := make([]arrow.DataType, tbl.NumCols())
	for i := range types {
		types[i] = tbl.Column(i).DataType()
	}
	n := tbl.NumRows()
	if n >= math.MaxUint32 {
		return nil, kernels.Errorf(kernels.NotSupported, "cannot sort %d rows in memory at once (at most %d)", n, uint32(math.MaxUint32-1))
	}
	if normalizable(types, s.keys) {
		cols := make([]*sortCol, len(s.keys))
		for i, k := range s.keys {
			kind, _ := colKind(types[k.Column])
			cols[i] = &sortCol{key: k, kind: kind, chunks: tbl.Column(k.Column).Data().Chunks()}
		}
		workers := sortWorkers()
		keys := encodeKeys(cols, int(n), workers)
		scratch := keys.bytes() + n*sortRowBytes
		if s.res != nil {
			before := s.res.Size()
			s.res.Resize(before + scratch)
			defer s.res.Resize(before)
		}
		return sortedRows(ctx, keys, int(n), workers)
	}
	// Other key types: Arrow's sort_indices.
	keys := make([]compute.SortKey, len(s.keys))
	for i, k := range s.keys {
		keys[i] = compute.SortKey{ColumnIndex: k.Column, Order: compute.SortOrderAscending, NullPlacement: compute.SortNullsAtStart}
		if k.Descending {
			keys[i].Order = compute.SortOrderDescending
		}
		if k.NullsLast {
			keys[i].NullPlacement = compute.SortNullsAtEnd
		}
	}
	// Arrow's sort_indices (v18.8.0) never frees its scratch buffers: from
	// the Go allocator the GC reclaims them, from the query's allocator they
	// would stay counted forever. The indices are temporary either way.
	keyed, keys := withNaNKeysTable(memory.DefaultAllocator, tbl, keys)
	defer keyed.Release()
	idx, err := compute.SortIndicesTable(expr.WithAllocator(ctx, memory.DefaultAllocator), keyed, keys)
	if err != nil {
		return nil, err
	}
	defer idx.Release()
	rows := make([]uint32, idx.Len())
	for i, r := range idx.(*array.Uint64).Uint64Values() {
		rows[i] = uint32(r)
	}
	return rows, nil
}
