package expr

import (
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// mean, median and quantile of a duration give a duration, as polars:
// the float answer over the counts of units, truncated toward zero. They
// are functions of their own (mean_duration, ...), which the planner picks
// when the argument is a duration (DurationAggregate), so that mean keeps
// one type rule, and its partial/final split, for numbers. They do not
// merge partial results: their input is gathered as a median's is.

// DurationAggregate is the duration form of fn for these argument types
// (false when there is none, or the argument is no duration).
func DurationAggregate(fn *Function, args []arrow.DataType) (*Function, bool) {
	if len(args) == 0 || args[0].ID() != arrow.DURATION {
		return nil, false
	}
	switch fn.Name {
	case "mean", "median", "quantile":
		return Lookup(fn.Name + "_duration")
	}
	return nil, false
}

func init() {
	f64 := arrow.PrimitiveTypes.Float64
	for _, f := range []struct {
		name            string
		arity, maxArity int
	}{{"mean", 1, 0}, {"median", 1, 0}, {"quantile", 2, 3}} {
		// The base function is looked up when used: the registry may not
		// hold it yet while the package initializes.
		base := func() *Function { fn, _ := Lookup(f.name); return fn }
		register(&Function{Name: f.name + "_duration", Kind: Aggregate, Arity: f.arity, MaxArity: f.maxArity,
			Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
				if len(in) == 0 || in[0].ID() != arrow.DURATION {
					return nil, nil, invalid("%s_duration needs a duration", f.name)
				}
				// The base function types the parameters (quantile's q and method).
				_, casts, err := base().Resolve(append([]arrow.DataType{f64}, in[1:]...))
				if err != nil {
					return nil, nil, err
				}
				casts = append([]arrow.DataType{in[0]}, casts[1:]...)
				return in[0], casts, nil
			},
			CheckParams: func(params []scalar.Scalar) error {
				if check := base().CheckParams; check != nil {
					return check(params)
				}
				return nil
			},
			NewAccumulator: func(in arrow.DataType, params []scalar.Scalar) Accumulator {
				return &durationAcc{dt: in, inner: base().NewAccumulator(f64, params)}
			}})
	}
}

// durationAcc feeds a float aggregate the durations' counts of units and
// gives its answers back as durations.
type durationAcc struct {
	dt    arrow.DataType
	inner Accumulator
}

func (a *durationAcc) Update(values arrow.Array, ids []uint32, ngroups int) {
	// A float copy in Go memory, dropped before returning (an accumulator
	// holds no buffer of the query's pool).
	mem := memory.NewGoAllocator()
	vals := Values[int64](values)
	floats := make([]float64, len(vals))
	for i, v := range vals {
		floats[i] = float64(v)
	}
	validity, nulls := copyValidity(mem, values)
	arr := FixedWidthArray(mem, arrow.PrimitiveTypes.Float64, floats, validity, nulls)
	defer arr.Release()
	a.inner.Update(arr, ids, ngroups)
}

func (a *durationAcc) Finish(mem memory.Allocator, ngroups int) arrow.Array {
	floats := a.inner.Finish(mem, ngroups)
	defer floats.Release()
	b := array.NewDurationBuilder(mem, a.dt.(*arrow.DurationType))
	defer b.Release()
	b.Reserve(floats.Len())
	vals := Values[float64](floats)
	for i, v := range vals {
		if floats.IsNull(i) || math.IsNaN(v) {
			b.AppendNull()
			continue
		}
		b.Append(arrow.Duration(math.Trunc(v)))
	}
	return b.NewArray()
}
