package editformat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// recorder is a codegen.Emitter that records calls.
type recorder struct {
	calls   []string
	files   map[string]*strings.Builder
	done    map[string]string
	chunks  int
	aborted []string
	deleted []string
	failAt  int // fail the n-th call (1-based), 0 never
}

func newRecorder() *recorder {
	return &recorder{files: map[string]*strings.Builder{}, done: map[string]string{}}
}

var errStopped = errors.New("stopped")

func (r *recorder) call(s string) error {
	r.calls = append(r.calls, s)
	if r.failAt > 0 && len(r.calls) == r.failAt {
		return errStopped
	}
	return nil
}

func (r *recorder) FileStarted(_ context.Context, path, purpose string) error {
	r.files[path] = &strings.Builder{}
	return r.call("started " + path + " " + purpose)
}

func (r *recorder) FileChunk(_ context.Context, path, data string) error {
	if !utf8.ValidString(data) {
		return fmt.Errorf("chunk of %s is not valid UTF-8", path)
	}
	r.files[path].WriteString(data)
	r.chunks++
	return r.call("chunk " + path)
}

func (r *recorder) FileDone(_ context.Context, path string) error {
	r.done[path] = r.files[path].String()
	return r.call("done " + path)
}

func (r *recorder) Log(_ context.Context, text string) error { return r.call("log " + text) }

type abortingRecorder struct{ *recorder }

func (r abortingRecorder) FileAborted(_ context.Context, path, reason string) error {
	r.aborted = append(r.aborted, path)
	delete(r.files, path)
	return r.call("aborted " + path)
}

func (r abortingRecorder) FileDeleted(_ context.Context, path string) error {
	r.deleted = append(r.deleted, path)
	return r.call("deleted " + path)
}

func TestAdapterGathersChunks(t *testing.T) {
	rec := newRecorder()
	a := NewAdapter(rec, 64)
	p := NewParser(nil, Options{})
	line := "const s = '日本語';\n" // multi-byte runes around chunk edges
	answer := "Intro.\n<file path=\"src/a.ts\" purpose=\"p\">\n" + strings.Repeat(line, 40) + "</file>\nOutro.\n"
	ctx := context.Background()
	for i := 0; i < len(answer); i += 3 { // token-sized writes
		evs, _ := p.Write(answer[i:min(i+3, len(answer))])
		if err := a.Handle(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	evs, _ := p.Close()
	if err := a.Handle(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if got := rec.done["src/a.ts"]; got != strings.Repeat(line, 40) {
		t.Fatalf("content = %q", got)
	}
	if rec.chunks < 10 || rec.chunks > 20 {
		t.Fatalf("%d chunks of ~64 bytes for %d bytes", rec.chunks, len(line)*40)
	}
	if a.Prose() != "Intro.\nOutro.\n" || len(a.Written()) != 1 || len(a.Errors()) != 0 {
		t.Fatalf("prose %q written %v errors %v", a.Prose(), a.Written(), a.Errors())
	}
	if rec.calls[0] != "started src/a.ts p" {
		t.Fatalf("first call %q", rec.calls[0])
	}
}

func TestAdapterAbortsAndDeletes(t *testing.T) {
	ctx := context.Background()
	answer := "<file path=\"src/a.ts\">\nx\n" // unterminated
	cur := map[string]string{"src/old.ts": "x"}

	plain := newRecorder()
	a := NewAdapter(plain, 0)
	if err := a.Handle(ctx, ParseString("<delete path=\"src/old.ts\"/>\n"+answer, cur, Options{})); err != nil {
		t.Fatal(err)
	}
	if len(a.Errors()) != 1 || !errors.Is(a.Errors()[0], ErrUnterminated) || len(a.Deleted()) != 1 {
		t.Fatalf("errors %v deleted %v", a.Errors(), a.Deleted())
	}
	if last := plain.calls[len(plain.calls)-1]; !strings.HasPrefix(last, "log model edit not applied: line 2: src/a.ts: the answer ended inside the file") {
		t.Fatalf("last call %q", last)
	}
	if _, ok := plain.done["src/a.ts"]; ok {
		t.Fatal("aborted file was finished")
	}

	ab := abortingRecorder{newRecorder()}
	a = NewAdapter(ab, 0)
	if err := a.Handle(ctx, ParseString("<delete path=\"src/old.ts\"/>\n"+answer, cur, Options{})); err != nil {
		t.Fatal(err)
	}
	if len(ab.aborted) != 1 || ab.aborted[0] != "src/a.ts" || len(ab.deleted) != 1 {
		t.Fatalf("aborted %v deleted %v", ab.aborted, ab.deleted)
	}
}

func TestAdapterStopsOnEmitterError(t *testing.T) {
	rec := newRecorder()
	rec.failAt = 2
	a := NewAdapter(rec, 4)
	err := a.Handle(context.Background(), ParseString("<file path=\"a.ts\">\n0123456789\n</file>\n", nil, Options{}))
	if !errors.Is(err, errStopped) || len(rec.calls) != 2 {
		t.Fatalf("err %v after %d calls", err, len(rec.calls))
	}
}
