package expr

import (
	"context"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Functions across columns, row by row, as polars' *_horizontal (with
// their default ignore_nulls=True), and the float tests is_nan,
// is_not_nan, is_finite and is_infinite:
//   - sum_horizontal: the sum of the row's non-null values (0 when none),
//     int64 for integers and booleans, float64 when any is a float;
//   - mean_horizontal: their mean as float64, null when none;
//   - min_horizontal, max_horizontal: the least / greatest non-null value,
//     NaN only when every value is NaN, null when none (the common type);
//   - any_horizontal, all_horizontal: Kleene or / and of booleans (null
//     when a null could change the answer).

func init() {
	for _, name := range []string{"sum_horizontal", "mean_horizontal", "min_horizontal", "max_horizontal"} {
		register(&Function{Name: name, Arity: 1, MaxArity: -1, Resolve: resolveHorizontal(name), eval: horizontal(name)})
	}
	for _, name := range []string{"any_horizontal", "all_horizontal"} {
		isAll := name == "all_horizontal"
		register(&Function{Name: name, Arity: 1, MaxArity: -1, Resolve: resolveLogic(name), eval: kleeneFold(isAll)})
	}
	for _, name := range []string{"is_nan", "is_not_nan", "is_finite", "is_infinite"} {
		register(&Function{Name: name, Arity: 1, Resolve: resolveFloatTest(name), eval: floatTest(name)})
	}
}

func resolveHorizontal(name string) func([]arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
	return func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
		var common arrow.DataType = arrow.Null
		for _, t := range in {
			if IsNull(t) {
				continue
			}
			if t.ID() == arrow.BOOL && name == "sum_horizontal" {
				t = arrow.PrimitiveTypes.Int64
			}
			if !IsNumeric(t) {
				return nil, nil, invalid("%s needs numbers, got %s", name, TypeName(t))
			}
			if IsNull(common) {
				common = t
				continue
			}
			c, err := CommonNumeric(common, t)
			if err != nil {
				return nil, nil, err
			}
			common = c
		}
		work := arrow.DataType(arrow.PrimitiveTypes.Int64)
		if IsFloat(common) || common.ID() == arrow.DECIMAL128 || name == "mean_horizontal" {
			work = arrow.PrimitiveTypes.Float64
		}
		out := work
		switch name {
		case "mean_horizontal":
			out = arrow.PrimitiveTypes.Float64
		case "min_horizontal", "max_horizontal":
			if !IsNull(common) && common.ID() != arrow.DECIMAL128 {
				out = common
			}
		}
		return out, repeat(work, len(in)), nil
	}
}

func horizontal(name string) func(context.Context, []compute.Datum) (compute.Datum, error) {
	return func(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
		n, anyArray := rowCount(args)
		mem := Allocator(ctx)
		arrs, release, err := asArrays(mem, args, n)
		if err != nil {
			return nil, err
		}
		defer release()
		var out arrow.Array
		if arrs[0].DataType().ID() == arrow.FLOAT64 {
			out = foldRows[float64](mem, name, arrs, n)
		} else {
			out = foldRows[int64](mem, name, arrs, n)
		}
		return result(out, anyArray)
	}
}

// foldRows folds the values of each row across arrs.
func foldRows[T int64 | float64](mem memory.Allocator, name string, arrs []arrow.Array, n int) arrow.Array {
	vals := make([][]T, len(arrs))
	for i, a := range arrs {
		vals[i] = Values[T](a)
	}
	out := make([]T, n)
	outF := make([]float64, n) // mean
	valid := make([]bool, n)
	for r := range n {
		var acc T
		count, seen := 0, false
		for i, a := range arrs {
			if !a.IsValid(r) {
				continue
			}
			v := vals[i][r]
			count++
			isNaN := v != v
			switch name {
			case "sum_horizontal", "mean_horizontal":
				acc += v
			case "min_horizontal":
				if !seen || (acc != acc && !isNaN) || v < acc {
					acc = v
				}
			case "max_horizontal":
				if !seen || (acc != acc && !isNaN) || v > acc {
					acc = v
				}
			}
			seen = true
		}
		switch name {
		case "sum_horizontal":
			out[r], valid[r] = acc, true
		case "mean_horizontal":
			if count > 0 {
				outF[r], valid[r] = float64(acc)/float64(count), true
			}
		default:
			out[r], valid[r] = acc, seen
		}
	}
	v, nulls := ValidityOf(mem, valid)
	if name == "mean_horizontal" {
		return FixedWidthArray(mem, arrow.PrimitiveTypes.Float64, outF, v, nulls)
	}
	return FixedWidthArray(mem, arrs[0].DataType(), out, v, nulls)
}

// kleeneFold is and (all) or or (any) of every argument, Kleene logic.
func kleeneFold(isAll bool) func(context.Context, []compute.Datum) (compute.Datum, error) {
	name := map[bool]string{false: "or_kleene", true: "and_kleene"}[isAll]
	return func(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
		acc := cloneDatum(args[0])
		for _, a := range args[1:] {
			next, err := compute.CallFunction(ctx, name, nil, acc, a)
			acc.Release()
			if err != nil {
				return nil, err
			}
			acc = next
		}
		return acc, nil
	}
}

func resolveFloatTest(name string) func([]arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
	return func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
		t := in[0]
		if !IsNumeric(t) && !IsNull(t) && !IsOrderable(t) {
			return nil, nil, invalid("%s needs numbers, got %s", name, TypeName(t))
		}
		if IsNumeric(t) || IsNull(t) {
			t = arrow.PrimitiveTypes.Float64
		}
		// Dates, timestamps and text are never NaN nor infinite.
		return arrow.FixedWidthTypes.Boolean, []arrow.DataType{t}, nil
	}
}

// floatTest tests each float64 value; null stays null.
func floatTest(name string) func(context.Context, []compute.Datum) (compute.Datum, error) {
	test := map[string]func(float64) bool{
		"is_nan":      func(v float64) bool { return v != v },
		"is_not_nan":  func(v float64) bool { return v == v },
		"is_finite":   func(v float64) bool { return !math.IsInf(v, 0) && v == v },
		"is_infinite": func(v float64) bool { return math.IsInf(v, 0) },
	}[name]
	return func(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
		mem, x, anyArray, err := firstArg(ctx, args)
		if err != nil {
			return nil, err
		}
		defer x.Release()
		isFloat := x.DataType().ID() == arrow.FLOAT64
		var vals []float64
		if isFloat {
			vals = Values[float64](x)
		}
		out := newBoolOut(mem, x.Len())
		for i := range x.Len() {
			v := 1.0 // what a value of another type counts as: a finite number
			if isFloat {
				v = vals[i]
			}
			if !x.IsValid(i) {
				out.setNull(i, mem)
			} else if test(v) {
				out.set(i, true)
			}
		}
		return result(out.finish(), anyArray)
	}
}
