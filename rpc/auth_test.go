package rpc

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/auth"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
	"github.com/stichdev/stich/ratelimit"
)

// csrfInjector sends the CSRF token a page would read from its cookie.
type csrfInjector struct {
	token string // "" sends none
}

func (c csrfInjector) RoundTrip(r *http.Request) (*http.Response, error) {
	if c.token != "" {
		r = r.Clone(r.Context())
		r.Header.Set(csrfHeader, c.token)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestSignInLinkAndBrowserSession: the printed link works once and starts
// a cookie session; cookie calls need the CSRF token (header, or query on a
// download); signing out revokes the session everywhere.
func TestSignInLinkAndBrowserSession(t *testing.T) {
	ts := newTestServer(t, ratelimit.Rule{}, 0)
	link, err := ts.srv.NewSignInLink()
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := browser.Get(ts.url + link)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Fatalf("sign-in: %d %v", res.StatusCode, res.Header)
	}
	var session, csrf *http.Cookie
	for _, c := range res.Cookies() {
		switch c.Name {
		case sessionCookie:
			session = c
		case csrfCookie:
			csrf = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Secure ||
		csrf == nil || csrf.HttpOnly || csrf.Value != csrfToken(session.Value) {
		t.Fatalf("cookies: %+v %+v", session, csrf)
	}
	// Once only.
	res, err = http.Get(ts.url + link)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("second use of the link: %d", res.StatusCode)
	}

	withCSRF := &http.Client{Jar: jar, Transport: csrfInjector{token: csrf.Value}}
	noCSRF := &http.Client{Jar: jar, Transport: csrfInjector{}}
	wrongCSRF := &http.Client{Jar: jar, Transport: csrfInjector{token: strings.Repeat("0", 32)}}
	list := func(c *http.Client) error {
		_, err := stichv1connect.NewSessionServiceClient(c, ts.url).ListSessions(ctxT(t), connect.NewRequest(&stichv1.ListSessionsRequest{}))
		return err
	}
	if err := list(withCSRF); err != nil {
		t.Fatalf("cookie + CSRF: %v", err)
	}
	wantCode(t, list(noCSRF), connect.CodePermissionDenied, "CSRF")
	wantCode(t, list(wrongCSRF), connect.CodePermissionDenied, "CSRF")

	// A download (a GET that acts) needs the token in its query.
	created, err := stichv1connect.NewSessionServiceClient(withCSRF, ts.url).CreateSession(ctxT(t), connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "a todo list"}))
	if err != nil {
		t.Fatal(err)
	}
	id := created.Msg.GetSessionId()
	if err := ts.rt.Watch(ctxT(t), actors.NodeCaller(), id, 0, true, func(*stichv1.SessionEvent) error { return nil }); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]int{"": 403, "?csrf=" + csrf.Value: 200, "?csrf=bad": 403} {
		res, err := noCSRF.Get(ts.url + DownloadPath(id) + q)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("download%s: %d, want %d", q, res.StatusCode, want)
		}
	}

	// Sign out: the session is revoked (here at once; on other nodes within
	// the key cache's TTL), and the cookies cleared.
	req, _ := http.NewRequest(http.MethodPost, ts.url+"/auth/signout", nil)
	res, err = withCSRF.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("sign out: %d", res.StatusCode)
	}
	reuse := &http.Client{Transport: bearerTransport{token: session.Value}}
	wantCode(t, list(reuse), connect.CodeUnauthenticated, "not valid")
}

// TestBadCredentialsRefused: a malformed Authorization header, a key of an
// unknown user, a revoked key: unauthenticated on a route anyone signed in
// may call; the user's other keys keep working.
func TestBadCredentialsRefused(t *testing.T) {
	ts := newTestServer(t, ratelimit.Rule{}, 0)
	call := func(c *http.Client) error {
		_, err := stichv1connect.NewAdminServiceClient(c, ts.url).GetServerInfo(ctxT(t), connect.NewRequest(&stichv1.GetServerInfoRequest{}))
		return err
	}
	keep := clientAs(t, ts.srv, "dana", auth.RoleUser)
	token, err := ts.srv.EnsureUser(ctxT(t), "dana", auth.RoleUser, "to revoke")
	if err != nil {
		t.Fatal(err)
	}
	revoked := &http.Client{Transport: bearerTransport{token: token}}
	if err := call(revoked); err != nil {
		t.Fatal(err)
	}
	k, _ := auth.ParseAPIKey(token)
	if _, err := actorsCallRevoke(t, ts, k); err != nil {
		t.Fatal(err)
	}
	ts.srv.auth.forgetUser(k.UserID)
	wantCode(t, call(revoked), connect.CodeUnauthenticated, "not valid")
	if err := call(keep); err != nil {
		t.Fatalf("another key of the same user: %v", err)
	}
	ghost, _, _ := auth.NewAPIKey("ghost")
	for name, c := range map[string]*http.Client{
		"unknown user": {Transport: bearerTransport{token: ghost}},
		"not a key":    {Transport: bearerTransport{token: "hunter2"}},
	} {
		if err := call(c); connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Errorf("%s: %v", name, err)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, ts.url+"/stich.v1.AdminService/GetServerInfo", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Basic dXNlcjpwYXNz")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("Basic auth: %d", res.StatusCode)
	}
}

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSecurityEventsAudited: refused credentials, a missing CSRF token, a
// used sign-in link and a non-admin's admin call each leave an audit line
// (with the client address, never the secret), and change nothing.
func TestSecurityEventsAudited(t *testing.T) {
	var logs lockedBuffer
	ts := newTestServerLogged(t, ratelimit.Rule{}, 0, nil, slog.New(slog.NewJSONHandler(&logs, nil)))
	forged := "stich_local_0123456789abcdef_" + strings.Repeat("A", 43)
	c := stichv1connect.NewSessionServiceClient(&http.Client{Transport: bearerTransport{token: forged}}, ts.url)
	_, err := c.CreateSession(ctxT(t), connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "a todo list"}))
	wantCode(t, err, connect.CodeUnauthenticated, "")
	req, _ := http.NewRequest(http.MethodPost, ts.url+"/stich.v1.SessionService/ListSessions", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: forged})
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("cookie without CSRF: %v %v", res, err)
	}
	if res, err := http.Get(ts.url + "/auth/signin?token=used"); err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad link: %v %v", res, err)
	}
	_, err = stichv1connect.NewAdminServiceClient(clientAs(t, ts.srv, "eve", auth.RoleUser), ts.url).Leave(ctxT(t), connect.NewRequest(&stichv1.LeaveRequest{}))
	wantCode(t, err, connect.CodePermissionDenied, "admin")
	out := logs.String()
	for _, want := range []string{`"audit":"credentials_refused","client":"127.0.0.1"`, `"audit":"csrf_refused"`, `"audit":"sign_in_refused"`,
		`"audit":"admin_denied","client":"127.0.0.1","user":"eve"`, `"audit":"key_issued"`} {
		if !strings.Contains(out, want) {
			t.Errorf("no %s in the log", want)
		}
	}
	if strings.Contains(out, forged) || strings.Contains(out, strings.Repeat("A", 43)) {
		t.Error("a presented secret was logged")
	}
	// Nothing was created by the refused calls.
	list, err := ts.client.ListSessions(ctxT(t), connect.NewRequest(&stichv1.ListSessionsRequest{}))
	if err != nil || len(list.Msg.GetApps()) != 0 {
		t.Fatalf("sessions after refused calls: %v %v", list, err)
	}
}

// FuzzCredentials: any Authorization header, session cookie and CSRF
// value is refused or anonymous, never a principal, never a panic (a live
// key has 256 random bits: the fuzzer cannot make one).
func FuzzCredentials(f *testing.F) {
	ts := newTestServer(f, ratelimit.Rule{}, 0)
	live, _ := ts.srv.EnsureUser(f.Context(), "fuzz", auth.RoleUser, "fuzz")
	k, _ := auth.ParseAPIKey(live)
	f.Add("Bearer "+live[:len(live)-1]+"B", "", "")
	f.Add("", live[:len(live)-2], csrfToken(live[:len(live)-2]))
	f.Add("Bearer stich_fuzz_"+k.KeyID+"_"+strings.Repeat("-", 43), "", "")
	f.Add("bearer", "x", "y")
	f.Add("", "stich_fuzz_"+k.KeyID+"_"+strings.Repeat("_", 43), "")
	f.Fuzz(func(t *testing.T, authz, cookie, csrf string) {
		if authz == "Bearer "+live || cookie == live {
			return
		}
		r, err := http.NewRequest(http.MethodPost, "http://x/stich.v1.SessionService/ListSessions", nil)
		if err != nil {
			return
		}
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		if cookie != "" {
			r.Header.Set("Cookie", sessionCookie+"="+cookie)
		}
		if csrf != "" {
			r.Header.Set(csrfHeader, csrf)
		}
		if p, _ := ts.srv.auth.resolve(r); p != nil {
			t.Fatalf("%q %q %q signed in as %+v", authz, cookie, csrf, p)
		}
	})
}
