package editformat

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stichdev/stich/codegen"
)

var rewrite = flag.Bool("rewrite", false, "rewrite golden files under testdata/")

// fixture is a recorded answer: a description, the app's files before it,
// and the answer. On disk (testdata/answers/*.txt):
//
//	description lines
//	-- current: src/App.tsx --
//	file content
//	-- answer --
//	the model's answer
type fixture struct {
	name, desc, answer string
	current            map[string]string
}

func loadFixtures(t testing.TB) []fixture {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "answers", "*.txt"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	var out []fixture
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, parseFixture(strings.TrimSuffix(filepath.Base(p), ".txt"), string(b)))
	}
	return out
}

func parseFixture(name, s string) fixture {
	f := fixture{name: name, current: map[string]string{}}
	section, cur := "desc", ""
	var b strings.Builder
	flush := func() {
		switch section {
		case "desc":
			f.desc = b.String()
		case "answer":
			f.answer = b.String()
		default:
			f.current[cur] = b.String()
		}
		b.Reset()
	}
	for _, l := range strings.SplitAfter(s, "\n") {
		t := strings.TrimRight(l, "\n")
		if strings.HasPrefix(t, "-- ") && strings.HasSuffix(t, " --") && len(t) > 6 {
			flush()
			h := strings.TrimSpace(t[3 : len(t)-3])
			if p, ok := strings.CutPrefix(h, "current: "); ok {
				section, cur = "current", p
			} else {
				section = h
			}
			continue
		}
		b.WriteString(l)
	}
	flush()
	return f
}

// render prints events one per line, for goldens and diffs in failures.
func render(evs []Event) string {
	var b strings.Builder
	for _, ev := range evs {
		switch ev.Kind {
		case Prose:
			fmt.Fprintf(&b, "prose %q\n", ev.Data)
		case FileStarted:
			fmt.Fprintf(&b, "started %s %s line=%d", ev.Path, ev.Format, ev.Line)
			if ev.Purpose != "" {
				fmt.Fprintf(&b, " purpose=%q", ev.Purpose)
			}
			b.WriteByte('\n')
		case FileChunk:
			fmt.Fprintf(&b, "chunk %s %q\n", ev.Path, ev.Data)
		case FileDone:
			fmt.Fprintf(&b, "done %s\n", ev.Path)
		case FileDeleted:
			fmt.Fprintf(&b, "deleted %s line=%d\n", ev.Path, ev.Line)
		case BlockError:
			fmt.Fprintf(&b, "error [%s] %v\n", sentinelName(ev.Err), ev.Err)
		default:
			fmt.Fprintf(&b, "?? %+v\n", ev)
		}
	}
	return b.String()
}

func sentinelName(err error) string {
	for _, s := range []struct {
		err  error
		name string
	}{
		{ErrBadPath, "bad_path"}, {ErrProtected, "protected"}, {ErrTooLarge, "too_large"},
		{ErrTooManyFiles, "too_many_files"}, {ErrNoMatch, "no_match"}, {ErrAmbiguous, "ambiguous"},
		{ErrMissingFile, "missing_file"}, {ErrUnterminated, "unterminated"}, {ErrMalformed, "malformed"},
	} {
		if errors.Is(err, s.err) {
			return s.name
		}
	}
	return "?"
}

// parseChunks feeds the answer in the given pieces and returns all events,
// copied.
func parseChunks(current map[string]string, opts Options, chunks ...string) []Event {
	p := NewParser(current, opts)
	var out []Event
	for _, c := range chunks {
		evs, err := p.Write(c)
		if err != nil {
			panic(err)
		}
		out = append(out, evs...)
	}
	evs, _ := p.Close()
	return append(out, evs...)
}

// checkWellFormed verifies the event protocol: chunks only inside their
// file, every path valid, per-file data within the limit.
func checkWellFormed(t testing.TB, evs []Event, opts Options) {
	t.Helper()
	opts = opts.withDefaults()
	open, size := "", 0
	for i, ev := range evs {
		if ev.Path != "" {
			if err := codegen.CheckPath(ev.Path); err != nil {
				t.Fatalf("event %d (%s) has invalid path: %v", i, ev.Kind, err)
			}
		}
		switch ev.Kind {
		case FileStarted:
			if open != "" {
				t.Fatalf("event %d: %s started while %s is open", i, ev.Path, open)
			}
			open, size = ev.Path, 0
		case FileChunk:
			if ev.Path != open {
				t.Fatalf("event %d: chunk for %s while %q is open", i, ev.Path, open)
			}
			size += len(ev.Data)
			if size > opts.MaxFileBytes {
				t.Fatalf("event %d: %s exceeds %d bytes", i, ev.Path, opts.MaxFileBytes)
			}
		case FileDone:
			if ev.Path != open {
				t.Fatalf("event %d: done for %s while %q is open", i, ev.Path, open)
			}
			open = ""
		case BlockError:
			if ev.Err == nil {
				t.Fatalf("event %d: block error without error", i)
			}
			var e *Error
			if !errors.As(ev.Err, &e) {
				t.Fatalf("event %d: error %T is not *Error", i, ev.Err)
			}
			if open != "" {
				if ev.Path != open {
					t.Fatalf("event %d: error for %q while %s is open", i, ev.Path, open)
				}
				open = ""
			}
		case Prose, FileDeleted:
			if open != "" {
				t.Fatalf("event %d: %s while %s is open", i, ev.Kind, open)
			}
		default:
			t.Fatalf("event %d: unknown kind %d", i, ev.Kind)
		}
	}
	if open != "" {
		t.Fatalf("file %s never finished", open)
	}
}

// filesAfter applies events to current: what a consumer ends up with.
func filesAfter(current map[string]string, evs []Event) map[string]string {
	out := make(map[string]string, len(current))
	for k, v := range current {
		out[k] = v
	}
	var open string
	var b strings.Builder
	for _, ev := range evs {
		switch ev.Kind {
		case FileStarted:
			open = ev.Path
			b.Reset()
		case FileChunk:
			b.WriteString(ev.Data)
		case FileDone:
			out[open] = b.String()
			open = ""
		case FileDeleted:
			delete(out, ev.Path)
		case BlockError:
			if ev.Path != "" && ev.Path == open {
				open = ""
			}
		}
	}
	return out
}

func renderFiles(files map[string]string) string {
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "== %s\n%s", k, files[k])
		if !strings.HasSuffix(files[k], "\n") {
			b.WriteString("\n\\ no newline\n")
		}
	}
	return b.String()
}
