package pipeline

import (
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
		PreviewUrl: "http://x.preview.test/", RuntimeStatus: "checked", RuntimeMs: 420, Runtime: []*stichv1.Diagnostic{boom}})
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

	evs, _, problems = applyCheck(&actorsv1.SessionState{}, &actorsv1.SandboxCheckReply{PreviewUrl: "http://x.preview.test/", RuntimeStatus: "not checked: no browser"})
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
