package exec

import (
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"slipstream/kernels/expr"
)

func TestPartitionerKeepsEqualKeysTogether(t *testing.T) {
	mem, ctx := newMem(t)
	schema := schemaOf(i32, utf8, f64)
	b := batchJSON(t, mem, schema, `[
		{"c0": 1, "c1": "a", "c2": 0.0}, {"c0": 2, "c1": "b", "c2": -0.0},
		{"c0": 1, "c1": "a", "c2": 1.5}, {"c0": null, "c1": null, "c2": null},
		{"c0": 3, "c1": "ü", "c2": 2.0}, {"c0": null, "c1": null, "c2": 7.0},
		{"c0": 2, "c1": "b", "c2": 3.0}, {"c0": 3, "c1": "ü", "c2": 4.0}]`)
	defer b.Release()
	keys := []expr.Expr{&expr.Column{Index: 0, Name: "c0", Type: i32}, &expr.Column{Index: 1, Name: "c1", Type: utf8}}
	parts, err := NewPartitioner(mem, keys, 3).Split(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer ReleaseAll(parts)
	seen := map[string]int{}
	total := int64(0)
	for bucket, p := range parts {
		if p == nil {
			continue
		}
		total += p.NumRows()
		for _, row := range rowsOf([]arrow.RecordBatch{p}) {
			k := fmt.Sprint(row[0], "|", row[1])
			if prev, ok := seen[k]; ok && prev != bucket {
				t.Errorf("key %s in buckets %d and %d", k, prev, bucket)
			}
			seen[k] = bucket
		}
	}
	if total != b.NumRows() {
		t.Fatalf("split kept %d of %d rows", total, b.NumRows())
	}
	if len(seen) != 4 {
		t.Fatalf("keys seen: %v", seen)
	}
}

// The same values hash alike whatever the integer width or string offset
// width, so two sides of a join agree on buckets.
func TestPartitionerHashIsTypeWidthFree(t *testing.T) {
	mem, ctx := newMem(t)
	narrow := batchJSON(t, mem, schemaOf(i16, utf8), `[{"c0": 5, "c1": "x"}, {"c0": -7, "c1": "long string here"}, {"c0": 9, "c1": ""}]`)
	defer narrow.Release()
	wide := batchJSON(t, mem, schemaOf(i64, lstr), `[{"c0": 5, "c1": "x"}, {"c0": -7, "c1": "long string here"}, {"c0": 9, "c1": ""}]`)
	defer wide.Release()
	bucketsOf := func(b arrow.RecordBatch) []string {
		keys := []expr.Expr{&expr.Column{Index: 0, Type: b.Schema().Field(0).Type}, &expr.Column{Index: 1, Type: b.Schema().Field(1).Type}}
		parts, err := NewPartitioner(mem, keys, 4).Split(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		defer ReleaseAll(parts)
		out := make([]string, 0)
		for bucket, p := range parts {
			if p != nil {
				for _, row := range rowsOf([]arrow.RecordBatch{p}) {
					out = append(out, fmt.Sprint(row[0], "@", bucket))
				}
			}
		}
		return out
	}
	a, c := bucketsOf(narrow), bucketsOf(wide)
	if len(a) != 3 || len(c) != 3 {
		t.Fatalf("rows lost: %v %v", a, c)
	}
	for i := range a {
		if a[i] != c[i] {
			t.Fatalf("buckets differ by type: %v vs %v", a, c)
		}
	}
}
