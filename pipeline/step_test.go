package pipeline

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// wantFiles is the app the fake provider writes in one generation.
var wantFiles = map[string]string{
	"a.ts": "export const x = \"a.ts\"; // ünïcode\n",
	"b.ts": "export const b = 'fixed';\n",
	"c.ts": "export const x = \"c.ts\"; // ünïcode\n",
}

func checkApp(t *testing.T, h *harness, want map[string]string) {
	t.Helper()
	if h.phase() != stichv1.Phase_PHASE_COMPLETED {
		t.Fatalf("phase %v (error %q), want completed", h.phase(), h.s.Session.GetError())
	}
	if len(h.db.files) != len(want) {
		t.Fatalf("files %v, want %v", h.db.files, want)
	}
	for p, c := range want {
		if h.db.files[p] != c || h.s.Session.GetFiles()[p].GetSha256() != Sha256(c) {
			t.Fatalf("%s = %q (state sha %s), want %q", p, h.db.files[p], h.s.Session.GetFiles()[p].GetSha256(), c)
		}
	}
	if h.db.alarm {
		t.Fatal("the watchdog alarm is still armed on an idle session")
	}
	if !proto.Equal(h.db.session, h.s.Session) {
		t.Fatal("the stored state differs from the state in memory")
	}
}

// TestGenerationThroughAllPhases: blueprint, phase one, a review that finds
// a problem, a fix, phase two planned and implemented, completion with a
// version — the path TestSessionGeneratesThroughAllPhases takes on a node.
func TestGenerationThroughAllPhases(t *testing.T) {
	h := newHarness(t)
	var phases []stichv1.Phase
	h.onOutput = func(_, _ State, _ Input, out Output) {
		for _, ev := range out.Events {
			if pc := ev.GetPhaseChanged(); pc != nil {
				phases = append(phases, pc.GetPhase())
			}
		}
	}
	out := h.step(create())
	if r, ok := out.Reply.(*actorsv1.CreateSessionReply); !ok || r.GetProviderLabel() != "fake (test)" {
		t.Fatalf("reply %v", out.Reply)
	}
	h.drain()
	checkApp(t, h, wantFiles)
	P := stichv1.Phase_PHASE_PLANNING
	G, R, F, C := stichv1.Phase_PHASE_GENERATING, stichv1.Phase_PHASE_REVIEWING, stichv1.Phase_PHASE_FIXING, stichv1.Phase_PHASE_COMPLETED
	want := []stichv1.Phase{P, G, R, F, R, G, R, C}
	if fmt.Sprint(phases) != fmt.Sprint(want) {
		t.Fatalf("phases %v, want %v", phases, want)
	}
	st := h.s.Session
	if st.PhasesCompleted != 2 || st.Versions != 1 || st.FilesWritten != 4 || st.WorkReason != "" {
		t.Fatalf("counters: phases %d versions %d files written %d reason %q", st.PhasesCompleted, st.Versions, st.FilesWritten, st.WorkReason)
	}
	if n := h.count(isCompleted); n != 1 {
		t.Fatalf("%d Completed events", n)
	}
	// The version precedes Completed, the last event.
	last := h.db.log[len(h.db.log)-2:]
	if last[0].GetVersionCreated().GetVersion().GetNumber() != 1 || last[1].GetCompleted() == nil {
		t.Fatalf("log ends with %v", last)
	}
	if v := h.db.versions[1]; v.GetReason() != "generation" || len(v.GetFiles()) != 3 {
		t.Fatalf("version 1: %v", v)
	}
}

// TestResumeAfterCrashAtEveryCommit crashes after each commit of a whole
// generation and a refinement (so after every kind of effect: a file put, a
// file delete, a version, alarm arm and disarm, a step started) and
// resumes from the store: the app, its versions and the log end as in an
// uninterrupted run, with one Completed per piece of work.
func TestResumeAfterCrashAtEveryCommit(t *testing.T) {
	refined := cloneFiles(wantFiles)
	delete(refined, "c.ts")
	refined["e.ts"] = "export const x = \"e.ts\"; // ünïcode\n"

	script := func(h *harness, crashAt int) {
		commits := 0
		crashed := false
		h.onOutput = func(_, _ State, _ Input, out Output) {
			if out.Refusal == nil && (len(out.Events) > 0 || out.Save) {
				commits++
			}
		}
		settle := func() {
			for h.next() {
				if commits == crashAt && !crashed {
					crashed = true
					h.crash()
				}
			}
		}
		h.step(create())
		settle()
		h.step(Message{Text: "add e, drop c", Key: "k1"})
		settle()
	}
	ref := newHarness(t)
	script(ref, -1)
	checkApp(t, ref, refined)
	total := len(ref.db.log)
	kinds := map[string]bool{}
	for _, ev := range ref.db.log {
		kinds[fmt.Sprintf("%T", ev.GetEvent())] = true
	}
	for crashAt := 1; crashAt < total; crashAt++ {
		t.Run(fmt.Sprint(crashAt), func(t *testing.T) {
			h := newHarness(t)
			script(h, crashAt)
			checkApp(t, h, refined)
			if n := h.count(isCompleted); n != 2 {
				t.Fatalf("%d Completed events, want 2 (the generation and the refinement)", n)
			}
			if h.s.Session.GetVersions() != 2 || len(h.db.versions) != 2 {
				t.Fatalf("versions %d (%d records), want 2", h.s.Session.GetVersions(), len(h.db.versions))
			}
			if h.s.Session.GetMessages() != 1 || len(h.s.Session.GetAppliedMessages()) != 1 {
				t.Fatalf("messages %d applied %v", h.s.Session.GetMessages(), h.s.Session.GetAppliedMessages())
			}
		})
	}
}

// TestResumeSkipsFilesDone: a phase resumed after a crash (or a stop)
// writes only the files it had not finished.
func TestResumeSkipsFilesDone(t *testing.T) {
	h := newHarness(t)
	h.step(create())
	for h.s.Session.GetFiles()["a.ts"] == nil {
		if !h.next() {
			t.Fatal("a.ts never written")
		}
	}
	h.step(Stop{})
	if h.phase() != stichv1.Phase_PHASE_STOPPED || len(h.queue) != 0 || h.db.alarm {
		t.Fatalf("after stop: phase %v, %d queued inputs, alarm %v", h.phase(), len(h.queue), h.db.alarm)
	}
	out := h.step(Resume{})
	var spec *StepSpec
	for _, e := range out.Effects {
		if rs, ok := e.(RunStep); ok {
			spec = rs.Spec
		}
	}
	if spec == nil || spec.Kind != StepImplement || !spec.Skip["a.ts"] || spec.Skip["b.ts"] {
		t.Fatalf("resumed step %+v", spec)
	}
	h.drain()
	checkApp(t, h, wantFiles)
	if n := h.count(func(ev *stichv1.SessionEvent) bool { return ev.GetFileStarted().GetPath() == "a.ts" }); n != 1 {
		t.Fatalf("a.ts streamed %d times", n)
	}
}

// TestFailures: a provider error, a bad path and a broken stream fail the
// session (resumable), with an error event whose code says whose fault.
func TestFailures(t *testing.T) {
	for _, tc := range []struct {
		name string
		feed func(h *harness, run uint64) Input
		code string
	}{
		{"provider error", func(h *harness, run uint64) Input { return Result{Run: run, Err: errBoom} }, "internal"},
		{"bad path", func(h *harness, run uint64) Input {
			return Work{Run: run, Kind: WorkFileStarted, Path: "../etc/passwd"}
		}, "invalid_argument"},
		{"chunk before start", func(h *harness, run uint64) Input {
			return Work{Run: run, Kind: WorkFileChunk, Path: "a.ts", Data: "x"}
		}, "invalid_argument"},
		{"empty blueprint", func(h *harness, run uint64) Input {
			return Result{Run: run, Blueprint: &stichv1.Blueprint{}}
		}, "invalid_argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.step(create())
			h.queue = nil // the step's own output is dropped
			h.step(tc.feed(h, h.s.Run))
			if h.phase() != stichv1.Phase_PHASE_FAILED || h.s.Session.GetResumePhase() != stichv1.Phase_PHASE_PLANNING || h.s.Working {
				t.Fatalf("phase %v resume %v working %v", h.phase(), h.s.Session.GetResumePhase(), h.s.Working)
			}
			if e := h.db.log[len(h.db.log)-2].GetError(); e.GetCode() != tc.code || !e.GetRetryable() {
				t.Fatalf("error event %v, want code %s", e, tc.code)
			}
			h.step(Resume{})
			h.drain()
			checkApp(t, h, wantFiles)
		})
	}
}

// TestStaleInputsIgnored: output of a replaced or stopped step changes
// nothing.
func TestStaleInputsIgnored(t *testing.T) {
	h := newHarness(t)
	h.step(create())
	old := h.s.Run
	h.queue = nil
	h.step(Stop{})
	h.step(Resume{})
	h.queue = nil
	before := h.s
	for _, in := range []Input{
		Work{Run: old, Kind: WorkLog, Data: "late"},
		Result{Run: old, Blueprint: testBlueprint()},
		SandboxLog{Run: old, Lines: []*actorsv1.SandboxLogLine{{Text: "late"}}},
		IdleCheckDone{Run: old},
	} {
		_, out := h.cfg.Step(before, h.now, in)
		if len(out.Events) > 0 || out.Save || len(out.Effects) > 0 {
			t.Fatalf("%T from run %d (current %d) produced %+v", in, old, before.Run, out)
		}
	}
}

// TestRefinementQueueAndBudget: messages while working queue; the budget
// is reset to at least RefinementBudget; the queue is bounded.
func TestRefinementQueueAndBudget(t *testing.T) {
	h := newHarness(t)
	h.cfg.PhaseBudget = 1 // the generation stops after phase one
	h.step(create())
	h.step(Message{Text: "first"})
	if got := h.s.Session.GetPhaseBudget(); got != RefinementBudget {
		t.Fatalf("budget %d after a message, want %d", got, RefinementBudget)
	}
	for i := 1; i < MaxPendingMessages; i++ {
		if out := h.step(Message{Text: fmt.Sprint("m", i)}); out.Refusal != nil {
			t.Fatal(out.Refusal.Message)
		}
	}
	out := h.step(Message{Text: "one too many"})
	if out.Refusal == nil || out.Refusal.Code != actorsv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED || out.Refusal.RetryAfterMs == 0 {
		t.Fatalf("refusal %+v", out.Refusal)
	}
	h.drain()
	if h.phase() != stichv1.Phase_PHASE_COMPLETED || len(h.s.Session.GetPendingMessages()) != 0 ||
		len(h.s.Session.GetAppliedMessages()) != MaxPendingMessages {
		t.Fatalf("phase %v pending %d applied %d", h.phase(), len(h.s.Session.GetPendingMessages()), len(h.s.Session.GetAppliedMessages()))
	}
	if n := h.count(isCompleted); n != 1 {
		t.Fatalf("%d Completed: queued refinements belong to the same piece of work", n)
	}
}

// TestMessageIdempotencyKey: a retried key with the same text answers the
// first seq and records nothing; with another text it is refused.
func TestMessageIdempotencyKey(t *testing.T) {
	h := newHarness(t)
	h.step(create())
	h.drain()
	first := h.step(Message{Text: "add e", Key: "k"})
	seq := first.Reply.(*actorsv1.PostMessageReply).GetSeq()
	logLen := len(h.db.log)
	again := h.step(Message{Text: "add e", Key: "k"})
	if r, ok := again.Reply.(*actorsv1.PostMessageReply); !ok || r.GetSeq() != seq || again.Save || len(again.Events) > 0 || len(again.Effects) > 0 {
		t.Fatalf("retry: %+v", again)
	}
	if other := h.step(Message{Text: "add f", Key: "k"}); other.Refusal == nil || other.Refusal.Code != actorsv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS {
		t.Fatalf("key reused: %+v", other)
	}
	if len(h.db.log) != logLen || h.s.Session.GetMessages() != 1 {
		t.Fatalf("log grew %d → %d; messages %d", logLen, len(h.db.log), h.s.Session.GetMessages())
	}
	h.crash() // keys survive a restart
	if r := h.step(Message{Text: "add e", Key: "k"}); r.Reply.(*actorsv1.PostMessageReply).GetSeq() != seq {
		t.Fatalf("after a restart the retry answered %v", r.Reply)
	}
	// No key: never deduplicated.
	h.drain()
	h.step(Message{Text: "same"})
	h.step(Message{Text: "same"})
	if h.s.Session.GetMessages() != 3 {
		t.Fatalf("messages %d, want 3", h.s.Session.GetMessages())
	}
	// The keys are bounded.
	for i := range maxMessageKeys + 5 {
		h.step(Message{Text: fmt.Sprint("t", i), Key: fmt.Sprint("key", i)})
		h.drain()
	}
	if n := len(h.s.Session.GetMessageKeys()); n != maxMessageKeys {
		t.Fatalf("%d keys kept, want %d", n, maxMessageKeys)
	}
}

// TestPhasePlanning: each phase after the first is planned on entering it;
// an unusable plan keeps the roadmap's entry; the last roadmap phase is
// marked last whatever the plan says.
func TestPhasePlanning(t *testing.T) {
	h := newHarness(t)
	h.step(create())
	for !(h.phase() == stichv1.Phase_PHASE_GENERATING && h.s.Session.GetCurrent() == nil) {
		if !h.next() {
			t.Fatal("never planned phase two")
		}
	}
	if h.s.Session.GetPhaseIndex() != 1 {
		t.Fatalf("phase index %d", h.s.Session.GetPhaseIndex())
	}
	h.queue = nil
	run := h.s.Run
	bad := &stichv1.PhasePlan{Name: "Two", Files: []*stichv1.FilePlan{{Path: "/abs.ts"}}}
	out := h.step(Result{Run: run, Planned: true, Plan: bad})
	if !strings.Contains(out.Events[0].GetLog().GetText(), "unusable plan") || h.s.Session.GetCurrent().GetFiles()[0].GetPath() != "c.ts" {
		t.Fatalf("unusable plan: events %v current %v", out.Events, h.s.Session.GetCurrent())
	}
	h.queue = nil
	h.s.Session.Current = nil // plan again, a usable plan this time
	good := &stichv1.PhasePlan{Name: "Two*", Files: []*stichv1.FilePlan{{Path: "c.ts"}, {Path: "d.ts"}}}
	h.step(Result{Run: h.s.Run, Planned: true, Plan: good})
	cur := h.s.Session.GetCurrent()
	if cur.GetName() != "Two*" || !cur.GetLastPhase() || h.s.Session.GetBlueprint().GetRoadmap()[1].GetName() != "Two*" || good.GetLastPhase() {
		t.Fatalf("current %v roadmap %v (the plan given must not change)", cur, h.s.Session.GetBlueprint().GetRoadmap())
	}
}

// TestCompaction: past the turn bound, the oldest turns are summarised
// before a refinement is planned, and the summary is kept in the state.
func TestCompaction(t *testing.T) {
	h := newHarness(t)
	h.cfg.CompactTurns, h.cfg.CompactKeep = 4, 2
	h.step(create())
	h.drain()
	for i := range 4 {
		h.step(Message{Text: fmt.Sprint("change ", i)})
		h.drain()
	}
	st := h.s.Session
	if h.prov.compacts == 0 || st.GetCompactions() == 0 || st.GetConversationSummary() == "" {
		t.Fatalf("compacts %d compactions %d summary %q", h.prov.compacts, st.GetCompactions(), st.GetConversationSummary())
	}
	if n := len(st.GetConversation()); n > 2+2 {
		t.Fatalf("%d turns kept", n)
	}
	if len(st.GetAppliedMessages()) != 4 {
		t.Fatalf("applied %v", st.GetAppliedMessages())
	}
	if bound(strings.Repeat("é", 20_000)) == "" || len(bound(strings.Repeat("é", 20_000))) > 16<<10 {
		t.Fatal("bound does not cut to MaxSummaryBytes")
	}
}

// TestSandboxCheckInReview: the check's fixes become files and events,
// its remaining problems feed the fix rounds, its preview is announced.
func TestSandboxCheckInReview(t *testing.T) {
	h := newHarness(t)
	h.cfg.Builds = true
	h.check = func(_ context.Context, files map[string]string) *actorsv1.SandboxCheckReply {
		return &actorsv1.SandboxCheckReply{
			Fixed:      map[string]string{"b.ts": "export const b = 'fixed by the fixer';\n", "../x.ts": "no"},
			Fixes:      []*actorsv1.SandboxFix{{Code: "TS2304", File: "b.ts", Description: "stub"}},
			Initial:    []*stichv1.Diagnostic{{File: "b.ts", Message: "cannot find name"}},
			PreviewUrl: "http://preview.test/s-test/",
		}
	}
	h.step(create())
	h.drain()
	want := cloneFiles(wantFiles)
	want["b.ts"] = "export const b = 'fixed by the fixer';\n"
	checkApp(t, h, want)
	if n := h.count(func(ev *stichv1.SessionEvent) bool { return ev.GetPreviewReady() != nil }); n != 2 {
		t.Fatalf("%d previews announced, want one per review (2)", n)
	}
	if n := h.count(func(ev *stichv1.SessionEvent) bool { return ev.GetFixApplied() != nil }); n != 2 {
		t.Fatalf("%d fixes", n)
	}
	if n := h.count(func(ev *stichv1.SessionEvent) bool {
		return strings.Contains(ev.GetLog().GetText(), "discarded the fixer's change to ../x.ts")
	}); n != 2 {
		t.Fatalf("bad fixer path reported %d times", n)
	}
	// The version has the fixer's content (written in the same batch).
	if sha := h.db.versions[1].GetFiles()["b.ts"]; h.db.blobs[sha] != want["b.ts"] {
		t.Fatalf("version 1 b.ts = %q", h.db.blobs[sha])
	}
}

// BenchmarkStepChunk is the pipeline's share of the hot path: one streamed
// chunk through Step (the driver's synced commit, hundreds of µs, is not
// in it).
func BenchmarkStepChunk(b *testing.B) {
	cfg := testConfig()
	s := State{Session: &actorsv1.SessionState{Id: "s-bench", Phase: stichv1.Phase_PHASE_GENERATING}, Run: 1, Working: true,
		Streams: map[string]*strings.Builder{"a.ts": {}}}
	data := strings.Repeat("const x = 1;\n", 40)
	now := time.Unix(1_800_000_000, 0)
	b.ReportAllocs()
	for b.Loop() {
		if s.Streams["a.ts"].Len() > 256<<10 {
			s.Streams["a.ts"].Reset()
		}
		var out Output
		s, out = cfg.Step(s, now, Work{Run: 1, Kind: WorkFileChunk, Path: "a.ts", Data: data})
		if len(out.Events) != 1 {
			b.Fatal(out)
		}
	}
}
