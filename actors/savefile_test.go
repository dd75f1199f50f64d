package actors

import (
	"errors"
	"strings"
	"testing"

	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// A user's edit of an idle app is a new version with the file's new
// content; edits during generation, to bad paths, too large, or against a
// stale base are refused with codes a client can act on.
func TestSaveFileCreatesVersion(t *testing.T) {
	fake := newFake()
	rt := startRuntime(t, "", fake)
	hold := make(chan struct{})
	fake.mu.Lock()
	fake.hold["c.ts"] = hold
	fake.mu.Unlock()
	id := create(t, rt, "an app")
	<-fake.reached
	save := func(m *actorsv1.SaveFile) (*actorsv1.SaveFileReply, error) {
		return Call[*actorsv1.SaveFileReply](ctxT(t), rt.Node, KindSession, id, m)
	}
	code := func(err error) actorsv1.ErrorCode {
		var ae *Error
		if errors.As(err, &ae) {
			return ae.Code
		}
		return actorsv1.ErrorCode_ERROR_CODE_UNSPECIFIED
	}
	if _, err := save(&actorsv1.SaveFile{Caller: NodeCaller(), Path: "a.ts", Content: "x"}); code(err) != actorsv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION {
		t.Fatalf("save while generating: %v", err)
	}
	close(hold)
	watchAll(t, rt, id, 0)

	before := snapshot(t, rt, id)
	for _, bad := range []*actorsv1.SaveFile{
		{Path: "../etc/passwd", Content: "x"},
		{Path: "/abs.ts", Content: "x"},
		{Path: "a.ts", Content: strings.Repeat("x", 512<<10+1)},
		{Path: "a.ts", Content: "x", BaseSha256: strings.Repeat("0", 64)},
	} {
		bad.Caller = NodeCaller()
		if _, err := save(bad); code(err) != actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT && code(err) != actorsv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION {
			t.Errorf("save %q (%d bytes, base %q): %v", bad.GetPath(), len(bad.GetContent()), bad.GetBaseSha256(), err)
		}
	}
	cur, err := Call[*actorsv1.ReadFileReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.ReadFile{Caller: NodeCaller(), Path: "a.ts"})
	if err != nil {
		t.Fatal(err)
	}
	// Unchanged content makes no version.
	r, err := save(&actorsv1.SaveFile{Caller: NodeCaller(), Path: "a.ts", Content: cur.GetFile().GetContent(), BaseSha256: cur.GetFile().GetSha256()})
	if err != nil || r.GetVersion() != nil {
		t.Fatalf("unchanged save: %v %v", r, err)
	}
	edited := "export const a = \"edited\";\n"
	r, err = save(&actorsv1.SaveFile{Caller: NodeCaller(), Path: "a.ts", Content: edited, BaseSha256: cur.GetFile().GetSha256()})
	if err != nil {
		t.Fatal(err)
	}
	if r.GetVersion().GetNumber() != before.GetVersion()+1 || r.GetVersion().GetReason() != "edited a.ts" {
		t.Fatalf("version %v after version %d", r.GetVersion(), before.GetVersion())
	}
	now, err := Call[*actorsv1.ReadFileReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.ReadFile{Caller: NodeCaller(), Path: "a.ts"})
	if err != nil || now.GetFile().GetContent() != edited {
		t.Fatalf("a.ts after the save: %q %v", now.GetFile().GetContent(), err)
	}
	old, err := Call[*actorsv1.ReadFileReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.ReadFile{Caller: NodeCaller(), Path: "a.ts", Version: before.GetVersion()})
	if err != nil || old.GetFile().GetContent() != cur.GetFile().GetContent() {
		t.Fatalf("a.ts in the version before the save: %q %v", old.GetFile().GetContent(), err)
	}
	// A new file, and its events in the log.
	if _, err := save(&actorsv1.SaveFile{Caller: NodeCaller(), Path: "src/new.ts", Content: "export {};\n"}); err != nil {
		t.Fatal(err)
	}
	evs := watchAll(t, rt, id, 0)
	checkContiguous(t, evs, 0)
	got := strings.Join(kinds(evs), " ")
	if !strings.HasSuffix(got, "FileStarted FileChunk FileDone VersionCreated Log FileStarted FileChunk FileDone VersionCreated Log") {
		t.Fatalf("events end %s", got[max(0, len(got)-200):])
	}
}
