package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/cockroachdb/pebble"

	"github.com/stichdev/stich/internal/testutil"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// logGrain is a durable test grain with an append-only log: each append
// writes, in one batch, log/<seq> = "v<seq>" and the count. A nil due in
// AlarmFired reads the count.
type logGrain struct {
	ref   *GrainRef
	count uint64
}

func logKey(seq uint64) string { return fmt.Sprintf("log/%08d", seq) }

func (g *logGrain) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		if v, err := g.ref.Store.Get("count"); err == nil {
			g.count, _ = strconv.ParseUint(string(v), 10, 64)
		}
	case *actorsv1.AlarmFired:
		if m.GetDue() == nil {
			ctx.Respond(&actorsv1.PostMessageReply{Seq: g.count})
			return
		}
		seq := g.count + 1
		b := g.ref.Store.NewBatch()
		b.Put(logKey(seq), []byte("v"+strconv.FormatUint(seq, 10)))
		b.Put("count", []byte(strconv.FormatUint(seq, 10)))
		if err := b.Commit(); err != nil {
			ctx.Respond(&actorsv1.GrainError{Message: err.Error()})
			return
		}
		g.count = seq
		ctx.Respond(&actorsv1.PostMessageReply{Seq: seq})
	case *actorsv1.SaveFile: // a large value: blob/<path>
		b := g.ref.Store.NewBatch()
		b.Put("blob/"+m.GetPath(), []byte(m.GetContent()))
		if err := b.Commit(); err != nil {
			ctx.Respond(&actorsv1.GrainError{Message: err.Error()})
			return
		}
		ctx.Respond(&actorsv1.SaveFileReply{})
	case *actorsv1.ReadFile:
		v, err := g.ref.Store.Get("blob/" + m.GetPath())
		if err != nil {
			ctx.Respond(&actorsv1.GrainError{Message: err.Error()})
			return
		}
		ctx.Respond(&actorsv1.ReadFileReply{File: &stichv1.File{Path: m.GetPath(), Content: string(v)}})
	}
}

// newReplicatedCluster starts nodes with replication factor 3 serving the
// "counter" kind (see testCluster.start) backed by logGrain, with slow
// failure detection: no member is meant to fail.
func newReplicatedCluster(t testing.TB, names ...string) *testCluster {
	tc := startCluster(&testCluster{t: t, nodes: map[string]*Node{}, dirs: map[string]string{}, rf: 3, logKind: true}, names...)
	tc.waitRepaired()
	return tc
}

// newReplicatedClusterDetecting is newReplicatedCluster with fast failure
// detection, for a test that kills or cuts off a member and waits for
// the others to declare it failed.
func newReplicatedClusterDetecting(t testing.TB, names ...string) *testCluster {
	tc := startCluster(&testCluster{t: t, nodes: map[string]*Node{}, dirs: map[string]string{}, rf: 3, logKind: true, detectsFailures: true}, names...)
	tc.waitRepaired()
	return tc
}

// waitRepaired waits until every node has finished its first repair (each
// was a new incarnation at start and answers promises only then).
func (tc *testCluster) waitRepaired() {
	tc.t.Helper()
	// NB: generous: a loaded machine under -race took over 30 s.
	testutil.WaitFor(tc.t, 90*time.Second, func() error {
		for name, n := range tc.nodes {
			if !n.alone() && !n.repl.repairedFlag.Load() {
				return fmt.Errorf("%s is not repaired yet", name)
			}
		}
		return nil
	})
}

// appendVia appends to grain id through node n. Its deadline is generous
// (a replicated write syncs on a majority; on a loaded machine under
// -race a 3 s deadline expired): an error is a finding, not the machine.
func appendVia(n *Node, id string) (uint64, error) {
	return appendWithin(n, id, time.Minute)
}

// appendWithin appends to grain id through node n within d.
func appendWithin(n *Node, id string, d time.Duration) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	res, err := n.Request(ctx, "counter", id, &actorsv1.AlarmFired{Due: nowProto()})
	if err != nil {
		return 0, err
	}
	switch r := res.(type) {
	case *actorsv1.PostMessageReply:
		return r.GetSeq(), nil
	case *actorsv1.GrainError:
		return 0, errors.New(r.GetMessage())
	}
	return 0, fmt.Errorf("reply %T", res)
}

// checkLog verifies that the copy of grain id in n's store has the entries
// 1..count, each with its value, and a count of at least minCount.
func checkLog(t *testing.T, n *Node, id string, minCount uint64) uint64 {
	t.Helper()
	gs, err := n.Store().Grain("counter", id)
	if err != nil {
		t.Fatal(err)
	}
	v, err := gs.Get("count")
	if err != nil {
		t.Fatalf("%s on %s: count: %v", id, n.Name(), err)
	}
	count, _ := strconv.ParseUint(string(v), 10, 64)
	if count < minCount {
		t.Fatalf("%s on %s: count %d, but %d was acknowledged", id, n.Name(), count, minCount)
	}
	var want uint64 = 1
	err = gs.List("log/", "", 0, func(key string, value []byte) error {
		if key != logKey(want) || string(value) != "v"+strconv.FormatUint(want, 10) {
			return fmt.Errorf("entry %q = %q, want %q = v%d", key, value, logKey(want), want)
		}
		want++
		return nil
	})
	if err != nil {
		t.Fatalf("%s on %s: %v", id, n.Name(), err)
	}
	if want-1 != count {
		t.Fatalf("%s on %s: %d log entries, count %d", id, n.Name(), want-1, count)
	}
	return count
}

// TestReplicatedOwnerKilledLosesNothing writes through grains on 3 nodes
// with R = 3, kills the node owning the most grains abruptly mid-writes,
// and checks that the survivors serve every grain with every acknowledged
// write, in order, with no gaps or duplicates; then restarts the killed
// node with its data, and again with its data folder wiped, and checks it
// is repaired and serves no stale state.
func TestReplicatedOwnerKilledLosesNothing(t *testing.T) {
	tc := newReplicatedClusterDetecting(t, "a", "b", "c")
	const grains = 24
	ids := make([]string, grains)
	owned := map[string]int{}
	for i := range ids {
		ids[i] = fmt.Sprintf("g%d", i)
		o, _ := tc.nodes["a"].Owner("counter", ids[i])
		owned[o]++
	}
	victim := "a"
	for name, c := range owned {
		if c > owned[victim] {
			victim = name
		}
	}
	var survivors []*Node
	for name, n := range tc.nodes {
		if name != victim {
			survivors = append(survivors, n)
		}
	}

	// Writers: one per grain, through a survivor, recording acknowledged
	// seqs. The kill happens once every grain has at least 3 acks.
	var (
		mu    sync.Mutex
		acked = map[string][]uint64{}
	)
	killed := make(chan struct{})
	stop := make(chan struct{})
	ready := make(chan string, grains)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			via := survivors[i%len(survivors)]
			afterKill, signalled := 0, false
			for {
				select {
				case <-stop:
					return
				default:
				}
				// NB: a write in flight to the killed owner ends only at
				// its deadline (ErrOwnerLost): a short one, so that the
				// writer soon tries the next owner; long enough for a
				// replicated write on a loaded machine.
				seq, err := appendWithin(via, id, 10*time.Second)
				if err != nil {
					// Failing over; the write may or may not have landed.
					select {
					case <-stop:
						return
					case <-time.After(20 * time.Millisecond):
					}
					continue
				}
				mu.Lock()
				acked[id] = append(acked[id], seq)
				n := len(acked[id])
				mu.Unlock()
				if n >= 3 && !signalled {
					signalled = true
					ready <- id
				}
				select {
				case <-killed:
					if afterKill++; afterKill == 3 {
						ready <- id
					}
				default:
				}
			}
		}()
	}
	warmup := time.After(2 * time.Minute)
	for range ids {
		select {
		case <-ready:
		case <-warmup:
			close(stop)
			wg.Wait()
			t.Fatal("grains did not take writes before the kill")
		}
	}
	killedAt := time.Now()
	tc.nodes[victim].Kill()
	delete(tc.nodes, victim)
	close(killed)
	// Every grain must take 3 more acknowledged writes on the survivors
	// (once the victim is declared failed and the writes in flight to it
	// have expired; generous for a loaded machine).
	deadline := time.After(3 * time.Minute)
	for range ids {
		select {
		case <-ready:
		case <-deadline:
			close(stop)
			wg.Wait()
			t.Fatalf("not every grain accepted writes after %s was killed", victim)
		}
	}
	t.Logf("killed %s (owner of %d of %d grains); all grains wrote again %s later", victim, owned[victim], grains, time.Since(killedAt).Round(time.Millisecond))
	close(stop)
	wg.Wait()

	verify := func(stage string) map[string]uint64 {
		t.Helper()
		counts := map[string]uint64{}
		for _, id := range ids {
			seqs := acked[id]
			for i := 1; i < len(seqs); i++ {
				if seqs[i] <= seqs[i-1] {
					t.Fatalf("%s: %s acknowledged seq %d after %d", stage, id, seqs[i], seqs[i-1])
				}
			}
			var owner *Node
			for _, n := range tc.nodes {
				if o, _ := n.Owner("counter", id); o == n.Name() {
					owner = n
				}
			}
			// Reading through the owner activates the grain there, so its
			// copy is caught up before it is checked.
			got, err := tc.call(owner, id, false)
			if err != nil {
				t.Fatalf("%s: read %s: %v", stage, id, err)
			}
			if last := seqs[len(seqs)-1]; got < last {
				t.Fatalf("%s: %s count %d < acknowledged %d", stage, id, got, last)
			}
			counts[id] = checkLog(t, owner, id, seqs[len(seqs)-1])
		}
		return counts
	}
	before := verify("after the kill")

	// Restart the victim with its (stale) data: it owns its grains again
	// and must serve the newest copies, not its own.
	tc.start(victim)
	after := verify("after restart with data")
	for id, c := range after {
		if c != before[id] {
			t.Fatalf("%s: count %d after restart, %d before", id, c, before[id])
		}
	}
	// Kill it again, wipe its data folder and restart: anti-entropy
	// refills it with every grain whose replica set includes it.
	tc.nodes[victim].Kill()
	delete(tc.nodes, victim)
	tc.waitMembers(2)
	tc.dirs[victim] = t.TempDir()
	wiped := tc.start(victim)
	testutil.WaitFor(t, 90*time.Second, func() error {
		for _, id := range ids {
			gs, _ := wiped.Store().Grain("counter", id)
			v, err := gs.Get("count")
			if err != nil || string(v) != strconv.FormatUint(before[id], 10) {
				return fmt.Errorf("%s on the wiped node: %q, %v; want %d", id, v, err, before[id])
			}
		}
		return nil
	})
	for _, id := range ids {
		checkLog(t, wiped, id, before[id])
	}
	after = verify("after restart with a wiped disk")
	for id, c := range after {
		if c != before[id] {
			t.Fatalf("%s: count %d after wiped restart, %d before", id, c, before[id])
		}
	}
	// And writes go on, replicated to the refilled node.
	for _, id := range ids {
		seq, err := appendVia(tc.nodes["a"], id)
		if err != nil || seq != before[id]+1 {
			t.Fatalf("%s: append after repair = %d, %v; want %d", id, seq, err, before[id]+1)
		}
	}
}

// TestReplicatedWriteRefusedFromOlderEpoch checks the fencing rule: once a
// newer activation has claimed a grain, a write of the older claim is not
// acknowledged, and does not reach the grain's replicas.
func TestReplicatedWriteRefusedFromOlderEpoch(t *testing.T) {
	tc := newReplicatedCluster(t, "a", "b", "c")
	id := "fenced"
	if _, err := appendVia(tc.nodes["a"], id); err != nil {
		t.Fatal(err)
	}
	ownerName, _ := tc.nodes["a"].Owner("counter", id)
	owner := tc.nodes[ownerName]
	owner.repl.mu.Lock()
	old := owner.repl.claims[grainKey("counter", id)]
	owner.repl.mu.Unlock()
	if old == nil || old.solo {
		t.Fatalf("no replicated claim for %s on its owner %s", id, ownerName)
	}
	// Another member claims a newer epoch (as a new owner would).
	var other *Node
	for name, n := range tc.nodes {
		if name != ownerName {
			other = n
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	newer, err := other.repl.acquireClaim(ctx, "counter", id)
	if err != nil {
		t.Fatal(err)
	}
	defer other.repl.drop(newer)
	if newer.epoch <= old.epoch {
		t.Fatalf("new epoch %d not above %d", newer.epoch, old.epoch)
	}
	// The old claim is fenced: its write fails.
	gs, _ := owner.Store().Grain("counter", id)
	gs.rep = old
	b := gs.NewBatch()
	b.Put("count", []byte("999"))
	if err := b.Commit(); !errors.Is(err, ErrFenced) && !errors.Is(err, ErrNoQuorum) {
		t.Fatalf("write under the superseded claim: %v, want ErrFenced or ErrNoQuorum", err)
	}
	// No replica other than the old owner took it.
	for name, n := range tc.nodes {
		if name == ownerName {
			continue
		}
		g, _ := n.Store().Grain("counter", id)
		if v, _ := g.Get("count"); string(v) == "999" {
			t.Fatalf("%s applied a write of a superseded epoch", name)
		}
	}
}

// TestReplicatedLeaveThenCrash has a member leave gracefully, then kills
// another abruptly: the leaver pushed its copies to the replica sets
// computed without it, so every grain is still complete on the survivors.
func TestReplicatedLeaveThenCrash(t *testing.T) {
	tc := newReplicatedClusterDetecting(t, "a", "b", "c", "d")
	const grains = 16
	want := map[string]uint64{}
	for i := 0; i < grains; i++ {
		id := fmt.Sprintf("g%d", i)
		for j := 0; j <= i%3; j++ {
			seq, err := appendVia(tc.nodes["a"], id)
			if err != nil {
				t.Fatal(err)
			}
			want[id] = seq
		}
	}
	start := time.Now()
	if err := tc.nodes["d"].Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	delete(tc.nodes, "d")
	tc.waitMembers(3)
	t.Logf("d left in %s", time.Since(start).Round(time.Millisecond))
	tc.nodes["c"].Kill()
	delete(tc.nodes, "c")
	tc.waitMembers(2)
	t.Logf("c's failure seen after %s", time.Since(start).Round(time.Millisecond))
	// NB: a grain last written under a replica set that held d needs d's
	// departure (its gossiped tombstone) known before the survivors may
	// claim it without c; until then it answers Unavailable. Gossip
	// converges within seconds (longer on a loaded machine, where a
	// grain may also answer "moving" while its claim changes hands), so
	// a read that fails is retried (bounded), as a client would; a wrong
	// or missing value fails at once.
	for id, seq := range want {
		var got uint64
		var err error
		for tries, deadline := 0, time.Now().Add(90*time.Second); ; tries++ {
			got, err = tc.call(tc.nodes["b"], id, false)
			if err == nil || time.Now().After(deadline) {
				break
			}
			if tries == 0 {
				t.Logf("%s: %v (retried)", id, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil || got != seq {
			t.Fatalf("%s after d left and c crashed: %d, %v; want %d", id, got, err, seq)
		}
		owner, _ := tc.nodes["a"].Owner("counter", id)
		checkLog(t, tc.nodes[owner], id, seq)
	}
	t.Logf("all grains read after %s", time.Since(start).Round(time.Millisecond))
}

// TestReplicatedRestartAloneRefuses checks that a node that was part of a
// cluster and restarts without its peers does not serve its (possibly
// stale) copies alone.
func TestReplicatedRestartAloneRefuses(t *testing.T) {
	tc := newReplicatedCluster(t, "a", "b")
	if _, err := appendVia(tc.nodes["b"], "x"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		tc.nodes[name].Kill()
		delete(tc.nodes, name)
	}
	tc.seed = "" // a restarts without --join: alone
	a := tc.start("a")
	// NB: the call is retried (the grain "moving") until its deadline,
	// which it then reports with the refusal: a longer one only waits.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := a.Request(ctx, "counter", "x", &actorsv1.AlarmFired{})
	if err == nil || !strings.Contains(err.Error(), "not rejoined") {
		t.Fatalf("call on a restarted lone member: %v, want a refusal until it rejoins", err)
	}
}

// TestApplyReprRefusesForeignKeys checks that a follower applies a
// replicated batch only if it touches nothing but the grain's own keys
// and alarm.
func TestStageReprRefusesForeignKeys(t *testing.T) {
	s, err := OpenStore("", StoreOptions{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mine, _ := s.Grain("k", "mine")
	other, _ := s.Grain("k", "other")
	cases := []struct {
		name string
		fill func(b *Batch)
	}{
		{"own key and alarm", func(b *Batch) { b.Put("a", []byte("1")); b.SetAlarm(time.Unix(5, 0)) }},
		{"own range delete", func(b *Batch) { b.b.DeleteRange(mine.prefix, prefixEnd(mine.prefix), nil) }},
		{"other grain's key", func(b *Batch) { _ = b.b.Set(append(bytes.Clone(other.prefix), 'a'), []byte("x"), nil) }},
		{"range beyond", func(b *Batch) { b.b.DeleteRange(mine.prefix, prefixEnd(other.prefix), nil) }},
		{"replica record", func(b *Batch) { _ = b.b.Set(replicaKey("k", "mine"), make([]byte, 24), nil) }},
	}
	for _, c := range cases {
		name := c.name
		b := mine.NewBatch()
		c.fill(b)
		wb := s.db.NewBatch()
		err := s.stageRepr(wb, "k", "mine", b.b.Repr(), replicaRecord{promised: 1, v: version{1, 1}})
		if err == nil {
			err = wb.Commit(pebble.Sync)
		}
		wb.Close()
		b.Close()
		ok := strings.HasPrefix(name, "own")
		if (err == nil) != ok {
			t.Errorf("%s: stageRepr = %v", name, err)
		}
	}
	if v, err := mine.Get("a"); err == nil {
		t.Fatalf("the own range delete ran after the put, yet a = %q", v)
	}
}

// TestReplicatedLoneNodeThenJoin checks the single-node path (no claim, no
// replication) and the switch to replication when a second member joins:
// the lone node's activation stops, the grain is claimed anew, and both
// members end up with every write.
func TestReplicatedLoneNodeThenJoin(t *testing.T) {
	tc := newReplicatedCluster(t, "a")
	a := tc.nodes["a"]
	for i := 1; i <= 3; i++ {
		if seq, err := appendVia(a, "solo"); err != nil || seq != uint64(i) {
			t.Fatalf("append %d alone: %d, %v", i, seq, err)
		}
	}
	a.repl.mu.Lock()
	registered := len(a.repl.claims)
	a.repl.mu.Unlock()
	if registered != 0 {
		t.Fatalf("%d claims registered on a lone node; want none (no extra cost)", registered)
	}
	b := tc.start("b")
	for i := 4; i <= 6; i++ {
		seq, err := appendVia(b, "solo")
		if err != nil || seq != uint64(i) {
			t.Fatalf("append %d after b joined: %d, %v", i, seq, err)
		}
	}
	// With two members both copies are needed for a majority: both hold
	// every write.
	checkLog(t, a, "solo", 6)
	checkLog(t, b, "solo", 6)
}

// TestReplicatedJoinDuringPartitionOneWriter is the membership change
// concurrent with a partition: d joins and becomes the owner of a grain
// whose replica set changes from {a, b, c} to one with d, while the old
// owner W and its follower F neither see d (their views are frozen) nor
// can be reached by it. d reaches a majority of its new set (itself and
// x), so without the joint rule it would claim the grain while W goes on
// getting writes acknowledged by F: two writers. The claim must fail
// until it also reaches a majority of the set the newest copy was written
// under; once the partition heals it succeeds, records its set through
// both majorities, and loses no acknowledged write.
func TestReplicatedJoinDuringPartitionOneWriter(t *testing.T) {
	tc := newReplicatedCluster(t, "a", "b", "c")
	a := tc.nodes["a"]
	metas := a.Members()
	d := NodeMeta{Name: "d", Kinds: []string{"counter"}, Region: metas[0].Region}
	// A grain that d will own, whose new set keeps two of a, b, c.
	var id string
	var oldSet, newSet []NodeMeta
	for i := 0; id == ""; i++ {
		cand := fmt.Sprintf("j%d", i)
		newSet = LookupN("counter", cand, append(slices.Clone(metas), d), 3)
		oldSet = LookupN("counter", cand, metas, 3)
		if newSet[0].Name == "d" {
			id = cand
		}
	}
	w := tc.nodes[oldSet[0].Name]
	var x string // in both sets, not the old owner: the one d reaches
	for _, m := range newSet[1:] {
		if m.Name != w.Name() {
			x = m.Name
			break
		}
	}
	var cut []string // the old owner and its other follower
	for _, m := range oldSet {
		if m.Name != x {
			cut = append(cut, m.Name)
		}
	}
	t.Logf("grain %s: old set %v (owner %s), new set %v; d reaches only %s", id, memberNames(oldSet), w.Name(), memberNames(newSet), x)
	var acked uint64
	for range 3 {
		n, err := tc.call(w, id, true)
		if err != nil {
			t.Fatal(err)
		}
		acked = n
	}
	for _, name := range cut {
		tc.nodes[name].frozenView.Store(true)
	}
	tc.noWait = true
	dn := tc.start("d")
	// d is a new node, not a wiped one: let it answer promises although
	// it cannot reach every member for its repair pull (invariant 12 is
	// tested in replica_rules_test.go); what is tested here is the joint
	// quorum.
	dn.repl.setRepaired()
	isCut := func(name string) bool { return slices.Contains(cut, name) }
	dn.repl.unreachable.Store(&isCut)
	testutil.WaitFor(t, 90*time.Second, func() error {
		for _, n := range []*Node{dn, tc.nodes[x]} {
			if got := len(n.currentView().live); got != 4 {
				return fmt.Errorf("%s sees %d members", n.Name(), got)
			}
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if c, err := dn.repl.acquireClaim(ctx, "counter", id); err == nil {
		dn.repl.drop(c)
		t.Fatalf("d claimed %s with epoch %d from %s alone, while %s still writes through %v", id, c.epoch, x, w.Name(), cut)
	} else if !errors.Is(err, ErrNoQuorum) {
		t.Fatalf("d's claim: %v, want ErrNoQuorum", err)
	}
	// The old owner is the one writer: its writes still succeed.
	for range 2 {
		n, err := tc.call(w, id, true)
		if err != nil {
			t.Fatalf("the old owner's write during the partition: %v", err)
		}
		acked = n
	}
	// Heal: views move on, d reaches everyone.
	dn.repl.unreachable.Store(nil)
	for _, name := range cut {
		n := tc.nodes[name]
		n.frozenView.Store(false)
		n.onMembership(n.provider.Members(), n.provider.Failed())
	}
	tc.waitMembers(4)
	var got uint64
	testutil.WaitFor(t, 90*time.Second, func() error {
		n, err := tc.call(dn, id, false)
		got = n
		return err
	})
	if got != acked {
		t.Fatalf("after healing %s reads %d, want the %d acknowledged", id, got, acked)
	}
	// The new set is recorded on a majority of both sets.
	recorded := 0
	for _, m := range append(slices.Clone(oldSet), newSet[0]) {
		rec, err := readRecord(tc.nodes[m.Name].store.db, "counter", id)
		if err == nil && slices.Equal(rec.set, memberNames(newSet)) {
			recorded++
		}
	}
	if recorded < 3 {
		t.Errorf("the new set is recorded on %d of the 4 members of both sets", recorded)
	}
	if n, err := tc.call(dn, id, true); err != nil || n != acked+1 {
		t.Fatalf("write through d after healing: %d, %v", n, err)
	}
}

// TestRestartedNodeLearnsFailedMembers: memberlist tells a joiner nothing
// of dead members, so a node restarted while c is down would rank grains
// without c, unlike its peers; it learns c's failure from their gossip
// state at join, and its replica sets agree with theirs.
func TestRestartedNodeLearnsFailedMembers(t *testing.T) {
	tc := newReplicatedClusterDetecting(t, "a", "b", "c")
	tc.nodes["c"].Kill()
	delete(tc.nodes, "c")
	tc.waitMembers(2)
	testutil.WaitFor(t, 90*time.Second, func() error {
		if f := tc.nodes["a"].provider.Failed(); len(f) != 1 || f[0].Name != "c" {
			return fmt.Errorf("a's failed members: %v", memberNames(f))
		}
		return nil
	})
	tc.nodes["b"].Kill()
	delete(tc.nodes, "b")
	b := tc.start("b")
	testutil.WaitFor(t, 90*time.Second, func() error {
		if f := b.provider.Failed(); len(f) != 1 || f[0].Name != "c" {
			return fmt.Errorf("restarted b's failed members: %v", memberNames(f))
		}
		return nil
	})
	a := tc.nodes["a"]
	for i := range 20 {
		id := fmt.Sprintf("s%d", i)
		setA, _ := a.repl.replicaSet(a.currentView(), "counter", id, false)
		setB, _ := b.repl.replicaSet(b.currentView(), "counter", id, false)
		if !slices.Equal(memberNames(setA), memberNames(setB)) {
			t.Fatalf("%s: a ranks %v, restarted b %v", id, memberNames(setA), memberNames(setB))
		}
	}
}
