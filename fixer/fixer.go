package fixer

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	"github.com/stichdev/stich/sandbox"
)

// Kind says what a [Fix] asks for.
type Kind string

const (
	// KindEdit: files were changed or created (see Result.Files).
	KindEdit Kind = "edit"
	// KindInstall: an npm package must be installed; nothing was edited.
	KindInstall Kind = "install"
)

// Fix is one repair, for the activity log and the next model prompt.
type Fix struct {
	// Code, File and Line identify the diagnostic it answers.
	Code int    `json:"code"`
	File string `json:"file"`
	Line int    `json:"line"`
	Kind Kind   `json:"kind"`
	// Target is the file edited or created; it may differ from File (an
	// export added to the imported module).
	Target      string `json:"target,omitempty"`
	Description string `json:"description"`
	// Before and After show the change: a whole import declaration, a
	// renamed identifier, or "" and the added code.
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
	// Package is the npm package to install, for KindInstall.
	Package string `json:"package,omitempty"`
	// Placeholder marks an edit that made the code type-check with a
	// stand-in (a module, export or name the project does not have, typed
	// any or rendering nothing). It is never counted as a fix: such edits
	// are listed in NeedsModel, for the model's fixing step.
	Placeholder bool `json:"placeholder,omitempty"`
}

// Result is the outcome of one fixer pass.
type Result struct {
	// Files holds the full new content of every changed or created file.
	Files map[string]string `json:"files"`
	// Fixes are the repairs; placeholders are not among them.
	Fixes []Fix `json:"fixes"`
	// NeedsModel lists the placeholders written to Files: the project has
	// nothing the code meant, so a model must write it. An app with
	// placeholders is not fixed, whatever the type-check says.
	NeedsModel []Fix `json:"needsModel,omitempty"`
	// Unfixable lists the diagnostics no fix addresses.
	Unfixable []sandbox.Diagnostic `json:"unfixable"`
	// Install lists npm packages the app imports but does not have,
	// sorted; installing them is the caller's move.
	Install []string `json:"install,omitempty"`
	// Left are diagnostics among Unfixable that the fixer recognized but
	// leaves for the model on purpose, with the reason (a Node global with
	// no browser equivalent, a property matching several, ...).
	Left []Left `json:"left,omitempty"`
	// NoTypes says why the checker's view was unavailable when a rule
	// asked for it ("" when it was not asked for, or ran): those rules did
	// nothing and their diagnostics stay for the model.
	NoTypes string `json:"noTypes,omitempty"`
}

// Left is a diagnostic the fixer leaves for the model, and why.
type Left struct {
	Code   int    `json:"code"`
	File   string `json:"file"`
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

//go:embed ts/facts.mjs ts/package.json ts/package-lock.json
var tools embed.FS

// toolFiles returns the parser's files and their digest.
func toolFiles() (map[string]string, string) {
	files := map[string]string{}
	h := sha256.New()
	for _, name := range []string{"facts.mjs", "package.json", "package-lock.json"} {
		b, err := tools.ReadFile("ts/" + name)
		if err != nil {
			panic(err) // embedded at build time
		}
		files[name] = string(b)
		h.Write([]byte(name))
		h.Write(b)
	}
	return files, hex.EncodeToString(h.Sum(nil))
}

// Fixer runs the deterministic TypeScript fixer. It holds no state between
// calls beyond the id of the tools workspace, so one Fixer serves every
// app concurrently.
type Fixer struct {
	runner  sandbox.Runner
	tools   string
	timeout time.Duration
}

// Option configures [New].
type Option interface{ apply(*Fixer) }

type optionFunc func(*Fixer)

func (f optionFunc) apply(x *Fixer) { f(x) }

// ToolsWorkspace is the id of the parser tools' workspace: a tools
// workspace of the runner ([sandbox.ToolsPrefix]), so it runs as a uid no
// app shares (an app holding all its processes cannot starve its install)
// and every app's commands can mount it.
const ToolsWorkspace = sandbox.ToolsPrefix + "fixer-tools"

// ErrTools: the parser workspace could not be set up.
var ErrTools = errors.New("fixer: parser tools unavailable")

// New prepares the tools workspace in r: it writes facts.mjs with its
// package.json and lockfile and installs typescript 5.9 (from the shared
// npm cache when warm), unless a stamp shows the same files are installed
// already.
func New(ctx context.Context, r sandbox.Runner, opts ...Option) (*Fixer, error) {
	f := &Fixer{runner: r, tools: ToolsWorkspace, timeout: time.Minute}
	for _, o := range opts {
		o.apply(f)
	}
	if !sandbox.ValidID(f.tools) {
		return nil, fmt.Errorf("%w: bad workspace id %q", ErrTools, f.tools)
	}
	files, digest := toolFiles()
	if stamp, err := r.ReadFile(ctx, f.tools, "stamp"); err == nil && string(stamp) == digest {
		if _, err := r.ReadFile(ctx, f.tools, "node_modules/typescript/package.json"); err == nil {
			return f, nil
		}
	}
	if err := r.Prepare(ctx, f.tools); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTools, err)
	}
	if err := r.RemoveFiles(ctx, f.tools, []string{"stamp"}); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTools, err)
	}
	if err := r.WriteFiles(ctx, f.tools, files); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTools, err)
	}
	if res, err := r.Install(ctx, f.tools, sandbox.InstallOptions{}); err != nil {
		return nil, fmt.Errorf("%w: installing typescript: %w\n%s", ErrTools, err, res.TailText())
	}
	if err := r.WriteFiles(ctx, f.tools, map[string]string{"stamp": digest}); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTools, err)
	}
	return f, nil
}

// handled reports whether the fixer has a rule for code.
func handled(code int) bool {
	_, ok := priority[code]
	return ok
}

// Limits on what is sent to the parser.
const (
	maxSourceFile  = 1 << 20
	maxSourceTotal = 16 << 20
)

const scratch = ".stich/fixer"

// Fix runs one pass over diags (as [sandbox.ParseTSC] returns them, paths
// relative to the workspace root) for the app whose files are given, in
// workspace id of the fixer's runner. It parses the sources in the sandbox
// and plans the edits in Go; it writes nothing to the app (its scratch
// folder .stich/fixer aside): the caller applies Result.Files. An error
// means the parser could not run; diagnostics it cannot fix are in
// Result.Unfixable.
func (f *Fixer) Fix(ctx context.Context, id string, diags []sandbox.Diagnostic, files map[string]string) (Result, error) {
	return f.fix(ctx, id, diags, files, nil)
}

// fix is [Fixer.Fix] with mounts the checker needs besides the workspace
// (the node_modules a type-check mounts).
func (f *Fixer) fix(ctx context.Context, id string, diags []sandbox.Diagnostic, files map[string]string, mounts []sandbox.Mount) (Result, error) {
	var relevant []sandbox.Diagnostic
	for _, d := range diags {
		if handled(d.Code) && d.File != "" {
			relevant = append(relevant, d)
		}
	}
	if len(relevant) == 0 {
		return Result{Files: map[string]string{}, Unfixable: diags}, nil
	}
	req := buildRequest(relevant, files)
	out, err := f.parse(ctx, id, req, mounts)
	if err != nil {
		return Result{}, err
	}
	fc, err := decodeFacts(out, req.Files)
	if err != nil {
		return Result{}, err
	}
	if needsTypes(fc, diags) {
		// The checker's view, in a second run: building a program costs
		// seconds where parsing costs milliseconds, so only sites that
		// need it ask. Without it (the checker failed or ran out of time)
		// those rules do nothing and the diagnostics stay for the model.
		req.Types = true
		noTypes := ""
		if out, err := f.parse(ctx, id, req, mounts); err == nil {
			if typed, err := decodeFacts(out, req.Files); err == nil {
				fc = typed
			} else {
				noTypes = err.Error()
			}
		} else if ctx.Err() != nil {
			return Result{}, err
		} else {
			noTypes = err.Error()
		}
		res := plan(diags, files, fc)
		res.NoTypes = noTypes
		return res, nil
	}
	return plan(diags, files, fc), nil
}

// needsTypes reports whether a queried site needs the checker: an untyped
// parameter of a named function, a property its object's type lacks.
func needsTypes(fc *facts, diags []sandbox.Diagnostic) bool {
	// The project's own object types list their members without the
	// checker (see declaredMembers).
	declared := map[string]int{}
	for _, ff := range fc.Files {
		for _, dc := range ff.Declarations {
			if dc.Kind == "interface" || dc.Kind == "type" {
				declared[dc.Name]++
				if dc.Members == nil {
					declared[dc.Name]++
				}
			}
		}
	}
	typeAt := map[string]string{}
	for _, d := range diags {
		if mm := reNoProperty.FindStringSubmatch(d.Message); d.Code == 2339 && mm != nil {
			typeAt[fmt.Sprintf("%s:%d:%d", d.File, d.Line, d.Column)] = mm[2]
		}
	}
	for _, q := range fc.Queries {
		s := q.Site
		if s == nil {
			continue
		}
		if q.Code == 7006 && s.Kind == "param" && (s.Named && !handlerOnly(s.Uses) || s.Method) {
			return true
		}
		if q.Code == 2339 && s.Kind == "member" && declared[typeAt[fmt.Sprintf("%s:%d:%d", q.File, q.Line, q.Column)]] != 1 {
			return true
		}
	}
	return false
}

// parse runs facts.mjs on req in workspace id and returns its raw output.
func (f *Fixer) parse(ctx context.Context, id string, req request, mounts []sandbox.Mount) ([]byte, error) {
	in, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("fixer: %w", err)
	}
	timeout := f.timeout
	if req.Types {
		// Building a program reads the libraries' types: seconds, where
		// parsing takes a fraction of one.
		timeout *= 2
	}
	if err := f.runner.WriteFiles(ctx, id, map[string]string{scratch + "/in.json": string(in)}); err != nil {
		return nil, fmt.Errorf("fixer: %w", err)
	}
	defer f.runner.RemoveFiles(context.WithoutCancel(ctx), id, []string{".stich"})
	res, err := f.runner.Run(ctx, id, sandbox.Command{
		Args:    []string{"node", "-e", `import(process.env.STICH_FIXER + "/facts.mjs")`},
		Env:     []string{"FIXER_IN=" + scratch + "/in.json", "FIXER_OUT=" + scratch + "/out.json"},
		Mounts:  append([]sandbox.Mount{{Workspace: f.tools, Env: "STICH_FIXER"}}, mounts...),
		Timeout: timeout,
	})
	if err != nil {
		return nil, fmt.Errorf("fixer: parser: %w", err)
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("fixer: parser exited with status %d: %s", res.ExitCode, strings.TrimSpace(res.TailText()))
	}
	out, err := f.runner.ReadFile(ctx, id, scratch+"/out.json")
	if err != nil {
		return nil, fmt.Errorf("fixer: parser output: %w", err)
	}
	return out, nil
}

// buildRequest selects the sources to parse and what to ask about them.
func buildRequest(diags []sandbox.Diagnostic, files map[string]string) request {
	req := request{Files: map[string]string{}, Names: map[string][]string{}, HTMLAttrs: htmlAttrNames()}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	total := 0
	// Files with diagnostics first, so they survive the size cap.
	withDiags := map[string]bool{}
	for _, d := range diags {
		withDiags[d.File] = true
	}
	sort.SliceStable(paths, func(i, j int) bool { return withDiags[paths[i]] && !withDiags[paths[j]] })
	for _, p := range paths {
		c := files[p]
		if !isSource(p) || strings.HasPrefix(p, "node_modules/") || strings.Contains(p, "/node_modules/") || strings.HasPrefix(p, ".") || len(c) > maxSourceFile || total+len(c) > maxSourceTotal {
			continue
		}
		req.Files[p] = c
		total += len(c)
	}
	seen := map[string]bool{}
	for _, d := range diags {
		if _, ok := req.Files[d.File]; !ok {
			continue
		}
		if _, ok := req.Names[d.File]; !ok {
			req.Names[d.File] = []string{}
		}
		switch d.Code {
		case 2304, 2552:
			if n := quoted(d.Message, 0); identRe.MatchString(n) && !seen[d.File+":"+n] {
				seen[d.File+":"+n] = true
				req.Names[d.File] = append(req.Names[d.File], n)
			}
		}
		if queried[d.Code] {
			req.Queries = append(req.Queries, queryIn{File: d.File, Line: d.Line, Column: d.Column, Code: d.Code})
		}
	}
	return req
}

// RepairOptions tune [Fixer.Repair].
type RepairOptions struct {
	// Rounds bounds the fix passes (default 3); each is followed by a
	// type-check.
	Rounds int
	// TypeCheck is passed to [sandbox.TypeCheck] (its Dir must be "": the
	// app is at the workspace root).
	TypeCheck sandbox.TypeCheckOptions
	// SkipInstall leaves installing the packages the fixer added to
	// package.json to the caller (tests whose node_modules is a shared
	// mount that has them). By default Repair installs them itself, with
	// a fresh lockfile, before the next type-check.
	SkipInstall bool
	// Install is passed to the runner's Install.
	Install sandbox.InstallOptions
}

// RepairResult is the outcome of [Fixer.Repair].
type RepairResult struct {
	// Files holds the final content of every file the fixer changed.
	Files map[string]string
	Fixes []Fix
	// NeedsModel are the placeholders written (see [Result.NeedsModel]):
	// when it is not empty the app is not fixed, even if Remaining is.
	NeedsModel []Fix
	// Initial are the diagnostics of the first type-check, Remaining those
	// of the last.
	Initial   []sandbox.Diagnostic
	Remaining []sandbox.Diagnostic
	Install   []string
	// Left are the last pass's diagnostics left for the model on purpose,
	// with the reason (see [Result.Left]).
	Left []Left
	// NoTypes: why the checker's view was unavailable in a pass (see
	// [Result.NoTypes]); "" when every pass that asked had it.
	NoTypes string
	// Rounds counts the fix passes that changed something.
	Rounds int
}

// Repair type-checks the app in workspace id, fixes, writes the fixed
// files to the workspace and type-checks again, until the app is clean, a
// pass changes nothing, or Rounds passes ran. files must be the app's
// files as they are in the workspace.
func (f *Fixer) Repair(ctx context.Context, id string, files map[string]string, opts RepairOptions) (RepairResult, error) {
	rounds := opts.Rounds
	if rounds <= 0 {
		rounds = 3
	}
	cur := maps.Clone(files)
	out := RepairResult{Files: map[string]string{}}
	install := map[string]bool{}
	for {
		diags, res, err := sandbox.TypeCheck(ctx, f.runner, id, opts.TypeCheck)
		if err != nil {
			return out, fmt.Errorf("fixer: %w\n%s", err, res.TailText())
		}
		if out.Initial == nil {
			out.Initial = diags
		}
		out.Remaining = diags
		if len(diags) == 0 || out.Rounds == rounds {
			break
		}
		out.Left = nil
		fx, err := f.fix(ctx, id, diags, cur, opts.TypeCheck.Mounts)
		if err != nil {
			return out, err
		}
		out.Left = fx.Left
		if fx.NoTypes != "" {
			out.NoTypes = fx.NoTypes
		}
		out.Fixes = append(out.Fixes, fx.Fixes...)
		out.NeedsModel = append(out.NeedsModel, fx.NeedsModel...)
		for _, p := range fx.Install {
			install[p] = true
		}
		if len(fx.Files) == 0 {
			break
		}
		if err := f.runner.WriteFiles(ctx, id, fx.Files); err != nil {
			return out, fmt.Errorf("fixer: %w", err)
		}
		for p, c := range fx.Files {
			cur[p] = c
			out.Files[p] = c
		}
		out.Rounds++
		if _, ok := fx.Files["package.json"]; ok && !opts.SkipInstall {
			lock, err := f.install(ctx, id, cur["package-lock.json"], opts.Install)
			if err != nil {
				return out, err
			}
			if lock != "" {
				cur["package-lock.json"] = lock
				out.Files["package-lock.json"] = lock
			}
		}
	}
	// Only what is still there is left for the model.
	still := map[string]bool{}
	for _, d := range out.Remaining {
		still[fmt.Sprintf("%d:%s:%d", d.Code, d.File, d.Line)] = true
	}
	left := out.Left[:0]
	for _, l := range out.Left {
		if still[fmt.Sprintf("%d:%s:%d", l.Code, l.File, l.Line)] {
			left = append(left, l)
		}
	}
	out.Left = left
	for p := range install {
		out.Install = append(out.Install, p)
	}
	sort.Strings(out.Install)
	return out, nil
}

// install installs package.json in workspace id after the fixer added
// dependencies: the old lockfile (oldLock, "" for none) no longer matches,
// so it is removed and npm writes a new one, which install returns. On
// failure the old lockfile is put back.
func (f *Fixer) install(ctx context.Context, id, oldLock string, opts sandbox.InstallOptions) (string, error) {
	if oldLock != "" {
		if err := f.runner.RemoveFiles(ctx, id, []string{"package-lock.json"}); err != nil {
			return "", fmt.Errorf("fixer: %w", err)
		}
	}
	res, err := f.runner.Install(ctx, id, opts)
	if err != nil {
		if oldLock != "" {
			if werr := f.runner.WriteFiles(context.WithoutCancel(ctx), id, map[string]string{"package-lock.json": oldLock}); werr != nil {
				err = errors.Join(err, werr)
			}
		}
		return "", fmt.Errorf("fixer: installing the packages added to package.json: %w\n%s", err, res.TailText())
	}
	lock, err := f.runner.ReadFile(ctx, id, "package-lock.json")
	if err != nil {
		return "", nil // npm may be configured not to write one
	}
	return string(lock), nil
}

// handlerOnly: every use of a function is as a JSX event handler (typed
// by handlerParam, without the checker).
func handlerOnly(uses []string) bool {
	for _, u := range uses {
		if u == "other" {
			return false
		}
	}
	return len(uses) > 0
}
