package expr

import (
	"math"
	"slices"
	"strings"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// More aggregates: n_unique, var, std, median, quantile, first, last, any
// and all. None is mergeable yet: each runs in one phase over all rows.
// Nulls are skipped (first and last excepted: they return the value of the
// first or last row, null or not, as polars and DuckDB's first/last do).
//
// Where SQL and polars answer differently, a constant parameter after the
// value picks polars' answer; SQL passes none and keeps SQL's:
//   - n_unique(x, count_null): true counts null as one more value (polars);
//   - quantile(x, q, method): "linear" (SQL's quantile_cont, the default),
//     or polars' "nearest", "higher", "lower", "midpoint", "equiprobable";
//   - any(x, ignore_nulls), all(x, ignore_nulls): true gives polars'
//     answer when no value is true (any: false) or false (all: true), nulls
//     skipped; false is Kleene logic (null when a null could change it).
//     Without it: null for a group with no values, as SQL's bool_or/bool_and.

func init() {
	f64 := arrow.PrimitiveTypes.Float64
	i64 := arrow.PrimitiveTypes.Int64
	register(&Function{Name: "n_unique", Kind: Aggregate, Arity: 1, MaxArity: 2,
		Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
			t := in[0]
			if t.ID() == arrow.STRING_VIEW {
				t = arrow.BinaryTypes.LargeString
			}
			if !IsOrderable(t) && !IsNull(t) {
				return nil, nil, invalid("n_unique needs numbers, strings, booleans, dates or timestamps, got %s", TypeName(t))
			}
			if err := checkParam("n_unique", "count_null", in, 1, IsBool); err != nil {
				return nil, nil, err
			}
			return i64, append([]arrow.DataType{t}, paramTypes(in[1:], arrow.FixedWidthTypes.Boolean)...), nil
		},
		NewAccumulator: func(in arrow.DataType, params []scalar.Scalar) Accumulator {
			acc := newDistinct(in)
			acc.(interface{ countNulls(bool) }).countNulls(boolParam(params, 0, false))
			return acc
		}})
	for _, name := range []string{"var", "std"} {
		register(&Function{Name: name, Kind: Aggregate, Arity: 1, MaxArity: 2,
			Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
				if !IsNumeric(in[0]) && !IsNull(in[0]) {
					return nil, nil, invalid("%s needs numbers, got %s", name, TypeName(in[0]))
				}
				if len(in) == 2 && !IsInteger(in[1]) && !IsNull(in[1]) {
					return nil, nil, invalid("%s's ddof must be an integer, got %s", name, TypeName(in[1]))
				}
				return f64, []arrow.DataType{f64, i64}[:len(in)], nil
			},
			NewAccumulator: func(_ arrow.DataType, params []scalar.Scalar) Accumulator {
				ddof := int64(1)
				if len(params) > 0 {
					ddof, _ = scalarInt(params[0])
				}
				return &varAcc{ddof: float64(ddof), sqrt: name == "std"}
			}})
	}
	resolveQuantile := func(name string) func([]arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
		return func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
			if !IsNumeric(in[0]) && !IsNull(in[0]) {
				return nil, nil, invalid("%s needs numbers, got %s", name, TypeName(in[0]))
			}
			if len(in) >= 2 && !IsNumeric(in[1]) && !IsNull(in[1]) {
				return nil, nil, invalid("%s's quantile must be a number between 0 and 1, got %s", name, TypeName(in[1]))
			}
			if err := checkParam(name, "interpolation", in, 2, IsString); err != nil {
				return nil, nil, err
			}
			return f64, append(repeat(f64, min(len(in), 2)), paramTypes(in[min(len(in), 2):], arrow.BinaryTypes.String)...), nil
		}
	}
	register(&Function{Name: "median", Kind: Aggregate, Arity: 1, Resolve: resolveQuantile("median"),
		NewAccumulator: func(arrow.DataType, []scalar.Scalar) Accumulator { return &quantileAcc{q: 0.5} }})
	register(&Function{Name: "quantile", Kind: Aggregate, Arity: 2, MaxArity: 3, Resolve: resolveQuantile("quantile"),
		NewAccumulator: func(_ arrow.DataType, params []scalar.Scalar) Accumulator {
			q := math.NaN() // null or missing: every group null
			if len(params) > 0 && params[0].IsValid() {
				q = params[0].(*scalar.Float64).Value
			}
			// The method was checked when the plan was built (CheckParams).
			return &quantileAcc{q: q, method: stringParam(params, 1, "linear")}
		},
		CheckParams: func(params []scalar.Scalar) error {
			m := stringParam(params, 1, "linear")
			if !slices.Contains(QuantileMethods, m) {
				return invalid("quantile's interpolation must be one of %s, got %q", strings.Join(QuantileMethods, ", "), m)
			}
			return nil
		}})
	for _, last := range []bool{false, true} {
		name := map[bool]string{false: "first", true: "last"}[last]
		register(&Function{Name: name, Kind: Aggregate, Keeps: KeepsFirst, Arity: 1, OrderSensitive: true,
			Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
				t := in[0]
				if t.ID() == arrow.STRING_VIEW {
					t = arrow.BinaryTypes.LargeString
				}
				if IsNull(t) {
					t = arrow.FixedWidthTypes.Boolean
				}
				if !IsOrderable(t) {
					return nil, nil, invalid("%s does not support %s yet", name, TypeName(t))
				}
				return t, []arrow.DataType{t}, nil
			},
			NewAccumulator: func(in arrow.DataType, _ []scalar.Scalar) Accumulator { return newFirstLast(in, last) }})
	}
	for _, isAll := range []bool{false, true} {
		name := map[bool]string{false: "any", true: "all"}[isAll]
		register(&Function{Name: name, Kind: Aggregate, Arity: 1, MaxArity: 2,
			Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
				if in[0].ID() != arrow.BOOL && !IsNull(in[0]) {
					return nil, nil, invalid("%s needs booleans, got %s: compare first, e.g. (col(\"x\") > 0).%s()", name, TypeName(in[0]), name)
				}
				if err := checkParam(name, "ignore_nulls", in, 1, IsBool); err != nil {
					return nil, nil, err
				}
				b := arrow.FixedWidthTypes.Boolean
				return b, repeat(b, len(in)), nil
			},
			NewAccumulator: func(_ arrow.DataType, params []scalar.Scalar) Accumulator {
				acc := &anyAllAcc{all: isAll, mode: anyAllSQL}
				if len(params) > 0 {
					acc.mode = anyAllKleene
					if boolParam(params, 0, true) {
						acc.mode = anyAllIgnoreNulls
					}
				}
				return acc
			}})
	}
}

// distinctKey is a value of one group in n_unique's set.
type distinctKey[T comparable] struct {
	g uint32
	v T
}

// distinctAcc counts the distinct non-null values of each group.
type distinctAcc[T comparable] struct {
	read   func(arr arrow.Array) func(i int) T
	keep   func(T) T
	seen   map[distinctKey[T]]struct{}
	counts []int64
	held   int64 // bytes of the strings kept
	// withNull counts null as one more value (polars' n_unique);
	// sawNull says which groups have one.
	withNull bool
	sawNull  []bool
}

func (a *distinctAcc[T]) countNulls(on bool) { a.withNull = on }

func (a *distinctAcc[T]) Bytes() int64 {
	var k distinctKey[T]
	return int64(len(a.seen))*(2*int64(unsafe.Sizeof(k))+8) + a.held + int64(cap(a.counts))*8
}

func (a *distinctAcc[T]) Update(values arrow.Array, ids []uint32, ngroups int) {
	a.counts = grow(a.counts, ngroups)
	if a.withNull {
		a.sawNull = grow(a.sawNull, ngroups)
	}
	if values.DataType().ID() == arrow.NULL {
		if a.withNull {
			for _, g := range ids {
				a.sawNull[g] = true
			}
		}
		return
	}
	at := a.read(values)
	for i, g := range ids {
		if !values.IsValid(i) {
			if a.withNull {
				a.sawNull[g] = true
			}
			continue
		}
		k := distinctKey[T]{g, at(i)}
		if _, ok := a.seen[k]; ok {
			continue
		}
		if a.keep != nil {
			k.v = a.keep(k.v)
			if s, ok := any(k.v).(string); ok {
				a.held += int64(len(s))
			}
		}
		a.seen[k] = struct{}{}
		a.counts[g]++
	}
}

func (a *distinctAcc[T]) Finish(mem memory.Allocator, ngroups int) arrow.Array {
	a.counts = grow(a.counts, ngroups)
	if a.withNull {
		a.sawNull = grow(a.sawNull, ngroups)
		for g, saw := range a.sawNull {
			if saw {
				a.counts[g]++
			}
		}
	}
	return FixedWidthArray(mem, arrow.PrimitiveTypes.Int64, a.counts, nil, 0)
}

func fixedDistinct[T interface {
	comparable
	arrow.FixedWidthType
}]() Accumulator {
	return &distinctAcc[T]{seen: map[distinctKey[T]]struct{}{},
		read: func(arr arrow.Array) func(int) T {
			vals := Values[T](arr)
			return func(i int) T { return vals[i] }
		}}
}

// floatDistinct keys floats by their bits, with every NaN one value and
// -0 equal to 0, as SQL's COUNT(DISTINCT).
func floatDistinct[T float32 | float64]() Accumulator {
	return &distinctAcc[uint64]{seen: map[distinctKey[uint64]]struct{}{},
		read: func(arr arrow.Array) func(int) uint64 {
			vals := Values[T](arr)
			return func(i int) uint64 {
				v := float64(vals[i])
				switch {
				case v != v:
					return math.Float64bits(math.NaN())
				case v == 0:
					return 0
				}
				return math.Float64bits(v)
			}
		}}
}

func newDistinct(dt arrow.DataType) Accumulator {
	switch dt.ID() {
	case arrow.INT8:
		return fixedDistinct[int8]()
	case arrow.INT16:
		return fixedDistinct[int16]()
	case arrow.INT32, arrow.DATE32, arrow.TIME32:
		return fixedDistinct[int32]()
	case arrow.INT64, arrow.TIMESTAMP, arrow.DURATION, arrow.TIME64:
		return fixedDistinct[int64]()
	case arrow.UINT8:
		return fixedDistinct[uint8]()
	case arrow.UINT16:
		return fixedDistinct[uint16]()
	case arrow.UINT32:
		return fixedDistinct[uint32]()
	case arrow.UINT64:
		return fixedDistinct[uint64]()
	case arrow.FLOAT32:
		return floatDistinct[float32]()
	case arrow.FLOAT64:
		return floatDistinct[float64]()
	case arrow.DECIMAL128:
		return fixedDistinct[decimal128.Num]()
	case arrow.BOOL:
		return &distinctAcc[bool]{seen: map[distinctKey[bool]]struct{}{},
			read: func(arr arrow.Array) func(int) bool { return arr.(*array.Boolean).Value }}
	}
	// Strings; nulls (the NULL type) never reach read.
	return &distinctAcc[string]{seen: map[distinctKey[string]]struct{}{}, keep: strings.Clone,
		read: textAt}
}

// varAcc is the variance (or standard deviation) with divisor n - ddof,
// by Welford's stable update; null when n <= ddof.
type varAcc struct {
	ddof         float64
	sqrt         bool
	n, mean, m2s []float64
}

func (a *varAcc) Update(values arrow.Array, ids []uint32, ngroups int) {
	a.n, a.mean, a.m2s = grow(a.n, ngroups), grow(a.mean, ngroups), grow(a.m2s, ngroups)
	if values.DataType().ID() == arrow.NULL {
		return
	}
	vals := Values[float64](values)
	for i, g := range ids {
		if !values.IsValid(i) {
			continue
		}
		x := vals[i]
		a.n[g]++
		d := x - a.mean[g]
		a.mean[g] += d / a.n[g]
		a.m2s[g] += d * (x - a.mean[g])
	}
}

func (a *varAcc) Finish(mem memory.Allocator, ngroups int) arrow.Array {
	a.n, a.mean, a.m2s = grow(a.n, ngroups), grow(a.mean, ngroups), grow(a.m2s, ngroups)
	out := make([]float64, ngroups)
	ok := make([]bool, ngroups)
	for g := range out {
		if a.n[g] > a.ddof && a.n[g] > 0 {
			out[g] = a.m2s[g] / (a.n[g] - a.ddof)
			if a.sqrt {
				out[g] = math.Sqrt(out[g])
			}
			ok[g] = true
		}
	}
	v, nulls := ValidityOf(mem, ok)
	return FixedWidthArray(mem, arrow.PrimitiveTypes.Float64, out, v, nulls)
}

// QuantileMethods are quantile's ways of choosing between the two values
// nearest to the position q*(n-1) of the sorted values: "linear"
// interpolates (DuckDB's quantile_cont, the median), "nearest" takes the
// closer one (half away from zero), "lower" and "higher" one side,
// "midpoint" their mean; "equiprobable" is the value at ceil(q*n)-1 (R's
// type 1), as polars has them.
var QuantileMethods = []string{"linear", "nearest", "higher", "lower", "midpoint", "equiprobable"}

// quantileAcc keeps every value of each group and picks the quantile by
// method (see QuantileMethods). NaN sorts above every number, as in
// DuckDB and polars.
type quantileAcc struct {
	q      float64
	method string
	vals   [][]float64
	n      int64 // values held
}

func (a *quantileAcc) Bytes() int64 { return a.n*8 + int64(cap(a.vals))*24 }

func (a *quantileAcc) Update(values arrow.Array, ids []uint32, ngroups int) {
	a.vals = grow(a.vals, ngroups)
	if values.DataType().ID() == arrow.NULL {
		return
	}
	vals := Values[float64](values)
	for i, g := range ids {
		if values.IsValid(i) {
			a.vals[g] = append(a.vals[g], vals[i])
			a.n++
		}
	}
}

func (a *quantileAcc) Finish(mem memory.Allocator, ngroups int) arrow.Array {
	a.vals = grow(a.vals, ngroups)
	out := make([]float64, ngroups)
	ok := make([]bool, ngroups)
	for g, vs := range a.vals {
		if len(vs) == 0 || !(a.q >= 0 && a.q <= 1) {
			continue
		}
		slices.SortFunc(vs, func(x, y float64) int {
			switch {
			case nanGreatest(x, y):
				return -1
			case nanGreatest(y, x):
				return 1
			}
			return 0
		})
		out[g] = PickQuantile(int64(len(vs)), func(i int64) float64 { return vs[i] }, a.q, a.method)
		ok[g] = true
		a.vals[g] = nil
	}
	v, nulls := ValidityOf(mem, ok)
	return FixedWidthArray(mem, arrow.PrimitiveTypes.Float64, out, v, nulls)
}

// firstLast keeps the value of the first (or last) row of each group.
type firstLast[T any] struct {
	dt     arrow.DataType
	last   bool
	read   func(arr arrow.Array) func(i int) T
	keep   func(T) T
	vals   []T
	set    []bool // the group has its value
	valid  []bool // and it is not null
	finish func(mem memory.Allocator, dt arrow.DataType, vals []T, valid []bool) arrow.Array
	held   int64 // bytes keep copied (strings)
}

func (a *firstLast[T]) Bytes() int64 {
	return int64(cap(a.vals))*int64(unsafeSizeof[T]()) + int64(cap(a.set)+cap(a.valid)) + a.held
}

func (a *firstLast[T]) Update(values arrow.Array, ids []uint32, ngroups int) {
	a.vals, a.set, a.valid = grow(a.vals, ngroups), grow(a.set, ngroups), grow(a.valid, ngroups)
	at := a.read(values)
	for i, g := range ids {
		if a.set[g] && !a.last {
			continue
		}
		a.set[g] = true
		a.valid[g] = values.IsValid(i)
		if !a.valid[g] {
			continue
		}
		v := at(i)
		if a.keep != nil {
			v = a.keep(v)
		}
		a.vals[g] = v
	}
}

func (a *firstLast[T]) Finish(mem memory.Allocator, ngroups int) arrow.Array {
	a.vals, a.set, a.valid = grow(a.vals, ngroups), grow(a.set, ngroups), grow(a.valid, ngroups)
	return a.finish(mem, a.dt, a.vals, a.valid)
}

func fixedFirstLast[T arrow.FixedWidthType](dt arrow.DataType, last bool) Accumulator {
	return &firstLast[T]{dt: dt, last: last,
		read: func(arr arrow.Array) func(int) T {
			vals := Values[T](arr)
			return func(i int) T { return vals[i] }
		},
		finish: func(mem memory.Allocator, dt arrow.DataType, vals []T, valid []bool) arrow.Array {
			v, nulls := ValidityOf(mem, valid)
			return FixedWidthArray(mem, dt, vals, v, nulls)
		}}
}

func newFirstLast(dt arrow.DataType, last bool) Accumulator {
	switch dt.ID() {
	case arrow.INT8:
		return fixedFirstLast[int8](dt, last)
	case arrow.INT16:
		return fixedFirstLast[int16](dt, last)
	case arrow.INT32, arrow.DATE32, arrow.TIME32:
		return fixedFirstLast[int32](dt, last)
	case arrow.INT64, arrow.TIMESTAMP, arrow.DURATION, arrow.TIME64:
		return fixedFirstLast[int64](dt, last)
	case arrow.UINT8:
		return fixedFirstLast[uint8](dt, last)
	case arrow.UINT16:
		return fixedFirstLast[uint16](dt, last)
	case arrow.UINT32:
		return fixedFirstLast[uint32](dt, last)
	case arrow.UINT64:
		return fixedFirstLast[uint64](dt, last)
	case arrow.FLOAT32:
		return fixedFirstLast[float32](dt, last)
	case arrow.FLOAT64:
		return fixedFirstLast[float64](dt, last)
	case arrow.DECIMAL128:
		return fixedFirstLast[decimal128.Num](dt, last)
	case arrow.BOOL:
		return &firstLast[bool]{dt: dt, last: last,
			read: func(arr arrow.Array) func(int) bool {
				if arr.DataType().ID() == arrow.NULL {
					return func(int) bool { return false }
				}
				return arr.(*array.Boolean).Value
			},
			finish: func(mem memory.Allocator, dt arrow.DataType, vals []bool, valid []bool) arrow.Array {
				b := array.NewBooleanBuilder(mem)
				defer b.Release()
				b.AppendValues(vals, valid)
				return b.NewArray()
			}}
	}
	a := &firstLast[string]{dt: dt, last: last,
		read: textAt,
		finish: func(mem memory.Allocator, dt arrow.DataType, vals []string, valid []bool) arrow.Array {
			b := array.NewBuilder(mem, dt)
			defer b.Release()
			sb := textAppender(b)
			for i, v := range vals {
				if valid[i] {
					sb.Append(v)
				} else {
					sb.AppendNull()
				}
			}
			return b.NewArray()
		}}
	a.keep = func(v string) string {
		a.held += int64(len(v)) + 8 // an allocation's rounding, about
		return strings.Clone(v)
	}
	return a
}

// anyAllMode says what any and all answer where nulls or no values leave
// the answer open.
type anyAllMode int

const (
	anyAllSQL         anyAllMode = iota // null for a group with no non-null value (bool_or, bool_and)
	anyAllIgnoreNulls                   // polars' default: nulls skipped; none left: any false, all true
	anyAllKleene                        // polars' ignore_nulls=False: null when a null could change the answer
)

// anyAllAcc is any (bool_or) or all (bool_and) over the values, by mode.
type anyAllAcc struct {
	all       bool
	mode      anyAllMode
	acc, seen []bool
	nulls     []bool // the group has a null (Kleene)
}

func (a *anyAllAcc) Update(values arrow.Array, ids []uint32, ngroups int) {
	n0 := len(a.acc)
	a.acc, a.seen = grow(a.acc, ngroups), grow(a.seen, ngroups)
	for g := n0; g < ngroups; g++ {
		a.acc[g] = a.all
	}
	a.nulls = grow(a.nulls, ngroups)
	if values.DataType().ID() == arrow.NULL {
		for _, g := range ids {
			a.nulls[g] = true
		}
		return
	}
	bits, off := bitsOf(values)
	for i, g := range ids {
		if !values.IsValid(i) {
			a.nulls[g] = true
			continue
		}
		a.seen[g] = true
		v := bits != nil && bitIsSet(bits, off+i)
		if a.all {
			a.acc[g] = a.acc[g] && v
		} else {
			a.acc[g] = a.acc[g] || v
		}
	}
}

func (a *anyAllAcc) Finish(mem memory.Allocator, ngroups int) arrow.Array {
	n0 := len(a.acc)
	a.acc, a.seen, a.nulls = grow(a.acc, ngroups), grow(a.seen, ngroups), grow(a.nulls, ngroups)
	for g := n0; g < ngroups; g++ {
		a.acc[g] = a.all
	}
	valid := a.seen
	switch a.mode {
	case anyAllIgnoreNulls:
		valid = nil
	case anyAllKleene:
		// any: a true decides, else a null leaves it open; all: a false
		// decides, else a null leaves it open.
		valid = make([]bool, ngroups)
		for g := range valid {
			valid[g] = a.acc[g] != a.all || !a.nulls[g]
		}
	}
	b := array.NewBooleanBuilder(mem)
	defer b.Release()
	b.AppendValues(a.acc, valid)
	return b.NewArray()
}

// checkParam checks the optional constant parameter i of name (called
// what), when given: is says which types it may have (or null).
func checkParam(name, what string, in []arrow.DataType, i int, is func(arrow.DataType) bool) error {
	if len(in) > i && !is(in[i]) && !IsNull(in[i]) {
		return invalid("%s's %s must be a constant of another type, got %s", name, what, TypeName(in[i]))
	}
	return nil
}

// paramTypes is t for each parameter given.
func paramTypes(in []arrow.DataType, t arrow.DataType) []arrow.DataType { return repeat(t, len(in)) }

// boolParam is the constant parameter i, or def when missing or null.
func boolParam(params []scalar.Scalar, i int, def bool) bool {
	if i < len(params) && params[i].IsValid() {
		if b, ok := params[i].(*scalar.Boolean); ok {
			return b.Value
		}
	}
	return def
}

// stringParam is the constant parameter i, or def when missing or null.
func stringParam(params []scalar.Scalar, i int, def string) string {
	if i < len(params) && params[i].IsValid() {
		if s, ok := params[i].(*scalar.String); ok {
			return string(s.Value.Bytes())
		}
		return params[i].String()
	}
	return def
}

func init() {
	// product: the product of the non-null values, 1 when there are none
	// (polars); int64 for integers and booleans, float64 for floats. The
	// product of partial products is the product, so it merges as itself.
	register(&Function{Name: "product", Kind: Aggregate, Merge: &Merge{}, Arity: 1,
		Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
			t := in[0]
			var out arrow.DataType
			switch {
			case IsNull(t), IsInteger(t), t.ID() == arrow.BOOL:
				out = arrow.PrimitiveTypes.Int64
			case IsNumeric(t):
				out = arrow.PrimitiveTypes.Float64
			default:
				return nil, nil, invalid("product needs numbers, got %s", TypeName(t))
			}
			return out, []arrow.DataType{out}, nil
		},
		NewAccumulator: func(in arrow.DataType, _ []scalar.Scalar) Accumulator {
			if in.ID() == arrow.FLOAT64 {
				return &productAcc[float64]{dt: in}
			}
			return &productAcc[int64]{dt: arrow.PrimitiveTypes.Int64}
		}})
}

type productAcc[T int64 | float64] struct {
	dt    arrow.DataType
	prods []T
	set   []bool // prods[g] holds a product (else it is 1)
}

func (a *productAcc[T]) Update(values arrow.Array, ids []uint32, ngroups int) {
	a.prods, a.set = grow(a.prods, ngroups), grow(a.set, ngroups)
	if values.DataType().ID() == arrow.NULL {
		return
	}
	vals := Values[T](values)
	for i, g := range ids {
		if !values.IsValid(i) {
			continue
		}
		if !a.set[g] {
			a.prods[g], a.set[g] = 1, true
		}
		a.prods[g] *= vals[i]
	}
}

func (a *productAcc[T]) Finish(mem memory.Allocator, ngroups int) arrow.Array {
	a.prods, a.set = grow(a.prods, ngroups), grow(a.set, ngroups)
	for g, ok := range a.set {
		if !ok {
			a.prods[g] = 1
		}
	}
	return FixedWidthArray(mem, a.dt, a.prods, nil, 0)
}

// textAt reads the values of a string or binary array (32- or 64-bit
// offsets) as Go strings aliasing its buffer: binary values are compared
// and kept as bytes all the same.
func textAt(arr arrow.Array) func(int) string {
	switch arr.DataType().ID() {
	case arrow.STRING, arrow.BINARY:
		return viewOf[int32](arr).at
	}
	return viewOf[int64](arr).at
}

// textAppender appends Go strings to a string or binary builder.
func textAppender(b array.Builder) interface {
	Append(string)
	AppendNull()
} {
	if bb, ok := b.(*array.BinaryBuilder); ok {
		return binaryAppender{bb}
	}
	return b.(interface {
		Append(string)
		AppendNull()
	})
}

type binaryAppender struct{ *array.BinaryBuilder }

func (b binaryAppender) Append(v string) { b.AppendString(v) }
