package rpc

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/audit"
	"github.com/stichdev/stich/auth"
	"github.com/stichdev/stich/auth/oauth"
	"github.com/stichdev/stich/auth/oauth/oauthtest"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	"github.com/stichdev/stich/ratelimit"
)

// oauthProviders are GitHub, Google and a generic OIDC issuer, all at fake.
func oauthProviders(t testing.TB, fake *oauthtest.Server) []oauth.Provider {
	t.Helper()
	gh, err := oauth.NewGitHub(oauth.GitHubConfig{ClientID: oauthtest.GitHubClientID, ClientSecret: oauthtest.GitHubClientSecret,
		BaseURL: fake.GitHubURL(), APIURL: fake.GitHubAPIURL()})
	if err != nil {
		t.Fatal(err)
	}
	google, err := oauth.NewOIDC(oauth.OIDCConfig{Name: "google", Label: "Google", Issuer: fake.Issuer("google"),
		ClientID: oauthtest.GoogleClientID, ClientSecret: oauthtest.GoogleClientSecret})
	if err != nil {
		t.Fatal(err)
	}
	kc, err := oauth.NewOIDC(oauth.OIDCConfig{Name: "oidc", Label: "Keycloak", Issuer: fake.Issuer("oidc"),
		ClientID: oauthtest.OIDCClientID, ClientSecret: oauthtest.OIDCClientSecret})
	if err != nil {
		t.Fatal(err)
	}
	return []oauth.Provider{gh, google, kc}
}

// newOAuthServer is a served node with the fake's providers on.
func newOAuthServer(t *testing.T, fake *oauthtest.Server, cfg OAuthConfig) *testServer {
	t.Helper()
	cfg.Providers = oauthProviders(t, fake)
	return newTestServerRPC(t, ratelimit.Rule{}, 0, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), func(c *Config) { c.OAuth = cfg })
}

// oauthBrowser is an HTTP client with a cookie jar that does not follow
// redirects, so each step of a sign-in can be checked (or tampered with).
type oauthBrowser struct {
	t   *testing.T
	c   *http.Client
	jar *cookiejar.Jar
}

func newOAuthBrowser(t *testing.T) *oauthBrowser {
	jar, _ := cookiejar.New(nil)
	return &oauthBrowser{t: t, jar: jar, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// get fetches u and returns the status, the Location and the body.
func (b *oauthBrowser) get(u string) (int, string, string) {
	b.t.Helper()
	req, _ := http.NewRequestWithContext(ctxT(b.t), http.MethodGet, u, nil)
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Location"), string(body)
}

// authorize runs /start and the provider's authorize step and returns the
// callback URL the provider sent the browser to (not yet visited).
func (b *oauthBrowser) authorize(ts *testServer, provider string) string {
	b.t.Helper()
	st, loc, body := b.get(ts.url + "/auth/oauth/" + provider + "/start")
	if st != http.StatusFound {
		b.t.Fatalf("start: %d %s", st, body)
	}
	st, cb, body := b.get(loc)
	if st != http.StatusFound || !strings.HasPrefix(cb, ts.url+"/auth/oauth/"+provider+"/callback?") {
		b.t.Fatalf("authorize: %d %q %s", st, cb, body)
	}
	return cb
}

// session is the browser's session cookie for ts ("" if none).
func (b *oauthBrowser) session(ts *testServer) string {
	u, _ := url.Parse(ts.url)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == sessionCookie {
			return c.Value
		}
	}
	return ""
}

// signIn runs a whole sign-in and returns the signed-in user.
func (b *oauthBrowser) signIn(ts *testServer, provider string) *auth.Principal {
	b.t.Helper()
	st, loc, body := b.get(b.authorize(ts, provider))
	if st != http.StatusSeeOther || loc != "/" {
		b.t.Fatalf("callback: %d %q %s", st, loc, body)
	}
	p, err := ts.srv.auth.verify(ctxT(b.t), b.session(ts), "browser")
	if err != nil {
		b.t.Fatalf("the session cookie is not live: %v", err)
	}
	return p
}

// refused visits a callback URL and checks it is refused with status and
// a message containing msg, and that the browser got no session.
func (b *oauthBrowser) refused(ts *testServer, callback string, status int, msg string) {
	b.t.Helper()
	st, _, body := b.get(callback)
	if st != status || !strings.Contains(body, msg) {
		b.t.Fatalf("callback: %d %q, want %d with %q", st, body, status, msg)
	}
	if b.session(ts) != "" {
		b.t.Fatal("a refused sign-in left a session cookie")
	}
}

func userOf(t *testing.T, ts *testServer, id string) *actorsv1.UserRecord {
	t.Helper()
	r, err := actors.Call[*actorsv1.UserReply](ctxT(t), ts.rt.Node, actors.KindUser, id, &actorsv1.GetUser{})
	if err != nil {
		t.Fatal(err)
	}
	return r.GetUser()
}

// noAccount checks that no account holds email.
func noAccount(t *testing.T, ts *testServer, email string) {
	t.Helper()
	_, err := actors.Call[*actorsv1.DirectoryReply](ctxT(t), ts.rt.Node, actors.KindDirectory, actors.DirectoryID(email), &actorsv1.LookupEmail{})
	var ae *actors.Error
	if !errors.As(err, &ae) || ae.Code != actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND {
		t.Fatalf("%s: %v, want no account", email, err)
	}
}

// TestOAuthSignUpAndSignIn (--auth multi): a GitHub sign-in makes a
// verified user with a browser session; a second one finds the same user;
// Google and an OIDC issuer vouching for the same e-mail reach it too.
func TestOAuthSignUpAndSignIn(t *testing.T) {
	fake := oauthtest.New(t)
	ts := newOAuthServer(t, fake, OAuthConfig{SignUp: true})
	ann := oauthtest.User{ID: "4242", Login: "ann", Name: "Ann Lee", Email: "Ann@Example.com", EmailVerified: true}
	fake.SetUser("github", ann)

	p := newOAuthBrowser(t).signIn(ts, "github")
	if p.UserID == OwnerID || !auth.ValidUserID(p.UserID) || p.Role != auth.RoleUser {
		t.Fatalf("principal %+v", p)
	}
	u := userOf(t, ts, p.UserID)
	if u.GetEmail() != "Ann@Example.com" || !u.GetEmailVerified() || u.GetDisplayName() != "Ann Lee" || u.GetPasswordHash() != "" ||
		len(u.GetAuthMethods()) != 1 || u.GetAuthMethods()[0].GetProvider() != "github" || u.GetAuthMethods()[0].GetSubject() != "4242" {
		t.Fatalf("user %v", u)
	}
	// Another browser, the same account.
	if p2 := newOAuthBrowser(t).signIn(ts, "github"); p2.UserID != p.UserID {
		t.Fatalf("second sign-in made %s, want %s", p2.UserID, p.UserID)
	}
	if n := len(userOf(t, ts, p.UserID).GetAuthMethods()); n != 1 {
		t.Fatalf("%d linked methods after signing in twice", n)
	}
	// The same mailbox through other providers links to the same user.
	for _, prov := range []string{"google", "oidc"} {
		fake.SetUser(prov, oauthtest.User{ID: "sub-" + prov, Name: "Ann", Email: "ann@example.com", EmailVerified: true})
		if p3 := newOAuthBrowser(t).signIn(ts, prov); p3.UserID != p.UserID {
			t.Fatalf("%s made %s, want %s", prov, p3.UserID, p.UserID)
		}
	}
	if n := len(userOf(t, ts, p.UserID).GetAuthMethods()); n != 3 {
		t.Fatalf("%d linked methods, want 3", n)
	}
	// Each sign-in is in the account's audit log with its provider.
	flushAudit(t, ts)
	r, err := actors.ListAudit(ctxT(t), ts.rt.Node, p.UserID, &actorsv1.ListAudit{Kinds: []string{audit.SignIn}})
	if err != nil {
		t.Fatal(err)
	}
	var methods []string
	for _, e := range r.GetEvents() {
		methods = append(methods, e.GetMethod())
	}
	if want := []string{"oauth:oidc", "oauth:google", "oauth:github", "oauth:github"}; !slices.Equal(methods, want) {
		t.Fatalf("audited sign-ins %v, want %v", methods, want)
	}
	// The sign-in page learns which providers are on.
	st, _, body := newOAuthBrowser(t).get(ts.url + "/auth/providers")
	if st != 200 || body != `{"providers":[{"name":"github","label":"GitHub","start":"/auth/oauth/github/start"},`+
		`{"name":"google","label":"Google","start":"/auth/oauth/google/start"},{"name":"oidc","label":"Keycloak","start":"/auth/oauth/oidc/start"}],"signUp":true}`+"\n" {
		t.Fatalf("providers: %d %s", st, body)
	}
}

// TestOAuthRefusals: a tampered, replayed or foreign state, an injected
// code (wrong PKCE verifier), an unverified e-mail and a wrong nonce are
// refused with a page saying why, and make no account and no session.
func TestOAuthRefusals(t *testing.T) {
	fake := oauthtest.New(t)
	ts := newOAuthServer(t, fake, OAuthConfig{SignUp: true})
	const email = "bob@example.com"
	bob := oauthtest.User{ID: "77", Login: "bob", Email: email, EmailVerified: true}
	fake.SetUser("github", bob)
	fake.SetUser("oidc", bob)

	t.Run("state mismatch", func(t *testing.T) {
		b := newOAuthBrowser(t)
		cb := b.authorize(ts, "github")
		u, _ := url.Parse(cb)
		q := u.Query()
		q.Set("state", q.Get("state")+"x")
		u.RawQuery = q.Encode()
		b.refused(ts, u.String(), http.StatusUnauthorized, "is not valid")
		noAccount(t, ts, email)
	})
	t.Run("callback in another browser", func(t *testing.T) {
		cb := newOAuthBrowser(t).authorize(ts, "github")
		newOAuthBrowser(t).refused(ts, cb, http.StatusUnauthorized, "started in another browser")
		noAccount(t, ts, email)
	})
	t.Run("wrong PKCE verifier", func(t *testing.T) {
		// An attacker injects the code of one flow into another browser's
		// flow: the code is redeemed with the other flow's verifier.
		stolen, _ := url.Parse(newOAuthBrowser(t).authorize(ts, "github"))
		b := newOAuthBrowser(t)
		own, _ := url.Parse(b.authorize(ts, "github"))
		q := own.Query()
		q.Set("code", stolen.Query().Get("code"))
		own.RawQuery = q.Encode()
		before := fake.Exchanges()
		b.refused(ts, own.String(), http.StatusUnauthorized, "did not confirm the sign-in")
		if fake.Exchanges() != before {
			t.Fatal("the fake gave a token for a wrong verifier")
		}
		noAccount(t, ts, email)
	})
	t.Run("unverified e-mail", func(t *testing.T) {
		fake.SetUser("github", oauthtest.User{ID: "78", Login: "eve", Email: email})
		defer fake.SetUser("github", bob)
		b := newOAuthBrowser(t)
		b.refused(ts, b.authorize(ts, "github"), http.StatusForbidden, "no verified e-mail")
		noAccount(t, ts, email)
	})
	t.Run("nonce mismatch", func(t *testing.T) {
		fake.SetWrongNonce(true)
		defer fake.SetWrongNonce(false)
		b := newOAuthBrowser(t)
		b.refused(ts, b.authorize(ts, "oidc"), http.StatusUnauthorized, "does not belong to this sign-in")
		noAccount(t, ts, email)
	})
	t.Run("replayed state", func(t *testing.T) {
		b := newOAuthBrowser(t)
		cb := b.authorize(ts, "github")
		if st, _, body := b.get(cb); st != http.StatusSeeOther {
			t.Fatalf("first callback: %d %s", st, body)
		}
		// The same browser (its cookie restored) and the same URL again.
		other := newOAuthBrowser(t)
		u, _ := url.Parse(ts.url + oauthPath)
		other.jar.SetCookies(u, []*http.Cookie{{Name: oauthCookie, Value: mustQuery(t, cb, "state"), Path: oauthPath}})
		other.refused(ts, cb, http.StatusUnauthorized, "used already")
	})
	t.Run("unknown provider", func(t *testing.T) {
		if st, _, _ := newOAuthBrowser(t).get(ts.url + "/auth/oauth/nope/start"); st != http.StatusNotFound {
			t.Fatalf("unknown provider: %d", st)
		}
	})
}

func mustQuery(t *testing.T, u, key string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Query().Get(key)
}

// TestOAuthPreAccountHijack: an account with a password and an unverified
// e-mail is not handed to whoever proves that e-mail at a provider: the
// sign-in is refused and nothing is linked. Once verified, it links.
func TestOAuthPreAccountHijack(t *testing.T) {
	fake := oauthtest.New(t)
	ts := newOAuthServer(t, fake, OAuthConfig{SignUp: true})
	const email = "vic@example.com"
	hash, err := auth.HashPassword("attacker's password", auth.PasswordParams{Time: 1, Memory: 64, Threads: 1, KeyLen: 32})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := actors.EnsureUser(ctxT(t), ts.rt.Node, "squatter", &actorsv1.UserRecord{Email: email, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	if _, err := actors.Call[*actorsv1.DirectoryReply](ctxT(t), ts.rt.Node, actors.KindDirectory, actors.DirectoryID(email), &actorsv1.ClaimEmail{UserId: "squatter"}); err != nil {
		t.Fatal(err)
	}
	fake.SetUser("github", oauthtest.User{ID: "99", Login: "vic", Email: email, EmailVerified: true})
	b := newOAuthBrowser(t)
	b.refused(ts, b.authorize(ts, "github"), http.StatusBadRequest, "has not verified the e-mail")
	if u := userOf(t, ts, "squatter"); len(u.GetAuthMethods()) != 0 || u.GetEmailVerified() {
		t.Fatalf("the account changed: %v", u)
	}
}

// TestOAuthSingleOwner (--auth single): only the owner's e-mail signs in,
// as the owner; any other is refused and makes nothing.
func TestOAuthSingleOwner(t *testing.T) {
	fake := oauthtest.New(t)
	ts := newOAuthServer(t, fake, OAuthConfig{OwnerEmail: "Owner@Example.com"})
	fake.SetUser("github", oauthtest.User{ID: "1", Login: "stranger", Email: "stranger@example.com", EmailVerified: true})
	b := newOAuthBrowser(t)
	b.refused(ts, b.authorize(ts, "github"), http.StatusForbidden, "single owner")
	noAccount(t, ts, "stranger@example.com")

	fake.SetUser("github", oauthtest.User{ID: "2", Login: "owner", Email: "owner@example.com", EmailVerified: true})
	p := newOAuthBrowser(t).signIn(ts, "github")
	if p.UserID != OwnerID || !p.IsAdmin() {
		t.Fatalf("principal %+v, want the owner", p)
	}
	if u := userOf(t, ts, OwnerID); u.GetEmail() != "owner@example.com" || !u.GetEmailVerified() || len(u.GetAuthMethods()) != 1 {
		t.Fatalf("owner %v", u)
	}
	st, _, body := newOAuthBrowser(t).get(ts.url + "/auth/providers")
	if st != 200 || !strings.Contains(body, `"signUp":false`) {
		t.Fatalf("providers: %d %s", st, body)
	}
}

// The return path after sign-in is a same-origin path only: anything
// that could leave the origin returns to "/".
func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/s/abc":                              "/s/abc",
		"/s/abc?tab=preview#x":                "/s/abc?tab=preview#x",
		"/":                                   "/",
		"":                                    "/",
		"//evil.com":                          "/",
		"//evil.com/s/abc":                    "/",
		"https://evil":                        "/",
		"https://evil.com/s/x":                "/",
		"http:/evil":                          "/",
		"javascript:alert(1)":                 "/",
		`/\evil`:                              "/",
		`/\/evil.com`:                         "/",
		"/\tevil":                             "/",
		"/\r\nLocation: x":                    "/",
		"evil.com":                            "/",
		"/" + strings.Repeat("a", maxNextLen): "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

// "Sign in to fork": an OAuth sign-in started with ?next=PATH returns
// the browser to PATH on this origin; a next that leaves the origin
// returns to "/".
func TestOAuthReturnsToNext(t *testing.T) {
	fake := oauthtest.New(t)
	ts := newOAuthServer(t, fake, OAuthConfig{SignUp: true})
	fake.SetUser("github", oauthtest.User{ID: "77", Login: "rae", Name: "Rae", Email: "rae@example.com", EmailVerified: true})
	for next, want := range map[string]string{
		"/s/abc123":        "/s/abc123",
		"":                 "/",
		"//evil.com":       "/",
		"https://evil":     "/",
		`/\evil`:           "/",
		"https://evil.com": "/",
	} {
		b := newOAuthBrowser(t)
		st, loc, body := b.get(ts.url + "/auth/oauth/github/start?next=" + url.QueryEscape(next))
		if st != http.StatusFound {
			t.Fatalf("start: %d %s", st, body)
		}
		if strings.Contains(loc, "evil") || strings.Contains(loc, "abc123") {
			t.Fatalf("the return path was sent to the provider: %s", loc)
		}
		st, cb, body := b.get(loc)
		if st != http.StatusFound {
			t.Fatalf("authorize: %d %s", st, body)
		}
		st, got, body := b.get(cb)
		if st != http.StatusSeeOther || got != want {
			t.Fatalf("next %q: callback %d to %q, want %q (%s)", next, st, got, want, body)
		}
		if b.session(ts) == "" {
			t.Fatalf("next %q: not signed in", next)
		}
	}
}
