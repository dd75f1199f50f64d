package pipeline

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/stichdev/stich/codegen"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// The harness drives Step as the session grain does, synchronously and in
// memory: a "store" holds what was committed (state, log, files, version
// records, alarm), and provider steps run at once on a fake provider, their
// streamed output and result fed back as inputs. A crash drops everything
// not committed and resumes from the store.

// fakeProvider writes a small app in two phases; its review reports a
// problem in b.ts until a fix marks it fixed, once per phase.
type fakeProvider struct {
	failNext error // the next provider call fails with it
	compacts int
	// write overrides the content Implement writes, by path; refinement
	// overrides Refine's answer; editsCurrent makes the provider one that
	// edits the current files (as a model does).
	write        map[string]string
	refinement   *codegen.Refinement
	editsCurrent bool
}

func (f *fakeProvider) EditsCurrentFiles() bool { return f.editsCurrent }

func (f *fakeProvider) Name() string  { return "fake" }
func (f *fakeProvider) Label() string { return "fake (test)" }

func testBlueprint() *stichv1.Blueprint {
	return &stichv1.Blueprint{Title: "Fake", Roadmap: []*stichv1.PhasePlan{
		{Name: "One", Files: []*stichv1.FilePlan{{Path: "a.ts"}, {Path: "b.ts"}}},
		{Name: "Two", Files: []*stichv1.FilePlan{{Path: "c.ts"}}, LastPhase: true},
	}}
}

func (f *fakeProvider) err() error {
	err := f.failNext
	f.failNext = nil
	return err
}

func (f *fakeProvider) Blueprint(ctx context.Context, _, prompt string) (*stichv1.Blueprint, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return testBlueprint(), nil
}

func (f *fakeProvider) PlanPhase(ctx context.Context, bp *stichv1.Blueprint, req codegen.PhaseRequest) (*stichv1.PhasePlan, error) {
	return req.Roadmap, f.err()
}

func (f *fakeProvider) Implement(ctx context.Context, bp *stichv1.Blueprint, phase *stichv1.PhasePlan, files map[string]string, skip map[string]bool, emit codegen.Emitter) error {
	if err := f.err(); err != nil {
		return err
	}
	for _, fp := range phase.GetFiles() {
		if skip[fp.GetPath()] {
			continue
		}
		content := fmt.Sprintf("export const x = %q; // ünïcode\n", fp.GetPath())
		if c, ok := f.write[fp.GetPath()]; ok {
			content = c
		}
		if err := codegen.StreamFile(ctx, emit, fp.GetPath(), "part of "+phase.GetName(), content, 7); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeProvider) Review(ctx context.Context, bp *stichv1.Blueprint, phase *stichv1.PhasePlan, files map[string]string) ([]*stichv1.Diagnostic, error) {
	if b, ok := files["b.ts"]; ok && !strings.Contains(b, "fixed") {
		return []*stichv1.Diagnostic{{File: "b.ts", Message: "b is broken", Severity: "error"}}, f.err()
	}
	return nil, f.err()
}

func (f *fakeProvider) Fix(ctx context.Context, bp *stichv1.Blueprint, files map[string]string, diags []*stichv1.Diagnostic, emit codegen.Emitter) error {
	if err := f.err(); err != nil {
		return err
	}
	return codegen.StreamFile(ctx, emit, "b.ts", "fix", "export const b = 'fixed';\n", 64)
}

func (f *fakeProvider) Refine(ctx context.Context, prompt string, conv codegen.Conversation, msg string, bp *stichv1.Blueprint, files map[string]string) (*codegen.Refinement, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	if r := f.refinement; r != nil {
		c := *r
		c.Phase = proto.Clone(r.Phase).(*stichv1.PhasePlan)
		c.Deleted = append([]string(nil), r.Deleted...)
		c.NotDone = append([]string(nil), r.NotDone...)
		return &c, nil
	}
	return &codegen.Refinement{Reply: "ok: " + msg, Phase: &stichv1.PhasePlan{Name: "Change", Files: []*stichv1.FilePlan{{Path: "e.ts"}}, LastPhase: true},
		Deleted: []string{"c.ts"}}, nil
}

func (f *fakeProvider) Compact(ctx context.Context, summary string, turns []codegen.Turn) (string, error) {
	f.compacts++
	return fmt.Sprintf("%s+%d", summary, len(turns)), f.err()
}

// emitted collects a step's streamed output as inputs.
type emitted struct {
	run uint64
	ins []Input
}

func (e *emitted) Send(ctx context.Context, w Work) error {
	w.Run = e.run
	e.ins = append(e.ins, w)
	return nil
}

// store is what a driver committed.
type store struct {
	session  *actorsv1.SessionState
	log      []*stichv1.SessionEvent
	files    map[string]string
	versions map[uint32]*actorsv1.VersionRecord
	blobs    map[string]string
	alarm    bool
}

// harness is an in-memory driver.
type harness struct {
	t    testing.TB
	cfg  Config
	now  time.Time
	s    State
	db   store
	prov *fakeProvider
	// queue holds inputs the "worker" produced, not yet fed.
	queue []Input
	// check answers the review's sandbox check (nil: builds off).
	check CheckFunc
	// onOutput, if set, sees every step (for invariant checks).
	onOutput func(before, after State, in Input, out Output)
}

func testConfig() Config {
	return Config{PhaseBudget: 10, MaxFixRounds: 2, CompactTurns: 40, CompactTokens: 100_000, CompactKeep: 10}
}

func newHarness(t testing.TB) *harness {
	return &harness{t: t, cfg: testConfig(), now: time.Unix(1_700_000_000, 0), prov: &fakeProvider{},
		db: store{files: map[string]string{}, versions: map[uint32]*actorsv1.VersionRecord{}, blobs: map[string]string{}}}
}

// step feeds in, commits the output and performs its effects (queueing
// a provider step's output). It returns the output.
func (h *harness) step(in Input) Output {
	h.t.Helper()
	h.now = h.now.Add(time.Second)
	if sf, ok := in.(SaveFile); ok {
		sf.Previous = h.db.files[sf.Path] // as the driver reads it
		in = sf
	}
	before := h.s
	next, out := h.cfg.Step(h.s, h.now, in)
	if h.onOutput != nil {
		h.onOutput(before, next, in, out)
	}
	h.s = next
	if out.Refusal != nil {
		return out
	}
	h.commit(next, out)
	for _, e := range out.Effects {
		switch e := e.(type) {
		case RunStep:
			h.queue = h.queue[:0] // a new step replaces the old one's output
			h.runStep(e.Spec)
		case CancelStep:
			h.queue = h.queue[:0]
		case RunIdleCheck:
			h.queue = append(h.queue, IdleCheckDone{Run: e.Run, Reply: &actorsv1.SandboxCheckReply{PreviewUrl: "http://preview.test/"}})
		}
	}
	return out
}

// commit is the driver's synced batch.
func (h *harness) commit(next State, out Output) {
	for _, ev := range out.Events {
		if want := uint64(len(h.db.log)) + 1; ev.GetSeq() != want {
			h.t.Fatalf("event seq %d, want %d: %v", ev.GetSeq(), want, ev)
		}
		h.db.log = append(h.db.log, ev)
	}
	if out.Save {
		h.db.session = proto.Clone(next.Session).(*actorsv1.SessionState)
	}
	for _, e := range out.Effects {
		switch e := e.(type) {
		case PutFile:
			h.db.files[e.Path] = string(e.Content)
		case DeleteFile:
			delete(h.db.files, e.Path)
		case PutBlob:
			if Sha256(string(e.Content)) != e.Sha256 {
				h.t.Fatalf("blob %s stored with other content", e.Sha256)
			}
			h.db.blobs[e.Sha256] = string(e.Content)
		case RecordVersion:
			n := e.Record.GetNumber()
			if _, ok := h.db.versions[n]; ok {
				h.t.Fatalf("version %d recorded twice", n)
			}
			if n != 1 && h.db.versions[n-1] == nil {
				h.t.Fatalf("version %d recorded before version %d", n, n-1)
			}
			h.db.versions[n] = proto.Clone(e.Record).(*actorsv1.VersionRecord)
			for p, sha := range e.Record.GetFiles() {
				c, ok := e.Contents[p]
				content := string(c)
				if !ok {
					content, ok = h.db.files[p]
				}
				if !ok || Sha256(content) != sha {
					h.t.Fatalf("version %d: content of %s missing or not %s", n, p, sha)
				}
				h.db.blobs[sha] = content
			}
		case ArmAlarm:
			h.db.alarm = true
		case DisarmAlarm:
			h.db.alarm = false
		}
	}
}

// files is the app's files as the driver reads them for a step.
func (h *harness) files() map[string]string {
	out := map[string]string{}
	for p := range h.s.Session.GetFiles() {
		out[p] = h.db.files[p]
	}
	return out
}

// runStep runs spec on the fake provider at once and queues its output.
func (h *harness) runStep(spec *StepSpec) {
	em := &emitted{run: spec.ID}
	spec.Blobs = map[string]string{}
	for _, sha := range spec.Needs {
		c, ok := h.db.blobs[sha]
		if !ok {
			h.t.Fatalf("step %s needs blob %s, which was never stored", spec.Kind, sha)
		}
		spec.Blobs[sha] = c
	}
	res := spec.Run(context.Background(), h.prov, h.files(), em, h.check)
	h.queue = append(h.queue, em.ins...)
	h.queue = append(h.queue, res)
}

// next feeds the oldest queued input; it reports whether there was one.
func (h *harness) next() bool {
	if len(h.queue) == 0 {
		return false
	}
	in := h.queue[0]
	h.queue = h.queue[1:]
	h.step(in)
	return true
}

// drain feeds queued inputs until none is left (bounded).
func (h *harness) drain() {
	h.t.Helper()
	for i := 0; h.next(); i++ {
		if i > 10_000 {
			h.t.Fatal("the pipeline does not settle")
		}
	}
}

// crash loses everything not committed and activates from the store.
func (h *harness) crash() {
	h.queue = nil
	h.s = State{LastSeq: uint64(len(h.db.log))}
	if h.db.session != nil {
		h.s.Session = proto.Clone(h.db.session).(*actorsv1.SessionState)
	}
	h.step(Activated{})
}

func (h *harness) phase() stichv1.Phase { return h.s.Session.GetPhase() }

func create() Create {
	return Create{ID: "s-test", Prompt: "a todo app", ProviderName: "fake", ProviderLabel: "fake (test)", Owner: "local"}
}

// count counts the log's events for which match is true.
func (h *harness) count(match func(*stichv1.SessionEvent) bool) int {
	n := 0
	for _, ev := range h.db.log {
		if match(ev) {
			n++
		}
	}
	return n
}

func isCompleted(ev *stichv1.SessionEvent) bool { return ev.GetCompleted() != nil }

// isTerminal reports an event that ends a piece of work.
func isTerminal(ev *stichv1.SessionEvent) bool {
	return ev.GetCompleted() != nil || ev.GetError() != nil || ev.GetGenerationStopped() != nil
}

var errBoom = errors.New("boom")

func cloneFiles(m map[string]string) map[string]string { return maps.Clone(m) }
