package scheduler

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels/exec"
	"slipstream/scheduler/catalog"
	pb "slipstream/scheduler/planpb"
)

// BenchmarkGroupBySort is the filter / group-by / sort / limit query of the
// end-to-end benchmark, without Flight: 10M rows, string and integer keys.
func BenchmarkGroupBySort(b *testing.B) {
	mem := memory.NewGoAllocator()
	cat, err := catalog.Open(filepath.Join(b.TempDir(), "data"), mem, "n1")
	if err != nil {
		b.Fatal(err)
	}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "vendor", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "fare", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	up, _ := cat.BeginUpload("t", catalog.Create, schema)
	rb := array.NewRecordBuilder(mem, schema)
	rng := rand.New(rand.NewPCG(1, 2))
	const n, batch = 10_000_000, 65536
	for i := 0; i < n; i++ {
		rb.Field(0).(*array.StringBuilder).Append(fmt.Sprint(rng.IntN(1000)))
		rb.Field(1).(*array.Int64Builder).Append(int64(rng.IntN(100000)))
		rb.Field(2).(*array.Float64Builder).Append(rng.Float64() * 100)
		if i%batch == batch-1 || i == n-1 {
			rec := rb.NewRecordBatch()
			up.Write(rec)
			rec.Release()
		}
	}
	rb.Release()
	if _, err := up.Commit(); err != nil {
		b.Fatal(err)
	}
	e := &Engine{Catalog: cat, Mem: mem}
	for _, key := range []string{"vendor", "k"} {
		q := query(limit(sortBy(agg(filter(table("t"), call("gt", col("fare"), lit(10))),
			[]*pb.Expr{col(key)}, alias(call("sum", col("fare")), "total"), alias(call("len"), "n")), true, col("total")), 5))
		b.Run(key, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				op, err := e.Execute(q)
				if err != nil {
					b.Fatal(err)
				}
				out, err := exec.Collect(context.Background(), op)
				if err != nil {
					b.Fatal(err)
				}
				exec.ReleaseAll(out)
				op.Close()
			}
		})
	}
}
