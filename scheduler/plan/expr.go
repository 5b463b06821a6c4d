package plan

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"slipstream/kernels/expr"
)

// Expr is a resolved, typed logical expression.
type Expr interface {
	Type() arrow.DataType
	// Name is the output column name: the alias, else the first column the
	// expression reads (as in polars), else "literal".
	Name() string
	String() string
	sealedExpr()
}

// ColumnRef is column Index of the input.
type ColumnRef struct {
	Index int
	Field arrow.Field
}

// Literal is a constant. Untyped marks a bare Python int or float, which
// adopts the type of the column it meets.
type Literal struct {
	Value   scalar.Scalar
	Untyped bool
}

// Call is a scalar function call; Args are already cast to what Fn takes.
type Call struct {
	Fn   *expr.Function
	Args []Expr
	Out  arrow.DataType
}

// Cast converts Arg to To.
type Cast struct {
	Arg Expr
	To  arrow.DataType
}

// Alias names Arg.
type Alias struct {
	Arg   Expr
	Alias string
}

// AggCall is an aggregate over Arg (nil for len), valid only in
// Aggregate.Aggs. Params are its constant arguments after the first.
// Filter, when set, is a boolean expression over the input: only the rows
// where it is true are aggregated (polars' col("x").filter(...).sum()).
type AggCall struct {
	Fn     *expr.Function
	Arg    Expr
	Params []scalar.Scalar
	Out    arrow.DataType
	Filter Expr
	// OrderBy, for first and last, is the order their rows are read in
	// (polars' col("x").sort_by("t").last()); Build sorts the aggregate's
	// input by it.
	OrderBy []SortKey
}

func (*ColumnRef) sealedExpr() {}
func (*Literal) sealedExpr()   {}
func (*Call) sealedExpr()      {}
func (*Cast) sealedExpr()      {}
func (*Alias) sealedExpr()     {}
func (*AggCall) sealedExpr()   {}

func (c *ColumnRef) Type() arrow.DataType { return c.Field.Type }
func (l *Literal) Type() arrow.DataType   { return l.Value.DataType() }
func (c *Call) Type() arrow.DataType      { return c.Out }
func (c *Cast) Type() arrow.DataType      { return c.To }
func (a *Alias) Type() arrow.DataType     { return a.Arg.Type() }
func (a *AggCall) Type() arrow.DataType   { return a.Out }

func (c *ColumnRef) Name() string { return c.Field.Name }
func (*Literal) Name() string     { return "literal" }
func (c *Call) Name() string      { return firstName(c.Args, "literal") }
func (c *Cast) Name() string      { return c.Arg.Name() }
func (a *Alias) Name() string     { return a.Alias }
func (a *AggCall) Name() string {
	if a.Arg == nil {
		return a.Fn.Name
	}
	return a.Arg.Name()
}

func firstName(args []Expr, fallback string) string {
	for _, a := range args {
		if n := a.Name(); n != "literal" {
			return n
		}
	}
	return fallback
}

func (c *ColumnRef) String() string { return "col(" + c.Field.Name + ")" }
func (l *Literal) String() string   { return (&expr.Literal{Value: l.Value}).String() }
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
func (c *Cast) String() string  { return fmt.Sprintf("cast(%s AS %s)", c.Arg, expr.TypeName(c.To)) }
func (a *Alias) String() string { return fmt.Sprintf("%s AS %s", a.Arg, a.Alias) }
func (a *AggCall) String() string {
	if a.Arg == nil {
		return a.Fn.Name + "()"
	}
	args := []string{a.Arg.String()}
	for _, p := range a.Params {
		args = append(args, p.String())
	}
	if a.Filter != nil {
		return a.Fn.Name + "(" + strings.Join(args, ", ") + ") filter(" + a.Filter.String() + ")"
	}
	return a.Fn.Name + "(" + strings.Join(args, ", ") + ")"
}

// Unalias strips aliases.
func Unalias(e Expr) Expr {
	for {
		a, ok := e.(*Alias)
		if !ok {
			return e
		}
		e = a.Arg
	}
}

// Walk calls fn on e and every expression below it.
func Walk(e Expr, fn func(Expr)) {
	fn(e)
	switch e := e.(type) {
	case *Call:
		for _, a := range e.Args {
			Walk(a, fn)
		}
	case *Cast:
		Walk(e.Arg, fn)
	case *Alias:
		Walk(e.Arg, fn)
	case *AggCall:
		if e.Arg != nil {
			Walk(e.Arg, fn)
		}
		if e.Filter != nil {
			Walk(e.Filter, fn)
		}
	}
}

// Rewrite rebuilds e bottom-up, replacing each node by fn's result.
func Rewrite(e Expr, fn func(Expr) Expr) Expr {
	switch x := e.(type) {
	case *Call:
		args := make([]Expr, len(x.Args))
		for i, a := range x.Args {
			args[i] = Rewrite(a, fn)
		}
		e = &Call{Fn: x.Fn, Args: args, Out: x.Out}
	case *Cast:
		e = &Cast{Arg: Rewrite(x.Arg, fn), To: x.To}
	case *Alias:
		e = &Alias{Arg: Rewrite(x.Arg, fn), Alias: x.Alias}
	case *AggCall:
		c := *x
		if x.Arg != nil {
			c.Arg = Rewrite(x.Arg, fn)
		}
		if x.Filter != nil {
			c.Filter = Rewrite(x.Filter, fn)
		}
		e = &c
	}
	return fn(e)
}
