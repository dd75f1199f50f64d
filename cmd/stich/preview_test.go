package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/stichdev/stich/internal/testutil"
	"github.com/stichdev/stich/preview"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
	"github.com/stichdev/stich/rpc"
)

// previewUID is the sandbox uid of this package's tests.
const previewUID = 64651

// startBuildingNode runs stich serve with the local sandbox, its workspaces
// and npm cache in a folder kept between runs (so installs come from the
// cache after the first run).
func startBuildingNode(t *testing.T) *node {
	t.Helper()
	_, keep := testutil.SandboxDirs(t)
	dir := filepath.Join(keep, "cmd-sandbox")
	if err := os.MkdirAll(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	// The node is killed when the test ends: the disk quotas (tmpfs) of
	// the workspaces it had are left mounted. Registered before startNode,
	// this runs after the kill.
	t.Cleanup(func() {
		ents, _ := os.ReadDir(filepath.Join(dir, "workspaces"))
		for _, e := range ents {
			_ = syscall.Unmount(filepath.Join(dir, "workspaces", e.Name()), syscall.MNT_DETACH)
		}
	})
	return startNode(t, t.TempDir(), "--sandbox", "local", "--sandbox-dir", dir, "--sandbox-uid", fmt.Sprint(previewUID), "--sandbox-uids", "4")
}

// watchUntilIdle returns every event of a session up to the end of its work.
func watchUntilIdle(t *testing.T, ctx context.Context, c stichv1connect.SessionServiceClient, id string) []*stichv1.SessionEvent {
	t.Helper()
	stream, err := c.Watch(ctx, connect.NewRequest(&stichv1.WatchRequest{SessionId: id, UntilIdle: true}))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	var evs []*stichv1.SessionEvent
	for stream.Receive() {
		evs = append(evs, stream.Msg())
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("watch: %v", err)
	}
	return evs
}

// The scaffold app of a session is installed, type-checked and bundled in
// the sandbox; its preview, served on its own origin, renders in headless
// Chromium with no console error; an error a preview reports reaches the
// session as a runtime diagnostic.
func TestScaffoldPreviewInChromium(t *testing.T) {
	n := startBuildingNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := stichv1connect.NewSessionServiceClient(apiHTTP, n.url)
	res, err := c.CreateSession(ctx, connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "a recipe tracker with ingredients and ratings"}))
	if err != nil {
		t.Fatal(err)
	}
	id := res.Msg.GetSessionId()
	evs := watchUntilIdle(t, ctx, c, id)

	var previewURL string
	var logs []string
	for _, ev := range evs {
		switch e := ev.GetEvent().(type) {
		case *stichv1.SessionEvent_PreviewReady:
			previewURL = e.PreviewReady.GetUrl()
		case *stichv1.SessionEvent_Diagnostics:
			if e.Diagnostics.GetTool() != "review" && len(e.Diagnostics.GetDiagnostics()) > 0 {
				t.Errorf("%s reported diagnostics for a scaffold app: %v", e.Diagnostics.GetTool(), e.Diagnostics.GetDiagnostics())
			}
		case *stichv1.SessionEvent_FixApplied:
			t.Errorf("the fixer changed a scaffold app: %v", e.FixApplied)
		case *stichv1.SessionEvent_Log:
			logs = append(logs, e.Log.GetSource()+" "+e.Log.GetLevel()+" "+e.Log.GetText())
			if e.Log.GetSource() == "sandbox" && e.Log.GetLevel() == "error" {
				t.Errorf("sandbox error: %s", e.Log.GetText())
			}
		}
	}
	if _, ok := evs[len(evs)-1].GetEvent().(*stichv1.SessionEvent_Completed); !ok {
		t.Fatalf("the session did not complete: last event %v", evs[len(evs)-1])
	}
	if previewURL == "" {
		t.Fatalf("no preview_ready event; logs:\n%s", strings.Join(logs, "\n"))
	}
	if !strings.Contains(strings.Join(logs, "\n"), "typecheck") && !strings.Contains(strings.Join(logs, "\n"), "type-check") {
		t.Errorf("no type-check progress in the session log:\n%s", strings.Join(logs, "\n"))
	}

	// CI has chromium: the build was loaded in the node's browser, and its
	// screenshot is the owner's. (A check that could not finish on a
	// starved machine is logged, not a failure of the build.)
	joined := strings.Join(logs, "\n")
	switch {
	case strings.Contains(joined, "the runtime check did not run"):
		t.Logf("the runtime check could not finish here:\n%s", joined)
	case !strings.Contains(joined, "problem(s))") || !strings.Contains(joined, "runtime check"):
		t.Errorf("the build was not runtime-checked:\n%s", joined)
	default:
		shot, err := apiHTTP.Get(n.url + "/api/sessions/" + id + "/screenshot.png")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(shot.Body)
		shot.Body.Close()
		if shot.StatusCode != http.StatusOK || shot.Header.Get("Content-Type") != "image/png" || !strings.HasPrefix(string(body), "\x89PNG") {
			t.Errorf("screenshot: %d %s, %d bytes", shot.StatusCode, shot.Header.Get("Content-Type"), len(body))
		}
	}

	// The preview has an origin of its own, a site apart from the API's,
	// and the API grants it no CORS access.
	pu, err := url.Parse(previewURL)
	if err != nil {
		t.Fatal(err)
	}
	au, _ := url.Parse(n.url)
	if want := preview.Label(id) + ".preview.localhost"; pu.Hostname() != want || pu.Path != "/" {
		t.Fatalf("preview URL %s, want http://%s:PORT/", previewURL, want)
	}
	if (preview.Origins{Scheme: "http", Domain: "preview.localhost"}).SameSite(au.Host) {
		t.Fatalf("the preview %s is the same site as the API %s", previewURL, n.url)
	}
	// Without the origin's cookie the preview answers a page saying to
	// open the app from stich, never the app.
	bare, err := testutil.LocalhostClient().Get(previewURL)
	if err != nil {
		t.Fatal(err)
	}
	bareBody, _ := io.ReadAll(bare.Body)
	bare.Body.Close()
	if bare.StatusCode != http.StatusForbidden || !strings.Contains(string(bareBody), "Open the app from stich") || strings.Contains(string(bareBody), "reporter.js") {
		t.Errorf("preview without a ticket: %s\n%s", bare.Status, bareBody)
	}
	hc, enter := previewClient(t, n.url, id)
	pre, _ := http.NewRequest(http.MethodOptions, n.url+"/"+stichv1connect.SessionServiceName+"/GetSession", nil)
	pre.Header.Set("Origin", pu.Scheme+"://"+pu.Host)
	pre.Header.Set("Access-Control-Request-Method", "POST")
	if r, err := http.DefaultClient.Do(pre); err == nil {
		r.Body.Close()
		if got := r.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("the API allows cross-origin calls from the preview: %q", got)
		}
	}

	// The old path form redirects to the app's origin.
	old, err := hc.Get("http://127.0.0.1:" + pu.Port() + "/preview/" + id + "/recipes/1?x=1")
	if err != nil {
		t.Fatal(err)
	}
	old.Body.Close()
	if loc := old.Header.Get("Location"); old.StatusCode != http.StatusPermanentRedirect || loc != previewURL+"recipes/1?x=1" {
		t.Errorf("old preview path: %s to %q, want 308 to %s", old.Status, loc, previewURL+"recipes/1?x=1")
	}

	// The page carries the error reporter, posting to its own origin (the
	// preview package's browser test proves the reporter catches uncaught
	// errors, rejections and console.error).
	page, err := hc.Get(previewURL)
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if want := `<script src="/__stich/reporter.js"></script>`; !strings.Contains(string(html), want) {
		t.Errorf("the preview page does not load the reporter:\n%s", html)
	}
	if cc := page.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("index.html Cache-Control %q", cc)
	}
	csp := page.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self';", "connect-src 'self';", "object-src 'none'", "frame-ancestors " + n.url + " "} {
		if !strings.Contains(csp, want) {
			t.Errorf("the preview's CSP lacks %q: %q", want, csp)
		}
	}
	if page.Header.Get("X-Content-Type-Options") != "nosniff" || page.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("preview headers: %v", page.Header)
	}
	rjs, err := hc.Get(previewURL + "__stich/reporter.js")
	if err != nil {
		t.Fatal(err)
	}
	js, _ := io.ReadAll(rjs.Body)
	rjs.Body.Close()
	_, token, _ := strings.Cut(string(js), `"/__stich/report?token=`)
	token, _, _ = strings.Cut(token, `"`)
	if len(token) != 32 {
		t.Fatalf("the reporter posts with no token:\n%s", js)
	}
	dom := testutil.ChromiumDOM(t, enter)
	for _, want := range []string{"Recipe Tracker", "Add recipe"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the preview's DOM lacks %q:\n%s", want, dom)
		}
	}

	// A report from the page (as the injected script sends it) becomes a
	// runtime diagnostic; the page's own load reported nothing.
	body := `{"kind":"error","message":"stich-test boom","source":"` + previewURL + `assets/x.js","line":3,"column":7}`
	post := func(origin, token, body string, hdr ...string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, origin+"/__stich/report?token="+token, strings.NewReader(body))
		req.Header.Set("Content-Type", "text/plain")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		r, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	self := strings.TrimSuffix(previewURL, "/")
	other := "http://" + preview.Label("s-doesnotexist00000000") + ".preview.localhost:" + pu.Port()
	// Refused: no token, a wrong token, this app's token posted to
	// another app, a post from another origin.
	for what, code := range map[string]int{
		"no token":           post(self, "", body),
		"wrong token":        post(self, strings.Repeat("0", 32), body),
		"another app":        post(other, token, body),
		"another origin":     post(self, token, body, "Origin", other),
		"cross-site browser": post(self, token, body, "Sec-Fetch-Site", "cross-site"),
	} {
		if code != http.StatusForbidden {
			t.Errorf("report with %s: %d, want 403", what, code)
		}
	}
	if code := post(self, token, body, "Origin", self, "Sec-Fetch-Site", "same-origin"); code != http.StatusNoContent {
		t.Fatalf("report: %d", code)
	}
	if code := post(self, token, `{"kind":"nonsense"}`); code != http.StatusBadRequest {
		t.Errorf("malformed report: %d, want 400", code)
	}
	if code := post(self, token, `{"kind":"error","message":"`+strings.Repeat("x", 20<<10)+`"}`); code != http.StatusBadRequest {
		t.Errorf("oversized report: %d, want 400", code)
	}
	after := uint64(evs[len(evs)-1].GetSeq())
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	stream, err := c.Watch(wctx, connect.NewRequest(&stichv1.WatchRequest{SessionId: id, AfterSeq: after}))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	var runtime []*stichv1.Diagnostic
	for runtime == nil && stream.Receive() {
		if d := stream.Msg().GetDiagnostics(); d != nil && d.GetTool() == "runtime" {
			runtime = d.GetDiagnostics()
		}
	}
	if len(runtime) != 1 || runtime[0].GetMessage() != "stich-test boom" || runtime[0].GetLine() != 3 {
		t.Fatalf("runtime diagnostics after the report: %v (stream err %v)", runtime, stream.Err())
	}
	// The one report is the test's: the page itself reported no error.
	all := watchRange(t, ctx, c, id, 0, uint64(stream.Msg().GetSeq()))
	count := 0
	for _, ev := range all {
		if d := ev.GetDiagnostics(); d != nil && d.GetTool() == "runtime" {
			count++
		}
	}
	if count != 1 {
		t.Errorf("%d runtime reports, want only the test's one", count)
	}

	// A session that does not exist (with this app's cookie: refused as
	// any app without its own), and a bad id, are answered plainly.
	for u, want := range map[string]int{
		other + "/": http.StatusForbidden,
		"http://127.0.0.1:" + pu.Port() + "/preview/..%2fetc%2fpasswd/": http.StatusNotFound,
		"http://127.0.0.1:" + pu.Port() + "/preview/S-UPPER/":           http.StatusNotFound,
		"http://x.y.preview.localhost:" + pu.Port() + "/":               http.StatusNotFound,
	} {
		r, err := hc.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != want {
			t.Errorf("GET %s: %s, want %d: %s", u, r.Status, want, b)
		}
	}
}

// watchRange reads a session's events in (after, upTo].
func watchRange(t *testing.T, ctx context.Context, c stichv1connect.SessionServiceClient, id string, after, upTo uint64) []*stichv1.SessionEvent {
	t.Helper()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.Watch(wctx, connect.NewRequest(&stichv1.WatchRequest{SessionId: id, AfterSeq: after}))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	var evs []*stichv1.SessionEvent
	for stream.Receive() {
		evs = append(evs, stream.Msg())
		if stream.Msg().GetSeq() >= upTo {
			return evs
		}
	}
	t.Fatalf("watch ended before seq %d: %v", upTo, stream.Err())
	return nil
}

// previewClient opens session id's preview as the node's owner, as the UI
// does: a ticket from the API, which the preview origin turns into its own
// cookie. It returns a client sending that cookie, and the ticket URL.
func previewClient(t *testing.T, apiURL, id string) (*http.Client, string) {
	t.Helper()
	res, err := apiHTTP.Post(apiURL+rpc.PreviewTicketPath(id), "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	var ticket struct {
		URL string `json:"url"`
	}
	err = json.NewDecoder(res.Body).Decode(&ticket)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("preview ticket: %s, %v", res.Status, err)
	}
	hc := testutil.LocalhostClient()
	r, err := hc.Get(ticket.URL)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	var cookie *http.Cookie
	for _, c := range r.Cookies() {
		if c.Name == preview.CookieName && c.Value != "" {
			cookie = c
		}
	}
	if r.StatusCode != http.StatusSeeOther || cookie == nil {
		t.Fatalf("preview ticket %s: %s, cookie %v", ticket.URL, r.Status, cookie)
	}
	hc.Transport = cookieTransport{base: hc.Transport, cookie: preview.CookieName + "=" + cookie.Value}
	return hc, ticket.URL
}

// cookieTransport sends one cookie with every request.
type cookieTransport struct {
	base   http.RoundTripper
	cookie string
}

func (c cookieTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Cookie", c.cookie)
	return c.base.RoundTrip(r)
}
