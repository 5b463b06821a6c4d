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
// any other group is written, by a hash of its keys, to one of
// aggPartitions spill files. A group is then wholly in memory or wholly on
// disk, whatever its aggregates (n_unique and median included), so the
// groups in memory are final, and each file is aggregated alone afterwards
// by a new HashAggregate, which spills again, with other hash bits, if its
// part still does not fit.
const (
	aggPartitions = 16
	// maxSpillLevels bounds the rounds: a part that does not fit after
	// this many is one group (or a few) with more rows than memory holds.
	maxSpillLevels = 6
)

// SetBudget makes the aggregate hold its groups within q's share of
// memory, spilling when it would go over.
func (h *HashAggregate) SetBudget(q *budget.Query) {
	if q != nil {
		name := h.String()
		if h.level > 0 {
			name = fmt.Sprintf("%s (spilled part, round %d)", name, h.level)
		}
		h.res = q.Reserve(name)
	}
}

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
	size := g.bytes()
	for _, a := range accs {
		size += expr.AccumulatorBytes(a, g.n)
	}
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
	err := h.res.TryResize(size)
	if err == nil {
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
	size = g.bytes() // freezing may add an index
	for _, a := range accs {
		size += expr.AccumulatorBytes(a, g.n)
	}
	h.res.Resize(size)
	return &aggSpill{h: h, files: make([]*budget.SpillWriter, aggPartitions), frozenAt: size}, nil
}

// aggSpill writes the rows of the groups not in memory to partition files.
type aggSpill struct {
	h        *HashAggregate
	files    []*budget.SpillWriter
	frozenAt int64 // what the groups held when frozen
}

// split takes b (released) and its frozen group ids and writes the rows
// of unknown groups to disk; it returns the other rows and their ids
// (nil when there are none).
func (s *aggSpill) split(ctx context.Context, b arrow.RecordBatch, keys []arrow.Array, ids []uint32) (arrow.RecordBatch, []uint32, error) {
	var known, unknown []int64
	for i, id := range ids {
		if id == noID {
			unknown = append(unknown, int64(i))
		} else {
			known = append(known, int64(i))
		}
	}
	if len(unknown) == 0 {
		return b, ids, nil
	}
	defer b.Release()
	hashes := make([]uint64, len(unknown))
	seed := uint64(s.h.level+1) * 0x9e3779b97f4a7c15
	for i := range hashes {
		hashes[i] = seed
	}
	for _, k := range keys {
		sub, err := takeRows(ctx, s.h.res.Query(), k, unknown)
		if err != nil {
			return nil, nil, err
		}
		err = hashColumn(sub, hashes)
		sub.Release()
		if err != nil {
			return nil, nil, err
		}
	}
	byPart := make([][]int64, aggPartitions)
	for i, h := range hashes {
		p := (h >> 7) % aggPartitions
		byPart[p] = append(byPart[p], unknown[i])
	}
	for p, rows := range byPart {
		if len(rows) == 0 {
			continue
		}
		if s.files[p] == nil {
			w, err := s.h.res.Spill(s.h.input.Schema())
			if err != nil {
				return nil, nil, err
			}
			s.files[p] = w
		}
		part, err := takeBatch(ctx, s.h.res.Query(), b, rows)
		if err != nil {
			return nil, nil, err
		}
		err = s.files[p].Write(part)
		part.Release()
		if err != nil {
			s.files[p] = nil
			return nil, nil, err
		}
	}
	if len(known) == 0 {
		return nil, nil, nil
	}
	kept, err := takeBatch(ctx, s.h.res.Query(), b, known)
	if err != nil {
		return nil, nil, err
	}
	keptIDs := make([]uint32, len(known))
	for i, r := range known {
		keptIDs[i] = ids[r]
	}
	return kept, keptIDs, nil
}

// finish closes the files and returns the partitions written.
func (s *aggSpill) finish() ([]*budget.SpillFile, error) {
	var out []*budget.SpillFile
	for i, w := range s.files {
		if w == nil {
			continue
		}
		s.files[i] = nil
		f, err := w.Finish()
		if err != nil {
			removeRuns(out)
			s.abort()
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

func (s *aggSpill) abort() {
	for i, w := range s.files {
		if w != nil {
			w.Abort()
			s.files[i] = nil
		}
	}
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
		sub := NewHashAggregate(h.mem, &spillScan{schema: h.input.Schema(), file: f}, h.keys, h.aggs)
		sub.level = h.level + 1
		sub.SetBudget(h.res.Query())
		h.sub = sub
	}
}

// spillScan reads a spill file back as an operator; Close removes it.
type spillScan struct {
	schema *arrow.Schema
	file   *budget.SpillFile
	r      *budget.SpillReader
}

func (s *spillScan) Schema() *arrow.Schema { return s.schema }
func (s *spillScan) String() string        { return "SpillScan" }
func (s *spillScan) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.r == nil {
		r, err := s.file.Open()
		if err != nil {
			return nil, err
		}
		s.r = r
	}
	b, err := s.r.Next()
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, io.EOF
	}
	return b, nil
}

func (s *spillScan) Close() error {
	if s.r != nil {
		s.r.Close()
		s.r = nil
	}
	s.file.Remove()
	return nil
}
