package actors

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/stichdev/stich/cluster"
	"github.com/stichdev/stich/codegen"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// errProtocol reports provider output that breaks the emitter protocol.
var errProtocol = errors.New("actors: invalid provider output")

// workEvent is one piece of streamed output from the session's worker.
// It never leaves the process (see the package doc).
type workEvent struct {
	run     uint64
	kind    workEventKind
	path    string
	purpose string
	data    string
}

type workEventKind int

const (
	workFileStarted workEventKind = iota
	workFileChunk
	workFileDone
	workLog
	workFileAborted
	workFileDeleted
)

// workResult ends a step.
type workResult struct {
	run    uint64
	err    error
	bp     *stichv1.Blueprint    // planning
	diags  []*stichv1.Diagnostic // reviewing
	refine *codegen.Refinement   // planning a refinement
	// check is the sandbox's verdict on the phase's files (reviewing,
	// when builds are enabled).
	check *actorsv1.SandboxCheckReply
	// planned is set by the planning of a generating phase (see
	// session_plan.go); plan is its answer.
	planned bool
	plan    *stichv1.PhasePlan
	// compaction is the conversation's compaction done before a
	// refinement was planned (see session_chat.go), if any.
	compaction *compaction
}

// emitter forwards a provider's output to the grain's mailbox.
type emitter struct {
	system *actor.ActorSystem
	self   *actor.PID
	run    uint64
}

func (e *emitter) send(ctx context.Context, ev *workEvent) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ev.run = e.run
	e.system.Root.Send(e.self, ev)
	return nil
}

func (e *emitter) FileStarted(ctx context.Context, path, purpose string) error {
	return e.send(ctx, &workEvent{kind: workFileStarted, path: path, purpose: purpose})
}
func (e *emitter) FileChunk(ctx context.Context, path, data string) error {
	return e.send(ctx, &workEvent{kind: workFileChunk, path: path, data: data})
}
func (e *emitter) FileDone(ctx context.Context, path string) error {
	return e.send(ctx, &workEvent{kind: workFileDone, path: path})
}
func (e *emitter) Log(ctx context.Context, text string) error {
	return e.send(ctx, &workEvent{kind: workLog, data: text})
}

// FileAborted drops a file that started streaming but cannot be finished
// (too large, or the answer ended inside it).
func (e *emitter) FileAborted(ctx context.Context, path, reason string) error {
	return e.send(ctx, &workEvent{kind: workFileAborted, path: path, data: reason})
}

// FileDeleted removes a file of the app.
func (e *emitter) FileDeleted(ctx context.Context, path string) error {
	return e.send(ctx, &workEvent{kind: workFileDeleted, path: path})
}

// stopWorker cancels the current step; with wait it also waits (bounded)
// for the worker goroutine to end, so none outlives the grain.
func (g *sessionGrain) stopWorker(wait bool) {
	g.run++
	g.building = nil
	if !g.work.stop(wait, 10*time.Second) {
		g.log().Error("session worker did not stop within 10s")
	}
	g.work = nil
}

// loadFiles reads the app's current files from storage.
func (g *sessionGrain) loadFiles() (map[string]string, error) {
	files := make(map[string]string, len(g.st.Files))
	for p := range g.st.Files {
		b, err := g.ref.Store.Get(prefixFile + p)
		if err != nil {
			return nil, fmt.Errorf("actors: read %q: %w", p, err)
		}
		files[p] = string(b)
	}
	return files, nil
}

// startStep starts the worker for the session's current phase.
func (g *sessionGrain) startStep(ctx actor.Context) {
	g.stopWorker(false)
	g.stopIdleCheck(false)
	st := g.st
	prov, ok := g.rt.Provider(st.GetOptions().GetProvider())
	if !ok {
		g.fail(ctx, fmt.Errorf("provider %q is no longer configured on this node", st.GetOptions().GetProvider()))
		return
	}
	files, err := g.loadFiles()
	if err != nil {
		g.fail(ctx, err)
		return
	}
	g.run++
	run := g.run
	j := newJob()
	system, self := ctx.ActorSystem(), ctx.Self()
	wctx := codegen.ContextWithSession(j.ctx, st.Id)
	wctx = codegen.ContextWithLog(wctx, func(text string) {
		system.Root.Send(self, &workEvent{run: run, kind: workLog, data: text})
	})
	wctx = codegen.ContextWithUsage(wctx, func(action, model string, u codegen.Usage) {
		system.Root.Send(self, &usageEvent{action: action, model: model, usage: u})
	})
	g.building = map[string]*strings.Builder{}
	em := &emitter{system: ctx.ActorSystem(), self: ctx.Self(), run: run}
	bp := proto.Clone(st.GetBlueprint()).(*stichv1.Blueprint)
	phase := proto.Clone(st.GetCurrent()).(*stichv1.PhasePlan)
	prompt := st.Prompt
	var pending string
	if len(st.PendingMessages) > 0 {
		pending = st.PendingMessages[0]
	}
	skip := map[string]bool{}
	for _, p := range st.PhaseFilesDone {
		skip[p] = true
	}
	diags := st.Diagnostics
	var work func() *workResult
	switch st.Phase {
	case stichv1.Phase_PHASE_PLANNING:
		if st.Blueprint == nil {
			work = func() *workResult {
				bp, err := prov.Blueprint(wctx, prompt)
				return &workResult{bp: bp, err: err}
			}
		} else {
			work = refineWork(wctx, prov, prompt, g.chatPlan(st), pending, bp, files)
		}
	case stichv1.Phase_PHASE_GENERATING:
		if st.Current == nil {
			work = planPhaseWork(wctx, prov, bp, phaseRequest(st, files))
			break
		}
		work = func() *workResult { return &workResult{err: prov.Implement(wctx, bp, phase, files, skip, em)} }
	case stichv1.Phase_PHASE_REVIEWING:
		builds := g.rt.cfg.Builds != nil
		node, id := g.rt.Node, st.Id
		work = func() *workResult {
			var chk *actorsv1.SandboxCheckReply
			if builds {
				chk = checkInSandbox(wctx, node, id, files, self, run, false)
				for p, c := range chk.GetFixed() {
					files[p] = c // the review sees the fixed app
				}
			}
			d, err := prov.Review(wctx, bp, phase, files)
			return &workResult{diags: d, err: err, check: chk}
		}
	case stichv1.Phase_PHASE_FIXING:
		work = func() *workResult { return &workResult{err: prov.Fix(wctx, bp, files, diags, em)} }
	default:
		j.stop(false, 0)
		return
	}
	g.work = j
	j.start(func() {
		res := safeWork(work)
		res.run = run
		if wctx.Err() != nil {
			return // stopped: the grain no longer waits for this result
		}
		system.Root.Send(self, res)
	})
}

// safeWork runs a provider step, turning a panic into an error so that a
// buggy provider fails the session instead of the process.
func safeWork(work func() *workResult) (res *workResult) {
	defer func() {
		if r := recover(); r != nil {
			res = &workResult{err: fmt.Errorf("provider panicked: %v", r)}
		}
	}()
	return work()
}

func (g *sessionGrain) onWorkEvent(ctx actor.Context, m *workEvent) error {
	switch m.kind {
	case workLog:
		return g.commit(ctx, nil, nil, logLine("agent", "info", m.data))
	case workFileAborted:
		delete(g.building, m.path)
		return g.commit(ctx, nil, nil, logLine("agent", "warn", fmt.Sprintf("discarded %s: %s", m.path, m.data)))
	case workFileDeleted:
		if _, ok := g.st.Files[m.path]; !ok {
			return nil
		}
		st := proto.Clone(g.st).(*actorsv1.SessionState)
		delete(st.Files, m.path)
		err := g.commit(ctx, st, func(b *cluster.Batch) { b.Delete(prefixFile + m.path) },
			&stichv1.SessionEvent{Event: &stichv1.SessionEvent_FileDeleted{FileDeleted: &stichv1.FileDeleted{Path: m.path}}})
		if err != nil {
			return err
		}
		g.st = st
		return nil
	case workFileStarted:
		if err := codegen.CheckPath(m.path); err != nil {
			return err
		}
		if _, exists := g.st.Files[m.path]; !exists && len(g.st.Files)+len(g.building) >= codegen.MaxFiles {
			return fmt.Errorf("%w: more than %d files", errProtocol, codegen.MaxFiles)
		}
		g.building[m.path] = &strings.Builder{}
		return g.commit(ctx, nil, nil, &stichv1.SessionEvent{Event: &stichv1.SessionEvent_FileStarted{FileStarted: &stichv1.FileStarted{Path: m.path, Purpose: m.purpose}}})
	case workFileChunk:
		b, ok := g.building[m.path]
		if !ok {
			return fmt.Errorf("%w: chunk for %q before it started", errProtocol, m.path)
		}
		if b.Len()+len(m.data) > codegen.MaxFileBytes {
			return fmt.Errorf("%w: %q is larger than %d bytes", errProtocol, m.path, codegen.MaxFileBytes)
		}
		b.WriteString(m.data)
		return g.commit(ctx, nil, nil, &stichv1.SessionEvent{Event: &stichv1.SessionEvent_FileChunk{FileChunk: &stichv1.FileChunk{Path: m.path, Data: m.data}}})
	case workFileDone:
		b, ok := g.building[m.path]
		if !ok {
			return fmt.Errorf("%w: %q done before it started", errProtocol, m.path)
		}
		content := b.String()
		delete(g.building, m.path)
		info := &stichv1.FileInfo{Path: m.path, Size: uint64(len(content)), Sha256: sha(content)}
		st := proto.Clone(g.st).(*actorsv1.SessionState)
		if st.Files == nil {
			st.Files = map[string]*stichv1.FileInfo{}
		}
		st.Files[m.path] = info
		st.FilesWritten++
		st.PhaseFilesDone = append(st.PhaseFilesDone, m.path)
		err := g.commit(ctx, st, func(b *cluster.Batch) { b.Put(prefixFile+m.path, []byte(content)) },
			&stichv1.SessionEvent{Event: &stichv1.SessionEvent_FileDone{FileDone: &stichv1.FileDone{Path: m.path, Size: info.Size, Sha256: info.Sha256}}})
		if err != nil {
			return err
		}
		g.st = st
		return nil
	}
	return fmt.Errorf("%w: unknown event", errProtocol)
}

func (g *sessionGrain) onWorkResult(ctx actor.Context, m *workResult) {
	g.work, g.building = nil, nil // the worker has ended
	if m.err != nil {
		g.fail(ctx, m.err)
		return
	}
	if m.planned {
		g.onPhasePlanned(ctx, m.plan)
		return
	}
	st := proto.Clone(g.st).(*actorsv1.SessionState)
	var evs []*stichv1.SessionEvent
	var extra, checkWrites func(*cluster.Batch)
	var checkPending map[string][]byte // files the fixer changed, not yet stored
	switch st.Phase {
	case stichv1.Phase_PHASE_PLANNING:
		if m.refine != nil {
			evs, extra = g.planRefinement(st, m.refine, m.compaction)
		} else {
			if m.bp == nil || len(m.bp.GetRoadmap()) == 0 {
				g.fail(ctx, fmt.Errorf("%w: the blueprint has no implementation phases", errProtocol))
				return
			}
			st.Blueprint = m.bp
			st.PhaseIndex = 0
			st.Current = m.bp.GetRoadmap()[0]
			evs = append(evs, &stichv1.SessionEvent{Event: &stichv1.SessionEvent_Blueprint{Blueprint: &stichv1.BlueprintReady{Blueprint: m.bp}}})
		}
		st.PhaseFilesDone, st.FixRounds = nil, 0
		st.Phase = stichv1.Phase_PHASE_GENERATING
		evs = append(evs, phaseEvent(st.Phase, st.PhaseIndex, st.GetCurrent().GetName(), st.GetCurrent().GetDescription()))
	case stichv1.Phase_PHASE_GENERATING, stichv1.Phase_PHASE_FIXING:
		st.Phase = stichv1.Phase_PHASE_REVIEWING
		st.PhaseFilesDone = nil
		evs = append(evs, phaseEvent(st.Phase, st.PhaseIndex, st.GetCurrent().GetName(), "reviewing the files"))
	case stichv1.Phase_PHASE_REVIEWING:
		if m.check != nil {
			var problems []*stichv1.Diagnostic
			evs, checkWrites, checkPending, problems = g.applyCheck(st, m.check)
			m.diags = append(problems, m.diags...)
		}
		evs = append(evs, &stichv1.SessionEvent{Event: &stichv1.SessionEvent_Diagnostics{Diagnostics: &stichv1.DiagnosticsReported{Tool: "review", Diagnostics: m.diags}}})
		if len(m.diags) > 0 && st.FixRounds < uint32(g.rt.cfg.MaxFixRounds) {
			st.FixRounds++
			st.Diagnostics = m.diags
			st.Phase = stichv1.Phase_PHASE_FIXING
			evs = append(evs, phaseEvent(st.Phase, st.PhaseIndex, st.GetCurrent().GetName(), fmt.Sprintf("fixing %d problem(s), round %d", len(m.diags), st.FixRounds)))
		} else {
			if len(m.diags) > 0 {
				evs = append(evs, chat("assistant", fmt.Sprintf("%d problem(s) remain after %d fix round(s); ask me to debug them.", len(m.diags), st.FixRounds)))
			}
			more, done := g.advance(st)
			evs = append(evs, more...)
			if !done && st.Current == nil {
				st.Diagnostics = m.diags // what is left, for planning the next phase
			}
			if done {
				vev, vwrite, err := g.newVersion(st, st.WorkReason, checkPending)
				if err != nil {
					g.fail(ctx, err)
					return
				}
				st.WorkReason = ""
				// The version precedes Completed, which stays the last
				// event of the work.
				evs = append(evs[:len(evs)-1], vev, evs[len(evs)-1])
				extra = func(b *cluster.Batch) {
					vwrite(b)
					b.DeleteAlarm()
				}
			}
		}
	default:
		return
	}
	if extra == nil {
		extra = g.armAlarm
	}
	if checkWrites != nil {
		rest := extra
		extra = func(b *cluster.Batch) {
			checkWrites(b)
			rest(b)
		}
	}
	if err := g.commit(ctx, st, extra, evs...); err != nil {
		g.fail(ctx, err)
		return
	}
	g.st = st
	if active(st.Phase) {
		g.startStep(ctx)
	}
}

// advance ends the current implementation phase and picks what is next:
// the next roadmap phase, a queued refinement, or completion. It reports
// whether the session is now idle.
func (g *sessionGrain) advance(st *actorsv1.SessionState) ([]*stichv1.SessionEvent, bool) {
	st.PhasesCompleted++
	if st.PhaseBudget > 0 {
		st.PhaseBudget--
	}
	st.FixRounds, st.Diagnostics = 0, nil
	roadmap := st.GetBlueprint().GetRoadmap()
	if !st.GetCurrent().GetLastPhase() && int(st.PhaseIndex)+1 < len(roadmap) && st.PhaseBudget > 0 {
		st.PhaseIndex++
		st.Current = nil // planned before it is implemented: see onPhasePlanned
		st.Phase = stichv1.Phase_PHASE_GENERATING
		return []*stichv1.SessionEvent{logLine("agent", "info", fmt.Sprintf("planning phase %d (%s)", st.PhaseIndex+1, roadmap[st.PhaseIndex].GetName()))}, false
	}
	if len(st.PendingMessages) > 0 {
		st.Phase = stichv1.Phase_PHASE_PLANNING
		return []*stichv1.SessionEvent{phaseEvent(st.Phase, st.PhaseIndex, "Refinement", "planning the change")}, false
	}
	st.Phase = stichv1.Phase_PHASE_COMPLETED
	dur := g.rt.cfg.Now().Sub(st.GetWorkStartedAt().AsTime())
	return []*stichv1.SessionEvent{
		phaseEvent(st.Phase, st.PhaseIndex, "", "the app is ready"),
		{Event: &stichv1.SessionEvent_Completed{Completed: &stichv1.Completed{
			Files: uint32(len(st.Files)), Phases: st.PhasesCompleted, DurationMs: uint64(max(dur, 0) / time.Millisecond)}}},
	}, true
}

// planRefinement applies a provider's plan for the first queued message.
func (g *sessionGrain) planRefinement(st *actorsv1.SessionState, r *codegen.Refinement, c *compaction) ([]*stichv1.SessionEvent, func(*cluster.Batch)) {
	msg := st.PendingMessages[0]
	st.PendingMessages = st.PendingMessages[1:]
	if reason := "refinement: " + truncate(msg, 120); st.WorkReason != reason {
		st.WorkReason = strings.TrimPrefix(st.WorkReason+"; "+reason, "; ")
	}
	evs := recordConversation(st, msg, r.Reply, c)
	st.AppliedMessages = append(st.AppliedMessages, msg)
	evs = append(evs, chat("assistant", r.Reply))
	if r.Blueprint != nil {
		st.Blueprint = r.Blueprint
		evs = append(evs, &stichv1.SessionEvent{Event: &stichv1.SessionEvent_Blueprint{Blueprint: &stichv1.BlueprintReady{Blueprint: r.Blueprint}}})
	}
	phase := r.Phase
	if phase == nil {
		phase = &stichv1.PhasePlan{Name: "Refinement", Description: msg, LastPhase: true}
	}
	st.Current = phase
	st.PhaseIndex = uint32(len(st.GetBlueprint().GetRoadmap()))
	var deleted []string
	for _, p := range r.Deleted {
		if _, ok := st.Files[p]; ok {
			delete(st.Files, p)
			deleted = append(deleted, p)
			evs = append(evs, &stichv1.SessionEvent{Event: &stichv1.SessionEvent_FileDeleted{FileDeleted: &stichv1.FileDeleted{Path: p}}})
		}
	}
	return evs, func(b *cluster.Batch) {
		g.armAlarm(b)
		for _, p := range deleted {
			b.Delete(prefixFile + p)
		}
	}
}
