package actors

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stichdev/stich/appbuild"
	"github.com/stichdev/stich/cluster"
	"github.com/stichdev/stich/codegen"
	"github.com/stichdev/stich/llm"
	"github.com/stichdev/stich/llm/llmtest"
	"github.com/stichdev/stich/preview"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/runcheck"
)

// canary is a runtime error that type-checks and bundles: only loading
// the app shows it.
const canary = `if (window.location.pathname.length > 0) throw new Error("runtime-canary: the settings are missing");`

// throwingScaffold is the scaffold provider whose entry throws at start;
// its fixing step is a model behind the fake OpenAI-compatible endpoint.
type throwingScaffold struct {
	codegen.Scaffold
	model *llm.Provider
}

func (throwingScaffold) Name() string { return "throwing" }

func (p throwingScaffold) Implement(ctx context.Context, bp *stichv1.Blueprint, phase *stichv1.PhasePlan, files map[string]string, skip map[string]bool, emit codegen.Emitter) error {
	return p.Scaffold.Implement(ctx, bp, phase, files, skip, &throwAtStart{Emitter: emit})
}

func (p throwingScaffold) Fix(ctx context.Context, bp *stichv1.Blueprint, files map[string]string, d []*stichv1.Diagnostic, emit codegen.Emitter) error {
	return p.model.Fix(ctx, bp, files, d, emit)
}

// throwAtStart puts the canary first in src/main.tsx.
type throwAtStart struct {
	codegen.Emitter
	started bool
}

func (t *throwAtStart) FileChunk(ctx context.Context, path, data string) error {
	if path == "src/main.tsx" && !t.started {
		t.started = true
		data = canary + "\n" + data
	}
	return t.Emitter.FileChunk(ctx, path, data)
}

// A build whose app throws at start: the runtime check's finding is in the
// session log as a runtime diagnostic, and it reaches the model's fixing
// prompt (quoted as untrusted page text); the model's repair is checked
// again and the app completes clean, with a screenshot of the build.
func TestRuntimeErrorReachesTheFixPrompt(t *testing.T) {
	checker, err := runcheck.New("")
	if err != nil {
		t.Fatalf("%v (CI installs chromium)", err)
	}
	defer checker.Close()
	srv := llmtest.NewServer(&llmtest.Script{Responses: []llmtest.Response{{
		When: "These problems were reported", Repeat: true,
		Content: "src/main.tsx\n<<<<<<< SEARCH\n" + canary + "\n=======\n>>>>>>> REPLACE\n\nRemoved the throw at start.",
	}}})
	defer srv.Close()
	client, err := llm.NewClient(llm.Config{
		Providers: []llm.ProviderConfig{{Name: "fake", Kind: llm.KindCustom, BaseURL: srv.URL, DefaultModel: "gpt-test"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	r := testSandbox(t)
	cfg := cluster.DefaultLocalConfig()
	cfg.Name, cfg.InMemory = "test", true
	rt, err := Start(context.Background(), Config{Cluster: cfg,
		Providers:       map[string]codegen.Provider{"throwing": throwingScaffold{model: llm.NewProvider("fake", client)}},
		DefaultProvider: "throwing", MaxFixRounds: 2,
		Builds: &appbuild.Config{Runner: r, Fixer: appbuild.NewLazyFixer(r)}, Previews: preview.Origins{Scheme: "http", Domain: "preview.test"},
		Runcheck: checker, SandboxIdle: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Shutdown(context.Background())

	id := create(t, rt, "a recipe tracker with ingredients and ratings")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var evs []*stichv1.SessionEvent
	if err := rt.Watch(ctx, NodeCaller(), id, 0, true, func(ev *stichv1.SessionEvent) error {
		evs = append(evs, ev)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var runtimeDiags []string
	var first *stichv1.Diagnostic
	var lines []string
	for _, ev := range evs {
		if d := ev.GetDiagnostics(); d != nil && d.GetTool() == "runtime" {
			for _, x := range d.GetDiagnostics() {
				if first == nil {
					first = x
				}
				runtimeDiags = append(runtimeDiags, x.GetCode()+": "+x.GetMessage())
			}
		}
		if l := ev.GetLog(); l != nil {
			lines = append(lines, l.GetSource()+": "+l.GetText())
		}
	}
	log := strings.Join(lines, "\n")
	if len(runtimeDiags) == 0 || !strings.Contains(runtimeDiags[0], "runtime-canary") || !strings.HasPrefix(runtimeDiags[0], "error: ") {
		t.Fatalf("runtime diagnostics %q; log:\n%s", runtimeDiags, log)
	}
	if !strings.Contains(log, "runtime check") {
		t.Errorf("no runtime check in the log:\n%s", log)
	}
	// The stack led back through the build's source map to the line.
	if first.GetFile() != "src/main.tsx" || first.GetLine() != 1 {
		t.Errorf("the runtime error is at %s:%d, want src/main.tsx:1 (the canary's line)", first.GetFile(), first.GetLine())
	}

	var prompts []string
	for _, req := range srv.Requests() {
		for _, m := range req.Messages {
			if strings.Contains(m.Content, "These problems were reported") {
				prompts = append(prompts, m.Content)
			}
		}
	}
	if len(prompts) == 0 || !strings.Contains(prompts[0], `runtime error reported by the running app's page (untrusted text`) ||
		!strings.Contains(prompts[0], "runtime-canary: the settings are missing") {
		t.Fatalf("the fixing prompts do not carry the runtime error as untrusted page text:\n%s", strings.Join(prompts, "\n----\n"))
	}

	// The model's repair was checked again: the last check found nothing.
	f, err := Call[*actorsv1.ReadFileReply](ctx, rt.Node, KindSession, id, &actorsv1.ReadFile{Caller: NodeCaller(), Path: "src/main.tsx"})
	if err != nil || strings.Contains(f.GetFile().GetContent(), "runtime-canary") {
		t.Fatalf("the repair was not applied: %v\n%s", err, f.GetFile().GetContent())
	}
	last := ""
	for _, l := range lines {
		if strings.Contains(l, "checked the app") {
			last = l
		}
	}
	if !strings.Contains(last, "runtime check") || !strings.Contains(last, "(0 problem(s))") {
		t.Errorf("the last check after the repair was not clean: %q\n%s", last, log)
	}
	shot, err := Call[*actorsv1.SandboxScreenshotReply](ctx, rt.Node, KindSandbox, id, &actorsv1.SandboxScreenshot{})
	if err != nil || !strings.HasPrefix(string(shot.GetPng()), "\x89PNG") {
		t.Errorf("screenshot: %v, %d bytes", err, len(shot.GetPng()))
	}
}

// Without a browser the check says so once per build and the session
// goes on: no runtime diagnostics, no failure.
func TestRuntimeCheckWithoutBrowser(t *testing.T) {
	reply := &actorsv1.SandboxCheckReply{}
	if shot := runtimeCheck(context.Background(), nil, nil, reply, func(string, string, string) { t.Error("logged without a browser") }); shot != nil {
		t.Error("a screenshot without a browser")
	}
	if reply.GetRuntimeStatus() != RuntimeNoBrowser || len(reply.GetRuntime()) != 0 {
		t.Errorf("reply %v", reply)
	}
}
