package sql

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels"
	"slipstream/kernels/exec"
	"slipstream/kernels/fsroot"
	pb "slipstream/scheduler/planpb"
)

// tablesOnly resolves the schemas of a few stored tables.
type tablesOnly map[string]*arrow.Schema

func (r tablesOnly) TableSchema(name string) (*arrow.Schema, error) {
	if s, ok := r[name]; ok {
		return s, nil
	}
	return nil, kernels.Errorf(kernels.NotFound, "no table %q", name)
}
func (tablesOnly) FileSchema([]string, exec.Format, exec.CSVOptions) ([]string, *arrow.Schema, error) {
	return nil, nil, kernels.Errorf(kernels.NotSupported, "no files here")
}
func (tablesOnly) FileRoots() *fsroot.Roots { return nil }
func (r tablesOnly) SQL(s *pb.Sql) (*pb.Node, error) {
	return Compile(s.GetQuery(), s.GetTables(), r)
}

var trips = tablesOnly{"trips": arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int32},
	{Name: "fare", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}},
	{Name: "day", Type: arrow.FixedWidthTypes.Date32},
	{Name: "vendor", Type: arrow.BinaryTypes.String},
}, nil)}

// `?` outside quotes and comments becomes $1, $2, ...
func TestNumbered(t *testing.T) {
	for in, want := range map[string]string{
		"select ? from t where a = ?":              "select $1 from t where a = $2",
		"select '?', \"?\" from t where a = ?":     "select '?', \"?\" from t where a = $1",
		"select 'it''s ?' -- why?\n, ? /* ? */, ?": "select 'it''s ?' -- why?\n, $1 /* ? */, $2",
		"select $1, $2":                            "select $1, $2",
	} {
		if got := Numbered(in); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

// Each parameter is typed from where it stands.
func TestPrepareTypesParameters(t *testing.T) {
	for text, want := range map[string]string{
		"SELECT * FROM trips WHERE id = ? AND fare > ? AND vendor LIKE ?":    "int32 decimal(10, 2) utf8",
		"SELECT * FROM trips t WHERE t.day BETWEEN ? AND ? LIMIT ? OFFSET ?": "date32 date32 int64 int64",
		"SELECT CAST(? AS DOUBLE), ? FROM trips WHERE vendor IN (?, 'x')":    "float64 utf8 utf8",
		"INSERT INTO trips (vendor, id) VALUES (?, ?)":                       "utf8 int32",
		"INSERT INTO trips VALUES (?, ?, ?, ?)":                              "int32 decimal(10, 2) date32 utf8",
	} {
		p, err := Prepare(text, trips)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		var got []string
		for _, f := range p.Params.Fields() {
			got = append(got, f.Type.String())
		}
		if g := strings.Join(got, " "); g != want {
			t.Errorf("%s: got %s, want %s", text, g, want)
		}
		if p.Query != strings.HasPrefix(text, "SELECT") {
			t.Errorf("%s: Query is %v", text, p.Query)
		}
	}
}

// Bound values become constants of the plan, or of the statement's text
// written back by the deparser, quoted.
func TestBindValues(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := array.NewStringBuilder(mem)
	b.Append("it's; DROP TABLE trips")
	s := b.NewArray()
	b.Release()
	defer s.Release()
	ib := array.NewInt64Builder(mem)
	ib.Append(-3)
	ib.AppendNull()
	i := ib.NewArray()
	ib.Release()
	defer i.Release()
	v0, err := ParamValue(s, 0)
	if err != nil {
		t.Fatal(err)
	}
	v1, _ := ParamValue(i, 0)
	v2, _ := ParamValue(i, 1)
	text, err := BindText("INSERT INTO trips (vendor, id) VALUES ($1, $2), ('x', $3)", []Value{v0, v1, v2})
	if err != nil {
		t.Fatal(err)
	}
	if want := "INSERT INTO trips (vendor, id) VALUES ('it''s; DROP TABLE trips', -3), ('x', NULL::bigint)"; text != want {
		t.Errorf("got  %s\nwant %s", text, want)
	}
	n, err := CompileBound("SELECT id FROM trips WHERE vendor = $1 AND id > $2", []Value{v0, v1}, trips)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(n.String(), `string_value:"it's; DROP TABLE trips"`) {
		t.Errorf("the bound string is not a literal of the plan: %s", n)
	}
	if _, err := CompileBound("SELECT id FROM trips WHERE id = $2", []Value{v0}, trips); err == nil || !strings.Contains(err.Error(), "parameter $2 has no value") {
		t.Errorf("a missing value: got %v", err)
	}
}
