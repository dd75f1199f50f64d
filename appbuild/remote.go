package appbuild

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stichdev/stich/fixer"
	"github.com/stichdev/stich/preview"
	"github.com/stichdev/stich/sandbox"
)

// Remote runs a whole check on another machine (a Nomad batch job): the
// files go out, the outcome and the bundled preview come back. A
// [Config] with a Remote runs every check through it. Its progress lines
// go to log and its sub-steps to step (which may be nil) as the remote
// build reports them (see [LinePrinter]).
type Remote interface {
	Check(ctx context.Context, req BuildRequest, log LogFunc, step StepFunc) (Outcome, error)
}

// SourceStep is the source column of a remote build's sub-step lines
// (see [LinePrinter]).
const SourceStep = "step"

// LinePrinter prints a remote build's progress on w as the node reads it
// back from the task's output: one "source\tlevel\ttext" line per log
// line, and one line per sub-step, "step\tstart\tNAME" when it starts and
// "step\tend\tNAME\tMS\tOUTCOME" when it ends (tabs and line breaks in
// texts folded into spaces). Both functions are safe for concurrent use;
// lines never interleave.
func LinePrinter(w io.Writer) (LogFunc, StepFunc) {
	fold := strings.NewReplacer("\t", " ", "\n", " ", "\r", " ")
	var mu sync.Mutex
	log := func(source, level, text string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "%s\t%s\t%s\n", fold.Replace(source), fold.Replace(level), fold.Replace(text))
	}
	step := func(name string, ended bool, took time.Duration, outcome string) {
		mu.Lock()
		defer mu.Unlock()
		if !ended {
			fmt.Fprintf(w, "%s\tstart\t%s\n", SourceStep, fold.Replace(name))
			return
		}
		fmt.Fprintf(w, "%s\tend\t%s\t%d\t%s\n", SourceStep, fold.Replace(name), max(took, 0).Milliseconds(), fold.Replace(outcome))
	}
	return log, step
}

// ParseStepLine reads a sub-step line of [LinePrinter]; ok is false for
// any other line (or a malformed one).
func ParseStepLine(line string) (step string, ended bool, took time.Duration, outcome string, ok bool) {
	f := strings.Split(line, "\t")
	switch {
	case len(f) == 3 && f[0] == SourceStep && f[1] == "start" && f[2] != "":
		return f[2], false, 0, "", true
	case len(f) == 5 && f[0] == SourceStep && f[1] == "end" && f[2] != "":
		ms, err := strconv.ParseUint(f[3], 10, 32)
		if err != nil {
			return "", false, 0, "", false
		}
		return f[2], true, time.Duration(ms) * time.Millisecond, f[4], true
	}
	return "", false, 0, "", false
}

// BuildRequest is what a remote build fetches: one check of one app.
type BuildRequest struct {
	// ID is the workspace id (the session).
	ID string `json:"id"`
	// Base and ReportURL are those of [New].
	Base      string `json:"base"`
	ReportURL string `json:"reportUrl,omitempty"`
	// Files is the app's whole file set.
	Files map[string]string `json:"files"`
	Fix   bool              `json:"fix"`
}

// BuildReport is what a remote build sends back: an [Outcome] and the
// error of the step that could not run, as plain data.
type BuildReport struct {
	Installed bool                 `json:"installed"`
	Initial   []sandbox.Diagnostic `json:"initial"`
	Remaining []sandbox.Diagnostic `json:"remaining"`
	Fixes     []fixer.Fix          `json:"fixes,omitempty"`
	Fixed     map[string]string    `json:"fixed,omitempty"`
	Build     []sandbox.Diagnostic `json:"build,omitempty"`
	Preview   *preview.Exported    `json:"preview,omitempty"`
	Full      bool                 `json:"full,omitempty"`

	InstallMs, TypeCheckMs, FixMs, BundleMs int64

	// Error is what stopped the check ("" when it ran through);
	// InstallFailed says it was the dependency install.
	Error         string `json:"error,omitempty"`
	InstallFailed bool   `json:"installFailed,omitempty"`
}

// ReportOf turns a local check's result into a report.
func ReportOf(out Outcome, err error) BuildReport {
	r := BuildReport{
		Installed: out.Installed, Initial: out.Initial, Remaining: out.Remaining, Fixes: out.Fixes, Fixed: out.Fixed,
		Build: out.Build, Full: out.Full,
		InstallMs: out.Install.Milliseconds(), TypeCheckMs: out.TypeCheck.Milliseconds(),
		FixMs: out.Fix.Milliseconds(), BundleMs: out.Bundle.Milliseconds(),
	}
	if out.Preview != nil {
		e := out.Preview.Export()
		r.Preview = &e
	}
	if err != nil {
		r.Error, r.InstallFailed = err.Error(), errors.Is(err, ErrInstall)
	}
	return r
}

// ErrRemote: a remote build reported that a step could not run.
var ErrRemote = errors.New("appbuild: remote build")

// Outcome turns a report back into what [Workspace.Check] returns; the
// preview is checked as [preview.Import] does.
func (r BuildReport) Outcome() (Outcome, error) {
	out := Outcome{
		Installed: r.Installed, Initial: r.Initial, Remaining: r.Remaining, Fixes: r.Fixes, Fixed: r.Fixed,
		Build: r.Build, Full: r.Full,
		Install: time.Duration(r.InstallMs) * time.Millisecond, TypeCheck: time.Duration(r.TypeCheckMs) * time.Millisecond,
		Fix: time.Duration(r.FixMs) * time.Millisecond, Bundle: time.Duration(r.BundleMs) * time.Millisecond,
	}
	if r.Preview != nil {
		p, err := preview.Import(*r.Preview)
		if err != nil {
			return out, fmt.Errorf("%w: its preview: %w", ErrRemote, err)
		}
		out.Preview = p
	}
	switch {
	case r.InstallFailed:
		return out, fmt.Errorf("%w: %w: %s", ErrInstall, ErrRemote, r.Error)
	case r.Error != "":
		return out, fmt.Errorf("%w: %s", ErrRemote, r.Error)
	}
	return out, nil
}

// checkRemote runs a check through the Config's Remote.
func (w *Workspace) checkRemote(ctx context.Context, files map[string]string, fix bool, log LogFunc, step StepFunc) (Outcome, error) {
	out, err := w.cfg.Remote.Check(ctx, BuildRequest{ID: w.id, Base: w.base, ReportURL: w.reportURL, Files: files, Fix: fix}, log, step)
	if out.Preview != nil {
		w.mu.Lock()
		w.prev = out.Preview
		w.mu.Unlock()
		log(SourcePreview, "info", fmt.Sprintf("preview bundled in %v", out.Bundle.Round(time.Millisecond)))
	}
	return out, err
}
