package pipeline

import (
	"strings"
	"testing"

	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

func refusedForQuota(t *testing.T, out Output, quota string) {
	t.Helper()
	r := out.Refusal
	if r == nil || r.Code != actorsv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED || !strings.Contains(r.Message, quota) || !strings.Contains(r.Message, "start a new session") {
		t.Fatalf("refusal %+v, want resource exhausted naming %q", r, quota)
	}
}

// A session at its versions quota refuses edits, rollbacks and messages,
// saying which quota and what to do; a retried message is answered as
// before.
func TestQuotaVersionsRefusesChanges(t *testing.T) {
	h := newHarness(t)
	h.cfg.Quota = Quota{Versions: 3}
	h.step(create())
	h.drain()
	if out := h.step(Message{Text: "add a", Key: "k1"}); out.Refusal != nil {
		t.Fatal(out.Refusal)
	}
	h.drain()
	if out := h.step(SaveFile{Path: "a.ts", Content: "export const a = 1;\n"}); out.Refusal != nil {
		t.Fatal(out.Refusal)
	}
	if v := h.s.Session.GetVersions(); v != 3 {
		t.Fatalf("%d versions", v)
	}
	last := h.s.LastSeq
	refusedForQuota(t, h.step(SaveFile{Path: "a.ts", Content: "export const a = 2;\n"}), "versions quota is 3")
	refusedForQuota(t, h.step(Message{Text: "add b"}), "--session-max-versions")
	refusedForQuota(t, h.step(Rollback{Target: h.db.versions[1]}), "versions quota")
	if out := h.step(Message{Text: "add a", Key: "k1"}); out.Refusal != nil {
		t.Fatalf("a retried message: %v", out.Refusal)
	}
	if h.s.LastSeq != last || h.db.files["a.ts"] != "export const a = 1;\n" {
		t.Fatal("a refused change was written")
	}
}

// Versions count their bytes; a generation that passes the log quota while
// it runs fails with a resource_exhausted error event, and is not resumed.
func TestQuotaBytesAndLogInThePipeline(t *testing.T) {
	h := newHarness(t)
	h.step(create())
	h.drain()
	var bytes uint64
	for _, f := range h.s.Session.GetFiles() {
		bytes += f.GetSize()
	}
	if got := h.s.Session.GetVersionBytes(); got != bytes || bytes == 0 {
		t.Fatalf("version bytes %d, want %d", got, bytes)
	}
	h.cfg.Quota = Quota{StoredBytes: bytes}
	refusedForQuota(t, h.step(SaveFile{Path: "a.ts", Content: "export const a = 1;\n"}), "stored-bytes quota")

	h.cfg.Quota = Quota{LogEvents: h.s.LastSeq + 3}
	if out := h.step(Message{Text: "add e"}); out.Refusal != nil {
		t.Fatal(out.Refusal)
	}
	h.drain()
	if h.phase() != stichv1.Phase_PHASE_FAILED {
		t.Fatalf("phase %v past the log quota", h.phase())
	}
	var ev *stichv1.ErrorEvent
	for _, e := range h.db.log {
		if e.GetError() != nil {
			ev = e.GetError()
		}
	}
	if ev == nil || ev.GetCode() != "resource_exhausted" || ev.GetRetryable() || !strings.Contains(ev.GetMessage(), "log quota") {
		t.Fatalf("error event %v", ev)
	}
	refusedForQuota(t, h.step(Resume{}), "--session-max-log-events")
}
