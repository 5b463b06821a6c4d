package expr

import (
	"cmp"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// arg_max(x), arg_min(x): the position, within its group and in the
// input's order, of the first largest (smallest) non-null value, as
// polars' arg_max / arg_min (uint32; null when the group has no value).
// NaN is above every number, as in sort.

type argAcc[T any] struct {
	isMax bool
	less  func(a, b T) bool
	read  func(arrow.Array) func(int) T
	keep  func(T) T
	rows  []uint32 // rows of each group seen so far
	best  []T
	pos   []uint32
	seen  []bool
}

func (a *argAcc[T]) Update(values arrow.Array, ids []uint32, ngroups int) {
	a.rows, a.best, a.pos, a.seen = grow(a.rows, ngroups), grow(a.best, ngroups), grow(a.pos, ngroups), grow(a.seen, ngroups)
	at := a.read(values)
	for i, g := range ids {
		row := a.rows[g]
		a.rows[g]++
		if values.IsNull(i) {
			continue
		}
		v := at(i)
		better := !a.seen[g]
		if !better {
			if a.isMax {
				better = a.less(a.best[g], v)
			} else {
				better = a.less(v, a.best[g])
			}
		}
		if better {
			if a.keep != nil {
				v = a.keep(v)
			}
			a.best[g], a.pos[g], a.seen[g] = v, row, true
		}
	}
}

func (a *argAcc[T]) Finish(mem memory.Allocator, ngroups int) arrow.Array {
	a.pos, a.seen = grow(a.pos, ngroups), grow(a.seen, ngroups)
	v, nulls := ValidityOf(mem, a.seen)
	return FixedWidthArray(mem, arrow.PrimitiveTypes.Uint32, a.pos, v, nulls)
}

func newArgAcc(in arrow.DataType, isMax bool) Accumulator {
	switch {
	case IsFloat(in):
		return &argAcc[float64]{isMax: isMax, read: func(a arrow.Array) func(int) float64 {
			v := Values[float64](a)
			return func(i int) float64 { return v[i] }
		},
			less: func(x, y float64) bool { return floatOrderOf([]float64{x, y})(0, 1) < 0 }}
	case IsString(in), IsBinary(in):
		return &argAcc[string]{isMax: isMax, read: textAt, less: func(x, y string) bool { return x < y },
			keep: func(s string) string { return string([]byte(s)) }}
	case in.ID() == arrow.BOOL:
		return &argAcc[int64]{isMax: isMax, less: cmp.Less[int64], read: func(a arrow.Array) func(int) int64 {
			return func(i int) int64 {
				if a.(interface{ Value(int) bool }).Value(i) {
					return 1
				}
				return 0
			}
		}}
	case in.ID() == arrow.DATE32 || in.ID() == arrow.TIME32:
		return &argAcc[int64]{isMax: isMax, less: cmp.Less[int64], read: func(a arrow.Array) func(int) int64 {
			v := Values[int32](a)
			return func(i int) int64 { return int64(v[i]) }
		}}
	}
	return &argAcc[int64]{isMax: isMax, less: cmp.Less[int64], read: func(a arrow.Array) func(int) int64 { v := Values[int64](a); return func(i int) int64 { return v[i] } }}
}

func init() {
	for _, isMax := range []bool{false, true} {
		name := map[bool]string{false: "arg_min", true: "arg_max"}[isMax]
		register(&Function{Name: name, Kind: Aggregate, Arity: 1, OrderSensitive: true,
			Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
				t := in[0]
				switch {
				case IsNull(t):
					t = arrow.PrimitiveTypes.Int64
				case IsFloat(t), t.ID() == arrow.DECIMAL128:
					t = arrow.PrimitiveTypes.Float64
				case IsInteger(t):
					t = arrow.PrimitiveTypes.Int64
				case t.ID() == arrow.STRING_VIEW:
					t = arrow.BinaryTypes.LargeString
				case t.ID() == arrow.TIMESTAMP, t.ID() == arrow.DURATION, t.ID() == arrow.DATE32, IsTime(t), IsString(t), IsBinary(t), IsBool(t):
				default:
					return nil, nil, invalid("%s needs values that can be ordered, got %s", name, TypeName(t))
				}
				return arrow.PrimitiveTypes.Uint32, []arrow.DataType{t}, nil
			},
			NewAccumulator: func(in arrow.DataType, _ []scalar.Scalar) Accumulator { return newArgAcc(in, isMax) }})
	}
}
