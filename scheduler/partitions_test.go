package scheduler

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels/exec"
	"slipstream/scheduler/catalog"
	"slipstream/scheduler/physical"
	pb "slipstream/scheduler/planpb"
)

// TestPartitionCountDoesNotChangeResults runs the same queries with one
// pipeline and with several over a table of many partitions: logically equal
// runs must give equal answers (order too, where the query defines one).
func TestPartitionCountDoesNotChangeResults(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	cat, err := catalog.Open(filepath.Join(t.TempDir(), "data"), mem, "n1")
	if err != nil {
		t.Fatal(err)
	}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "k", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "g", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
		{Name: "v", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	up, _ := cat.BeginUpload("t", catalog.Create, schema)
	up.PartRows = 500
	b := array.NewRecordBuilder(mem, schema)
	for r := 0; r < 3000; r++ {
		keys := []string{"α", "b", "c", "", "dé"}
		b.Field(0).(*array.StringBuilder).AppendValues([]string{keys[r%5]}, []bool{r%7 != 0})
		b.Field(1).(*array.Int16Builder).AppendValues([]int16{int16(r % 3)}, []bool{r%11 != 0})
		b.Field(2).(*array.Float64Builder).AppendValues([]float64{float64(r%97) - 40}, []bool{r%13 != 0})
		b.Field(3).(*array.Int64Builder).Append(int64(r))
		if r%700 == 699 {
			rec := b.NewRecordBatch()
			up.Write(rec)
			rec.Release()
		}
	}
	rec := b.NewRecordBatch()
	up.Write(rec)
	rec.Release()
	b.Release()
	if _, err := up.Commit(); err != nil {
		t.Fatal(err)
	}
	if files, _ := cat.TableFiles("t"); len(files) < 4 {
		t.Fatalf("want several partitions, got %d", len(files))
	}
	_, pq := testEngine(t, mem)
	aggs := []*pb.Expr{alias(call("sum", col("v")), "s"), alias(call("mean", col("v")), "m"), alias(call("min", col("k")), "lo"),
		alias(call("max", col("i")), "hi"), alias(call("count", col("v")), "c"), alias(call("len"), "n")}
	qs := map[string]*pb.Query{
		"global":       query(agg(table("t"), nil, aggs...)),
		"global_empty": query(agg(filter(table("t"), call("lt", col("i"), lit(0))), nil, aggs...)),
		"by_key":       query(agg(table("t"), []*pb.Expr{col("k")}, aggs...)),
		"by_two_keys":  query(agg(filter(table("t"), call("gt", col("v"), lit(0))), []*pb.Expr{col("k"), col("g")}, aggs...)),
		"topk":         query(limit(sortBy(table("t"), true, col("v"), col("i")), 17)),
		"ordered_scan": query(sel(filter(table("t"), call("eq", col("g"), lit(1))), col("i"), alias(call("multiply", col("v"), lit(2)), "v2"))),
		"head":         query(limit(table("t"), 5)),
		"first_last":   query(agg(table("t"), []*pb.Expr{col("k")}, alias(call("first", col("i")), "f"), alias(call("last", col("v")), "l"), alias(call("median", col("v")), "m"))),
		"join_ordered": query(join(table("t"), agg(table("t"), []*pb.Expr{col("k")}, alias(call("len"), "n")), pb.Join_LEFT, "k")),
		"semi_join":    query(join(table("t"), filter(table("t"), call("gt", col("v"), lit(50))), pb.Join_SEMI, "g")),
		// A Parquet file of four row groups is split by row group.
		"parquet_ordered": query(filter(parquetScan(pq), call("eq", call("modulo", col("id"), lit(7)), lit(0)))),
		"parquet_agg":     query(agg(parquetScan(pq), nil, alias(call("sum", col("id")), "s"), alias(call("len"), "n"))),
	}
	run := func(parts int, q *pb.Query, ordered bool) string {
		e := &Engine{Catalog: cat, Mem: mem}
		n, err := e.Plan(q)
		if err != nil {
			t.Fatal(err)
		}
		op, err := (&physical.Planner{Mem: mem, Storage: cat, Partitions: parts}).Build(n)
		if err != nil {
			t.Fatal(err)
		}
		defer op.Close()
		batches, err := exec.Collect(context.Background(), op)
		if err != nil {
			t.Fatal(err)
		}
		defer exec.ReleaseAll(batches)
		rows := renderRows(batches)
		if !ordered {
			sort.Strings(rows)
		}
		return fmt.Sprintf("%d rows\n%s", len(rows), strings.Join(rows, "\n"))
	}
	for name, q := range qs {
		ordered := name == "join_ordered" || name == "semi_join" || name == "topk" || name == "ordered_scan" || name == "head" || name == "parquet_ordered"
		one := run(1, q, ordered)
		for _, parts := range []int{2, 3, 8} {
			if got := run(parts, q, ordered); got != one {
				t.Errorf("%s: %d partitions differ from 1:\n%s\nvs\n%s", name, parts, got, one)
			}
		}
		if strings.HasPrefix(one, "0 rows") && name != "head" {
			t.Errorf("%s: empty result proves nothing", name)
		}
	}
}
