package editformat

import (
	"errors"
	"fmt"
	"strings"

	"github.com/stichdev/stich/codegen"
)

// EventKind says what an [Event] reports.
type EventKind uint8

const (
	// Prose is text outside any block: the conversational part of the
	// answer. Data holds it, newlines included.
	Prose EventKind = iota + 1
	// FileStarted opens a file; Path, Purpose and Format are set.
	FileStarted
	// FileChunk carries the next piece of the open file's content in Data.
	FileChunk
	// FileDone closes the open file: its content is complete.
	FileDone
	// FileDeleted reports that the answer removes Path.
	FileDeleted
	// BlockError reports a block that was discarded; Err is an [*Error].
	// Path is set when the block had a valid path; when that file was
	// already started, the consumer must discard it.
	BlockError
)

var kindNames = [...]string{"?", "prose", "file_started", "file_chunk", "file_done", "file_deleted", "block_error"}

// String implements fmt.Stringer.
func (k EventKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", k)
}

// Format says how a block expressed a file.
type Format uint8

const (
	// FormatWhole is a whole file (a <file> block or a fence with a path).
	FormatWhole Format = iota + 1
	// FormatDiff is a unified diff applied to the current content.
	FormatDiff
	// FormatSearchReplace is one or more SEARCH/REPLACE blocks.
	FormatSearchReplace
	// FormatDelete is a <delete> tag or a diff to /dev/null.
	FormatDelete
)

var formatNames = [...]string{"?", "whole", "diff", "search_replace", "delete"}

// String implements fmt.Stringer.
func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return fmt.Sprintf("Format(%d)", f)
}

// Event is one thing the parser read.
type Event struct {
	Kind EventKind
	// Path is the file the event is about; it always passes
	// codegen.CheckPath (or is empty).
	Path string
	// Purpose is the block's purpose attribute, if any (FileStarted).
	Purpose string
	// Format is how the block expressed the file (FileStarted, FileDeleted,
	// BlockError).
	Format Format
	// Data is file content (FileChunk) or text (Prose).
	Data string
	// Err is the reason a block was discarded (BlockError).
	Err error
	// Line is the 1-based line of the answer where the block began.
	Line int
}

// Errors a block can fail with, wrapped in an [*Error].
var (
	ErrBadPath      = errors.New("editformat: invalid path")
	ErrProtected    = errors.New("editformat: protected file")
	ErrTooLarge     = errors.New("editformat: too large")
	ErrTooManyFiles = errors.New("editformat: too many files")
	ErrNoMatch      = errors.New("editformat: edit does not match the file")
	ErrAmbiguous    = errors.New("editformat: edit matches more than one place")
	ErrMissingFile  = errors.New("editformat: file does not exist")
	ErrUnterminated = errors.New("editformat: block not terminated")
	ErrMalformed    = errors.New("editformat: malformed block")
	// ErrClosed is returned by Write or Close after Close.
	ErrClosed = errors.New("editformat: parser closed")
)

// Error is a discarded block: where it was, what it tried to write, and a
// message a user (or a repair prompt) can act on.
type Error struct {
	// Path is the block's file when it is valid, else "".
	Path string
	// Line is the 1-based line of the answer where the block began.
	Line   int
	Format Format
	// Err is one of the package's sentinel errors (or wraps
	// codegen.ErrBadPath).
	Err error
	// Msg explains the problem and what to do.
	Msg string
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("editformat: ")
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the sentinel error.
func (e *Error) Unwrap() error { return e.Err }

// Coalesce returns evs with consecutive FileChunk events of the same path,
// and consecutive Prose events, merged: the normal form in which any two
// splits of one answer yield equal sequences.
func Coalesce(evs []Event) []Event {
	out := make([]Event, 0, len(evs))
	for i := 0; i < len(evs); {
		ev := evs[i]
		j := i + 1
		if ev.Kind == FileChunk || ev.Kind == Prose {
			n := len(ev.Data)
			for j < len(evs) && evs[j].Kind == ev.Kind && evs[j].Path == ev.Path {
				n += len(evs[j].Data)
				j++
			}
			if j > i+1 {
				var b strings.Builder
				b.Grow(n)
				for _, e := range evs[i:j] {
					b.WriteString(e.Data)
				}
				ev.Data = b.String()
			}
		}
		out = append(out, ev)
		i = j
	}
	return out
}

// quote shows an untrusted path in a message, bounded.
func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// validPath returns p if events may carry it.
func validPath(p string) string {
	if codegen.CheckPath(p) == nil {
		return p
	}
	return ""
}
