package actors

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/stichdev/stich/cluster"
	"github.com/stichdev/stich/codegen"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// checkTimeout bounds one sandbox check: a cold install, a type-check,
// fixer rounds and a bundle.
const checkTimeout = 15 * time.Minute

// checkInSandbox asks the session's sandbox grain to check files, with
// progress lines sent to the session (self) tagged with run. It never
// fails: a sandbox that cannot be reached becomes the reply's error, so
// the session goes on without a preview. When ctx ends (the session was
// stopped) the check is cancelled too.
func checkInSandbox(ctx context.Context, n *cluster.Node, id string, files map[string]string, self *actor.PID, run uint64, noFix bool) *actorsv1.SandboxCheckReply {
	cctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	reply, err := Call[*actorsv1.SandboxCheckReply](cctx, n, KindSandbox, id, &actorsv1.SandboxCheck{
		Files: files, LogAddress: self.GetAddress(), LogId: self.GetId(), Run: run, NoFix: noFix})
	if err == nil {
		return reply
	}
	if ctx.Err() != nil {
		stop, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		_, _ = Call[*actorsv1.SandboxCancelAck](stop, n, KindSandbox, id, &actorsv1.SandboxCancel{})
	}
	return &actorsv1.SandboxCheckReply{Error: fmt.Sprintf("the build sandbox did not answer: %v", err)}
}

// fixPurpose labels files the deterministic fixer rewrote.
const fixPurpose = "repaired by the deterministic fixer"

// applyCheck turns a sandbox check into events and storage writes on st:
// the type-check's diagnostics, each fix, the fixed files (streamed like
// generated ones, so every watcher sees their content), bundler errors,
// the preview URL. It returns the problems still open (for the fix
// rounds) and the fixed files' content for the version record.
func (g *sessionGrain) applyCheck(st *actorsv1.SessionState, c *actorsv1.SandboxCheckReply) (evs []*stichv1.SessionEvent, writes func(*cluster.Batch), pending map[string][]byte, problems []*stichv1.Diagnostic) {
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
	paths := make([]string, 0, len(c.GetFixed()))
	for p := range c.GetFixed() {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	pending = map[string][]byte{}
	for _, p := range paths {
		content := c.GetFixed()[p]
		if err := codegen.CheckPath(p); err != nil || len(content) > codegen.MaxFileBytes {
			evs = append(evs, logLine("fixer", "warn", fmt.Sprintf("discarded the fixer's change to %s: not a file the app may have", p)))
			continue
		}
		if st.Files == nil {
			st.Files = map[string]*stichv1.FileInfo{}
		}
		info := &stichv1.FileInfo{Path: p, Size: uint64(len(content)), Sha256: sha(content)}
		st.Files[p] = info
		pending[p] = []byte(content)
		evs = append(evs, fileEvents(p, fixPurpose, content, info.Sha256)...)
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
		evs = append(evs, logLine("sandbox", "info", "checked the app: "+strings.Join(steps, ", ")))
	}
	if u := c.GetPreviewUrl(); u != "" {
		evs = append(evs, &stichv1.SessionEvent{Event: &stichv1.SessionEvent_PreviewReady{PreviewReady: &stichv1.PreviewReady{Url: u}}})
	}
	problems = append(append(problems, c.GetRemaining()...), c.GetBuild()...)
	return evs, func(b *cluster.Batch) {
		for p, content := range pending {
			b.Put(prefixFile+p, content)
		}
	}, pending, problems
}

// onSandboxLog records a check's progress lines as log events.
func (g *sessionGrain) onSandboxLog(ctx actor.Context, m *actorsv1.SandboxLog) error {
	evs := make([]*stichv1.SessionEvent, 0, len(m.GetLines())+1)
	for _, l := range m.GetLines() {
		level := l.GetLevel()
		switch level {
		case "info", "warn", "error":
		default:
			level = "info"
		}
		evs = append(evs, logLine(l.GetSource(), level, l.GetText()))
	}
	if m.GetDropped() > 0 {
		evs = append(evs, logLine("sandbox", "warn", fmt.Sprintf("%d more output lines were not kept", m.GetDropped())))
	}
	if len(evs) == 0 {
		return nil
	}
	return g.commit(ctx, nil, nil, evs...)
}

// Preview error reports a session records per minute; a page stuck in an
// error loop must not flood the log.
const maxPreviewReportsPerMinute = 20

// onPreviewReport records an error a running preview reported, as a log
// line and a runtime diagnostic, for the user and the next fix.
func (g *sessionGrain) onPreviewReport(ctx actor.Context, m *actorsv1.PreviewReport) {
	now := g.rt.cfg.Now()
	if now.Sub(g.reportWindow) > time.Minute {
		g.reportWindow, g.reports = now, 0
	}
	g.reports++
	if g.reports > maxPreviewReportsPerMinute {
		ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED, "too many preview error reports; retry in a minute"))
		return
	}
	m = proto.Clone(m).(*actorsv1.PreviewReport)
	text := m.GetKind() + ": " + truncate(m.GetMessage(), 2000)
	if m.GetSource() != "" {
		text += fmt.Sprintf(" (%s:%d:%d)", truncate(m.GetSource(), 200), m.GetLine(), m.GetColumn())
	}
	d := &stichv1.Diagnostic{Code: m.GetKind(), File: truncate(m.GetSource(), 200), Line: m.GetLine(), Column: m.GetColumn(), Message: truncate(m.GetMessage(), 2000), Severity: "error"}
	if err := g.commit(ctx, nil, nil, logLine("preview", "error", text),
		&stichv1.SessionEvent{Event: &stichv1.SessionEvent_Diagnostics{Diagnostics: &stichv1.DiagnosticsReported{Tool: "runtime", Diagnostics: []*stichv1.Diagnostic{d}}}}); err != nil {
		g.respondErr(ctx, err)
		return
	}
	ctx.Respond(&actorsv1.PreviewReportAck{})
}

// idleCheckDone ends a check of an idle session (after a user edit or a
// rollback); it never leaves the process.
type idleCheckDone struct {
	run   uint64
	reply *actorsv1.SandboxCheckReply
}

// idleRunBit marks the run numbers of idle checks, so their log lines
// never pass for a step's.
const idleRunBit = 1 << 63

// checkIdle checks the idle session's files in the sandbox again (no
// fixer: the files are the user's choice) and records the diagnostics and
// the new preview. A newer check replaces a running one.
func (g *sessionGrain) checkIdle(ctx actor.Context) {
	g.stopIdleCheck(false)
	if g.rt.cfg.Builds == nil {
		return
	}
	files, err := g.loadFiles()
	if err != nil {
		g.log().Error("idle check: read files", "err", err)
		return
	}
	g.idleRun = (g.idleRun + 1) | idleRunBit
	run := g.idleRun
	j := newJob()
	g.idle = j
	system, self, node, id := ctx.ActorSystem(), ctx.Self(), g.rt.Node, g.st.Id
	j.start(func() {
		reply := checkInSandbox(j.ctx, node, id, files, self, run, true)
		if j.ctx.Err() == nil {
			system.Root.Send(self, &idleCheckDone{run: run, reply: reply})
		}
	})
}

// stopIdleCheck cancels a running idle check; with wait it waits
// (bounded) for its goroutine.
func (g *sessionGrain) stopIdleCheck(wait bool) {
	if !g.idle.stop(wait, 10*time.Second) {
		g.log().Error("idle check did not stop within 10s")
	}
	g.idle = nil
}

func (g *sessionGrain) onIdleCheckDone(ctx actor.Context, m *idleCheckDone) {
	g.idle = nil
	st := proto.Clone(g.st).(*actorsv1.SessionState)
	evs, _, _, _ := g.applyCheck(st, m.reply) // no fixer ran: nothing to write
	if err := g.commit(ctx, nil, nil, evs...); err != nil {
		g.log().Error("idle check not recorded", "err", err)
	}
}

// onSaveFile records a user's edit of one file as a new version.
func (g *sessionGrain) onSaveFile(ctx actor.Context, m *actorsv1.SaveFile) {
	if active(g.st.Phase) {
		ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION,
			"session %s is %s; stop it or wait for it to finish before editing files", g.st.Id, strings.ToLower(strings.TrimPrefix(g.st.Phase.String(), "PHASE_"))))
		return
	}
	p, content := m.GetPath(), m.GetContent()
	if err := codegen.CheckPath(p); err != nil {
		ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "%v", err))
		return
	}
	if len(content) > codegen.MaxFileBytes {
		ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "%s is %d bytes; a file of an app may have at most %d", p, len(content), codegen.MaxFileBytes))
		return
	}
	cur, exists := g.st.Files[p]
	if base := m.GetBaseSha256(); base != "" && (!exists || cur.GetSha256() != base) {
		ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION,
			"%s changed since you opened it; reload it and apply your edit again", p))
		return
	}
	if !exists && len(g.st.Files) >= codegen.MaxFiles {
		ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED, "the app has %d files, the most it may have", len(g.st.Files)))
		return
	}
	sum := sha(content)
	if exists && cur.GetSha256() == sum {
		ctx.Respond(&actorsv1.SaveFileReply{})
		return
	}
	st := proto.Clone(g.st).(*actorsv1.SessionState)
	if st.Files == nil {
		st.Files = map[string]*stichv1.FileInfo{}
	}
	info := &stichv1.FileInfo{Path: p, Size: uint64(len(content)), Sha256: sum}
	st.Files[p] = info
	evs := fileEvents(p, "edited by you", content, sum)
	vev, vwrite, err := g.newVersion(st, "edited "+p, map[string][]byte{p: []byte(content)})
	if err != nil {
		g.respondErr(ctx, err)
		return
	}
	evs = append(evs, vev)
	err = g.commit(ctx, st, func(b *cluster.Batch) {
		b.Put(prefixFile+p, []byte(content))
		vwrite(b)
	}, evs...)
	if err != nil {
		g.respondErr(ctx, err)
		return
	}
	g.st = st
	ctx.Respond(&actorsv1.SaveFileReply{Version: vev.GetVersionCreated().GetVersion()})
	g.checkIdle(ctx)
}
