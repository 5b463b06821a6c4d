package catalog

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestPartitionsKeepTheRangeOfIntegerColumns(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c, _ := Open(t.TempDir(), mem, "n1")
	up, err := c.BeginUpload("ranged", Create, schema)
	if err != nil {
		t.Fatal(err)
	}
	up.PartRows = 1000
	for i := 0; i < 5; i++ { // ids -200..2299 over three partitions
		b := batch(mem, i*500-200, 500)
		if err := up.Write(b); err != nil {
			t.Fatal(err)
		}
		b.Release()
	}
	if _, err := up.Commit(); err != nil {
		t.Fatal(err)
	}
	if lo, hi, ok := c.TableRange("ranged", 0); !ok || lo != -200 || hi != 2299 {
		t.Errorf("id range %d..%d (%v), want -200..2299", lo, hi, ok)
	}
	if _, _, ok := c.TableRange("ranged", 1); ok {
		t.Error("a string column has a range")
	}
	if _, _, ok := c.TableRange("no_such_table", 0); ok {
		t.Error("a missing table has a range")
	}
}

func TestRangesSkipNullsAndReadDates(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	s := arrow.NewSchema([]arrow.Field{
		{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "nothing", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, s)
	defer b.Release()
	b.Field(0).(*array.Date32Builder).AppendValues([]arrow.Date32{19000, 0, 18000}, []bool{true, false, true})
	b.Field(1).(*array.Int32Builder).AppendNulls(3)
	rec := b.NewRecordBatch()
	defer rec.Release()
	var rs Ranges
	rs.Add(rec)
	got := rs.List()
	if len(got) != 1 || got[0] != (Range{Col: 0, Lo: 18000, Hi: 19000}) {
		t.Errorf("ranges %+v, want day 18000..19000 and none for the all-null column", got)
	}
}
