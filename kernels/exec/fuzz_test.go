package exec_test

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"slipstream/internal/parquettest"
	"slipstream/kernels"
	"slipstream/kernels/budget"
	"slipstream/kernels/exec"
	"slipstream/kernels/fsroot"
)

// fuzzBatch is a batch of the types files hold: ints, floats, strings with
// unicode, nulls, a list, a dictionary-free timestamp.
func fuzzBatch(mem memory.Allocator) arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32), Nullable: true},
		{Name: "t", Type: arrow.FixedWidthTypes.Timestamp_us, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, -2, 1 << 62, 0}, []bool{true, true, true, false})
	b.Field(1).(*array.Float64Builder).AppendValues([]float64{1.5, math.Copysign(0, -1), 3e300, 0}, []bool{true, true, true, false})
	b.Field(2).(*array.StringBuilder).AppendValues([]string{"a", "ü€", "", "x"}, []bool{true, true, true, false})
	lb := b.Field(3).(*array.ListBuilder)
	for i := range 4 {
		if i == 2 {
			lb.AppendNull()
			continue
		}
		lb.Append(true)
		lb.ValueBuilder().(*array.Int32Builder).AppendValues([]int32{int32(i), 7}, nil)
	}
	b.Field(4).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{0, 1, -1, 1 << 50}, nil)
	return b.NewRecordBatch()
}

// FuzzFileScan reads arbitrary bytes as a Parquet, CSV and Arrow IPC file
// the way a query's scan does (schema, then every batch): whatever a file
// holds, reading it ends with batches or an error, never a panic, a hang
// or a leaked buffer. The seeds are well-formed files of each format.
//
//	go test ./kernels/exec -run '^$' -fuzz FuzzFileScan -fuzztime 60s
func FuzzFileScan(f *testing.F) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	rec := fuzzBatch(mem)
	var pq, stream, file bytes.Buffer
	parquettest.WriteTo(f, &pq, rec, pqarrow.DefaultWriterProps(), parquet.WithCompression(compress.Codecs.Snappy))
	sw := ipc.NewWriter(&stream, ipc.WithSchema(rec.Schema()), ipc.WithLZ4())
	fw, err := ipc.NewFileWriter(&file, ipc.WithSchema(rec.Schema()), ipc.WithZstd())
	if err != nil {
		f.Fatal(err)
	}
	for _, w := range []interface {
		Write(arrow.RecordBatch) error
		Close() error
	}{sw, fw} {
		if err := w.Write(rec); err != nil {
			f.Fatal(err)
		}
		w.Close()
	}
	rec.Release()
	f.Add(pq.Bytes())
	f.Add(stream.Bytes())
	f.Add(file.Bytes())
	f.Add([]byte("a,b,c\n1,2.5,x\n,,\n3,4,\"q\"\"uoted\"\n"))
	f.Add([]byte("id;name\n1;ü\n2;\n"))

	dir := f.TempDir()
	roots, err := fsroot.Open(dir)
	if err != nil {
		f.Fatal(err)
	}
	pool, err := budget.NewPool(budget.Options{Limit: 64 << 20, Base: mem})
	if err != nil {
		f.Fatal(err)
	}
	// Each well-formed seed reads whole in its own format: the checks
	// refuse only what is malformed.
	for _, seed := range []struct {
		data   []byte
		format exec.Format
		name   string
	}{{pq.Bytes(), exec.Parquet, "seed.parquet"}, {stream.Bytes(), exec.IPC, "seed.arrows"}, {file.Bytes(), exec.IPC, "seed.arrow"}} {
		path := filepath.Join(dir, seed.name)
		if err := os.WriteFile(path, seed.data, 0o600); err != nil {
			f.Fatal(err)
		}
		q := pool.Begin("seed")
		schema, err := exec.FileSchema(q, roots, seed.format, path, exec.CSVOptions{})
		if err != nil {
			f.Fatalf("%s: %v", seed.name, err)
		}
		scan := exec.NewScan(q, seed.format, []string{path}, schema, nil, nil, exec.CSVOptions{})
		scan.Roots = roots
		batches, err := exec.Collect(context.Background(), scan)
		rows := 0
		for _, b := range batches {
			rows += int(b.NumRows())
		}
		exec.ReleaseAll(batches)
		scan.Close()
		q.Close()
		if err != nil || rows != 4 {
			f.Fatalf("%s: %d rows, %v; want the 4 rows written", seed.name, rows, err)
		}
	}
	formats := []struct {
		format exec.Format
		name   string
	}{{exec.Parquet, "f.parquet"}, {exec.CSV, "f.csv"}, {exec.IPC, "f.arrow"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		for _, ff := range formats {
			path := filepath.Join(dir, ff.name)
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			before := mem.CurrentAlloc()
			q := pool.Begin("fuzz")
			schema, err := exec.FileSchema(q, roots, ff.format, path, exec.CSVOptions{})
			if err == nil {
				scan := exec.NewScan(q, ff.format, []string{path}, schema, nil, nil, exec.CSVOptions{})
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				var batches []arrow.RecordBatch
				scan.Roots = roots
				batches, err = exec.Collect(ctx, scan)
				exec.ReleaseAll(batches)
				scan.Close()
				if ctx.Err() != nil {
					t.Fatalf("reading %s did not end within 5s", ff.name)
				}
				cancel()
			}
			if err != nil && kernels.KindOf(err) == kernels.Internal {
				t.Logf("%s: an error without a kind: %v", ff.name, err)
			}
			q.Close()
			// Arrow's readers drop the buffers of a batch they fail to
			// decode (a compressed buffer shorter than it declares) without
			// releasing them; uploads settle that (budget.UntrustedAllocator),
			// a failed file read does not, so only a read that succeeds
			// must leave nothing behind.
			if n := mem.CurrentAlloc() - before; n != 0 && err == nil {
				t.Fatalf("reading %s left %d bytes allocated", ff.name, n)
			}
		}
	})
}
