package pipeline

import (
	"context"
	"strings"
	"testing"

	"github.com/stichdev/stich/codegen"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// Names that differ only by letter case are one file on macOS and Windows:
// they are refused where a file enters the session (a model's output, a
// user's save, the fixer's output), not only when a build syncs the
// workspace.
func TestCaseCollisionsRefused(t *testing.T) {
	lastError := func(h *harness) *stichv1.ErrorEvent {
		for i := len(h.db.log) - 1; i >= 0; i-- {
			if e := h.db.log[i].GetError(); e != nil {
				return e
			}
		}
		return nil
	}
	t.Run("model output, two streams", func(t *testing.T) {
		h := newHarness(t)
		h.step(create())
		h.queue = nil // the step's own output is dropped
		run := h.s.Run
		h.step(Work{Run: run, Kind: WorkFileStarted, Path: "src/App.tsx"})
		if h.phase() == stichv1.Phase_PHASE_FAILED {
			t.Fatalf("the first file failed the session: %v", lastError(h))
		}
		h.step(Work{Run: run, Kind: WorkFileStarted, Path: "src/app.tsx"})
		e := lastError(h)
		if h.phase() != stichv1.Phase_PHASE_FAILED || e.GetCode() != "invalid_argument" ||
			!strings.Contains(e.GetMessage(), `"src/app.tsx": differs from "src/App.tsx" only by letter case`) {
			t.Fatalf("phase %v, error %v", h.phase(), e)
		}
	})
	t.Run("model output, stored file", func(t *testing.T) {
		h := generated(t)
		h.prov.refinement, h.prov.write = &codegen.Refinement{Reply: "ok", Phase: phase("A.ts")}, nil
		if out := h.step(Message{Text: "rename a"}); out.Refusal != nil {
			t.Fatal(out.Refusal)
		}
		h.drain()
		e := lastError(h)
		if h.phase() != stichv1.Phase_PHASE_FAILED || e.GetCode() != "invalid_argument" ||
			!strings.Contains(e.GetMessage(), `"A.ts": differs from "a.ts" only by letter case`) {
			t.Fatalf("phase %v, error %v", h.phase(), e)
		}
		if _, ok := h.files()["A.ts"]; ok {
			t.Fatal("A.ts was stored")
		}
	})
	t.Run("model output, renamed after delete", func(t *testing.T) {
		// Deleting a.ts first frees its name.
		h := generated(t)
		refine(t, h, "rename a", &codegen.Refinement{Reply: "ok", Phase: phase("A.ts"), Deleted: []string{"a.ts"}}, nil)
		if _, ok := h.files()["A.ts"]; !ok {
			t.Fatalf("files %v", h.files())
		}
	})
	t.Run("SaveFile", func(t *testing.T) {
		h := generated(t)
		before := len(h.db.log)
		out := h.step(SaveFile{Path: "A.ts", Content: "export const A = 1;\n"})
		r := out.Refusal
		if r == nil || r.Code != actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT ||
			!strings.Contains(r.Message, "A.ts") || !strings.Contains(r.Message, "a.ts") || !strings.Contains(r.Message, "letter case") {
			t.Fatalf("refusal %v", r)
		}
		if len(h.db.log) != before || h.files()["A.ts"] != "" {
			t.Fatal("the refused save changed the session")
		}
		// The file itself may still be saved, and a new name too.
		for _, p := range []string{"a.ts", "src/new.ts"} {
			if out := h.step(SaveFile{Path: p, Content: "export const n = 1;\n"}); out.Refusal != nil {
				t.Fatalf("save %s: %v", p, out.Refusal)
			}
		}
	})
	t.Run("fixer output", func(t *testing.T) {
		h := newHarness(t)
		h.cfg.Builds = true
		h.check = func(_ context.Context, files map[string]string) *actorsv1.SandboxCheckReply {
			return &actorsv1.SandboxCheckReply{Fixed: map[string]string{"B.ts": "export const B = 1;\n"}}
		}
		h.step(create())
		h.drain()
		if _, ok := h.files()["B.ts"]; ok {
			t.Fatalf("the fixer's B.ts was stored next to b.ts")
		}
		if n := h.count(func(ev *stichv1.SessionEvent) bool {
			return strings.Contains(ev.GetLog().GetText(), "discarded the fixer's change to B.ts: it differs from b.ts only by letter case")
		}); n == 0 {
			t.Fatal("the discarded change was not reported")
		}
	})
}
