package pipeline

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/stichdev/stich/codegen"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// The states of the table: every phase a session can be in, with the
// volatile part a driver would have.
func tableStates() map[string]State {
	base := func(p stichv1.Phase, working bool) State {
		bp := testBlueprint()
		st := &actorsv1.SessionState{Id: "s-test", Prompt: "a todo app", Phase: p, Options: &stichv1.SessionOptions{Provider: "fake"},
			Blueprint: bp, Current: bp.GetRoadmap()[0], PhaseBudget: 10, Versions: 1, WorkReason: "generation",
			Files: map[string]*stichv1.FileInfo{"a.ts": {Path: "a.ts", Size: 1, Sha256: Sha256("a")}}}
		s := State{Session: st, LastSeq: 10, Run: 7, Working: working}
		if working {
			s.Streams = map[string]*strings.Builder{}
		}
		return s
	}
	planning := base(stichv1.Phase_PHASE_PLANNING, true)
	planning.Session.Blueprint, planning.Session.Current = nil, nil
	refining := base(stichv1.Phase_PHASE_PLANNING, true)
	refining.Session.PendingMessages = []string{"add e"}
	planPhase := base(stichv1.Phase_PHASE_GENERATING, true)
	planPhase.Session.Current, planPhase.Session.PhaseIndex = nil, 1
	generating := base(stichv1.Phase_PHASE_GENERATING, true)
	generating.Streams["b.ts"] = &strings.Builder{}
	fixing := base(stichv1.Phase_PHASE_FIXING, true)
	fixing.Session.Diagnostics = []*stichv1.Diagnostic{{Message: "x"}}
	completed := base(stichv1.Phase_PHASE_COMPLETED, false)
	completed.Checking, completed.IdleRun = true, idleRunBit|3
	stopped := base(stichv1.Phase_PHASE_STOPPED, false)
	stopped.Session.ResumePhase = stichv1.Phase_PHASE_GENERATING
	failed := base(stichv1.Phase_PHASE_FAILED, false)
	failed.Session.ResumePhase, failed.Session.Error = stichv1.Phase_PHASE_REVIEWING, "boom"
	return map[string]State{
		"none": {}, "planning": planning, "refining": refining, "planphase": planPhase, "generating": generating,
		"reviewing": base(stichv1.Phase_PHASE_REVIEWING, true), "fixing": fixing,
		"completed": completed, "stopped": stopped, "failed": failed,
	}
}

// tableInputs builds each input for state s (results carry its run, and
// answer its phase's step).
func tableInputs(s State) map[string]Input {
	run := s.Run
	ok := Result{Run: run}
	switch {
	case s.Session == nil:
	case s.Session.Phase == stichv1.Phase_PHASE_PLANNING && s.Session.Blueprint == nil:
		ok.Blueprint = testBlueprint()
	case s.Session.Phase == stichv1.Phase_PHASE_PLANNING:
		ok.Refine = &codegen.Refinement{Reply: "ok"}
	case s.Session.Phase == stichv1.Phase_PHASE_GENERATING && s.Session.Current == nil:
		ok.Planned, ok.Plan = true, testBlueprint().GetRoadmap()[1]
	}
	return map[string]Input{
		"create":    create(),
		"activated": Activated{},
		"message":   Message{Text: "add e"},
		"stop":      Stop{},
		"resume":    Resume{},
		"chunk":     Work{Run: run, Kind: WorkFileChunk, Path: "b.ts", Data: "x"},
		"stale":     Work{Run: run + 100, Kind: WorkLog, Data: "late"},
		"result":    ok,
		"error":     Result{Run: run, Err: errBoom},
		"failed":    Failed{Err: errBoom},
		"log":       SandboxLog{Run: run, Lines: []*actorsv1.SandboxLogLine{{Source: "npm", Level: "weird", Text: "added 3 packages"}}},
		"idle":      IdleCheckDone{Run: idleRunBit | 3, Reply: &actorsv1.SandboxCheckReply{PreviewUrl: "http://p/"}},
		"usage":     Usage{Action: "blueprint", Model: "m", Usage: codegen.Usage{PromptTokens: 3, Requests: 1}},
		"preview":   PreviewReport{Report: &actorsv1.PreviewReport{Kind: "error", Message: "x is undefined", Source: "/app.js", Line: 3}},
		"save":      SaveFile{Path: "a.ts", Content: "b", Previous: "a"},
		"rollback": Rollback{Target: &actorsv1.VersionRecord{Number: 1, Files: map[string]string{"z.ts": Sha256("z")}},
			Blobs: map[string]string{Sha256("z"): "z"}},
	}
}

// TestStepTable checks every state × input. An expectation is "=" (no
// events, no effects, nothing saved), "!CODE" (refused with that code,
// nothing else), or the phase after, with "+run" when a provider step
// starts, "+idle" when an idle check starts.
func TestStepTable(t *testing.T) {
	table := map[string]map[string]string{
		//          none          planning             refining             planphase            generating           reviewing            fixing               completed            stopped              failed
		"create":    row("PLANNING+run", "!ALREADY_EXISTS"),
		"activated": {"none": "=", "planning": "PLANNING+run", "refining": "PLANNING+run", "planphase": "GENERATING+run", "generating": "GENERATING+run", "reviewing": "REVIEWING+run", "fixing": "FIXING+run", "completed": "=", "stopped": "=", "failed": "="},
		"message":   {"none": "!NOT_FOUND", "planning": "PLANNING", "refining": "PLANNING", "planphase": "GENERATING", "generating": "GENERATING", "reviewing": "REVIEWING", "fixing": "FIXING", "completed": "PLANNING+run", "stopped": "STOPPED", "failed": "FAILED"},
		"stop":      {"none": "!NOT_FOUND", "planning": "STOPPED", "refining": "STOPPED", "planphase": "STOPPED", "generating": "STOPPED", "reviewing": "STOPPED", "fixing": "STOPPED", "completed": "=", "stopped": "=", "failed": "="},
		"resume":    {"none": "!NOT_FOUND", "planning": "=", "refining": "=", "planphase": "=", "generating": "=", "reviewing": "=", "fixing": "=", "completed": "=", "stopped": "GENERATING+run", "failed": "REVIEWING+run"},
		"chunk":     {"none": "=", "planning": "FAILED", "refining": "FAILED", "planphase": "FAILED", "generating": "GENERATING", "reviewing": "FAILED", "fixing": "FAILED", "completed": "=", "stopped": "=", "failed": "="},
		"stale":     row("=", "="),
		"result":    {"none": "=", "planning": "GENERATING+run", "refining": "GENERATING+run", "planphase": "GENERATING+run", "generating": "REVIEWING+run", "reviewing": "GENERATING+run", "fixing": "REVIEWING+run", "completed": "=", "stopped": "=", "failed": "="},
		"error":     {"none": "=", "planning": "FAILED", "refining": "FAILED", "planphase": "FAILED", "generating": "FAILED", "reviewing": "FAILED", "fixing": "FAILED", "completed": "=", "stopped": "=", "failed": "="},
		"failed":    {"none": "=", "planning": "FAILED", "refining": "FAILED", "planphase": "FAILED", "generating": "FAILED", "reviewing": "FAILED", "fixing": "FAILED", "completed": "=", "stopped": "=", "failed": "="},
		"log":       {"none": "=", "planning": "PLANNING", "refining": "PLANNING", "planphase": "GENERATING", "generating": "GENERATING", "reviewing": "REVIEWING", "fixing": "FIXING", "completed": "=", "stopped": "=", "failed": "="},
		"idle":      {"none": "=", "planning": "=", "refining": "=", "planphase": "=", "generating": "=", "reviewing": "=", "fixing": "=", "completed": "COMPLETED", "stopped": "=", "failed": "="},
		// Usage while a step runs is kept in memory, saved when the step ends.
		"usage":    {"none": "=", "planning": "=", "refining": "=", "planphase": "=", "generating": "=", "reviewing": "=", "fixing": "=", "completed": "COMPLETED", "stopped": "STOPPED", "failed": "FAILED"},
		"preview":  {"none": "!NOT_FOUND", "planning": "PLANNING", "refining": "PLANNING", "planphase": "GENERATING", "generating": "GENERATING", "reviewing": "REVIEWING", "fixing": "FIXING", "completed": "COMPLETED", "stopped": "STOPPED", "failed": "FAILED"},
		"save":     {"none": "!NOT_FOUND", "planning": "!FAILED_PRECONDITION", "refining": "!FAILED_PRECONDITION", "planphase": "!FAILED_PRECONDITION", "generating": "!FAILED_PRECONDITION", "reviewing": "!FAILED_PRECONDITION", "fixing": "!FAILED_PRECONDITION", "completed": "COMPLETED+idle", "stopped": "STOPPED+idle", "failed": "FAILED+idle"},
		"rollback": {"none": "!NOT_FOUND", "planning": "!FAILED_PRECONDITION", "refining": "!FAILED_PRECONDITION", "planphase": "!FAILED_PRECONDITION", "generating": "!FAILED_PRECONDITION", "reviewing": "!FAILED_PRECONDITION", "fixing": "!FAILED_PRECONDITION", "completed": "COMPLETED+idle", "stopped": "STOPPED+idle", "failed": "FAILED+idle"},
	}
	cfg := testConfig()
	cfg.Builds = true
	now := time.Unix(1_800_000_000, 0)
	states := tableStates()
	for inName, byState := range table {
		for stName, want := range byState {
			t.Run(inName+"/"+stName, func(t *testing.T) {
				s := states[stName]
				var frozen *actorsv1.SessionState
				if s.Session != nil {
					frozen = proto.Clone(s.Session).(*actorsv1.SessionState)
				}
				next, out := cfg.Step(s, now, tableInputs(s)[inName])
				if s.Session != nil && !proto.Equal(s.Session, frozen) {
					t.Fatal("Step changed the input state's session in place")
				}
				if got := describe(next, out); got != want {
					t.Fatalf("got %s, want %s (events %v)", got, want, out.Events)
				}
				checkOutput(t, s, next, out)
			})
		}
	}
	// Every state and every input is in the table.
	for in := range tableInputs(State{}) {
		if len(table[in]) != len(states) {
			t.Errorf("input %s: %d states in the table, want %d", in, len(table[in]), len(states))
		}
	}
}

// row is a row where "none" expects first and every other state rest.
func row(first, rest string) map[string]string {
	out := map[string]string{}
	for name := range tableStates() {
		out[name] = rest
	}
	out["none"] = first
	return out
}

func describe(next State, out Output) string {
	if out.Refusal != nil {
		if len(out.Events) > 0 || out.Save || len(out.Effects) > 0 || out.Reply != nil {
			return "refusal with output"
		}
		return "!" + strings.TrimPrefix(out.Refusal.Code.String(), "ERROR_CODE_")
	}
	if len(out.Events) == 0 && !out.Save && len(out.Effects) == 0 {
		return "="
	}
	d := strings.TrimPrefix(next.Session.GetPhase().String(), "PHASE_")
	for _, e := range out.Effects {
		switch e.(type) {
		case RunStep:
			d += "+run"
		case RunIdleCheck:
			d += "+idle"
		}
	}
	return d
}

// checkOutput checks the invariants every output keeps (see the package
// doc), whatever the input.
func checkOutput(t testing.TB, before, after State, out Output) {
	t.Helper()
	if out.Refusal != nil {
		return
	}
	seq := before.LastSeq
	for _, ev := range out.Events {
		seq++
		if ev.GetSeq() != seq {
			t.Fatalf("event seq %d, want %d", ev.GetSeq(), seq)
		}
	}
	if after.LastSeq != seq {
		t.Fatalf("LastSeq %d after %d events from %d", after.LastSeq, len(out.Events), before.LastSeq)
	}
	wasActive := before.Session != nil && Active(before.Session.Phase)
	isActive := after.Session != nil && Active(after.Session.Phase)
	terminal := 0
	for _, ev := range out.Events {
		if isTerminal(ev) {
			terminal++
		}
	}
	if wasActive && !isActive && terminal != 1 || !(wasActive && !isActive) && terminal != 0 {
		t.Fatalf("%d terminal events going from %v to %v", terminal, before.Session.GetPhase(), after.Session.GetPhase())
	}
	runs := 0
	for _, e := range out.Effects {
		switch e := e.(type) {
		case RunStep:
			runs++
			if e.Spec.ID != after.Run || !after.Working || e.Spec.ID <= before.Run {
				t.Fatalf("step run %d: state run %d working %v (was %d)", e.Spec.ID, after.Run, after.Working, before.Run)
			}
		case RecordVersion:
			if e.Record.GetNumber() != before.Session.GetVersions()+1 || after.Session.GetVersions() != e.Record.GetNumber() {
				t.Fatalf("version %d recorded after %d", e.Record.GetNumber(), before.Session.GetVersions())
			}
		}
	}
	if runs > 1 || runs == 1 && !isActive {
		t.Fatalf("%d steps started, phase %v", runs, after.Session.GetPhase())
	}
	if after.Working && !isActive {
		t.Fatalf("working in phase %v", after.Session.GetPhase())
	}
	if out.Save {
		if after.Session.GetUpdatedAt() == nil {
			t.Fatal("saved state without updated_at")
		}
	}
	_ = fmt.Sprint
}
