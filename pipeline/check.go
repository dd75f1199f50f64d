package pipeline

import (
	"fmt"
	"strings"

	"github.com/stichdev/stich/codegen"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// FixPurpose labels files the deterministic fixer rewrote.
const FixPurpose = "repaired by the deterministic fixer"

// applyCheck turns a sandbox check into events and changes of st: the
// type-check's diagnostics, each fix, the fixed files (streamed like
// generated ones, so every watcher sees their content), bundler errors,
// the preview URL (unless announced: the session announced it when the
// build was served, and the fixer's changes did not rebuild it), the runtime check's findings and its end. It returns the fixed files' content (to write, and for
// the version record) and the problems still open (for the fix rounds).
func applyCheck(st *actorsv1.SessionState, c *actorsv1.SandboxCheckReply, announced bool) (evs []*stichv1.SessionEvent, fixed map[string][]byte, problems []*stichv1.Diagnostic) {
	diags := func(tool string, ds []*stichv1.Diagnostic) *stichv1.SessionEvent {
		return &stichv1.SessionEvent{Event: &stichv1.SessionEvent_Diagnostics{Diagnostics: &stichv1.DiagnosticsReported{Tool: tool, Diagnostics: ds}}}
	}
	if c.GetError() != "" {
		evs = append(evs, logLine("sandbox", "error", c.GetError()))
	}
	if len(c.GetInitial()) > 0 || len(c.GetFixes()) > 0 {
		evs = append(evs, diags("tsc", c.GetInitial()))
	}
	for _, f := range c.GetFixes() {
		evs = append(evs, &stichv1.SessionEvent{Event: &stichv1.SessionEvent_FixApplied{FixApplied: &stichv1.FixApplied{
			Code: f.GetCode(), File: f.GetFile(), Description: f.GetDescription(), Before: f.GetBefore(), After: f.GetAfter()}}})
	}
	fixed = map[string][]byte{}
	for _, p := range sortedKeys(c.GetFixed()) {
		content := c.GetFixed()[p]
		if err := codegen.CheckPath(p); err != nil || len(content) > codegen.MaxFileBytes {
			evs = append(evs, logLine("fixer", "warn", fmt.Sprintf("discarded the fixer's change to %s: not a file the app may have", p)))
			continue
		}
		if q, ok := caseTwin(p, st.Files); ok {
			evs = append(evs, logLine("fixer", "warn", fmt.Sprintf("discarded the fixer's change to %s: it differs from %s only by letter case", p, q)))
			continue
		}
		if st.Files == nil {
			st.Files = map[string]*stichv1.FileInfo{}
		}
		info := &stichv1.FileInfo{Path: p, Size: uint64(len(content)), Sha256: Sha256(content)}
		st.Files[p] = info
		fixed[p] = []byte(content)
		evs = append(evs, FileEvents(p, FixPurpose, content, info.Sha256)...)
	}
	if len(c.GetFixes()) > 0 {
		evs = append(evs, diags("tsc", c.GetRemaining()))
	}
	if len(c.GetBuild()) > 0 {
		evs = append(evs, diags("esbuild", c.GetBuild()))
	}
	if c.GetError() == "" {
		var steps []string
		if c.GetInstalled() {
			steps = append(steps, fmt.Sprintf("install %d ms", c.GetInstallMs()))
		}
		steps = append(steps, fmt.Sprintf("type-check and fix %d ms", c.GetTypecheckMs()), fmt.Sprintf("bundle %d ms", c.GetBundleMs()))
		switch s := c.GetRuntimeStatus(); {
		case s == "checked":
			steps = append(steps, fmt.Sprintf("runtime check %d ms (%d problem(s))", c.GetRuntimeMs(), len(c.GetRuntime())))
		case s != "":
			steps = append(steps, "runtime "+s)
		}
		evs = append(evs, logLine("sandbox", "info", "checked the app: "+strings.Join(steps, ", ")))
	}
	if u := c.GetPreviewUrl(); u != "" && (!announced || c.GetPreviewRebuilt()) {
		evs = append(evs, previewReady(u))
	}
	// After PreviewReady: they are about this build (a new build clears
	// the last one's runtime problems).
	if len(c.GetRuntime()) > 0 {
		evs = append(evs, diags("runtime", c.GetRuntime()))
	}
	if c.GetPreviewUrl() != "" && c.GetRuntimeStatus() != "" {
		evs = append(evs, &stichv1.SessionEvent{Event: &stichv1.SessionEvent_RuntimeChecked{RuntimeChecked: &stichv1.RuntimeChecked{
			Status: c.GetRuntimeStatus(), DurationMs: c.GetRuntimeMs(), Problems: uint32(len(c.GetRuntime())), Screenshot: c.GetScreenshot()}}})
	}
	problems = append(append(append(problems, c.GetRemaining()...), c.GetBuild()...), c.GetRuntime()...)
	return evs, fixed, problems
}

func previewReady(url string) *stichv1.SessionEvent {
	return &stichv1.SessionEvent{Event: &stichv1.SessionEvent_PreviewReady{PreviewReady: &stichv1.PreviewReady{Url: url}}}
}
