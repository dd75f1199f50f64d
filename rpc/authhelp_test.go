package rpc

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/auth"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// testTokens maps a test server's host:port to its owner's API key, so
// that [testHTTP] (and ts.h2) call every test server as its owner.
var testTokens sync.Map

// bearerTransport adds the API key of the server a request goes to (from
// testTokens), or a fixed token when set.
type bearerTransport struct {
	base  http.RoundTripper
	token string
}

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	token := b.token
	if token == "" {
		if v, ok := testTokens.Load(r.URL.Host); ok {
			token = v.(string)
		}
	}
	if token != "" && r.Header.Get("Authorization") == "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+token)
	}
	base := b.base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}

// testHTTP is http.DefaultClient signed in as the owner of whichever test
// server it calls.
var testHTTP = &http.Client{Transport: bearerTransport{}}

// signInOwner makes the single owner (admin) of ts and registers its key.
func signInOwner(t testing.TB, srv *Server) string {
	t.Helper()
	token, err := srv.EnsureUser(context.Background(), OwnerID, auth.RoleAdmin, "test owner")
	if err != nil {
		t.Fatal(err)
	}
	testTokens.Store(srv.Addr(), token)
	t.Cleanup(func() { testTokens.Delete(srv.Addr()) })
	return token
}

// clientAs returns an HTTP client signed in as a new user id with role.
func clientAs(t testing.TB, srv *Server, id string, role auth.Role) *http.Client {
	t.Helper()
	token, err := srv.EnsureUser(context.Background(), id, role, "test user")
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: bearerTransport{token: token}}
}

// actorsCallRevoke revokes key k in its user grain.
func actorsCallRevoke(t testing.TB, ts *testServer, k auth.APIKey) (*actorsv1.UserReply, error) {
	t.Helper()
	return actors.Call[*actorsv1.UserReply](context.Background(), ts.rt.Node, actors.KindUser, k.UserID, &actorsv1.RevokeAPIKey{KeyId: k.KeyID})
}
