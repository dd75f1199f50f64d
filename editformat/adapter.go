package editformat

import (
	"context"
	"strings"

	"github.com/stichdev/stich/codegen"
)

// Aborter is implemented by emitters that can drop a file whose streaming
// started but whose block then failed (it grew too large, or the answer
// ended inside it). Without it the [Adapter] only logs the failure, and
// the emitter is left with a started file that never gets FileDone.
type Aborter interface {
	FileAborted(ctx context.Context, path, reason string) error
}

// Deleter is implemented by emitters that can delete files. Without it the
// [Adapter] records deletions in [Adapter.Deleted] for the caller.
type Deleter interface {
	FileDeleted(ctx context.Context, path string) error
}

// DefaultChunkSize is the size of the FileChunk calls an [Adapter] makes,
// matching codegen.ScaffoldChunkSize: each chunk becomes a durable session
// event, so a model's token-sized pieces are gathered first.
const DefaultChunkSize = codegen.ScaffoldChunkSize

// maxProse bounds the prose an Adapter keeps.
const maxProse = 256 << 10

// Adapter drives a [codegen.Emitter] from parser events: it gathers file
// data into chunks of about ChunkSize bytes (split at line ends where
// possible, never inside a UTF-8 sequence), reports block errors through
// Log (and [Aborter]), and keeps the prose. It is used by one goroutine.
type Adapter struct {
	emit      codegen.Emitter
	chunkSize int
	open      string
	buf       []byte
	prose     strings.Builder
	errs      []*Error
	deleted   []string
	written   []string
}

// NewAdapter returns an adapter writing to emit in chunks of about
// chunkSize bytes (DefaultChunkSize if <= 0).
func NewAdapter(emit codegen.Emitter, chunkSize int) *Adapter {
	if chunkSize <= 0 {
		chunkSize = DefaultChunkSize
	}
	return &Adapter{emit: emit, chunkSize: chunkSize}
}

// Handle forwards evs. An error from the emitter (the session stopped) is
// returned at once and must end the caller's work.
func (a *Adapter) Handle(ctx context.Context, evs []Event) error {
	for i := range evs {
		if err := a.handle(ctx, &evs[i]); err != nil {
			return err
		}
	}
	return nil
}

func (a *Adapter) handle(ctx context.Context, ev *Event) error {
	switch ev.Kind {
	case Prose:
		if a.prose.Len()+len(ev.Data) <= maxProse {
			a.prose.WriteString(ev.Data)
		}
	case FileStarted:
		a.open, a.buf = ev.Path, a.buf[:0]
		return a.emit.FileStarted(ctx, ev.Path, ev.Purpose)
	case FileChunk:
		a.buf = append(a.buf, ev.Data...)
		for len(a.buf) >= a.chunkSize {
			if err := a.flush(ctx); err != nil {
				return err
			}
		}
	case FileDone:
		for len(a.buf) > 0 {
			if err := a.flush(ctx); err != nil {
				return err
			}
		}
		a.open = ""
		a.written = append(a.written, ev.Path)
		return a.emit.FileDone(ctx, ev.Path)
	case FileDeleted:
		a.deleted = append(a.deleted, ev.Path)
		if d, ok := a.emit.(Deleter); ok {
			return d.FileDeleted(ctx, ev.Path)
		}
		return a.emit.Log(ctx, "the model asked to delete "+ev.Path)
	case BlockError:
		e, _ := ev.Err.(*Error)
		if e == nil {
			e = &Error{Path: ev.Path, Line: ev.Line, Format: ev.Format, Err: ErrMalformed, Msg: "block discarded"}
			if ev.Err != nil {
				e.Msg = ev.Err.Error()
			}
		}
		a.errs = append(a.errs, e)
		if ev.Path != "" && ev.Path == a.open {
			a.open, a.buf = "", a.buf[:0]
			if ab, ok := a.emit.(Aborter); ok {
				if err := ab.FileAborted(ctx, ev.Path, e.Msg); err != nil {
					return err
				}
			}
		}
		return a.emit.Log(ctx, "model edit not applied: "+strings.TrimPrefix(e.Error(), "editformat: "))
	}
	return nil
}

// flush sends the next chunk of the buffer.
func (a *Adapter) flush(ctx context.Context) error {
	n := codegen.ChunkLen(a.buf, a.chunkSize)
	data := string(a.buf[:n])
	rest := copy(a.buf, a.buf[n:])
	a.buf = a.buf[:rest]
	return a.emit.FileChunk(ctx, a.open, data)
}

// Prose returns the text outside blocks read so far (at most 256 KiB).
func (a *Adapter) Prose() string { return a.prose.String() }

// Errors returns the blocks that were discarded, in order.
func (a *Adapter) Errors() []*Error { return a.errs }

// Deleted returns the files the answer deleted, in order.
func (a *Adapter) Deleted() []string { return a.deleted }

// Written returns the files completed (FileDone), in order; a file written
// twice appears twice.
func (a *Adapter) Written() []string { return a.written }

// ParseString parses a complete answer: a convenience for callers that do
// not stream. The events are copied and owned by the caller.
func ParseString(answer string, current map[string]string, opts Options) []Event {
	p := NewParser(current, opts)
	evs, _ := p.Write(answer)
	out := append([]Event(nil), evs...)
	evs, _ = p.Close()
	return append(out, evs...)
}
