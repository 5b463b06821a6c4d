package exec

import (
	"context"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"slipstream/kernels/expr"
)

// Project computes one output column per expression.
type Project struct {
	input  Operator
	exprs  []expr.Expr
	schema *arrow.Schema
}

// NewProject names output column i names[i].
func NewProject(input Operator, exprs []expr.Expr, names []string) *Project {
	fields := make([]arrow.Field, len(exprs))
	for i, e := range exprs {
		fields[i] = arrow.Field{Name: names[i], Type: e.DataType(), Nullable: true}
	}
	return &Project{input: input, exprs: exprs, schema: arrow.NewSchema(fields, nil)}
}

func (p *Project) Schema() *arrow.Schema { return p.schema }
func (p *Project) Children() []Operator  { return []Operator{p.input} }
func (p *Project) Close() error          { return p.input.Close() }
func (p *Project) String() string {
	parts := make([]string, len(p.exprs))
	for i, e := range p.exprs {
		parts[i] = e.String()
		if name := p.schema.Field(i).Name; name != e.String() {
			parts[i] += " AS " + name
		}
	}
	return "Project " + strings.Join(parts, ", ")
}

func (p *Project) Next(ctx context.Context) (arrow.RecordBatch, error) {
	b, err := p.input.Next(ctx)
	if err != nil {
		return nil, err
	}
	defer b.Release()
	cols := make([]arrow.Array, 0, len(p.exprs))
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for _, e := range p.exprs {
		c, err := expr.EvalArray(ctx, e, b)
		if err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	return array.NewRecordBatch(p.schema, cols, b.NumRows()), nil
}
