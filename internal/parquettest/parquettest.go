// Package parquettest writes Parquet files for tests.
package parquettest

import (
	"io"
	"os"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// Write writes rec to path as Parquet, in row groups of groupLen rows,
// with statistics and the Arrow schema stored.
func Write(t testing.TB, mem memory.Allocator, path string, rec arrow.RecordBatch, groupLen int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	WriteTo(t, f, rec, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(mem)),
		parquet.WithMaxRowGroupLength(groupLen), parquet.WithAllocator(mem), parquet.WithStats(true))
}

// WriteTo writes rec to w as Parquet with the properties given.
func WriteTo(t testing.TB, w io.Writer, rec arrow.RecordBatch, arrowProps pqarrow.ArrowWriterProperties, props ...parquet.WriterProperty) {
	t.Helper()
	fw, err := pqarrow.NewFileWriter(rec.Schema(), w, parquet.NewWriterProperties(props...), arrowProps)
	if err != nil {
		t.Fatal(err)
	}
	if err := fw.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
}
