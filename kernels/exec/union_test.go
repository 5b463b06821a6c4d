package exec

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels"
)

// unionInputs makes k inputs of three batches each; input p holds the
// values p*100 .. p*100+8.
func unionInputs(t *testing.T, mem memory.Allocator, k int) ([]*counting, []Operator) {
	schema := schemaOf(i64)
	var cs []*counting
	var ops []Operator
	for p := 0; p < k; p++ {
		var bs []arrow.RecordBatch
		for b := 0; b < 3; b++ {
			vals := []any{int64(p*100 + b*3), int64(p*100 + b*3 + 1), int64(p*100 + b*3 + 2)}
			bs = append(bs, buildBatch(t, mem, schema, vals))
		}
		c := &counting{Operator: records(schema, bs...)}
		cs = append(cs, c)
		ops = append(ops, c)
	}
	return cs, ops
}

func TestUnion(t *testing.T) {
	for _, ordered := range []bool{true, false} {
		t.Run(fmt.Sprintf("ordered %v", ordered), func(t *testing.T) {
			mem, ctx := newMem(t)
			cs, ins := unionInputs(t, mem, 4)
			u := NewUnion(ins, ordered)
			rows, n := drain(t, ctx, u)
			if n != 12 || len(rows) != 36 {
				t.Fatalf("%d rows in %d batches, want 36 in 12", len(rows), n)
			}
			var got, want []int64
			for _, r := range rows {
				got = append(got, r[0].(int64))
			}
			for p := 0; p < 4; p++ {
				for i := 0; i < 9; i++ {
					want = append(want, int64(p*100+i))
				}
			}
			if !ordered {
				sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("rows %v, want %v", got, want)
			}
			for i, c := range cs {
				if c.closed.Load() != 1 {
					t.Errorf("input %d closed %d times", i, c.closed.Load())
				}
			}
		})
	}
}

func TestUnionCloseEarly(t *testing.T) {
	// Closing after one batch stops the inputs' goroutines and frees what
	// they had buffered; the allocator's final check sees any leak.
	for _, ordered := range []bool{true, false} {
		mem, ctx := newMem(t)
		cs, ins := unionInputs(t, mem, 3)
		ins = append(ins, newEndless(mem, true))
		u := NewUnion(ins, ordered)
		b, err := u.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b.Release()
		if err := u.Close(); err != nil {
			t.Fatal(err)
		}
		for i, c := range cs {
			if c.closed.Load() != 1 {
				t.Errorf("input %d closed %d times", i, c.closed.Load())
			}
		}
	}
}

func TestUnionError(t *testing.T) {
	for _, ordered := range []bool{true, false} {
		mem, ctx := newMem(t)
		_, ins := unionInputs(t, mem, 2)
		schema := schemaOf(i64)
		ins = append(ins, &failing{Records: records(schema, buildBatch(t, mem, schema, []any{int64(7)})), err: kernels.Errorf(kernels.NotFound, "file gone")})
		u := NewUnion(ins, ordered)
		_, err := Collect(ctx, u)
		if kernels.KindOf(err) != kernels.NotFound || !strings.Contains(err.Error(), "file gone") {
			t.Errorf("want the failing input's error, got %v", err)
		}
		u.Close()
	}
}

func TestUnionString(t *testing.T) {
	mem, _ := newMem(t)
	_, ins := unionInputs(t, mem, 2)
	u := NewUnion(ins, true)
	defer u.Close()
	if got, want := Explain(u), "Union partitions=2 ordered\n  Records\n  Records\n"; got != want {
		t.Errorf("Explain = %q, want %q", got, want)
	}
	if !u.Schema().Equal(ins[0].Schema()) {
		t.Errorf("schema %s", u.Schema())
	}
}

// gated yields its batches only once open is closed.
type gated struct {
	*Records
	open <-chan struct{}
}

func (g *gated) Next(ctx context.Context) (arrow.RecordBatch, error) {
	select {
	case <-g.open:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.Records.Next(ctx)
}

// closing closes done when its input ends.
type closing struct {
	Operator
	done chan struct{}
}

func (c *closing) Next(ctx context.Context) (arrow.RecordBatch, error) {
	b, err := c.Operator.Next(ctx)
	if err == io.EOF {
		close(c.done)
	}
	return b, err
}

// waitingInputs are two inputs: the first of one row (1) and, when gated,
// giving it only once the second has ended, whose rows (100, 101, ...)
// are more batches than a union lets an input buffer.
func waitingInputs(t *testing.T, mem memory.Allocator, gate bool) []Operator {
	schema := schemaOf(i64)
	var later []arrow.RecordBatch
	for i := 0; i < 3*workAhead; i++ {
		later = append(later, buildBatch(t, mem, schema, []any{int64(100 + i)}))
	}
	done := make(chan struct{})
	first := records(schema, buildBatch(t, mem, schema, []any{int64(1)}))
	if !gate {
		return []Operator{first, &closing{Operator: records(schema, later...), done: done}}
	}
	return []Operator{&gated{Records: first, open: done}, &closing{Operator: records(schema, later...), done: done}}
}

// Collecting an ordered union (a join's build side, a sort's input) runs
// every input to its end at once, not a few batches ahead of the first:
// here the first input waits for the second to finish, which has more
// batches than a stream would let it buffer. The order stays input order.
func TestUnionCollectRunsInputsAtOnce(t *testing.T) {
	mem, ctx := newMem(t)
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	u := NewUnion(waitingInputs(t, mem, true), true)
	defer u.Close()
	got, err := Collect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer ReleaseAll(got)
	var vals []int64
	for _, b := range got {
		vals = append(vals, b.Column(0).(*array.Int64).Value(0))
	}
	if len(vals) != 1+3*workAhead || vals[0] != 1 || vals[1] != 100 || vals[len(vals)-1] != int64(100+3*workAhead-1) {
		t.Errorf("rows %v: want 1, then 100 upwards", vals)
	}
	if _, err := u.Next(ctx); err != io.EOF {
		t.Errorf("Next after Collect: %v, want EOF", err)
	}
}

// spilling stands for an aggregate that has spilled (or not yet).
type spilling struct {
	Operator
	spilled atomic.Bool
}

func (s *spilling) Spilled() bool        { return s.spilled.Load() }
func (s *spilling) Children() []Operator { return []Operator{s.Operator} }

// above is a one-input operator over the spilling one (a Project over a
// share's aggregate).
type above struct{ Operator }

func (a *above) Children() []Operator { return []Operator{a.Operator} }

// An ordered union of aggregates' shares lets a later share's batches
// through once one of them has spilled, also when it spills while the
// union waits on an earlier share: here the first input waits for the
// second to end, which has more batches than it may buffer. Before any
// spill, it keeps input order.
func TestUnionLooseOnceSpilled(t *testing.T) {
	for _, when := range []string{"never", "before", "while waiting"} {
		t.Run(when, func(t *testing.T) {
			mem, ctx := newMem(t)
			ctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			ins := waitingInputs(t, mem, when != "never")
			second := &spilling{Operator: ins[1]}
			switch when {
			case "before":
				second.spilled.Store(true)
			case "while waiting":
				time.AfterFunc(3*recheckSpilled, func() { second.spilled.Store(true) })
			}
			u := NewUnion([]Operator{ins[0], &above{second}}, true)
			u.LooseOnceSpilled()
			defer u.Close()
			var vals []int64
			for {
				b, err := u.Next(ctx)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				vals = append(vals, b.Column(0).(*array.Int64).Value(0))
				b.Release()
			}
			if len(vals) != 1+3*workAhead {
				t.Fatalf("rows %v", vals)
			}
			if first := vals[0] == 1; first != (when == "never") {
				t.Errorf("rows %v", vals)
			}
		})
	}
}
