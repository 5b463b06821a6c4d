package exec

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels"
	"slipstream/kernels/budget"
	"slipstream/kernels/expr"
)

// tinyPool is a pool whose limit forces every operator that holds data to
// spill; spilling is off when spill is false (the negative controls).
func tinyPool(t *testing.T, mem memory.Allocator, limit int64, spill bool) *budget.Pool {
	t.Helper()
	o := budget.Options{Limit: limit, Base: mem}
	if spill {
		o.SpillDir, o.SpillLimit = t.TempDir(), 1<<30
	}
	p, err := budget.NewPool(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// spillInput is 20,000 rows of sortInput's kinds in batches of 500,
// made in base memory and handed out as copies allocated from mem (the
// query), one batch at a time, as a scan would.
func spillInput(t *testing.T, base, mem memory.Allocator) (*arrow.Schema, [][]any, Operator) {
	const n = 20_000
	var cuts []int
	for c := 500; c < n; c += 500 {
		cuts = append(cuts, c)
	}
	schema, rows, batches := sortInputN(t, base, n, cuts...)
	return schema, rows, &copying{Records: records(schema, batches...), mem: mem}
}

// copying hands out copies of its batches allocated from mem.
type copying struct {
	*Records
	mem memory.Allocator
}

func (c *copying) Next(ctx context.Context) (arrow.RecordBatch, error) {
	b, err := c.Records.Next(ctx)
	if err != nil {
		return nil, err
	}
	defer b.Release()
	rows := make([]int64, b.NumRows())
	for i := range rows {
		rows[i] = int64(i)
	}
	return takeBatch(ctx, c.mem, b, rows)
}

// finished checks that a closed query holds nothing and left no file.
func finished(t *testing.T, p *budget.Pool, q *budget.Query) {
	t.Helper()
	q.Close()
	if p.Used() != 0 {
		t.Errorf("the pool still counts %d bytes after the query closed", p.Used())
	}
	if p.Spilled() != 0 {
		t.Errorf("the pool still counts %d spilled bytes", p.Spilled())
	}
	if dir := p.SpillDir(); dir != "" {
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Errorf("spill folder not removed: %v", left)
		}
	}
}

func TestSortSpillsSameAnswer(t *testing.T) {
	for i, keys := range sortKeySets {
		for _, limit := range []int64{-1, 5, 15_000} {
			t.Run(fmt.Sprint(i, "/", limit), func(t *testing.T) {
				mem, ctx := newMem(t)
				pool := tinyPool(t, mem, 96<<10, true)
				q := pool.Begin("sort")
				_, rows, in := spillInput(t, mem, q) // as a scan would, through the query's allocator
				op, err := NewSort(in, keys, limit)
				if err != nil {
					t.Fatal(err)
				}
				op.SetBudget(q)
				got, _ := drain(t, ctx, op)
				want := referenceSort(rows, keys)
				if limit >= 0 {
					want = want[:min(int(limit), len(want))]
				}
				if !sameRows(got, want) {
					for r := range min(len(got), len(want)) {
						if !sameRows(got[r:r+1], want[r:r+1]) {
							t.Fatalf("row %d: got %v, want %v", r, got[r], want[r])
						}
					}
					t.Fatalf("got %d rows, want %d", len(got), len(want))
				}
				if limit < 0 && q.Spilled() == 0 {
					t.Error("the sort did not spill: the test does not exercise spilling")
				}
				finished(t, pool, q)
			})
		}
	}
}

// TestOperatorLimitForcesSpilling: with room to spare in the pool, a
// sort and an aggregate over their operator limit spill all the same,
// and answer as in memory (the tests' tiny-limit mode relies on it).
func TestOperatorLimitForcesSpilling(t *testing.T) {
	mem, ctx := newMem(t)
	pool, err := budget.NewPool(budget.Options{Limit: 1 << 30, Base: mem, SpillDir: t.TempDir(), SpillLimit: 1 << 30, OperatorLimit: 32 << 10})
	if err != nil {
		t.Fatal(err)
	}
	q := pool.Begin("sort")
	_, rows, in := spillInput(t, mem, q)
	s, err := NewSort(in, sortKeySets[0], -1)
	if err != nil {
		t.Fatal(err)
	}
	s.SetBudget(q)
	got, _ := drain(t, ctx, s)
	if !sameRows(got, referenceSort(rows, sortKeySets[0])) {
		t.Error("the sort over its operator limit answered differently")
	}
	if st := s.Memory(); st.Spilled == 0 || st.Name != s.String() {
		t.Errorf("sort figures %+v: want bytes spilled, named by its EXPLAIN line", st)
	}
	finished(t, pool, q)

	q = pool.Begin("agg")
	_, _, in = spillInput(t, mem, q)
	specs := []aggSpec{{"sum", 0}, {"n_unique", 1}}
	agg := hashAgg(t, q, in, []int{6}, specs)
	agg.SetBudget(q)
	g := rowSet(drainReleasing(t, ctx, agg))
	_, _, ref := spillInput(t, mem, mem)
	want, _ := drain(t, ctx, hashAgg(t, mem, ref, []int{6}, specs))
	if w := rowSet(want); fmt.Sprint(g) != fmt.Sprint(w) {
		t.Errorf("the aggregate over its operator limit: %d groups, want %d (or different values)", len(g), len(w))
	}
	if st := agg.Memory(); st.Spilled == 0 || st.Peak == 0 {
		t.Errorf("aggregate figures %+v: want a peak and bytes spilled", st)
	}
	finished(t, pool, q)
}

// failsWithoutSpilling: over a pool with spilling off, the operator
// built over the query's input fails with ResourceExhausted and leaves
// nothing behind (the negative control of the spill tests).
func failsWithoutSpilling(t *testing.T, limit int64, build func(q *budget.Query, in Operator) Operator) {
	mem, ctx := newMem(t)
	pool := tinyPool(t, mem, limit, false)
	q := pool.Begin("negative")
	_, _, in := spillInput(t, mem, q)
	op := build(q, in)
	_, err := op.Next(ctx)
	if kernels.KindOf(err) != kernels.ResourceExhausted {
		t.Fatalf("got %v, want a resource exhausted error", err)
	}
	t.Log(err)
	op.Close()
	finished(t, pool, q)
}

func TestSortWithoutSpillingFailsAlone(t *testing.T) {
	failsWithoutSpilling(t, 96<<10, func(q *budget.Query, in Operator) Operator {
		op, err := NewSort(in, sortKeySets[0], -1)
		if err != nil {
			t.Fatal(err)
		}
		op.SetBudget(q)
		return op
	})
}

// TestSortSpillFloats: the merge of spilled runs orders NaN and nulls as
// the in-memory sort does, in both directions.
func TestSortSpillFloats(t *testing.T) {
	for _, key := range []SortKey{{Column: 0}, {Column: 0, Descending: true}, {Column: 0, NullsLast: true}, {Column: 0, Descending: true, NullsLast: true}} {
		t.Run(fmt.Sprint(key), func(t *testing.T) {
			mem, ctx := newMem(t)
			pool := tinyPool(t, mem, 64<<10, true)
			q := pool.Begin("sort")
			schema := schemaOf(f64, i64)
			rng := rand.New(rand.NewSource(7))
			var batches, copies []arrow.RecordBatch
			for b := 0; b < 40; b++ {
				vals, pos := make([]any, 500), make([]any, 500)
				for i := range vals {
					switch rng.Intn(10) {
					case 0:
						vals[i] = math.NaN()
					case 1:
					default:
						vals[i] = float64(rng.Intn(50)) - 25
					}
					pos[i] = int64(b*500 + i)
				}
				batches = append(batches, buildBatch(t, q, schema, vals, pos))
				copies = append(copies, buildBatch(t, mem, schema, vals, pos))
			}
			spilled, err := NewSort(records(schema, batches...), []SortKey{key}, -1)
			if err != nil {
				t.Fatal(err)
			}
			spilled.SetBudget(q)
			got, _ := drain(t, ctx, spilled)
			inMemory, _ := NewSort(records(schema, copies...), []SortKey{key}, -1)
			want, _ := drain(t, ctx, inMemory)
			if q.Spilled() == 0 {
				t.Error("nothing spilled")
			}
			if !sameRows(got, want) {
				for r := range want {
					if !sameRows(got[r:r+1], want[r:r+1]) {
						t.Fatalf("row %d: got %v, want %v", r, got[r], want[r])
					}
				}
			}
			finished(t, pool, q)
		})
	}
}

// drainReleasing reads op's rows batch by batch, releasing each, as a
// client reading a result does; it closes op.
func drainReleasing(t *testing.T, ctx context.Context, op Operator) [][]any {
	t.Helper()
	defer op.Close()
	var rows [][]any
	for {
		b, err := op.Next(ctx)
		if err == io.EOF {
			return rows
		}
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		rows = append(rows, rowsOf([]arrow.RecordBatch{b})...)
		b.Release()
	}
}

// rowSet is rows as sorted text, for results whose order is free.
func rowSet(rows [][]any) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = fmt.Sprint(r...)
	}
	sort.Strings(out)
	return out
}

func TestHashAggregateSpillsSameAnswer(t *testing.T) {
	specs := []aggSpec{{"len", -1}, {"sum", 0}, {"n_unique", 1}, {"median", 0}, {"first", 5}, {"last", 1}, {"count", 3}}
	for _, keys := range [][]int{{6}, {1, 6}, {2, 6, 1}} {
		t.Run(fmt.Sprint(keys), func(t *testing.T) {
			mem, ctx := newMem(t)
			pool := tinyPool(t, mem, 512<<10, true)
			q := pool.Begin("agg")
			_, _, in := spillInput(t, mem, q)
			op := hashAgg(t, q, in, keys, specs)
			op.SetBudget(q)
			got := drainReleasing(t, ctx, op)
			_, _, ref := spillInput(t, mem, mem)
			want, _ := drain(t, ctx, hashAgg(t, mem, ref, keys, specs))
			if q.Spilled() == 0 {
				t.Error("the aggregate did not spill: the test does not exercise spilling")
			}
			g, w := rowSet(got), rowSet(want)
			if len(g) != len(w) {
				t.Fatalf("got %d groups, want %d", len(g), len(w))
			}
			for i := range g {
				if g[i] != w[i] {
					t.Fatalf("group %d: got %s, want %s", i, g[i], w[i])
				}
			}
			finished(t, pool, q)
		})
	}
}

func TestHashAggregateWithoutSpillingFailsAlone(t *testing.T) {
	failsWithoutSpilling(t, 512<<10, func(q *budget.Query, in Operator) Operator {
		op := hashAgg(t, q, in, []int{6}, []aggSpec{{"sum", 0}})
		op.SetBudget(q)
		return op
	})
}

// Cancelled while spilling, every spilling operator stops, and once it is
// closed its query holds no memory, and no spill file is left.
func TestCancelWhileSpillingFreesEverything(t *testing.T) {
	sum, _ := expr.Lookup("sum")
	i64col := func(in Operator) expr.Expr { return colExpr(in.Schema(), 0) }
	builds := map[string]func(q *budget.Query, in Operator) Operator{
		"sort": func(q *budget.Query, in Operator) Operator {
			s, _ := NewSort(in, []SortKey{{Column: 0, Descending: true}}, -1)
			s.SetBudget(q)
			return s
		},
		"aggregate": func(q *budget.Query, in Operator) Operator {
			h := hashAgg(t, q, in, []int{0}, []aggSpec{{"sum", 0}})
			h.SetBudget(q)
			return h
		},
		"join": func(q *budget.Query, in Operator) Operator {
			probe := newEndless(q, true)
			j, err := NewHashJoin(q, probe, in, []expr.Expr{i64col(probe)}, []expr.Expr{i64col(in)}, JoinInner, []JoinColumn{{Index: 0, Name: "x"}})
			if err != nil {
				t.Fatal(err)
			}
			j.SetBudget(q)
			return j
		},
		"window": func(q *budget.Query, in Operator) Operator {
			w := NewWindow(q, in, []WindowExpr{{Func: expr.WinAggregate, Agg: sum, Arg: 0, PartitionBy: []int{0}, Name: "s", Type: i64}})
			w.SetBudget(q)
			return w
		},
	}
	for name, build := range builds {
		t.Run(name, func(t *testing.T) {
			mem, ctx := newMem(t)
			pool := tinyPool(t, mem, 256<<10, true)
			q := pool.Begin(name)
			op := build(q, newEndless(q, true))
			ctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() {
				_, err := op.Next(ctx)
				done <- err
			}()
			// Spilling has begun once a spill file exists (its bytes are
			// counted as its buffer reaches the disk).
			deadline := time.Now().Add(60 * time.Second)
			for spillFiles(pool) == 0 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if spillFiles(pool) == 0 {
				cancel()
				<-done
				t.Fatal("nothing spilled in 60s: the test does not exercise spilling")
			}
			cancel()
			select {
			case err := <-done:
				if kernels.KindOf(err) != kernels.Cancelled {
					t.Errorf("Next after cancel: %v, want a cancellation", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Next did not return within 5s of the cancel")
			}
			op.Close()
			if q.Used() != 0 {
				t.Errorf("after Close the query still holds %d bytes", q.Used())
			}
			finished(t, pool, q)
		})
	}
}

// spillFiles counts the files in the pool's spill folder.
func spillFiles(p *budget.Pool) int {
	n := 0
	dirs, _ := os.ReadDir(p.SpillDir())
	for _, d := range dirs {
		files, _ := os.ReadDir(filepath.Join(p.SpillDir(), d.Name()))
		n += len(files)
	}
	return n
}

// A group-by whose tables and states fit in the limit once, but not
// twice, holds its groups: it builds the output a batch at a time from
// them, not beside them, so it need not spill. The input is n distinct
// keys in order (key i sums to i, counts 1, has max i%1000).
func TestHashAggregateHoldsGroupsThatFitOnce(t *testing.T) {
	const n, per = 200_000, 5_000
	mem, ctx := newMem(t)
	schema := schemaOf(arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Float64, arrow.PrimitiveTypes.Int32)
	var batches []arrow.RecordBatch
	for lo := 0; lo < n; lo += per {
		keys, vals, qs := make([]int64, per), make([]float64, per), make([]int32, per)
		for i := range keys {
			keys[i], vals[i], qs[i] = int64(lo+i), float64(lo+i), int32((lo+i)%1000)
		}
		cols := []arrow.Array{
			expr.FixedWidthArray(mem, schema.Field(0).Type, keys, nil, 0),
			expr.FixedWidthArray(mem, schema.Field(1).Type, vals, nil, 0),
			expr.FixedWidthArray(mem, schema.Field(2).Type, qs, nil, 0),
		}
		batches = append(batches, array.NewRecordBatch(schema, cols, per))
		releaseArrays(cols)
	}
	defer func() {
		for _, b := range batches {
			b.Release()
		}
	}()
	pool := tinyPool(t, mem, 10<<20, true)
	q := pool.Begin("agg")
	op := hashAgg(t, q, &copying{Records: records(schema, batches...), mem: q}, []int{0}, []aggSpec{{"sum", 1}, {"len", -1}, {"max", 2}})
	op.SetBudget(q)
	seen := 0
	for {
		b, err := op.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if b.NumRows() > BatchRows {
			t.Errorf("a batch of %d groups, more than %d", b.NumRows(), BatchRows)
		}
		k, s, c, m := b.Column(0).(*array.Int64), b.Column(1).(*array.Float64), b.Column(2).(*array.Int64), b.Column(3).(*array.Int32)
		for i := range int(b.NumRows()) {
			if key := k.Value(i); s.Value(i) != float64(key) || c.Value(i) != 1 || m.Value(i) != int32(key%1000) {
				t.Fatalf("group %d: sum %v, len %d, max %d", key, s.Value(i), c.Value(i), m.Value(i))
			}
		}
		seen += int(b.NumRows())
		b.Release()
	}
	op.Close()
	if seen != n {
		t.Errorf("%d groups, want %d", seen, n)
	}
	if q.Spilled() != 0 {
		t.Errorf("spilled %d bytes although the groups fit the limit (peak %d)", q.Spilled(), op.Memory().Peak)
	}
	finished(t, pool, q)
}

// TestSortKeepsItsScratchWithinTheLimit: narrow rows whose sort takes far
// more memory for keys and order than the rows hold (room for a sorted
// copy would not be room enough) spill rather than go over the limit.
func TestSortKeepsItsScratchWithinTheLimit(t *testing.T) {
	mem, ctx := newMem(t)
	const limit = 4 << 20
	pool := tinyPool(t, mem, limit, true)
	q := pool.Begin("sort")
	schema := schemaOf(arrow.PrimitiveTypes.Int64)
	rng := rand.New(rand.NewSource(9))
	var batches []arrow.RecordBatch
	for range 50 { // 200,000 rows, 1.6 MB: a sorted copy would fit
		bld := array.NewInt64Builder(mem)
		for range 4000 {
			bld.Append(rng.Int63())
		}
		a := bld.NewArray()
		batches = append(batches, array.NewRecordBatch(schema, []arrow.Array{a}, int64(a.Len())))
		a.Release()
		bld.Release()
	}
	op, err := NewSort(&copying{Records: records(schema, batches...), mem: q}, []SortKey{{Column: 0}}, -1)
	if err != nil {
		t.Fatal(err)
	}
	op.SetBudget(q)
	got, _ := drain(t, ctx, op)
	if len(got) != 200_000 {
		t.Fatalf("%d rows, want 200000", len(got))
	}
	for i := 1; i < len(got); i++ {
		if got[i-1][0].(int64) > got[i][0].(int64) {
			t.Fatalf("rows %d and %d out of order", i-1, i)
		}
	}
	if q.Spilled() == 0 {
		t.Error("the sort did not spill")
	}
	if q.Peak() > limit {
		t.Errorf("the query held %s at its peak, over its limit of %s", budget.FormatBytes(q.Peak()), budget.FormatBytes(limit))
	}
	finished(t, pool, q)
}

// TestLoserTreeMerges: k sorted lists (some empty, with ties across them)
// merged by the tree come out in order, ties in list order.
func TestLoserTreeMerges(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	for k := 1; k <= 20; k++ {
		lists := make([][]int, k)
		total := 0
		for i := range lists {
			n := rng.Intn(30)
			if i%5 == 3 {
				n = 0
			}
			for range n {
				lists[i] = append(lists[i], rng.Intn(20))
			}
			slices.Sort(lists[i])
			total += n
		}
		pos := make([]int, k)
		before := func(a, b int) bool {
			ea, eb := pos[a] == len(lists[a]), pos[b] == len(lists[b])
			if ea || eb {
				return eb && (!ea || a < b)
			}
			if x, y := lists[a][pos[a]], lists[b][pos[b]]; x != y {
				return x < y
			}
			return a < b
		}
		var tree loserTree
		tree.build(k, before)
		type item struct{ v, list int }
		var got []item
		for {
			w := tree.winner()
			if pos[w] == len(lists[w]) {
				break
			}
			got = append(got, item{lists[w][pos[w]], w})
			pos[w]++
			tree.replay(w, before)
		}
		if len(got) != total {
			t.Fatalf("k=%d: %d items merged, want %d", k, len(got), total)
		}
		for i := 1; i < len(got); i++ {
			if a, b := got[i-1], got[i]; a.v > b.v || a.v == b.v && a.list > b.list {
				t.Fatalf("k=%d: %v before %v", k, a, b)
			}
		}
	}
}
