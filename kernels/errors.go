package kernels

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
)

// Kind is the one meaning of an error. Each kind maps to one gRPC code in
// the flight package and to one Python exception class in the client.
type Kind int

const (
	// Internal is a bug in Slipstream; the default for unclassified errors.
	Internal Kind = iota
	// Invalid: the plan or the input is wrong and the user can fix it
	// (unknown column, type mismatch, malformed bytes, failed cast).
	Invalid
	// NotFound: a table or file that does not exist.
	NotFound
	// AlreadyExists: creating a table whose name is taken.
	AlreadyExists
	// ResourceExhausted: a memory or disk limit was reached.
	ResourceExhausted
	// NotSupported: valid, but not implemented yet.
	NotSupported
	// Cancelled: the caller gave up on the work.
	Cancelled
	// Unavailable: a node could not be reached, or data it held is gone.
	Unavailable
	// PermissionDenied: the request is refused, e.g. a file outside the
	// directories the server may read.
	PermissionDenied
)

func (k Kind) String() string {
	switch k {
	case Invalid:
		return "invalid argument"
	case NotFound:
		return "not found"
	case AlreadyExists:
		return "already exists"
	case ResourceExhausted:
		return "resource exhausted"
	case NotSupported:
		return "not supported"
	case Cancelled:
		return "cancelled"
	case Unavailable:
		return "unavailable"
	case PermissionDenied:
		return "permission denied"
	}
	return "internal"
}

// Error is an error of a known kind. Wrap it freely with fmt.Errorf("...: %w").
type Error struct {
	Kind Kind
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Errorf makes an error of kind k.
func Errorf(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// KindOf classifies err. Arrow's own sentinels count too: arrow.ErrInvalid
// (overflow, failed cast) is the user's to fix.
func KindOf(err error) Kind {
	var e *Error
	switch {
	case err == nil:
		return Internal
	case errors.As(err, &e):
		return e.Kind
	case errors.Is(err, arrow.ErrInvalid), errors.Is(err, arrow.ErrType), errors.Is(err, arrow.ErrIndex):
		return Invalid
	case errors.Is(err, arrow.ErrNotImplemented):
		return NotSupported
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return Cancelled
	}
	return Internal
}
