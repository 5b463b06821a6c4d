package flight

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"slipstream/kernels"
	"slipstream/scheduler"
	"slipstream/scheduler/planpb"
)

var codeOf = map[kernels.Kind]codes.Code{
	kernels.Internal:          codes.Internal,
	kernels.Invalid:           codes.InvalidArgument,
	kernels.NotFound:          codes.NotFound,
	kernels.AlreadyExists:     codes.AlreadyExists,
	kernels.ResourceExhausted: codes.ResourceExhausted,
	kernels.NotSupported:      codes.Unimplemented,
	kernels.Cancelled:         codes.Canceled,
	kernels.Unavailable:       codes.Unavailable,
	kernels.PermissionDenied:  codes.PermissionDenied,
}

// toStatus turns any error into a gRPC status error with the code its kind
// maps to; a lost input carries a planpb.LostInput in its details.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	var li *scheduler.LostInput
	if errors.As(err, &li) {
		st := status.New(codes.Unavailable, err.Error())
		detailed, derr := st.WithDetails(&planpb.LostInput{Node: li.Node, Stage: li.Stage, Task: li.Task, Cause: li.Cause})
		if derr != nil {
			return st.Err()
		}
		return detailed.Err()
	}
	var ke *kernels.Error
	if !errors.As(err, &ke) {
		if _, ok := status.FromError(err); ok {
			return err // already a status, e.g. from the transport
		}
	}
	return status.Error(codeOf[kernels.KindOf(err)], err.Error())
}

func recovered(method string, p any) error {
	slog.Error("panic in handler", "method", method, "panic", p, "stack", string(debug.Stack()))
	return status.Errorf(codes.Internal, "internal error in %s: %v (the server is still up; please report this)", method, p)
}

// unaryGuard recovers panics and maps errors of unary calls.
func unaryGuard(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = recovered(info.FullMethod, p)
		}
	}()
	resp, err = handler(ctx, req)
	return resp, toStatus(err)
}

// streamGuard recovers panics and maps errors of streaming calls.
func streamGuard(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = recovered(info.FullMethod, p)
		}
	}()
	return toStatus(handler(srv, ss))
}

func invalid(format string, args ...any) error {
	return kernels.Errorf(kernels.Invalid, format, args...)
}
