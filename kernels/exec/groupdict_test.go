package exec

import (
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/scalar"

	"slipstream/kernels/budget"
	"slipstream/kernels/expr"
)

// A HashAggregate over a Project of a Parquet scan (or of a Filter over
// one) groups by string keys read as the file's dictionaries: its answers,
// nulls, a key also read as an aggregate's argument, and spilling included,
// are those of the same aggregate over the rows held plainly in memory.
func TestGroupByDictionaryKeys(t *testing.T) {
	mem, ctx := newMem(t)
	// seven row groups, their dictionaries in orders of their own
	schema, rec, path := writeModes(t, mem, 5000, 777)
	defer rec.Release()

	specs := []aggSpec{{"sum", 2}, {"len", -1}, {"max", 0}, {"first", 3}, {"n_unique", 1}}
	filtered := call(t, "gt", colExpr(schema, 2), &expr.Literal{Value: scalar.NewInt64Scalar(700)})
	for _, keys := range [][]int{{0}, {0, 1}, {1, 2, 0}} {
		for _, filter := range []bool{false, true} {
			for _, spill := range []bool{false, true} {
				if spill && len(keys) < 3 {
					continue // a few groups: nothing to spill
				}
				t.Run(fmt.Sprintf("keys%v/filter=%v/spill=%v", keys, filter, spill), func(t *testing.T) {
					var in Operator = NewScan(mem, Parquet, []string{path}, schema, nil, nil, CSVOptions{})
					rec.Retain()
					var ref Operator = records(schema, rec)
					if filter {
						ReadLate(in, false)
						f, err := NewFilter(in, filtered)
						if err != nil {
							t.Fatal(err)
						}
						in = f
						if ref, err = NewFilter(ref, filtered); err != nil {
							t.Fatal(err)
						}
					}
					agg := hashAgg(t, mem, in, keys, specs)
					if !GroupDictionaries(agg) {
						t.Fatal("the aggregate does not read its keys as dictionaries: the test tests nothing")
					}
					var pool *budget.Pool
					var q *budget.Query
					if spill {
						var err error
						pool, err = budget.NewPool(budget.Options{Limit: 1 << 30, Base: mem, SpillDir: t.TempDir(), SpillLimit: 1 << 30, OperatorLimit: 16 << 10})
						if err != nil {
							t.Fatal(err)
						}
						q = pool.Begin("dictionary keys")
						agg.SetBudget(q)
					}
					got := rowSet(drainReleasing(t, ctx, agg))
					want, _ := drain(t, ctx, hashAgg(t, mem, ref, keys, specs))
					if w := rowSet(want); fmt.Sprint(got) != fmt.Sprint(w) {
						t.Errorf("%d groups %v\nwant %d groups %v", len(got), got[:min(len(got), 8)], len(w), w[:min(len(w), 8)])
					}
					if spill {
						if st := agg.Memory(); st.Spilled == 0 {
							t.Errorf("figures %+v: nothing spilled", st)
						}
						finished(t, pool, q)
					}
				})
			}
		}
	}
}
