package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/stichdev/stich/llm/llmtest"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

func fakeModel(t *testing.T, script string) *llmtest.Server {
	t.Helper()
	s, err := llmtest.LoadScript(filepath.Join("..", "..", "llm", "testdata", "scripts", script))
	if err != nil {
		t.Fatal(err)
	}
	srv := llmtest.NewServer(s)
	t.Cleanup(srv.Close)
	t.Setenv("STICH_LLM_API_KEY", s.APIKey)
	return srv
}

// events decodes NDJSON output into maps.
func events(t *testing.T, out string) []map[string]any {
	t.Helper()
	var evs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not NDJSON: %q", line)
		}
		evs = append(evs, m)
	}
	return evs
}

func TestGenerateWithModelThroughAllPhases(t *testing.T) {
	srv := fakeModel(t, "generation.json")
	dir := filepath.Join(t.TempDir(), "app")
	code, out, errs := runCLI(t, "generate", "--json", "--provider", "openai", "--base-url", srv.URL, "--model", "gpt-test",
		"--out", dir, "a task tracker with due dates")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	evs := events(t, out)
	var phases []string
	var label string
	for _, ev := range evs {
		if pc, ok := ev["phase_changed"].(map[string]any); ok {
			phases = append(phases, pc["phase"].(string))
		}
		if gs, ok := ev["generation_started"].(map[string]any); ok {
			label, _ = gs["provider_label"].(string)
		}
	}
	sawBlueprint := false
	for _, ev := range evs {
		if bp, ok := ev["blueprint"].(map[string]any); ok {
			roadmap, _ := bp["blueprint"].(map[string]any)["roadmap"].([]any)
			sawBlueprint = len(roadmap) >= 2
		}
	}
	if !sawBlueprint {
		t.Fatalf("no blueprint event with a multi-phase roadmap:\n%s", out)
	}
	planned := false // phase 2 as the phase-planning model planned it
	for _, ev := range evs {
		if pc, ok := ev["phase_changed"].(map[string]any); ok && pc["phase"] == "PHASE_GENERATING" && pc["index"] == float64(1) {
			desc, _ := pc["description"].(string)
			planned = strings.Contains(desc, "components used by App")
		}
	}
	if !planned {
		t.Fatalf("phase 2 was not announced as the model planned it:\n%s", out)
	}
	got := strings.Join(phases, " ")
	for _, want := range []string{"PHASE_PLANNING PHASE_GENERATING PHASE_REVIEWING PHASE_GENERATING PHASE_REVIEWING", "PHASE_FIXING", "PHASE_COMPLETED"} {
		if !strings.Contains(got, want) {
			t.Fatalf("phases %s lack %s", got, want)
		}
	}
	if strings.Contains(label, "scaffold") || !strings.Contains(label, "gpt-test") {
		t.Fatalf("provider label %q", label)
	}
	if _, ok := evs[len(evs)-1]["completed"]; !ok {
		t.Fatalf("last event %v", evs[len(evs)-1])
	}
	if b, err := os.ReadFile(filepath.Join(dir, "src", "App.tsx")); err != nil || len(b) == 0 {
		t.Fatalf("App.tsx: %v", err)
	}
	if len(srv.Requests()) < 5 {
		t.Fatalf("the fake model saw %d requests", len(srv.Requests()))
	}
}

func TestGenerateFallsBackToSecondModel(t *testing.T) {
	srv := fakeModel(t, "generation_fallback.json")
	cfg := filepath.Join(t.TempDir(), "llm.json")
	os.WriteFile(cfg, []byte(`{
  "providers": [{"name": "fake", "kind": "custom", "base_url": "`+srv.URL+`", "api_key_env": "STICH_LLM_API_KEY", "default_model": "gpt-test"}],
  "default_provider": "fake",
  "actions": {"blueprint": {"model": "gpt-test", "fallback_model": "gpt-fallback"}},
  "retry": {"max_attempts": 3, "base_delay": "5ms", "max_delay": "20ms"}
}`), 0o644)
	code, out, errs := runCLI(t, "generate", "--json", "--llm-config", cfg, "a task tracker with due dates")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	sawFallback := false
	for _, ev := range events(t, out) {
		if l, ok := ev["log"].(map[string]any); ok && strings.Contains(strings.ToLower(l["text"].(string)), "fallback") &&
			strings.Contains(l["text"].(string), "gpt-fallback") {
			sawFallback = true
		}
	}
	if !sawFallback {
		t.Fatalf("no event shows the switch to the fallback model:\n%s", out)
	}
	if strings.Contains(out, "sk-llmtest") || strings.Contains(errs, "sk-llmtest") {
		t.Fatal("the API key leaked into the output")
	}
}

// TestGenerateFlagsFallBackToSecondModel runs the Done-when command shape
// with --fallback-model: the primary model's 5xx answers exhaust its retry
// budget and the fallback model takes over, visibly in the events.
func TestGenerateFlagsFallBackToSecondModel(t *testing.T) {
	srv := fakeModel(t, "generation_fallback_flags.json")
	code, out, errs := runCLI(t, "generate", "--json", "--provider", "openai", "--base-url", srv.URL, "--model", "gpt-test",
		"--fallback-model", "gpt-fallback", "a task tracker with due dates")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	evs := events(t, out)
	retries, fallbackAt, blueprintAt := 0, -1, -1
	for i, ev := range evs {
		if l, ok := ev["log"].(map[string]any); ok {
			text, _ := l["text"].(string)
			if strings.Contains(strings.ToLower(text), "retry") && strings.Contains(text, "gpt-test") {
				retries++
			}
			if strings.Contains(strings.ToLower(text), "fallback") && strings.Contains(text, "gpt-fallback") && fallbackAt < 0 {
				fallbackAt = i
			}
		}
		if _, ok := ev["blueprint"]; ok && blueprintAt < 0 {
			blueprintAt = i
		}
	}
	if retries < 4 || fallbackAt < 0 || blueprintAt < fallbackAt {
		t.Fatalf("want 4 retries of gpt-test, then the switch to gpt-fallback, then the blueprint; got %d retries, fallback at %d, blueprint at %d:\n%s",
			retries, fallbackAt, blueprintAt, out)
	}
	if _, ok := evs[len(evs)-1]["completed"]; !ok {
		t.Fatalf("last event %v", evs[len(evs)-1])
	}
	var primary, fallback int
	for _, r := range srv.Requests() {
		switch r.Model {
		case "gpt-test":
			primary++
		case "gpt-fallback":
			fallback++
		}
	}
	if primary < 5 || fallback < 1 {
		t.Fatalf("the fake model saw %d requests for gpt-test and %d for gpt-fallback", primary, fallback)
	}
	if m := srv.Mismatches(); len(m) > 0 {
		t.Fatalf("requests the script did not expect: %v", m)
	}
}

func TestGenerateModelErrorsAreClear(t *testing.T) {
	srv := fakeModel(t, "generation.json")
	t.Setenv("STICH_LLM_API_KEY", "sk-wrong-key")
	code, out, errs := runCLI(t, "generate", "--provider", "custom", "--base-url", srv.URL, "--model", "gpt-test", "an app")
	if code != 1 || !strings.Contains(out+errs, "failed") {
		t.Fatalf("wrong key: exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(strings.ToLower(out), "key") && !strings.Contains(strings.ToLower(out), "401") {
		t.Fatalf("the error does not say the key was refused:\n%s", out)
	}
	if strings.Contains(out+errs, "sk-wrong-key") {
		t.Fatal("the key leaked")
	}
	if code, _, errs := runCLI(t, "generate", "--base-url", "http://127.0.0.1:1/v1", "x"); code != 2 || !strings.Contains(errs, "--provider") {
		t.Fatalf("--base-url without a provider: exit %d %q", code, errs)
	}
}

func TestModelRefinementCreatesVersionAndRollbackRestores(t *testing.T) {
	srv := fakeModel(t, "generation.json")
	// The documented flags; the key comes from STICH_LLM_API_KEY.
	data := t.TempDir()
	node := startNode(t, data, "--provider", "openai", "--base-url", srv.URL, "--model", "gpt-test")
	code, out, errs := runCLI(t, "generate", "--server", node.url, "--json", "a task tracker with due dates")
	if code != 0 {
		t.Fatalf("generate: exit %d\n%s\n%s", code, out, errs)
	}
	id, _ := events(t, out)[0]["session_id"].(string)
	if id == "" {
		t.Fatalf("no session_id line first:\n%s", out)
	}
	c := sessionClient(node.url)
	ctx := context.Background()
	v1files := map[string]string{}
	list, err := c.ListFiles(ctx, connect.NewRequest(&stichv1.ListFilesRequest{SessionId: id}))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range list.Msg.GetFiles() {
		v1files[f.GetPath()] = f.GetSha256()
	}
	code, out, errs = runCLI(t, "refine", "--server", node.url, "--json", id, "add a button that clears completed tasks")
	if code != 0 {
		t.Fatalf("refine: exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, `"path":"src/App.tsx"`) || !strings.Contains(out, "Clear completed") {
		t.Fatalf("the refinement did not edit src/App.tsx:\n%s", out)
	}
	code, out, _ = runCLI(t, "versions", "--server", node.url, id)
	if code != 0 || !strings.Contains(out, "generation") || !strings.Contains(out, "refinement: add a button") {
		t.Fatalf("versions:\n%s", out)
	}
	code, out, _ = runCLI(t, "diff", "--server", node.url, id, "1", "2")
	if code != 0 || !strings.Contains(out, "+++ b/src/App.tsx") || !strings.Contains(out, "+        Clear completed") {
		t.Fatalf("diff 1 2:\n%s", out)
	}
	if n := strings.Count(out, "+++ "); n != 1 {
		t.Fatalf("the refinement changed %d files, want only src/App.tsx:\n%s", n, out)
	}
	code, out, _ = runCLI(t, "rollback", "--server", node.url, id, "1")
	if code != 0 || !strings.Contains(out, "version 3: rollback to version 1") {
		t.Fatalf("rollback: %d %s", code, out)
	}
	if code, out, errs := runCLI(t, "watch", "--server", node.url, id); code != 0 {
		t.Fatalf("watch after a rollback: exit %d\n%s\n%s", code, out, errs)
	}
	list, err = c.ListFiles(ctx, connect.NewRequest(&stichv1.ListFilesRequest{SessionId: id}))
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Msg.GetFiles()) != len(v1files) {
		t.Fatalf("%d files after rollback, version 1 had %d", len(list.Msg.GetFiles()), len(v1files))
	}
	for _, f := range list.Msg.GetFiles() {
		if v1files[f.GetPath()] != f.GetSha256() {
			t.Fatalf("%s differs from version 1 after rollback", f.GetPath())
		}
	}

	// Model usage, per action and model, survives a restart of the node.
	before, err := c.GetSession(ctx, connect.NewRequest(&stichv1.GetSessionRequest{SessionId: id}))
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]bool{}
	for _, u := range before.Msg.GetSession().GetUsage() {
		actions[u.GetAction()] = u.GetRequests() > 0 && u.GetPromptTokens() > 0 && u.GetModel() == "openai/gpt-test"
	}
	for _, a := range []string{"blueprint", "phase_planning", "phase_implementation", "review", "fixing", "conversation"} {
		if !actions[a] {
			t.Fatalf("no usage recorded for %s: %v", a, before.Msg.GetSession().GetUsage())
		}
	}
	if err := node.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-node.done; err != nil {
		t.Fatalf("stich serve did not stop cleanly: %v", err)
	}
	node = startNode(t, data, "--provider", "openai", "--base-url", srv.URL, "--model", "gpt-test")
	after, err := sessionClient(node.url).GetSession(ctx, connect.NewRequest(&stichv1.GetSessionRequest{SessionId: id}))
	if err != nil {
		t.Fatal(err)
	}
	b, a := before.Msg.GetSession(), after.Msg.GetSession()
	if len(a.GetUsage()) != len(b.GetUsage()) || a.GetCounters().GetPromptTokens() != b.GetCounters().GetPromptTokens() ||
		a.GetCounters().GetCostUsd() != b.GetCounters().GetCostUsd() || a.GetCounters().GetModelRequests() != b.GetCounters().GetModelRequests() {
		t.Fatalf("usage after a restart %v (%v), before %v (%v)", a.GetUsage(), a.GetCounters(), b.GetUsage(), b.GetCounters())
	}
	for i := range a.GetUsage() {
		if !proto.Equal(a.GetUsage()[i], b.GetUsage()[i]) {
			t.Fatalf("usage row %d after a restart %v, before %v", i, a.GetUsage()[i], b.GetUsage()[i])
		}
	}
}

func TestModelProviderFlagAlias(t *testing.T) {
	for _, flag := range []string{"--provider", "--model-provider"} {
		code, out, errs := runCLI(t, "models", flag, "custom", "--base-url", "http://127.0.0.1:1/v1", "--model", "m-alias")
		if code != 0 || !strings.Contains(out, "custom (default)") || !strings.Contains(out, "m-alias") {
			t.Fatalf("models %s custom: exit %d\n%s\n%s", flag, code, out, errs)
		}
	}
	t.Setenv("STICH_LLM_PROVIDER", "openai")
	code, out, errs := runCLI(t, "models", "--provider", "scaffold")
	if code != 0 || !strings.Contains(out, "No model provider is configured") {
		t.Fatalf("--provider scaffold does not override STICH_LLM_PROVIDER: exit %d\n%s\n%s", code, out, errs)
	}
}
