package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stichdev/stich/internal/testutil"

	clusterv1 "github.com/stichdev/stich/proto/stich/cluster/v1"
)

// Tests of single replication rules (docs/replication.md, "Invariants"),
// each driving one node's replicator directly with the state that breaks
// the rule, on a real node of a 3-node cluster.

// setRecord writes a grain's replica record on n, with "k" = value as its
// one data key when value is not empty.
func setRecord(t *testing.T, n *Node, id string, rec replicaRecord, value string) {
	t.Helper()
	unlock := n.repl.locks.lock(grainKey("counter", id))
	defer unlock()
	if value != "" {
		gs, err := n.store.Grain("counter", id)
		if err != nil {
			t.Fatal(err)
		}
		b := gs.NewBatch()
		b.Put("k", []byte(value))
		if err := b.commitLocal(); err != nil {
			t.Fatal(err)
		}
		b.Close()
	}
	if err := n.store.writeRecord("counter", id, rec); err != nil {
		t.Fatal(err)
	}
}

func getRecord(t *testing.T, n *Node, id string) replicaRecord {
	t.Helper()
	rec, err := readRecord(n.store.db, "counter", id)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func getValue(t *testing.T, n *Node, id string) string {
	t.Helper()
	gs, err := n.store.Grain("counter", id)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := gs.Get("k")
	return string(v)
}

// TestRuleCommitNeverLowersPromise: a promise of a higher epoch granted
// after the owner's claim was made (in the window before the claim is
// registered, when no fence reaches it) is not lowered again by the
// owner's next commit; the commit fails instead.
func TestRuleCommitNeverLowersPromise(t *testing.T) {
	tc := newReplicatedCluster(t, "a", "b", "c")
	const id = "lower"
	if _, err := appendVia(tc.nodes["a"], id); err != nil {
		t.Fatal(err)
	}
	ownerName, _ := tc.nodes["a"].Owner("counter", id)
	owner := tc.nodes[ownerName]
	owner.repl.mu.Lock()
	c := owner.repl.claims[grainKey("counter", id)]
	owner.repl.mu.Unlock()
	if c == nil {
		t.Fatalf("%s holds no claim on %s", ownerName, id)
	}
	// The higher promise, as promiseLocal writes it while the claim is
	// not yet registered (so nothing fences it).
	rec := getRecord(t, owner, id)
	rec.promised = c.epoch + 5
	setRecord(t, owner, id, rec, "")
	_, err := appendVia(owner, id)
	if got := getRecord(t, owner, id).promised; got < c.epoch+5 {
		t.Fatalf("after the owner's commit (err %v) its promise is %d; it had promised %d", err, got, c.epoch+5)
	}
	if err == nil {
		t.Fatalf("a write under epoch %d succeeded on a node that promised %d", c.epoch, c.epoch+5)
	}
}

// TestRuleFollowerAlreadyAppliedChecksEpoch: a follower holding a version
// of another epoch than the write's answers no "already applied" to a
// write that is not newer; it refuses it with the epoch it holds.
func TestRuleFollowerAlreadyAppliedChecksEpoch(t *testing.T) {
	tc := newReplicatedCluster(t, "a", "b", "c")
	n := tc.nodes["b"]
	const id = "applied"
	setRecord(t, n, id, replicaRecord{promised: 3, v: version{7, 10}}, "seven")
	gs, _ := n.store.Grain("counter", id)
	b := gs.NewBatch()
	b.Put("k", []byte("four"))
	w := &clusterv1.ReplicaWrite{Kind: "counter", Identity: id, Epoch: 4,
		Prev: version{4, 9}.proto(), Next: version{4, 10}.proto(), Repr: b.b.Repr()}
	b.Close()
	rep := n.repl.serveWrites([]*clusterv1.ReplicaWrite{w})[0]
	if rep.GetOk() {
		t.Fatalf("a write of epoch 4 (version 4.10) on a copy at version 7.10 was answered as already applied")
	}
	if rep.GetPromised() < 7 {
		t.Fatalf("refusal names epoch %d, want at least 7", rep.GetPromised())
	}
}

// TestRuleOwnerInstallReplacesDivergedCopy: the owner's install (its
// epoch at least the promise) on a follower whose copy is not older but
// from another epoch replaces it; an Ok answer always means the follower
// now holds the owner's copy.
func TestRuleOwnerInstallReplacesDivergedCopy(t *testing.T) {
	tc := newReplicatedCluster(t, "a", "b", "c")
	n := tc.nodes["b"]
	const id = "diverged"
	// 3.11: an unacknowledged write of an old owner.
	setRecord(t, n, id, replicaRecord{promised: 5, v: version{3, 11}}, "unacked")
	snap := &clusterv1.ReplicaSnapshot{Kind: "counter", Identity: id, Version: version{3, 10}.proto(),
		Entries: []*clusterv1.Entry{{Key: "k", Value: []byte("acked")}}}
	rep := serveInstallOf(t, n, &clusterv1.ReplicaInstall{Snapshot: snap, Epoch: 5})
	if rep.GetOk() {
		if got := getRecord(t, n, id).v; got != (version{3, 10}) || getValue(t, n, id) != "acked" {
			t.Fatalf("install answered Ok, but the copy is at %v holding %q", got, getValue(t, n, id))
		}
	}
	if !rep.GetOk() {
		t.Fatalf("the current owner's install was refused: %v", rep)
	}
}

// TestRuleRepairInstallOfOlderCopyIsNotOk: anti-entropy (epoch 0) never
// replaces a copy by an older one, and then answers "newer", not Ok.
func TestRuleRepairInstallOfOlderCopyIsNotOk(t *testing.T) {
	tc := newReplicatedCluster(t, "a", "b", "c")
	n := tc.nodes["b"]
	const id = "older"
	setRecord(t, n, id, replicaRecord{promised: 3, v: version{3, 11}}, "newer")
	snap := &clusterv1.ReplicaSnapshot{Kind: "counter", Identity: id, Version: version{3, 10}.proto(),
		Entries: []*clusterv1.Entry{{Key: "k", Value: []byte("older")}}}
	rep := serveInstallOf(t, n, &clusterv1.ReplicaInstall{Snapshot: snap})
	if got := getValue(t, n, id); got != "newer" {
		t.Fatalf("a repair install replaced version 3.11 by 3.10 (now %q)", got)
	}
	if rep.GetOk() {
		t.Fatal("a repair install of an older copy was answered Ok (counted as synced)")
	}
	// The answer says the follower is ahead (a leaving node's hand-off
	// counts that as done), not an error.
	if !rep.GetNewer() || rep.GetError() != nil {
		t.Fatalf("a repair install of an older copy was answered %v; want newer", rep)
	}
}

// TestRuleRepairInstallRaisesPromise: a copy installed by anti-entropy
// raises the follower's promise to the copy's epoch, so the follower
// refuses writes of older epochs than the data it holds.
func TestRuleRepairInstallRaisesPromise(t *testing.T) {
	tc := newReplicatedCluster(t, "a", "b", "c")
	n := tc.nodes["b"]
	const id = "raise"
	setRecord(t, n, id, replicaRecord{promised: 3, v: version{3, 5}}, "three")
	snap := &clusterv1.ReplicaSnapshot{Kind: "counter", Identity: id, Version: version{7, 10}.proto(),
		Entries: []*clusterv1.Entry{{Key: "k", Value: []byte("seven")}}}
	if rep := serveInstallOf(t, n, &clusterv1.ReplicaInstall{Snapshot: snap}); !rep.GetOk() {
		t.Fatalf("repair install of a newer copy: %v", rep)
	}
	if got := getRecord(t, n, id); got.v != (version{7, 10}) || got.promised < 7 {
		t.Fatalf("after installing version 7.10 the record is %+v; want a promise of at least 7", got)
	}
}

// TestRuleFailedQuorumIsOutcomeUnknown: a write that left the owner but
// reached no majority is reported as of unknown outcome (its followers
// may apply it, and a later owner may serve it), not as a plain failure
// that invites a retry.
func TestRuleFailedQuorumIsOutcomeUnknown(t *testing.T) {
	tc := newReplicatedCluster(t, "a", "b", "c")
	const id = "unknown"
	if _, err := appendVia(tc.nodes["a"], id); err != nil {
		t.Fatal(err)
	}
	ownerName, _ := tc.nodes["a"].Owner("counter", id)
	owner := tc.nodes[ownerName]
	owner.repl.mu.Lock()
	c := owner.repl.claims[grainKey("counter", id)]
	owner.repl.mu.Unlock()
	everyone := func(string) bool { return true }
	owner.repl.unreachable.Store(&everyone)
	gs, _ := owner.store.Grain("counter", id)
	b := gs.NewBatch()
	defer b.Close()
	b.Put("k", []byte("lost?"))
	err := c.commit(b)
	if !errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("a write no follower confirmed: %v, want ErrOutcomeUnknown", err)
	}
}

// TestRuleWipedNodeIsNewIncarnation: a node whose data folder was deleted
// rejoins under the same name as a new incarnation: it answers no promise
// until its peers repaired it, and then holds, for each grain, at least
// the promise its peers hold (the one it gave before, with them, to a
// claim it no longer remembers).
func TestRuleWipedNodeIsNewIncarnation(t *testing.T) {
	tc := newReplicatedClusterDetecting(t, "a", "b", "c")
	const id = "incarnation"
	if _, err := appendVia(tc.nodes["a"], id); err != nil {
		t.Fatal(err)
	}
	// A claimant got epoch 50 promised by b and c.
	for _, name := range []string{"b", "c"} {
		if rep := tc.nodes[name].repl.servePromise(&clusterv1.ReplicaPromise{Kind: "counter", Identity: id, Epoch: 50, From: "x"}); !rep.GetOk() {
			t.Fatalf("%s did not promise epoch 50: %v", name, rep)
		}
	}
	// b loses its data folder and comes back; a and c cannot reach it yet.
	oldIncarnation := tc.nodes["b"].repl.incarnation
	tc.nodes["b"].Kill()
	delete(tc.nodes, "b")
	tc.waitMembers(2)
	tc.dirs["b"] = t.TempDir()
	isB := func(name string) bool { return name == "b" }
	tc.nodes["a"].repl.unreachable.Store(&isB)
	tc.nodes["c"].repl.unreachable.Store(&isB)
	b := tc.start("b")
	if b.repl.incarnation == oldIncarnation {
		t.Fatalf("the wiped node kept incarnation %s", oldIncarnation)
	}
	if rep := b.repl.servePromise(&clusterv1.ReplicaPromise{Kind: "counter", Identity: id, Epoch: 10, From: "y"}); rep.GetOk() {
		t.Fatal("a wiped node, not repaired yet, promised epoch 10 (it promised 50 before losing its data)")
	}
	tc.nodes["a"].repl.unreachable.Store(nil)
	tc.nodes["c"].repl.unreachable.Store(nil)
	testutil.WaitFor(t, 90*time.Second, func() error {
		if !b.repl.repairedFlag.Load() {
			return errors.New("b is not repaired yet")
		}
		return nil
	})
	if got := getRecord(t, b, id).promised; got < 50 {
		t.Fatalf("repaired b holds promise %d for %s; its peers hold 50", got, id)
	}
	if rep := b.repl.servePromise(&clusterv1.ReplicaPromise{Kind: "counter", Identity: id, Epoch: 10, From: "y"}); rep.GetOk() {
		t.Fatal("repaired b promised epoch 10 below the 50 it had given")
	}
	if rep := b.repl.servePromise(&clusterv1.ReplicaPromise{Kind: "counter", Identity: id, Epoch: 60, From: "y"}); !rep.GetOk() {
		t.Fatalf("repaired b refused epoch 60: %v", rep)
	}
}

// TestRuleMinorityOwnerServesNoRead: an owner cut off from its replicas
// (which then claim the grain and write to it on the majority side)
// answers reads with ErrUnconfirmed instead of its stale state.
func TestRuleMinorityOwnerServesNoRead(t *testing.T) {
	tc := newReplicatedCluster(t, "a", "b", "c")
	const id = "fenced-read"
	if _, err := appendVia(tc.nodes["a"], id); err != nil {
		t.Fatal(err)
	}
	ownerName, _ := tc.nodes["a"].Owner("counter", id)
	owner := tc.nodes[ownerName]
	var others []*Node
	for name, n := range tc.nodes {
		if name != ownerName {
			others = append(others, n)
		}
	}
	// Partition: the owner on one side, the other two on the other.
	isOwner := func(name string) bool { return name == ownerName }
	notOwner := func(name string) bool { return name != ownerName }
	owner.repl.unreachable.Store(&notOwner)
	for _, n := range others {
		n.repl.unreachable.Store(&isOwner)
	}
	// The majority side claims the grain and writes (as it would once its
	// views dropped the owner).
	c, err := others[0].repl.acquireClaim(context.Background(), "counter", id)
	if err != nil {
		t.Fatalf("the majority side's claim: %v", err)
	}
	gs, _ := others[0].store.Grain("counter", id)
	b := gs.NewBatch()
	b.Put("count", []byte("2"))
	if err := c.commit(b); err != nil {
		t.Fatalf("the majority side's write: %v", err)
	}
	b.Close()
	others[0].repl.drop(c)
	// The cut-off owner still holds its activation; a read through it must
	// not answer its count of 1.
	got, err := tc.call(owner, id, false)
	if err == nil {
		t.Fatalf("the cut-off owner served a read: count %d (the majority side wrote 2)", got)
	}
	if !errors.Is(err, ErrUnconfirmed) {
		t.Fatalf("the cut-off owner's read: %v, want ErrUnconfirmed", err)
	}
}

// serveInstallOf serves an install whose snapshot holds its entries in
// memory, as if they had arrived in chunks.
func serveInstallOf(t *testing.T, n *Node, m *clusterv1.ReplicaInstall) *clusterv1.ReplicaWriteReply {
	t.Helper()
	snap := m.GetSnapshot()
	body, err := n.store.newCopyStage(snap)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range snap.GetEntries() {
		if err := body.add([]byte(e.GetKey()), e.GetValue()); err != nil {
			body.close()
			t.Fatal(err)
		}
	}
	if err := body.finish(snap); err != nil {
		body.close()
		t.Fatal(err)
	}
	return n.repl.serveInstall(m, body)
}
