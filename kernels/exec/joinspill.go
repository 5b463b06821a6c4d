package exec

import (
	"context"
	"errors"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"slipstream/kernels"
	"slipstream/kernels/budget"
)

// A HashJoin whose build side does not fit its query's share of memory
// joins part by part (a "grace" hash join): the build rows are written,
// by a hash of their keys, to spillParts files, and so are the probe rows
// by the same hash of theirs; then each pair of parts is joined alone by
// a new HashJoin, which spills again, with other hash bits, when its
// build part still does not fit. Equal keys land in the same part, so
// every kind of join is exact part by part (a row with a null key goes to
// one part like any other and matches nothing there). Only the order of
// the output changes: part after part instead of probe order.
//
// Probes that share a table each write and join their own parts, except
// for the kinds that TracksBuild (right semi and right anti: the others
// never share), whose build rows must hear from every probe row: each
// probe hands its parts to the table, and the last to finish joins them.

// joinIndexBytes estimates what the index of a build table holds beyond
// the rows' values, per row: its place in rows, its group's start, the
// grouper's slot and the probe's match flag.
const joinIndexBytes = 40

// SetBudget makes the join hold its build table within q's share of
// memory, joining part by part from disk when it would go over.
func (j *HashJoin) SetBudget(q *budget.Query) {
	if q != nil && j.t.res == nil {
		j.t.res = q.Reserve(partName(j, j.t.level))
	}
}

// Memory implements MemoryUser: the table's figures with those of the
// joins of its parts (the larger peak, the sum of bytes spilled).
func (j *HashJoin) Memory() budget.OperatorStats {
	var s budget.OperatorStats
	if j.t != nil && j.t.res != nil {
		s = j.t.res.Stats()
	} else {
		s = j.closed
	}
	s = s.Add(j.below)
	if j.sub != nil {
		s = s.Add(j.sub.Memory())
	}
	return s
}

// minHold is what an operator of q holds before it may spill: less would
// only make many small files (the memory is held elsewhere).
func minHold(q *budget.Query) int64 {
	n := min(minRunBytes, q.Limit()/16)
	if lim := q.OperatorLimit(); lim > 0 {
		n = min(n, lim)
	}
	return n
}

// collectWithin reads the build side; once what it holds would not fit
// the budget with its index, it writes it, and the rest, to parts (and
// sets t.spilled).
func (t *joinTable) collectWithin(ctx context.Context) ([]arrow.RecordBatch, error) {
	c := holdOrSplit{res: t.res, level: t.level, schema: t.build.Schema(),
		// Indexing needs room for a concatenated copy and the index.
		need: func(bytes, rows int64) int64 { return bytes + rows*joinIndexBytes },
		what: "a build side", oneKey: "one key with more rows than fit",
		write: func(w *partWriter, b arrow.RecordBatch) error { return t.writePart(ctx, w, b) }}
	if t.kind == JoinCross {
		c.cannotSplit = "a cross join has no keys to split it by"
	}
	held, parts, err := c.collect(ctx, t.build)
	if err != nil || parts == nil {
		return held, err
	}
	t.parts, t.spilled = parts, true
	if t.kind.TracksBuild() {
		t.probeParts = make([][]*budget.SpillFile, spillParts)
	}
	return nil, nil
}

// writePart writes build batch b to the parts of its keys.
func (t *joinTable) writePart(ctx context.Context, w *partWriter, b arrow.RecordBatch) error {
	keys, err := keyArrays(ctx, t.keys, b)
	if err != nil {
		return err
	}
	defer releaseArrays(keys)
	return w.write(ctx, b, keys, nil)
}

// reserveIndex counts the index of an in-memory table in its budget (the
// rows' values are Arrow buffers, counted at the allocator).
func (t *joinTable) reserveIndex() {
	if t.res == nil {
		return
	}
	n := 8*int64(len(t.start)+len(t.rows)) + 4*int64(len(t.matched))
	if t.g != nil {
		b, _ := t.g.bytes()
		n += b
	}
	t.res.Resize(n)
	t.res.NotePeak(n + BatchBytes(t.rec))
}

// release frees the table: its batch, its reservation, its parts.
func (t *joinTable) release() {
	if t.rec != nil {
		t.rec.Release()
		t.rec = nil
	}
	if t.res != nil {
		t.res.Free()
	}
	removeRuns(t.parts)
	t.parts = nil
	for _, fs := range t.probeParts {
		removeRuns(fs)
	}
	t.probeParts = nil
}

// nextSpilled is Next once the build side is on disk: the probe side is
// written to parts too, then each part is joined alone.
func (j *HashJoin) nextSpilled(ctx context.Context) (arrow.RecordBatch, error) {
	for {
		if j.sub != nil {
			b, err := j.sub.Next(ctx)
			if err != io.EOF {
				return b, err
			}
			j.below = j.below.Add(j.sub.Memory())
			err = j.sub.Close()
			j.sub = nil
			if err != nil {
				return nil, err
			}
		}
		if !j.probeDone {
			if err := j.partitionProbe(ctx); err != nil {
				return nil, err
			}
			j.probeDone = true
			if j.kind.TracksBuild() && !j.handOver() {
				return nil, io.EOF // the last probe joins every probe's parts
			}
		}
		if j.part >= spillParts {
			return nil, io.EOF
		}
		p := j.part
		j.part++
		sub, err := j.partJoin(p)
		if err != nil {
			return nil, err
		}
		j.sub = sub
	}
}

// partitionProbe writes the probe side to parts by the keys' hash.
func (j *HashJoin) partitionProbe(ctx context.Context) error {
	w := newPartWriter(j.t.res, j.t.res.Query(), j.probe.Schema(), j.t.level)
	for {
		if err := ctx.Err(); err != nil {
			w.abort()
			return err
		}
		b, err := j.probe.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err == nil {
			b, err = j.wholeProbe(ctx, b)
		}
		if err == nil {
			var keys []arrow.Array
			if keys, err = keyArrays(ctx, j.probeKeys, b); err == nil {
				err = w.write(ctx, b, keys, nil)
				releaseArrays(keys)
			}
			b.Release()
		}
		if err != nil {
			w.abort()
			return err
		}
	}
	parts, err := w.finish()
	if err != nil {
		return err
	}
	j.probeParts = make([][]*budget.SpillFile, spillParts)
	for p, f := range parts {
		if f != nil {
			j.probeParts[p] = []*budget.SpillFile{f}
		}
	}
	return nil
}

// wholeProbe is probe batch b (taken) with every column read and of the
// probe's schema, as a spill file holds it.
func (j *HashJoin) wholeProbe(ctx context.Context, b arrow.RecordBatch) (arrow.RecordBatch, error) {
	if late := j.lateOf(b); late != nil {
		var err error
		if b, err = late.fill(ctx, b, late.all()); err != nil {
			return nil, err
		}
	}
	want := j.probe.Schema()
	if b.Schema().Equal(want) {
		return b, nil
	}
	defer b.Release()
	for i, c := range b.Columns() {
		if !arrow.TypeEqual(c.DataType(), want.Field(i).Type) {
			return nil, kernels.Errorf(kernels.Internal, "a join's probe batch has column %d of type %s, not its schema's %s", i, c.DataType(), want.Field(i).Type)
		}
	}
	return array.NewRecordBatch(want, b.Columns(), b.NumRows()), nil
}

// handOver gives this probe's parts to the table, and reports whether it
// is the last probe to finish, which then joins all of them.
func (j *HashJoin) handOver() bool {
	t := j.t
	t.mu.Lock()
	defer t.mu.Unlock()
	for p, fs := range j.probeParts {
		t.probeParts[p] = append(t.probeParts[p], fs...)
	}
	j.probeParts = nil
	if t.probing.Add(-1) != 0 {
		return false
	}
	j.probeParts, t.probeParts = t.probeParts, nil
	return true
}

// partJoin is the join of part p of both sides, or nil when it has no
// output for the join's kind.
func (j *HashJoin) partJoin(p int) (*HashJoin, error) {
	build, probes := j.t.parts[p], j.probeParts[p]
	j.probeParts[p] = nil
	noBuild := build == nil && (j.kind == JoinInner || j.kind == JoinSemi || j.kind == JoinRight || j.kind == JoinRightSemi || j.kind == JoinRightAnti)
	noProbe := len(probes) == 0 && (j.kind == JoinInner || j.kind == JoinLeft || j.kind == JoinSemi || j.kind == JoinAnti || j.kind == JoinRightSemi)
	if noBuild || noProbe || (build == nil && len(probes) == 0) {
		removeRuns(probes)
		return nil, nil
	}
	buildScan := &spillScan{schema: j.t.build.Schema(), keep: true}
	if build != nil {
		buildScan.files = []*budget.SpillFile{build}
	}
	probeScan := &spillScan{schema: j.probe.Schema(), files: probes}
	sub, err := NewHashJoin(j.mem, probeScan, buildScan, j.probeKeys, j.buildKeys, j.kind, j.cols)
	if err != nil {
		probeScan.Close()
		return nil, err
	}
	sub.Residual = j.Residual
	sub.t.level = j.t.level + 1
	sub.SetBudget(j.t.res.Query())
	return sub, nil
}

// closeParts ends the part join at hand and removes the probe parts not
// yet joined.
func (j *HashJoin) closeParts() {
	if j.sub != nil {
		j.sub.Close()
		j.sub = nil
	}
	for _, fs := range j.probeParts {
		removeRuns(fs)
	}
	j.probeParts = nil
}
