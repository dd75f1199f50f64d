package actors

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/stichdev/stich/cluster"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// Error is a grain's refusal or failure, with a code the RPC edge maps to a
// Connect code.
type Error struct {
	Code       actorsv1.ErrorCode
	Message    string
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Message }

// grainErr builds the reply a grain sends to refuse a request.
func grainErr(code actorsv1.ErrorCode, format string, args ...any) *actorsv1.GrainError {
	return &actorsv1.GrainError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// writeErr is the reply for a failed durable write: OutcomeUnknown when
// the write reached replicas but no majority confirmed it (it may still be
// applied: resending could apply it twice); Unavailable when it was not
// applied because the replicas could not be reached or a newer activation
// superseded this one (retrying reaches the grain's current owner); else
// Internal.
func writeErr(what string, err error) *actorsv1.GrainError {
	if errors.Is(err, cluster.ErrOutcomeUnknown) {
		return grainErr(actorsv1.ErrorCode_ERROR_CODE_OUTCOME_UNKNOWN, "%s: the session's storage replicas did not confirm it; it may or may not have been recorded — read the session to find out before sending it again", what)
	}
	if errors.Is(err, cluster.ErrNoQuorum) || errors.Is(err, cluster.ErrFenced) {
		return grainErr(actorsv1.ErrorCode_ERROR_CODE_UNAVAILABLE, "%s: the session's storage replicas are unreachable from this node; retry", what)
	}
	return grainErr(actorsv1.ErrorCode_ERROR_CODE_INTERNAL, "%s: %v", what, err)
}

// Call sends req to the grain (kind, identity) and returns its typed reply.
// It is the one way stich code calls a grain: the context's deadline bounds
// the call (activation included), and a [actorsv1.GrainError] reply becomes
// an [*Error].
func Call[R proto.Message](ctx context.Context, n *cluster.Node, kind, identity string, req proto.Message) (R, error) {
	var zero R
	res, err := n.Request(ctx, kind, identity, req)
	if errors.Is(err, cluster.ErrNoSuchGrain) {
		// Worded as the grain itself words it: an unknown id and someone
		// else's answer alike.
		return zero, &Error{Code: actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND, Message: fmt.Sprintf("%s %s does not exist", kind, identity)}
	}
	if err != nil {
		return zero, err
	}
	if r, ok := res.(R); ok {
		return r, nil
	}
	if ge, ok := res.(*actorsv1.GrainError); ok {
		return zero, &Error{Code: ge.GetCode(), Message: ge.GetMessage(), RetryAfter: time.Duration(ge.GetRetryAfterMs()) * time.Millisecond}
	}
	return zero, fmt.Errorf("actors: %s/%s answered %T to %T", kind, identity, res, req)
}
