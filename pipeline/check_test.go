package pipeline

import (
	"fmt"
	"strings"
	"testing"

	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// The runtime check's findings follow the preview they are about, are in
// the check's summary, and are problems for the fix rounds; a check
// without a browser says so and finds nothing.
func TestApplyCheckRuntime(t *testing.T) {
	boom := &stichv1.Diagnostic{Code: "error", Message: "Error: boom", Severity: "error"}
	evs, _, problems := applyCheck(&actorsv1.SessionState{}, &actorsv1.SandboxCheckReply{
		PreviewUrl: "http://x.preview.test/", RuntimeStatus: "checked", RuntimeMs: 420, Runtime: []*stichv1.Diagnostic{boom}}, false)
	var order []string
	summary := ""
	for _, ev := range evs {
		switch {
		case ev.GetPreviewReady() != nil:
			order = append(order, "preview")
		case ev.GetDiagnostics() != nil:
			order = append(order, ev.GetDiagnostics().GetTool())
		case ev.GetLog() != nil && strings.HasPrefix(ev.GetLog().GetText(), "checked the app"):
			summary = ev.GetLog().GetText()
		}
	}
	if strings.Join(order, ",") != "preview,runtime" {
		t.Errorf("events %v, want the preview, then its runtime diagnostics", order)
	}
	if !strings.Contains(summary, "runtime check 420 ms (1 problem(s))") {
		t.Errorf("summary %q", summary)
	}
	if len(problems) != 1 || problems[0] != boom {
		t.Errorf("problems for the fix round %v", problems)
	}

	evs, _, problems = applyCheck(&actorsv1.SessionState{}, &actorsv1.SandboxCheckReply{PreviewUrl: "http://x.preview.test/", RuntimeStatus: "not checked: no browser"}, false)
	found := false
	for _, ev := range evs {
		if l := ev.GetLog(); l != nil && strings.Contains(l.GetText(), "runtime not checked: no browser") && l.GetLevel() == "info" {
			found = true
		}
		if ev.GetDiagnostics().GetTool() == "runtime" {
			t.Error("runtime diagnostics without a browser")
		}
	}
	if !found || len(problems) != 0 {
		t.Errorf("without a browser: summary found %v, problems %v", found, problems)
	}
}

// A check whose preview was announced when its build was served does not
// announce it again: its runtime findings follow, then the check's end
// (with its status, time, problem count and whether a screenshot exists).
func TestApplyCheckAnnounced(t *testing.T) {
	boom := &stichv1.Diagnostic{Code: "error", Message: "Error: boom", Severity: "error"}
	reply := &actorsv1.SandboxCheckReply{PreviewUrl: "http://x.preview.test/", RuntimeStatus: "checked", RuntimeMs: 420,
		Runtime: []*stichv1.Diagnostic{boom}, Screenshot: true}
	for _, announced := range []bool{false, true} {
		evs, _, problems := applyCheck(&actorsv1.SessionState{}, reply, announced)
		var order []string
		var done *stichv1.RuntimeChecked
		for _, ev := range evs {
			switch {
			case ev.GetPreviewReady() != nil:
				order = append(order, "preview")
			case ev.GetDiagnostics() != nil:
				order = append(order, ev.GetDiagnostics().GetTool())
			case ev.GetRuntimeChecked() != nil:
				order = append(order, "checked")
				done = ev.GetRuntimeChecked()
			}
		}
		want := "preview,runtime,checked"
		if announced {
			want = "runtime,checked"
		}
		if strings.Join(order, ",") != want {
			t.Errorf("announced %v: events %v, want %s", announced, order, want)
		}
		if done.GetStatus() != "checked" || done.GetDurationMs() != 420 || done.GetProblems() != 1 || !done.GetScreenshot() {
			t.Errorf("announced %v: runtime checked %v", announced, done)
		}
		if len(problems) != 1 || problems[0] != boom {
			t.Errorf("announced %v: problems for the fix round %v", announced, problems)
		}
	}
	// Served before the type-check, then rebuilt with the fixer's
	// changes: announced again, before the rebuilt build's findings.
	reply.PreviewRebuilt = true
	evs, _, _ := applyCheck(&actorsv1.SessionState{}, reply, true)
	var order []string
	for _, ev := range evs {
		switch {
		case ev.GetPreviewReady() != nil:
			order = append(order, "preview")
		case ev.GetRuntimeChecked() != nil:
			order = append(order, "checked")
		}
	}
	if strings.Join(order, ",") != "preview,checked" {
		t.Errorf("rebuilt after it was announced: events %v", order)
	}
	// No preview, no runtime check: nothing about one.
	evs, _, _ = applyCheck(&actorsv1.SessionState{}, &actorsv1.SandboxCheckReply{Build: []*stichv1.Diagnostic{boom}}, false)
	for _, ev := range evs {
		if ev.GetPreviewReady() != nil || ev.GetRuntimeChecked() != nil {
			t.Errorf("a check without a preview produced %v", ev)
		}
	}
}

// The preview of an idle check is announced when the sandbox says its
// build is served, before the runtime check ends; the check's reply then
// adds the runtime findings and the check's end, not a second
// announcement. A served message of another run changes nothing.
func TestPreviewAnnouncedBeforeRuntimeCheck(t *testing.T) {
	h := generated(t)
	h.cfg.Builds = true
	h.queue = nil
	h.step(SaveFile{Path: "src/new.ts", Content: "export const n = 1;\n"})
	run := h.s.IdleRun
	if !h.s.Checking || run == 0 {
		t.Fatalf("no idle check after a save: checking %v run %d", h.s.Checking, run)
	}
	h.queue = nil // the harness's instant reply: replaced by the steps below
	kinds := func(out Output) []string {
		var k []string
		for _, ev := range out.Events {
			switch {
			case ev.GetPreviewReady() != nil:
				k = append(k, "preview")
			case ev.GetDiagnostics() != nil:
				k = append(k, ev.GetDiagnostics().GetTool())
			case ev.GetRuntimeChecked() != nil:
				k = append(k, "checked")
			}
		}
		return k
	}
	if got := kinds(h.step(SandboxLog{Run: run + 2, PreviewURL: "http://old.preview.test/"})); len(got) != 0 {
		t.Fatalf("another run's served message produced %v", got)
	}
	if got := kinds(h.step(SandboxLog{Run: run, PreviewURL: "http://p.preview.test/"})); strings.Join(got, ",") != "preview" {
		t.Fatalf("served: events %v, want the preview", got)
	}
	if !h.s.Checking {
		t.Fatal("the served message ended the check")
	}
	boom := &stichv1.Diagnostic{Code: "error", Message: "Error: boom", Severity: "error"}
	got := kinds(h.step(IdleCheckDone{Run: run, Reply: &actorsv1.SandboxCheckReply{PreviewUrl: "http://p.preview.test/",
		RuntimeStatus: "checked", RuntimeMs: 900, Runtime: []*stichv1.Diagnostic{boom}}}))
	if strings.Join(got, ",") != "runtime,checked" {
		t.Fatalf("check done: events %v, want the runtime findings and the check's end, no second preview", got)
	}
}

// A fix the user asks for keeps what the fixer changed as a new version
// with a change card (per file, what it did; the problems left); a fixer
// that changed nothing says what it could not fix and makes no version.
// Without builds there is no fixer: refused. A save during the fix
// replaces it (its late answer is ignored).
func TestFixProblemsOnRequest(t *testing.T) {
	h := generated(t)
	if out := h.step(FixProblems{}); out.Refusal == nil || out.Refusal.Code != actorsv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION {
		t.Fatalf("fix without builds: %+v, want failed_precondition", out.Refusal)
	}
	h.cfg.Builds = true
	h.queue = nil
	h.step(SaveFile{Path: "a.ts", Content: "export const x = useState(1);\n"})
	h.queue = nil
	versions := h.s.Session.GetVersions()
	out := h.step(FixProblems{})
	if out.Refusal != nil || !h.s.Checking || !h.s.Fixing {
		t.Fatalf("fix not started: refusal %+v checking %v fixing %v", out.Refusal, h.s.Checking, h.s.Fixing)
	}
	var fix RunIdleCheck
	for _, e := range out.Effects {
		if r, ok := e.(RunIdleCheck); ok {
			fix = r
		}
	}
	if !fix.Fix || fix.Run != h.s.IdleRun {
		t.Fatalf("effects %v: want a check with the fixer as run %d", out.Effects, h.s.IdleRun)
	}
	h.queue = nil
	fixedA := "import { useState } from \"react\";\nexport const x = useState(1);\n"
	left := &stichv1.Diagnostic{File: "b.ts", Line: 3, Code: "TS2322", Message: "Type 'string' is not assignable to type 'number'.", Severity: "error"}
	out = h.step(IdleCheckDone{Run: fix.Run, Reply: &actorsv1.SandboxCheckReply{
		Fixes:     []*actorsv1.SandboxFix{{Code: "TS2304", File: "a.ts", Description: "imported useState from react"}},
		Fixed:     map[string]string{"a.ts": fixedA},
		Remaining: []*stichv1.Diagnostic{left},
	}})
	var card *stichv1.ChangeCard
	for _, ev := range out.Events {
		if c := ev.GetChangeCard(); c != nil {
			card = c
		}
	}
	if card == nil || card.GetVersion() != versions+1 || h.s.Session.GetVersions() != versions+1 {
		t.Fatalf("card %v, versions %d: want a card of version %d", card, h.s.Session.GetVersions(), versions+1)
	}
	if len(card.GetFiles()) != 1 || card.GetFiles()[0].GetPath() != "a.ts" || strings.Join(card.GetFiles()[0].GetFixes(), ",") != "imported useState from react" {
		t.Fatalf("card files %v: want a.ts with what was fixed", card.GetFiles())
	}
	if len(card.GetNotDone()) != 1 || !strings.Contains(card.GetNotDone()[0], "b.ts:3") {
		t.Fatalf("not done %v: want the problem left in b.ts:3", card.GetNotDone())
	}
	if h.db.files["a.ts"] != fixedA || h.s.Fixing || h.s.Checking {
		t.Fatalf("stored a.ts %q, fixing %v checking %v", h.db.files["a.ts"], h.s.Fixing, h.s.Checking)
	}

	// Nothing fixed: a card with no version, and it says how many problems were left.
	h.step(FixProblems{})
	h.queue = nil
	out = h.step(IdleCheckDone{Run: h.s.IdleRun, Reply: &actorsv1.SandboxCheckReply{Remaining: []*stichv1.Diagnostic{left, left}}})
	card, said := nil, ""
	for _, ev := range out.Events {
		if c := ev.GetChangeCard(); c != nil {
			card = c
		}
		if m := ev.GetMessage(); m != nil {
			said = m.GetText()
		}
	}
	if card == nil || card.GetVersion() != 0 || h.s.Session.GetVersions() != versions+1 || !strings.Contains(said, "Could not fix 2 problem") {
		t.Fatalf("nothing fixed: card %v, versions %d, said %q", card, h.s.Session.GetVersions(), said)
	}

	// A save during a fix replaces it: the fix's late answer writes nothing.
	h.step(FixProblems{})
	old := h.s.IdleRun
	h.queue = nil
	h.step(SaveFile{Path: "c.ts", Content: "export const c = 2;\n"})
	h.queue = nil
	if h.s.Fixing {
		t.Fatal("a save left the fix running")
	}
	n := h.s.Session.GetVersions()
	out = h.step(IdleCheckDone{Run: old, Reply: &actorsv1.SandboxCheckReply{Fixed: map[string]string{"a.ts": "late"}}})
	if len(out.Events) != 0 || h.s.Session.GetVersions() != n || h.db.files["a.ts"] != fixedA {
		t.Fatalf("a replaced fix's answer changed the session: %d events, versions %d", len(out.Events), h.s.Session.GetVersions())
	}
}

// A check's sub-steps become CheckStep events in the order sent, after the
// lines they came with; unknown step names are dropped, and a finished or
// another run's check records none.
func TestCheckStepsRecorded(t *testing.T) {
	h := generated(t)
	h.cfg.Builds = true
	h.queue = nil
	h.step(SaveFile{Path: "src/new.ts", Content: "export const n = 1;\n"})
	run := h.s.IdleRun
	h.queue = nil
	steps := func(out Output) []string {
		var k []string
		for _, ev := range out.Events {
			if l := ev.GetLog(); l != nil {
				k = append(k, "log")
			}
			if s := ev.GetCheckStep(); s != nil {
				x := s.GetStep() + ":start"
				if s.GetEnded() {
					x = fmt.Sprintf("%s:%d:%s", s.GetStep(), s.GetDurationMs(), s.GetOutcome())
				}
				k = append(k, x)
			}
		}
		return k
	}
	got := steps(h.step(SandboxLog{Run: run, Lines: []*actorsv1.SandboxLogLine{{Source: "install", Level: "info", Text: "installing"}},
		Steps: []*stichv1.CheckStep{{Step: "install"}, {Step: "install", Ended: true, DurationMs: 1200, Outcome: "ok"}, {Step: "rm -rf"}, {Step: "typecheck"}}}))
	if want := "log,install:start,install:1200:ok,typecheck:start"; strings.Join(got, ",") != want {
		t.Errorf("steps %v, want %s", got, want)
	}
	if got := steps(h.step(SandboxLog{Run: run + 2, Steps: []*stichv1.CheckStep{{Step: "bundle"}}})); len(got) != 0 {
		t.Errorf("another run's steps recorded: %v", got)
	}
	h.step(IdleCheckDone{Run: run, Reply: &actorsv1.SandboxCheckReply{}})
	if got := steps(h.step(SandboxLog{Run: run, Steps: []*stichv1.CheckStep{{Step: "bundle"}}})); len(got) != 0 {
		t.Errorf("a finished check's steps recorded: %v", got)
	}
}
