package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stichdev/stich/internal/testutil"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// Sizes of the large grain: 40 values of 512 KiB.
const (
	largeBlobs    = 40
	largeBlobSize = 512 << 10
)

func largeBlob(i int) string {
	r := rand.New(rand.NewPCG(uint64(i), 7))
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b strings.Builder
	b.Grow(largeBlobSize)
	for range largeBlobSize {
		b.WriteByte(letters[r.IntN(len(letters))])
	}
	return b.String()
}

func requestVia(n *Node, id string, msg any) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := n.Request(ctx, "counter", id, msg)
	if err != nil {
		return nil, err
	}
	if ge, ok := res.(*actorsv1.GrainError); ok {
		return nil, errors.New(ge.GetMessage())
	}
	return res, nil
}

// checkLargeGrain reads every value of the large grain through n (reads
// are retried: the grain may be moving; 20 MiB cross nodes per attempt).
func checkLargeGrain(t *testing.T, n *Node, id string, blobs []string) {
	t.Helper()
	testutil.WaitFor(t, 3*time.Minute, func() error {
		for i, want := range blobs {
			res, err := requestVia(n, id, &actorsv1.ReadFile{Path: fmt.Sprint(i)})
			if err != nil {
				return fmt.Errorf("value %d through %s: %w", i, n.Name(), err)
			}
			if got := res.(*actorsv1.ReadFileReply).GetFile().GetContent(); got != want {
				return fmt.Errorf("value %d through %s: %d bytes, not the %d written", i, n.Name(), len(got), len(want))
			}
		}
		return nil
	})
}

// storeHolds reports whether n's own copy of the grain holds every value.
func storeHolds(n *Node, id string, blobs []string) error {
	gs, err := n.Store().Grain("counter", id)
	if err != nil {
		return err
	}
	for i, want := range blobs {
		v, err := gs.Get("blob/" + fmt.Sprint(i))
		if err != nil || string(v) != want {
			return fmt.Errorf("%s's copy of %s lacks value %d (%d bytes, %v)", n.Name(), id, i, len(v), err)
		}
	}
	return nil
}

// TestReplicatedLargeGrainMoves: a 20 MiB grain (far over the actor
// remote's 4 MiB message limit) moves between nodes by a graceful leave
// (a new member of its replica set is sent its copy), a crash of its
// owner, and a data-folder wipe (the wiped node is refilled), and serves
// every value afterwards.
func TestReplicatedLargeGrainMoves(t *testing.T) {
	tc := newReplicatedClusterDetecting(t, "a", "b", "c", "d")
	const id = "large"
	blobs := make([]string, largeBlobs)
	for i := range blobs {
		blobs[i] = largeBlob(i)
		// A write that fails (its deadline expired on a loaded machine)
		// is sent again: it puts the same value, so its outcome does not
		// matter.
		tries := 0
		testutil.WaitFor(t, 2*time.Minute, func() error {
			if _, err := requestVia(tc.nodes["a"], id, &actorsv1.SaveFile{Path: fmt.Sprint(i), Content: blobs[i]}); err != nil {
				if tries++; tries == 1 {
					t.Logf("write %d: %v (sent again)", i, err)
				}
				return fmt.Errorf("write %d: %w", i, err)
			}
			return nil
		})
	}
	set := memberNames(LookupN("counter", id, tc.nodes["a"].Members(), 3))
	outsider := ""
	for name := range tc.nodes {
		if !strings.Contains(strings.Join(set, ","), name) {
			outsider = name
		}
	}
	t.Logf("replica set %v; %s holds no copy", set, outsider)

	// Leave: the owner hands off; the outsider joins the set and must get
	// the whole copy (from the leaver, or, if its hand-off timed out on a
	// loaded machine, from anti-entropy).
	if err := tc.nodes[set[0]].Shutdown(context.Background()); err != nil {
		t.Logf("leave: %v", err)
	}
	delete(tc.nodes, set[0])
	tc.waitMembers(3)
	checkLargeGrain(t, tc.nodes[outsider], id, blobs)
	testutil.WaitFor(t, 2*time.Minute, func() error { return storeHolds(tc.nodes[outsider], id, blobs) })

	// Crash: the new owner dies; the survivors serve it.
	owner, _ := tc.nodes[outsider].Owner("counter", id)
	tc.nodes[owner].Kill()
	delete(tc.nodes, owner)
	tc.waitMembers(2)
	var via *Node
	for _, n := range tc.nodes {
		via = n
	}
	checkLargeGrain(t, via, id, blobs)

	// Wipe: the crashed node comes back with an empty data folder and is
	// refilled.
	tc.dirs[owner] = t.TempDir()
	back := tc.start(owner)
	testutil.WaitFor(t, 3*time.Minute, func() error { return storeHolds(back, id, blobs) })
	checkLargeGrain(t, back, id, blobs)
}
