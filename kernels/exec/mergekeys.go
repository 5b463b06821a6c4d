package exec

import (
	"bytes"
	"cmp"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"

	"slipstream/kernels/expr"
)

// keyView is one sort key column of a batch, read without an interface
// call a row: a merge compares a row or two of its runs for every row it
// gives, and rowOrder.compare's column lookups and type assertions were
// most of that cost. Kinds it does not know fall back to rowOrder's
// comparison of the column.
type keyView struct {
	kind  int
	arr   arrow.Array
	valid []byte // the validity bitmap; nil when no row is null
	off   int    // the array's offset into valid
	i64   []int64
	i32   []int32
	f64   []float64
	offs  []int32
	data  []byte
}

const (
	viewOther = iota
	viewInt64
	viewInt32
	viewFloat64
	viewBytes
)

// views are batch b's key columns as views.
func (o *rowOrder) views(b arrow.RecordBatch, into []keyView) []keyView {
	into = into[:0]
	for _, k := range o.keys {
		a := b.Column(k.Column)
		v := keyView{arr: a, off: a.Data().Offset()}
		if a.NullN() > 0 {
			v.valid = a.NullBitmapBytes()
		}
		switch a.DataType().ID() {
		case arrow.INT64, arrow.TIMESTAMP, arrow.DATE64, arrow.DURATION, arrow.TIME64:
			v.kind, v.i64 = viewInt64, expr.Values[int64](a)
		case arrow.INT32, arrow.DATE32, arrow.TIME32:
			v.kind, v.i32 = viewInt32, expr.Values[int32](a)
		case arrow.FLOAT64:
			v.kind, v.f64 = viewFloat64, expr.Values[float64](a)
		case arrow.STRING:
			x := a.(*array.String)
			v.kind, v.offs, v.data = viewBytes, x.ValueOffsets(), x.ValueBytes()
		case arrow.BINARY:
			x := a.(*array.Binary)
			v.kind, v.offs, v.data = viewBytes, x.ValueOffsets(), x.ValueBytes()
		}
		into = append(into, v)
	}
	return into
}

// compareViews is compare over views of the batches.
func (o *rowOrder) compareViews(a []keyView, i int, b []keyView, j int) int {
	for n := range a {
		x, y := &a[n], &b[n]
		k := &o.keys[n]
		xn := x.valid != nil && !bitutil.BitIsSet(x.valid, x.off+i)
		yn := y.valid != nil && !bitutil.BitIsSet(y.valid, y.off+j)
		if xn || yn {
			if xn && yn {
				continue
			}
			// A null goes first unless NullsLast, in either direction.
			if xn == !k.NullsLast {
				return -1
			}
			return 1
		}
		var c int
		switch x.kind {
		case viewInt64:
			c = cmp.Compare(x.i64[i], y.i64[j])
		case viewInt32:
			c = cmp.Compare(x.i32[i], y.i32[j])
		case viewFloat64:
			c = expr.CompareFloats(x.f64[i], y.f64[j])
		case viewBytes:
			// offsets count from the array's first value's
			c = bytes.Compare(x.data[x.offs[i]-x.offs[0]:x.offs[i+1]-x.offs[0]], y.data[y.offs[j]-y.offs[0]:y.offs[j+1]-y.offs[0]])
		default:
			c = o.cmps[n](x.arr, y.arr, i, j)
		}
		if c == 0 {
			continue
		}
		if k.Descending {
			return -c
		}
		return c
	}
	return 0
}
