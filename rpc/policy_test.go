package rpc

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/stichdev/stich/auth"
	"github.com/stichdev/stich/auth/oauth/oauthtest"
	"github.com/stichdev/stich/preview"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
	"github.com/stichdev/stich/ratelimit"
)

// mountedProcedures lists every procedure of the services the server
// mounts, from the generated descriptors: a new RPC appears here by itself.
func mountedProcedures() []protoreflect.MethodDescriptor {
	var out []protoreflect.MethodDescriptor
	for _, fd := range []protoreflect.FileDescriptor{stichv1.File_stich_v1_session_proto, stichv1.File_stich_v1_admin_proto, stichv1.File_stich_v1_account_proto} {
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			for j := 0; j < sd.Methods().Len(); j++ {
				out = append(out, sd.Methods().Get(j))
			}
		}
	}
	return out
}

func procedureOf(md protoreflect.MethodDescriptor) string {
	return "/" + string(md.Parent().FullName()) + "/" + string(md.Name())
}

// TestEveryRouteHasAPolicy: every mounted procedure has an access policy,
// and no policy names a procedure that does not exist.
func TestEveryRouteHasAPolicy(t *testing.T) {
	seen := map[string]bool{}
	for _, md := range mountedProcedures() {
		p := procedureOf(md)
		seen[p] = true
		if _, ok := policies[p]; !ok {
			t.Errorf("%s has no entry in policies (rpc/policy.go)", p)
		}
	}
	for p := range policies {
		if !seen[p] {
			t.Errorf("policies names %s, which no service has", p)
		}
	}
}

// callCode calls a procedure with a JSON request over the Connect protocol
// (enveloped for a server stream) and returns the Connect code ("ok" for
// success).
func callCode(t *testing.T, c *http.Client, url string, md protoreflect.MethodDescriptor, body string) string {
	t.Helper()
	ctype, payload := "application/json", []byte(body)
	if md.IsStreamingServer() {
		ctype = "application/connect+json"
		var env bytes.Buffer
		env.WriteByte(0)
		binary.Write(&env, binary.BigEndian, uint32(len(body)))
		env.WriteString(body)
		payload = env.Bytes()
	}
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodPost, url+procedureOf(md), bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var e struct {
		Code  string
		Error *struct{ Code string }
	}
	if res.StatusCode != http.StatusOK {
		if err := json.Unmarshal(b, &e); err != nil || e.Code == "" {
			t.Fatalf("%s: status %d, body %q", procedureOf(md), res.StatusCode, b)
		}
		return e.Code
	}
	if !md.IsStreamingServer() {
		return "ok"
	}
	for len(b) >= 5 {
		flags, n := b[0], binary.BigEndian.Uint32(b[1:5])
		if int(n) > len(b)-5 {
			break
		}
		frame := b[5 : 5+n]
		b = b[5+n:]
		if flags&2 != 0 {
			if err := json.Unmarshal(frame, &e); err != nil {
				t.Fatalf("end of stream: %q", frame)
			}
			if e.Error != nil {
				return e.Error.Code
			}
			return "ok"
		}
	}
	t.Fatalf("%s: stream without an end", procedureOf(md))
	return ""
}

// TestRoleTable calls every RPC and HTTP route as {anonymous, another
// user, the owner of the session, an admin who does not own it} and
// asserts the exact code. A procedure without a row fails the test.
func TestRoleTable(t *testing.T) {
	// --auth multi, so every route is live; the OAuth routes answer with a
	// provider configured (its endpoints are never reached: the start
	// route only redirects to them).
	fake := oauthtest.New(t)
	ts := newTestServerRPC(t, ratelimit.Rule{}, 0, nil, slog.New(slog.DiscardHandler), func(c *Config) {
		c.Accounts = AccountsConfig{Mode: "multi", Mailer: &mailbox{}}
		c.OAuth = OAuthConfig{Providers: oauthProviders(t, fake), SignUp: true}
		c.Previews = preview.Origins{Scheme: "http", Domain: preview.DefaultDomain, Port: "8081"}
	})
	anon := http.DefaultClient
	other := clientAs(t, ts.srv, "bob", auth.RoleUser)
	owner := clientAs(t, ts.srv, "carol", auth.RoleUser)
	admin := testHTTP // OwnerID, the admin
	carol := stichv1connect.NewSessionServiceClient(owner, ts.url)

	// newApp makes an idle session of carol's.
	newApp := func() string {
		t.Helper()
		return createIdle(t, carol, "a todo list")
	}
	shared := newApp()
	// newPublicApp makes an idle public session of carol's.
	newPublicApp := func() string {
		t.Helper()
		id := newApp()
		if _, err := carol.SetVisibility(ctxT(t), connect.NewRequest(&stichv1.SetVisibilityRequest{SessionId: id, Visibility: stichv1.Visibility_VISIBILITY_PUBLIC})); err != nil {
			t.Fatal(err)
		}
		return id
	}
	public := newPublicApp()

	type row struct {
		// body is the request for session id (a fresh one of carol's when
		// fresh is set: the call changes it).
		body                      string
		fresh                     bool
		anon, other, owner, admin string
		// pub is what another user and an admin get for a public app
		// of carol's (rows naming a session only); anonPub what an
		// anonymous caller gets for it (anon when empty).
		pub, anonPub string
	}
	const (
		unauth = "unauthenticated"
		nf     = "not_found"
		denied = "permission_denied"
	)
	ownerOnly := func(body, ownerCode string, fresh bool) row {
		return row{body: body, fresh: fresh, anon: unauth, other: nf, owner: ownerCode, admin: nf, pub: nf}
	}
	// reader: the owner, and others when the app is public.
	reader := func(body string) row {
		return row{body: body, anon: unauth, other: nf, owner: "ok", admin: nf, pub: "ok"}
	}
	// publicReader: reader, and anonymous callers too when the app is
	// public; a private app answers them as before (unauthenticated).
	publicReader := func(body string) row {
		r := reader(body)
		r.anonPub = "ok"
		return r
	}
	adminOnlyRow := func(body, adminCode string) row {
		return row{body: body, anon: unauth, other: denied, owner: denied, admin: adminCode}
	}
	anyUser := row{body: `{}`, anon: unauth, other: "ok", owner: "ok", admin: "ok"}
	anyone := func(body, code string) row { return row{body: body, anon: code, other: code, owner: code, admin: code} }
	forgedToken := `{"token":"u-0123.` + strings.Repeat("A", 43) + `"`
	table := map[string]row{
		// Sign-up answers alike for a new and a known e-mail.
		stichv1connect.AccountServiceSignUpProcedure:               anyone(`{"email":"new@example.com","password":"a password"}`, "ok"),
		stichv1connect.AccountServiceSignInProcedure:               anyone(`{"email":"nobody@example.com","password":"a password"}`, unauth),
		stichv1connect.AccountServiceVerifyEmailProcedure:          anyone(forgedToken+`}`, nf),
		stichv1connect.AccountServiceRequestPasswordResetProcedure: anyone(`{"email":"nobody@example.com"}`, "ok"),
		stichv1connect.AccountServiceResetPasswordProcedure:        anyone(forgedToken+`,"newPassword":"a password"}`, nf),
		stichv1connect.AccountServiceGetAccountProcedure:           anyUser,
		stichv1connect.AccountServiceUpdateProfileProcedure:        {body: `{"displayName":"Me"}`, anon: unauth, other: "ok", owner: "ok", admin: "ok"},
		stichv1connect.AccountServiceListCredentialsProcedure:      anyUser,
		stichv1connect.AccountServiceCreateAPIKeyProcedure:         {body: `{"label":"ci"}`, anon: unauth, other: "ok", owner: "ok", admin: "ok"},
		// A key id the caller does not have.
		stichv1connect.AccountServiceRevokeAPIKeyProcedure:      {body: `{"id":"0123456789abcdef"}`, anon: unauth, other: nf, owner: nf, admin: nf},
		stichv1connect.AccountServiceSignOutEverywhereProcedure: anyUser,
		stichv1connect.AccountServiceCreateInviteProcedure:      adminOnlyRow(`{}`, "ok"),
		stichv1connect.AccountServiceSetUserRoleProcedure:       adminOnlyRow(`{"email":"nobody@example.com","role":"admin"}`, nf),
		stichv1connect.AccountServiceListMyAuditEventsProcedure: anyUser,
		stichv1connect.AccountServiceListAuditEventsProcedure:   adminOnlyRow(`{"user":"bob","kinds":["sign_in"]}`, "ok"),
		stichv1connect.AccountServiceListUsersProcedure:         adminOnlyRow(`{"pageSize":10}`, "ok"),
		// An account that does not exist (disabling a real one would change
		// the other rows).
		stichv1connect.AccountServiceSetUserDisabledProcedure: adminOnlyRow(`{"userId":"nobody","disabled":true}`, nf),
		stichv1connect.AccountServiceSetModelKeyProcedure: {body: `{"baseUrl":"https://models.example/v1","apiKey":"sk-test-0123456789","model":"m-1"}`,
			anon: unauth, other: "ok", owner: "ok", admin: "ok"},
		stichv1connect.AccountServiceClearModelKeyProcedure: anyUser,
		stichv1connect.AccountServiceListModelKeysProcedure: anyUser,
		// No caller has a key of this id (the default of an unknown key).
		stichv1connect.AccountServiceSetDefaultModelKeyProcedure: {body: `{"id":"ffffffffffffffff"}`, anon: unauth, other: nf, owner: nf, admin: nf},

		stichv1connect.AdminServiceGetServerInfoProcedure:    anyUser,
		stichv1connect.AdminServiceGetClusterStatusProcedure: adminOnlyRow(`{}`, "ok"),
		// The test server cannot leave on request: admitted, then unimplemented.
		stichv1connect.AdminServiceLeaveProcedure:        adminOnlyRow(`{}`, "unimplemented"),
		stichv1connect.AdminServiceForgetMemberProcedure: adminOnlyRow(`{"name":"nobody"}`, nf),

		stichv1connect.SessionServiceCreateSessionProcedure: {body: `{"prompt":"a notes app"}`, anon: unauth, other: "ok", owner: "ok", admin: "ok"},
		stichv1connect.SessionServiceListSessionsProcedure:  anyUser,
		stichv1connect.SessionServiceWatchProcedure:         publicReader(`{"sessionId":%q,"untilIdle":true}`),
		stichv1connect.SessionServiceGetSessionProcedure:    publicReader(`{"sessionId":%q}`),
		stichv1connect.SessionServiceGetFileProcedure:       publicReader(`{"sessionId":%q,"path":"package.json"}`),
		stichv1connect.SessionServiceListFilesProcedure:     publicReader(`{"sessionId":%q}`),
		stichv1connect.SessionServiceListVersionsProcedure:  publicReader(`{"sessionId":%q}`),
		stichv1connect.SessionServiceDiffVersionsProcedure:  publicReader(`{"sessionId":%q,"from":1,"to":1}`),
		stichv1connect.SessionServiceSendMessageProcedure:   ownerOnly(`{"sessionId":%q,"text":"add a footer"}`, "ok", true),
		stichv1connect.SessionServiceStopProcedure:          ownerOnly(`{"sessionId":%q}`, "ok", true),
		stichv1connect.SessionServiceResumeProcedure:        ownerOnly(`{"sessionId":%q}`, "ok", true),
		stichv1connect.SessionServiceRollbackProcedure:      ownerOnly(`{"sessionId":%q,"version":1}`, "ok", true),
		stichv1connect.SessionServiceSaveFileProcedure:      ownerOnly(`{"sessionId":%q,"path":"src/extra.ts","content":"export {};\n"}`, "ok", true),
		// The test server runs no builds, so it has no fixer: the owner
		// passes authorization and is told so.
		stichv1connect.SessionServiceFixProblemsProcedure:   ownerOnly(`{"sessionId":%q}`, "failed_precondition", false),
		stichv1connect.SessionServiceRenameSessionProcedure: ownerOnly(`{"sessionId":%q,"title":"Mine"}`, "ok", true),
		stichv1connect.SessionServiceDeleteSessionProcedure: ownerOnly(`{"sessionId":%q}`, "ok", true),
		stichv1connect.SessionServiceSetVisibilityProcedure: ownerOnly(`{"sessionId":%q,"visibility":"VISIBILITY_UNLISTED"}`, "ok", true),
		// The gallery is open to anyone (a visitor browsing public apps).
		stichv1connect.SessionServiceListGalleryProcedure: anyone(`{}`, "ok"),
		// Forking makes a new app of the caller's; the origin is unchanged.
		// Anonymous callers must sign in first, even for a public app.
		stichv1connect.SessionServiceForkSessionProcedure: reader(`{"sessionId":%q}`),
	}
	for _, md := range mountedProcedures() {
		proc := procedureOf(md)
		r, ok := table[proc]
		if !ok {
			t.Errorf("%s: no row in TestRoleTable; add one with the code each caller gets", proc)
			continue
		}
		body := r.body
		if strings.Contains(body, "%q") {
			id := shared
			if r.fresh {
				id = newApp()
			}
			body = fmt.Sprintf(body, id)
		}
		// The callers who must not change anything go first; the owner's
		// call then shows the session is intact.
		for _, c := range []struct {
			who    string
			client *http.Client
			want   string
		}{{"anonymous", anon, r.anon}, {"other user", other, r.other}, {"admin", admin, r.admin}, {"owner", owner, r.owner}} {
			if got := callCode(t, c.client, ts.url, md, body); got != c.want {
				t.Errorf("%s as %s: %s, want %s", proc, c.who, got, c.want)
			}
		}
		// The same call on a public app: others may read it, never change it.
		if !strings.Contains(r.body, "%q") {
			continue
		}
		id := public
		if r.fresh {
			id = newPublicApp()
		}
		body = fmt.Sprintf(r.body, id)
		anonPub := r.anonPub
		if anonPub == "" {
			anonPub = r.anon
		}
		for _, c := range []struct {
			who    string
			client *http.Client
			want   string
		}{{"anonymous", anon, anonPub}, {"other user", other, r.pub}, {"admin", admin, r.pub}, {"owner", owner, r.owner}} {
			if got := callCode(t, c.client, ts.url, md, body); got != c.want {
				t.Errorf("%s on a public app as %s: %s, want %s", proc, c.who, got, c.want)
			}
		}
		// An unknown session answers an anonymous caller exactly as
		// carol's private one does: nothing tells them it exists.
		if !r.fresh {
			body = fmt.Sprintf(r.body, "s-doesnotexist000")
			if got := callCode(t, anon, ts.url, md, body); got != r.anon {
				t.Errorf("%s on an unknown session as anonymous: %s, want %s (as for a private one)", proc, got, r.anon)
			}
		}
	}

	// Plain HTTP routes.
	for _, c := range []struct {
		method, path              string
		anon, other, owner, admin int
	}{
		{"GET", DownloadPath(shared), 401, 404, 200, 404},
		{"GET", DownloadPath("s-doesnotexist000"), 401, 404, 404, 404},
		// A public app downloads for everyone, signed in or not.
		{"GET", DownloadPath(public), 200, 200, 200, 200},
		{"GET", ScreenshotPath(public), 204, 204, 204, 204},
		// No build on the test server: the owner learns there is no
		// screenshot (204); nobody else learns the session exists.
		{"GET", ScreenshotPath(shared), 401, 404, 204, 404},
		{"GET", ScreenshotPath("s-doesnotexist000"), 401, 404, 404, 404},
		// A preview ticket: the owner, and everyone (an anonymous
		// visitor's ticket binds the session alone) for a public app;
		// nobody else learns the session exists.
		{"POST", PreviewTicketPath(shared), 401, 404, 200, 404},
		{"POST", PreviewTicketPath(public), 200, 200, 200, 200},
		{"POST", PreviewTicketPath("s-doesnotexist000"), 401, 404, 404, 404},
		{"GET", PreviewTicketPath(shared), 405, 405, 405, 405},
		// A ticket for the preview of one of the app's versions: as for
		// the app's own, plus 404 for a version it does not have and 400
		// for a malformed version number.
		{"POST", PreviewVersionTicketPath(shared, 1), 401, 404, 200, 404},
		{"POST", PreviewVersionTicketPath(public, 1), 200, 200, 200, 200},
		{"POST", PreviewVersionTicketPath(shared, 99), 401, 404, 404, 404},
		{"POST", PreviewVersionTicketPath(public, 99), 404, 404, 404, 404},
		{"POST", PreviewVersionTicketPath("s-doesnotexist000", 1), 401, 404, 404, 404},
		{"POST", "/api/sessions/" + shared + "/versions/0/preview-ticket", 400, 400, 400, 400},
		{"POST", "/api/sessions/" + shared + "/versions/x/preview-ticket", 400, 400, 400, 400},
		{"GET", PreviewVersionTicketPath(shared, 1), 405, 405, 405, 405},
		{"GET", "/metrics", 401, 403, 403, 200},
		{"GET", "/auth/signin?token=forged", 401, 401, 401, 401},
		{"POST", "/auth/signout", 204, 204, 204, 204},
		{"POST", "/auth/links", 401, 403, 403, 200},
		{"GET", "/auth/providers", 200, 200, 200, 200},
		{"GET", "/auth/oauth/github/start", 302, 302, 302, 302},
		{"GET", "/auth/oauth/oidc/start", 302, 302, 302, 302},
		{"GET", "/auth/oauth/nope/start", 404, 404, 404, 404},
		{"GET", "/auth/oauth/github/callback?code=c&state=forged", 401, 401, 401, 401},
		{"GET", "/auth/oauth/nope/callback?code=c&state=forged", 404, 404, 404, 404},
		{"GET", "/", 200, 200, 200, 200},
	} {
		for _, who := range []struct {
			name   string
			client *http.Client
			want   int
		}{{"anonymous", anon, c.anon}, {"other user", other, c.other}, {"owner", owner, c.owner}, {"admin", admin, c.admin}} {
			req, _ := http.NewRequestWithContext(ctxT(t), c.method, ts.url+c.path, nil)
			// Redirects are answers here, not followed.
			client := *who.client
			client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != who.want {
				t.Errorf("%s %s as %s: %d, want %d", c.method, c.path, who.name, res.StatusCode, who.want)
			}
		}
	}
	// A forged, tampered or revoked key is refused on every route, even
	// one anonymous callers may use.
	tampered := &http.Client{Transport: bearerTransport{token: "stich_carol_0123456789abcdef_" + strings.Repeat("A", 43)}}
	for _, md := range mountedProcedures()[:1] {
		if got := callCode(t, tampered, ts.url, md, `{}`); got != unauth {
			t.Errorf("forged key: %s", got)
		}
	}
	req, _ := http.NewRequest("POST", ts.url+"/auth/signout", nil)
	if res, err := tampered.Do(req); err != nil || res.StatusCode != 401 {
		t.Errorf("forged key on signout: %v %v", res, err)
	}
}
