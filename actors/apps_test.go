package actors

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stichdev/stich/cluster"

	"github.com/stichdev/stich/internal/testutil"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

func upsert(t *testing.T, rt *Runtime, e *actorsv1.AppEntry) {
	t.Helper()
	if _, err := Call[*actorsv1.UpsertAppReply](ctxT(t), rt.Node, KindApps, "u1", &actorsv1.UpsertApp{Entry: e}); err != nil {
		t.Fatal(err)
	}
}

func listApps(t *testing.T, rt *Runtime, q *actorsv1.ListApps) *actorsv1.ListAppsReply {
	t.Helper()
	r, err := Call[*actorsv1.ListAppsReply](ctxT(t), rt.Node, KindApps, "u1", q)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestAppsIndexMergesReportsInSeqOrder(t *testing.T) {
	dir := t.TempDir()
	rt := startRuntime(t, dir, newFake())
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) *timestamppb.Timestamp { return timestamppb.New(t0.Add(time.Duration(s) * time.Second)) }

	upsert(t, rt, &actorsv1.AppEntry{SessionId: "s-a", Title: "from prompt", TitleSource: actorsv1.TitleSource_TITLE_SOURCE_PROMPT,
		Phase: stichv1.Phase_PHASE_COMPLETED, Version: 1, Seq: 10, UpdatedAt: at(10), Prompt: "p"})
	// An older report (lower seq) arrives late: phase and version stay.
	upsert(t, rt, &actorsv1.AppEntry{SessionId: "s-a", Title: "Blueprint title", TitleSource: actorsv1.TitleSource_TITLE_SOURCE_BLUEPRINT,
		Phase: stichv1.Phase_PHASE_GENERATING, Seq: 5, UpdatedAt: at(5)})
	got := listApps(t, rt, &actorsv1.ListApps{}).GetEntries()
	if len(got) != 1 || got[0].GetPhase() != stichv1.Phase_PHASE_COMPLETED || got[0].GetVersion() != 1 || got[0].GetTitle() != "Blueprint title" {
		t.Fatalf("merged entry %v", got)
	}
	// The user's title survives reports.
	if _, err := Call[*actorsv1.AppReply](ctxT(t), rt.Node, KindApps, "u1", &actorsv1.RenameApp{SessionId: "s-a", Title: "Mine"}); err != nil {
		t.Fatal(err)
	}
	upsert(t, rt, &actorsv1.AppEntry{SessionId: "s-a", Title: "New blueprint", TitleSource: actorsv1.TitleSource_TITLE_SOURCE_BLUEPRINT, Seq: 20, UpdatedAt: at(20), Version: 2})
	got = listApps(t, rt, &actorsv1.ListApps{}).GetEntries()
	if got[0].GetTitle() != "Mine" || got[0].GetVersion() != 2 || got[0].GetPrompt() != "p" {
		t.Fatalf("after rename and report: %v", got[0])
	}

	// Removed apps stay removed, whatever reports arrive later.
	r, err := Call[*actorsv1.RemoveAppReply](ctxT(t), rt.Node, KindApps, "u1", &actorsv1.RemoveApp{SessionId: "s-a"})
	if err != nil || !r.GetExisted() {
		t.Fatalf("remove: %v %v", r, err)
	}
	upsert(t, rt, &actorsv1.AppEntry{SessionId: "s-a", Seq: 30, UpdatedAt: at(30)})
	if n := len(listApps(t, rt, &actorsv1.ListApps{}).GetEntries()); n != 0 {
		t.Fatalf("removed app listed again (%d entries)", n)
	}

	// Paging: 7 apps, pages of 3, newest first, ties broken by id.
	for i := 0; i < 7; i++ {
		upsert(t, rt, &actorsv1.AppEntry{SessionId: fmt.Sprintf("s-p%d", i), Seq: 1, UpdatedAt: at(100 + i/2)})
	}
	var ids []string
	q := &actorsv1.ListApps{Limit: 3}
	for {
		page := listApps(t, rt, q)
		if page.GetTotal() != 7 {
			t.Fatalf("total %d", page.GetTotal())
		}
		for _, e := range page.GetEntries() {
			ids = append(ids, e.GetSessionId())
		}
		if !page.GetMore() {
			break
		}
		last := page.GetEntries()[len(page.GetEntries())-1]
		q = &actorsv1.ListApps{Limit: 3, AfterSessionId: last.GetSessionId(), AfterUpdatedAt: last.GetUpdatedAt()}
	}
	want := []string{"s-p6", "s-p4", "s-p5", "s-p2", "s-p3", "s-p0", "s-p1"}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Fatalf("pages %v, want %v", ids, want)
	}

	// The index and its tombstones are durable.
	if err := rt.Shutdown(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	rt2 := startRuntime(t, dir, newFake())
	upsert(t, rt2, &actorsv1.AppEntry{SessionId: "s-a", Seq: 40, UpdatedAt: at(40)})
	if n := listApps(t, rt2, &actorsv1.ListApps{}).GetTotal(); n != 7 {
		t.Fatalf("after restart %d apps, want 7", n)
	}
}

func TestSessionReportsToItsOwnersIndex(t *testing.T) {
	rt := startRuntime(t, "", newFake())
	id := rt.NewSessionID("")
	if _, err := Call[*actorsv1.CreateSessionReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.CreateSession{Caller: NodeCaller(), Prompt: "a todo list\nwith dates", Owner: "u1"}); err != nil {
		t.Fatal(err)
	}
	watchAll(t, rt, id, 0)
	testutil.WaitFor(t, 10*time.Second, func() error {
		es := listApps(t, rt, &actorsv1.ListApps{}).GetEntries()
		if len(es) != 1 || es[0].GetSessionId() != id || es[0].GetPhase() != stichv1.Phase_PHASE_COMPLETED || es[0].GetVersion() != 1 {
			return fmt.Errorf("index %v", es)
		}
		if es[0].GetTitle() != fakeBlueprint().GetTitle() || es[0].GetProviderLabel() != "fake (test)" {
			return fmt.Errorf("title %q label %q", es[0].GetTitle(), es[0].GetProviderLabel())
		}
		return nil
	})
	// Delete: storage gone, NOT_FOUND afterwards.
	if _, err := Call[*actorsv1.DeleteSessionReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.DeleteSession{Caller: NodeCaller()}); err != nil {
		t.Fatal(err)
	}
	_, err := Call[*actorsv1.SnapshotReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.GetSnapshot{Caller: NodeCaller()})
	if ae, ok := err.(*Error); !ok || ae.Code != actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND {
		t.Fatalf("after delete: %v", err)
	}
	gs, err := rt.Node.Store().Grain(KindSession, id)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := gs.Exists(); ok || err != nil {
		t.Fatalf("session storage exists after delete (%v)", err)
	}
}

func TestTitleFromPrompt(t *testing.T) {
	for in, want := range map[string]string{
		"  a todo list\nwith dates": "a todo list",
		"x":                         "x",
	} {
		if got := TitleFromPrompt(in); got != want {
			t.Errorf("TitleFromPrompt(%q) = %q, want %q", in, got, want)
		}
	}
	long := TitleFromPrompt(string(make([]rune, 0)) + fmt.Sprintf("%0100d", 0))
	if r := []rune(long); len(r) != maxTitleRunes+1 || r[len(r)-1] != '…' {
		t.Errorf("long title %q", long)
	}
}

// TestLegacySessionIsAdopted: a session stored before the apps index
// existed (no owner) is listed by the local index once it is activated.
func TestLegacySessionIsAdopted(t *testing.T) {
	dir := t.TempDir()
	rt := startRuntime(t, dir, newFake())
	id := create(t, rt, "an old app")
	watchAll(t, rt, id, 0)
	if err := rt.Shutdown(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	// Make it legacy: no owner in its state, and no index at all.
	st, err := cluster.OpenStore(dir, cluster.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	gs, _ := st.Grain(KindSession, id)
	b, err := gs.Get(keyState)
	if err != nil {
		t.Fatal(err)
	}
	state := &actorsv1.SessionState{}
	if err := proto.Unmarshal(b, state); err != nil || state.GetOwner() != LocalOwner {
		t.Fatalf("owner %q (%v): a session created without one belongs to %q", state.GetOwner(), err, LocalOwner)
	}
	state.Owner = ""
	b, _ = proto.Marshal(state)
	if err := gs.Put(keyState, b); err != nil {
		t.Fatal(err)
	}
	idx, _ := st.Grain(KindApps, LocalOwner)
	if err := idx.DeleteAll(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	rt2 := startRuntime(t, dir, newFake())
	list := func() []*actorsv1.AppEntry {
		r, err := Call[*actorsv1.ListAppsReply](ctxT(t), rt2.Node, KindApps, LocalOwner, &actorsv1.ListApps{})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetEntries()
	}
	if n := len(list()); n != 0 {
		t.Fatalf("index lists %d apps before the session is activated", n)
	}
	snapshot(t, rt2, id) // opening the session activates it
	testutil.WaitFor(t, 10*time.Second, func() error {
		es := list()
		if len(es) != 1 || es[0].GetSessionId() != id || es[0].GetPhase() != stichv1.Phase_PHASE_COMPLETED || es[0].GetVersion() != 1 {
			return fmt.Errorf("index %v", es)
		}
		return nil
	})
}
