package pipeline

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

var socialNow = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func refusal(out Output) actorsv1.ErrorCode {
	if out.Refusal == nil {
		return -1
	}
	return out.Refusal.Code
}

// TestForkStep: a fork is an idle session holding the given files as its
// first version, recording its origin; bad input is refused and writes
// nothing.
func TestForkStep(t *testing.T) {
	c := testConfig()
	origin := &stichv1.ForkOrigin{SessionId: "s-origin00", Version: 3, Title: "Todo"}
	files := map[string]string{"package.json": "{}\n", "src/App.tsx": "export default function App() { return null; }\n"}
	s, out := c.Step(State{}, socialNow, Fork{ID: "s-fork0000", Owner: "bob", Prompt: "a todo list", Origin: origin, Files: files, ProviderName: "fake"})
	if out.Refusal != nil || !out.Save {
		t.Fatalf("fork: refusal %v, save %v", out.Refusal, out.Save)
	}
	st := s.Session
	if st.GetPhase() != stichv1.Phase_PHASE_COMPLETED || st.GetVersions() != 1 || st.GetOwner() != "bob" || !proto.Equal(st.GetForkedFrom(), origin) || len(st.GetFiles()) != 2 {
		t.Fatalf("fork state: phase %v, versions %d, owner %q, origin %v, %d files", st.GetPhase(), st.GetVersions(), st.GetOwner(), st.GetForkedFrom(), len(st.GetFiles()))
	}
	if _, ok := out.Reply.(*actorsv1.CreateSessionReply); !ok {
		t.Errorf("reply %T", out.Reply)
	}
	puts, versions := map[string]string{}, 0
	for _, e := range out.Effects {
		switch e := e.(type) {
		case PutFile:
			puts[e.Path] = string(e.Content)
		case RecordVersion:
			versions++
			if e.Record.GetNumber() != 1 || len(e.Record.GetFiles()) != 2 {
				t.Errorf("version record %v", e.Record)
			}
		case RunStep, ArmAlarm:
			t.Errorf("a fork starts no work: %T", e)
		}
	}
	if versions != 1 || len(puts) != 2 || puts["src/App.tsx"] != files["src/App.tsx"] {
		t.Errorf("effects: %d versions, files %v", versions, puts)
	}
	// Completed, then (no builds here) the note that nothing is checked.
	completed := out.Events[len(out.Events)-2]
	if completed.GetCompleted() == nil || s.LastSeq != uint64(len(out.Events)) {
		t.Errorf("events end with %v, last seq %d of %d events", out.Events[len(out.Events)-2:], s.LastSeq, len(out.Events))
	}

	_, out = c.Step(s, socialNow, Fork{ID: "s-fork0000", Owner: "bob", Origin: origin, Files: files})
	if refusal(out) != actorsv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS {
		t.Errorf("fork onto a session: %v", out.Refusal)
	}
	for name, f := range map[string]map[string]string{
		"no files":  {},
		"bad path":  {"../etc/passwd": "x"},
		"too large": {"big.txt": string(make([]byte, 513<<10))},
	} {
		next, out := c.Step(State{}, socialNow, Fork{ID: "s-fork0001", Owner: "bob", Origin: origin, Files: f})
		if out.Refusal == nil || next.Session != nil || len(out.Effects) != 0 || len(out.Events) != 0 {
			t.Errorf("%s: refusal %v, session %v, %d effects", name, out.Refusal, next.Session, len(out.Effects))
		}
	}
}

// TestSetVisibilityStep: a change is saved with a log line; the same
// visibility again writes nothing; an unknown session and an unspecified
// visibility are refused.
func TestSetVisibilityStep(t *testing.T) {
	c := testConfig()
	if _, out := c.Step(State{}, socialNow, SetVisibility{Visibility: stichv1.Visibility_VISIBILITY_PUBLIC}); refusal(out) != actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND {
		t.Fatalf("unknown session: %v", out.Refusal)
	}
	s, _ := c.Step(State{}, socialNow, Fork{ID: "s-fork0000", Owner: "bob", Origin: &stichv1.ForkOrigin{}, Files: map[string]string{"a.ts": "x"}})
	seq := s.LastSeq
	s, out := c.Step(s, socialNow, SetVisibility{Visibility: stichv1.Visibility_VISIBILITY_PUBLIC})
	r, ok := out.Reply.(*actorsv1.SetVisibilityReply)
	if !ok || r.GetPrevious() != stichv1.Visibility_VISIBILITY_UNSPECIFIED || !out.Save || len(out.Events) != 1 ||
		s.Session.GetVisibility() != stichv1.Visibility_VISIBILITY_PUBLIC || s.LastSeq != seq+1 {
		t.Fatalf("set public: reply %v, save %v, %d events, visibility %v", out.Reply, out.Save, len(out.Events), s.Session.GetVisibility())
	}
	s2, out := c.Step(s, socialNow, SetVisibility{Visibility: stichv1.Visibility_VISIBILITY_PUBLIC})
	if out.Save || len(out.Events) != 0 || s2.LastSeq != s.LastSeq {
		t.Errorf("unchanged visibility wrote: save %v, %d events", out.Save, len(out.Events))
	}
	if _, out := c.Step(s, socialNow, SetVisibility{}); refusal(out) != actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT {
		t.Errorf("unspecified visibility: %v", out.Refusal)
	}
}
