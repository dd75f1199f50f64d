package actors

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stichdev/stich/codegen"
	"github.com/stichdev/stich/nodekey"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// untilOK waits until cond returns nil (see pollFor), and fails the test
// with cond's last error after a minute.
func untilOK(t *testing.T, cond func() error) {
	t.Helper()
	if err := pollFor(time.Minute, cond); err != nil {
		t.Fatal(err)
	}
}

// A rotation re-seals every stored model key, not only those of users who
// come back: the node started with the new key first walks every user.
// Then the old key is dropped and every user's every key still opens,
// though no user's grain was used in between.
func TestModelKeyRotationResealsEveryKey(t *testing.T) {
	dir := t.TempDir()
	gen := func(id string) nodekey.Key {
		k, err := nodekey.Generate(id)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k1, k2 := gen("k1"), gen("k2")
	start := func(keys ...nodekey.Key) *Runtime {
		ring, err := nodekey.New(keys...)
		if err != nil {
			t.Fatal(err)
		}
		return startRuntimeConfig(t, dir, newFake(), Config{NodeKeys: ring, BudgetClock: budgetNoon,
			OwnKeyProvider: func(OwnModelKey) (codegen.Provider, error) { return newFake(), nil }})
	}
	const users = 6
	secret := func(u, k int) string { return fmt.Sprintf("sk-user%d-key%d-SECRET", u, k) }
	keyID := func(k int) string { return fmt.Sprintf("%016x", k+1) }

	rt := start(k1)
	for u := range users {
		id := fmt.Sprintf("u-%d", u)
		if _, err := EnsureUser(ctxT(t), rt.Node, id, &actorsv1.UserRecord{Email: id + "@example.com"}); err != nil {
			t.Fatal(err)
		}
		for k := range 2 {
			setModelKey(t, rt, id, keyID(k), secret(u, k), false)
		}
	}
	// The users index is told in the background: wait until it lists all.
	untilOK(t, func() error {
		r, err := ListUsers(ctxT(t), rt.Node, &actorsv1.ListUserEntries{})
		if err != nil || r.GetTotal() != users {
			return fmt.Errorf("users index: %d users, %v", r.GetTotal(), err)
		}
		return nil
	})
	if _, ok := rt.LastModelKeyReseal(); ok {
		t.Fatal("a node with one key walked the users")
	}
	rt.Shutdown(context.Background())

	// Rotated: k2 current, k1 kept to open. The startup walk re-seals.
	rt = start(k2, k1)
	var rep ResealReport
	untilOK(t, func() error {
		var ok bool
		if rep, ok = rt.LastModelKeyReseal(); !ok {
			return fmt.Errorf("the re-seal walk has not finished")
		}
		return nil
	})
	if rep.Users != users || rep.Resealed+rep.Current != 2*users || rep.Failed != 0 {
		t.Fatalf("walk report %+v, want %d users, %d keys, none failed", rep, users, 2*users)
	}
	again, err := rt.ResealModelKeys(ctxT(t))
	if err != nil || again.Current != 2*users || again.Resealed != 0 || again.Failed != 0 {
		t.Fatalf("a second walk: %+v, %v; want every key current", again, err)
	}
	rt.Shutdown(context.Background())

	// The old key dropped: every user's every key opens under k2 alone.
	rt = start(k2)
	for u := range users {
		id := fmt.Sprintf("u-%d", u)
		r, err := Call[*actorsv1.UserReply](ctxT(t), rt.Node, KindUser, id, &actorsv1.GetUser{})
		if err != nil {
			t.Fatal(err)
		}
		keys := r.GetUser().GetModelKeys()
		if len(keys) != 2 {
			t.Fatalf("%s has %d model keys, want 2", id, len(keys))
		}
		for k, rec := range keys {
			if rec.GetNodeKeyId() != "k2" {
				t.Errorf("%s key %d still sealed under %q", id, k, rec.GetNodeKeyId())
			}
			got, err := rt.OpenModelKey(id, rec)
			if err != nil || got.APIKey != secret(u, k) {
				t.Errorf("%s key %d after dropping k1: %v", id, k, err)
			}
		}
	}
}

// A user keeps several model keys: the first is the default until another
// is made default; the key of the same id is replaced; removing the
// default makes the oldest left the default; an unknown id is NOT_FOUND;
// an empty id removes them all. A record of before (one model_key) reads
// as one default key.
func TestSeveralModelKeys(t *testing.T) {
	dir := t.TempDir()
	ring, err := nodekey.New(func() nodekey.Key { k, _ := nodekey.Generate("k1"); return k }())
	if err != nil {
		t.Fatal(err)
	}
	start := func() *Runtime {
		return startRuntimeConfig(t, dir, newFake(), Config{NodeKeys: ring, BudgetClock: budgetNoon,
			OwnKeyProvider: func(OwnModelKey) (codegen.Provider, error) { return newFake(), nil }})
	}
	rt := start()
	if _, err := EnsureUser(ctxT(t), rt.Node, "u-a", &actorsv1.UserRecord{}); err != nil {
		t.Fatal(err)
	}
	const a, b, c = "000000000000000a", "000000000000000b", "000000000000000c"
	def := func(u *actorsv1.UserRecord) string { return DefaultModelKey(u).GetId() }
	if u := setModelKey(t, rt, "u-a", a, "sk-aaaa-1111", false); def(u) != a {
		t.Fatalf("first key not the default: %q", def(u))
	}
	if u := setModelKey(t, rt, "u-a", b, "sk-bbbb-2222", false); def(u) != a || len(u.GetModelKeys()) != 2 {
		t.Fatalf("second key: default %q, %d keys", def(u), len(u.GetModelKeys()))
	}
	if u := setModelKey(t, rt, "u-a", c, "sk-cccc-3333", true); def(u) != c {
		t.Fatalf("make_default: default %q", def(u))
	}
	if u := setModelKey(t, rt, "u-a", b, "sk-bbbb-4444", false); len(u.GetModelKeys()) != 3 || u.GetModelKeys()[1].GetLast4() != "4444" {
		t.Fatalf("replace by id: %v", u.GetModelKeys())
	}
	r, err := Call[*actorsv1.UserReply](ctxT(t), rt.Node, KindUser, "u-a", &actorsv1.SetDefaultModelKey{Id: b})
	if err != nil || def(r.GetUser()) != b {
		t.Fatalf("SetDefaultModelKey: %v %q", err, def(r.GetUser()))
	}
	if _, err := Call[*actorsv1.UserReply](ctxT(t), rt.Node, KindUser, "u-a", &actorsv1.SetDefaultModelKey{Id: "ffffffffffffffff"}); !IsNotFound(err) {
		t.Fatalf("default of an unknown key: %v", err)
	}
	if _, err := Call[*actorsv1.UserReply](ctxT(t), rt.Node, KindUser, "u-a", &actorsv1.ClearModelKey{Id: "ffffffffffffffff"}); !IsNotFound(err) {
		t.Fatalf("remove an unknown key: %v", err)
	}
	r, err = Call[*actorsv1.UserReply](ctxT(t), rt.Node, KindUser, "u-a", &actorsv1.ClearModelKey{Id: b})
	if err != nil || len(r.GetUser().GetModelKeys()) != 2 || def(r.GetUser()) != a {
		t.Fatalf("remove the default: %v, %d keys, default %q", err, len(r.GetUser().GetModelKeys()), def(r.GetUser()))
	}
	sp, err := Call[*actorsv1.ModelSpendReply](ctxT(t), rt.Node, KindUser, "u-a", &actorsv1.GetModelSpend{Day: 1})
	if err != nil || !sp.GetOwnKey() {
		t.Fatalf("own key with keys left: %v %v", sp.GetOwnKey(), err)
	}
	r, err = Call[*actorsv1.UserReply](ctxT(t), rt.Node, KindUser, "u-a", &actorsv1.ClearModelKey{})
	if err != nil || len(r.GetUser().GetModelKeys()) != 0 || DefaultModelKey(r.GetUser()) != nil {
		t.Fatalf("remove all: %v, %d keys", err, len(r.GetUser().GetModelKeys()))
	}
	sp, err = Call[*actorsv1.ModelSpendReply](ctxT(t), rt.Node, KindUser, "u-a", &actorsv1.GetModelSpend{Day: 1})
	if err != nil || sp.GetOwnKey() {
		t.Fatalf("own key with none left: %v %v", sp.GetOwnKey(), err)
	}

	// A record written before several keys: its one key is the default.
	nk, sealed, err := rt.SealModelKey("u-old", "sk-legacy-9999")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureUser(ctxT(t), rt.Node, "u-old", &actorsv1.UserRecord{ModelKey: &actorsv1.ModelKeyRecord{
		BaseUrl: "https://models.example/v1", Model: "m", NodeKeyId: nk, Sealed: sealed, Last4: "9999"}}); err != nil {
		t.Fatal(err)
	}
	rt.Shutdown(context.Background())
	rt = start()
	r, err = Call[*actorsv1.UserReply](ctxT(t), rt.Node, KindUser, "u-old", &actorsv1.GetUser{})
	if err != nil {
		t.Fatal(err)
	}
	k := DefaultModelKey(r.GetUser())
	if k == nil || len(r.GetUser().GetModelKeys()) != 1 || r.GetUser().GetModelKey() != nil {
		t.Fatalf("legacy key not moved: %v", r.GetUser())
	}
	if got, err := rt.OpenModelKey("u-old", k); err != nil || got.APIKey != "sk-legacy-9999" {
		t.Fatalf("legacy key: %v", err)
	}
}
