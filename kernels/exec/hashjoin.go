package exec

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels"
	"slipstream/kernels/budget"
	"slipstream/kernels/expr"
)

// JoinKind says which rows a HashJoin keeps.
type JoinKind int

const (
	JoinInner JoinKind = iota
	JoinLeft           // every probe row; build side null where nothing matches
	JoinRight          // every build row; probe side null where nothing matches
	JoinFull           // both
	JoinSemi           // probe rows with a match, once each
	JoinAnti           // probe rows without a match
	JoinCross          // every pair; no keys
	// JoinRightSemi and JoinRightAnti are semi and anti joins with the kept
	// side built: when it is the smaller one, the table is small and the
	// larger side only streams past it. Rows come out in build order.
	JoinRightSemi // build rows with a match, once each
	JoinRightAnti // build rows without a match
)

func (k JoinKind) String() string {
	return [...]string{"inner", "left", "right", "full", "semi", "anti", "cross", "right_semi", "right_anti"}[k]
}

// emitsPairs reports whether a match gives a row of both sides (not only a
// row of one, as semi and anti joins give).
func (k JoinKind) emitsPairs() bool {
	return k == JoinInner || k == JoinLeft || k == JoinRight || k == JoinFull || k == JoinCross
}

// TracksBuild reports whether the join remembers which build rows matched,
// and so emits build rows after the probe side ends.
func (k JoinKind) TracksBuild() bool {
	return k == JoinRight || k == JoinFull || k == JoinRightSemi || k == JoinRightAnti
}

// JoinColumn is one output column: column Index of the build or the probe input.
type JoinColumn struct {
	Build bool
	Index int
	Name  string
}

// HashJoin reads its whole build input into a hash table on the build keys,
// then streams the probe input, emitting matches in probe order (and, for
// each probe row, in build order). A null key matches nothing. Several
// HashJoins may share one build table (NewHashJoins): each probes its own
// share of the probe input, in parallel.
type HashJoin struct {
	probe                Operator
	probeKeys, buildKeys []expr.Expr
	kind                 JoinKind
	cols                 []JoinColumn
	schema               *arrow.Schema
	mem                  memory.Allocator
	// Residual, when set, is a further condition on a candidate pair, over
	// the probe columns followed by the build columns (PairSchema).
	Residual expr.Expr

	// late is the probe input when it reads columns late (inner, semi,
	// right semi and right anti joins over a Parquet scan, or a Filter
	// over one): keyCols are read for every row, outCols (the probe
	// columns the output takes) only for rows with a match.
	late             Operator
	keyCols, outCols []int

	t         *joinTable
	shared    bool // not the first user of t (EXPLAIN shows the build side once)
	loaded    bool // t is built
	probeDone bool
	tailDone  bool
	pending   []arrow.RecordBatch

	// the pairs of the batch being built
	probeRows []int64  // -1: null probe side
	matched   []int64  // keepMatched's rows, kept between batches
	buildRows []int64  // -1: null build side
	ids       []uint32 // the group ids of the batch being probed

	// When the build side spilled (joinspill.go): the probe side's parts,
	// the next part to join, and the join of the part at hand.
	probeParts [][]*budget.SpillFile
	part       int
	sub        *HashJoin
	// below folds the memory figures of the part joins done; closed keeps
	// the table's own once it is released.
	below, closed budget.OperatorStats
}

// joinTable is the build side of a hash join, built once by whichever
// probe needs it first; then frozen, so its probes read it at once.
type joinTable struct {
	mem   memory.Allocator
	build Operator
	keys  []expr.Expr
	kind  JoinKind
	users atomic.Int32 // open HashJoins; the last to close releases it

	once   sync.Once
	err    error
	rec    arrow.RecordBatch // the whole build side, concatenated
	g      *grouper
	groups int // distinct build keys; probe ids at or above match nothing
	// rows[start[g]:start[g+1]] are the build rows of group g, in build
	// order: a probe reads its matches in sequence, not by chasing links
	// from row to row across the table.
	start []int64
	rows  []int64
	// unique: every group has exactly one build row (the build keys are a
	// key of the build side, as a dimension table's are), so rows[g] is
	// group g's row and a probe row matches at most that one.
	unique bool
	// identity: unique, and group g's row is row g (groups are numbered as
	// their keys first come, so unique implies it; checked, not assumed): a
	// probe's group id is its build row, without a load from rows, which
	// misses the caches once the build side is large.
	identity bool

	// For kinds that TracksBuild: matched[r] is 1 once a probe row matched
	// build row r (set atomically: several probes may share the table), and
	// probing counts the probes not done; the last one emits the build rows.
	matched []uint32
	probing atomic.Int32

	// res, when set, bounds the table: past the query's share of memory
	// the build side is written to parts and joined part by part
	// (joinspill.go). level counts the rounds of spilling above this one.
	res   *budget.Reservation
	level int
	// parts are the build side's parts once spilled (nil where empty);
	// probeParts gathers the probes' parts of a join that TracksBuild,
	// which the last probe to finish joins.
	parts      []*budget.SpillFile
	spilled    bool
	mu         sync.Mutex
	probeParts [][]*budget.SpillFile
}

// NewHashJoin checks that the keys pair up with equal types.
func NewHashJoin(mem memory.Allocator, probe, build Operator, probeKeys, buildKeys []expr.Expr, kind JoinKind, cols []JoinColumn) (*HashJoin, error) {
	if len(probeKeys) != len(buildKeys) || (kind == JoinCross) != (len(probeKeys) == 0) {
		return nil, kernels.Errorf(kernels.Invalid, "a %s join with %d probe and %d build keys", kind, len(probeKeys), len(buildKeys))
	}
	for i := range probeKeys {
		if !arrow.TypeEqual(probeKeys[i].DataType(), buildKeys[i].DataType()) {
			return nil, kernels.Errorf(kernels.Invalid, "join key %d is %s on one side and %s on the other", i, expr.TypeName(probeKeys[i].DataType()), expr.TypeName(buildKeys[i].DataType()))
		}
	}
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		src := probe.Schema()
		if c.Build {
			src = build.Schema()
		}
		fields[i] = arrow.Field{Name: c.Name, Type: src.Field(c.Index).Type, Nullable: true}
	}
	t := &joinTable{mem: mem, build: build, keys: buildKeys, kind: kind}
	t.users.Store(1)
	t.probing.Store(1)
	j := &HashJoin{probe: probe, probeKeys: probeKeys, buildKeys: buildKeys, kind: kind,
		cols: cols, schema: arrow.NewSchema(fields, nil), mem: mem, t: t}
	for _, k := range probeKeys {
		for _, c := range columnsOf(k) {
			if !slices.Contains(j.keyCols, c) {
				j.keyCols = append(j.keyCols, c)
			}
		}
	}
	for _, c := range cols {
		if !c.Build && !slices.Contains(j.outCols, c.Index) {
			j.outCols = append(j.outCols, c.Index)
		}
	}
	j.late = j.lateProbe(probe)
	if j.late != nil && !kind.ReadsProbeLate() {
		return nil, kernels.Errorf(kernels.Internal, "a %s join cannot read its probe late (a plan error)", kind)
	}
	return j, nil
}

// ReadsProbeLate says whether a join of kind k can choose its probe rows
// before it needs every probe column (and so read them late).
func (k JoinKind) ReadsProbeLate() bool {
	return k == JoinInner || k == JoinSemi || k == JoinRightSemi || k == JoinRightAnti
}

// lateProbe is probe when the planner set it to read columns late
// (ReadLate), claimed by the join; else nil.
func (j *HashJoin) lateProbe(probe Operator) Operator {
	if f, ok := probe.(*Filter); ok && f.handOff {
		f.claimed = true
		return f
	}
	if s := lateScan(probe, j); s != nil {
		return s
	}
	return nil
}

// lateOf is the lateBatch of probe batch b, or nil when b holds every column.
func (j *HashJoin) lateOf(b arrow.RecordBatch) *lateBatch {
	switch p := j.late.(type) {
	case *Scan:
		return p.late()
	case *Filter:
		return p.last
	}
	return nil
}

// NewHashJoins makes one HashJoin per probe share, all over one build
// table. Right and full joins cannot: their unmatched build rows must come
// after every pair, in one stream. Right semi and right anti joins can:
// the probes only mark rows, and the last to finish emits them.
func NewHashJoins(mem memory.Allocator, probes []Operator, build Operator, probeKeys, buildKeys []expr.Expr, kind JoinKind, cols []JoinColumn) ([]*HashJoin, error) {
	if kind == JoinRight || kind == JoinFull {
		return nil, kernels.Errorf(kernels.Internal, "a %s join cannot share its build side among probes", kind)
	}
	first, err := NewHashJoin(mem, probes[0], build, probeKeys, buildKeys, kind, cols)
	if err != nil {
		return nil, err
	}
	out := []*HashJoin{first}
	for _, p := range probes[1:] {
		j := *first
		j.probe, j.shared, j.late = p, true, first.lateProbe(p)
		out = append(out, &j)
	}
	first.t.users.Store(int32(len(out)))
	first.t.probing.Store(int32(len(out)))
	return out, nil
}

func (j *HashJoin) Schema() *arrow.Schema { return j.schema }
func (j *HashJoin) Children() []Operator {
	if j.shared {
		return []Operator{j.probe}
	}
	return []Operator{j.probe, j.t.build}
}
func (j *HashJoin) String() string {
	on := make([]string, len(j.probeKeys))
	for i := range on {
		on[i] = j.probeKeys[i].String() + " = " + j.buildKeys[i].String()
	}
	txt := fmt.Sprintf("HashJoin %s on=[%s]", j.kind, strings.Join(on, ", "))
	if j.Residual != nil {
		txt += " filter=" + j.Residual.String()
	}
	return txt
}

// PairSchema is what a Residual sees: the probe columns, then the build ones.
func PairSchema(probe, build *arrow.Schema) *arrow.Schema {
	fields := append(append([]arrow.Field{}, probe.Fields()...), build.Fields()...)
	for i := range fields {
		fields[i].Name = fmt.Sprintf("c%d", i) // names may clash; expressions use indices
		fields[i].Nullable = true
	}
	return arrow.NewSchema(fields, nil)
}

func (j *HashJoin) Close() error {
	ReleaseAll(j.pending)
	j.pending = nil
	err := j.probe.Close()
	j.closeParts()
	if j.t != nil && j.t.res != nil {
		j.closed = j.t.res.Stats()
	}
	if j.t != nil && j.t.users.Add(-1) == 0 {
		j.t.release()
		if err2 := j.t.build.Close(); err == nil {
			err = err2
		}
	}
	j.t = nil
	return err
}

func (j *HashJoin) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if !j.loaded {
		j.t.once.Do(func() { j.t.err = j.t.load(ctx) })
		if j.t.err != nil {
			return nil, j.t.err
		}
		j.loaded = true
	}
	if j.t.spilled {
		return j.nextSpilled(ctx)
	}
	for len(j.pending) == 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		switch {
		case !j.probeDone:
			b, err := j.probe.Next(ctx)
			if err == io.EOF {
				j.probeDone = true
				continue
			}
			if err != nil {
				return nil, err
			}
			err = j.probeBatch(ctx, b)
			b.Release()
			if err != nil {
				return nil, err
			}
		case !j.tailDone:
			j.tailDone = true
			if j.kind.TracksBuild() && j.t.probing.Add(-1) == 0 {
				if err := j.buildRowsAfterProbe(ctx); err != nil {
					return nil, err
				}
			}
		default:
			return nil, io.EOF
		}
	}
	b := j.pending[0]
	j.pending = j.pending[1:]
	return b, nil
}

// keyArrays evaluates keys over b; the caller releases them.
func keyArrays(ctx context.Context, keys []expr.Expr, b arrow.RecordBatch) ([]arrow.Array, error) {
	out := make([]arrow.Array, 0, len(keys))
	for _, k := range keys {
		a, err := expr.EvalArray(ctx, k, b)
		if err != nil {
			for _, o := range out {
				o.Release()
			}
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func releaseArrays(as []arrow.Array) {
	for _, a := range as {
		a.Release()
	}
}

// keyNulls reports whether any key array has a null (else anyNull need
// not be asked row by row).
func keyNulls(keys []arrow.Array) bool {
	for _, k := range keys {
		if k.NullN() > 0 {
			return true
		}
	}
	return false
}

// anyNull reports whether row i has a null key.
func anyNull(keys []arrow.Array, i int) bool {
	for _, k := range keys {
		if k.IsNull(i) {
			return true
		}
	}
	return false
}

// load reads the build side and indexes it by key, then freezes the
// index; or, when the build side does not fit the budget, writes it to
// parts (t.spilled).
func (t *joinTable) load(ctx context.Context) error {
	var batches []arrow.RecordBatch
	var err error
	if t.res != nil {
		batches, err = t.collectWithin(ctx)
	} else {
		batches, err = Collect(ctx, t.build)
	}
	if err != nil || t.spilled {
		return err
	}
	t.rec, err = concatBatches(t.mem, t.build.Schema(), batches)
	ReleaseAll(batches)
	if err != nil {
		return err
	}
	if t.kind.TracksBuild() {
		t.matched = make([]uint32, t.rec.NumRows())
	}
	if t.kind == JoinCross {
		return nil
	}
	types := make([]arrow.DataType, len(t.keys))
	for i, k := range t.keys {
		types[i] = k.DataType()
	}
	if t.g, err = newGrouper(types); err != nil {
		return err
	}
	keys, err := keyArrays(ctx, t.keys, t.rec)
	if err != nil {
		return err
	}
	defer releaseArrays(keys)
	rows := t.rec.NumRows()
	ids := t.g.groupIDs(keys, int(rows))
	nulls := keyNulls(keys)
	t.g.freeze()
	t.groups = t.g.n
	if t.groups == int(rows) && !nulls && identityIDs(ids) {
		// Every key once, and group g is row g (groups are numbered as
		// their first rows come, but a dictionary's values in its order).
		t.start = make([]int64, rows+1)
		t.rows = make([]int64, rows)
		for r := range t.rows {
			t.start[r], t.rows[r] = int64(r), int64(r)
		}
		t.start[rows] = rows
		t.unique, t.identity = true, true
		t.reserveIndex()
		return nil
	}
	// A counting sort of the rows by group; a row with a null key is in none.
	t.start = make([]int64, t.groups+1)
	for r, g := range ids {
		if !(nulls && anyNull(keys, r)) {
			t.start[g+1]++
		}
	}
	for g := range t.groups {
		t.start[g+1] += t.start[g]
	}
	t.rows = make([]int64, t.start[t.groups])
	pos := slices.Clone(t.start[:t.groups])
	for r, g := range ids {
		if !(nulls && anyNull(keys, r)) {
			t.rows[pos[g]] = int64(r)
			pos[g]++
		}
	}
	t.unique = len(t.rows) == t.groups
	for g := 0; t.unique && g < t.groups; g++ {
		t.unique = t.start[g+1]-t.start[g] == 1
	}
	t.identity = t.unique && len(t.rows) == int(rows)
	for g := 0; t.identity && g < t.groups; g++ {
		t.identity = t.rows[g] == int64(g)
	}
	t.reserveIndex()
	return nil
}

// identityIDs says whether row r is in group r, for every r.
func identityIDs(ids []uint32) bool {
	for r, g := range ids {
		if g != uint32(r) {
			return false
		}
	}
	return true
}

// matches are the build rows of group id g (a probe row with a null key
// matches none, whatever its id).
func (t *joinTable) matches(g uint32) []int64 {
	if int(g) >= t.groups {
		return nil
	}
	return t.rows[t.start[g]:t.start[g+1]]
}

func (j *HashJoin) probeBatch(ctx context.Context, b arrow.RecordBatch) error {
	n := int(b.NumRows())
	if j.kind == JoinCross {
		for i := 0; i < n; i++ {
			if err := ctx.Err(); err != nil { // a probe row may pair with a whole table
				return err
			}
			for r := int64(0); r < j.t.rec.NumRows(); r++ {
				if err := j.emit(ctx, b, int64(i), r); err != nil {
					return err
				}
			}
		}
		return j.flush(ctx, b)
	}
	// A probe scan that reads columns late: the keys first, the columns
	// the output takes only for the rows that match.
	late := j.lateOf(b)
	b.Retain()
	defer func() {
		if b != nil { // nil after a failed fill, which released it
			b.Release()
		}
	}()
	var err error
	if late != nil {
		cols := j.keyCols
		if j.Residual != nil {
			cols = late.all() // the condition reads any column, of candidate pairs
		}
		if b, err = late.fill(ctx, b, cols); err != nil {
			return err
		}
	}
	keys, err := keyArrays(ctx, j.probeKeys, b)
	if err != nil {
		return err
	}
	defer releaseArrays(keys)
	j.ids = j.t.g.groupIDsInto(keys, n, j.ids) // consumed before the next batch
	ids := j.ids
	nulls := keyNulls(keys)
	// all: every row has its match (a join to a dimension table), found
	// once for the steps below.
	all := j.Residual == nil && (j.kind == JoinInner || j.kind == JoinSemi) && (late != nil || j.t.unique) &&
		j.allMatch(ids, nulls)
	if late != nil && j.Residual == nil && (j.kind == JoinInner || j.kind == JoinSemi) {
		if b, ids, err = j.keepMatched(ctx, late, b, keys, ids, nulls, all); err != nil {
			return err
		}
		nulls = false // the rows kept have no null key; keys now stands for other rows
		all = true
	}
	if j.Residual != nil {
		return j.probeFiltered(ctx, b, keys, ids, nulls)
	}
	if j.kind == JoinInner && j.t.unique {
		return j.probeUnique(ctx, b, keys, ids, nulls, all)
	}
	for i, g := range ids {
		matches := j.t.matches(g)
		if nulls && anyNull(keys, i) {
			matches = nil
		}
		switch j.kind {
		case JoinSemi, JoinAnti:
			if (len(matches) > 0) == (j.kind == JoinSemi) {
				if err := j.emit(ctx, b, int64(i), -1); err != nil {
					return err
				}
			}
			continue
		case JoinRightSemi, JoinRightAnti:
			// A key's rows are all marked at its first match.
			if len(matches) > 0 && atomic.LoadUint32(&j.t.matched[matches[0]]) == 0 {
				for _, r := range matches {
					atomic.StoreUint32(&j.t.matched[r], 1)
				}
			}
			continue
		}
		if len(matches) == 0 {
			if j.kind == JoinLeft || j.kind == JoinFull {
				if err := j.emit(ctx, b, int64(i), -1); err != nil {
					return err
				}
			}
			continue
		}
		if j.t.matched != nil {
			for _, r := range matches {
				atomic.StoreUint32(&j.t.matched[r], 1)
			}
		}
		if err := j.emitMatches(ctx, b, int64(i), matches); err != nil {
			return err
		}
	}
	return j.flush(ctx, b)
}

// probeUnique is probeBatch for an inner join on unique build keys: each
// probe row pairs with at most the one build row of its group, found
// without reading the group's start and end.
func (j *HashJoin) probeUnique(ctx context.Context, b arrow.RecordBatch, keys []arrow.Array, ids []uint32, nulls, all bool) error {
	rows, groups := j.t.rows, uint32(j.t.groups)
	if all && len(j.probeRows) == 0 && len(ids) <= BatchRows {
		// Every row pairs (a join to a dimension table): the batch goes
		// out as it is, beside its build rows.
		if j.t.identity { // the ids are the build rows
			return j.emitBatch(ctx, b, 0, len(ids), true, ids)
		}
		j.buildRows = slices.Grow(j.buildRows, len(ids))[:len(ids)]
		for i, g := range ids {
			j.buildRows[i] = rows[g]
		}
		return j.emitBatch(ctx, b, 0, len(ids), true, nil)
	}
	for i, g := range ids {
		if g >= groups || (nulls && anyNull(keys, i)) {
			continue
		}
		r := int64(g)
		if !j.t.identity {
			r = rows[g]
		}
		j.probeRows = append(j.probeRows, int64(i))
		j.buildRows = append(j.buildRows, r)
		if len(j.probeRows) >= BatchRows {
			if err := j.flush(ctx, b); err != nil {
				return err
			}
		}
	}
	return j.flush(ctx, b)
}

// keepMatched narrows a probe batch whose other columns are unread to the
// rows with a match, then reads the columns the output takes for those
// rows only. It takes ownership of b and returns its replacement (nil on
// an error) and the ids of the rows kept.
func (j *HashJoin) keepMatched(ctx context.Context, late *lateBatch, b arrow.RecordBatch, keys []arrow.Array, ids []uint32, nulls, all bool) (arrow.RecordBatch, []uint32, error) {
	if all {
		b, err := late.fill(ctx, b, j.outCols)
		return b, ids, err
	}
	sel := j.matched[:0]
	for i, g := range ids {
		matched := j.t.unique && int(g) < j.t.groups || len(j.t.matches(g)) > 0
		if matched && !(nulls && anyNull(keys, i)) {
			sel = append(sel, int64(i))
		}
	}
	j.matched = sel
	if len(sel) < len(ids) {
		kept := make([]uint32, len(sel))
		for k, i := range sel {
			kept[k] = ids[i]
		}
		taken, err := takeBatch(ctx, j.mem, b, sel)
		b.Release()
		if err != nil {
			return nil, nil, err
		}
		b, ids = taken, kept
		late.narrow(sel)
	}
	b, err := late.fill(ctx, b, j.outCols)
	return b, ids, err
}

// allMatch says whether every probe row of ids has a build row to pair
// with: none has a null key, each key is the build side's.
func (j *HashJoin) allMatch(ids []uint32, nulls bool) bool {
	if nulls {
		return false
	}
	if j.t.unique {
		groups := uint32(j.t.groups)
		for _, g := range ids {
			if g >= groups {
				return false
			}
		}
		return true
	}
	for _, g := range ids {
		if len(j.t.matches(g)) == 0 {
			return false
		}
	}
	return true
}

// emitMatches pairs probe row p with each of the build rows rs.
func (j *HashJoin) emitMatches(ctx context.Context, probe arrow.RecordBatch, p int64, rs []int64) error {
	if len(rs) == 1 && len(j.probeRows)+1 < BatchRows {
		// One match (a key of the build side's): no copy call for one row.
		j.probeRows, j.buildRows = append(j.probeRows, p), append(j.buildRows, rs[0])
		return nil
	}
	for len(rs) > 0 {
		k := min(len(rs), BatchRows-len(j.probeRows))
		for range k {
			j.probeRows = append(j.probeRows, p)
		}
		j.buildRows = append(j.buildRows, rs[:k]...)
		rs = rs[k:]
		if len(j.probeRows) >= BatchRows {
			if err := j.flush(ctx, probe); err != nil {
				return err
			}
		}
	}
	return nil
}

// probeFiltered is probeBatch with a residual condition: the key matches of
// each probe row are candidates, and only those the condition accepts count.
func (j *HashJoin) probeFiltered(ctx context.Context, b arrow.RecordBatch, keys []arrow.Array, ids []uint32, nulls bool) error {
	var cp, cb []int64 // candidate pairs, grouped by probe row in order
	for i, g := range ids {
		if nulls && anyNull(keys, i) {
			continue
		}
		for _, r := range j.t.matches(g) {
			cp, cb = append(cp, int64(i)), append(cb, r)
		}
	}
	accept := make([]bool, len(cp))
	for start := 0; start < len(cp); start += BatchRows {
		end := min(len(cp), start+BatchRows)
		if err := j.evalResidual(ctx, b, cp[start:end], cb[start:end], accept[start:end]); err != nil {
			return err
		}
	}
	c := 0
	for i := 0; i < int(b.NumRows()); i++ {
		found := false
		for ; c < len(cp) && cp[c] == int64(i); c++ {
			if !accept[c] {
				continue
			}
			found = true
			if j.t.matched != nil {
				atomic.StoreUint32(&j.t.matched[cb[c]], 1)
			}
			if !j.kind.emitsPairs() {
				continue
			}
			if err := j.emit(ctx, b, int64(i), cb[c]); err != nil {
				return err
			}
		}
		emitAlone := (j.kind == JoinSemi && found) || (j.kind == JoinAnti && !found) ||
			(!found && (j.kind == JoinLeft || j.kind == JoinFull))
		if emitAlone {
			if err := j.emit(ctx, b, int64(i), -1); err != nil {
				return err
			}
		}
	}
	return j.flush(ctx, b)
}

// evalResidual sets accept[k] for the pairs (probe row p[k], build row r[k]).
func (j *HashJoin) evalResidual(ctx context.Context, b arrow.RecordBatch, p, r []int64, accept []bool) error {
	cols := make([]arrow.Array, 0, b.NumCols()+j.t.rec.NumCols())
	defer func() { releaseArrays(cols) }()
	for c := 0; c < int(b.NumCols()); c++ {
		out, err := takeRows(ctx, j.mem, b.Column(c), p)
		if err != nil {
			return err
		}
		cols = append(cols, out)
	}
	for c := 0; c < int(j.t.rec.NumCols()); c++ {
		out, err := takeRows(ctx, j.mem, j.t.rec.Column(c), r)
		if err != nil {
			return err
		}
		cols = append(cols, out)
	}
	pairs := array.NewRecordBatch(PairSchema(b.Schema(), j.t.rec.Schema()), cols, int64(len(p)))
	defer pairs.Release()
	mask, err := expr.EvalArray(ctx, j.Residual, pairs)
	if err != nil {
		return err
	}
	defer mask.Release()
	m := mask.(*array.Boolean)
	for k := range accept {
		accept[k] = m.IsValid(k) && m.Value(k)
	}
	return nil
}

// buildRowsAfterProbe emits, once the probe side ends, the build rows the
// join keeps by whether a probe row matched them: for right, full and right
// anti joins those no probe row matched (with a null probe side), for right
// semi joins those one did.
func (j *HashJoin) buildRowsAfterProbe(ctx context.Context) error {
	keep := uint32(0) // the unmatched rows; right semi joins keep the matched
	if j.kind == JoinRightSemi {
		keep = 1
	}
	for r := range j.t.matched {
		if atomic.LoadUint32(&j.t.matched[r]) == keep {
			if err := j.emit(ctx, nil, -1, int64(r)); err != nil {
				return err
			}
		}
	}
	return j.flush(ctx, nil)
}

func (j *HashJoin) emit(ctx context.Context, probe arrow.RecordBatch, p, r int64) error {
	j.probeRows = append(j.probeRows, p)
	j.buildRows = append(j.buildRows, r)
	if len(j.probeRows) >= BatchRows {
		return j.flush(ctx, probe)
	}
	return nil
}

// indexArray turns row numbers into take indices; -1 becomes null.
func indexArray[I rowIndex](mem memory.Allocator, rows []I) arrow.Array {
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.Reserve(len(rows))
	for _, r := range rows {
		if r < 0 {
			b.UnsafeAppendBoolToBitmap(false)
		} else {
			b.UnsafeAppend(int64(r))
		}
	}
	return b.NewArray()
}

// flush turns the pending pairs into an output batch.
func (j *HashJoin) flush(ctx context.Context, probe arrow.RecordBatch) error {
	n := len(j.probeRows)
	if n == 0 {
		return nil
	}
	// Probe rows one after the other (each matched once): the probe's
	// columns are sliced, not copied.
	run := probe != nil && j.probeRows[0] >= 0
	for k, r := range j.probeRows {
		if r != j.probeRows[0]+int64(k) {
			run = false
			break
		}
	}
	var first int64
	if run {
		first = j.probeRows[0]
	}
	return j.emitBatch(ctx, probe, first, n, run, nil)
}

// emitBatch emits the n pairs of j.buildRows (or, when given, the build
// rows buildIDs, none of them missing) with, when run holds, the probe rows
// first, first+1, ..., else those of j.probeRows, and empties both.
func (j *HashJoin) emitBatch(ctx context.Context, probe arrow.RecordBatch, first int64, n int, run bool, buildIDs []uint32) error {
	defer func() { j.probeRows, j.buildRows = j.probeRows[:0], j.buildRows[:0] }()
	cols := make([]arrow.Array, 0, len(j.cols))
	defer func() { releaseArrays(cols) }()
	for i, c := range j.cols {
		var out arrow.Array
		var err error
		switch {
		case c.Build && buildIDs != nil:
			out, err = takeRows(ctx, j.mem, j.t.rec.Column(c.Index), buildIDs)
		case c.Build:
			out, err = takeRows(ctx, j.mem, j.t.rec.Column(c.Index), j.buildRows)
		case probe == nil:
			out = array.MakeArrayOfNull(j.mem, j.schema.Field(i).Type, n)
		case run:
			out = array.NewSlice(probe.Column(c.Index), first, first+int64(n))
		default:
			out, err = takeRows(ctx, j.mem, probe.Column(c.Index), j.probeRows)
		}
		if err != nil {
			return err
		}
		cols = append(cols, out)
	}
	j.pending = append(j.pending, array.NewRecordBatch(j.schema, cols, int64(n)))
	return nil
}
