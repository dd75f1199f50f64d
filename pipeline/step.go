package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stichdev/stich/codegen"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// RefinementBudget is what a user's message resets the phase budget to.
const RefinementBudget = 3

// MaxPendingMessages bounds the refinements a session queues.
const MaxPendingMessages = 20

// maxPreviewReportsPerMinute bounds the preview error reports a session
// records per minute; a page stuck in an error loop must not flood the log.
const maxPreviewReportsPerMinute = 20

// NotCheckedText is the log line of an edit or rollback on a node that
// runs no builds.
const NotCheckedText = "not checked: this server runs no builds (--sandbox off)"

// idleRunBit marks the run numbers of idle checks, so their log lines
// never pass for a step's.
const idleRunBit = 1 << 63

// Step applies one input to s at time now. It does no I/O; see the
// package doc for what the driver does with the output.
func (c Config) Step(s State, now time.Time, in Input) (State, Output) {
	t := &tx{cfg: c, s0: s, s: s, now: now, ts: timestamppb.New(now)}
	if s.Session == nil {
		switch in.(type) {
		case Message, Stop, Resume, PreviewReport, SaveFile, Rollback, SetVisibility, FixProblems:
			t.refuse(actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND, "the session does not exist")
			return t.s, t.out
		}
	}
	if s.Session != nil && asksChange(s.Session, in) {
		if err := c.Quota.check(s.Session, s.LastSeq, true); err != nil {
			t.refuse(actorsv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED, "%v", err)
			return t.s, t.out
		}
	}
	switch in := in.(type) {
	case Create:
		t.create(in)
	case Fork:
		t.fork(in)
	case SetVisibility:
		t.setVisibility(in.Visibility)
	case Activated:
		t.activated()
	case Message:
		t.message(in)
	case Stop:
		t.stop()
	case Resume:
		t.resume()
	case Work:
		if s.Session != nil && s.Working && in.Run == s.Run {
			if err := t.work(in); err != nil {
				t.fail(err)
			}
		}
	case Result:
		if s.Session != nil && s.Working && in.Run == s.Run {
			t.result(in)
		}
	case Failed:
		if s.Session != nil && Active(s.Session.Phase) {
			t.fail(in.Err)
		}
	case SandboxLog:
		if s.Session != nil && (in.Run == s.Run && s.Working || in.Run == s.IdleRun && s.Checking) {
			t.sandboxLog(in)
		}
	case IdleCheckDone:
		if s.Session != nil && s.Checking && in.Run == s.IdleRun {
			t.s.Checking = false
			if s.Fixing {
				t.s.Fixing = false
				t.fixDone(in)
				break
			}
			evs, _, _ := applyCheck(proto.Clone(s.Session).(*actorsv1.SessionState), in.Reply, s.Announced == in.Run) // no fixer ran: nothing to write
			t.emit(evs...)
		}
	case FixProblems:
		t.fixProblems()
	case Usage:
		t.usage(in)
	case PreviewReport:
		t.previewReport(in.Report)
	case SaveFile:
		t.saveFile(in)
	case Rollback:
		t.rollback(in)
	default:
		panic(fmt.Sprintf("pipeline: unknown input %T", in))
	}
	if t.out.Refusal == nil && t.s.Session != nil && Active(t.s.Session.Phase) {
		// A generation that passed a quota stops here.
		if err := c.Quota.check(t.s.Session, t.s.LastSeq, false); err != nil {
			t.fail(err)
		}
	}
	if t.out.Save && t.out.Refusal == nil {
		t.s.Session.UpdatedAt = t.ts
	}
	return t.s, t.out
}

// asksChange reports whether in is a change a user asks for, which a
// session past a quota refuses. A retried message (its idempotency key
// already recorded) is not: it is answered as before.
func asksChange(st *actorsv1.SessionState, in Input) bool {
	switch in := in.(type) {
	case Message:
		for _, k := range st.GetMessageKeys() {
			if in.Key != "" && k.GetKey() == in.Key {
				return false
			}
		}
		return true
	case Resume, SaveFile, Rollback, FixProblems:
		return true
	}
	return false
}

// tx is one Step in progress.
type tx struct {
	cfg    Config
	s0, s  State
	now    time.Time
	ts     *timestamppb.Timestamp
	out    Output
	cloned bool
}

// st returns the session state to change: a clone of the input's, made
// on first use, saved with the output.
func (t *tx) st() *actorsv1.SessionState {
	if !t.cloned {
		t.s.Session = proto.Clone(t.s.Session).(*actorsv1.SessionState)
		t.cloned = true
	}
	t.out.Save = true
	return t.s.Session
}

// emit appends events, assigning contiguous seqs.
func (t *tx) emit(evs ...*stichv1.SessionEvent) {
	for _, ev := range evs {
		t.s.LastSeq++
		ev.Seq, ev.Time = t.s.LastSeq, t.ts
		if ev.GetVersionCreated() != nil {
			// The point up to which the log may be compacted (actors/compact.go).
			t.st().LastVersionSeq = ev.Seq
		}
		t.out.Events = append(t.out.Events, ev)
	}
}

func (t *tx) effect(e ...Effect) { t.out.Effects = append(t.out.Effects, e...) }

// refuse refuses the request: whatever was planned is dropped.
func (t *tx) refuse(code actorsv1.ErrorCode, format string, args ...any) {
	t.s, t.out = t.s0, Output{Refusal: &Refusal{Code: code, Message: fmt.Sprintf(format, args...)}}
}

func phaseEvent(p stichv1.Phase, index uint32, name, desc string) *stichv1.SessionEvent {
	return &stichv1.SessionEvent{Event: &stichv1.SessionEvent_PhaseChanged{PhaseChanged: &stichv1.PhaseChanged{
		Phase: p, Index: index, Name: name, Description: desc}}}
}

func chat(role, text string) *stichv1.SessionEvent {
	return &stichv1.SessionEvent{Event: &stichv1.SessionEvent_Message{Message: &stichv1.ChatMessage{Role: role, Text: text}}}
}

func logLine(source, level, text string) *stichv1.SessionEvent {
	return &stichv1.SessionEvent{Event: &stichv1.SessionEvent_Log{Log: &stichv1.LogLine{Source: source, Level: level, Text: text}}}
}

// Sha256 is the hex SHA-256 of s, as files are addressed.
func Sha256(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// Truncate shortens s to at most n runes, marking the cut.
func Truncate(s string, n int) string {
	r := []rune(strings.Join(strings.Fields(s), " "))
	if len(r) <= n {
		return string(r)
	}
	return string(r[:n]) + "…"
}

func phaseName(p stichv1.Phase) string {
	return strings.ToLower(strings.TrimPrefix(p.String(), "PHASE_"))
}

// startStep starts the provider step of the session's phase, replacing
// any step or idle check still running.
func (t *tx) startStep() {
	st := t.s.Session
	if !Active(st.Phase) {
		return
	}
	if t.s.Checking {
		t.s.Checking, t.s.Fixing = false, false
		t.effect(CancelIdleCheck{})
	}
	t.s.Run++
	t.s.Working = true
	t.s.Streams = map[string]*strings.Builder{}
	t.effect(RunStep{Spec: t.cfg.spec(st, t.s.Run)})
}

// stopWork forgets the running step, if any, and asks to cancel it.
func (t *tx) stopWork() {
	if t.s.Working {
		t.effect(CancelStep{})
	}
	t.s.Working, t.s.Streams = false, nil
}

// fail ends the current step with an error: the session goes to FAILED
// (resumable). Whatever the step had planned is dropped.
func (t *tx) fail(cause error) {
	t.s, t.out, t.cloned = t.s0, Output{}, false
	t.stopWork()
	st := t.st()
	st.ResumePhase, st.Phase, st.Error = st.Phase, stichv1.Phase_PHASE_FAILED, cause.Error()
	code := "internal"
	retryable := true
	switch {
	case errors.Is(cause, codegen.ErrBadPath) || errors.Is(cause, ErrProtocol):
		code = "invalid_argument"
	case errors.Is(cause, ErrQuota):
		code, retryable = "resource_exhausted", false
	}
	t.emit(&stichv1.SessionEvent{Event: &stichv1.SessionEvent_Error{Error: &stichv1.ErrorEvent{Code: code, Message: cause.Error(), Retryable: retryable}}},
		phaseEvent(stichv1.Phase_PHASE_FAILED, st.PhaseIndex, "", "failed; resume to retry"))
	t.effect(DisarmAlarm{})
}

func (t *tx) create(m Create) {
	if t.s.Session != nil {
		t.refuse(actorsv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS, "session %s already exists", t.s.Session.Id)
		return
	}
	opts := &stichv1.SessionOptions{}
	if m.Options != nil {
		opts = proto.Clone(m.Options).(*stichv1.SessionOptions)
	}
	opts.Provider = m.ProviderName
	t.s.Session, t.cloned, t.out.Save = &actorsv1.SessionState{
		Id: m.ID, Prompt: m.Prompt, Options: opts, ProviderLabel: m.ProviderLabel,
		Phase: stichv1.Phase_PHASE_PLANNING, PhaseBudget: uint32(t.cfg.PhaseBudget),
		Files: map[string]*stichv1.FileInfo{}, CreatedAt: t.ts, WorkStartedAt: t.ts,
		Region: m.Region, WorkReason: "generation", Owner: m.Owner,
	}, true, true
	st := t.s.Session
	t.emit(&stichv1.SessionEvent{Event: &stichv1.SessionEvent_GenerationStarted{GenerationStarted: &stichv1.GenerationStarted{
		Prompt: st.Prompt, ProviderLabel: st.ProviderLabel, Model: opts.GetModel()}}},
		phaseEvent(stichv1.Phase_PHASE_PLANNING, 0, "Blueprint", "planning the app"))
	t.effect(ArmAlarm{})
	t.out.Reply = &actorsv1.CreateSessionReply{ProviderLabel: st.ProviderLabel}
	t.startStep()
}

// fork makes the session as a copy of m.Files: one version, idle, with
// the origin recorded. The files were another app's, checked when they
// were written there; they are checked again here all the same (a fork
// is a write like any other).
func (t *tx) fork(m Fork) {
	if t.s.Session != nil {
		t.refuse(actorsv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS, "session %s already exists", t.s.Session.Id)
		return
	}
	if len(m.Files) == 0 {
		t.refuse(actorsv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, "the app has no files to fork")
		return
	}
	if len(m.Files) > codegen.MaxFiles {
		t.refuse(actorsv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED, "the app has %d files; an app may have at most %d", len(m.Files), codegen.MaxFiles)
		return
	}
	opts := &stichv1.SessionOptions{}
	if m.Options != nil {
		opts = proto.Clone(m.Options).(*stichv1.SessionOptions)
	}
	opts.Provider = m.ProviderName
	st := &actorsv1.SessionState{
		Id: m.ID, Prompt: m.Prompt, Options: opts, ProviderLabel: m.ProviderLabel,
		Phase: stichv1.Phase_PHASE_COMPLETED, PhaseBudget: uint32(t.cfg.PhaseBudget),
		Files: map[string]*stichv1.FileInfo{}, CreatedAt: t.ts, WorkStartedAt: t.ts,
		Region: m.Region, WorkReason: "fork", Owner: m.Owner,
		ForkedFrom: proto.Clone(m.Origin).(*stichv1.ForkOrigin),
	}
	if m.Blueprint != nil {
		st.Blueprint = proto.Clone(m.Blueprint).(*stichv1.Blueprint)
	}
	contents := make(map[string][]byte, len(m.Files))
	var evs []*stichv1.SessionEvent
	for _, p := range sortedKeys(m.Files) {
		content := m.Files[p]
		if err := codegen.CheckPath(p); err != nil {
			t.refuse(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "%v", err)
			return
		}
		if len(content) > codegen.MaxFileBytes {
			t.refuse(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "%s is %d bytes; a file of an app may have at most %d", p, len(content), codegen.MaxFileBytes)
			return
		}
		sum := Sha256(content)
		st.Files[p] = &stichv1.FileInfo{Path: p, Size: uint64(len(content)), Sha256: sum}
		contents[p] = []byte(content)
		evs = append(evs, FileEvents(p, "forked", content, sum)...)
	}
	t.s.Session, t.cloned, t.out.Save = st, true, true
	origin := m.Origin.GetSessionId()
	t.emit(&stichv1.SessionEvent{Event: &stichv1.SessionEvent_GenerationStarted{GenerationStarted: &stichv1.GenerationStarted{
		Prompt: st.Prompt, ProviderLabel: st.ProviderLabel, Model: opts.GetModel()}}},
		logLine("agent", "info", fmt.Sprintf("forked from %s, version %d", origin, m.Origin.GetVersion())))
	t.emit(evs...)
	vev, rec := newVersion(st, fmt.Sprintf("forked from %s version %d", origin, m.Origin.GetVersion()), contents, t.ts)
	t.emit(vev, phaseEvent(stichv1.Phase_PHASE_COMPLETED, 0, "", "the app is ready"),
		&stichv1.SessionEvent{Event: &stichv1.SessionEvent_Completed{Completed: &stichv1.Completed{Files: uint32(len(st.Files))}}})
	for p, c := range contents {
		t.effect(PutFile{Path: p, Content: c})
	}
	t.effect(rec)
	t.out.Reply = &actorsv1.CreateSessionReply{ProviderLabel: st.ProviderLabel}
	t.checkIdle()
}

// visibilityNames are the words the log uses for each visibility.
var visibilityNames = map[stichv1.Visibility]string{
	stichv1.Visibility_VISIBILITY_UNSPECIFIED: "private", stichv1.Visibility_VISIBILITY_PRIVATE: "private",
	stichv1.Visibility_VISIBILITY_UNLISTED: "unlisted", stichv1.Visibility_VISIBILITY_PUBLIC: "public",
}

// setVisibility records who may read the session, with a log line (whose
// seq orders the session's reports to its indexes after the change).
func (t *tx) setVisibility(v stichv1.Visibility) {
	name, ok := visibilityNames[v]
	if !ok || v == stichv1.Visibility_VISIBILITY_UNSPECIFIED {
		t.refuse(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "visibility %d is not private, unlisted or public", v)
		return
	}
	prev := t.s.Session.GetVisibility()
	t.out.Reply = &actorsv1.SetVisibilityReply{Previous: prev}
	if prev == v {
		return
	}
	t.st().Visibility = v
	t.emit(logLine("agent", "info", "the app is now "+name))
}

func (t *tx) activated() {
	if t.s.Session == nil || !Active(t.s.Session.Phase) {
		return
	}
	st := t.st()
	st.Resumes++
	t.emit(&stichv1.SessionEvent{Event: &stichv1.SessionEvent_GenerationResumed{GenerationResumed: &stichv1.GenerationResumed{
		Reason: "interrupted work resumed after a restart", Phase: st.Phase}}})
	t.effect(ArmAlarm{})
	t.startStep()
}

// maxMessageKeys bounds the idempotency keys a session remembers; a
// client retries within seconds, long before 64 more messages arrive.
const maxMessageKeys = 64

func (t *tx) message(m Message) {
	cur := t.s.Session
	if m.Key != "" {
		for _, k := range cur.MessageKeys {
			if k.GetKey() != m.Key {
				continue
			}
			if k.GetTextSha256() != Sha256(m.Text) {
				t.refuse(actorsv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS,
					"idempotency key %q was already used for a different message in session %s; send a new key", m.Key, cur.Id)
				return
			}
			t.out.Reply = &actorsv1.PostMessageReply{Seq: k.GetSeq()} // a retry: recorded already
			return
		}
	}
	if len(cur.PendingMessages) >= MaxPendingMessages {
		t.refuse(actorsv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED,
			"session %s already has %d queued messages; wait for them to be applied", cur.Id, MaxPendingMessages)
		t.out.Refusal.RetryAfterMs = 10_000
		return
	}
	st := t.st()
	st.Messages++
	st.PendingMessages = append(st.PendingMessages, m.Text)
	st.PhaseBudget = max(st.PhaseBudget, RefinementBudget)
	t.emit(chat("user", m.Text))
	seq := t.s.LastSeq
	if m.Key != "" {
		st.MessageKeys = append(st.MessageKeys, &actorsv1.MessageKey{Key: m.Key, TextSha256: Sha256(m.Text), Seq: seq})
		if n := len(st.MessageKeys); n > maxMessageKeys {
			st.MessageKeys = st.MessageKeys[n-maxMessageKeys:]
		}
	}
	t.out.Reply = &actorsv1.PostMessageReply{Seq: seq}
	if st.Phase == stichv1.Phase_PHASE_COMPLETED {
		st.Phase = stichv1.Phase_PHASE_PLANNING
		st.WorkStartedAt = t.ts
		st.Error = ""
		st.WorkReason = "refinement: " + Truncate(m.Text, 120)
		startRefining(st)
		t.emit(phaseEvent(stichv1.Phase_PHASE_PLANNING, 0, "Refinement", "planning the change"))
		t.effect(ArmAlarm{})
		t.startStep()
	}
}

func (t *tx) stop() {
	if !Active(t.s.Session.Phase) {
		t.out.Reply = &actorsv1.PhaseReply{Phase: t.s.Session.Phase}
		return
	}
	t.stopWork()
	st := t.st()
	st.ResumePhase, st.Phase = st.Phase, stichv1.Phase_PHASE_STOPPED
	t.emit(&stichv1.SessionEvent{Event: &stichv1.SessionEvent_GenerationStopped{GenerationStopped: &stichv1.GenerationStopped{Reason: "stopped by a client"}}},
		phaseEvent(stichv1.Phase_PHASE_STOPPED, st.PhaseIndex, "", "stopped; resume to continue"))
	t.effect(DisarmAlarm{})
	t.out.Reply = &actorsv1.PhaseReply{Phase: st.Phase}
}

func (t *tx) resume() {
	if p := t.s.Session.Phase; p != stichv1.Phase_PHASE_STOPPED && p != stichv1.Phase_PHASE_FAILED {
		t.out.Reply = &actorsv1.PhaseReply{Phase: p}
		return
	}
	st := t.st()
	st.Phase = st.ResumePhase
	if !Active(st.Phase) {
		st.Phase = stichv1.Phase_PHASE_PLANNING
	}
	st.ResumePhase, st.Error = stichv1.Phase_PHASE_UNSPECIFIED, ""
	st.Resumes++
	t.emit(&stichv1.SessionEvent{Event: &stichv1.SessionEvent_GenerationResumed{GenerationResumed: &stichv1.GenerationResumed{Reason: "resumed by a client", Phase: st.Phase}}},
		phaseEvent(st.Phase, st.PhaseIndex, st.GetCurrent().GetName(), "resuming"))
	t.effect(ArmAlarm{})
	t.out.Reply = &actorsv1.PhaseReply{Phase: st.Phase}
	t.startStep()
}

// work applies one piece of a step's streamed output.
func (t *tx) work(m Work) error {
	cur := t.s.Session
	switch m.Kind {
	case WorkLog:
		t.emit(logLine("agent", "info", m.Data))
		return nil
	case WorkCheckStep:
		if s := m.Step; s != nil && checkSteps[s.GetStep()] {
			t.emit(checkStep(s.GetStep(), s.GetEnded(), s.GetDurationMs(), Truncate(s.GetOutcome(), 200)))
		}
		return nil
	case WorkFileAborted:
		delete(t.s.Streams, m.Path)
		t.emit(logLine("agent", "warn", fmt.Sprintf("discarded %s: %s", m.Path, m.Data)))
		return nil
	case WorkFileKept:
		st := t.st()
		t.rebase(st, m)
		if m.Data != "" {
			st.WorkNotes = appendNote(st.WorkNotes, m.Data)
			t.emit(logLine("agent", "warn", m.Data))
		}
		return nil
	case WorkFileDeleted:
		if _, ok := cur.Files[m.Path]; !ok {
			return nil
		}
		delete(t.st().Files, m.Path)
		t.effect(DeleteFile{Path: m.Path})
		t.emit(&stichv1.SessionEvent{Event: &stichv1.SessionEvent_FileDeleted{FileDeleted: &stichv1.FileDeleted{Path: m.Path}}})
		return nil
	case WorkFileStarted:
		if err := codegen.CheckPath(m.Path); err != nil {
			return err
		}
		if q, ok := t.caseConflict(m.Path); ok {
			return fmt.Errorf("%w %q: differs from %q only by letter case", codegen.ErrBadPath, m.Path, q)
		}
		if _, exists := cur.Files[m.Path]; !exists && len(cur.Files)+len(t.s.Streams) >= codegen.MaxFiles {
			return fmt.Errorf("%w: more than %d files", ErrProtocol, codegen.MaxFiles)
		}
		t.s.Streams[m.Path] = &strings.Builder{}
		t.emit(&stichv1.SessionEvent{Event: &stichv1.SessionEvent_FileStarted{FileStarted: &stichv1.FileStarted{Path: m.Path, Purpose: m.Purpose}}})
		return nil
	case WorkFileChunk:
		b, ok := t.s.Streams[m.Path]
		if !ok {
			return fmt.Errorf("%w: chunk for %q before it started", ErrProtocol, m.Path)
		}
		if b.Len()+len(m.Data) > codegen.MaxFileBytes {
			return fmt.Errorf("%w: %q is larger than %d bytes", ErrProtocol, m.Path, codegen.MaxFileBytes)
		}
		b.WriteString(m.Data)
		t.emit(&stichv1.SessionEvent{Event: &stichv1.SessionEvent_FileChunk{FileChunk: &stichv1.FileChunk{Path: m.Path, Data: m.Data}}})
		return nil
	case WorkFileDone:
		b, ok := t.s.Streams[m.Path]
		if !ok {
			return fmt.Errorf("%w: %q done before it started", ErrProtocol, m.Path)
		}
		content := b.String()
		delete(t.s.Streams, m.Path)
		info := &stichv1.FileInfo{Path: m.Path, Size: uint64(len(content)), Sha256: Sha256(content)}
		st := t.st()
		if st.Files == nil {
			st.Files = map[string]*stichv1.FileInfo{}
		}
		st.Files[m.Path] = info
		st.FilesWritten++
		st.PhaseFilesDone = append(st.PhaseFilesDone, m.Path)
		if st.Refining && m.Lines != nil {
			if st.WorkLines == nil {
				st.WorkLines = map[string]*stichv1.LineCount{}
			}
			st.WorkLines[m.Path] = m.Lines
		}
		t.rebase(st, m)
		t.effect(PutFile{Path: m.Path, Content: []byte(content)})
		t.emit(&stichv1.SessionEvent{Event: &stichv1.SessionEvent_FileDone{FileDone: &stichv1.FileDone{Path: m.Path, Size: info.Size, Sha256: info.Sha256}}})
		return nil
	}
	return fmt.Errorf("%w: unknown event", ErrProtocol)
}

// result ends the current step and moves to the next phase.
func (t *tx) result(m Result) {
	t.s.Working, t.s.Streams = false, nil // the worker has ended
	if m.Err != nil {
		t.fail(m.Err)
		return
	}
	if m.Planned {
		t.phasePlanned(m.Plan)
		return
	}
	st := t.st()
	var evs []*stichv1.SessionEvent
	var effects []Effect
	done := false
	switch st.Phase {
	case stichv1.Phase_PHASE_PLANNING:
		if m.Refine != nil {
			evs, effects = planRefinement(st, m.Refine, m.Compaction)
			for _, n := range m.Refine.NotDone {
				if strings.TrimSpace(n) != "" {
					st.WorkNotes = appendNote(st.WorkNotes, n)
				}
			}
			for _, ev := range evs {
				if l := ev.GetLog(); l != nil && l.GetLevel() == "warn" && strings.HasPrefix(l.GetText(), "kept ") {
					st.WorkNotes = appendNote(st.WorkNotes, l.GetText())
				}
			}
		} else {
			if m.Blueprint == nil || len(m.Blueprint.GetRoadmap()) == 0 {
				t.fail(fmt.Errorf("%w: the blueprint has no implementation phases", ErrProtocol))
				return
			}
			st.Blueprint = m.Blueprint
			st.PhaseIndex = 0
			st.Current = m.Blueprint.GetRoadmap()[0]
			evs = append(evs, &stichv1.SessionEvent{Event: &stichv1.SessionEvent_Blueprint{Blueprint: &stichv1.BlueprintReady{Blueprint: m.Blueprint}}})
		}
		st.PhaseFilesDone, st.FixRounds = nil, 0
		st.Phase = stichv1.Phase_PHASE_GENERATING
		evs = append(evs, phaseEvent(st.Phase, st.PhaseIndex, st.GetCurrent().GetName(), st.GetCurrent().GetDescription()))
	case stichv1.Phase_PHASE_GENERATING, stichv1.Phase_PHASE_FIXING:
		st.Phase = stichv1.Phase_PHASE_REVIEWING
		st.PhaseFilesDone = nil
		desc := "reviewing the files"
		if t.cfg.Builds {
			// Said, so that the step is never a silent wait: its sub-steps
			// follow as CheckStep events.
			desc = "checking the app: installing, type-checking, bundling and running it, then reviewing the files"
		}
		evs = append(evs, phaseEvent(st.Phase, st.PhaseIndex, st.GetCurrent().GetName(), desc))
	case stichv1.Phase_PHASE_REVIEWING:
		diags := m.Diags
		var fixed map[string][]byte // files the fixer changed, written by this batch
		if m.Check != nil {
			var problems []*stichv1.Diagnostic
			evs, fixed, problems = applyCheck(st, m.Check, t.s.Announced == m.Run)
			for _, p := range sortedKeys(fixed) {
				effects = append(effects, PutFile{Path: p, Content: fixed[p]})
				if l := m.Lines[p]; st.Refining && l != nil {
					if st.WorkLines == nil {
						st.WorkLines = map[string]*stichv1.LineCount{}
					}
					st.WorkLines[p] = l
				}
			}
			diags = append(problems, diags...)
		}
		evs = append(evs, &stichv1.SessionEvent{Event: &stichv1.SessionEvent_Diagnostics{Diagnostics: &stichv1.DiagnosticsReported{Tool: "review", Diagnostics: diags}}})
		if len(diags) > 0 && st.FixRounds < uint32(t.cfg.MaxFixRounds) {
			st.FixRounds++
			st.Diagnostics = diags
			st.Phase = stichv1.Phase_PHASE_FIXING
			evs = append(evs, phaseEvent(st.Phase, st.PhaseIndex, st.GetCurrent().GetName(), fmt.Sprintf("fixing %d problem(s), round %d", len(diags), st.FixRounds)))
			break
		}
		if len(diags) > 0 {
			evs = append(evs, chat("assistant", fmt.Sprintf("%d problem(s) remain after %d fix round(s); ask me to debug them.", len(diags), st.FixRounds)))
		}
		var more []*stichv1.SessionEvent
		more, done = t.advance(st)
		evs = append(evs, more...)
		if !done && st.Current == nil {
			st.Diagnostics = diags // what is left, for planning the next phase
		}
		if done {
			// The version and the change card precede Completed, which
			// stays the last event of the work.
			last := evs[len(evs)-1]
			evs = evs[:len(evs)-1]
			card := changeCard(st)
			if !st.Refining || len(card.Files) > 0 || st.Versions == 0 {
				vev, rec := newVersion(st, st.WorkReason, fixed, t.ts)
				evs = append(evs, vev)
				effects = append(effects, rec)
				card.Version = st.Versions
			}
			if st.Refining {
				evs = append(evs, &stichv1.SessionEvent{Event: &stichv1.SessionEvent_ChangeCard{ChangeCard: card}})
			}
			evs = append(evs, last)
			effects = append(effects, DisarmAlarm{})
			st.WorkReason = ""
			st.Refining, st.WorkBase, st.WorkLines, st.WorkNotes = false, nil, nil, nil
		}
	default:
		return
	}
	if !done && !hasAlarm(effects) {
		effects = append(effects, ArmAlarm{})
	}
	t.emit(evs...)
	t.effect(effects...)
	t.startStep()
}

func hasAlarm(effects []Effect) bool {
	for _, e := range effects {
		switch e.(type) {
		case ArmAlarm, DisarmAlarm:
			return true
		}
	}
	return false
}

// advance ends the current implementation phase and picks what is next:
// the next roadmap phase, a queued refinement, or completion. It reports
// whether the session is now idle.
func (t *tx) advance(st *actorsv1.SessionState) ([]*stichv1.SessionEvent, bool) {
	st.PhasesCompleted++
	if st.PhaseBudget > 0 {
		st.PhaseBudget--
	}
	st.FixRounds, st.Diagnostics = 0, nil
	roadmap := st.GetBlueprint().GetRoadmap()
	if !st.GetCurrent().GetLastPhase() && int(st.PhaseIndex)+1 < len(roadmap) && st.PhaseBudget > 0 {
		st.PhaseIndex++
		st.Current = nil // planned before it is implemented: see phasePlanned
		st.Phase = stichv1.Phase_PHASE_GENERATING
		return []*stichv1.SessionEvent{logLine("agent", "info", fmt.Sprintf("planning phase %d (%s)", st.PhaseIndex+1, roadmap[st.PhaseIndex].GetName()))}, false
	}
	if len(st.PendingMessages) > 0 {
		st.Phase = stichv1.Phase_PHASE_PLANNING
		return []*stichv1.SessionEvent{phaseEvent(st.Phase, st.PhaseIndex, "Refinement", "planning the change")}, false
	}
	st.Phase = stichv1.Phase_PHASE_COMPLETED
	dur := t.now.Sub(st.GetWorkStartedAt().AsTime())
	return []*stichv1.SessionEvent{
		phaseEvent(st.Phase, st.PhaseIndex, "", "the app is ready"),
		{Event: &stichv1.SessionEvent_Completed{Completed: &stichv1.Completed{
			Files: uint32(len(st.Files)), Phases: st.PhasesCompleted, DurationMs: uint64(max(dur, 0) / time.Millisecond)}}},
	}, true
}

// Phase planning. The blueprint plans the first implementation phase;
// each later one is planned when the session enters it:
//
//  1. advance moves to the next roadmap index with state GENERATING and
//     no current phase (Current == nil), and logs that it is planning.
//  2. startStep, seeing no current phase, asks the provider's PlanPhase
//     (from the blueprint, the phases done, the files, the problems the
//     last review left and the queued messages).
//  3. phasePlanned checks the plan (keeping the roadmap's entry when it is
//     unusable), records it as the current phase and in the roadmap,
//     announces the phase, and starts implementing it.
//
// A session interrupted between 1 and 3 plans again when it resumes.
func (t *tx) phasePlanned(plan *stichv1.PhasePlan) {
	st := t.st()
	roadmap := st.GetBlueprint().GetRoadmap()
	i := int(st.PhaseIndex)
	if i >= len(roadmap) {
		t.fail(fmt.Errorf("%w: phase %d is beyond the roadmap's %d phases", ErrProtocol, i+1, len(roadmap)))
		return
	}
	var evs []*stichv1.SessionEvent
	if err := codegen.CheckPhase(plan); err != nil {
		evs = append(evs, logLine("agent", "warn", fmt.Sprintf("unusable plan for phase %d (%v); following the blueprint's roadmap", i+1, err)))
		plan = roadmap[i]
	}
	plan = proto.Clone(plan).(*stichv1.PhasePlan)
	if i == len(roadmap)-1 {
		plan.LastPhase = true // a plan cannot extend the roadmap
	}
	if !proto.Equal(plan, roadmap[i]) {
		roadmap[i] = plan
		evs = append(evs, &stichv1.SessionEvent{Event: &stichv1.SessionEvent_Blueprint{Blueprint: &stichv1.BlueprintReady{Blueprint: st.Blueprint}}})
	}
	st.Current, st.Diagnostics, st.PhaseFilesDone, st.FixRounds = plan, nil, nil, 0
	evs = append(evs, phaseEvent(st.Phase, st.PhaseIndex, plan.GetName(), plan.GetDescription()))
	t.emit(evs...)
	t.effect(ArmAlarm{})
	t.startStep()
}

// planRefinement applies a provider's plan for the first queued message.
func planRefinement(st *actorsv1.SessionState, r *codegen.Refinement, c *Compaction) ([]*stichv1.SessionEvent, []Effect) {
	msg := st.PendingMessages[0]
	st.PendingMessages = st.PendingMessages[1:]
	if reason := "refinement: " + Truncate(msg, 120); st.WorkReason != reason {
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
	effects := []Effect{ArmAlarm{}}
	for _, p := range r.Deleted {
		if _, edited := st.UserEdits[p]; edited {
			if _, ok := st.Files[p]; ok {
				evs = append(evs, logLine("agent", "warn", fmt.Sprintf("kept %s, which you edited; not applied: the change would delete it", p)))
				continue
			}
		}
		if _, ok := st.Files[p]; ok {
			delete(st.Files, p)
			effects = append(effects, DeleteFile{Path: p})
			evs = append(evs, &stichv1.SessionEvent{Event: &stichv1.SessionEvent_FileDeleted{FileDeleted: &stichv1.FileDeleted{Path: p}}})
		}
	}
	return evs, effects
}

// sandboxLog records a check's progress lines as log events.
func (t *tx) sandboxLog(m SandboxLog) {
	for _, l := range m.Lines {
		level := l.GetLevel()
		switch level {
		case "info", "warn", "error":
		default:
			level = "info"
		}
		t.emit(logLine(l.GetSource(), level, l.GetText()))
	}
	if m.Dropped > 0 {
		t.emit(logLine("sandbox", "warn", fmt.Sprintf("%d more output lines were not kept", m.Dropped)))
	}
	for i, s := range m.Steps {
		if i >= maxStepsPerLog {
			break
		}
		if !checkSteps[s.GetStep()] {
			continue
		}
		t.emit(checkStep(s.GetStep(), s.GetEnded(), s.GetDurationMs(), Truncate(s.GetOutcome(), 200)))
	}
	if m.PreviewURL != "" && t.s.Announced != m.Run {
		// The build is served: the preview is usable now; the runtime
		// check's outcome follows with the check's reply.
		t.s.Announced = m.Run
		t.emit(previewReady(m.PreviewURL))
	}
}

// checkSteps are the sub-steps a check reports (CheckStep.step).
var checkSteps = map[string]bool{"install": true, "typecheck": true, "bundle": true, "runtime": true, "review": true}

// maxStepsPerLog bounds the sub-steps one SandboxLog records (a check has
// at most eight starts and ends).
const maxStepsPerLog = 16

func checkStep(step string, ended bool, ms uint64, outcome string) *stichv1.SessionEvent {
	return &stichv1.SessionEvent{Event: &stichv1.SessionEvent_CheckStep{CheckStep: &stichv1.CheckStep{
		Step: step, Ended: ended, DurationMs: ms, Outcome: outcome}}}
}

// previewReport records an error a running preview reported, as a log
// line and a runtime diagnostic, for the user and the next fix.
func (t *tx) previewReport(m *actorsv1.PreviewReport) {
	if t.now.Sub(t.s.ReportWindow) > time.Minute {
		t.s.ReportWindow, t.s.Reports = t.now, 0
	}
	t.s.Reports++
	if t.s.Reports > maxPreviewReportsPerMinute {
		reports, window := t.s.Reports, t.s.ReportWindow
		t.refuse(actorsv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED, "too many preview error reports; retry in a minute")
		t.s.Reports, t.s.ReportWindow = reports, window
		return
	}
	text := m.GetKind() + ": " + Truncate(m.GetMessage(), 2000)
	if m.GetSource() != "" {
		text += fmt.Sprintf(" (%s:%d:%d)", Truncate(m.GetSource(), 200), m.GetLine(), m.GetColumn())
	}
	d := &stichv1.Diagnostic{Code: m.GetKind(), File: Truncate(m.GetSource(), 200), Line: m.GetLine(), Column: m.GetColumn(), Message: Truncate(m.GetMessage(), 2000), Severity: "error"}
	t.emit(logLine("preview", "error", text),
		&stichv1.SessionEvent{Event: &stichv1.SessionEvent_Diagnostics{Diagnostics: &stichv1.DiagnosticsReported{Tool: "runtime", Diagnostics: []*stichv1.Diagnostic{d}}}})
	t.out.Reply = &actorsv1.PreviewReportAck{}
}

// checkIdle checks the idle session's files in the sandbox again (no
// fixer: the files are the user's choice). A newer check replaces a
// running one.
func (t *tx) checkIdle() {
	if !t.cfg.Builds {
		// Said, so that no client waits for a check that never comes.
		t.emit(logLine("sandbox", "info", NotCheckedText))
		return
	}
	t.s.IdleRun = (t.s.IdleRun + 1) | idleRunBit
	t.s.Checking, t.s.Fixing = true, false
	t.effect(RunIdleCheck{Run: t.s.IdleRun})
}

// fixProblems runs the fixer on the idle session's current files: a check
// like the one after an edit, whose fixed files are kept (fixDone). The
// fixer never runs on the user's edits unless asked, here.
func (t *tx) fixProblems() {
	cur := t.s.Session
	if Active(cur.Phase) {
		t.refuse(actorsv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION,
			"session %s is %s; the fixer runs after each phase already: wait for it to finish", cur.Id, phaseName(cur.Phase))
		return
	}
	if !t.cfg.Builds {
		t.refuse(actorsv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, "this server runs no builds (--sandbox off), so it has no fixer to run")
		return
	}
	if len(cur.Files) == 0 {
		t.refuse(actorsv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, "the app has no files to fix")
		return
	}
	if t.s.Fixing && t.s.Checking {
		t.out.Reply = &actorsv1.FixProblemsReply{} // already running: the same answer comes
		return
	}
	t.s.IdleRun = (t.s.IdleRun + 1) | idleRunBit
	t.s.Checking, t.s.Fixing = true, true
	t.emit(logLine("fixer", "info", "fixing problems on request: checking the current files with the fixer"))
	t.effect(RunIdleCheck{Run: t.s.IdleRun, Fix: true})
	t.out.Reply = &actorsv1.FixProblemsReply{}
}

// maxUnfixedNotes bounds the problems a fix's card lists as not fixed.
const maxUnfixedNotes = 20

// fixDone records a requested fix: the files the fixer changed as a new
// version with a change card (per file, and the problems left with why),
// or, when it changed nothing, a card with no version that says what it
// could not fix.
func (t *tx) fixDone(in IdleCheckDone) {
	if Active(t.s.Session.Phase) {
		return // work started meanwhile (it runs the fixer itself)
	}
	st := t.st()
	base := make(map[string]string, len(st.Files))
	for p, info := range st.Files {
		base[p] = info.GetSha256()
	}
	evs, fixed, problems := applyCheck(st, in.Reply, t.s.Announced == in.Run)
	card := &stichv1.ChangeCard{Request: "fix problems"}
	for _, p := range sortedKeys(fixed) {
		fc := &stichv1.FileChange{Path: p, Change: "modified"}
		if _, had := base[p]; !had {
			fc.Change = "added"
		}
		_, fc.MergedUserEdits = st.UserEdits[p]
		card.Files = append(card.Files, fc)
	}
	for _, f := range in.Reply.GetFixes() {
		for _, fc := range card.Files {
			if fc.Path == strings.TrimPrefix(f.GetFile(), "/") && len(fc.Fixes) < maxWorkNotes {
				fc.Fixes = appendNote(fc.Fixes, f.GetDescription())
			}
		}
	}
	if e := in.Reply.GetError(); e != "" {
		card.NotDone = appendNote(card.NotDone, "the check did not run to the end: "+e)
	}
	for i, d := range problems {
		if i == maxUnfixedNotes {
			card.NotDone = appendNote(card.NotDone, fmt.Sprintf("and %d more problem(s)", len(problems)-i))
			break
		}
		card.NotDone = appendNote(card.NotDone, "not fixed: "+describeDiag(d)+" (no fixer rule repairs it; ask in the chat)")
	}
	effects := make([]Effect, 0, len(fixed)+1)
	for _, p := range sortedKeys(fixed) {
		effects = append(effects, PutFile{Path: p, Content: fixed[p]})
	}
	if len(fixed) > 0 {
		vev, rec := newVersion(st, fmt.Sprintf("fixed problems in %d file(s)", len(fixed)), fixed, t.ts)
		card.Version = st.Versions
		evs = append(evs, vev)
		effects = append(effects, rec)
	}
	var text string
	switch {
	case len(fixed) > 0 && len(problems) == 0:
		text = fmt.Sprintf("Fixed the problems: %d file(s) changed (version %d).", len(fixed), card.Version)
	case len(fixed) > 0:
		text = fmt.Sprintf("Fixed some problems: %d file(s) changed (version %d); could not fix %d problem(s).", len(fixed), card.Version, len(problems))
	case in.Reply.GetError() != "":
		text = "Could not run the fixer: " + in.Reply.GetError()
	case len(problems) == 0:
		text = "The fixer found no problems to fix; nothing changed."
	default:
		text = fmt.Sprintf("Could not fix %d problem(s); nothing changed, so no version was made.", len(problems))
	}
	evs = append(evs, chat("assistant", text), &stichv1.SessionEvent{Event: &stichv1.SessionEvent_ChangeCard{ChangeCard: card}})
	t.emit(evs...)
	t.effect(effects...)
}

// describeDiag is a problem as one line: file:line, message and code.
func describeDiag(d *stichv1.Diagnostic) string {
	where := d.GetFile()
	if where != "" && d.GetLine() > 0 {
		where = fmt.Sprintf("%s:%d", where, d.GetLine())
	}
	msg := Truncate(d.GetMessage(), 200)
	if c := d.GetCode(); c != "" {
		msg += " (" + c + ")"
	}
	if where == "" {
		return msg
	}
	return where + ": " + msg
}

// saveFile records a user's edit of one file as a new version.
func (t *tx) saveFile(m SaveFile) {
	cur := t.s.Session
	if Active(cur.Phase) {
		t.refuse(actorsv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION,
			"session %s is %s; stop it or wait for it to finish before editing files", cur.Id, phaseName(cur.Phase))
		return
	}
	p, content := m.Path, m.Content
	if err := codegen.CheckPath(p); err != nil {
		t.refuse(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "%v", err)
		return
	}
	if q, ok := t.caseConflict(p); ok {
		t.refuse(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT,
			"%s differs from the app's %s only by letter case; such names are one file on macOS and Windows: edit %s or rename it", p, q, q)
		return
	}
	if len(content) > codegen.MaxFileBytes {
		t.refuse(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "%s is %d bytes; a file of an app may have at most %d", p, len(content), codegen.MaxFileBytes)
		return
	}
	info, exists := cur.Files[p]
	if base := m.BaseSha256; base != "" && (!exists || info.GetSha256() != base) {
		t.refuse(actorsv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, "%s changed since you opened it; reload it and apply your edit again", p)
		return
	}
	if !exists && len(cur.Files) >= codegen.MaxFiles {
		t.refuse(actorsv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED, "the app has %d files, the most it may have", len(cur.Files))
		return
	}
	sum := Sha256(content)
	if exists && info.GetSha256() == sum {
		t.out.Reply = &actorsv1.SaveFileReply{}
		return
	}
	st := t.st()
	if st.Files == nil {
		st.Files = map[string]*stichv1.FileInfo{}
	}
	st.Files[p] = &stichv1.FileInfo{Path: p, Size: uint64(len(content)), Sha256: sum}
	base, edited := st.UserEdits[p]
	switch {
	case !edited:
		if st.UserEdits == nil {
			st.UserEdits = map[string]string{}
		}
		st.UserEdits[p] = info.GetSha256() // "" for a file the user added
		if exists {
			if Sha256(m.Previous) != info.GetSha256() {
				t.refuse(actorsv1.ErrorCode_ERROR_CODE_INTERNAL, "save %s: its stored content was not loaded", p)
				return
			}
			// No version may hold the base yet (a stopped generation).
			t.effect(PutBlob{Sha256: info.GetSha256(), Content: []byte(m.Previous)})
		}
	case base == sum:
		delete(st.UserEdits, p) // back to the generated content
	}
	vev, rec := newVersion(st, "edited "+p, map[string][]byte{p: []byte(content)}, t.ts)
	t.emit(FileEvents(p, "edited by you", content, sum)...)
	t.emit(vev)
	t.effect(PutFile{Path: p, Content: []byte(content)}, rec)
	t.out.Reply = &actorsv1.SaveFileReply{Version: vev.GetVersionCreated().GetVersion()}
	t.checkIdle()
}

// RollbackBlobs lists the blobs a rollback of st to target needs: those
// of the files that differ.
func RollbackBlobs(st *actorsv1.SessionState, target *actorsv1.VersionRecord) []string {
	var out []string
	for p, sha := range target.GetFiles() {
		if cur, ok := st.GetFiles()[p]; !ok || cur.GetSha256() != sha {
			out = append(out, sha)
		}
	}
	return out
}

// rollback restores a version's files as a new version. Changed files are
// re-streamed as events (so a client rebuilding files from the log stays
// right) and written, removed files deleted, in one batch.
func (t *tx) rollback(m Rollback) {
	cur := t.s.Session
	if Active(cur.Phase) {
		t.refuse(actorsv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION,
			"session %s is %s; stop it or wait for it to finish before rolling back", cur.Id, phaseName(cur.Phase))
		return
	}
	target := m.Target
	if target == nil {
		t.refuse(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "rollback of session %s: no version given", cur.Id)
		return
	}
	st := t.st()
	var evs []*stichv1.SessionEvent
	var effects []Effect
	writes := map[string][]byte{}
	for _, p := range sortedKeys(target.GetFiles()) {
		sha := target.GetFiles()[p]
		if info, ok := st.Files[p]; ok && info.GetSha256() == sha {
			continue
		}
		content, ok := m.Blobs[sha]
		if !ok {
			t.refuse(actorsv1.ErrorCode_ERROR_CODE_INTERNAL, "rollback of session %s: the content of %s (version %d) was not loaded", cur.Id, p, target.GetNumber())
			return
		}
		evs = append(evs, FileEvents(p, fmt.Sprintf("restored from version %d", target.GetNumber()), content, sha)...)
		writes[p] = []byte(content)
		effects = append(effects, PutFile{Path: p, Content: []byte(content)})
		if st.Files == nil {
			st.Files = map[string]*stichv1.FileInfo{}
		}
		st.Files[p] = &stichv1.FileInfo{Path: p, Size: uint64(len(content)), Sha256: sha}
	}
	for _, p := range sortedKeys(st.Files) {
		if _, ok := target.GetFiles()[p]; !ok {
			delete(st.Files, p)
			effects = append(effects, DeleteFile{Path: p})
			evs = append(evs, &stichv1.SessionEvent{Event: &stichv1.SessionEvent_FileDeleted{FileDeleted: &stichv1.FileDeleted{Path: p}}})
		}
	}
	for p, base := range st.UserEdits {
		if info, ok := st.Files[p]; !ok || info.GetSha256() == base {
			delete(st.UserEdits, p)
		}
	}
	vev, rec := newVersion(st, fmt.Sprintf("rollback to version %d", target.GetNumber()), writes, t.ts)
	t.emit(append(evs, vev)...)
	t.effect(append(effects, rec)...)
	t.out.Reply = &actorsv1.RollbackReply{Version: vev.GetVersionCreated().GetVersion()}
	t.checkIdle()
}

// usage adds a model request's usage to the session's rows. While the step
// that made it runs, the rows are saved with the state when the step ends
// (its result, a failure or a stop is always saved): this keeps a write
// off the path from the blueprint to the first streamed file; a crash
// before the step ends loses that step's usage, and the step is redone.
// Usage that arrives when no step runs is saved at once.
func (t *tx) usage(m Usage) {
	if t.s.Session == nil {
		return
	}
	addUsage(t.st(), m)
	if t.s.Working {
		t.out.Save = false
	}
}

// caseConflict returns the app's file (stored, or being written by the
// running step) whose path differs from p only by letter case: such names
// are one file on case-insensitive file systems (an app downloaded to macOS
// or Windows), so they are refused wherever a file enters the session, not
// only when a build syncs the workspace. With several, it returns the
// least, so that Step stays deterministic.
func (t *tx) caseConflict(p string) (string, bool) {
	q1, _ := caseTwin(p, t.s.Session.GetFiles())
	q2, _ := caseTwin(p, t.s.Streams)
	if q1 == "" || q2 != "" && q2 < q1 {
		return q2, q2 != ""
	}
	return q1, true
}

// caseTwin returns the least key of m that differs from p only by letter
// case.
func caseTwin[V any](p string, m map[string]V) (string, bool) {
	found := ""
	for q := range m {
		if q != p && strings.EqualFold(q, p) && (found == "" || q < found) {
			found = q
		}
	}
	return found, found != ""
}

// rebase records the new generated content of a file the user edited as
// the base of its next merge (and stores it: no version holds it).
func (t *tx) rebase(st *actorsv1.SessionState, m Work) {
	if _, edited := st.UserEdits[m.Path]; !edited || m.Base == "" || Sha256(m.BaseContent) != m.Base {
		return
	}
	st.UserEdits[m.Path] = m.Base
	t.effect(PutBlob{Sha256: m.Base, Content: []byte(m.BaseContent)})
}

// maxWorkNotes bounds the notes a piece of work keeps for its card.
const maxWorkNotes = 50

func appendNote(notes []string, n string) []string {
	for _, x := range notes {
		if x == n {
			return notes
		}
	}
	if len(notes) >= maxWorkNotes {
		return notes
	}
	return append(notes, Truncate(n, 500))
}

// changeCard compares the session's files with the work's base: what the
// work changed, file by file, and what it did not do.
func changeCard(st *actorsv1.SessionState) *stichv1.ChangeCard {
	card := &stichv1.ChangeCard{NotDone: append([]string(nil), st.WorkNotes...),
		Request: strings.TrimPrefix(st.WorkReason, "refinement: ")}
	paths := map[string]bool{}
	for p := range st.WorkBase {
		paths[p] = true
	}
	for p := range st.Files {
		paths[p] = true
	}
	for _, p := range sortedKeys(paths) {
		before, had := st.WorkBase[p]
		info, has := st.Files[p]
		fc := &stichv1.FileChange{Path: p}
		switch {
		case had && has && before == info.GetSha256():
			continue
		case !had:
			fc.Change = "added"
		case !has:
			fc.Change = "removed"
		default:
			fc.Change = "modified"
		}
		if has {
			fc.Lines = st.WorkLines[p]
			_, fc.MergedUserEdits = st.UserEdits[p]
		}
		card.Files = append(card.Files, fc)
	}
	return card
}

// startRefining starts a refinement's change card: the current files,
// those of the last version, are its base. (A message queued during the
// first generation is part of that work, which has no card: it records
// the first version.)
func startRefining(st *actorsv1.SessionState) {
	st.Refining, st.WorkLines, st.WorkNotes = true, nil, nil
	st.WorkBase = make(map[string]string, len(st.Files))
	for p, info := range st.Files {
		st.WorkBase[p] = info.GetSha256()
	}
}
