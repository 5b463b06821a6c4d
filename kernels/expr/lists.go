package expr

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// Lists, as polars' List type and its .list namespace: str.split makes
// them; list_len, list_get, list_contains, list_join, list_sort and
// list_unique read them; list_sum, list_mean, list_min and list_max fold
// each list with the registry's own aggregate (its accumulator, one group
// per row), so a list's sum is exactly a group's sum. A null list gives
// null; an empty one what the aggregate gives a group of no values.

// IsList reports whether t is a list (32- or 64-bit offsets).
func IsList(t arrow.DataType) bool { return t.ID() == arrow.LIST || t.ID() == arrow.LARGE_LIST }

// ListElem is the element type of a list type.
func ListElem(t arrow.DataType) arrow.DataType { return t.(arrow.ListLikeType).Elem() }

func listArg(fn string, t arrow.DataType) (arrow.DataType, error) {
	if IsNull(t) {
		return arrow.ListOf(arrow.PrimitiveTypes.Int64), nil
	}
	if !IsList(t) {
		return nil, invalid("%s needs a list, got %s (str.split or group_by().agg(col(...)) make lists)", fn, TypeName(t))
	}
	return t, nil
}

// listOf is the list type the planner computes in for elements of t:
// views are read as large types, as everywhere else.
func listOf(t arrow.DataType) arrow.DataType {
	switch t.ID() {
	case arrow.STRING_VIEW:
		t = arrow.BinaryTypes.LargeString
	case arrow.BINARY_VIEW:
		t = arrow.BinaryTypes.LargeBinary
	}
	return arrow.ListOf(t)
}

// listRows is a list array taken apart: the elements (the whole child)
// and each row's [start, end) in it.
type listRows struct {
	arr    arrow.Array
	values arrow.Array
	starts []int64
	ends   []int64
}

func splitList(a arrow.Array) listRows {
	l := a.(array.ListLike)
	r := listRows{arr: a, values: l.ListValues(), starts: make([]int64, a.Len()), ends: make([]int64, a.Len())}
	for i := 0; i < a.Len(); i++ {
		if a.IsValid(i) {
			r.starts[i], r.ends[i] = l.ValueOffsets(i)
		}
	}
	return r
}

// elements gathers the elements of every row into one array, row by row,
// with the row each came from.
func (r listRows) elements(ctx context.Context) (arrow.Array, []uint32, error) {
	var idx []int64
	var ids []uint32
	for i := range r.starts {
		for j := r.starts[i]; j < r.ends[i]; j++ {
			idx = append(idx, j)
			ids = append(ids, uint32(i))
		}
	}
	vals, err := takeInt64(ctx, r.values, idx)
	return vals, ids, err
}

func takeInt64(ctx context.Context, values arrow.Array, idx []int64) (arrow.Array, error) {
	mem := Allocator(ctx)
	ib := array.NewInt64Builder(mem)
	defer ib.Release()
	ib.AppendValues(idx, nil)
	indices := ib.NewArray()
	defer indices.Release()
	return compute.TakeArray(ctx, values, indices)
}

// buildList makes a list array of type t from elements and per-row
// lengths; rows where valid is false are null.
func buildList(mem memory.Allocator, t arrow.DataType, elems arrow.Array, lengths []int32, valid func(int) bool) arrow.Array {
	offsets := make([]int32, len(lengths)+1)
	for i, n := range lengths {
		offsets[i+1] = offsets[i] + n
	}
	ob := array.NewInt32Builder(mem)
	defer ob.Release()
	ob.AppendValues(offsets, nil)
	off := ob.NewArray()
	defer off.Release()
	vb := array.NewBooleanBuilder(mem)
	defer vb.Release()
	nulls := 0
	for i := range lengths {
		ok := valid(i)
		vb.Append(ok)
		if !ok {
			nulls++
		}
	}
	var validity *memory.Buffer
	if nulls > 0 {
		v := vb.NewArray()
		defer v.Release()
		validity = v.Data().Buffers()[1]
	}
	data := array.NewData(t, len(lengths), []*memory.Buffer{validity, off.Data().Buffers()[1]}, []arrow.ArrayData{elems.Data()}, nulls, 0)
	defer data.Release()
	return array.MakeFromData(data)
}

func init() {
	register(&Function{Name: "split", Arity: 2, eval: splitText,
		Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
			for _, t := range in {
				if !IsString(t) && !IsNull(t) {
					return nil, nil, invalid("str.split needs text and a text separator, got %s and %s", TypeName(in[0]), TypeName(in[1]))
				}
			}
			s := arrow.BinaryTypes.LargeString
			return arrow.ListOf(s), []arrow.DataType{s, arrow.BinaryTypes.String}, nil
		}})
	register(&Function{Name: "list_len", Arity: 1, eval: listLen,
		Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
			t, err := listArg("list.len", in[0])
			return arrow.PrimitiveTypes.Uint32, []arrow.DataType{t}, err
		}})
	// list_get(l, index, null_on_oob): index a constant or one per row;
	// negative counts from the end. Out of bounds is an error unless null_on_oob, as polars.
	register(&Function{Name: "list_get", Keeps: KeepsFirst, Arity: 3, eval: listGet,
		Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
			t, err := listArg("list.get", in[0])
			if err != nil {
				return nil, nil, err
			}
			if !IsInteger(in[1]) {
				return nil, nil, invalid("list.get needs an integer index, got %s", TypeName(in[1]))
			}
			if err := checkParam("list.get", "null_on_oob", in, 2, IsBool); err != nil {
				return nil, nil, err
			}
			return ListElem(t), []arrow.DataType{t, arrow.PrimitiveTypes.Int64, arrow.FixedWidthTypes.Boolean}, nil
		}})
	register(&Function{Name: "list_contains", Arity: 2, eval: listContains,
		Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
			t, err := listArg("list.contains", in[0])
			if err != nil {
				return nil, nil, err
			}
			elem := ListElem(t)
			// An untyped null literal arrives typed as the list it meets:
			// the null it stands for casts to the element type.
			if !IsNull(in[1]) && !arrow.TypeEqual(in[1], t) {
				if _, err := CommonComparable(elem, in[1]); err != nil {
					return nil, nil, invalid("list.contains: cannot look for %s in a list of %s", TypeName(in[1]), TypeName(elem))
				}
			}
			return arrow.FixedWidthTypes.Boolean, []arrow.DataType{t, elem}, nil
		}})
	register(&Function{Name: "list_join", Arity: 2, eval: listJoin,
		Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
			t, err := listArg("list.join", in[0])
			if err != nil {
				return nil, nil, err
			}
			if e := ListElem(t); !IsString(e) || e.ID() == arrow.STRING_VIEW || (!IsString(in[1]) && !IsNull(in[1])) {
				return nil, nil, invalid("list.join needs a list of text and a text separator, got %s and %s (cast the list to list of utf8 first)", TypeName(t), TypeName(in[1]))
			}
			return arrow.BinaryTypes.LargeString, []arrow.DataType{t, arrow.BinaryTypes.String}, nil
		}})
	// list_sort(l, descending, nulls_last), list_unique(l): one list per
	// row, sorted; unique keeps one of each value (null included).
	register(&Function{Name: "list_sort", Arity: 3, eval: listSort(false),
		Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
			t, err := listSortable("list.sort", in[0])
			for i, what := range []string{"descending", "nulls_last"} {
				if err == nil {
					err = checkParam("list.sort", what, in, i+1, IsBool)
				}
			}
			b := arrow.FixedWidthTypes.Boolean
			return t, []arrow.DataType{t, b, b}, err
		}})
	register(&Function{Name: "list_unique", Keeps: KeepsFirst, Arity: 1, eval: listSort(true),
		Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
			t, err := listSortable("list.unique", in[0])
			return t, []arrow.DataType{t}, err
		}})
	for _, f := range []struct{ name, agg string }{
		{"list_sum", "sum"}, {"list_mean", "mean"}, {"list_min", "min"}, {"list_max", "max"},
	} {
		// sum of an empty list is 0, min and max skip NaN: polars' answers.
		param := scalar.NewBooleanScalar(true)
		register(&Function{Name: f.name, Arity: 1, eval: listFold(f.agg, f.agg != "mean", param),
			Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
				agg, _ := Lookup(f.agg) // registered by another file's init: looked up when used
				t, err := listArg("list."+f.agg, in[0])
				if err != nil {
					return nil, nil, err
				}
				args := []arrow.DataType{ListElem(t)}
				if f.agg != "mean" {
					args = append(args, arrow.FixedWidthTypes.Boolean)
				}
				out, _, err := agg.Resolve(args)
				if err != nil {
					return nil, nil, fmt.Errorf("list.%s: %w", f.agg, err)
				}
				// The elements are cast by the fold, not the list by the
				// planner: Arrow's cast of a list leaks its child's buffers.
				return out, []arrow.DataType{t}, nil
			}})
	}
}

func listSortable(fn string, t arrow.DataType) (arrow.DataType, error) {
	t, err := listArg(fn, t)
	if err != nil {
		return nil, err
	}
	elem := ListElem(t)
	if !IsOrderable(elem) && !IsNull(elem) {
		return nil, invalid("%s needs a list of values that can be ordered, got %s", fn, TypeName(t))
	}
	return listOf(elem), nil
}

func splitText(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
	n, anyArray := rowCount(args)
	mem := Allocator(ctx)
	arrs, release, err := asArrays(mem, args, max(n, 1))
	if err != nil {
		return nil, err
	}
	defer release()
	text, sep := textAt(arrs[0]), textAt(arrs[1])
	lb := array.NewListBuilder(mem, arrow.BinaryTypes.LargeString)
	defer lb.Release()
	vb := lb.ValueBuilder().(*array.LargeStringBuilder)
	for i := 0; i < arrs[0].Len(); i++ {
		if arrs[0].IsNull(i) || arrs[1].IsNull(i) {
			lb.AppendNull()
			continue
		}
		lb.Append(true)
		for _, part := range strings.Split(text(i), sep(i)) {
			vb.Append(part)
		}
	}
	return result(lb.NewArray(), anyArray)
}

func listLen(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
	mem, x, anyArray, err := firstArg(ctx, args)
	if err != nil {
		return nil, err
	}
	defer x.Release()
	r := splitList(x)
	out := make([]uint32, x.Len())
	for i := range out {
		out[i] = uint32(r.ends[i] - r.starts[i])
	}
	validity, nulls := copyValidity(mem, x)
	return result(FixedWidthArray(mem, arrow.PrimitiveTypes.Uint32, out, validity, nulls), anyArray)
}

func constBool(d compute.Datum) bool {
	if s, ok := d.(*compute.ScalarDatum); ok {
		if b, ok := s.Value.(*scalar.Boolean); ok && b.Valid {
			return b.Value
		}
	}
	return false
}

func listGet(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
	n, anyArray := rowCount(args)
	mem := Allocator(ctx)
	nullOnOOB := constBool(args[2])
	x, err := asArray(mem, args[0], n)
	if err != nil {
		return nil, err
	}
	defer x.Release()
	// The index is a constant or one per row (a null index gives null).
	ix, err := asArray(mem, args[1], n)
	if err != nil {
		return nil, err
	}
	defer ix.Release()
	indexes := Values[int64](ix)
	r := splitList(x)
	idx := make([]int64, x.Len())
	valid := make([]bool, x.Len())
	for i := range idx {
		if x.IsNull(i) || ix.IsNull(i) {
			continue
		}
		n := r.ends[i] - r.starts[i]
		index := indexes[i]
		j := index
		if j < 0 {
			j += n
		}
		if j < 0 || j >= n {
			if !nullOnOOB {
				return nil, invalid("list.get: index %d is out of bounds for a list of %d values (null_on_oob=True gives null)", index, n)
			}
			continue
		}
		idx[i], valid[i] = r.starts[i]+j, true
	}
	ib := array.NewInt64Builder(mem)
	defer ib.Release()
	ib.AppendValues(idx, valid)
	indices := ib.NewArray()
	defer indices.Release()
	out, err := compute.TakeArray(ctx, r.values, indices)
	if err != nil {
		return nil, err
	}
	return result(out, anyArray)
}

func listContains(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
	mem, x, anyArray, err := firstArg(ctx, args)
	if err != nil {
		return nil, err
	}
	defer x.Release()
	r := splitList(x)
	elems, ids, err := r.elements(ctx)
	if err != nil {
		return nil, err
	}
	defer elems.Release()
	out := make([]bool, x.Len())
	var item compute.Datum = args[1]
	if a, ok := args[1].(*compute.ArrayDatum); ok { // one item per row: repeat it for each element
		rows := make([]int64, len(ids))
		for k, row := range ids {
			rows[k] = int64(row)
		}
		items := a.MakeArray()
		defer items.Release()
		each, err := takeInt64(ctx, items, rows)
		if err != nil {
			return nil, err
		}
		defer each.Release()
		item = compute.NewDatum(each)
		defer item.Release()
	}
	if s, ok := item.(*compute.ScalarDatum); !ok || s.Value.IsValid() {
		eqCall, _ := Lookup("eq")
		elemsDatum := compute.NewDatum(elems)
		defer elemsDatum.Release()
		eq, err := eqCall.eval(ctx, []compute.Datum{elemsDatum, item})
		if err != nil {
			return nil, err
		}
		defer eq.Release()
		hits := eq.(*compute.ArrayDatum).MakeArray()
		defer hits.Release()
		b := hits.(*array.Boolean)
		for k, row := range ids {
			if b.IsValid(k) && b.Value(k) {
				out[row] = true
			}
		}
	} else { // polars' nulls_equal=True: a null element matches a null item
		for k, row := range ids {
			if elems.IsNull(k) {
				out[row] = true
			}
		}
	}
	bb := array.NewBooleanBuilder(mem)
	defer bb.Release()
	for i, v := range out {
		if x.IsNull(i) {
			bb.AppendNull()
		} else {
			bb.Append(v)
		}
	}
	return result(bb.NewArray(), anyArray)
}

func listJoin(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
	n, anyArray := rowCount(args)
	mem := Allocator(ctx)
	arrs, release, err := asArrays(mem, args, max(n, 1))
	if err != nil {
		return nil, err
	}
	defer release()
	r := splitList(arrs[0])
	elem, sep := textAt(r.values), textAt(arrs[1])
	sb := array.NewLargeStringBuilder(mem)
	defer sb.Release()
	var parts []string
	for i := 0; i < arrs[0].Len(); i++ {
		if arrs[0].IsNull(i) || arrs[1].IsNull(i) {
			sb.AppendNull()
			continue
		}
		parts = parts[:0]
		for j := r.starts[i]; j < r.ends[i]; j++ {
			if r.values.IsValid(int(j)) { // ignore_nulls=True, polars' default
				parts = append(parts, elem(int(j)))
			}
		}
		sb.Append(strings.Join(parts, sep(i)))
	}
	return result(sb.NewArray(), anyArray)
}

// listFold folds each row's list with an aggregate's accumulator.
func listFold(name string, withParam bool, param scalar.Scalar) func(context.Context, []compute.Datum) (compute.Datum, error) {
	return func(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
		agg, _ := Lookup(name)
		mem, x, anyArray, err := firstArg(ctx, args)
		if err != nil {
			return nil, err
		}
		defer x.Release()
		r := splitList(x)
		elems, ids, err := r.elements(ctx)
		if err != nil {
			return nil, err
		}
		defer elems.Release()
		var params []scalar.Scalar
		argTypes := []arrow.DataType{elems.DataType()}
		if withParam {
			params = []scalar.Scalar{param}
			argTypes = append(argTypes, arrow.FixedWidthTypes.Boolean)
		}
		_, casts, err := agg.Resolve(argTypes)
		if err != nil {
			return nil, err
		}
		if !arrow.TypeEqual(casts[0], elems.DataType()) {
			cast, err := castDatum(ctx, compute.NewDatum(elems), casts[0])
			if err != nil {
				return nil, err
			}
			defer cast.Release()
			elems = cast.(*compute.ArrayDatum).MakeArray()
			defer elems.Release()
		}
		acc := agg.NewAccumulator(elems.DataType(), params)
		acc.Update(elems, ids, x.Len())
		folded := acc.Finish(mem, x.Len())
		defer folded.Release()
		if x.NullN() == 0 {
			folded.Retain()
			return result(folded, anyArray)
		}
		// A null list is null, whatever the aggregate gives no values.
		return result(nullWhere(mem, folded, x), anyArray)
	}
}

// nullWhere is out (a fresh array, offset 0) with a null wherever of is null.
func nullWhere(mem memory.Allocator, out, of arrow.Array) arrow.Array {
	bits := memory.NewResizableBuffer(mem)
	bits.Resize(int(bitutil.BytesForBits(int64(out.Len()))))
	nulls := 0
	for i := 0; i < out.Len(); i++ {
		ok := out.IsValid(i) && of.IsValid(i)
		bitutil.SetBitTo(bits.Bytes(), i, ok)
		if !ok {
			nulls++
		}
	}
	bufs := append([]*memory.Buffer{bits}, out.Data().Buffers()[1:]...)
	data := array.NewData(out.DataType(), out.Len(), bufs, out.Data().Children(), nulls, 0)
	bits.Release()
	defer data.Release()
	return array.MakeFromData(data)
}

// listSort sorts each row's list (descending and nulls_last from the
// arguments); with unique, it keeps the first of each run of equal values.
func listSort(unique bool) func(context.Context, []compute.Datum) (compute.Datum, error) {
	return func(ctx context.Context, args []compute.Datum) (compute.Datum, error) {
		_, anyArray := rowCount(args)
		mem := Allocator(ctx)
		descending, nullsLast := false, false
		if !unique {
			descending, nullsLast = constBool(args[1]), constBool(args[2])
		}
		x, err := asArray(mem, args[0], 1)
		if err != nil {
			return nil, err
		}
		defer x.Release()
		r := splitList(x)
		cmpAt, err := elementOrder(r.values)
		if err != nil {
			return nil, err
		}
		var idx []int64
		lengths := make([]int32, x.Len())
		for i := range lengths {
			row := make([]int64, 0, r.ends[i]-r.starts[i])
			for j := r.starts[i]; j < r.ends[i]; j++ {
				row = append(row, j)
			}
			order := func(a, b int64) int {
				na, nb := r.values.IsNull(int(a)), r.values.IsNull(int(b))
				switch {
				case na && nb:
					return 0
				case na != nb:
					if na == nullsLast {
						return 1
					}
					return -1
				}
				c := cmpAt(int(a), int(b))
				if descending {
					c = -c
				}
				return c
			}
			sort.SliceStable(row, func(a, b int) bool { return order(row[a], row[b]) < 0 })
			if unique {
				kept := row[:0]
				for k, v := range row {
					if k == 0 || order(kept[len(kept)-1], v) != 0 {
						kept = append(kept, v)
					}
				}
				row = kept
			}
			lengths[i] = int32(len(row))
			idx = append(idx, row...)
		}
		elems, err := takeInt64(ctx, r.values, idx)
		if err != nil {
			return nil, err
		}
		defer elems.Release()
		out := buildList(mem, arrow.ListOf(r.values.DataType()), elems, lengths, x.IsValid)
		return result(out, anyArray)
	}
}

// elementOrder compares two non-null values of a (NaN above every number).
func elementOrder(a arrow.Array) (func(i, j int) int, error) {
	switch a.DataType().ID() {
	case arrow.INT8:
		return orderOf(Values[int8](a)), nil
	case arrow.INT16:
		return orderOf(Values[int16](a)), nil
	case arrow.INT32, arrow.DATE32, arrow.TIME32:
		return orderOf(Values[int32](a)), nil
	case arrow.INT64, arrow.TIMESTAMP, arrow.DURATION, arrow.TIME64:
		return orderOf(Values[int64](a)), nil
	case arrow.UINT8:
		return orderOf(Values[uint8](a)), nil
	case arrow.UINT16:
		return orderOf(Values[uint16](a)), nil
	case arrow.UINT32:
		return orderOf(Values[uint32](a)), nil
	case arrow.UINT64:
		return orderOf(Values[uint64](a)), nil
	case arrow.FLOAT32:
		return floatOrderOf(Values[float32](a)), nil
	case arrow.FLOAT64:
		return floatOrderOf(Values[float64](a)), nil
	case arrow.BOOL:
		b := a.(*array.Boolean)
		return func(i, j int) int {
			x, y := b.Value(i), b.Value(j)
			switch {
			case x == y:
				return 0
			case y:
				return -1
			}
			return 1
		}, nil
	case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY:
		at := textAt(a)
		return func(i, j int) int { return strings.Compare(at(i), at(j)) }, nil
	}
	return nil, invalid("cannot order list elements of type %s", TypeName(a.DataType()))
}

func orderOf[T int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64](v []T) func(i, j int) int {
	return func(i, j int) int {
		switch {
		case v[i] < v[j]:
			return -1
		case v[i] > v[j]:
			return 1
		}
		return 0
	}
}

func floatOrderOf[T float32 | float64](v []T) func(i, j int) int {
	return func(i, j int) int { return CompareFloats(v[i], v[j]) }
}

// CompareFloats orders x and y with NaN after every number and equal to
// itself (the order of sorts and merges).
func CompareFloats[T float32 | float64](x, y T) int {
	xn, yn := x != x, y != y
	switch {
	case xn && yn:
		return 0
	case xn:
		return 1
	case yn:
		return -1
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// implodeAcc collects each group's values into a list, in the order they
// arrive (polars' implode, and group_by().agg(col("x"))). The values are
// copied into Go memory: an accumulator has no Release, so it may hold no
// buffer of the query's pool; Bytes reports what it holds.
type implodeAcc struct {
	elem  arrow.DataType
	parts []arrow.Array
	refs  []implodeRef
	held  int64
}

type implodeRef struct {
	g, part, row uint32
}

func (a *implodeAcc) Bytes() int64 { return a.held + int64(cap(a.refs))*12 }

func (a *implodeAcc) Update(values arrow.Array, ids []uint32, _ int) {
	if len(ids) == 0 {
		return
	}
	own, err := array.Concatenate([]arrow.Array{values}, memory.DefaultAllocator)
	if err != nil {
		panic(fmt.Sprintf("implode: copy %s: %v", values.DataType(), err))
	}
	p := uint32(len(a.parts))
	a.parts = append(a.parts, own)
	for _, b := range own.Data().Buffers() {
		if b != nil {
			a.held += int64(b.Len())
		}
	}
	for i, g := range ids {
		a.refs = append(a.refs, implodeRef{g: g, part: p, row: uint32(i)})
	}
}

func (a *implodeAcc) Finish(mem memory.Allocator, ngroups int) arrow.Array {
	lengths := make([]int32, ngroups)
	for _, r := range a.refs {
		lengths[r.g]++
	}
	starts := make([]int, ngroups+1)
	for g, n := range lengths {
		starts[g+1] = starts[g] + int(n)
	}
	base := make([]int64, len(a.parts)+1)
	for i, p := range a.parts {
		base[i+1] = base[i] + int64(p.Len())
	}
	idx := make([]int64, len(a.refs))
	next := append([]int(nil), starts[:ngroups]...)
	for _, r := range a.refs { // stable: a group's values keep their order
		idx[next[r.g]] = base[r.part] + int64(r.row)
		next[r.g]++
	}
	var all arrow.Array
	if len(a.parts) == 0 {
		all = array.MakeArrayOfNull(mem, a.elem, 0)
	} else {
		var err error
		if all, err = array.Concatenate(a.parts, memory.DefaultAllocator); err != nil {
			panic(fmt.Sprintf("implode: %v", err))
		}
	}
	defer all.Release()
	ctx := compute.WithAllocator(context.Background(), mem)
	elems, err := takeInt64(ctx, all, idx)
	if err != nil {
		panic(fmt.Sprintf("implode: %v", err))
	}
	defer elems.Release()
	a.parts, a.refs, a.held = nil, nil, 0
	return buildList(mem, arrow.ListOf(a.elem), elems, lengths, func(int) bool { return true })
}

func init() {
	register(&Function{Name: "implode", Kind: Aggregate, Keeps: KeepsFirst, Arity: 1, OrderSensitive: true,
		Resolve: func(in []arrow.DataType) (arrow.DataType, []arrow.DataType, error) {
			t := in[0]
			switch t.ID() {
			case arrow.STRING_VIEW:
				t = arrow.BinaryTypes.LargeString
			case arrow.BINARY_VIEW:
				t = arrow.BinaryTypes.LargeBinary
			}
			return arrow.ListOf(t), []arrow.DataType{t}, nil
		},
		NewAccumulator: func(in arrow.DataType, _ []scalar.Scalar) Accumulator { return &implodeAcc{elem: in} }})
}
