package plan

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"slipstream/kernels/expr"
)

// Field metadata that describes a column's values rather than its storage
// (a categorical or enum computed as text: kernels/expr.CategoryKey) stays
// on an output column that holds the same values as an input column: the
// column itself under any name, a group or join key, first/last/min/max of
// it, shift of it, and a cast to the type (expr.CategoricalFunc). Every
// other expression makes a column without metadata.

// outField is the output field of e.
func outField(e Expr) arrow.Field {
	f := arrow.Field{Name: e.Name(), Type: e.Type(), Nullable: true}
	if md, ok := keptMetadata(e); ok {
		f.Metadata = md
	}
	return f
}

// keptAggregates keep their input's values (and so its metadata).
var keptAggregates = map[string]bool{"first": true, "last": true, "min": true, "max": true}

func keptMetadata(e Expr) (arrow.Metadata, bool) {
	switch e := e.(type) {
	case *ColumnRef:
		return e.Field.Metadata, e.Field.HasMetadata()
	case *Alias:
		return keptMetadata(e.Arg)
	case *AggCall:
		if e.Arg != nil && keptAggregates[e.Fn.Name] {
			return keptMetadata(e.Arg)
		}
	case *Call:
		if md, ok := expr.CategoricalMetadata(e.Fn.Name, constArgs(e.Args)); ok {
			return md, true
		}
	}
	return arrow.Metadata{}, false
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
	case (w.Func == "lag" || w.Func == "lead") && w.Arg != nil:
		md, ok = keptMetadata(w.Arg)
	case w.Func == "agg" && w.Agg != nil:
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
