//go:build npmbuild

package scaffold

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestNPMBuild installs the generated apps' dependencies once, then, for
// every sample app (each kind, the recipe tracker, hostile and malformed
// blueprints), writes the app to a temporary directory and runs
// "npm run build" (tsc --noEmit, then vite build); then it drives every
// sample with a script in testdata/drivers in headless Chromium and fails
// unless the app's features work (a timer counts down to "Time's up!", a
// calculator computes, games are played to the end, a quiz scores, ...).
// It needs Node 20+ with npm, the npm registry (or a warm npm cache) and
// Chromium. Run it with
//
//	go test -tags npmbuild ./scaffold/...
func TestNPMBuild(t *testing.T) {
	if _, err := exec.LookPath("npm"); err != nil {
		t.Fatal("npm is not in PATH: the npmbuild tests need Node.js 20+ with npm")
	}
	start := time.Now()

	type rendered struct {
		name  string
		files map[string]string
	}
	var apps []rendered
	for _, a := range sampleApps {
		files, err := Files(a.plan())
		if err != nil {
			t.Fatalf("%s: %v", a.name, err)
		}
		apps = append(apps, rendered{a.name, files})
	}

	// One install serves every app: they share package.json dependencies
	// and the lockfile (apart from the package name).
	shared := t.TempDir()
	first := apps[0].files
	for _, a := range apps[1:] {
		if deps(t, a.files["package.json"]) != deps(t, first["package.json"]) {
			t.Fatalf("%s has different dependencies than %s", a.name, apps[0].name)
		}
	}
	writeFiles(t, shared, map[string]string{
		"package.json":      first["package.json"],
		"package-lock.json": first["package-lock.json"],
	})
	run(t, shared, 5*time.Minute, "npm", "ci", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error")
	installed := time.Since(start)

	// Apps build in parallel (up to -parallel, by default GOMAXPROCS); each
	// gets its own node_modules of symlinks to the shared packages, so
	// per-app caches (node_modules/.vite-temp) stay apart.
	var mu sync.Mutex
	timings := map[string]time.Duration{}
	driven := map[string]string{}
	t.Run("apps", func(t *testing.T) {
		for _, a := range apps {
			t.Run(a.name, func(t *testing.T) {
				t.Parallel()
				appStart := time.Now()
				dir := t.TempDir()
				writeFiles(t, dir, a.files)
				linkModules(t, filepath.Join(shared, "node_modules"), filepath.Join(dir, "node_modules"))
				// The build script type-checks first (tsc --noEmit && vite build).
				run(t, dir, 3*time.Minute, "npm", "run", "build", "--silent")
				if _, err := os.Stat(filepath.Join(dir, "dist", "index.html")); err != nil {
					t.Fatalf("build produced no dist/index.html: %v", err)
				}
				if driver, err := os.ReadFile(filepath.Join("testdata", "drivers", a.name+".js")); err == nil {
					result := driveInChromium(t, filepath.Join(dir, "dist"), string(driver))
					mu.Lock()
					driven[a.name] = result
					mu.Unlock()
				}
				mu.Lock()
				timings[a.name] = time.Since(appStart)
				mu.Unlock()
			})
		}
	})
	t.Logf("npm ci took %v; %d apps built and type-checked in %v total", installed.Round(time.Millisecond), len(apps), time.Since(start).Round(time.Millisecond))
	for _, a := range apps {
		t.Logf("  %-18s %v  %s", a.name, timings[a.name].Round(time.Millisecond), driven[a.name])
	}
	// Every kind is driven in the browser by at least one sample.
	drivenKinds := map[string]bool{}
	for _, a := range sampleApps {
		if driven[a.name] != "" && a.blueprint == nil {
			drivenKinds[Plan(a.prompt, a.refinements).AppKind] = true
		}
	}
	for _, k := range Kinds() {
		if len(timings) == len(apps) && !drivenKinds[k] && !t.Failed() { // all apps ran (no -run filter)
			t.Errorf("no sample of kind %s was driven in Chromium (add testdata/drivers/<sample>.js)", k)
		}
	}
}

// driveInChromium serves a built app with a test driver appended (a module
// script that runs after the app's), loads it in headless Chromium with
// virtual time, and fails unless the driver reports success in the dumped
// DOM. It returns the driver's list of checked steps.
func driveInChromium(t *testing.T, dist, driver string) string {
	t.Helper()
	prelude, err := os.ReadFile(filepath.Join("testdata", "drivers", "prelude.js"))
	if err != nil {
		t.Fatal(err)
	}
	index, err := os.ReadFile(filepath.Join(dist, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	page := strings.Replace(string(index), "</body>", `<script type="module" src="/stich-driver.js"></script></body>`, 1)
	files := http.FileServer(http.Dir(dist))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/", "/index.html":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = io.WriteString(w, page)
		case "/stich-driver.js":
			w.Header().Set("Content-Type", "text/javascript")
			_, _ = io.WriteString(w, driver+"\n"+string(prelude))
		default:
			files.ServeHTTP(w, r)
		}
	}))
	defer srv.Close()
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Fatal("no chromium in PATH: the npmbuild tests drive every kind in it (Debian: apt-get install -y chromium)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=30000", "--dump-dom", srv.URL+"/")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil && !errors.Is(err, exec.ErrWaitDelay) {
		t.Fatalf("chromium: %v\n%s", err, tail(errb.String()))
	}
	m := regexp.MustCompile(`data-driver="([^"]*)"`).FindStringSubmatch(out.String())
	if m == nil {
		appErr := regexp.MustCompile(`data-app-error="([^"]*)"`).FindStringSubmatch(out.String())
		t.Fatalf("the driver did not finish (app error: %v); DOM:\n%s", appErr, tail(out.String()))
	}
	result := html.UnescapeString(m[1])
	if !strings.HasPrefix(result, "pass: ") {
		t.Fatalf("in Chromium: %s", result)
	}
	return strings.TrimPrefix(result, "pass: ")
}

func deps(t *testing.T, packageJSON string) string {
	t.Helper()
	var pkg struct {
		Dependencies    map[string]string `json:"dependencies"`
		DevDependencies map[string]string `json:"devDependencies"`
	}
	if err := json.Unmarshal([]byte(packageJSON), &pkg); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal([]any{pkg.Dependencies, pkg.DevDependencies})
	return string(b)
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// linkModules makes dst a node_modules directory whose entries (and .bin
// entries) are symlinks into src.
func linkModules(t *testing.T, src, dst string) {
	t.Helper()
	for _, sub := range []string{"", ".bin"} {
		entries, err := os.ReadDir(filepath.Join(src, sub))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dst, sub), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if sub == "" && (e.Name() == ".bin" || strings.HasPrefix(e.Name(), ".vite") || e.Name() == ".package-lock.json") {
				continue
			}
			if err := os.Symlink(filepath.Join(src, sub, e.Name()), filepath.Join(dst, sub, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// run runs a command in dir with a deadline and fails the test with its
// output if it fails.
func run(t *testing.T, dir string, timeout time.Duration, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"npm_config_update_notifier=false", "npm_config_fund=false", "npm_config_audit=false",
		"NO_COLOR=1", "FORCE_COLOR=0")
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("%s %s timed out after %v in %s:\n%s", name, strings.Join(args, " "), timeout, dir, tail(out.String()))
	}
	if err != nil {
		t.Fatalf("%s %s failed in %s: %v\n%s", name, strings.Join(args, " "), dir, err, tail(out.String()))
	}
}

func tail(s string) string {
	const max = 12000
	if len(s) > max {
		return "...\n" + s[len(s)-max:]
	}
	return s
}
