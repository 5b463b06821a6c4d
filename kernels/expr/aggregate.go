package expr

import (
	"unsafe"

	"cmp"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// Accumulator is the per-group state of one aggregate. State lives in Go
// slices indexed by group id; only Finish allocates Arrow memory.
type Accumulator interface {
	// Update folds row i of values into group ids[i]; ngroups is the number
	// of groups so far (every id is below it). values is nil for len.
	Update(values arrow.Array, ids []uint32, ngroups int)
	// Finish builds one value per group, ngroups long.
	Finish(mem memory.Allocator, ngroups int) arrow.Array
}

func registerAggregates() {
	i64 := arrow.PrimitiveTypes.Int64
	register(&Function{Name: "len", Kind: Aggregate, Merge: &Merge{Combine: "sum"}, Arity: 0,
		Resolve:        func([]arrow.DataType) (arrow.DataType, []arrow.DataType, error) { return i64, nil, nil },
		NewAccumulator: func(arrow.DataType, []scalar.Scalar) Accumulator { return &countAcc{rows: true} }})
	register(&Function{Name: "count", Kind: Aggregate, Merge: &Merge{Combine: "sum"}, Arity: 1,
		Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
			return i64, in, nil
		},
		NewAccumulator: func(arrow.DataType, []scalar.Scalar) Accumulator { return &countAcc{} }})
	// sum(x, zero_if_empty): with true, a group with no non-null value sums
	// to 0, as in polars; SQL passes no parameter and gets null.
	register(&Function{Name: "sum", Kind: Aggregate, Merge: &Merge{}, Arity: 1, MaxArity: 2, Resolve: resolveSum,
		NewAccumulator: func(in arrow.DataType, params []scalar.Scalar) Accumulator {
			zero := boolParam(params, 0, false)
			switch in.ID() {
			case arrow.INT64:
				return &sumAcc[int64]{dt: in, zero: zero}
			case arrow.UINT64:
				return &sumAcc[uint64]{dt: in, zero: zero}
			case arrow.DURATION:
				return &sumAcc[int64]{dt: in, zero: zero}
			case arrow.DECIMAL128:
				// Any precision in, 38 digits out: the sum needs no cast first.
				return &decimalSumAcc{dt: &arrow.Decimal128Type{Precision: 38, Scale: in.(*arrow.Decimal128Type).Scale}, zero: zero}
			}
			return &sumAcc[float64]{dt: in, zero: zero}
		}})
	register(&Function{Name: "mean", Kind: Aggregate,
		Merge: &Merge{Parts: []string{"sum", "count"}, Finish: "divide", ExactDecimal: true}, Arity: 1,
		Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
			if !IsNumeric(in[0]) && !IsNull(in[0]) && !IsBool(in[0]) { // true counts 1, as polars
				return nil, nil, invalid("mean needs numbers, got %s", TypeName(in[0]))
			}
			f := arrow.PrimitiveTypes.Float64
			return f, []arrow.DataType{f}, nil
		},
		NewAccumulator: func(arrow.DataType, []scalar.Scalar) Accumulator { return &meanAcc{} }})
	// min(x, ignore_nan), max(x, ignore_nan): with true, NaN is skipped
	// unless every value is NaN, as polars' min and max; with false, any NaN
	// makes the answer NaN, as polars' rolling_min and rolling_max; without,
	// NaN is greater than every number (SQL, DuckDB), which only max can tell.
	for _, isMax := range []bool{false, true} {
		name := map[bool]string{false: "min", true: "max"}[isMax]
		register(&Function{Name: name, Kind: Aggregate, Merge: &Merge{}, Keeps: KeepsFirst, Arity: 1, MaxArity: 2,
			Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
				t := in[0]
				if t.ID() == arrow.STRING_VIEW {
					t = arrow.BinaryTypes.LargeString
				}
				if !IsOrderable(t) {
					return nil, nil, invalid("%s needs values that can be ordered, got %s", name, TypeName(t))
				}
				if err := checkParam(name, "ignore_nan", in, 1, IsBool); err != nil {
					return nil, nil, err
				}
				return t, append([]arrow.DataType{t}, paramTypes(in[1:], arrow.FixedWidthTypes.Boolean)...), nil
			},
			NewAccumulator: func(in arrow.DataType, params []scalar.Scalar) Accumulator {
				nan := nanGreatestOrder
				if len(params) > 0 {
					nan = nanIgnored
					if !boolParam(params, 0, true) {
						nan = nanPropagates
					}
				}
				return newMinMax(in, isMax, nan)
			}})
	}
}

func resolveSum(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
	if err := checkParam("sum", "zero_if_empty", in, 1, IsBool); err != nil {
		return nil, nil, err
	}
	params := paramTypes(in[1:], arrow.FixedWidthTypes.Boolean)
	t := in[0]
	var out arrow.DataType
	switch {
	case IsNull(t), arrow.IsSignedInteger(t.ID()), t.ID() == arrow.BOOL:
		out = arrow.PrimitiveTypes.Int64
	case arrow.IsUnsignedInteger(t.ID()):
		out = arrow.PrimitiveTypes.Uint64
	case IsFloat(t):
		out = arrow.PrimitiveTypes.Float64
	case t.ID() == arrow.DECIMAL128:
		return &arrow.Decimal128Type{Precision: 38, Scale: t.(*arrow.Decimal128Type).Scale}, append([]arrow.DataType{t}, params...), nil
	case t.ID() == arrow.DURATION:
		out = t
	default:
		return nil, nil, invalid("sum needs numbers, got %s", TypeName(t))
	}
	return out, append([]arrow.DataType{out}, params...), nil
}

// grow extends s to n elements.
func grow[T any](s []T, n int) []T {
	if n <= len(s) {
		return s
	}
	if n <= cap(s) {
		return s[:n]
	}
	// Doubling, not append's quarter: a group-by of millions of groups
	// grows its states a batch at a time, and each growth is a copy into
	// memory the process has not touched yet.
	grown := MakeTouched[T](n, max(n, 2*cap(s)))
	copy(grown, s)
	return grown
}

// ValidityOf turns a seen-flag per group into a validity bitmap.
func ValidityOf(mem memory.Allocator, seen []bool) (*memory.Buffer, int) {
	nulls := 0
	for _, s := range seen {
		if !s {
			nulls++
		}
	}
	if nulls == 0 {
		return nil, 0
	}
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(int(bitutil.BytesForBits(int64(len(seen)))))
	for i, s := range seen {
		bitutil.SetBitTo(buf.Bytes(), i, s)
	}
	return buf, nulls
}

// groupBits is a bit per group (whether it has a value): a bitmap of 10^7
// groups takes 1.25 MB and stays in the caches, where a bool a group (10
// MB) cost a miss a row beside the states' own.
type groupBits []uint64

func growBits(b groupBits, ngroups int) groupBits { return grow(b, (ngroups+63)/64) }

func (b groupBits) set(g uint32)      { b[g/64] |= 1 << (g % 64) }
func (b groupBits) has(g uint32) bool { return b[g/64]&(1<<(g%64)) != 0 }

// validity is the Arrow validity bitmap of groups lo..hi-1 (nil when all
// are set) and its count of nulls.
func (b groupBits) validity(mem memory.Allocator, lo, hi int) (*memory.Buffer, int) {
	src := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(b))), len(b)*8)
	n := hi - lo
	nulls := n - bitutil.CountSetBits(src, lo, n)
	if nulls == 0 {
		return nil, 0
	}
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(int(bitutil.BytesForBits(int64(n))))
	bitutil.CopyBitmap(src, lo, n, buf.Bytes(), 0)
	return buf, nulls
}

type countAcc struct {
	rows   bool // len: count rows, nulls included
	counts []int64
}

func (a *countAcc) Update(values arrow.Array, ids []uint32, ngroups int) {
	a.counts = grow(a.counts, ngroups)
	if !a.rows && values.DataType().ID() == arrow.NULL {
		return // every row is null, though no bitmap says so
	}
	if a.rows || values.NullN() == 0 {
		if ngroups == 1 {
			a.counts[0] += int64(len(ids))
			return
		}
		counts := a.counts // in a register, not reloaded after each store
		for _, g := range ids {
			counts[g]++
		}
		return
	}
	for i, g := range ids {
		if values.IsValid(i) {
			a.counts[g]++
		}
	}
}

func (a *countAcc) Finish(mem memory.Allocator, ngroups int) arrow.Array {
	return a.FinishRange(mem, 0, ngroups)
}

func (a *countAcc) FinishRange(mem memory.Allocator, lo, hi int) arrow.Array {
	a.counts = grow(a.counts, hi)
	return FixedWidthArray(mem, arrow.PrimitiveTypes.Int64, a.counts[lo:hi], nil, 0)
}

// EveryGroupUpdated is implemented by accumulators told that every group
// comes through Update with the rows that made it (a hash aggregate's
// unfiltered aggregates, not those of a filter's rows).
type EveryGroupUpdated interface{ EveryGroupUpdated() }

type sumAcc[T int64 | uint64 | float64] struct {
	dt   arrow.DataType
	zero bool // no value: 0, not null
	sums []T
	seen groupBits
	// implicit: told EveryGroupUpdated, and no value null yet; every
	// group below upTo then has a value, and seen is not kept (a write a
	// row, a cache miss once the groups are millions).
	implicit bool
	upTo     int
}

func (a *sumAcc[T]) EveryGroupUpdated() { a.implicit = true }

func (a *sumAcc[T]) Update(values arrow.Array, ids []uint32, ngroups int) {
	a.sums = grow(a.sums, ngroups)
	vals := Values[T](values)
	if a.implicit && values.NullN() == 0 {
		a.sumAll(vals, ids, ngroups)
		if len(ids) > 0 { // a total of no rows so far has no value
			a.upTo = ngroups
		}
		return
	}
	a.seen = growBits(a.seen, ngroups)
	if a.implicit { // the first null: the groups so far have values
		a.implicit = false
		for g := range a.upTo {
			a.seen.set(uint32(g))
		}
	}
	if values.NullN() == 0 {
		if ngroups == 1 && len(ids) > 0 {
			a.sumAll(vals, ids, ngroups)
			a.seen.set(0)
			return
		}
		sums, seen := a.sums, a.seen
		for i, g := range ids {
			sums[g] += vals[i]
			seen.set(g)
		}
		return
	}
	for i, g := range ids {
		if values.IsValid(i) {
			a.sums[g] += vals[i]
			a.seen.set(g)
		}
	}
}

// sumAll adds every value of vals to its group.
func (a *sumAcc[T]) sumAll(vals []T, ids []uint32, ngroups int) {
	if ngroups == 1 && len(ids) > 0 {
		// A global sum: registers, not a store per row; four of them, as
		// each float add waits on the one before it in its register.
		vals = vals[:len(ids)]
		var s0, s1, s2, s3 T
		n := len(vals) &^ 3
		for i := 0; i < n; i += 4 {
			v := vals[i : i+4 : i+4]
			s0, s1, s2, s3 = s0+v[0], s1+v[1], s2+v[2], s3+v[3]
		}
		for _, v := range vals[n:] {
			s0 += v
		}
		a.sums[0] += (s0 + s1) + (s2 + s3)
		return
	}
	sums := a.sums
	for i, g := range ids {
		sums[g] += vals[i]
	}
}

func (a *sumAcc[T]) Finish(mem memory.Allocator, ngroups int) arrow.Array {
	return a.FinishRange(mem, 0, ngroups)
}

func (a *sumAcc[T]) FinishRange(mem memory.Allocator, lo, hi int) arrow.Array {
	a.sums, a.seen = grow(a.sums, hi), growBits(a.seen, hi)
	if a.zero || a.implicit && hi <= a.upTo {
		return FixedWidthArray(mem, a.dt, a.sums[lo:hi], nil, 0)
	}
	if a.implicit { // groups from upTo on had no rows (a total of no rows)
		for g := lo; g < a.upTo; g++ {
			a.seen.set(uint32(g))
		}
	}
	v, nulls := a.seen.validity(mem, lo, hi)
	return FixedWidthArray(mem, a.dt, a.sums[lo:hi], v, nulls)
}

type decimalSumAcc struct {
	dt   arrow.DataType
	zero bool
	sums []decimal128.Num
	seen []bool
}

func (a *decimalSumAcc) Update(values arrow.Array, ids []uint32, ngroups int) {
	a.sums, a.seen = grow(a.sums, ngroups), grow(a.seen, ngroups)
	vals := Values[decimal128.Num](values)
	if values.NullN() == 0 {
		if ngroups == 1 && len(ids) > 0 {
			sum := a.sums[0]
			for _, v := range vals[:len(ids)] {
				sum = sum.Add(v)
			}
			a.sums[0], a.seen[0] = sum, true
			return
		}
		for i, g := range ids {
			a.sums[g] = a.sums[g].Add(vals[i])
			a.seen[g] = true
		}
		return
	}
	for i, g := range ids {
		if values.IsValid(i) {
			a.sums[g] = a.sums[g].Add(vals[i])
			a.seen[g] = true
		}
	}
}

func (a *decimalSumAcc) Finish(mem memory.Allocator, ngroups int) arrow.Array {
	a.sums, a.seen = grow(a.sums, ngroups), grow(a.seen, ngroups)
	if a.zero {
		return FixedWidthArray(mem, a.dt, a.sums, nil, 0)
	}
	v, nulls := ValidityOf(mem, a.seen)
	return FixedWidthArray(mem, a.dt, a.sums, v, nulls)
}

type meanAcc struct {
	sums   []float64
	counts []int64
}

func (a *meanAcc) Update(values arrow.Array, ids []uint32, ngroups int) {
	a.sums, a.counts = grow(a.sums, ngroups), grow(a.counts, ngroups)
	vals := Values[float64](values)
	for i, g := range ids {
		if values.IsValid(i) {
			a.sums[g] += vals[i]
			a.counts[g]++
		}
	}
}

func (a *meanAcc) Finish(mem memory.Allocator, ngroups int) arrow.Array {
	return a.FinishRange(mem, 0, ngroups)
}

func (a *meanAcc) FinishRange(mem memory.Allocator, lo, hi int) arrow.Array {
	a.sums, a.counts = grow(a.sums, hi), grow(a.counts, hi)
	seen := make([]bool, hi-lo)
	out := make([]float64, hi-lo)
	for i := range out {
		if c := a.counts[lo+i]; c > 0 {
			out[i] = a.sums[lo+i] / float64(c)
			seen[i] = true
		}
	}
	v, nulls := ValidityOf(mem, seen)
	return FixedWidthArray(mem, arrow.PrimitiveTypes.Float64, out, v, nulls)
}

// extremes keeps the smallest (or largest) value per group.
type extremes[T any] struct {
	dt     arrow.DataType
	isMax  bool
	less   func(a, b T) bool
	read   func(arr arrow.Array) func(i int) T
	keep   func(T) T // copies a value before it is stored, when reads alias the batch
	best   []T
	seen   []bool
	finish func(mem memory.Allocator, dt arrow.DataType, vals []T, seen []bool) arrow.Array
}

func (a *extremes[T]) Update(values arrow.Array, ids []uint32, ngroups int) {
	a.best, a.seen = grow(a.best, ngroups), grow(a.seen, ngroups)
	at := a.read(values)
	for i, g := range ids {
		if !values.IsValid(i) {
			continue
		}
		v := at(i)
		if a.seen[g] && !(a.isMax && a.less(a.best[g], v) || !a.isMax && a.less(v, a.best[g])) {
			continue
		}
		if a.keep != nil {
			v = a.keep(v)
		}
		a.best[g], a.seen[g] = v, true
	}
}

func (a *extremes[T]) Finish(mem memory.Allocator, ngroups int) arrow.Array {
	a.best, a.seen = grow(a.best, ngroups), grow(a.seen, ngroups)
	return a.finish(mem, a.dt, a.best, a.seen)
}

func fixedExtremes[T arrow.FixedWidthType](dt arrow.DataType, isMax bool, less func(a, b T) bool) Accumulator {
	return &extremes[T]{dt: dt, isMax: isMax, less: less,
		read: func(arr arrow.Array) func(int) T {
			vals := Values[T](arr)
			return func(i int) T { return vals[i] }
		},
		finish: func(mem memory.Allocator, dt arrow.DataType, vals []T, seen []bool) arrow.Array {
			v, nulls := ValidityOf(mem, seen)
			return FixedWidthArray(mem, dt, vals, v, nulls)
		}}
}

type orderedWidth interface {
	cmp.Ordered
	arrow.FixedWidthType
}

func ordered[T integer](dt arrow.DataType, isMax bool) Accumulator {
	var zero T
	bits := unsafe.Sizeof(zero) * 8
	least, most := zero, ^zero // unsigned
	if zero-1 < 0 {
		least = T(1) << (bits - 1)
		most = least - 1
	}
	bound := least // max: no value is below it
	if !isMax {
		bound = most
	}
	return &numberExtremes[T]{dt: dt, isMax: isMax, nanLess: cmp.Less[T], bounded: true, bound: bound}
}

// numberExtremes is extremes for numbers and temporal types, compared
// inline: extremes' read and less closures, called per row, made max the
// costliest aggregate of a high-cardinality group-by. nanLess decides only
// when a NaN is compared (floats; never for integers).
type numberExtremes[T orderedWidth] struct {
	dt      arrow.DataType
	isMax   bool
	nanLess func(a, b T) bool
	best    []T
	seen    groupBits
	// Integers are bounded: a group's best starts at bound, the value no
	// other passes (the least for max), and seen is set only when a value
	// equals it. A group has a value when its best differs from bound or
	// seen says so, and a row reads no bit (a cache miss once the groups
	// are millions).
	bounded bool
	bound   T
}

// grow makes room for n groups; a bounded one's new groups start at the
// bound.
func (a *numberExtremes[T]) grow(n int) {
	n0 := len(a.best)
	a.best, a.seen = grow(a.best, n), growBits(a.seen, n)
	if a.bounded {
		for i := n0; i < len(a.best); i++ {
			a.best[i] = a.bound
		}
	}
}

func (a *numberExtremes[T]) Update(values arrow.Array, ids []uint32, ngroups int) {
	a.grow(ngroups)
	vals := Values[T](values)[:len(ids)]
	var valid []byte
	off := values.Data().Offset()
	if values.NullN() > 0 {
		valid = values.NullBitmapBytes()
	}
	best, seen := a.best, a.seen
	if a.bounded {
		// One loop for each case, the fields in registers: the loop is
		// the row's load, compare and (rarely, past the first rows) store.
		bound := a.bound
		switch {
		case valid == nil && a.isMax:
			for i, g := range ids {
				if v := vals[i]; best[g] < v {
					best[g] = v
				} else if v == bound {
					seen.set(g)
				}
			}
		case valid == nil:
			for i, g := range ids {
				if v := vals[i]; v < best[g] {
					best[g] = v
				} else if v == bound {
					seen.set(g)
				}
			}
		default:
			for i, g := range ids {
				if valid[(off+i)>>3]&(1<<((off+i)&7)) == 0 {
					continue
				}
				switch v := vals[i]; {
				case a.isMax && best[g] < v, !a.isMax && v < best[g]:
					best[g] = v
				case v == bound:
					seen.set(g)
				}
			}
		}
		return
	}
	for i, g := range ids {
		if valid != nil && valid[(off+i)>>3]&(1<<((off+i)&7)) == 0 {
			continue
		}
		v, b := vals[i], best[g]
		var wins bool
		switch {
		case !seen.has(g):
			wins = true
		case v != v || b != b: // NaN
			wins = a.isMax && a.nanLess(b, v) || !a.isMax && a.nanLess(v, b)
		case a.isMax:
			wins = b < v
		default:
			wins = v < b
		}
		if wins {
			best[g] = v
			seen.set(g)
		}
	}
}

func (a *numberExtremes[T]) Finish(mem memory.Allocator, ngroups int) arrow.Array {
	return a.FinishRange(mem, 0, ngroups)
}

func (a *numberExtremes[T]) FinishRange(mem memory.Allocator, lo, hi int) arrow.Array {
	a.grow(hi)
	if a.bounded {
		for g, v := range a.best[lo:hi] {
			if v != a.bound {
				a.seen.set(uint32(lo + g))
			}
		}
	}
	v, nulls := a.seen.validity(mem, lo, hi)
	return FixedWidthArray(mem, a.dt, a.best[lo:hi], v, nulls)
}

// nanGreatest orders NaN above every number, as DuckDB and Arrow's sort
// do; cmp.Less puts it below, which made min of [1, NaN] NaN.
func nanGreatest[T float32 | float64](a, b T) bool {
	return a < b || (a == a && b != b)
}

// nanLeast orders NaN below every number: max then skips NaN (polars).
func nanLeast[T float32 | float64](a, b T) bool {
	return a < b || (a != a && b == b)
}

// nanRule is how min and max treat NaN.
type nanRule int

const (
	nanGreatestOrder nanRule = iota // NaN above every number (SQL)
	nanIgnored                      // skipped unless every value is NaN (polars' min, max)
	nanPropagates                   // any NaN gives NaN (polars' rolling_min, rolling_max)
)

// less is the order min and max keep their value by under rule r: the
// value that wins is the least (min) or greatest (max) in it.
func floatLess[T float32 | float64](isMax bool, r nanRule) func(a, b T) bool {
	// NaN greatest wins for max, loses for min; NaN least the other way.
	if r == nanGreatestOrder || (r == nanIgnored) != isMax {
		return nanGreatest[T]
	}
	return nanLeast[T]
}

// newMinMax keeps the least (or greatest) value, floats by the NaN rule.
func newMinMax(dt arrow.DataType, isMax bool, nan nanRule) Accumulator {
	switch dt.ID() {
	case arrow.INT8:
		return ordered[int8](dt, isMax)
	case arrow.INT16:
		return ordered[int16](dt, isMax)
	case arrow.INT32, arrow.DATE32:
		return ordered[int32](dt, isMax)
	case arrow.INT64, arrow.TIMESTAMP, arrow.DURATION, arrow.TIME64:
		return ordered[int64](dt, isMax)
	case arrow.TIME32:
		return ordered[int32](dt, isMax)
	case arrow.UINT8:
		return ordered[uint8](dt, isMax)
	case arrow.UINT16:
		return ordered[uint16](dt, isMax)
	case arrow.UINT32:
		return ordered[uint32](dt, isMax)
	case arrow.UINT64:
		return ordered[uint64](dt, isMax)
	case arrow.FLOAT32:
		return &numberExtremes[float32]{dt: dt, isMax: isMax, nanLess: floatLess[float32](isMax, nan)}
	case arrow.FLOAT64:
		return &numberExtremes[float64]{dt: dt, isMax: isMax, nanLess: floatLess[float64](isMax, nan)}
	case arrow.DECIMAL128:
		return fixedExtremes(dt, isMax, decimal128.Num.Less)
	case arrow.BOOL:
		return &extremes[bool]{dt: dt, isMax: isMax, less: func(a, b bool) bool { return !a && b },
			read: func(arr arrow.Array) func(int) bool { return arr.(*array.Boolean).Value },
			finish: func(mem memory.Allocator, dt arrow.DataType, vals []bool, seen []bool) arrow.Array {
				b := array.NewBooleanBuilder(mem)
				defer b.Release()
				b.AppendValues(vals, seen)
				return b.NewArray()
			}}
	}
	// Strings and binary (utf8 or large_utf8; the planner casts views to large_utf8).
	return &extremes[string]{dt: dt, isMax: isMax, less: func(a, b string) bool { return a < b },
		read: textAt,
		// The value aliases the batch's buffer, which goes away; the state stays.
		keep: strings.Clone,
		finish: func(mem memory.Allocator, dt arrow.DataType, vals []string, seen []bool) arrow.Array {
			b := array.NewBuilder(mem, dt)
			defer b.Release()
			sb := textAppender(b)
			for i, v := range vals {
				if seen[i] {
					sb.Append(v)
				} else {
					sb.AppendNull()
				}
			}
			return b.NewArray()
		}}
}

// Sized is an Accumulator that says how much memory it holds: those
// whose state grows with the values (n_unique, median, quantile), and the
// common ones of a few bytes a group, which say what they hold exactly
// (a group-by of 10^8 groups took 24 bytes a group for each of three
// aggregates holding 9, 8 and 5, and spilled a third of its groups); the
// others are counted at 24 bytes a group.
type Sized interface {
	Bytes() int64
}

// RangeFinisher is an Accumulator that builds the values of groups lo to
// hi-1 alone: a group-by builds its output a batch at a time from the
// states, not every group's at once beside them (for 10^8 groups, 2 GB
// of fresh pages).
type RangeFinisher interface {
	FinishRange(mem memory.Allocator, lo, hi int) arrow.Array
}

func (a *countAcc) Bytes() int64 { return int64(cap(a.counts)) * 8 }
func (a *sumAcc[T]) Bytes() int64 {
	return int64(cap(a.sums))*int64(unsafeSizeof[T]()) + int64(cap(a.seen))*8
}
func (a *meanAcc) Bytes() int64 { return int64(cap(a.sums))*8 + int64(cap(a.counts))*8 }
func (a *numberExtremes[T]) Bytes() int64 {
	return int64(cap(a.best))*int64(unsafeSizeof[T]()) + int64(cap(a.seen))*8
}

// AccumulatorBytes is about what acc holds for ngroups groups.
func AccumulatorBytes(acc Accumulator, ngroups int) int64 {
	if s, ok := acc.(Sized); ok {
		return s.Bytes()
	}
	return int64(ngroups) * 24
}
