package nomad_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/stichdev/stich/appbuild"
	"github.com/stichdev/stich/nomad"
	"github.com/stichdev/stich/nomad/nomadtest"
	"github.com/stichdev/stich/preview"
	"github.com/stichdev/stich/sandbox"
)

// TestMain doubles as the build task: the fake runs the sandbox job's
// command (this test binary) with "sandbox-build" and the job's flags,
// and fakeBuild answers as `stich sandbox-build` would, without a
// sandbox (cmd/stich's test runs the real command end to end).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "sandbox-build" {
		os.Exit(fakeBuild(os.Args[2:]))
	}
	os.Exit(m.Run())
}

func fakeBuild(args []string) int {
	flags := map[string]string{}
	for i := 0; i+1 < len(args); i += 2 {
		flags[strings.TrimPrefix(args[i], "--")] = args[i+1]
	}
	ws, result := flags["workspace-url"], flags["result-url"]
	switch flags["mode"] {
	case "exit":
		fmt.Println("typecheck\terror\tboom")
		return 3
	case "late":
		time.Sleep(2500 * time.Millisecond)
	}
	resp, err := http.Get(ws)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fetch:", err)
		return 1
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(os.Stderr, "fetch the app: the node answered %s: %s\n", resp.Status, strings.TrimSpace(string(body)))
		return 1
	}
	var req appbuild.BuildRequest
	if err := json.Unmarshal(body, &req); err != nil {
		fmt.Fprintln(os.Stderr, "decode:", err)
		return 1
	}
	// Printed as `stich sandbox-build` prints them.
	lines, step := appbuild.LinePrinter(os.Stdout)
	step(appbuild.StepInstall, false, 0, "")
	lines("install", "info", "installing dependencies")
	if flags["mode"] == "hang" {
		time.Sleep(time.Hour)
	}
	// A replay of the workspace URL must be refused.
	if resp, err := http.Get(ws); err == nil {
		fmt.Printf("typecheck\tinfo\treplay answered %d\n", resp.StatusCode)
		resp.Body.Close()
	}
	fmt.Fprintln(os.Stderr, "a stray warning")
	var names []string
	for p := range req.Files {
		names = append(names, p)
	}
	sort.Strings(names)
	step(appbuild.StepInstall, true, 1200*time.Millisecond, "ok")
	step(appbuild.StepTypeCheck, false, 0, "")
	fmt.Printf("typecheck\tinfo\tchecked %d files\n", len(names))
	step(appbuild.StepTypeCheck, true, 345*time.Millisecond, "2 problem(s)")
	step("rm -rf /", false, 0, "") // not a step: dropped
	step(appbuild.StepBundle, false, 0, "")
	step(appbuild.StepBundle, true, 80*time.Millisecond, "ok")
	rep := appbuild.BuildReport{Preview: &preview.Exported{Files: []preview.ExportedFile{
		{Path: "/index.html", Body: []byte("<!doctype html><title>" + req.ID + "</title>")}}}}
	for _, p := range names {
		rep.Remaining = append(rep.Remaining, sandbox.Diagnostic{Code: 2304, Category: "error", File: p, Line: 1, Column: 1, Message: "Cannot find name 'x'."})
	}
	rep.Initial = rep.Remaining
	b, _ := json.Marshal(rep)
	hr, _ := http.NewRequest(http.MethodPut, result, bytes.NewReader(b))
	up, err := http.DefaultClient.Do(hr)
	if err != nil || up.StatusCode != http.StatusNoContent {
		fmt.Fprintln(os.Stderr, "upload failed:", err)
		return 1
	}
	return 0
}

type logLine struct{ source, level, text string }

type logRecorder struct {
	mu    sync.Mutex
	lines []logLine
	steps []string
}

func (l *logRecorder) step(name string, ended bool, took time.Duration, outcome string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ended {
		l.steps = append(l.steps, fmt.Sprintf("%s %v %s", name, took, outcome))
	} else {
		l.steps = append(l.steps, name)
	}
}

func (l *logRecorder) stepString() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.steps, ", ")
}

func (l *logRecorder) log(source, level, text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, logLine{source, level, text})
}

func (l *logRecorder) has(source, level, text string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, x := range l.lines {
		if x.source == source && x.level == level && strings.Contains(x.text, text) {
			return true
		}
	}
	return false
}

func (l *logRecorder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprint(l.lines)
}

// buildSetup registers the sandbox job (this binary in the given mode)
// and starts a node HTTP server with the runner's handler.
func buildSetup(t *testing.T, mode string, cfg nomad.BuildRunnerConfig, opts ...nomadtest.Option) (*nomadtest.Server, *nomad.Client, *nomad.BuildRunner) {
	t.Helper()
	srv, c := newFake(t, opts...)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	job, err := nomad.SandboxJob{Driver: "raw_exec", Command: exe, Args: []string{"--mode", mode}}.Job()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	var h http.Handler = http.NotFoundHandler()
	var mu sync.Mutex
	node := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hh := h
		mu.Unlock()
		hh.ServeHTTP(w, r)
	}))
	t.Cleanup(node.Close)
	cfg.Client, cfg.JobID, cfg.NodeURL = c, "stich-sandbox", node.URL
	cfg.Secret = bytes.Repeat([]byte("k"), 32)
	if cfg.Poll == 0 {
		cfg.Poll = 50 * time.Millisecond
	}
	r, err := nomad.NewBuildRunner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	h = r.Handler()
	mu.Unlock()
	return srv, c, r
}

// children lists the sandbox job's dispatched jobs.
func children(t *testing.T, c *nomad.Client) []*api.Job {
	t.Helper()
	stubs, _, err := c.API().Jobs().PrefixList("stich-sandbox/dispatch-")
	if err != nil {
		t.Fatal(err)
	}
	var out []*api.Job
	for _, s := range stubs {
		j, _, err := c.API().Jobs().Info(s.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, j)
	}
	return out
}

func TestBuildRunnerDispatchesAndReturnsTheReport(t *testing.T) {
	_, c, r := buildSetup(t, "ok", nomad.BuildRunnerConfig{Timeout: time.Minute})
	var logs logRecorder
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	files := map[string]string{"src/App.tsx": "x", "index.html": "<div></div>"}
	out, err := r.Check(ctx, appbuild.BuildRequest{ID: "sess-1", Base: "/", Files: files}, logs.log, logs.step)
	if err != nil {
		t.Fatalf("check: %v\nlogs: %s", err, logs.String())
	}
	if len(out.Remaining) != 2 || out.Remaining[0].File != "index.html" || out.Remaining[1].File != "src/App.tsx" || out.Remaining[1].Code != 2304 {
		t.Errorf("remaining diagnostics = %+v, want one TS2304 per file", out.Remaining)
	}
	if out.Preview == nil {
		t.Fatal("no preview")
	}
	if b, ok := out.Preview.File("/index.html"); !ok || !strings.Contains(string(b), "<title>sess-1</title>") {
		t.Errorf("preview index.html = %q", b)
	}
	for _, want := range []logLine{{"nomad", "info", "dispatched stich-sandbox/dispatch-"}, {"install", "info", "installing dependencies"},
		{"typecheck", "info", "checked 2 files"}, {"nomad", "warn", "a stray warning"}, {"typecheck", "info", "replay answered 403"}} {
		if !logs.has(want.source, want.level, want.text) {
			t.Errorf("log has no %+v line; got %s", want, logs.String())
		}
	}
	// The task's sub-steps, read back from its output as it printed
	// them: the known ones, in order, with their time and outcome; the
	// step lines are not log lines.
	if got, want := logs.stepString(), "install, install 1.2s ok, typecheck, typecheck 345ms 2 problem(s), bundle, bundle 80ms ok"; got != want {
		t.Errorf("steps: %s, want %s", got, want)
	}
	if logs.has("nomad", "warn", "step") || logs.has("step", "start", "") {
		t.Errorf("a step line was logged: %s", logs.String())
	}
	// The child job carries both URLs; neither works again, nor does a
	// tampered one.
	kids := children(t, c)
	if len(kids) != 1 {
		t.Fatalf("%d dispatched jobs, want 1", len(kids))
	}
	if kids[0].ParentID == nil || *kids[0].ParentID != "stich-sandbox" || !kids[0].Dispatched {
		t.Errorf("child job: parent %v dispatched %v", kids[0].ParentID, kids[0].Dispatched)
	}
	ws, res := kids[0].Meta["workspace_url"], kids[0].Meta["result_url"]
	for _, tc := range []struct {
		method, url string
	}{{http.MethodGet, ws}, {http.MethodPut, res}, {http.MethodGet, ws[:len(ws)-3] + "AAA"}, {http.MethodGet, strings.Replace(ws, "/workspace/", "/workspace/x", 1)}} {
		req, _ := http.NewRequest(tc.method, tc.url, strings.NewReader("{}"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s %s again: %d, want 403", tc.method, tc.url, resp.StatusCode)
		}
	}
}

func TestBuildRunnerRefusesAnExpiredURL(t *testing.T) {
	_, _, r := buildSetup(t, "late", nomad.BuildRunnerConfig{URLTTL: time.Second, Timeout: 30 * time.Second})
	var logs logRecorder
	_, err := r.Check(context.Background(), appbuild.BuildRequest{ID: "sess-2", Files: map[string]string{"a.ts": ""}}, logs.log, nil)
	if !errors.Is(err, nomad.ErrBuildTask) || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "expired URL") {
		t.Fatalf("err = %v, want the task's 403 for an expired URL", err)
	}
}

func TestBuildRunnerTaskWithoutReport(t *testing.T) {
	_, _, r := buildSetup(t, "exit", nomad.BuildRunnerConfig{Timeout: 30 * time.Second})
	var logs logRecorder
	_, err := r.Check(context.Background(), appbuild.BuildRequest{ID: "sess-3", Files: map[string]string{"a.ts": ""}}, logs.log, nil)
	if !errors.Is(err, nomad.ErrBuildTask) || !strings.Contains(err.Error(), "failed") || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("err = %v, want the task's failure with its last line", err)
	}
}

func TestBuildRunnerPlacementFailureIsReportedAfterARetry(t *testing.T) {
	// The only client has exec but not raw_exec: no node is eligible.
	_, c, r := buildSetup(t, "ok", nomad.BuildRunnerConfig{Timeout: 30 * time.Second},
		nomadtest.WithNodes(nomadtest.Node{Name: "no-raw-exec", Datacenter: "dc1", Drivers: []string{"exec"}}))
	var logs logRecorder
	start := time.Now()
	_, err := r.Check(context.Background(), appbuild.BuildRequest{ID: "sess-4", Files: map[string]string{"a.ts": ""}}, logs.log, nil)
	if !errors.Is(err, nomad.ErrPlacement) || !strings.Contains(err.Error(), `"missing drivers"`) || !strings.Contains(err.Error(), "after 2 attempts") {
		t.Fatalf("err = %v, want a placement failure naming the constraint, after 2 attempts", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("placement failure took %v to report", d)
	}
	if !logs.has("nomad", "warn", "dispatching the build again") {
		t.Errorf("no retry in the log: %s", logs.String())
	}
	kids := children(t, c)
	if len(kids) != 2 {
		t.Fatalf("%d dispatched jobs, want 2", len(kids))
	}
	for _, k := range kids {
		if k.Stop == nil || !*k.Stop {
			t.Errorf("unplaced child %s left registered (it would be placed later)", *k.ID)
		}
	}
}

func TestBuildRunnerLostAllocationIsRetriedOnce(t *testing.T) {
	srv, c, r := buildSetup(t, "hang", nomad.BuildRunnerConfig{Timeout: time.Minute})
	var logs logRecorder
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lost := map[string]bool{}
	var lmu sync.Mutex
	done := make(chan struct{})
	go func() { // lose each build's allocation once it has fetched the app
		defer close(done)
		for ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
			stubs, _, err := c.API().Jobs().PrefixList("stich-sandbox/dispatch-")
			if err != nil {
				continue
			}
			for _, s := range stubs {
				for _, a := range srv.Allocs(s.ID) {
					lmu.Lock()
					seen := lost[a.ID]
					lmu.Unlock()
					if seen || a.ClientStatus != "running" {
						continue
					}
					n := strings.Count(logs.String(), "installing dependencies")
					if n < len(lost)+1 {
						continue
					}
					if err := srv.LoseAlloc(a.ID); err == nil {
						lmu.Lock()
						lost[a.ID] = true
						lmu.Unlock()
					}
				}
			}
		}
	}()
	_, err := r.Check(ctx, appbuild.BuildRequest{ID: "sess-5", Files: map[string]string{"a.ts": ""}}, logs.log, nil)
	cancel()
	<-done
	if !errors.Is(err, nomad.ErrAllocLost) || !strings.Contains(err.Error(), "after 2 attempts") {
		t.Fatalf("err = %v, want a lost allocation after 2 attempts", err)
	}
	if len(lost) != 2 {
		t.Errorf("%d allocations lost, want 2 (the first and its retry)", len(lost))
	}
	if !logs.has("nomad", "warn", "dispatching the build again") {
		t.Errorf("no retry in the log: %s", logs.String())
	}
}

// The fake refuses dispatches as Nomad does, and names child jobs as it
// does.
func TestFakeDispatchChecks(t *testing.T) {
	_, c := newFake(t)
	job, err := nomad.SandboxJob{Driver: "raw_exec", Command: "/bin/true"}.Job()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	jobs := c.API().Jobs()
	ok := map[string]string{"workspace_url": "http://x/w", "result_url": "http://x/r"}
	for _, tc := range []struct {
		name    string
		job     string
		meta    map[string]string
		payload []byte
		want    string
	}{
		{"missing meta", "stich-sandbox", map[string]string{"workspace_url": "u"}, nil, "did not provide required meta keys: [result_url]"},
		{"unpermitted meta", "stich-sandbox", map[string]string{"workspace_url": "u", "result_url": "u", "x": "1"}, nil, "unpermitted meta keys: [x]"},
		{"payload", "stich-sandbox", ok, []byte("x"), "Payload is not allowed"},
		{"unknown job", "nope", ok, nil, "not found"},
	} {
		if _, _, err := jobs.Dispatch(tc.job, tc.meta, tc.payload, "", nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
	}
	resp, _, err := jobs.Dispatch("stich-sandbox", ok, nil, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp.DispatchedJobID, "stich-sandbox/dispatch-") || resp.EvalID == "" {
		t.Errorf("dispatch response %+v", resp)
	}
	if _, _, err := jobs.Dispatch(resp.DispatchedJobID, ok, nil, "", nil); err == nil || !strings.Contains(err.Error(), "is not a parameterized job") {
		t.Errorf("dispatching a child job: %v", err)
	}
}
