package exec

import (
	"fmt"
	"math"
	"math/rand"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels"
)

// sortInput is 300 rows with many ties: c0 int64, c1 utf8, c2 date32,
// c3 decimal(7,2), c4 bool, c5 large_utf8, c6 the row's input position.
func sortInput(t *testing.T, mem memory.Allocator) (*arrow.Schema, [][]any, []arrow.RecordBatch) {
	return sortInputN(t, mem, 300, 1, 120, 250)
}

// sortInputN is sortInput with n rows cut into batches at cuts.
func sortInputN(t *testing.T, mem memory.Allocator, n int, cuts ...int) (*arrow.Schema, [][]any, []arrow.RecordBatch) {
	schema := schemaOf(i64, utf8, d32, dec(7, 2), boo, lstr, i64)
	rng := rand.New(rand.NewSource(42))
	strs := []any{"b", "a", "ä", "Z", "", "ab", "日本", nil}
	cols := make([][]any, 7)
	for c := range cols {
		cols[c] = make([]any, n)
	}
	for i := 0; i < n; i++ {
		if rng.Intn(6) > 0 {
			cols[0][i] = int64(rng.Intn(9) - 4)
		}
		cols[1][i] = strs[rng.Intn(len(strs))]
		if rng.Intn(5) > 0 {
			cols[2][i] = int64(18000 + rng.Intn(5))
		}
		if rng.Intn(5) > 0 {
			cols[3][i] = fmt.Sprintf("%d.%02d", rng.Intn(21)-10, rng.Intn(3)*25)
		}
		if rng.Intn(4) > 0 {
			cols[4][i] = rng.Intn(2) == 0
		}
		cols[5][i] = strs[rng.Intn(len(strs))]
		cols[6][i] = int64(i)
	}
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = make([]any, len(cols))
		for c := range cols {
			rows[i][c] = cols[c][i]
		}
	}
	return schema, rows, splitBatches(t, mem, schema, cols, cuts...)
}

// compareValues orders two non-null values of one column.
func compareValues(a, b any) int {
	switch x := a.(type) {
	case int64:
		return compareInts(x, b.(int64))
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case string:
		if strings.Contains(x, ".") || strings.Contains(b.(string), ".") {
			// decimal text
			fx, _ := strconv.ParseFloat(x, 64)
			fy, _ := strconv.ParseFloat(b.(string), 64)
			switch {
			case fx < fy:
				return -1
			case fx > fy:
				return 1
			}
			return 0
		}
		return strings.Compare(x, b.(string))
	}
	panic(fmt.Sprintf("compareValues %T", a))
}

func compareInts(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// referenceSort is a stable sort of rows by keys, nulls placed by each key
// whatever its direction.
func referenceSort(rows [][]any, keys []SortKey) [][]any {
	out := append([][]any(nil), rows...)
	sort.SliceStable(out, func(i, j int) bool {
		for _, k := range keys {
			a, b := out[i][k.Column], out[j][k.Column]
			switch {
			case a == nil && b == nil:
				continue
			case a == nil:
				return !k.NullsLast
			case b == nil:
				return k.NullsLast
			}
			c := compareValues(a, b)
			if k.Descending {
				c = -c
			}
			if c != 0 {
				return c < 0
			}
		}
		return false
	})
	return out
}

var sortKeySets = [][]SortKey{
	{{Column: 0}},
	{{Column: 0, Descending: true, NullsLast: true}},
	{{Column: 0, NullsLast: true}},
	{{Column: 1, NullsLast: true}, {Column: 0, Descending: true}},
	{{Column: 2, Descending: true}, {Column: 3, NullsLast: true}},
	{{Column: 3, Descending: true, NullsLast: true}, {Column: 1, Descending: true}, {Column: 2}},
	{{Column: 4}, {Column: 5, Descending: true, NullsLast: true}},
	{{Column: 5}, {Column: 4, Descending: true}, {Column: 0, NullsLast: true}},
}

func TestSortKeys(t *testing.T) {
	for i, keys := range sortKeySets {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			mem, ctx := newMem(t)
			schema, rows, batches := sortInput(t, mem)
			op, err := NewSort(records(schema, batches...), keys, -1)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := drain(t, ctx, op)
			// The last column is the input position: equal rows must keep
			// their order, so the whole rows, positions included, must match.
			if want := referenceSort(rows, keys); !sameRows(got, want) {
				for r := range want {
					if !sameRows(got[r:r+1], want[r:r+1]) {
						t.Fatalf("row %d: got %v, want %v", r, got[r], want[r])
					}
				}
				t.Fatalf("got %d rows, want %d", len(got), len(want))
			}
		})
	}
}

func TestTopK(t *testing.T) {
	keys := sortKeySets[3]
	for _, k := range []int64{0, 1, 7, 120, 299, 300, 301, 10_000} {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			mem, ctx := newMem(t)
			schema, rows, batches := sortInput(t, mem)
			op, err := NewSort(records(schema, batches...), keys, k)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := drain(t, ctx, op)
			want := referenceSort(rows, keys)
			want = want[:min(int(k), len(want))]
			if !sameRows(got, want) {
				t.Errorf("top %d: got %d rows %v..., want %d rows", k, len(got), got[:min(3, len(got))], len(want))
			}
		})
	}
}

func TestSortEmptyInput(t *testing.T) {
	for _, limit := range []int64{-1, 5} {
		mem, ctx := newMem(t)
		schema := schemaOf(i64, utf8)
		for _, in := range []Operator{records(schema), records(schema, buildBatch(t, mem, schema, nil, nil))} {
			op, err := NewSort(in, []SortKey{{Column: 1, Descending: true}}, limit)
			if err != nil {
				t.Fatal(err)
			}
			if rows, _ := drain(t, ctx, op); len(rows) != 0 {
				t.Errorf("sorting nothing gave %v", rows)
			}
		}
	}
}

func TestSortFloatsAndTimestamps(t *testing.T) {
	mem, ctx := newMem(t)
	schema := schemaOf(f64, tsUS, f32)
	in := records(schema,
		buildBatch(t, mem, schema, []any{2.5, nil, -1.0}, []any{int64(30), int64(10), nil}, []any{1.0, 1.0, 0.5}),
		buildBatch(t, mem, schema, []any{-1.0, 0.0}, []any{int64(20), int64(10)}, []any{nil, -2.0}))
	op, err := NewSort(in, []SortKey{{Column: 1, NullsLast: true}, {Column: 0, Descending: true}}, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := drain(t, ctx, op)
	want := [][]any{{nil, int64(10), 1.0}, {0.0, int64(10), -2.0}, {-1.0, int64(20), nil}, {2.5, int64(30), 1.0}, {-1.0, nil, 0.5}}
	if !sameRows(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestSortRejectsUnorderable(t *testing.T) {
	newMem(t)
	schema := schemaOf(i64, arrow.ListOf(i64))
	in := records(schema)
	_, err := NewSort(in, []SortKey{{Column: 0}, {Column: 1}}, -1)
	if err == nil || kernels.KindOf(err) != kernels.Invalid || !strings.Contains(err.Error(), "c1") || !strings.Contains(err.Error(), "list") {
		t.Errorf("want an invalid-argument error naming c1 and list, got %v", err)
	}
	in.Close()
}

func TestSortString(t *testing.T) {
	newMem(t)
	schema := schemaOf(i64, utf8)
	keys := []SortKey{{Column: 1, Descending: true}, {Column: 0, NullsLast: true}}
	s, _ := NewSort(records(schema), keys, -1)
	if got, want := s.String(), "Sort c1 desc nulls_first, c0 asc nulls_last"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	k, _ := NewSort(records(schema), keys, 10)
	if got, want := k.String(), "TopK k=10 c1 desc nulls_first, c0 asc nulls_last"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestSortInputError(t *testing.T) {
	mem, ctx := newMem(t)
	schema := schemaOf(i64)
	in := &failing{Records: records(schema, batchJSON(t, mem, schema, `[{"c0": 2}, {"c0": 1}]`)), err: kernels.Errorf(kernels.ResourceExhausted, "disk full")}
	op, err := NewSort(in, []SortKey{{Column: 0}}, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	if _, err := op.Next(ctx); kernels.KindOf(err) != kernels.ResourceExhausted {
		t.Errorf("want the input's error, got %v", err)
	}
}

// TestSortNaN: NaN sorts above every number, so last ascending and first
// descending, apart from the nulls, in all four combinations (Arrow's sort
// alone puts it beside the nulls).
func TestSortNaN(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		desc, nullsLast bool
		want            []any
	}{
		{false, false, []any{nil, -1.0, 2.0, nan}},
		{false, true, []any{-1.0, 2.0, nan, nil}},
		{true, false, []any{nil, nan, 2.0, -1.0}},
		{true, true, []any{nan, 2.0, -1.0, nil}},
	} {
		mem, ctx := newMem(t)
		schema := schemaOf(f64)
		in := records(schema, buildBatch(t, mem, schema, []any{2.0, nan, nil, -1.0}))
		op, err := NewSort(in, []SortKey{{Column: 0, Descending: tc.desc, NullsLast: tc.nullsLast}}, -1)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := drain(t, ctx, op)
		for i, w := range tc.want {
			g := got[i][0]
			wf, wok := w.(float64)
			gf, gok := g.(float64)
			if (w == nil) != (g == nil) || (wok && gok && !(wf == gf || (math.IsNaN(wf) && math.IsNaN(gf)))) {
				t.Fatalf("desc=%v nulls_last=%v: got %v, want %v", tc.desc, tc.nullsLast, got, tc.want)
			}
		}
	}
}
