package plan

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"slipstream/scheduler/planpb"
)

func TestSelectorsExpand(t *testing.T) {
	s := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "x_a", Type: arrow.PrimitiveTypes.Float64},
		{Name: "name", Type: arrow.BinaryTypes.LargeString},
		{Name: "x_b", Type: arrow.PrimitiveTypes.Int32},
	}, nil)
	col := func(n string) *planpb.Expr {
		return &planpb.Expr{Kind: &planpb.Expr_Column{Column: &planpb.Column{Name: n}}}
	}
	sel := func(x *planpb.Selector) *planpb.Expr { return &planpb.Expr{Kind: &planpb.Expr_Selector{Selector: x}} }
	call := func(fn string, args ...*planpb.Expr) *planpb.Expr {
		return &planpb.Expr{Kind: &planpb.Expr_Call{Call: &planpb.Call{Function: fn, Args: args}}}
	}
	suffix := func(e *planpb.Expr, s string) *planpb.Expr {
		return &planpb.Expr{Kind: &planpb.Expr_Rename{Rename: &planpb.Rename{Expr: e, Suffix: s}}}
	}
	i64 := &planpb.DataType{Kind: planpb.DataType_INT64}
	text := func(es []*planpb.Expr) string {
		parts := make([]string, len(es))
		for i, e := range es {
			if a := e.GetAlias(); a != nil {
				parts[i] = a.GetName() + "=" + rootColumn(a.GetExpr())
			} else if c := e.GetCall(); c != nil {
				var args []string
				for _, a := range c.GetArgs() {
					args = append(args, rootColumn(a))
				}
				parts[i] = c.GetFunction() + "(" + strings.Join(args, ",") + ")"
			} else {
				parts[i] = rootColumn(e)
			}
		}
		return strings.Join(parts, " ")
	}
	for _, tc := range []struct {
		name string
		in   *planpb.Expr
		want string
	}{
		{"all", sel(&planpb.Selector{All: true}), "id x_a name x_b"},
		{"names in their order", sel(&planpb.Selector{Names: []string{"x_b", "id"}}), "x_b id"},
		{"pattern", sel(&planpb.Selector{Patterns: []string{"^x_.*$"}}), "x_a x_b"},
		{"dtype and name", sel(&planpb.Selector{Dtypes: []*planpb.DataType{i64}, Names: []string{"name"}}), "id name"},
		{"exclude", sel(&planpb.Selector{All: true, Exclude: []string{"id", "^x_.*$"}}), "name"},
		{"suffix", suffix(call("sum", sel(&planpb.Selector{Patterns: []string{"^x_.*$"}})), "_sum"), "x_a_sum=x_a x_b_sum=x_b"},
		{"variadic", call("sum_horizontal", sel(&planpb.Selector{Patterns: []string{"^x_.*$"}}), col("id")), "sum_horizontal(x_a,x_b,id)"},
		{"plain", col("id"), "id"},
	} {
		got, err := expandExprs([]*planpb.Expr{tc.in}, s)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if text(got) != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, text(got), tc.want)
		}
	}
	for _, tc := range []struct {
		in     *planpb.Expr
		errHas string
	}{
		{sel(&planpb.Selector{Names: []string{"nmae"}}), `unknown column "nmae" (did you mean "name"?)`},
		{sel(&planpb.Selector{Patterns: []string{"^(x$"}}), "is not a regular expression"},
		{call("add", sel(&planpb.Selector{Names: []string{"id"}}), sel(&planpb.Selector{Names: []string{"x_a", "x_b"}})), "two selectors of different columns"},
		{suffix(&planpb.Expr{Kind: &planpb.Expr_Literal{Literal: &planpb.Literal{Value: &planpb.Literal_IntValue{IntValue: 1}}}}, "_x"), "reads none"},
	} {
		if _, err := expandExprs([]*planpb.Expr{tc.in}, s); err == nil || !strings.Contains(err.Error(), tc.errHas) {
			t.Errorf("error %v, want %q", err, tc.errHas)
		}
	}
}
