package rpc

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/audit"
	"github.com/stichdev/stich/auth"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
)

// flushAudit waits until the events recorded so far are stored.
func flushAudit(t *testing.T, ts *testServer) {
	t.Helper()
	if err := ts.rt.FlushAudit(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

// adminAccounts is the AccountService as the test server's owner (admin).
func adminAccounts(ts *testServer) stichv1connect.AccountServiceClient {
	return stichv1connect.NewAccountServiceClient(testHTTP, ts.url)
}

// eventsOf reads every page of a listing.
func eventsOf(t *testing.T, list func(token string) (*stichv1.ListAuditEventsResponse, error)) []*stichv1.AuditEvent {
	t.Helper()
	var out []*stichv1.AuditEvent
	token := ""
	for {
		res, err := list(token)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, res.GetEvents()...)
		if token = res.GetNextPageToken(); token == "" {
			return out
		}
	}
}

func myEvents(t *testing.T, acc stichv1connect.AccountServiceClient) []*stichv1.AuditEvent {
	return eventsOf(t, func(token string) (*stichv1.ListAuditEventsResponse, error) {
		res, err := acc.ListMyAuditEvents(ctxT(t), connect.NewRequest(&stichv1.ListMyAuditEventsRequest{PageSize: 3, PageToken: token}))
		return res.Msg, err
	})
}

func clusterEvents(t *testing.T, ts *testServer, req *stichv1.ListAuditEventsRequest) []*stichv1.AuditEvent {
	return eventsOf(t, func(token string) (*stichv1.ListAuditEventsResponse, error) {
		req.PageToken = token
		res, err := adminAccounts(ts).ListAuditEvents(ctxT(t), connect.NewRequest(req))
		if err != nil {
			return nil, err
		}
		return res.Msg, nil
	})
}

// find returns the newest event of kind (and method, if not "").
func find(events []*stichv1.AuditEvent, kind, method string) *stichv1.AuditEvent {
	for _, e := range events {
		if e.GetKind() == kind && (method == "" || e.GetMethod() == method) {
			return e
		}
	}
	return nil
}

func kinds(events []*stichv1.AuditEvent) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.GetKind())
	}
	return out
}

// TestAuditTrail: an account's security events (failed and successful
// sign-ins with the client's address and method, keys made and revoked,
// a role change by an admin, sign out everywhere) are in its own log,
// newest first, and in the cluster's, where an admin filters them by
// e-mail and kind.
func TestAuditTrail(t *testing.T) {
	ts, box := newMultiServer(t, AccountsConfig{})
	b := signUpVerified(t, ts, box, "ann@example.com", "ann password")
	wantCode(t, newBrowser(t, ts.url).signIn(t, "ann@example.com", "wrong password"), connect.CodeUnauthenticated, "")
	wantCode(t, newBrowser(t, ts.url).signIn(t, "zed@example.com", "wrong password"), connect.CodeUnauthenticated, "")
	acc := b.accounts()
	key, err := acc.CreateAPIKey(ctxT(t), connect.NewRequest(&stichv1.CreateAPIKeyRequest{Label: "ci"}))
	if err != nil {
		t.Fatal(err)
	}
	keyID := key.Msg.GetKey().GetId()
	if _, err := acc.RevokeAPIKey(ctxT(t), connect.NewRequest(&stichv1.RevokeAPIKeyRequest{Id: keyID})); err != nil {
		t.Fatal(err)
	}
	if _, err := adminAccounts(ts).SetUserRole(ctxT(t), connect.NewRequest(&stichv1.SetUserRoleRequest{Email: "ann@example.com", Role: "admin"})); err != nil {
		t.Fatal(err)
	}
	// Role changes take effect at once on this node: the browser is an admin.
	if _, err := acc.SignOutEverywhere(ctxT(t), connect.NewRequest(&stichv1.SignOutEverywhereRequest{})); err != nil {
		t.Fatal(err)
	}
	if err := b.signIn(t, "ann@example.com", "ann password"); err != nil {
		t.Fatal(err)
	}
	flushAudit(t, ts)

	mine := myEvents(t, acc)
	want := []string{audit.SignIn, audit.SignOutEverywhere, audit.RoleChanged, audit.KeyRevoked, audit.KeyCreated, audit.SignInFailed, audit.SignIn, audit.EmailVerified, audit.SignUp}
	if got := kinds(mine); !slices.Equal(got, want) {
		t.Fatalf("ann's events\n got %v\nwant %v", got, want)
	}
	me, err := acc.GetAccount(ctxT(t), connect.NewRequest(&stichv1.GetAccountRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	annID := me.Msg.GetAccount().GetUserId()
	for _, e := range mine {
		if e.GetUserId() != annID || e.GetClient() != "127.0.0.1" || e.GetAt() == nil || e.GetCount() != 1 {
			t.Errorf("event %v: want ann's, from 127.0.0.1, with a time", e)
		}
	}
	if e := find(mine, audit.SignIn, ""); e.GetMethod() != "password" || e.GetEmail() != "ann@example.com" {
		t.Errorf("sign-in %v", e)
	}
	if e := find(mine, audit.SignInFailed, ""); e.GetMethod() != "password" || e.GetDetail() != "wrong password" {
		t.Errorf("failed sign-in %v", e)
	}
	if e := find(mine, audit.KeyCreated, ""); !strings.Contains(e.GetDetail(), keyID) || !strings.Contains(e.GetDetail(), "ci") {
		t.Errorf("key created %v", e)
	}
	if e := find(mine, audit.KeyRevoked, ""); !strings.Contains(e.GetDetail(), keyID) {
		t.Errorf("key revoked %v", e)
	}
	if e := find(mine, audit.RoleChanged, ""); e.GetActorId() != OwnerID || e.GetDetail() != "role: admin" {
		t.Errorf("role change %v: want the owner as actor", e)
	}
	if e := find(mine, audit.SignOutEverywhere, ""); e.GetDetail() != "1 browser sessions ended" {
		t.Errorf("sign out everywhere %v", e)
	}
	for _, e := range mine {
		for _, secret := range []string{key.Msg.GetToken(), "ann password"} {
			if strings.Contains(fmt.Sprint(e), secret) {
				t.Errorf("event %v holds a secret", e)
			}
		}
	}

	// The cluster log: the failure for an unknown e-mail names no account.
	all := clusterEvents(t, ts, &stichv1.ListAuditEventsRequest{})
	if e := find(all, audit.SignInFailed, ""); e.GetEmail() != "zed@example.com" || e.GetUserId() != "" || e.GetDetail() != "no account has this e-mail" {
		t.Errorf("newest failed sign-in %v", e)
	}
	byEmail := clusterEvents(t, ts, &stichv1.ListAuditEventsRequest{User: "ANN@example.com"})
	if got := kinds(byEmail); !slices.Equal(got, want) {
		t.Fatalf("ann's events in the cluster log\n got %v\nwant %v", got, want)
	}
	byID := clusterEvents(t, ts, &stichv1.ListAuditEventsRequest{User: annID, Kinds: []string{audit.SignIn, audit.SignInFailed}})
	if got := kinds(byID); !slices.Equal(got, []string{audit.SignIn, audit.SignInFailed, audit.SignIn}) {
		t.Fatalf("ann's sign-ins: %v", got)
	}
	_, err = adminAccounts(ts).ListAuditEvents(ctxT(t), connect.NewRequest(&stichv1.ListAuditEventsRequest{PageToken: "x"}))
	wantCode(t, err, connect.CodeInvalidArgument, "page_token")
}

// TestRefusedCredentialsAudited: a tampered key, a revoked key, an
// expired browser session, a key of a disabled account and a cookie call
// without its CSRF token are refused, audited (in the account's log when
// the key matched an account), and change nothing.
func TestRefusedCredentialsAudited(t *testing.T) {
	ts, box := newMultiServer(t, AccountsConfig{})
	b := signUpVerified(t, ts, box, "bo@example.com", "bo password")
	me, err := b.accounts().GetAccount(ctxT(t), connect.NewRequest(&stichv1.GetAccountRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	boID := me.Msg.GetAccount().GetUserId()
	live, err := ts.srv.EnsureUser(context.Background(), boID, auth.RoleUser, "live")
	if err != nil {
		t.Fatal(err)
	}
	revoked, err := ts.srv.EnsureUser(context.Background(), boID, auth.RoleUser, "revoked")
	if err != nil {
		t.Fatal(err)
	}
	rk, _ := auth.ParseAPIKey(revoked)
	if _, err := actorsCallRevoke(t, ts, rk); err != nil {
		t.Fatal(err)
	}
	// An expired browser session, stored as the grain stores one.
	expired, ek, err := auth.NewAPIKey(boID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := actors.Call[*actorsv1.UserReply](ctxT(t), ts.rt.Node, actors.KindUser, boID, &actorsv1.AddAPIKey{Key: &actorsv1.APIKeyRecord{
		Id: ek.KeyID, Hash: ek.Hash, Browser: true, ExpiresAt: timestamppb.New(time.Now().Add(-time.Minute))}}); err != nil {
		t.Fatal(err)
	}
	tampered := live[:len(live)-1] + "A"
	if strings.HasSuffix(live, "A") {
		tampered = live[:len(live)-1] + "B"
	}

	credsBefore := credentialIDs(t, stichv1connect.NewAccountServiceClient(&http.Client{Transport: bearerTransport{token: live}}, ts.url))
	create := func(c *http.Client) error {
		_, err := stichv1connect.NewAccountServiceClient(c, ts.url).CreateAPIKey(ctxT(t), connect.NewRequest(&stichv1.CreateAPIKeyRequest{Label: "sneaky"}))
		return err
	}
	for _, token := range []string{tampered, revoked} {
		wantCode(t, create(&http.Client{Transport: bearerTransport{token: token}}), connect.CodeUnauthenticated, "")
	}
	// The expired session as a browser cookie, with its right CSRF token.
	wantCode(t, cookieCall(t, ts, expired, csrfToken(expired)), connect.CodeUnauthenticated, "")
	// The live browser session without its CSRF token.
	var session string
	for _, c := range b.jar.Cookies(mustURL(ts.url)) {
		if c.Name == sessionCookie {
			session = c.Value
		}
	}
	wantCode(t, cookieCall(t, ts, session, ""), connect.CodePermissionDenied, "CSRF")
	wantCode(t, cookieCall(t, ts, session, "0123"), connect.CodePermissionDenied, "CSRF")
	// A key naming no account.
	ghost, _, _ := auth.NewAPIKey("u-0000000000")
	wantCode(t, create(&http.Client{Transport: bearerTransport{token: ghost}}), connect.CodeUnauthenticated, "")

	flushAudit(t, ts)
	if after := credentialIDs(t, stichv1connect.NewAccountServiceClient(&http.Client{Transport: bearerTransport{token: live}}, ts.url)); !slices.Equal(after, credsBefore) {
		t.Fatalf("refused calls changed the credentials: %v -> %v", credsBefore, after)
	}
	mine := myEvents(t, b.accounts())
	refused := map[string]int{}
	for _, e := range mine {
		if e.GetKind() == audit.CredentialsRefused || e.GetKind() == audit.CSRFRefused {
			refused[e.GetKind()+" "+e.GetMethod()] += int(e.GetCount())
			if e.GetClient() != "127.0.0.1" {
				t.Errorf("event %v without the client", e)
			}
		}
	}
	// Tampered and revoked by key; expired by cookie; two CSRF refusals
	// (identical events: one line, count 2).
	want := map[string]int{"credentials_refused api-key": 2, "credentials_refused browser": 1, "csrf_refused browser": 2}
	for k, n := range want {
		if refused[k] != n {
			t.Errorf("%s: %d events, want %d (all: %v)", k, refused[k], n, refused)
		}
	}
	// The key naming no account is in the cluster log only.
	all := clusterEvents(t, ts, &stichv1.ListAuditEventsRequest{Kinds: []string{audit.CredentialsRefused}})
	found := false
	for _, e := range all {
		if strings.Contains(e.GetDetail(), "u-0000000000") {
			found = e.GetUserId() == ""
		}
	}
	if !found {
		t.Errorf("no refusal naming u-0000000000 without an account in %v", all)
	}
	err = ts.rt.Node.Store().Grains(func(kind, identity string) error {
		if kind == actors.KindAudit && identity == "u-0000000000" {
			return fmt.Errorf("a key naming no account made an audit log")
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }

// cookieCall calls CreateAPIKey with a session cookie and a CSRF header
// ("" none).
func cookieCall(t *testing.T, ts *testServer, session, csrf string) error {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctxT(t), http.MethodPost, ts.url+stichv1connect.AccountServiceCreateAPIKeyProcedure,
		bytes.NewReader([]byte(`{"label":"sneaky"}`)))
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: session})
	if csrf != "" {
		req.Header.Set(csrfHeader, csrf)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusOK {
		return nil
	}
	var buf bytes.Buffer
	buf.ReadFrom(res.Body)
	switch res.StatusCode {
	case http.StatusUnauthorized:
		return connect.NewError(connect.CodeUnauthenticated, fmt.Errorf("%s", buf.String()))
	case http.StatusForbidden:
		return connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%s", buf.String()))
	}
	return fmt.Errorf("status %d: %s", res.StatusCode, buf.String())
}

func credentialIDs(t *testing.T, acc stichv1connect.AccountServiceClient) []string {
	t.Helper()
	res, err := acc.ListCredentials(ctxT(t), connect.NewRequest(&stichv1.ListCredentialsRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range res.Msg.GetCredentials() {
		ids = append(ids, c.GetId())
	}
	slices.Sort(ids)
	return ids
}

// TestAdminUsersAndDisable: the admin lists accounts (paginated, with
// role, verification and last sign-in); a disabled account cannot sign
// in and its browser sessions and API keys stop working (audited); an
// admin cannot disable themself; enabling restores the keys.
func TestAdminUsersAndDisable(t *testing.T) {
	ts, box := newMultiServer(t, AccountsConfig{})
	ann := signUpVerified(t, ts, box, "ann@example.com", "ann password")
	_ = signUpVerified(t, ts, box, "bob@example.com", "bob password")
	key, err := ann.accounts().CreateAPIKey(ctxT(t), connect.NewRequest(&stichv1.CreateAPIKeyRequest{Label: "ci"}))
	if err != nil {
		t.Fatal(err)
	}
	bearer := stichv1connect.NewAccountServiceClient(&http.Client{Transport: bearerTransport{token: key.Msg.GetToken()}}, ts.url)
	admin := adminAccounts(ts)
	list := func(req *stichv1.ListUsersRequest) *stichv1.ListUsersResponse {
		t.Helper()
		res, err := admin.ListUsers(ctxT(t), connect.NewRequest(req))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg
	}
	// The index is told asynchronously: wait for both accounts with their sign-ins.
	waitFor(t, "both accounts in the users list", func() bool {
		n := 0
		for _, u := range list(&stichv1.ListUsersRequest{Query: "@example.com"}).GetUsers() {
			if u.GetLastSignInAt() != nil && u.GetEmailVerified() {
				n++
			}
		}
		return n == 2
	})
	p1 := list(&stichv1.ListUsersRequest{PageSize: 1, Query: "@example.com"})
	if len(p1.GetUsers()) != 1 || p1.GetUsers()[0].GetEmail() != "bob@example.com" || p1.GetNextPageToken() == "" || p1.GetTotal() != 2 {
		t.Fatalf("page 1: %v", p1)
	}
	p2 := list(&stichv1.ListUsersRequest{PageSize: 1, Query: "@example.com", PageToken: p1.GetNextPageToken()})
	if len(p2.GetUsers()) != 1 || p2.GetUsers()[0].GetEmail() != "ann@example.com" || p2.GetNextPageToken() != "" {
		t.Fatalf("page 2: %v", p2)
	}
	annID := p2.GetUsers()[0].GetUserId()
	if u := p2.GetUsers()[0]; u.GetRole() != "user" || u.GetDisabled() || u.GetCreatedAt() == nil {
		t.Fatalf("ann: %v", u)
	}
	_, err = admin.ListUsers(ctxT(t), connect.NewRequest(&stichv1.ListUsersRequest{PageToken: "garbage"}))
	wantCode(t, err, connect.CodeInvalidArgument, "page_token")

	res, err := admin.SetUserDisabled(ctxT(t), connect.NewRequest(&stichv1.SetUserDisabledRequest{UserId: annID, Disabled: true}))
	if err != nil || !res.Msg.GetUser().GetDisabled() {
		t.Fatalf("disable: %v %v", res, err)
	}
	if _, err := bearer.GetAccount(ctxT(t), connect.NewRequest(&stichv1.GetAccountRequest{})); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("API key of a disabled account: %v", err)
	}
	if _, err := ann.accounts().GetAccount(ctxT(t), connect.NewRequest(&stichv1.GetAccountRequest{})); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("browser session of a disabled account: %v", err)
	}
	wantCode(t, newBrowser(t, ts.url).signIn(t, "ann@example.com", "ann password"), connect.CodePermissionDenied, "disabled")
	// A wrong password says nothing about the account being disabled.
	wantCode(t, newBrowser(t, ts.url).signIn(t, "ann@example.com", "wrong password"), connect.CodeUnauthenticated, "wrong e-mail or password")
	_, err = admin.SetUserDisabled(ctxT(t), connect.NewRequest(&stichv1.SetUserDisabledRequest{UserId: OwnerID, Disabled: true}))
	wantCode(t, err, connect.CodeFailedPrecondition, "your own account")

	flushAudit(t, ts)
	evs := clusterEvents(t, ts, &stichv1.ListAuditEventsRequest{User: annID})
	if e := find(evs, audit.AccountDisabled, ""); e == nil || e.GetActorId() != OwnerID {
		t.Errorf("no account_disabled by the owner in %v", kinds(evs))
	}
	if e := find(evs, audit.SignInFailed, "password"); e == nil || e.GetDetail() != "wrong password" {
		t.Errorf("newest failed sign-in %v", e)
	}
	disabledSignIn, disabledKey := false, false
	for _, e := range evs {
		disabledSignIn = disabledSignIn || (e.GetKind() == audit.SignInFailed && e.GetDetail() == "the account is disabled")
		disabledKey = disabledKey || (e.GetKind() == audit.CredentialsRefused && strings.Contains(e.GetDetail(), "disabled account"))
	}
	if !disabledSignIn || !disabledKey {
		t.Errorf("refusals of the disabled account not audited (sign-in %v, key %v): %v", disabledSignIn, disabledKey, kinds(evs))
	}
	waitFor(t, "ann disabled in the users list", func() bool {
		us := list(&stichv1.ListUsersRequest{Query: "ann@"}).GetUsers()
		return len(us) == 1 && us[0].GetDisabled()
	})

	if _, err := admin.SetUserDisabled(ctxT(t), connect.NewRequest(&stichv1.SetUserDisabledRequest{UserId: annID, Disabled: false})); err != nil {
		t.Fatal(err)
	}
	if _, err := bearer.GetAccount(ctxT(t), connect.NewRequest(&stichv1.GetAccountRequest{})); err != nil {
		t.Fatalf("API key after enabling: %v", err)
	}
	if err := newBrowser(t, ts.url).signIn(t, "ann@example.com", "ann password"); err != nil {
		t.Fatalf("sign-in after enabling: %v", err)
	}
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
