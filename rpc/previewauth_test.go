package rpc

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/stichdev/stich/audit"
	"github.com/stichdev/stich/auth"
	"github.com/stichdev/stich/preview"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
	"github.com/stichdev/stich/ratelimit"
)

// previewAuthEnv is a served node (real grains) with a preview handler
// whose assets are a fixed page, so that what is asserted is the gate.
type previewAuthEnv struct {
	ts      *testServer
	h       *previewHandler
	srv     http.Handler
	signer  *preview.Signer
	origins preview.Origins
	now     time.Time
	served  int // requests that reached the assets
}

func newPreviewAuthEnv(t *testing.T) *previewAuthEnv {
	t.Helper()
	e := &previewAuthEnv{origins: preview.Origins{Scheme: "http", Domain: "preview.localhost", Port: "8081"}, signer: RandomPreviewSigner()}
	e.ts = newTestServerRPC(t, ratelimit.Rule{}, 0, nil, slog.New(slog.DiscardHandler), func(c *Config) {
		c.Accounts = AccountsConfig{Mode: "multi", Mailer: &mailbox{}}
		c.Previews, c.PreviewTickets = e.origins, e.signer
	})
	e.h = newPreviewHandler(e.ts.rt, PreviewConfig{Origins: e.origins, Tickets: e.signer, Logger: slog.New(slog.DiscardHandler)})
	e.now = time.Now()
	e.h.now = func() time.Time { return e.now }
	e.h.asset = func(_ context.Context, _ string, _ uint32, path string) (*actorsv1.SandboxAssetReply, error) {
		e.served++
		return &actorsv1.SandboxAssetReply{Built: true, Found: true, Body: []byte("<!doctype html><h1>the app</h1>"), ContentType: "text/html; charset=utf-8", Etag: `"e"`, Path: "/index.html"}, nil
	}
	e.srv = e.h.handler()
	return e
}

// get requests path on app id's origin with cookie (if any).
func (e *previewAuthEnv) get(id, path, cookie string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", "http://"+preview.Label(id)+".preview.localhost:8081"+path, nil)
	if cookie != "" {
		req.Header.Set("Cookie", preview.CookieName+"="+cookie)
	}
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, req)
	return w
}

// enter opens a ticket URL and returns the cookie it set ("" if none)
// and the response.
func (e *previewAuthEnv) enter(t *testing.T, id, ticket string) (string, *httptest.ResponseRecorder) {
	t.Helper()
	w := e.get(id, preview.EnterPath+"?"+url.Values{"ticket": {ticket}, "next": {"/recipes?x=1"}}.Encode(), "")
	for _, c := range w.Result().Cookies() {
		if c.Name == preview.CookieName && c.MaxAge > 0 {
			return c.Value, w
		}
	}
	return "", w
}

// ticketFor asks the API for a ticket as client; it returns the HTTP
// status and the ticket.
func (e *previewAuthEnv) ticketFor(t *testing.T, client *http.Client, id string) (int, string) {
	t.Helper()
	status, u := e.postTicket(t, client, PreviewTicketPath(id))
	if u == nil {
		return status, ""
	}
	if u.Scheme+"://"+u.Host != e.origins.Origin(id) || u.Path != preview.EnterPath || u.Query().Get("next") != "/" {
		t.Fatalf("ticket URL %q is not %s%s?ticket=…&next=/", u, e.origins.Origin(id), preview.EnterPath)
	}
	return status, u.Query().Get("ticket")
}

// postTicket POSTs to a ticket route (path) as client: the HTTP status
// and, when it is 200, the ticket URL of the answer.
func (e *previewAuthEnv) postTicket(t *testing.T, client *http.Client, path string) (int, *url.URL) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctxT(t), "POST", e.ts.url+path, nil)
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return res.StatusCode, nil
	}
	var r previewTicketReply
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(r.URL)
	if err != nil {
		t.Fatalf("ticket URL %q: %v", r.URL, err)
	}
	return res.StatusCode, u
}

func refused(w *httptest.ResponseRecorder) bool {
	return w.Code == http.StatusForbidden && strings.Contains(w.Body.String(), "Open the app from stich") && !strings.Contains(w.Body.String(), "the app</h1>")
}

// A preview is served only with the origin's cookie, got from a ticket the
// API mints for the app's owner (a private app) or any signed-in reader
// (a public one); forged, expired, misdirected and other users' tickets
// are refused, and the grains are asked again after previewRecheck: a
// visibility change or a revoked key ends access.
func TestPreviewAccess(t *testing.T) {
	e := newPreviewAuthEnv(t)
	apps := e.carolsApps(t, false)
	carolToken, owner, other, carol, private, public := apps.token, apps.owner, apps.other, apps.carol, apps.private, apps.public

	// No cookie, a malformed one: the refusal page, never the app.
	for name, cookie := range map[string]string{"no cookie": "", "garbage": "v1.x.y.z"} {
		if w := e.get(private, "/", cookie); !refused(w) {
			t.Errorf("%s: %d %q", name, w.Code, w.Body.String())
		}
	}

	// The owner: a ticket from the API, the cookie, the app.
	code, ticket := e.ticketFor(t, owner, private)
	if code != http.StatusOK {
		t.Fatalf("owner's ticket: %d", code)
	}
	cookie, w := e.enter(t, private, ticket)
	if cookie == "" || w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/recipes?x=1" {
		t.Fatalf("owner's ticket: %d to %q, cookie %q", w.Code, w.Header().Get("Location"), cookie)
	}
	sc := w.Header().Get("Set-Cookie")
	for _, attr := range []string{"HttpOnly", "Path=/", "Secure", "SameSite=None", "Partitioned", "Max-Age=43200"} {
		if !strings.Contains(sc, attr) {
			t.Errorf("cookie lacks %s: %s", attr, sc)
		}
	}
	if strings.Contains(strings.ToLower(sc), "domain=") {
		t.Errorf("cookie reaches other hosts: %s", sc)
	}
	if w := e.get(private, "/", cookie); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "the app") {
		t.Fatalf("owner with the cookie: %d %q", w.Code, w.Body.String())
	}
	// The cookie is this app's only: another app's origin refuses it.
	if w := e.get(public, "/", cookie); !refused(w) {
		t.Errorf("cookie of another app: %d", w.Code)
	}
	// A cookie is not a ticket, nor a ticket a cookie.
	if c, w := e.enter(t, private, cookie); c != "" || !refused(w) {
		t.Errorf("cookie as a ticket: %d", w.Code)
	}
	if w := e.get(private, "/", ticket); !refused(w) {
		t.Errorf("ticket as a cookie: %d", w.Code)
	}

	// Forged and expired tickets; a ticket for another app.
	exp := e.now.Add(time.Minute)
	other2, _ := preview.NewSigner(preview.SignKey{ID: "process", Secret: []byte("another cluster's key, 32 bytes!")})
	forgedOther, _ := other2.Mint(preview.Pass{Kind: preview.PassTicket, Session: private, User: "carol", Key: "0123456789abcdef", Expires: exp})
	expired, _ := e.signer.Mint(preview.Pass{Kind: preview.PassTicket, Session: private, User: "carol", Key: "0123456789abcdef", Expires: e.now.Add(-time.Second)})
	parts := strings.Split(ticket, ".")
	tampered := strings.Join([]string{parts[0], parts[1], parts[2][:len(parts[2])-2] + "AA", parts[3]}, ".")
	for name, tk := range map[string]string{"none": "", "another key": forgedOther, "expired": expired, "tampered": tampered, "another app's": mustTicket(t, e, public)} {
		if c, w := e.enter(t, private, tk); c != "" || !refused(w) {
			t.Errorf("%s ticket: %d, cookie %q", name, w.Code, c)
		}
	}

	// Another user: no ticket from the API for a private app, and a
	// ticket made for them anyway (a bug at the edge) is refused by the
	// grains.
	if code, _ := e.ticketFor(t, other, private); code != http.StatusNotFound {
		t.Errorf("other user's ticket for a private app: %d, want 404", code)
	}
	bobKey, err := auth.ParseAPIKey(bearerOf(other))
	if err != nil {
		t.Fatal(err)
	}
	bobTicket, _ := e.signer.Mint(preview.Pass{Kind: preview.PassTicket, Session: private, User: "bob", Key: bobKey.KeyID, Expires: exp})
	if c, w := e.enter(t, private, bobTicket); c != "" || !refused(w) {
		t.Errorf("other user's ticket for a private app: %d, cookie %q", w.Code, c)
	}

	// A reader of a public app.
	code, ticket = e.ticketFor(t, other, public)
	if code != http.StatusOK {
		t.Fatalf("reader's ticket for a public app: %d", code)
	}
	bobCookie, w := e.enter(t, public, ticket)
	if bobCookie == "" {
		t.Fatalf("reader's ticket: %d %q", w.Code, w.Body.String())
	}
	if w := e.get(public, "/", bobCookie); w.Code != http.StatusOK {
		t.Fatalf("reader with the cookie: %d", w.Code)
	}

	// An anonymous visitor of a public app: a ticket bound to the session
	// alone, its cookie, the app. A private app gives them no ticket (the
	// unauthenticated of every anonymous call to it), and an anonymous
	// ticket made for it anyway is refused by the grains.
	anon := &http.Client{}
	code, ticket = e.ticketFor(t, anon, public)
	if code != http.StatusOK {
		t.Fatalf("anonymous ticket for a public app: %d", code)
	}
	anonCookie, w := e.enter(t, public, ticket)
	if anonCookie == "" {
		t.Fatalf("anonymous ticket: %d %q", w.Code, w.Body.String())
	}
	if w := e.get(public, "/", anonCookie); w.Code != http.StatusOK {
		t.Fatalf("anonymous visitor with the cookie: %d", w.Code)
	}
	if code, _ := e.ticketFor(t, anon, private); code != http.StatusUnauthorized {
		t.Errorf("anonymous ticket for a private app: %d, want 401", code)
	}
	anonTicket, _ := e.signer.Mint(preview.Pass{Kind: preview.PassTicket, Session: private, User: anonymousPass, Key: anonymousPass, Expires: exp})
	if c, w := e.enter(t, private, anonTicket); c != "" || !refused(w) {
		t.Errorf("anonymous ticket for a private app: %d, cookie %q", w.Code, c)
	}

	// The owner makes it private: within previewRecheck the reader's
	// cookie is refused.
	if _, err := carol.SetVisibility(ctxT(t), connect.NewRequest(&stichv1.SetVisibilityRequest{SessionId: public, Visibility: stichv1.Visibility_VISIBILITY_PRIVATE})); err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(previewRecheck + time.Second)
	if w := e.get(public, "/", bobCookie); !refused(w) {
		t.Errorf("reader after the app became private: %d", w.Code)
	}
	if w := e.get(public, "/", anonCookie); !refused(w) {
		t.Errorf("anonymous visitor after the app became private: %d", w.Code)
	}
	if w := e.get(private, "/", cookie); w.Code != http.StatusOK {
		t.Errorf("owner after a recheck: %d", w.Code)
	}

	// The owner's key is revoked (signed out): refused after the recheck.
	carolKey, err := auth.ParseAPIKey(carolToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := actorsCallRevoke(t, e.ts, carolKey); err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(previewRecheck + time.Second)
	if w := e.get(private, "/", cookie); !refused(w) {
		t.Errorf("owner after the key was revoked: %d", w.Code)
	}

	// Past its lifetime the cookie is refused whatever the grains say.
	e.h.access = func(context.Context, preview.Pass) error { return nil }
	e.now = e.now.Add(preview.CookieTTL)
	if w := e.get(private, "/", cookie); !refused(w) {
		t.Errorf("expired cookie: %d", w.Code)
	}
	if e.served != 4 {
		t.Errorf("the assets were asked %d times, want 4 (the admitted requests)", e.served)
	}

	// The audit log: bob's ticket for carol's app (not carol's own, nor
	// the anonymous visitor's), and each pass the grains refused, once
	// (bob's and the visitor's tickets for the private app, their cookies
	// after it became private, carol's after her key was revoked); none
	// for the refusals without a valid pass.
	flushAudit(t, e.ts)
	events := clusterEvents(t, e.ts, &stichv1.ListAuditEventsRequest{Kinds: []string{audit.PreviewTicket, audit.PreviewRefused}})
	var tickets, refusals []string
	for _, ev := range events {
		switch ev.GetKind() {
		case audit.PreviewTicket:
			tickets = append(tickets, ev.GetUserId())
		case audit.PreviewRefused:
			refusals = append(refusals, ev.GetUserId())
		}
	}
	slices.Sort(tickets)
	slices.Sort(refusals)
	if !slices.Equal(tickets, []string{"bob"}) {
		t.Errorf("preview tickets audited for %q, want [bob]", tickets)
	}
	if !slices.Equal(refusals, []string{"", "", "bob", "bob", "carol"}) {
		t.Errorf("preview refusals audited for %q, want [\"\" \"\" bob bob carol]", refusals)
	}
}

// mustTicket mints a valid owner-like ticket for id (its checks then
// fail on the session it is used for).
func mustTicket(t *testing.T, e *previewAuthEnv, id string) string {
	t.Helper()
	tk, err := e.signer.Mint(preview.Pass{Kind: preview.PassTicket, Session: id, User: "carol", Key: "0123456789abcdef", Expires: e.now.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// bearerOf returns the API key a clientAs client sends.
func bearerOf(c *http.Client) string { return c.Transport.(bearerTransport).token }

// A ticket minted by one node is accepted by another holding the same
// node keys (each derives the pass keys itself), also after a rotation
// that keeps the old key; a node with other keys refuses it.
func TestPreviewTicketAcrossNodes(t *testing.T) {
	k1 := testNodeKeys(t)
	signerOf := func(keys ...preview.SignKey) *preview.Signer {
		s, err := preview.NewSigner(keys...)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	derived := func(purpose string) []preview.SignKey {
		var out []preview.SignKey
		for _, k := range k1.Derive(purpose) {
			out = append(out, preview.SignKey{ID: k.ID, Secret: k.Raw})
		}
		return out
	}
	a, b := signerOf(derived("preview-ticket")...), signerOf(derived("preview-ticket")...)
	now := time.Now()
	p := preview.Pass{Kind: preview.PassTicket, Session: "s-abcdefghijklmnopqrst", User: "carol", Key: "0123456789abcdef", Expires: now.Add(time.Minute)}
	tk, err := a.Mint(p)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.Verify(tk, preview.PassTicket, p.Session, now); err != nil || got.User != "carol" || got.Key != p.Key {
		t.Fatalf("node B: %+v, %v", got, err)
	}
	rotated := signerOf(append([]preview.SignKey{{ID: "new", Secret: []byte("a newer node key, 32 bytes long!")}}, derived("preview-ticket")...)...)
	if _, err := rotated.Verify(tk, preview.PassTicket, p.Session, now); err != nil {
		t.Errorf("after a rotation: %v", err)
	}
	if _, err := signerOf(derived("another purpose")...).Verify(tk, preview.PassTicket, p.Session, now); err == nil {
		t.Error("a key derived for another purpose accepts the ticket")
	}
}

// carolsApps is what the preview access tests start from: carol (the
// owner: her API key, an HTTP client and a session client with it), bob
// (another user's HTTP client), and a private and a public app of carol's,
// each idle after its generation.
type carolsApps struct {
	token           string
	owner, other    *http.Client
	carol           stichv1connect.SessionServiceClient
	private, public string
}

// carolsApps signs in carol and bob and makes carol's two apps; with edit,
// each app has a second version (a saved file).
func (e *previewAuthEnv) carolsApps(t *testing.T, edit bool) carolsApps {
	t.Helper()
	carolToken, err := e.ts.srv.EnsureUser(context.Background(), "carol", auth.RoleUser, "test user")
	if err != nil {
		t.Fatal(err)
	}
	owner := &http.Client{Transport: bearerTransport{token: carolToken}}
	carol := stichv1connect.NewSessionServiceClient(owner, e.ts.url)
	newApp := func(vis stichv1.Visibility) string {
		t.Helper()
		id := createIdle(t, carol, "a todo list")
		if edit {
			if _, err := carol.SaveFile(ctxT(t), connect.NewRequest(&stichv1.SaveFileRequest{SessionId: id, Path: "src/extra.ts", Content: "export {};\n"})); err != nil {
				t.Fatal(err)
			}
		}
		if vis != stichv1.Visibility_VISIBILITY_PRIVATE {
			if _, err := carol.SetVisibility(ctxT(t), connect.NewRequest(&stichv1.SetVisibilityRequest{SessionId: id, Visibility: vis})); err != nil {
				t.Fatal(err)
			}
		}
		return id
	}
	return carolsApps{token: carolToken, owner: owner, other: clientAs(t, e.ts.srv, "bob", auth.RoleUser), carol: carol,
		private: newApp(stichv1.Visibility_VISIBILITY_PRIVATE), public: newApp(stichv1.Visibility_VISIBILITY_PUBLIC)}
}
