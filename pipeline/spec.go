package pipeline

import (
	"context"
	"fmt"
	"maps"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/stichdev/stich/codegen"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// StepKind is the provider call a step makes.
type StepKind int

// Kinds of provider steps.
const (
	StepBlueprint StepKind = iota + 1
	StepRefine
	StepPlanPhase
	StepImplement
	StepReview
	StepFix
)

func (k StepKind) String() string {
	switch k {
	case StepBlueprint:
		return "blueprint"
	case StepRefine:
		return "refine"
	case StepPlanPhase:
		return "plan_phase"
	case StepImplement:
		return "implement"
	case StepReview:
		return "review"
	case StepFix:
		return "fix"
	}
	return "unknown"
}

// StepSpec is one provider step, with everything it needs from the
// session's state (copied: the worker runs it concurrently with later
// Steps). The driver adds the app's files and runs it with [StepSpec.Run].
type StepSpec struct {
	ID        uint64 // the run number: [Result.Run] and [Work.Run] carry it
	Kind      StepKind
	SessionID string
	Prompt    string
	Blueprint *stichv1.Blueprint
	// Phase is the implementation phase (implement, review).
	Phase *stichv1.PhasePlan
	// Skip lists the phase's files already written (a resumed implement).
	Skip map[string]bool
	// Diagnostics are the problems to fix.
	Diagnostics []*stichv1.Diagnostic
	// Message is the queued message a refinement plans; Chat is the
	// conversation it continues and Compact how many of its oldest turns
	// to summarise first (0: none).
	Message string
	Chat    codegen.Conversation
	Compact int
	// Index, Roadmap, Done and Pending plan a phase (see
	// [codegen.PhaseRequest]).
	Index   int
	Roadmap *stichv1.PhasePlan
	Done    []*stichv1.PhasePlan
	Pending []string
	// Check: the review checks the files in the sandbox first.
	Check bool
	// UserEdits are the files the user edited: path → sha256 of the
	// generated content the edits started from. The step never overwrites
	// them with regenerated content; see [StepSpec.Run].
	UserEdits map[string]string
	// WorkBase (in a refinement) holds the files when the work started
	// (path → sha256): the step counts its changes' lines against them.
	WorkBase map[string]string
	// Needs lists the contents (by sha256) the step needs besides the
	// current files; the driver loads them into Blobs.
	Needs []string
	Blobs map[string]string
}

// spec is the step of st's phase, as run run.
func (c Config) spec(st *actorsv1.SessionState, run uint64) *StepSpec {
	sp := &StepSpec{ID: run, SessionID: st.Id, Prompt: st.Prompt,
		Blueprint: proto.Clone(st.GetBlueprint()).(*stichv1.Blueprint),
		Phase:     proto.Clone(st.GetCurrent()).(*stichv1.PhasePlan)}
	switch st.Phase {
	case stichv1.Phase_PHASE_PLANNING:
		if st.Blueprint == nil {
			sp.Kind = StepBlueprint
			break
		}
		sp.Kind = StepRefine
		if len(st.PendingMessages) > 0 {
			sp.Message = st.PendingMessages[0]
		}
		sp.Chat, sp.Compact = c.chatPlan(st)
	case stichv1.Phase_PHASE_GENERATING:
		if st.Current != nil {
			sp.Kind = StepImplement
			sp.Skip = map[string]bool{}
			for _, p := range st.PhaseFilesDone {
				sp.Skip[p] = true
			}
			break
		}
		sp.Kind = StepPlanPhase
		roadmap := st.GetBlueprint().GetRoadmap()
		sp.Index = int(st.PhaseIndex)
		sp.Diagnostics = append([]*stichv1.Diagnostic(nil), st.Diagnostics...)
		sp.Pending = append([]string(nil), st.PendingMessages...)
		if sp.Index < len(roadmap) {
			sp.Roadmap = proto.Clone(roadmap[sp.Index]).(*stichv1.PhasePlan)
			for _, ph := range roadmap[:sp.Index] {
				sp.Done = append(sp.Done, proto.Clone(ph).(*stichv1.PhasePlan))
			}
		}
	case stichv1.Phase_PHASE_REVIEWING:
		sp.Kind = StepReview
		sp.Check = c.Builds
	case stichv1.Phase_PHASE_FIXING:
		sp.Kind = StepFix
		sp.Diagnostics = st.Diagnostics
	}
	if sp.Kind == StepImplement || sp.Kind == StepFix || sp.Kind == StepReview {
		need := map[string]bool{}
		if len(st.UserEdits) > 0 {
			sp.UserEdits = maps.Clone(st.UserEdits)
			for _, sha := range st.UserEdits {
				if sha != "" {
					need[sha] = true
				}
			}
		}
		if st.Refining {
			sp.WorkBase = maps.Clone(st.WorkBase)
			for p, sha := range st.WorkBase {
				if st.Files[p].GetSha256() != sha {
					need[sha] = true // changed since the work started
				}
			}
		}
		sp.Needs = sortedKeys(need)
	}
	return sp
}

// CheckFunc checks files in the sandbox; it never fails (an unreachable
// sandbox is the reply's error).
type CheckFunc func(ctx context.Context, files map[string]string) *actorsv1.SandboxCheckReply

// Sink receives a step's streamed output as [Work] inputs (Run is set by
// the driver).
type Sink interface {
	Send(ctx context.Context, w Work) error
}

// Run makes the step's provider calls, on the worker: files are the app's
// current files (the step may change the map), sink receives streamed
// output, check runs a sandbox check (nil when builds are off). A
// provider's panic becomes the result's error.
//
// Files the user edited are guarded (see guard): a provider that
// regenerates them from its plan has its content merged with the user's
// edits, or not written at all when they conflict, and the step says so.
func (sp *StepSpec) Run(ctx context.Context, prov codegen.Provider, files map[string]string, sink Sink, check CheckFunc) (res Result) {
	defer func() {
		if r := recover(); r != nil {
			res = Result{Err: fmt.Errorf("provider panicked: %v", r)}
		}
		res.Run = sp.ID
	}()
	switch sp.Kind {
	case StepBlueprint:
		bp, err := prov.Blueprint(ctx, sp.SessionID, sp.Prompt)
		return Result{Blueprint: bp, Err: err}
	case StepRefine:
		return sp.refine(ctx, prov, files)
	case StepPlanPhase:
		plan, err := prov.PlanPhase(ctx, sp.Blueprint, codegen.PhaseRequest{Index: sp.Index, Roadmap: sp.Roadmap, Done: sp.Done,
			Files: files, Diagnostics: sp.Diagnostics, Pending: sp.Pending})
		return Result{Planned: true, Plan: plan, Err: err}
	case StepImplement:
		emit := sp.guard(prov, files, sink)
		return Result{Err: prov.Implement(ctx, sp.Blueprint, sp.Phase, files, sp.Skip, emit)}
	case StepReview:
		var chk *actorsv1.SandboxCheckReply
		var lines map[string]*stichv1.LineCount
		if sp.Check && check != nil {
			g := sp.guard(prov, files, sink)
			chk = check(ctx, files)
			for p, c := range chk.GetFixed() {
				files[p] = c // the review sees the fixed app
				if sp.WorkBase != nil {
					if lines == nil {
						lines = map[string]*stichv1.LineCount{}
					}
					lines[p] = g.lines(p, c)
				}
			}
		}
		step := func(s *stichv1.CheckStep) {
			// A sub-step of the check: reported when one runs.
			if sink != nil && chk != nil {
				_ = sink.Send(ctx, Work{Kind: WorkCheckStep, Step: s})
			}
		}
		step(&stichv1.CheckStep{Step: "review"})
		start := time.Now()
		d, err := prov.Review(ctx, sp.Blueprint, sp.Phase, files)
		outcome := "ok"
		switch {
		case err != nil:
			outcome = "failed"
		case len(d) > 0:
			outcome = fmt.Sprintf("%d problem(s)", len(d))
		}
		step(&stichv1.CheckStep{Step: "review", Ended: true, DurationMs: uint64(time.Since(start) / time.Millisecond), Outcome: outcome})
		return Result{Diags: d, Err: err, Check: chk, Lines: lines}
	case StepFix:
		emit := sp.guard(prov, files, sink)
		return Result{Err: prov.Fix(ctx, sp.Blueprint, files, sp.Diagnostics, emit)}
	}
	return Result{Err: fmt.Errorf("pipeline: unknown step kind %d", sp.Kind)}
}
