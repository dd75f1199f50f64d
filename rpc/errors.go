package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/cluster"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

var grainCodes = map[actorsv1.ErrorCode]connect.Code{
	actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND:           connect.CodeNotFound,
	actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT:    connect.CodeInvalidArgument,
	actorsv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION: connect.CodeFailedPrecondition,
	actorsv1.ErrorCode_ERROR_CODE_OUT_OF_RANGE:        connect.CodeOutOfRange,
	actorsv1.ErrorCode_ERROR_CODE_UNAVAILABLE:         connect.CodeUnavailable,
	actorsv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED:  connect.CodeResourceExhausted,
	actorsv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS:      connect.CodeAlreadyExists,
	actorsv1.ErrorCode_ERROR_CODE_INTERNAL:            connect.CodeInternal,
	// NB: Unknown, not Unavailable or Aborted: the client must not read
	// it as "nothing happened, retry" (the write may have been applied).
	actorsv1.ErrorCode_ERROR_CODE_OUTCOME_UNKNOWN: connect.CodeUnknown,
}

// toConnect translates an error from below into a Connect error with a
// message a user can act on. Internal details are logged, not returned.
func toConnect(ctx context.Context, log *slog.Logger, procedure string, err error) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce
	}
	var ae *actors.Error
	if errors.As(err, &ae) {
		code, ok := grainCodes[ae.Code]
		if !ok {
			code = connect.CodeInternal
		}
		if code == connect.CodeInternal {
			log.ErrorContext(ctx, "grain failure", "procedure", procedure, "err", err)
			return connect.NewError(code, errors.New("internal error in the session; it has been logged — retry, and report it if it persists"))
		}
		return retryable(connect.NewError(code, errors.New(ae.Message)), ae.RetryAfter)
	}
	var unavailable *cluster.UnavailableError
	if errors.As(err, &unavailable) {
		return connect.NewError(connect.CodeUnavailable, errors.New(unavailable.Error()))
	}
	switch {
	case errors.Is(err, cluster.ErrOwnerLost):
		// NB: Unknown, as for an outcome-unknown write: the call reached
		// the owner before it failed, and may have been applied.
		return connect.NewError(connect.CodeUnknown, errors.New("the owner was lost; read the session before resending"))
	case errors.Is(err, cluster.ErrUnconfirmed):
		return connect.NewError(connect.CodeUnavailable, errors.New("the node holding this session cannot reach a majority of its replicas; retry in a moment"))
	case errors.Is(err, cluster.ErrMoving):
		return connect.NewError(connect.CodeUnavailable, errors.New("the session is moving between nodes; retry in a moment"))
	case errors.Is(err, cluster.ErrNoOwner):
		return connect.NewError(connect.CodeUnavailable, errors.New("no live node serves sessions right now; retry when the cluster has recovered"))
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, errors.New("request cancelled"))
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("the session did not answer in time; retry"))
	case errors.Is(err, cluster.ErrDraining):
		return connect.NewError(connect.CodeUnavailable, errors.New("this node is shutting down; retry (another node, or this one after restart)"))
	}
	log.ErrorContext(ctx, "request failed", "procedure", procedure, "err", err)
	return connect.NewError(connect.CodeInternal, errors.New("internal error; it has been logged — retry, and report it if it persists"))
}

// retryable attaches a RetryInfo detail (and says so in the message) when
// the caller should wait before retrying.
func retryable(e *connect.Error, after time.Duration) *connect.Error {
	if after <= 0 {
		return e
	}
	if d, err := connect.NewErrorDetail(&errdetails.RetryInfo{RetryDelay: durationpb.New(after)}); err == nil {
		e.AddDetail(d)
	}
	e.Meta().Set("Retry-After", fmt.Sprintf("%d", int((after+time.Second-1)/time.Second)))
	return e
}
