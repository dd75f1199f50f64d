package cluster

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestEveryMemberShutsDownAtOnce stops every member of a cluster at the
// same moment, as a whole-cluster SIGTERM does, several times: each
// Shutdown returns nil. NB: a member's leave broadcast can find no one
// left to carry it (the others left meanwhile); that is not a failed
// shutdown (memberlist's Leave then waits out its timeout and says
// "timeout waiting for leave broadcast", which CI once saw).
func TestEveryMemberShutsDownAtOnce(t *testing.T) {
	for round := 0; round < 4; round++ {
		tc := newClusterR(t, 3, "a", "b", "c")
		for i := 0; i < 12; i++ {
			if _, err := tc.call(tc.nodes["a"], fmt.Sprintf("g%d", i), true); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		errs := map[string]error{}
		var mu sync.Mutex
		for name, n := range tc.nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				start := time.Now()
				err := n.Shutdown(context.Background())
				t.Logf("round %d: %s shut down in %s", round, name, time.Since(start).Round(time.Millisecond))
				mu.Lock()
				errs[name] = err
				mu.Unlock()
			}()
		}
		wg.Wait()
		for name, err := range errs {
			if err != nil {
				t.Errorf("round %d: %s: Shutdown = %v", round, name, err)
			}
		}
	}
}
