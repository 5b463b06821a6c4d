package exec

import (
	"context"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"

	"slipstream/kernels/budget"
	"slipstream/kernels/expr"
)

// A HashAggregate over its share of memory freezes its groups: from then
// on a row of a group it holds is folded in memory as before, and a row of
// any other group is written, by a hash of its keys, to one of spillParts
// files. A group is then wholly in memory or wholly on disk, whatever its
// aggregates (n_unique and median included), so the groups in memory are
// final, and each file is aggregated alone afterwards by a new
// HashAggregate, which spills again, with other hash bits, if its part
// still does not fit.

// SetBudget makes the aggregate hold its groups within q's share of
// memory, spilling when it would go over.
func (h *HashAggregate) SetBudget(q *budget.Query) {
	if q != nil {
		h.res = q.Reserve(partName(h, h.level))
	}
}

// Spilled reports whether the aggregate has spilled groups to disk: its
// output then gives the groups it held first, and those of its spilled
// parts only after them, aggregated one part at a time.
func (h *HashAggregate) Spilled() bool { return h.spilled.Load() }

// Memory implements MemoryUser: the aggregate's own figures with those of
// the rounds that re-aggregated its spilled parts (the larger peak, the
// sum of bytes spilled).
func (h *HashAggregate) Memory() budget.OperatorStats {
	var s budget.OperatorStats
	if h.res != nil {
		s = h.res.Stats()
	}
	s = s.Add(h.below)
	if h.sub != nil {
		s = s.Add(h.sub.Memory())
	}
	return s
}

// account reserves what the grouper and accumulators hold; past the
// query's share it starts spilling (sp != nil from then on), or fails
// when it cannot.
func (h *HashAggregate) account(g *grouper, accs []expr.Accumulator, sp *aggSpill) (*aggSpill, error) {
	accBytes, whole := stateBytes(accs, g.n)
	held, _ := g.bytes()
	size := held + accBytes
	q := h.res.Query()
	if sp != nil {
		// Frozen groups grow only by their values (n_unique, median):
		// held until they grow by half the node's limit.
		h.res.Resize(size)
		if size > sp.frozenAt+q.Limit()/2 {
			return sp, q.Exhausted(fmt.Sprintf("%s: the values of the groups in memory alone exceed the limit (a few groups with very many distinct values?)", h.res.Name))
		}
		return sp, nil
	}
	// Finishing drops the tables that find groups, then builds the arrays
	// of the aggregates that are not built a batch at a time (about what
	// their states take) while the groups are held (groupsOut): room for
	// that too, or freeze now.
	err := h.res.TryResize(size + whole)
	if err == nil {
		h.res.Resize(size)
		return nil, nil
	}
	if size < minHold(q) {
		// Small groups (a total, a few keys) are not what fills memory:
		// held over the share rather than split or failed.
		h.res.Resize(size)
		return nil, nil
	}
	if h.level > 0 && size <= q.Limit()/2 && !h.res.OverLimit(size) {
		// A part that fits in half the limit is held even when others
		// hold the rest (they spill on their own): splitting it again
		// would not free what they hold.
		h.res.Resize(size)
		return nil, nil
	}
	if (len(h.keys) == 0 || h.level >= maxSpillLevels) && q.Within(size-h.res.Size()) {
		// It cannot split, and only --operator-memory says no: the
		// query has room for it.
		h.res.Resize(size)
		return nil, nil
	}
	switch {
	case !q.CanSpill():
		return nil, err
	case len(h.keys) == 0:
		return nil, q.Exhausted(h.res.Name + ": an aggregate without keys cannot be split")
	case h.level >= maxSpillLevels:
		return nil, q.Exhausted(fmt.Sprintf("%s: a part of the groups still does not fit after %d rounds of spilling (one key with more rows than fit, or the query's other operators hold its memory)", h.res.Name, h.level))
	}
	g.freeze()
	h.spilled.Store(true)
	size, _ = g.bytes() // freezing may add an index
	for _, a := range accs {
		size += expr.AccumulatorBytes(a, g.n)
	}
	h.res.Resize(size)
	return &aggSpill{partWriter: newPartWriter(h.res, q, h.input.Schema(), h.level), frozenAt: size}, nil
}

// stateBytes is what accs hold for n groups, and the part of it held by
// those whose output is built whole, not a batch at a time (groupsOut).
func stateBytes(accs []expr.Accumulator, n int) (all, whole int64) {
	for _, a := range accs {
		b := expr.AccumulatorBytes(a, n)
		all += b
		if _, ok := a.(expr.RangeFinisher); !ok {
			whole += b
		}
	}
	return all, whole
}

// aggSpill writes the rows of the groups not in memory to partition files.
type aggSpill struct {
	*partWriter
	frozenAt int64 // what the groups held when frozen
}

// split takes b (released) and its frozen group ids and writes the rows
// of unknown groups to disk; it returns the other rows and their ids
// (nil when there are none).
func (s *aggSpill) split(ctx context.Context, b arrow.RecordBatch, keys []arrow.Array, ids []uint32) (arrow.RecordBatch, []uint32, error) {
	var known, unknown []uint32
	for i, id := range ids {
		if id == noID {
			unknown = append(unknown, uint32(i))
		} else {
			known = append(known, uint32(i))
		}
	}
	if len(unknown) == 0 {
		return b, ids, nil
	}
	defer b.Release()
	if err := s.write(ctx, b, keys, unknown); err != nil {
		return nil, nil, err
	}
	if len(known) == 0 {
		return nil, nil, nil
	}
	kept, err := takeBatch(ctx, s.mem, b, known)
	if err != nil {
		return nil, nil, err
	}
	keptIDs := make([]uint32, len(known))
	for i, r := range known {
		keptIDs[i] = ids[r]
	}
	return kept, keptIDs, nil
}

// nextPartition streams the groups of the spilled partitions, one
// partition aggregated at a time.
func (h *HashAggregate) nextPartition(ctx context.Context) (arrow.RecordBatch, error) {
	for {
		if h.sub != nil {
			b, err := h.sub.Next(ctx)
			if err != io.EOF {
				return b, err
			}
			h.below = h.below.Add(h.sub.Memory())
			h.sub.Close()
			h.sub = nil
		}
		if len(h.parts) == 0 {
			return nil, io.EOF
		}
		f := h.parts[0]
		h.parts = h.parts[1:]
		if f == nil {
			continue
		}
		sub := NewHashAggregate(h.mem, &spillScan{schema: h.input.Schema(), files: []*budget.SpillFile{f}}, h.keys, h.aggs)
		sub.level = h.level + 1
		sub.SetBudget(h.res.Query())
		h.sub = sub
	}
}
