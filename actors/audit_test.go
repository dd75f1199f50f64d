package actors

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stichdev/stich/audit"
	"github.com/stichdev/stich/cluster"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// startAt starts a one-node runtime with its data in dir.
func startAt(t *testing.T, dir, name string, clock *fakeClock) *Runtime {
	t.Helper()
	cfg := cluster.DefaultLocalConfig()
	cfg.Name, cfg.DataDir = name, dir
	rt, err := Start(context.Background(), Config{Cluster: cfg, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

func kindsOf(es []*actorsv1.AuditEvent) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.GetKind()+":"+e.GetUserId())
	}
	return out
}

// TestAuditRecorder: events recorded on a node reach the user's log and
// the cluster log, are listed newest first and filtered, survive a
// restart, and a shutdown writes what is still queued.
func TestAuditRecorder(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	rt := startAt(t, dir, "audit", clock)
	rt.Audit(&actorsv1.AuditEvent{Kind: audit.SignIn, UserId: "ann", Email: "ann@example.com", Client: "10.0.0.1", Method: "password"})
	rt.Audit(&actorsv1.AuditEvent{Kind: audit.SignInFailed, Email: "nobody@example.com", Client: "10.0.0.2", Method: "password"})
	rt.Audit(&actorsv1.AuditEvent{Kind: audit.KeyCreated, UserId: "bob", Client: "10.0.0.3", Detail: "key 0123456789abcdef (ci)"})
	if err := rt.FlushAudit(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	ann, err := ListAudit(ctxT(t), rt.Node, "ann", &actorsv1.ListAudit{})
	if err != nil || !slices.Equal(kindsOf(ann.GetEvents()), []string{"sign_in:ann"}) {
		t.Fatalf("ann's log: %v %v", kindsOf(ann.GetEvents()), err)
	}
	if e := ann.GetEvents()[0]; e.GetClient() != "10.0.0.1" || e.GetMethod() != "password" || !e.GetAt().AsTime().Equal(clock.Now()) || e.GetCount() != 1 {
		t.Fatalf("event %v", e)
	}
	if r, err := ListAudit(ctxT(t), rt.Node, "carol", &actorsv1.ListAudit{}); err != nil || len(r.GetEvents()) != 0 {
		t.Fatalf("a log never written: %v %v", r, err)
	}
	all, err := ListAudit(ctxT(t), rt.Node, AuditCluster, &actorsv1.ListAudit{})
	if err != nil || !slices.Equal(kindsOf(all.GetEvents()), []string{"key_created:bob", "sign_in_failed:", "sign_in:ann"}) {
		t.Fatalf("cluster log: %v %v", kindsOf(all.GetEvents()), err)
	}
	byEmail, err := ListAudit(ctxT(t), rt.Node, AuditCluster, &actorsv1.ListAudit{Email: "NOBODY@example.com"})
	if err != nil || !slices.Equal(kindsOf(byEmail.GetEvents()), []string{"sign_in_failed:"}) {
		t.Fatalf("by e-mail: %v %v", kindsOf(byEmail.GetEvents()), err)
	}
	page, err := ListAudit(ctxT(t), rt.Node, AuditCluster, &actorsv1.ListAudit{Limit: 2})
	if err != nil || len(page.GetEvents()) != 2 || page.GetNextBeforeSeq() == 0 {
		t.Fatalf("page 1: %v %v", page, err)
	}
	page, err = ListAudit(ctxT(t), rt.Node, AuditCluster, &actorsv1.ListAudit{Limit: 2, BeforeSeq: page.GetNextBeforeSeq()})
	if err != nil || !slices.Equal(kindsOf(page.GetEvents()), []string{"sign_in:ann"}) || page.GetNextBeforeSeq() != 0 {
		t.Fatalf("page 2: %v %v", page, err)
	}
	// Queued at shutdown: written before the node stops.
	rt.Audit(&actorsv1.AuditEvent{Kind: audit.KeyRevoked, UserId: "ann", Detail: "key 0123456789abcdef"})
	if err := rt.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := rt.FlushAudit(ctxT(t)); err == nil {
		t.Fatal("flush after shutdown: want an error")
	}
	rt.Audit(&actorsv1.AuditEvent{Kind: audit.SignIn, UserId: "ann"}) // after shutdown: logged, not recorded, no panic
	rt = startAt(t, dir, "audit", clock)
	defer rt.Shutdown(context.Background())
	ann, err = ListAudit(ctxT(t), rt.Node, "ann", &actorsv1.ListAudit{})
	if err != nil || !slices.Equal(kindsOf(ann.GetEvents()), []string{"key_revoked:ann", "sign_in:ann"}) {
		t.Fatalf("ann's log after restart: %v %v", kindsOf(ann.GetEvents()), err)
	}
}

// TestAuditLogBounded: a user's log keeps its last audit.UserLogMax
// events, a flood of identical events takes one line, and the bound holds
// across a restart (the dropped events are deleted from storage).
func TestAuditLogBounded(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	rt := startAt(t, dir, "auditmax", clock)
	total := audit.UserLogMax + 30
	for i := range total {
		// Distinct clients: nothing merges.
		rt.Audit(&actorsv1.AuditEvent{Kind: audit.SignInFailed, UserId: "ann", Client: fmt.Sprint("c", i)})
	}
	for range 500 {
		rt.Audit(&actorsv1.AuditEvent{Kind: audit.CredentialsRefused, UserId: "ann", Client: "flood"})
	}
	if err := rt.FlushAudit(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	read := func(rt *Runtime) []*actorsv1.AuditEvent {
		var out []*actorsv1.AuditEvent
		var before uint64
		for {
			r, err := ListAudit(ctxT(t), rt.Node, "ann", &actorsv1.ListAudit{BeforeSeq: before, Limit: audit.MaxPage})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, r.GetEvents()...)
			if before = r.GetNextBeforeSeq(); before == 0 {
				return out
			}
		}
	}
	check := func(rt *Runtime) {
		t.Helper()
		got := read(rt)
		if len(got) != audit.UserLogMax {
			t.Fatalf("log holds %d events, want %d", len(got), audit.UserLogMax)
		}
		if got[0].GetKind() != audit.CredentialsRefused || got[0].GetCount() != 500 {
			t.Fatalf("newest %v: want the flood as one event of count 500", got[0])
		}
		if want := fmt.Sprint("c", total-1); got[1].GetClient() != want {
			t.Fatalf("second newest from %s, want %s", got[1].GetClient(), want)
		}
		if want := fmt.Sprint("c", total-audit.UserLogMax+1); got[len(got)-1].GetClient() != want {
			t.Fatalf("oldest kept from %s, want %s", got[len(got)-1].GetClient(), want)
		}
	}
	check(rt)
	rt.Shutdown(context.Background())
	rt = startAt(t, dir, "auditmax", clock)
	defer rt.Shutdown(context.Background())
	check(rt)
}

// TestUsersIndexAndDisabled: users appear in the index with what the
// admin page shows; a disabled user's keys are refused (and said to be
// of a disabled account), no key is added, and enabling restores them.
func TestUsersIndexAndDisabled(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	rt := startAt(t, t.TempDir(), "usersidx", clock)
	defer rt.Shutdown(context.Background())
	for i, id := range []string{"ann", "bob", "carol"} {
		clock.Add(time.Minute)
		if _, err := EnsureUser(ctxT(t), rt.Node, id, &actorsv1.UserRecord{Email: id + "@example.com", EmailVerified: i != 2}); err != nil {
			t.Fatal(err)
		}
	}
	hash := strings.Repeat("a", 64)
	key := &actorsv1.APIKeyRecord{Id: "0123456789abcdef", Hash: hash, Browser: true}
	if _, err := Call[*actorsv1.UserReply](ctxT(t), rt.Node, KindUser, "bob", &actorsv1.AddAPIKey{Key: key}); err != nil {
		t.Fatal(err)
	}
	list := func(req *actorsv1.ListUserEntries) *actorsv1.ListUserEntriesReply {
		t.Helper()
		r, err := ListUsers(ctxT(t), rt.Node, req)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	ids := func(r *actorsv1.ListUserEntriesReply) string {
		var s []string
		for _, e := range r.GetEntries() {
			s = append(s, e.GetUserId())
		}
		return strings.Join(s, ",")
	}
	// Reports are asynchronous: poll until bob's sign-in shows.
	waitUntil(t, "bob's sign-in in the index", func() bool {
		r := list(&actorsv1.ListUserEntries{})
		return ids(r) == "carol,bob,ann" && r.GetEntries()[1].GetLastSignInAt() != nil
	})
	r := list(&actorsv1.ListUserEntries{Limit: 2})
	if ids(r) != "carol,bob" || !r.GetMore() || r.GetTotal() != 3 || r.GetEntries()[0].GetEmailVerified() {
		t.Fatalf("page 1: %v", r)
	}
	last := r.GetEntries()[1]
	if r := list(&actorsv1.ListUserEntries{Limit: 2, AfterCreatedAt: last.GetCreatedAt(), AfterUserId: last.GetUserId()}); ids(r) != "ann" || r.GetMore() {
		t.Fatalf("page 2: %v", r)
	}
	if r := list(&actorsv1.ListUserEntries{Query: "BOB@"}); ids(r) != "bob" || r.GetTotal() != 1 {
		t.Fatalf("query: %v", r)
	}

	checkKey := func() *actorsv1.CheckAPIKeyReply {
		r, err := Call[*actorsv1.CheckAPIKeyReply](ctxT(t), rt.Node, KindUser, "bob", &actorsv1.CheckAPIKey{KeyId: key.Id, Hash: hash})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := checkKey(); !r.GetValid() || r.GetDisabled() {
		t.Fatalf("live key: %v", r)
	}
	if _, err := Call[*actorsv1.UserReply](ctxT(t), rt.Node, KindUser, "bob", &actorsv1.SetUserDisabled{Disabled: true}); err != nil {
		t.Fatal(err)
	}
	if r := checkKey(); r.GetValid() || !r.GetDisabled() {
		t.Fatalf("key of a disabled account: %v", r)
	}
	// A wrong key of a disabled account says nothing about the account.
	if r, _ := Call[*actorsv1.CheckAPIKeyReply](ctxT(t), rt.Node, KindUser, "bob", &actorsv1.CheckAPIKey{KeyId: key.Id, Hash: strings.Repeat("b", 64)}); r.GetValid() || r.GetDisabled() {
		t.Fatalf("wrong key of a disabled account: %v", r)
	}
	_, err := Call[*actorsv1.UserReply](ctxT(t), rt.Node, KindUser, "bob", &actorsv1.AddAPIKey{Key: &actorsv1.APIKeyRecord{Id: "fedcba9876543210", Hash: hash}})
	if e, ok := err.(*Error); !ok || e.Code != actorsv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION {
		t.Fatalf("key for a disabled account: %v", err)
	}
	waitUntil(t, "bob disabled in the index", func() bool {
		r := list(&actorsv1.ListUserEntries{Query: "bob"})
		return len(r.GetEntries()) == 1 && r.GetEntries()[0].GetDisabled()
	})
	if _, err := Call[*actorsv1.UserReply](ctxT(t), rt.Node, KindUser, "bob", &actorsv1.SetUserDisabled{Disabled: false}); err != nil {
		t.Fatal(err)
	}
	if r := checkKey(); !r.GetValid() {
		t.Fatalf("key after enabling: %v", r)
	}
	if _, err := Call[*actorsv1.UserReply](ctxT(t), rt.Node, KindUser, "nobody", &actorsv1.SetUserDisabled{Disabled: true}); !IsNotFound(err) {
		t.Fatalf("disable an unknown user: %v", err)
	}
}

// waitUntil polls cond until it holds or a generous deadline passes.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
