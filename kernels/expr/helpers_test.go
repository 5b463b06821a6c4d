package expr

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// newMem is the allocator every test uses; a leak fails the test.
func newMem(t *testing.T) (*memory.CheckedAllocator, context.Context) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem, WithAllocator(context.Background(), mem)
}

// fromJSON builds an array of type dt from a JSON list.
func fromJSON(t *testing.T, mem memory.Allocator, dt arrow.DataType, js string) arrow.Array {
	t.Helper()
	arr, _, err := array.FromJSON(mem, dt, strings.NewReader(js))
	if err != nil {
		t.Fatalf("array of %s from %s: %v", dt, js, err)
	}
	return arr
}

// f64s builds a float64 array; valid may be nil (no nulls). JSON cannot
// spell NaN or infinities, so float edge cases are built here.
func f64s(mem memory.Allocator, vals []float64, valid []bool) arrow.Array {
	b := array.NewFloat64Builder(mem)
	defer b.Release()
	b.AppendValues(vals, valid)
	return b.NewArray()
}

// batchOf makes a batch with columns named c0, c1, ...; it takes ownership
// of cols.
func batchOf(cols ...arrow.Array) arrow.RecordBatch {
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = arrow.Field{Name: fmt.Sprintf("c%d", i), Type: c.DataType(), Nullable: true}
	}
	n := int64(0)
	if len(cols) > 0 {
		n = int64(cols[0].Len())
	}
	b := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, n)
	for _, c := range cols {
		c.Release()
	}
	return b
}

// col is the column expression of batch column i.
func col(b arrow.RecordBatch, i int) *Column {
	f := b.Schema().Field(i)
	return &Column{Index: i, Name: f.Name, Type: f.Type}
}

// newCall type-checks a call the way the planner does: Resolve (ResolveConst
// when the function has one), then a Cast
// around every argument whose type differs from what Resolve asks for.
func newCall(name string, args ...Expr) (*Call, error) {
	fn, ok := Lookup(name)
	if !ok {
		return nil, fmt.Errorf("no function %q", name)
	}
	types := make([]arrow.DataType, len(args))
	for i, a := range args {
		types[i] = a.DataType()
	}
	consts := make([]scalar.Scalar, len(args)) // as the planner: the constants' values too
	for i, a := range args {
		if l, ok := a.(*Literal); ok {
			consts[i] = l.Value
		}
	}
	out, casts, err := fn.ResolveWith(types, consts)
	if err != nil {
		return nil, err
	}
	args = append([]Expr(nil), args...)
	for i := range args {
		if casts[i] != nil && !arrow.TypeEqual(args[i].DataType(), casts[i]) {
			args[i] = &Cast{Arg: args[i], To: casts[i]}
		}
	}
	return &Call{Fn: fn, Args: args, Type: out}, nil
}

func mustCall(t *testing.T, name string, args ...Expr) *Call {
	t.Helper()
	c, err := newCall(name, args...)
	if err != nil {
		t.Fatalf("resolve %s: %v", name, err)
	}
	return c
}

// evalValues evaluates e over b and returns the result as Go values.
func evalValues(t *testing.T, ctx context.Context, e Expr, b arrow.RecordBatch) (arrow.DataType, []any, error) {
	t.Helper()
	arr, err := EvalArray(ctx, e, b)
	if err != nil {
		return nil, nil, err
	}
	defer arr.Release()
	if !arrow.TypeEqual(arr.DataType(), e.DataType()) {
		t.Errorf("%s evaluated to %s, declared %s", e, arr.DataType(), e.DataType())
	}
	return arr.DataType(), goValues(arr), nil
}

// goValues turns an array into Go values: nil for null, int64 for signed
// integers, dates, timestamps, durations and times, uint64 for unsigned, float64, bool,
// string, and the decimal text for decimals.
func goValues(arr arrow.Array) []any {
	out := make([]any, arr.Len())
	for i := range out {
		if arr.IsNull(i) {
			continue
		}
		switch a := arr.(type) {
		case *array.Null: // every row null; the array has no bitmap to say so
		case *array.Int8:
			out[i] = int64(a.Value(i))
		case *array.Int16:
			out[i] = int64(a.Value(i))
		case *array.Int32:
			out[i] = int64(a.Value(i))
		case *array.Int64:
			out[i] = a.Value(i)
		case *array.Uint8:
			out[i] = uint64(a.Value(i))
		case *array.Uint16:
			out[i] = uint64(a.Value(i))
		case *array.Uint32:
			out[i] = uint64(a.Value(i))
		case *array.Uint64:
			out[i] = a.Value(i)
		case *array.Float32:
			out[i] = float64(a.Value(i))
		case *array.Float64:
			out[i] = a.Value(i)
		case *array.Boolean:
			out[i] = a.Value(i)
		case *array.String:
			out[i] = a.Value(i)
		case *array.LargeString:
			out[i] = a.Value(i)
		case *array.StringView:
			out[i] = a.Value(i)
		case *array.Date32:
			out[i] = int64(a.Value(i))
		case *array.Timestamp:
			out[i] = int64(a.Value(i))
		case *array.Duration:
			out[i] = int64(a.Value(i))
		case array.ListLike:
			start, end := a.ValueOffsets(i)
			vals := array.NewSlice(a.ListValues(), start, end)
			out[i] = goValues(vals)
			vals.Release()
		case *array.Binary:
			out[i] = a.ValueString(i)
		case *array.LargeBinary:
			out[i] = a.ValueString(i)
		case *array.Time64:
			out[i] = int64(a.Value(i))
		case *array.Decimal128:
			out[i] = a.Value(i).ToString(a.DataType().(*arrow.Decimal128Type).Scale)
		default:
			panic(fmt.Sprintf("goValues: %s", arr.DataType()))
		}
	}
	return out
}

// sameValue compares two Go values; NaN equals NaN, floats are equal
// within a relative 1e-9.
func sameValue(a, b any) bool {
	fa, oka := a.(float64)
	fb, okb := b.(float64)
	if oka && okb {
		switch {
		case math.IsNaN(fa) || math.IsNaN(fb):
			return math.IsNaN(fa) && math.IsNaN(fb)
		case math.IsInf(fa, 0) || math.IsInf(fb, 0):
			return fa == fb
		}
		return math.Abs(fa-fb) <= 1e-9*math.Max(1, math.Max(math.Abs(fa), math.Abs(fb)))
	}
	la, oka := a.([]any)
	lb, okb := b.([]any)
	if oka || okb {
		return oka && okb && sameValues(la, lb)
	}
	return a == b
}

func sameValues(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !sameValue(a[i], b[i]) {
			return false
		}
	}
	return true
}

func newStringViewBuilder(mem memory.Allocator) *array.StringViewBuilder {
	return array.NewStringViewBuilder(mem)
}

func nullLit() *Literal { return &Literal{Value: scalar.MakeNullScalar(arrow.Null)} }
