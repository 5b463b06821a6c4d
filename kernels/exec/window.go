package exec

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"slipstream/kernels"
	"slipstream/kernels/budget"
	"slipstream/kernels/expr"
)

// WindowExpr is one window computation over input columns.
type WindowExpr struct {
	Func      expr.WindowOp
	Agg       *expr.Function // expr.WinAggregate and expr.WinRolling
	AggParams []scalar.Scalar
	// AggFiltered: expr.WinAggregate over the rows where column AggFilter is true.
	AggFiltered bool
	AggFilter   int
	Arg         int // input column, -1 for none
	expr.WindowArgs
	PartitionBy []int
	OrderBy     []SortKey
	Name        string
	Type        arrow.DataType
	// Peers: each row takes the value of the last of its peers (rows of
	// its partition with equal order keys), as SQL's RANGE frames do.
	Peers bool
}

// Window reads its whole input and appends one column per expression,
// keeping the input's row order.
type Window struct {
	input  Operator
	exprs  []WindowExpr
	schema *arrow.Schema
	mem    memory.Allocator
	out    materialized
	// res, when set, bounds what the window holds: past the query's share
	// it computes part by part from disk (windowspill.go), and spilled
	// streams that result back in input order. level counts the rounds.
	res     *budget.Reservation
	level   int
	spilled *Sort
	below   budget.OperatorStats // figures kept once spilled is closed
}

// NewWindow appends a column per expression to input's columns.
func NewWindow(mem memory.Allocator, input Operator, exprs []WindowExpr) *Window {
	fields := append([]arrow.Field{}, input.Schema().Fields()...)
	for _, e := range exprs {
		fields = append(fields, arrow.Field{Name: e.Name, Type: e.Type, Nullable: true})
	}
	return &Window{input: input, exprs: exprs, schema: arrow.NewSchema(fields, nil), mem: mem}
}

func (w *Window) Schema() *arrow.Schema { return w.schema }
func (w *Window) Children() []Operator  { return []Operator{w.input} }
func (w *Window) String() string {
	parts := make([]string, len(w.exprs))
	in := w.input.Schema()
	for i, e := range w.exprs {
		fn := e.Func.String()
		if e.Func == expr.WinAggregate {
			fn = e.Agg.Name
		}
		switch e.Func {
		case expr.WinRolling:
			fn = fmt.Sprintf("rolling[-%d,+%d,min=%d] %s", e.Preceding, e.Following, e.MinSamples, e.Agg.Name)
		case expr.WinRollingBy:
			fn = fmt.Sprintf("rolling_by[period=%d,closed=%s,min=%d] %s", e.Period, e.Closed, e.MinSamples, e.Agg.Name)
		}
		arg := ""
		if e.Arg >= 0 {
			arg = in.Field(e.Arg).Name
		}
		by := make([]string, len(e.PartitionBy))
		for k, c := range e.PartitionBy {
			by[k] = in.Field(c).Name
		}
		order := make([]string, len(e.OrderBy))
		for k, o := range e.OrderBy {
			order[k] = in.Field(o.Column).Name
			if o.Descending {
				order[k] += " desc"
			}
		}
		parts[i] = fmt.Sprintf("%s(%s) over(partition_by=[%s] order_by=[%s]) AS %s", fn, arg, strings.Join(by, ", "), strings.Join(order, ", "), e.Name)
	}
	return "Window " + strings.Join(parts, ", ")
}

func (w *Window) Close() error {
	w.out.release()
	if w.spilled != nil {
		w.below = w.below.Add(w.partsMemory())
		w.spilled.Close()
		w.spilled = nil
	}
	if w.res != nil {
		w.res.Free()
	}
	return w.input.Close()
}

func (w *Window) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if !w.out.built() && w.spilled == nil {
		if err := w.build(ctx); err != nil {
			return nil, err
		}
	}
	if w.spilled != nil {
		return w.nextSpilled(ctx)
	}
	return w.out.next(ctx)
}

func (w *Window) build(ctx context.Context) error {
	var batches []arrow.RecordBatch
	var err error
	if w.res != nil {
		batches, err = w.collectWithin(ctx)
	} else {
		batches, err = Collect(ctx, w.input)
	}
	if err != nil || w.spilled != nil {
		return err
	}
	rec, err := concatBatches(w.mem, w.input.Schema(), batches)
	ReleaseAll(batches)
	if err != nil {
		return err
	}
	defer rec.Release()
	cols := append([]arrow.Array{}, rec.Columns()...)
	var added []arrow.Array
	defer func() { releaseArrays(added) }()
	for _, e := range w.exprs {
		if err := ctx.Err(); err != nil {
			return err
		}
		col, err := w.compute(ctx, rec, e)
		if err != nil {
			return err
		}
		added = append(added, col)
	}
	whole := array.NewRecordBatch(w.schema, append(cols, added...), rec.NumRows())
	defer whole.Release()
	w.out.set(w.schema, whole)
	return nil
}

// ids gives every row the dense id of its values in columns (0 for all rows when none).
func ids(rec arrow.RecordBatch, columns []int) ([]uint32, int, error) {
	types := make([]arrow.DataType, len(columns))
	arrs := make([]arrow.Array, len(columns))
	for i, c := range columns {
		types[i], arrs[i] = rec.Column(c).DataType(), rec.Column(c)
	}
	g, err := newGrouper(types)
	if err != nil {
		return nil, 0, err
	}
	out := g.groupIDs(arrs, int(rec.NumRows()))
	return out, g.n, nil
}

func (w *Window) compute(ctx context.Context, rec arrow.RecordBatch, e WindowExpr) (arrow.Array, error) {
	n := int(rec.NumRows())
	pids, groups, err := ids(rec, e.PartitionBy)
	if err != nil {
		return nil, err
	}
	if e.Func == expr.WinAggregate {
		var vals arrow.Array
		var in arrow.DataType
		if e.Arg >= 0 {
			vals, in = rec.Column(e.Arg), rec.Column(e.Arg).DataType()
		}
		acc := e.Agg.NewAccumulator(in, e.AggParams)
		if e.AggFiltered {
			if err := updateWhere(ctx, w.mem, acc, vals, pids, groups, rec.Column(e.AggFilter)); err != nil {
				return nil, err
			}
		} else {
			acc.Update(vals, pids, groups)
		}
		per := acc.Finish(w.mem, max(groups, 1))
		defer per.Release()
		idx := make([]int64, n)
		for i, p := range pids {
			idx[i] = int64(p)
		}
		return takeRows(ctx, w.mem, per, idx)
	}
	perm, err := w.order(ctx, rec, pids, e.OrderBy)
	if err != nil {
		return nil, err
	}
	// start[k] is where the partition of sorted position k begins.
	start := make([]int, n)
	for k := range perm {
		if k > 0 && pids[perm[k]] == pids[perm[k-1]] {
			start[k] = start[k-1]
		} else {
			start[k] = k
		}
	}
	end := make([]int, n) // one past the partition's last position
	for k := n - 1; k >= 0; k-- {
		if k < n-1 && start[k+1] == start[k] {
			end[k] = end[k+1]
		} else {
			end[k] = k + 1
		}
	}
	out, err := w.ordered(ctx, rec, e, perm, start, end)
	if err != nil || !e.Peers {
		return out, err
	}
	defer out.Release()
	return w.withPeers(ctx, rec, e, out, perm, end)
}

// withPeers gives each row the value of the last of its peers (the rows
// of its partition with equal order keys): SQL's running aggregates, whose
// default frame (RANGE ... CURRENT ROW) holds the current row's peers.
func (w *Window) withPeers(ctx context.Context, rec arrow.RecordBatch, e WindowExpr, out arrow.Array, perm []int64, end []int) (arrow.Array, error) {
	cols := make([]int, len(e.OrderBy))
	for i, o := range e.OrderBy {
		cols[i] = o.Column
	}
	oids, _, err := ids(rec, cols)
	if err != nil {
		return nil, err
	}
	idx := make([]int64, len(perm))
	for k := len(perm) - 1; k >= 0; k-- {
		row := perm[k]
		idx[row] = row
		if k+1 < end[k] && oids[perm[k+1]] == oids[row] {
			idx[row] = idx[perm[k+1]]
		}
	}
	return takeRows(ctx, w.mem, out, idx)
}

// ordered computes the window functions that read their partition in order.
func (w *Window) ordered(ctx context.Context, rec arrow.RecordBatch, e WindowExpr, perm []int64, start, end []int) (arrow.Array, error) {
	n := int(rec.NumRows())
	switch e.Func {
	case expr.WinRowNumber, expr.WinRank, expr.WinDenseRank:
		cols := make([]int, len(e.OrderBy))
		for i, o := range e.OrderBy {
			cols[i] = o.Column
		}
		oids, _, err := ids(rec, cols)
		if err != nil {
			return nil, err
		}
		out := make([]int64, n)
		for k, row := range perm {
			switch {
			case e.Func == expr.WinRowNumber || k == start[k]:
				out[row] = int64(k - start[k] + 1)
			case oids[row] == oids[perm[k-1]]:
				out[row] = out[perm[k-1]]
			case e.Func == expr.WinRank:
				out[row] = int64(k - start[k] + 1)
			default:
				out[row] = out[perm[k-1]] + 1
			}
		}
		return expr.FixedWidthArray(w.mem, arrow.PrimitiveTypes.Int64, out, nil, 0), nil
	case expr.WinLag, expr.WinLead:
		idx := make([]int64, n)
		for k, row := range perm {
			src := k - int(e.Offset)
			if e.Func == expr.WinLead {
				src = k + int(e.Offset)
			}
			idx[row] = -1
			if src >= start[k] && src < end[k] {
				idx[row] = perm[src]
			}
		}
		return takeRows(ctx, w.mem, rec.Column(e.Arg), idx)
	case expr.WinCumCount:
		arg := rec.Column(e.Arg)
		out := make([]int64, n)
		var count int64
		for k, row := range perm {
			if k == start[k] {
				count = 0
			}
			if arg.IsValid(int(row)) {
				count++
			}
			out[row] = count
		}
		return expr.FixedWidthArray(w.mem, arrow.PrimitiveTypes.Int64, out, nil, 0), nil
	case expr.WinCumMin, expr.WinCumMax:
		arg := rec.Column(e.Arg)
		less, err := rowLess(arg)
		if err != nil {
			return nil, err
		}
		idx := make([]int64, n)
		best := int64(-1)
		for k, row := range perm {
			if k == start[k] {
				best = -1
			}
			if arg.IsValid(int(row)) && (best < 0 || (e.Func == expr.WinCumMin && less(int(row), int(best))) || (e.Func == expr.WinCumMax && less(int(best), int(row)))) {
				best = row
			}
			idx[row] = best
		}
		return takeRows(ctx, w.mem, arg, idx)
	case expr.WinCumSum:
		return cumSum(w.mem, rec.Column(e.Arg), perm, start, e.Type)
	case expr.WinEwmMean:
		return ewmMean(w.mem, rec.Column(e.Arg), perm, start, e), nil
	case expr.WinRolling, expr.WinRollingBy:
		return w.rolling(ctx, rec, e, perm, start, end)
	case expr.WinFillForward, expr.WinFillBackward:
		arg := rec.Column(e.Arg)
		idx := make([]int64, n)
		step, first := 1, 0
		if e.Func == expr.WinFillBackward {
			step, first = -1, n-1
		}
		last, gap := int64(-1), int64(0) // the last value's row, rows since it
		for k := first; k >= 0 && k < n; k += step {
			row := perm[k]
			edge := start[k] == k
			if step < 0 {
				edge = end[k] == k+1
			}
			if edge {
				last = -1
			}
			if arg.IsValid(int(row)) {
				last, gap = row, 0
			} else {
				gap++
			}
			idx[row] = last
			if e.Offset >= 0 && gap > e.Offset {
				idx[row] = -1
			}
		}
		return takeRows(ctx, w.mem, arg, idx)
	case expr.WinCumProd:
		arg := rec.Column(e.Arg)
		if arg.DataType().ID() == arrow.FLOAT64 {
			return cumTypedFrom(w.mem, arg, perm, start, e.Type, 1, func(x, y float64) float64 { return x * y }), nil
		}
		return cumTypedFrom(w.mem, arg, perm, start, e.Type, 1, func(x, y int64) int64 { return x * y }), nil
	}
	return nil, kernels.Errorf(kernels.Internal, "window function %v", e.Func)
}

// order sorts the rows by partition id, then by the order keys (stably).
func (w *Window) order(ctx context.Context, rec arrow.RecordBatch, pids []uint32, orderBy []SortKey) ([]int64, error) {
	pidArr := expr.FixedWidthArray(w.mem, arrow.PrimitiveTypes.Uint32, pids, nil, 0)
	defer pidArr.Release()
	fields := []arrow.Field{{Name: "p", Type: arrow.PrimitiveTypes.Uint32}}
	cols := []arrow.Array{pidArr}
	keys := []compute.SortKey{{ColumnIndex: 0, Order: compute.SortOrderAscending}}
	for i, o := range orderBy {
		c := rec.Column(o.Column)
		fields = append(fields, arrow.Field{Name: fmt.Sprintf("o%d", i), Type: c.DataType(), Nullable: true})
		cols = append(cols, c)
		k := compute.SortKey{ColumnIndex: i + 1, Order: compute.SortOrderAscending, NullPlacement: compute.SortNullsAtStart}
		if o.Descending {
			k.Order = compute.SortOrderDescending
		}
		if o.NullsLast {
			k.NullPlacement = compute.SortNullsAtEnd
		}
		keys = append(keys, k)
	}
	keyRec := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, rec.NumRows())
	defer keyRec.Release()
	// sort_indices leaks scratch memory from the allocator it is given
	// (see sort.go), so it runs on the default one.
	keyed, keys := withNaNKeysRecord(memory.DefaultAllocator, keyRec, keys)
	defer keyed.Release()
	sorted, err := compute.SortIndicesRecordBatch(expr.WithAllocator(ctx, memory.DefaultAllocator), keyed, keys)
	if err != nil {
		return nil, err
	}
	defer sorted.Release()
	perm := make([]int64, sorted.Len())
	switch s := sorted.(type) {
	case *array.Uint64:
		for i, v := range s.Uint64Values() {
			perm[i] = int64(v)
		}
	case *array.Int64:
		copy(perm, s.Int64Values())
	default:
		return nil, kernels.Errorf(kernels.Internal, "sort indices of type %s", sorted.DataType())
	}
	return perm, nil
}

// rowLess compares two rows of one array (both non-null).
func rowLess(a arrow.Array) (func(i, j int) bool, error) {
	switch a := a.(type) {
	case *array.Int8:
		return func(i, j int) bool { return a.Value(i) < a.Value(j) }, nil
	case *array.Int16:
		return func(i, j int) bool { return a.Value(i) < a.Value(j) }, nil
	case *array.Int32:
		return func(i, j int) bool { return a.Value(i) < a.Value(j) }, nil
	case *array.Int64:
		return func(i, j int) bool { return a.Value(i) < a.Value(j) }, nil
	case *array.Uint8:
		return func(i, j int) bool { return a.Value(i) < a.Value(j) }, nil
	case *array.Uint16:
		return func(i, j int) bool { return a.Value(i) < a.Value(j) }, nil
	case *array.Uint32:
		return func(i, j int) bool { return a.Value(i) < a.Value(j) }, nil
	case *array.Uint64:
		return func(i, j int) bool { return a.Value(i) < a.Value(j) }, nil
	case *array.Float32:
		return func(i, j int) bool { return a.Value(i) < a.Value(j) }, nil
	case *array.Float64:
		return func(i, j int) bool { return a.Value(i) < a.Value(j) }, nil
	case *array.Date32:
		return func(i, j int) bool { return a.Value(i) < a.Value(j) }, nil
	case *array.Timestamp:
		return func(i, j int) bool { return a.Value(i) < a.Value(j) }, nil
	case *array.Decimal128:
		return func(i, j int) bool { return a.Value(i).Less(a.Value(j)) }, nil
	case *array.String:
		return func(i, j int) bool { return a.Value(i) < a.Value(j) }, nil
	case *array.LargeString:
		return func(i, j int) bool { return a.Value(i) < a.Value(j) }, nil
	case *array.Boolean:
		return func(i, j int) bool { return !a.Value(i) && a.Value(j) }, nil
	}
	return nil, kernels.Errorf(kernels.NotSupported, "cum_min/cum_max of %s", expr.TypeName(a.DataType()))
}

// cumSum is the running sum of a (already int64, uint64, float64 or a
// decimal) along perm, restarting at each partition start; null until the
// partition's first value.
func cumSum(mem memory.Allocator, a arrow.Array, perm []int64, start []int, out arrow.DataType) (arrow.Array, error) {
	switch a.DataType().ID() {
	case arrow.INT64:
		return cumTyped(mem, a, perm, start, out, func(x, y int64) int64 { return x + y }), nil
	case arrow.UINT64:
		return cumTyped(mem, a, perm, start, out, func(x, y uint64) uint64 { return x + y }), nil
	case arrow.FLOAT64:
		return cumTyped(mem, a, perm, start, out, func(x, y float64) float64 { return x + y }), nil
	case arrow.DECIMAL128:
		return cumTyped(mem, a, perm, start, out, decimal128.Num.Add), nil
	}
	return nil, kernels.Errorf(kernels.Internal, "cum_sum of %s", expr.TypeName(a.DataType()))
}

func cumTyped[T arrow.FixedWidthType](mem memory.Allocator, a arrow.Array, perm []int64, start []int, out arrow.DataType, add func(T, T) T) arrow.Array {
	var zero T
	return cumTypedFrom(mem, a, perm, start, out, zero, add)
}

// cumTypedFrom is cumTyped starting from zero (1 for a product).
func cumTypedFrom[T arrow.FixedWidthType](mem memory.Allocator, a arrow.Array, perm []int64, start []int, out arrow.DataType, zero T, add func(T, T) T) arrow.Array {
	vals := expr.Values[T](a)
	sums := make([]T, len(perm))
	seen := make([]bool, len(perm))
	var acc T
	has := false
	for k, row := range perm {
		if k == start[k] {
			acc, has = zero, false
		}
		if a.IsValid(int(row)) {
			acc, has = add(acc, vals[row]), true
		}
		sums[row], seen[row] = acc, has
	}
	v, nulls := expr.ValidityOf(mem, seen)
	return expr.FixedWidthArray(mem, out, sums, v, nulls)
}

// rolling computes e.Agg over the frame of each sorted position k (see
// frames); sums and means slide (slidingSum), the rest fold (rollingFold).
func (w *Window) rolling(ctx context.Context, rec arrow.RecordBatch, e WindowExpr, perm []int64, start, end []int) (arrow.Array, error) {
	var vals arrow.Array
	var in arrow.DataType
	if e.Arg >= 0 {
		vals, in = rec.Column(e.Arg), rec.Column(e.Arg).DataType()
	}
	lo, hi, err := frames(rec, e, perm, start, end)
	if err != nil {
		return nil, err
	}
	if out := slidingSum(w.mem, vals, e, perm, lo, hi); out != nil {
		return out, nil
	}
	return w.rollingFold(ctx, vals, in, e, perm, start, end, lo, hi)
}

// frames gives the frame of each sorted position k, the positions lo[k]
// to hi[k] (empty when hi[k] < lo[k]), within k's partition: by rows,
// from k-Preceding to k+Following; by range (rolling_by), the positions
// whose order key lies within Period of k's, as Closed says. Both bounds
// only move forward within a partition, which slidingSum relies on.
func frames(rec arrow.RecordBatch, e WindowExpr, perm []int64, start, end []int) (lo, hi []int, err error) {
	n := len(perm)
	lo, hi = make([]int, n), make([]int, n)
	if e.Func != expr.WinRollingBy {
		for k := range n {
			lo[k], hi[k] = max(start[k], k-int(e.Preceding)), min(end[k]-1, k+int(e.Following))
		}
		return lo, hi, nil
	}
	col := rec.Column(e.OrderBy[0].Column)
	keys, err := int64Keys(col)
	if err != nil {
		return nil, nil, err
	}
	// The frame of key t: keys in (t-Period, t], or closed on the other
	// side(s); nulls sort to one end and have an empty frame.
	startOpen := e.Closed == "right" || e.Closed == "none"
	endOpen := e.Closed == "left" || e.Closed == "none"
	inFrameFrom := func(v, t int64) bool { // v not before the frame of t
		if startOpen {
			return v > t-e.Period
		}
		return v >= t-e.Period
	}
	inFrameTo := func(v, t int64) bool { // v not past the frame of t
		if endOpen {
			return v < t
		}
		return v <= t
	}
	for k := 0; k < n; {
		stop := end[k]
		// The partition's non-null keys, sorted, at positions first..last-1.
		first, last := k, stop
		for first < stop && col.IsNull(int(perm[first])) {
			first++
		}
		for last > first && col.IsNull(int(perm[last-1])) {
			last--
		}
		a, b := first, first // the frame: positions a..b-1
		for ; k < stop; k++ {
			if k < first || k >= last {
				lo[k], hi[k] = k, k-1 // a null key: no frame
				continue
			}
			t := keys[perm[k]]
			for b < last && inFrameTo(keys[perm[b]], t) {
				b++
			}
			for a < b && !inFrameFrom(keys[perm[a]], t) {
				a++
			}
			lo[k], hi[k] = a, b-1
		}
	}
	return lo, hi, nil
}

// int64Keys reads an order key of a range frame as int64 values in its
// own unit (days for date32).
func int64Keys(a arrow.Array) ([]int64, error) {
	switch a.DataType().ID() {
	case arrow.TIMESTAMP, arrow.DATE64, arrow.INT64:
		return asInt64[int64](a), nil
	case arrow.DATE32, arrow.INT32:
		return asInt64[int32](a), nil
	case arrow.INT16:
		return asInt64[int16](a), nil
	case arrow.INT8:
		return asInt64[int8](a), nil
	case arrow.UINT32:
		return asInt64[uint32](a), nil
	case arrow.UINT16:
		return asInt64[uint16](a), nil
	case arrow.UINT8:
		return asInt64[uint8](a), nil
	}
	return nil, kernels.Errorf(kernels.Invalid, "rolling_by cannot order by %s values", expr.TypeName(a.DataType()))
}

// asInt64 is a's values (stored as T) as int64.
func asInt64[T int8 | int16 | int32 | int64 | uint8 | uint16 | uint32](a arrow.Array) []int64 {
	vals := expr.Values[T](a)
	out := make([]int64, len(vals))
	for i, v := range vals {
		out[i] = int64(v)
	}
	return out
}

// needs is the fewest non-null values a rolling frame needs to give a
// value: a row frame at least one, as polars' rolling_*; a range frame
// MinSamples when more than one, else none, so that a frame of nulls
// takes the aggregate's own answer (polars' rolling_sum_by and
// LazyFrame.rolling: the sum of no value is 0, the mean null).
func (e WindowExpr) needs() int64 {
	if e.Func == expr.WinRollingBy && e.MinSamples <= 1 {
		return 0
	}
	return max(e.MinSamples, 1)
}

func firstParam(params []scalar.Scalar) scalar.Scalar {
	if len(params) == 0 {
		return nil
	}
	return params[0]
}

// rollingFold is rolling's general path, for any accumulator, in
// O(rows x frame): each value is folded into the frames that hold it, one
// offset at a time: in pass d, sorted position k feeds the frame of
// position k+d when lo <= k <= hi of that frame (groups are sorted
// positions; n is a dummy for no frame).
func (w *Window) rollingFold(ctx context.Context, vals arrow.Array, in arrow.DataType, e WindowExpr, perm []int64, start, end, lo, hi []int) (arrow.Array, error) {
	n := len(perm)
	acc := e.Agg.NewAccumulator(in, e.AggParams)
	pos := make([]int, n) // the sorted position of each row
	for k, row := range perm {
		pos[row] = k
	}
	// The offsets d = frame - position that occur: from -(the furthest a
	// frame reaches ahead) to the furthest it reaches back.
	first, last := 0, 0
	for k := range n {
		if lo[k] <= hi[k] {
			first, last = min(first, k-hi[k]), max(last, k-lo[k])
		}
	}
	ids := make([]uint32, n)
	for d := last; d >= first; d-- { // earlier positions first: implode keeps the frame's order
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for row := range n {
			k := pos[row]
			t := k + d // the frame this row is in at this offset
			ids[row] = uint32(n)
			if t >= start[k] && t < end[k] && lo[t] <= k && k <= hi[t] {
				ids[row] = uint32(t)
			}
		}
		acc.Update(vals, ids, n+1)
	}
	per := acc.Finish(w.mem, n+1)
	defer per.Release()
	// Enough values? Count the non-null ones of each frame by prefix sums.
	valid := make([]int64, n+1)
	for k, row := range perm {
		valid[k+1] = valid[k]
		if vals == nil || vals.IsValid(int(row)) {
			valid[k+1]++
		}
	}
	idx := make([]int64, n)
	need := e.needs()
	for k, row := range perm {
		idx[row] = int64(k)
		enough := need == 0 || (hi[k] >= lo[k] && valid[hi[k]+1]-valid[lo[k]] >= need)
		if !enough {
			idx[row] = -1
		}
	}
	return takeRows(ctx, w.mem, per, idx)
}

// ewmMean is polars' ewm_mean over float64 values in window order. With
// adjust, the mean weighs the value i rows back by (1-alpha)^i (a running
// numerator and denominator, both decayed each row); without, it is the
// recursion y = ((1-alpha)^k y + alpha x) / ((1-alpha)^k + alpha), k the
// rows since the last value. Unless ignoreNulls, a null row still ages
// what came before. A null row gives null, and so does a row with fewer
// than MinSamples values so far.
func ewmMean(mem memory.Allocator, a arrow.Array, perm []int64, start []int, e WindowExpr) arrow.Array {
	vals := expr.Values[float64](a)
	out := make([]float64, len(perm))
	ok := make([]bool, len(perm))
	keep := 1 - e.Alpha
	var num, den, y, age float64
	var count int64
	for k, row := range perm {
		if k == start[k] {
			num, den, y, age, count = 0, 0, 0, 0, 0
		}
		valid := a.IsValid(int(row))
		if !valid {
			if !e.IgnoreNulls {
				num, den = num*keep, den*keep
				age++
			}
			continue
		}
		x := vals[row]
		switch {
		case e.Adjust:
			num, den = num*keep+x, den*keep+1
			y = num / den
		case count == 0:
			y = x
		default:
			w := math.Pow(keep, age+1)
			y = (w*y + e.Alpha*x) / (w + e.Alpha)
		}
		age = 0
		count++
		out[row], ok[row] = y, count >= max(e.MinSamples, 1)
	}
	v, nulls := expr.ValidityOf(mem, ok)
	return expr.FixedWidthArray(mem, arrow.PrimitiveTypes.Float64, out, v, nulls)
}

// slidingSum is rolling sum and mean in O(rows) rather than O(rows x
// frame): each frame is the previous one with the values that enter added
// and those that leave subtracted. Float sums are compensated (Neumaier),
// so a value leaving leaves no rounding behind, and NaN and infinities are
// counted apart, so one leaving the frame does not poison the frames after
// it. It gives nil for what it does not cover (other aggregates, other
// types), which the general path computes.
func slidingSum(mem memory.Allocator, vals arrow.Array, e WindowExpr, perm []int64, frameLo, frameHi []int) arrow.Array {
	if vals == nil || e.AggFiltered || (e.Agg.Name != "sum" && e.Agg.Name != "mean") {
		return nil
	}
	// A frame with no value, when it needs none, sums to 0 with polars'
	// zero_if_empty (the mean stays null).
	need := e.needs()
	zeroIfEmpty := false
	if b, ok := firstParam(e.AggParams).(*scalar.Boolean); ok && b.IsValid() {
		zeroIfEmpty = b.Value
	}
	isInt := vals.DataType().ID() == arrow.INT64
	if !isInt && vals.DataType().ID() != arrow.FLOAT64 {
		return nil
	}
	mean := e.Agg.Name == "mean"
	n := len(perm)
	outF := make([]float64, n)
	outI := make([]int64, n)
	ok := make([]bool, n)
	var ints []int64
	var floats []float64
	if isInt {
		ints = expr.Values[int64](vals)
	} else {
		floats = expr.Values[float64](vals)
	}
	var isum int64
	var fsum, comp float64
	var count, nans, pinf, ninf int64
	add := func(row int64, sign int64) {
		if vals.IsNull(int(row)) {
			return
		}
		count += sign
		if isInt {
			isum += sign * ints[row]
			return
		}
		x := floats[row]
		switch {
		case math.IsNaN(x):
			nans += sign
		case math.IsInf(x, 1):
			pinf += sign
		case math.IsInf(x, -1):
			ninf += sign
		default:
			x *= float64(sign)
			t := fsum + x
			if math.Abs(fsum) >= math.Abs(x) {
				comp += (fsum - t) + x
			} else {
				comp += (x - t) + fsum
			}
			fsum = t
		}
	}
	lo, hi := 0, -1 // the frame held: positions lo..hi
	for k := range n {
		wantLo, wantHi := frameLo[k], frameHi[k]
		if wantLo > hi || wantHi < hi { // a new partition, or an empty frame: start afresh
			isum, fsum, comp, count, nans, pinf, ninf = 0, 0, 0, 0, 0, 0, 0
			lo, hi = wantLo, wantLo-1
		}
		for hi < wantHi {
			hi++
			add(perm[hi], 1)
		}
		for lo < wantLo {
			add(perm[lo], -1)
			lo++
		}
		{
			row := perm[k]
			if count < need || count == 0 {
				ok[row] = count == 0 && need == 0 && zeroIfEmpty && !mean
				continue
			}
			ok[row] = true
			var sum float64
			switch {
			case isInt && !mean:
				outI[row] = isum
				continue
			case isInt:
				sum = float64(isum)
			case nans > 0 || (pinf > 0 && ninf > 0):
				sum = math.NaN()
			case pinf > 0:
				sum = math.Inf(1)
			case ninf > 0:
				sum = math.Inf(-1)
			default:
				sum = fsum + comp
			}
			if mean {
				sum /= float64(count)
			}
			outF[row] = sum
		}
	}
	v, nulls := expr.ValidityOf(mem, ok)
	if isInt && !mean {
		return expr.FixedWidthArray(mem, e.Type, outI, v, nulls)
	}
	return expr.FixedWidthArray(mem, e.Type, outF, v, nulls)
}
