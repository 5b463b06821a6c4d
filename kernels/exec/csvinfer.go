package exec

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"slipstream/kernels"
	"slipstream/kernels/fsroot"
)

// InferRows is how many data rows of a CSV file decide its column types.
const InferRows = 10_000

// csvKind is a point in the lattice of inferred CSV types: a column takes
// the narrowest kind every value it has parses as.
type csvKind int

const (
	kindEmpty csvKind = iota // no value seen yet
	kindInt
	kindFloat
	kindBool
	kindDate
	kindTimestamp
	kindString
)

var kindTypes = map[csvKind]arrow.DataType{
	kindInt:       arrow.PrimitiveTypes.Int64,
	kindFloat:     arrow.PrimitiveTypes.Float64,
	kindBool:      arrow.FixedWidthTypes.Boolean,
	kindDate:      arrow.FixedWidthTypes.Date32,
	kindTimestamp: &arrow.TimestampType{Unit: arrow.Microsecond},
	kindString:    arrow.BinaryTypes.String,
	kindEmpty:     arrow.BinaryTypes.String,
}

func kindOf(s string) csvKind {
	if _, err := strconv.ParseInt(s, 10, 64); err == nil {
		return kindInt
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return kindFloat
	}
	switch s {
	case "true", "false", "True", "False", "TRUE", "FALSE":
		return kindBool
	}
	if _, err := time.Parse("2006-01-02", s); err == nil {
		return kindDate
	}
	if _, err := arrow.TimestampFromString(s, arrow.Microsecond); err == nil {
		return kindTimestamp
	}
	return kindString
}

// widen is the kind that holds values of both kinds.
func widen(a, b csvKind) csvKind {
	switch {
	case a == b, b == kindEmpty:
		return a
	case a == kindEmpty:
		return b
	case (a == kindInt && b == kindFloat) || (a == kindFloat && b == kindInt):
		return kindFloat
	case (a == kindDate && b == kindTimestamp) || (a == kindTimestamp && b == kindDate):
		return kindTimestamp
	}
	return kindString
}

// InferCSV reads the header and up to InferRows rows of a CSV file and
// gives each column the narrowest type all its non-empty values parse as:
// int64, float64, bool, date32, timestamp[us], else utf8. Without a header
// the columns are named column_1, column_2, ... The file is opened through
// roots (nil: anywhere).
func InferCSV(roots *fsroot.Roots, path string, opts CSVOptions) (*arrow.Schema, error) {
	f, err := roots.Open(path)
	if err != nil {
		return nil, OpenError(path, err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = opts.Delimiter
	if r.Comma == 0 {
		r.Comma = ','
	}
	r.ReuseRecord = true
	r.LazyQuotes = true
	r.FieldsPerRecord = -1
	var names []string
	var kinds []csvKind
	for row := 0; row <= InferRows; row++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, kernels.Errorf(kernels.Invalid, "cannot read %s as CSV: %v", path, err)
		}
		if names == nil {
			names = make([]string, len(rec))
			kinds = make([]csvKind, len(rec))
			for i, v := range rec {
				names[i] = fmt.Sprintf("column_%d", i+1)
				if !opts.NoHeader {
					names[i] = v
				}
			}
			if !opts.NoHeader {
				continue
			}
		}
		if len(rec) != len(names) {
			return nil, kernels.Errorf(kernels.Invalid, "%s: line %d has %d fields, the first line has %d", path, row+1, len(rec), len(names))
		}
		for i, v := range rec {
			if v != "" && kinds[i] != kindString {
				kinds[i] = widen(kinds[i], kindOf(v))
			}
		}
	}
	if names == nil {
		return nil, kernels.Errorf(kernels.Invalid, "cannot read %s: empty CSV file", path)
	}
	fields := make([]arrow.Field, len(names))
	for i, n := range names {
		fields[i] = arrow.Field{Name: n, Type: kindTypes[kinds[i]], Nullable: true}
	}
	return arrow.NewSchema(fields, nil), nil
}

// WidenCSV is the schema that reads files inferred as a and as b: their
// column names must agree; each type widens to hold both (int64 and
// float64 give float64; anything else that differs gives utf8).
func WidenCSV(a, b *arrow.Schema) (*arrow.Schema, error) {
	if a.NumFields() != b.NumFields() {
		return nil, kernels.Errorf(kernels.Invalid, "CSV files have %d and %d columns", a.NumFields(), b.NumFields())
	}
	fields := make([]arrow.Field, a.NumFields())
	for i := range fields {
		fa, fb := a.Field(i), b.Field(i)
		if fa.Name != fb.Name {
			return nil, kernels.Errorf(kernels.Invalid, "CSV files disagree on column %d: %q vs %q", i+1, fa.Name, fb.Name)
		}
		fields[i] = fa
		if !arrow.TypeEqual(fa.Type, fb.Type) {
			fields[i].Type = kindTypes[widen(kindFromType(fa.Type), kindFromType(fb.Type))]
		}
	}
	return arrow.NewSchema(fields, nil), nil
}

func kindFromType(t arrow.DataType) csvKind {
	for k, kt := range kindTypes {
		if k != kindEmpty && arrow.TypeEqual(kt, t) {
			return k
		}
	}
	return kindString
}
