package exec

import (
	"fmt"
	"math"
	"math/rand"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels"
	"slipstream/kernels/expr"
)

// aggSpec is one aggregate of a test: fn over input column arg (-1: none).
type aggSpec struct {
	fn  string
	arg int
}

// hashAgg builds a HashAggregate the way the physical planner does: a
// Project computes the keys and every aggregate argument, cast to the type
// the function's Resolve asks for, then the aggregate runs over it.
func hashAgg(t *testing.T, mem memory.Allocator, in Operator, keys []int, specs []aggSpec) *HashAggregate {
	t.Helper()
	s := in.Schema()
	var exprs []expr.Expr
	var names []string
	keyIdx := make([]int, len(keys))
	for i, k := range keys {
		exprs = append(exprs, colExpr(s, k))
		names = append(names, s.Field(k).Name)
		keyIdx[i] = i
	}
	aggs := make([]Agg, len(specs))
	for i, sp := range specs {
		fn, ok := expr.Lookup(sp.fn)
		if !ok {
			t.Fatalf("no aggregate %s", sp.fn)
		}
		var argTypes []arrow.DataType
		if sp.arg >= 0 {
			argTypes = []arrow.DataType{s.Field(sp.arg).Type}
		}
		out, casts, err := fn.Resolve(argTypes)
		if err != nil {
			t.Fatalf("%s: %v", sp.fn, err)
		}
		aggs[i] = Agg{Fn: fn, Arg: -1, Name: fmt.Sprintf("%s%d", sp.fn, i), Type: out}
		if sp.arg >= 0 {
			var e expr.Expr = colExpr(s, sp.arg)
			if !arrow.TypeEqual(e.DataType(), casts[0]) {
				e = &expr.Cast{Arg: e, To: casts[0]}
			}
			aggs[i].Arg = len(exprs)
			exprs = append(exprs, e)
			names = append(names, fmt.Sprintf("__agg%d", i))
		}
	}
	return NewHashAggregate(mem, NewProject(in, exprs, names), keyIdx, aggs)
}

// splitBatches cuts rows [0, n) into batches at the given boundaries.
func splitBatches(t *testing.T, mem memory.Allocator, schema *arrow.Schema, cols [][]any, cuts ...int) []arrow.RecordBatch {
	t.Helper()
	n := len(cols[0])
	bounds := append(append([]int{0}, cuts...), n)
	var out []arrow.RecordBatch
	for i := 0; i+1 < len(bounds); i++ {
		part := make([][]any, len(cols))
		for c := range cols {
			part[c] = cols[c][bounds[i]:bounds[i+1]]
		}
		out = append(out, buildBatch(t, mem, schema, part...))
	}
	return out
}

// valueType describes how a test value of one Arrow type is made from a
// base integer in [-100, 100], and what the reference expects of it.
type valueType struct {
	dt arrow.DataType
	// val is the Go value (goValue form) of base.
	val func(base int64) any
	// rank orders values: a < b iff rank(a) < rank(b).
	rank func(base int64) int64
	// num is the value as a number for mean; nil: mean does not apply.
	num func(base int64) float64
	// sum is the goValue form of the sum of bases; nil: sum does not apply.
	sum func(bases []int64) any
}

func decText(unscaled int64, scale int32) string {
	return decimal128.FromI64(unscaled).ToString(scale)
}

func signedType(dt arrow.DataType) valueType {
	return valueType{dt: dt, val: func(b int64) any { return b }, rank: func(b int64) int64 { return b },
		num: func(b int64) float64 { return float64(b) },
		sum: func(bs []int64) any {
			var s int64
			for _, b := range bs {
				s += b
			}
			return s
		}}
}

func unsignedType(dt arrow.DataType) valueType {
	return valueType{dt: dt, val: func(b int64) any { return uint64(b + 100) }, rank: func(b int64) int64 { return b },
		num: func(b int64) float64 { return float64(b + 100) },
		sum: func(bs []int64) any {
			var s uint64
			for _, b := range bs {
				s += uint64(b + 100)
			}
			return s
		}}
}

func floatType(dt arrow.DataType) valueType {
	return valueType{dt: dt, val: func(b int64) any { return float64(b) / 4 }, rank: func(b int64) int64 { return b },
		num: func(b int64) float64 { return float64(b) / 4 },
		sum: func(bs []int64) any {
			var s float64
			for _, b := range bs {
				s += float64(b) / 4
			}
			return s
		}}
}

func everyValueType() []valueType {
	boolOf := func(b int64) bool { return b%3 == 0 }
	str := func(dt arrow.DataType) valueType {
		return valueType{dt: dt, val: func(b int64) any { return fmt.Sprintf("ü-%03d", b+100) }, rank: func(b int64) int64 { return b }}
	}
	return []valueType{
		signedType(i8), signedType(i16), signedType(i32), signedType(i64),
		unsignedType(u8), unsignedType(u16), unsignedType(u32), unsignedType(u64),
		floatType(f32), floatType(f64),
		{dt: boo, val: func(b int64) any { return boolOf(b) },
			rank: func(b int64) int64 {
				if boolOf(b) {
					return 1
				}
				return 0
			},
			sum: func(bs []int64) any {
				var s int64
				for _, b := range bs {
					if boolOf(b) {
						s++
					}
				}
				return s
			}},
		str(utf8), str(lstr),
		{dt: d32, val: func(b int64) any { return 18000 + b }, rank: func(b int64) int64 { return b }},
		{dt: tsUS, val: func(b int64) any { return b * 1_000_000 }, rank: func(b int64) int64 { return b }},
		{dt: &arrow.DurationType{Unit: arrow.Microsecond}, val: func(b int64) any { return b * 1_000 }, rank: func(b int64) int64 { return b },
			sum: func(bs []int64) any {
				var s int64
				for _, b := range bs {
					s += b * 1_000
				}
				return s
			}},
		{dt: &arrow.Time64Type{Unit: arrow.Nanosecond}, val: func(b int64) any { return (b + 100) * 1_000_000_000 }, rank: func(b int64) int64 { return b }},
		str(arrow.BinaryTypes.Binary), str(arrow.BinaryTypes.LargeBinary),
		{dt: dec(9, 2), val: func(b int64) any { return decText(b*137, 2) }, rank: func(b int64) int64 { return b },
			num: func(b int64) float64 { return float64(b*137) / 100 },
			sum: func(bs []int64) any {
				var s int64
				for _, b := range bs {
					s += b * 137
				}
				return decText(s, 2)
			}},
	}
}

// groupRef is the reference state of one group.
type groupRef struct {
	rows  int64
	bases []int64 // non-null values
}

func TestHashAggregateEveryType(t *testing.T) {
	const n = 600
	for _, vt := range everyValueType() {
		t.Run(expr.TypeName(vt.dt), func(t *testing.T) {
			mem, ctx := newMem(t)
			schema := schemaOf(i32, vt.dt)
			keys, vals := make([]any, n), make([]any, n)
			ref := map[any]*groupRef{}
			for i := 0; i < n; i++ {
				var k any = int64(i % 7)
				if i%11 == 0 {
					k = nil
				}
				base := int64(i*7919%201 - 100)
				valid := i%5 != 0 && k != int64(6) // group 6 only ever sees nulls
				keys[i] = k
				if valid {
					vals[i] = vt.val(base)
				}
				g := ref[k]
				if g == nil {
					g = &groupRef{}
					ref[k] = g
				}
				g.rows++
				if valid {
					g.bases = append(g.bases, base)
				}
			}
			in := records(schema, splitBatches(t, mem, schema, [][]any{keys, vals}, 250, 450)...)

			specs := []aggSpec{{"len", -1}, {"count", 1}, {"min", 1}, {"max", 1}}
			if vt.sum != nil {
				specs = append(specs, aggSpec{"sum", 1})
			}
			if vt.num != nil {
				specs = append(specs, aggSpec{"mean", 1})
			}
			op := hashAgg(t, mem, in, []int{0}, specs)
			rows, _ := drain(t, ctx, op)

			if len(rows) != len(ref) {
				t.Fatalf("%d groups, want %d", len(rows), len(ref))
			}
			seen := map[any]bool{}
			for _, row := range rows {
				k := row[0]
				g, ok := ref[k]
				if !ok || seen[k] {
					t.Fatalf("unexpected or repeated group %v", k)
				}
				seen[k] = true
				for j, sp := range specs {
					got, want := row[1+j], expectAgg(vt, sp.fn, g)
					if !sameValue(got, want) {
						t.Errorf("group %v: %s = %v (%T), want %v (%T)", k, sp.fn, got, got, want, want)
					}
				}
			}
		})
	}
}

func expectAgg(vt valueType, fn string, g *groupRef) any {
	switch fn {
	case "len":
		return g.rows
	case "count":
		return int64(len(g.bases))
	}
	if len(g.bases) == 0 {
		return nil
	}
	switch fn {
	case "sum":
		return vt.sum(g.bases)
	case "mean":
		s := 0.0
		for _, b := range g.bases {
			s += vt.num(b)
		}
		return s / float64(len(g.bases))
	case "min", "max":
		best := g.bases[0]
		for _, b := range g.bases[1:] {
			if (fn == "min" && vt.rank(b) < vt.rank(best)) || (fn == "max" && vt.rank(b) > vt.rank(best)) {
				best = b
			}
		}
		return vt.val(best)
	}
	panic(fn)
}

// canonKey is the reference identity of a key value: floats group -0 with
// 0 and every NaN together, as SQL does.
func canonKey(v any) string {
	switch x := v.(type) {
	case nil:
		return "∅"
	case float64:
		switch {
		case math.IsNaN(x):
			return "NaN"
		case x == 0:
			return "0"
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return fmt.Sprintf("%T:%v", v, v)
}

func TestHashAggregateSingleKeyOfEveryType(t *testing.T) {
	const n = 500
	for _, vt := range everyValueType() {
		t.Run(expr.TypeName(vt.dt), func(t *testing.T) {
			mem, ctx := newMem(t)
			schema := schemaOf(vt.dt, i64)
			keys, vals := make([]any, n), make([]any, n)
			type ref struct{ rows, count, sum int64 }
			want := map[string]*ref{}
			for i := 0; i < n; i++ {
				if i%13 != 4 {
					keys[i] = vt.val(int64(i*31%17) - 8)
				}
				if i%3 != 0 {
					vals[i] = int64(i)
				}
				k := canonKey(keys[i])
				if want[k] == nil {
					want[k] = &ref{}
				}
				want[k].rows++
				if vals[i] != nil {
					want[k].count++
					want[k].sum += int64(i)
				}
			}
			in := records(schema, splitBatches(t, mem, schema, [][]any{keys, vals}, 100, 101, 333)...)
			rows, _ := drain(t, ctx, hashAgg(t, mem, in, []int{0}, []aggSpec{{"len", -1}, {"count", 1}, {"sum", 1}}))
			if len(rows) != len(want) {
				t.Fatalf("%d groups, want %d", len(rows), len(want))
			}
			seen := map[string]bool{}
			for _, row := range rows {
				k := canonKey(row[0])
				r := want[k]
				if r == nil || seen[k] {
					t.Fatalf("unexpected or repeated group %s", k)
				}
				seen[k] = true
				if row[1] != r.rows || row[2] != r.count || row[3] != r.sum {
					t.Errorf("group %s: len, count, sum = %v, %v, %v; want %d, %d, %d", k, row[1], row[2], row[3], r.rows, r.count, r.sum)
				}
			}
		})
	}
}

func TestHashAggregateMultiKey(t *testing.T) {
	mem, ctx := newMem(t)
	schema := schemaOf(utf8, f64, boo, dec(5, 2), i64, i16)
	rng := rand.New(rand.NewSource(7))
	strs := []any{"a", "ä", "日本", "🙂", "", "A", nil}
	flts := []any{0.0, math.Copysign(0, -1), math.NaN(), -math.NaN(), 1.5, math.Inf(-1), nil}
	bools := []any{true, false, nil}
	decs := []any{"1.00", "-1.00", "0.01", "999.99", nil}
	const n = 3000
	cols := make([][]any, 6)
	for c := range cols {
		cols[c] = make([]any, n)
	}
	type ref struct {
		rows, count, sum int64
		min, max         any
	}
	want := map[string]*ref{}
	for i := 0; i < n; i++ {
		cols[0][i] = strs[rng.Intn(len(strs))]
		cols[1][i] = flts[rng.Intn(len(flts))]
		cols[2][i] = bools[rng.Intn(len(bools))]
		cols[3][i] = decs[rng.Intn(len(decs))]
		if rng.Intn(4) > 0 {
			cols[4][i] = int64(rng.Intn(1000) - 500)
		}
		cols[5][i] = int64(rng.Intn(3))
		k := strings.Join([]string{canonKey(cols[0][i]), canonKey(cols[1][i]), canonKey(cols[2][i]), canonKey(cols[3][i]), canonKey(cols[5][i])}, "|")
		r := want[k]
		if r == nil {
			r = &ref{}
			want[k] = r
		}
		r.rows++
		if v, ok := cols[4][i].(int64); ok {
			r.count++
			r.sum += v
			if r.min == nil || v < r.min.(int64) {
				r.min = v
			}
			if r.max == nil || v > r.max.(int64) {
				r.max = v
			}
		}
	}
	in := records(schema, splitBatches(t, mem, schema, cols, 700, 1400, 2999)...)
	op := hashAgg(t, mem, in, []int{0, 1, 2, 3, 5}, []aggSpec{{"len", -1}, {"count", 4}, {"sum", 4}, {"min", 4}, {"max", 4}})
	for i, f := range op.Schema().Fields()[:5] {
		if !arrow.TypeEqual(f.Type, schema.Field([]int{0, 1, 2, 3, 5}[i]).Type) {
			t.Errorf("key %d is %s in the output", i, f.Type)
		}
	}
	rows, _ := drain(t, ctx, op)
	if len(rows) != len(want) {
		t.Fatalf("%d groups, want %d", len(rows), len(want))
	}
	seen := map[string]bool{}
	for _, row := range rows {
		if f, ok := row[1].(float64); ok && f == 0 && math.Signbit(f) {
			t.Errorf("the key -0.0 should be reported as 0")
		}
		k := strings.Join([]string{canonKey(row[0]), canonKey(row[1]), canonKey(row[2]), canonKey(row[3]), canonKey(row[4])}, "|")
		r := want[k]
		if r == nil || seen[k] {
			t.Fatalf("unexpected or repeated group %s", k)
		}
		seen[k] = true
		var sum any
		if r.count > 0 {
			sum = r.sum
		}
		got := []any{row[5], row[6], row[7], row[8], row[9]}
		exp := []any{r.rows, r.count, sum, r.min, r.max}
		for j := range got {
			if got[j] != exp[j] {
				t.Errorf("group %s: aggregates %v, want %v", k, got, exp)
				break
			}
		}
	}
}

func TestHashAggregateGroupsAcrossBatches(t *testing.T) {
	// The same keys in every batch, in a different order each time: one group
	// each, with the sums of all batches.
	mem, ctx := newMem(t)
	schema := schemaOf(lstr, i64)
	in := records(schema,
		batchJSON(t, mem, schema, `[{"c0": "x", "c1": 1}, {"c0": "y", "c1": 2}, {"c0": null, "c1": 4}]`),
		batchJSON(t, mem, schema, `[{"c0": null, "c1": 8}, {"c0": "z", "c1": 16}, {"c0": "x", "c1": 32}]`),
		batchJSON(t, mem, schema, `[{"c0": "y", "c1": 64}, {"c0": "x", "c1": 128}, {"c0": "z", "c1": null}]`),
	)
	rows, _ := drain(t, ctx, hashAgg(t, mem, in, []int{0}, []aggSpec{{"sum", 1}, {"len", -1}}))
	got := map[any][2]any{}
	for _, r := range rows {
		if _, dup := got[r[0]]; dup {
			t.Errorf("group %v twice", r[0])
		}
		got[r[0]] = [2]any{r[1], r[2]}
	}
	want := map[any][2]any{"x": {int64(161), int64(3)}, "y": {int64(66), int64(2)}, "z": {int64(16), int64(2)}, nil: {int64(12), int64(2)}}
	if len(got) != len(want) {
		t.Fatalf("groups %v, want %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("group %v: sum, len = %v, want %v", k, got[k], w)
		}
	}
}

func TestGrouperIDsStableAcrossBatches(t *testing.T) {
	mem, _ := newMem(t)
	g, err := newGrouper([]arrow.DataType{utf8, i64})
	if err != nil {
		t.Fatal(err)
	}
	schema := schemaOf(utf8, i64)
	b1 := batchJSON(t, mem, schema, `[{"c0": "a", "c1": 1}, {"c0": "b", "c1": 1}, {"c0": null, "c1": null}, {"c0": "a", "c1": 2}]`)
	defer b1.Release()
	b2 := batchJSON(t, mem, schema, `[{"c0": "a", "c1": 2}, {"c0": null, "c1": null}, {"c0": "c", "c1": 1}, {"c0": "a", "c1": 1}, {"c0": "b", "c1": null}]`)
	defer b2.Release()
	ids1 := append([]uint32(nil), g.groupIDs(b1.Columns(), int(b1.NumRows()))...)
	ids2 := g.groupIDs(b2.Columns(), int(b2.NumRows()))
	if fmt.Sprint(ids1) != "[0 1 2 3]" || fmt.Sprint(ids2) != "[3 2 4 0 5]" || g.n != 6 {
		t.Errorf("ids %v then %v (n=%d), want [0 1 2 3] then [3 2 4 0 5] (n=6)", ids1, ids2, g.n)
	}
	cols := g.keyColumns(mem, 0, g.n)
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	var got []string
	for i := 0; i < g.n; i++ {
		got = append(got, fmt.Sprint(goValue(cols[0], i), "/", goValue(cols[1], i)))
	}
	if want := "[a/1 b/1 <nil>/<nil> a/2 c/1 b/<nil>]"; fmt.Sprint(got) != want {
		t.Errorf("keys %v, want %s", got, want)
	}
}

func TestHashAggregateEmptyInput(t *testing.T) {
	specs := []aggSpec{{"count", 1}, {"len", -1}, {"sum", 1}, {"min", 1}, {"max", 1}, {"mean", 1}, {"sum", 2}, {"min", 2}}
	for _, emptyBatch := range []bool{false, true} {
		t.Run(fmt.Sprintf("empty batch %v", emptyBatch), func(t *testing.T) {
			mem, ctx := newMem(t)
			schema := schemaOf(utf8, i64, dec(10, 3))
			input := func() Operator {
				if !emptyBatch {
					return records(schema)
				}
				return records(schema, buildBatch(t, mem, schema, nil, nil, nil))
			}
			// With keys: no groups, no rows.
			op := hashAgg(t, mem, input(), []int{0}, specs)
			if rows, _ := drain(t, ctx, op); len(rows) != 0 {
				t.Errorf("grouped aggregate of nothing gave %v", rows)
			}
			// Without keys: exactly one row; count 0, sum and the rest null.
			rows, n := drain(t, ctx, hashAgg(t, mem, input(), nil, specs))
			want := [][]any{{int64(0), int64(0), nil, nil, nil, nil, nil, nil}}
			if n != 1 || !sameRows(rows, want) {
				t.Errorf("global aggregate of nothing = %v in %d batches, want %v", rows, n, want)
			}
		})
	}
}

func TestHashAggregateEmptyBatchesBetween(t *testing.T) {
	// Empty batches (a filter that kept nothing, an empty file) mixed with
	// real ones, for every kind of key dictionary.
	mem, ctx := newMem(t)
	schema := schemaOf(i64, f64, boo, utf8, dec(5, 1), d32, i64)
	empty := func() arrow.RecordBatch { return buildBatch(t, mem, schema, nil, nil, nil, nil, nil, nil, nil) }
	full := buildBatch(t, mem, schema, []any{int64(1), int64(1)}, []any{0.5, 0.5}, []any{true, true},
		[]any{"k", "k"}, []any{"1.5", "1.5"}, []any{int64(3), int64(3)}, []any{int64(10), int64(20)})
	in := records(schema, empty(), full, empty())
	rows, _ := drain(t, ctx, hashAgg(t, mem, in, []int{0, 1, 2, 3, 4, 5}, []aggSpec{{"sum", 6}, {"len", -1}}))
	want := [][]any{{int64(1), 0.5, true, "k", "1.5", int64(3), int64(30), int64(2)}}
	if !sameRows(rows, want) {
		t.Errorf("got %v, want %v", rows, want)
	}
}

func TestHashAggregateManyGroups(t *testing.T) {
	// More groups than BatchRows: the output comes in several batches, each
	// at most BatchRows long, and every group appears once.
	mem, ctx := newMem(t)
	const groups = 2*BatchRows + 1234
	schema := schemaOf(i64, i64)
	var batches []arrow.RecordBatch
	for start := 0; start < groups; start += 50_000 {
		kb := array.NewInt64Builder(mem)
		vb := array.NewInt64Builder(mem)
		for k := start; k < min(groups, start+50_000); k++ {
			kb.Append(int64(k) * 7)
			vb.Append(int64(k))
		}
		// Every tenth key comes again in the same batch.
		for k := start; k < min(groups, start+50_000); k += 10 {
			kb.Append(int64(k) * 7)
			vb.Append(1)
		}
		ka, va := kb.NewArray(), vb.NewArray()
		batches = append(batches, array.NewRecordBatch(schema, []arrow.Array{ka, va}, int64(ka.Len())))
		ka.Release()
		va.Release()
		kb.Release()
		vb.Release()
	}
	op := hashAgg(t, mem, records(schema, batches...), []int{0}, []aggSpec{{"sum", 1}})
	defer op.Close()
	bs, err := Collect(ctx, op)
	if err != nil {
		t.Fatal(err)
	}
	defer ReleaseAll(bs)
	if len(bs) != 3 {
		t.Errorf("%d output batches, want 3", len(bs))
	}
	seen := make([]bool, groups)
	total := 0
	for _, b := range bs {
		if b.NumRows() > BatchRows {
			t.Errorf("an output batch of %d rows", b.NumRows())
		}
		keys, sums := b.Column(0).(*array.Int64), b.Column(1).(*array.Int64)
		for i := 0; i < keys.Len(); i++ {
			k := int(keys.Value(i) / 7)
			if seen[k] {
				t.Fatalf("group %d twice", k)
			}
			seen[k] = true
			want := int64(k)
			if k%10 == 0 {
				want++
			}
			if sums.Value(i) != want {
				t.Fatalf("group %d: sum %d, want %d", k, sums.Value(i), want)
			}
		}
		total += keys.Len()
	}
	if total != groups {
		t.Errorf("%d groups, want %d", total, groups)
	}
}

func TestHashAggregateErrors(t *testing.T) {
	mem, ctx := newMem(t)
	schema := schemaOf(arrow.ListOf(i64), i64)
	bad := records(schema, batchJSON(t, mem, schema, `[{"c0": [1], "c1": 1}]`))
	op := NewHashAggregate(mem, bad, []int{0}, []Agg{{Fn: mustFn(t, "len"), Arg: -1, Name: "n", Type: i64}})
	_, err := op.Next(ctx)
	if err == nil || kernels.KindOf(err) != kernels.NotSupported || !strings.Contains(err.Error(), "list") {
		t.Errorf("grouping by a list: want a not-supported error naming the type, got %v", err)
	}
	op.Close()

	// An input error travels out of Next.
	schema = schemaOf(i64)
	boom := &failing{Records: records(schema, batchJSON(t, mem, schema, `[{"c0": 1}]`)), err: kernels.Errorf(kernels.Invalid, "boom")}
	op = NewHashAggregate(mem, boom, []int{0}, []Agg{{Fn: mustFn(t, "len"), Arg: -1, Name: "n", Type: i64}})
	if _, err := op.Next(ctx); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("want the input's error, got %v", err)
	}
	op.Close()
}

func TestHashAggregateString(t *testing.T) {
	mem, _ := newMem(t)
	schema := schemaOf(utf8, i64)
	op := hashAgg(t, mem, records(schema), []int{0}, []aggSpec{{"sum", 1}, {"len", -1}})
	defer op.Close()
	if got, want := op.String(), "HashAggregate keys=[c0] aggs=[sum(__agg0) AS sum0, len() AS len1]"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got := op.Schema().String(); !strings.Contains(got, "sum0: type=int64, nullable") || !strings.Contains(got, "c0: type=utf8, nullable") {
		t.Errorf("schema %s", got)
	}
}

func mustFn(t *testing.T, name string) *expr.Function {
	t.Helper()
	f, ok := expr.Lookup(name)
	if !ok {
		t.Fatalf("no function %s", name)
	}
	return f
}

func TestHashAggregateGlobal(t *testing.T) {
	// No keys: one row folding every batch.
	decimal := everyValueType()[len(everyValueType())-1]
	if decimal.dt.ID() != arrow.DECIMAL128 {
		t.Fatal("the last value type should be the decimal")
	}
	for _, vt := range []valueType{signedType(i16), unsignedType(u64), floatType(f32), decimal} {
		t.Run(expr.TypeName(vt.dt), func(t *testing.T) {
			mem, ctx := newMem(t)
			schema := schemaOf(vt.dt)
			vals := make([]any, 250)
			g := &groupRef{}
			for i := range vals {
				g.rows++
				if i%6 != 1 {
					base := int64(i*37%201 - 100)
					vals[i] = vt.val(base)
					g.bases = append(g.bases, base)
				}
			}
			specs := []aggSpec{{"len", -1}, {"count", 0}, {"sum", 0}, {"min", 0}, {"max", 0}, {"mean", 0}}
			in := records(schema, splitBatches(t, mem, schema, [][]any{vals}, 10, 11, 200)...)
			rows, _ := drain(t, ctx, hashAgg(t, mem, in, nil, specs))
			if len(rows) != 1 {
				t.Fatalf("%d rows, want 1", len(rows))
			}
			for j, sp := range specs {
				if want := expectAgg(vt, sp.fn, g); !sameValue(rows[0][j], want) {
					t.Errorf("%s = %v, want %v", sp.fn, rows[0][j], want)
				}
			}
		})
	}
}

func TestHashAggregateSlicedInput(t *testing.T) {
	// Limit hands on slices whose arrays start at an offset; keys and
	// values must be read from there.
	mem, ctx := newMem(t)
	schema := schemaOf(utf8, i32, boo, f64)
	in := records(schema, buildBatch(t, mem, schema,
		[]any{"a", "b", "a", nil, "b", "a", "c", nil, "a", "b"},
		[]any{int64(1), int64(2), nil, int64(4), int64(5), int64(6), int64(7), int64(8), int64(9), int64(10)},
		[]any{true, false, true, nil, false, true, true, nil, false, false},
		[]any{0.5, 1.0, 1.5, 2.0, nil, 3.0, 3.5, 4.0, 4.5, 5.0}))
	lim := NewLimit(in, 3, 5) // rows 3..7
	rows, _ := drain(t, ctx, hashAgg(t, mem, lim, []int{0, 2}, []aggSpec{{"sum", 1}, {"max", 3}, {"len", -1}}))
	got := map[string][]any{}
	for _, r := range rows {
		got[fmt.Sprint(r[0], "/", r[1])] = r[2:]
	}
	want := map[string][]any{
		"<nil>/<nil>": {int64(12), 4.0, int64(2)},
		"b/false":     {int64(5), nil, int64(1)},
		"a/true":      {int64(6), 3.0, int64(1)},
		"c/true":      {int64(7), 3.5, int64(1)},
	}
	if len(got) != len(want) {
		t.Fatalf("groups %v, want %v", got, want)
	}
	for k, w := range want {
		if !sameRows([][]any{got[k]}, [][]any{w}) {
			t.Errorf("group %s = %v, want %v", k, got[k], w)
		}
	}
}

func TestAggregateResolveAgreesWithAccumulate(t *testing.T) {
	// Every aggregate over every type: when Resolve accepts the argument,
	// the aggregate runs and returns one value of the resolved type.
	vts := everyValueType()
	vts = append(vts, valueType{dt: arrow.Null, val: func(int64) any { return nil }})
	for _, vt := range vts {
		for _, name := range []string{"count", "sum", "min", "max", "mean"} {
			fn := mustFn(t, name)
			out, _, err := fn.Resolve([]arrow.DataType{vt.dt})
			if err != nil {
				continue
			}
			t.Run(name+"/"+expr.TypeName(vt.dt), func(t *testing.T) {
				mem, ctx := newMem(t)
				schema := schemaOf(vt.dt)
				in := records(schema, buildBatch(t, mem, schema, []any{vt.val(3), nil, vt.val(-2)}))
				op := hashAgg(t, mem, in, nil, []aggSpec{{name, 0}})
				if !arrow.TypeEqual(op.Schema().Field(0).Type, out) {
					t.Errorf("output type %s, Resolve said %s", op.Schema().Field(0).Type, out)
				}
				rows, _ := drain(t, ctx, op)
				if len(rows) != 1 {
					t.Fatalf("%d rows", len(rows))
				}
				if name == "count" {
					want := int64(2)
					if vt.dt.ID() == arrow.NULL {
						want = 0
					}
					if rows[0][0] != want {
						t.Errorf("count = %v, want %d", rows[0][0], want)
					}
				} else if (rows[0][0] == nil) != (vt.dt.ID() == arrow.NULL) {
					t.Errorf("%s = %v", name, rows[0][0])
				}
			})
		}
	}
}

func TestHashAggregateManyStrings(t *testing.T) {
	// Enough distinct strings to grow the string table several times, each
	// seen in several batches.
	mem, ctx := newMem(t)
	schema := schemaOf(lstr, i64)
	const distinct = 20_000
	keys, vals := make([]any, 0, 3*distinct), make([]any, 0, 3*distinct)
	want := map[any]int64{}
	for round := 0; round < 3; round++ {
		for i := 0; i < distinct; i++ {
			var k any = fmt.Sprintf("ключ-%d-%s", i*7919%distinct, strings.Repeat("x", i%5))
			switch i {
			case 17:
				k = nil
			case 18:
				k = ""
			}
			keys = append(keys, k)
			vals = append(vals, int64(round+1))
			want[k] += int64(round + 1)
		}
	}
	in := records(schema, splitBatches(t, mem, schema, [][]any{keys, vals}, 7_000, 25_000, 40_000)...)
	rows, _ := drain(t, ctx, hashAgg(t, mem, in, []int{0}, []aggSpec{{"sum", 1}}))
	if len(rows) != len(want) {
		t.Fatalf("%d groups, want %d", len(rows), len(want))
	}
	for _, r := range rows {
		if w, ok := want[r[0]]; !ok || r[1] != w {
			t.Fatalf("group %q: sum %v, want %d", r[0], r[1], w)
		}
		delete(want, r[0])
	}
}

func TestHashAggregateFloat32Keys(t *testing.T) {
	mem, ctx := newMem(t)
	schema := schemaOf(f32, i64)
	nan := math.NaN()
	in := records(schema, buildBatch(t, mem, schema,
		[]any{0.0, math.Copysign(0, -1), nan, -nan, nil, 1.5, nil, 1.5},
		[]any{int64(1), int64(2), int64(4), int64(8), int64(16), int64(32), int64(64), int64(128)}))
	rows, _ := drain(t, ctx, hashAgg(t, mem, in, []int{0}, []aggSpec{{"sum", 1}}))
	got := map[string]any{}
	for _, r := range rows {
		got[canonKey(r[0])] = r[1]
	}
	want := map[string]any{"0": int64(3), "NaN": int64(12), "∅": int64(80), "1.5": int64(160)}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("groups %v, want %v", got, want)
	}
}

// Short strings (up to 7 bytes) are found by their packed bytes and length,
// longer ones by hash; both kinds, and near-misses between them, get
// distinct ids, the same ones again in a frozen lookup.
func TestGrouperShortAndLongStrings(t *testing.T) {
	mem, _ := newMem(t)
	g, err := newGrouper([]arrow.DataType{utf8})
	if err != nil {
		t.Fatal(err)
	}
	schema := schemaOf(utf8)
	vals := `[{"c0": ""}, {"c0": "a"}, {"c0": "a\u0000"}, {"c0": "abcdefg"}, {"c0": "abcdefgh"}, {"c0": "ü"},
		{"c0": null}, {"c0": "abcdefg"}, {"c0": ""}, {"c0": "abcdefgh"}, {"c0": "a"}]`
	b := batchJSON(t, mem, schema, vals)
	defer b.Release()
	ids := append([]uint32(nil), g.groupIDs(b.Columns(), int(b.NumRows()))...)
	if want := "[0 1 2 3 4 5 6 3 0 4 1]"; fmt.Sprint(ids) != want {
		t.Errorf("ids %v, want %s", ids, want)
	}
	g.freeze()
	probe := batchJSON(t, mem, schema, `[{"c0": "abcdefgh"}, {"c0": "zz"}, {"c0": "ü"}, {"c0": "abcdefghi"}]`)
	defer probe.Release()
	if got := fmt.Sprint(g.groupIDs(probe.Columns(), int(probe.NumRows()))); got != fmt.Sprint([]uint32{4, noID, 5, noID}) {
		t.Errorf("frozen lookups %s", got)
	}
}

// Strings without nulls are encoded from their offsets and bytes: a slice
// (whose offsets do not start at zero) and large strings give the same ids.
func TestGrouperStringsWithoutNullsSliced(t *testing.T) {
	mem, _ := newMem(t)
	for _, typ := range []arrow.DataType{utf8, arrow.BinaryTypes.LargeString} {
		g, err := newGrouper([]arrow.DataType{typ})
		if err != nil {
			t.Fatal(err)
		}
		b := batchJSON(t, mem, schemaOf(typ), `[{"c0": "skipped"}, {"c0": "x"}, {"c0": ""}, {"c0": "abcdefgh"},
			{"c0": "ü"}, {"c0": ""}, {"c0": "abcdefgh"}, {"c0": "x"}, {"c0": "tail"}]`)
		sliced := b.NewSlice(1, 8)
		want := "[0 1 2 3 1 2 0]"
		if ids := fmt.Sprint(g.groupIDs(sliced.Columns(), 7)); ids != want {
			t.Errorf("%s: ids %s, want %s", typ, ids, want)
		}
		g.freeze()
		if ids := fmt.Sprint(g.groupIDs(sliced.Columns(), 7)); ids != want {
			t.Errorf("%s frozen: ids %s, want %s", typ, ids, want)
		}
		sliced.Release()
		b.Release()
	}
}

// spreadKeys is 40 keys 50 apart (0, 50, ..., 1950), one repeated, and a null.
func spreadKeys() string {
	rows := []string{`{"c0": 100}`}
	for k := 0; k < 40; k++ {
		rows = append(rows, fmt.Sprintf(`{"c0": %d}`, 50*k))
	}
	return "[" + strings.Join(rows, ", ") + `, {"c0": null}]`
}

// A frozen dictionary of dense integer keys looks them up in an array over
// their range; keys outside it, and missing ones inside, find nothing,
// exactly as with the hash table a sparse set of keys keeps.
func TestGrouperDenseKeysFrozen(t *testing.T) {
	mem, _ := newMem(t)
	schema := schemaOf(i64)
	for _, build := range []string{
		`[{"c0": 7}, {"c0": 5}, {"c0": 9}, {"c0": 5}, {"c0": null}]`,       // dense: 5..9
		`[{"c0": 7}, {"c0": 5}, {"c0": 9000000}, {"c0": 5}, {"c0": null}]`, // sparse
		`[{"c0": -7}, {"c0": -5}, {"c0": -9}, {"c0": -5}, {"c0": null}]`,   // dense, negative
		spreadKeys(), // a range 50 times the keys: a bitmap answers misses
	} {
		g, err := newGrouper([]arrow.DataType{i64})
		if err != nil {
			t.Fatal(err)
		}
		b := batchJSON(t, mem, schema, build)
		ids := append([]uint32(nil), g.groupIDs(b.Columns(), int(b.NumRows()))...)
		g.freeze()
		// the same keys again, no nulls (the direct path), then keys not there
		again := batchJSON(t, mem, schema, strings.ReplaceAll(strings.ReplaceAll(build, `, {"c0": null}`, ""), " ", ""))
		got := g.groupIDs(again.Columns(), int(again.NumRows()))
		if fmt.Sprint(got) != fmt.Sprint(ids[:len(ids)-1]) { // all but the null
			t.Errorf("%s: frozen ids %v, want %v", build, got, ids[:len(ids)-1])
		}
		if d := g.dicts[0].(*intDict[uint64]); (d.present != nil) != (build == spreadKeys()) {
			t.Errorf("%s: bitmap of keys %v", build, d.present != nil)
		}
		missing := batchJSON(t, mem, schema, `[{"c0": 6}, {"c0": 4}, {"c0": 10}, {"c0": -6}, {"c0": -9223372036854775808}, {"c0": 49}, {"c0": 1951}, {"c0": 9223372036854775807}]`)
		for _, id := range g.groupIDs(missing.Columns(), int(missing.NumRows())) {
			if id != noID {
				t.Errorf("%s: a key never seen found id %d", build, id)
			}
		}
		b.Release()
		again.Release()
		missing.Release()
	}
}

// Group ids of keys partly determined by the first (most prefixes pair with
// one value, some with several) equal those of a map from the whole row,
// across batches, and a frozen grouper finds exactly the rows it saw.
func TestGrouperDependentKeys(t *testing.T) {
	mem, _ := newMem(t)
	g, err := newGrouper([]arrow.DataType{i64, i64, i64})
	if err != nil {
		t.Fatal(err)
	}
	schema := schemaOf(i64, i64, i64)
	rng := rand.New(rand.NewSource(3))
	want := map[[3]int64]uint32{}
	row := func() [3]int64 {
		k := rng.Int63n(300)
		r := [3]int64{k, k * 7, k % 5}
		if rng.Intn(10) == 0 {
			r[1] = rng.Int63n(4) // a few prefixes pair with other values
		}
		return r
	}
	batch := func(rows [][3]int64) arrow.RecordBatch {
		parts := make([]string, len(rows))
		for i, r := range rows {
			parts[i] = fmt.Sprintf(`{"c0": %d, "c1": %d, "c2": %d}`, r[0], r[1], r[2])
		}
		return batchJSON(t, mem, schema, "["+strings.Join(parts, ",")+"]")
	}
	for range 3 {
		rows := make([][3]int64, 500)
		for i := range rows {
			rows[i] = row()
		}
		b := batch(rows)
		for i, id := range g.groupIDs(b.Columns(), len(rows)) {
			if w, seen := want[rows[i]]; !seen {
				want[rows[i]] = id
			} else if w != id {
				t.Fatalf("row %v: id %d, earlier %d", rows[i], id, w)
			}
		}
		b.Release()
	}
	if g.n != len(want) {
		t.Fatalf("%d groups, want %d", g.n, len(want))
	}
	g.freeze()
	probe := make([][3]int64, 400)
	for i := range probe {
		probe[i] = row()
		if i%3 == 0 {
			probe[i][2]++ // mostly unseen
		}
	}
	b := batch(probe)
	defer b.Release()
	checkFrozenIDs(t, g.groupIDs(b.Columns(), len(probe)), probe, want)
}

// Keys in runs (a file sorted by its key): ids equal those of a map, across
// batches that start inside a run, building and frozen, where a run of a
// key not seen stays unseen and the key after it is found.
func TestGrouperSortedKeys(t *testing.T) {
	mem, _ := newMem(t)
	schema := schemaOf(i64)
	g, err := newGrouper([]arrow.DataType{i64})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(5))
	var keys []int64
	for k := int64(1); len(keys) < 3000; k += 1 + rng.Int63n(30) { // spread: a bitmap, no direct map
		for range 1 + rng.Intn(7) {
			keys = append(keys, k)
		}
	}
	batch := func(keys []int64) arrow.RecordBatch {
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf(`{"c0": %d}`, k)
		}
		return batchJSON(t, mem, schema, "["+strings.Join(parts, ",")+"]")
	}
	want := map[int64]uint32{}
	for start := 0; start < len(keys); start += 777 {
		part := keys[start:min(start+777, len(keys))]
		b := batch(part)
		for i, id := range g.groupIDs(b.Columns(), len(part)) {
			if w, seen := want[part[i]]; !seen {
				if int(id) != len(want) {
					t.Fatalf("key %d: new id %d, want %d", part[i], id, len(want))
				}
				want[part[i]] = id
			} else if w != id {
				t.Fatalf("key %d: id %d, earlier %d", part[i], id, w)
			}
		}
		b.Release()
	}
	g.freeze()
	if g.dicts[0].(*intDict[uint64]).present == nil {
		t.Fatal("no bitmap of the keys")
	}
	probe := []int64{keys[0], keys[0], -1, -1, keys[5], keys[5], keys[5] + 1, keys[5] + 1, keys[len(keys)-1]}
	b := batch(probe)
	defer b.Release()
	checkFrozenIDs(t, g.groupIDs(b.Columns(), len(probe)), probe, want)
}

// checkFrozenIDs checks the ids a frozen grouper gave the rows probe: the
// id seen when building (want), or noID for a key never seen.
func checkFrozenIDs[K comparable](t *testing.T, ids []uint32, probe []K, want map[K]uint32) {
	t.Helper()
	for i, id := range ids {
		w, seen := want[probe[i]]
		if !seen {
			w = noID
		}
		if id != w {
			t.Errorf("frozen probe %v: id %d, want %d", probe[i], id, w)
		}
	}
}

// TestHashAggregateFiltered: an aggregate with a filter column folds only
// the rows where it is true (null counts as false), group by group.
func TestHashAggregateFiltered(t *testing.T) {
	mem, ctx := newMem(t)
	schema := schemaOf(utf8, i64, boo)
	in := records(schema,
		buildBatch(t, mem, schema, []any{"a", "a", "b", "b"}, []any{int64(1), int64(2), int64(3), nil}, []any{true, false, nil, true}),
		buildBatch(t, mem, schema, []any{"a", "c"}, []any{int64(5), int64(7)}, []any{true, false}))
	sum, _ := expr.Lookup("sum")
	length, _ := expr.Lookup("len")
	aggs := []Agg{
		{Fn: sum, Arg: 1, Name: "s", Type: i64, Filtered: true, Filter: 2},
		{Fn: length, Arg: -1, Name: "n", Type: i64, Filtered: true, Filter: 2},
		{Fn: sum, Arg: 1, Name: "all", Type: i64},
	}
	rows, _ := drain(t, ctx, NewHashAggregate(mem, in, []int{0}, aggs))
	got := map[string][]any{}
	for _, r := range rows {
		got[r[0].(string)] = r[1:]
	}
	want := map[string][]any{"a": {int64(6), int64(2), int64(8)}, "b": {nil, int64(1), int64(3)}, "c": {nil, int64(0), int64(7)}}
	for k, w := range want {
		for j := range w {
			if !sameValue(got[k][j], w[j]) {
				t.Errorf("group %s: got %v, want %v", k, got[k], w)
			}
		}
	}
}
