package expr

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/compute/exec"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// Expr is a resolved, typed expression. Eval returns a Datum the caller
// releases: an array as long as the batch, or a scalar that stands for
// every row.
type Expr interface {
	DataType() arrow.DataType
	Eval(ctx context.Context, batch arrow.RecordBatch) (compute.Datum, error)
	String() string
}

// WithAllocator makes Arrow's compute functions, and ours, allocate from mem.
func WithAllocator(ctx context.Context, mem memory.Allocator) context.Context {
	return exec.WithAllocator(ctx, mem)
}

// Allocator is the allocator WithAllocator put in ctx.
func Allocator(ctx context.Context) memory.Allocator { return exec.GetAllocator(ctx) }

// Column is the batch column at Index.
type Column struct {
	Index int
	Name  string
	Type  arrow.DataType
}

func (c *Column) DataType() arrow.DataType { return c.Type }
func (c *Column) String() string           { return "col(" + c.Name + ")" }
func (c *Column) Eval(_ context.Context, b arrow.RecordBatch) (compute.Datum, error) {
	return compute.NewDatum(b.Column(c.Index)), nil
}

// Literal is a constant.
type Literal struct{ Value scalar.Scalar }

func (l *Literal) DataType() arrow.DataType { return l.Value.DataType() }
func (l *Literal) String() string {
	if !l.Value.IsValid() {
		return "null"
	}
	if IsString(l.Value.DataType()) {
		return fmt.Sprintf("%q", l.Value.String())
	}
	return l.Value.String()
}
func (l *Literal) Eval(context.Context, arrow.RecordBatch) (compute.Datum, error) {
	return compute.NewDatum(l.Value), nil
}

// Call applies a scalar function of the registry to already-cast arguments.
type Call struct {
	Fn   *Function
	Args []Expr
	Type arrow.DataType
}

func (c *Call) DataType() arrow.DataType { return c.Type }
func (c *Call) String() string {
	args := make([]string, len(c.Args))
	for i, a := range c.Args {
		args[i] = a.String()
	}
	if c.Fn.Infix != "" && len(args) == 2 {
		return "(" + args[0] + " " + c.Fn.Infix + " " + args[1] + ")"
	}
	return c.Fn.Name + "(" + strings.Join(args, ", ") + ")"
}
func (c *Call) Eval(ctx context.Context, b arrow.RecordBatch) (compute.Datum, error) {
	args := make([]compute.Datum, 0, len(c.Args))
	defer func() {
		for _, a := range args {
			a.Release()
		}
	}()
	for _, a := range c.Args {
		d, err := a.Eval(ctx, b)
		if err != nil {
			return nil, err
		}
		args = append(args, d)
	}
	out, err := c.Fn.eval(ctx, args)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Fn.Name, err)
	}
	return castDatum(ctx, out, c.Type)
}

// Cast converts its argument to To; values that do not fit are an error.
type Cast struct {
	Arg Expr
	To  arrow.DataType
}

func (c *Cast) DataType() arrow.DataType { return c.To }
func (c *Cast) String() string           { return c.Arg.String() + ".cast(" + TypeName(c.To) + ")" }
func (c *Cast) Eval(ctx context.Context, b arrow.RecordBatch) (compute.Datum, error) {
	d, err := c.Arg.Eval(ctx, b)
	if err != nil {
		return nil, err
	}
	return castDatum(ctx, d, c.To)
}

// castDatum casts d to t, taking ownership of d.
func castDatum(ctx context.Context, d compute.Datum, t arrow.DataType) (compute.Datum, error) {
	if arrow.TypeEqual(datumType(d), t) {
		return d, nil
	}
	if widened, ok := widenDecimal(d, t); ok {
		return widened, nil
	}
	defer d.Release()
	if s, ok := d.(*compute.ScalarDatum); ok && !s.Value.IsValid() {
		return compute.NewDatum(scalar.MakeNullScalar(t)), nil
	}
	var out compute.Datum
	var err error
	if IsString(t) && formatsAsString(datumType(d)) {
		out, err = formatDatum(ctx, d, t)
	} else {
		if IsFloat(datumType(d)) && IsInteger(t) {
			// Drop the fraction first, as polars does; Arrow's own
			// truncating cast would also let overflow through.
			truncated, terr := compute.CallFunction(ctx, "trunc", nil, d)
			if terr != nil {
				return nil, terr
			}
			defer truncated.Release()
			d = truncated
		}
		opts := compute.SafeCastOptions(t)
		if from := datumType(d); from.ID() == t.ID() && from.ID() == arrow.DURATION {
			opts.AllowTimeTruncate = true // to a coarser unit, truncated as polars does
		}
		out, err = compute.CallFunction(ctx, "cast", opts, d)
	}
	if err != nil {
		return nil, fmt.Errorf("cast %s to %s: %w", TypeName(datumType(d)), TypeName(t), err)
	}
	return out, nil
}

// formatDatum casts d to the string type t with castToString.
func formatDatum(ctx context.Context, d compute.Datum, t arrow.DataType) (compute.Datum, error) {
	mem := Allocator(ctx)
	var arr arrow.Array
	switch v := d.(type) {
	case *compute.ArrayDatum:
		arr = v.MakeArray()
	case *compute.ScalarDatum:
		var err error
		if arr, err = scalar.MakeArrayFromScalar(v.Value, 1, mem); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("cannot cast a %s", d.Kind())
	}
	defer arr.Release()
	out, err := castToString(mem, arr, t)
	if err != nil {
		return nil, err
	}
	defer out.Release()
	if _, ok := d.(*compute.ScalarDatum); ok {
		s, err := scalar.GetScalar(out, 0)
		if err != nil {
			return nil, err
		}
		return compute.NewDatumWithoutOwning(s), nil
	}
	return compute.NewDatum(out), nil
}

func datumType(d compute.Datum) arrow.DataType {
	return d.(compute.ArrayLikeDatum).Type()
}

// EvalArray evaluates e over b and returns an array of b's length (a scalar
// result is repeated), the caller releases it.
func EvalArray(ctx context.Context, e Expr, b arrow.RecordBatch) (arrow.Array, error) {
	d, err := e.Eval(ctx, b)
	if err != nil {
		return nil, err
	}
	defer d.Release()
	switch v := d.(type) {
	case *compute.ArrayDatum:
		return v.MakeArray(), nil
	case *compute.ScalarDatum:
		return scalar.MakeArrayFromScalar(v.Value, int(b.NumRows()), Allocator(ctx))
	}
	return nil, fmt.Errorf("expression %s gave %s, not an array", e, d.Kind())
}
