package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stichdev/stich/internal/testutil"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// TestSetChangeKeepsOwnersClaim checks invariant 16: a change of replica
// sets fences only the claims of grains whose owner changed. 3 nodes with
// R = 3 serve 24 grains; d joins (most grains get d in their set, about a
// quarter get d as owner), then c leaves gracefully (every set changes,
// the grains c owned move). After each change every grain is written
// again: a grain whose owner stayed is served by the same activation
// under the same epoch, a grain that moved is claimed anew on its new
// owner; then every member of each grain's current set holds the owner's
// copy (new members refilled) with every acknowledged write. On the code
// before invariant 16 every changed set fenced its claim: the unchanged
// owners' grains got new epochs.
//
// No member fails here (d joins, c leaves gracefully), so failure detection
// is slow (testCluster's default, suspicion 6 s; it was 0.6 s): under a
// load average near 30 a node stalled for 0.6 s was declared failed, its
// grains moved and came back claimed anew, which this test then reported
// as a broken invariant. A failure detected anyway is logged, and the
// grains it re-claimed are not counted.
func TestSetChangeKeepsOwnersClaim(t *testing.T) {
	logs := &syncBuffer{}
	tc := &testCluster{t: t, nodes: map[string]*Node{}, dirs: map[string]string{}, rf: 3, logKind: true, logs: logs}
	for _, name := range []string{"a", "b", "c"} {
		tc.start(name)
	}
	tc.waitRepaired()
	detections := func() int { return strings.Count(logs.String(), `msg="member failed"`) }
	const grains = 24
	ids := make([]string, grains)
	acked := map[string]uint64{}
	// failed marks grains a write to which failed since the last change:
	// a failed write fences its claim (rule 5), so such a grain may
	// rightly be claimed anew (seen under -race on a loaded machine).
	failed := map[string]error{}
	write := func(id string) {
		t.Helper()
		// A grain that moved may answer "moving" or "unavailable" for a
		// moment; retried (bounded). A retried write whose outcome was
		// unknown may be applied twice: the log stays gap-free either way.
		// NB: each attempt may take long (a loaded machine, -race): a
		// short deadline would queue retries behind it in the mailbox.
		var last error
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			res, err := tc.nodes["a"].Request(ctx, "counter", id, &actorsv1.AlarmFired{Due: nowProto()})
			cancel()
			var seq uint64
			switch r := res.(type) {
			case *actorsv1.PostMessageReply:
				seq = r.GetSeq()
			case *actorsv1.GrainError:
				err = errors.New(r.GetMessage())
			}
			if err == nil {
				if seq <= acked[id] {
					t.Fatalf("%s: append acknowledged seq %d after %d", id, seq, acked[id])
				}
				acked[id] = seq
				return
			}
			last = err
			failed[id] = err
		}
		t.Fatalf("%s: no append acknowledged within 60 s: %v", id, last)
	}
	for i := range ids {
		ids[i] = fmt.Sprintf("g%d", i)
		write(ids[i])
		write(ids[i])
	}

	type state struct {
		owner string
		epoch uint64
		set   []string
	}
	snapshot := func() map[string]state {
		t.Helper()
		out := map[string]state{}
		a := tc.nodes["a"]
		for _, id := range ids {
			owner, err := a.Owner("counter", id)
			if err != nil {
				t.Fatal(err)
			}
			n := tc.nodes[owner]
			rec, err := readRecord(n.store.db, "counter", id)
			if err != nil {
				t.Fatal(err)
			}
			set, _ := a.repl.replicaSet(a.currentView(), "counter", id, false)
			out[id] = state{owner: owner, epoch: rec.v.epoch, set: memberNames(set)}
		}
		return out
	}
	// change applies a membership change, writes every grain once more,
	// and checks the claims of grains whose owner stayed.
	change := func(what string, do func(), members int) {
		t.Helper()
		before := snapshot()
		clear(failed)
		detected := detections()
		do()
		tc.waitMembers(members)
		for _, id := range ids {
			write(id)
		}
		after := snapshot()
		if n := detections() - detected; n > 0 {
			// A live member was declared failed (a stalled machine): owners
			// moved and came back, re-claiming grains for that reason.
			t.Logf("%s: %d member failures detected during the change (no member failed): re-claims not counted", what, n)
			for _, id := range ids {
				if after[id].epoch != before[id].epoch && failed[id] == nil {
					failed[id] = errors.New("a member was declared failed during the change")
				}
			}
		}
		kept, moved, setChanged := 0, 0, 0
		for _, id := range ids {
			b, a := before[id], after[id]
			if !sameSet(b.set, a.set) {
				setChanged++
			}
			if b.owner != a.owner {
				moved++
				if a.epoch <= b.epoch {
					t.Errorf("%s: %s moved from %s to %s but kept epoch %d (now %d)", what, id, b.owner, a.owner, b.epoch, a.epoch)
				}
				continue
			}
			if a.epoch != b.epoch && failed[id] != nil {
				t.Logf("%s: %s was claimed anew after a write failed (%v): not counted", what, id, failed[id])
				continue
			}
			if a.epoch != b.epoch {
				t.Errorf("%s: %s stayed on %s (set %v -> %v) but was claimed anew: epoch %d -> %d",
					what, id, a.owner, b.set, a.set, b.epoch, a.epoch)
			}
			if !sameSet(b.set, a.set) {
				kept++
			}
		}
		t.Logf("%s: %d grains moved, %d kept their owner while their set changed, %d sets changed", what, moved, kept, setChanged)
		if kept == 0 || moved == 0 {
			t.Fatalf("%s: the placement gave no grain of each case (kept %d, moved %d): the test checks nothing", what, kept, moved)
		}
		if t.Failed() {
			t.FailNow()
		}
		// Every member of each grain's set holds the owner's copy.
		testutil.WaitFor(t, 30*time.Second, func() error {
			for _, id := range ids {
				s := after[id]
				want, err := readRecord(tc.nodes[s.owner].store.db, "counter", id)
				if err != nil {
					return err
				}
				for _, name := range s.set {
					got, err := readRecord(tc.nodes[name].store.db, "counter", id)
					if err != nil {
						return err
					}
					if got.v != want.v {
						return fmt.Errorf("%s: %s holds version %v, its owner %s %v", id, name, got.v, s.owner, want.v)
					}
				}
			}
			return nil
		})
		for _, id := range ids {
			for _, name := range after[id].set {
				checkLog(t, tc.nodes[name], id, acked[id])
			}
		}
	}

	change("d joined", func() { tc.start("d") }, 4)
	change("c left", func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := tc.nodes["c"].Shutdown(ctx); err != nil {
			t.Errorf("c's shutdown: %v", err)
		}
		delete(tc.nodes, "c")
	}, 3)
}
