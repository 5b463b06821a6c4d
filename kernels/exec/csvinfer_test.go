package exec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

func writeCSV(t *testing.T, dir, name string, lines ...string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInferCSVLooksPastTheFirstRow(t *testing.T) {
	dir := t.TempDir()
	path := writeCSV(t, dir, "a.csv",
		"late_float,int_then_float,ints,flags,day,when,text,empty",
		",100,1,true,2024-01-31,2024-01-31 10:00:00,x,",
		"0.5,100.5,-2,false,2024-02-29,2024-02-29T11:30:00,ü,",
		"1,7,3,,1999-12-31,,3,",
	)
	s, err := InferCSV(nil, path, CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]arrow.DataType{
		"late_float": arrow.PrimitiveTypes.Float64, "int_then_float": arrow.PrimitiveTypes.Float64,
		"ints": arrow.PrimitiveTypes.Int64, "flags": arrow.FixedWidthTypes.Boolean,
		"day": arrow.FixedWidthTypes.Date32, "when": &arrow.TimestampType{Unit: arrow.Microsecond},
		"text": arrow.BinaryTypes.String, "empty": arrow.BinaryTypes.String,
	}
	for _, f := range s.Fields() {
		if !arrow.TypeEqual(f.Type, want[f.Name]) {
			t.Errorf("%s inferred as %s, want %s", f.Name, f.Type, want[f.Name])
		}
	}

	// The inferred schema reads every value back.
	mem, ctx := newMem(t)
	scan := NewScan(mem, CSV, []string{path}, s, nil, nil, CSVOptions{})
	batches, err := Collect(ctx, scan)
	scan.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer ReleaseAll(batches)
	if n := batches[0].NumRows(); n != 3 {
		t.Fatalf("%d rows", n)
	}
	if got := batches[0].Column(1).ValueStr(1); got != "100.5" {
		t.Errorf("100.5 read back as %q", got)
	}
}

func TestWidenCSVAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	a, _ := InferCSV(nil, writeCSV(t, dir, "a.csv", "x,y", "1,a"), CSVOptions{})
	b, _ := InferCSV(nil, writeCSV(t, dir, "b.csv", "x,y", "2.5,3"), CSVOptions{})
	w, err := WidenCSV(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if !arrow.TypeEqual(w.Field(0).Type, arrow.PrimitiveTypes.Float64) || !arrow.TypeEqual(w.Field(1).Type, arrow.BinaryTypes.String) {
		t.Errorf("widened to %s", w)
	}
	c, _ := InferCSV(nil, writeCSV(t, dir, "c.csv", "x,z", "1,2"), CSVOptions{})
	if _, err := WidenCSV(a, c); err == nil || !strings.Contains(err.Error(), `"y" vs "z"`) {
		t.Errorf("different names: %v", err)
	}
}

func TestInferCSVNoHeaderAndRaggedLines(t *testing.T) {
	dir := t.TempDir()
	s, err := InferCSV(nil, writeCSV(t, dir, "n.csv", "1;x", "2;y"), CSVOptions{NoHeader: true, Delimiter: ';'})
	if err != nil || s.Field(0).Name != "column_1" || s.Field(1).Name != "column_2" || s.Field(0).Type.ID() != arrow.INT64 {
		t.Fatalf("%v %v", s, err)
	}
	if _, err := InferCSV(nil, writeCSV(t, dir, "r.csv", "a,b", "1,2", "3"), CSVOptions{}); err == nil || !strings.Contains(err.Error(), "line 3 has 1 fields") {
		t.Errorf("ragged: %v", err)
	}
	if _, err := InferCSV(nil, writeCSV(t, dir, "e.csv", ""), CSVOptions{}); err == nil {
		t.Error("empty file: no error")
	}
}
