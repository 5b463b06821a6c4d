package plan

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
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

// SplitAggregate cuts an aggregate whose functions all have a Merge into
// a partial aggregate, run on each share of the input, and a final plan
// that merges the partial results read from in (a node with the partial's
// schema), as each function's Merge says: sums of counts, sums of sums,
// min of mins; a mean is carried as a sum and a count and divided at the
// end.
func SplitAggregate(n *Aggregate) (partial *Aggregate, final func(in Node) Node) {
	var partialAggs []Expr
	// from[i] lists the partial columns aggregate i is merged from.
	from := make([][]int, len(n.Aggs))
	for i, e := range n.Aggs {
		call := Unalias(e).(*AggCall)
		add := func(c *AggCall) {
			from[i] = append(from[i], len(partialAggs))
			partialAggs = append(partialAggs, &Alias{Arg: c, Alias: fmt.Sprintf("__p%d", len(partialAggs))})
		}
		m := call.Fn.Merge
		if len(m.Parts) == 0 {
			add(&AggCall{Fn: call.Fn, Arg: call.Arg, Params: call.Params, Out: call.Out, Filter: call.Filter})
			continue
		}
		arg := call.Arg
		if c, ok := arg.(*Cast); ok && m.ExactDecimal && c.Arg.Type().ID() == arrow.DECIMAL128 {
			arg = c.Arg
		}
		for _, name := range m.Parts {
			fn := mustLookup(name)
			out, casts, err := fn.Resolve([]arrow.DataType{arg.Type()})
			if err != nil { // the registry declared a part that cannot take the argument
				panic(fmt.Sprintf("%s's part %s: %v", call.Fn.Name, name, err))
			}
			add(&AggCall{Fn: fn, Arg: castTo(arg, casts[0]), Out: out, Filter: call.Filter})
		}
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
			fn, params := call.Fn, call.Params // polars' sum of nothing, max skipping NaN
			if c := fn.Merge.Combine; c != "" {
				fn, params = mustLookup(c), nil
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
			call := Unalias(e).(*AggCall)
			var v Expr = mcol(nk + from[i][0])
			if finish := call.Fn.Merge.Finish; finish != "" {
				parts := make([]Expr, len(from[i]))
				for j, c := range from[i] {
					parts[j] = castTo(mcol(nk+c), call.Out)
				}
				v = &Call{Fn: mustLookup(finish), Args: parts, Out: call.Out}
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
		mergeable = mergeable && fn.Mergeable()
		ordered = ordered || fn.OrderSensitive
	}
	return mergeable, ordered
}
