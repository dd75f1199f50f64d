// Package runcheck loads a built app in headless Chromium and reports what
// went wrong at runtime: console errors, uncaught exceptions and rejected
// promises, failed requests (fetch, XHR, scripts, styles, images), and a
// blank page.
//
// It serves the app's handler on a loopback port of its own, adding to
// every HTML page a small recorder script that runs before the app's
// code, then lets Chromium (Debian's /usr/bin/chromium, or any chromium
// on PATH) run the page for a virtual-time budget and dump the DOM; the
// recorder's findings come back in an attribute of the <html> element. No
// DevTools protocol is needed.
//
// Chromium runs with a throw-away profile and --no-sandbox (stich runs as
// root in its VMs); it is not confined by stich's bubblewrap sandbox.
//
// Concurrency: a [Checker] is safe for concurrent use; each Check starts
// its own server and browser and stops both before returning.
//
// It must not import actors, rpc, cluster or cmd.
package runcheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ErrNoBrowser: no Chromium was found; the caller should log it and go on
// without a runtime check.
var ErrNoBrowser = errors.New("runcheck: no chromium found (Debian: apt-get install -y chromium)")

// errNoReport: the page never ran the recorder (it did not load).
var errNoReport = errors.New("runcheck: the page did not load")

// Report is what one load of the page showed.
type Report struct {
	ConsoleErrors  []string `json:"console_errors,omitempty"`
	Exceptions     []string `json:"exceptions,omitempty"`
	FailedRequests []string `json:"failed_requests,omitempty"`
	// Blank: the page shows no text and no media or form elements.
	Blank bool `json:"blank"`
	// Text is the start of the page's visible text.
	Text string `json:"text,omitempty"`
}

// OK reports whether the page rendered without any problem.
func (r Report) OK() bool {
	return len(r.ConsoleErrors) == 0 && len(r.Exceptions) == 0 && len(r.FailedRequests) == 0 && !r.Blank
}

// Problems lists the report's findings as lines for a fixing prompt.
func (r Report) Problems() []string {
	var out []string
	for _, e := range r.Exceptions {
		out = append(out, "uncaught exception: "+e)
	}
	for _, e := range r.ConsoleErrors {
		out = append(out, "console error: "+e)
	}
	for _, e := range r.FailedRequests {
		out = append(out, "failed request: "+e)
	}
	if r.Blank {
		out = append(out, "the page is blank: nothing rendered")
	}
	return out
}

// Checker runs the check. The zero value is not usable: use [New].
type Checker struct {
	chromium string
	// budget is the virtual time the page runs for.
	budget time.Duration
	// timeout bounds one browser run in real time.
	timeout time.Duration
}

// New finds Chromium: the given path, else chromium, chromium-browser or
// google-chrome on PATH. It returns [ErrNoBrowser] when there is none.
func New(path string) (*Checker, error) {
	if path == "" {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		return nil, ErrNoBrowser
	}
	if fi, err := os.Stat(path); err != nil || fi.IsDir() {
		return nil, fmt.Errorf("%w: %s", ErrNoBrowser, path)
	}
	return &Checker{chromium: path, budget: 3 * time.Second, timeout: 60 * time.Second}, nil
}

// Check serves app on a loopback port, loads path ("/" when empty) in
// Chromium and reports what happened. An error means the check itself
// could not run (no port, the browser failed to start or hung), not that
// the app misbehaved.
func (c *Checker) Check(ctx context.Context, app http.Handler, path string) (Report, error) {
	if path == "" {
		path = "/"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Report{}, fmt.Errorf("runcheck: %w", err)
	}
	srv := &http.Server{Handler: inject(app), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		srv.Close()
		<-served
	}()

	profile, err := os.MkdirTemp("", "stich-runcheck-")
	if err != nil {
		return Report{}, fmt.Errorf("runcheck: %w", err)
	}
	defer os.RemoveAll(profile)
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.chromium,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--disable-extensions", "--user-data-dir="+profile,
		"--virtual-time-budget="+strconv.Itoa(int(c.budget/time.Millisecond)),
		"--dump-dom", "http://"+ln.Addr().String()+path)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil && !errors.Is(err, exec.ErrWaitDelay) {
		return Report{}, fmt.Errorf("runcheck: chromium: %w: %s", err, tail(errb.String(), 400))
	}
	return parseDump(out.String())
}

var reportAttr = regexp.MustCompile(`<html[^>]*\sdata-stich-runtime="([^"]*)"`)

// parseDump reads the recorder's report from the dumped DOM.
func parseDump(dom string) (Report, error) {
	m := reportAttr.FindStringSubmatch(dom)
	if m == nil {
		return Report{}, errNoReport
	}
	var r Report
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &r); err != nil {
		return Report{}, fmt.Errorf("runcheck: recorder report: %w", err)
	}
	return r, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// recorder runs before the app: it records problems and, on every change
// and on a timer, writes them to <html data-stich-runtime>.
const recorder = `<script>(() => {
  const r = { console_errors: [], exceptions: [], failed_requests: [], blank: true, text: "" };
  const cap = (a, s) => { if (a.length < 20) a.push(String(s).slice(0, 500)); };
  const show = () => {
    const b = document.body;
    if (b) {
      const text = (b.innerText || "").trim();
      r.text = text.slice(0, 200);
      r.blank = text === "" && !b.querySelector("img,svg,canvas,video,input,button,select,textarea,iframe");
    }
    document.documentElement.setAttribute("data-stich-runtime", JSON.stringify(r));
  };
  const err = console.error;
  console.error = (...args) => { cap(r.console_errors, args.map((x) => (x instanceof Error ? x.message : typeof x === "string" ? x : JSON.stringify(x))).join(" ")); show(); err.apply(console, args); };
  addEventListener("error", (e) => {
    if (e instanceof ErrorEvent) cap(r.exceptions, (e.error && e.error.stack) || e.message);
    else if (e.target && (e.target.src || e.target.href)) cap(r.failed_requests, (e.target.tagName || "").toLowerCase() + " " + (e.target.src || e.target.href));
    show();
  }, true);
  addEventListener("unhandledrejection", (e) => { const x = e.reason; cap(r.exceptions, "unhandled rejection: " + ((x && (x.stack || x.message)) || String(x))); show(); });
  const f = window.fetch;
  if (f) window.fetch = (...args) => f(...args).then((res) => { if (!res.ok) cap(r.failed_requests, "fetch " + res.url + " " + res.status); show(); return res; },
    (e) => { cap(r.failed_requests, "fetch " + String(args[0]) + " " + e); show(); throw e; });
  const open = XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.open = function (m, u, ...rest) {
    this.addEventListener("loadend", () => { if (this.status === 0 || this.status >= 400) { cap(r.failed_requests, "xhr " + m + " " + u + " " + this.status); show(); } });
    return open.call(this, m, u, ...rest);
  };
  addEventListener("DOMContentLoaded", show);
  addEventListener("load", show);
  setInterval(show, 100);
  show();
})();</script>`

// inject wraps app so that HTML pages get the recorder first thing in
// <head> (or before anything when there is no head).
func inject(app http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		req.Header.Del("Accept-Encoding") // keep the body readable
		rec := &recorderWriter{header: http.Header{}, status: http.StatusOK}
		app.ServeHTTP(rec, req)
		body := rec.body.Bytes()
		if strings.HasPrefix(rec.header.Get("Content-Type"), "text/html") {
			lower := bytes.ToLower(body)
			at := 0
			if i := bytes.Index(lower, []byte("<head")); i >= 0 {
				if j := bytes.IndexByte(lower[i:], '>'); j >= 0 {
					at = i + j + 1
				}
			} else if i := bytes.Index(lower, []byte("<html")); i >= 0 {
				if j := bytes.IndexByte(lower[i:], '>'); j >= 0 {
					at = i + j + 1
				}
			}
			body = append(append(append([]byte{}, body[:at]...), recorder...), body[at:]...)
			rec.header.Del("Content-Length")
			rec.header.Del("Content-Security-Policy") // the recorder is an inline script
			rec.header.Del("ETag")
		}
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.status)
		_, _ = io.Copy(w, bytes.NewReader(body))
	})
}

// recorderWriter buffers a response so that HTML can be rewritten.
type recorderWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
	wrote  bool
}

func (r *recorderWriter) Header() http.Header { return r.header }
func (r *recorderWriter) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
}
func (r *recorderWriter) Write(b []byte) (int, error) {
	r.wrote = true
	return r.body.Write(b)
}
