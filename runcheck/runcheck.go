// Package runcheck loads a built app in headless Chromium and reports what
// went wrong at runtime: console errors, uncaught exceptions and rejected
// promises, failed requests (fetch, XHR, scripts, styles, images), and a
// blank page, with a screenshot.
//
// One browser per [Checker] is kept warm: started on the first check,
// restarted when it dies, shared by up to [Pages] checks at once, each in
// a browser context of its own. It is driven over the DevTools protocol on
// a pipe (--remote-debugging-pipe: no port). Every request of the page is
// answered in-process through the protocol's Fetch domain: the app's
// handler serves [Origin], anything else fails as without network. HTML
// pages get a small recorder script first thing in <head>; the recorder's
// findings are read from an attribute of the <html> element once the page
// loaded and stayed quiet.
//
// Chromium runs under bubblewrap when bwrap is installed (its own network
// namespace with no interface but loopback, the host read-only, a private
// /tmp, an unprivileged uid, no capabilities; Chromium's own sandbox is
// off, as inside containers); without bwrap it runs unconfined with a
// throw-away profile.
//
// It must not import actors, rpc, cluster or cmd.
package runcheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrNoBrowser: no Chromium was found; the caller should log it and go on
// without a runtime check.
var ErrNoBrowser = errors.New("runcheck: no chromium found (Debian: apt-get install -y chromium)")

// errNotSettled: the page did not load (or its timers did not run) in
// time: the machine is too slow, or the page never finishes loading.
var errNotSettled = errors.New("runcheck: the page did not finish loading")

// unresponsive is how long a page's script may hold its thread before
// the page counts as hung.
const unresponsive = 20 * time.Second

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
	// Screenshot is a PNG of the page as loaded (nil when none was
	// taken), at most [MaxScreenshotBytes].
	Screenshot []byte `json:"-"`
}

// String shows the findings (not the screenshot's bytes).
func (r Report) String() string {
	return fmt.Sprintf("{console errors %q, exceptions %q, failed requests %q, blank %v, text %q, screenshot %d bytes}",
		r.ConsoleErrors, r.Exceptions, r.FailedRequests, r.Blank, r.Text, len(r.Screenshot))
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

// Page geometry and limits of one check.
const (
	viewportWidth, viewportHeight = 1024, 768
	// MaxScreenshotBytes bounds a screenshot; a larger one is taken again
	// at half scale, and dropped if still too large.
	MaxScreenshotBytes = 512 << 10
	// maxBody bounds one response the app's handler gives the browser.
	maxBody = 32 << 20
)

// Origin is where the checked app appears to the browser. Every request
// is answered in-process (the DevTools Fetch domain), none reaches a
// network: requests to other origins fail, as in a sandbox without
// network. A *.localhost origin is a secure context, like the previews'.
const Origin = "http://app.runcheck.localhost"

// Checker runs the check in one warm browser: started on the first check,
// started again when it died, shared by checks (at most Pages at once,
// each in a browser context of its own). The zero value is not usable:
// use [New]; Close stops the browser.
type Checker struct {
	argv []string
	// Confined reports that the browser runs under bubblewrap (no
	// network, a read-only root, an unprivileged user, its own /tmp).
	Confined bool
	// budget bounds one page load and its settling; settle is how long
	// the page must stay quiet (no open request, no new finding) once
	// loaded.
	budget, settle time.Duration
	pages          chan struct{}

	// profile is the unconfined browser's profile folder ("" under
	// bubblewrap: it is in the sandbox's /tmp).
	profile string

	mu     sync.Mutex
	br     *browser
	closed bool
	starts int
	// spare is a page made ready for the next check (nil when none);
	// warming reports that one is being made; warm tracks that work.
	spare   *tab
	warming bool
	warm    sync.WaitGroup
}

// Pages is how many pages a Checker loads at once.
const Pages = 4

// New finds Chromium: the given path, else chromium, chromium-browser or
// google-chrome on PATH. It returns [ErrNoBrowser] when there is none.
// The browser runs under bubblewrap when bwrap is on PATH. Nothing is
// started before the first Check.
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
	c := &Checker{budget: 30 * time.Second, settle: 150 * time.Millisecond, pages: make(chan struct{}, Pages)}
	profile := "/tmp/profile"
	if bwrap, err := exec.LookPath("bwrap"); err == nil {
		c.Confined = true
		// No network at all (--unshare-all), the host read-only, a
		// private /tmp for the profile, no capabilities, nobody's uid.
		c.argv = append([]string{bwrap, "--unshare-all", "--die-with-parent", "--new-session"},
			"--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/dev/shm",
			"--uid", "65534", "--gid", "65534", "--cap-drop", "ALL", "--setenv", "HOME", "/tmp", "--", path)
	} else {
		dir, err := os.MkdirTemp("", "stich-runcheck-")
		if err != nil {
			return nil, fmt.Errorf("runcheck: %w", err)
		}
		profile, c.profile = dir, dir
		c.argv = []string{path}
	}
	c.argv = append(c.argv,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--disable-extensions", "--disable-default-apps", "--mute-audio", "--no-default-browser-check",
		"--js-flags=--max-old-space-size=256",
		"--user-data-dir="+profile, "--remote-debugging-pipe", "about:blank")
	return c, nil
}

// Starts reports how many times the browser was started.
func (c *Checker) Starts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.starts
}

// Close stops the browser; later checks fail.
func (c *Checker) Close() {
	c.mu.Lock()
	br, spare := c.br, c.spare
	c.br, c.spare, c.closed = nil, nil, true
	c.mu.Unlock()
	if spare != nil {
		spare.close()
	}
	defer c.warm.Wait() // after the browser ended: a spare being made fails fast
	if br != nil {
		br.close(5 * time.Second)
	}
	if c.profile != "" {
		os.RemoveAll(c.profile)
	}
}

var errClosed = errors.New("runcheck: the checker is closed")

// browser returns the running browser, starting one if there is none or
// it died.
func (c *Checker) browser() (*browser, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errClosed
	}
	if c.br != nil && c.br.alive() {
		return c.br, nil
	}
	if c.br != nil {
		old := c.br
		go old.close(time.Second) // reap it
	}
	var logTo io.Writer = io.Discard
	if debugCDP {
		logTo = os.Stderr
	}
	br, err := launch(c.argv, logTo)
	if err != nil {
		return nil, err
	}
	c.br = br
	c.starts++
	return br, nil
}

// takePage returns the spare page when it belongs to br, else makes one;
// either way it starts making the next spare.
func (c *Checker) takePage(ctx context.Context, br *browser) (*tab, error) {
	c.mu.Lock()
	p := c.spare
	c.spare = nil
	c.mu.Unlock()
	if p != nil && p.br != br {
		p.close()
		p = nil
	}
	defer c.prepare(br)
	if p != nil {
		return p, nil
	}
	return newPage(ctx, br)
}

// prepare makes a spare page in the background unless there is one, one
// is being made, or the checker is closed.
func (c *Checker) prepare(br *browser) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.spare != nil || c.warming || c.br != br {
		return
	}
	c.warming = true
	c.warm.Add(1)
	go func() {
		defer c.warm.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		p, err := newPage(ctx, br)
		c.mu.Lock()
		c.warming = false
		keep := err == nil && !c.closed && c.br == br && c.spare == nil
		if keep {
			c.spare = p
		}
		c.mu.Unlock()
		if err == nil && !keep {
			p.close()
		}
	}()
}

// kill ends br if it is still the current browser (it hung).
func (c *Checker) kill(br *browser) {
	c.mu.Lock()
	if c.br == br {
		c.br = nil
	}
	c.mu.Unlock()
	killGroup(br.cmd)
}

// Check loads path ("/" when empty) of app in the browser and reports
// what happened, with a screenshot. An error means the check itself could
// not run (the browser failed to start or hung), not that the app
// misbehaved.
func (c *Checker) Check(ctx context.Context, app http.Handler, path string) (Report, error) {
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	select {
	case c.pages <- struct{}{}:
	case <-ctx.Done():
		return Report{}, fmt.Errorf("runcheck: waiting for a page: %w", ctx.Err())
	}
	defer func() { <-c.pages }()
	r, err := c.check(ctx, app, path)
	if errors.Is(err, errBrowserGone) && ctx.Err() == nil {
		r, err = c.check(ctx, app, path) // it died under this check: once more on a new one
	}
	return r, err
}

func (c *Checker) check(ctx context.Context, app http.Handler, path string) (Report, error) {
	br, err := c.browser()
	if err != nil {
		return Report{}, err
	}
	// One bound for the whole check; the browser is killed if a command
	// hangs past it (a page that hangs its renderer cannot hang the next).
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, c.budget+2*time.Minute)
	defer cancel()
	// failed: a command that ran out of this check's time means the
	// browser hangs: it is killed (the next check starts another). A
	// caller that gave up is no reason to end a browser others share.
	failed := func(err error) error {
		if ctx.Err() != nil && parent.Err() == nil && br.alive() {
			c.kill(br)
		}
		return err
	}

	pg, err := c.takePage(ctx, br)
	if err != nil {
		return Report{}, failed(err)
	}
	defer pg.close()
	served := inject(app)
	pg.claim(func(params json.RawMessage) { c.serve(ctx, br, pg.s, served, params) })
	page := func(method string, params, out any) error { return pg.call(ctx, method, params, out) }
	if err := page("Page.navigate", map[string]any{"url": Origin + path}, nil); err != nil {
		return Report{}, failed(err)
	}

	// Wait for the load event, then for the page to be quiet: no request
	// open and the same findings for c.settle; at most c.budget.
	deadline := time.Now().Add(c.budget)
	var last string
	var since time.Time
	var raw string
	for {
		var ev struct {
			Result struct {
				Value string `json:"value"`
			} `json:"result"`
		}
		ectx, done := context.WithTimeout(ctx, unresponsive)
		err := pg.call(ectx, "Runtime.evaluate", map[string]any{"expression": readReport, "returnByValue": true}, &ev)
		hung := ectx.Err() != nil && ctx.Err() == nil
		done()
		switch {
		case hung:
			// The page's script never yields (an endless loop): that is
			// the app's problem; disposing its context ends its renderer.
			return Report{Exceptions: []string{fmt.Sprintf("the page stopped responding: its script ran for %v without yielding (an endless loop?)", unresponsive)}}, nil
		case err != nil && (ctx.Err() != nil || errors.Is(err, errBrowserGone)):
			return Report{}, failed(err)
		}
		// Any other error: the page is between documents; ask again.
		var ticks int
		raw, ticks = splitReport(ev.Result.Value)
		loaded := pg.isLoaded()
		now := time.Now()
		if raw != last {
			last, since = raw, now
		}
		var open struct {
			Pending int `json:"pending"`
		}
		_ = json.Unmarshal([]byte(raw), &open)
		settled := loaded && raw != "" && ticks >= minTicks
		if settled && open.Pending <= 0 && now.Sub(since) >= c.settle {
			break
		}
		if now.After(deadline) {
			if !settled {
				// Not loaded, or not run long enough to have rendered: a
				// finding such as "blank" would be a guess.
				return Report{}, fmt.Errorf("%w within %v", errNotSettled, c.budget)
			}
			break // loaded and alive, but busy: report what it shows
		}
		select {
		case <-time.After(25 * time.Millisecond):
		case <-ctx.Done():
			return Report{}, failed(ctx.Err())
		}
	}
	if raw == "" {
		return Report{}, errNoReport
	}
	var r Report
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		return Report{}, fmt.Errorf("runcheck: recorder report: %w", err)
	}
	r.Screenshot = c.screenshot(ctx, page)
	return r, nil
}

// readReport reads the recorder's report and its tick count (the page's
// timer turns since the load event), one line each.
const readReport = `(document.documentElement.getAttribute("data-stich-runtime") || "") + "\n" + (document.documentElement.getAttribute("data-stich-ticks") || "0")`

// minTicks is how many 100 ms timer turns the page must have run since
// its load event before it counts as settled: measured in the page's own
// time, so that a slow machine waits longer rather than judging a page
// that has not rendered yet.
const minTicks = 3

func splitReport(v string) (string, int) {
	raw, ticks, _ := strings.Cut(v, "\n")
	n, _ := strconv.Atoi(ticks)
	return raw, n
}

// screenshot takes a PNG of the viewport, at half scale when the full one
// is too large; nil when it fails or is still too large.
func (c *Checker) screenshot(ctx context.Context, page func(string, any, any) error) []byte {
	for _, scale := range []float64{1, 0.5} {
		var shot struct {
			Data []byte `json:"data"` // base64 in JSON
		}
		if err := page("Page.captureScreenshot", map[string]any{"format": "png",
			"clip": map[string]any{"x": 0, "y": 0, "width": viewportWidth, "height": viewportHeight, "scale": scale}}, &shot); err != nil {
			return nil
		}
		if len(shot.Data) <= MaxScreenshotBytes {
			return shot.Data
		}
	}
	return nil
}

// serve answers one paused request: from app when it is for [Origin],
// else it fails, as it would without network.
func (c *Checker) serve(ctx context.Context, br *browser, session string, app http.Handler, params json.RawMessage) {
	var p struct {
		RequestID string `json:"requestId"`
		Request   struct {
			URL      string            `json:"url"`
			Method   string            `json:"method"`
			Headers  map[string]string `json:"headers"`
			PostData string            `json:"postData"`
		} `json:"request"`
	}
	if json.Unmarshal(params, &p) != nil {
		return
	}
	u, err := url.Parse(p.Request.URL)
	if err != nil || u.Scheme+"://"+u.Host != Origin {
		_ = br.call(ctx, session, "Fetch.failRequest", map[string]any{"requestId": p.RequestID, "errorReason": "InternetDisconnected"}, nil)
		return
	}
	req, err := http.NewRequestWithContext(ctx, p.Request.Method, p.Request.URL, strings.NewReader(p.Request.PostData))
	if err != nil {
		_ = br.call(ctx, session, "Fetch.failRequest", map[string]any{"requestId": p.RequestID, "errorReason": "Failed"}, nil)
		return
	}
	for k, v := range p.Request.Headers {
		req.Header.Set(k, v)
	}
	req.Host = u.Host
	rec := &recorderWriter{header: http.Header{}, status: http.StatusOK}
	app.ServeHTTP(rec, req)
	body := rec.body.Bytes()
	if len(body) > maxBody {
		body = body[:maxBody]
	}
	headers := []map[string]string{}
	for k, vs := range rec.header {
		for _, v := range vs {
			headers = append(headers, map[string]string{"name": k, "value": v})
		}
	}
	_ = br.call(ctx, session, "Fetch.fulfillRequest", map[string]any{"requestId": p.RequestID, "responseCode": rec.status,
		"responseHeaders": headers, "body": body}, nil)
}

// recorder runs before the app: it records problems and, on every change
// and on a timer, writes them to <html data-stich-runtime>.
const recorder = `<script>(() => {
  const r = { console_errors: [], exceptions: [], failed_requests: [], blank: true, text: "", pending: 0 };
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
  // A request counts as open until the task after it settles, so that
  // what the app chains on it (reading the body, rendering) runs first.
  const done = () => setTimeout(() => { r.pending--; show(); }, 0);
  if (f) window.fetch = (...args) => { r.pending++; return f(...args).then((res) => { done(); if (!res.ok && res.type !== "opaque") cap(r.failed_requests, "fetch " + res.url + " " + res.status); show(); return res; },
    (e) => { done(); cap(r.failed_requests, "fetch " + String((args[0] && args[0].url) || args[0]) + " " + e); show(); throw e; }); };
  for (const m of ["json", "text", "blob", "arrayBuffer", "formData"]) {
    const o = window.Response && Response.prototype[m];
    if (o) Response.prototype[m] = function (...a) { r.pending++; return o.apply(this, a).finally(done); };
  }
  const open = XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.open = function (m, u, ...rest) {
    this.addEventListener("loadstart", () => { r.pending++; });
    this.addEventListener("loadend", () => { done(); if (this.status === 0 || this.status >= 400) cap(r.failed_requests, "xhr " + m + " " + u + " " + this.status); show(); });
    return open.call(this, m, u, ...rest);
  };
  addEventListener("DOMContentLoaded", show);
  let loaded = false, ticks = 0;
  addEventListener("load", () => { loaded = true; show(); });
  setInterval(() => { if (loaded) document.documentElement.setAttribute("data-stich-ticks", String(++ticks)); show(); }, 100);
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
