package plan

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"slipstream/kernels/expr"
)

// Exchange is where a distributed plan reads the output of another stage
// (scheduler/stage cuts plans at exchanges). It is never built from a
// query; the physical planner asks its runtime for the streams.
type Exchange struct {
	Stage int
	Out   *arrow.Schema
}

func (*Exchange) sealed()                 {}
func (*Exchange) Children() []Node        { return nil }
func (e *Exchange) Schema() *arrow.Schema { return e.Out }

// SplitAggregate cuts an aggregate whose functions are all Mergeable into
// a partial aggregate, run on each share of the input, and a final plan
// that merges the partial results read from in (a node with the partial's
// schema): sums of counts, sums of sums, min of mins, max of maxes; a mean
// is carried as a sum and a count and divided at the end.
func SplitAggregate(n *Aggregate) (partial *Aggregate, final func(in Node) Node) {
	lookup := func(name string) *expr.Function { f, _ := expr.Lookup(name); return f }
	sum, f64 := lookup("sum"), arrow.PrimitiveTypes.Float64
	var partialAggs []Expr
	// from[i] lists the partial columns aggregate i is merged from.
	from := make([][]int, len(n.Aggs))
	for i, e := range n.Aggs {
		call := Unalias(e).(*AggCall)
		arg := call.Arg
		add := func(fn *expr.Function, out arrow.DataType) {
			from[i] = append(from[i], len(partialAggs))
			partialAggs = append(partialAggs, &Alias{Arg: &AggCall{Fn: fn, Arg: arg, Params: call.Params, Out: out, Filter: call.Filter}, Alias: fmt.Sprintf("__p%d", len(partialAggs))})
		}
		if call.Fn.Name == "mean" {
			// mean's argument arrives cast to float64; a decimal is summed
			// exactly instead, with no float conversion per row.
			if c, ok := arg.(*Cast); ok {
				if d, ok := c.Arg.Type().(*arrow.Decimal128Type); ok {
					arg = c.Arg
					add(sum, &arrow.Decimal128Type{Precision: 38, Scale: d.Scale})
					add(lookup("count"), arrow.PrimitiveTypes.Int64)
					continue
				}
			}
			add(sum, f64)
			add(lookup("count"), arrow.PrimitiveTypes.Int64)
			continue
		}
		add(call.Fn, call.Out)
	}
	partial = &Aggregate{Input: n.Input, Keys: n.Keys, Aggs: partialAggs}
	final = func(in Node) Node {
		schema := in.Schema()
		col := func(i int) Expr { return &ColumnRef{Index: i, Field: schema.Field(i)} }
		nk := len(n.Keys)
		merge := &Aggregate{Input: in}
		for i := range n.Keys {
			merge.Keys = append(merge.Keys, col(i))
		}
		for i, e := range partialAggs {
			call := Unalias(e).(*AggCall)
			fn := call.Fn
			var params []scalar.Scalar
			switch fn.Name {
			case "sum", "min", "max":
				params = call.Params // polars' sum of nothing, max skipping NaN
			case "count", "len":
				fn = sum
			}
			merge.Aggs = append(merge.Aggs, &Alias{Arg: &AggCall{Fn: fn, Arg: col(nk + i), Params: params, Out: call.Out}, Alias: e.Name()})
		}
		mschema := merge.Schema()
		mcol := func(i int) Expr { return &ColumnRef{Index: i, Field: mschema.Field(i)} }
		out := &Project{Input: merge}
		for i, k := range n.Keys {
			out.Exprs = append(out.Exprs, &Alias{Arg: mcol(i), Alias: k.Name()})
		}
		for i, e := range n.Aggs {
			var v Expr = mcol(nk + from[i][0])
			if len(from[i]) == 2 {
				if !arrow.TypeEqual(v.Type(), f64) {
					v = &Cast{Arg: v, To: f64}
				}
				v = &Call{Fn: lookup("divide"), Args: []Expr{v, &Cast{Arg: mcol(nk + from[i][1]), To: f64}}, Out: f64}
			}
			out.Exprs = append(out.Exprs, &Alias{Arg: v, Alias: e.Name()})
		}
		return out
	}
	return partial, final
}

// Mergeable says whether every aggregate of n can run partial then final.
func Mergeable(n *Aggregate) (mergeable, ordered bool) {
	mergeable = true
	for _, e := range n.Aggs {
		fn := Unalias(e).(*AggCall).Fn
		mergeable = mergeable && fn.Mergeable
		ordered = ordered || fn.OrderSensitive
	}
	return mergeable, ordered
}
