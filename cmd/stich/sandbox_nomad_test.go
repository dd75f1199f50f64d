package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/stichdev/stich/appbuild"
	"github.com/stichdev/stich/internal/testutil"
	"github.com/stichdev/stich/nomad"
	"github.com/stichdev/stich/nomad/nomadtest"
	"github.com/stichdev/stich/preview"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
)

// A scaffold app's check runs through the Nomad runner end to end: the
// fake dispatches the sandbox job, whose task is the real `stich
// sandbox-build` (bubblewrap, the sandbox uid, the local runner's limits),
// fetching the app through its signed URL and uploading its report. The
// diagnostics and the preview equal the local runner's on the same files,
// and the preview serves.
func TestNomadSandboxRunnerMatchesLocal(t *testing.T) {
	workspaces, keep := testutil.SandboxDirs(t)
	dir := filepath.Join(t.TempDir(), "recipes")
	if code, out, errs := runCLI(t, "generate", "--out", dir, "a recipe tracker with ingredients and ratings"); code != 0 {
		t.Fatalf("generate: exit %d\n%s\n%s", code, out, errs)
	}
	files, _, err := readAppDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files["src/App.tsx"] += "\nexport const wrong: number = \"text\";\n" // one tsc diagnostic
	sandboxDir := filepath.Join(keep, "cmd-sandbox")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	nolog := func(string, string, string) {}

	// The local runner, as `stich serve --sandbox local` has it.
	sf := &sandboxFlags{dir: sandboxDir, uid: previewUID, uids: 64, registry: defaultRegistry}
	cfg, reason := sf.builds(sandboxDir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if cfg == nil {
		t.Fatal(reason)
	}
	local := appbuild.New(*cfg, "nomad-cmp-local", "/", preview.ReportPath)
	defer local.Close(context.Background())
	want, err := local.Check(ctx, files, false, nolog)
	if err != nil {
		t.Fatalf("local check: %v", err)
	}

	// The Nomad runner against the fake, whose raw_exec task is this stich.
	srv, err := nomadtest.New(nomadtest.WithDataDir(filepath.Join(workspaces, "nomad")))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := nomad.NewClient(nomad.ClientConfig{Address: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	job, err := nomad.SandboxJob{Driver: "raw_exec", Command: stichBin,
		Args: []string{"--sandbox-uid", fmt.Sprint(previewUID), "--npm-cache", filepath.Join(sandboxDir, "npm-cache")}}.Job()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(ctx, job); err != nil {
		t.Fatal(err)
	}
	var handler http.Handler
	var hmu sync.Mutex
	node := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hmu.Lock()
		h := handler
		hmu.Unlock()
		h.ServeHTTP(w, r)
	}))
	defer node.Close()
	runner, err := nomad.NewBuildRunner(nomad.BuildRunnerConfig{Client: c, JobID: *job.ID, NodeURL: node.URL,
		Secret: bytes.Repeat([]byte{7}, 32), Timeout: 6 * time.Minute, Poll: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	hmu.Lock()
	handler = runner.Handler()
	hmu.Unlock()
	remote := appbuild.New(appbuild.Config{Remote: runner}, "nomad-cmp-remote", "/", preview.ReportPath)
	var lmu sync.Mutex
	var lines, steps []string
	got, err := remote.CheckSteps(ctx, files, false, func(source, level, text string) {
		lmu.Lock()
		lines = append(lines, source+" "+level+" "+text)
		lmu.Unlock()
	}, func(step string, ended bool, took time.Duration, outcome string) {
		lmu.Lock()
		if ended {
			step += " ended " + outcome
		}
		steps = append(steps, step)
		lmu.Unlock()
	})
	if err != nil {
		t.Fatalf("nomad check: %v\nlog:\n%s", err, strings.Join(lines, "\n"))
	}

	t.Logf("local: %d diagnostics, %d preview files, install %v, tsc %v; nomad: %d diagnostics, install %v, tsc %v, bundle %v",
		len(want.Remaining), len(want.Preview.Paths()), want.Install, want.TypeCheck, len(got.Remaining), got.Install, got.TypeCheck, got.Bundle)
	if len(want.Remaining) == 0 || !reflect.DeepEqual(got.Remaining, want.Remaining) || !reflect.DeepEqual(got.Initial, want.Initial) {
		t.Errorf("diagnostics differ:\nnomad %+v\nlocal %+v", got.Remaining, want.Remaining)
	}
	if !reflect.DeepEqual(got.Build, want.Build) {
		t.Errorf("bundle diagnostics differ:\nnomad %+v\nlocal %+v", got.Build, want.Build)
	}
	if got.Preview == nil || want.Preview == nil {
		t.Fatalf("previews: nomad %v local %v", got.Preview != nil, want.Preview != nil)
	}
	if !reflect.DeepEqual(got.Preview.Paths(), want.Preview.Paths()) {
		t.Fatalf("preview files differ:\nnomad %v\nlocal %v", got.Preview.Paths(), want.Preview.Paths())
	}
	for _, p := range want.Preview.Paths() {
		if p == preview.ReporterPath { // carries each build's own report token
			continue
		}
		g, _ := got.Preview.File(p)
		w, _ := want.Preview.File(p)
		if !bytes.Equal(g, w) {
			t.Errorf("preview %s differs (%d bytes from nomad, %d local)", p, len(g), len(w))
		}
	}
	if remote.Preview() != got.Preview {
		t.Error("the workspace does not hold the remote build's preview")
	}
	lmu.Lock()
	log := strings.Join(lines, "\n")
	lmu.Unlock()
	for _, want := range []string{"nomad info dispatched stich-sandbox/dispatch-", "install info installing dependencies"} {
		if !strings.Contains(log, want) {
			t.Errorf("log has no %q (streamed from the task):\n%s", want, log)
		}
	}
	// The task's sub-steps come back as a local check reports them.
	lmu.Lock()
	stepLog := strings.Join(steps, ", ")
	lmu.Unlock()
	if want := regexp.MustCompile(`^install, install ended ok[^,]*, typecheck, typecheck ended 1 problem\(s\), bundle, bundle ended ok$`); !want.MatchString(stepLog) {
		t.Errorf("steps from the task: %s", stepLog)
	}

	// The preview serves: the page and the script it loads.
	ps := httptest.NewServer(preview.NewHandler(got.Preview))
	defer ps.Close()
	body := httpGet(t, ps.URL+"/")
	if !strings.Contains(body, "<script") {
		t.Fatalf("preview / has no script:\n%s", body)
	}
	for _, p := range got.Preview.Paths() {
		if strings.HasSuffix(p, ".js") && p != preview.ReporterPath {
			if js := httpGet(t, ps.URL+p); len(js) < 1000 {
				t.Errorf("preview %s: %d bytes", p, len(js))
			}
		}
	}
	if _, err := os.Stat(filepath.Join(workspaces, "nomad")); err != nil {
		t.Errorf("the task did not run in the fake's data folder: %v", err)
	}
}

func httpGet(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	return string(b)
}

// `stich serve --sandbox nomad` builds a session's app through the
// sandbox job: the preview is ready and served, the session's log shows
// the dispatch and the task's streamed progress, and the dispatch's URLs
// are on the node's own HTTP port, spent once used.
func TestServeWithNomadSandbox(t *testing.T) {
	workspaces, keep := testutil.SandboxDirs(t)
	sandboxDir := filepath.Join(keep, "cmd-sandbox")
	if err := os.MkdirAll(sandboxDir, 0o711); err != nil {
		t.Fatal(err)
	}
	srv, err := nomadtest.New(nomadtest.WithDataDir(filepath.Join(workspaces, "nomad")))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := nomad.NewClient(nomad.ClientConfig{Address: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	job, err := nomad.SandboxJob{Driver: "raw_exec", Command: stichBin,
		Args: []string{"--sandbox-uid", fmt.Sprint(previewUID), "--npm-cache", filepath.Join(sandboxDir, "npm-cache")}}.Job()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(ctx, job); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, t.TempDir(), "--sandbox", "nomad", "--nomad-addr", srv.URL)
	sc := stichv1connect.NewSessionServiceClient(apiHTTP, n.url)
	res, err := sc.CreateSession(ctx, connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "a recipe tracker with ingredients and ratings"}))
	if err != nil {
		t.Fatal(err)
	}
	evs := watchUntilIdle(t, ctx, sc, res.Msg.GetSessionId())
	var previewURL string
	var logs []string
	for _, ev := range evs {
		switch e := ev.GetEvent().(type) {
		case *stichv1.SessionEvent_PreviewReady:
			previewURL = e.PreviewReady.GetUrl()
		case *stichv1.SessionEvent_Log:
			logs = append(logs, e.Log.GetSource()+" "+e.Log.GetLevel()+" "+e.Log.GetText())
		}
	}
	log := strings.Join(logs, "\n")
	if previewURL == "" {
		t.Fatalf("no preview_ready event; logs:\n%s\nnode:\n%s", log, n.logs())
	}
	for _, want := range []string{"dispatched stich-sandbox/dispatch-", "installing dependencies"} {
		if !strings.Contains(log, want) {
			t.Errorf("the session log has no %q:\n%s", want, log)
		}
	}
	hc, _ := previewClient(t, n.url, res.Msg.GetSessionId())
	page, err := hc.Get(previewURL)
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if page.StatusCode != http.StatusOK || !strings.Contains(string(html), `<script src="/__stich/reporter.js"></script>`) {
		t.Errorf("preview page: %s\n%s", page.Status, html)
	}

	stubs, _, err := c.API().Jobs().PrefixList("stich-sandbox/dispatch-")
	if err != nil || len(stubs) == 0 {
		t.Fatalf("dispatched jobs: %v, %v", stubs, err)
	}
	child, _, err := c.API().Jobs().Info(stubs[0].ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws := child.Meta["workspace_url"]
	if !strings.HasPrefix(ws, n.url+nomad.BuildPathPrefix) {
		t.Fatalf("workspace URL %q is not on the node's port %s", ws, n.url)
	}
	resp, err := http.Get(ws)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a used workspace URL answered %s, want 403", resp.Status)
	}
}

// stich sandbox-build and --sandbox nomad refuse bad flags with usage
// errors, before fetching anything.
func TestSandboxBuildFlags(t *testing.T) {
	for _, args := range [][]string{
		{"sandbox-build", "--result-url", "http://x/r", "--sandbox-dir", "/tmp/x"},
		{"sandbox-build", "--workspace-url", "ftp://x/w", "--result-url", "http://x/r", "--sandbox-dir", "/tmp/x"},
		{"sandbox-build", "--workspace-url", "http://x/w", "--result-url", "http://x/r"},
		{"serve", "--sandbox", "nomad", "--sandbox-nomad-url", "not a url"},
		{"serve", "--sandbox", "elsewhere"},
	} {
		if code, out, errs := runCLI(t, args...); code != exitUsage || errs == "" {
			t.Errorf("%v: exit %d\n%s\n%s", args, code, out, errs)
		}
	}
}
