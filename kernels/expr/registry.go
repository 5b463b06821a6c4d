package expr

import (
	"context"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/compute"

	"slipstream/kernels"
)

// FuncKind says where a function may appear.
type FuncKind int

const (
	// Scalar functions map rows to rows.
	Scalar FuncKind = iota
	// Aggregate functions fold the rows of a group into one value.
	Aggregate
)

// Function is one entry of the registry.
type Function struct {
	Name  string
	Infix string // operator spelling for EXPLAIN, e.g. "+"
	Kind  FuncKind
	// Arity is the number of arguments.
	Arity int
	// Resolve type-checks a call: it returns the result type and the type
	// each argument must be cast to first. Its errors name the types.
	Resolve func(args []arrow.DataType) (out arrow.DataType, argTypes []arrow.DataType, err error)
	// NewAccumulator makes the per-group state of an aggregate over values
	// of type in (nil for len).
	NewAccumulator func(in arrow.DataType) Accumulator

	eval func(ctx context.Context, args []compute.Datum) (compute.Datum, error)
}

var registry = map[string]*Function{}

func register(f *Function) { registry[f.Name] = f }

// Lookup finds a function by name.
func Lookup(name string) (*Function, bool) {
	f, ok := registry[name]
	return f, ok
}

// Names lists the registry, sorted; the planner suggests from it.
func Names() []string {
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func arrowCall(name string) func(context.Context, []compute.Datum) (compute.Datum, error) {
	return func(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
		return compute.CallFunction(ctx, name, nil, args...)
	}
}

// nullAs lets an untyped null stand for the other side's type.
func nullAs(a, b arrow.DataType) (arrow.DataType, arrow.DataType) {
	switch {
	case IsNull(a) && !IsNull(b):
		return b, b
	case IsNull(b) && !IsNull(a):
		return a, a
	}
	return a, b
}

func invalid(format string, args ...any) error { return kernels.Errorf(kernels.Invalid, format, args...) }

func resolveArith(op string, rule func(a, b arrow.DataType) arrow.DataType) func([]arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
	return func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
		a, b := nullAs(in[0], in[1])
		if IsNull(a) {
			a, b = arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Int64
		}
		if !IsNumeric(a) || !IsNumeric(b) {
			return nil, nil, invalid("cannot apply %s to %s and %s: both sides must be numbers", op, TypeName(a), TypeName(b))
		}
		common, err := CommonNumeric(a, b)
		if err != nil {
			return nil, nil, err
		}
		if common.ID() != arrow.DECIMAL128 {
			return common, []arrow.DataType{common, common}, nil
		}
		da, db := asDecimal(a), asDecimal(b)
		return rule(da, db), []arrow.DataType{da, db}, nil
	}
}

func decimalAddType(a, b arrow.DataType) arrow.DataType {
	da, db := a.(*arrow.Decimal128Type), b.(*arrow.Decimal128Type)
	scale := max(da.Scale, db.Scale)
	return &arrow.Decimal128Type{Precision: clampPrecision(max(da.Precision-da.Scale, db.Precision-db.Scale) + scale + 1), Scale: scale}
}

func decimalMulType(a, b arrow.DataType) arrow.DataType {
	da, db := a.(*arrow.Decimal128Type), b.(*arrow.Decimal128Type)
	return &arrow.Decimal128Type{Precision: clampPrecision(da.Precision + db.Precision + 1), Scale: da.Scale + db.Scale}
}

func resolveCompare(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
	a, b := nullAs(in[0], in[1])
	if IsNull(a) {
		return arrow.FixedWidthTypes.Boolean, []arrow.DataType{arrow.FixedWidthTypes.Boolean, arrow.FixedWidthTypes.Boolean}, nil
	}
	common, err := CommonComparable(a, b)
	if err != nil {
		return nil, nil, err
	}
	return arrow.FixedWidthTypes.Boolean, []arrow.DataType{common, common}, nil
}

func resolveLogic(op string) func([]arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
	return func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
		out := make([]arrow.DataType, len(in))
		for i, t := range in {
			if !IsNull(t) && t.ID() != arrow.BOOL {
				return nil, nil, invalid("%s needs boolean operands, got %s", op, TypeName(t))
			}
			out[i] = arrow.FixedWidthTypes.Boolean
		}
		return arrow.FixedWidthTypes.Boolean, out, nil
	}
}

func resolveIsNull(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
	return arrow.FixedWidthTypes.Boolean, []arrow.DataType{in[0]}, nil
}

func init() {
	for _, f := range []struct{ name, infix, arrow string }{
		{"add", "+", "add"}, {"subtract", "-", "subtract"}, {"multiply", "*", "multiply"},
	} {
		rule := decimalAddType
		if f.name == "multiply" {
			rule = decimalMulType
		}
		register(&Function{Name: f.name, Infix: f.infix, Arity: 2, Resolve: resolveArith(f.name, rule), eval: arrowCall(f.arrow)})
	}
	register(&Function{Name: "divide", Infix: "/", Arity: 2, eval: arrowCall("divide_unchecked"),
		Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
			if _, _, err := resolveArith("divide", decimalAddType)(in); err != nil {
				return nil, nil, err
			}
			f := arrow.PrimitiveTypes.Float64
			return f, []arrow.DataType{f, f}, nil
		}})
	register(&Function{Name: "modulo", Infix: "%", Arity: 2, eval: modulo,
		Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
			out, args, err := resolveArith("modulo", decimalAddType)(in)
			if err == nil && out.ID() == arrow.DECIMAL128 {
				return nil, nil, kernels.Errorf(kernels.NotSupported, "modulo of %s and %s is not supported yet; cast to float64 first", TypeName(in[0]), TypeName(in[1]))
			}
			return out, args, err
		}})
	register(&Function{Name: "negate", Arity: 1, eval: arrowCall("negate"),
		Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
			if !IsNumeric(in[0]) {
				return nil, nil, invalid("cannot negate %s: expected a number", TypeName(in[0]))
			}
			return in[0], in, nil
		}})
	for _, f := range []struct{ name, infix, arrow string }{
		{"eq", "==", "equal"}, {"ne", "!=", "not_equal"}, {"lt", "<", "less"},
		{"le", "<=", "less_equal"}, {"gt", ">", "greater"}, {"ge", ">=", "greater_equal"},
	} {
		register(&Function{Name: f.name, Infix: f.infix, Arity: 2, Resolve: resolveCompare, eval: arrowCall(f.arrow)})
	}
	register(&Function{Name: "and", Infix: "&", Arity: 2, Resolve: resolveLogic("and"), eval: arrowCall("and_kleene")})
	register(&Function{Name: "or", Infix: "|", Arity: 2, Resolve: resolveLogic("or"), eval: arrowCall("or_kleene")})
	register(&Function{Name: "not", Arity: 1, Resolve: resolveLogic("not"), eval: arrowCall("invert")})
	register(&Function{Name: "is_null", Arity: 1, Resolve: resolveIsNull, eval: arrowCall("is_null")})
	register(&Function{Name: "is_not_null", Arity: 1, Resolve: resolveIsNull, eval: arrowCall("is_not_null")})
	registerAggregates()
}
