package preview

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeApp writes files under a new temporary folder and returns it.
func writeApp(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// plainApp needs no node_modules: TypeScript, JSX with a local runtime,
// CSS, an SVG asset and a public file.
var plainApp = map[string]string{
	"index.html": `<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <title>Plain</title>
  </head>
  <body>
    <div id="root"></div>
    <script type="module" src="/src/main.ts"></script>
    <script type="module" src="https://cdn.example/keep.js"></script>
  </body>
</html>
`,
	"src/main.ts": `import "./style.css";
import logo from "./logo.svg";
import { greet } from "./greet";
const el = document.getElementById("root")!;
el.textContent = greet(import.meta.env.MODE) + " " + logo + " " + import.meta.env.VITE_NAME;
`,
	"src/greet.ts":      "export function greet(mode: string): string { return `hello from ${mode}`; }\n",
	"src/style.css":     "body { color: rebeccapurple; }\n",
	"src/logo.svg":      `<svg xmlns="http://www.w3.org/2000/svg"></svg>`,
	"public/robots.txt": "User-agent: *\n",
}

func TestBuildPlainApp(t *testing.T) {
	dir := writeApp(t, plainApp)
	p, diags, err := Build(context.Background(), Options{Dir: dir, ReportURL: "http://127.0.0.1:1/report?a=<b>", Env: map[string]string{"VITE_NAME": "stich"}})
	if err != nil {
		t.Fatalf("%v %v", err, diags)
	}
	var js, css, svg string
	for _, path := range p.Paths() {
		switch {
		case strings.HasPrefix(path, "/assets/main-") && strings.HasSuffix(path, ".js"):
			js = path
		case strings.HasPrefix(path, "/assets/main-") && strings.HasSuffix(path, ".css"):
			css = path
		case strings.HasPrefix(path, "/assets/logo-") && strings.HasSuffix(path, ".svg"):
			svg = path
		}
	}
	if js == "" || css == "" || svg == "" {
		t.Fatalf("outputs %v", p.Paths())
	}
	body, _ := p.File(js)
	for _, want := range []string{"hello from", `"development"`, svg, "stich"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("bundle lacks %q", want)
		}
	}
	html, _ := p.File("/index.html")
	h := string(html)
	for _, want := range []string{`<script type="module" src="` + js + `"></script>`, `<link rel="stylesheet" href="` + css + `" />`, `https://cdn.example/keep.js`, "<title>Plain</title>"} {
		if !strings.Contains(h, want) {
			t.Errorf("index.html lacks %q:\n%s", want, h)
		}
	}
	if strings.Contains(h, "/src/main.ts") || strings.Contains(h, "<script>") {
		t.Errorf("index.html still loads the source entry or has an inline script (the CSP refuses those):\n%s", h)
	}
	if strings.Index(h, `<script src="/__stich/reporter.js">`) > strings.Index(h, "<meta charset") || !strings.Contains(h, `<script src="/__stich/reporter.js">`) {
		t.Errorf("the reporter is not the first thing in <head>")
	}
	rep, _ := p.File(ReporterPath)
	if tok := p.ReportToken(); len(tok) != 32 || !strings.Contains(string(rep), "token="+tok) || strings.Contains(string(rep), "<b>") || !strings.Contains(string(rep), `\u003cb\u003e`) {
		t.Errorf("the reporter does not post with the build's token %q, or leaves its URL unescaped:\n%s", tok, rep)
	}
	if !p.CheckReportToken(p.ReportToken()) || p.CheckReportToken("") || p.CheckReportToken(strings.Repeat("0", 32)) {
		t.Errorf("CheckReportToken accepts the wrong tokens")
	}
	p2, _, err := Build(context.Background(), Options{Dir: dir, ReportURL: "/__stich/report"})
	if err != nil || p2.ReportToken() == p.ReportToken() || p2.CheckReportToken(p.ReportToken()) {
		t.Errorf("a second build reuses the report token (%v)", err)
	}
	if b, ok := p.File("/robots.txt"); !ok || string(b) != "User-agent: *\n" {
		t.Errorf("public/robots.txt not served: %q", b)
	}

	// The handler.
	srv := httptest.NewServer(NewHandler(p))
	defer srv.Close()
	get := func(method, path string, hdr map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	cases := []struct {
		method, path string
		status       int
		ctype, cache string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8", "no-store"},
		{"GET", "/index.html", 200, "text/html; charset=utf-8", "no-store"},
		{"GET", js, 200, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable"},
		{"GET", css, 200, "text/css; charset=utf-8", "public, max-age=31536000, immutable"},
		{"GET", svg, 200, "image/svg+xml", "public, max-age=31536000, immutable"},
		{"GET", "/robots.txt", 200, "text/plain; charset=utf-8", "no-cache"},
		{"GET", "/recipes/42", 200, "text/html; charset=utf-8", "no-store"}, // SPA fallback
		{"GET", "/missing.js", 404, "", ""},
		{"GET", "/src/main.ts", 404, "", ""},
		{"GET", "/../../../etc/hosts.txt", 404, "", ""},
		{"HEAD", "/", 200, "text/html; charset=utf-8", "no-store"},
		{"POST", "/", 405, "", ""},
	}
	for _, c := range cases {
		res := get(c.method, c.path, nil)
		if res.StatusCode != c.status || (c.ctype != "" && res.Header.Get("Content-Type") != c.ctype) || (c.cache != "" && res.Header.Get("Cache-Control") != c.cache) {
			t.Errorf("%s %s = %d %q %q, want %d %q %q", c.method, c.path, res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"), c.status, c.ctype, c.cache)
		}
		if res.StatusCode == 200 && res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", c.path)
		}
	}
	// Climbing out only ever reaches the build: paths are looked up, and
	// extensionless ones fall back to index.html.
	for _, path := range []string{"/../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc/passwd", "//etc/passwd"} {
		r, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if string(b) != string(html) {
			t.Errorf("GET %s served %d %q, want index.html", path, r.StatusCode, b)
		}
	}
	res := get("GET", js, nil)
	if res2 := get("GET", js, map[string]string{"If-None-Match": res.Header.Get("ETag")}); res2.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", res2.StatusCode)
	}
	empty := httptest.NewServer(NewHandler(nil))
	defer empty.Close()
	if r, err := http.Get(empty.URL); err != nil || r.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("unbuilt preview: %v %v", r, err)
	}

	// Production builds minify and drop development code paths.
	prod, _, err := Build(context.Background(), Options{Dir: dir, Production: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range prod.Paths() {
		if strings.HasSuffix(path, ".map") {
			t.Errorf("production build has a source map %s", path)
		}
		if strings.HasSuffix(path, ".js") {
			b, _ := prod.File(path)
			if !strings.Contains(string(b), `"production"`) || strings.Count(string(b), "\n") > 3 {
				t.Errorf("production bundle not minified for production:\n%s", b)
			}
		}
	}
}

func TestBuildErrorsAsDiagnostics(t *testing.T) {
	cases := map[string]string{
		// Columns count UTF-16 units, as tsc's do: é is 1, 😀 is 2.
		"const é = \"😀\"; const y = ;\nconsole.log(é, y);\n":  `src/main.tsx(1,27): error: Unexpected ";"`,
		"import { x } from \"./missing\";\nconsole.log(x);\n": `src/main.tsx(1,19): error: Could not resolve "./missing"`,
	}
	for src, want := range cases {
		dir := writeApp(t, map[string]string{"src/main.tsx": src})
		p, diags, err := Build(context.Background(), Options{Dir: dir})
		if !errors.Is(err, ErrBuild) || p != nil {
			t.Fatalf("err = %v, preview %v", err, p)
		}
		if len(diags) != 1 || diags[0].String() != want {
			t.Errorf("diagnostics %v, want %q", diags, want)
		}
	}
}

func TestBuildRefusesOutsideFiles(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret.json")
	if err := os.WriteFile(secret, []byte(`{"token":"hunter2"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, link := range map[string]string{"src link": "src/secret.json", "node_modules link": "node_modules/evil/package.json"} {
		t.Run(name, func(t *testing.T) {
			dir := writeApp(t, map[string]string{"src/main.ts": "import s from \"./secret.json\";\nconsole.log(s);\n"})
			if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(link)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(secret, filepath.Join(dir, link)); err != nil {
				t.Fatal(err)
			}
			p, diags, err := Build(context.Background(), Options{Dir: dir})
			if !errors.Is(err, ErrRefused) || p != nil {
				t.Fatalf("err = %v (diags %v), want ErrRefused", err, diags)
			}
			for _, d := range diags {
				if strings.Contains(d.Message, "hunter2") {
					t.Fatal("secret leaked into diagnostics")
				}
			}
		})
	}
	// A link inside the app is fine.
	dir := writeApp(t, map[string]string{"src/real.ts": "export const v = 1;\n", "src/main.ts": "import { v } from \"./alias\";\nconsole.log(v);\n"})
	if err := os.Symlink("real.ts", filepath.Join(dir, "src/alias.ts")); err != nil {
		t.Fatal(err)
	}
	if _, diags, err := Build(context.Background(), Options{Dir: dir, Entry: "src/main.ts"}); err != nil {
		t.Fatalf("inner link: %v %v", err, diags)
	}
	// The guard refuses what lies outside, whatever the resolver found.
	b, err := NewBuilder(Options{Dir: dir, Entry: "src/main.ts"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, _, err := b.locate("/etc/passwd"); !errors.Is(err, ErrRefused) {
		t.Errorf("locate(/etc/passwd) = %v", err)
	}
	if _, err := NewBuilder(Options{Dir: dir, Entry: "../outside.ts"}); !errors.Is(err, ErrRefused) {
		t.Errorf("entry outside: %v", err)
	}
}

func TestIncrementalRebuild(t *testing.T) {
	dir := writeApp(t, plainApp)
	b, err := NewBuilder(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, _, err := b.Build(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "src/greet.ts"), []byte("export function greet(mode: string): string { return `changed ${mode}`; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, _, err := b.Build(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, path := range p.Paths() {
		if body, _ := p.File(path); strings.HasSuffix(path, ".js") && strings.Contains(string(body), "changed") {
			found = true
		}
	}
	if !found {
		t.Error("rebuild did not pick up the change")
	}
	b.Close()
	b.Close()
	if _, _, err := b.Build(context.Background()); err == nil {
		t.Error("Build after Close succeeded")
	}
}

// A preview served under a path prefix links its bundle under that prefix,
// tells the app its BASE_URL, and still serves paths relative to the base.
func TestBuildUnderBase(t *testing.T) {
	dir := writeApp(t, map[string]string{
		"index.html":  `<html><head><title>B</title><link rel="icon" href="/favicon.svg" /><link href="//cdn.example/x.css" rel="stylesheet"></head><body><script type="module" src="/src/main.ts"></script></body></html>`,
		"src/main.ts": "import './s.css';\ndocument.body.textContent = import.meta.env.BASE_URL;\n",
		"src/s.css":   "body { background: url(./dot.svg); }\n",
		"src/dot.svg": `<svg xmlns="http://www.w3.org/2000/svg"></svg>`,
	})
	p, diags, err := Build(context.Background(), Options{Dir: dir, Base: "/preview/s-abcdefgh/"})
	if err != nil {
		t.Fatalf("%v %v", err, diags)
	}
	html, ok := p.File("/index.html")
	if !ok {
		t.Fatal("no index.html")
	}
	if !strings.Contains(string(html), `src="/preview/s-abcdefgh/assets/main-`) || !strings.Contains(string(html), `href="/preview/s-abcdefgh/assets/main-`) {
		t.Errorf("index.html does not link the bundle under the base:\n%s", html)
	}
	if !strings.Contains(string(html), `href="/preview/s-abcdefgh/favicon.svg"`) || !strings.Contains(string(html), `href="//cdn.example/x.css"`) {
		t.Errorf("index.html's own root URLs are not rebased (or other hosts' are):\n%s", html)
	}
	var js, css string
	for _, u := range p.Paths() {
		b, _ := p.File(u)
		switch {
		case strings.HasPrefix(u, "/assets/") && strings.HasSuffix(u, ".js"):
			js = string(b)
		case strings.HasPrefix(u, "/assets/") && strings.HasSuffix(u, ".css"):
			css = string(b)
		}
	}
	if !strings.Contains(js, `"/preview/s-abcdefgh/"`) {
		t.Errorf("BASE_URL is not the base in the bundle:\n%s", js)
	}
	if !strings.Contains(css, "/preview/s-abcdefgh/assets/dot-") {
		t.Errorf("CSS asset URL is not under the base:\n%s", css)
	}
	for _, bad := range []string{"preview/", "/preview", "/a/../b/", `/a"b/`} {
		if _, _, err := Build(context.Background(), Options{Dir: dir, Base: bad}); err == nil {
			t.Errorf("Base %q accepted", bad)
		}
	}
}
