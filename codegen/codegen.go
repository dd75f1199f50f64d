// Package codegen owns what writes an app: the [Provider] interface the
// session grain drives through its phases (blueprint, implement, review,
// fix, refine), the validation of what a provider emits ([CheckPath],
// limits), and the built-in scaffold provider that needs no model.
//
// Providers run outside any grain's mailbox, on a worker goroutine; they
// report streamed output through an [Emitter] and must return promptly once
// their context is cancelled. Package codegen must not import actors, rpc or
// cluster.
package codegen

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// Limits on what a provider may write. They bound memory and storage per
// session whatever a model emits.
const (
	MaxFileBytes  = 512 << 10 // one file
	MaxFiles      = 200       // files in one app
	MaxPathLength = 256
)

// ErrBadPath reports a file path a provider may not write.
var ErrBadPath = errors.New("codegen: invalid file path")

// allowedExt lists the file extensions an app may contain.
var allowedExt = map[string]bool{
	".ts": true, ".tsx": true, ".js": true, ".jsx": true, ".mjs": true, ".cjs": true,
	".json": true, ".html": true, ".css": true, ".md": true, ".svg": true, ".txt": true,
	".gitignore": true, ".env.example": true,
}

// CheckPath validates a path a provider wants to write: relative, clean,
// no "..", no hidden system folders, an allowed extension, bounded length,
// valid UTF-8 with no control or invisible formatting characters (a
// bidirectional override such as U+202E makes "evil\u202Exst.ts" read
// as another name in every editor and log).
func CheckPath(p string) error {
	switch {
	case p == "" || len(p) > MaxPathLength:
		return fmt.Errorf("%w %q: empty or longer than %d bytes", ErrBadPath, p, MaxPathLength)
	case CheckNameChars(p) != nil:
		return CheckNameChars(p)
	case strings.HasPrefix(p, "/") || strings.Contains(p, "\\") || strings.ContainsAny(p, "\x00:*?\"<>|"):
		return fmt.Errorf("%w %q: must be a relative path with forward slashes", ErrBadPath, p)
	case path.Clean(p) != p || strings.HasPrefix(p, "../") || p == ".." || p == ".":
		return fmt.Errorf("%w %q: must be clean, without '..'", ErrBadPath, p)
	case strings.HasPrefix(p, "node_modules/") || strings.HasPrefix(p, ".git/") || p == ".git":
		return fmt.Errorf("%w %q: node_modules and .git are managed by stich", ErrBadPath, p)
	}
	base := path.Base(p)
	ext := path.Ext(base)
	if base == ".gitignore" || strings.HasSuffix(base, ".env.example") {
		return nil
	}
	if !allowedExt[ext] {
		return fmt.Errorf("%w %q: extension %q is not allowed", ErrBadPath, p, ext)
	}
	return nil
}

// CheckNameChars refuses a name that is not valid UTF-8 or holds a
// control, invisible or bidirectional formatting character (Unicode
// categories Cc and Cf).
func CheckNameChars(p string) error {
	switch {
	case !utf8.ValidString(p):
		return fmt.Errorf("%w %q: not valid UTF-8", ErrBadPath, p)
	case strings.IndexFunc(p, func(r rune) bool { return unicode.In(r, unicode.Cc, unicode.Cf) }) >= 0:
		return fmt.Errorf("%w %q: holds a control, invisible or bidirectional formatting character", ErrBadPath, p)
	}
	return nil
}

// CaseConflict returns a path of paths that differs from p only by letter
// case, and true when there is one: such names are one file on
// case-insensitive file systems (a downloaded app on macOS or Windows), so
// an app may hold only one of them.
func CaseConflict(paths []string, p string) (string, bool) {
	for _, q := range paths {
		if q != p && strings.EqualFold(q, p) {
			return q, true
		}
	}
	return "", false
}

// CheckFileSet validates a whole set of app paths: each with [CheckPath],
// and no two differing only by case. It reports every problem at once.
func CheckFileSet(paths []string) error {
	var errs []error
	seen := make(map[string]string, len(paths))
	sorted := append([]string(nil), paths...)
	sort.Strings(sorted)
	for _, p := range sorted {
		if err := CheckPath(p); err != nil {
			errs = append(errs, err)
			continue
		}
		k := strings.ToLower(p)
		if q, ok := seen[k]; ok {
			errs = append(errs, fmt.Errorf("%w %q: differs from %q only by letter case", ErrBadPath, p, q))
			continue
		}
		seen[k] = p
	}
	return errors.Join(errs...)
}

// Emitter receives a provider's streamed output. A provider calls it from
// one goroutine, in order: FileStarted, any FileChunks, FileDone for each
// file. An error return (the session was stopped) must end the provider's
// work.
type Emitter interface {
	FileStarted(ctx context.Context, path, purpose string) error
	FileChunk(ctx context.Context, path, data string) error
	FileDone(ctx context.Context, path string) error
	// Log reports progress worth showing to the user.
	Log(ctx context.Context, text string) error
}

// CurrentFileEditor is implemented by providers whose files are written
// from the app's current files (a model that is shown them and edits
// them), so the user's edits in them are the base of the change. Other
// providers (the scaffold) regenerate files from their plan; the session
// then merges the user's edits back (see package pipeline).
type CurrentFileEditor interface {
	EditsCurrentFiles() bool
}

// Turn is one message of the chat: Role is "user" or "assistant".
type Turn struct {
	Role, Text string
}

// Conversation is the chat a refinement continues.
type Conversation struct {
	// Applied lists every change request applied so far, oldest first,
	// including those compacted away.
	Applied []string
	// Summary summarises the turns compacted away ("" if none).
	Summary string
	// Turns are the user's messages and the replies since the last
	// compaction, oldest first.
	Turns []Turn
}

// MaxSummaryBytes bounds a conversation summary.
const MaxSummaryBytes = 16 << 10

// Refinement is a provider's answer to a user's change request.
type Refinement struct {
	// Reply is the conversational answer shown in the chat.
	Reply string
	// Blueprint is the updated plan of the app.
	Blueprint *stichv1.Blueprint
	// Phase lists the files to (re)write for the change.
	Phase *stichv1.PhasePlan
	// Deleted lists files the change removes.
	Deleted []string
	// NotDone says what of the request the change does not do, and why
	// ("a chart needs a model"); the session's change card shows it.
	NotDone []string
}

// PhaseRequest is what the next implementation phase is planned from.
type PhaseRequest struct {
	// Index is the phase's position in the blueprint's roadmap.
	Index int
	// Roadmap is the blueprint's entry for the phase: the plan to keep
	// when there is no better one.
	Roadmap *stichv1.PhasePlan
	// Done lists the phases implemented so far, oldest first, as they
	// were planned.
	Done []*stichv1.PhasePlan
	// Files are the app's current files.
	Files map[string]string
	// Diagnostics are the problems the last review left unfixed.
	Diagnostics []*stichv1.Diagnostic
	// Pending are the user's queued change requests. They are planned
	// separately (see [Provider.Refine]) once the roadmap is done; a phase
	// plan only takes them into account.
	Pending []string
}

// Provider writes apps. Implementations must be safe for concurrent use by
// different sessions.
type Provider interface {
	// Name is the provider's configuration name, e.g. "scaffold".
	Name() string
	// Label is what users see, e.g. "scaffold (no model)".
	Label() string
	// Blueprint plans the app for a prompt. appID names the app (the
	// session's id): what the app keys by it, such as the scaffold's
	// localStorage prefix, differs from every other app's.
	Blueprint(ctx context.Context, appID, prompt string) (*stichv1.Blueprint, error)
	// PlanPhase plans the implementation phase req.Index of bp, after the
	// first (which the blueprint plans), from what was done so far. It
	// returns req.Roadmap when it has nothing better; the session checks
	// the plan's paths and keeps req.Roadmap if the plan is unusable.
	PlanPhase(ctx context.Context, bp *stichv1.Blueprint, req PhaseRequest) (*stichv1.PhasePlan, error)
	// Implement writes the files of one phase of bp, streaming them to emit.
	// Files in skip were already written (the phase is resuming).
	Implement(ctx context.Context, bp *stichv1.Blueprint, phase *stichv1.PhasePlan, files map[string]string, skip map[string]bool, emit Emitter) error
	// Review checks the app's files after phase was implemented and
	// returns what is wrong.
	Review(ctx context.Context, bp *stichv1.Blueprint, phase *stichv1.PhasePlan, files map[string]string) ([]*stichv1.Diagnostic, error)
	// Fix rewrites files to repair diagnostics, streaming them to emit.
	Fix(ctx context.Context, bp *stichv1.Blueprint, files map[string]string, diags []*stichv1.Diagnostic, emit Emitter) error
	// Refine plans a change the user asked for in chat, continuing conv.
	Refine(ctx context.Context, prompt string, conv Conversation, message string, bp *stichv1.Blueprint, files map[string]string) (*Refinement, error)
	// Compact returns a summary of turns merged into the earlier summary
	// (which may be ""): what the session keeps of a long conversation.
	Compact(ctx context.Context, summary string, turns []Turn) (string, error)
}

// CheckPhase reports why a planned phase cannot be implemented: no name,
// no files, a path [CheckPath] refuses, a file listed twice, or more files
// than an app may have. nil means it can.
func CheckPhase(ph *stichv1.PhasePlan) error {
	if ph == nil || strings.TrimSpace(ph.GetName()) == "" {
		return errors.New("codegen: the phase has no name")
	}
	if len(ph.GetFiles()) == 0 || len(ph.GetFiles()) > MaxFiles {
		return fmt.Errorf("codegen: phase %q plans %d files; want 1 to %d", ph.GetName(), len(ph.GetFiles()), MaxFiles)
	}
	seen := make(map[string]bool, len(ph.GetFiles()))
	for _, f := range ph.GetFiles() {
		if err := CheckPath(f.GetPath()); err != nil {
			return err
		}
		if seen[f.GetPath()] {
			return fmt.Errorf("codegen: phase %q plans %s twice", ph.GetName(), f.GetPath())
		}
		seen[f.GetPath()] = true
	}
	return nil
}

// StreamFile emits content as one file in [Chunks] of about chunkSize
// bytes: the path every provider's file output takes.
func StreamFile(ctx context.Context, emit Emitter, path, purpose, content string, chunkSize int) error {
	if err := emit.FileStarted(ctx, path, purpose); err != nil {
		return err
	}
	for _, c := range Chunks(content, chunkSize) {
		if err := emit.FileChunk(ctx, path, c); err != nil {
			return err
		}
	}
	return emit.FileDone(ctx, path)
}

// Chunks splits content into pieces of [ChunkLen] bytes.
func Chunks(content string, chunkSize int) []string {
	out := make([]string, 0, len(content)/max(chunkSize, 1)+1)
	for len(content) > 0 {
		n := ChunkLen(content, chunkSize)
		out = append(out, content[:n])
		content = content[n:]
	}
	return out
}

// ChunkLen is the length of the next piece of streamed file content: at
// most chunkSize bytes (more only when chunkSize is shorter than one
// character), cut after a newline where one falls in the last three
// quarters of the piece, and never inside a UTF-8 sequence, so that events
// carry valid strings. It is the one chunking rule of streamed files
// ([StreamFile], files written at once, the model-output adapter).
func ChunkLen[T ~string | ~[]byte](content T, chunkSize int) int {
	chunkSize = max(chunkSize, 1)
	n := min(chunkSize, len(content))
	if n == len(content) {
		return n
	}
	for i := n - 1; i > chunkSize/4; i-- {
		if content[i] == '\n' {
			n = i + 1
			break
		}
	}
	for n > 1 && !utf8.RuneStart(content[n]) {
		n--
	}
	for n < len(content) && !utf8.RuneStart(content[n]) {
		n++ // chunkSize is shorter than the first character: take it whole
	}
	return n
}
