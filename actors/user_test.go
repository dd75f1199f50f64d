package actors

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stichdev/stich/cluster"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// TestUserGrain: a user is made once, its keys are checked by id and
// hash (expired ones refused), revoked, and all of it survives a restart.
func TestUserGrain(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	start := func() *Runtime {
		cfg := cluster.DefaultLocalConfig()
		cfg.Name, cfg.DataDir = "users", dir
		rt, err := Start(context.Background(), Config{Cluster: cfg, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		return rt
	}
	rt := start()
	hash := func(c byte) string { return strings.Repeat(string(c), 64) }
	code := func(err error) actorsv1.ErrorCode {
		var ae *Error
		if errors.As(err, &ae) {
			return ae.Code
		}
		return -1
	}
	if _, err := Call[*actorsv1.UserReply](ctxT(t), rt.Node, KindUser, "ann", &actorsv1.GetUser{}); code(err) != actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND {
		t.Fatalf("unknown user: %v", err)
	}
	if _, err := Call[*actorsv1.UserReply](ctxT(t), rt.Node, KindUser, "ann", &actorsv1.AddAPIKey{Key: &actorsv1.APIKeyRecord{Id: "0123456789abcdef", Hash: hash('a')}}); code(err) != actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND {
		t.Fatalf("key of an unknown user: %v", err)
	}
	u, err := EnsureUser(ctxT(t), rt.Node, "ann", &actorsv1.UserRecord{Email: "ann@example.com", Role: actorsv1.UserRole_USER_ROLE_ADMIN})
	if err != nil || u.GetId() != "ann" || u.GetRole() != actorsv1.UserRole_USER_ROLE_ADMIN {
		t.Fatalf("ensure: %v %v", u, err)
	}
	// A second EnsureUser does not overwrite.
	if u, _ := EnsureUser(ctxT(t), rt.Node, "ann", &actorsv1.UserRecord{Email: "other@example.com"}); u.GetEmail() != "ann@example.com" {
		t.Fatalf("ensure overwrote: %v", u)
	}
	add := func(rt *Runtime, id, h string, expires time.Time) error {
		k := &actorsv1.APIKeyRecord{Id: id, Hash: h}
		if !expires.IsZero() {
			k.ExpiresAt = timestamppb.New(expires)
		}
		_, err := Call[*actorsv1.UserReply](ctxT(t), rt.Node, KindUser, "ann", &actorsv1.AddAPIKey{Key: k})
		return err
	}
	check := func(rt *Runtime, user, id, h string) bool {
		r, err := Call[*actorsv1.CheckAPIKeyReply](ctxT(t), rt.Node, KindUser, user, &actorsv1.CheckAPIKey{KeyId: id, Hash: h})
		if user == "bob" && code(err) == actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND {
			return false // an unknown user: refused without an activation
		}
		if err != nil {
			t.Fatal(err)
		}
		return r.GetValid() && r.GetRole() == actorsv1.UserRole_USER_ROLE_ADMIN
	}
	if err := add(rt, "short", hash('a'), time.Time{}); code(err) != actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT {
		t.Fatalf("bad key: %v", err)
	}
	if err := add(rt, "0123456789abcdef", hash('a'), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := add(rt, "fedcba9876543210", hash('b'), clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if !check(rt, "ann", "0123456789abcdef", hash('a')) || !check(rt, "ann", "fedcba9876543210", hash('b')) {
		t.Fatal("live keys refused")
	}
	for _, c := range [][3]string{{"ann", "0123456789abcdef", hash('b')}, {"ann", "fedcba9876543210", hash('a')}, {"bob", "0123456789abcdef", hash('a')}} {
		if check(rt, c[0], c[1], c[2]) {
			t.Fatalf("accepted %v", c)
		}
	}
	if err := rt.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	rt = start() // durable
	defer rt.Shutdown(context.Background())
	if !check(rt, "ann", "0123456789abcdef", hash('a')) {
		t.Fatal("key lost in a restart")
	}
	clock.Add(2 * time.Hour)
	if check(rt, "ann", "fedcba9876543210", hash('b')) {
		t.Fatal("expired key accepted")
	}
	if _, err := Call[*actorsv1.UserReply](ctxT(t), rt.Node, KindUser, "ann", &actorsv1.RevokeAPIKey{KeyId: "0123456789abcdef"}); err != nil {
		t.Fatal(err)
	}
	if check(rt, "ann", "0123456789abcdef", hash('a')) {
		t.Fatal("revoked key accepted")
	}
	if _, err := Call[*actorsv1.UserReply](ctxT(t), rt.Node, KindUser, "ann", &actorsv1.RevokeAPIKey{KeyId: "0123456789abcdef"}); code(err) != actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND {
		t.Fatalf("revoke twice: %v", err)
	}
}

// TestDirectoryGrain: an e-mail is claimed by one user at a time (case and
// spaces do not make a second entry), released only by its holder, and
// durable.
func TestDirectoryGrain(t *testing.T) {
	cfg := cluster.DefaultLocalConfig()
	cfg.Name, cfg.DataDir = "dir", t.TempDir()
	rt, err := Start(context.Background(), Config{Cluster: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Shutdown(context.Background())
	id := DirectoryID("  Ann@Example.COM ")
	if id != "ann@example.com" {
		t.Fatalf("directory id %q", id)
	}
	call := func(msg interface{ ProtoMessage() }) (*actorsv1.DirectoryReply, error) {
		return Call[*actorsv1.DirectoryReply](ctxT(t), rt.Node, KindDirectory, id, msg.(proto.Message))
	}
	if _, err := call(&actorsv1.LookupEmail{}); err == nil {
		t.Fatal("a free e-mail was found")
	}
	if r, err := call(&actorsv1.ClaimEmail{UserId: "ann"}); err != nil || !r.GetClaimed() {
		t.Fatalf("claim: %v %v", r, err)
	}
	if r, err := call(&actorsv1.ClaimEmail{UserId: "mallory"}); err != nil || r.GetClaimed() || r.GetUserId() != "ann" {
		t.Fatalf("second claim: %v %v", r, err)
	}
	if _, err := call(&actorsv1.ReleaseEmail{UserId: "mallory"}); err == nil {
		t.Fatal("released by a non-holder")
	}
	if r, err := call(&actorsv1.LookupEmail{}); err != nil || r.GetUserId() != "ann" {
		t.Fatalf("lookup: %v %v", r, err)
	}
	if _, err := call(&actorsv1.ReleaseEmail{UserId: "ann"}); err != nil {
		t.Fatal(err)
	}
	if r, err := call(&actorsv1.ClaimEmail{UserId: "bob"}); err != nil || !r.GetClaimed() {
		t.Fatalf("claim after release: %v %v", r, err)
	}
}

// TestLinkAuthMethod: the user grain links an outside identity to the
// account of the e-mail it vouches for, once, marking the e-mail verified;
// it refuses an account with a password and an unverified e-mail (a
// pre-account hijack), another address, and a missing user.
func TestLinkAuthMethod(t *testing.T) {
	cfg := cluster.DefaultLocalConfig()
	cfg.Name, cfg.DataDir = "link", t.TempDir()
	rt, err := Start(context.Background(), Config{Cluster: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Shutdown(context.Background())
	link := func(user, provider, subject, email string) (*actorsv1.UserRecord, actorsv1.ErrorCode) {
		r, err := Call[*actorsv1.UserReply](ctxT(t), rt.Node, KindUser, user, &actorsv1.LinkAuthMethod{
			Method: &actorsv1.AuthMethod{Provider: provider, Subject: subject, Email: email}})
		var ae *Error
		if errors.As(err, &ae) {
			return nil, ae.Code
		}
		if err != nil {
			t.Fatal(err)
		}
		return r.GetUser(), 0
	}
	const precondition = actorsv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION
	if _, code := link("nobody", "github", "1", "a@example.com"); code != actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND {
		t.Fatalf("missing user: %v", code)
	}
	// A squatter's account: a password, the e-mail unverified.
	if _, err := EnsureUser(ctxT(t), rt.Node, "sq", &actorsv1.UserRecord{Email: "vic@example.com", PasswordHash: "$argon2id$x"}); err != nil {
		t.Fatal(err)
	}
	if _, code := link("sq", "github", "9", "VIC@example.com"); code != precondition {
		t.Fatalf("pre-account hijack: %v", code)
	}
	// A verified account links, once per identity, and keeps its e-mail.
	if _, err := EnsureUser(ctxT(t), rt.Node, "ann", &actorsv1.UserRecord{Email: "ann@example.com", PasswordHash: "$argon2id$x", EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		u, code := link("ann", "github", "1", "Ann@Example.com")
		if code != 0 || len(u.GetAuthMethods()) != 1 || u.GetAuthMethods()[0].GetLinkedAt() == nil || u.GetEmail() != "ann@example.com" {
			t.Fatalf("link %d: %v %v", i, u, code)
		}
	}
	if _, code := link("ann", "google", "g1", "other@example.com"); code != precondition {
		t.Fatalf("another address: %v", code)
	}
	// A linked identity signs in after its e-mail changed at the provider.
	if u, code := link("ann", "github", "1", "ann@new.example"); code != 0 || len(u.GetAuthMethods()) != 1 {
		t.Fatalf("known identity, new e-mail: %v %v", u, code)
	}
	// An account with no password and no e-mail (the single owner) takes
	// the vouched address, verified.
	if _, err := EnsureUser(ctxT(t), rt.Node, "owner", &actorsv1.UserRecord{Role: actorsv1.UserRole_USER_ROLE_ADMIN}); err != nil {
		t.Fatal(err)
	}
	if u, code := link("owner", "oidc", "s", "o@example.com"); code != 0 || u.GetEmail() != "o@example.com" || !u.GetEmailVerified() {
		t.Fatalf("owner: %v %v", u, code)
	}
	if _, code := link("owner", "", "s", "o@example.com"); code != actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT {
		t.Fatalf("no provider: %v", code)
	}
}
