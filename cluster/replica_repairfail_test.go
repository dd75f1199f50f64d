package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stichdev/stich/internal/testutil"
)

// TestRepairOutlivesFailureOfARepairer: a new incarnation (here, c at the
// cluster's first formation) that a has repaired but b not yet, when a
// then dies, is repaired by b alone: a's repair is not undone by its
// failure. Before, every pass pulled from every member again and a failed
// member held the repair up until it returned; c answered no promise, so
// the grains a owned, replicated on {a, b, c}, were unavailable ("stored
// on node a, which is unreachable") on the survivors until a came back
// (cmd/stich.TestCLIFailsOver failed so in CI).
func TestRepairOutlivesFailureOfARepairer(t *testing.T) {
	tc := &testCluster{t: t, nodes: map[string]*Node{}, dirs: map[string]string{}, rf: 3, logKind: true, detectsFailures: true}
	tc.start("a")
	b := tc.start("b")
	tc.waitRepaired()
	// b does not repair c yet (its replication does not reach c).
	isC := func(name string) bool { return name == "c" }
	b.repl.unreachable.Store(&isC)
	c := tc.start("c")
	a := tc.nodes["a"]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	testutil.WaitFor(t, 60*time.Second, func() error {
		err := c.repl.pullRepair(ctx)
		switch {
		case err == nil:
			return errors.New("c was repaired although b refused to repair it")
		case strings.Contains(err.Error(), "cluster: a"):
			return fmt.Errorf("a has not repaired c yet: %w", err)
		}
		return nil // a repaired c; b refused
	})
	if c.repl.repairedFlag.Load() {
		t.Fatal("c is repaired although b refused to repair it")
	}

	// A grain a owns, replicated on all three, whose next owner is b (the
	// repaired survivor: it claims, and needs c's promise), with
	// acknowledged writes.
	var id string
	for i := 0; id == ""; i++ {
		cand := fmt.Sprintf("g-%d", i)
		if r := Rank("counter", cand, a.currentView().live); r[0].Name == "a" && r[1].Name == "b" {
			id = cand
		}
	}
	var acked uint64
	for range 3 {
		n, err := tc.call(a, id, true)
		if err != nil {
			t.Fatal(err)
		}
		acked = n
	}

	a.Kill()
	delete(tc.nodes, "a")
	testutil.WaitFor(t, 60*time.Second, func() error {
		for _, n := range []*Node{b, c} {
			if !slices.ContainsFunc(n.currentView().failed, func(m NodeMeta) bool { return m.Name == "a" }) {
				return fmt.Errorf("%s does not see a as failed yet", n.Name())
			}
		}
		return nil
	})
	b.repl.unreachable.Store(nil)

	// b repairs c; the grain's next owner claims it from b and c.
	var got uint64
	testutil.WaitFor(t, 90*time.Second, func() error {
		_ = c.repl.pullRepair(ctx) // sooner than its anti-entropy loop's retry
		n, err := tc.call(c, id, false)
		got = n
		return err
	})
	if got != acked {
		t.Fatalf("%s reads %d after a's failure, want the %d acknowledged", id, got, acked)
	}
	if n, err := tc.call(b, id, true); err != nil || n != acked+1 {
		t.Fatalf("a write after a's failure: %d, %v; want %d", n, err, acked+1)
	}
}
