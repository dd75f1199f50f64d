package oauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stichdev/stich/auth/oauth"
	"github.com/stichdev/stich/auth/oauth/oauthtest"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

const redirect = "http://127.0.0.1:1/auth/oauth/x/callback"

// noFollow does not follow redirects: the test reads the provider's
// redirect back to the app.
var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// approve opens the provider's authorization URL as the browser would and
// returns the code and state it sends back to redirect.
func approve(t *testing.T, authURL string) (code, state string) {
	t.Helper()
	res, err := noFollow.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %s", res.Status)
	}
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), redirect+"?") {
		t.Fatalf("authorize redirected to %q", res.Header.Get("Location"))
	}
	return loc.Query().Get("code"), loc.Query().Get("state")
}

func providers(t *testing.T, fake *oauthtest.Server) map[string]oauth.Provider {
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
	generic, err := oauth.NewOIDC(oauth.OIDCConfig{Name: "oidc", Issuer: fake.Issuer("oidc"),
		ClientID: oauthtest.OIDCClientID, ClientSecret: oauthtest.OIDCClientSecret})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]oauth.Provider{"github": gh, "google": google, "oidc": generic}
}

// TestProvidersSignIn: each provider's round trip against the fake gives
// the verified identity; an unverified e-mail, a wrong nonce, a wrong
// verifier and a replayed code are refused.
func TestProvidersSignIn(t *testing.T) {
	fake := oauthtest.New(t)
	flows := oauth.NewFlows(nil)
	for name, p := range providers(t, fake) {
		t.Run(name, func(t *testing.T) {
			ann := oauthtest.User{ID: "4242", Login: "ann", Name: "Ann", Email: "Ann@Example.com", EmailVerified: true}
			fake.SetUser(name, ann)
			start := func() (oauth.Flow, string, string) {
				f, err := flows.Begin(name)
				if err != nil {
					t.Fatal(err)
				}
				u, err := p.AuthURL(ctxT(t), f, redirect)
				if err != nil {
					t.Fatal(err)
				}
				if q, _ := url.Parse(u); q.Query().Get("code_challenge_method") != "S256" || q.Query().Get("state") != f.State {
					t.Fatalf("auth URL without S256 or state: %s", u)
				}
				code, state := approve(t, u)
				if state != f.State {
					t.Fatalf("state came back as %q", state)
				}
				return f, code, state
			}
			f, code, _ := start()
			id, err := p.Exchange(ctxT(t), f, code, redirect)
			if err != nil {
				t.Fatal(err)
			}
			if id != (oauth.Identity{Provider: name, Subject: "4242", Email: "Ann@Example.com", Name: "Ann"}) {
				t.Fatalf("identity %+v", id)
			}
			// The code was used: a replay is refused.
			if _, err := p.Exchange(ctxT(t), f, code, redirect); err == nil {
				t.Fatal("a code was redeemed twice")
			}
			// Another flow's verifier (an injected code) is refused.
			f1, code1, _ := start()
			f2, _ := flows.Begin(name)
			f2.Nonce = f1.Nonce
			if _, err := p.Exchange(ctxT(t), f2, code1, redirect); err == nil || !strings.Contains(err.Error(), "code_verifier") {
				t.Fatalf("wrong verifier: %v", err)
			}
			// A wrong code.
			f3, _, _ := start()
			if _, err := p.Exchange(ctxT(t), f3, "forged", redirect); err == nil || !strings.Contains(err.Error(), "bad_verification_code") {
				t.Fatalf("wrong code: %v", err)
			}
			// An unverified e-mail gives no identity.
			fake.SetUser(name, oauthtest.User{ID: "7", Login: "eve", Email: "ann@example.com"})
			f4, code4, _ := start()
			if _, err := p.Exchange(ctxT(t), f4, code4, redirect); !errors.Is(err, oauth.ErrUnverifiedEmail) {
				t.Fatalf("unverified e-mail: %v", err)
			}
			if name != "github" {
				fake.SetUser(name, ann)
				fake.SetWrongNonce(true)
				f5, code5, _ := start()
				_, err := p.Exchange(ctxT(t), f5, code5, redirect)
				fake.SetWrongNonce(false)
				if !errors.Is(err, oauth.ErrNonce) {
					t.Fatalf("wrong nonce: %v", err)
				}
			}
		})
	}
}

// TestFakeRefusesPlainPKCE: the fake's authorize endpoint insists on S256.
func TestFakeRefusesPlainPKCE(t *testing.T) {
	fake := oauthtest.New(t)
	fake.SetUser("github", oauthtest.User{ID: "1", Login: "a", Email: "a@example.com", EmailVerified: true})
	for _, q := range []string{
		"client_id=" + oauthtest.GitHubClientID + "&redirect_uri=" + url.QueryEscape(redirect) + "&state=s&code_challenge=" + strings.Repeat("a", 43) + "&code_challenge_method=plain",
		"client_id=" + oauthtest.GitHubClientID + "&redirect_uri=" + url.QueryEscape(redirect) + "&state=s",
		"client_id=other&redirect_uri=" + url.QueryEscape(redirect) + "&state=s&code_challenge=" + strings.Repeat("a", 43) + "&code_challenge_method=S256",
	} {
		res, err := noFollow.Get(fake.URL + "/login/oauth/authorize?" + q)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %s, want 400", q, res.Status)
		}
	}
}

// TestFlows: a state is taken once, only for its provider, only before it
// expires; the store is bounded.
func TestFlows(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	fs := oauth.NewFlows(func() time.Time { return now })
	f, err := fs.Begin("github")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.State) != 43 || len(f.Verifier) != 43 || len(f.Nonce) != 43 || f.State == f.Verifier {
		t.Fatalf("flow secrets: %+v", f)
	}
	if _, err := fs.Take("google", f.State); !errors.Is(err, oauth.ErrBadState) {
		t.Fatalf("other provider: %v", err)
	}
	// The wrong-provider attempt used the state up.
	if _, err := fs.Take("github", f.State); !errors.Is(err, oauth.ErrBadState) {
		t.Fatalf("after a wrong take: %v", err)
	}
	g, _ := fs.Begin("github")
	if got, err := fs.Take("github", g.State); err != nil || got != g {
		t.Fatalf("take: %+v %v", got, err)
	}
	if _, err := fs.Take("github", g.State); !errors.Is(err, oauth.ErrBadState) {
		t.Fatalf("replay: %v", err)
	}
	h, _ := fs.Begin("github")
	now = now.Add(oauth.FlowTTL)
	if _, err := fs.Take("github", h.State); !errors.Is(err, oauth.ErrBadState) {
		t.Fatalf("expired: %v", err)
	}
	for i := 0; i < oauth.MaxFlows; i++ {
		if _, err := fs.Begin("github"); err != nil {
			t.Fatalf("flow %d: %v", i, err)
		}
	}
	if _, err := fs.Begin("github"); !errors.Is(err, oauth.ErrTooManyFlows) {
		t.Fatalf("past the bound: %v", err)
	}
	// Expired flows make room.
	now = now.Add(oauth.FlowTTL)
	if _, err := fs.Begin("github"); err != nil || fs.Len() != 1 {
		t.Fatalf("after expiry: %v, %d held", err, fs.Len())
	}
}

func TestProviderConfigRefused(t *testing.T) {
	if _, err := oauth.NewGitHub(oauth.GitHubConfig{ClientID: "x"}); err == nil {
		t.Error("GitHub without a secret")
	}
	for _, c := range []oauth.OIDCConfig{
		{Name: "Bad Name", Issuer: "https://id.example", ClientID: "a", ClientSecret: "b"},
		{Name: "kc", Issuer: "id.example", ClientID: "a", ClientSecret: "b"},
		{Name: "kc", Issuer: "https://id.example", ClientID: "a"},
	} {
		if _, err := oauth.NewOIDC(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
