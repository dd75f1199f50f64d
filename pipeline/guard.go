package pipeline

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/stichdev/stich/codegen"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/textdiff"
)

// guard is the emitter a step's provider writes to. It forwards the
// output to the sink as Work, with two additions:
//
//   - A file the user edited (in UserEdits) is held until it is done. A
//     provider that regenerates files from its plan (the scaffold) wrote
//     it without the user's edits, so the guard merges: base = the
//     generated content the user edited, ours = the user's, theirs = the
//     new generated content. A clean merge is written; a conflict writes
//     nothing and says "kept your edits". A provider that edits the
//     current files ([codegen.CurrentFileEditor], a model that saw the
//     user's version) is taken as written on top of them. A deletion of
//     such a file is refused the same way.
//   - In a refinement, each file written carries its line counts against
//     the work's base, for the change card.
//
// Used by the step's worker goroutine only.
type guard struct {
	sp      *StepSpec
	sink    Sink
	start   map[string]string // the files when the step started
	onTop   bool              // the provider edits the current files
	bufs    map[string]*strings.Builder
	held    map[string]bool // user-edited files held until done
	purpose map[string]string
}

func (sp *StepSpec) guard(prov codegen.Provider, files map[string]string, sink Sink) *guard {
	g := &guard{sp: sp, sink: sink, start: maps.Clone(files), bufs: map[string]*strings.Builder{},
		held: map[string]bool{}, purpose: map[string]string{}}
	if e, ok := prov.(codegen.CurrentFileEditor); ok {
		g.onTop = e.EditsCurrentFiles()
	}
	return g
}

func (g *guard) edited(p string) bool {
	_, ok := g.sp.UserEdits[p]
	_, exists := g.start[p]
	return ok && exists
}

// workBase is p's content when the work started ("" for a new file).
func (g *guard) workBase(p string) string {
	sha, ok := g.sp.WorkBase[p]
	if !ok {
		return ""
	}
	if c, ok := g.sp.Blobs[sha]; ok {
		return c
	}
	return g.start[p] // unchanged since the work started
}

// lines counts content's change against the work's base (nil outside a
// refinement).
func (g *guard) lines(p, content string) *stichv1.LineCount {
	if g.sp.WorkBase == nil {
		return nil
	}
	a, r := textdiff.Count(g.workBase(p), content)
	return &stichv1.LineCount{Added: uint32(a), Removed: uint32(r)}
}

func (g *guard) FileStarted(ctx context.Context, p, purpose string) error {
	g.bufs[p] = &strings.Builder{}
	if g.edited(p) {
		g.held[p], g.purpose[p] = true, purpose
		return nil
	}
	delete(g.held, p)
	return g.sink.Send(ctx, Work{Kind: WorkFileStarted, Path: p, Purpose: purpose})
}

func (g *guard) FileChunk(ctx context.Context, p, data string) error {
	if b, ok := g.bufs[p]; ok {
		b.WriteString(data)
	}
	if g.held[p] {
		if b := g.bufs[p]; b.Len() > codegen.MaxFileBytes {
			return fmt.Errorf("%w: %q is larger than %d bytes", ErrProtocol, p, codegen.MaxFileBytes)
		}
		return nil
	}
	return g.sink.Send(ctx, Work{Kind: WorkFileChunk, Path: p, Data: data})
}

func (g *guard) FileDone(ctx context.Context, p string) error {
	content := ""
	if b, ok := g.bufs[p]; ok {
		content = b.String()
	}
	delete(g.bufs, p)
	if !g.held[p] {
		return g.sink.Send(ctx, Work{Kind: WorkFileDone, Path: p, Lines: g.lines(p, content)})
	}
	delete(g.held, p)
	ours, base := g.start[p], g.sp.Blobs[g.sp.UserEdits[p]]
	merged, ok := content, true
	if !g.onTop {
		merged, ok = textdiff.Merge3(base, ours, content)
	}
	theirs := Sha256(content)
	switch {
	case !ok:
		return g.sink.Send(ctx, Work{Kind: WorkFileKept, Path: p, Base: theirs, BaseContent: content,
			Data: fmt.Sprintf("kept your edits in %s; not applied: the change to %s overlaps them", p, p)})
	case merged == ours:
		return g.sink.Send(ctx, Work{Kind: WorkFileKept, Path: p, Base: theirs, BaseContent: content})
	}
	if err := g.sink.Send(ctx, Work{Kind: WorkFileStarted, Path: p, Purpose: g.purpose[p] + " (on top of your edits)"}); err != nil {
		return err
	}
	for _, c := range codegen.Chunks(merged, fileChunk) {
		if err := g.sink.Send(ctx, Work{Kind: WorkFileChunk, Path: p, Data: c}); err != nil {
			return err
		}
	}
	w := Work{Kind: WorkFileDone, Path: p, Lines: g.lines(p, merged)}
	if !g.onTop {
		w.Base, w.BaseContent = theirs, content
	}
	return g.sink.Send(ctx, w)
}

func (g *guard) Log(ctx context.Context, text string) error {
	return g.sink.Send(ctx, Work{Kind: WorkLog, Data: text})
}

// FileAborted drops a file that started streaming but cannot be finished.
func (g *guard) FileAborted(ctx context.Context, p, reason string) error {
	delete(g.bufs, p)
	if g.held[p] {
		delete(g.held, p)
		return nil // never started downstream
	}
	return g.sink.Send(ctx, Work{Kind: WorkFileAborted, Path: p, Data: reason})
}

// FileDeleted removes a file, unless the user edited it.
func (g *guard) FileDeleted(ctx context.Context, p string) error {
	if g.edited(p) {
		return g.sink.Send(ctx, Work{Kind: WorkFileKept, Path: p,
			Data: fmt.Sprintf("kept %s, which you edited; not applied: the change would delete it", p)})
	}
	return g.sink.Send(ctx, Work{Kind: WorkFileDeleted, Path: p})
}
