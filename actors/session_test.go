package actors

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/stichdev/stich/cluster"
	"github.com/stichdev/stich/codegen"
	"github.com/stichdev/stich/internal/testutil"
	"github.com/stichdev/stich/pipeline"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// fakeProvider writes a small fixed app in two phases. Tests steer it with
// hold (block before writing a given file) and fail (return an error).
type fakeProvider struct {
	mu      sync.Mutex
	hold    map[string]chan struct{} // path -> released when closed
	reached chan string              // receives held paths when reached
	fail    error
	badPath string
	calls   map[string]int
	// plan, if set, answers PlanPhase; else the roadmap's entry is kept.
	plan func(ctx context.Context, req codegen.PhaseRequest) (*stichv1.PhasePlan, error)
	// planReqs records PlanPhase's requests.
	planReqs []codegen.PhaseRequest
	// convs records the conversations Refine continued; compacts the
	// earlier summaries Compact was given.
	convs    []codegen.Conversation
	compacts []string
}

func (f *fakeProvider) Compact(ctx context.Context, summary string, turns []codegen.Turn) (string, error) {
	f.count("compact")
	f.mu.Lock()
	f.compacts = append(f.compacts, summary)
	f.mu.Unlock()
	var users []string
	for _, t := range turns {
		if t.Role == "user" {
			users = append(users, t.Text)
		}
	}
	return strings.TrimPrefix(summary+" + "+strings.Join(users, ","), " + "), nil
}

func newFake() *fakeProvider {
	return &fakeProvider{hold: map[string]chan struct{}{}, reached: make(chan string, 16), calls: map[string]int{}}
}

func (f *fakeProvider) count(what string) {
	f.mu.Lock()
	f.calls[what]++
	f.mu.Unlock()
}

func (f *fakeProvider) Calls(what string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[what]
}

func (f *fakeProvider) Name() string  { return "fake" }
func (f *fakeProvider) Label() string { return "fake (test)" }

func fakeBlueprint() *stichv1.Blueprint {
	return &stichv1.Blueprint{Title: "Fake", Roadmap: []*stichv1.PhasePlan{
		{Name: "One", Files: []*stichv1.FilePlan{{Path: "a.ts"}, {Path: "b.ts"}}},
		{Name: "Two", Files: []*stichv1.FilePlan{{Path: "c.ts"}, {Path: "d.ts"}}, LastPhase: true},
	}}
}

// reportUsage reports a model request as providers that call models do.
func reportUsage(ctx context.Context, action, model string, prompt, completion uint64) {
	if record := codegen.UsageFrom(ctx); record != nil {
		record(action, model, codegen.Usage{PromptTokens: prompt, CompletionTokens: completion, CostUSD: float64(prompt+completion) / 1e6, Requests: 1})
	}
}

func (f *fakeProvider) Blueprint(ctx context.Context, _, prompt string) (*stichv1.Blueprint, error) {
	f.count("blueprint")
	reportUsage(ctx, "blueprint", "fake/big", 100, 50)
	return fakeBlueprint(), nil
}

func (f *fakeProvider) PlanPhase(ctx context.Context, bp *stichv1.Blueprint, req codegen.PhaseRequest) (*stichv1.PhasePlan, error) {
	f.count("plan")
	f.mu.Lock()
	f.planReqs = append(f.planReqs, req)
	plan := f.plan
	f.mu.Unlock()
	if plan != nil {
		return plan(ctx, req)
	}
	return req.Roadmap, nil
}

func (f *fakeProvider) Implement(ctx context.Context, bp *stichv1.Blueprint, phase *stichv1.PhasePlan, files map[string]string, skip map[string]bool, emit codegen.Emitter) error {
	for _, fp := range phase.GetFiles() {
		p := fp.GetPath()
		if skip[p] {
			continue
		}
		f.count("implement:" + p)
		reportUsage(ctx, "phase_implementation", "fake/small", 10, 20)
		f.mu.Lock()
		h, fail, bad := f.hold[p], f.fail, f.badPath
		f.mu.Unlock()
		if h != nil {
			f.reached <- p
			select {
			case <-h:
			case <-ctx.Done():
				// A cancelled request still reports what it spent.
				reportUsage(ctx, "phase_implementation", "fake/cancelled", 7, 3)
				return ctx.Err()
			}
		}
		if fail != nil {
			return fail
		}
		if bad != "" {
			p = bad
		}
		content := fmt.Sprintf("export const %s = %q; // %s\n", strings.TrimSuffix(p, ".ts"), p, strings.Repeat("x", 40))
		if err := codegen.StreamFile(ctx, emit, p, fp.GetPurpose(), content, 16); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeProvider) Review(ctx context.Context, bp *stichv1.Blueprint, phase *stichv1.PhasePlan, files map[string]string) ([]*stichv1.Diagnostic, error) {
	return nil, nil
}

func (f *fakeProvider) Fix(ctx context.Context, bp *stichv1.Blueprint, files map[string]string, d []*stichv1.Diagnostic, emit codegen.Emitter) error {
	return nil
}

func (f *fakeProvider) Refine(ctx context.Context, prompt string, conv codegen.Conversation, msg string, bp *stichv1.Blueprint, files map[string]string) (*codegen.Refinement, error) {
	f.count("refine")
	f.mu.Lock()
	f.convs = append(f.convs, conv)
	f.mu.Unlock()
	return &codegen.Refinement{Reply: "ok: " + msg, Blueprint: bp,
		Phase:   &stichv1.PhasePlan{Name: "Refinement", Files: []*stichv1.FilePlan{{Path: "e.ts"}}, LastPhase: true},
		Deleted: []string{"a.ts"}}, nil
}

func startRuntime(t *testing.T, dir string, prov codegen.Provider) *Runtime {
	t.Helper()
	return startRuntimeConfig(t, dir, prov, Config{})
}

// startRuntimeConfig starts a runtime with cfg's agent settings.
func startRuntimeConfig(t *testing.T, dir string, prov codegen.Provider, agent Config) *Runtime {
	t.Helper()
	cfg := cluster.DefaultLocalConfig()
	cfg.Name = "test"
	if dir == "" {
		cfg.InMemory = true
	} else {
		cfg.DataDir = dir
	}
	agent.Cluster, agent.Providers, agent.DefaultProvider = cfg, map[string]codegen.Provider{"fake": prov}, "fake"
	rt, err := Start(context.Background(), agent)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Shutdown(context.Background()) })
	return rt
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func create(t *testing.T, rt *Runtime, prompt string) string {
	t.Helper()
	id := rt.NewSessionID("")
	if _, err := Call[*actorsv1.CreateSessionReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.CreateSession{Caller: NodeCaller(), Prompt: prompt}); err != nil {
		t.Fatal(err)
	}
	return id
}

// watchAll collects events after afterSeq until the work ends.
func watchAll(t *testing.T, rt *Runtime, id string, afterSeq uint64) []*stichv1.SessionEvent {
	t.Helper()
	var evs []*stichv1.SessionEvent
	err := rt.Watch(ctxT(t), NodeCaller(), id, afterSeq, true, func(ev *stichv1.SessionEvent) error {
		evs = append(evs, ev)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// checkContiguous fails unless evs have seqs from+1, from+2, ...
func checkContiguous(t *testing.T, evs []*stichv1.SessionEvent, from uint64) {
	t.Helper()
	for i, ev := range evs {
		if want := from + uint64(i) + 1; ev.GetSeq() != want {
			t.Fatalf("event %d has seq %d, want %d", i, ev.GetSeq(), want)
		}
	}
}

func kinds(evs []*stichv1.SessionEvent) []string {
	var out []string
	for _, ev := range evs {
		name := fmt.Sprintf("%T", ev.GetEvent())
		name = strings.TrimPrefix(name, "*stichv1.SessionEvent_")
		if pc := ev.GetPhaseChanged(); pc != nil {
			name += "(" + strings.TrimPrefix(pc.GetPhase().String(), "PHASE_") + ")"
		}
		out = append(out, name)
	}
	return out
}

func snapshot(t *testing.T, rt *Runtime, id string) *stichv1.Session {
	t.Helper()
	r, err := Call[*actorsv1.SnapshotReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.GetSnapshot{Caller: NodeCaller()})
	if err != nil {
		t.Fatal(err)
	}
	return r.GetSession()
}

func TestSessionGeneratesThroughAllPhases(t *testing.T) {
	rt := startRuntime(t, "", newFake())
	id := create(t, rt, "an app")
	evs := watchAll(t, rt, id, 0)
	checkContiguous(t, evs, 0)
	got := strings.Join(kinds(evs), " ")
	for _, want := range []string{
		"GenerationStarted PhaseChanged(PLANNING) Blueprint PhaseChanged(GENERATING) FileStarted FileChunk",
		"FileDone PhaseChanged(REVIEWING) Diagnostics Log PhaseChanged(GENERATING)",
		"Diagnostics PhaseChanged(COMPLETED) VersionCreated Completed",
	} {
		if !strings.Contains(got, want) {
			t.Fatalf("events %s\ndo not contain %s", got, want)
		}
	}
	if !strings.HasSuffix(got, "Completed") {
		t.Fatalf("log does not end in Completed: %s", got)
	}
	s := snapshot(t, rt, id)
	if s.GetPhase() != stichv1.Phase_PHASE_COMPLETED || len(s.GetFiles()) != 4 || s.GetLastSeq() != uint64(len(evs)) {
		t.Fatalf("snapshot: phase %v, %d files, last seq %d (events %d)", s.GetPhase(), len(s.GetFiles()), s.GetLastSeq(), len(evs))
	}
	f, err := Call[*actorsv1.ReadFileReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.ReadFile{Caller: NodeCaller(), Path: "c.ts"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(f.GetFile().GetContent(), `export const c = "c.ts";`) || f.GetFile().GetSha256() != pipeline.Sha256(f.GetFile().GetContent()) {
		t.Fatalf("file c.ts = %q", f.GetFile().GetContent())
	}
	// Chunks in the log reassemble to the stored file.
	var b strings.Builder
	for _, ev := range evs {
		if c := ev.GetFileChunk(); c != nil && c.GetPath() == "c.ts" {
			b.WriteString(c.GetData())
		}
	}
	if b.String() != f.GetFile().GetContent() {
		t.Fatal("chunks do not reassemble to the stored file")
	}
	// A second watcher resuming from the middle sees exactly the rest.
	mid := uint64(len(evs) / 2)
	rest := watchAll(t, rt, id, mid)
	checkContiguous(t, rest, mid)
	if len(rest) != len(evs)-int(mid) {
		t.Fatalf("resumed watch got %d events, want %d", len(rest), len(evs)-int(mid))
	}
	for i, ev := range rest {
		if !proto.Equal(ev, evs[int(mid)+i]) {
			t.Fatalf("event %d differs on replay", ev.GetSeq())
		}
	}
}

func TestSessionErrors(t *testing.T) {
	rt := startRuntime(t, "", newFake())
	_, err := Call[*actorsv1.SnapshotReply](ctxT(t), rt.Node, KindSession, "s-doesnotexist0000000", &actorsv1.GetSnapshot{Caller: NodeCaller()})
	var ae *Error
	if !errors.As(err, &ae) || ae.Code != actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND {
		t.Fatalf("unknown session: %v", err)
	}
	err = rt.Watch(ctxT(t), NodeCaller(), "s-doesnotexist0000000", 0, true, func(*stichv1.SessionEvent) error { return nil })
	if !errors.As(err, &ae) || ae.Code != actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND {
		t.Fatalf("watch unknown session: %v", err)
	}
	id := create(t, rt, "x")
	evs := watchAll(t, rt, id, 0)
	err = rt.Watch(ctxT(t), NodeCaller(), id, uint64(len(evs))+1, true, func(*stichv1.SessionEvent) error { return nil })
	if !errors.As(err, &ae) || ae.Code != actorsv1.ErrorCode_ERROR_CODE_OUT_OF_RANGE {
		t.Fatalf("after_seq beyond log: %v", err)
	}
	_, err = Call[*actorsv1.CreateSessionReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.CreateSession{Caller: NodeCaller(), Prompt: "again"})
	if !errors.As(err, &ae) || ae.Code != actorsv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS {
		t.Fatalf("create twice: %v", err)
	}
	_, err = Call[*actorsv1.CreateSessionReply](ctxT(t), rt.Node, KindSession, rt.NewSessionID(""), &actorsv1.CreateSession{Caller: NodeCaller(), Prompt: "x", Options: &stichv1.SessionOptions{Provider: "nope"}})
	if !errors.As(err, &ae) || ae.Code != actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT {
		t.Fatalf("unknown provider: %v", err)
	}
	_, err = Call[*actorsv1.ReadFileReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.ReadFile{Caller: NodeCaller(), Path: "missing.ts"})
	if !errors.As(err, &ae) || ae.Code != actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND {
		t.Fatalf("missing file: %v", err)
	}
}

func TestSessionStopResumeSkipsDoneFiles(t *testing.T) {
	fake := newFake()
	release := make(chan struct{})
	fake.hold["c.ts"] = release
	rt := startRuntime(t, "", fake)
	id := create(t, rt, "x")
	if p := <-fake.reached; p != "c.ts" {
		t.Fatalf("reached %s", p)
	}
	r, err := Call[*actorsv1.PhaseReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.StopSession{Caller: NodeCaller()})
	if err != nil || r.GetPhase() != stichv1.Phase_PHASE_STOPPED {
		t.Fatalf("stop: %v %v", r, err)
	}
	evs := watchAll(t, rt, id, 0)
	if k := kinds(evs); k[len(k)-1] != "PhaseChanged(STOPPED)" {
		t.Fatalf("after stop the log ends in %s", k[len(k)-1])
	}
	fake.mu.Lock()
	delete(fake.hold, "c.ts")
	fake.mu.Unlock()
	r, err = Call[*actorsv1.PhaseReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.ResumeSession{Caller: NodeCaller()})
	if err != nil || r.GetPhase() != stichv1.Phase_PHASE_GENERATING {
		t.Fatalf("resume: %v %v", r, err)
	}
	rest := watchAll(t, rt, id, uint64(len(evs)))
	checkContiguous(t, rest, uint64(len(evs)))
	if k := kinds(rest); k[0] != "GenerationResumed" || k[len(k)-1] != "Completed" {
		t.Fatalf("resumed events: %v", k)
	}
	if n := fake.Calls("implement:a.ts"); n != 1 {
		t.Fatalf("a.ts implemented %d times, want 1 (done before the stop)", n)
	}
	if n := fake.Calls("implement:c.ts"); n != 2 {
		t.Fatalf("c.ts implemented %d times, want 2 (interrupted, then resumed)", n)
	}
}

func TestSessionFailsOnProviderErrorAndBadPath(t *testing.T) {
	fake := newFake()
	fake.fail = errors.New("model endpoint returned 500")
	rt := startRuntime(t, "", fake)
	id := create(t, rt, "x")
	evs := watchAll(t, rt, id, 0)
	last := evs[len(evs)-2].GetError()
	if last == nil || !strings.Contains(last.GetMessage(), "500") || evs[len(evs)-1].GetPhaseChanged().GetPhase() != stichv1.Phase_PHASE_FAILED {
		t.Fatalf("events %v", kinds(evs))
	}
	if s := snapshot(t, rt, id); s.GetPhase() != stichv1.Phase_PHASE_FAILED || !strings.Contains(s.GetError(), "500") {
		t.Fatalf("snapshot %v %q", s.GetPhase(), s.GetError())
	}

	fake2 := newFake()
	fake2.badPath = "../../etc/passwd.ts"
	rt2 := startRuntime(t, "", fake2)
	id2 := create(t, rt2, "x")
	evs2 := watchAll(t, rt2, id2, 0)
	e := evs2[len(evs2)-2].GetError()
	if e == nil || e.GetCode() != "invalid_argument" || !strings.Contains(e.GetMessage(), "..") {
		t.Fatalf("bad path events %v / %v", kinds(evs2), e)
	}
	if s := snapshot(t, rt2, id2); len(s.GetFiles()) != 0 {
		t.Fatalf("bad path wrote files: %v", s.GetFiles())
	}
}

func TestSessionRefinement(t *testing.T) {
	fake := newFake()
	rt := startRuntime(t, "", fake)
	id := create(t, rt, "x")
	first := watchAll(t, rt, id, 0)
	r, err := Call[*actorsv1.PostMessageReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.PostMessage{Caller: NodeCaller(), Text: "add e"})
	if err != nil || r.GetSeq() != uint64(len(first))+1 {
		t.Fatalf("post: %v %v", r, err)
	}
	rest := watchAll(t, rt, id, uint64(len(first)))
	got := strings.Join(kinds(rest), " ")
	for _, want := range []string{"Message PhaseChanged(PLANNING) Message Blueprint FileDeleted PhaseChanged(GENERATING) FileStarted", "Completed"} {
		if !strings.Contains(got, want) {
			t.Fatalf("refinement events %s lack %s", got, want)
		}
	}
	s := snapshot(t, rt, id)
	var paths []string
	for _, f := range s.GetFiles() {
		paths = append(paths, f.GetPath())
	}
	if strings.Join(paths, ",") != "b.ts,c.ts,d.ts,e.ts" || s.GetCounters().GetMessages() != 1 {
		t.Fatalf("files after refinement %v, messages %d", paths, s.GetCounters().GetMessages())
	}
}

// An until-idle watch from the start replays the whole history of an idle
// session, past earlier completions, across log pages.
func TestUntilIdleReplaysEveryPieceOfWork(t *testing.T) {
	rt := startRuntime(t, "", newFake())
	id := create(t, rt, "x")
	last := uint64(len(watchAll(t, rt, id, 0)))
	for i := 0; last <= defaultLogPage+50; i++ {
		if _, err := Call[*actorsv1.PostMessageReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.PostMessage{Caller: NodeCaller(), Text: fmt.Sprintf("change %d", i)}); err != nil {
			t.Fatal(err)
		}
		last += uint64(len(watchAll(t, rt, id, last)))
	}
	all := watchAll(t, rt, id, 0)
	checkContiguous(t, all, 0)
	if uint64(len(all)) != last {
		t.Fatalf("until-idle replay from 0 got %d events, want %d", len(all), last)
	}
}

// collect returns the session's current log, without waiting for idle.
func collect(t *testing.T, rt *Runtime, id string) []*stichv1.SessionEvent {
	t.Helper()
	last := snapshot(t, rt, id).GetLastSeq()
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	var evs []*stichv1.SessionEvent
	err := rt.Watch(ctx, NodeCaller(), id, 0, false, func(ev *stichv1.SessionEvent) error {
		evs = append(evs, ev)
		if ev.GetSeq() >= last {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestSessionResumesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	fake := newFake()
	fake.hold["c.ts"] = make(chan struct{}) // never released in the first run
	rt := startRuntime(t, dir, fake)
	id := create(t, rt, "x")
	<-fake.reached
	before := collect(t, rt, id)
	if err := rt.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Nobody calls the session after the restart: its alarm wakes it.
	fake2 := newFake()
	rt2 := startRuntime(t, dir, fake2)
	testutil.WaitFor(t, 20*time.Second, func() error {
		if n := fake2.Calls("implement:d.ts"); n != 1 {
			return fmt.Errorf("d.ts implemented %d times", n)
		}
		return nil
	})
	all := watchAll(t, rt2, id, 0)
	checkContiguous(t, all, 0)
	for i, ev := range before {
		if !proto.Equal(ev, all[i]) {
			t.Fatalf("event %d changed across the restart", ev.GetSeq())
		}
	}
	got := strings.Join(kinds(all[len(before):]), " ")
	if !strings.HasPrefix(got, "GenerationResumed FileStarted") || !strings.HasSuffix(got, "Completed") {
		t.Fatalf("after restart: %s", got)
	}
	if fake2.Calls("implement:a.ts") != 0 || fake2.Calls("blueprint") != 0 {
		t.Fatal("restart redid finished work")
	}
	if s := snapshot(t, rt2, id); s.GetCounters().GetResumes() != 1 || len(s.GetFiles()) != 4 {
		t.Fatalf("resumes %d files %d", s.GetCounters().GetResumes(), len(s.GetFiles()))
	}
}

func TestWatchersSlowAndConcurrentSeeEverythingOnce(t *testing.T) {
	old := watchBuffer
	watchBuffer = 2 // force live events to overflow into log catch-up
	t.Cleanup(func() { watchBuffer = old })
	fake := newFake()
	gate := make(chan struct{})
	fake.hold["a.ts"] = gate
	rt := startRuntime(t, "", fake)
	id := create(t, rt, "x")
	<-fake.reached

	type result struct {
		evs []*stichv1.SessionEvent
		err error
	}
	results := make(chan result, 5)
	block := make(chan struct{})
	for w := 0; w < 5; w++ {
		slow := w == 0
		go func() {
			var evs []*stichv1.SessionEvent
			err := rt.Watch(ctxT(t), NodeCaller(), id, 0, true, func(ev *stichv1.SessionEvent) error {
				if slow && len(evs) == 3 {
					<-block // stall while the session appends many events
				}
				evs = append(evs, ev)
				return nil
			})
			results <- result{evs, err}
		}()
	}
	close(gate)
	testutil.WaitFor(t, 20*time.Second, func() error {
		if p := snapshot(t, rt, id).GetPhase(); p != stichv1.Phase_PHASE_COMPLETED {
			return fmt.Errorf("phase %v", p)
		}
		return nil
	})
	close(block)
	want := collect(t, rt, id)
	for w := 0; w < 5; w++ {
		r := <-results
		if r.err != nil {
			t.Fatal(r.err)
		}
		checkContiguous(t, r.evs, 0)
		if len(r.evs) != len(want) {
			t.Fatalf("watcher got %d events, log has %d", len(r.evs), len(want))
		}
	}
}

func TestVersionsDiffAndRollback(t *testing.T) {
	fake := newFake()
	rt := startRuntime(t, "", fake)
	id := create(t, rt, "x")
	first := watchAll(t, rt, id, 0)
	v1 := snapshot(t, rt, id)
	if v1.GetVersion() != 1 {
		t.Fatalf("version after generation = %d", v1.GetVersion())
	}
	if _, err := Call[*actorsv1.PostMessageReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.PostMessage{Caller: NodeCaller(), Text: "add e"}); err != nil {
		t.Fatal(err)
	}
	watchAll(t, rt, id, uint64(len(first)))
	vs, err := Call[*actorsv1.ListVersionsReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.ListVersions{Caller: NodeCaller()})
	if err != nil || len(vs.GetVersions()) != 2 || vs.GetVersions()[0].GetReason() != "generation" || vs.GetVersions()[1].GetReason() != "refinement: add e" {
		t.Fatalf("versions %v %v", vs, err)
	}
	d, err := Call[*actorsv1.DiffVersionsReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.DiffVersions{Caller: NodeCaller(), From: 1, To: 2})
	if err != nil {
		t.Fatal(err)
	}
	var changes []string
	for _, f := range d.GetFiles() {
		changes = append(changes, f.GetChange()+" "+f.GetPath())
	}
	if strings.Join(changes, ",") != "removed a.ts,added e.ts" || !strings.Contains(d.GetFiles()[1].GetUnified(), "+export const e") {
		t.Fatalf("diff 1→2: %v", d.GetFiles())
	}
	old, err := Call[*actorsv1.ReadFileReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.ReadFile{Caller: NodeCaller(), Path: "a.ts", Version: 1})
	if err != nil || !strings.HasPrefix(old.GetFile().GetContent(), "export const a") {
		t.Fatalf("a.ts in version 1: %v", err)
	}
	r, err := Call[*actorsv1.RollbackReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.RollbackSession{Caller: NodeCaller(), Version: 1})
	if err != nil || r.GetVersion().GetNumber() != 3 || r.GetVersion().GetReason() != "rollback to version 1" {
		t.Fatalf("rollback: %v %v", r, err)
	}
	now := snapshot(t, rt, id)
	if len(now.GetFiles()) != len(v1.GetFiles()) {
		t.Fatalf("files after rollback %v, want %v", now.GetFiles(), v1.GetFiles())
	}
	for i, f := range now.GetFiles() {
		if !proto.Equal(f, v1.GetFiles()[i]) {
			t.Fatalf("file %s differs from version 1", f.GetPath())
		}
	}
	// The log alone rebuilds the rolled-back files.
	files := map[string]string{}
	for _, ev := range collect(t, rt, id) {
		switch {
		case ev.GetFileStarted() != nil:
			files[ev.GetFileStarted().GetPath()] = ""
		case ev.GetFileChunk() != nil:
			files[ev.GetFileChunk().GetPath()] += ev.GetFileChunk().GetData()
		case ev.GetFileDeleted() != nil:
			delete(files, ev.GetFileDeleted().GetPath())
		}
	}
	for _, f := range now.GetFiles() {
		if pipeline.Sha256(files[f.GetPath()]) != f.GetSha256() {
			t.Fatalf("the log does not rebuild %s", f.GetPath())
		}
	}
	var ae *Error
	if _, err := Call[*actorsv1.RollbackReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.RollbackSession{Caller: NodeCaller(), Version: 9}); !errors.As(err, &ae) || ae.Code != actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND {
		t.Fatalf("unknown version: %v", err)
	}
	// A busy session refuses.
	fake.mu.Lock()
	fake.hold["e.ts"] = make(chan struct{})
	fake.mu.Unlock()
	if _, err := Call[*actorsv1.PostMessageReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.PostMessage{Caller: NodeCaller(), Text: "again"}); err != nil {
		t.Fatal(err)
	}
	<-fake.reached
	if _, err := Call[*actorsv1.RollbackReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.RollbackSession{Caller: NodeCaller(), Version: 1}); !errors.As(err, &ae) || ae.Code != actorsv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION {
		t.Fatalf("rollback while generating: %v", err)
	}
}

// TestSessionPlansEachPhase checks that each phase after the first is
// planned when the session enters it, from what was done so far, and that
// the plan is what gets implemented.
func TestSessionPlansEachPhase(t *testing.T) {
	fake := newFake()
	fake.hold["b.ts"] = make(chan struct{})
	fake.plan = func(_ context.Context, req codegen.PhaseRequest) (*stichv1.PhasePlan, error) {
		return &stichv1.PhasePlan{Name: "Two, planned", Description: "c and x instead of c and d",
			Files: []*stichv1.FilePlan{{Path: "c.ts"}, {Path: "x.ts"}}}, nil
	}
	rt := startRuntime(t, "", fake)
	id := create(t, rt, "x")
	<-fake.reached
	// A message queued during phase one is shown to the planner (and
	// applied as a refinement after the roadmap).
	if _, err := Call[*actorsv1.PostMessageReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.PostMessage{Caller: NodeCaller(), Text: "add e"}); err != nil {
		t.Fatal(err)
	}
	close(fake.hold["b.ts"])
	evs := watchAll(t, rt, id, 0)
	if n := fake.Calls("plan"); n != 1 {
		t.Fatalf("PlanPhase called %d times, want once (for phase two)", n)
	}
	fake.mu.Lock()
	req := fake.planReqs[0]
	fake.mu.Unlock()
	if req.Index != 1 || req.Roadmap.GetName() != "Two" || len(req.Done) != 1 || req.Done[0].GetName() != "One" ||
		len(req.Files) != 2 || req.Files["a.ts"] == "" || strings.Join(req.Pending, "|") != "add e" {
		t.Fatalf("plan request %+v", req)
	}
	got := strings.Join(kinds(evs), " ")
	if !strings.Contains(got, "Diagnostics Log Blueprint PhaseChanged(GENERATING) FileStarted") {
		t.Fatalf("events %s lack the planning of phase two", got)
	}
	var planned *stichv1.PhaseChanged
	for _, ev := range evs {
		if pc := ev.GetPhaseChanged(); pc != nil && pc.GetPhase() == stichv1.Phase_PHASE_GENERATING && pc.GetIndex() == 1 {
			planned = pc
		}
	}
	if planned.GetName() != "Two, planned" || planned.GetDescription() != "c and x instead of c and d" {
		t.Fatalf("phase two announced as %v", planned)
	}
	if fake.Calls("implement:x.ts") != 1 || fake.Calls("implement:d.ts") != 0 {
		t.Fatal("the planned phase was not the one implemented")
	}
	s := snapshot(t, rt, id)
	if ph := s.GetBlueprint().GetRoadmap()[1]; ph.GetName() != "Two, planned" || !ph.GetLastPhase() {
		t.Fatalf("roadmap keeps %v, want the plan (last, as the roadmap's last phase)", ph)
	}
	if fake.Calls("refine") != 1 {
		t.Fatal("the queued message was not applied after the roadmap")
	}
}

func TestSessionUnusablePhasePlanKeepsRoadmap(t *testing.T) {
	fake := newFake()
	fake.plan = func(_ context.Context, req codegen.PhaseRequest) (*stichv1.PhasePlan, error) {
		return &stichv1.PhasePlan{Name: "Escape", Files: []*stichv1.FilePlan{{Path: "../../etc/passwd.ts"}}}, nil
	}
	rt := startRuntime(t, "", fake)
	id := create(t, rt, "x")
	evs := watchAll(t, rt, id, 0)
	warned := false
	for _, ev := range evs {
		if l := ev.GetLog(); l != nil && l.GetLevel() == "warn" && strings.Contains(l.GetText(), "unusable plan for phase 2") {
			warned = true
		}
	}
	if !warned || fake.Calls("implement:d.ts") != 1 || !strings.HasSuffix(strings.Join(kinds(evs), " "), "Completed") {
		t.Fatalf("an unusable plan did not fall back to the roadmap, visibly: %s", strings.Join(kinds(evs), " "))
	}
}

func TestSessionReplansPhaseAfterRestart(t *testing.T) {
	dir := t.TempDir()
	fake := newFake()
	planning := make(chan struct{})
	fake.plan = func(ctx context.Context, req codegen.PhaseRequest) (*stichv1.PhasePlan, error) {
		close(planning)
		<-ctx.Done() // never answers: the node stops mid-planning
		return nil, ctx.Err()
	}
	rt := startRuntime(t, dir, fake)
	id := create(t, rt, "x")
	<-planning
	if s := snapshot(t, rt, id); s.GetPhase() != stichv1.Phase_PHASE_GENERATING {
		t.Fatalf("planning phase two in phase %v", s.GetPhase())
	}
	if err := rt.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	fake2 := newFake()
	rt2 := startRuntime(t, dir, fake2)
	testutil.WaitFor(t, 20*time.Second, func() error {
		if n := fake2.Calls("implement:d.ts"); n != 1 {
			return fmt.Errorf("d.ts implemented %d times", n)
		}
		return nil
	})
	evs := watchAll(t, rt2, id, 0)
	if fake2.Calls("plan") != 1 || fake2.Calls("implement:a.ts") != 0 || !strings.HasSuffix(strings.Join(kinds(evs), " "), "Completed") {
		t.Fatalf("after the restart: %d plans, a.ts implemented %d times; %s", fake2.Calls("plan"), fake2.Calls("implement:a.ts"), strings.Join(kinds(evs), " "))
	}
}

// TestSessionCompactsConversation checks that a long conversation is
// compacted before the next refinement (the last turns kept, the rest
// summarised by the provider), and that the summary survives a restart.
func TestSessionCompactsConversation(t *testing.T) {
	dir := t.TempDir()
	agent := Config{CompactTurns: 4, CompactKeep: 2}
	fake := newFake()
	rt := startRuntimeConfig(t, dir, fake, agent)
	id := create(t, rt, "x")
	seq := uint64(len(watchAll(t, rt, id, 0)))
	refine := func(rt *Runtime, msg string) []*stichv1.SessionEvent {
		t.Helper()
		if _, err := Call[*actorsv1.PostMessageReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.PostMessage{Caller: NodeCaller(), Text: msg}); err != nil {
			t.Fatal(err)
		}
		evs := watchAll(t, rt, id, seq)
		seq += uint64(len(evs))
		return evs
	}
	refine(rt, "m1")
	refine(rt, "m2") // 2 turns + 1 queued: under the limit
	if fake.Calls("compact") != 0 {
		t.Fatal("compacted under the limit")
	}
	evs := refine(rt, "m3") // 4 turns + 1 queued: compact all but the last 2
	compacted := false
	for _, ev := range evs {
		if l := ev.GetLog(); l != nil && strings.Contains(l.GetText(), "conversation compacted: 2 earlier message(s) summarised, the last 2 kept") {
			compacted = true
		}
	}
	fake.mu.Lock()
	conv := fake.convs[2]
	fake.mu.Unlock()
	if !compacted || fake.Calls("compact") != 1 || conv.Summary != "m1" || len(conv.Turns) != 2 || conv.Turns[0].Text != "m2" ||
		conv.Turns[1].Role != "assistant" || strings.Join(conv.Applied, ",") != "m1,m2" {
		t.Fatalf("third refinement: compacted %v, %d compactions, conversation %+v", compacted, fake.Calls("compact"), conv)
	}
	if err := rt.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	fake2 := newFake()
	rt2 := startRuntimeConfig(t, dir, fake2, agent)
	refine(rt2, "m4")
	fake2.mu.Lock()
	defer fake2.mu.Unlock()
	if len(fake2.compacts) != 1 || fake2.compacts[0] != "m1" || len(fake2.convs) != 1 || fake2.convs[0].Summary != "m1 + m2" ||
		len(fake2.convs[0].Turns) != 2 || fake2.convs[0].Turns[0].Text != "m3" || len(fake2.convs[0].Applied) != 3 {
		t.Fatalf("after the restart: earlier summaries %q, conversations %+v", fake2.compacts, fake2.convs)
	}
}

// TestSessionUsageSurvivesRestart checks that the usage providers report
// is kept per action and model in the session's state: GetSession shows
// the same rows and totals after a restart, and later usage adds to them.
func TestSessionUsageSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	rt := startRuntime(t, dir, newFake())
	id := create(t, rt, "x")
	watchAll(t, rt, id, 0)
	before := snapshot(t, rt, id)
	want := "blueprint fake/big 100+50 1; phase_implementation fake/small 40+80 4"
	if got := usageRows(before); got != want {
		t.Fatalf("usage %s, want %s", got, want)
	}
	c := before.GetCounters()
	if c.GetPromptTokens() != 140 || c.GetCompletionTokens() != 130 || c.GetModelRequests() != 5 || c.GetCostUsd() < 269e-6 || c.GetCostUsd() > 271e-6 {
		t.Fatalf("counters %v", c)
	}
	if err := rt.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	rt2 := startRuntime(t, dir, newFake())
	after := snapshot(t, rt2, id)
	if got := usageRows(after); got != want || !proto.Equal(after.GetCounters(), before.GetCounters()) {
		t.Fatalf("after a restart: usage %s, counters %v; before: %v", got, after.GetCounters(), before.GetCounters())
	}
	if _, err := Call[*actorsv1.PostMessageReply](ctxT(t), rt2.Node, KindSession, id, &actorsv1.PostMessage{Caller: NodeCaller(), Text: "add e"}); err != nil {
		t.Fatal(err)
	}
	watchAll(t, rt2, id, after.GetLastSeq())
	if got := usageRows(snapshot(t, rt2, id)); got != "blueprint fake/big 100+50 1; phase_implementation fake/small 50+100 5" {
		t.Fatalf("usage after a refinement: %s", got)
	}
}

func usageRows(s *stichv1.Session) string {
	var rows []string
	for _, r := range s.GetUsage() {
		rows = append(rows, fmt.Sprintf("%s %s %d+%d %d", r.GetAction(), r.GetModel(), r.GetPromptTokens(), r.GetCompletionTokens(), r.GetRequests()))
	}
	return strings.Join(rows, "; ")
}

// TestSessionUsageOfStoppedStepIsKept checks that usage reported after a
// step was stopped is saved too.
func TestSessionUsageOfStoppedStepIsKept(t *testing.T) {
	dir := t.TempDir()
	fake := newFake()
	fake.hold["c.ts"] = make(chan struct{})
	rt := startRuntime(t, dir, fake)
	id := create(t, rt, "x")
	<-fake.reached
	if _, err := Call[*actorsv1.PhaseReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.StopSession{Caller: NodeCaller()}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, func() error {
		if got := usageRows(snapshot(t, rt, id)); !strings.Contains(got, "fake/cancelled 7+3 1") {
			return fmt.Errorf("usage %s", got)
		}
		return nil
	})
	if err := rt.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	rt2 := startRuntime(t, dir, newFake())
	if got := usageRows(snapshot(t, rt2, id)); got != "blueprint fake/big 100+50 1; phase_implementation fake/cancelled 7+3 1; phase_implementation fake/small 30+60 3" {
		t.Fatalf("usage after a restart: %s", got)
	}
}
