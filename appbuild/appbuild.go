// Package appbuild owns one app's build in a sandbox workspace: it brings
// the workspace to a set of files, installs dependencies when package.json
// changed, type-checks, runs the deterministic fixer and bundles the
// preview. It composes the sandbox, fixer and preview packages and keeps
// what makes the next check cheap (what was written, what was installed,
// an incremental bundler).
//
// It must not import actors, rpc or cluster: grains drive it.
package appbuild

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/stichdev/stich/codegen"
	"github.com/stichdev/stich/fixer"
	"github.com/stichdev/stich/preview"
	"github.com/stichdev/stich/sandbox"
)

// Runner is the sandbox a workspace runs in, plus the host folder esbuild
// reads (the local runner has one; a remote runner would bundle remotely).
type Runner interface {
	sandbox.Runner
	Dir(id string) (string, error)
}

// Config is shared by every workspace of a node.
type Config struct {
	Runner Runner
	// Remote, when set, runs every check on another machine instead
	// (Runner and Fixer are then unused).
	Remote Remote
	// Fixer is the deterministic fixer; nil type-checks without fixing.
	Fixer *LazyFixer
	// FixRounds bounds fix passes per check (default 3).
	FixRounds int
	// InstallTimeout and TypeCheckTimeout bound those steps (0: the
	// runner's defaults).
	InstallTimeout   time.Duration
	TypeCheckTimeout time.Duration
}

// Outcome is what one check found and did.
type Outcome struct {
	// Installed reports that dependencies were (re)installed.
	Installed bool
	// Initial are the first type-check's diagnostics; Remaining those left
	// after the fixer.
	Initial, Remaining []sandbox.Diagnostic
	// Fixes and Fixed are the fixer's repairs and the full new content of
	// every file it changed (already written to the workspace).
	Fixes []fixer.Fix
	Fixed map[string]string
	// NeedsModel are the placeholders the fixer wrote (in Fixed): the app
	// is not fixed while there are any (see fixer.Result.NeedsModel).
	NeedsModel []fixer.Fix
	// Left are diagnostics the fixer leaves for the model on purpose, with
	// the reason (see fixer.Result.Left).
	Left []fixer.Left
	// Build holds the bundler's errors; Preview is nil when it failed.
	Build   []sandbox.Diagnostic
	Preview *preview.Preview
	// Full reports that the preview was built by the app's own vite in
	// the sandbox rather than by esbuild in-process.
	Full bool
	// Rebuilt reports that a preview was served before the type-check
	// (see [Workspace.CheckServing]) and replaced by Preview after the
	// fixer changed files.
	Rebuilt bool
	// Step timings.
	Install, TypeCheck, Fix, Bundle time.Duration
}

// Sources of log lines passed to the log function of [Workspace.Check].
const (
	SourceInstall   = "install"
	SourceTypeCheck = "typecheck"
	SourceFixer     = "fixer"
	SourcePreview   = "preview"
)

// LogFunc receives progress lines: source is one of the Source constants,
// level "info", "warn" or "error".
type LogFunc func(source, level, text string)

// Sub-steps of a check, as passed to a [StepFunc].
const (
	StepInstall   = "install"
	StepTypeCheck = "typecheck"
	StepBundle    = "bundle"
)

// StepFunc receives a check's sub-steps as they start (ended false) and
// end (ended true, with the time taken and the outcome in a few words).
// A step that started and did not end was cut short by an error.
type StepFunc func(step string, ended bool, took time.Duration, outcome string)

func (f StepFunc) start(step string) {
	if f != nil {
		f(step, false, 0, "")
	}
}

func (f StepFunc) end(step string, took time.Duration, outcome string) {
	if f != nil {
		f(step, true, took, outcome)
	}
}

// problems says how many problems a step found ("ok" for none).
func problems(n int) string {
	if n == 0 {
		return "ok"
	}
	return fmt.Sprintf("%d problem(s)", n)
}

// ErrInstall: dependencies could not be installed; the app cannot be
// type-checked or previewed until package.json is fixed.
var ErrInstall = errors.New("appbuild: dependency install failed")

// Workspace is one app's build state. Check and Close are not safe for
// concurrent use (the sandbox grain runs one check at a time); Preview is.
type Workspace struct {
	cfg Config
	id  string
	// base is the URL path previews are served under.
	base string

	written   map[string][32]byte // content hash of each file written
	installed [32]byte            // package.json + lockfile hash at the last good install
	html      [32]byte            // index.html the builder was made for
	prepared  bool
	builder   *preview.Builder
	// reportURL is where the preview's error reporter posts.
	reportURL string

	mu   sync.Mutex
	prev *preview.Preview
}

// New returns the workspace id (a session id); nothing is created until
// the first Check. base is the URL path its preview is served under and
// reportURL where the preview's error reporter posts ("" for none).
func New(cfg Config, id, base, reportURL string) *Workspace {
	if cfg.FixRounds <= 0 {
		cfg.FixRounds = 3
	}
	return &Workspace{cfg: cfg, id: id, base: base, reportURL: reportURL, written: map[string][32]byte{}}
}

// Preview returns the last good preview, or nil.
func (w *Workspace) Preview() *preview.Preview {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.prev
}

// Check brings the workspace to files (the app's whole file set: files
// not in it are removed) and checks it, with the deterministic fixer when
// fix is set and the Config has one. An error means a step could not run
// (the sandbox, an install); what ran before it is in the Outcome.
func (w *Workspace) Check(ctx context.Context, files map[string]string, fix bool, log LogFunc) (Outcome, error) {
	return w.CheckSteps(ctx, files, fix, log, nil)
}

// CheckSteps is [Workspace.Check] reporting its sub-steps (installing,
// type-checking with the fixer, bundling) to step, which may be nil. A
// remote check reports them as its job writes them.
func (w *Workspace) CheckSteps(ctx context.Context, files map[string]string, fix bool, log LogFunc, step StepFunc) (Outcome, error) {
	return w.CheckServing(ctx, files, fix, log, step, nil)
}

// CheckServing is [Workspace.CheckSteps] that, when served is not nil,
// bundles the preview before the type-check (the in-process esbuild
// preview needs no types) and calls served with it at once: the preview
// is usable while the type-check and the fixer run, which is most of a
// check. When the fixer then changes files, the preview is bundled again
// after it and Outcome.Rebuilt says the one served was replaced. An app
// that needs its own bundler (see fullBuildReason) and a remote check are
// bundled after the type-check, as by CheckSteps, and served is not
// called.
func (w *Workspace) CheckServing(ctx context.Context, files map[string]string, fix bool, log LogFunc, step StepFunc, served func(*preview.Preview)) (Outcome, error) {
	var out Outcome
	if w.cfg.Remote != nil {
		names := make([]string, 0, len(files))
		for p := range files {
			names = append(names, p)
		}
		if err := codegen.CheckFileSet(names); err != nil {
			return out, fmt.Errorf("%w: %w", ErrFiles, err)
		}
		return w.checkRemote(ctx, files, fix, log, step)
	}
	r := w.cfg.Runner
	if sandbox.IsTools(w.id) {
		return out, fmt.Errorf("appbuild: workspace id %q is reserved for the node's tools", w.id)
	}
	if !w.prepared {
		if err := r.Prepare(ctx, w.id); err != nil {
			return out, fmt.Errorf("appbuild: prepare workspace: %w", err)
		}
		w.prepared = true
	}
	if err := w.sync(ctx, files); err != nil {
		return out, err
	}

	if deps := depsHash(files); deps != w.installed {
		start := time.Now()
		step.start(StepInstall)
		log(SourceInstall, "info", "installing dependencies")
		res, err := r.Install(ctx, w.id, sandbox.InstallOptions{Timeout: w.cfg.InstallTimeout, OnLine: lineLogger(log, SourceInstall)})
		out.Install = time.Since(start)
		if err != nil {
			w.installed = [32]byte{}
			step.end(StepInstall, out.Install, "failed")
			return out, fmt.Errorf("%w: %w", ErrInstall, err)
		}
		w.installed, out.Installed = deps, true
		if res.Restored {
			step.end(StepInstall, out.Install, "ok: copied the prepared set")
			log(SourceInstall, "info", fmt.Sprintf("dependencies copied from the prepared set in %v", res.Duration.Round(time.Millisecond)))
		} else {
			step.end(StepInstall, out.Install, "ok")
			log(SourceInstall, "info", fmt.Sprintf("dependencies installed in %v", res.Duration.Round(time.Millisecond)))
		}
	}

	var early *preview.Preview
	canBundle := w.bundleable(files, log)
	if served != nil && canBundle && fullBuildReason(files, false) == "" {
		start := time.Now()
		step.start(StepBundle)
		p, diags, err := w.bundle(ctx)
		took := time.Since(start)
		switch {
		case p != nil:
			step.end(StepBundle, took, "ok")
			// Outcome.Preview is this one unless a later bundle replaces
			// it (also when a later step cannot run: it is served).
			out.Bundle, early, out.Preview = took, p, p
			w.setPreview(p)
			log(SourcePreview, "info", fmt.Sprintf("preview bundled in %v, before the type-check", took.Round(time.Millisecond)))
			served(p)
		case err != nil && !errors.Is(err, preview.ErrBuild):
			step.end(StepBundle, took, "failed")
			return out, fmt.Errorf("appbuild: bundle: %w", err)
		default:
			// esbuild's errors (or a bundle that needs vite) are reported
			// by the bundle after the type-check.
			step.end(StepBundle, took, problems(len(diags)))
		}
	}

	start := time.Now()
	step.start(StepTypeCheck)
	tc := sandbox.TypeCheckOptions{Timeout: w.cfg.TypeCheckTimeout, OnLine: lineLogger(log, SourceTypeCheck)}
	var fx *fixer.Fixer
	var ferr error
	if fix {
		fx, ferr = w.cfg.Fixer.Get(ctx)
	}
	if ferr != nil {
		log(SourceFixer, "warn", fmt.Sprintf("type-checking without the deterministic fixer: %v", ferr))
	}
	if fx != nil {
		rep, err := fx.Repair(ctx, w.id, files, fixer.RepairOptions{Rounds: w.cfg.FixRounds, TypeCheck: tc})
		out.Initial, out.Remaining, out.Fixes, out.Fixed, out.NeedsModel, out.Left = rep.Initial, rep.Remaining, rep.Fixes, rep.Files, rep.NeedsModel, rep.Left
		for p, c := range rep.Files {
			w.written[p] = sha256.Sum256([]byte(c))
		}
		if err != nil {
			out.TypeCheck = time.Since(start)
			step.end(StepTypeCheck, out.TypeCheck, "failed")
			return out, fmt.Errorf("appbuild: type-check and fix: %w", err)
		}
		for _, p := range rep.Install {
			log(SourceFixer, "warn", "the app imports "+p+" but package.json does not list it")
		}
	} else {
		diags, _, err := sandbox.TypeCheck(ctx, r, w.id, tc)
		if err != nil {
			out.TypeCheck = time.Since(start)
			step.end(StepTypeCheck, out.TypeCheck, "failed")
			return out, fmt.Errorf("appbuild: type-check: %w", err)
		}
		out.Initial, out.Remaining = diags, diags
	}
	out.TypeCheck = time.Since(start)
	tcOutcome := problems(len(out.Remaining))
	if len(out.Fixes) > 0 {
		tcOutcome += fmt.Sprintf(", %d fixed", len(out.Fixes))
	}
	step.end(StepTypeCheck, out.TypeCheck, tcOutcome)
	for _, f := range out.Fixes {
		log(SourceFixer, "info", fmt.Sprintf("TS%d %s:%d: %s", f.Code, f.File, f.Line, f.Description))
	}
	for _, f := range out.NeedsModel {
		log(SourceFixer, "warn", fmt.Sprintf("TS%d %s:%d: placeholder, needs a model: %s", f.Code, f.File, f.Line, f.Description))
	}
	for _, l := range out.Left {
		log(SourceFixer, "info", fmt.Sprintf("TS%d %s:%d: left for the model: %s", l.Code, l.File, l.Line, l.Reason))
	}

	if early != nil && len(out.Fixed) == 0 {
		return out, nil // nothing changed since it was bundled
	}
	if !canBundle {
		return out, nil
	}
	start = time.Now()
	step.start(StepBundle)
	defer func() {
		switch {
		case out.Preview != nil && (early == nil || out.Rebuilt): // this bundle's
			step.end(StepBundle, out.Bundle, "ok")
		case len(out.Build) > 0:
			step.end(StepBundle, out.Bundle, problems(len(out.Build)))
		default:
			step.end(StepBundle, time.Since(start), "failed")
		}
	}()
	p, diags, err := w.bundle(ctx)
	out.Bundle = time.Since(start)
	out.Build = diags
	if err != nil && !errors.Is(err, preview.ErrBuild) {
		return out, fmt.Errorf("appbuild: bundle: %w", err)
	}
	// The fast path ignores the app's bundler configuration (plugins,
	// PostCSS): such apps, and apps esbuild cannot bundle, are built by
	// their own vite in the sandbox.
	if reason := fullBuildReason(files, p == nil); reason != "" {
		log(SourcePreview, "info", "building with the app's own vite: "+reason)
		start := time.Now()
		full, ferr := w.fullBuild(ctx, log)
		out.Bundle += time.Since(start)
		switch {
		case ferr == nil:
			p, out.Build, out.Full = full, nil, true
		case ctx.Err() != nil:
			return out, ctx.Err()
		case p == nil && len(out.Build) == 0:
			out.Build = []sandbox.Diagnostic{{Category: "error", Message: ferr.Error()}}
		default:
			log(SourcePreview, "warn", ferr.Error())
		}
	}
	if p != nil {
		out.Preview, out.Rebuilt = p, early != nil
		w.setPreview(p)
		log(SourcePreview, "info", fmt.Sprintf("preview bundled in %v", out.Bundle.Round(time.Millisecond)))
	}
	return out, nil
}

func (w *Workspace) setPreview(p *preview.Preview) {
	w.mu.Lock()
	w.prev = p
	w.mu.Unlock()
}

// bundleable says whether files can have a preview (an index.html whose
// entry is written; it logs why not), and makes the builder start afresh
// when index.html changed.
func (w *Workspace) bundleable(files map[string]string, log LogFunc) bool {
	html, ok := files["index.html"]
	if !ok {
		log(SourcePreview, "info", "no preview yet: the app has no index.html")
		return false
	}
	if entry := preview.EntryOf(html); files[entry] == "" {
		log(SourcePreview, "info", "no preview yet: the app's entry "+entry+" is not written")
		return false
	}
	if h := sha256.Sum256([]byte(html)); h != w.html && w.builder != nil {
		w.builder.Close() // the entry may have changed
		w.builder = nil
	}
	w.html = sha256.Sum256([]byte(html))
	return true
}

// Reconciler is a [Runner] that can make a workspace match a file set
// exactly (the local runner: [sandbox.Local.Reconcile]).
type Reconciler interface {
	Reconcile(ctx context.Context, id string, files map[string]string) (sandbox.ReconcileResult, error)
}

// ErrFiles: the file set cannot be written to a workspace (a bad or
// case-colliding name).
var ErrFiles = errors.New("appbuild: invalid app files")

// sync makes the workspace hold files: with a [Reconciler], exactly (stray
// files and links anything left are removed, every file is compared);
// otherwise it writes what changed since the last sync and removes what
// is gone.
func (w *Workspace) sync(ctx context.Context, files map[string]string) error {
	names := make([]string, 0, len(files))
	for p := range files {
		names = append(names, p)
	}
	if err := codegen.CheckFileSet(names); err != nil {
		return fmt.Errorf("%w: %w", ErrFiles, err)
	}
	if rc, ok := w.cfg.Runner.(Reconciler); ok {
		res, err := rc.Reconcile(ctx, w.id, files)
		if err != nil {
			return fmt.Errorf("appbuild: sync files: %w", err)
		}
		if res.ModulesRemoved {
			w.installed = [32]byte{} // install again
		}
		w.written = make(map[string][32]byte, len(files))
		for p, c := range files {
			w.written[p] = sha256.Sum256([]byte(c))
		}
		return nil
	}
	changed := map[string]string{}
	for p, c := range files {
		if h := sha256.Sum256([]byte(c)); w.written[p] != h {
			changed[p] = c
		}
	}
	var gone []string
	for p := range w.written {
		if _, ok := files[p]; !ok {
			gone = append(gone, p)
		}
	}
	sort.Strings(gone)
	if len(gone) > 0 {
		if err := w.cfg.Runner.RemoveFiles(ctx, w.id, gone); err != nil {
			return fmt.Errorf("appbuild: remove files: %w", err)
		}
		for _, p := range gone {
			delete(w.written, p)
		}
	}
	if len(changed) > 0 {
		if err := w.cfg.Runner.WriteFiles(ctx, w.id, changed); err != nil {
			return fmt.Errorf("appbuild: write files: %w", err)
		}
		for p, c := range changed {
			w.written[p] = sha256.Sum256([]byte(c))
		}
	}
	return nil
}

func (w *Workspace) bundle(ctx context.Context) (*preview.Preview, []sandbox.Diagnostic, error) {
	if w.builder == nil {
		dir, err := w.cfg.Runner.Dir(w.id)
		if err != nil {
			return nil, nil, err
		}
		b, err := preview.NewBuilder(preview.Options{Dir: dir, Base: w.base, ReportURL: w.reportURL})
		if err != nil {
			return nil, nil, err
		}
		w.builder = b
	}
	p, diags, err := w.builder.Build(ctx)
	if err != nil {
		// The entry may have moved (a new index.html): start afresh next time.
		w.builder.Close()
		w.builder = nil
	}
	return p, diags, err
}

// fullDir is where the app's own build goes in the workspace.
const fullDir = ".stich-full"

// fullBuildReason says why the app needs its own bundler ("" when the
// in-process esbuild preview is faithful).
func fullBuildReason(files map[string]string, fastFailed bool) string {
	if fastFailed {
		return "esbuild could not bundle it"
	}
	for p, c := range files {
		base := path.Base(p)
		switch {
		case strings.Contains(p, "/"):
		case strings.HasPrefix(base, "postcss.config.") || strings.HasPrefix(base, "tailwind.config."):
			return base + " configures its CSS"
		case strings.HasPrefix(base, "vite.config."):
			if r := vitePlugins(c); r != "" {
				return base + " " + r
			}
		}
	}
	return ""
}

// viteImport matches the module of an import in a vite config.
var viteImport = regexp.MustCompile(`(?m)^\s*import\b[^'"]*['"]([^'"]+)['"]`)

// fastPathPlugins are plugins whose effect the esbuild preview has anyway
// (JSX and TSX compilation).
var fastPathPlugins = map[string]bool{"vite": true, "@vitejs/plugin-react": true, "@vitejs/plugin-react-swc": true, "path": true, "url": true}

// vitePlugins says what in a vite config the fast path would miss: a
// plugin package other than React's, or a plugin defined inline.
func vitePlugins(config string) string {
	if !strings.Contains(config, "plugins") {
		return ""
	}
	for _, m := range viteImport.FindAllStringSubmatch(config, -1) {
		if mod := m[1]; !fastPathPlugins[mod] && !strings.HasPrefix(mod, "node:") {
			return "uses " + mod
		}
	}
	for _, hook := range []string{"resolveId", "transform", "load(", "load:", "transformIndexHtml"} {
		if strings.Contains(config, hook) {
			return "defines its own plugin"
		}
	}
	return ""
}

// fullBuild runs "vite build" in the sandbox (no network) with the
// preview's base and loads its output.
func (w *Workspace) fullBuild(ctx context.Context, log LogFunc) (*preview.Preview, error) {
	res, err := w.cfg.Runner.Run(ctx, w.id, sandbox.Command{
		Args:    []string{"vite", "build", "--base", w.base, "--outDir", fullDir, "--emptyOutDir", "--logLevel", "warn"},
		Timeout: w.cfg.TypeCheckTimeout,
		OnLine:  lineLogger(log, SourcePreview),
	})
	if err != nil {
		return nil, fmt.Errorf("vite build: %w", err)
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("vite build failed with status %d: %s", res.ExitCode, strings.TrimSpace(res.TailText()))
	}
	dir, err := w.cfg.Runner.Dir(w.id)
	if err != nil {
		return nil, err
	}
	return preview.LoadDist(filepath.Join(dir, fullDir), w.reportURL)
}

// Close stops the bundler and deletes the workspace. It is idempotent.
func (w *Workspace) Close(ctx context.Context) error {
	if w.builder != nil {
		w.builder.Close()
		w.builder = nil
	}
	w.mu.Lock()
	w.prev = nil
	w.mu.Unlock()
	w.written = map[string][32]byte{}
	w.installed = [32]byte{}
	if !w.prepared {
		return nil
	}
	w.prepared = false
	if err := w.cfg.Runner.Cleanup(ctx, w.id); err != nil {
		return fmt.Errorf("appbuild: cleanup: %w", err)
	}
	return nil
}

// depsHash identifies what an install depends on.
func depsHash(files map[string]string) [32]byte {
	h := sha256.New()
	for _, p := range []string{"package.json", "package-lock.json"} {
		h.Write([]byte(p))
		h.Write([]byte{0})
		h.Write([]byte(files[p]))
		h.Write([]byte{0})
	}
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s
}

// lineLogger adapts sandbox output lines to log, keeping blank lines out.
func lineLogger(log LogFunc, source string) func(sandbox.Line) {
	return func(l sandbox.Line) {
		text := strings.TrimRight(l.Text, " \t")
		if text == "" {
			return
		}
		level := "info"
		if l.Stream == sandbox.Stderr {
			level = "warn"
		}
		log(source, level, text)
	}
}

// LazyFixer sets up the fixer's parser tools on first use (an npm install
// of the TypeScript compiler into a tools workspace), so a node that never
// builds an app never pays for it. After a failure the next Get retries.
type LazyFixer struct {
	runner sandbox.Runner
	opts   []fixer.Option
	mu     sync.Mutex
	f      *fixer.Fixer
}

// NewLazyFixer returns a fixer set up in r on first use.
func NewLazyFixer(r sandbox.Runner, opts ...fixer.Option) *LazyFixer {
	return &LazyFixer{runner: r, opts: opts}
}

// Get returns the fixer, setting it up if needed. A nil LazyFixer has no
// fixer and no error.
func (l *LazyFixer) Get(ctx context.Context) (*fixer.Fixer, error) {
	if l == nil {
		return nil, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		return l.f, nil
	}
	f, err := fixer.New(ctx, l.runner, l.opts...)
	if err != nil {
		return nil, err
	}
	l.f = f
	return f, nil
}
