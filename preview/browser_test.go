package preview

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stichdev/stich/internal/testutil"
	"github.com/stichdev/stich/sandbox"
	"github.com/stichdev/stich/scaffold"
)

// previewUID is the sandbox uid of this package's tests.
const previewUID = 64631

var (
	appOnce  sync.Once
	appLocal *sandbox.Local
	appBase  string
	appErr   error
	appFiles map[string]string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if appBase != "" {
		os.RemoveAll(appBase)
	}
	os.Exit(code)
}

// scaffoldApp renders the scaffold's recipe tracker into sandbox workspace
// "app" and installs its dependencies there (once per test binary, from a
// shared npm cache). It returns the runner and the app's host folder.
func scaffoldApp(t testing.TB) (*sandbox.Local, string) {
	t.Helper()
	appOnce.Do(func() {
		appErr = func() error {
			if os.Geteuid() != 0 {
				return fmt.Errorf("the preview tests install apps in the sandbox and run as root; CI runs them as root")
			}
			var err error
			appFiles, err = scaffold.Files(scaffold.Plan("a recipe tracker with ingredients and ratings", nil))
			if err != nil {
				return err
			}
			if appBase, err = os.MkdirTemp("", "stich-preview-test-"); err != nil {
				return err
			}
			if err := os.Chmod(appBase, 0o711); err != nil {
				return err
			}
			if err := os.MkdirAll("/var/tmp/stich-test", 0o711); err != nil {
				return err
			}
			cfg := sandbox.DefaultConfig(appBase)
			cfg.UID, cfg.GID = previewUID, previewUID
			cfg.CacheDir = "/var/tmp/stich-test/npm-cache-preview"
			if appLocal, err = sandbox.NewLocal(cfg); err != nil {
				return err
			}
			ctx := context.Background()
			if err := appLocal.Prepare(ctx, "app"); err != nil {
				return err
			}
			if err := appLocal.WriteFiles(ctx, "app", appFiles); err != nil {
				return err
			}
			if res, err := appLocal.Install(ctx, "app", sandbox.InstallOptions{}); err != nil {
				return fmt.Errorf("%w\n%s", err, res.TailText())
			}
			return nil
		}()
	})
	if appErr != nil {
		t.Fatal(appErr)
	}
	dir, err := appLocal.Dir("app")
	if err != nil {
		t.Fatal(err)
	}
	return appLocal, dir
}

// collector is an error endpoint on its own origin.
type collector struct {
	mu      sync.Mutex
	reports []Report
	srv     *httptest.Server
}

func newCollector(t testing.TB) *collector {
	c := &collector{}
	c.srv = httptest.NewServer(ReportHandler(func(r Report) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.reports = append(c.reports, r)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *collector) all() []Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Report(nil), c.reports...)
}

// TestScaffoldAppInChromium builds the scaffold app with esbuild, serves it
// on its own origin and loads it in headless Chromium: the app renders its
// title and reports no error. A broken variant's errors do reach the
// endpoint.
func TestScaffoldAppInChromium(t *testing.T) {
	l, dir := scaffoldApp(t)
	errs := newCollector(t)
	start := time.Now()
	p, diags, err := Build(context.Background(), Options{Dir: dir, ReportURL: errs.srv.URL + "/report"})
	if err != nil {
		t.Fatalf("%v %v", err, diags)
	}
	t.Logf("esbuild preview of the scaffold app: %v, %d files", time.Since(start).Round(time.Millisecond), len(p.Paths()))
	site := httptest.NewServer(NewHandler(p))
	defer site.Close()

	dom := testutil.ChromiumDOM(t, site.URL+"/")
	for _, want := range []string{"<title>Recipe Tracker</title>", `class="app-title">Recipe Tracker</h1>`, "Recipes", "Add recipe"} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered DOM lacks %q:\n%s", want, dom)
		}
	}
	if r := errs.all(); len(r) != 0 {
		t.Errorf("the app reported errors: %+v", r)
	}

	// A client-side route falls back to the app too.
	if dom := testutil.ChromiumDOM(t, site.URL+"/recipes/1"); !strings.Contains(dom, `class="app-title">Recipe Tracker</h1>`) {
		t.Errorf("SPA fallback did not render the app")
	}

	// Break the app: an error during render, a rejected promise and a
	// console.error. Each must be reported.
	ctx := context.Background()
	broken := strings.Replace(appFiles["src/App.tsx"], "export default function App() {",
		"export default function App() {\n  console.error(\"stich-test console\");\n  Promise.reject(new Error(\"stich-test rejection\"));\n  setTimeout(() => { throw new Error(\"stich-test uncaught\"); });", 1)
	if err := l.WriteFiles(ctx, "app", map[string]string{"src/App.tsx": broken}); err != nil {
		t.Fatal(err)
	}
	defer l.WriteFiles(ctx, "app", map[string]string{"src/App.tsx": appFiles["src/App.tsx"]})
	p2, diags, err := Build(ctx, Options{Dir: dir, ReportURL: errs.srv.URL + "/report"})
	if err != nil {
		t.Fatalf("%v %v", err, diags)
	}
	site2 := httptest.NewServer(NewHandler(p2))
	defer site2.Close()
	testutil.ChromiumDOM(t, site2.URL+"/")
	testutil.WaitFor(t, 20*time.Second, func() error {
		seen := map[string]bool{}
		for _, r := range errs.all() {
			switch {
			case r.Kind == "console.error" && strings.Contains(r.Message, "stich-test console"):
				seen["console"] = true
			case r.Kind == "unhandledrejection" && strings.Contains(r.Message, "stich-test rejection"):
				seen["rejection"] = true
			case r.Kind == "error" && strings.Contains(r.Message, "stich-test uncaught"):
				seen["uncaught"] = true
			}
		}
		if len(seen) != 3 {
			return fmt.Errorf("reports so far: %+v", errs.all())
		}
		return nil
	})
}

// BenchmarkPreview compares building the scaffold app for production with
// esbuild in process (stich) against "npx vite build" of the same app in
// the sandbox (reference). Both produce a minified production bundle.
func BenchmarkPreview(b *testing.B) {
	l, dir := scaffoldApp(b)
	ctx := context.Background()
	b.Run("stich", func(b *testing.B) {
		for b.Loop() {
			if _, diags, err := Build(ctx, Options{Dir: dir, Production: true}); err != nil {
				b.Fatalf("%v %v", err, diags)
			}
		}
	})
	b.Run("stich-rebuild", func(b *testing.B) {
		bl, err := NewBuilder(Options{Dir: dir, Production: true})
		if err != nil {
			b.Fatal(err)
		}
		defer bl.Close()
		if _, _, err := bl.Build(ctx); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, diags, err := bl.Build(ctx); err != nil {
				b.Fatalf("%v %v", err, diags)
			}
		}
	})
	b.Run("reference", func(b *testing.B) {
		for b.Loop() {
			res, err := l.Run(ctx, "app", sandbox.Command{Args: []string{"npx", "--no", "vite", "build", "--logLevel", "error"}, Timeout: 2 * time.Minute})
			if err != nil || res.ExitCode != 0 {
				b.Fatalf("vite build: %v %d\n%s", err, res.ExitCode, res.TailText())
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "dist", "index.html")); err != nil {
			b.Errorf("vite wrote no dist/index.html: %v", err)
		}
	})
	b.Run("stich-dev", func(b *testing.B) {
		for b.Loop() {
			if _, diags, err := Build(ctx, Options{Dir: dir}); err != nil {
				b.Fatalf("%v %v", err, diags)
			}
		}
	})
}

func TestDecodeReport(t *testing.T) {
	good := `{"kind":"error","message":"boom","stack":"at x","line":3,"column":4,"url":"http://x/"}`
	r, err := DecodeReport(strings.NewReader(good))
	if err != nil || r.Message != "boom" || r.Line != 3 {
		t.Fatalf("%+v %v", r, err)
	}
	for _, bad := range []string{`{"kind":"nope","message":"x"}`, `not json`, `{"kind":"error","message":"` + strings.Repeat("x", MaxReportBytes) + `"}`} {
		if _, err := DecodeReport(strings.NewReader(bad)); err == nil {
			t.Errorf("DecodeReport(%.40q) accepted", bad)
		}
	}
	r, err = DecodeReport(strings.NewReader("{\"kind\":\"console.error\",\"message\":\"\xff\xfe\",\"line\":-5}"))
	if err != nil || r.Line != 0 || !strings.Contains(r.Message, "\uFFFD") {
		t.Errorf("sanitizing: %+v %v", r, err)
	}

	var got []Report
	srv := httptest.NewServer(ReportHandler(func(r Report) { got = append(got, r) }))
	defer srv.Close()
	for _, c := range []struct {
		method, body string
		status       int
	}{
		{"POST", good, http.StatusNoContent},
		{"OPTIONS", "", http.StatusNoContent},
		{"GET", "", http.StatusMethodNotAllowed},
		{"POST", "{", http.StatusBadRequest},
	} {
		req, _ := http.NewRequest(c.method, srv.URL, strings.NewReader(c.body))
		req.Header.Set("Content-Type", "text/plain")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != c.status || res.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s: %d, want %d (CORS %q)", c.method, res.StatusCode, c.status, res.Header.Get("Access-Control-Allow-Origin"))
		}
	}
	if len(got) != 1 {
		t.Errorf("handler passed on %d reports, want 1", len(got))
	}
}

func FuzzDecodeReport(f *testing.F) {
	f.Add([]byte(`{"kind":"error","message":"boom","line":1}`))
	f.Add([]byte(`{"kind":"resource","message":"\ud800"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeReport(bytes.NewReader(b))
		if err != nil {
			return
		}
		if len(r.Message) > 8000 || r.Line < 0 {
			t.Fatalf("unbounded report %+v", r)
		}
	})
}
