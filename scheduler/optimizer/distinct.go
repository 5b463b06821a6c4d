package optimizer

import (
	"fmt"
	"reflect"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"slipstream/kernels/expr"
	"slipstream/scheduler/plan"
)

// DistinctToGroups computes the distinct counts of an aggregate (polars'
// n_unique, SQL's count(DISTINCT x)) as two aggregates: the input grouped
// by the keys and x, then those groups counted per key (len() when null
// counts as a value, as polars', count(x) when it does not, as SQL's). The
// distinct values then live in a hash aggregate's groups, which spill by
// hash past the memory share and are shuffled by x across a cluster's
// nodes; held as the state of one group (the whole table's, without keys)
// they could do neither, and a large count failed with ResourceExhausted.
// With keys, every aggregate must count the same x. Without keys, each x
// is counted on its own and the other aggregates together, and the one-row
// results are put side by side, when the input is cheap to compute again.
func DistinctToGroups(n plan.Node) plan.Node {
	n = plan.MapChildren(n, DistinctToGroups)
	a, ok := n.(*plan.Aggregate)
	if !ok {
		return n
	}
	var xs []plan.Expr             // the distinct arguments
	of := make([]int, len(a.Aggs)) // the index in xs of each aggregate's, -1: another aggregate
	for i, e := range a.Aggs {
		of[i] = -1
		call, ok := plan.Unalias(e).(*plan.AggCall)
		if !ok || call.Fn.Name != "n_unique" || call.Filter != nil || len(call.OrderBy) > 0 || !groupable(call.Arg.Type()) {
			continue
		}
		of[i] = slices.IndexFunc(xs, func(x plan.Expr) bool { return reflect.DeepEqual(plan.Unalias(x), plan.Unalias(call.Arg)) })
		if of[i] < 0 {
			of[i] = len(xs)
			xs = append(xs, call.Arg)
		}
	}
	others := slices.Contains(of, -1)
	switch {
	case len(xs) == 0:
		return n
	case len(xs) == 1 && !others:
		return countDistinct(a.Input, a.Keys, xs[0], a.Aggs, func(int) string { return "" })
	case len(a.Keys) > 0 || !onceComputed(a.Input):
		return n
	}
	inner := func(i int) string { return fmt.Sprintf("__agg%d", i) }
	var parts []plan.Node
	if others {
		rest := &plan.Aggregate{Input: a.Input}
		for i, e := range a.Aggs {
			if of[i] < 0 {
				rest.Aggs = append(rest.Aggs, &plan.Alias{Arg: plan.Unalias(e), Alias: inner(i)})
			}
		}
		parts = append(parts, rest)
	}
	for j, x := range xs {
		var aggs []plan.Expr
		var names []string
		for i, e := range a.Aggs {
			if of[i] == j {
				aggs, names = append(aggs, e), append(names, inner(i))
			}
		}
		parts = append(parts, countDistinct(a.Input, nil, x, aggs, func(k int) string { return names[k] }))
	}
	// One row each, side by side, then in the aggregate's order and names.
	side := parts[0]
	for _, p := range parts[1:] {
		j := &plan.Join{Left: side, Right: p, How: plan.Cross}
		for k, f := range side.Schema().Fields() {
			j.Output = append(j.Output, plan.JoinCol{Index: k, Field: f})
		}
		for k, f := range p.Schema().Fields() {
			j.Output = append(j.Output, plan.JoinCol{Right: true, Index: k, Field: f})
		}
		side = j
	}
	schema := side.Schema()
	out := &plan.Project{Input: side}
	for i, e := range a.Aggs {
		k := schema.FieldIndices(inner(i))[0]
		out.Exprs = append(out.Exprs, &plan.Alias{Arg: &plan.ColumnRef{Index: k, Field: schema.Field(k)}, Alias: e.Name()})
	}
	return out
}

// countDistinct counts, per keys, the distinct values of x that each of
// aggs (n_unique calls of x) counts; aggregate k is named name(k), or as
// it is when that is "".
func countDistinct(in plan.Node, keys []plan.Expr, x plan.Expr, aggs []plan.Expr, name func(int) string) plan.Node {
	nk := len(keys)
	groups := &plan.Aggregate{Input: in, Keys: append(append([]plan.Expr{}, keys...), &plan.Alias{Arg: x, Alias: "__distinct"})}
	schema := groups.Schema()
	col := func(i int) plan.Expr { return &plan.ColumnRef{Index: i, Field: schema.Field(i)} }
	out := &plan.Aggregate{Input: groups}
	for i := range nk {
		out.Keys = append(out.Keys, col(i))
	}
	lenFn, _ := expr.Lookup("len")
	countFn, _ := expr.Lookup("count")
	for k, e := range aggs {
		call := plan.Unalias(e).(*plan.AggCall)
		c := &plan.AggCall{Fn: countFn, Arg: col(nk), Out: call.Out}
		if boolParam(call.Params, 0) {
			c = &plan.AggCall{Fn: lenFn, Out: call.Out}
		}
		alias := name(k)
		if alias == "" {
			alias = e.Name()
		}
		out.Aggs = append(out.Aggs, &plan.Alias{Arg: c, Alias: alias})
	}
	return out
}

// groupable says whether a hash aggregate groups by values of type t (the
// grouper's key types).
func groupable(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT32, arrow.FLOAT64, arrow.DECIMAL128, arrow.BOOL, arrow.DATE32, arrow.TIMESTAMP,
		arrow.STRING, arrow.LARGE_STRING:
		return true
	}
	return false
}

// boolParam is the constant boolean parameter i, false when missing or null.
func boolParam(params []scalar.Scalar, i int) bool {
	if i < len(params) && params[i].IsValid() {
		if b, ok := params[i].(*scalar.Boolean); ok {
			return b.Value
		}
	}
	return false
}
