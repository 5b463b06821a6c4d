package expr

import (
	"context"
	"fmt"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"slipstream/kernels"
)

// FuncKind says where a function may appear.
type FuncKind int

const (
	// Scalar functions map rows to rows.
	Scalar FuncKind = iota
	// Aggregate functions fold the rows of a group into one value.
	Aggregate
	// Window functions give each row a value computed over the rows of its
	// window partition, in the window's order (row_number, lag, cum_sum):
	// they stand only inside over().
	Window
)

// Function is one entry of the registry.
type Function struct {
	Name  string
	Infix string // operator spelling for EXPLAIN, e.g. "+"
	Kind  FuncKind
	// Arity is the number of arguments; MaxArity, when not 0, allows more:
	// up to MaxArity, or any number when it is -1 (is_in, coalesce).
	Arity    int
	MaxArity int
	// Resolve type-checks a call: it returns the result type and the type
	// each argument must be cast to first. Its errors name the types.
	Resolve func(args []arrow.DataType) (out arrow.DataType, argTypes []arrow.DataType, err error)
	// ResolveConst, when set, is used by the planner instead of Resolve
	// for a function whose result type depends on the values of constant
	// arguments (struct's field names, struct_field's name): consts[i] is
	// argument i's value when it is a constant, else nil.
	ResolveConst func(args []arrow.DataType, consts []scalar.Scalar) (out arrow.DataType, argTypes []arrow.DataType, err error)
	// NewAccumulator makes the per-group state of an aggregate over values
	// of type in (nil for len); params are the constant arguments after the
	// first (the q of quantile), already cast to what Resolve asked for.
	NewAccumulator func(in arrow.DataType, params []scalar.Scalar) Accumulator
	// CheckParams, when set, checks an aggregate's constant parameters
	// (after Resolve's casts) when the plan is built, so that a bad one is
	// an error naming it rather than a failure while running.
	CheckParams func(params []scalar.Scalar) error
	// Merge, when set, lets an aggregate run in two phases: partial per
	// share of its input, then final over the partial results.
	Merge *Merge
	// OrderSensitive aggregates (first, last) depend on the order of the
	// rows: physical planning must feed them the input in its order.
	OrderSensitive bool

	// Window functions: Op is the Window operator's kernel that computes
	// the function; a running one (cum_*) names in RunningOf the aggregate
	// it runs over the rows so far, and may give each row its last peer's
	// value (SQL's RANGE frame); DecodeArgs checks and decodes the constant
	// arguments after the first (already cast to what Resolve asked for);
	// SQL offers the function under its name in OVER clauses.
	Op         WindowOp
	RunningOf  string
	DecodeArgs func(params []scalar.Scalar) (WindowArgs, error)
	SQL        bool
	// Keeps says whose values the result holds, so that what describes
	// them (a categorical's field metadata) carries over to it.
	Keeps Keeps

	eval func(ctx context.Context, args []compute.Datum) (compute.Datum, error)
}

// Keeps is which arguments' values a function's result holds.
type Keeps int

const (
	KeepsNothing    Keeps = iota
	KeepsFirst            // the first argument's (first, min, lag, list_get, implode)
	KeepsAny              // any argument's (coalesce, fill_null)
	KeepsCaseValues       // case_when's values, the first half of its arguments, not its conditions
)

// Merge says how an aggregate's partial results combine.
type Merge struct {
	// Combine names the aggregate that merges the partial results; empty,
	// the function itself with the call's constant parameters (sum of
	// sums, max of maxima).
	Combine string
	// Parts, when set, are the aggregates computed per share instead of
	// the function, each merged by its own Merge; Finish, a scalar
	// function, computes the result from the merged parts, each cast to
	// the aggregate's result type first (mean: divide(sum, count)).
	Parts  []string
	Finish string
	// ExactDecimal: a decimal argument reaches the parts without the cast
	// the function's Resolve put on it, so that its sum stays exact.
	ExactDecimal bool
}

// Running finds the window function that runs aggregate agg over the rows
// so far (cum_sum for sum), if there is one.
func Running(agg string) (*Function, bool) {
	for _, f := range registry {
		if f.Kind == Window && f.RunningOf == agg {
			return f, true
		}
	}
	return nil, false
}

// ResolveWith type-checks a call whose constant arguments are consts (nil
// where an argument is not one): ResolveConst when f has one, else Resolve.
func (f *Function) ResolveWith(types []arrow.DataType, consts []scalar.Scalar) (arrow.DataType, []arrow.DataType, error) {
	if f.ResolveConst != nil {
		return f.ResolveConst(types, consts)
	}
	return f.Resolve(types)
}

// Mergeable reports whether f can run in two phases.
func (f *Function) Mergeable() bool { return f.Merge != nil }

var registry = map[string]*Function{}

func register(f *Function) { registry[f.Name] = f }

// AcceptsArgs reports whether n arguments fit f.
func (f *Function) AcceptsArgs(n int) bool {
	switch {
	case f.MaxArity == 0:
		return n == f.Arity
	case f.MaxArity < 0:
		return n >= f.Arity
	}
	return n >= f.Arity && n <= f.MaxArity
}

// ArityText describes how many arguments f takes, for error messages.
func (f *Function) ArityText() string {
	switch {
	case f.MaxArity == 0:
		return fmt.Sprintf("%d argument(s)", f.Arity)
	case f.MaxArity < 0:
		return fmt.Sprintf("at least %d argument(s)", f.Arity)
	}
	return fmt.Sprintf("%d to %d arguments", f.Arity, f.MaxArity)
}

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

func invalid(format string, args ...any) error {
	return kernels.Errorf(kernels.Invalid, format, args...)
}

func resolveArith(op string, rule func(a, b *arrow.Decimal128Type) (precision, scale int32)) func([]arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
	return func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
		a, b := nullAs(in[0], in[1])
		if IsNull(a) {
			a, b = arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Int64
		}
		if isTemporalArith(a) || isTemporalArith(b) {
			return resolveTemporalArith(op, a, b)
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
		// Arrow refuses a result of more than 38 digits (sum(x) + 1 is
		// already one): the decimal operand with more integer digits gives
		// them up until the result fits (its values must then fit too, or
		// the cast fails; Arrow casts integers only to their full width);
		// with no integer digit left to give, compute in float64.
		da, db := asDecimal(a), asDecimal(b)
		digits := func(d *arrow.Decimal128Type, t arrow.DataType) int32 { // integer digits it may give up
			if t.ID() != arrow.DECIMAL128 {
				return 0
			}
			return d.Precision - d.Scale
		}
		for {
			p, s := rule(da, db)
			if p <= 38 {
				return &arrow.Decimal128Type{Precision: p, Scale: s}, []arrow.DataType{da, db}, nil
			}
			narrow := &da
			if digits(db, b) > digits(da, a) {
				narrow = &db
			}
			if digits(da, a) == 0 && digits(db, b) == 0 {
				f := arrow.PrimitiveTypes.Float64
				return f, []arrow.DataType{f, f}, nil
			}
			*narrow = &arrow.Decimal128Type{Precision: (*narrow).Precision - 1, Scale: (*narrow).Scale}
		}
	}
}

// decimalAddType is the exact type of a sum or difference (Arrow's rule).
func decimalAddType(a, b *arrow.Decimal128Type) (int32, int32) {
	scale := max(a.Scale, b.Scale)
	return max(a.Precision-a.Scale, b.Precision-b.Scale) + scale + 1, scale
}

// decimalMulType is the exact type of a product (Arrow's rule).
func decimalMulType(a, b *arrow.Decimal128Type) (int32, int32) {
	return a.Precision + b.Precision + 1, a.Scale + b.Scale
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

// resolveOrder is resolveCompare for < <= > >=.
func resolveOrder(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
	return resolveCompare(in)
}

// orderCall is Arrow's comparison for < <= > >=, which has no boolean
// kernels: booleans compare as 0 and 1 (see boolAsUint8 for why not a cast).
func orderCall(name string) func(context.Context, []compute.Datum) (compute.Datum, error) {
	return func(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
		if datumType(args[0]).ID() != arrow.BOOL {
			return compute.CallFunction(ctx, name, nil, args...)
		}
		conv := make([]compute.Datum, len(args))
		for i, a := range args {
			d, err := boolAsUint8(ctx, a)
			if err != nil {
				return nil, err
			}
			defer d.Release()
			conv[i] = d
		}
		return compute.CallFunction(ctx, name, nil, conv...)
	}
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
		register(&Function{Name: f.name, Infix: f.infix, Arity: 2, Resolve: resolveArith(f.name, rule), eval: decimalArith(f.arrow)})
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
				// Both sides at one scale: the remainder has that scale too.
				common, cerr := CommonNumeric(args[0], args[1])
				if cerr != nil {
					return nil, nil, cerr
				}
				return common, []arrow.DataType{common, common}, nil
			}
			return out, args, err
		}})
	register(&Function{Name: "negate", Arity: 1, eval: arrowCall("negate"),
		Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
			if !IsNumeric(in[0]) || arrow.IsUnsignedInteger(in[0].ID()) {
				return nil, nil, invalid("cannot negate %s: expected a signed number", TypeName(in[0]))
			}
			return in[0], in, nil
		}})
	for _, f := range []struct{ name, infix, arrow string }{
		{"eq", "==", "equal"}, {"ne", "!=", "not_equal"}, {"lt", "<", "less"},
		{"le", "<=", "less_equal"}, {"gt", ">", "greater"}, {"ge", ">=", "greater_equal"},
	} {
		resolve, eval := resolveCompare, arrowCall(f.arrow)
		if f.name != "eq" && f.name != "ne" {
			resolve, eval = resolveOrder, orderCall(f.arrow)
		}
		register(&Function{Name: f.name, Infix: f.infix, Arity: 2, Resolve: resolve, eval: nanAware(f.name, eval)})
	}
	register(&Function{Name: "and", Infix: "&", Arity: 2, Resolve: resolveLogic("and"), eval: arrowCall("and_kleene")})
	register(&Function{Name: "or", Infix: "|", Arity: 2, Resolve: resolveLogic("or"), eval: arrowCall("or_kleene")})
	register(&Function{Name: "not", Arity: 1, Resolve: resolveLogic("not"), eval: not})
	register(&Function{Name: "is_null", Arity: 1, Resolve: resolveIsNull, eval: isNull(true)})
	register(&Function{Name: "is_not_null", Arity: 1, Resolve: resolveIsNull, eval: isNull(false)})
	registerAggregates()
}
