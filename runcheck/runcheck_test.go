package runcheck

import (
	"context"
	"net/http"
	"strings"
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
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := c.Check(context.Background(), site(page(tc.script)), "/")
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(r) {
				t.Errorf("report %+v", r)
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

func TestParseDump(t *testing.T) {
	if _, err := parseDump("<html><body></body></html>"); err == nil {
		t.Error("a page without the recorder's report parsed")
	}
	r, err := parseDump(`<html lang="en" data-stich-runtime="{&quot;console_errors&quot;:[&quot;x&quot;],&quot;blank&quot;:false}"><body>`)
	if err != nil || len(r.ConsoleErrors) != 1 || r.ConsoleErrors[0] != "x" {
		t.Errorf("%+v %v", r, err)
	}
}
