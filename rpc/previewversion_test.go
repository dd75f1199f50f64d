package rpc

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/stichdev/stich/preview"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// versionTicketFor asks the API for a ticket to version v's preview as
// client; it returns the status and the ticket (checked to open v's own
// origin).
func (e *previewAuthEnv) versionTicketFor(t *testing.T, client *http.Client, id string, v uint32) (int, string) {
	t.Helper()
	status, u := e.postTicket(t, client, PreviewVersionTicketPath(id, v))
	if u == nil {
		return status, ""
	}
	if u.Scheme+"://"+u.Host != e.origins.VersionOrigin(id, v) || u.Path != preview.EnterPath {
		t.Fatalf("version ticket URL %q is not on %s", u, e.origins.VersionOrigin(id, v))
	}
	return status, u.Query().Get("ticket")
}

// getVersion requests path on the origin of id's version v.
func (e *previewAuthEnv) getVersion(id string, v uint32, path, cookie string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", e.origins.VersionOrigin(id, v)+path, nil)
	if cookie != "" {
		req.Header.Set("Cookie", preview.CookieName+"="+cookie)
	}
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, req)
	return w
}

// enterVersion opens a ticket URL on version v's origin.
func (e *previewAuthEnv) enterVersion(id string, v uint32, ticket string) (string, *httptest.ResponseRecorder) {
	w := e.getVersion(id, v, preview.EnterPath+"?"+url.Values{"ticket": {ticket}, "next": {"/"}}.Encode(), "")
	for _, c := range w.Result().Cookies() {
		if c.Name == preview.CookieName && c.MaxAge > 0 {
			return c.Value, w
		}
	}
	return "", w
}

// A version's preview has its own origin and its own tickets: the API
// mints them as for the app's own preview (the owner of a private app,
// anyone for a public one, 404 for a version the app lacks), a version's
// ticket or cookie opens that version alone (not the current preview, not
// another version), the server asks the sandbox for that version's build,
// and a failed build is shown with its errors.
func TestPreviewVersionAccess(t *testing.T) {
	e := newPreviewAuthEnv(t)
	var asked []uint32
	failed := false
	e.h.asset = func(_ context.Context, _ string, v uint32, path string) (*actorsv1.SandboxAssetReply, error) {
		asked = append(asked, v)
		if failed {
			return &actorsv1.SandboxAssetReply{Failed: true, BuildError: "version 1 did not bundle: 1 problem(s)",
				BuildProblems: []*stichv1.Diagnostic{{File: "src/App.tsx", Line: 3, Message: "Expected \"}\" but found <end>"}}}, nil
		}
		return &actorsv1.SandboxAssetReply{Built: true, Found: true, Body: []byte("<!doctype html><h1>the app</h1>"), ContentType: "text/html; charset=utf-8", Etag: `"e"`, Path: "/index.html"}, nil
	}
	apps := e.carolsApps(t, true)
	owner, other, carol, private, public := apps.owner, apps.other, apps.carol, apps.private, apps.public

	// The owner: version 1's ticket, its cookie, version 1's build.
	code, ticket := e.versionTicketFor(t, owner, private, 1)
	if code != http.StatusOK {
		t.Fatalf("owner's version ticket: %d", code)
	}
	cookie, w := e.enterVersion(private, 1, ticket)
	if cookie == "" || w.Code != http.StatusSeeOther {
		t.Fatalf("owner's version ticket: %d, cookie %q", w.Code, cookie)
	}
	asked = nil
	if w := e.getVersion(private, 1, "/", cookie); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "the app") || len(asked) != 1 || asked[0] != 1 {
		t.Fatalf("version 1 with its cookie: %d %q, asked versions %v", w.Code, w.Body.String(), asked)
	}

	// A version's ticket and cookie open that version alone; the current
	// preview's open no version.
	if w := e.get(private, "/", cookie); !refused(w) {
		t.Errorf("version 1's cookie on the current preview: %d", w.Code)
	}
	if c, w := e.enter(t, private, ticket); c != "" || !refused(w) {
		t.Errorf("version 1's ticket on the current preview: %d", w.Code)
	}
	if w := e.getVersion(private, 2, "/", cookie); !refused(w) {
		t.Errorf("version 1's cookie on version 2: %d", w.Code)
	}
	_, current := e.ticketFor(t, owner, private)
	if c, w := e.enterVersion(private, 1, current); c != "" || !refused(w) {
		t.Errorf("the current preview's ticket on version 1: %d", w.Code)
	}
	curCookie, _ := e.enter(t, private, current)
	if curCookie == "" {
		t.Fatal("the current preview's ticket gave no cookie")
	}
	asked = nil
	if w := e.getVersion(private, 1, "/", curCookie); !refused(w) || len(asked) != 0 {
		t.Errorf("the current preview's cookie on version 1: %d, asked %v", w.Code, asked)
	}

	// A version the app lacks, a malformed one; another user, anonymous.
	if code, _ := e.versionTicketFor(t, owner, private, 9); code != http.StatusNotFound {
		t.Errorf("ticket for a missing version: %d, want 404", code)
	}
	if code, _ := e.versionTicketFor(t, other, private, 1); code != http.StatusNotFound {
		t.Errorf("other user's version ticket for a private app: %d, want 404", code)
	}
	if code, _ := e.versionTicketFor(t, http.DefaultClient, private, 1); code != http.StatusUnauthorized {
		t.Errorf("anonymous version ticket for a private app: %d, want 401", code)
	}
	for _, who := range []*http.Client{other, http.DefaultClient} {
		code, tk := e.versionTicketFor(t, who, public, 1)
		if code != http.StatusOK {
			t.Fatalf("version ticket for a public app: %d", code)
		}
		c, _ := e.enterVersion(public, 1, tk)
		if w := e.getVersion(public, 1, "/", c); w.Code != http.StatusOK {
			t.Errorf("version 1 of a public app: %d", w.Code)
		}
	}

	// Made private again: the version's cookie is refused on its next
	// check, as the current preview's is.
	if _, err := carol.SetVisibility(ctxT(t), connect.NewRequest(&stichv1.SetVisibilityRequest{SessionId: public, Visibility: stichv1.Visibility_VISIBILITY_PRIVATE})); err != nil {
		t.Fatal(err)
	}
	// (The API mints none now: a ticket minted while it was public.)
	anonTicket, err := e.signer.Mint(preview.Pass{Kind: preview.PassTicket, Session: preview.VersionScope(public, 1), User: anonymousPass, Key: anonymousPass, Expires: e.now.Add(preview.TicketTTL)})
	if err != nil {
		t.Fatal(err)
	}
	if c, w := e.enterVersion(public, 1, anonTicket); c != "" || !refused(w) {
		t.Errorf("an anonymous version ticket of an app made private: %d", w.Code)
	}

	// A build that failed: its errors, never a blank page.
	failed = true
	w = e.getVersion(private, 1, "/", cookie)
	if body := w.Body.String(); w.Code != http.StatusUnprocessableEntity || !strings.Contains(body, "version-build-failed") ||
		!strings.Contains(body, "src/App.tsx:3") || !strings.Contains(body, "did not bundle") {
		t.Errorf("failed version build: %d %q", w.Code, body)
	}
	// An old version takes no error reports.
	req := httptest.NewRequest("POST", e.origins.VersionOrigin(private, 1)+preview.ReportPath+"?token=x", strings.NewReader(`{}`))
	rw := httptest.NewRecorder()
	e.srv.ServeHTTP(rw, req)
	if rw.Code != http.StatusNotFound {
		t.Errorf("report to a version's origin: %d", rw.Code)
	}
}
