package appbuild

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stichdev/stich/internal/testutil"
	"github.com/stichdev/stich/sandbox"
	"github.com/stichdev/stich/scaffold"
)

// appbuildUID is the sandbox uid of this package's tests.
const appbuildUID = 64641

func newRunner(t testing.TB) *sandbox.Local {
	t.Helper()
	base, keep := testutil.SandboxDirs(t)
	cfg := sandbox.DefaultConfig(base)
	cfg.UID, cfg.GID = appbuildUID, appbuildUID
	cfg.CacheDir = filepath.Join(keep, "npm-cache-appbuild")
	l, err := sandbox.NewLocal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) add(source, level, text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, source+" "+level+" "+text)
}

func (l *logs) has(prefix string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.lines {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// A scaffold app checks clean and previews; a later check with a broken
// import is repaired by the fixer without reinstalling; a deleted file
// leaves the workspace.
func TestScaffoldAppChecksCleanThenFixes(t *testing.T) {
	r := newRunner(t)
	ctx := context.Background()
	files, err := scaffold.Files(scaffold.Plan("a recipe tracker with ingredients and ratings", nil))
	if err != nil {
		t.Fatal(err)
	}
	w := New(Config{Runner: r, Fixer: NewLazyFixer(r)}, "s-appbuildtest1", "/preview/s-appbuildtest1/", "")
	defer w.Close(ctx)

	var lg logs
	out, err := w.Check(ctx, files, true, lg.add)
	if err != nil {
		t.Fatalf("check: %v\n%s", err, strings.Join(lg.lines, "\n"))
	}
	if !out.Installed || len(out.Initial) != 0 || len(out.Remaining) != 0 || len(out.Build) != 0 {
		t.Fatalf("scaffold app: installed=%v initial=%v remaining=%v build=%v", out.Installed, out.Initial, out.Remaining, out.Build)
	}
	if out.Preview == nil || w.Preview() != out.Preview {
		t.Fatal("no preview")
	}
	html, _ := out.Preview.File("/index.html")
	if !strings.Contains(string(html), `/preview/s-appbuildtest1/assets/`) {
		t.Errorf("preview index.html does not load its bundle under the base:\n%s", html)
	}
	if !lg.has("install info installing dependencies") || !lg.has("preview info preview bundled") {
		t.Errorf("missing progress lines:\n%s", strings.Join(lg.lines, "\n"))
	}

	// Break an import name the way models do: a named import of a default export.
	var target, before string
	for _, p := range []string{"src/App.tsx", "src/main.tsx"} {
		if c, ok := files[p]; ok && strings.Contains(c, "import App from \"./App\"") {
			target, before = p, c
		}
	}
	if target == "" {
		target, before = "src/main.tsx", files["src/main.tsx"]
	}
	broken := strings.Replace(before, "import App from", "import { App } from", 1)
	if broken == before {
		t.Fatalf("cannot find the App import in %s:\n%s", target, before)
	}
	files2 := map[string]string{}
	for p, c := range files {
		files2[p] = c
	}
	files2[target] = broken
	files2["src/unused.ts"] = "export const unused = 1;\n"
	out, err = w.Check(ctx, files2, true, lg.add)
	if err != nil {
		t.Fatal(err)
	}
	if out.Installed {
		t.Error("reinstalled although package.json did not change")
	}
	if len(out.Initial) == 0 || len(out.Fixes) == 0 || len(out.Remaining) != 0 {
		t.Fatalf("fixer: initial=%v fixes=%+v remaining=%v", out.Initial, out.Fixes, out.Remaining)
	}
	if got := out.Fixed[target]; got == "" || strings.Contains(got, "import { App }") {
		t.Errorf("fixed %s:\n%s", target, got)
	}

	delete(files2, "src/unused.ts")
	if _, err := w.Check(ctx, files2, true, lg.add); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadFile(ctx, "s-appbuildtest1", "src/unused.ts"); err == nil {
		t.Error("a file removed from the app is still in the workspace")
	}
}

// A package.json npm refuses ends the check with ErrInstall, not a hang or
// a panic; nothing is previewed.
func TestInstallFailure(t *testing.T) {
	r := newRunner(t)
	ctx := context.Background()
	w := New(Config{Runner: r}, "s-appbuildtest2", "/", "")
	defer w.Close(ctx)
	files := map[string]string{
		"package.json": `{"name":"x","private":true,"dependencies":{"evil":"git+https://example.invalid/evil.git"}}`,
		"index.html":   "<html><body></body></html>",
	}
	var lg logs
	out, err := w.Check(ctx, files, true, lg.add)
	if !errors.Is(err, ErrInstall) {
		t.Fatalf("err = %v, want ErrInstall", err)
	}
	if out.Preview != nil || w.Preview() != nil {
		t.Error("a preview after a failed install")
	}
}

// An app whose vite config adds a plugin (here a virtual module esbuild
// cannot resolve) is built by its own vite in the sandbox, under the
// preview's base, with the error reporter injected.
func TestFullBuildWithTheAppsVite(t *testing.T) {
	r := newRunner(t)
	ctx := context.Background()
	files, err := scaffold.Files(scaffold.Plan("a recipe tracker with ingredients and ratings", nil))
	if err != nil {
		t.Fatal(err)
	}
	files["vite.config.ts"] = `import { defineConfig } from "vite";

export default defineConfig({
  plugins: [
    {
      name: "greeting",
      resolveId(id) {
        return id === "virtual:greeting" ? "\0virtual:greeting" : null;
      },
      load(id) {
        return id === "\0virtual:greeting" ? "export default 'hello from a vite plugin';" : null;
      },
    },
  ],
});
`
	files["src/virtual.d.ts"] = "declare module \"virtual:greeting\" {\n  const greeting: string;\n  export default greeting;\n}\n"
	files["src/main.tsx"] = strings.Replace(files["src/main.tsx"], "import App from \"./App\";", "import App from \"./App\";\nimport greeting from \"virtual:greeting\";\ndocument.title = greeting;", 1)
	w := New(Config{Runner: r}, "s-appbuildtest3", "/", "/__stich/report")
	defer w.Close(ctx)
	var lg logs
	out, err := w.Check(ctx, files, false, lg.add)
	if err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(lg.lines, "\n"))
	}
	if !out.Full || out.Preview == nil || len(out.Build) != 0 || len(out.Remaining) != 0 {
		t.Fatalf("full=%v preview=%v build=%v remaining=%v\n%s", out.Full, out.Preview != nil, out.Build, out.Remaining, strings.Join(lg.lines, "\n"))
	}
	if !lg.has("preview info building with the app's own vite: esbuild could not bundle it") {
		t.Errorf("no reason logged:\n%s", strings.Join(lg.lines, "\n"))
	}
	html, _ := out.Preview.File("/index.html")
	js, _ := out.Preview.File("/__stich/reporter.js")
	if !strings.Contains(string(html), `<script src="/__stich/reporter.js">`) || !strings.Contains(string(html), `src="/assets/`) ||
		!strings.Contains(string(js), `"/__stich/report?token=`+out.Preview.ReportToken()+`"`) {
		t.Errorf("index.html:\n%s\nreporter:\n%s", html, js)
	}
	found := false
	for _, u := range out.Preview.Paths() {
		if b, _ := out.Preview.File(u); strings.HasSuffix(u, ".js") && strings.Contains(string(b), "hello from a vite plugin") {
			found = true
			if a, _ := out.Preview.Resolve(u); !a.Immutable {
				t.Errorf("%s is hashed but not immutable", u)
			}
		}
	}
	if !found {
		t.Errorf("the plugin's module is not in the bundle: %v", out.Preview.Paths())
	}
}

func TestFullBuildReason(t *testing.T) {
	for _, c := range []struct {
		files map[string]string
		fail  bool
		want  string
	}{
		{map[string]string{"vite.config.ts": "export default {}", "src/a.ts": ""}, false, ""},
		{map[string]string{"vite.config.ts": "import react from '@vitejs/plugin-react';\nexport default { plugins: [react()] }"}, false, ""},
		{map[string]string{"vite.config.ts": "import react from '@vitejs/plugin-react';\nimport tailwindcss from \"@tailwindcss/vite\";\nexport default { plugins: [react(), tailwindcss()] }"}, false, "vite.config.ts uses @tailwindcss/vite"},
		{map[string]string{"vite.config.ts": "export default { plugins: [{ name: 'x', transform(code) { return code } }] }"}, false, "vite.config.ts defines its own plugin"},
		{map[string]string{"postcss.config.js": ""}, false, "postcss.config.js configures its CSS"},
		{map[string]string{"tailwind.config.ts": ""}, false, "tailwind.config.ts configures its CSS"},
		{map[string]string{"src/postcss.config.js": ""}, false, ""},
		{map[string]string{}, true, "esbuild could not bundle it"},
	} {
		if got := fullBuildReason(c.files, c.fail); got != c.want {
			t.Errorf("%v fail=%v: %q, want %q", c.files, c.fail, got, c.want)
		}
	}
}

// What an app's own commands leave in its workspace — symlinks out of it
// (in the app's folders and in node_modules), a folder replaced by a
// link, stray files — is gone after the next sync, and the preview builds
// again; a file set with names differing only by case is refused.
func TestSyncRemovesWhatBuildsLeft(t *testing.T) {
	r := newRunner(t)
	ctx := context.Background()
	files, err := scaffold.Files(scaffold.Plan("a recipe tracker with ingredients and ratings", nil))
	if err != nil {
		t.Fatal(err)
	}
	const id = "s-appbuildtest4"
	w := New(Config{Runner: r}, id, "/", "")
	defer w.Close(ctx)
	var lg logs
	if out, err := w.Check(ctx, files, false, lg.add); err != nil || out.Preview == nil {
		t.Fatalf("first check: %v\n%s", err, strings.Join(lg.lines, "\n"))
	}
	dir, err := r.Dir(id)
	if err != nil {
		t.Fatal(err)
	}
	// What a build script running as the sandbox uid can do.
	for link, target := range map[string]string{
		"src/leak.ts":              "/etc/passwd",
		"host-root":                "/",
		"node_modules/leak":        "/etc",
		"node_modules/react/evil":  "../../../../../../etc/passwd",
		"src/components/stray.tsx": "/etc/hostname",
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "stray.txt"), []byte("left by a build"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "public")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", filepath.Join(dir, "public")); err != nil {
		t.Fatal(err)
	}
	out, err := w.Check(ctx, files, false, lg.add)
	if err != nil {
		t.Fatalf("check after the build planted links: %v\n%s", err, strings.Join(lg.lines, "\n"))
	}
	if out.Preview == nil || len(out.Build) != 0 {
		t.Fatalf("no preview after the sync: %v", out.Build)
	}
	if !out.Installed {
		t.Error("node_modules held links out of the workspace but was not installed again")
	}
	for _, p := range []string{"src/leak.ts", "host-root", "node_modules/leak", "src/components/stray.tsx", "stray.txt"} {
		if _, err := os.Lstat(filepath.Join(dir, p)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still in the workspace (%v)", p, err)
		}
	}
	if fi, err := os.Lstat(filepath.Join(dir, "public")); err != nil || !fi.IsDir() {
		t.Errorf("public/ is not a folder again: %v", err)
	}
	for p, c := range files {
		if b, err := os.ReadFile(filepath.Join(dir, p)); err != nil || string(b) != c {
			t.Errorf("%s differs from the stored file (%v)", p, err)
		}
	}

	bad := map[string]string{"src/App.tsx": "x", "src/app.tsx": "y"}
	for p, c := range files {
		bad[p] = c
	}
	if _, err := w.Check(ctx, bad, false, lg.add); !errors.Is(err, ErrFiles) {
		t.Errorf("case-colliding names: %v, want ErrFiles", err)
	}
}
