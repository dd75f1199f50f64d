package actors

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// TestSessionGrainChecksCaller calls a session grain directly (no RPC
// edge) as another user, with no caller, as the owner, an admin and the
// node: only the last three get in, and everyone else gets the NOT_FOUND
// of an unknown session, for every request kind; nothing they sent
// changed the session. A session cannot be created for someone else.
func TestSessionGrainChecksCaller(t *testing.T) {
	rt := startRuntime(t, "", newFake())
	ann, bob := UserCaller("ann", false), UserCaller("bob", false)
	id := rt.NewSessionID("")
	if _, err := Call[*actorsv1.CreateSessionReply](ctxT(t), rt.Node, KindSession, rt.NewSessionID(""),
		&actorsv1.CreateSession{Caller: bob, Prompt: "an app", Owner: "ann"}); codeOf(err) != actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT {
		t.Fatalf("bob creating a session of ann's: %v", err)
	}
	if _, err := Call[*actorsv1.CreateSessionReply](ctxT(t), rt.Node, KindSession, id,
		&actorsv1.CreateSession{Caller: ann, Prompt: "an app", Owner: "ann"}); err != nil {
		t.Fatal(err)
	}
	if err := rt.Watch(ctxT(t), ann, id, 0, true, func(*stichv1.SessionEvent) error { return nil }); err != nil {
		t.Fatal(err)
	}
	before := snapshotAs(t, rt, id, ann)

	// requests builds every request kind as caller c.
	requests := func(c *actorsv1.Caller) []proto.Message {
		return []proto.Message{
			&actorsv1.GetSnapshot{Caller: c},
			&actorsv1.ReadLog{Caller: c, Limit: 10},
			&actorsv1.Subscribe{Caller: c, SubscriberAddress: "nonhost", SubscriberId: "x"},
			&actorsv1.Unsubscribe{Caller: c, SubscriberAddress: "nonhost", SubscriberId: "x"},
			&actorsv1.ReadFile{Caller: c, Path: "a.ts"},
			&actorsv1.ListFiles{Caller: c},
			&actorsv1.ListVersions{Caller: c},
			&actorsv1.DiffVersions{Caller: c, From: 1, To: 1},
			&actorsv1.PostMessage{Caller: c, Text: "add a footer"},
			&actorsv1.SaveFile{Caller: c, Path: "src/x.ts", Content: "export {};\n"},
			&actorsv1.RollbackSession{Caller: c, Version: 1},
			&actorsv1.StopSession{Caller: c},
			&actorsv1.ResumeSession{Caller: c},
			&actorsv1.PreviewReport{Caller: c, Kind: "error", Message: "x"},
			&actorsv1.DeleteSession{Caller: c},
		}
	}
	for _, c := range []*actorsv1.Caller{bob, nil, {UserId: ""}, UserCaller("Ann", false)} {
		for _, msg := range requests(c) {
			// NB: asking for the refusal itself: any other answer is an error.
			ge, err := Call[*actorsv1.GrainError](ctxT(t), rt.Node, KindSession, id, msg)
			if err != nil || ge.GetCode() != actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND || ge.GetMessage() != "session "+id+" does not exist" {
				t.Errorf("%T as %v: %v %v, want NOT_FOUND", msg, c, ge, err)
			}
		}
	}
	err := rt.Watch(ctxT(t), bob, id, 0, true, func(*stichv1.SessionEvent) error {
		t.Error("bob received an event")
		return nil
	})
	if codeOf(err) != actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND {
		t.Errorf("bob's watch: %v", err)
	}
	after := snapshotAs(t, rt, id, ann)
	if after.GetLastSeq() != before.GetLastSeq() || after.GetPhase() != before.GetPhase() {
		t.Fatalf("refused calls changed the session: seq %d -> %d", before.GetLastSeq(), after.GetLastSeq())
	}
	for _, c := range []*actorsv1.Caller{UserCaller("root", true), NodeCaller()} {
		snapshotAs(t, rt, id, c)
	}
	if _, err := Call[*actorsv1.DeleteSessionReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.DeleteSession{Caller: ann}); err != nil {
		t.Fatalf("the owner's delete: %v", err)
	}
}

func snapshotAs(t *testing.T, rt *Runtime, id string, c *actorsv1.Caller) *stichv1.Session {
	t.Helper()
	r, err := Call[*actorsv1.SnapshotReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.GetSnapshot{Caller: c})
	if err != nil {
		t.Fatalf("snapshot as %v: %v", c, err)
	}
	return r.GetSession()
}

func codeOf(err error) actorsv1.ErrorCode {
	var ae *Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return -1
}
