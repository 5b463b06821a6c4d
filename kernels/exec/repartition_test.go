package exec

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels/expr"
)

// repartitionInput is input i of a repartition test: rows numbered
// i*1000+r, keyed by an int (some null) and a string, in several batches.
func repartitionInput(t *testing.T, mem memory.Allocator, schema *arrow.Schema, i int) Operator {
	var batches []arrow.RecordBatch
	for start := 0; start < 300; start += 100 {
		var ks, ss, ns []any
		for r := start; r < start+100; r++ {
			var k any = int64(r % 37)
			if r%11 == 0 {
				k = nil
			}
			ks = append(ks, k)
			ss = append(ss, fmt.Sprintf("s%d", r%5))
			ns = append(ns, int64(i*1000+r))
		}
		batches = append(batches, buildBatch(t, mem, schema, ks, ss, ns))
	}
	return records(schema, batches...)
}

// readAll reads every output at once, each in its goroutine, as the
// aggregates over a Repartition do.
func readAll(t *testing.T, ctx context.Context, outs []Operator) [][][]any {
	t.Helper()
	rows := make([][][]any, len(outs))
	errs := make([]error, len(outs))
	var wg sync.WaitGroup
	for p, o := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bs, err := Collect(ctx, o)
			errs[p] = err
			rows[p] = rowsOf(bs)
			ReleaseAll(bs)
		}()
	}
	wg.Wait()
	for p, err := range errs {
		if err != nil {
			t.Fatalf("output %d: %v", p, err)
		}
	}
	return rows
}

func TestRepartitionKeepsKeysTogetherInInputOrder(t *testing.T) {
	mem, ctx := newMem(t)
	schema := schemaOf(i64, utf8, i64)
	inputs := []Operator{repartitionInput(t, mem, schema, 0), repartitionInput(t, mem, schema, 1), repartitionInput(t, mem, schema, 2)}
	rp, err := NewRepartition(mem, inputs, []int{0, 1}, 3)
	if err != nil {
		t.Fatal(err)
	}
	outs := rp.Outputs()
	if txt := Explain(outs[0]); !strings.Contains(txt, "Repartition part=1/3 keys=[c0, c1]") || !strings.Contains(txt, "Records") {
		t.Errorf("EXPLAIN of the first output:\n%s", txt)
	}
	if txt := Explain(outs[1]); strings.Contains(txt, "Records") {
		t.Errorf("the inputs are shown under the first output alone:\n%s", txt)
	}
	got := readAll(t, ctx, outs)
	for _, o := range outs {
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
	}
	owner := map[string]int{}
	seen := map[int64]bool{}
	for p, rows := range got {
		if len(rows) == 0 {
			t.Errorf("output %d got no rows", p)
		}
		last := int64(-1)
		for _, r := range rows {
			key := fmt.Sprint(r[0], "/", r[1])
			if q, ok := owner[key]; ok && q != p {
				t.Fatalf("key %s in outputs %d and %d", key, q, p)
			}
			owner[key] = p
			n := r[2].(int64)
			if n <= last {
				t.Fatalf("output %d: row %d after row %d (input order lost)", p, n, last)
			}
			last = n
			if seen[n] {
				t.Fatalf("row %d twice", n)
			}
			seen[n] = true
		}
	}
	if len(seen) != 900 {
		t.Errorf("%d rows out, want 900", len(seen))
	}
}

func TestRepartitionOutputsClosedEarly(t *testing.T) {
	mem, ctx := newMem(t)
	schema := schemaOf(i64, utf8, i64)
	// Inputs longer than the outputs buffer: an output closed unread must
	// not hold the others back.
	var inputs []Operator
	for i := 0; i < 2; i++ {
		var batches []arrow.RecordBatch
		for b := 0; b < 4*repartitionAhead; b++ {
			in := repartitionInput(t, mem, schema, i)
			bs, _ := Collect(ctx, in)
			in.Close()
			batches = append(batches, bs...)
		}
		inputs = append(inputs, records(schema, batches...))
	}
	rp, err := NewRepartition(mem, inputs, []int{1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	outs := rp.Outputs()
	outs[1].Close()
	rows, _ := drain(t, ctx, outs[0])
	if len(rows) == 0 {
		t.Error("the output left open got no rows")
	}

	// Closed with nothing read at all.
	rp, err = NewRepartition(mem, []Operator{repartitionInput(t, mem, schema, 0), repartitionInput(t, mem, schema, 1)}, []int{0}, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range rp.Outputs() {
		o.Close()
	}
}

func TestRepartitionInputError(t *testing.T) {
	mem, ctx := newMem(t)
	schema := schemaOf(i64, utf8, i64)
	bad := &failing{Records: repartitionInput(t, mem, schema, 1).(*Records), err: errors.New("boom")}
	rp, err := NewRepartition(mem, []Operator{repartitionInput(t, mem, schema, 0), bad}, []int{0}, 2)
	if err != nil {
		t.Fatal(err)
	}
	outs := rp.Outputs()
	defer func() {
		for _, o := range outs {
			o.Close()
		}
	}()
	var wg sync.WaitGroup
	errs := make([]error, len(outs))
	for p, o := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bs, err := Collect(ctx, o)
			ReleaseAll(bs)
			errs[p] = err
		}()
	}
	wg.Wait()
	for p, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "boom") {
			t.Errorf("output %d: got %v, want the input's error", p, err)
		}
	}
}

func TestRepartitionRefusesUnhashableKeys(t *testing.T) {
	mem, _ := newMem(t)
	schema := arrow.NewSchema([]arrow.Field{{Name: "l", Type: arrow.ListOf(i64), Nullable: true}}, nil)
	in := records(schema)
	defer in.Close()
	if _, err := NewRepartition(mem, []Operator{in}, []int{0}, 2); err == nil || !strings.Contains(err.Error(), "cannot hash-partition") {
		t.Errorf("got %v, want an error naming the key type", err)
	}
}

// A Partial aggregate that finds about a group per row emits the groups it
// holds, then passes the rest of its rows on as groups of their own; its
// rows merged per key give what one aggregate gives.
func TestHashAggregatePartialPassesRowsThrough(t *testing.T) {
	mem, ctx := newMem(t)
	defer func(n int) { passProbeRows = n }(passProbeRows)
	passProbeRows = 200
	schema := schemaOf(i64, f64, boo, i64)
	var batches []arrow.RecordBatch
	defer func() { ReleaseAll(batches) }()
	for start := 0; start < 1000; start += 100 {
		var ks, vs, fs, ws []any
		for r := start; r < start+100; r++ {
			var k any = int64(r % 900) // rows 900.. repeat the first keys
			if r%97 == 0 {
				k = nil
			}
			var v any = float64(r)
			if r%13 == 0 {
				v = nil
			}
			ks, vs, fs, ws = append(ks, k), append(vs, v), append(fs, r%3 != 0), append(ws, int64(r*r%1000))
		}
		batches = append(batches, buildBatch(t, mem, schema, ks, vs, fs, ws))
	}
	sum, _ := expr.Lookup("sum")
	count, _ := expr.Lookup("count")
	length, _ := expr.Lookup("len")
	maxFn, _ := expr.Lookup("max")
	minFn, _ := expr.Lookup("min")
	aggs := []Agg{
		{Fn: sum, Arg: 1, Name: "s", Type: f64},
		{Fn: count, Arg: 1, Name: "c", Type: i64},
		{Fn: length, Arg: -1, Name: "n", Type: i64},
		{Fn: maxFn, Arg: 1, Name: "m", Type: f64},
		{Fn: length, Arg: -1, Name: "nf", Type: i64, Filtered: true, Filter: 2},
		// No nulls: a row passes on as its own sum and min.
		{Fn: sum, Arg: 3, Name: "sw", Type: i64},
		{Fn: minFn, Arg: 3, Name: "mw", Type: i64},
	}
	input := func() Operator {
		for _, b := range batches {
			b.Retain()
		}
		return records(schema, batches...)
	}
	partial := NewHashAggregate(mem, input(), []int{0}, aggs)
	partial.Partial = true
	rows, _ := drain(t, ctx, partial)
	if len(rows) < 900 {
		t.Fatalf("%d partial rows: the rows after the probe should pass through one by one", len(rows))
	}
	type state struct {
		s          float64
		c, n, nf   int64
		m          float64
		sw, mw     int64
		hasS, hasM bool
	}
	merged := map[any]*state{}
	for _, r := range rows {
		st := merged[r[0]]
		if st == nil {
			st = &state{}
			merged[r[0]] = st
		}
		if r[1] != nil {
			st.s, st.hasS = st.s+r[1].(float64), true
		}
		st.c += r[2].(int64)
		st.n += r[3].(int64)
		if r[4] != nil && (!st.hasM || r[4].(float64) > st.m) {
			st.m, st.hasM = r[4].(float64), true
		}
		st.nf += r[5].(int64)
		st.sw += r[6].(int64)
		if w := r[7].(int64); st.n == r[3].(int64) || w < st.mw {
			st.mw = w // the first row of the key, or a smaller one
		}
	}
	// One aggregate over the same rows is the oracle.
	want, _ := drain(t, ctx, NewHashAggregate(mem, input(), []int{0}, aggs))
	if len(want) != len(merged) {
		t.Fatalf("%d keys merged, want %d", len(merged), len(want))
	}
	for _, w := range want {
		st := merged[w[0]]
		var s, m any
		if st.hasS {
			s = st.s
		}
		if st.hasM {
			m = st.m
		}
		got := []any{w[0], s, st.c, st.n, m, st.nf, st.sw, st.mw}
		if !sameRows([][]any{got}, [][]any{w}) {
			t.Errorf("key %v: merged %v, want %v", w[0], got, w)
		}
	}
}

// TestPartialPassesDictionaryKeysToFinals: partial aggregates that pass
// their rows through (a string key and an int key, about a group a row)
// keep the string keys read as dictionaries (a dictionary shared by the
// batches, some of its values used by no row); the Repartition sends a
// key to the same final whether it comes as a group the partial held (a
// plain string) or as a passed row (a dictionary index), and the finals
// give each key used once, with its sums, and no key unused.
func TestPartialPassesDictionaryKeysToFinals(t *testing.T) {
	mem, ctx := newMem(t)
	defer func(n int) { passProbeRows = n }(passProbeRows)
	passProbeRows = 200
	rng := rand.New(rand.NewSource(3))
	db := array.NewStringBuilder(mem)
	for i := range 100 {
		if i%7 == 0 {
			db.Append(fmt.Sprintf("a key longer than seven bytes %d", i))
		} else {
			db.Append(fmt.Sprintf("k%d", i))
		}
	}
	dict := db.NewArray().(*array.String)
	db.Release()
	defer dict.Release()
	dictType := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: utf8}
	schema := schemaOf(utf8, i64, f64)
	read := arrow.NewSchema([]arrow.Field{{Name: "c0", Type: dictType, Nullable: true}, schema.Field(1), schema.Field(2)}, nil)
	type sums struct {
		s float64
		n int64
	}
	want := map[[2]any]*sums{}
	inputs := make([][]arrow.RecordBatch, 2)
	for in := range inputs {
		for range 8 {
			ib, kb, vb := array.NewInt32Builder(mem), array.NewInt64Builder(mem), array.NewFloat64Builder(mem)
			for range 400 {
				var key [2]any
				if rng.Intn(15) == 0 {
					ib.AppendNull()
				} else {
					k := rng.Intn(75) // values 75.. are used by no row
					ib.Append(int32(k))
					key[0] = dict.Value(k)
				}
				k := int64(rng.Intn(2000))
				kb.Append(k)
				key[1] = k
				v := float64(rng.Intn(1000))
				vb.Append(v)
				if want[key] == nil {
					want[key] = &sums{}
				}
				want[key].s += v
				want[key].n++
			}
			ids := ib.NewArray()
			keys := array.NewDictionaryArray(dictType, ids, dict)
			ids.Release()
			cols := []arrow.Array{keys, kb.NewArray(), vb.NewArray()}
			ib.Release()
			kb.Release()
			vb.Release()
			inputs[in] = append(inputs[in], array.NewRecordBatch(read, cols, 400))
			releaseArrays(cols)
		}
	}
	defer func() {
		for _, bs := range inputs {
			ReleaseAll(bs)
		}
	}()
	sum, _ := expr.Lookup("sum")
	length, _ := expr.Lookup("len")
	partial := func(in int) *HashAggregate {
		for _, b := range inputs[in] {
			b.Retain()
		}
		h := NewHashAggregate(mem, records(schema, inputs[in]...), []int{0, 1},
			[]Agg{{Fn: sum, Arg: 2, Name: "s", Type: f64}, {Fn: length, Arg: -1, Name: "n", Type: i64}})
		h.Partial = true
		return h
	}

	// The rows a partial passes keep their dictionary keys.
	p := partial(0)
	bs, err := Collect(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) < 2 {
		t.Fatalf("%d batches: the partial should have passed its rows after the first %d", len(bs), passProbeRows)
	}
	if last := bs[len(bs)-1].Column(0); last.DataType().ID() != arrow.DICTIONARY {
		t.Errorf("a passed row's key is a %s, want the dictionary it came as", last.DataType())
	}
	ReleaseAll(bs)
	p.Close()

	rp, err := NewRepartition(mem, []Operator{partial(0), partial(1)}, []int{0, 1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	var finals []Operator
	for _, o := range rp.Outputs() {
		finals = append(finals, NewHashAggregate(mem, o, []int{0, 1},
			[]Agg{{Fn: sum, Arg: 2, Name: "s", Type: f64}, {Fn: sum, Arg: 3, Name: "n", Type: i64}}))
	}
	rows, _ := drain(t, ctx, NewUnion(finals, true))
	if len(rows) != len(want) {
		t.Fatalf("%d groups, want %d (a key in two finals, or an unused value made a group)", len(rows), len(want))
	}
	seen := map[[2]any]bool{}
	for _, r := range rows {
		key := [2]any{r[0], r[1]}
		w := want[key]
		if w == nil || seen[key] {
			t.Fatalf("key %v: unexpected or twice", key)
		}
		seen[key] = true
		if !sameValue(r[2], w.s) || r[3] != w.n {
			t.Errorf("key %v: sum %v count %v, want %v %v", key, r[2], r[3], w.s, w.n)
		}
	}
}

// A partial aggregate gives up early on keys all distinct in its first
// rows, and only at the probe on keys that repeat a little.
func TestPartialGivesUpEarlyOnDistinctKeys(t *testing.T) {
	h := &HashAggregate{Partial: true}
	for _, c := range []struct {
		rows, groups int
		want         bool
	}{
		{passEarlyRows - 1, passEarlyRows - 1, false}, // too few rows to tell
		{passEarlyRows, passEarlyRows, true},          // all distinct
		{passEarlyRows, passEarlyRows * 94 / 100, false},
		{passProbeRows, passProbeRows * 94 / 100, true}, // past the probe, a few repeats are not enough
		{passProbeRows, passProbeRows * 63 / 100, false},
	} {
		if got := h.givesUp(c.rows, c.groups); got != c.want {
			t.Errorf("givesUp(%d rows, %d groups) = %v, want %v", c.rows, c.groups, got, c.want)
		}
	}
}
