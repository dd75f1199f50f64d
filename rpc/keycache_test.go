package rpc

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/auth"
	"github.com/stichdev/stich/cluster"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	"github.com/stichdev/stich/ratelimit"
)

// resolveKey resolves a request carrying token as a bearer key.
func resolveKey(t *testing.T, ts *testServer, token string) (*auth.Principal, error) {
	t.Helper()
	r, _ := http.NewRequest(http.MethodPost, "http://x/stich.v1.AdminService/GetServerInfo", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	p, cerr := ts.srv.auth.resolve(r)
	if cerr != nil {
		return nil, cerr
	}
	return p, nil
}

// TestUnknownUserKeysWakeNoGrain: well-formed keys of users that do not
// exist are refused, and leave no user grain behind (on main each kept one
// in memory for the 5-minute passivation timeout, so a fuzzer stalled); an
// unknown user id is remembered, so its keys do not reach a grain again,
// until a user of that id is made here.
func TestUnknownUserKeysWakeNoGrain(t *testing.T) {
	ts := newTestServer(t, ratelimit.Rule{}, 0)
	clock := &fakeClock{t: time.Now()}
	ts.srv.auth.now = clock.Now
	before := ts.rt.Node.GrainCounts()[actors.KindUser]
	for i := 0; i < 300; i++ {
		token, _, _ := auth.NewAPIKey(fmt.Sprintf("ghost-%d", i))
		if p, err := resolveKey(t, ts, token); p != nil || err == nil {
			t.Fatalf("ghost key %d: %v %v", i, p, err)
		}
	}
	var n int
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if n = ts.rt.Node.GrainCounts()[actors.KindUser]; n <= before {
			break
		}
	}
	if n > before {
		t.Fatalf("%d user grains stay in memory after keys of unknown users (%d before)", n, before)
	}
	// The same unknown user again and again: no grain is asked.
	var asked atomic.Int32
	real := ts.srv.auth.check
	ts.srv.auth.check = func(ctx context.Context, k auth.APIKey) (*actorsv1.CheckAPIKeyReply, error) {
		asked.Add(1)
		return real(ctx, k)
	}
	for i := 0; i < 50; i++ {
		token, _, _ := auth.NewAPIKey("ghost-1")
		if _, err := resolveKey(t, ts, token); err == nil {
			t.Fatal("accepted")
		}
	}
	if n := asked.Load(); n != 0 {
		t.Fatalf("keys of a remembered unknown user asked its grain %d times", n)
	}
	clock.Add(unknownUserTTL)
	token, _, _ := auth.NewAPIKey("ghost-1")
	if _, err := resolveKey(t, ts, token); err == nil || asked.Load() != 1 {
		t.Fatalf("after %s: %v, asked %d times", unknownUserTTL, err, asked.Load())
	}
	// zoe is unknown, then made here: her first key works at once.
	early, _, _ := auth.NewAPIKey("zoe")
	if _, err := resolveKey(t, ts, early); err == nil {
		t.Fatal("a key of an unknown user accepted")
	}
	ts.srv.auth.mu.Lock()
	_, remembered := ts.srv.auth.unknown["zoe"]
	ts.srv.auth.mu.Unlock()
	if !remembered {
		t.Fatal("the unknown user is not remembered")
	}
	token, err := ts.srv.EnsureUser(ctxT(t), "zoe", auth.RoleUser, "test")
	if err != nil {
		t.Fatal(err)
	}
	if p, err := resolveKey(t, ts, token); err != nil || p.UserID != "zoe" {
		t.Fatalf("zoe's key after she was made: %v %v", p, err)
	}
}

// fakeClock is a settable clock for the authenticator.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestStaleKeyFallback: while a key's user grain cannot answer (or answers
// "no such user", as a member that just took it over without a copy does),
// a key verified in the last staleKeyTTL stays accepted; past that, or for
// a key never verified here, the answer is unavailable, not "credentials
// not valid"; a refusal from the grain always wins over the cache.
func TestStaleKeyFallback(t *testing.T) {
	ts := newTestServer(t, ratelimit.Rule{}, 0)
	clock := &fakeClock{t: time.Now()}
	a := ts.srv.auth
	a.now = clock.Now
	token, err := ts.srv.EnsureUser(ctxT(t), "vic", auth.RoleAdmin, "test")
	if err != nil {
		t.Fatal(err)
	}
	other, err := ts.srv.EnsureUser(ctxT(t), "vic", auth.RoleAdmin, "never used")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := resolveKey(t, ts, token); err != nil {
		t.Fatal(err)
	}
	real := a.check
	var mu sync.Mutex
	failWith := error(nil)
	a.check = func(ctx context.Context, k auth.APIKey) (*actorsv1.CheckAPIKeyReply, error) {
		mu.Lock()
		e := failWith
		mu.Unlock()
		if e != nil {
			return nil, e
		}
		return real(ctx, k)
	}
	setFail := func(e error) { mu.Lock(); failWith = e; mu.Unlock() }

	for _, e := range []error{cluster.ErrMoving, &actors.Error{Code: actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND, Message: "user vic does not exist"}} {
		setFail(e)
		clock.Add(keyCacheTTL + time.Second) // past the fresh cache: the grain is asked
		if p, err := resolveKey(t, ts, token); err != nil || p.UserID != "vic" || !p.IsAdmin() {
			t.Fatalf("%v: a recently verified key: %v %v", e, p, err)
		}
	}
	// A key this node never verified is not accepted while the grain is away.
	setFail(cluster.ErrMoving)
	if _, err := resolveKey(t, ts, other); err == nil || !containsCode(err, "unavailable") {
		t.Fatalf("an unverified key while the grain is away: %v", err)
	}
	clock.Add(staleKeyTTL)
	if _, err := resolveKey(t, ts, token); err == nil || !containsCode(err, "unavailable") {
		t.Fatalf("a key verified %s ago: %v", staleKeyTTL, err)
	}
	// Back: verified again; then revoked: the grain's refusal wins.
	setFail(nil)
	if _, err := resolveKey(t, ts, token); err != nil {
		t.Fatal(err)
	}
	k, _ := auth.ParseAPIKey(token)
	if _, err := actorsCallRevoke(t, ts, k); err != nil {
		t.Fatal(err)
	}
	clock.Add(keyCacheTTL + time.Second)
	if _, err := resolveKey(t, ts, token); err == nil || !containsCode(err, "unauthenticated") {
		t.Fatalf("a revoked key: %v", err)
	}
	setFail(cluster.ErrMoving)
	clock.Add(keyCacheTTL + time.Second)
	if _, err := resolveKey(t, ts, token); err == nil {
		t.Fatal("a revoked key accepted from the cache")
	}
}

func containsCode(err error, code string) bool {
	return err != nil && len(err.Error()) >= len(code) && err.Error()[:len(code)] == code
}
