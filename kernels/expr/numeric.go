package expr

import (
	"context"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/compute"
)

// Numeric functions. abs, round, floor and ceil keep the input's type
// (decimals stay decimals, integers stay integers); sqrt, ln, log, exp and
// power compute in float64 with IEEE results (NaN for the square root or
// logarithm of a negative number, -inf for the logarithm of 0), as numpy
// and polars do. Arrow's kernels do the work where it has them; exp is a
// loop of ours (Arrow Go has none).

func init() {
	register(&Function{Name: "abs", Arity: 1, Resolve: resolveKeepNumeric("abs"), eval: arrowCall("abs")})
	register(&Function{Name: "floor", Arity: 1, Resolve: resolveKeepNumeric("floor"), eval: roundLike("floor")})
	register(&Function{Name: "ceil", Arity: 1, Resolve: resolveKeepNumeric("ceil"), eval: roundLike("ceil")})
	// round(x, decimals, mode): mode "half_away_from_zero" (SQL's, the
	// default) or "half_to_even" (polars').
	register(&Function{Name: "round", Arity: 2, MaxArity: 3, eval: round,
		Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
			out, args, err := resolveKeepNumeric("round")(in[:1])
			if err != nil {
				return nil, nil, err
			}
			// An untyped decimals literal may have taken the type of x.
			if !IsNull(in[1]) && !IsInteger(in[1]) && !(IsNumeric(in[1]) && IsNumeric(in[0])) {
				return nil, nil, invalid("round's decimals must be an integer, got %s", TypeName(in[1]))
			}
			if err := checkParam("round", "mode", in, 2, IsString); err != nil {
				return nil, nil, err
			}
			return out, append(append(args, arrow.PrimitiveTypes.Int64), paramTypes(in[2:], arrow.BinaryTypes.String)...), nil
		}})
	for _, f := range []struct{ name, arrow string }{{"sqrt", "sqrt_unchecked"}, {"ln", "ln_unchecked"}} {
		register(&Function{Name: f.name, Arity: 1, Resolve: resolveFloat(f.name, 1), eval: arrowCall(f.arrow)})
	}
	register(&Function{Name: "exp", Arity: 1, Resolve: resolveFloat("exp", 1), eval: floatLoop(math.Exp)})
	// Trigonometric, hyperbolic and log variants, as polars names them
	// (IEEE results: NaN outside the domain, as numpy).
	for name, f := range map[string]func(float64) float64{
		"sin": math.Sin, "cos": math.Cos, "tan": math.Tan, "cot": func(x float64) float64 { return 1 / math.Tan(x) },
		"arcsin": math.Asin, "arccos": math.Acos, "arctan": math.Atan,
		"sinh": math.Sinh, "cosh": math.Cosh, "tanh": math.Tanh,
		"arcsinh": math.Asinh, "arccosh": math.Acosh, "arctanh": math.Atanh,
		"degrees": func(x float64) float64 { return x * 180 / math.Pi }, "radians": func(x float64) float64 { return x * math.Pi / 180 },
		"log10": math.Log10, "log1p": math.Log1p, "cbrt": math.Cbrt, "erf": math.Erf, "erfc": math.Erfc,
	} {
		register(&Function{Name: name, Arity: 1, Resolve: resolveFloat(name, 1), eval: floatLoop(f)})
	}
	register(&Function{Name: "log", Arity: 2, Resolve: resolveFloat("log", 2), eval: arrowCall("logb_unchecked")})
	register(&Function{Name: "floordiv", Infix: "//", Arity: 2, Resolve: resolveFloorDiv, eval: floorDivide})
	register(&Function{Name: "power", Arity: 2, Resolve: resolveFloat("power", 2), eval: arrowCall("power_unchecked")})
}

// resolveKeepNumeric accepts any number and keeps its type.
func resolveKeepNumeric(name string) func([]arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
	return func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
		t := in[0]
		if IsNull(t) {
			t = arrow.PrimitiveTypes.Float64
		}
		if !IsNumeric(t) {
			return nil, nil, invalid("%s needs a number, got %s", name, TypeName(t))
		}
		return t, []arrow.DataType{t}, nil
	}
}

// resolveFloat accepts numbers and computes in float64.
func resolveFloat(name string, n int) func([]arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
	return func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
		for _, t := range in {
			if !IsNull(t) && !IsNumeric(t) {
				return nil, nil, invalid("%s needs numbers, got %s", name, TypeName(t))
			}
		}
		f := arrow.PrimitiveTypes.Float64
		return f, repeat(f, n), nil
	}
}

// roundLike is floor or ceil: integers are already whole.
func roundLike(name string) func(context.Context, []compute.Datum) (compute.Datum, error) {
	return func(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
		if IsInteger(datumType(args[0])) {
			return cloneDatum(args[0]), nil
		}
		return compute.CallFunction(ctx, name, nil, args[0])
	}
}

// roundModes are round's modes by name.
var roundModes = map[string]compute.RoundMode{
	"half_away_from_zero": compute.RoundHalfTowardsInfinity,
	"half_to_even":        compute.RoundHalfToEven,
}

// round rounds half away from zero, as SQL does (or half to even, as
// polars), to decimals digits after the point (negative: to tens,
// hundreds, ...).
func round(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
	digits, ok, err := intArg("round", "decimals", args[1])
	if err != nil {
		return nil, err
	}
	mode := compute.RoundHalfTowardsInfinity
	if len(args) == 3 {
		s := constant(args[2])
		if s == nil || !s.IsValid() {
			return nil, invalid("round's mode must be a constant: \"half_to_even\" or \"half_away_from_zero\"")
		}
		name := s.String()
		m, known := roundModes[name]
		if !known {
			return nil, invalid("round's mode must be \"half_to_even\" or \"half_away_from_zero\", got %q", name)
		}
		mode = m
	}
	if !ok {
		return nullLike(args[0]), nil
	}
	t := datumType(args[0])
	if IsInteger(t) && digits >= 0 {
		return cloneDatum(args[0]), nil
	}
	if t.ID() == arrow.DECIMAL128 && digits > int64(t.(*arrow.Decimal128Type).Scale) {
		return cloneDatum(args[0]), nil // already exact to more digits
	}
	opts := &compute.RoundOptions{NDigits: digits, Mode: mode}
	return compute.CallFunction(ctx, "round", opts, args[0])
}

// floatLoop applies f to every float64 value; nulls stay null.
func floatLoop(f func(float64) float64) func(context.Context, []compute.Datum) (compute.Datum, error) {
	return func(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
		mem, x, anyArray, err := firstArg(ctx, args)
		if err != nil {
			return nil, err
		}
		defer x.Release()
		in := Values[float64](x)
		out := make([]float64, len(in))
		for i, v := range in {
			out[i] = f(v)
		}
		validity, nulls := copyValidity(mem, x)
		return result(FixedWidthArray(mem, arrow.PrimitiveTypes.Float64, out, validity, nulls), anyArray)
	}
}

// cloneDatum is a new reference to d, for results that are an argument.
func cloneDatum(d compute.Datum) compute.Datum {
	switch v := d.(type) {
	case *compute.ArrayDatum:
		arr := v.MakeArray()
		defer arr.Release()
		return compute.NewDatum(arr)
	case *compute.ScalarDatum:
		return compute.NewDatum(v.Value)
	}
	return d
}

// resolveFloorDiv: integers divide as integers (the common type), anything
// else in float64.
func resolveFloorDiv(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
	out, _, err := resolveArith("floordiv", decimalAddType)(in)
	if err != nil {
		return nil, nil, err
	}
	if IsInteger(out) {
		i := arrow.PrimitiveTypes.Int64
		return out, []arrow.DataType{i, i}, nil
	}
	f := arrow.PrimitiveTypes.Float64
	return f, []arrow.DataType{f, f}, nil
}

// floorDivide is a // b rounded toward negative infinity, as polars: integers
// (as int64) give null for a division by zero; floats floor(a / b).
func floorDivide(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
	if datumType(args[0]).ID() == arrow.FLOAT64 {
		q, err := compute.CallFunction(ctx, "divide_unchecked", nil, args...)
		if err != nil {
			return nil, err
		}
		defer q.Release()
		return compute.CallFunction(ctx, "floor", nil, q)
	}
	n, anyArray := rowCount(args)
	mem := Allocator(ctx)
	arrs, release, err := asArrays(mem, args, n)
	if err != nil {
		return nil, err
	}
	defer release()
	a, b := Values[int64](arrs[0]), Values[int64](arrs[1])
	out := make([]int64, n)
	valid := make([]bool, n)
	for i := range n {
		if !arrs[0].IsValid(i) || !arrs[1].IsValid(i) || b[i] == 0 {
			continue
		}
		if b[i] == -1 { // MinInt64 / -1 overflows: wrap, as polars does
			out[i], valid[i] = -a[i], true
			continue
		}
		q := a[i] / b[i]
		if a[i]%b[i] != 0 && (a[i] < 0) != (b[i] < 0) {
			q--
		}
		out[i], valid[i] = q, true
	}
	v, nulls := ValidityOf(mem, valid)
	return result(FixedWidthArray(mem, arrow.PrimitiveTypes.Int64, out, v, nulls), anyArray)
}
