package exec

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"slipstream/kernels/expr"
)

// Project computes one output column per expression. A call written more
// than once (q1's l_extendedprice * (1 - l_discount), summed alone and
// times 1 + l_tax) is computed once per batch: the shared calls first, each
// read by the ones after as a column past the input's.
type Project struct {
	input  Operator
	exprs  []expr.Expr
	schema *arrow.Schema
	// shared[k] is column n+k (n: the input's columns) of the batch that
	// run, the exprs reading the shared columns, evaluate over
	shared []expr.Expr
	run    []expr.Expr
	// computed lists the input columns an expression other than a bare
	// column reads; when the input hands on dictionary columns (see
	// GroupDictionaries) those are expanded, the others passed on as they are.
	dictionaries bool
	computed     []int
}

// NewProject names output column i names[i].
func NewProject(input Operator, exprs []expr.Expr, names []string) *Project {
	fields := make([]arrow.Field, len(exprs))
	for i, e := range exprs {
		fields[i] = arrow.Field{Name: names[i], Type: e.DataType(), Nullable: true}
	}
	p := &Project{input: input, exprs: exprs, schema: arrow.NewSchema(fields, nil), run: exprs}
	p.shareCommonCalls(input.Schema().NumFields())
	return p
}

// callKey identifies a call or cast by what it computes (its function, its
// arguments' keys, its type); false for other expressions, which cost
// nothing to repeat.
func callKey(e expr.Expr) (string, bool) {
	switch e.(type) {
	case *expr.Call, *expr.Cast:
		return exprKey(e), true
	}
	return "", false
}

// exprKey is e's text with columns by index, not name (two columns may
// share a name), and every part's type.
func exprKey(e expr.Expr) string {
	t := expr.TypeName(e.DataType())
	switch e := e.(type) {
	case *expr.Column:
		return fmt.Sprintf("#%d:%s", e.Index, t)
	case *expr.Call:
		args := make([]string, len(e.Args))
		for i, a := range e.Args {
			args[i] = exprKey(a)
		}
		return e.Fn.Name + "(" + strings.Join(args, ", ") + "):" + t
	case *expr.Cast:
		return "cast(" + exprKey(e.Arg) + "):" + t
	}
	return e.String() + ":" + t
}

// shareCommonCalls finds the calls written more than once and rewrites the
// expressions to read each from a column computed once.
func (p *Project) shareCommonCalls(inputCols int) {
	seen := map[string]int{}
	first := map[string]expr.Expr{}
	for _, e := range p.exprs {
		walkExpr(e, func(x expr.Expr) {
			if k, ok := callKey(x); ok {
				seen[k]++
				first[k] = x
			}
		})
	}
	var keys []string
	for k, n := range seen {
		if n > 1 {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return
	}
	// a call's text is longer than any call inside it: shorter ones first
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b)) })
	column := map[string]int{}
	for k, key := range keys {
		column[key] = inputCols + k
	}
	shared := func(e expr.Expr) expr.Expr {
		if k, ok := callKey(e); ok {
			if c, ok := column[k]; ok {
				return &expr.Column{Index: c, Name: k, Type: e.DataType()}
			}
		}
		return nil
	}
	rewrite := func(e expr.Expr, root bool) expr.Expr {
		return rewriteExpr(e, func(x expr.Expr) expr.Expr {
			if root { // a shared call computes itself, reading the ones inside it
				root = false
				return nil
			}
			return shared(x)
		})
	}
	for _, key := range keys {
		p.shared = append(p.shared, rewrite(first[key], true))
	}
	p.run = make([]expr.Expr, len(p.exprs))
	for i, e := range p.exprs {
		p.run[i] = rewrite(e, false)
	}
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
	if p.dictionaries {
		b.Retain()
		if b, err = expandColumns(ctx, b, p.input.Schema(), func(i int) bool { return slices.Contains(p.computed, i) }); err != nil {
			return nil, err
		}
		defer b.Release()
	}
	if len(p.shared) > 0 {
		if b, err = p.withShared(ctx, b); err != nil {
			return nil, err
		}
		defer b.Release()
	}
	cols := make([]arrow.Array, 0, len(p.exprs))
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for _, e := range p.run {
		c, err := expr.EvalArray(ctx, e, b)
		if err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	return array.NewRecordBatch(batchSchema(p.schema, cols), cols, b.NumRows()), nil
}

// withShared is b with the shared calls' columns after its own.
func (p *Project) withShared(ctx context.Context, b arrow.RecordBatch) (arrow.RecordBatch, error) {
	cols := slices.Clone(b.Columns())
	fields := slices.Clone(b.Schema().Fields())
	var own []arrow.Array // the shared columns, released at the end
	defer func() { releaseArrays(own) }()
	ext := b
	ext.Retain()
	for _, e := range p.shared {
		c, err := expr.EvalArray(ctx, e, ext)
		ext.Release()
		if err != nil {
			return nil, err
		}
		own = append(own, c)
		cols = append(cols, c)
		fields = append(fields, arrow.Field{Name: e.String(), Type: c.DataType(), Nullable: true})
		ext = array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, b.NumRows())
	}
	return ext, nil
}
