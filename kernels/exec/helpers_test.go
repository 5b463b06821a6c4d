package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels/expr"
)

var (
	i8   = arrow.PrimitiveTypes.Int8
	i16  = arrow.PrimitiveTypes.Int16
	i32  = arrow.PrimitiveTypes.Int32
	i64  = arrow.PrimitiveTypes.Int64
	u8   = arrow.PrimitiveTypes.Uint8
	u16  = arrow.PrimitiveTypes.Uint16
	u32  = arrow.PrimitiveTypes.Uint32
	u64  = arrow.PrimitiveTypes.Uint64
	f32  = arrow.PrimitiveTypes.Float32
	f64  = arrow.PrimitiveTypes.Float64
	boo  = arrow.FixedWidthTypes.Boolean
	utf8 = arrow.BinaryTypes.String
	lstr = arrow.BinaryTypes.LargeString
	d32  = arrow.FixedWidthTypes.Date32
	tsUS = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
)

func dec(p, s int32) arrow.DataType { return &arrow.Decimal128Type{Precision: p, Scale: s} }

// newMem is the allocator every test uses; a leak fails the test. The
// returned context carries it for Arrow's compute functions.
func newMem(t *testing.T) (*memory.CheckedAllocator, context.Context) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem, expr.WithAllocator(context.Background(), mem)
}

func schemaOf(types ...arrow.DataType) *arrow.Schema {
	fields := make([]arrow.Field, len(types))
	for i, dt := range types {
		fields[i] = arrow.Field{Name: fmt.Sprintf("c%d", i), Type: dt, Nullable: true}
	}
	return arrow.NewSchema(fields, nil)
}

// batchJSON builds a batch from a JSON list of row objects.
func batchJSON(t *testing.T, mem memory.Allocator, schema *arrow.Schema, rows string) arrow.RecordBatch {
	t.Helper()
	b, _, err := array.RecordFromJSON(mem, schema, strings.NewReader(rows))
	if err != nil {
		t.Fatalf("batch from %s: %v", rows, err)
	}
	return b
}

// buildBatch builds a batch column by column from Go values (nil is null),
// using the same conventions as goValue.
func buildBatch(t *testing.T, mem memory.Allocator, schema *arrow.Schema, cols ...[]any) arrow.RecordBatch {
	t.Helper()
	bld := array.NewRecordBuilder(mem, schema)
	defer bld.Release()
	for c, vals := range cols {
		fb := bld.Field(c)
		for _, v := range vals {
			if v == nil {
				fb.AppendNull()
				continue
			}
			switch b := fb.(type) {
			case *array.Int8Builder:
				b.Append(int8(v.(int64)))
			case *array.Int16Builder:
				b.Append(int16(v.(int64)))
			case *array.Int32Builder:
				b.Append(int32(v.(int64)))
			case *array.Int64Builder:
				b.Append(v.(int64))
			case *array.Uint8Builder:
				b.Append(uint8(v.(uint64)))
			case *array.Uint16Builder:
				b.Append(uint16(v.(uint64)))
			case *array.Uint32Builder:
				b.Append(uint32(v.(uint64)))
			case *array.Uint64Builder:
				b.Append(v.(uint64))
			case *array.Float32Builder:
				b.Append(float32(v.(float64)))
			case *array.Float64Builder:
				b.Append(v.(float64))
			case *array.BooleanBuilder:
				b.Append(v.(bool))
			case *array.StringBuilder:
				b.Append(v.(string))
			case *array.LargeStringBuilder:
				b.Append(v.(string))
			case *array.StringViewBuilder:
				b.Append(v.(string))
			case *array.Date32Builder:
				b.Append(arrow.Date32(v.(int64)))
			case *array.TimestampBuilder:
				b.Append(arrow.Timestamp(v.(int64)))
			case *array.DurationBuilder:
				b.Append(arrow.Duration(v.(int64)))
			case *array.Time64Builder:
				b.Append(arrow.Time64(v.(int64)))
			case *array.BinaryBuilder: // binary values are given as strings
				b.AppendString(v.(string))
			case *array.Decimal128Builder:
				if err := b.AppendValueFromString(v.(string)); err != nil {
					t.Fatal(err)
				}
			default:
				t.Fatalf("buildBatch: %T", fb)
			}
		}
	}
	return bld.NewRecordBatch()
}

// goValue reads row i of arr: nil for null, int64 for signed integers,
// dates, timestamps, durations and times, uint64 for unsigned, float64,
// bool, string (binary too), and the decimal's text.
func goValue(arr arrow.Array, i int) any {
	if arr.IsNull(i) {
		return nil
	}
	switch a := arr.(type) {
	case *array.Int8:
		return int64(a.Value(i))
	case *array.Int16:
		return int64(a.Value(i))
	case *array.Int32:
		return int64(a.Value(i))
	case *array.Int64:
		return a.Value(i)
	case *array.Uint8:
		return uint64(a.Value(i))
	case *array.Uint16:
		return uint64(a.Value(i))
	case *array.Uint32:
		return uint64(a.Value(i))
	case *array.Uint64:
		return a.Value(i)
	case *array.Float32:
		return float64(a.Value(i))
	case *array.Float64:
		return a.Value(i)
	case *array.Boolean:
		return a.Value(i)
	case *array.String: // cloned: Value is a view of the batch, which is released
		return strings.Clone(a.Value(i))
	case *array.LargeString:
		return strings.Clone(a.Value(i))
	case *array.StringView:
		return strings.Clone(a.Value(i))
	case *array.Date32:
		return int64(a.Value(i))
	case *array.Timestamp:
		return int64(a.Value(i))
	case *array.Duration:
		return int64(a.Value(i))
	case *array.Time64:
		return int64(a.Value(i))
	case *array.Binary:
		return strings.Clone(a.ValueString(i))
	case *array.LargeBinary:
		return strings.Clone(a.ValueString(i))
	case array.ListLike: // a list is the slice of its values
		start, end := a.ValueOffsets(i)
		out := []any{}
		for j := start; j < end; j++ {
			out = append(out, goValue(a.ListValues(), int(j)))
		}
		return out
	case *array.Decimal128:
		return a.Value(i).ToString(a.DataType().(*arrow.Decimal128Type).Scale)
	}
	panic(fmt.Sprintf("goValue: %s", arr.DataType()))
}

// rowsOf turns batches into rows of Go values.
func rowsOf(bs []arrow.RecordBatch) [][]any {
	var out [][]any
	for _, b := range bs {
		for i := 0; i < int(b.NumRows()); i++ {
			row := make([]any, b.NumCols())
			for c := range row {
				row[c] = goValue(b.Column(c), i)
			}
			out = append(out, row)
		}
	}
	return out
}

// drain collects op, checks every batch against op's schema, closes op and
// returns the rows and the number of batches.
func drain(t *testing.T, ctx context.Context, op Operator) ([][]any, int) {
	t.Helper()
	defer op.Close()
	bs, err := Collect(ctx, op)
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	defer ReleaseAll(bs)
	for _, b := range bs {
		if !b.Schema().Equal(op.Schema()) {
			t.Errorf("batch schema %s differs from the operator's %s", b.Schema(), op.Schema())
		}
		if b.NumRows() == 0 {
			t.Errorf("%s returned an empty batch", op)
		}
	}
	return rowsOf(bs), len(bs)
}

func sameValue(a, b any) bool {
	fa, oka := a.(float64)
	fb, okb := b.(float64)
	if oka && okb {
		if math.IsNaN(fa) || math.IsNaN(fb) {
			return math.IsNaN(fa) && math.IsNaN(fb)
		}
		return fa == fb || math.Abs(fa-fb) <= 1e-9*math.Max(1, math.Max(math.Abs(fa), math.Abs(fb)))
	}
	la, oka := a.([]any)
	lb, okb := b.([]any)
	if oka || okb { // lists
		if !oka || !okb || len(la) != len(lb) {
			return false
		}
		for i := range la {
			if !sameValue(la[i], lb[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}

func sameRows(a, b [][]any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if !sameValue(a[i][j], b[i][j]) {
				return false
			}
		}
	}
	return true
}

// records is an in-memory input of the given batches.
func records(schema *arrow.Schema, bs ...arrow.RecordBatch) *Records {
	return NewRecords(schema, bs)
}

// counting wraps an operator and counts the batches pulled from it.
type counting struct {
	Operator
	pulls  atomic.Int64
	closed atomic.Int64
}

func (c *counting) Next(ctx context.Context) (arrow.RecordBatch, error) {
	b, err := c.Operator.Next(ctx)
	if err == nil {
		c.pulls.Add(1)
	}
	return b, err
}

func (c *counting) Close() error {
	c.closed.Add(1)
	return c.Operator.Close()
}

// endless produces the same small batch forever. With checkCtx false it
// ignores cancellation, as a careless source might, so that only the
// operator above can stop the loop.
type endless struct {
	mem      memory.Allocator
	schema   *arrow.Schema
	checkCtx bool
	n        atomic.Int64
}

func newEndless(mem memory.Allocator, checkCtx bool) *endless {
	return &endless{mem: mem, schema: schemaOf(i64), checkCtx: checkCtx}
}

func (e *endless) Schema() *arrow.Schema { return e.schema }
func (e *endless) String() string        { return "Endless" }
func (e *endless) Close() error          { return nil }
func (e *endless) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if e.checkCtx {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	i := e.n.Add(1)
	b := array.NewInt64Builder(e.mem)
	defer b.Release()
	for j := int64(0); j < 64; j++ {
		b.Append(i*64 + j)
	}
	arr := b.NewArray()
	defer arr.Release()
	return array.NewRecordBatch(e.schema, []arrow.Array{arr}, 64), nil
}

// failing returns err after its batches.
type failing struct {
	*Records
	err error
}

func (f *failing) Next(ctx context.Context) (arrow.RecordBatch, error) {
	b, err := f.Records.Next(ctx)
	if errors.Is(err, io.EOF) {
		return nil, f.err
	}
	return b, err
}

// colExpr is the column expression of field i of s.
func colExpr(s *arrow.Schema, i int) *expr.Column {
	return &expr.Column{Index: i, Name: s.Field(i).Name, Type: s.Field(i).Type}
}

// call type-checks a scalar call as the planner does: Resolve, then a cast
// around every argument whose type differs from the one Resolve asks for.
func call(t *testing.T, name string, args ...expr.Expr) expr.Expr {
	t.Helper()
	fn, ok := expr.Lookup(name)
	if !ok {
		t.Fatalf("no function %s", name)
	}
	types := make([]arrow.DataType, len(args))
	for i, a := range args {
		types[i] = a.DataType()
	}
	out, casts, err := fn.Resolve(types)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	for i := range args {
		if !arrow.TypeEqual(args[i].DataType(), casts[i]) {
			args[i] = &expr.Cast{Arg: args[i], To: casts[i]}
		}
	}
	return &expr.Call{Fn: fn, Args: args, Type: out}
}
