package runcheck

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// site serves pages from a map; anything else is a 404.
func site(pages map[string]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		switch {
		case strings.HasSuffix(r.URL.Path, ".js"):
			w.Header().Set("Content-Type", "text/javascript")
		case strings.HasSuffix(r.URL.Path, ".json"):
			w.Header().Set("Content-Type", "application/json")
		default:
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Content-Security-Policy", "script-src 'self'")
		}
		w.Write([]byte(body))
	})
}

func page(script string) map[string]string {
	return map[string]string{
		"/":          `<!doctype html><html><head><title>t</title></head><body><div id="root"></div><script type="module" src="/main.js"></script></body></html>`,
		"/main.js":   script,
		"/data.json": `{"ok":true}`,
	}
}

// The four apps of the issue: healthy, blank, throwing at start, failing
// fetch; each is told apart.
func TestCheck(t *testing.T) {
	c, err := New("")
	if err != nil {
		t.Fatalf("%v (CI installs chromium)", err)
	}
	defer c.Close()
	cases := []struct {
		name   string
		script string
		check  func(Report) bool
	}{
		{"healthy", `fetch("/data.json").then((r) => r.json()).then((d) => { document.getElementById("root").textContent = "Loaded " + d.ok; });`,
			func(r Report) bool { return r.OK() && strings.Contains(r.Text, "Loaded true") }},
		{"blank", `const x = 1 + 1;`,
			func(r Report) bool { return r.Blank && len(r.Exceptions) == 0 && !r.OK() }},
		{"throws", `document.getElementById("root").textContent = "half"; throw new Error("cannot read the config");`,
			func(r Report) bool {
				return len(r.Exceptions) == 1 && strings.Contains(r.Exceptions[0], "cannot read the config") && !r.OK()
			}},
		{"failing-fetch", `document.getElementById("root").textContent = "List"; fetch("/api/items").then((r) => { if (!r.ok) console.error("could not load items", r.status); });`,
			func(r Report) bool {
				return len(r.FailedRequests) == 1 && strings.Contains(r.FailedRequests[0], "/api/items 404") && len(r.ConsoleErrors) == 1 && !r.Blank
			}},
		// A page whose script never yields is a finding too, and the
		// shared browser goes on to the next page.
		{"endless-loop", `document.getElementById("root").textContent = "busy"; setTimeout(() => { for (;;) {} }, 0);`,
			func(r Report) bool {
				return len(r.Exceptions) == 1 && strings.Contains(r.Exceptions[0], "stopped responding")
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := c.Check(context.Background(), site(page(tc.script)), "/")
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(r) {
				t.Errorf("report %v", r)
			}
			if tc.name != "healthy" && len(r.Problems()) == 0 {
				t.Error("no problems listed for the fixing step")
			}
		})
	}
}

func TestNewWithoutBrowser(t *testing.T) {
	if _, err := New("/nonexistent/chromium"); err == nil {
		t.Fatal("New found a browser that does not exist")
	}
}

// One warm browser serves every check: concurrent checks share it, a page
// cannot reach another origin (there is no network), each check has a
// screenshot, and a browser that died is started again.
func TestWarmBrowser(t *testing.T) {
	c, err := New("")
	if err != nil {
		t.Fatalf("%v (CI installs chromium)", err)
	}
	defer c.Close()
	healthy := page(`document.getElementById("root").textContent = "Hello";`)
	outside := page(`document.getElementById("root").textContent = "Out"; fetch("http://example.com/x").catch(() => console.error("offline"));`)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			app := healthy
			if i%2 == 1 {
				app = outside
			}
			r, err := c.Check(context.Background(), site(app), "/")
			switch {
			case err != nil:
				errs <- err
			case i%2 == 0 && !r.OK():
				errs <- fmt.Errorf("healthy page: %v", r)
			case i%2 == 1 && (len(r.FailedRequests) != 1 || !strings.Contains(r.FailedRequests[0], "example.com") || len(r.ConsoleErrors) != 1):
				errs <- fmt.Errorf("a request to another origin: %v", r)
			case !bytes.HasPrefix(r.Screenshot, []byte("\x89PNG\r\n\x1a\n")) || len(r.Screenshot) > MaxScreenshotBytes:
				errs <- fmt.Errorf("screenshot of %d bytes starting %q", len(r.Screenshot), r.Screenshot[:min(8, len(r.Screenshot))])
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := c.Starts(); n != 1 {
		t.Errorf("the browser was started %d times for 6 checks", n)
	}

	// Killed: the next check starts it again.
	c.mu.Lock()
	br := c.br
	c.mu.Unlock()
	killGroup(br.cmd)
	<-br.done
	if r, err := c.Check(context.Background(), site(healthy), "/"); err != nil || !r.OK() {
		t.Fatalf("after the browser died: %v %v", r, err)
	}
	if n := c.Starts(); n != 2 {
		t.Errorf("the browser was started %d times, want 2", n)
	}
	c.Close()
	if _, err := c.Check(context.Background(), site(healthy), "/"); err == nil {
		t.Error("a closed checker checked")
	}
}
