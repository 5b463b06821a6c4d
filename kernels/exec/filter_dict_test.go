package exec

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"slipstream/internal/parquettest"
	"slipstream/kernels/expr"
)

// A Filter right over a Parquet scan reads low-cardinality string columns
// as dictionaries, tests conditions on one such column on its distinct
// values, and expands only the rows kept; the columns it does not test it
// reads only for the rows kept. Its answers must be those of the
// same Filter over the same rows held plainly in memory, nulls included.
func TestFilterOverDictionaryColumns(t *testing.T) {
	mem, ctx := newMem(t)
	schema, rec, path := writeModes(t, mem, 3000, 1000)
	defer rec.Release()

	// The file's string columns with small dictionaries are read as such.
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	var props pqarrow.ArrowReadProperties
	readSmallDictionaries(&props, pf, 0, schema, []int{0, 1, 2, 3})
	pf.Close()
	if !props.ReadDict(0) || !props.ReadDict(1) || props.ReadDict(3) {
		t.Fatalf("dictionary reads: mode %v flag %v note %v; want true true false", props.ReadDict(0), props.ReadDict(1), props.ReadDict(3))
	}

	str := func(s string) expr.Expr { return &expr.Literal{Value: scalar.NewStringScalar(s)} }
	mode, flag, n, note := colExpr(schema, 0), colExpr(schema, 1), colExpr(schema, 2), colExpr(schema, 3)
	preds := map[string]expr.Expr{
		"eq":           call(t, "eq", mode, str("AIR")),
		"is_in":        call(t, "is_in", mode, str("AIR"), str("ü-mode"), str("")),
		"is_null":      call(t, "is_null", mode),
		"not eq":       call(t, "not", call(t, "eq", mode, str("AIR"))),
		"and numeric":  call(t, "and", call(t, "ne", mode, str("SHIP")), call(t, "gt", n, &expr.Literal{Value: scalar.NewInt64Scalar(1500)})),
		"two columns":  call(t, "or", call(t, "eq", mode, str("RAIL")), call(t, "eq", flag, str("x"))),
		"dict then or": call(t, "and", call(t, "eq", flag, str("y")), call(t, "or", call(t, "eq", mode, str("AIR")), call(t, "is_null", mode))),
		"plain column": call(t, "and", call(t, "starts_with", note, str("1")), call(t, "eq", mode, str("SHIP"))),
		"none":         call(t, "eq", mode, str("no such mode")),
		// kept: 4 in 5, then under half (compacted), then a column not read yet
		"three columns": call(t, "and", call(t, "and", call(t, "ne", mode, str("SHIP")), call(t, "lt", n, &expr.Literal{Value: scalar.NewInt64Scalar(1000)})), call(t, "starts_with", note, str("2"))),
	}
	for name, pred := range preds {
		t.Run(name, func(t *testing.T) {
			scan := NewScan(mem, Parquet, []string{path}, schema, nil, nil, CSVOptions{})
			ReadLate(scan, false)
			got, err := NewFilter(scan, pred)
			if err != nil {
				t.Fatal(err)
			}
			if !scan.dictionaries || !scan.readLate {
				t.Fatal("the scan under the filter does not read dictionaries, or reads every column before filtering")
			}
			rec.Retain()
			want, err := NewFilter(records(schema, rec), pred)
			if err != nil {
				t.Fatal(err)
			}
			g, _ := drain(t, ctx, got)
			w, _ := drain(t, ctx, want)
			if !sameRows(g, w) {
				t.Errorf("%d rows %v\nwant %d rows %v", len(g), head(g), len(w), head(w))
			}
		})
	}
}

// writeModes writes rows rows to a Parquet file of row groups of groupRows
// rows: mode (five strings, unicode and empty ones, null every 11th row)
// and flag (two) have small dictionaries, n is an int64 (null every 13th),
// note a string distinct per row. It returns the rows written too.
func writeModes(t *testing.T, mem memory.Allocator, rows, groupRows int) (*arrow.Schema, arrow.RecordBatch, string) {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "mode", Type: utf8, Nullable: true},
		{Name: "flag", Type: utf8, Nullable: true},
		{Name: "n", Type: i64, Nullable: true},
		{Name: "note", Type: utf8, Nullable: true},
	}, nil)
	modes := []string{"AIR", "SHIP", "ü-mode", "", "RAIL"}
	cols := make([][]any, 4)
	for i := range rows {
		var mode any = modes[(i*7)%len(modes)]
		if i%11 == 0 {
			mode = nil
		}
		cols[0] = append(cols[0], mode)
		cols[1] = append(cols[1], []string{"x", "y"}[i%2])
		var n any = int64(i)
		if i%13 == 0 {
			n = nil
		}
		cols[2] = append(cols[2], n)
		cols[3] = append(cols[3], fmt.Sprintf("%d-note", i))
	}
	rec := buildBatch(t, mem, schema, cols...)
	path := filepath.Join(t.TempDir(), "modes.parquet")
	parquettest.Write(t, mem, path, rec, int64(groupRows))
	return schema, rec, path
}

// A column the file itself stores as a dictionary (a pandas category)
// stays one through the filter, whose schema says so.
func TestFilterKeepsTheFilesOwnDictionaries(t *testing.T) {
	mem, ctx := newMem(t)
	dictType := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: utf8}
	schema := arrow.NewSchema([]arrow.Field{{Name: "cat", Type: dictType, Nullable: true}, {Name: "n", Type: i64}}, nil)
	bld := array.NewRecordBuilder(mem, schema)
	defer bld.Release()
	cat := bld.Field(0).(*array.BinaryDictionaryBuilder)
	for i := 0; i < 100; i++ {
		if i%9 == 0 {
			cat.AppendNull()
		} else if err := cat.AppendString([]string{"red", "green", "blue"}[i%3]); err != nil {
			t.Fatal(err)
		}
		bld.Field(1).(*array.Int64Builder).Append(int64(i))
	}
	rec := bld.NewRecordBatch()
	defer rec.Release()
	path := filepath.Join(t.TempDir(), "cat.parquet")
	parquettest.Write(t, mem, path, rec, 50)
	fileSchema, err := FileSchema(mem, nil, Parquet, path, CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fileSchema.Field(0).Type.ID() != arrow.DICTIONARY {
		t.Fatalf("the file reads back as %s, not a dictionary: the test tests nothing", fileSchema.Field(0).Type)
	}
	pred := call(t, "gt", colExpr(fileSchema, 1), &expr.Literal{Value: scalar.NewInt64Scalar(40)})
	scan := NewScan(mem, Parquet, []string{path}, fileSchema, nil, nil, CSVOptions{})
	ReadLate(scan, false)
	f, err := NewFilter(scan, pred)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := Collect(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	defer ReleaseAll(got)
	rows := 0
	for _, b := range got {
		rows += int(b.NumRows())
		if !b.Schema().Equal(f.Schema()) || b.Column(0).DataType().ID() != arrow.DICTIONARY {
			t.Errorf("batch schema %s, want %s", b.Schema(), f.Schema())
		}
	}
	if rows != 59 {
		t.Errorf("%d rows, want 59 (n > 40)", rows)
	}
}
