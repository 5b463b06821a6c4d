package cardinality

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"slipstream/internal/parquettest"
	"slipstream/kernels/exec"
	"slipstream/kernels/expr"
	"slipstream/scheduler/plan"
)

// statsFile writes 1000 rows over two row groups: n (10..59, repeating), day (a
// date32 from 19000 to 19999), flag (three strings) and text (all distinct).
func statsFile(t *testing.T) *plan.Scan {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "n", Type: arrow.PrimitiveTypes.Int64},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32},
		{Name: "flag", Type: arrow.BinaryTypes.String},
		{Name: "text", Type: arrow.BinaryTypes.String},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for i := 0; i < 1000; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(10 + i%50))
		b.Field(1).(*array.Date32Builder).Append(arrow.Date32(19000 + i))
		b.Field(2).(*array.StringBuilder).Append([]string{"x", "y", "ü"}[i%3])
		b.Field(3).(*array.StringBuilder).Append(fmt.Sprintf("row %d", i))
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	path := filepath.Join(t.TempDir(), "stats.parquet")
	parquettest.Write(t, mem, path, rec, 500)
	return &plan.Scan{Files: []string{path}, Format: exec.Parquet, FileSchema: schema}
}

func ref(s *plan.Scan, i int) *plan.ColumnRef {
	return &plan.ColumnRef{Index: i, Field: s.Schema().Field(i)}
}

func call(name string, args ...plan.Expr) *plan.Call {
	fn, ok := expr.Lookup(name)
	if !ok {
		panic(name)
	}
	return &plan.Call{Fn: fn, Args: args, Out: arrow.FixedWidthTypes.Boolean}
}

func TestParquetStatisticsCountValues(t *testing.T) {
	s := statsFile(t)
	e := &Estimator{}
	if got := e.Rows(s); got != 1000 {
		t.Fatalf("rows %d, want 1000", got)
	}
	for i, want := range []int64{50, 1000, 3, -1} {
		c := e.Column(s, i)
		if want < 0 {
			// no statistics count this one: it is taken as unique
			if c.Distinct != 1000 {
				t.Errorf("%s: %d distinct, want the rows", s.Schema().Field(i).Name, c.Distinct)
			}
			continue
		}
		if c.Distinct != want || !c.Counted {
			t.Errorf("%s: %d distinct (counted %v), want %d", s.Schema().Field(i).Name, c.Distinct, c.Counted, want)
		}
	}
}

func TestSelectivityReadsRangesAndCounts(t *testing.T) {
	s := statsFile(t)
	e := &Estimator{}
	lit := func(v scalar.Scalar) *plan.Literal { return &plan.Literal{Value: v} }
	for _, c := range []struct {
		name string
		pred plan.Expr
		want float64
	}{
		{"n < 35 keeps half the range", call("lt", ref(s, 0), lit(scalar.NewInt64Scalar(35))), 0.5},
		{"n >= 10 keeps all", call("ge", ref(s, 0), lit(scalar.NewInt64Scalar(10))), 1},
		{"n > 100 keeps none", call("gt", ref(s, 0), lit(scalar.NewInt64Scalar(100))), 0},
		{"35 > n is n < 35", call("gt", lit(scalar.NewInt64Scalar(35)), ref(s, 0)), 0.5},
		{"a date range", call("and",
			call("ge", ref(s, 1), lit(scalar.NewDate32Scalar(19100))),
			call("lt", ref(s, 1), lit(scalar.NewDate32Scalar(19300)))), 0.9 * 0.3},
		{"one of three strings", call("eq", ref(s, 2), lit(scalar.NewStringScalar("x"))), 1.0 / 3},
		{"one of fifty numbers", call("eq", ref(s, 0), lit(scalar.NewInt64Scalar(12))), 1.0 / 50},
		{"uncounted strings: a tenth", call("eq", ref(s, 3), lit(scalar.NewStringScalar("row 1"))), 0.1},
	} {
		if got := e.Selectivity(s, c.pred); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	filtered := &plan.Filter{Input: s, Predicate: call("lt", ref(s, 0), lit(scalar.NewInt64Scalar(35)))}
	if got := e.Rows(filtered); got != 500 {
		t.Errorf("filtered rows %d, want 500", got)
	}
}

func TestJoinRows(t *testing.T) {
	for _, c := range []struct {
		name string
		l, r Side
		want int64
	}{
		// 6M lineitems meet 1.5M orders: both keys look unique, the fewer values win
		{"foreign key to key", Side{6_000_000, 6_000_000, true}, Side{1_500_000, 1_500_000, true}, 6_000_000},
		// a fifth of the orders kept: a fifth of the lineitems meet one
		{"filtered key side", Side{6_000_000, 6_000_000, true}, Side{300_000, 1_500_000, true}, 1_200_000},
		// nation keys of customers and suppliers: 25 values, many rows each
		{"many to many", Side{150_000, 25, false}, Side{10_000, 25, false}, 60_000_000},
		{"one unique side", Side{1000, 10, false}, Side{50, 100, true}, 500},
	} {
		if got := JoinRows(c.l, c.r); got != c.want {
			t.Errorf("%s: %d rows, want %d", c.name, got, c.want)
		}
	}
}

func TestDistinctIsBoundedByTheTableHoldingEveryKey(t *testing.T) {
	ps := "partsupp"
	partkey := Column{Distinct: 200_000, From: ps, FromRows: 800_000}
	suppkey := Column{Distinct: 10_000, From: ps, FromRows: 800_000}
	if d, unique := Distinct([][]Column{{partkey}, {suppkey}}); d != 800_000 || !unique {
		t.Errorf("two keys of one table: %v (unique %v), want its 800000 rows", d, unique)
	}
	other := Column{Distinct: 10_000, From: "supplier", FromRows: 10_000}
	if d, unique := Distinct([][]Column{{partkey}, {other}}); d != 2e9 || unique {
		t.Errorf("keys of two tables: %v (unique %v), want the product", d, unique)
	}
	// a key known equal to several columns takes the fewest values
	if d, _ := Distinct([][]Column{{partkey, other}}); d != 10_000 {
		t.Errorf("equal columns: %v, want 10000", d)
	}
}
