package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/stichdev/stich/auth"
	"github.com/stichdev/stich/mailer"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
	"github.com/stichdev/stich/ratelimit"
)

// mailbox is an in-process mailer keeping what it was asked to send.
type mailbox struct {
	mu   sync.Mutex
	sent []mailer.Message
}

func (m *mailbox) Send(ctx context.Context, msg mailer.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, msg)
	return nil
}

func (m *mailbox) count(to string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, s := range m.sent {
		if s.To == to {
			n++
		}
	}
	return n
}

var linkToken = regexp.MustCompile(`(/verify|/reset)\?token=([A-Za-z0-9_.-]+)`)

// token returns the token of the last link to path ("/verify", "/reset")
// sent to to.
func (m *mailbox) token(t *testing.T, to, path string) string {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.sent) - 1; i >= 0; i-- {
		if s := m.sent[i]; s.To == to {
			if g := linkToken.FindStringSubmatch(s.Body); g != nil && g[1] == path {
				return g[2]
			}
		}
	}
	t.Fatalf("no %s link was sent to %s (%d messages)", path, to, len(m.sent))
	return ""
}

func newMultiServer(t *testing.T, acc AccountsConfig) (*testServer, *mailbox) {
	t.Helper()
	box := &mailbox{}
	acc.Mode, acc.Mailer = "multi", box
	return newTestServerAccounts(t, ratelimit.Rule{}, 0, nil, slog.New(slog.DiscardHandler), acc), box
}

// browser is a client with a cookie jar that sends the CSRF cookie's
// value as the header, as the UI does.
type browser struct {
	*http.Client
	jar *cookiejar.Jar
	url string
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{jar: jar, url: base}
	b.Client = &http.Client{Jar: jar, Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		u, _ := url.Parse(base)
		for _, c := range jar.Cookies(u) {
			if c.Name == csrfCookie {
				r = r.Clone(r.Context())
				r.Header.Set(csrfHeader, c.Value)
			}
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	return b
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (b *browser) accounts() stichv1connect.AccountServiceClient {
	return stichv1connect.NewAccountServiceClient(b.Client, b.url)
}

func (b *browser) signIn(t *testing.T, email, password string) error {
	t.Helper()
	_, err := b.accounts().SignIn(ctxT(t), connect.NewRequest(&stichv1.SignInRequest{Email: email, Password: password}))
	return err
}

// signUpVerified signs email up, verifies it from the mailbox and signs a
// new browser in.
func signUpVerified(t *testing.T, ts *testServer, box *mailbox, email, password string) *browser {
	t.Helper()
	b := newBrowser(t, ts.url)
	if _, err := b.accounts().SignUp(ctxT(t), connect.NewRequest(&stichv1.SignUpRequest{Email: email, Password: password})); err != nil {
		t.Fatal(err)
	}
	if _, err := b.accounts().VerifyEmail(ctxT(t), connect.NewRequest(&stichv1.VerifyEmailRequest{Token: box.token(t, email, "/verify")})); err != nil {
		t.Fatal(err)
	}
	if err := b.signIn(t, email, password); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSignUpVerifySignIn: a new account cannot sign in before its e-mail
// is verified (each try sends a new link); a link works once; a wrong
// password and an unknown e-mail get the same answer; a signed-in browser
// sees its account and makes API keys; signing up again with the same
// e-mail answers alike and tells the owner by e-mail.
func TestSignUpVerifySignIn(t *testing.T) {
	ts, box := newMultiServer(t, AccountsConfig{})
	b := newBrowser(t, ts.url)
	acc := b.accounts()
	const email, pw = "ann@example.com", "correct horse"
	if _, err := acc.SignUp(ctxT(t), connect.NewRequest(&stichv1.SignUpRequest{Email: "ann@Example.COM", Password: pw, DisplayName: "Ann"})); err != nil {
		t.Fatal(err)
	}
	first := box.token(t, email, "/verify")
	wantCode(t, b.signIn(t, email, pw), connect.CodeFailedPrecondition, "verify your e-mail")
	if box.count(email) != 2 {
		t.Fatalf("sign-in before verification sent %d e-mails, want a new link", box.count(email)-1)
	}
	// Unverified: nothing is signed in.
	if _, err := acc.GetAccount(ctxT(t), connect.NewRequest(&stichv1.GetAccountRequest{})); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("unverified browser: %v", err)
	}
	// The first link was replaced by the second.
	_, err := acc.VerifyEmail(ctxT(t), connect.NewRequest(&stichv1.VerifyEmailRequest{Token: first}))
	wantCode(t, err, connect.CodeNotFound, "not valid")
	tok := box.token(t, email, "/verify")
	if _, err := acc.VerifyEmail(ctxT(t), connect.NewRequest(&stichv1.VerifyEmailRequest{Token: tok})); err != nil {
		t.Fatal(err)
	}
	_, err = acc.VerifyEmail(ctxT(t), connect.NewRequest(&stichv1.VerifyEmailRequest{Token: tok}))
	wantCode(t, err, connect.CodeNotFound, "used already")

	wrong, unknown := b.signIn(t, email, "wrong horse"), b.signIn(t, "zed@example.com", pw)
	wantCode(t, wrong, connect.CodeUnauthenticated, "wrong e-mail or password")
	if unknown.Error() != wrong.Error() {
		t.Fatalf("unknown e-mail %q, wrong password %q", unknown, wrong)
	}
	if err := b.signIn(t, "ANN@example.com", pw); err != nil {
		t.Fatal(err)
	}
	res, err := acc.GetAccount(ctxT(t), connect.NewRequest(&stichv1.GetAccountRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	a := res.Msg.GetAccount()
	if a.GetEmail() != email || !a.GetEmailVerified() || a.GetRole() != "user" || a.GetDisplayName() != "Ann" || a.GetAuthMode() != "multi" || !strings.HasPrefix(a.GetUserId(), "u-") {
		t.Fatalf("account %v", a)
	}
	key, err := acc.CreateAPIKey(ctxT(t), connect.NewRequest(&stichv1.CreateAPIKeyRequest{Label: "laptop"}))
	if err != nil {
		t.Fatal(err)
	}
	bearer := stichv1connect.NewAccountServiceClient(&http.Client{Transport: bearerTransport{token: key.Msg.GetToken()}}, ts.url)
	creds, err := bearer.ListCredentials(ctxT(t), connect.NewRequest(&stichv1.ListCredentialsRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	var browsers, current int
	for _, c := range creds.Msg.GetCredentials() {
		if c.GetBrowser() {
			browsers++
		}
		if c.GetCurrent() {
			current++
			if c.GetId() != key.Msg.GetKey().GetId() || c.GetLabel() != "laptop" {
				t.Fatalf("current credential %v", c)
			}
		}
	}
	if len(creds.Msg.GetCredentials()) != 2 || browsers != 1 || current != 1 {
		t.Fatalf("credentials %v", creds.Msg.GetCredentials())
	}
	// Signing up again: the same answer, and an e-mail to the owner.
	n := box.count(email)
	if _, err := acc.SignUp(ctxT(t), connect.NewRequest(&stichv1.SignUpRequest{Email: email, Password: "another password"})); err != nil {
		t.Fatal(err)
	}
	if box.count(email) != n+1 || b.signIn(t, email, "another password") == nil {
		t.Fatal("a second sign-up changed the account or told no one")
	}
	for _, bad := range []string{"ann", "Ann <ann@example.com>"} {
		_, err := acc.SignUp(ctxT(t), connect.NewRequest(&stichv1.SignUpRequest{Email: bad, Password: pw}))
		wantCode(t, err, connect.CodeInvalidArgument, "")
	}
}

// TestSignOutEverywhere ends every browser session of the caller (here
// and in another browser) and keeps API keys.
func TestSignOutEverywhere(t *testing.T) {
	ts, box := newMultiServer(t, AccountsConfig{})
	one := signUpVerified(t, ts, box, "bo@example.com", "password one")
	two := newBrowser(t, ts.url)
	if err := two.signIn(t, "bo@example.com", "password one"); err != nil {
		t.Fatal(err)
	}
	key, err := one.accounts().CreateAPIKey(ctxT(t), connect.NewRequest(&stichv1.CreateAPIKeyRequest{Label: "ci"}))
	if err != nil {
		t.Fatal(err)
	}
	res, err := one.accounts().SignOutEverywhere(ctxT(t), connect.NewRequest(&stichv1.SignOutEverywhereRequest{}))
	if err != nil || res.Msg.GetEnded() != 2 {
		t.Fatalf("sign out everywhere: %v %v", res, err)
	}
	for name, b := range map[string]*browser{"this browser": one, "the other browser": two} {
		if _, err := b.accounts().GetAccount(ctxT(t), connect.NewRequest(&stichv1.GetAccountRequest{})); connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Errorf("%s after sign-out everywhere: %v", name, err)
		}
	}
	bearer := stichv1connect.NewAccountServiceClient(&http.Client{Transport: bearerTransport{token: key.Msg.GetToken()}}, ts.url)
	if _, err := bearer.GetAccount(ctxT(t), connect.NewRequest(&stichv1.GetAccountRequest{})); err != nil {
		t.Fatalf("API key after sign-out everywhere: %v", err)
	}
	if _, err := bearer.RevokeAPIKey(ctxT(t), connect.NewRequest(&stichv1.RevokeAPIKeyRequest{Id: key.Msg.GetKey().GetId()})); err != nil {
		t.Fatal(err)
	}
	if _, err := bearer.GetAccount(ctxT(t), connect.NewRequest(&stichv1.GetAccountRequest{})); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("revoked key: %v", err)
	}
}

// TestPasswordReset: a request for an unknown e-mail answers alike and
// sends nothing; a reset link sets the new password once and ends the
// browser sessions.
func TestPasswordReset(t *testing.T) {
	ts, box := newMultiServer(t, AccountsConfig{})
	b := signUpVerified(t, ts, box, "cy@example.com", "old password")
	acc := newBrowser(t, ts.url).accounts()
	if _, err := acc.RequestPasswordReset(ctxT(t), connect.NewRequest(&stichv1.RequestPasswordResetRequest{Email: "nobody@example.com"})); err != nil {
		t.Fatal(err)
	}
	if box.count("nobody@example.com") != 0 {
		t.Fatal("mail to an unknown address")
	}
	if _, err := acc.RequestPasswordReset(ctxT(t), connect.NewRequest(&stichv1.RequestPasswordResetRequest{Email: "cy@example.com"})); err != nil {
		t.Fatal(err)
	}
	tok := box.token(t, "cy@example.com", "/reset")
	_, err := acc.ResetPassword(ctxT(t), connect.NewRequest(&stichv1.ResetPasswordRequest{Token: tok[:len(tok)-1] + "x", NewPassword: "new password"}))
	wantCode(t, err, connect.CodeNotFound, "not valid")
	if _, err := acc.ResetPassword(ctxT(t), connect.NewRequest(&stichv1.ResetPasswordRequest{Token: tok, NewPassword: "new password"})); err != nil {
		t.Fatal(err)
	}
	_, err = acc.ResetPassword(ctxT(t), connect.NewRequest(&stichv1.ResetPasswordRequest{Token: tok, NewPassword: "third password"}))
	wantCode(t, err, connect.CodeNotFound, "used already")
	if _, err := b.accounts().GetAccount(ctxT(t), connect.NewRequest(&stichv1.GetAccountRequest{})); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("browser session after a reset: %v", err)
	}
	fresh := newBrowser(t, ts.url)
	wantCode(t, fresh.signIn(t, "cy@example.com", "old password"), connect.CodeUnauthenticated, "")
	if err := fresh.signIn(t, "cy@example.com", "new password"); err != nil {
		t.Fatal(err)
	}
}

// TestSignUpModes: invite-only sign-up needs a single-use invite an admin
// made, except for addresses of --signup-domain; an open sign-up limited
// to domains refuses others; a single-user node refuses sign-up.
func TestSignUpModes(t *testing.T) {
	signUp := func(ts *testServer, email, invite string) error {
		_, err := newBrowser(t, ts.url).accounts().SignUp(ctxT(t), connect.NewRequest(&stichv1.SignUpRequest{Email: email, Password: "a password", InviteToken: invite}))
		return err
	}
	inv, _ := newMultiServer(t, AccountsConfig{Signup: "invite", SignupDomains: []string{"@Corp.example"}})
	wantCode(t, signUp(inv, "dee@example.com", ""), connect.CodePermissionDenied, "by invitation")
	forged, _, _ := auth.NewInviteToken()
	wantCode(t, signUp(inv, "dee@example.com", forged), connect.CodePermissionDenied, "not valid")
	if err := signUp(inv, "eve@corp.example", ""); err != nil {
		t.Fatalf("a --signup-domain address: %v", err)
	}
	admin := stichv1connect.NewAccountServiceClient(testHTTP, inv.url)
	res, err := admin.CreateInvite(ctxT(t), connect.NewRequest(&stichv1.CreateInviteRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := signUp(inv, "dee@example.com", res.Msg.GetToken()); err != nil {
		t.Fatal(err)
	}
	wantCode(t, signUp(inv, "fay@example.com", res.Msg.GetToken()), connect.CodePermissionDenied, "used already")
	user := stichv1connect.NewAccountServiceClient(clientAs(t, inv.srv, "gus", auth.RoleUser), inv.url)
	_, err = user.CreateInvite(ctxT(t), connect.NewRequest(&stichv1.CreateInviteRequest{}))
	wantCode(t, err, connect.CodePermissionDenied, "admin")

	dom, _ := newMultiServer(t, AccountsConfig{SignupDomains: []string{"corp.example"}})
	wantCode(t, signUp(dom, "dee@example.com", ""), connect.CodePermissionDenied, "corp.example")
	if err := signUp(dom, "dee@corp.example", ""); err != nil {
		t.Fatal(err)
	}
	single := newTestServer(t, ratelimit.Rule{}, 0)
	wantCode(t, signUp(single, "dee@example.com", ""), connect.CodeFailedPrecondition, "--auth single")
}

// TestSignInRateLimits: attempts are counted per e-mail and per client
// address before any hashing, and refused with resource_exhausted and a
// retry delay; the right password does not pass a full bucket.
func TestSignInRateLimits(t *testing.T) {
	// exhaust signs in with wrong passwords until refused (at most 20
	// tries) and returns the refusal, after at least one plain failure.
	exhaust := func(b *browser, email func(int) string) error {
		t.Helper()
		for i := 0; i < 20; i++ {
			err := b.signIn(t, email(i), "wrong password")
			if connect.CodeOf(err) == connect.CodeResourceExhausted {
				if i == 0 {
					t.Fatal("refused before any attempt failed")
				}
				return err
			}
			wantCode(t, err, connect.CodeUnauthenticated, "")
		}
		t.Fatal("20 wrong passwords were not limited")
		return nil
	}
	ts, box := newMultiServer(t, AccountsConfig{SignInPerEmail: ratelimit.Rule{Limit: 3, Window: time.Minute}})
	signUpVerified(t, ts, box, "hal@example.com", "right password")
	b := newBrowser(t, ts.url)
	err := exhaust(b, func(int) string { return "hal@example.com" })
	wantCode(t, err, connect.CodeResourceExhausted, "for this e-mail")
	var ce *connect.Error
	errors.As(err, &ce)
	var delay time.Duration
	for _, d := range ce.Details() {
		if v, _ := d.Value(); v != nil {
			if ri, ok := v.(*errdetails.RetryInfo); ok {
				delay = ri.GetRetryDelay().AsDuration()
			}
		}
	}
	if delay <= 0 || delay > time.Minute {
		t.Fatalf("retry delay %v", delay)
	}
	wantCode(t, b.signIn(t, "hal@example.com", "right password"), connect.CodeResourceExhausted, "for this e-mail")
	// Another e-mail is still admitted.
	wantCode(t, b.signIn(t, "ida@example.com", "x"), connect.CodeUnauthenticated, "")

	// Per client address: a new e-mail each time.
	ts, _ = newMultiServer(t, AccountsConfig{SignInPerIP: ratelimit.Rule{Limit: 4, Window: time.Minute}})
	err = exhaust(newBrowser(t, ts.url), func(i int) string { return fmt.Sprintf("u%d@example.com", i) })
	wantCode(t, err, connect.CodeResourceExhausted, "from this address")
}

// TestAccountForVerifiedEmail: the OAuth entry point makes a verified
// account, finds it again, and takes over an unverified sign-up of the
// same address from whoever made it (its password stops working).
func TestAccountForVerifiedEmail(t *testing.T) {
	ts, _ := newMultiServer(t, AccountsConfig{})
	id, created, err := ts.srv.AccountForVerifiedEmail(ctxT(t), "kim@example.com", "Kim")
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	again, created, err := ts.srv.AccountForVerifiedEmail(ctxT(t), "KIM@example.com", "")
	if err != nil || created || again != id {
		t.Fatalf("find: %q %v %v", again, created, err)
	}
	b := newBrowser(t, ts.url)
	if _, err := b.accounts().SignUp(ctxT(t), connect.NewRequest(&stichv1.SignUpRequest{Email: "lee@example.com", Password: "squatter pw"})); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ts.srv.AccountForVerifiedEmail(ctxT(t), "lee@example.com", "Lee"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, b.signIn(t, "lee@example.com", "squatter pw"), connect.CodeUnauthenticated, "")

	closed, _ := newMultiServer(t, AccountsConfig{Signup: "invite"})
	if _, _, err := closed.srv.AccountForVerifiedEmail(ctxT(t), "kim@example.com", "Kim"); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("invite-only: %v", err)
	}
}

// TestSignInSetsCookies: SignIn's response carries the session cookie
// (HttpOnly, Lax) and the CSRF cookie matching csrf_token.
func TestSignInSetsCookies(t *testing.T) {
	ts, box := newMultiServer(t, AccountsConfig{})
	signUpVerified(t, ts, box, "max@example.com", "a password")
	req, _ := http.NewRequest(http.MethodPost, ts.url+stichv1connect.AccountServiceSignInProcedure,
		strings.NewReader(`{"email":"max@example.com","password":"a password"}`))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var session, csrf *http.Cookie
	for _, c := range res.Cookies() {
		switch c.Name {
		case sessionCookie:
			session = c
		case csrfCookie:
			csrf = c
		}
	}
	if res.StatusCode != 200 || session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode ||
		csrf == nil || csrf.Value != csrfToken(session.Value) || !strings.Contains(string(body), csrf.Value) {
		t.Fatalf("status %d, cookies %v, body %s", res.StatusCode, res.Cookies(), body)
	}
}
