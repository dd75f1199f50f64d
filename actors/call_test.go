package actors

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stichdev/stich/cluster"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// TestWriteErrOutcomeUnknownIsNotRetry: a write whose quorum failed after
// it left the node is reported as of unknown outcome, never as "retry"
// (a resent SendMessage could run twice); a write refused before it left
// stays Unavailable.
func TestWriteErrOutcomeUnknownIsNotRetry(t *testing.T) {
	unknown := writeErr("record message", fmt.Errorf("%w: write session/x: 1 of 3 replicas synced: %w", cluster.ErrOutcomeUnknown, cluster.ErrNoQuorum))
	if unknown.GetCode() != actorsv1.ErrorCode_ERROR_CODE_OUTCOME_UNKNOWN || strings.Contains(unknown.GetMessage(), "retry") {
		t.Fatalf("quorum failure after sending: %v %q", unknown.GetCode(), unknown.GetMessage())
	}
	fenced := writeErr("record message", fmt.Errorf("wrapped: %w", cluster.ErrFenced))
	if fenced.GetCode() != actorsv1.ErrorCode_ERROR_CODE_UNAVAILABLE {
		t.Fatalf("superseded before sending: %v %q", fenced.GetCode(), fenced.GetMessage())
	}
}
