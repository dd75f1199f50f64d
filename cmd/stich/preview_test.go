package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/stichdev/stich/internal/testutil"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
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
	return startNode(t, t.TempDir(), "--sandbox", "local", "--sandbox-dir", dir, "--sandbox-uid", fmt.Sprint(previewUID))
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

	// The preview has its own origin: another port than the API, and the
	// API grants it no CORS access.
	pu, err := url.Parse(previewURL)
	if err != nil {
		t.Fatal(err)
	}
	au, _ := url.Parse(n.url)
	if pu.Host == au.Host {
		t.Fatalf("the preview %s shares the API's origin %s", previewURL, n.url)
	}
	if want := "/preview/" + id + "/"; pu.Path != want {
		t.Errorf("preview path %q, want %q", pu.Path, want)
	}
	pre, _ := http.NewRequest(http.MethodOptions, n.url+"/"+stichv1connect.SessionServiceName+"/GetSession", nil)
	pre.Header.Set("Origin", pu.Scheme+"://"+pu.Host)
	pre.Header.Set("Access-Control-Request-Method", "POST")
	if r, err := http.DefaultClient.Do(pre); err == nil {
		r.Body.Close()
		if got := r.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("the API allows cross-origin calls from the preview: %q", got)
		}
	}

	// The page carries the error reporter, posting to its own origin (the
	// preview package's browser test proves the reporter catches uncaught
	// errors, rejections and console.error).
	page, err := http.Get(previewURL)
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if want := `"` + previewURL + `__stich/report"`; !strings.Contains(string(html), want) {
		t.Errorf("the preview page does not report errors to %s:\n%s", want, html)
	}
	if cc := page.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("index.html Cache-Control %q", cc)
	}
	dom := testutil.ChromiumDOM(t, previewURL)
	for _, want := range []string{"Recipe Tracker", "Add recipe"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the preview's DOM lacks %q:\n%s", want, dom)
		}
	}

	// A report from the page (as the injected script sends it) becomes a
	// runtime diagnostic; the page's own load reported nothing.
	body := `{"kind":"error","message":"stich-test boom","source":"` + previewURL + `assets/x.js","line":3,"column":7}`
	r, err := http.Post(previewURL+"__stich/report", "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusNoContent {
		t.Fatalf("report: %s", r.Status)
	}
	bad, err := http.Post(previewURL+"__stich/report", "text/plain", strings.NewReader(`{"kind":"nonsense"}`))
	if err != nil {
		t.Fatal(err)
	}
	bad.Body.Close()
	if bad.StatusCode != http.StatusBadRequest {
		t.Errorf("malformed report: %s, want 400", bad.Status)
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

	// A session that does not exist, and a bad id, are answered plainly.
	for path, want := range map[string]int{
		"/preview/s-doesnotexist0/":   http.StatusNotFound,
		"/preview/..%2fetc%2fpasswd/": http.StatusNotFound,
		"/preview/S-UPPER/":           http.StatusNotFound,
	} {
		r, err := http.Get(pu.Scheme + "://" + pu.Host + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != want {
			t.Errorf("GET %s: %s, want %d: %s", path, r.Status, want, b)
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
