package main

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
)

// browserClient is an HTTP client with a cookie jar that sends the CSRF
// cookie back as the X-CSRF-Token header, as the web UI does.
func browserClient(base string) *http.Client {
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(base)
	return &http.Client{Jar: jar, Transport: rtFunc(func(r *http.Request) (*http.Response, error) {
		for _, c := range jar.Cookies(u) {
			if c.Name == "stich_csrf" {
				r = r.Clone(r.Context())
				r.Header.Set("X-CSRF-Token", c.Value)
			}
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

var verifyLink = regexp.MustCompile(`/verify\?token=([A-Za-z0-9_.-]+)`)

// TestServeMultiAccounts: `stich serve --auth multi --signup invite`: the
// owner's key makes an invite with `stich admin invite`; sign-up needs
// it; the verification link goes to the log (no --smtp-addr); the new user
// signs in and is a plain user until `stich admin grant` makes them admin.
func TestServeMultiAccounts(t *testing.T) {
	n := startNode(t, t.TempDir(), "--auth", "multi", "--signup", "invite")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := browserClient(n.url)
	acc := stichv1connect.NewAccountServiceClient(b, n.url)
	const email, pw = "ann@example.com", "correct horse battery"
	_, err := acc.SignUp(ctx, connect.NewRequest(&stichv1.SignUpRequest{Email: email, Password: pw}))
	if connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("sign-up without an invite: %v", err)
	}
	code, out, errs := runCLI(t, "admin", "invite", "--server", n.url)
	if code != 0 || !strings.HasPrefix(out, n.url+"/signup?invite=inv_") {
		t.Fatalf("admin invite: exit %d %q %s", code, out, errs)
	}
	invite := strings.TrimPrefix(strings.Fields(out)[0], n.url+"/signup?invite=")
	if _, err := acc.SignUp(ctx, connect.NewRequest(&stichv1.SignUpRequest{Email: email, Password: pw, InviteToken: invite})); err != nil {
		t.Fatal(err)
	}
	var token string
	for deadline := time.Now().Add(time.Minute); token == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := verifyLink.FindStringSubmatch(n.logs()); m != nil {
			token = m[1]
		}
	}
	if token == "" {
		t.Fatal("no verification link in the log")
	}
	if _, err := acc.VerifyEmail(ctx, connect.NewRequest(&stichv1.VerifyEmailRequest{Token: token})); err != nil {
		t.Fatal(err)
	}
	signIn := func() *stichv1.Account {
		t.Helper()
		if _, err := acc.SignIn(ctx, connect.NewRequest(&stichv1.SignInRequest{Email: email, Password: pw})); err != nil {
			t.Fatal(err)
		}
		res, err := acc.GetAccount(ctx, connect.NewRequest(&stichv1.GetAccountRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.GetAccount()
	}
	if a := signIn(); a.GetRole() != "user" || !a.GetEmailVerified() {
		t.Fatalf("new account %v", a)
	}
	if _, err := stichv1connect.NewAdminServiceClient(b, n.url).GetClusterStatus(ctx, connect.NewRequest(&stichv1.GetClusterStatusRequest{})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("cluster status as a user: %v", err)
	}
	if code, out, errs := runCLI(t, "admin", "grant", email, "--server", n.url); code != 0 || !strings.Contains(out, "is now admin") {
		t.Fatalf("admin grant: exit %d %q %s", code, out, errs)
	}
	if a := signIn(); a.GetRole() != "admin" {
		t.Fatalf("after grant: %v", a)
	}
	if _, err := stichv1connect.NewAdminServiceClient(b, n.url).GetClusterStatus(ctx, connect.NewRequest(&stichv1.GetClusterStatusRequest{})); err != nil {
		t.Fatalf("cluster status as an admin: %v", err)
	}
	if code, _, errs := runCLI(t, "admin", "grant", "nobody@example.com", "--server", n.url); code == 0 || !strings.Contains(errs, "no account") {
		t.Fatalf("grant to nobody: exit %d %s", code, errs)
	}
}
