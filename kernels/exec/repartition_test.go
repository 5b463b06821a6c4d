package exec

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
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
	schema := schemaOf(i64, f64, boo)
	var batches []arrow.RecordBatch
	defer func() { ReleaseAll(batches) }()
	for start := 0; start < 1000; start += 100 {
		var ks, vs, fs []any
		for r := start; r < start+100; r++ {
			var k any = int64(r % 900) // rows 900.. repeat the first keys
			if r%97 == 0 {
				k = nil
			}
			var v any = float64(r)
			if r%13 == 0 {
				v = nil
			}
			ks, vs, fs = append(ks, k), append(vs, v), append(fs, r%3 != 0)
		}
		batches = append(batches, buildBatch(t, mem, schema, ks, vs, fs))
	}
	sum, _ := expr.Lookup("sum")
	count, _ := expr.Lookup("count")
	length, _ := expr.Lookup("len")
	maxFn, _ := expr.Lookup("max")
	aggs := []Agg{
		{Fn: sum, Arg: 1, Name: "s", Type: f64},
		{Fn: count, Arg: 1, Name: "c", Type: i64},
		{Fn: length, Arg: -1, Name: "n", Type: i64},
		{Fn: maxFn, Arg: 1, Name: "m", Type: f64},
		{Fn: length, Arg: -1, Name: "nf", Type: i64, Filtered: true, Filter: 2},
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
		got := []any{w[0], s, st.c, st.n, m, st.nf}
		if !sameRows([][]any{got}, [][]any{w}) {
			t.Errorf("key %v: merged %v, want %v", w[0], got, w)
		}
	}
}
