package sandbox_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stichdev/stich/sandbox"
	"github.com/stichdev/stich/scaffold"
)

// installUID is this file's sandbox uid (see helpers_test.go for the
// others).
const installUID = 64613

// newLocal builds a runner for the external tests.
func newLocal(t *testing.T) *sandbox.Local {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the sandbox tests run as root (they switch to a sandbox uid and use cgroups); CI runs them as root")
	}
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	cfg := sandbox.DefaultConfig(base)
	cfg.UID, cfg.GID = installUID, installUID
	cache := "/var/tmp/stich-test"
	if err := os.MkdirAll(cache, 0o711); err != nil {
		t.Fatal(err)
	}
	cfg.CacheDir = filepath.Join(cache, "npm-cache-sandbox-install")
	l, err := sandbox.NewLocal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestInstallTypeCheck installs a scaffold app in the sandbox (network on,
// shared cache), installs a second app from the warm cache, type-checks
// it clean, then breaks it and checks the parsed diagnostics.
func TestInstallTypeCheck(t *testing.T) {
	l := newLocal(t)
	ctx := context.Background()
	files, err := scaffold.Files(scaffold.Plan("a recipe tracker with ingredients and ratings", nil))
	if err != nil {
		t.Fatal(err)
	}
	var lines []sandbox.Line
	install := func(id string) time.Duration {
		t.Helper()
		if err := l.Prepare(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := l.WriteFiles(ctx, id, files); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		res, err := l.Install(ctx, id, sandbox.InstallOptions{OnLine: func(ln sandbox.Line) { lines = append(lines, ln) }})
		if err != nil {
			t.Fatalf("install %s: %v\n%s", id, err, res.TailText())
		}
		return time.Since(start)
	}
	first := install("first")
	second := install("second")
	t.Logf("npm ci in the sandbox: first %v, second (warm cache) %v; %d output lines", first.Round(time.Millisecond), second.Round(time.Millisecond), len(lines))
	if second > 30*time.Second {
		t.Errorf("a warm-cache install took %v", second)
	}
	st, err := l.Status(ctx, "second")
	if err != nil || !st.Installed || st.State != sandbox.StateIdle || st.LastCommand == "" {
		t.Errorf("status after install = %+v, %v", st, err)
	}

	diags, res, err := sandbox.TypeCheck(ctx, l, "second", sandbox.TypeCheckOptions{})
	if err != nil || len(diags) != 0 {
		t.Fatalf("clean app: %v %v\n%s", diags, err, res.TailText())
	}
	t.Logf("tsc on a clean app: %v", res.Duration.Round(time.Millisecond))

	broken := map[string]string{
		"src/App.tsx":  strings.Replace(files["src/App.tsx"], `from "./components/RecipesPage"`, `from "./component/RecipesPage"`, 1),
		"src/extra.ts": "import { nothing } from \"./schema\";\nexport const n: number = \"x\";\nexport const m = nothing;\n",
	}
	if err := l.WriteFiles(ctx, "second", broken); err != nil {
		t.Fatal(err)
	}
	diags, _, err = sandbox.TypeCheck(ctx, l, "second", sandbox.TypeCheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]string{}
	for _, d := range diags {
		got[d.Code] = d.File
	}
	want := map[int]string{2307: "src/App.tsx", 2305: "src/extra.ts", 2322: "src/extra.ts"}
	for code, file := range want {
		if got[code] != file {
			t.Errorf("TS%d in %q, want %q (all: %v)", code, got[code], file, diags)
		}
	}

	// A package.json asking for a URL dependency is refused before npm
	// runs.
	bad := map[string]string{"package.json": `{"dependencies":{"x":"https://example.com/x.tgz"}}`}
	if err := l.Prepare(ctx, "bad"); err != nil {
		t.Fatal(err)
	}
	if err := l.WriteFiles(ctx, "bad", bad); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Install(ctx, "bad", sandbox.InstallOptions{}); err == nil || !strings.Contains(err.Error(), "registry version range") {
		t.Errorf("install of a URL dependency: %v", err)
	}
	for _, id := range []string{"first", "second", "bad"} {
		if err := l.Cleanup(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPreparedModules: after npm ci made a dependency set in one
// workspace, another app with the same set (another name) gets a copy of
// it without npm: owned by its own uid, usable (tsc runs clean), and a
// copy, so what one app does to its node_modules never reaches the next.
func TestPreparedModules(t *testing.T) {
	l := newLocal(t)
	ctx := context.Background()
	app := func(prompt string) map[string]string {
		files, err := scaffold.Files(scaffold.Plan(prompt, nil))
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	apps := map[string]map[string]string{
		"a": app("a recipe tracker with ingredients and ratings"),
		"b": app("a countdown timer for workouts"),
		"c": app("a kanban board for tasks"),
	}
	if apps["a"]["package.json"] == apps["b"]["package.json"] {
		t.Fatal("the test wants apps of different names")
	}
	install := func(id string) sandbox.Result {
		t.Helper()
		if err := l.Prepare(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := l.WriteFiles(ctx, id, apps[id]); err != nil {
			t.Fatal(err)
		}
		res, err := l.Install(ctx, id, sandbox.InstallOptions{})
		if err != nil {
			t.Fatalf("install %s: %v\n%s", id, err, res.TailText())
		}
		return res
	}
	if res := install("a"); res.Restored {
		t.Fatal("the first install of the set was a copy: nothing was prepared yet")
	}
	res := install("b")
	if !res.Restored {
		t.Fatal("the second app's install ran npm: the prepared set was not used")
	}
	t.Logf("npm ci vs copy of the prepared set: copy %v", res.Duration.Round(time.Millisecond))
	dir, err := l.Dir("b")
	if err != nil {
		t.Fatal(err)
	}
	uid, err := l.UID("b")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"node_modules", "node_modules/react/package.json", "node_modules/.bin"} {
		fi, err := os.Lstat(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != uid {
			t.Errorf("%s is owned by %v, want the workspace's uid %d", p, fi.Sys(), uid)
		}
	}
	if diags, res, err := sandbox.TypeCheck(ctx, l, "b", sandbox.TypeCheckOptions{}); err != nil || len(diags) != 0 {
		t.Fatalf("type-check with the copied node_modules: %v %v\n%s", diags, err, res.TailText())
	}
	// b tampers with its copy; c's copy is the one npm made.
	if r, err := l.Run(ctx, "b", sandbox.Command{Args: []string{"sh", "-c", "echo tampered > node_modules/react/index.js"}}); err != nil || r.ExitCode != 0 {
		t.Fatalf("b could not write its own node_modules: %v %d\n%s", err, r.ExitCode, r.TailText())
	}
	if res := install("c"); !res.Restored {
		t.Fatal("the third app's install ran npm")
	}
	cdir, _ := l.Dir("c")
	b, err := os.ReadFile(filepath.Join(cdir, "node_modules/react/index.js"))
	if err != nil || strings.Contains(string(b), "tampered") || len(b) == 0 {
		t.Errorf("c's react/index.js after b's write: %q %v", b, err)
	}
	for _, id := range []string{"a", "b", "c"} {
		if err := l.Cleanup(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
}
