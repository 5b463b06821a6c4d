package exec

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"slipstream/kernels"
)

// ValidateBatch checks every column of a batch decoded from outside the
// node (an upload, a user's IPC file) in full: offsets that run past their
// data, lengths that disagree, dictionary indices out of range. Kernels
// trust the batches they are given, so one that lies would otherwise be
// read out of bounds later, far from the bytes to blame. what names the
// batch in the error ("uploaded batch 3").
func ValidateBatch(b arrow.RecordBatch, what string) (err error) {
	col := ""
	defer func() {
		// Arrow's checks read the offsets they check and can themselves
		// run out of bounds: that too says the column is malformed.
		if p := recover(); p != nil {
			err = kernels.Errorf(kernels.Invalid, "%s: column %q is malformed: %v", what, col, p)
		}
	}()
	for i, c := range b.Columns() {
		col = b.ColumnName(i)
		if int64(c.Len()) != b.NumRows() {
			return kernels.Errorf(kernels.Invalid, "%s: column %q has %d values but the batch has %d rows",
				what, b.ColumnName(i), c.Len(), b.NumRows())
		}
		if err := array.ValidateFull(c); err != nil {
			return kernels.Errorf(kernels.Invalid, "%s: column %q is malformed: %v", what, b.ColumnName(i), err)
		}
	}
	return nil
}
