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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stichdev/stich/appbuild"
	"github.com/stichdev/stich/internal/testutil"
	"github.com/stichdev/stich/nomad"
	"github.com/stichdev/stich/nomad/nomadtest"
	"github.com/stichdev/stich/preview"
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
	var lines []string
	got, err := remote.Check(ctx, files, false, func(source, level, text string) {
		lmu.Lock()
		lines = append(lines, source+" "+level+" "+text)
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
