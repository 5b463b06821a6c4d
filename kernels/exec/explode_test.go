package exec

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"slipstream/kernels"
)

func TestExplode(t *testing.T) {
	li := arrow.ListOf(i64)
	schema := schemaOf(i64, li, arrow.ListOf(utf8))
	rows := `[{"c0": 1, "c1": [1, null, 3], "c2": ["a", "b", "c"]},
		{"c0": 2, "c1": [], "c2": []},
		{"c0": 3, "c1": null, "c2": null},
		{"c0": 4, "c1": [null], "c2": ["ü"]}]`
	for _, tc := range []struct {
		name               string
		cols               []int
		emptyAsNull, nulls bool
		want               [][]any
	}{
		{"one column", []int{1}, false, true, [][]any{
			{int64(1), int64(1), []any{"a", "b", "c"}}, {int64(1), nil, []any{"a", "b", "c"}}, {int64(1), int64(3), []any{"a", "b", "c"}},
			{int64(3), nil, nil}, {int64(4), nil, []any{"ü"}}}},
		{"two columns", []int{1, 2}, true, false, [][]any{
			{int64(1), int64(1), "a"}, {int64(1), nil, "b"}, {int64(1), int64(3), "c"},
			{int64(2), nil, nil}, {int64(4), nil, "ü"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem, ctx := newMem(t)
			// two batches: rows are exploded batch by batch, in order
			b := batchJSON(t, mem, schema, rows)
			in := records(schema, b.NewSlice(0, 2), b.NewSlice(2, 4))
			b.Release()
			op := NewExplode(mem, in, tc.cols, tc.emptyAsNull, tc.nulls)
			got, _ := drain(t, ctx, op)
			op.Close()
			if !sameRows(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("unequal lengths", func(t *testing.T) {
		mem, ctx := newMem(t)
		s := schemaOf(li, li)
		in := records(s, batchJSON(t, mem, s, `[{"c0": [1, 2], "c1": [1]}]`))
		op := NewExplode(mem, in, []int{0, 1}, false, true)
		_, err := op.Next(ctx)
		op.Close()
		if err == nil || kernels.KindOf(err) != kernels.Invalid || !strings.Contains(err.Error(), "lists of equal length") {
			t.Errorf("want an invalid-argument error about lengths, got %v", err)
		}
	})
}
