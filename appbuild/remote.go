package appbuild

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stichdev/stich/fixer"
	"github.com/stichdev/stich/preview"
	"github.com/stichdev/stich/sandbox"
)

// Remote runs a whole check on another machine (a Nomad batch job): the
// files go out, the outcome and the bundled preview come back. A
// [Config] with a Remote runs every check through it.
type Remote interface {
	Check(ctx context.Context, req BuildRequest, log LogFunc) (Outcome, error)
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
func (w *Workspace) checkRemote(ctx context.Context, files map[string]string, fix bool, log LogFunc) (Outcome, error) {
	out, err := w.cfg.Remote.Check(ctx, BuildRequest{ID: w.id, Base: w.base, ReportURL: w.reportURL, Files: files, Fix: fix}, log)
	if out.Preview != nil {
		w.mu.Lock()
		w.prev = out.Preview
		w.mu.Unlock()
		log(SourcePreview, "info", fmt.Sprintf("preview bundled in %v", out.Bundle.Round(time.Millisecond)))
	}
	return out, err
}
