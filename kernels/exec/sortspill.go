package exec

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"slipstream/kernels/budget"
)

// A sort over its share of memory writes what it holds as a sorted run
// (a spill file) and goes on; at the end it merges the runs, at most
// mergeFanIn at a time, each contributing one batch to memory.
const (
	// minRunBytes: a sort holding less does not spill even when its query
	// is over its share (the memory is held elsewhere; runs of a batch
	// each would only multiply files).
	minRunBytes = 4 << 20
	mergeFanIn  = 16
	// topKCompactRows: a top-k of at most this many rows keeps only its
	// best k rows plus a few batches, sorting as it goes, and never spills.
	topKCompactRows = 1 << 20
)

// collectWithin reads the input, spilling sorted runs while the query is
// over its share. It returns the batches held when nothing was spilled;
// otherwise it sets s.merged and returns nil.
func (s *Sort) collectWithin(ctx context.Context) ([]arrow.RecordBatch, error) {
	q := s.res.Query()
	var held []arrow.RecordBatch
	var bytes, keyBytes, rows int64
	var runs []*budget.SpillFile
	fail := func(err error) ([]arrow.RecordBatch, error) {
		ReleaseAll(held)
		removeRuns(runs)
		return nil, err
	}
	for {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		b, err := s.input.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail(err)
		}
		held = append(held, b)
		bytes += BatchBytes(b)
		keyBytes += s.keyBytes(b)
		rows += b.NumRows()
		s.res.NotePeak(bytes)
		if s.limit >= 0 && s.limit <= topKCompactRows && rows >= s.limit+8*BatchRows {
			if held, err = s.keepTop(ctx, held); err != nil {
				return fail(err)
			}
			bytes, rows = sizeOf(held)
			continue
		}
		// Sorting what is held takes room for its keys and order and, when
		// nothing was spilled, for a sorted copy of it.
		need := max(bytes, sortScratch(keyBytes, rows, len(s.keys)))
		if (q.Within(need) && !s.res.OverLimit(bytes)) || bytes < minHold(q) {
			continue
		}
		if !q.CanSpill() {
			return fail(q.Exhausted(fmt.Sprintf("%s holding %s", s.name(), budget.FormatBytes(bytes))))
		}
		run, err := s.writeRun(ctx, held)
		held = nil
		if err != nil {
			return fail(err)
		}
		runs = append(runs, run)
		bytes, keyBytes, rows = 0, 0, 0
	}
	if len(runs) == 0 {
		return held, nil
	}
	if len(held) > 0 {
		run, err := s.writeRun(ctx, held)
		held = nil
		if err != nil {
			return fail(err)
		}
		runs = append(runs, run)
	}
	order, err := newRowOrder(s.input.Schema(), s.keys)
	if err != nil {
		return fail(err)
	}
	// Merge down to one pass of at most mergeFanIn runs.
	for len(runs) > mergeFanIn {
		m, err := newRunMerge(s.input.Schema(), order, runs[:mergeFanIn], -1, q)
		if err != nil {
			return fail(err)
		}
		run, err := s.writeStream(ctx, m.next)
		m.close()
		runs = runs[mergeFanIn:]
		if err != nil {
			return fail(err)
		}
		// The merged run holds the earliest rows: first, so ties keep input order.
		runs = append([]*budget.SpillFile{run}, runs...)
	}
	m, err := newRunMerge(s.input.Schema(), order, runs, s.limit, q)
	if err != nil {
		return fail(err)
	}
	s.merged = m
	return nil, nil
}

// keyBytes is the bytes of b's key columns.
func (s *Sort) keyBytes(b arrow.RecordBatch) int64 {
	var n int64
	for _, k := range s.keys {
		n += ArrayBytes(b.Column(k.Column))
	}
	return n
}

// sortScratch is about what sorting rows whose key columns hold keyBytes
// takes beside them: their normalized keys (the values, a null byte and
// a terminator a key, an offset a row) and the items sorted, twice, with
// the order they give (sortRows reserves the exact figure).
func sortScratch(keyBytes, rows int64, keys int) int64 {
	return keyBytes + rows*int64(2*keys+8) + rows*sortRowBytes
}

// sortRowBytes is what sorting takes a row beside its key: the items
// sorted (twice: a radix pass needs room to scatter) and the order.
const sortRowBytes = 2*16 + 4

// keepTop sorts held (released) and keeps its first s.limit rows.
func (s *Sort) keepTop(ctx context.Context, held []arrow.RecordBatch) ([]arrow.RecordBatch, error) {
	tbl, err := s.sortBatches(ctx, held)
	if err != nil {
		return nil, err
	}
	defer tbl.Release()
	return tableBatches(tbl), nil
}

// writeRun sorts held (released) into a new spill file.
func (s *Sort) writeRun(ctx context.Context, held []arrow.RecordBatch) (*budget.SpillFile, error) {
	w, err := s.res.Spill(s.input.Schema())
	if err != nil {
		ReleaseAll(held)
		return nil, err
	}
	writeFailed := false // then the writer has removed its file
	err = s.sortInto(ctx, held, func(sorted []arrow.RecordBatch) error {
		defer ReleaseAll(sorted)
		for _, b := range sorted {
			if err := w.Write(b); err != nil {
				writeFailed = true
				return err
			}
		}
		return nil
	})
	if err != nil {
		if !writeFailed {
			w.Abort()
		}
		return nil, err
	}
	return w.Finish()
}

// writeStream writes every batch next gives to a new spill file.
func (s *Sort) writeStream(ctx context.Context, next func(context.Context) (arrow.RecordBatch, error)) (*budget.SpillFile, error) {
	w, err := s.res.Spill(s.input.Schema())
	if err != nil {
		return nil, err
	}
	for {
		b, err := next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			w.Abort()
			return nil, err
		}
		err = w.Write(b)
		b.Release()
		if err != nil {
			return nil, err
		}
	}
	return w.Finish()
}

func removeRuns(runs []*budget.SpillFile) {
	for _, r := range runs {
		if r != nil {
			r.Remove()
		}
	}
}

// tableBatches are tbl's rows as batches of at most BatchRows (retained).
func tableBatches(tbl arrow.Table) []arrow.RecordBatch {
	r := array.NewTableReader(tbl, BatchRows)
	defer r.Release()
	var out []arrow.RecordBatch
	for r.Next() {
		b := r.RecordBatch()
		b.Retain()
		out = append(out, b)
	}
	return out
}

func sizeOf(bs []arrow.RecordBatch) (bytes, rows int64) {
	for _, b := range bs {
		bytes += BatchBytes(b)
		rows += b.NumRows()
	}
	return bytes, rows
}

// BatchBytes is the bytes of b's buffers (a buffer shared by two columns
// counts twice: an estimate, for deciding when to spill).
func BatchBytes(b arrow.RecordBatch) int64 {
	var n int64
	for _, c := range b.Columns() {
		n += ArrayBytes(c)
	}
	return n
}

// ArrayBytes is the bytes of a's buffers, its children's included.
func ArrayBytes(a arrow.Array) int64 {
	var n int64
	var walk func(d arrow.ArrayData)
	walk = func(d arrow.ArrayData) {
		for _, buf := range d.Buffers() {
			if buf != nil {
				n += int64(buf.Len())
			}
		}
		for _, c := range d.Children() {
			walk(c)
		}
	}
	walk(a.Data())
	return n
}

// runMerge merges sorted runs into one sorted stream.
type runMerge struct {
	schema  *arrow.Schema
	order   *rowOrder
	q       *budget.Query
	limit   int64 // rows still to give; -1: all
	files   []*budget.SpillFile
	cursors []*runCursor
	tree    loserTree
	chunks  []arrow.RecordBatch // every batch a cursor is on or was on since the last output
}

type runCursor struct {
	r     *budget.SpillReader
	b     arrow.RecordBatch
	keys  []keyView // b's sort keys
	row   int
	chunk int
}

func newRunMerge(schema *arrow.Schema, order *rowOrder, files []*budget.SpillFile, limit int64, q *budget.Query) (*runMerge, error) {
	m := &runMerge{schema: schema, order: order, q: q, limit: limit, files: files}
	for _, f := range files {
		r, err := f.OpenAhead()
		if err != nil {
			m.close()
			return nil, err
		}
		c := &runCursor{r: r}
		m.cursors = append(m.cursors, c)
		if err := m.advance(c); err != nil {
			m.close()
			return nil, err
		}
	}
	m.tree.build(len(m.cursors), m.before)
	return m, nil
}

// advance moves c to its next non-empty batch (c.b nil at the end).
func (m *runMerge) advance(c *runCursor) error {
	for {
		b, err := c.r.Next()
		if err != nil {
			return err
		}
		c.b, c.row = b, 0
		if b == nil {
			return nil
		}
		if b.NumRows() > 0 {
			c.chunk = len(m.chunks)
			m.chunks = append(m.chunks, b)
			c.keys = m.order.views(b, c.keys)
			return nil
		}
		b.Release()
	}
}

func (m *runMerge) next(ctx context.Context) (arrow.RecordBatch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if m.limit == 0 || len(m.cursors) == 0 || m.cursors[m.tree.winner()].b == nil {
		return nil, io.EOF
	}
	want := int64(BatchRows)
	if m.limit >= 0 && m.limit < want {
		want = m.limit
	}
	type pick struct{ chunk, row int }
	picks := make([]pick, 0, want)
	for int64(len(picks)) < want {
		w := m.tree.winner()
		c := m.cursors[w]
		if c.b == nil { // every run is done
			break
		}
		picks = append(picks, pick{c.chunk, c.row})
		c.row++
		if c.row == int(c.b.NumRows()) {
			if err := m.advance(c); err != nil {
				return nil, err
			}
		}
		m.tree.replay(w, m.before)
	}
	if m.limit > 0 {
		m.limit -= int64(len(picks))
	}
	// Gather the picks from the batches they are in, in merged order.
	tbl := array.NewTableFromRecords(m.schema, m.chunks)
	defer tbl.Release()
	g, err := newChunkGather(m.q, tbl)
	if err != nil {
		return nil, err
	}
	defer g.release()
	refs := make([]chunkRef, len(picks))
	for k, p := range picks {
		refs[k] = chunkRef{uint32(p.chunk), uint32(p.row)}
	}
	out, err := g.batchOf(ctx, m.q, refs)
	if err != nil {
		return nil, err
	}
	m.dropPassedChunks()
	return out, nil
}

// dropPassedChunks releases the batches no cursor is on any more.
func (m *runMerge) dropPassedChunks() {
	current := map[arrow.RecordBatch]bool{}
	var kept []arrow.RecordBatch
	for _, c := range m.cursors {
		if c.b != nil {
			current[c.b] = true
			c.chunk = len(kept)
			kept = append(kept, c.b)
		}
	}
	for _, b := range m.chunks {
		if !current[b] {
			b.Release()
		}
	}
	m.chunks = kept
}

func (m *runMerge) close() {
	for _, c := range m.cursors {
		c.r.Close()
		c.b = nil
	}
	ReleaseAll(m.chunks)
	m.chunks = nil
	removeRuns(m.files)
	m.files = nil
}

// before says whether cursor a's row goes before cursor b's: a cursor at
// its end goes after every other, and ties go to the earlier run, so the
// merge is stable as the sort of each run is.
func (m *runMerge) before(a, b int) bool {
	x, y := m.cursors[a], m.cursors[b]
	if x.b == nil || y.b == nil {
		return y.b == nil && (x.b != nil || a < b)
	}
	if c := m.order.compareViews(x.keys, x.row, y.keys, y.row); c != 0 {
		return c < 0
	}
	return a < b
}

// loserTree picks the first of k cursors with about log2(k) comparisons a
// pick, half what a binary heap makes: each inner node holds the loser of
// the match played there, node 0 the overall winner. The leaves, cursors
// 0..k-1, sit at k..2k-1.
type loserTree struct {
	k     int
	nodes []int
}

func (t *loserTree) build(k int, before func(a, b int) bool) {
	t.k = k
	t.nodes = make([]int, max(k, 1))
	var play func(n int) int // the winner below node n
	play = func(n int) int {
		if n >= k {
			return n - k
		}
		a, b := play(2*n), play(2*n+1)
		if before(b, a) {
			a, b = b, a
		}
		t.nodes[n] = b
		return a
	}
	if k == 1 {
		t.nodes[0] = 0
		return
	}
	t.nodes[0] = play(1)
}

func (t *loserTree) winner() int { return t.nodes[0] }

// replay plays cursor w's new row up from its leaf.
func (t *loserTree) replay(w int, before func(a, b int) bool) {
	for n := (w + t.k) / 2; n >= 1; n /= 2 {
		if before(t.nodes[n], w) {
			t.nodes[n], w = w, t.nodes[n]
		}
	}
	t.nodes[0] = w
}
