package codegen

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/scaffold"
)

func TestCheckPath(t *testing.T) {
	ok := []string{"src/App.tsx", "package.json", "index.html", "src/components/a-b_c.tsx", ".gitignore", "public/logo.svg", "README.md"}
	bad := []string{"", "/etc/passwd", "../x.ts", "src/../../x.ts", "a/./b.ts", "a//b.ts", "src\\x.ts", "node_modules/x/index.js",
		".git/config", "x.exe", "src/app.sh", "c:/x.ts", "src/\x00.ts", strings.Repeat("a", 300) + ".ts", "src/", ".",
		"src/evil\u202Ests.ts", "src/a\u2066b.ts", "src/\u200bApp.tsx", "src/tab\there.ts", "src/\x1b[31m.ts", "src/\u0085.ts", "src/\xff.ts", "src/\ufeffx.ts"}
	for _, p := range ok {
		if err := CheckPath(p); err != nil {
			t.Errorf("CheckPath(%q) = %v, want ok", p, err)
		}
	}
	for _, p := range bad {
		if err := CheckPath(p); !errors.Is(err, ErrBadPath) {
			t.Errorf("CheckPath(%q) = %v, want ErrBadPath", p, err)
		}
	}
}

func TestCheckFileSet(t *testing.T) {
	if err := CheckFileSet([]string{"src/App.tsx", "src/app/index.ts", "README.md"}); err != nil {
		t.Errorf("distinct names refused: %v", err)
	}
	err := CheckFileSet([]string{"src/App.tsx", "src/app.tsx", "src/x\u202e.ts", "README.md", "readme.md"})
	if !errors.Is(err, ErrBadPath) {
		t.Fatalf("CheckFileSet: %v", err)
	}
	for _, want := range []string{`"src/app.tsx"`, `\u202e`, `"readme.md"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %s: %v", want, err)
		}
	}
	if q, ok := CaseConflict([]string{"src/App.tsx", "src/b.ts"}, "src/APP.tsx"); !ok || q != "src/App.tsx" {
		t.Errorf("CaseConflict: %q %v", q, ok)
	}
	if _, ok := CaseConflict([]string{"src/App.tsx"}, "src/App.tsx"); ok {
		t.Error("a path conflicts with itself")
	}
}

func FuzzCheckPath(f *testing.F) {
	for _, s := range []string{"src/App.tsx", "../x", "a/b/../c.ts", "/abs.ts", "x.json"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if CheckPath(p) != nil {
			return
		}
		// Anything accepted stays inside the app folder.
		if strings.HasPrefix(p, "/") || strings.Contains(p, "..") && strings.Contains("/"+p+"/", "/../") || strings.Contains(p, "\\") || strings.ContainsRune(p, 0) {
			t.Fatalf("accepted %q", p)
		}
	})
}

// recorder is an Emitter that keeps what it receives.
type recorder struct {
	events []string
	chunks map[string][]string
}

func (r *recorder) FileStarted(_ context.Context, p, _ string) error {
	r.events = append(r.events, "start:"+p)
	return nil
}
func (r *recorder) FileChunk(_ context.Context, p, d string) error {
	if r.chunks == nil {
		r.chunks = map[string][]string{}
	}
	r.chunks[p] = append(r.chunks[p], d)
	return nil
}
func (r *recorder) FileDone(_ context.Context, p string) error {
	r.events = append(r.events, "done:"+p)
	return nil
}
func (r *recorder) Log(context.Context, string) error { return nil }

func TestStreamFileKeepsRunesWhole(t *testing.T) {
	content := strings.Repeat("héllo wörld — ✓ 日本語\n", 50) + strings.Repeat("🙂", 300)
	r := &recorder{}
	if err := StreamFile(context.Background(), r, "a.ts", "", content, 64); err != nil {
		t.Fatal(err)
	}
	if strings.Join(r.events, ",") != "start:a.ts,done:a.ts" {
		t.Fatalf("events %v", r.events)
	}
	var b strings.Builder
	for _, c := range r.chunks["a.ts"] {
		if !utf8.ValidString(c) {
			t.Fatalf("chunk %q splits a rune", c)
		}
		if len(c) > 64 {
			t.Fatalf("chunk of %d bytes", len(c))
		}
		b.WriteString(c)
	}
	if b.String() != content {
		t.Fatal("chunks do not reassemble")
	}
}

func TestStaticReview(t *testing.T) {
	bp := &stichv1.Blueprint{Roadmap: []*stichv1.PhasePlan{
		{Name: "1", Files: []*stichv1.FilePlan{{Path: "package.json"}, {Path: "src/main.tsx"}, {Path: "src/empty.ts"}}},
		{Name: "2", Files: []*stichv1.FilePlan{{Path: "src/App.tsx"}}},
	}}
	files := map[string]string{
		"package.json":    `{"name": `,
		"src/main.tsx":    "import App from './App'\nimport './styles.css'\nimport { x } from \"./lib/util.js\"\nimport React from 'react'\n",
		"src/empty.ts":    "  \n",
		"src/lib/util.ts": "export const x = 1\n",
	}
	diags := StaticReview(bp, bp.Roadmap[0], files)
	var got []string
	for _, d := range diags {
		got = append(got, d.GetCode()+" "+d.GetFile()+" "+d.GetMessage())
	}
	want := []string{
		"STICH002 src/empty.ts file is empty",
		"STICH003 package.json invalid JSON: unexpected end of JSON input",
		`STICH004 src/main.tsx cannot find module "./styles.css"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestScaffoldRefineChangesFiles(t *testing.T) {
	ctx := context.Background()
	s := Scaffold{}
	bp, err := s.Blueprint(ctx, "", "a book list with title and author")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, ph := range bp.GetRoadmap() {
		r := &recorder{}
		if err := s.Implement(ctx, bp, ph, files, nil, r); err != nil {
			t.Fatal(err)
		}
		for p, cs := range r.chunks {
			files[p] = strings.Join(cs, "")
		}
	}
	for _, ph := range bp.GetRoadmap() {
		if d, _ := s.Review(ctx, bp, ph, files); len(d) != 0 {
			t.Fatalf("scaffold output has review problems: %v", d)
		}
	}
	ref, err := s.Refine(ctx, "a book list with title and author", Conversation{}, "also track a rating", bp, files)
	if err != nil {
		t.Fatal(err)
	}
	if len(ref.Phase.GetFiles()) == 0 || !strings.Contains(ref.Reply, "scaffold (no model)") {
		t.Fatalf("refinement changed nothing: %q", ref.Reply)
	}
	same, err := s.Refine(ctx, "a book list with title and author", Conversation{Applied: []string{"also track a rating"}}, "also track a rating", ref.Blueprint, files)
	if err != nil {
		t.Fatal(err)
	}
	_ = same
}

func TestCheckPhase(t *testing.T) {
	good := &stichv1.PhasePlan{Name: "Two", Files: []*stichv1.FilePlan{{Path: "src/a.ts"}, {Path: "src/b.tsx"}}}
	if err := CheckPhase(good); err != nil {
		t.Fatalf("good phase: %v", err)
	}
	many := &stichv1.PhasePlan{Name: "Many"}
	for i := 0; i <= MaxFiles; i++ {
		many.Files = append(many.Files, &stichv1.FilePlan{Path: "src/f" + strings.Repeat("x", i%50) + string(rune('a'+i%26)) + ".ts"})
	}
	for name, ph := range map[string]*stichv1.PhasePlan{
		"nil":       nil,
		"no name":   {Files: good.Files},
		"no files":  {Name: "Empty"},
		"bad path":  {Name: "Escape", Files: []*stichv1.FilePlan{{Path: "../../etc/passwd.ts"}}},
		"duplicate": {Name: "Dup", Files: []*stichv1.FilePlan{{Path: "a.ts"}, {Path: "a.ts"}}},
		"too many":  many,
	} {
		if CheckPhase(ph) == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestScaffoldPlansTheRoadmap(t *testing.T) {
	bp, err := Scaffold{}.Blueprint(context.Background(), "", "a recipe tracker with ingredients")
	if err != nil || len(bp.GetRoadmap()) < 2 {
		t.Fatalf("blueprint %v: %v", bp, err)
	}
	req := PhaseRequest{Index: 1, Roadmap: bp.GetRoadmap()[1], Done: bp.GetRoadmap()[:1], Pending: []string{"make it blue"}}
	plan, err := Scaffold{}.PlanPhase(context.Background(), bp, req)
	if err != nil || !proto.Equal(plan, bp.GetRoadmap()[1]) || plan == bp.GetRoadmap()[1] {
		t.Fatalf("the scaffold's plan is not a copy of the roadmap entry: %v %v", plan, err)
	}
	if CheckPhase(plan) != nil {
		t.Fatalf("the scaffold's own plan is refused: %v", CheckPhase(plan))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (Scaffold{}).PlanPhase(ctx, bp, req); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestScaffoldCompactIsDeterministicAndBounded(t *testing.T) {
	turns := []Turn{{"user", "add a rating"}, {"assistant", "done"}, {"user", "make   it\nblue"}}
	got, err := Scaffold{}.Compact(context.Background(), "", turns)
	want := `3 earlier message(s), 2 from the user, who asked for: "add a rating"; "make it blue".`
	if err != nil || got != want {
		t.Fatalf("Compact = %q, %v\nwant %q", got, err, want)
	}
	again, _ := Scaffold{}.Compact(context.Background(), got, turns[:1])
	if !strings.HasPrefix(again, got+"\n") || !strings.HasSuffix(again, `"add a rating".`) {
		t.Fatalf("the earlier summary is not kept: %q", again)
	}
	long := strings.Repeat("é", MaxSummaryBytes)
	s, _ := Scaffold{}.Compact(context.Background(), long, turns)
	if len(s) > MaxSummaryBytes || !utf8.ValidString(s) || !strings.HasSuffix(s, `"make it blue".`) {
		t.Fatalf("summary of %d bytes, valid %v", len(s), utf8.ValidString(s))
	}
}

// FuzzChunks: the chunks rebuild the content, each is valid UTF-8 when the
// content is, none is empty, and none is longer than chunkSize unless it
// is a single character.
func FuzzChunks(f *testing.F) {
	f.Add("line one\nline two\nünïcode ✓ and more\n", 8)
	f.Add("€€€€", 1)
	f.Add(strings.Repeat("x", 100)+"\n", 16)
	f.Fuzz(func(t *testing.T, content string, size int) {
		size = size%64 + 1
		if size < 1 {
			size += 64
		}
		chunks := Chunks(content, size)
		if got := strings.Join(chunks, ""); got != content {
			t.Fatalf("chunks rebuild %q, want %q", got, content)
		}
		for _, c := range chunks {
			if c == "" {
				t.Fatal("empty chunk")
			}
			if utf8.ValidString(content) && !utf8.ValidString(c) {
				t.Fatalf("chunk %q of valid content is not valid UTF-8", c)
			}
			if utf8.ValidString(content) && len(c) > size && utf8.RuneCountInString(c) > 1 {
				t.Fatalf("chunk %q longer than %d", c, size)
			}
			if n := ChunkLen([]byte(c), size); n != len(c) {
				t.Fatalf("ChunkLen of bytes %d, of the string %d", n, len(c))
			}
		}
	})
}

func TestChunksPreferLineEnds(t *testing.T) {
	got := Chunks("abcdefgh\nij\nklmnopqrstuvwxyz", 12)
	if len(got) < 2 || got[0] != "abcdefgh\nij\n" {
		t.Fatalf("chunks %q: the first should end at the last newline", got)
	}
}

// TestScaffoldKeysSavedDataByApp: two sessions started from the same
// prompt get apps that store their data under different keys, and a
// refinement keeps the app's key.
func TestScaffoldKeysSavedDataByApp(t *testing.T) {
	ctx := context.Background()
	const prompt = "a habit tracker"
	key := func(bp *stichv1.Blueprint) string {
		files, err := scaffold.Files(bp)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`stich-[a-z0-9-]+`).FindString(files["src/schema.ts"] + files["src/config.ts"])
		if m == "" {
			t.Fatal("no storage key in the rendered app")
		}
		return m
	}
	a, errA := Scaffold{}.Blueprint(ctx, "s-aaaa.local", prompt)
	b, errB := Scaffold{}.Blueprint(ctx, "s-bbbb.local", prompt)
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if key(a) == key(b) {
		t.Fatalf("two apps from one prompt share the storage key %q", key(a))
	}
	files, err := scaffold.Files(a)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Scaffold{}.Refine(ctx, prompt, Conversation{}, `call it "Streaks"`, a, files)
	if err != nil || r.Blueprint == nil {
		t.Fatalf("refine: %v %v", r, err)
	}
	if key(r.Blueprint) != key(a) {
		t.Errorf("the refinement moved the app's data from %q to %q", key(a), key(r.Blueprint))
	}
}
