package expr

import (
	"context"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// Conditionals: case_when (polars' when/then/otherwise), coalesce,
// fill_null, is_in and is_between. Nulls follow SQL: a null condition is
// not true; is_in is DuckDB's IN.

func init() {
	register(&Function{Name: "case_when", Keeps: KeepsCaseValues, Arity: 3, MaxArity: -1, Resolve: resolveCaseWhen, eval: caseWhen})
	register(&Function{Name: "coalesce", Keeps: KeepsAny, Arity: 1, MaxArity: -1, Resolve: resolveCoalesce("coalesce"), eval: coalesce})
	register(&Function{Name: "fill_null", Keeps: KeepsAny, Arity: 2, Resolve: resolveCoalesce("fill_null"), eval: coalesce})
	register(&Function{Name: "is_in", Arity: 2, MaxArity: -1, Resolve: resolveIsIn, eval: isIn})
	register(&Function{Name: "is_between", Arity: 4, Resolve: resolveIsBetween, eval: isBetween})
}

// resolveCaseWhen checks case_when(val1, ..., valN, otherwise, cond1, ...,
// condN): the values come first so that an untyped null or number among
// them takes the type of another value, not of a condition, and the result
// is named after the first value, as in polars.
func resolveCaseWhen(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
	if len(in)%2 == 0 {
		return nil, nil, invalid("case_when takes N values, the value otherwise, then N conditions (an odd number of arguments), got %d", len(in))
	}
	k := len(in) / 2
	for i, t := range in[k+1:] {
		if !IsNull(t) && t.ID() != arrow.BOOL {
			return nil, nil, invalid("case_when condition %d must be boolean, got %s", i+1, TypeName(t))
		}
	}
	out, err := commonType("when/then/otherwise", in[:k+1])
	if err != nil {
		return nil, nil, err
	}
	args := repeat(out, len(in))
	for i := k + 1; i < len(in); i++ {
		args[i] = arrow.FixedWidthTypes.Boolean
	}
	return out, args, nil
}

// caseWhen is, per row, the value of the first condition that is true (a
// null condition is not), else the otherwise value.
func caseWhen(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
	out := datumType(args[0])
	if IsNull(out) {
		return compute.NewDatum(scalar.MakeNullScalar(arrow.Null)), nil
	}
	n, anyArray := rowCount(args)
	k := len(args) / 2
	choice := make([]int, n)
	for i := range choice {
		choice[i] = -1
	}
	for p := 0; p < k; p++ {
		cond := args[k+1+p]
		if s := constant(cond); s != nil {
			if s.IsValid() && s.(*scalar.Boolean).Value {
				for i := range choice {
					if choice[i] < 0 {
						choice[i] = p
					}
				}
			}
			continue
		}
		arr := cond.(*compute.ArrayDatum).MakeArray()
		vals, voff := bitsOf(arr)
		valid, off := validBits(arr)
		for i := range choice {
			if choice[i] < 0 && isValidAt(valid, off, i) && vals != nil && bitIsSet(vals, voff+i) {
				choice[i] = p
			}
		}
		arr.Release()
	}
	for i := range choice {
		if choice[i] < 0 {
			choice[i] = k
		}
	}
	res, err := pick(ctx, out, args[:k+1], choice, n)
	if err != nil {
		return nil, err
	}
	return result(res, anyArray)
}

func resolveCoalesce(fn string) func([]arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
	return func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
		out, err := commonType(fn, in)
		if err != nil {
			return nil, nil, err
		}
		return out, repeat(out, len(in)), nil
	}
}

// coalesce is the first non-null argument of each row.
func coalesce(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
	out := datumType(args[0])
	if IsNull(out) {
		return compute.NewDatum(scalar.MakeNullScalar(arrow.Null)), nil
	}
	n, anyArray := rowCount(args)
	choice := make([]int, n)
	for i := range choice {
		choice[i] = -1
	}
	for j, a := range args {
		if s := constant(a); s != nil {
			if s.IsValid() {
				for i := range choice {
					if choice[i] < 0 {
						choice[i] = j
					}
				}
			}
			continue
		}
		arr := a.(*compute.ArrayDatum).MakeArray()
		valid, off := validBits(arr)
		for i := range choice {
			if choice[i] < 0 && isValidAt(valid, off, i) {
				choice[i] = j
			}
		}
		arr.Release()
	}
	for i := range choice {
		if choice[i] < 0 {
			choice[i] = len(args) - 1 // null there too
		}
	}
	res, err := pick(ctx, out, args, choice, n)
	if err != nil {
		return nil, err
	}
	return result(res, anyArray)
}

// resolveIsIn checks is_in(x, v1, v2, ...): every value is compared in
// the common type of x and the values.
func resolveIsIn(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
	common, err := commonType("is_in", in)
	if err != nil {
		return nil, nil, err
	}
	if IsNull(common) {
		common = arrow.FixedWidthTypes.Boolean
	}
	return arrow.FixedWidthTypes.Boolean, repeat(common, len(in)), nil
}

// isIn is x IN (v1, v2, ...) as in SQL: true when x equals a value; null
// when x is null, or when it equals none and a value is null; else false.
// Constant values are looked up in a set; NaN is in a list holding NaN,
// as in DuckDB.
func isIn(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
	consts := true
	for _, a := range args[1:] {
		if constant(a) == nil {
			consts = false
		}
	}
	if !consts {
		return isInByCompare(ctx, args)
	}
	n, anyArray := rowCount(args)
	x, err := asArray(Allocator(ctx), args[0], n)
	if err != nil {
		return nil, err
	}
	defer x.Release()
	hasNull := false
	vals := make([]scalar.Scalar, 0, len(args)-1)
	for _, a := range args[1:] {
		if s := constant(a); s.IsValid() {
			vals = append(vals, s)
		} else {
			hasNull = true
		}
	}
	var found func(i int) bool
	switch x.DataType().ID() {
	case arrow.INT8:
		found = setLookup[int8](x, vals)
	case arrow.INT16:
		found = setLookup[int16](x, vals)
	case arrow.INT32, arrow.DATE32:
		found = setLookup[int32](x, vals)
	case arrow.INT64, arrow.TIMESTAMP:
		found = setLookup[int64](x, vals)
	case arrow.UINT8:
		found = setLookup[uint8](x, vals)
	case arrow.UINT16:
		found = setLookup[uint16](x, vals)
	case arrow.UINT32:
		found = setLookup[uint32](x, vals)
	case arrow.UINT64:
		found = setLookup[uint64](x, vals)
	case arrow.DECIMAL128:
		found = setLookup[decimal128.Num](x, vals)
	case arrow.FLOAT32:
		found = floatLookup[float32](x, vals)
	case arrow.FLOAT64:
		found = floatLookup[float64](x, vals)
	case arrow.STRING:
		found = stringLookup[int32](x, vals)
	case arrow.LARGE_STRING:
		found = stringLookup[int64](x, vals)
	case arrow.BOOL:
		set := map[bool]bool{}
		for _, v := range vals {
			set[v.(*scalar.Boolean).Value] = true
		}
		bits, off := bitsOf(x)
		found = func(i int) bool { return set[bitIsSet(bits, off+i)] }
	default:
		return isInByCompare(ctx, args)
	}
	mem := Allocator(ctx)
	out := newBoolOut(mem, n)
	valid, off := validBits(x)
	for i := 0; i < n; i++ {
		switch {
		case !isValidAt(valid, off, i):
			out.setNull(i, mem)
		case found(i):
			out.set(i, true)
		case hasNull:
			out.setNull(i, mem)
		}
	}
	return result(out.finish(), anyArray)
}

func setLookup[T interface {
	comparable
	arrow.FixedWidthType
}](x arrow.Array, vals []scalar.Scalar) func(int) bool {
	set := make(map[T]struct{}, len(vals))
	for _, v := range vals {
		set[scalarValue[T](v)] = struct{}{}
	}
	xs := arrow.GetValues[T](x.Data(), 1)
	return func(i int) bool {
		_, ok := set[xs[i]]
		return ok
	}
}

// scalarValue is the fixed-width value of a valid scalar of the type T stands for.
func scalarValue[T any](s scalar.Scalar) T {
	var v any
	switch x := s.(type) {
	case *scalar.Int8:
		v = x.Value
	case *scalar.Int16:
		v = x.Value
	case *scalar.Int32:
		v = x.Value
	case *scalar.Int64:
		v = x.Value
	case *scalar.Uint8:
		v = x.Value
	case *scalar.Uint16:
		v = x.Value
	case *scalar.Uint32:
		v = x.Value
	case *scalar.Uint64:
		v = x.Value
	case *scalar.Float32:
		v = x.Value
	case *scalar.Float64:
		v = x.Value
	case *scalar.Date32:
		v = int32(x.Value)
	case *scalar.Timestamp:
		v = int64(x.Value)
	case *scalar.Decimal128:
		v = x.Value
	}
	out, _ := v.(T)
	return out
}

func floatLookup[T float32 | float64](x arrow.Array, vals []scalar.Scalar) func(int) bool {
	set := make(map[T]struct{}, len(vals))
	nan := false
	for _, v := range vals {
		f := scalarValue[T](v)
		if math.IsNaN(float64(f)) {
			nan = true
		} else {
			set[f] = struct{}{}
		}
	}
	xs := arrow.GetValues[T](x.Data(), 1)
	return func(i int) bool {
		if xs[i] != xs[i] {
			return nan
		}
		_, ok := set[xs[i]]
		return ok
	}
}

func stringLookup[O int32 | int64](x arrow.Array, vals []scalar.Scalar) func(int) bool {
	set := make(map[string]struct{}, len(vals))
	for _, v := range vals {
		s, _ := scalarString(v)
		set[s] = struct{}{}
	}
	view := viewOf[O](x)
	return func(i int) bool {
		_, ok := set[view.at(i)]
		return ok
	}
}

// isInByCompare is is_in when some value is a column: x == v1 or x == v2
// ..., with Kleene logic, which gives SQL's nulls.
func isInByCompare(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
	cmpType := datumType(args[0])
	var acc compute.Datum
	for _, v := range args[1:] {
		x, y := args[0], v
		if cmpType.ID() == arrow.BOOL {
			var err error
			if x, err = boolAsUint8(ctx, x); err != nil {
				return nil, err
			}
			defer x.Release()
			if y, err = boolAsUint8(ctx, y); err != nil {
				return nil, err
			}
			defer y.Release()
		}
		eq, err := compute.CallFunction(ctx, "equal", nil, x, y)
		if err != nil {
			return nil, err
		}
		if acc == nil {
			acc = eq
			continue
		}
		next, err := compute.CallFunction(ctx, "or_kleene", nil, acc, eq)
		acc.Release()
		eq.Release()
		if err != nil {
			return nil, err
		}
		acc = next
	}
	return acc, nil
}

var betweenClosed = map[string][2]string{
	"both":  {"greater_equal", "less_equal"},
	"left":  {"greater_equal", "less"},
	"right": {"greater", "less_equal"},
	"none":  {"greater", "less"},
}

// resolveIsBetween checks is_between(x, lower, upper, closed).
func resolveIsBetween(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
	if !IsString(in[3]) {
		return nil, nil, invalid("is_between's closed must be a string (\"both\", \"left\", \"right\" or \"none\"), got %s", TypeName(in[3]))
	}
	common, err := commonType("is_between", in[:3])
	if err != nil {
		return nil, nil, err
	}
	switch {
	case IsNull(common):
		common = arrow.PrimitiveTypes.Int64
	case !IsOrderable(common):
		return nil, nil, invalid("is_between needs values that can be ordered, got %s", TypeName(common))
	}
	return arrow.FixedWidthTypes.Boolean, []arrow.DataType{common, common, common, in[3]}, nil
}

// isBetween is lower <= x <= upper (bounds per closed), null when any of
// the three is null and the other bound does not already make it false.
func isBetween(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
	closed, ok := scalarString(constant(args[3]))
	ops, known := betweenClosed[closed]
	if !ok || !known {
		return nil, invalid("is_between's closed must be a constant \"both\", \"left\", \"right\" or \"none\", got %q", closed)
	}
	if datumType(args[0]).ID() == arrow.BOOL { // Arrow orders no booleans
		conv := make([]compute.Datum, 3)
		for i := range conv {
			d, err := boolAsUint8(ctx, args[i])
			if err != nil {
				return nil, err
			}
			defer d.Release()
			conv[i] = d
		}
		args = append(conv, args[3])
	}
	lo, err := compute.CallFunction(ctx, ops[0], nil, args[0], args[1])
	if err != nil {
		return nil, err
	}
	defer lo.Release()
	hi, err := compute.CallFunction(ctx, ops[1], nil, args[0], args[2])
	if err != nil {
		return nil, err
	}
	defer hi.Release()
	return compute.CallFunction(ctx, "and_kleene", nil, lo, hi)
}

func bitIsSet(bits []byte, i int) bool { return bits[i>>3]&(1<<(uint(i)&7)) != 0 }
