package exec

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"slipstream/internal/parquettest"
	"slipstream/kernels"
	"slipstream/kernels/budget"
	"slipstream/kernels/expr"
)

// wideJoinSides is n rows with keys from thousands of values (so parts
// split), some null, unicode among the strings.
func wideJoinSides(rng *rand.Rand, n int) []joinRow {
	rows := make([]joinRow, n)
	names := []string{"a", "ü", "", "ß", "z"}
	for i := range rows {
		var k1, k2 any = int64(rng.IntN(3000)), names[rng.IntN(len(names))]
		if rng.IntN(12) == 0 {
			k1 = nil
		}
		if rng.IntN(15) == 0 {
			k2 = nil
		}
		rows[i] = joinRow{k1, k2, int64(i)}
	}
	return rows
}

// spilledJoinInput is rows handed out one batch at a time as copies
// allocated from mem (the query), as a scan would.
func spilledJoinInput(t *testing.T, base, mem memory.Allocator, rows []joinRow) Operator {
	return &copying{Records: joinInput(t, base, rows, 1000), mem: mem}
}

// sameRowSet fails t unless got and want hold the same rows in any order.
func sameRowSet(t *testing.T, got, want [][]any) {
	t.Helper()
	g, w := rowSet(got), rowSet(want)
	if len(g) != len(w) {
		t.Fatalf("got %d rows, want %d", len(g), len(w))
	}
	for i := range g {
		if g[i] != w[i] {
			t.Fatalf("row %d (sorted): got %s, want %s", i, g[i], w[i])
		}
	}
}

// A build side several times the budget is joined part by part, with the
// answer of the join in memory, for every kind and with a condition
// beyond the keys; the query holds nothing and no file afterwards.
func TestHashJoinSpillsSameAnswer(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	probeRows, buildRows := wideJoinSides(rng, 5_000), wideJoinSides(rng, 8_000)
	pair := PairSchema(joinSchema, joinSchema)
	for _, kind := range []JoinKind{JoinInner, JoinLeft, JoinRight, JoinFull, JoinSemi, JoinAnti, JoinRightSemi, JoinRightAnti} {
		for _, variant := range []string{"keys", "residual"} {
			t.Run(fmt.Sprintf("%s/%s", kind, variant), func(t *testing.T) {
				mem, ctx := newMem(t)
				pool := tinyPool(t, mem, 96<<10, true)
				q := pool.Begin("join")
				pk, bk, cols := joinSpec(kind, true)
				make := func(a memory.Allocator, probe, build Operator) *HashJoin {
					j, err := NewHashJoin(a, probe, build, pk, bk, kind, cols)
					if err != nil {
						t.Fatal(err)
					}
					if variant == "residual" {
						j.Residual = call(t, "lt", colExpr(pair, 2), colExpr(pair, 5))
					}
					return j
				}
				j := make(q, spilledJoinInput(t, mem, q, probeRows), spilledJoinInput(t, mem, q, buildRows))
				j.SetBudget(q)
				got := drainReleasing(t, ctx, j)
				if q.Spilled() == 0 {
					t.Fatal("the join did not spill: the test does not exercise spilling")
				}
				want, _ := drain(t, ctx, make(mem, joinInput(t, mem, probeRows, 1000), joinInput(t, mem, buildRows, 1000)))
				sameRowSet(t, got, want)
				finished(t, pool, q)
			})
		}
	}
}

// Probes sharing a spilled table join their own parts, in parallel;
// right semi and right anti joins hand theirs to the last probe.
func TestHashJoinsShareASpilledBuildSide(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	probeRows, buildRows := wideJoinSides(rng, 4_000), wideJoinSides(rng, 8_000)
	for _, kind := range []JoinKind{JoinInner, JoinLeft, JoinSemi, JoinAnti, JoinRightSemi, JoinRightAnti} {
		t.Run(kind.String(), func(t *testing.T) {
			mem, ctx := newMem(t)
			pool := tinyPool(t, mem, 96<<10, true)
			q := pool.Begin("join")
			pk, bk, cols := joinSpec(kind, false)
			probes := []Operator{spilledJoinInput(t, mem, q, probeRows[:2000]), spilledJoinInput(t, mem, q, probeRows[2000:2010]), spilledJoinInput(t, mem, q, probeRows[2010:])}
			joins, err := NewHashJoins(q, probes, spilledJoinInput(t, mem, q, buildRows), pk, bk, kind, cols)
			if err != nil {
				t.Fatal(err)
			}
			ops := make([]Operator, len(joins))
			for i, j := range joins {
				j.SetBudget(q)
				ops[i] = j
			}
			got := drainReleasing(t, ctx, NewUnion(ops, false))
			if q.Spilled() == 0 {
				t.Fatal("the join did not spill")
			}
			one, err := NewHashJoin(mem, joinInput(t, mem, probeRows, 1000), joinInput(t, mem, buildRows, 1000), pk, bk, kind, cols)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := drain(t, ctx, one)
			sameRowSet(t, got, want)
			finished(t, pool, q)
		})
	}
}

// A probe read late from Parquet (keys first, the rest for matches) is
// read whole when the join spills it.
func TestHashJoinSpillsALateProbe(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	probeRows, buildRows := wideJoinSides(rng, 4_000), wideJoinSides(rng, 8_000)
	mem, ctx := newMem(t)
	var k1, k2, p []any
	for _, r := range probeRows {
		k1, k2, p = append(k1, r.k1), append(k2, r.k2), append(p, r.payload)
	}
	rec := buildBatch(t, mem, joinSchema, k1, k2, p)
	path := filepath.Join(t.TempDir(), "probe.parquet")
	parquettest.Write(t, mem, path, rec, 1500)
	rec.Release()
	three := &expr.Literal{Value: scalar.NewInt64Scalar(3)}
	zero := &expr.Literal{Value: scalar.NewInt64Scalar(0)}
	for _, variant := range []string{"scan", "filter"} {
		t.Run(variant, func(t *testing.T) {
			pool := tinyPool(t, mem, 96<<10, true)
			q := pool.Begin("join")
			pk, bk, cols := joinSpec(JoinInner, true)
			probe := func(a memory.Allocator) Operator {
				var op Operator = NewScan(a, Parquet, []string{path}, joinSchema, nil, nil, CSVOptions{})
				if variant == "filter" {
					ReadLate(op, false)
					f, err := NewFilter(op, call(t, "ne", call(t, "modulo", colExpr(joinSchema, 2), three), zero))
					if err != nil {
						t.Fatal(err)
					}
					op = f
				}
				ReadLate(op, true)
				return op
			}
			j, err := NewHashJoin(q, probe(q), spilledJoinInput(t, mem, q, buildRows), pk, bk, JoinInner, cols)
			if err != nil {
				t.Fatal(err)
			}
			if j.late == nil {
				t.Fatal("the probe is not read late: the test does not exercise it")
			}
			j.SetBudget(q)
			got := drainReleasing(t, ctx, j)
			if q.Spilled() == 0 {
				t.Fatal("the join did not spill")
			}
			ref, err := NewHashJoin(mem, probe(mem), joinInput(t, mem, buildRows, 1000), pk, bk, JoinInner, cols)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := drain(t, ctx, ref)
			sameRowSet(t, got, want)
			finished(t, pool, q)
		})
	}
}

func TestHashJoinWithoutSpillingFailsAlone(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	buildRows := wideJoinSides(rng, 20_000)
	failsWithoutSpilling(t, 256<<10, func(q *budget.Query, in Operator) Operator {
		mem := memory.NewGoAllocator()
		pk, bk, cols := joinSpec(JoinInner, false)
		probe := &copying{Records: joinInput(t, mem, wideJoinSides(rng, 100), 100), mem: q}
		in.Close()
		j, err := NewHashJoin(q, probe, spilledJoinInput(t, mem, q, buildRows), pk, bk, JoinInner, cols)
		if err != nil {
			t.Fatal(err)
		}
		j.SetBudget(q)
		return j
	})
}

// One key with more build rows than memory holds cannot be split: after
// the last round of spilling the query fails alone, naming why, and
// leaves nothing behind.
func TestHashJoinOneHugeKeyFails(t *testing.T) {
	mem, ctx := newMem(t)
	pool := tinyPool(t, mem, 128<<10, true)
	q := pool.Begin("join")
	build := make([]joinRow, 20_000)
	for i := range build {
		build[i] = joinRow{int64(7), "same", int64(i)}
	}
	pk, bk, cols := joinSpec(JoinInner, true)
	probe := []joinRow{{int64(7), "same", 1}}
	j, err := NewHashJoin(q, spilledJoinInput(t, mem, q, probe), spilledJoinInput(t, mem, q, build), pk, bk, JoinInner, cols)
	if err != nil {
		t.Fatal(err)
	}
	j.SetBudget(q)
	var last error
	for {
		b, err := j.Next(ctx)
		if err != nil {
			last = err
			break
		}
		b.Release()
	}
	if kernels.KindOf(last) != kernels.ResourceExhausted {
		t.Fatalf("got %v, want a resource exhausted error", last)
	}
	t.Log(last)
	j.Close()
	finished(t, pool, q)
}
