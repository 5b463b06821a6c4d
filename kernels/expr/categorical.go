package expr

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// Categoricals and enums are computed as their text values; what makes
// them categorical is field metadata (CategoryKey, and CategoriesKey for
// an enum's categories) that the planner keeps on every output column
// holding the same values as an input column (scheduler/plan,
// fieldmeta.go), and that the client turns back into polars' types.
// to_categorical(x) and to_enum(x, categories) are casts to them: they
// return x's text (to_enum checks every value is a category) and give
// the column the metadata.

const (
	// CategoryKey is the field metadata key of a categorical or enum
	// column: "categorical" or "enum".
	CategoryKey = "slipstream.type"
	// CategoriesKey holds an enum's categories, in order, as a JSON list.
	CategoriesKey = "slipstream.categories"
)

func init() {
	textArg := func(fn string, t arrow.DataType) (arrow.DataType, error) {
		switch {
		case IsNull(t), t.ID() == arrow.STRING_VIEW:
			return arrow.BinaryTypes.LargeString, nil
		case IsString(t):
			return t, nil
		}
		return nil, invalid("cannot cast %s to %s: cast it to text first (cast(pl.String))", TypeName(t), fn)
	}
	register(&Function{Name: "to_categorical", Arity: 1, eval: func(_ context.Context, args []compute.Datum) (compute.Datum, error) {
		return cloneDatum(args[0]), nil
	},
		Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
			t, err := textArg("Categorical", in[0])
			if err != nil {
				return nil, nil, err
			}
			return t, []arrow.DataType{t}, nil
		}})
	register(&Function{Name: "to_enum", Arity: 2, eval: toEnum,
		Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
			t, err := textArg("Enum", in[0])
			if err != nil {
				return nil, nil, err
			}
			if !IsString(in[1]) {
				return nil, nil, invalid("to_enum's categories must be a JSON list of text, got %s", TypeName(in[1]))
			}
			return t, []arrow.DataType{t, arrow.BinaryTypes.String}, nil
		}})
}

// CategoricalMetadata is the field metadata a call of fn gives its result
// (consts are the call's constant text arguments, "" for the others).
func CategoricalMetadata(fn string, consts []string) (arrow.Metadata, bool) {
	switch fn {
	case "to_categorical":
		return arrow.NewMetadata([]string{CategoryKey}, []string{"categorical"}), true
	case "to_enum":
		if len(consts) == 2 {
			if _, err := parseCategories(consts[1]); err == nil {
				return arrow.NewMetadata([]string{CategoryKey, CategoriesKey}, []string{"enum", consts[1]}), true
			}
		}
	}
	return arrow.Metadata{}, false
}

// EnumCategories is an enum's categories from its field metadata (false
// when the metadata is not an enum's).
func EnumCategories(md arrow.Metadata) ([]string, bool) {
	if md.FindKey(CategoryKey) < 0 || md.Values()[md.FindKey(CategoryKey)] != "enum" {
		return nil, false
	}
	i := md.FindKey(CategoriesKey)
	if i < 0 {
		return nil, false
	}
	cats, err := parseCategories(md.Values()[i])
	return cats, err == nil
}

func parseCategories(text string) ([]string, error) {
	var cats []string
	if err := json.Unmarshal([]byte(text), &cats); err != nil {
		return nil, invalid("an enum's categories must be a JSON list of text, got %q", text)
	}
	return cats, nil
}

// toEnum checks that every value of x is one of the categories.
func toEnum(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
	text, ok, err := stringArg("to_enum", "categories", args[1])
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, invalid("to_enum needs its categories, got null")
	}
	cats, err := parseCategories(text)
	if err != nil {
		return nil, err
	}
	known := make(map[string]bool, len(cats))
	for _, c := range cats {
		known[c] = true
	}
	n, _ := rowCount(args)
	x, err := asArray(Allocator(ctx), args[0], n)
	if err != nil {
		return nil, err
	}
	defer x.Release()
	var bad []string
	at := textAt(x)
	for i := range x.Len() {
		if x.IsNull(i) {
			continue
		}
		if v := at(i); !known[v] && len(bad) < 5 {
			bad = append(bad, v)
		}
	}
	if len(bad) > 0 {
		return nil, invalid("cast to Enum: %q is not one of the categories [%s]", bad, strings.Join(cats, ", "))
	}
	return cloneDatum(args[0]), nil
}

// enum_rank(x, categories) is each value's position among an enum's
// categories (null for null): the planner sorts an enum by it, as polars
// orders an enum by its categories rather than by their text.
func init() {
	register(&Function{Name: "enum_rank", Arity: 2, eval: enumRank,
		Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
			if !IsString(in[0]) && !IsNull(in[0]) || !IsString(in[1]) {
				return nil, nil, invalid("enum_rank needs text and its categories, got %s and %s", TypeName(in[0]), TypeName(in[1]))
			}
			t := in[0]
			if IsNull(t) || t.ID() == arrow.STRING_VIEW {
				t = arrow.BinaryTypes.LargeString
			}
			return arrow.PrimitiveTypes.Int32, []arrow.DataType{t, arrow.BinaryTypes.String}, nil
		}})
}

func enumRank(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
	text, ok, err := stringArg("enum_rank", "categories", args[1])
	if err != nil {
		return nil, err
	}
	cats, err := parseCategories(text)
	if !ok || err != nil {
		return nil, invalid("enum_rank needs a JSON list of categories")
	}
	pos := make(map[string]int32, len(cats))
	for i, c := range cats {
		pos[c] = int32(i)
	}
	mem, x, anyArray, err := firstArg(ctx, args)
	if err != nil {
		return nil, err
	}
	defer x.Release()
	b := array.NewInt32Builder(mem)
	defer b.Release()
	b.Reserve(x.Len())
	at := textAt(x)
	for i := range x.Len() {
		p, found := pos[at(i)]
		if x.IsNull(i) || !found {
			b.AppendNull()
			continue
		}
		b.Append(p)
	}
	return result(b.NewArray(), anyArray)
}

// min_enum(x, categories) and max_enum(x, categories) are min and max of an
// enum in the order of its categories, as polars (the planner picks them
// for an enum: EnumAggregate). They do not merge partial results.
func init() {
	for _, isMax := range []bool{false, true} {
		name := map[bool]string{false: "min_enum", true: "max_enum"}[isMax]
		register(&Function{Name: name, Kind: Aggregate, Keeps: KeepsFirst, Arity: 2,
			Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
				t := in[0]
				if IsNull(t) || t.ID() == arrow.STRING_VIEW {
					t = arrow.BinaryTypes.LargeString
				}
				if !IsString(t) || !IsString(in[1]) {
					return nil, nil, invalid("%s needs text and its categories, got %s and %s", name, TypeName(in[0]), TypeName(in[1]))
				}
				return t, []arrow.DataType{t, arrow.BinaryTypes.String}, nil
			},
			CheckParams: func(params []scalar.Scalar) error {
				text, _ := constText(firstParam(params))
				_, err := parseCategories(text)
				return err
			},
			NewAccumulator: func(in arrow.DataType, params []scalar.Scalar) Accumulator {
				text, _ := constText(firstParam(params))
				cats, _ := parseCategories(text)
				pos := make(map[string]int32, len(cats))
				for i, c := range cats {
					pos[c] = int32(i)
				}
				return &enumExtremeAcc{dt: in, cats: cats, pos: pos, isMax: isMax}
			}})
	}
}

func firstParam(params []scalar.Scalar) scalar.Scalar {
	if len(params) == 0 {
		return nil
	}
	return params[0]
}

// EnumAggregate is the enum form of min or max (false for other functions).
func EnumAggregate(fn *Function) (*Function, bool) {
	switch fn.Name {
	case "min", "max":
		return Lookup(fn.Name + "_enum")
	}
	return nil, false
}

type enumExtremeAcc struct {
	dt    arrow.DataType
	cats  []string
	pos   map[string]int32
	isMax bool
	best  []int32 // per group: a category's position, -1 for none yet
}

func (a *enumExtremeAcc) Update(values arrow.Array, ids []uint32, ngroups int) {
	for len(a.best) < ngroups {
		a.best = append(a.best, -1)
	}
	at := textAt(values)
	for i, g := range ids {
		if values.IsNull(i) {
			continue
		}
		p, ok := a.pos[at(i)]
		if !ok {
			continue
		}
		if b := a.best[g]; b < 0 || (a.isMax && p > b) || (!a.isMax && p < b) {
			a.best[g] = p
		}
	}
}

func (a *enumExtremeAcc) Finish(mem memory.Allocator, ngroups int) arrow.Array {
	b := array.NewBuilder(mem, a.dt)
	defer b.Release()
	for g := range ngroups {
		if g >= len(a.best) || a.best[g] < 0 {
			b.AppendNull()
			continue
		}
		switch sb := b.(type) {
		case *array.StringBuilder:
			sb.Append(a.cats[a.best[g]])
		case *array.LargeStringBuilder:
			sb.Append(a.cats[a.best[g]])
		}
	}
	return b.NewArray()
}
