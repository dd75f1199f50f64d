package rpc

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/cluster"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// TestOutcomeUnknownIsNotRetryable: at the edge, a write of unknown
// outcome is neither Unavailable nor a message that says to retry.
func TestOutcomeUnknownIsNotRetryable(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	err := toConnect(context.Background(), log, "/stich.v1.SessionService/SendMessage",
		&actors.Error{Code: actorsv1.ErrorCode_ERROR_CODE_OUTCOME_UNKNOWN, Message: "record message: it may or may not have been recorded"})
	ce, ok := err.(*connect.Error)
	if !ok || ce.Code() != connect.CodeUnknown || strings.Contains(strings.ToLower(ce.Message()), "retry") {
		t.Fatalf("outcome unknown at the edge: %v", err)
	}
}

// TestOwnerLostIsUnknown: a call in flight to an owner that gossip marked
// failed is Unknown at the edge (it may have been applied), with a message
// that says to read the session first.
func TestOwnerLostIsUnknown(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	err := toConnect(context.Background(), log, "/stich.v1.SessionService/SendMessage",
		fmt.Errorf("%w (session/s-x on n1)", cluster.ErrOwnerLost))
	ce, ok := err.(*connect.Error)
	if !ok || ce.Code() != connect.CodeUnknown || ce.Message() != "the owner was lost; read the session before resending" {
		t.Fatalf("owner lost at the edge: %v", err)
	}
}
