package actors

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/stichdev/stich/appbuild"
	"github.com/stichdev/stich/cluster"
	"github.com/stichdev/stich/pipeline"
	"github.com/stichdev/stich/preview"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/ratelimit"
	"github.com/stichdev/stich/runcheck"
	"github.com/stichdev/stich/sandbox"
)

// Sandbox log budget: a check sends at most this many lines to its
// session (npm can print thousands); the rest are counted as dropped.
const maxCheckLogLines = 2000

// sandboxGrain owns a session's build workspace (same identity as the
// session): it runs one check at a time outside its mailbox, keeps the
// last good preview in memory for the preview server, and frees the
// workspace when idle. It is ephemeral: the workspace can always be
// rebuilt from the session's files.
type sandboxGrain struct {
	rt  *Runtime
	ref *cluster.GrainRef
	ws  *appbuild.Workspace

	// The running check (nil when none): seq identifies it, sender waits
	// for its reply.
	running *job
	seq     uint64
	sender  *actor.PID
	// last is the last check started, running or cancelled: the workspace
	// is its until it ends. A newer check waits for it on its own
	// goroutine and free waits for it, so two never touch the workspace
	// at once, however long a cancelled check takes to notice.
	last *job
	// rebuildAt is when a preview was last rebuilt on demand.
	rebuildAt time.Time
	// reportsOf is the preview build whose reports are counted in reports.
	reportsOf *preview.Preview
	reports   int
	// screenshot is the runtime check's PNG of the current build (nil
	// when none); it is also in the grain's storage (screenshotKey), so
	// that it outlives the workspace and a restart of the node. shotLoaded
	// says the stored one was read (or replaced) since the grain started.
	screenshot []byte
	shotLoaded bool
	// versions are old versions' builds, kept apart from the current one
	// (sandbox_version.go).
	versions map[uint32]*versionBuild
}

// screenshotKey holds the last build's screenshot in the sandbox grain's
// storage (at most [runcheck.MaxScreenshotBytes], replaced per build,
// deleted with the session).
const screenshotKey = "screenshot"

// maxReportsPerBuild bounds the error reports one preview build may send
// (each page load's reporter sends at most 50; the session also limits
// reports per minute).
const maxReportsPerBuild = 500

// previewServed says check seq's build is served: the previous build's
// screenshot no longer shows it. It never leaves the process.
type previewServed struct{ seq uint64 }

// checkDone ends a check; it never leaves the process.
type checkDone struct {
	seq        uint64
	reply      *actorsv1.SandboxCheckReply
	screenshot []byte
}

func newSandboxGrain(rt *Runtime, ref *cluster.GrainRef) *sandboxGrain {
	return &sandboxGrain{rt: rt, ref: ref}
}

func (g *sandboxGrain) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		ctx.SetReceiveTimeout(g.rt.cfg.SandboxIdle)
	case *actor.ReceiveTimeout:
		// protoactor disarms the timeout when it fires: arm it again while
		// a check runs or a call keeps the grain.
		if g.running != nil || g.versionBuilding() || !g.ref.Passivate(ctx) {
			ctx.SetReceiveTimeout(g.rt.cfg.SandboxIdle)
			return
		}
		g.free()
	case *actor.Stopping:
		g.stopCheck(true)
		g.free()
	case *versionBuilt:
		g.onVersionBuilt(m)
	case *actorsv1.SandboxCheck:
		g.onCheck(ctx, m)
	case *checkDone:
		if m.seq == g.seq && g.running != nil {
			g.running = nil
			if m.reply.GetPreviewUrl() != "" {
				g.setScreenshot(m.screenshot)
			}
			if g.sender != nil {
				ctx.Send(g.sender, m.reply)
			}
			g.sender = nil
		}
	case previewServed:
		if m.seq == g.seq && g.running != nil {
			g.setScreenshot(nil)
		}
	case *actorsv1.SandboxCancel:
		g.stopCheck(m.GetFree())
		if m.GetFree() {
			g.free()
			// The session was deleted: its screenshot goes too.
			if err := g.ref.Store.DeleteAll(); err != nil {
				g.rt.log.Warn("delete the sandbox's screenshot", "session", g.ref.Identity, "err", err)
			}
			g.screenshot, g.shotLoaded = nil, true
		}
		ctx.Respond(&actorsv1.SandboxCancelAck{})
	case *actorsv1.SandboxAsset:
		if v := m.GetVersion(); v > 0 {
			ctx.Respond(g.versionAsset(ctx, v, m.GetPath(), m.GetOffset(), m.GetMaxBytes()))
			return
		}
		reply := g.asset(m.GetPath(), m.GetOffset(), m.GetMaxBytes())
		if !reply.GetBuilt() {
			g.maybeRebuild(ctx)
		}
		ctx.Respond(reply)
	case *actorsv1.SandboxScreenshot:
		ctx.Respond(&actorsv1.SandboxScreenshotReply{Png: g.storedScreenshot()})
	case *actorsv1.SandboxReportCheck:
		ctx.Respond(g.reportCheck(m))
	case *actorsv1.AlarmFired:
		ctx.Respond(&actorsv1.AlarmAck{})
	}
}

// setScreenshot replaces the build's screenshot, in memory and in
// storage (nil deletes it). A failed write is logged: the screenshot is
// a convenience, never a reason to fail a build.
func (g *sandboxGrain) setScreenshot(png []byte) {
	if len(png) > runcheck.MaxScreenshotBytes {
		png = nil
	}
	g.screenshot, g.shotLoaded = png, true
	var err error
	if png == nil {
		err = g.ref.Store.Delete(screenshotKey)
	} else {
		err = g.ref.Store.Put(screenshotKey, png)
	}
	if err != nil && !errors.Is(err, cluster.ErrNotFound) {
		g.rt.log.Warn("store the preview's screenshot", "session", g.ref.Identity, "err", err)
	}
}

// storedScreenshot returns the last build's screenshot: the one in
// memory, else (the node restarted, the grain moved back) the stored one.
func (g *sandboxGrain) storedScreenshot() []byte {
	if !g.shotLoaded {
		g.shotLoaded = true
		if b, err := g.ref.Store.Get(screenshotKey); err == nil && len(b) <= runcheck.MaxScreenshotBytes {
			g.screenshot = b
		} else if err != nil && !errors.Is(err, cluster.ErrNotFound) {
			g.rt.log.Warn("read the preview's screenshot", "session", g.ref.Identity, "err", err)
		}
	}
	return g.screenshot
}

// assetPart bounds the body of one asset reply: a larger preview file
// (a bundle with big data) is read in parts, each well under
// [cluster.MaxMessageBytes].
const assetPart = 1 << 20

// asset returns the part of preview file p from offset, at most limit
// bytes (and at most assetPart).
func (g *sandboxGrain) asset(p string, offset, limit uint64) *actorsv1.SandboxAssetReply {
	if g.ws == nil {
		return &actorsv1.SandboxAssetReply{}
	}
	prev := g.ws.Preview()
	if prev == nil {
		return &actorsv1.SandboxAssetReply{}
	}
	return assetOf(prev, p, offset, limit)
}

// assetOf returns the part of prev's file p from offset, at most limit
// bytes (and at most assetPart).
func assetOf(prev *preview.Preview, p string, offset, limit uint64) *actorsv1.SandboxAssetReply {
	a, ok := prev.Resolve(p)
	if !ok {
		return &actorsv1.SandboxAssetReply{Built: true}
	}
	if limit == 0 || limit > assetPart {
		limit = assetPart
	}
	size := uint64(len(a.Body))
	start := min(offset, size)
	end := min(start+limit, size)
	return &actorsv1.SandboxAssetReply{Built: true, Found: true, Body: a.Body[start:end], Size: size, ContentType: a.ContentType, Etag: a.ETag, Immutable: a.Immutable, Path: a.Path}
}

// SandboxAsset reads a file of a session's preview from its sandbox
// grain, in parts of at most assetPart bytes (so a file of any size can
// cross nodes), and returns it whole. A file that changes while it is
// read (a new build: its ETag differs) is read again from the start, up
// to 3 times. version 0 reads the current build; N > 0 version N's
// (sandbox_version.go).
func SandboxAsset(ctx context.Context, n *cluster.Node, id string, version uint32, path string) (*actorsv1.SandboxAssetReply, error) {
	for attempt := 0; ; attempt++ {
		first, err := Call[*actorsv1.SandboxAssetReply](ctx, n, KindSandbox, id, &actorsv1.SandboxAsset{Path: path, Version: version})
		if err != nil || !first.GetFound() || uint64(len(first.GetBody())) >= first.GetSize() {
			return first, err
		}
		body := make([]byte, 0, first.GetSize())
		body = append(body, first.GetBody()...)
		changed := false
		for uint64(len(body)) < first.GetSize() {
			part, err := Call[*actorsv1.SandboxAssetReply](ctx, n, KindSandbox, id, &actorsv1.SandboxAsset{Path: path, Version: version, Offset: uint64(len(body))})
			if err != nil {
				return nil, err
			}
			if !part.GetFound() || part.GetEtag() != first.GetEtag() || part.GetSize() != first.GetSize() || part.GetPath() != first.GetPath() || len(part.GetBody()) == 0 {
				changed = true
				break
			}
			body = append(body, part.GetBody()...)
		}
		if !changed {
			first.Body = body
			return first, nil
		}
		if attempt == 2 {
			return nil, fmt.Errorf("preview file %s of %s changed while it was read, 3 times", path, id)
		}
	}
}

// reportCheck accepts a report that carries the current build's token,
// within the build's report budget.
func (g *sandboxGrain) reportCheck(m *actorsv1.SandboxReportCheck) *actorsv1.SandboxReportCheckReply {
	token := m.GetToken()
	if g.ws == nil {
		return &actorsv1.SandboxReportCheckReply{}
	}
	prev := g.ws.Preview()
	if prev == nil || !prev.CheckReportToken(token) {
		return &actorsv1.SandboxReportCheckReply{}
	}
	if g.reportsOf != prev {
		g.reportsOf, g.reports = prev, 0
	}
	if g.reports >= maxReportsPerBuild {
		return &actorsv1.SandboxReportCheckReply{Exhausted: true}
	}
	g.reports++
	reply := &actorsv1.SandboxReportCheckReply{Accepted: true}
	loc, ok := prev.MapStack(m.GetStack())
	if !ok && m.GetSource() != "" {
		loc, ok = prev.MapLocation(m.GetSource(), int(m.GetLine()), int(m.GetColumn()))
	}
	if ok {
		reply.File, reply.Line, reply.Column = loc.File, uint32(loc.Line), uint32(loc.Column)
	}
	return reply
}

// stopCheck cancels the running check; with wait it waits (bounded) for
// its goroutine, so none outlives the grain. The waiting caller gets no
// reply (its call was superseded or cancelled).
func (g *sandboxGrain) stopCheck(wait bool) {
	g.running.stop(false, 0)
	g.running, g.sender = nil, nil
	if wait && !g.last.stop(true, 30*time.Second) {
		g.rt.log.Error("sandbox check did not stop within 30s", "session", g.ref.Identity)
	}
}

// free deletes the workspace (idle, or the node stops). The next check
// starts from scratch (installs come from the shared npm cache).
func (g *sandboxGrain) free() {
	g.freeVersions()
	if g.ws == nil {
		return
	}
	if !g.last.stop(true, 30*time.Second) {
		// Deleting the workspace under a check that still runs would race
		// it; the next free (or the next check, which waits for this one)
		// takes over.
		g.rt.log.Error("sandbox workspace kept: a cancelled check did not end within 30s", "session", g.ref.Identity)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := g.ws.Close(ctx); err != nil {
		g.rt.log.Warn("sandbox cleanup failed", "session", g.ref.Identity, "err", err)
	}
	g.ws = nil // the screenshot stays: it is stored, and still shows the app
}

func (g *sandboxGrain) onCheck(ctx actor.Context, m *actorsv1.SandboxCheck) {
	if g.rt.cfg.Builds == nil {
		ctx.Respond(&actorsv1.SandboxCheckReply{Error: g.rt.cfg.BuildsDisabled})
		return
	}
	files := m.GetFiles()
	g.startCheck(ctx, ctx.Sender(), actor.NewPID(m.GetLogAddress(), m.GetLogId()), m.GetRun(), !m.GetNoFix(),
		func(context.Context) (map[string]string, error) { return files, nil })
}

// rebuildBackoff spaces rebuilds that failed (a session with no files).
const rebuildBackoff = 30 * time.Second

// maybeRebuild rebuilds the preview from the session's stored files when
// a preview is asked for and there is none (the workspace was freed when
// idle, or the node restarted). Nobody waits for it: the preview page
// retries by itself.
func (g *sandboxGrain) maybeRebuild(ctx actor.Context) {
	if g.rt.cfg.Builds == nil || g.running != nil || time.Since(g.rebuildAt) < rebuildBackoff {
		return
	}
	g.rebuildAt = time.Now()
	node, id, rule := g.rt.Node, g.ref.Identity, g.rt.cfg.BuildLimit
	g.startCheck(ctx, nil, nil, 0, false, func(ctx context.Context) (map[string]string, error) {
		return sessionFiles(ctx, node, id, rule)
	})
}

// sessionFiles reads a session's current files for a rebuild of its
// preview, counted against its owner's build limit (rule).
func sessionFiles(ctx context.Context, n *cluster.Node, id string, rule ratelimit.Rule) (map[string]string, error) {
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	list, err := Call[*actorsv1.ListFilesReply](cctx, n, KindSession, id, &actorsv1.ListFiles{Caller: NodeCaller()})
	if err != nil {
		return nil, err
	}
	if len(list.GetFiles()) == 0 {
		return nil, errors.New("the app has no files yet")
	}
	if err := takeBuild(cctx, n, rule, list.GetOwner()); err != nil {
		return nil, err
	}
	files := make(map[string]string, len(list.GetFiles()))
	for _, f := range list.GetFiles() {
		r, err := Call[*actorsv1.ReadFileReply](cctx, n, KindSession, id, &actorsv1.ReadFile{Path: f.GetPath(), Caller: NodeCaller()})
		if err != nil {
			return nil, err
		}
		files[f.GetPath()] = r.GetFile().GetContent()
	}
	return files, nil
}

// startCheck runs a check on its own goroutine; its reply goes to sender
// (when not nil) and its progress lines to logTo (when not nil).
func (g *sandboxGrain) startCheck(ctx actor.Context, sender, logTo *actor.PID, run uint64, fix bool, files func(context.Context) (map[string]string, error)) {
	// A newer check supersedes the running one. It starts when the old
	// one has ended (on its own goroutine: the grain keeps answering), so
	// two never write the workspace at once.
	prev := g.last
	g.stopCheck(false)
	if g.ws == nil {
		// Each app is served from the root of its own origin, and its
		// reporter posts there.
		report := ""
		if g.rt.cfg.Previews.Enabled() {
			report = preview.ReportPath
		}
		g.ws = appbuild.New(*g.rt.cfg.Builds, g.ref.Identity, "/", report)
	}
	g.seq++
	seq := g.seq
	j := newJob()
	g.running, g.sender, g.last = j, sender, j
	system, self, ws, cctx := ctx.ActorSystem(), ctx.Self(), g.ws, j.ctx
	j.start(func() {
		// NB: waited for even when this check is cancelled meanwhile: a
		// check after this one waits only for this one.
		if prev != nil {
			<-prev.done
		}
		if cctx.Err() != nil {
			return
		}
		lg := newCheckLog(system, logTo, run)
		stop := make(chan struct{})
		flushed := make(chan struct{})
		go func() { // quiet steps still show their last lines promptly
			defer close(flushed)
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					lg.flush()
				case <-stop:
					return
				}
			}
		}()
		var reply *actorsv1.SandboxCheckReply
		var shot []byte
		if fs, err := files(cctx); err != nil {
			reply = &actorsv1.SandboxCheckReply{Error: fmt.Sprintf("read the app's files: %v", err)}
		} else {
			served := func(url string) {
				lg.served(url)
				system.Root.Send(self, previewServed{seq: seq})
			}
			reply, shot = g.check(cctx, ws, fs, fix, lg.add, lg.step, served)
		}
		close(stop)
		<-flushed
		lg.flush()
		if cctx.Err() == nil {
			system.Root.Send(self, &checkDone{seq: seq, reply: reply, screenshot: shot})
		}
	})
}

// check runs one check and turns its outcome into the reply; with a
// preview built, it says so (served: the preview is usable from now on,
// the session announces it; with previews on that is before the
// type-check, see [appbuild.Workspace.CheckServing]), then runs the
// runtime check of the final build and returns its screenshot.
func (g *sandboxGrain) check(ctx context.Context, ws *appbuild.Workspace, files map[string]string, fix bool, log appbuild.LogFunc, step appbuild.StepFunc, served func(url string)) (reply *actorsv1.SandboxCheckReply, shot []byte) {
	defer func() {
		if r := recover(); r != nil {
			reply, shot = &actorsv1.SandboxCheckReply{Error: fmt.Sprintf("the build step panicked: %v", r)}, nil
		}
	}()
	url := g.rt.cfg.Previews.URL(g.ref.Identity)
	announced := false
	var early func(*preview.Preview)
	if url != "" {
		// The preview is served before the type-check: the user sees
		// the app while it is checked.
		early = func(*preview.Preview) {
			announced = true
			served(url)
		}
	}
	out, err := ws.CheckServing(ctx, files, fix, log, step, early)
	reply = &actorsv1.SandboxCheckReply{
		Initial:     diagsToProto(out.Initial),
		Remaining:   diagsToProto(out.Remaining),
		Build:       diagsToProto(out.Build),
		Fixed:       out.Fixed,
		Installed:   out.Installed,
		InstallMs:   uint64(out.Install / time.Millisecond),
		TypecheckMs: uint64(out.TypeCheck / time.Millisecond),
		BundleMs:    uint64(out.Bundle / time.Millisecond),
	}
	for _, f := range out.Fixes {
		reply.Fixes = append(reply.Fixes, &actorsv1.SandboxFix{
			Code: fmt.Sprintf("TS%d", f.Code), File: f.File, Description: f.Description, Before: f.Before, After: f.After})
	}
	if err != nil {
		reply.Error = checkErrorText(err)
	}
	if out.Preview != nil {
		reply.PreviewUrl = url
		reply.PreviewRebuilt = out.Rebuilt
		if reply.PreviewUrl != "" && !announced {
			served(reply.PreviewUrl)
		}
		if g.rt.cfg.Runcheck != nil {
			step(StepRuntime, false, 0, "")
		}
		shot = runtimeCheck(ctx, g.rt.cfg.Runcheck, out.Preview, reply, log)
		reply.Screenshot = len(shot) > 0
		if g.rt.cfg.Runcheck != nil {
			outcome := fmt.Sprintf("%d problem(s)", len(reply.Runtime))
			switch {
			case reply.RuntimeStatus != RuntimeChecked:
				outcome = reply.RuntimeStatus
			case len(reply.Runtime) == 0:
				outcome = "ok"
			}
			step(StepRuntime, true, time.Duration(reply.RuntimeMs)*time.Millisecond, outcome)
		}
	}
	return reply, shot
}

// StepRuntime is the runtime check's sub-step (CheckStep.step); the
// others are appbuild's.
const StepRuntime = "runtime"

// Runtime check statuses (SandboxCheckReply.runtime_status).
const (
	RuntimeChecked   = "checked"
	RuntimeNoBrowser = "not checked: no browser"
)

// runtimeCheck loads the built preview in the node's browser and records
// what it showed in reply (diagnostics of tool "runtime", the status and
// the time taken); it returns the page's screenshot. Without a browser
// the status says so; a check that could not run is a warning in the log,
// never a failure of the build.
func runtimeCheck(ctx context.Context, c *runcheck.Checker, p *preview.Preview, reply *actorsv1.SandboxCheckReply, log appbuild.LogFunc) []byte {
	if c == nil {
		reply.RuntimeStatus = RuntimeNoBrowser
		return nil
	}
	start := time.Now()
	rep, err := c.Check(ctx, previewForCheck(p), "/")
	reply.RuntimeMs = uint64(time.Since(start) / time.Millisecond)
	if err != nil {
		reply.RuntimeStatus = "not checked: " + err.Error()
		log("runtime", "warn", "the runtime check did not run: "+err.Error())
		return nil
	}
	reply.RuntimeStatus = RuntimeChecked
	reply.Runtime = runtimeDiagnostics(rep, p)
	return rep.Screenshot
}

// previewForCheck serves p for the runtime check; the preview's own error
// reporter posts to [preview.ReportPath], which is answered (the check
// records errors itself) so that it is not counted as a failed request.
func previewForCheck(p *preview.Preview) http.Handler {
	h := preview.NewHandler(p)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == preview.ReportPath {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// runtimeDiagnostics turns a runtime check's report into diagnostics,
// with the codes the preview's own reporter uses (the fixing prompt
// quotes their text as untrusted page output). An error whose stack
// leads to the app's own sources (through the build's source map) names
// that file and line.
func runtimeDiagnostics(r runcheck.Report, p *preview.Preview) []*stichv1.Diagnostic {
	var out []*stichv1.Diagnostic
	add := func(code, msg string) {
		d := &stichv1.Diagnostic{Code: code, Message: pipeline.Truncate(msg, 2000), Severity: "error"}
		if code == "error" || code == "unhandledrejection" {
			if loc, ok := p.MapStack(msg); ok {
				d.File, d.Line, d.Column = loc.File, uint32(loc.Line), uint32(loc.Column)
			}
		}
		out = append(out, d)
	}
	for _, e := range r.Exceptions {
		if rest, ok := strings.CutPrefix(e, "unhandled rejection: "); ok {
			add("unhandledrejection", rest)
		} else {
			add("error", e)
		}
	}
	for _, e := range r.ConsoleErrors {
		add("console.error", e)
	}
	for _, e := range r.FailedRequests {
		add("resource", "failed request: "+e)
	}
	if r.Blank {
		add("blank", "the page rendered nothing: no text and no images, inputs or buttons after loading")
	}
	return out
}

// checkErrorText says what failed in words a user can act on.
func checkErrorText(err error) string {
	switch {
	case errors.Is(err, appbuild.ErrInstall):
		return "installing the app's dependencies failed (see the install log): " + err.Error()
	case errors.Is(err, sandbox.ErrResources):
		return "the build machine was short of processes or memory to start the sandbox, even after retries (the app did not run; it is checked again on the next change): " + err.Error()
	case errors.Is(err, sandbox.ErrTimeout):
		return "a build step ran past its time limit: " + err.Error()
	}
	return err.Error()
}

func diagsToProto(ds []sandbox.Diagnostic) []*stichv1.Diagnostic {
	out := make([]*stichv1.Diagnostic, 0, len(ds))
	for _, d := range ds {
		code := ""
		if d.Code > 0 {
			code = fmt.Sprintf("TS%d", d.Code)
		}
		sev := d.Category
		if sev == "" {
			sev = "error"
		}
		out = append(out, &stichv1.Diagnostic{Code: code, File: d.File, Line: uint32(max(d.Line, 0)), Column: uint32(max(d.Column, 0)), Message: d.Message, Severity: sev})
	}
	return out
}

// checkLog batches a check's progress lines to the session: at most every
// 100 ms or 64 lines, so npm's output does not cost one durable write per
// line.
type checkLog struct {
	system  *actor.ActorSystem
	to      *actor.PID
	run     uint64
	mu      sync.Mutex
	batch   []*actorsv1.SandboxLogLine
	steps   []*stichv1.CheckStep
	sent    int
	dropped uint32
	last    time.Time
}

func newCheckLog(system *actor.ActorSystem, to *actor.PID, run uint64) *checkLog {
	return &checkLog{system: system, to: to, run: run, last: time.Now()}
}

func (l *checkLog) add(source, level, text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sent+len(l.batch) >= maxCheckLogLines {
		l.dropped++
		return
	}
	if len(text) > 2000 {
		text = strings.ToValidUTF8(text[:2000], "") + "…"
	}
	l.batch = append(l.batch, &actorsv1.SandboxLogLine{Source: source, Level: level, Text: text})
	if len(l.batch) >= 64 || time.Since(l.last) >= 100*time.Millisecond {
		l.flushLocked()
	}
}

// step records a sub-step's start or end and sends it at once (with the
// lines before it), so a client's timer starts when the step does.
func (l *checkLog) step(name string, ended bool, took time.Duration, outcome string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := &stichv1.CheckStep{Step: name, Ended: ended, Outcome: outcome}
	if ended {
		s.DurationMs = uint64(max(took, 0) / time.Millisecond)
	}
	l.steps = append(l.steps, s)
	l.flushLocked()
}

// served sends the lines so far with the preview's URL, at once: the
// session announces the preview before the runtime check runs.
func (l *checkLog) served(url string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.to != nil && l.to.GetId() != "" {
		l.system.Root.Send(l.to, &actorsv1.SandboxLog{Run: l.run, Lines: l.batch, Dropped: l.dropped, PreviewUrl: url, Steps: l.steps})
	}
	l.sent += len(l.batch)
	l.batch, l.steps, l.dropped, l.last = nil, nil, 0, time.Now()
}

func (l *checkLog) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushLocked()
}

func (l *checkLog) flushLocked() {
	if len(l.batch) == 0 && l.dropped == 0 && len(l.steps) == 0 {
		return
	}
	if l.to != nil && l.to.GetId() != "" {
		l.system.Root.Send(l.to, &actorsv1.SandboxLog{Run: l.run, Lines: l.batch, Dropped: l.dropped, Steps: l.steps})
	}
	l.sent += len(l.batch)
	l.batch, l.steps, l.dropped, l.last = nil, nil, 0, time.Now()
}
