package budget

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// spillBatches are n batches of rows a spilling join or sort writes: a
// running id, random keys and prices, short strings, some nulls.
func spillBatches(mem memory.Allocator, n, rows int) []arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "price", Type: arrow.PrimitiveTypes.Float64},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	var out []arrow.RecordBatch
	id := int64(0)
	for range n {
		b := array.NewRecordBuilder(mem, schema)
		for range rows {
			b.Field(0).(*array.Int64Builder).Append(id)
			if id%17 == 0 {
				b.Field(1).AppendNull()
				b.Field(3).AppendNull()
			} else {
				b.Field(1).(*array.Int64Builder).Append(rng.Int64N(1_000_000))
				b.Field(3).(*array.StringBuilder).Append(fmt.Sprintf("Customer#%09d ünï", rng.IntN(150_000)))
			}
			b.Field(2).(*array.Float64Builder).Append(float64(rng.IntN(100_000)) / 100)
			id++
		}
		out = append(out, b.NewRecordBatch())
		b.Release()
	}
	return out
}

// spillFile writes batches to a spill file of q.
func spillFile(tb testing.TB, q *Query, batches []arrow.RecordBatch) *SpillFile {
	w, err := q.Reserve("op").Spill(batches[0].Schema())
	if err != nil {
		tb.Fatal(err)
	}
	for _, b := range batches {
		if err := w.Write(b); err != nil {
			tb.Fatal(err)
		}
	}
	f, err := w.Finish()
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// spillRoundTrip writes batches to a spill file of q and reads them back.
func spillRoundTrip(tb testing.TB, q *Query, batches []arrow.RecordBatch) (size int64, back []arrow.RecordBatch) {
	f := spillFile(tb, q, batches)
	size = q.pool.Spilled()
	r, err := f.Open()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		b, err := r.Next()
		if err != nil {
			tb.Fatal(err)
		}
		if b == nil {
			break
		}
		back = append(back, b)
	}
	r.Close()
	f.Remove()
	return size, back
}

// Each codec gives back the batches written, held in the query's account,
// and leaves nothing on disk or in the account.
func TestSpillCodecsRoundTrip(t *testing.T) {
	for _, codec := range SpillCodecs {
		t.Run(codec, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			p, err := NewPool(Options{Limit: 1 << 30, SpillDir: t.TempDir(), SpillLimit: 1 << 30, SpillCodec: codec, Base: mem})
			if err != nil {
				t.Fatal(err)
			}
			q := p.Begin("q")
			batches := spillBatches(memory.NewGoAllocator(), 3, 20_000)
			size, back := spillRoundTrip(t, q, batches)
			perRow := int64(40) // compressed
			if codec == SpillNone {
				perRow = 56 // the rows as they are, and the stream's framing
			}
			if size <= 0 || size > 3*20_000*perRow {
				t.Errorf("a spill file of %d bytes for 60,000 rows of about 50 bytes (%s)", size, codec)
			}
			if len(back) != len(batches) {
				t.Fatalf("%d batches back, want %d", len(back), len(batches))
			}
			for i := range back {
				if !array.RecordEqual(back[i], batches[i]) {
					t.Fatalf("batch %d differs after the round trip", i)
				}
				if q.Used() == 0 {
					t.Fatal("batches read back are not in the query's account")
				}
				back[i].Release()
			}
			if p.Spilled() != 0 {
				t.Errorf("the pool counts %d spilled bytes after Remove", p.Spilled())
			}
			if err := q.Close(); err != nil {
				t.Fatal(err)
			}
			mem.AssertSize(t, 0)
		})
	}
	if _, err := NewPool(Options{Limit: 1, SpillCodec: "lz77"}); err == nil {
		t.Error("an unknown codec was accepted")
	}
}

// go test -run - -bench SpillCodecs ./kernels/budget/ : time to write and
// read back 2M rows (about 100 MB in Arrow), and the file's size.
func BenchmarkSpillCodecs(b *testing.B) {
	batches := spillBatches(memory.NewGoAllocator(), 30, 65_536)
	for _, codec := range SpillCodecs {
		b.Run(codec, func(b *testing.B) {
			p, err := NewPool(Options{Limit: 1 << 34, SpillDir: b.TempDir(), SpillLimit: 1 << 34, SpillCodec: codec})
			if err != nil {
				b.Fatal(err)
			}
			var size int64
			for b.Loop() {
				q := p.Begin("q")
				var back []arrow.RecordBatch
				size, back = spillRoundTrip(b, q, batches)
				for _, r := range back {
					r.Release()
				}
				q.Close()
			}
			b.ReportMetric(float64(size)/(1<<20), "MiB")
		})
	}
}

// A file opened to read ahead gives the batches written, in order; closed
// after one batch, it leaves no batch unreleased.
func TestSpillReadAhead(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	p, err := NewPool(Options{Limit: 1 << 30, SpillDir: t.TempDir(), SpillLimit: 1 << 30, Base: mem})
	if err != nil {
		t.Fatal(err)
	}
	q := p.Begin("q")
	batches := spillBatches(memory.NewGoAllocator(), 5, 1000)
	f := spillFile(t, q, batches)
	r, err := f.OpenAhead()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		b, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			if i != len(batches) {
				t.Fatalf("%d batches back, want %d", i, len(batches))
			}
			break
		}
		if !array.RecordEqual(b, batches[i]) {
			t.Fatalf("batch %d differs", i)
		}
		b.Release()
	}
	r.Close()
	for range 20 { // closed early, wherever the reader is
		r, err := f.OpenAhead()
		if err != nil {
			t.Fatal(err)
		}
		b, err := r.Next()
		if err != nil || b == nil {
			t.Fatalf("first batch: %v, %v", b, err)
		}
		b.Release()
		r.Close()
	}
	f.Remove()
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	mem.AssertSize(t, 0)
}
