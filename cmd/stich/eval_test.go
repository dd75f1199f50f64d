package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stichdev/stich/eval"
	"github.com/stichdev/stich/internal/testutil"
	"github.com/stichdev/stich/llm/llmtest"
)

// runCLIFor is runCLI with a longer deadline, for commands that build
// several apps in the sandbox.
func runCLIFor(t *testing.T, d time.Duration, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var out, errb bytes.Buffer
	code := run(ctx, args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func readRun(t *testing.T, path string) eval.Run {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r eval.Run
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// stich eval end to end: three prompts of the built-in set through the
// scaffold, then two through the fake model endpoint; each run writes
// run.json and report.html; a run compared with itself has no
// regressions, and one compared with a better baseline fails.
func TestEvalEndToEnd(t *testing.T) {
	_, keep := testutil.SandboxDirs(t)
	sb := []string{"--sandbox-dir", filepath.Join(keep, "cmd-eval-sandbox"), "--sandbox-uid", fmt.Sprint(previewUID)}
	dir := t.TempDir()

	scaffoldOut := filepath.Join(dir, "scaffold")
	code, out, errs := runCLIFor(t, 8*time.Minute, append([]string{"eval", "--provider", "scaffold", "--limit", "3", "--concurrency", "2", "--out", scaffoldOut}, sb...)...)
	if code != 0 {
		t.Fatalf("eval with the scaffold: exit %d\n%s\n%s", code, out, errs)
	}
	t.Logf("scaffold:\n%s", out)
	r := readRun(t, filepath.Join(scaffoldOut, "run.json"))
	if len(r.Apps) != 3 {
		t.Fatalf("%d apps recorded, want 3", len(r.Apps))
	}
	for _, a := range r.Apps {
		if !a.Generated || a.Files == 0 || a.SessionID == "" || a.GenerateMS <= 0 {
			t.Errorf("app %q not recorded as generated: %+v", a.Prompt.Text, a)
		}
		if a.Built != (a.PreviewMS > 0) || a.Built && a.PreviewMS < a.GenerateMS {
			t.Errorf("app %q: built %v but time to preview %dms (generation %dms)", a.Prompt.Text, a.Built, a.PreviewMS, a.GenerateMS)
		}
		// CI has chromium: every built scaffold app is loaded, and renders.
		if a.Built && (a.Rendered == nil || !*a.Rendered) {
			t.Errorf("app %q: rendered %v, runtime problems %v (%s)", a.Prompt.Text, a.Rendered, a.RuntimeProblems, a.Error)
		}
	}
	page, err := os.ReadFile(filepath.Join(scaffoldOut, "report.html"))
	if err != nil || !bytes.Contains(page, []byte("<svg")) || !bytes.Contains(page, []byte(r.Apps[0].Prompt.Text)) {
		t.Fatalf("report.html: %v\n%.500s", err, page)
	}
	if code, out, _ := runCLI(t, "eval", "compare", filepath.Join(scaffoldOut, "run.json"), filepath.Join(scaffoldOut, "run.json")); code != 0 || !strings.Contains(out, "no regressions") {
		t.Errorf("a run compared with itself: exit %d\n%s", code, out)
	}

	// A baseline where every app was viable and instant: the real run
	// regresses against it unless it too is all viable and fast.
	better := r
	better.Apps = append([]eval.App(nil), r.Apps...)
	for i := range better.Apps {
		better.Apps[i].CleanAfter, better.Apps[i].Placeholders, better.Apps[i].Built, better.Apps[i].PreviewMS = true, 0, true, 1
	}
	betterPath := filepath.Join(dir, "better.json")
	var b bytes.Buffer
	if err := eval.WriteRun(&b, better); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(betterPath, b.Bytes(), 0o644)
	if code, out, _ := runCLI(t, "eval", "compare", betterPath, filepath.Join(scaffoldOut, "run.json")); code != 1 || !strings.Contains(out, "regression") {
		t.Errorf("compare with a better baseline: exit %d\n%s", code, out)
	}

	// The fake model endpoint: the generation script, each answer reusable
	// so that two sessions can run on it.
	s, err := llmtest.LoadScript(filepath.Join("..", "..", "llm", "testdata", "scripts", "generation.json"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range s.Responses {
		s.Responses[i].Repeat = true
	}
	srv := llmtest.NewServer(s)
	defer srv.Close()
	t.Setenv("STICH_LLM_API_KEY", s.APIKey)
	prompts := filepath.Join(dir, "prompts.txt")
	os.WriteFile(prompts, []byte("crud: a task tracker with due dates\ntool: a task list with due dates and priorities\n"), 0o644)
	modelOut := filepath.Join(dir, "model")
	code, out, errs = runCLIFor(t, 8*time.Minute, append([]string{"eval", "--provider", "openai", "--base-url", srv.URL, "--model", "gpt-test",
		"--concurrency", "2", "--out", modelOut, prompts}, sb...)...)
	if code != 0 {
		t.Fatalf("eval with the fake model: exit %d\n%s\n%s", code, out, errs)
	}
	t.Logf("fake model:\n%s", out)
	m := readRun(t, filepath.Join(modelOut, "run.json"))
	if len(m.Apps) != 2 || m.Model != "gpt-test" {
		t.Fatalf("run %+v", m)
	}
	for _, a := range m.Apps {
		if !a.Generated || a.PromptTokens == 0 || a.CompletionTokens == 0 {
			t.Errorf("app %q: generated %v, tokens %d+%d (%s)", a.Prompt.Text, a.Generated, a.PromptTokens, a.CompletionTokens, a.Error)
		}
	}
	if len(srv.Requests()) < 10 {
		t.Errorf("the fake model saw %d requests for two apps", len(srv.Requests()))
	}

	// Bad input: a clear message and exit 2.
	for _, args := range [][]string{{"eval", "--concurrency", "0"}, {"eval", filepath.Join(dir, "nope.txt")}, {"eval", "compare", prompts, prompts}} {
		if code, out, errs := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s\n%s", args, code, out, errs)
		}
	}
}
