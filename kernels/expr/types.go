package expr

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"slipstream/kernels"
)

// IsInteger reports whether t is a signed or unsigned integer type.
func IsInteger(t arrow.DataType) bool { return arrow.IsInteger(t.ID()) }

// IsFloat reports whether t is float32 or float64.
func IsFloat(t arrow.DataType) bool { return t.ID() == arrow.FLOAT32 || t.ID() == arrow.FLOAT64 }

// IsNumeric reports whether arithmetic applies to t.
func IsNumeric(t arrow.DataType) bool {
	return IsInteger(t) || IsFloat(t) || t.ID() == arrow.DECIMAL128
}

// IsString reports whether t holds UTF-8 text.
func IsString(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW:
		return true
	}
	return false
}

// IsOrderable reports whether values of t can be compared with < and sorted.
func IsOrderable(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.BOOL, arrow.DATE32, arrow.TIMESTAMP, arrow.DURATION, arrow.TIME32, arrow.TIME64:
		return true
	}
	return IsNumeric(t) || IsString(t) || IsBinary(t)
}

// IsTime reports whether t is a time of day (time32 or time64).
func IsTime(t arrow.DataType) bool { return t.ID() == arrow.TIME32 || t.ID() == arrow.TIME64 }

// IsBinary reports whether t holds bytes.
func IsBinary(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.BINARY, arrow.LARGE_BINARY, arrow.BINARY_VIEW:
		return true
	}
	return false
}

// timeUnitOf is the unit of a timestamp, duration or time type.
func timeUnitOf(t arrow.DataType) arrow.TimeUnit {
	return t.(arrow.TemporalWithUnit).TimeUnit()
}

// Time64Nanos is the type every time of day is computed in: polars' Time.
var Time64Nanos arrow.DataType = &arrow.Time64Type{Unit: arrow.Nanosecond}

// IsNull reports whether t is the type of an untyped null literal.
func IsNull(t arrow.DataType) bool { return t.ID() == arrow.NULL }

func intBits(t arrow.DataType) int { return t.(arrow.FixedWidthDataType).BitWidth() }

func signedOfBits(bits int) arrow.DataType {
	switch {
	case bits <= 8:
		return arrow.PrimitiveTypes.Int8
	case bits <= 16:
		return arrow.PrimitiveTypes.Int16
	case bits <= 32:
		return arrow.PrimitiveTypes.Int32
	}
	return arrow.PrimitiveTypes.Int64
}

func unsignedOfBits(bits int) arrow.DataType {
	switch {
	case bits <= 8:
		return arrow.PrimitiveTypes.Uint8
	case bits <= 16:
		return arrow.PrimitiveTypes.Uint16
	case bits <= 32:
		return arrow.PrimitiveTypes.Uint32
	}
	return arrow.PrimitiveTypes.Uint64
}

// decimalForInt is the narrowest decimal that holds every value of integer type t.
func decimalForInt(t arrow.DataType) *arrow.Decimal128Type {
	digits := map[arrow.Type]int32{
		arrow.INT8: 3, arrow.INT16: 5, arrow.INT32: 10, arrow.INT64: 19,
		arrow.UINT8: 3, arrow.UINT16: 5, arrow.UINT32: 10, arrow.UINT64: 20,
	}[t.ID()]
	return &arrow.Decimal128Type{Precision: digits, Scale: 0}
}

func clampPrecision(p int32) int32 {
	if p > 38 {
		return 38
	}
	return p
}

// CommonNumeric is the type both sides of an arithmetic or comparison are
// cast to: the narrowest type that holds both without losing integers.
func CommonNumeric(a, b arrow.DataType) (arrow.DataType, error) {
	if !IsNumeric(a) || !IsNumeric(b) {
		return nil, kernels.Errorf(kernels.Invalid, "expected numbers, got %s and %s", a, b)
	}
	if arrow.TypeEqual(a, b) {
		return a, nil
	}
	switch {
	case IsFloat(a) || IsFloat(b):
		return arrow.PrimitiveTypes.Float64, nil
	case a.ID() == arrow.DECIMAL128 || b.ID() == arrow.DECIMAL128:
		da, db := asDecimal(a), asDecimal(b)
		scale := max(da.Scale, db.Scale)
		whole := max(da.Precision-da.Scale, db.Precision-db.Scale)
		return &arrow.Decimal128Type{Precision: clampPrecision(whole + scale), Scale: scale}, nil
	}
	sa, sb := arrow.IsSignedInteger(a.ID()), arrow.IsSignedInteger(b.ID())
	ba, bb := intBits(a), intBits(b)
	switch {
	case sa && sb:
		return signedOfBits(max(ba, bb)), nil
	case !sa && !sb:
		return unsignedOfBits(max(ba, bb)), nil
	case sa && ba > bb:
		return a, nil
	case sb && bb > ba:
		return b, nil
	}
	return signedOfBits(2 * max(ba, bb)), nil
}

func asDecimal(t arrow.DataType) *arrow.Decimal128Type {
	if d, ok := t.(*arrow.Decimal128Type); ok {
		return d
	}
	return decimalForInt(t)
}

// CommonComparable is the type both sides of a comparison are cast to.
func CommonComparable(a, b arrow.DataType) (arrow.DataType, error) {
	switch {
	case arrow.TypeEqual(a, b) && a.ID() != arrow.STRING_VIEW && a.ID() != arrow.BINARY_VIEW: // Arrow compares no views
		return a, nil
	case a.ID() == arrow.UINT64 && arrow.IsSignedInteger(b.ID()), b.ID() == arrow.UINT64 && arrow.IsSignedInteger(a.ID()):
		// No integer type holds both; CommonNumeric's int64 would make the
		// cast fail for every uint64 above MaxInt64.
		return &arrow.Decimal128Type{Precision: 20, Scale: 0}, nil
	case IsNumeric(a) && IsNumeric(b):
		return CommonNumeric(a, b)
	case IsString(a) && IsString(b):
		return arrow.BinaryTypes.LargeString, nil
	case a.ID() == arrow.TIMESTAMP && b.ID() == arrow.TIMESTAMP:
		ta, tb := a.(*arrow.TimestampType), b.(*arrow.TimestampType)
		return &arrow.TimestampType{Unit: max(ta.Unit, tb.Unit), TimeZone: ta.TimeZone}, nil
	case a.ID() == arrow.DURATION && b.ID() == arrow.DURATION:
		return &arrow.DurationType{Unit: max(timeUnitOf(a), timeUnitOf(b))}, nil
	case IsTime(a) && IsTime(b):
		if arrow.TypeEqual(a, b) {
			return a, nil
		}
		return Time64Nanos, nil
	case IsBinary(a) && IsBinary(b):
		return arrow.BinaryTypes.LargeBinary, nil
	case a.ID() == arrow.DATE32 && b.ID() == arrow.TIMESTAMP:
		return b, nil
	case a.ID() == arrow.TIMESTAMP && b.ID() == arrow.DATE32:
		return a, nil
	}
	return nil, kernels.Errorf(kernels.Invalid, "cannot compare %s with %s", TypeName(a), TypeName(b))
}

// TypeName is the user-facing name of an Arrow type.
func TypeName(t arrow.DataType) string {
	switch t.ID() {
	case arrow.STRING:
		return "utf8"
	case arrow.LARGE_STRING:
		return "large_utf8"
	case arrow.STRING_VIEW:
		return "string_view"
	case arrow.DECIMAL128:
		d := t.(*arrow.Decimal128Type)
		return fmt.Sprintf("decimal128(%d, %d)", d.Precision, d.Scale)
	}
	return t.String()
}

// IsBool reports whether t is boolean.
func IsBool(t arrow.DataType) bool { return t.ID() == arrow.BOOL }
