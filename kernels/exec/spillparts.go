package exec

import (
	"context"
	"errors"
	"fmt"
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

// write sends the rows of b (those listed in rows, in ascending order, or
// all when rows is nil) to the parts their keys (arrays over all of b's
// rows) hash to. The caller keeps b.
func (w *partWriter) write(ctx context.Context, b arrow.RecordBatch, keys []arrow.Array, rows []uint32) error {
	hashes, err := w.hashes(ctx, keys, rows)
	if err != nil {
		return err
	}
	byPart := make([][]uint32, spillParts)
	for i, h := range hashes {
		r := uint32(i)
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
		if hasDictionary(part) {
			// Spill files hold plain columns; a frozen aggregate looks
			// its keys up as a file's dictionaries and expands only the
			// rows it spills.
			part.Retain() // expandColumns takes this reference
			if part, err = expandColumns(ctx, part, w.schema, func(int) bool { return true }); err != nil {
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

// hashes are the seeded hashes of the keys of rows (ascending; nil: every
// row).
func (w *partWriter) hashes(ctx context.Context, keys []arrow.Array, rows []uint32) ([]uint64, error) {
	if rows != nil && len(keys) > 0 && 2*len(rows) >= keys[0].Len() {
		// Most of the rows (a frozen group-by of a group a row spills
		// nearly all): hashing every row costs less than gathering the
		// keys of these first.
		all, err := w.hashes(ctx, keys, nil)
		if err != nil {
			return nil, err
		}
		for i, r := range rows { // in place: r >= i
			all[i] = all[r]
		}
		return all[:len(rows)], nil
	}
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

// holdOrSplit is how a join's build side and a window's input are read
// within the budget: held while they fit, and from the first batch that
// would not, written with everything held to parts by hash.
type holdOrSplit struct {
	res    *budget.Reservation
	level  int           // rounds of spilling above this one
	schema *arrow.Schema // of the batches write sends
	// need is what holding bytes and rows would take in all (copies and
	// indexes made from them).
	need func(bytes, rows int64) int64
	// cannotSplit, when set, says why the input cannot be split by hash
	// (a cross join has no keys; a window no shared partition_by).
	cannotSplit string
	// what names the input in errors; oneKey says what a part that never
	// fits is ("one key with more rows than fit").
	what, oneKey string
	// write sends batch b (the caller keeps it) to w.
	write func(w *partWriter, b arrow.RecordBatch) error
}

// collect reads in: it returns every batch when they fit, or else the
// parts they were written to (nil entries where none went).
func (c holdOrSplit) collect(ctx context.Context, in Operator) ([]arrow.RecordBatch, []*budget.SpillFile, error) {
	q := c.res.Query()
	var held []arrow.RecordBatch
	var bytes, rows int64
	var w *partWriter
	fail := func(err error) ([]arrow.RecordBatch, []*budget.SpillFile, error) {
		ReleaseAll(held)
		if w != nil {
			w.abort()
		}
		return nil, nil, err
	}
	for {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		b, err := in.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail(err)
		}
		if w != nil {
			err = c.write(w, b)
			b.Release()
			if err != nil {
				return fail(err)
			}
			continue
		}
		held = append(held, b)
		bytes += BatchBytes(b)
		rows += b.NumRows()
		c.res.NotePeak(bytes)
		if err := c.hold(q, bytes, c.need(bytes, rows)); err == nil {
			continue
		} else if err != errSplit {
			return fail(err)
		}
		w = newPartWriter(c.res, q, c.schema, c.level)
		for _, h := range held {
			if err := c.write(w, h); err != nil {
				return fail(err)
			}
		}
		ReleaseAll(held)
		held, bytes, rows = nil, 0, 0
	}
	if w == nil {
		return held, nil, nil
	}
	parts, err := w.finish()
	return nil, parts, err
}

// errSplit is hold's answer when the input should go to parts.
var errSplit = errors.New("split")

// hold says whether holding bytes (needing need in all) may go on (nil),
// should be split (errSplit), or cannot go on (the error to fail with).
func (c holdOrSplit) hold(q *budget.Query, bytes, need int64) error {
	switch {
	case q.Within(need) && !c.res.OverLimit(need), bytes < minHold(q):
		return nil
	case c.level > 0 && 2*need <= q.Limit() && !c.res.OverLimit(need):
		// A part that fits in half the limit is held even when others
		// hold the rest (they spill on their own): splitting it again
		// would not free what they hold.
		return nil
	case (c.level >= maxSpillLevels || c.cannotSplit != "") && q.Within(need):
		return nil // it cannot split, and only --operator-memory says no
	case !q.CanSpill():
		return q.Exhausted(fmt.Sprintf("%s holding %s of %s", c.res.Name, c.what, budget.FormatBytes(bytes)))
	case c.cannotSplit != "":
		return q.Exhausted(fmt.Sprintf("%s: %s of %s does not fit, and %s", c.res.Name, c.what, budget.FormatBytes(bytes), c.cannotSplit))
	case c.level >= maxSpillLevels:
		return q.Exhausted(fmt.Sprintf("%s: a part of %s still does not fit after %d rounds of spilling (%s, or the query's other operators hold its memory)", c.res.Name, c.what, c.level, c.oneKey))
	}
	return errSplit
}

// partName names the reservation of op, an operator working on a part
// spilled level rounds above it (level 0: the operator itself), by its
// EXPLAIN line.
func partName(op fmt.Stringer, level int) string {
	if level == 0 {
		return op.String()
	}
	return fmt.Sprintf("%s (spilled part, round %d)", op, level)
}
