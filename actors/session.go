package actors

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/stichdev/stich/cluster"
	"github.com/stichdev/stich/codegen"
	"github.com/stichdev/stich/pipeline"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// The session grain is a driver of [pipeline.Config.Step]: it loads the
// session's state, feeds it inputs (requests, its worker's output, check
// outcomes, its activation), commits the new state, the events and the
// write effects in one synced batch, then performs the other effects on
// its owned worker and fans the events out. The rules are in package
// pipeline; what stays here is about being a grain: storage, alarms,
// activation and passivation, watchers, the apps index, the worker.

// Storage keys of a session grain.
const (
	keyState   = "state"
	prefixLog  = "log/"
	prefixFile = "file/"
)

// logKey is "log/" and the seq in 20 zero-padded digits, so keys sort by seq.
func logKey(seq uint64) string {
	var b [len(prefixLog) + 20]byte
	copy(b[:], prefixLog)
	d := strconv.AppendUint(b[len(prefixLog):len(prefixLog)], seq, 10)
	pad := 20 - len(d)
	copy(b[len(prefixLog)+pad:], d)
	for i := len(prefixLog); i < len(prefixLog)+pad; i++ {
		b[i] = '0'
	}
	return string(b[:])
}

// ReadLog page bounds.
const (
	defaultLogPage = 256
	maxLogPage     = 1024
)

// sessionGrain is the generation agent of one session. See the package doc.
type sessionGrain struct {
	rt  *Runtime
	ref *cluster.GrainRef
	lg  *slog.Logger // see log

	s       pipeline.State        // s.Session is nil until created
	loadErr error                 // why the state could not be read
	subs    map[string]*actor.PID // nil until the first watcher

	// work runs the current provider step, idle the check of an idle
	// session; nil when none runs.
	work, idle *job

	// compactTimer compacts the log of an idle session (compact.go);
	// compacting is set while a compaction step is queued, and
	// compactFailed after one failed (retried with the next step).
	compactTimer              *time.Timer
	compacting, compactFailed bool
}

func newSessionGrain(rt *Runtime, ref *cluster.GrainRef) *sessionGrain {
	return &sessionGrain{rt: rt, ref: ref} // subs: made by the first watcher
}

// log returns the grain's logger, made on first use: most activations
// never log, and activation cost matters.
func (g *sessionGrain) log() *slog.Logger {
	if g.lg == nil {
		g.lg = g.rt.log.With("session", g.ref.Identity)
	}
	return g.lg
}

func (g *sessionGrain) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		g.onStarted(ctx)
	case *actor.Stopping, *actor.Restarting:
		g.stopJobs(true)
		g.stopCompactTimer()
		g.tellWatchersMoved(ctx)
	case *actor.ReceiveTimeout:
		// protoactor disarms the timeout when it fires: arm it again while
		// work or watchers keep the session in memory.
		if st := g.s.Session; st != nil && g.loadErr == nil && !pipeline.Active(st.Phase) && compactPending(st) && !g.compactFailed {
			// Compact an idle session's log before it leaves memory.
			g.stopCompactTimer()
			if !g.compacting {
				g.compacting = true
				ctx.Send(ctx.Self(), compactLog{})
			}
			ctx.SetReceiveTimeout(g.ref.Node.PassivateAfter())
			return
		}
		if g.work != nil || len(g.subs) > 0 || !g.ref.Passivate(ctx) {
			ctx.SetReceiveTimeout(g.ref.Node.PassivateAfter())
		}
	case *actor.Terminated:
		for k, pid := range g.subs {
			if pid.Equal(m.Who) {
				delete(g.subs, k)
			}
		}
	case *actorsv1.CreateSession:
		g.onCreate(ctx, m)
	case *actorsv1.ForkSession:
		g.onFork(ctx, m)
	case *actorsv1.AlarmFired:
		g.onAlarm(ctx)
	case compactLog:
		g.onCompact(ctx)
	case pipeline.Work:
		if _, err := g.step(ctx, m); err != nil {
			g.fail(ctx, err)
		}
	case pipeline.Result:
		if m.Run == g.s.Run && g.s.Working {
			g.work = nil // the worker has ended
		}
		if _, err := g.step(ctx, m); err != nil {
			g.fail(ctx, err)
		}
	case pipeline.IdleCheckDone:
		if m.Run == g.s.IdleRun && g.s.Checking {
			g.idle = nil
		}
		if _, err := g.step(ctx, m); err != nil {
			g.log().Error("idle check not recorded", "err", err)
		}
	case pipeline.Usage:
		if _, err := g.step(ctx, m); err != nil {
			g.log().Warn("record model usage", "err", err)
		}
	case *actorsv1.SandboxLog:
		in := pipeline.SandboxLog{Run: m.GetRun(), Lines: m.GetLines(), Dropped: m.GetDropped(), PreviewURL: m.GetPreviewUrl(), Steps: m.GetSteps()}
		if _, err := g.step(ctx, in); err != nil {
			g.log().Error("sandbox log not recorded", "err", err)
		}
	default:
		if _, isReq := m.(proto.Message); !isReq {
			return
		}
		if g.loadErr != nil {
			ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_UNAVAILABLE, "session %s cannot be read from storage on node %s; retry later", g.ref.Identity, g.ref.Node.Name()))
			return
		}
		if g.s.Session == nil {
			// Unknown session: refuse, and leave memory soon.
			ctx.SetReceiveTimeout(time.Second)
			ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND, "session %s does not exist", g.ref.Identity))
			return
		}
		owner := cmp.Or(g.s.Session.Owner, LocalOwner)
		cm, ok := m.(callerMessage)
		allowed := ok && mayAccess(cm.GetCaller(), owner)
		if ok && !allowed && isReadOnly(m) {
			allowed = mayRead(cm.GetCaller(), owner, g.s.Session.GetVisibility())
		}
		if _, sv := m.(*actorsv1.SetVisibility); sv && ok {
			allowed = mayChangeVisibility(cm.GetCaller(), owner)
		}
		if !allowed {
			// NB: the same answer as an unknown session (actors/caller.go).
			if ok {
				g.log().Warn("session request refused: not the owner", "caller", cm.GetCaller().GetUserId(), "message", fmt.Sprintf("%T", m))
			}
			ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND, "session %s does not exist", g.ref.Identity))
			return
		}
		g.onRequest(ctx, m)
	}
}

// rules are the pipeline's parameters from the node's configuration.
func (g *sessionGrain) rules() pipeline.Config {
	c := g.rt.cfg
	return pipeline.Config{PhaseBudget: c.PhaseBudget, MaxFixRounds: c.MaxFixRounds,
		CompactTurns: c.CompactTurns, CompactTokens: c.CompactTokens, CompactKeep: c.CompactKeep, Builds: c.Builds != nil, Quota: c.Quota}
}

// step feeds in to the pipeline, commits its output (nothing when it is
// a refusal), and then reports to the apps index, fans the events out and
// performs the effects. On a commit error nothing was written, sent or
// done, and the state is as before.
func (g *sessionGrain) step(ctx actor.Context, in pipeline.Input) (pipeline.Output, error) {
	next, out := g.rules().Step(g.s, g.rt.cfg.Now(), in)
	if out.Refusal != nil {
		g.s = next
		return out, nil
	}
	if err := g.commit(next, out); err != nil {
		return out, err
	}
	prev := g.s.Session
	g.s = next
	if st := next.Session; out.Save && (prev == nil || st.Phase != prev.Phase || st.Versions != prev.Versions ||
		st.GetBlueprint().GetTitle() != prev.GetBlueprint().GetTitle() || st.GetVisibility() != prev.GetVisibility()) {
		g.reportApp(st, next.LastSeq)
	}
	if ctx != nil {
		for _, ev := range out.Events {
			notice := &actorsv1.EventNotice{Event: ev}
			for _, pid := range g.subs {
				ctx.Send(pid, notice)
			}
		}
	}
	for _, e := range out.Effects {
		g.perform(ctx, e)
	}
	g.compactFailed = false
	g.scheduleCompaction(ctx)
	return out, nil
}

// commit writes the events, the state when it changed, and the write
// effects in one synced batch.
func (g *sessionGrain) commit(next pipeline.State, out pipeline.Output) error {
	writes := false
	for _, e := range out.Effects {
		switch e.(type) {
		case pipeline.PutFile, pipeline.DeleteFile, pipeline.PutBlob, pipeline.RecordVersion, pipeline.ArmAlarm, pipeline.DisarmAlarm:
			writes = true
		}
	}
	if len(out.Events) == 0 && !out.Save && !writes {
		return nil
	}
	b := g.ref.Store.NewBatch()
	defer b.Close()
	for _, ev := range out.Events {
		data, err := proto.Marshal(ev)
		if err != nil {
			return fmt.Errorf("actors: encode event: %w", err)
		}
		b.Put(logKey(ev.GetSeq()), data)
	}
	if out.Save {
		data, err := proto.Marshal(next.Session)
		if err != nil {
			return fmt.Errorf("actors: encode state: %w", err)
		}
		b.Put(keyState, data)
	}
	for _, e := range out.Effects {
		switch e := e.(type) {
		case pipeline.PutFile:
			b.Put(prefixFile+e.Path, e.Content)
		case pipeline.DeleteFile:
			b.Delete(prefixFile + e.Path)
		case pipeline.PutBlob:
			b.Put(prefixBlob+e.Sha256, e.Content)
		case pipeline.RecordVersion:
			if err := g.writeVersion(b, e); err != nil {
				return err
			}
		case pipeline.ArmAlarm:
			b.SetAlarm(g.rt.cfg.Now().Add(g.rt.cfg.Watchdog))
		case pipeline.DisarmAlarm:
			b.DeleteAlarm()
		}
	}
	return b.Commit()
}

// perform does an effect that comes after the commit.
func (g *sessionGrain) perform(ctx actor.Context, e pipeline.Effect) {
	switch e := e.(type) {
	case pipeline.RunStep:
		g.runStep(ctx, e.Spec)
	case pipeline.CancelStep:
		g.stopWork(false)
	case pipeline.RunIdleCheck:
		g.runIdleCheck(ctx, e.Run, e.Fix)
	case pipeline.CancelIdleCheck:
		g.stopIdleCheck(false)
	}
}

// fail feeds a failure of the current step (its start or its commit) to
// the pipeline. If even that cannot be recorded the alarm stays armed, so
// the session is retried after a restart rather than lost.
func (g *sessionGrain) fail(ctx actor.Context, cause error) {
	g.log().Warn("session step failed", "phase", g.s.Session.GetPhase().String(), "err", cause)
	if _, err := g.step(ctx, pipeline.Failed{Err: cause}); err != nil {
		g.logWriteFailure("record failure", err)
		g.stopWork(false)
		g.s.Working, g.s.Streams = false, nil
	}
}

// logWriteFailure logs a failed write of the session's state: as a
// warning when the cluster refused or could not confirm it (the
// activation was superseded, no majority answered, the grain moves or
// the node leaves; with every node shutting down, that is what happens),
// since the session's next owner or its watchdog alarm takes it up
// again; as an error otherwise (storage failed).
func (g *sessionGrain) logWriteFailure(msg string, err error) {
	var unavailable *cluster.UnavailableError
	if errors.Is(err, cluster.ErrFenced) || errors.Is(err, cluster.ErrOutcomeUnknown) || errors.Is(err, cluster.ErrNoQuorum) ||
		errors.Is(err, cluster.ErrMoving) || errors.Is(err, cluster.ErrDraining) || errors.As(err, &unavailable) {
		g.log().Warn(msg, "err", err)
		return
	}
	g.log().Error(msg, "err", err)
}

// respond answers a request with the step's reply or refusal, or err.
func (g *sessionGrain) respond(ctx actor.Context, what string, out pipeline.Output, err error) {
	switch {
	case err != nil:
		var ae *Error
		if errors.As(err, &ae) {
			ctx.Respond(&actorsv1.GrainError{Code: ae.Code, Message: ae.Message})
			return
		}
		ctx.Respond(writeErr(what, err))
	case out.Refusal != nil:
		r := out.Refusal
		ctx.Respond(&actorsv1.GrainError{Code: r.Code, Message: r.Message, RetryAfterMs: r.RetryAfterMs})
	case out.Reply != nil:
		ctx.Respond(out.Reply)
	default:
		ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_INTERNAL, "%s: no answer", what))
	}
}

// tellWatchersMoved asks watchers to re-subscribe: this activation is
// stopping (the session moves, or the node leaves) and its subscriber list
// goes with it.
func (g *sessionGrain) tellWatchersMoved(ctx actor.Context) {
	for _, pid := range g.subs {
		ctx.Send(pid, &actorsv1.WatchMoved{})
	}
}

func (g *sessionGrain) onStarted(ctx actor.Context) {
	ctx.SetReceiveTimeout(g.ref.Node.PassivateAfter())
	if err := g.load(); err != nil {
		// Storage is unreadable: requests report it (never "not found",
		// which would invite creating the session anew).
		g.loadErr = err
		g.log().Error("session load failed", "err", err)
		return
	}
	if g.s.Session != nil && g.s.Session.Owner == "" {
		// A session from before the apps index: it belongs to the one
		// local user. The owner is saved with the next state write; the
		// report lists it now.
		g.s.Session.Owner = LocalOwner
		g.reportApp(g.s.Session, g.s.LastSeq)
	}
	if g.s.Session != nil && pipeline.Active(g.s.Session.Phase) {
		if _, err := g.step(ctx, pipeline.Activated{}); err != nil {
			g.logWriteFailure("resume failed", err)
			return
		}
		g.log().Info("session resumed", "phase", g.s.Session.Phase.String())
		return
	}
	g.scheduleCompaction(ctx)
}

// load reads the session's state and the seq of its last event (the
// greatest log key: appends write no other bookkeeping).
func (g *sessionGrain) load() error {
	b, err := g.ref.Store.Get(keyState)
	if errors.Is(err, cluster.ErrNotFound) {
		g.s = pipeline.State{}
		return nil
	}
	if err != nil {
		return err
	}
	st := &actorsv1.SessionState{}
	if err := proto.Unmarshal(b, st); err != nil {
		return fmt.Errorf("actors: session state: %w", err)
	}
	var lastSeq uint64
	key, _, err := g.ref.Store.Last(prefixLog)
	switch {
	case errors.Is(err, cluster.ErrNotFound):
	case err != nil:
		return err
	default:
		if lastSeq, err = strconv.ParseUint(strings.TrimPrefix(key, prefixLog), 10, 64); err != nil {
			return fmt.Errorf("actors: log key %q: %w", key, err)
		}
	}
	g.s = pipeline.State{Session: st, LastSeq: lastSeq}
	return nil
}

func (g *sessionGrain) onAlarm(ctx actor.Context) {
	if g.loadErr != nil {
		ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_UNAVAILABLE, "session state unreadable: %v", g.loadErr))
		return
	}
	if g.s.Session != nil && pipeline.Active(g.s.Session.Phase) {
		if err := g.ref.Store.SetAlarm(g.rt.cfg.Now().Add(g.rt.cfg.Watchdog)); err != nil {
			ctx.Respond(writeErr("re-arm alarm", err))
			return
		}
	}
	ctx.Respond(&actorsv1.AlarmAck{})
}

func (g *sessionGrain) onCreate(ctx actor.Context, m *actorsv1.CreateSession) {
	if g.loadErr != nil {
		ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_UNAVAILABLE, "session %s cannot be read from storage; retry later", g.ref.Identity))
		return
	}
	if g.s.Session != nil {
		ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS, "session %s already exists", g.ref.Identity))
		return
	}
	if !mayAccess(m.GetCaller(), cmp.Or(m.GetOwner(), LocalOwner)) {
		ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "a session is created for its caller only"))
		return
	}
	prov, ok := g.rt.Provider(m.GetOptions().GetProvider())
	if !ok {
		ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "provider %q is not configured on this node", m.GetOptions().GetProvider()))
		return
	}
	out, err := g.step(ctx, pipeline.Create{ID: g.ref.Identity, Prompt: m.GetPrompt(), Options: m.GetOptions(),
		ProviderName: prov.Name(), ProviderLabel: prov.Label(), Region: cluster.RegionOf(g.ref.Identity), Owner: cmp.Or(m.GetOwner(), LocalOwner)})
	g.respond(ctx, "record session", out, err)
}

func subKey(addr, id string) string { return addr + "/" + id }

func (g *sessionGrain) onRequest(ctx actor.Context, msg any) {
	st := g.s.Session
	switch m := msg.(type) {
	case *actorsv1.Subscribe:
		pid := actor.NewPID(m.GetSubscriberAddress(), m.GetSubscriberId())
		k := subKey(m.GetSubscriberAddress(), m.GetSubscriberId())
		if _, ok := g.subs[k]; !ok {
			if g.subs == nil {
				g.subs = map[string]*actor.PID{}
			}
			g.subs[k] = pid
			ctx.Watch(pid)
		}
		reply := &actorsv1.SubscribeReply{LastSeq: g.s.LastSeq, Phase: st.Phase}
		// No tail for a watcher behind the compaction point: its catch-up
		// reads the log, whose reply starts with the LogCompacted notice.
		if n := int(m.GetTailLimit()); n > 0 && m.GetTailAfterSeq() < g.s.LastSeq && compactedSince(st, m.GetTailAfterSeq()) == nil {
			tail, err := g.logPage(m.GetTailAfterSeq(), min(n, maxLogPage))
			if err != nil {
				ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_INTERNAL, "read log: %v", err))
				return
			}
			reply.Tail = tail
		}
		ctx.Respond(reply)
	case *actorsv1.Unsubscribe:
		k := subKey(m.GetSubscriberAddress(), m.GetSubscriberId())
		if pid, ok := g.subs[k]; ok {
			ctx.Unwatch(pid)
			delete(g.subs, k)
		}
		ctx.Respond(&actorsv1.UnsubscribeReply{})
	case *actorsv1.ReadLog:
		g.onReadLog(ctx, m)
	case *actorsv1.GetSnapshot:
		snap := g.snapshot()
		owner := cmp.Or(st.Owner, LocalOwner)
		snap.Owned = mayChangeVisibility(m.GetCaller(), owner)
		if c := m.GetCaller(); !snap.Owned && !c.GetAdmin() && !c.GetNode() {
			// NB: the cluster's node names are the owner's and admins'
			// business: a reader of a public app learns none.
			snap.Node = ""
		}
		ctx.Respond(&actorsv1.SnapshotReply{Session: snap, Owner: owner})
	case *actorsv1.SetVisibility:
		g.onSetVisibility(ctx, m)
	case *actorsv1.ListFiles:
		if v := m.GetVersion(); v > 0 {
			rec, err := g.loadVersion(v)
			if err != nil {
				g.respond(ctx, "list files", pipeline.Output{}, err)
				return
			}
			ctx.Respond(&actorsv1.ListFilesReply{Files: pipeline.Files(rec), Owner: cmp.Or(st.Owner, LocalOwner)})
			return
		}
		ctx.Respond(&actorsv1.ListFilesReply{Files: pipeline.CurrentFiles(st), Owner: cmp.Or(st.Owner, LocalOwner)})
	case *actorsv1.ReadFile:
		g.onReadFile(ctx, m)
	case *actorsv1.DeleteSession:
		g.onDelete(ctx)
	case *actorsv1.ListVersions:
		g.onListVersions(ctx)
	case *actorsv1.DiffVersions:
		g.onDiffVersions(ctx, m)
	case *actorsv1.RollbackSession:
		g.onRollback(ctx, m)
	case *actorsv1.PostMessage:
		out, err := g.step(ctx, pipeline.Message{Text: m.GetText(), Key: m.GetIdempotencyKey()})
		if r, ok := out.Reply.(*actorsv1.PostMessageReply); ok && err == nil {
			r.Epoch, r.Node = g.ref.Store.ClaimEpoch(), g.ref.Node.Name()
		}
		g.respond(ctx, "record message", out, err)
	case *actorsv1.StopSession:
		out, err := g.step(ctx, pipeline.Stop{})
		g.respond(ctx, "record stop", out, err)
	case *actorsv1.ResumeSession:
		out, err := g.step(ctx, pipeline.Resume{})
		g.respond(ctx, "record resume", out, err)
	case *actorsv1.PreviewReport:
		out, err := g.step(ctx, pipeline.PreviewReport{Report: m})
		g.respond(ctx, "record preview report", out, err)
	case *actorsv1.FixProblems:
		out, err := g.step(ctx, pipeline.FixProblems{})
		g.respond(ctx, "fix problems", out, err)
	case *actorsv1.SaveFile:
		in := pipeline.SaveFile{Path: m.GetPath(), Content: m.GetContent(), BaseSha256: m.GetBaseSha256()}
		if _, exists := g.s.Session.GetFiles()[in.Path]; exists {
			prev, err := g.ref.Store.Get(prefixFile + in.Path)
			if err != nil {
				g.respond(ctx, "save file", pipeline.Output{}, fmt.Errorf("actors: read %q: %w", in.Path, err))
				return
			}
			in.Previous = string(prev)
		}
		out, err := g.step(ctx, in)
		g.respond(ctx, "save file", out, err)
	default:
		ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "session grain does not handle %T", msg))
	}
}

func (g *sessionGrain) onReadLog(ctx actor.Context, m *actorsv1.ReadLog) {
	last := g.s.LastSeq
	if m.GetAfterSeq() > last {
		ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_OUT_OF_RANGE, "after_seq %d is beyond the last event %d of session %s", m.GetAfterSeq(), last, g.s.Session.Id))
		return
	}
	limit := int(m.GetLimit())
	if limit <= 0 {
		limit = defaultLogPage
	}
	limit = min(limit, maxLogPage)
	events, err := g.logPage(m.GetAfterSeq(), limit)
	if err != nil {
		ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_INTERNAL, "read log: %v", err))
		return
	}
	ctx.Respond(&actorsv1.ReadLogReply{LastSeq: last, Compacted: compactedSince(g.s.Session, m.GetAfterSeq()), Events: events})
}

// logPage reads up to limit logged events after afterSeq, oldest first.
func (g *sessionGrain) logPage(afterSeq uint64, limit int) ([]*stichv1.SessionEvent, error) {
	after := ""
	if afterSeq > 0 {
		after = logKey(afterSeq)
	}
	var events []*stichv1.SessionEvent
	err := g.ref.Store.List(prefixLog, after, limit, func(_ string, v []byte) error {
		ev := &stichv1.SessionEvent{}
		if err := proto.Unmarshal(v, ev); err != nil {
			return err
		}
		events = append(events, ev)
		return nil
	})
	return events, err
}

func (g *sessionGrain) onReadFile(ctx actor.Context, m *actorsv1.ReadFile) {
	st := g.s.Session
	if v := m.GetVersion(); v > 0 {
		rec, err := g.loadVersion(v)
		if err != nil {
			g.respond(ctx, "read file", pipeline.Output{}, err)
			return
		}
		sha, ok := rec.GetFiles()[m.GetPath()]
		if !ok {
			ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND, "version %d of session %s has no file %q", v, st.Id, m.GetPath()))
			return
		}
		content, err := g.blob(sha)
		if err != nil {
			g.respond(ctx, "read file", pipeline.Output{}, err)
			return
		}
		ctx.Respond(&actorsv1.ReadFileReply{File: &stichv1.File{Path: m.GetPath(), Content: content, Sha256: sha}})
		return
	}
	info, ok := st.Files[m.GetPath()]
	if !ok {
		ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND, "session %s has no file %q", st.Id, m.GetPath()))
		return
	}
	data, err := g.ref.Store.Get(prefixFile + m.GetPath())
	if err != nil {
		ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_INTERNAL, "read file %q: %v", m.GetPath(), err))
		return
	}
	ctx.Respond(&actorsv1.ReadFileReply{File: &stichv1.File{Path: m.GetPath(), Content: string(data), Sha256: info.GetSha256()}})
}

func (g *sessionGrain) snapshot() *stichv1.Session {
	st := g.s.Session
	snap := &stichv1.Session{
		Id: st.Id, Prompt: st.Prompt, Phase: st.Phase, ProviderLabel: st.ProviderLabel,
		Blueprint: st.Blueprint, Files: pipeline.CurrentFiles(st), LastSeq: g.s.LastSeq,
		CreatedAt: st.CreatedAt, UpdatedAt: st.UpdatedAt, Error: st.Error, Region: st.Region, Node: g.ref.Node.Name(),
		Version: st.Versions, Visibility: st.GetVisibility(), ForkedFrom: st.GetForkedFrom(),
		Counters: &stichv1.SessionCounters{
			PhasesCompleted: st.PhasesCompleted, PhaseBudget: st.PhaseBudget, FilesWritten: st.FilesWritten,
			Messages: st.Messages, RefinementsPending: uint32(len(st.PendingMessages)), Events: g.s.LastSeq, Resumes: st.Resumes,
		},
	}
	if len(st.Usage) > 0 {
		pipeline.SnapshotUsage(st, snap)
	} else if prov, ok := g.rt.Provider(st.GetOptions().GetProvider()); ok {
		// A session from before usage was recorded in its state: what the
		// provider counted since this node started.
		if ur, ok := prov.(codegen.UsageReporter); ok {
			u := ur.SessionUsage(st.Id)
			c := snap.Counters
			c.PromptTokens, c.CompletionTokens, c.CostUsd, c.ModelRequests, c.UsageEstimated = u.PromptTokens, u.CompletionTokens, u.CostUSD, u.Requests, u.Estimated
		}
	}
	return snap
}

// onDelete stops the work, deletes every key of the session (state, log,
// files, versions) and its alarm, and asks watchers to re-subscribe, which
// they then cannot: from now on the session answers NOT_FOUND.
func (g *sessionGrain) onDelete(ctx actor.Context) {
	g.stopJobs(true)
	g.stopCompactTimer()
	g.s.Working, g.s.Checking, g.s.Streams = false, false, nil
	if err := g.ref.Store.DeleteAll(); err != nil {
		ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_INTERNAL, "delete session: %v", err))
		return
	}
	g.log().Info("session deleted")
	g.tellWatchersMoved(ctx)
	for _, pid := range g.subs {
		ctx.Unwatch(pid)
	}
	g.subs = nil
	// Run numbers go on, so that nothing queued from the old work passes
	// for new work.
	g.s = pipeline.State{Run: g.s.Run, IdleRun: g.s.IdleRun}
	// Leave memory soon, as for an unknown session.
	ctx.SetReceiveTimeout(time.Second)
	ctx.Respond(&actorsv1.DeleteSessionReply{})
}
