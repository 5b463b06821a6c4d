package expr

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// WindowOp is which computation of the Window operator (kernels/exec)
// gives a window function's values.
type WindowOp int

const (
	WinAggregate    WindowOp = iota // the partition's aggregate, on every row of it
	WinRowNumber                    // 1, 2, 3, ... in order
	WinRank                         // ties share a rank; gaps follow ties
	WinDenseRank                    // ties share a rank; no gaps
	WinLag                          // the value Offset rows before, in the partition
	WinLead                         // the value Offset rows after
	WinCumSum                       // running sums, counts, minima, maxima over
	WinCumCount                     // the rows up to and including this one; nulls
	WinCumMin                       // are skipped, and the result is null only
	WinCumMax                       // before the partition's first value
	WinRolling                      // an aggregate over the rows from Preceding before to Following after
	WinFillForward                  // a null takes the last value before it (at most Offset rows back; -1: any)
	WinFillBackward                 // a null takes the next value after it (at most Offset rows on)
	WinCumProd                      // running product, as WinCumSum
	WinEwmMean                      // exponentially weighted mean (Alpha, Adjust, IgnoreNulls, MinSamples)
	WinRollingBy                    // an aggregate over the rows whose order key lies within Period of this row's
)

// String is the name the registry gives the window function computed by
// op ("agg" for an aggregate over the partition).
func (op WindowOp) String() string {
	for _, f := range registry {
		if f.Kind == Window && f.Op == op {
			return f.Name
		}
	}
	return "agg"
}

// WindowArgs are a window function's constant arguments, decoded when the
// plan is built.
type WindowArgs struct {
	// Offset: lag and lead, how many rows away; fill_forward and
	// fill_backward, how many rows a value is carried at most (-1: any).
	Offset int64
	// Preceding, Following: a rolling frame's rows before and after the
	// current one; fewer than MinSamples non-null values in the frame (or
	// seen by ewm_mean) give null.
	Preceding, Following, MinSamples int64
	// ewm_mean's smoothing factor and polars' adjust and ignore_nulls.
	Alpha               float64
	Adjust, IgnoreNulls bool
	// rolling_by's frame: the rows whose order key k' lies in
	// (k - Period, k] (Closed "right"), [k - Period, k) ("left"),
	// [k - Period, k] ("both") or (k - Period, k) ("none"); Period is in the
	// order key's unit (days for a date).
	Period int64
	Closed string
}

func init() {
	i64, f64, boolean := arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Float64, arrow.FixedWidthTypes.Boolean
	// The ranking functions take no argument: they rank by the window's order_by.
	for name, op := range map[string]WindowOp{"row_number": WinRowNumber, "rank": WinRank, "dense_rank": WinDenseRank} {
		register(&Function{Name: name, Kind: Window, Op: op, SQL: true,
			Resolve: func([]arrow.DataType) (arrow.DataType, []arrow.DataType, error) { return i64, nil, nil }})
	}
	// lag(x, offset), lead(x, offset): offset a non-negative constant, 1 when left out.
	for name, op := range map[string]WindowOp{"lag": WinLag, "lead": WinLead} {
		register(&Function{Name: name, Kind: Window, Op: op, SQL: true, Keeps: KeepsFirst, Arity: 1, MaxArity: 2,
			Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
				t := movedValues(in[0])
				return t, append([]arrow.DataType{t}, paramTypes(in[1:], i64)...), nil
			},
			DecodeArgs: func(params []scalar.Scalar) (WindowArgs, error) {
				a := WindowArgs{Offset: 1}
				if len(params) == 1 {
					n, ok := params[0].(*scalar.Int64)
					if !ok || !n.IsValid() || n.Value < 0 {
						return a, invalid("the offset of %s must be a non-negative integer constant, got %s", name, params[0])
					}
					a.Offset = n.Value
				}
				return a, nil
			}})
	}
	// Running aggregates over the rows up to this one: RunningOf names the
	// aggregate each one runs (SQL's sum(x) OVER (... ROWS UNBOUNDED
	// PRECEDING) becomes cum_sum).
	register(&Function{Name: "cum_sum", Kind: Window, Op: WinCumSum, RunningOf: "sum", Arity: 1, Resolve: resolveSum})
	register(&Function{Name: "cum_count", Kind: Window, Op: WinCumCount, RunningOf: "count", Arity: 1,
		Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) { return i64, in, nil }})
	for name, op := range map[string]WindowOp{"cum_min": WinCumMin, "cum_max": WinCumMax} {
		register(&Function{Name: name, Kind: Window, Op: op, RunningOf: name[len("cum_"):], Arity: 1,
			Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
				if !IsOrderable(in[0]) {
					return nil, nil, invalid("%s needs values that can be ordered, got %s", name, TypeName(in[0]))
				}
				t := movedValues(in[0])
				return t, []arrow.DataType{t}, nil
			}})
	}
	// cum_prod: int64 for integers and booleans, float64 for floats and decimals.
	register(&Function{Name: "cum_prod", Kind: Window, Op: WinCumProd, RunningOf: "product", Arity: 1,
		Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
			t := in[0]
			switch {
			case IsFloat(t), t.ID() == arrow.DECIMAL128:
				return f64, []arrow.DataType{f64}, nil
			case IsInteger(t), t.ID() == arrow.BOOL, IsNull(t):
				return i64, []arrow.DataType{i64}, nil
			}
			return nil, nil, invalid("cum_prod needs numbers, got %s", TypeName(t))
		}})
	// fill_forward(x, limit), fill_backward(x, limit): limit a non-negative
	// constant, or null for no limit.
	for name, op := range map[string]WindowOp{"fill_forward": WinFillForward, "fill_backward": WinFillBackward} {
		register(&Function{Name: name, Kind: Window, Op: op, Keeps: KeepsFirst, Arity: 2,
			Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
				t := movedValues(in[0])
				return t, []arrow.DataType{t, i64}, nil
			},
			DecodeArgs: func(params []scalar.Scalar) (WindowArgs, error) {
				a := WindowArgs{Offset: -1}
				if !params[0].IsValid() {
					return a, nil
				}
				n, ok := params[0].(*scalar.Int64)
				if !ok || n.Value < 0 {
					return a, invalid("the limit of %s must be a non-negative integer constant, got %s", name, params[0])
				}
				a.Offset = n.Value
				return a, nil
			}})
	}
	// ewm_mean(x, alpha, adjust, min_samples, ignore_nulls): polars' exponentially weighted mean.
	register(&Function{Name: "ewm_mean", Kind: Window, Op: WinEwmMean, Arity: 5,
		Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
			if !IsNumeric(in[0]) && !IsNull(in[0]) && !IsBool(in[0]) {
				return nil, nil, invalid("ewm_mean needs numbers, got %s", TypeName(in[0]))
			}
			return f64, []arrow.DataType{f64, f64, boolean, i64, boolean}, nil
		},
		DecodeArgs: func(p []scalar.Scalar) (WindowArgs, error) {
			alpha, okA := p[0].(*scalar.Float64)
			adjust, okB := p[1].(*scalar.Boolean)
			minSamples, okC := p[2].(*scalar.Int64)
			ignoreNulls, okD := p[3].(*scalar.Boolean)
			if !okA || !okB || !okC || !okD || !alpha.IsValid() || !adjust.IsValid() || !minSamples.IsValid() || !ignoreNulls.IsValid() ||
				!(alpha.Value > 0 && alpha.Value <= 1) || minSamples.Value < 0 {
				return WindowArgs{}, invalid("ewm_mean needs 0 < alpha <= 1 (a float), booleans adjust and ignore_nulls and an integer min_samples >= 0")
			}
			return WindowArgs{Alpha: alpha.Value, Adjust: adjust.Value, MinSamples: minSamples.Value, IgnoreNulls: ignoreNulls.Value}, nil
		}})
	// rolling(agg, before, after, min_samples): an aggregate over a frame of
	// rows; the planner builds its aggregate argument (it is not a value).
	register(&Function{Name: "rolling", Kind: Window, Op: WinRolling, Arity: 4,
		Resolve: func([]arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
			return nil, nil, invalid("rolling takes an aggregation and three constants: rows before, rows after, the fewest values")
		},
		DecodeArgs: func(p []scalar.Scalar) (WindowArgs, error) {
			var frame [3]int64
			for i, v := range p {
				n, ok := v.(*scalar.Int64)
				if !ok || !n.IsValid() || n.Value < 0 {
					return WindowArgs{}, invalid("rolling: argument %d must be a non-negative integer constant, got %s", i+2, v)
				}
				frame[i] = n.Value
			}
			return WindowArgs{Preceding: frame[0], Following: frame[1], MinSamples: frame[2]}, nil
		}})
	// rolling_by(agg, period, min_samples, closed): an aggregate over the
	// rows within a span of the window's one order key (polars'
	// rolling_*_by and LazyFrame.rolling); the planner gives period in the
	// key's unit.
	register(&Function{Name: "rolling_by", Kind: Window, Op: WinRollingBy, Arity: 4,
		Resolve: func([]arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
			return nil, nil, invalid("rolling_by takes an aggregation and three constants: the period, the fewest values, the closed side")
		},
		DecodeArgs: func(p []scalar.Scalar) (WindowArgs, error) {
			period, okP := p[0].(*scalar.Int64)
			minSamples, okM := p[1].(*scalar.Int64)
			closed, okC := p[2].(*scalar.String)
			if !okP || !period.IsValid() || period.Value <= 0 {
				return WindowArgs{}, invalid("rolling_by: the period must be a positive constant, got %s", p[0])
			}
			if !okM || !minSamples.IsValid() || minSamples.Value < 0 {
				return WindowArgs{}, invalid("rolling_by: min_samples must be a non-negative integer constant, got %s", p[1])
			}
			side := ""
			if okC && closed.IsValid() {
				side = string(closed.Value.Bytes())
			}
			switch side {
			case "right", "left", "both", "none":
			default:
				return WindowArgs{}, invalid("rolling_by: closed must be 'right', 'left', 'both' or 'none', got %s", p[2])
			}
			return WindowArgs{Period: period.Value, MinSamples: minSamples.Value, Closed: side}, nil
		}})
}

// movedValues is the type a window function that moves values between rows
// gives back: the argument's, with string views read as large strings.
func movedValues(t arrow.DataType) arrow.DataType {
	if t.ID() == arrow.STRING_VIEW {
		return arrow.BinaryTypes.LargeString
	}
	return t
}
