package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/stichdev/stich/internal/testutil"
)

// fakeMember is a memberlist node carrying stich metadata, for driving a
// provider's event callbacks without a network.
func fakeMember(t *testing.T, name, id string) *memberlist.Node {
	t.Helper()
	b, err := json.Marshal(NodeMeta{ID: id, Name: name, ActorAddr: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	return &memberlist.Node{Name: name, Addr: net.IPv4(127, 0, 0, 1), Port: 1, Meta: b}
}

// newFakeProvider returns a provider for self that has seen the given
// members (name → actor id) join.
func newFakeProvider(t *testing.T, self string, members map[string]string) *Provider {
	p := NewProvider(ProviderConfig{Meta: NodeMeta{Name: self}})
	for name, id := range members {
		(*eventDelegate)(p).NotifyJoin(fakeMember(t, name, id))
	}
	return p
}

func failedNames(p *Provider) []string {
	var out []string
	for _, m := range p.Failed() {
		out = append(out, m.Name+"/"+m.ID)
	}
	return out
}

// TestForgetTombstones checks the provider's forget rules: what can be
// forgotten, how a peer applies a forget it learns by message or gossip,
// and that a forget is about one incarnation of a member only.
func TestForgetTombstones(t *testing.T) {
	ev := func(p *Provider) *eventDelegate { return (*eventDelegate)(p) }
	abc := map[string]string{"a": "a1", "b": "b1", "c": "c1"}

	p := newFakeProvider(t, "a", abc)
	ev(p).NotifyLeave(fakeMember(t, "c", "c1"))
	if got := fmt.Sprint(failedNames(p)); got != "[c/c1]" {
		t.Fatalf("failed after c's crash: %s", got)
	}
	for name, want := range map[string]error{"b": ErrForgetLive, "x": ErrForgetUnknown} {
		if _, err := p.forget(name); !errors.Is(err, want) {
			t.Fatalf("forget %s: %v, want %v", name, err, want)
		}
	}
	tomb, err := p.forget("c")
	if err != nil || tomb.ID != "c1" || len(p.Failed()) != 0 {
		t.Fatalf("forget c: %+v, %v; failed %v", tomb, err, failedNames(p))
	}
	if _, err := p.forget("c"); !errors.Is(err, ErrForgetUnknown) {
		t.Fatalf("second forget: %v", err)
	}
	state := (*metaDelegate)(p).LocalState(false)

	// A peer that missed the message learns it at its next push/pull.
	q := newFakeProvider(t, "b", abc)
	ev(q).NotifyLeave(fakeMember(t, "c", "c1"))
	(*metaDelegate)(q).MergeRemoteState(state, false)
	if len(q.Failed()) != 0 {
		t.Fatalf("gossiped forget not applied: failed %v", failedNames(q))
	}

	// A peer that has not seen c fail yet keeps it live, and forgets it
	// when it sees that incarnation fail.
	lag := newFakeProvider(t, "b", abc)
	if wasFailed, live := lag.applyTombstone(tomb); wasFailed || !live {
		t.Fatalf("tombstone for a member live here: wasFailed %v, live %v", wasFailed, live)
	}
	ev(lag).NotifyLeave(fakeMember(t, "c", "c1"))
	if len(lag.Failed()) != 0 {
		t.Fatalf("forgotten incarnation counted as failed: %v", failedNames(lag))
	}

	// A tombstone about an older incarnation does not touch a newer one
	// (c restarted as c2 and failed again).
	newer := newFakeProvider(t, "b", map[string]string{"a": "a1", "b": "b1", "c": "c2"})
	ev(newer).NotifyLeave(fakeMember(t, "c", "c2"))
	(*metaDelegate)(newer).MergeRemoteState(state, false)
	if got := fmt.Sprint(failedNames(newer)); got != "[c/c2]" {
		t.Fatalf("newer incarnation after an old tombstone: %s", got)
	}

	// c rejoins (a new start): it is a member again; its next failure is
	// a failure like any other.
	ev(p).NotifyJoin(fakeMember(t, "c", "c2"))
	ev(p).NotifyLeave(fakeMember(t, "c", "c2"))
	if got := fmt.Sprint(failedNames(p)); got != "[c/c2]" {
		t.Fatalf("failure after rejoining: %s", got)
	}
	var st gossipState
	if err := json.Unmarshal((*metaDelegate)(p).LocalState(false), &st); err != nil || len(st.Forgotten) != 0 {
		t.Fatalf("the tombstone outlived the member's return: %+v, %v", st, err)
	}

	// The last other live member cannot be forgotten away.
	alone := newFakeProvider(t, "a", map[string]string{"a": "a1", "b": "b1"})
	ev(alone).NotifyLeave(fakeMember(t, "b", "b1"))
	if _, err := alone.forget("b"); !errors.Is(err, ErrForgetAlone) {
		t.Fatalf("forget the last other member: %v", err)
	}

	// Garbage gossip state is ignored.
	(*metaDelegate)(p).MergeRemoteState([]byte("{not json"), false)
}

// TestForgetFailedAfter checks the automatic forget: a member failed for
// ForgetFailedAfter is forgotten (never the last other live member).
func TestForgetFailedAfter(t *testing.T) {
	p := NewProvider(ProviderConfig{Meta: NodeMeta{Name: "a"}, ForgetFailedAfter: time.Hour})
	for name, id := range map[string]string{"a": "a1", "b": "b1", "c": "c1"} {
		(*eventDelegate)(p).NotifyJoin(fakeMember(t, name, id))
	}
	(*eventDelegate)(p).NotifyLeave(fakeMember(t, "c", "c1"))
	now := time.Now()
	if p.expireFailed(now.Add(59*time.Minute)) || len(p.Failed()) != 1 {
		t.Fatalf("forgotten before its time: %v", failedNames(p))
	}
	if !p.expireFailed(now.Add(61*time.Minute)) || len(p.Failed()) != 0 {
		t.Fatalf("not forgotten after an hour: %v", failedNames(p))
	}
	(*eventDelegate)(p).NotifyLeave(fakeMember(t, "b", "b1"))
	if p.expireFailed(now.Add(3*time.Hour)) || len(p.Failed()) != 1 {
		t.Fatalf("the last other member was forgotten: %v", failedNames(p))
	}
	off := newFakeProvider(t, "a", map[string]string{"a": "a1", "b": "b1", "c": "c1"})
	(*eventDelegate)(off).NotifyLeave(fakeMember(t, "c", "c1"))
	if off.expireFailed(now.Add(1000*time.Hour)) || len(off.Failed()) != 1 {
		t.Fatal("forgotten with ForgetFailedAfter off")
	}
}

// copyCount reads grain id's count straight from n's store, with its
// replica record's version.
func copyCount(n *Node, id string) (uint64, version, error) {
	gs, err := n.Store().Grain("counter", id)
	if err != nil {
		return 0, version{}, err
	}
	v, err := gs.Get("count")
	if err != nil {
		return 0, version{}, fmt.Errorf("%s on %s: %w", id, n.Name(), err)
	}
	c, _ := strconv.ParseUint(string(v), 10, 64)
	rec, err := readRecord(n.store.db, "counter", id)
	return c, rec.v, err
}

func setNames(n *Node, id string) []string {
	set, _ := n.repl.replicaSet(n.currentView(), "counter", id, false)
	return memberNames(set)
}

// TestForgetFailedMemberReplicated: 3 nodes with R = 3; c is killed, then
// forgotten through a. It must leave every survivor's failed set and every
// replica set; a fourth node then gets copies until every grain is on all
// of its new replica set, with every acknowledged write, and writes go on.
// c restarting with its old (stale) data rejoins as a normal member, and
// its copies never win over newer ones.
func TestForgetFailedMemberReplicated(t *testing.T) {
	tc := newReplicatedClusterDetecting(t, "a", "b", "c")
	a, b := tc.nodes["a"], tc.nodes["b"]
	const grains = 16
	ids := make([]string, grains)
	want := map[string]uint64{}
	appendAll := func(via *Node, times int) {
		t.Helper()
		for _, id := range ids {
			for range times {
				seq, err := appendVia(via, id)
				if err != nil {
					t.Fatalf("append to %s via %s: %v", id, via.Name(), err)
				}
				if seq != want[id]+1 {
					t.Fatalf("append to %s via %s: seq %d, want %d", id, via.Name(), seq, want[id]+1)
				}
				want[id] = seq
			}
		}
	}
	for i := range ids {
		ids[i] = fmt.Sprintf("g%d", i)
	}
	appendAll(a, 2)

	tc.nodes["c"].Kill()
	delete(tc.nodes, "c")
	tc.waitMembers(2)
	testutil.WaitFor(t, 60*time.Second, func() error {
		for _, n := range []*Node{a, b} {
			if got := fmt.Sprint(n.currentView().failed); len(n.currentView().failed) != 1 {
				return fmt.Errorf("%s: failed %s, want c", n.Name(), got)
			}
		}
		return nil
	})
	// c keeps its place in every replica set (3 members ranked, 2 live).
	for _, id := range ids {
		if got := fmt.Sprint(setNames(a, id)); len(setNames(a, id)) != 3 {
			t.Fatalf("%s's replica set with c failed: %s", id, got)
		}
	}
	appendAll(b, 1) // c's copies are now stale

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for name, wantErr := range map[string]error{"a": ErrForgetSelf, "b": ErrForgetLive, "zz": ErrForgetUnknown} {
		if _, err := a.Forget(ctx, name); !errors.Is(err, wantErr) {
			t.Fatalf("forget %s: %v, want %v", name, err, wantErr)
		}
	}
	res, err := a.Forget(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res.Confirmed) != "[b]" || len(res.Unconfirmed) != 0 {
		t.Fatalf("forget c: confirmed %v, unconfirmed %v", res.Confirmed, res.Unconfirmed)
	}
	// Gone from every survivor's failed set as soon as Forget returned,
	// and from their views (and so replica sets) right after.
	for _, n := range []*Node{a, b} {
		if len(n.provider.Failed()) != 0 {
			t.Fatalf("%s still has failed members %v", n.Name(), n.provider.Failed())
		}
	}
	testutil.WaitFor(t, 60*time.Second, func() error {
		for _, n := range []*Node{a, b} {
			if len(n.currentView().failed) != 0 {
				return fmt.Errorf("%s's view still has failed %v", n.Name(), n.currentView().failed)
			}
		}
		return nil
	})
	for _, id := range ids {
		if got := fmt.Sprint(setNames(b, id)); got != "[a b]" && got != "[b a]" {
			t.Fatalf("%s's replica set after forgetting c: %s", id, got)
		}
	}
	appendAll(a, 1)

	// A fourth node: every grain must reach all of its new replica set
	// (so a majority of it), with every acknowledged write.
	d := tc.start("d")
	allCopies := func(stage string) {
		t.Helper()
		testutil.WaitFor(t, 90*time.Second, func() error {
			for _, id := range ids {
				set := setNames(a, id)
				if len(set) != 3 {
					return fmt.Errorf("%s: %s's replica set %v", stage, id, set)
				}
				for _, n := range tc.nodes {
					if got := setNames(n, id); fmt.Sprint(got) != fmt.Sprint(set) {
						return fmt.Errorf("%s: %s's replica set is %v on a, %v on %s", stage, id, set, got, n.Name())
					}
				}
				var v0 version
				for i, name := range set {
					if tc.nodes[name] == nil {
						return fmt.Errorf("%s: %s's replica set %v holds %s, which is not running", stage, id, set, name)
					}
					c, v, err := copyCount(tc.nodes[name], id)
					if err != nil {
						return err
					}
					if c != want[id] {
						return fmt.Errorf("%s: %s on %s: count %d, want %d", stage, id, name, c, want[id])
					}
					if i > 0 && v != v0 {
						return fmt.Errorf("%s: %s on %s at version %v, on %s at %v", stage, id, name, v, set[0], v0)
					}
					v0 = v
				}
			}
			return nil
		})
		for _, id := range ids {
			for _, name := range setNames(a, id) {
				checkLog(t, tc.nodes[name], id, want[id])
			}
		}
	}
	allCopies("after d joined")
	appendAll(d, 1)

	// c restarts with its old data: a normal member again, repaired by
	// anti-entropy; its stale copies never win.
	staleOn := map[string]uint64{}
	old, err := OpenStore(tc.dirs["c"], StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		gs, _ := old.Grain("counter", id)
		v, err := gs.Get("count")
		got, _ := strconv.ParseUint(string(v), 10, 64)
		if err != nil || got >= want[id] {
			t.Fatalf("c's copy of %s before it returns: %q, %v; want a stale one (< %d)", id, v, err, want[id])
		}
		staleOn[id] = got
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	c := tc.start("c")
	for _, n := range tc.nodes {
		if len(n.provider.Failed()) != 0 {
			t.Fatalf("%s: failed %v after c returned", n.Name(), failedNames(n.provider))
		}
	}
	ownedByC := 0
	for _, id := range ids {
		if o, _ := a.Owner("counter", id); o == "c" {
			ownedByC++
		}
		for _, n := range tc.nodes {
			got, err := tc.call(n, id, false)
			if err != nil || got != want[id] {
				t.Fatalf("%s via %s after c returned: %d, %v; want %d (c had %d)", id, n.Name(), got, err, want[id], staleOn[id])
			}
		}
	}
	if ownedByC == 0 {
		t.Fatal("c owns none of the grains after returning; its copies were never tested against newer ones")
	}
	allCopies("after c returned")
	appendAll(c, 1)
	allCopies("after writes through c")
}

// TestForgetReachesMemberThatMissedIt: a member that never got the forget
// message (here: it was never sent) learns it from gossip state.
func TestForgetReachesMemberThatMissedIt(t *testing.T) {
	tc := newReplicatedClusterDetecting(t)
	tc.pushPull = 200 * time.Millisecond
	for _, name := range []string{"a", "b", "c"} {
		tc.start(name)
	}
	tc.nodes["c"].Kill()
	delete(tc.nodes, "c")
	tc.waitMembers(2)
	b := tc.nodes["b"]
	testutil.WaitFor(t, 60*time.Second, func() error {
		if len(b.provider.Failed()) != 1 {
			return fmt.Errorf("b: failed %v, want c", failedNames(b.provider))
		}
		return nil
	})
	if _, err := tc.nodes["a"].provider.forget("c"); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 60*time.Second, func() error {
		if len(b.provider.Failed()) != 0 || len(b.currentView().failed) != 0 {
			return fmt.Errorf("b: failed %v", failedNames(b.provider))
		}
		return nil
	})
}

// TestForgetFailedAfterInCluster: with Config.ForgetFailedAfter, the
// survivors forget a killed member on their own and replica sets shrink to
// the live members; writes go on.
func TestForgetFailedAfterInCluster(t *testing.T) {
	tc := newReplicatedClusterDetecting(t)
	tc.forgetAfter = 300 * time.Millisecond
	for _, name := range []string{"a", "b", "c"} {
		tc.start(name)
	}
	tc.waitRepaired()
	a := tc.nodes["a"]
	if _, err := appendVia(a, "x"); err != nil {
		t.Fatal(err)
	}
	tc.nodes["c"].Kill()
	delete(tc.nodes, "c")
	tc.waitMembers(2)
	testutil.WaitFor(t, 60*time.Second, func() error {
		for _, n := range tc.nodes {
			if len(n.provider.Failed()) != 0 || len(n.currentView().failed) != 0 {
				return fmt.Errorf("%s: failed %v", n.Name(), failedNames(n.provider))
			}
		}
		return nil
	})
	if got := fmt.Sprint(setNames(a, "x")); got != "[a b]" && got != "[b a]" {
		t.Fatalf("x's replica set after c was forgotten: %s", got)
	}
	if seq, err := appendVia(tc.nodes["b"], "x"); err != nil || seq != 2 {
		t.Fatalf("append after the automatic forget: %d, %v", seq, err)
	}
}

// TestLearnFailedFromGossip checks which failures a node takes from a
// peer's state: one it knows nothing about, not one of a member it sees
// live, of another incarnation than it knows, that left gracefully, or
// itself.
func TestLearnFailedFromGossip(t *testing.T) {
	peer := newFakeProvider(t, "a", map[string]string{"a": "a1", "c": "c1", "d": "d1", "e": "e1", "x": "x1"})
	for _, name := range []string{"c", "d", "e", "x"} {
		(*eventDelegate)(peer).NotifyLeave(fakeMember(t, name, name+"1"))
	}
	state := (*metaDelegate)(peer).LocalState(false)

	fresh := NewProvider(ProviderConfig{Meta: NodeMeta{Name: "x"}}) // x restarted: knows nothing
	(*eventDelegate)(fresh).NotifyJoin(fakeMember(t, "d", "d1"))    // sees d live
	(*eventDelegate)(fresh).NotifyJoin(fakeMember(t, "e", "e2"))    // knows e's next incarnation
	(*eventDelegate)(fresh).NotifyLeave(fakeMember(t, "e", "e2"))   // which failed: e/e2
	(*metaDelegate)(fresh).MergeRemoteState(state, true)
	if got := fmt.Sprint(failedNames(fresh)); got != "[c/c1 e/e2]" {
		t.Fatalf("failed after merging a peer's state: %s, want [c/c1 e/e2]", got)
	}

	// A member that left gracefully holds a tombstone: not learnt as failed.
	left := newFakeProvider(t, "b", map[string]string{"b": "b1", "c": "c1"})
	m := fakeMember(t, "c", "c1")
	m.Meta, _ = json.Marshal(NodeMeta{ID: "c1", Name: "c", ActorAddr: "127.0.0.1:1", Leaving: true})
	(*eventDelegate)(left).NotifyJoin(m)
	(*eventDelegate)(left).NotifyLeave(m)
	(*metaDelegate)(left).MergeRemoteState(state, false)
	if got := failedNames(left); slices.Contains(got, "c/c1") {
		t.Fatalf("a member that left gracefully learnt as failed: %v", got)
	}
	if !left.gone("c") {
		t.Fatal("a member that left gracefully is not gone")
	}
}
