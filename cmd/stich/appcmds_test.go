package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stichdev/stich/codegen"
	"github.com/stichdev/stich/internal/testutil"
	"github.com/stichdev/stich/preview"
)

// stich check, fix and preview work on any app folder: a generated app is
// clean; a model-like mistake is fixed in place by stich fix; a type error
// the fixer has no rule for makes stich check fail with tsc's line.
func TestCheckAndFixAppFolder(t *testing.T) {
	_, keep := testutil.SandboxDirs(t)
	dir := filepath.Join(t.TempDir(), "recipes")
	if code, out, errs := runCLI(t, "generate", "--out", dir, "a recipe tracker with ingredients and ratings"); code != 0 {
		t.Fatalf("generate: exit %d\n%s\n%s", code, out, errs)
	}
	sb := []string{"--sandbox-dir", filepath.Join(keep, "cmd-sandbox"), "--sandbox-uid", fmt.Sprint(previewUID)}
	code, out, errs := runCLI(t, append([]string{"check", dir}, sb...)...)
	if code != 0 || !strings.Contains(errs, "type-checks and bundles cleanly") {
		t.Fatalf("check of a generated app: exit %d\n%s\n%s", code, out, errs)
	}

	main := filepath.Join(dir, "src", "main.tsx")
	src, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(src), "import App from", "import { App } from", 1)
	if err := os.WriteFile(main, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runCLI(t, append([]string{"fix", dir}, sb...)...)
	if code != 0 || !strings.Contains(out, "fixed src/main.tsx") {
		t.Fatalf("fix: exit %d\n%s\n%s", code, out, errs)
	}
	fixed, _ := os.ReadFile(main)
	if strings.Contains(string(fixed), "import { App }") {
		t.Fatalf("src/main.tsx was not fixed in place:\n%s", fixed)
	}

	app := filepath.Join(dir, "src", "App.tsx")
	appSrc, _ := os.ReadFile(app)
	if err := os.WriteFile(app, append(appSrc, []byte("\nexport const wrong: number = \"text\";\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runCLI(t, append([]string{"check", dir}, sb...)...)
	if code != 1 || !strings.Contains(out, "src/App.tsx(") || !strings.Contains(out, "error TS2322") {
		t.Fatalf("check of a broken app: exit %d\n%s\n%s", code, out, errs)
	}
	after, _ := os.ReadFile(app)
	if !strings.Contains(string(after), `wrong: number = "text"`) {
		t.Error("stich check changed the folder")
	}

	// stich preview serves the bundle until interrupted.
	cmd := exec.Command(stichBin, append([]string{"preview", dir, "--http", "127.0.0.1:0"}, sb...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("preview printed no address: %v\n%s", err, stderr.String())
	}
	url := strings.TrimSuffix(line[strings.Index(line, "http://"):strings.Index(line, " (Ctrl-C")], "/")
	res, err := http.Get(url + "/recipes/1")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(page), "<title>Recipe Tracker</title>") || !strings.Contains(string(page), `src="/assets/`) {
		t.Fatalf("preview page: %s\n%s", res.Status, page)
	}
	// The app runs on this origin: it gets a node's preview headers.
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self';") || !strings.Contains(csp, "frame-ancestors 'none'") ||
		res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("preview headers: %v", res.Header)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("preview did not exit cleanly on SIGINT: %v\n%s", err, stderr.String())
	}

	// Code that exists nowhere in the project: stich fix writes a
	// placeholder, says it needs a model, and exits 1 although tsc is
	// satisfied.
	os.WriteFile(app, append(appSrc, []byte("\nimport { sparkleFor } from \"./lib/sparkles\";\nexport const sparkle: string = sparkleFor(1);\n")...), 0o644)
	code, out, errs = runCLI(t, append([]string{"fix", dir}, sb...)...)
	if code != 1 || !strings.Contains(out, "needs a model src/App.tsx") || !strings.Contains(errs, "placeholder") || strings.Contains(errs, "cleanly") {
		t.Fatalf("fix with a placeholder: exit %d\n%s\n%s", code, out, errs)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "src", "lib", "sparkles.ts")); err != nil || !strings.Contains(string(b), "placeholder") {
		t.Fatalf("placeholder module: %v\n%s", err, b)
	}

	// A Node global with no browser equivalent: left for a model, with the
	// reason, and no placeholder.
	os.WriteFile(app, append(appSrc, []byte("\nexport const size: number = Buffer.byteLength(\"text\");\n")...), 0o644)
	code, out, errs = runCLI(t, append([]string{"fix", dir}, sb...)...)
	if code != 1 || !strings.Contains(out, "left for a model src/App.tsx") || !strings.Contains(out, "Buffer is Node's") || strings.Contains(out, "needs a model src/App.tsx") {
		t.Fatalf("fix with Buffer: exit %d\n%s\n%s", code, out, errs)
	}

	for _, args := range [][]string{{"check", filepath.Join(dir, "nope")}, {"fix", filepath.Join(dir, "src")}, {"preview", dir, "--http", "nonsense"}} {
		if code, out, errs := runCLI(t, append(args, sb...)...); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s\n%s", args, code, out, errs)
		}
	}
}

// An app folder with a file name holding a bidirectional override, or two
// names differing only by case, is refused with a message naming them.
func TestReadAppDirRefusesMisleadingNames(t *testing.T) {
	for name, files := range map[string][]string{
		"bidi": {"package.json", "src/evil\u202Est.ts"},
		"case": {"package.json", "src/App.tsx", "src/app.tsx"},
	} {
		dir := t.TempDir()
		for _, f := range files {
			p := filepath.Join(dir, filepath.FromSlash(f))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("{}"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		_, _, err := readAppDir(dir)
		var ue usageError
		if !errors.As(err, &ue) || !errors.Is(ue.error, codegen.ErrBadPath) || !strings.Contains(err.Error(), map[string]string{"bidi": `\u202e`, "case": `"src/app.tsx": differs from "src/App.tsx" only by letter case`}[name]) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// stich preview DIR serves an app with a node's preview headers: the CSP
// (scripts only from this origin, no framing), nosniff and no referrer,
// on pages, assets and misses alike.
func TestAppPreviewHeaders(t *testing.T) {
	dist := t.TempDir()
	os.MkdirAll(filepath.Join(dist, "assets"), 0o755)
	os.WriteFile(filepath.Join(dist, "index.html"), []byte(`<!doctype html><html><head><script type="module" src="/assets/index-AbCdEf12.js"></script></head><body></body></html>`), 0o644)
	os.WriteFile(filepath.Join(dist, "assets", "index-AbCdEf12.js"), []byte("console.log('app');\n"), 0o644)
	p, err := preview.LoadDist(dist, "")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(appPreviewHandler(p))
	defer srv.Close()
	for path, status := range map[string]int{"/": 200, "/recipes/1": 200, "/assets/index-AbCdEf12.js": 200, "/missing.js": 404} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		csp := res.Header.Get("Content-Security-Policy")
		if res.StatusCode != status || !strings.Contains(csp, "script-src 'self';") || !strings.HasSuffix(csp, "frame-ancestors 'none'") ||
			res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: %s, headers %v", path, res.Status, res.Header)
		}
	}
}
