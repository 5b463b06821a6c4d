package plan

import (
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"slipstream/kernels/expr"
)

// Field metadata that describes a column's values rather than its storage
// (a categorical or enum computed as text: kernels/expr.CategoryKey) stays
// on an output column that holds the same values as an input column: the
// column itself under any name, a group or join key, first/last/min/max of
// it, shift or fill_null(strategy=) of it, implode of it (and list.get,
// list.unique, explode of that list), when/then, coalesce and
// fill_null of such columns (and text constants of the type), and a cast
// to the type (expr.CategoricalMetadata). Every
// other expression makes a column without metadata.

// outField is the output field of e.
func outField(e Expr) arrow.Field {
	f := arrow.Field{Name: e.Name(), Type: e.Type(), Nullable: true}
	if md, ok := keptMetadata(e); ok {
		f.Metadata = md
	}
	return f
}

// keptMetadata is the metadata of the values e holds, when they are an
// input's (the registry's Keeps says whose a function's result holds).
// implode keeps it on the list: metadata on a list field describes its
// values (so that explode gives them back their type).
func keptMetadata(e Expr) (arrow.Metadata, bool) {
	switch e := e.(type) {
	case *ColumnRef:
		return e.Field.Metadata, e.Field.HasMetadata()
	case *Alias:
		return keptMetadata(e.Arg)
	case *AggCall:
		if e.Arg != nil && e.Fn.Keeps == expr.KeepsFirst {
			return keptMetadata(e.Arg)
		}
	case *Call:
		if md, ok := expr.CategoricalMetadata(e.Fn.Name, constArgs(e.Args)); ok {
			return md, true
		}
		switch e.Fn.Keeps {
		case expr.KeepsFirst: // list_get: a value of the list
			return keptMetadata(e.Args[0])
		case expr.KeepsAny:
			return sharedMetadata(e.Args)
		case expr.KeepsCaseValues:
			return sharedMetadata(e.Args[:(len(e.Args)+1)/2])
		}
	}
	return arrow.Metadata{}, false
}

// sharedMetadata is the metadata of a result whose values come from one
// of values (when/then/otherwise, coalesce, fill_null): kept when every
// value that is not a constant carries the same, and every text constant
// is a value of the type (any text for a categorical, a category for an
// enum).
func sharedMetadata(values []Expr) (arrow.Metadata, bool) {
	var md arrow.Metadata
	found := false
	var consts []string
	for _, v := range values {
		if c, ok := v.(*Cast); ok {
			if _, isLit := c.Arg.(*Literal); isLit {
				v = c.Arg
			}
		}
		if l, ok := v.(*Literal); ok {
			if l.Value.IsValid() {
				consts = append(consts, l.Value.String())
			}
			continue
		}
		m, ok := keptMetadata(v)
		if !ok || (found && !sameMetadata(m, md)) {
			return arrow.Metadata{}, false
		}
		md, found = m, true
	}
	if !found {
		return arrow.Metadata{}, false
	}
	if cats, isEnum := expr.EnumCategories(md); isEnum {
		for _, c := range consts {
			if !slices.Contains(cats, c) {
				return arrow.Metadata{}, false
			}
		}
	}
	return md, true
}

func sameMetadata(a, b arrow.Metadata) bool {
	return slices.Equal(a.Keys(), b.Keys()) && slices.Equal(a.Values(), b.Values())
}

func constArgs(args []Expr) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if c, ok := a.(*Cast); ok {
			a = c.Arg
		}
		if l, ok := a.(*Literal); ok && l.Value.IsValid() {
			out[i] = l.Value.String()
		}
	}
	return out
}

// windowField is the output field of w: a shift, or first/last/min/max
// over a window, keeps its argument's metadata.
func windowField(w *WindowExpr) arrow.Field {
	f := arrow.Field{Name: w.Name, Type: w.Out, Nullable: true}
	var md arrow.Metadata
	ok := false
	switch {
	case w.Fn != nil && w.Fn.Keeps == expr.KeepsFirst && w.Arg != nil:
		md, ok = keptMetadata(w.Arg)
	case w.Fn == nil && w.Agg != nil:
		md, ok = keptMetadata(w.Agg)
	}
	if ok {
		f.Metadata = md
	}
	return f
}

// inEnumOrder is the sort key for e: e itself, or for an enum the position
// of its value among the categories (polars orders an enum so).
func inEnumOrder(e Expr) (Expr, error) {
	md, ok := keptMetadata(e)
	if !ok {
		return e, nil
	}
	if _, isEnum := expr.EnumCategories(md); !isEnum {
		return e, nil
	}
	fn, found := expr.Lookup("enum_rank")
	if !found {
		return e, nil
	}
	cats := md.Values()[md.FindKey(expr.CategoriesKey)]
	return resolveCall(fn, []Expr{e, &Literal{Value: scalar.NewStringScalar(cats)}})
}

// enumOf is the categories (as their JSON text) of an expression that
// holds an enum's values.
func enumOf(e Expr) (string, bool) {
	if e == nil {
		return "", false
	}
	md, ok := keptMetadata(e)
	if !ok {
		return "", false
	}
	if _, isEnum := expr.EnumCategories(md); !isEnum {
		return "", false
	}
	return md.Values()[md.FindKey(expr.CategoriesKey)], true
}

// enumAggregate is min_enum / max_enum, with the categories as parameter,
// for min / max of an enum (polars orders an enum by its categories).
func enumAggregate(fn *expr.Function, arg Expr) (*expr.Function, *Literal, bool) {
	cats, ok := enumOf(arg)
	if !ok {
		return nil, nil, false
	}
	alt, ok := expr.EnumAggregate(fn)
	if !ok {
		return nil, nil, false
	}
	return alt, &Literal{Value: scalar.NewStringScalar(cats)}, true
}

// enumComparison compares enums by the position of their categories, as
// polars: <, <=, >, >= with an enum on one side compare enum_rank of both
// sides; a text constant must be one of the categories.
func enumComparison(fn *expr.Function, args []Expr) ([]Expr, error) {
	switch fn.Name {
	case "lt", "le", "gt", "ge":
	default:
		return args, nil
	}
	if len(args) != 2 {
		return args, nil
	}
	cats, ok := enumOf(args[0])
	if !ok {
		if cats, ok = enumOf(args[1]); !ok {
			return args, nil
		}
	}
	list, _ := expr.EnumCategories(arrow.NewMetadata([]string{expr.CategoryKey, expr.CategoriesKey}, []string{"enum", cats}))
	rank, found := expr.Lookup("enum_rank")
	if !found {
		return args, nil
	}
	out := make([]Expr, 2)
	for i, a := range args {
		if l, isLit := a.(*Literal); isLit && l.Value.IsValid() && expr.IsString(l.Value.DataType()) {
			v := l.Value.String()
			pos := slices.Index(list, v)
			if pos < 0 {
				return nil, invalidf("cannot compare an Enum with %q: it is not one of the categories %q", v, list)
			}
			out[i] = &Literal{Value: scalar.NewInt32Scalar(int32(pos))}
			continue
		}
		if !expr.IsString(a.Type()) && !expr.IsNull(a.Type()) {
			return args, nil // the registry's error names the types
		}
		r, err := resolveCall(rank, []Expr{a, &Literal{Value: scalar.NewStringScalar(cats)}})
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}
