package pipeline

import (
	"errors"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/stichdev/stich/codegen"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// ErrProtocol reports provider output that breaks the emitter protocol.
var ErrProtocol = errors.New("pipeline: invalid provider output")

// Config holds the rules' parameters.
type Config struct {
	// PhaseBudget bounds the implementation phases of one generation.
	PhaseBudget int
	// MaxFixRounds bounds review → fix rounds per phase.
	MaxFixRounds int
	// CompactTurns, CompactTokens and CompactKeep: see
	// actors.Config (past either bound, all but the last CompactKeep
	// turns are summarised before the next refinement).
	CompactTurns, CompactTokens, CompactKeep int
	// Builds: a sandbox check runs in each review and after edits.
	Builds bool
	// Quota bounds each session's storage.
	Quota Quota
}

// State is what Step works on. The zero State is a session that does not
// exist.
type State struct {
	// Session is the durable state; nil before Create. Never changed in
	// place.
	Session *actorsv1.SessionState
	// LastSeq is the seq of the last event in the log.
	LastSeq uint64

	// The rest is volatile: a State loaded from storage has it zero.

	// Run identifies the current provider step; Working says one runs.
	// Inputs from another run are ignored.
	Run     uint64
	Working bool
	// Streams holds the files the current step is streaming.
	Streams map[string]*strings.Builder
	// IdleRun identifies the check of an idle session (after an edit or a
	// rollback); Checking says one runs.
	IdleRun  uint64
	Checking bool
	// Fixing says the running idle check is a fix the user asked for
	// ([FixProblems]): its fixed files are kept.
	Fixing bool
	// Announced is the run (a step's or an idle check's) whose check
	// already announced its preview (PreviewReady when the build was
	// served, before its runtime check); 0 when none.
	Announced uint64
	// Preview error reports counted in the current minute.
	ReportWindow time.Time
	Reports      int
}

// Active reports whether a session in phase p has work to do.
func Active(p stichv1.Phase) bool {
	switch p {
	case stichv1.Phase_PHASE_PLANNING, stichv1.Phase_PHASE_GENERATING, stichv1.Phase_PHASE_REVIEWING, stichv1.Phase_PHASE_FIXING:
		return true
	}
	return false
}

// Input is what Step consumes: one of the types below.
type Input interface{ input() }

// Create makes the session. The driver has resolved the provider.
type Create struct {
	ID, Prompt, Owner, Region string
	Options                   *stichv1.SessionOptions
	ProviderName              string
	ProviderLabel             string
}

// Fork makes the session as a copy of another app's version: Files (path
// to content) become its first version, and it starts idle (completed).
type Fork struct {
	ID, Prompt, Owner, Region string
	Options                   *stichv1.SessionOptions
	ProviderName              string
	ProviderLabel             string
	Blueprint                 *stichv1.Blueprint
	Origin                    *stichv1.ForkOrigin
	Files                     map[string]string
}

// SetVisibility sets who may read the session (the driver checked that
// its owner asks).
type SetVisibility struct{ Visibility stichv1.Visibility }

// Activated is fed once after a stored state was loaded: interrupted work
// resumes.
type Activated struct{}

// Message is a user's chat message (a refinement request).
type Message struct {
	Text string
	// Key is the client's idempotency key ("" for none): a message
	// retried with the same key is recorded once.
	Key string
}

// Stop stops the work; Resume continues stopped or failed work.
type (
	Stop   struct{}
	Resume struct{}
)

// WorkKind is the kind of a [Work] input.
type WorkKind int

// Kinds of streamed worker output.
const (
	WorkFileStarted WorkKind = iota
	WorkFileChunk
	WorkFileDone
	WorkLog
	WorkFileAborted
	WorkFileDeleted
	// WorkFileKept: the step's new content of a file the user edited was
	// not written (Data says why, "" when the file already holds it);
	// Base is then the new generated content's sha256.
	WorkFileKept
	// WorkCheckStep: Step started or ended (the review's own sub-step).
	WorkCheckStep
)

// Work is one piece of streamed output of the step identified by Run.
type Work struct {
	Run           uint64
	Kind          WorkKind
	Path, Purpose string
	Data          string
	// Lines (WorkFileDone in a refinement) counts the file's lines added
	// and removed against the work's base.
	Lines *stichv1.LineCount
	// Base and BaseContent (WorkFileDone, WorkFileKept of a file the user
	// edited): the generated content, the base of the next merge.
	Base, BaseContent string
	// Step (WorkCheckStep) is the sub-step that started or ended.
	Step *stichv1.CheckStep
}

// Result ends the step identified by Run. See [StepSpec.Run].
type Result struct {
	Run uint64
	Err error
	// Blueprint answers planning.
	Blueprint *stichv1.Blueprint
	// Refine answers the planning of a refinement, after Compaction (if
	// any) of the conversation.
	Refine     *codegen.Refinement
	Compaction *Compaction
	// Planned is set by the planning of a generating phase; Plan is its
	// answer.
	Planned bool
	Plan    *stichv1.PhasePlan
	// Diags and Check answer reviewing (Check when builds are enabled).
	Diags []*stichv1.Diagnostic
	Check *actorsv1.SandboxCheckReply
	// Lines counts, in a refinement, the lines of the files the check's
	// fixer changed against the work's base.
	Lines map[string]*stichv1.LineCount
}

// Failed ends the current step with an error: the driver could not start
// it or could not commit its outcome.
type Failed struct{ Err error }

// SandboxLog is a check's progress lines, tagged with the run of the step
// or idle check that asked.
type SandboxLog struct {
	Run     uint64
	Lines   []*actorsv1.SandboxLogLine
	Dropped uint32
	// PreviewURL: the check's build is served there (its runtime check
	// has not ended yet).
	PreviewURL string
	// Steps are the check's sub-steps that started or ended, after Lines.
	Steps []*stichv1.CheckStep
}

// IdleCheckDone ends the idle check identified by Run.
type IdleCheckDone struct {
	Run   uint64
	Reply *actorsv1.SandboxCheckReply
}

// FixProblems asks to run the fixer on an idle session's current files
// (the user's edits are checked without it).
type FixProblems struct{}

// Usage is the usage of one model request.
type Usage struct {
	Action, Model string
	Usage         codegen.Usage
}

// PreviewReport is an error a running preview reported.
type PreviewReport struct{ Report *actorsv1.PreviewReport }

// SaveFile is a user's edit of one file.
type SaveFile struct {
	Path, Content, BaseSha256 string
	// Previous is the file's stored content, which the driver reads (""
	// for a new file): the generated base of the user's edits.
	Previous string
}

// Rollback restores Target, whose blobs (content by sha256) the driver
// loaded for the files that differ from the current ones.
type Rollback struct {
	Target *actorsv1.VersionRecord
	Blobs  map[string]string
}

func (Create) input()        {}
func (Fork) input()          {}
func (SetVisibility) input() {}
func (Activated) input()     {}
func (Message) input()       {}
func (Stop) input()          {}
func (Resume) input()        {}
func (Work) input()          {}
func (Result) input()        {}
func (Failed) input()        {}
func (SandboxLog) input()    {}
func (IdleCheckDone) input() {}
func (FixProblems) input()   {}
func (Usage) input()         {}
func (PreviewReport) input() {}
func (SaveFile) input()      {}
func (Rollback) input()      {}

// Output is what one Step asks of the driver.
type Output struct {
	// Events to append (seqs and times assigned), in order.
	Events []*stichv1.SessionEvent
	// Save: the new State.Session must be stored with the events.
	Save bool
	// Effects, in order. [PutFile], [DeleteFile], [PutBlob], [RecordVersion],
	// [ArmAlarm] and [DisarmAlarm] are writes of the same batch as the
	// events; the others are performed after it committed.
	Effects []Effect
	// Reply answers a request; Refusal refuses it (nothing else is set).
	Reply   proto.Message
	Refusal *Refusal
}

// Refusal is a request refused by the rules.
type Refusal struct {
	Code         actorsv1.ErrorCode
	Message      string
	RetryAfterMs uint64
}

// Effect is one instruction to the driver: one of the types below.
type Effect interface{ effect() }

// PutFile stores a file's content.
type PutFile struct {
	Path    string
	Content []byte
}

// DeleteFile removes a file.
type DeleteFile struct{ Path string }

// PutBlob stores content by its sha256 (the generated base of a file the
// user edited, which no version holds).
type PutBlob struct {
	Sha256  string
	Content []byte
}

// RecordVersion stores Record. Contents holds files this batch writes
// (not yet in storage); the driver reads the others, and stores the blobs
// the previous version does not already hold.
type RecordVersion struct {
	Record   *actorsv1.VersionRecord
	Contents map[string][]byte
}

// ArmAlarm arms the watchdog alarm (a restart resumes the work);
// DisarmAlarm deletes it.
type (
	ArmAlarm    struct{}
	DisarmAlarm struct{}
)

// RunStep starts Spec on the worker, as run Spec.ID, after cancelling
// any step still running.
type RunStep struct{ Spec *StepSpec }

// CancelStep cancels the running step.
type CancelStep struct{}

// RunIdleCheck checks the session's files in the sandbox (no fixer unless
// Fix), as run Run, replacing a running idle check; its answer comes back
// as [IdleCheckDone].
type RunIdleCheck struct {
	Run uint64
	Fix bool
}

// CancelIdleCheck cancels a running idle check.
type CancelIdleCheck struct{}

func (PutFile) effect()         {}
func (DeleteFile) effect()      {}
func (PutBlob) effect()         {}
func (RecordVersion) effect()   {}
func (ArmAlarm) effect()        {}
func (DisarmAlarm) effect()     {}
func (RunStep) effect()         {}
func (CancelStep) effect()      {}
func (RunIdleCheck) effect()    {}
func (CancelIdleCheck) effect() {}
