package actors

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/stichdev/stich/cluster"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// countKeys counts every key in a node's store.
func countKeys(t *testing.T, n *cluster.Node) int {
	t.Helper()
	it, err := n.Store().DB().NewIter(&pebble.IterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	count := 0
	for it.First(); it.Valid(); it.Next() {
		count++
	}
	return count
}

// TestLookupsOfUnknownSessionsWriteNothing: 10,000 reads (GetSnapshot,
// ReadLog, Subscribe: what GetSession, Watch and previews send) of random
// session ids that do not exist, through every node of a 3-node cluster
// with R = 3, all answer NOT_FOUND and add no key to any node's store.
// Log compaction is off and the session stays in memory (leaving it
// compacts too): under load the lookups outlast compaction's 2 minutes and
// it removed the real session's chunk keys mid-count (283 keys before,
// 115 after, in a -race run at load average 12).
func TestLookupsOfUnknownSessionsWriteNothing(t *testing.T) {
	rts := startPeersWith(t, 3, 0, Config{CompactLogAfter: -1, Cluster: cluster.Config{PassivateAfter: time.Hour}})
	// One real session, so the cluster is past its first claims.
	rt := rts[0]
	id := rt.NewSessionID("")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := Call[*actorsv1.CreateSessionReply](ctx, rt.Node, KindSession, id, &actorsv1.CreateSession{Caller: NodeCaller(), Prompt: "a todo list"}); err != nil {
		t.Fatal(err)
	}
	if _, err := Call[*actorsv1.SnapshotReply](ctx, rts[2].Node, KindSession, id, &actorsv1.GetSnapshot{Caller: NodeCaller()}); err != nil {
		t.Fatalf("an existing session looked up through another node: %v", err)
	}
	// Let the generation settle before counting.
	var before []int
	deadline := time.Now().Add(20 * time.Second)
	for {
		var counts []int
		for _, r := range rts {
			counts = append(counts, countKeys(t, r.Node))
		}
		if fmt.Sprint(counts) == fmt.Sprint(before) || time.Now().After(deadline) {
			break
		}
		before = counts
		time.Sleep(500 * time.Millisecond)
	}

	const lookups = 10000
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []error
	jobs := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				unknown := rts[0].NewSessionID("")
				via := rts[rand.IntN(len(rts))].Node
				cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				var err error
				switch i % 3 {
				case 0:
					_, err = Call[*actorsv1.SnapshotReply](cctx, via, KindSession, unknown, &actorsv1.GetSnapshot{Caller: NodeCaller()})
				case 1:
					_, err = Call[*actorsv1.ReadLogReply](cctx, via, KindSession, unknown, &actorsv1.ReadLog{Caller: NodeCaller(), Limit: 10})
				default:
					_, err = Call[*actorsv1.SubscribeReply](cctx, via, KindSession, unknown, &actorsv1.Subscribe{Caller: NodeCaller()})
				}
				cancel()
				var ae *Error
				if !errors.As(err, &ae) || ae.Code != actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND {
					mu.Lock()
					failures = append(failures, fmt.Errorf("lookup %d of %s: %v", i, unknown, err))
					mu.Unlock()
				}
			}
		}()
	}
	for i := range lookups {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d of %d lookups did not answer NOT_FOUND; first: %v", len(failures), lookups, failures[0])
	}
	for i, r := range rts {
		if after := countKeys(t, r.Node); after != before[i] {
			t.Errorf("%s: %d keys before %d lookups of unknown ids, %d after", r.Node.Name(), before[i], lookups, after)
		}
	}
}
