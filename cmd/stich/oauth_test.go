package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/stichdev/stich/auth/oauth/oauthtest"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
)

// csrfTransport sends the CSRF token of the browser's own cookie, as the
// UI does.
type csrfTransport struct{ jar http.CookieJar }

func (c csrfTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	for _, ck := range c.jar.Cookies(r.URL) {
		if ck.Name == "stich_csrf" {
			r = r.Clone(r.Context())
			r.Header.Set("X-CSRF-Token", ck.Value)
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

// githubSignIn follows a "Sign in with GitHub" through node n and the fake
// as a browser would, and returns a client of the signed-in browser.
func githubSignIn(t *testing.T, ctx context.Context, n *node) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	var hops []string
	browser := &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, via []*http.Request) error {
		hops = append(hops, r.URL.Path)
		return nil
	}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.url+"/auth/oauth/github/start", nil)
	res, err := browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	// start -> the fake's authorize -> the node's callback -> the UI.
	want := []string{"/login/oauth/authorize", "/auth/oauth/github/callback", "/"}
	if res.StatusCode != http.StatusOK || strings.Join(hops, " ") != strings.Join(want, " ") {
		t.Fatalf("sign-in ended with %d after %v (want %v): %s", res.StatusCode, hops, want, body)
	}
	u, _ := url.Parse(n.url)
	signedIn := false
	for _, c := range jar.Cookies(u) {
		signedIn = signedIn || c.Name == "stich_session"
	}
	if !signedIn {
		t.Fatal("no session cookie after signing in")
	}
	return &http.Client{Jar: jar, Transport: csrfTransport{jar: jar}}
}

// TestServeOAuthGitHub: `stich serve --auth multi` with GitHub (the fake)
// signs a browser up; a second sign-in reaches the same account (it sees
// the first one's app), which is not the owner's.
func TestServeOAuthGitHub(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fake := oauthtest.New(t)
	fake.SetUser("github", oauthtest.User{ID: "31337", Login: "ann", Name: "Ann", Email: "ann@example.com", EmailVerified: true})
	secretFile := filepath.Join(t.TempDir(), "gh-secret")
	if err := os.WriteFile(secretFile, []byte(oauthtest.GitHubClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, t.TempDir(), "--auth", "multi", "--oauth-github-client-id", oauthtest.GitHubClientID,
		"--oauth-github-client-secret-file", secretFile, "--oauth-github-url", fake.GitHubURL(), "--oauth-github-api-url", fake.GitHubAPIURL())

	first := stichv1connect.NewSessionServiceClient(githubSignIn(t, ctx, n), n.url)
	created, err := first.CreateSession(ctx, connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "a reading list"}))
	if err != nil {
		t.Fatal(err)
	}
	id := created.Msg.GetSessionId()
	second := stichv1connect.NewSessionServiceClient(githubSignIn(t, ctx, n), n.url)
	// NB: a session reports to its owner's apps index on its own
	// goroutine: poll until the app is listed (or the test's deadline).
	var apps []*stichv1.AppSummary
	for {
		list, err := second.ListSessions(ctx, connect.NewRequest(&stichv1.ListSessionsRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		if apps = list.Msg.GetApps(); len(apps) > 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the second sign-in never sees the first one's app %s", id)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if len(apps) != 1 || apps[0].GetSessionId() != id {
		t.Fatalf("second sign-in sees %v, want the app %s", apps, id)
	}
	// The owner's apps are another account's.
	owners, err := stichv1connect.NewSessionServiceClient(apiHTTP, n.url).ListSessions(ctx, connect.NewRequest(&stichv1.ListSessionsRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range owners.Msg.GetApps() {
		if a.GetSessionId() == id {
			t.Fatal("the GitHub user's app is the owner's")
		}
	}
}

// TestServeOAuthFlags: provider flags that cannot work are refused at
// start with a message and exit 2.
func TestServeOAuthFlags(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty")
	good := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(empty, nil, 0o600)
	os.WriteFile(good, []byte("s3cret\n"), 0o600)
	t.Setenv("STICH_OAUTH_GITHUB_CLIENT_SECRET", "")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--oauth-github-client-id", "x", "--auth", "multi"}, "STICH_OAUTH_GITHUB_CLIENT_SECRET"},
		{[]string{"--oauth-github-client-id", "x", "--oauth-github-client-secret-file", empty, "--auth", "multi"}, "is empty"},
		{[]string{"--oidc-issuer", "https://id.example", "--auth", "multi"}, "--oidc-issuer and --oidc-client-id go together"},
		{[]string{"--oidc-issuer", "https://id.example", "--oidc-client-id", "a", "--oidc-client-secret-file", empty + "-missing", "--auth", "multi"}, "no such file"},
		{[]string{"--oauth-github-client-id", "x", "--oauth-github-client-secret-file", good}, "--oauth-owner-email"},
		{[]string{"--oauth-github-client-id", "x", "--oauth-github-client-secret-file", good, "--auth", "multi", "--public-url", "stich.example"}, "--public-url"},
	} {
		args := append([]string{"serve", "--data", t.TempDir(), "--http", "127.0.0.1:0"}, c.args...)
		if code, _, errs := runCLI(t, args...); code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, errs, c.want)
		}
	}
}
