package actors

import (
	"testing"

	"google.golang.org/protobuf/proto"

	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// ask sends msg to session id and reports whether the grain refused it
// with NOT_FOUND (any other refusal fails the test).
func refusedNotFound(t *testing.T, rt *Runtime, id string, msg proto.Message) bool {
	t.Helper()
	res, err := rt.Node.Request(ctxT(t), KindSession, id, msg)
	if err != nil {
		t.Fatalf("%T: %v", msg, err)
	}
	ge, ok := res.(*actorsv1.GrainError)
	if !ok {
		return false
	}
	if ge.GetCode() != actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND || ge.GetMessage() != "session "+id+" does not exist" {
		t.Fatalf("%T: refused with %v, want the NOT_FOUND of an unknown session", msg, ge)
	}
	return true
}

func setVisibility(t *testing.T, rt *Runtime, id string, c *actorsv1.Caller, v stichv1.Visibility) *actorsv1.SetVisibilityReply {
	t.Helper()
	r, err := Call[*actorsv1.SetVisibilityReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.SetVisibility{Caller: c, Visibility: v})
	if err != nil {
		t.Fatalf("set visibility %v as %v: %v", v, c, err)
	}
	return r
}

// TestSessionGrainReadsByVisibility: the session grain itself (no RPC
// edge) lets another signed-in user, and an anonymous visitor, read an
// unlisted or public session, never a private one, and never change any
// (an anonymous caller that also names a user or the admin role is still
// only anonymous); callers without a user read nothing; only the owner changes the visibility (not an admin, not
// another user).
func TestSessionGrainReadsByVisibility(t *testing.T) {
	rt := startRuntime(t, "", newFake())
	ann, bob := UserCaller("ann", false), UserCaller("bob", false)
	id := rt.NewSessionID("")
	if _, err := Call[*actorsv1.CreateSessionReply](ctxT(t), rt.Node, KindSession, id,
		&actorsv1.CreateSession{Caller: ann, Prompt: "an app", Owner: "ann"}); err != nil {
		t.Fatal(err)
	}
	if err := rt.Watch(ctxT(t), ann, id, 0, true, func(*stichv1.SessionEvent) error { return nil }); err != nil {
		t.Fatal(err)
	}
	snap := snapshotAs(t, rt, id, ann)
	if !snap.GetOwned() || snap.GetVisibility() != stichv1.Visibility_VISIBILITY_UNSPECIFIED || len(snap.GetFiles()) == 0 || snap.GetVersion() == 0 {
		t.Fatalf("new session: owned %v, visibility %v, %d files, version %d", snap.GetOwned(), snap.GetVisibility(), len(snap.GetFiles()), snap.GetVersion())
	}
	file := snap.GetFiles()[0].GetPath()
	reads := func(c *actorsv1.Caller) []proto.Message {
		return []proto.Message{
			&actorsv1.GetSnapshot{Caller: c},
			&actorsv1.ReadLog{Caller: c, Limit: 10},
			&actorsv1.Subscribe{Caller: c, SubscriberAddress: "nonhost", SubscriberId: "x"},
			&actorsv1.Unsubscribe{Caller: c, SubscriberAddress: "nonhost", SubscriberId: "x"},
			&actorsv1.ReadFile{Caller: c, Path: file},
			&actorsv1.ReadFile{Caller: c, Path: file, Version: 1},
			&actorsv1.ListFiles{Caller: c},
			&actorsv1.ListVersions{Caller: c},
			&actorsv1.DiffVersions{Caller: c, From: 1, To: 1},
		}
	}
	changes := func(c *actorsv1.Caller) []proto.Message {
		return []proto.Message{
			&actorsv1.PostMessage{Caller: c, Text: "add a footer"},
			&actorsv1.SaveFile{Caller: c, Path: "src/x.ts", Content: "export {};\n"},
			&actorsv1.RollbackSession{Caller: c, Version: 1},
			&actorsv1.StopSession{Caller: c},
			&actorsv1.ResumeSession{Caller: c},
			&actorsv1.PreviewReport{Caller: c, Kind: "error", Message: "x"},
			&actorsv1.SetVisibility{Caller: c, Visibility: stichv1.Visibility_VISIBILITY_PRIVATE},
			&actorsv1.DeleteSession{Caller: c},
		}
	}
	for _, v := range []stichv1.Visibility{stichv1.Visibility_VISIBILITY_PRIVATE, stichv1.Visibility_VISIBILITY_UNLISTED,
		stichv1.Visibility_VISIBILITY_PUBLIC, stichv1.Visibility_VISIBILITY_PRIVATE} {
		setVisibility(t, rt, id, ann, v)
		before := snapshotAs(t, rt, id, ann)
		if before.GetVisibility() != v {
			t.Fatalf("visibility %v, want %v", before.GetVisibility(), v)
		}
		readable := v != stichv1.Visibility_VISIBILITY_PRIVATE
		for _, c := range []*actorsv1.Caller{bob, AnonymousCaller()} {
			for _, msg := range reads(c) {
				if got := refusedNotFound(t, rt, id, msg); got == readable {
					t.Errorf("%v app: %T as %v refused=%v", v, msg, c, got)
				}
			}
		}
		// Anonymous is never more than a reader, whatever else it names.
		for _, c := range []*actorsv1.Caller{AnonymousCaller(), {Anonymous: true, UserId: "ann"}, {Anonymous: true, Admin: true}} {
			for _, msg := range changes(c) {
				if !refusedNotFound(t, rt, id, msg) {
					t.Errorf("%v app: %T as %v was accepted", v, msg, c)
				}
			}
		}
		if readable && snapshotAs(t, rt, id, AnonymousCaller()).GetOwned() {
			t.Errorf("%v app: an anonymous snapshot says it owns it", v)
		}
		for _, c := range []*actorsv1.Caller{nil, {UserId: ""}} {
			for _, msg := range reads(c) {
				if !refusedNotFound(t, rt, id, msg) {
					t.Errorf("%v app: %T with caller %v was answered", v, msg, c)
				}
			}
		}
		for _, msg := range changes(bob) {
			if !refusedNotFound(t, rt, id, msg) {
				t.Errorf("%v app: bob's %T was accepted", v, msg)
			}
		}
		if !refusedNotFound(t, rt, id, &actorsv1.SetVisibility{Caller: UserCaller("root", true), Visibility: stichv1.Visibility_VISIBILITY_PRIVATE}) {
			t.Errorf("%v app: an admin changed the visibility", v)
		}
		if readable && snapshotAs(t, rt, id, bob).GetOwned() {
			t.Errorf("%v app: bob's snapshot says he owns it", v)
		}
		after := snapshotAs(t, rt, id, ann)
		if after.GetLastSeq() != before.GetLastSeq() || after.GetVisibility() != v || after.GetVersion() != before.GetVersion() {
			t.Fatalf("%v app: refused calls changed it: seq %d -> %d, visibility %v", v, before.GetLastSeq(), after.GetLastSeq(), after.GetVisibility())
		}
	}
	// Setting the same visibility again writes nothing.
	seq := snapshotAs(t, rt, id, ann).GetLastSeq()
	if r := setVisibility(t, rt, id, ann, stichv1.Visibility_VISIBILITY_PRIVATE); r.GetPrevious() != stichv1.Visibility_VISIBILITY_PRIVATE {
		t.Errorf("previous %v", r.GetPrevious())
	}
	if got := snapshotAs(t, rt, id, ann).GetLastSeq(); got != seq {
		t.Errorf("an unchanged visibility wrote events: seq %d -> %d", seq, got)
	}
	if _, err := Call[*actorsv1.SetVisibilityReply](ctxT(t), rt.Node, KindSession, id,
		&actorsv1.SetVisibility{Caller: ann}); codeOf(err) != actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT {
		t.Errorf("unspecified visibility: %v", err)
	}
}

// TestVisibilitySurvivesRestart: the visibility is durable state.
func TestVisibilitySurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	rt := startRuntime(t, dir, newFake())
	ann := UserCaller("ann", false)
	id := rt.NewSessionID("")
	if _, err := Call[*actorsv1.CreateSessionReply](ctxT(t), rt.Node, KindSession, id,
		&actorsv1.CreateSession{Caller: ann, Prompt: "an app", Owner: "ann"}); err != nil {
		t.Fatal(err)
	}
	if err := rt.Watch(ctxT(t), ann, id, 0, true, func(*stichv1.SessionEvent) error { return nil }); err != nil {
		t.Fatal(err)
	}
	setVisibility(t, rt, id, ann, stichv1.Visibility_VISIBILITY_UNLISTED)
	if err := rt.Shutdown(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	rt = startRuntime(t, dir, newFake())
	if got := snapshotAs(t, rt, id, UserCaller("bob", false)).GetVisibility(); got != stichv1.Visibility_VISIBILITY_UNLISTED {
		t.Fatalf("after a restart: %v", got)
	}
}

// TestGalleryPublishRemoveReport: the gallery lists a published app,
// takes session reports for it, forgets it on removal, ignores late
// reports after that, and lists it again when it is published again.
func TestGalleryPublishRemoveReport(t *testing.T) {
	rt := startRuntime(t, "", newFake())
	call := func(msg proto.Message) {
		t.Helper()
		if _, err := rt.Node.Request(ctxT(t), KindGallery, GalleryID, msg); err != nil {
			t.Fatal(err)
		}
	}
	list := func() []string {
		t.Helper()
		r, err := Call[*actorsv1.ListAppsReply](ctxT(t), rt.Node, KindGallery, GalleryID, &actorsv1.ListApps{})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range r.GetEntries() {
			ids = append(ids, e.GetSessionId()+":"+e.GetTitle())
		}
		return ids
	}
	e := func(seq uint64, title string) *actorsv1.AppEntry {
		return &actorsv1.AppEntry{SessionId: "s-a", Title: title, TitleSource: actorsv1.TitleSource_TITLE_SOURCE_BLUEPRINT, Seq: seq,
			Visibility: stichv1.Visibility_VISIBILITY_PUBLIC, Owner: "ann"}
	}
	call(&actorsv1.UpsertApp{Entry: e(5, "One"), Publish: true})
	call(&actorsv1.UpsertApp{Entry: e(6, "Two")})
	if got := list(); len(got) != 1 || got[0] != "s-a:Two" {
		t.Fatalf("after publish and a report: %v", got)
	}
	call(&actorsv1.RemoveApp{SessionId: "s-a"})
	call(&actorsv1.UpsertApp{Entry: e(7, "Late")})
	if got := list(); len(got) != 0 {
		t.Fatalf("a late report re-listed a removed app: %v", got)
	}
	call(&actorsv1.UpsertApp{Entry: e(8, "Again"), Publish: true})
	if got := list(); len(got) != 1 || got[0] != "s-a:Again" {
		t.Fatalf("after publishing again: %v", got)
	}
}

// TestForkCopiesVersion: a fork holds the files of the origin's version
// as its own first version, idle, owned by the forker, recording its
// origin; the origin's owner cannot read the fork; nobody forks for
// someone else.
func TestForkCopiesVersion(t *testing.T) {
	rt := startRuntime(t, "", newFake())
	ann, bob := UserCaller("ann", false), UserCaller("bob", false)
	src := rt.NewSessionID("")
	if _, err := Call[*actorsv1.CreateSessionReply](ctxT(t), rt.Node, KindSession, src,
		&actorsv1.CreateSession{Caller: ann, Prompt: "an app", Owner: "ann"}); err != nil {
		t.Fatal(err)
	}
	if err := rt.Watch(ctxT(t), ann, src, 0, true, func(*stichv1.SessionEvent) error { return nil }); err != nil {
		t.Fatal(err)
	}
	orig := snapshotAs(t, rt, src, ann)
	var files []*stichv1.File
	for _, f := range orig.GetFiles() {
		r, err := Call[*actorsv1.ReadFileReply](ctxT(t), rt.Node, KindSession, src, &actorsv1.ReadFile{Caller: ann, Path: f.GetPath(), Version: orig.GetVersion()})
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, r.GetFile())
	}
	origin := &stichv1.ForkOrigin{SessionId: src, Version: orig.GetVersion(), Title: "An app"}
	if _, err := Call[*actorsv1.CreateSessionReply](ctxT(t), rt.Node, KindSession, rt.NewSessionID(""),
		&actorsv1.ForkSession{Caller: bob, Owner: "ann", Origin: origin, Files: files}); codeOf(err) != actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT {
		t.Fatalf("bob forking for ann: %v", err)
	}
	fork := rt.NewSessionID("")
	if _, err := Call[*actorsv1.CreateSessionReply](ctxT(t), rt.Node, KindSession, fork,
		&actorsv1.ForkSession{Caller: bob, Owner: "bob", Prompt: orig.GetPrompt(), Blueprint: orig.GetBlueprint(), Origin: origin, Files: files}); err != nil {
		t.Fatal(err)
	}
	if _, err := Call[*actorsv1.CreateSessionReply](ctxT(t), rt.Node, KindSession, fork,
		&actorsv1.ForkSession{Caller: bob, Owner: "bob", Origin: origin, Files: files}); codeOf(err) != actorsv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS {
		t.Fatalf("forking onto an existing session: %v", err)
	}
	got := snapshotAs(t, rt, fork, bob)
	if !got.GetOwned() || got.GetPhase() != stichv1.Phase_PHASE_COMPLETED || got.GetVersion() != 1 ||
		!proto.Equal(got.GetForkedFrom(), origin) || got.GetVisibility() != stichv1.Visibility_VISIBILITY_UNSPECIFIED {
		t.Fatalf("fork: owned %v phase %v version %d origin %v visibility %v", got.GetOwned(), got.GetPhase(), got.GetVersion(), got.GetForkedFrom(), got.GetVisibility())
	}
	if len(got.GetFiles()) != len(orig.GetFiles()) {
		t.Fatalf("fork has %d files, origin %d", len(got.GetFiles()), len(orig.GetFiles()))
	}
	for i, f := range orig.GetFiles() {
		if g := got.GetFiles()[i]; g.GetPath() != f.GetPath() || g.GetSha256() != f.GetSha256() {
			t.Errorf("file %d: %s %s, want %s %s", i, g.GetPath(), g.GetSha256(), f.GetPath(), f.GetSha256())
		}
	}
	for _, f := range files {
		r, err := Call[*actorsv1.ReadFileReply](ctxT(t), rt.Node, KindSession, fork, &actorsv1.ReadFile{Caller: bob, Path: f.GetPath(), Version: 1})
		if err != nil || r.GetFile().GetContent() != f.GetContent() {
			t.Errorf("fork's %s at version 1: %v", f.GetPath(), err)
		}
	}
	if !refusedNotFound(t, rt, fork, &actorsv1.GetSnapshot{Caller: ann}) {
		t.Error("the origin's owner read the (private) fork")
	}
	// The fork is bob's to change.
	if _, err := Call[*actorsv1.SaveFileReply](ctxT(t), rt.Node, KindSession, fork,
		&actorsv1.SaveFile{Caller: bob, Path: "src/extra.ts", Content: "export {};\n"}); err != nil {
		t.Fatalf("bob editing his fork: %v", err)
	}
	// The origin is unchanged.
	if again := snapshotAs(t, rt, src, ann); again.GetLastSeq() != orig.GetLastSeq() {
		t.Errorf("forking changed the origin: seq %d -> %d", orig.GetLastSeq(), again.GetLastSeq())
	}
}
