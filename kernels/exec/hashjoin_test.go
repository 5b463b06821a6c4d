package exec

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"slipstream/internal/parquettest"
	"slipstream/kernels"
	"slipstream/kernels/expr"
)

// joinRow is one row of a test side: two key columns (nil is null) and a payload.
type joinRow struct {
	k1, k2  any
	payload int64
}

func joinSides(rng *rand.Rand, n int) []joinRow {
	rows := make([]joinRow, n)
	names := []string{"a", "ü", "", "ß", "z"}
	for i := range rows {
		var k1, k2 any = int64(rng.IntN(6)), names[rng.IntN(len(names))]
		if rng.IntN(8) == 0 {
			k1 = nil
		}
		if rng.IntN(10) == 0 {
			k2 = nil
		}
		rows[i] = joinRow{k1, k2, int64(i)}
	}
	return rows
}

var joinSchema = arrow.NewSchema([]arrow.Field{
	{Name: "k1", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "k2", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "p", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

// referenceJoin is the nested-loop answer: for each probe row in order, the
// matching build rows in order; payloads identify rows (-1: null side).
func referenceJoin(probe, build []joinRow, twoKeys bool, kind JoinKind) [][]any {
	return referenceJoinWhere(probe, build, twoKeys, kind, func(a, b joinRow) bool { return true })
}

func referenceJoinWhere(probe, build []joinRow, twoKeys bool, kind JoinKind, cond func(a, b joinRow) bool) [][]any {
	match := func(a, b joinRow) bool {
		if kind == JoinCross {
			return true
		}
		if a.k1 == nil || b.k1 == nil || a.k1 != b.k1 {
			return false
		}
		return (!twoKeys || (a.k2 != nil && b.k2 != nil && a.k2 == b.k2)) && cond(a, b)
	}
	var out [][]any
	matchedBuild := make([]bool, len(build))
	for _, p := range probe {
		found := false
		for j, b := range build {
			if match(p, b) {
				found = true
				matchedBuild[j] = true
				if kind.emitsPairs() {
					out = append(out, []any{p.payload, b.payload})
				}
			}
		}
		switch {
		case kind == JoinSemi && found, kind == JoinAnti && !found:
			out = append(out, []any{p.payload})
		case !found && (kind == JoinLeft || kind == JoinFull):
			out = append(out, []any{p.payload, nil})
		}
	}
	for j, b := range build {
		switch {
		case (kind == JoinRight || kind == JoinFull) && !matchedBuild[j]:
			out = append(out, []any{nil, b.payload})
		case kind == JoinRightSemi && matchedBuild[j], kind == JoinRightAnti && !matchedBuild[j]:
			out = append(out, []any{b.payload})
		}
	}
	return out
}

// joinInput is a join input holding rows, in batches of batchRows.
func joinInput(t *testing.T, mem memory.Allocator, rows []joinRow, batchRows int) *Records {
	var bs []arrow.RecordBatch
	for start := 0; start < len(rows); start += max(batchRows, 1) {
		var k1, k2, p []any
		for _, r := range rows[start:min(len(rows), start+batchRows)] {
			k1, k2, p = append(k1, r.k1), append(k2, r.k2), append(p, r.payload)
		}
		bs = append(bs, buildBatch(t, mem, joinSchema, k1, k2, p))
	}
	return records(joinSchema, bs...)
}

// joinSpec is the keys (k1, and k2 with twoKeys) and the output columns
// (the payloads) of a test join over joinSchema.
func joinSpec(kind JoinKind, twoKeys bool) (pk, bk []expr.Expr, cols []JoinColumn) {
	if kind != JoinCross {
		pk, bk = []expr.Expr{colExpr(joinSchema, 0)}, []expr.Expr{colExpr(joinSchema, 0)}
		if twoKeys {
			pk, bk = append(pk, colExpr(joinSchema, 1)), append(bk, colExpr(joinSchema, 1))
		}
	}
	return pk, bk, joinColumns(kind)
}

// joinColumns is the payloads a join of kind keeps: of both sides, or of
// the one side a semi or anti join keeps.
func joinColumns(kind JoinKind) []JoinColumn {
	cols := []JoinColumn{{Index: 2, Name: "p"}, {Build: true, Index: 2, Name: "p_right"}}
	switch kind {
	case JoinSemi, JoinAnti:
		return cols[:1]
	case JoinRightSemi, JoinRightAnti:
		return cols[1:]
	}
	return cols
}

func TestHashJoinMatchesNestedLoops(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, kind := range []JoinKind{JoinInner, JoinLeft, JoinRight, JoinFull, JoinSemi, JoinAnti, JoinCross, JoinRightSemi, JoinRightAnti} {
		for _, twoKeys := range []bool{false, true} {
			for _, sizes := range [][2]int{{0, 5}, {5, 0}, {40, 30}, {300, 7}} {
				if kind == JoinCross && twoKeys {
					continue
				}
				name := fmt.Sprintf("%s/twoKeys=%v/%dx%d", kind, twoKeys, sizes[0], sizes[1])
				t.Run(name, func(t *testing.T) {
					mem, ctx := newMem(t)
					probeRows, buildRows := joinSides(rng, sizes[0]), joinSides(rng, sizes[1])
					mk := func(rows []joinRow) *Records { return joinInput(t, mem, rows, 17) }
					pk, bk, cols := joinSpec(kind, twoKeys)
					j, err := NewHashJoin(mem, mk(probeRows), mk(buildRows), pk, bk, kind, cols)
					if err != nil {
						t.Fatal(err)
					}
					got, _ := drain(t, ctx, j)
					want := referenceJoin(probeRows, buildRows, twoKeys, kind)
					if !sameRows(got, want) {
						t.Errorf("got %d rows %v\nwant %d rows %v", len(got), head(got), len(want), head(want))
					}
				})
			}
		}
	}
}

func head(rows [][]any) [][]any { return rows[:min(len(rows), 12)] }

func TestHashJoinRejectsMismatchedKeys(t *testing.T) {
	mem, _ := newMem(t)
	other := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int32}}, nil)
	_, err := NewHashJoin(mem, records(joinSchema), records(other),
		[]expr.Expr{colExpr(joinSchema, 0)}, []expr.Expr{colExpr(other, 0)}, JoinInner, nil)
	if err == nil {
		t.Fatal("int64 and int32 keys: no error")
	}
	if _, err := NewHashJoin(mem, records(joinSchema), records(joinSchema), nil, nil, JoinInner, nil); err == nil {
		t.Fatal("an inner join without keys: no error")
	}
}

func TestHashJoinLargeOutputIsBatched(t *testing.T) {
	mem, ctx := newMem(t)
	// 300 x 300 rows all with the same key: 90,000 output rows.
	rows := make([]joinRow, 300)
	for i := range rows {
		rows[i] = joinRow{int64(1), "x", int64(i)}
	}
	j, _ := NewHashJoin(mem, joinInput(t, mem, rows, len(rows)), joinInput(t, mem, rows, len(rows)), []expr.Expr{colExpr(joinSchema, 0)}, []expr.Expr{colExpr(joinSchema, 0)}, JoinInner,
		[]JoinColumn{{Index: 2, Name: "p"}, {Build: true, Index: 2, Name: "q"}})
	got, batches := drain(t, ctx, j)
	if len(got) != 90_000 || batches < 2 {
		t.Fatalf("%d rows in %d batches", len(got), batches)
	}
}

func TestHashJoinResidualCondition(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, kind := range []JoinKind{JoinInner, JoinLeft, JoinRight, JoinFull, JoinSemi, JoinAnti, JoinRightSemi, JoinRightAnti} {
		t.Run(kind.String(), func(t *testing.T) {
			mem, ctx := newMem(t)
			probeRows, buildRows := joinSides(rng, 120), joinSides(rng, 40)
			j, err := NewHashJoin(mem, joinInput(t, mem, probeRows, len(probeRows)), joinInput(t, mem, buildRows, len(buildRows)), []expr.Expr{colExpr(joinSchema, 0)}, []expr.Expr{colExpr(joinSchema, 0)}, kind, joinColumns(kind))
			if err != nil {
				t.Fatal(err)
			}
			pair := PairSchema(joinSchema, joinSchema)
			// a match needs the probe payload below the build payload
			j.Residual = call(t, "lt", colExpr(pair, 2), colExpr(pair, 5))
			got, _ := drain(t, ctx, j)
			want := referenceJoinWhere(probeRows, buildRows, false, kind, func(a, b joinRow) bool { return a.payload < b.payload })
			if !sameRows(got, want) {
				t.Errorf("got %d rows %v\nwant %d rows %v", len(got), head(got), len(want), head(want))
			}
		})
	}
}

// Several probes share one build table (frozen: lookups add nothing), in
// parallel; together they give what one join over all probe rows gives
// (right semi and right anti joins: the build rows the probes together
// matched, or did not, emitted once, by the last probe to finish).
func TestHashJoinsShareTheBuildSide(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, kind := range []JoinKind{JoinInner, JoinLeft, JoinSemi, JoinAnti, JoinCross, JoinRightSemi, JoinRightAnti} {
		for _, twoKeys := range []bool{false, true} {
			if kind == JoinCross && twoKeys {
				continue
			}
			t.Run(fmt.Sprintf("%s/twoKeys=%v", kind, twoKeys), func(t *testing.T) {
				mem, ctx := newMem(t)
				probeRows, buildRows := joinSides(rng, 500), joinSides(rng, 60)
				mk := func(rows []joinRow) *Records { return joinInput(t, mem, rows, len(rows)) }
				pk, bk, cols := joinSpec(kind, twoKeys)
				probes := []Operator{mk(probeRows[:200]), mk(probeRows[200:210]), mk(probeRows[210:])}
				joins, err := NewHashJoins(mem, probes, mk(buildRows), pk, bk, kind, cols)
				if err != nil {
					t.Fatal(err)
				}
				ops := make([]Operator, len(joins))
				for i, j := range joins {
					ops[i] = j
				}
				got, _ := drain(t, ctx, NewUnion(ops, true))
				want := referenceJoin(probeRows, buildRows, twoKeys, kind)
				if !sameRows(got, want) {
					t.Errorf("got %d rows %v\nwant %d rows %v", len(got), head(got), len(want), head(want))
				}
			})
		}
	}
	if _, err := NewHashJoins(nil, []Operator{records(joinSchema)}, records(joinSchema), []expr.Expr{colExpr(joinSchema, 0)}, []expr.Expr{colExpr(joinSchema, 0)}, JoinFull, nil); err == nil {
		t.Fatal("a full join must not share its build side")
	}
}

// A key matching more build rows than a batch holds: each probe row's
// pairs, in build order, run across output batches.
func TestHashJoinManyMatchesPerKey(t *testing.T) {
	mem, ctx := newMem(t)
	build := make([]joinRow, 70000)
	for i := range build {
		build[i] = joinRow{int64(1 + i%2), "a", int64(i)}
	}
	probe := []joinRow{{int64(1), "a", 0}, {int64(3), "a", 1}, {int64(2), "a", 2}, {int64(1), "a", 3}}
	for _, kind := range []JoinKind{JoinInner, JoinLeft} {
		pk, bk, cols := joinSpec(kind, false)
		j, err := NewHashJoin(mem, joinInput(t, mem, probe, 3), joinInput(t, mem, build, 10000), pk, bk, kind, cols)
		if err != nil {
			t.Fatal(err)
		}
		got, batches := drain(t, ctx, j)
		want := referenceJoin(probe, build, false, kind)
		if !sameRows(got, want) || batches < 2 {
			t.Errorf("%s: got %d rows in %d batches, want %d rows", kind, len(got), batches, len(want))
		}
	}
}

// A join probing with a Parquet scan reads the probe keys first and the
// other columns only for the rows that match; its answers must be those
// of the same join over the same rows in memory, for every kind, with a
// condition beyond the keys too, nulls and all.
func TestHashJoinProbingAParquetScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	probeRows, buildRows := joinSides(rng, 5000), joinSides(rng, 40)
	mem, ctx := newMem(t)
	var k1, k2, p []any
	for _, r := range probeRows {
		k1, k2, p = append(k1, r.k1), append(k2, r.k2), append(p, r.payload)
	}
	rec := buildBatch(t, mem, joinSchema, k1, k2, p)
	path := filepath.Join(t.TempDir(), "probe.parquet")
	parquettest.Write(t, mem, path, rec, 1500)
	rec.Release()
	// the probe filtered first: payloads not a multiple of 3 (kept: 2 in 3)
	var notThirds []joinRow
	for _, r := range probeRows {
		if r.payload%3 != 0 {
			notThirds = append(notThirds, r)
		}
	}
	three := &expr.Literal{Value: scalar.NewInt64Scalar(3)}
	zero := &expr.Literal{Value: scalar.NewInt64Scalar(0)}
	for _, kind := range []JoinKind{JoinInner, JoinLeft, JoinSemi, JoinAnti, JoinRightSemi, JoinRightAnti} {
		for _, variant := range []string{"scan", "residual", "filter"} {
			t.Run(fmt.Sprintf("%s/%s", kind, variant), func(t *testing.T) {
				pk, bk, cols := joinSpec(kind, true)
				var probe Operator = NewScan(mem, Parquet, []string{path}, joinSchema, nil, nil, CSVOptions{})
				rows := probeRows
				if variant == "filter" {
					ReadLate(probe, false)
					f, err := NewFilter(probe, call(t, "ne", call(t, "modulo", colExpr(joinSchema, 2), three), zero))
					if err != nil {
						t.Fatal(err)
					}
					probe, rows = f, notThirds
				}
				if kind.ReadsProbeLate() { // as the planner decides
					ReadLate(probe, true)
				}
				j, err := NewHashJoin(mem, probe, joinInput(t, mem, buildRows, 7), pk, bk, kind, cols)
				if err != nil {
					t.Fatal(err)
				}
				want := referenceJoin(rows, buildRows, true, kind)
				if variant == "residual" {
					// probe payload below the build payload plus 2500
					j.Residual = call(t, "lt", colExpr(PairSchema(joinSchema, joinSchema), 2),
						call(t, "add", colExpr(PairSchema(joinSchema, joinSchema), 5), &expr.Literal{Value: scalar.NewInt64Scalar(2500)}))
					want = referenceJoinWhere(rows, buildRows, true, kind, func(a, b joinRow) bool { return a.payload < b.payload+2500 })
				}
				if late := j.late != nil; late != (kind != JoinLeft && kind != JoinAnti) {
					t.Errorf("reads the probe late: %v", late)
				}
				if f, ok := probe.(*Filter); ok && f.handOff != (j.late != nil) {
					t.Errorf("the filter hands its unread columns on: %v", f.handOff)
				}
				got, _ := drain(t, ctx, j)
				if !sameRows(got, want) {
					t.Errorf("got %d rows %v\nwant %d rows %v", len(got), head(got), len(want), head(want))
				}
			})
		}
	}
}

// Late reads are a plan decision shown in EXPLAIN; a scan set to read
// late with no operator above that reads its columns fails loudly
// instead of handing out batches with columns missing.
func TestLateReadsAreExplicit(t *testing.T) {
	mem, ctx := newMem(t)
	rec := buildBatch(t, mem, joinSchema, []any{int64(1), nil}, []any{"a", "ü"}, []any{int64(1), int64(2)})
	path := filepath.Join(t.TempDir(), "t.parquet")
	parquettest.Write(t, mem, path, rec, 1)
	rec.Release()
	scan := func() *Scan { return NewScan(mem, Parquet, []string{path}, joinSchema, nil, nil, CSVOptions{}) }

	s := scan()
	if !ReadLate(s, false) {
		t.Fatal("a Parquet scan can read late")
	}
	f, err := NewFilter(s, call(t, "is_not_null", colExpr(joinSchema, 0)))
	if err != nil {
		t.Fatal(err)
	}
	pk, bk, cols := joinSpec(JoinInner, false)
	ReadLate(f, true)
	j, err := NewHashJoin(mem, f, joinInput(t, mem, []joinRow{{int64(1), "a", 9}}, 1), pk, bk, JoinInner, cols)
	if err != nil {
		t.Fatal(err)
	}
	plan := Explain(j)
	for _, want := range []string{"hand_off_late", "read_late dictionaries"} {
		if !strings.Contains(plan, want) {
			t.Errorf("EXPLAIN does not show %q:\n%s", want, plan)
		}
	}
	got, _ := drain(t, ctx, j)
	if !sameRows(got, [][]any{{int64(1), int64(9)}}) {
		t.Errorf("got %v", got)
	}

	orphan := scan()
	ReadLate(orphan, true) // but nothing that reads late is built over it
	_, err = orphan.Next(ctx)
	if kernels.KindOf(err) != kernels.Internal || !strings.Contains(err.Error(), "read columns late") {
		t.Errorf("a late scan with no reader: got %v", err)
	}
	orphan.Close()

	probe := scan()
	ReadLate(probe, true)
	pk, bk, cols = joinSpec(JoinLeft, false)
	if _, err := NewHashJoin(mem, probe, joinInput(t, mem, nil, 1), pk, bk, JoinLeft, cols); err == nil {
		t.Error("a left join took a probe set to read late")
	}
	probe.Close()
}

// A build side whose keys are unique (a dimension table's) takes the
// one-match path; probes with nulls, misses and more than a batch of
// matches answer as the nested loops do.
func TestHashJoinUniqueBuildKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	names := []string{"a", "ü", "", "ß", "z"}
	for _, twoKeys := range []bool{false, true} {
		// build rows with a null key pair with nothing, and the keys are
		// then not unique
		for _, sizes := range [][3]int{{300, 40, 0}, {BatchRows + 500, 50, 0}, {BatchRows + 500, 50, 7}} {
			t.Run(fmt.Sprintf("twoKeys=%v/%dx%d/null every %d", twoKeys, sizes[0], sizes[1], sizes[2]), func(t *testing.T) {
				mem, ctx := newMem(t)
				build := make([]joinRow, sizes[1])
				for i := range build {
					build[i] = joinRow{int64(i * 3), names[i%len(names)], int64(i)}
					if sizes[2] > 0 && i%sizes[2] == 3 {
						build[i].k1 = nil
					}
				}
				probe := make([]joinRow, sizes[0])
				for i := range probe {
					var k1, k2 any = int64(rng.IntN(3 * sizes[1])), names[rng.IntN(len(names))]
					if rng.IntN(9) == 0 {
						k1 = nil
					}
					if rng.IntN(11) == 0 {
						k2 = nil
					}
					probe[i] = joinRow{k1, k2, int64(i)}
				}
				pk, bk, cols := joinSpec(JoinInner, twoKeys)
				j, err := NewHashJoin(mem, joinInput(t, mem, probe, 4096), joinInput(t, mem, build, 7), pk, bk, JoinInner, cols)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := drain(t, ctx, j)
				want := referenceJoin(probe, build, twoKeys, JoinInner)
				if len(want) == 0 || !sameRows(got, want) {
					t.Errorf("got %d rows %v\nwant %d rows %v", len(got), head(got), len(want), head(want))
				}
			})
		}
	}
}
