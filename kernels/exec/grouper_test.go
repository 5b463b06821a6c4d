package exec

import (
	"fmt"
	"math"
	"math/rand"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestTupleGroupIDs groups random rows of three keys (int with nulls,
// string with nulls and empty strings, float with NaN and -0) batch by
// batch, checks the ids against a map of the rows' values, then looks
// up known and unknown tuples once frozen.
func TestTupleGroupIDs(t *testing.T) {
	mem, _ := newMem(t)
	rng := rand.New(rand.NewSource(11))
	schema := schemaOf(i64, utf8, arrow.PrimitiveTypes.Float64)
	want := map[string]uint32{}
	g, err := newGrouper([]arrow.DataType{i64, utf8, arrow.PrimitiveTypes.Float64})
	if err != nil {
		t.Fatal(err)
	}
	keyOf := func(b arrow.RecordBatch, i int) string {
		f := goValue(b.Column(2), i)
		if v, ok := f.(float64); ok && v == 0 {
			f = 0.0 // -0 groups with 0
		} else if ok && v != v {
			f = "NaN"
		}
		return fmt.Sprint(goValue(b.Column(0), i), "|", goValue(b.Column(1), i), "|", f)
	}
	for batch := range 6 {
		n := 1 + rng.Intn(3000)
		cols := [][]any{make([]any, n), make([]any, n), make([]any, n)}
		for i := range n {
			if rng.Intn(9) > 0 {
				cols[0][i] = int64(rng.Intn(40) - 20)
			}
			if rng.Intn(9) > 0 {
				cols[1][i] = []string{"", "a", "日本", "long string value"}[rng.Intn(4)]
			}
			if rng.Intn(9) > 0 {
				cols[2][i] = []float64{0, math.Copysign(0, -1), math.NaN(), 1.5}[rng.Intn(4)]
			}
		}
		b := buildBatch(t, mem, schema, cols...)
		ids := g.groupIDs(b.Columns(), n)
		for i, id := range ids {
			k := keyOf(b, i)
			if w, ok := want[k]; ok && w != id {
				t.Fatalf("batch %d row %d %s: id %d, earlier %d", batch, i, k, id, w)
			} else if !ok {
				if int(id) != len(want) {
					t.Fatalf("batch %d row %d %s: new group id %d, want %d", batch, i, k, id, len(want))
				}
				want[k] = id
			}
		}
		if g.n != len(want) {
			t.Fatalf("%d groups, want %d", g.n, len(want))
		}
		b.Release()
	}
	keys := g.keyColumns(mem, 0, g.n)
	kb := array.NewRecordBatch(schema, keys, int64(g.n))
	releaseArrays(keys)
	for i := range g.n {
		if want[keyOf(kb, i)] != uint32(i) {
			t.Fatalf("group %d's keys %s have id %d", i, keyOf(kb, i), want[keyOf(kb, i)])
		}
	}
	kb.Release()
	g.freeze()
	probe := buildBatch(t, mem, schema, []any{int64(1), int64(99), nil}, []any{"a", "a", "zz"}, []any{1.5, 1.5, nil})
	defer probe.Release()
	ids := g.groupIDs(probe.Columns(), 3)
	if w, ok := want[keyOf(probe, 0)]; (ok && ids[0] != w) || (!ok && ids[0] != noID) {
		t.Fatalf("frozen lookup of a known tuple: %d, want %d (%v)", ids[0], w, ok)
	}
	if ids[1] != noID || ids[2] != noID {
		t.Fatalf("frozen lookup of unknown tuples: %v, want noID", ids[1:])
	}
}

// TestIntDictDense groups batches of integer keys whose range stays dense,
// widens down and up, then turns sparse (the keys move to the hash
// table), with nulls, checking ids against a map; then looks keys up
// frozen, in each of those states.
func TestIntDictDense(t *testing.T) {
	mem, _ := newMem(t)
	schema := schemaOf(i64)
	rng := rand.New(rand.NewSource(13))
	for _, stop := range []int{1, 3, 5} {
		g, err := newGrouper([]arrow.DataType{i64})
		if err != nil {
			t.Fatal(err)
		}
		want := map[any]uint32{}
		check := intIDChecker(t, mem, schema, g, want)
		ranges := [][2]int64{{1000, 1100}, {900, 1200}, {0, 3000}, {2000, 6000}, {0, 1 << 40}}
		for _, r := range ranges[:stop] {
			vals := make([]any, 2000)
			for i := range vals {
				if rng.Intn(20) > 0 {
					vals[i] = r[0] + rng.Int63n(r[1]-r[0])
				}
			}
			check(vals, false)
		}
		d := g.dicts[0].(*intDict[uint64])
		if d.dense != (stop < 5) {
			t.Fatalf("after %d ranges: dense %v", stop, d.dense)
		}
		g.freeze()
		probe := []any{nil, int64(-1), int64(1 << 41)}
		for v := range want {
			probe = append(probe, v)
		}
		check(probe, true)
	}
}

// intIDChecker groups batches of one integer key and checks each row's
// id against want (the ids seen so far, filled as keys come): a key keeps
// its id, a new key takes the next, and a frozen grouper gives noID to a
// key never seen.
func intIDChecker(t *testing.T, mem memory.Allocator, schema *arrow.Schema, g *grouper, want map[any]uint32) func(vals []any, frozen bool) {
	return func(vals []any, frozen bool) {
		t.Helper()
		b := buildBatch(t, mem, schema, vals)
		defer b.Release()
		ids := g.groupIDs(b.Columns(), len(vals))
		for i, v := range vals {
			w, ok := want[v]
			switch {
			case ok && ids[i] != w:
				t.Fatalf("key %v: id %d, earlier %d", v, ids[i], w)
			case !ok && frozen && ids[i] != noID:
				t.Fatalf("frozen, key %v never seen: id %d", v, ids[i])
			case !ok && !frozen && int(ids[i]) != len(want):
				t.Fatalf("new key %v: id %d, want %d", v, ids[i], len(want))
			case !ok && !frozen:
				want[v] = ids[i]
			}
		}
	}
}

// TestIntDictTurnsDense: keys whose first batch is too few for their
// range (a million ids read 32K at a time) go to the hash table, then to
// direct indexing once enough of them are seen, with the same ids.
func TestIntDictTurnsDense(t *testing.T) {
	mem, _ := newMem(t)
	schema := schemaOf(i64)
	rng := rand.New(rand.NewSource(17))
	g, err := newGrouper([]arrow.DataType{i64})
	if err != nil {
		t.Fatal(err)
	}
	want := map[any]uint32{}
	check := intIDChecker(t, mem, schema, g, want)
	d := g.dicts[0].(*intDict[uint64])
	for batch := range 12 {
		vals := make([]any, 2000)
		for i := range vals {
			if rng.Intn(50) > 0 {
				vals[i] = 5000 + rng.Int63n(20000)
			}
		}
		check(vals, false)
		if batch == 0 && d.dense {
			t.Fatal("2,000 keys over a range of 20,000: indexed directly from the first batch")
		}
	}
	if !d.dense {
		t.Fatalf("%d keys over a range of 20,000: still hashed", len(d.vals))
	}
	check([]any{int64(1 << 40), int64(3), nil}, false) // far away: back to the table
	if d.dense {
		t.Fatal("a key 2^40 away: still indexed directly")
	}
	g.freeze()
	probe := []any{nil, int64(-1), int64(1 << 41), int64(4999)}
	for v := range want {
		probe = append(probe, v)
	}
	check(probe, true)
}

// TestIntDictHashedNullsSliced groups slices of an array of sparse integer
// keys with nulls (the hash table's loop reading the validity bitmap at an
// offset).
func TestIntDictHashedNullsSliced(t *testing.T) {
	mem, _ := newMem(t)
	rng := rand.New(rand.NewSource(17))
	vals := make([]any, 5000)
	for i := range vals {
		if rng.Intn(4) > 0 {
			vals[i] = rng.Int63n(300) << 30 // spread: never dense
		}
	}
	b := buildBatch(t, mem, schemaOf(i64), vals)
	defer b.Release()
	g, err := newGrouper([]arrow.DataType{i64})
	if err != nil {
		t.Fatal(err)
	}
	want := map[any]uint32{}
	for _, cut := range [][2]int{{3, 1000}, {1000, 1001}, {1001, 4999}, {7, 5000}} {
		part := array.NewSlice(b.Column(0), int64(cut[0]), int64(cut[1]))
		ids := g.groupIDs([]arrow.Array{part}, part.Len())
		part.Release()
		for i, id := range ids {
			v := vals[cut[0]+i]
			if w, ok := want[v]; ok && w != id {
				t.Fatalf("key %v: id %d, earlier %d", v, id, w)
			} else if !ok {
				want[v] = id
			}
		}
	}
	if g.dicts[0].(*intDict[uint64]).dense || g.n != len(want) {
		t.Fatalf("dense %v, %d groups, want hashed and %d", g.dicts[0].(*intDict[uint64]).dense, g.n, len(want))
	}
}

// TestStringDictNullsSliced groups slices of a string array with nulls,
// empty strings, short and long values: null and "" are two groups.
func TestStringDictNullsSliced(t *testing.T) {
	mem, _ := newMem(t)
	rng := rand.New(rand.NewSource(19))
	strs := []any{nil, "", "a", "ab", "seven77", "eight888", "日本", "a much longer value than seven bytes"}
	for _, typ := range []arrow.DataType{utf8, lstr} {
		vals := make([]any, 3000)
		for i := range vals {
			vals[i] = strs[rng.Intn(len(strs))]
		}
		b := buildBatch(t, mem, schemaOf(typ), vals)
		g, err := newGrouper([]arrow.DataType{typ})
		if err != nil {
			t.Fatal(err)
		}
		want := map[any]uint32{}
		for _, cut := range [][2]int{{5, 999}, {999, 1000}, {1000, 3000}, {1, 2999}} {
			part := array.NewSlice(b.Column(0), int64(cut[0]), int64(cut[1]))
			ids := g.groupIDs([]arrow.Array{part}, part.Len())
			part.Release()
			for i, id := range ids {
				v := vals[cut[0]+i]
				if w, ok := want[v]; ok && w != id {
					t.Fatalf("%s %q: id %d, earlier %d", typ, v, id, w)
				} else if !ok {
					want[v] = id
				}
			}
		}
		if g.n != len(want) || len(want) != len(strs) {
			t.Fatalf("%s: %d groups, want %d", typ, g.n, len(strs))
		}
		keys := g.keyColumns(mem, 0, g.n)
		for v, id := range want {
			if got := goValue(keys[0], int(id)); !sameValue(got, v) {
				t.Fatalf("%s: group %d's key %v, want %v", typ, id, got, v)
			}
		}
		releaseArrays(keys)
		b.Release()
	}
}

// TestGroupIDsLargeTables groups more keys than the tables hold before
// they are touched ahead (touchSlots): one string key, and a string with
// an int, rows mixing long strings, short ones and nulls, every key seen
// again in later batches; then looks them up frozen.
func TestGroupIDsLargeTables(t *testing.T) {
	mem, _ := newMem(t)
	rng := rand.New(rand.NewSource(19))
	for _, types := range [][]arrow.DataType{{utf8}, {utf8, i64}} {
		schema := schemaOf(types...)
		g, err := newGrouper(types)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]uint32{}
		check := func(cols [][]any, frozen bool) {
			b := buildBatch(t, mem, schema, cols...)
			defer b.Release()
			n := len(cols[0])
			ids := g.groupIDs(b.Columns(), n)
			for i := range n {
				k := fmt.Sprint(cols[0][i])
				if len(cols) > 1 {
					k += "|" + fmt.Sprint(cols[1][i])
				}
				w, ok := want[k]
				switch {
				case ok && ids[i] != w:
					t.Fatalf("%v key %s: id %d, earlier %d", types, k, ids[i], w)
				case !ok && frozen && ids[i] != noID:
					t.Fatalf("%v frozen, key %s never seen: id %d", types, k, ids[i])
				case !ok && !frozen && int(ids[i]) != len(want):
					t.Fatalf("%v new key %s: id %d, want %d", types, k, ids[i], len(want))
				case !ok && !frozen:
					want[k] = ids[i]
				}
			}
		}
		row := func(keys int) (any, any) {
			var s, v any
			switch r := rng.Intn(keys); {
			case r%97 == 0:
			case r%5 == 0:
				s = fmt.Sprint(r % 1000) // short
			default:
				s = fmt.Sprintf("user-%08d", r)
			}
			if rng.Intn(30) > 0 {
				v = int64(rng.Intn(3))
			}
			return s, v
		}
		for range 20 {
			cols := [][]any{make([]any, 10000), make([]any, 10000)}
			for i := range cols[0] {
				cols[0][i], cols[1][i] = row(150000)
			}
			check(cols[:len(types)], false)
		}
		if g.n <= touchSlots/2 {
			t.Fatalf("%v: %d groups, too few to touch ahead", types, g.n)
		}
		g.freeze()
		cols := [][]any{make([]any, 10000), make([]any, 10000)}
		for i := range cols[0] {
			cols[0][i], cols[1][i] = row(300000)
		}
		check(cols[:len(types)], true)
		// A frozen grouper serves a join's probes at once: the same
		// lookups from two goroutines (go test -race watches them).
		b := buildBatch(t, mem, schema, cols[:len(types)]...)
		lone := g.groupIDs(b.Columns(), 10000)
		got := make([][]uint32, 2)
		var wg sync.WaitGroup
		for p := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[p] = g.groupIDs(b.Columns(), 10000)
			}()
		}
		wg.Wait()
		b.Release()
		for p := range got {
			if !slices.Equal(got[p], lone) {
				t.Fatalf("%v: concurrent frozen lookups differ from a lone one", types)
			}
		}
	}
}

// TestTuplesPackThenHash groups four int keys (with nulls) while their
// ids pack into a direct array, through the packing widening as more keys
// come, then past it (the table turns to hashing, keeping every group's
// id), checking ids against a map at each batch; then looks up known and
// unknown tuples frozen, packed and hashed.
func TestTuplesPackThenHash(t *testing.T) {
	mem, _ := newMem(t)
	types := []arrow.DataType{i64, i64, i64, i64}
	schema := schemaOf(types...)
	for _, c := range []struct {
		name   string
		spread func(batch int) int // each key's values in batch
		hashed bool                // whether the table ends hashing
	}{
		{"packed", func(b int) int { return 2 + b }, false},
		{"hashed", func(b int) int { return 4 << b }, true},
	} {
		rng := rand.New(rand.NewSource(5))
		g, err := newGrouper(types)
		if err != nil {
			t.Fatal(err)
		}
		want := map[[4]any]uint32{}
		keyOf := func(b arrow.RecordBatch, i int) (k [4]any) {
			for j := range k {
				k[j] = goValue(b.Column(j), i)
			}
			return k
		}
		check := func(b arrow.RecordBatch, ids []uint32, frozen bool) {
			for i, id := range ids {
				k := keyOf(b, i)
				w, ok := want[k]
				switch {
				case ok && id != w:
					t.Fatalf("%s: row %d %v: id %d, earlier %d", c.name, i, k, id, w)
				case !ok && frozen && id != noID:
					t.Fatalf("%s frozen: %v never seen, id %d", c.name, k, id)
				case !ok && !frozen && int(id) != len(want):
					t.Fatalf("%s: new %v: id %d, want %d", c.name, k, id, len(want))
				case !ok && !frozen:
					want[k] = id
				}
			}
		}
		batch := func(spread int, n int) arrow.RecordBatch {
			cols := make([][]any, len(types))
			for j := range cols {
				cols[j] = make([]any, n)
				for i := range n {
					if rng.Intn(30) > 0 {
						cols[j][i] = int64(rng.Intn(spread)) * 7
					}
				}
			}
			return buildBatch(t, mem, schema, cols...)
		}
		for bn := range 6 {
			b := batch(c.spread(bn), 4000)
			check(b, g.groupIDs(b.Columns(), 4000), false)
			b.Release()
		}
		if hashed := g.tuples.bits == nil; hashed != c.hashed {
			t.Fatalf("%s: hashed %v, want %v (%d groups)", c.name, hashed, c.hashed, g.n)
		}
		keys := g.keyColumns(mem, 0, g.n)
		kb := array.NewRecordBatch(schema, keys, int64(g.n))
		releaseArrays(keys)
		for i := range g.n {
			if k := keyOf(kb, i); want[k] != uint32(i) {
				t.Fatalf("%s: group %d's keys %v have id %d", c.name, i, k, want[k])
			}
		}
		kb.Release()
		g.freeze()
		b := batch(c.spread(7), 3000) // known tuples, and tuples and keys never seen
		check(b, g.groupIDs(b.Columns(), 3000), true)
		b.Release()
	}
}

// TestDictionaryKeysUnusedValues groups one string key given as
// dictionary arrays sharing one dictionary, whose rows use only some of
// its values (the others filtered out, or in another share of the
// groups): a value no row uses is no group, and each group's key is its
// value.
func TestDictionaryKeysUnusedValues(t *testing.T) {
	mem, _ := newMem(t)
	db := array.NewStringBuilder(mem)
	db.AppendValues([]string{"a", "unused", "b", "a much longer value than seven bytes", "also unused but long"}, nil)
	dict := db.NewArray()
	db.Release()
	defer dict.Release()
	typ := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: utf8}
	batch := func(idx []int32, valid []bool) arrow.Array {
		ib := array.NewInt32Builder(mem)
		defer ib.Release()
		ib.AppendValues(idx, valid)
		ids := ib.NewArray()
		defer ids.Release()
		return array.NewDictionaryArray(typ, ids, dict)
	}
	g, err := newGrouper([]arrow.DataType{utf8})
	if err != nil {
		t.Fatal(err)
	}
	var got []uint32
	for _, b := range []arrow.Array{
		batch([]int32{2, 0, 2, 0}, nil),
		batch([]int32{3, 0, 1, 2}, []bool{true, true, false, true}), // a null row points at "unused"
	} {
		got = append(got, g.groupIDs([]arrow.Array{b}, b.Len())...)
		b.Release()
	}
	if want := []uint32{0, 1, 0, 1, 2, 1, 3, 0}; !slices.Equal(got, want) {
		t.Fatalf("ids %v, want %v", got, want)
	}
	if g.n != 4 {
		t.Fatalf("%d groups, want 4 (b, a, the long value, null)", g.n)
	}
	keys := g.keyColumns(mem, 0, g.n)
	defer releaseArrays(keys)
	for id, want := range []any{"b", "a", "a much longer value than seven bytes", nil} {
		if v := goValue(keys[0], id); !sameValue(v, want) {
			t.Errorf("group %d's key %v, want %v", id, v, want)
		}
	}
}

// String keys of every length (empty, short, past the packed ones, and
// over 64 KiB, whose length a slot cannot hold) keep one id each across
// batches, in a table large enough to be touched ahead, and give their
// values back; frozen, an unseen string is noID.
func TestStringKeysEveryLength(t *testing.T) {
	mem, _ := newMem(t)
	huge := strings.Repeat("x", 70_000)
	var vals []any
	for i := range 50_000 {
		vals = append(vals, fmt.Sprintf("%0*d", i%20, i))
	}
	vals = append(vals, huge, huge+"y", "", nil)
	schema := schemaOf(utf8)
	d, err := newGrouper([]arrow.DataType{utf8})
	if err != nil {
		t.Fatal(err)
	}
	first := map[any]uint32{}
	for round := range 2 {
		for lo := 0; lo < len(vals); lo += 7_000 {
			part := vals[lo:min(lo+7_000, len(vals))]
			b := buildBatch(t, mem, schema, part)
			for i, id := range d.groupIDs(b.Columns(), len(part)) {
				if w, ok := first[part[i]]; ok && w != id {
					t.Fatalf("round %d: %.20v has id %d, earlier %d", round, part[i], id, w)
				}
				first[part[i]] = id
			}
			b.Release()
		}
	}
	if d.n != len(first) {
		t.Fatalf("%d groups, want %d", d.n, len(first))
	}
	keys := d.keyColumns(mem, 0, d.n)
	for v, id := range first {
		if got := goValue(keys[0], int(id)); got != v {
			t.Fatalf("group %d holds %.20v, want %.20v", id, got, v)
		}
	}
	releaseArrays(keys)
	d.freeze()
	probe := buildBatch(t, mem, schema, []any{huge + "z", "00000000000000049999", huge})
	defer probe.Release()
	if ids := d.groupIDs(probe.Columns(), 3); ids[0] != noID || ids[1] != noID || ids[2] != first[huge] {
		t.Fatalf("frozen lookups %v, want [noID noID %d]", ids, first[huge])
	}
}

// TestStringKeysHeldInSlots: strings of up to maxInline bytes are found
// by their packed words; two that differ in any one byte (a zero byte,
// 0xff, the last byte), or only in length (a trailing zero byte), are
// different groups, and each group gives its own string back.
func TestStringKeysHeldInSlots(t *testing.T) {
	mem, _ := newMem(t)
	var vals []any
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			vals = append(vals, s)
		}
	}
	for n := range maxInline + 3 {
		base := []byte(strings.Repeat("k", n))
		add(string(base))
		add(string(base) + "\x00")
		for p := range n {
			for _, c := range []byte{0, 0xff, 'j', 0x80} {
				b := slices.Clone(base)
				b[p] = c
				add(string(b))
			}
		}
	}
	schema := schemaOf(arrow.BinaryTypes.Binary)
	g, err := newGrouper([]arrow.DataType{arrow.BinaryTypes.Binary})
	if err != nil {
		t.Fatal(err)
	}
	b := buildBatch(t, mem, schema, vals) // binary values given as strings
	defer b.Release()
	for round := range 2 { // new, then found
		ids := g.groupIDs(b.Columns(), len(vals))
		for i, id := range ids {
			if int(id) != i {
				t.Fatalf("round %d: %q has id %d, want %d (a different string's?)", round, vals[i], id, i)
			}
		}
	}
	keys := g.keyColumns(mem, 0, g.n)
	defer releaseArrays(keys)
	for i, v := range vals {
		if got := string(keys[0].(*array.Binary).Value(i)); got != v {
			t.Fatalf("group %d holds %q, want %q", i, got, v)
		}
	}
}
