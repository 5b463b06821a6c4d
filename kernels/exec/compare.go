package exec

import (
	"bytes"
	"cmp"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"slipstream/kernels/expr"
)

// rowOrder compares rows of batches that share a schema by sort keys, in
// the order the sort gives them (sortkeys.go: nulls first or last whatever
// the direction; NaN above every number): the merge of sorted runs must
// agree with the sort that made them (TestNormalizedKeySortMatchesRowOrder).
type rowOrder struct {
	keys []SortKey
	cmps []func(a, b arrow.Array, i, j int) int
}

func newRowOrder(schema *arrow.Schema, keys []SortKey) (*rowOrder, error) {
	o := &rowOrder{keys: keys}
	for _, k := range keys {
		c, err := valueCompare(schema.Field(k.Column).Type)
		if err != nil {
			return nil, err
		}
		o.cmps = append(o.cmps, c)
	}
	return o, nil
}

// compare orders row i of a before (<0), with (0) or after (>0) row j of b
// (the tests' reference order; a merge keeps views of its batches).
func (o *rowOrder) compare(a arrow.RecordBatch, i int, b arrow.RecordBatch, j int) int {
	return o.compareViews(o.views(a, nil), i, o.views(b, nil), j)
}

type valued2[T any] interface{ Value(int) T }

func ordered[T cmp.Ordered, A valued2[T]]() func(a, b arrow.Array, i, j int) int {
	return func(a, b arrow.Array, i, j int) int { return cmp.Compare(a.(A).Value(i), b.(A).Value(j)) }
}

// floatOrder puts NaN after every number and equal to itself.
func floatOrder[T float32 | float64, A valued2[T]]() func(a, b arrow.Array, i, j int) int {
	return func(a, b arrow.Array, i, j int) int {
		return expr.CompareFloats(a.(A).Value(i), b.(A).Value(j))
	}
}

// valueCompare compares two non-null values of type t.
func valueCompare(t arrow.DataType) (func(a, b arrow.Array, i, j int) int, error) {
	switch t.ID() {
	case arrow.INT8:
		return ordered[int8, *array.Int8](), nil
	case arrow.INT16:
		return ordered[int16, *array.Int16](), nil
	case arrow.INT32:
		return ordered[int32, *array.Int32](), nil
	case arrow.INT64:
		return ordered[int64, *array.Int64](), nil
	case arrow.UINT8:
		return ordered[uint8, *array.Uint8](), nil
	case arrow.UINT16:
		return ordered[uint16, *array.Uint16](), nil
	case arrow.UINT32:
		return ordered[uint32, *array.Uint32](), nil
	case arrow.UINT64:
		return ordered[uint64, *array.Uint64](), nil
	case arrow.FLOAT32:
		return floatOrder[float32, *array.Float32](), nil
	case arrow.FLOAT64:
		return floatOrder[float64, *array.Float64](), nil
	case arrow.DATE32:
		return ordered[arrow.Date32, *array.Date32](), nil
	case arrow.DATE64:
		return ordered[arrow.Date64, *array.Date64](), nil
	case arrow.TIMESTAMP:
		return ordered[arrow.Timestamp, *array.Timestamp](), nil
	case arrow.TIME32:
		return ordered[arrow.Time32, *array.Time32](), nil
	case arrow.TIME64:
		return ordered[arrow.Time64, *array.Time64](), nil
	case arrow.DURATION:
		return ordered[arrow.Duration, *array.Duration](), nil
	case arrow.STRING:
		return func(a, b arrow.Array, i, j int) int {
			return strings.Compare(a.(*array.String).Value(i), b.(*array.String).Value(j))
		}, nil
	case arrow.LARGE_STRING:
		return func(a, b arrow.Array, i, j int) int {
			return strings.Compare(a.(*array.LargeString).Value(i), b.(*array.LargeString).Value(j))
		}, nil
	case arrow.STRING_VIEW:
		return func(a, b arrow.Array, i, j int) int {
			return strings.Compare(a.(*array.StringView).Value(i), b.(*array.StringView).Value(j))
		}, nil
	case arrow.BINARY:
		return func(a, b arrow.Array, i, j int) int {
			return bytes.Compare(a.(*array.Binary).Value(i), b.(*array.Binary).Value(j))
		}, nil
	case arrow.LARGE_BINARY:
		return func(a, b arrow.Array, i, j int) int {
			return bytes.Compare(a.(*array.LargeBinary).Value(i), b.(*array.LargeBinary).Value(j))
		}, nil
	case arrow.BOOL:
		return func(a, b arrow.Array, i, j int) int {
			x, y := a.(*array.Boolean).Value(i), b.(*array.Boolean).Value(j)
			switch {
			case x == y:
				return 0
			case y:
				return -1
			}
			return 1
		}, nil
	case arrow.DECIMAL128:
		return func(a, b arrow.Array, i, j int) int {
			x, y := a.(*array.Decimal128).Value(i), b.(*array.Decimal128).Value(j)
			return decimal128.Num.Cmp(x, y)
		}, nil
	}
	return nil, fmt.Errorf("cannot merge sorted runs by %s values", t)
}
