package actors

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stichdev/stich/appbuild"
	"github.com/stichdev/stich/codegen"
	"github.com/stichdev/stich/internal/testutil"
	"github.com/stichdev/stich/nodekey"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/ratelimit"
)

// costly is the fake provider whose blueprint costs usd.
type costly struct {
	*fakeProvider
	usd float64
}

func (c costly) Blueprint(ctx context.Context, _, prompt string) (*stichv1.Blueprint, error) {
	c.count("blueprint")
	if record := codegen.UsageFrom(ctx); record != nil {
		record("blueprint", "fake/costly", codegen.Usage{PromptTokens: 1000, CompletionTokens: 1000, CostUSD: c.usd, Requests: 1})
	}
	return fakeBlueprint(), nil
}

// budgetNoon pins the budgets' day (and leaves 12 h to its end).
func budgetNoon() time.Time { return time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC) }

// ownKeys records the keys the runtime made providers of.
type ownKeys struct {
	mu   sync.Mutex
	keys []OwnModelKey
	prov codegen.Provider
}

func (o *ownKeys) provider(k OwnModelKey) (codegen.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.keys = append(o.keys, k)
	return o.prov, nil
}

func (o *ownKeys) seen() []OwnModelKey {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]OwnModelKey(nil), o.keys...)
}

func testRing(t *testing.T, ids ...string) *nodekey.Ring {
	t.Helper()
	var keys []nodekey.Key
	for _, id := range ids {
		k, err := nodekey.Generate(id)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	r, err := nodekey.New(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func createFor(t *testing.T, rt *Runtime, user string) string {
	t.Helper()
	id := rt.NewSessionID("")
	if _, err := Call[*actorsv1.CreateSessionReply](ctxT(t), rt.Node, KindSession, id,
		&actorsv1.CreateSession{Caller: UserCaller(user, false), Owner: user, Prompt: "a todo list"}); err != nil {
		t.Fatal(err)
	}
	return id
}

func spend(t *testing.T, rt *Runtime, user string) uint64 {
	t.Helper()
	r, err := Call[*actorsv1.ModelSpendReply](ctxT(t), rt.Node, KindUser, user, &actorsv1.GetModelSpend{Day: Day(budgetNoon())})
	if err != nil {
		t.Fatal(err)
	}
	return r.GetMicroUsd()
}

func setOwnKey(t *testing.T, rt *Runtime, user, key string) {
	t.Helper()
	setModelKey(t, rt, user, "000000000000000a", key, false)
}

// setModelKey stores key as user's model key id.
func setModelKey(t *testing.T, rt *Runtime, user, id, key string, makeDefault bool) *actorsv1.UserRecord {
	t.Helper()
	nk, sealed, err := rt.SealModelKey(user, key)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Call[*actorsv1.UserReply](ctxT(t), rt.Node, KindUser, user, &actorsv1.SetModelKey{Key: &actorsv1.ModelKeyRecord{
		Id: id, BaseUrl: "https://models.example/v1", Model: "m-1", NodeKeyId: nk, Sealed: sealed, Last4: key[len(key)-4:]}, MakeDefault: makeDefault})
	if err != nil {
		t.Fatal(err)
	}
	return r.GetUser()
}

// The platform's model spend is charged to the session owner's day; past
// the daily budget new model work is refused (a clear error, the time to
// the reset) for that user only; a user with their own key is exempt and
// their sessions run on it.
func TestModelBudgetChargedRefusedExempt(t *testing.T) {
	platform := costly{fakeProvider: newFake(), usd: 0.6}
	own := &ownKeys{prov: newFake()}
	rt := startRuntimeConfig(t, "", platform, Config{DailyModelBudgetUSD: 1, BudgetClock: budgetNoon,
		NodeKeys: testRing(t, "k1"), OwnKeyProvider: own.provider})
	for _, u := range []string{"u-alice", "u-bob"} {
		if _, err := EnsureUser(ctxT(t), rt.Node, u, &actorsv1.UserRecord{}); err != nil {
			t.Fatal(err)
		}
	}
	// Charged: 0.6 of 1.0, and the session completes.
	id := createFor(t, rt, "u-alice")
	watchAll(t, rt, id, 0)
	if s := snapshot(t, rt, id); s.GetPhase() != stichv1.Phase_PHASE_COMPLETED {
		t.Fatalf("first session: %v %s", s.GetPhase(), s.GetError())
	}
	testutil.WaitFor(t, time.Minute, func() error {
		if got := spend(t, rt, "u-alice"); got < 600_000 || got >= 1_000_000 {
			return fmt.Errorf("alice spent %d µ$, want 0.6 $ and a little", got)
		}
		return nil
	})
	// More spend today (another session's) passes the budget.
	if _, err := Call[*actorsv1.ModelSpendReply](ctxT(t), rt.Node, KindUser, "u-alice", &actorsv1.ChargeModelSpend{Day: Day(budgetNoon()), MicroUsd: 500_000}); err != nil {
		t.Fatal(err)
	}
	_, err := rt.CheckModelBudget(ctxT(t), "u-alice")
	var ae *Error
	if !errors.As(err, &ae) || ae.Code != actorsv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED || ae.RetryAfter != 12*time.Hour ||
		!strings.Contains(ae.Message, "resets at 00:00 UTC, in 12h0m") {
		t.Fatalf("over budget: %#v", err)
	}
	// Refused: the step fails before any model call.
	calls := platform.Calls("blueprint")
	refused := createFor(t, rt, "u-alice")
	watchAll(t, rt, refused, 0)
	s := snapshot(t, rt, refused)
	if s.GetPhase() != stichv1.Phase_PHASE_FAILED || !strings.Contains(s.GetError(), "daily model budget of $1.00 is used up") {
		t.Fatalf("over budget session: %v %q", s.GetPhase(), s.GetError())
	}
	if platform.Calls("blueprint") != calls {
		t.Fatal("the model was called past the budget")
	}
	// Another user's budget is their own.
	if _, err := rt.CheckModelBudget(ctxT(t), "u-bob"); err != nil {
		t.Fatalf("bob: %v", err)
	}
	// Exempt with an own key: the session resumes on it, nothing charged.
	before := spend(t, rt, "u-alice")
	setOwnKey(t, rt, "u-alice", "sk-alice-own-key-4321")
	if _, err := rt.CheckModelBudget(ctxT(t), "u-alice"); err != nil {
		t.Fatalf("own key is not exempt: %v", err)
	}
	if _, err := Call[*actorsv1.PhaseReply](ctxT(t), rt.Node, KindSession, refused, &actorsv1.ResumeSession{Caller: UserCaller("u-alice", false)}); err != nil {
		t.Fatal(err)
	}
	watchAll(t, rt, refused, s.GetLastSeq())
	if s := snapshot(t, rt, refused); s.GetPhase() != stichv1.Phase_PHASE_COMPLETED {
		t.Fatalf("own-key session: %v %s", s.GetPhase(), s.GetError())
	}
	keys := own.seen()
	if len(keys) == 0 || keys[0].APIKey != "sk-alice-own-key-4321" || keys[0].BaseURL != "https://models.example/v1" || keys[0].Model != "m-1" {
		t.Fatalf("own provider made from %+v", keys)
	}
	if own.prov.(*fakeProvider).Calls("blueprint") != 1 || platform.Calls("blueprint") != calls {
		t.Fatalf("own key: own blueprint calls %d, platform %d (was %d)", own.prov.(*fakeProvider).Calls("blueprint"), platform.Calls("blueprint"), calls)
	}
	if after := spend(t, rt, "u-alice"); after != before {
		t.Fatalf("own-key work charged: %d -> %d", before, after)
	}
}

// grep reports whether any file under dir contains b.
func grep(t *testing.T, dir string, b []byte) bool {
	t.Helper()
	found := false
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		found = found || bytes.Contains(data, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// A model key is stored sealed: the key is nowhere in the node's Pebble
// files. After a rotation it is sealed again under the new key; a node
// without the key that sealed it says so clearly.
func TestModelKeySealedAtRestAndRotated(t *testing.T) {
	dir := t.TempDir()
	const secret = "sk-live-SECRETVALUE-9876"
	key := func(id string) nodekey.Key {
		k, err := nodekey.Generate(id)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	ring := func(keys ...nodekey.Key) *nodekey.Ring {
		r, err := nodekey.New(keys...)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	k1, k2 := key("k1"), key("k2")
	start := func(ring *nodekey.Ring) *Runtime {
		return startRuntimeConfig(t, dir, newFake(), Config{NodeKeys: ring, BudgetClock: budgetNoon,
			OwnKeyProvider: func(OwnModelKey) (codegen.Provider, error) { return newFake(), nil }})
	}
	user := func(rt *Runtime) *actorsv1.UserRecord {
		r, err := Call[*actorsv1.UserReply](ctxT(t), rt.Node, KindUser, "u-alice", &actorsv1.GetUser{})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetUser()
	}
	rt := start(ring(k1))
	if _, err := EnsureUser(ctxT(t), rt.Node, "u-alice", &actorsv1.UserRecord{}); err != nil {
		t.Fatal(err)
	}
	setOwnKey(t, rt, "u-alice", secret)
	rt.Shutdown(context.Background())
	if grep(t, dir, []byte("SECRETVALUE")) {
		t.Fatal("the model key is stored in the clear")
	}
	if !grep(t, dir, []byte("models.example")) {
		t.Fatal("the user record is not in the data folder: the scan proves nothing")
	}

	// Rotation: k2 current, k1 kept; the key is sealed again on load.
	rt = start(ring(k2, k1))
	rec := DefaultModelKey(user(rt))
	if rec.GetNodeKeyId() != "k2" {
		t.Fatalf("not sealed again after rotation: key id %q", rec.GetNodeKeyId())
	}
	if k, err := rt.OpenModelKey("u-alice", rec); err != nil || k.APIKey != secret {
		t.Fatalf("open after rotation: %v", err)
	}
	rt.Shutdown(context.Background())

	// k1 dropped: still opens (it was sealed again under k2).
	rt = start(ring(k2))
	if k, err := rt.OpenModelKey("u-alice", DefaultModelKey(user(rt))); err != nil || k.APIKey != secret {
		t.Fatalf("open with k2 alone: %v", err)
	}
	rt.Shutdown(context.Background())

	// The wrong node key: a clear error, and the session says it.
	rt = start(testRing(t, "k3"))
	_, err := rt.OpenModelKey("u-alice", DefaultModelKey(user(rt)))
	if !errors.Is(err, nodekey.ErrUnknownKey) || !strings.Contains(err.Error(), `"k2"`) || strings.Contains(err.Error(), secret) {
		t.Fatalf("wrong ring: %v", err)
	}
	id := createFor(t, rt, "u-alice")
	watchAll(t, rt, id, 0)
	if s := snapshot(t, rt, id); s.GetPhase() != stichv1.Phase_PHASE_FAILED || !strings.Contains(s.GetError(), "your model key cannot be opened") {
		t.Fatalf("session with an unopenable key: %v %q", s.GetPhase(), s.GetError())
	}
	rt.Shutdown(context.Background())

	// Another key under the same id.
	rt = start(testRing(t, "k2"))
	if _, err := rt.OpenModelKey("u-alice", DefaultModelKey(user(rt))); !errors.Is(err, nodekey.ErrWrongKey) {
		t.Fatalf("other key under the same id: %v", err)
	}
}

// Builds count against the owner's build limit: with the bucket full, a
// phase's check is refused before it reaches the sandbox, and the session
// says why (and completes without a preview).
func TestBuildLimitPerOwner(t *testing.T) {
	rule := ratelimit.Rule{Limit: 1, Window: 24 * time.Hour}
	// NB: the zero appbuild.Config: a build that got past the limit would
	// fail in the sandbox with another message.
	rt := startRuntimeConfig(t, "", newFake(), Config{BuildLimit: rule, Builds: &appbuild.Config{}})
	// Another user's builds do not count.
	if err := takeBuild(ctxT(t), rt.Node, rule, "u-bob"); err != nil {
		t.Fatal(err)
	}
	if err := takeBuild(ctxT(t), rt.Node, rule, "u-alice"); err != nil {
		t.Fatal(err)
	}
	err := takeBuild(ctxT(t), rt.Node, rule, "u-alice")
	if err == nil || !strings.Contains(err.Error(), "too many builds of your apps (window limit, stich serve --build-limit); retry in 2") {
		t.Fatalf("second build: %v", err)
	}
	if _, err := EnsureUser(ctxT(t), rt.Node, "u-alice", &actorsv1.UserRecord{}); err != nil {
		t.Fatal(err)
	}
	id := createFor(t, rt, "u-alice")
	evs := watchAll(t, rt, id, 0)
	refused := 0
	for _, ev := range evs {
		if l := ev.GetLog(); l != nil && strings.Contains(l.GetText(), "too many builds of your apps") {
			refused++
		}
	}
	if refused == 0 {
		t.Fatalf("no phase check was refused by the build limit: %v", kinds(evs))
	}
	if s := snapshot(t, rt, id); s.GetPhase() != stichv1.Phase_PHASE_COMPLETED {
		t.Fatalf("session %v %s", s.GetPhase(), s.GetError())
	}
}
