package expr

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// Structs, as polars' Struct: struct(name1, x1, name2, x2, ...) packs
// columns into one (the names are constants, so the type is known when
// the plan is built); struct_field(s, name) reads one field back.

// IsStruct reports whether t is a struct.
func IsStruct(t arrow.DataType) bool { return t.ID() == arrow.STRUCT }

func constText(s scalar.Scalar) (string, bool) {
	if s == nil || !s.IsValid() {
		return "", false
	}
	switch v := s.(type) {
	case *scalar.String:
		return string(v.Value.Bytes()), true
	case *scalar.LargeString:
		return string(v.Value.Bytes()), true
	}
	return "", false
}

func init() {
	needConst := func(fn string) func([]arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
		return func([]arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
			return nil, nil, invalid("%s needs constant field names", fn)
		}
	}
	register(&Function{Name: "struct", Arity: 2, MaxArity: -1, eval: makeStruct, Resolve: needConst("struct"),
		ResolveConst: func(in []arrow.DataType, consts []scalar.Scalar) (arrow.DataType, []arrow.DataType, error) {
			if len(in)%2 != 0 {
				return nil, nil, invalid("struct takes (name, value) pairs, got %d arguments", len(in))
			}
			fields := make([]arrow.Field, 0, len(in)/2)
			casts := make([]arrow.DataType, len(in))
			seen := map[string]bool{}
			for i := 0; i < len(in); i += 2 {
				name, ok := constText(consts[i])
				if !ok {
					return nil, nil, invalid("struct: field %d needs a constant text name", i/2)
				}
				if seen[name] {
					return nil, nil, invalid("struct: the field name %q is used twice; alias one of them", name)
				}
				seen[name] = true
				t := in[i+1]
				switch {
				case IsNull(t):
					t = arrow.Null
				case t.ID() == arrow.STRING_VIEW:
					t = arrow.BinaryTypes.LargeString
				}
				fields = append(fields, arrow.Field{Name: name, Type: t, Nullable: true})
				casts[i], casts[i+1] = arrow.BinaryTypes.String, t
			}
			return arrow.StructOf(fields...), casts, nil
		}})
	register(&Function{Name: "struct_field", Arity: 2, eval: structField, Resolve: needConst("struct.field"),
		ResolveConst: func(in []arrow.DataType, consts []scalar.Scalar) (arrow.DataType, []arrow.DataType, error) {
			st, ok := in[0].(*arrow.StructType)
			if !ok {
				return nil, nil, invalid("struct.field needs a struct, got %s (sl.struct(...) makes one)", TypeName(in[0]))
			}
			name, ok := constText(consts[1])
			if !ok {
				return nil, nil, invalid("struct.field needs a constant text name")
			}
			i, found := st.FieldIdx(name)
			if !found {
				names := make([]string, st.NumFields())
				for k, f := range st.Fields() {
					names[k] = f.Name
				}
				return nil, nil, invalid("struct.field: no field %q; the struct has %v", name, names)
			}
			return st.Field(i).Type, []arrow.DataType{in[0], arrow.BinaryTypes.String}, nil
		}})
}

func makeStruct(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
	n, anyArray := rowCount(args)
	mem := Allocator(ctx)
	cols := make([]arrow.Array, 0, len(args)/2)
	names := make([]string, 0, len(args)/2)
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for i := 0; i < len(args); i += 2 {
		name, _ := constText(args[i].(*compute.ScalarDatum).Value)
		c, err := asArray(mem, args[i+1], max(n, 1))
		if err != nil {
			return nil, err
		}
		cols = append(cols, c)
		names = append(names, name)
	}
	out, err := array.NewStructArray(cols, names)
	if err != nil {
		return nil, err
	}
	return result(out, anyArray)
}

func structField(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
	mem, x, anyArray, err := firstArg(ctx, args)
	if err != nil {
		return nil, err
	}
	defer x.Release()
	name, _ := constText(args[1].(*compute.ScalarDatum).Value)
	st := x.(*array.Struct)
	i, _ := st.DataType().(*arrow.StructType).FieldIdx(name)
	// A field of a sliced struct is not sliced with it; a null struct
	// makes its field null.
	f := array.NewSlice(st.Field(i), int64(st.Data().Offset()), int64(st.Data().Offset()+st.Len()))
	defer f.Release()
	if st.NullN() == 0 {
		f.Retain()
		return result(f, anyArray)
	}
	own, err := array.Concatenate([]arrow.Array{f}, mem)
	if err != nil {
		return nil, err
	}
	defer own.Release()
	return result(nullWhere(mem, own, st), anyArray)
}
