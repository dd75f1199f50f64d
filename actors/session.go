package actors

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stichdev/stich/cluster"
	"github.com/stichdev/stich/codegen"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

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

	st      *actorsv1.SessionState // nil until created
	loadErr error                  // why the state could not be read
	lastSeq uint64
	subs    map[string]*actor.PID

	// The worker of the current step, if any. run identifies it: messages
	// from an older run are ignored.
	run  uint64
	work *job
	// building holds files being streamed by the current step.
	building map[string]*strings.Builder
	// The check of an idle session (after an edit or a rollback).
	idleRun uint64
	idle    *job
	// Preview error reports counted in the current minute.
	reportWindow time.Time
	reports      int
}

func newSessionGrain(rt *Runtime, ref *cluster.GrainRef) *sessionGrain {
	return &sessionGrain{rt: rt, ref: ref, subs: map[string]*actor.PID{}}
}

// log returns the grain's logger, made on first use: most activations
// never log, and activation cost matters.
func (g *sessionGrain) log() *slog.Logger {
	if g.lg == nil {
		g.lg = g.rt.log.With("session", g.ref.Identity)
	}
	return g.lg
}

func active(p stichv1.Phase) bool {
	switch p {
	case stichv1.Phase_PHASE_PLANNING, stichv1.Phase_PHASE_GENERATING, stichv1.Phase_PHASE_REVIEWING, stichv1.Phase_PHASE_FIXING:
		return true
	}
	return false
}

func (g *sessionGrain) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		g.onStarted(ctx)
	case *actor.Stopping:
		g.stopWorker(true)
		g.stopIdleCheck(true)
		g.tellWatchersMoved(ctx)
	case *actor.Restarting:
		g.stopWorker(true)
		g.stopIdleCheck(true)
		g.tellWatchersMoved(ctx)
	case *actor.ReceiveTimeout:
		// protoactor disarms the timeout when it fires: arm it again while
		// work or watchers keep the session in memory.
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
	case *actorsv1.AlarmFired:
		g.onAlarm(ctx)
	case *workEvent:
		if m.run == g.run && g.work != nil {
			if err := g.onWorkEvent(ctx, m); err != nil {
				g.fail(ctx, err)
			}
		}
	case *workResult:
		if m.run == g.run && g.work != nil {
			g.onWorkResult(ctx, m)
		}
	case *idleCheckDone:
		if m.run == g.idleRun && g.idle != nil && g.st != nil {
			g.onIdleCheckDone(ctx, m)
		}
	case *actorsv1.SandboxLog:
		if g.st != nil && (m.GetRun() == g.run && g.work != nil || m.GetRun() == g.idleRun && g.idle != nil) {
			if err := g.onSandboxLog(ctx, m); err != nil {
				g.log().Error("sandbox log not recorded", "err", err)
			}
		}
	case *usageEvent:
		g.onUsage(ctx, m)
	default:
		if _, isReq := m.(proto.Message); !isReq {
			return
		}
		if g.loadErr != nil {
			ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_UNAVAILABLE, "session %s cannot be read from storage on node %s; retry later", g.ref.Identity, g.ref.Node.Name()))
			return
		}
		if g.st == nil {
			// Unknown session: refuse, and leave memory soon.
			ctx.SetReceiveTimeout(time.Second)
			ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND, "session %s does not exist", g.ref.Identity))
			return
		}
		g.onRequest(ctx, m)
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
	if g.st != nil && g.st.Owner == "" {
		// A session from before the apps index: it belongs to the one
		// local user. The owner is saved with the next state write; the
		// report lists it now.
		g.st.Owner = LocalOwner
		g.reportApp(g.st, g.lastSeq)
	}
	if g.st != nil && active(g.st.Phase) {
		g.st.Resumes++
		ev := &stichv1.SessionEvent{Event: &stichv1.SessionEvent_GenerationResumed{GenerationResumed: &stichv1.GenerationResumed{
			Reason: "interrupted work resumed after a restart", Phase: g.st.Phase}}}
		if err := g.commit(ctx, g.st, g.armAlarm, ev); err != nil {
			g.log().Error("resume failed", "err", err)
			return
		}
		g.log().Info("session resumed", "phase", g.st.Phase.String())
		g.startStep(ctx)
	}
}

// load reads the session's state and the seq of its last event (the
// greatest log key: appends write no other bookkeeping).
func (g *sessionGrain) load() error {
	b, err := g.ref.Store.Get(keyState)
	if errors.Is(err, cluster.ErrNotFound) {
		g.st, g.lastSeq = nil, 0
		return nil
	}
	if err != nil {
		return err
	}
	st := &actorsv1.SessionState{}
	if err := proto.Unmarshal(b, st); err != nil {
		return fmt.Errorf("actors: session state: %w", err)
	}
	key, _, err := g.ref.Store.Last(prefixLog)
	switch {
	case errors.Is(err, cluster.ErrNotFound):
		g.lastSeq = 0
	case err != nil:
		return err
	default:
		seq, err := strconv.ParseUint(strings.TrimPrefix(key, prefixLog), 10, 64)
		if err != nil {
			return fmt.Errorf("actors: log key %q: %w", key, err)
		}
		g.lastSeq = seq
	}
	g.st = st
	return nil
}

// commit durably appends events (assigning contiguous seqs), saves st when
// non-nil, applies extra writes, and only then fans the events out. On
// error nothing was written and nothing was sent.
func (g *sessionGrain) commit(ctx actor.Context, st *actorsv1.SessionState, extra func(*cluster.Batch), evs ...*stichv1.SessionEvent) error {
	b := g.ref.Store.NewBatch()
	defer b.Close()
	now := g.rt.cfg.Now()
	ts := timestamppb.New(now)
	seq := g.lastSeq
	for _, ev := range evs {
		seq++
		ev.Seq, ev.Time = seq, ts
		data, err := proto.Marshal(ev)
		if err != nil {
			return fmt.Errorf("actors: encode event: %w", err)
		}
		b.Put(logKey(seq), data)
	}
	if st != nil {
		st.UpdatedAt = ts
		data, err := proto.Marshal(st)
		if err != nil {
			return fmt.Errorf("actors: encode state: %w", err)
		}
		b.Put(keyState, data)
	}
	if extra != nil {
		extra(b)
	}
	if err := b.Commit(); err != nil {
		return err
	}
	g.lastSeq = seq
	if st != nil && (g.st == nil || st.Phase != g.st.Phase || st.Versions != g.st.Versions ||
		st.GetBlueprint().GetTitle() != g.st.GetBlueprint().GetTitle()) {
		g.reportApp(st, seq)
	}
	for _, ev := range evs {
		notice := &actorsv1.EventNotice{Event: ev}
		for _, pid := range g.subs {
			ctx.Send(pid, notice)
		}
	}
	return nil
}

func (g *sessionGrain) armAlarm(b *cluster.Batch) {
	b.SetAlarm(g.rt.cfg.Now().Add(g.rt.cfg.Watchdog))
}

func (g *sessionGrain) onAlarm(ctx actor.Context) {
	if g.loadErr != nil {
		ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_UNAVAILABLE, "session state unreadable: %v", g.loadErr))
		return
	}
	if g.st != nil && active(g.st.Phase) {
		if err := g.ref.Store.SetAlarm(g.rt.cfg.Now().Add(g.rt.cfg.Watchdog)); err != nil {
			ctx.Respond(writeErr("re-arm alarm", err))
			return
		}
	}
	ctx.Respond(&actorsv1.AlarmAck{})
}

func phaseEvent(p stichv1.Phase, index uint32, name, desc string) *stichv1.SessionEvent {
	return &stichv1.SessionEvent{Event: &stichv1.SessionEvent_PhaseChanged{PhaseChanged: &stichv1.PhaseChanged{
		Phase: p, Index: index, Name: name, Description: desc}}}
}

func (g *sessionGrain) onCreate(ctx actor.Context, m *actorsv1.CreateSession) {
	if g.loadErr != nil {
		ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_UNAVAILABLE, "session %s cannot be read from storage; retry later", g.ref.Identity))
		return
	}
	if g.st != nil {
		ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS, "session %s already exists", g.ref.Identity))
		return
	}
	prov, ok := g.rt.Provider(m.GetOptions().GetProvider())
	if !ok {
		ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "provider %q is not configured on this node", m.GetOptions().GetProvider()))
		return
	}
	now := timestamppb.New(g.rt.cfg.Now())
	st := &actorsv1.SessionState{
		Id: g.ref.Identity, Prompt: m.GetPrompt(), Options: m.GetOptions(), ProviderLabel: prov.Label(),
		Phase: stichv1.Phase_PHASE_PLANNING, PhaseBudget: uint32(g.rt.cfg.PhaseBudget),
		Files: map[string]*stichv1.FileInfo{}, CreatedAt: now, WorkStartedAt: now,
		Region: cluster.RegionOf(g.ref.Identity), WorkReason: "generation", Owner: cmp.Or(m.GetOwner(), LocalOwner),
	}
	if st.Options == nil {
		st.Options = &stichv1.SessionOptions{}
	}
	st.Options.Provider = prov.Name()
	err := g.commit(ctx, st, g.armAlarm,
		&stichv1.SessionEvent{Event: &stichv1.SessionEvent_GenerationStarted{GenerationStarted: &stichv1.GenerationStarted{
			Prompt: st.Prompt, ProviderLabel: st.ProviderLabel, Model: st.Options.GetModel()}}},
		phaseEvent(stichv1.Phase_PHASE_PLANNING, 0, "Blueprint", "planning the app"))
	if err != nil {
		ctx.Respond(writeErr("record session", err))
		return
	}
	g.st = st
	ctx.Respond(&actorsv1.CreateSessionReply{ProviderLabel: st.ProviderLabel})
	g.startStep(ctx)
}

func subKey(addr, id string) string { return addr + "/" + id }

func (g *sessionGrain) onRequest(ctx actor.Context, msg any) {
	switch m := msg.(type) {
	case *actorsv1.Subscribe:
		pid := actor.NewPID(m.GetSubscriberAddress(), m.GetSubscriberId())
		k := subKey(m.GetSubscriberAddress(), m.GetSubscriberId())
		if _, ok := g.subs[k]; !ok {
			g.subs[k] = pid
			ctx.Watch(pid)
		}
		ctx.Respond(&actorsv1.SubscribeReply{LastSeq: g.lastSeq, Phase: g.st.Phase})
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
		ctx.Respond(&actorsv1.SnapshotReply{Session: g.snapshot()})
	case *actorsv1.ListFiles:
		if v := m.GetVersion(); v > 0 {
			rec, err := g.loadVersion(v)
			if err != nil {
				g.respondErr(ctx, err)
				return
			}
			files := make([]*stichv1.FileInfo, 0, len(rec.GetFiles()))
			for p, sum := range rec.GetFiles() {
				files = append(files, &stichv1.FileInfo{Path: p, Sha256: sum})
			}
			sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
			ctx.Respond(&actorsv1.ListFilesReply{Files: files})
			return
		}
		ctx.Respond(&actorsv1.ListFilesReply{Files: g.fileInfos()})
	case *actorsv1.DeleteSession:
		g.onDelete(ctx)
	case *actorsv1.ListVersions:
		g.onListVersions(ctx)
	case *actorsv1.DiffVersions:
		g.onDiffVersions(ctx, m)
	case *actorsv1.RollbackSession:
		g.onRollback(ctx, m)
	case *actorsv1.ReadFile:
		if v := m.GetVersion(); v > 0 {
			rec, err := g.loadVersion(v)
			if err != nil {
				g.respondErr(ctx, err)
				return
			}
			sha, ok := rec.GetFiles()[m.GetPath()]
			if !ok {
				ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND, "version %d of session %s has no file %q", v, g.st.Id, m.GetPath()))
				return
			}
			content, err := g.blob(sha)
			if err != nil {
				g.respondErr(ctx, err)
				return
			}
			ctx.Respond(&actorsv1.ReadFileReply{File: &stichv1.File{Path: m.GetPath(), Content: content, Sha256: sha}})
			return
		}
		info, ok := g.st.Files[m.GetPath()]
		if !ok {
			ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND, "session %s has no file %q", g.st.Id, m.GetPath()))
			return
		}
		data, err := g.ref.Store.Get(prefixFile + m.GetPath())
		if err != nil {
			ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_INTERNAL, "read file %q: %v", m.GetPath(), err))
			return
		}
		ctx.Respond(&actorsv1.ReadFileReply{File: &stichv1.File{Path: m.GetPath(), Content: string(data), Sha256: info.GetSha256()}})
	case *actorsv1.PostMessage:
		g.onPostMessage(ctx, m)
	case *actorsv1.StopSession:
		g.onStop(ctx)
	case *actorsv1.ResumeSession:
		g.onResume(ctx)
	case *actorsv1.PreviewReport:
		g.onPreviewReport(ctx, m)
	case *actorsv1.SaveFile:
		g.onSaveFile(ctx, m)
	default:
		ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "session grain does not handle %T", msg))
	}
}

func (g *sessionGrain) onReadLog(ctx actor.Context, m *actorsv1.ReadLog) {
	if m.GetAfterSeq() > g.lastSeq {
		ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_OUT_OF_RANGE, "after_seq %d is beyond the last event %d of session %s", m.GetAfterSeq(), g.lastSeq, g.st.Id))
		return
	}
	limit := int(m.GetLimit())
	if limit <= 0 {
		limit = defaultLogPage
	}
	limit = min(limit, maxLogPage)
	reply := &actorsv1.ReadLogReply{LastSeq: g.lastSeq}
	after := ""
	if m.GetAfterSeq() > 0 {
		after = logKey(m.GetAfterSeq())
	}
	err := g.ref.Store.List(prefixLog, after, limit, func(_ string, v []byte) error {
		ev := &stichv1.SessionEvent{}
		if err := proto.Unmarshal(v, ev); err != nil {
			return err
		}
		reply.Events = append(reply.Events, ev)
		return nil
	})
	if err != nil {
		ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_INTERNAL, "read log: %v", err))
		return
	}
	ctx.Respond(reply)
}

func (g *sessionGrain) fileInfos() []*stichv1.FileInfo {
	out := make([]*stichv1.FileInfo, 0, len(g.st.Files))
	for _, f := range g.st.Files {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func (g *sessionGrain) snapshot() *stichv1.Session {
	st := g.st
	snap := &stichv1.Session{
		Id: st.Id, Prompt: st.Prompt, Phase: st.Phase, ProviderLabel: st.ProviderLabel,
		Blueprint: st.Blueprint, Files: g.fileInfos(), LastSeq: g.lastSeq,
		CreatedAt: st.CreatedAt, UpdatedAt: st.UpdatedAt, Error: st.Error, Region: st.Region, Node: g.ref.Node.Name(),
		Version: st.Versions,
		Counters: &stichv1.SessionCounters{
			PhasesCompleted: st.PhasesCompleted, PhaseBudget: st.PhaseBudget, FilesWritten: st.FilesWritten,
			Messages: st.Messages, RefinementsPending: uint32(len(st.PendingMessages)), Events: g.lastSeq, Resumes: st.Resumes,
		},
	}
	if len(st.Usage) > 0 {
		g.snapshotUsage(snap)
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

func chat(role, text string) *stichv1.SessionEvent {
	return &stichv1.SessionEvent{Event: &stichv1.SessionEvent_Message{Message: &stichv1.ChatMessage{Role: role, Text: text}}}
}

func logLine(source, level, text string) *stichv1.SessionEvent {
	return &stichv1.SessionEvent{Event: &stichv1.SessionEvent_Log{Log: &stichv1.LogLine{Source: source, Level: level, Text: text}}}
}

// refinementBudget is what a user's message resets the phase budget to.
const refinementBudget = 3

// maxPendingMessages bounds the refinements a session queues.
const maxPendingMessages = 20

func (g *sessionGrain) onPostMessage(ctx actor.Context, m *actorsv1.PostMessage) {
	if len(g.st.PendingMessages) >= maxPendingMessages {
		ctx.Respond(&actorsv1.GrainError{Code: actorsv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED, RetryAfterMs: 10_000,
			Message: fmt.Sprintf("session %s already has %d queued messages; wait for them to be applied", g.st.Id, maxPendingMessages)})
		return
	}
	st := proto.Clone(g.st).(*actorsv1.SessionState)
	st.Messages++
	st.PendingMessages = append(st.PendingMessages, m.GetText())
	st.PhaseBudget = max(st.PhaseBudget, refinementBudget)
	evs := []*stichv1.SessionEvent{chat("user", m.GetText())}
	start := false
	extra := func(*cluster.Batch) {}
	if st.Phase == stichv1.Phase_PHASE_COMPLETED {
		st.Phase = stichv1.Phase_PHASE_PLANNING
		st.WorkStartedAt = timestamppb.New(g.rt.cfg.Now())
		st.Error = ""
		st.WorkReason = "refinement: " + truncate(m.GetText(), 120)
		evs = append(evs, phaseEvent(stichv1.Phase_PHASE_PLANNING, 0, "Refinement", "planning the change"))
		extra = g.armAlarm
		start = true
	}
	if err := g.commit(ctx, st, extra, evs...); err != nil {
		ctx.Respond(writeErr("record message", err))
		return
	}
	g.st = st
	ctx.Respond(&actorsv1.PostMessageReply{Seq: evs[0].Seq})
	if start {
		g.startStep(ctx)
	}
}

func (g *sessionGrain) onStop(ctx actor.Context) {
	if !active(g.st.Phase) {
		ctx.Respond(&actorsv1.PhaseReply{Phase: g.st.Phase})
		return
	}
	g.stopWorker(false)
	st := proto.Clone(g.st).(*actorsv1.SessionState)
	st.ResumePhase, st.Phase = st.Phase, stichv1.Phase_PHASE_STOPPED
	err := g.commit(ctx, st, func(b *cluster.Batch) { b.DeleteAlarm() },
		&stichv1.SessionEvent{Event: &stichv1.SessionEvent_GenerationStopped{GenerationStopped: &stichv1.GenerationStopped{Reason: "stopped by a client"}}},
		phaseEvent(stichv1.Phase_PHASE_STOPPED, st.PhaseIndex, "", "stopped; resume to continue"))
	if err != nil {
		ctx.Respond(writeErr("record stop", err))
		return
	}
	g.st = st
	ctx.Respond(&actorsv1.PhaseReply{Phase: st.Phase})
}

func (g *sessionGrain) onResume(ctx actor.Context) {
	if g.st.Phase != stichv1.Phase_PHASE_STOPPED && g.st.Phase != stichv1.Phase_PHASE_FAILED {
		ctx.Respond(&actorsv1.PhaseReply{Phase: g.st.Phase})
		return
	}
	st := proto.Clone(g.st).(*actorsv1.SessionState)
	st.Phase = st.ResumePhase
	if !active(st.Phase) {
		st.Phase = stichv1.Phase_PHASE_PLANNING
	}
	st.ResumePhase, st.Error = stichv1.Phase_PHASE_UNSPECIFIED, ""
	st.Resumes++
	err := g.commit(ctx, st, g.armAlarm,
		&stichv1.SessionEvent{Event: &stichv1.SessionEvent_GenerationResumed{GenerationResumed: &stichv1.GenerationResumed{Reason: "resumed by a client", Phase: st.Phase}}},
		phaseEvent(st.Phase, st.PhaseIndex, st.GetCurrent().GetName(), "resuming"))
	if err != nil {
		ctx.Respond(writeErr("record resume", err))
		return
	}
	g.st = st
	ctx.Respond(&actorsv1.PhaseReply{Phase: st.Phase})
	g.startStep(ctx)
}

// onDelete stops the work, deletes every key of the session (state, log,
// files, versions) and its alarm, and asks watchers to re-subscribe, which
// they then cannot: from now on the session answers NOT_FOUND.
func (g *sessionGrain) onDelete(ctx actor.Context) {
	g.stopWorker(true)
	g.stopIdleCheck(true)
	if err := g.ref.Store.DeleteAll(); err != nil {
		ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_INTERNAL, "delete session: %v", err))
		return
	}
	g.log().Info("session deleted")
	g.tellWatchersMoved(ctx)
	for _, pid := range g.subs {
		ctx.Unwatch(pid)
	}
	g.subs = map[string]*actor.PID{}
	g.st, g.lastSeq = nil, 0
	// Leave memory soon, as for an unknown session.
	ctx.SetReceiveTimeout(time.Second)
	ctx.Respond(&actorsv1.DeleteSessionReply{})
}

// fail ends the current step with an error: the session goes to FAILED and
// can be resumed.
func (g *sessionGrain) fail(ctx actor.Context, cause error) {
	g.stopWorker(false)
	g.log().Warn("session step failed", "phase", g.st.Phase.String(), "err", cause)
	st := proto.Clone(g.st).(*actorsv1.SessionState)
	st.ResumePhase, st.Phase, st.Error = st.Phase, stichv1.Phase_PHASE_FAILED, cause.Error()
	code := "internal"
	if errors.Is(cause, codegen.ErrBadPath) || errors.Is(cause, errProtocol) {
		code = "invalid_argument"
	}
	err := g.commit(ctx, st, func(b *cluster.Batch) { b.DeleteAlarm() },
		&stichv1.SessionEvent{Event: &stichv1.SessionEvent_Error{Error: &stichv1.ErrorEvent{Code: code, Message: cause.Error(), Retryable: true}}},
		phaseEvent(stichv1.Phase_PHASE_FAILED, st.PhaseIndex, "", "failed; resume to retry"))
	if err != nil {
		// The failure could not be recorded; the alarm stays armed, so the
		// session is retried after a restart rather than lost.
		g.log().Error("record failure", "err", err)
		return
	}
	g.st = st
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// truncate shortens s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	r := []rune(strings.Join(strings.Fields(s), " "))
	if len(r) <= n {
		return string(r)
	}
	return string(r[:n]) + "…"
}
