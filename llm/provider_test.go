package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/stichdev/stich/codegen"
	"github.com/stichdev/stich/editformat"
	"github.com/stichdev/stich/llm/llmtest"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// memEmitter is a codegen.Emitter (with editformat's Aborter and Deleter)
// that keeps the files in memory, as the session grain does.
type memEmitter struct {
	files    map[string]string
	building map[string]*strings.Builder
	logs     []string
	chunks   int
	maxChunk int
	aborted  []string
	canceled bool
}

func newMem(files map[string]string) *memEmitter {
	m := &memEmitter{files: map[string]string{}, building: map[string]*strings.Builder{}}
	for k, v := range files {
		m.files[k] = v
	}
	return m
}

func (m *memEmitter) FileStarted(ctx context.Context, path, purpose string) error {
	if err := codegen.CheckPath(path); err != nil {
		return err
	}
	m.building[path] = &strings.Builder{}
	return ctx.Err()
}

func (m *memEmitter) FileChunk(ctx context.Context, path, data string) error {
	b, ok := m.building[path]
	if !ok {
		return fmt.Errorf("chunk for %s before it started", path)
	}
	if !utf8.ValidString(data) {
		return fmt.Errorf("invalid UTF-8 chunk for %s", path)
	}
	m.chunks++
	m.maxChunk = max(m.maxChunk, len(data))
	b.WriteString(data)
	return ctx.Err()
}

func (m *memEmitter) FileDone(ctx context.Context, path string) error {
	b, ok := m.building[path]
	if !ok {
		return fmt.Errorf("%s done before it started", path)
	}
	m.files[path] = b.String()
	delete(m.building, path)
	return ctx.Err()
}

func (m *memEmitter) Log(ctx context.Context, text string) error {
	m.logs = append(m.logs, text)
	return nil
}

func (m *memEmitter) FileAborted(ctx context.Context, path, reason string) error {
	delete(m.building, path)
	m.aborted = append(m.aborted, path)
	return nil
}

func (m *memEmitter) FileDeleted(ctx context.Context, path string) error {
	delete(m.files, path)
	return nil
}

var (
	_ editformat.Aborter = (*memEmitter)(nil)
	_ editformat.Deleter = (*memEmitter)(nil)
)

func copyFiles(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func newProvider(t *testing.T, script string, key string) (*Provider, *Client) {
	p, c, _ := newProviderServer(t, script, key)
	return p, c
}

func newProviderServer(t *testing.T, script string, key string) (*Provider, *Client, *llmtest.Server) {
	t.Helper()
	srv := startScript(t, script)
	cfg := testConfig(srv.URL)
	if key != "" {
		cfg.Providers[0].APIKey = Secret(key)
	}
	cfg.Actions[ActionReview] = ActionConfig{Model: "gpt-test-mini"}
	c, _ := newClient(t, cfg)
	t.Cleanup(func() {
		if m := srv.Mismatches(); len(m) > 0 {
			t.Errorf("script mismatches: %v", m)
		}
	})
	return NewProvider("fake", c), c, srv
}

// TestProviderGeneratesApp drives a whole generation through the fake
// server as the session grain does: blueprint, each phase (implement,
// review, fix), then a chat refinement and its phase. The resulting app is
// compared with testdata/generation.golden; it type-checks with
// TypeScript 7 (checked when the fixtures were recorded).
func TestProviderGeneratesApp(t *testing.T) {
	prov, client, srv := newProviderServer(t, "generation.json", "sk-llmtest-generation-0123456789abcdef")
	ctx := ContextWithSession(context.Background(), "sess-1")
	if prov.Name() != "fake" || prov.Label() != "fake (fake/gpt-test)" {
		t.Fatalf("name %q label %q", prov.Name(), prov.Label())
	}

	bp, err := prov.Blueprint(ctx, "", "a task tracker that remembers my tasks")
	if err != nil {
		t.Fatal(err)
	}
	var first []string
	for _, f := range bp.Roadmap[0].Files {
		first = append(first, f.Path)
	}
	want := append(append([]string(nil), TemplatePaths...), "src/types.ts", "src/storage.ts", "src/App.tsx", "src/main.tsx", "src/styles.css")
	if strings.Join(first, " ") != strings.Join(want, " ") || len(bp.Roadmap) != 2 || !bp.Roadmap[1].LastPhase {
		t.Fatalf("roadmap: phase 1 files %v", first)
	}

	em := newMem(nil)
	files := map[string]string{}
	var reviews [][]*stichv1.Diagnostic
	for i, phase := range bp.Roadmap {
		if i > 0 { // as the session grain does: later phases are planned when entered
			req := codegen.PhaseRequest{Index: i, Roadmap: phase, Done: bp.Roadmap[:i], Files: copyFiles(files)}
			if phase, err = prov.PlanPhase(ctx, bp, req); err != nil {
				t.Fatalf("plan phase %d: %v", i+1, err)
			}
			if !strings.Contains(phase.Description, "components used by App") || len(phase.Files) != 2 || !phase.LastPhase {
				t.Fatalf("phase %d was not planned by the model: %v", i+1, phase)
			}
		}
		if err := prov.Implement(ctx, bp, phase, copyFiles(files), nil, em); err != nil {
			t.Fatalf("implement %s: %v", phase.Name, err)
		}
		files = copyFiles(em.files)
		diags, err := prov.Review(ctx, bp, phase, files)
		if err != nil {
			t.Fatal(err)
		}
		reviews = append(reviews, diags)
		if len(diags) > 0 {
			if err := prov.Fix(ctx, bp, files, diags, em); err != nil {
				t.Fatal(err)
			}
			files = copyFiles(em.files)
		}
	}
	if len(reviews[0]) != 0 || len(reviews[1]) != 1 || reviews[1][0].File != "src/App.tsx" || reviews[1][0].Code != "REVIEW" {
		t.Fatalf("reviews %v", reviews)
	}

	ref, err := prov.Refine(ctx, "a task tracker", codegen.Conversation{}, "add a button that clears completed tasks", bp, files)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ref.Reply, "Sure") || ref.Phase.Name != "Clear completed" || len(ref.Phase.Files) != 1 || ref.Phase.Files[0].Path != "src/App.tsx" || len(ref.Deleted) != 0 {
		t.Fatalf("refinement %+v phase %v", ref, ref.Phase)
	}
	if err := prov.Implement(ctx, bp, ref.Phase, copyFiles(files), nil, em); err != nil {
		t.Fatal(err)
	}
	files = copyFiles(em.files)
	if len(em.aborted) != 0 || len(em.building) != 0 || em.maxChunk > 2*editformat.DefaultChunkSize {
		t.Fatalf("aborted %v, open %v, largest chunk %d", em.aborted, em.building, em.maxChunk)
	}
	for _, l := range em.logs {
		if strings.Contains(l, "not applied") || strings.Contains(l, "did not write") {
			t.Errorf("log: %s", l)
		}
	}
	if !strings.Contains(files["package.json"], `"name": "task-tracker"`) || !strings.Contains(files["index.html"], "<title>Task Tracker</title>") ||
		strings.Contains(files["index.html"], "scaffold") || !strings.Contains(files["package-lock.json"], `"name": "task-tracker"`) {
		t.Fatalf("template not adapted:\n%s\n%s", files["package.json"], files["index.html"])
	}

	var b strings.Builder
	b.WriteString("# The app generated by TestProviderGeneratesApp from testdata/scripts/generation.json.\n# Template files (from package scaffold) are listed, not shown.\n")
	paths := sortedPaths(files)
	for _, p := range paths {
		if contains(TemplatePaths, p) {
			fmt.Fprintf(&b, "== %s (template)\n", p)
		}
	}
	for _, p := range paths {
		if !contains(TemplatePaths, p) {
			fmt.Fprintf(&b, "== %s\n%s", p, files[p])
		}
	}
	golden := filepath.Join("testdata", "generation.golden")
	if *rewrite {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	} else if w, err := os.ReadFile(golden); err != nil || string(w) != b.String() {
		t.Fatalf("app differs from %s (go test -rewrite):\n%s", golden, b.String())
	}

	if srv.Remaining() != 0 {
		t.Fatalf("%d scripted answers unused", srv.Remaining())
	}
	for i, r := range srv.Requests() {
		for _, m := range r.Messages {
			if strings.Contains(m.Content, "lockfileVersion") {
				t.Fatalf("request %d shows the lockfile to the model", i)
			}
		}
	}

	rows := client.Usage().Rows()
	actions := map[Action]int{}
	for _, r := range rows {
		if r.Session != "sess-1" {
			t.Fatalf("row without session: %+v", r)
		}
		actions[r.Action] += r.Requests
	}
	if fmt.Sprint(actions) != "map[blueprint:1 conversation:1 fixing:1 phase_implementation:3 phase_planning:1 review:2]" {
		t.Fatalf("usage by action %v", actions)
	}
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// TestProviderPlansPhases checks phase planning's tolerance, its repair
// request, and its fallback to the roadmap's entry.
func TestProviderPlansPhases(t *testing.T) {
	prov, _, srv := newProviderServer(t, "phase_planning.json", "sk-llmtest-generation-0123456789abcdef")
	bp, err := ExtractBlueprint(readAnswer(t, "blueprint.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var logs []string
	ctx := codegen.ContextWithLog(context.Background(), func(s string) { logs = append(logs, s) })
	files := map[string]string{"src/App.tsx": "export default function App() { return null }\n"}
	req := codegen.PhaseRequest{Index: 1, Roadmap: bp.Roadmap[1], Done: bp.Roadmap[:1], Files: files,
		Diagnostics: []*stichv1.Diagnostic{{Code: "TS2304", File: "src/App.tsx", Message: "Cannot find name 'useEffect'."}},
		Pending:     []string{"make the header blue"}}
	want := &stichv1.PhasePlan{Name: "Features", Description: "Adding, toggling and deleting tasks: the form and the list as components used by App.",
		Files: []*stichv1.FilePlan{
			{Path: "src/components/TaskForm.tsx", Purpose: "Form to add a task"},
			{Path: "src/components/TaskList.tsx", Purpose: "List of tasks with toggle and delete"},
		}, LastPhase: true}
	for i, wantRequests := range []int{1, 3} {
		plan, err := prov.PlanPhase(ctx, bp, req)
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(plan, want) {
			t.Fatalf("plan %d:\n got %v\nwant %v", i+1, plan, want)
		}
		if n := len(srv.Requests()); n != wantRequests {
			t.Fatalf("plan %d took %d requests in all, want %d", i+1, n, wantRequests)
		}
	}
	reqs := srv.Requests()
	prompt := reqs[0].Messages[1].Content
	for _, s := range []string{"Phases done:\n- Core", "Cannot find name 'useEffect'", "- make the header blue", `"name": "Features"`, "- src/App.tsx"} {
		if !strings.Contains(prompt, s) {
			t.Fatalf("the planning prompt lacks %q:\n%s", s, prompt)
		}
	}
	repair := reqs[2].Messages[len(reqs[2].Messages)-1].Content
	for _, s := range []string{"name is missing", "files[0].path", "must be clean", "already listed as files[1]", `extension ".sh" is not allowed`} {
		if !strings.Contains(repair, s) {
			t.Fatalf("the repair request lacks %q:\n%s", s, repair)
		}
	}
	if len(logs) != 0 {
		t.Fatalf("logs before any fallback: %v", logs)
	}
	plan, err := prov.PlanPhase(ctx, bp, req)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(plan, bp.Roadmap[1]) || plan == bp.Roadmap[1] {
		t.Fatalf("an unusable plan did not fall back to a copy of the roadmap's entry: %v", plan)
	}
	if len(logs) != 1 || !strings.Contains(logs[0], "files is empty") || !strings.Contains(logs[0], "following the blueprint's roadmap") {
		t.Fatalf("logs %q", logs)
	}
	if srv.Remaining() != 0 {
		t.Fatalf("%d scripted answers unused", srv.Remaining())
	}
	if _, err := ExtractPhasePlan("no json here", nil, 0); !errors.Is(err, ErrNoJSON) {
		t.Fatalf("prose: %v", err)
	}
	if _, err := ExtractPhasePlan(`{"name": "Big", "files": ["a.ts"]}`, nil, codegen.MaxFiles); !errors.Is(err, ErrBadPhasePlan) {
		t.Fatalf("too many files for the app: %v", err)
	}
}

func TestProviderRepairsBlueprint(t *testing.T) {
	prov, _ := newProvider(t, "blueprint_repair.json", "")
	bp, err := prov.Blueprint(context.Background(), "", "notes")
	if err != nil {
		t.Fatal(err)
	}
	if bp.ProjectName != "notes" || len(bp.Roadmap) != 1 || len(bp.Roadmap[0].Files) != len(TemplatePaths)+3 {
		t.Fatalf("%v", bp)
	}
}

func TestProviderRefusesWrongPaths(t *testing.T) {
	prov, _ := newProvider(t, "wrong_paths.json", "")
	em := newMem(nil)
	phase := &stichv1.PhasePlan{Name: "Core", Files: []*stichv1.FilePlan{{Path: "src/App.tsx", Purpose: "app"}}}
	if err := prov.Implement(context.Background(), &stichv1.Blueprint{Title: "x"}, phase, nil, nil, em); err != nil {
		t.Fatal(err)
	}
	if len(em.files) != 1 || !strings.Contains(em.files["src/App.tsx"], "Still fine") {
		t.Fatalf("files %v", em.files)
	}
	logs := strings.Join(em.logs, "\n")
	for _, want := range []string{
		"package-lock.json: this file is managed by stich",
		`cannot write "server/index.py": extension ".py" is not allowed`,
		`cannot write "../../etc/cron.d/evil.txt"`,
		`cannot write "node_modules/react/index.js": node_modules and .git are managed by stich`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}

// TestProviderWritesModelMistakes streams an answer with the TypeScript
// mistakes models make: every file is written as the model wrote it (the
// deterministic fixer repairs them later), and the static review already
// flags the broken relative import.
func TestProviderWritesModelMistakes(t *testing.T) {
	prov, _ := newProvider(t, "mistakes.json", "")
	var current map[string]string
	if err := json.Unmarshal([]byte(readAnswer(t, "mistakes_current.json")), &current); err != nil {
		t.Fatal(err)
	}
	var expected struct {
		Diagnostics []struct{ File, Code string }
	}
	if err := json.Unmarshal([]byte(readAnswer(t, "mistakes_expected.json")), &expected); err != nil {
		t.Fatal(err)
	}
	codes := map[string]bool{}
	for _, d := range expected.Diagnostics {
		codes[d.Code] = true
	}
	var list []string
	for c := range codes {
		list = append(list, c)
	}
	sort.Strings(list)
	if strings.Join(list, " ") != "TS2304 TS2305 TS2307 TS2613 TS2614 TS2724" {
		t.Fatalf("the mistakes fixture covers %v", list)
	}

	phase := &stichv1.PhasePlan{Name: "Views", Files: []*stichv1.FilePlan{
		{Path: "src/lib/format.ts", Purpose: "x"}, {Path: "src/components/Header.tsx", Purpose: "x"},
		{Path: "src/components/TaskItem.tsx", Purpose: "x"}, {Path: "src/components/TaskList.tsx", Purpose: "x"},
		{Path: "src/App.tsx", Purpose: "x"},
	}}
	em := newMem(current)
	if err := prov.Implement(context.Background(), &stichv1.Blueprint{Title: "Tasks"}, phase, current, nil, em); err != nil {
		t.Fatal(err)
	}
	if len(em.files) != 8 || !strings.Contains(em.files["src/App.tsx"], "import TaskList from './components/TaskList';") {
		t.Fatalf("files %v", sortedPaths(em.files))
	}
	bp := &stichv1.Blueprint{Roadmap: []*stichv1.PhasePlan{phase}}
	diags := codegen.StaticReview(bp, phase, em.files)
	found := false
	for _, d := range diags {
		if d.File == "src/components/TaskList.tsx" && strings.Contains(d.Message, "./components/TaskItem") {
			found = true
		}
	}
	if !found {
		t.Fatalf("static review: %v", diags)
	}
}

func TestProviderCancel(t *testing.T) {
	prov, _ := newProvider(t, "endless_file.json", "")
	ctx, cancel := context.WithCancel(context.Background())
	em := &cancelingEmitter{memEmitter: newMem(nil), cancel: cancel}
	phase := &stichv1.PhasePlan{Name: "Core", Files: []*stichv1.FilePlan{{Path: "src/App.tsx", Purpose: "app"}}}
	err := prov.Implement(ctx, &stichv1.Blueprint{}, phase, nil, nil, em)
	if !errors.Is(err, context.Canceled) || em.chunks != 1 || len(em.files) != 0 {
		t.Fatalf("err %v, %d chunks, files %v", err, em.chunks, em.files)
	}
}

// cancelingEmitter cancels the context on the first chunk, as a user
// stopping the generation does.
type cancelingEmitter struct {
	*memEmitter
	cancel func()
}

func (c *cancelingEmitter) FileChunk(ctx context.Context, path, data string) error {
	c.cancel()
	return c.memEmitter.FileChunk(context.Background(), path, data)
}

func TestParseRefinementFallbacks(t *testing.T) {
	r := ParseRefinement("I can't parse JSON today, but sure.", "make it blue", nil, TemplatePaths)
	if r.Reply != "I can't parse JSON today, but sure." || r.Phase.Description != "make it blue" {
		t.Fatalf("%+v", r)
	}
	r = ParseRefinement(`{"reply": "Hello!", "phase": null}`, "hi", nil, nil)
	if r.Reply != "Hello!" || r.Phase != nil {
		t.Fatalf("%+v", r)
	}
	r = ParseRefinement("```json\n"+`{"reply": "ok", "phase": {"files": [{"path": "./src/a.ts"}]}, "deleted": ["src/b.ts", "package.json"]}`+"\n```", "msg",
		map[string]string{"src/b.ts": "", "package.json": ""}, TemplatePaths)
	if r.Phase.Name != "Refinement" || r.Phase.Description != "msg" || r.Phase.Files[0].Path != "src/a.ts" || fmt.Sprint(r.Deleted) != "[src/b.ts]" {
		t.Fatalf("%+v %v", r, r.Phase)
	}
}

// TestProviderCompactsConversation checks the compaction prompt, the
// cleaning of the summary, and that a refinement continues from it.
func TestProviderCompactsConversation(t *testing.T) {
	prov, _, srv := newProviderServer(t, "compaction.json", "sk-llmtest-generation-0123456789abcdef")
	ctx := ContextWithSession(context.Background(), "sess-c")
	old := []codegen.Turn{
		{Role: "user", Text: "add due dates"}, {Role: "assistant", Text: "Added a due date to each task."},
		{Role: "user", Text: "sort by due date"}, {Role: "assistant", Text: "Sorted, earliest first."},
	}
	summary, err := prov.Compact(ctx, "The app is a task tracker.", old)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(summary, "The user asked for due dates") || strings.Contains(summary, "```") {
		t.Fatalf("summary %q", summary)
	}
	prompt := srv.Requests()[0].Messages[1].Content
	for _, s := range []string{"Summary so far:\n\"\"\"\nThe app is a task tracker.", "- user: add due dates", "- assistant: Sorted, earliest first.", "Write the updated summary."} {
		if !strings.Contains(prompt, s) {
			t.Fatalf("the compaction prompt lacks %q:\n%s", s, prompt)
		}
	}
	kept := []codegen.Turn{{Role: "user", Text: "make the header blue"}, {Role: "assistant", Text: "The header is blue now."}}
	conv := codegen.Conversation{Applied: []string{"add due dates", "sort by due date", "make the header blue"}, Summary: summary, Turns: kept}
	bp, err := ExtractBlueprint(readAnswer(t, "blueprint.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prov.Refine(ctx, "a task tracker", conv, "add a button that clears completed tasks", bp, map[string]string{"src/App.tsx": "x"}); err != nil {
		t.Fatal(err)
	}
	prompt = srv.Requests()[1].Messages[1].Content
	for _, s := range []string{"Summary of the earlier conversation:\n\"\"\"\n" + summary, "The conversation since then, oldest first:\n- user: make the header blue\n- assistant: The header is blue now."} {
		if !strings.Contains(prompt, s) {
			t.Fatalf("the conversation prompt lacks %q:\n%s", s, prompt)
		}
	}
	if strings.Contains(prompt, "sort by due date") || strings.Contains(prompt, "Changes already made") {
		t.Fatalf("the conversation prompt repeats what was compacted:\n%s", prompt)
	}
	if _, err := prov.Compact(ctx, summary, kept); !errors.Is(err, ErrEmptySummary) {
		t.Fatalf("an empty summary: %v", err)
	}
	if s, err := CleanSummary(strings.Repeat("é", codegen.MaxSummaryBytes) + "\xff"); err != nil || len(s) > codegen.MaxSummaryBytes || !utf8.ValidString(s) {
		t.Fatalf("long summary: %d bytes, valid %v, %v", len(s), utf8.ValidString(s), err)
	}
}
