package cluster

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stichdev/stich/internal/testutil"
)

// TestWorkersNeverWaitForARun: a mailbox run scheduled while every worker
// is busy (here blocked until that very run happens) starts on a new
// worker at once, as with a goroutine per run; every run happens; an
// idle worker takes the next run; close lets the idle workers go and
// Schedule still runs work after it.
func TestWorkersNeverWaitForARun(t *testing.T) {
	w := newWorkers(300)
	release := make(chan struct{})
	var ran atomic.Int32
	w.Schedule(func() { <-release; ran.Add(1) })
	w.Schedule(func() { <-release; ran.Add(1) })
	w.Schedule(func() { close(release); ran.Add(1) }) // would deadlock if it waited for a worker
	testutil.WaitFor(t, 60*time.Second, func() error {
		if n := ran.Load(); n != 3 {
			return fmt.Errorf("%d of 3 runs", n)
		}
		return nil
	})
	// The three workers are idle now (or about to be): later runs reuse
	// them or start new ones, and all happen.
	for i := 0; i < 100; i++ {
		w.Schedule(func() { ran.Add(1) })
	}
	testutil.WaitFor(t, 60*time.Second, func() error {
		if n := ran.Load(); n != 103 {
			return fmt.Errorf("%d of 103 runs", n)
		}
		return nil
	})
	w.close()
	w.close() // idempotent
	done := make(chan struct{})
	w.Schedule(func() { close(done) })
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("a run scheduled after close did not happen")
	}
}

// TestIdleWorkersTimeOutUnderATrickle: after a burst leaves many idle
// workers, a steady trickle of runs (each shorter apart than workerIdle)
// keeps only the most recently idle one busy; the others time out, and
// close lets the rest go.
func TestIdleWorkersTimeOutUnderATrickle(t *testing.T) {
	w := newWorkers(300)
	idle := func() int { w.mu.Lock(); defer w.mu.Unlock(); return len(w.idle) }
	testutil.WaitFor(t, 60*time.Second, func() error {
		// A burst of ten runs at once, again on each try: a machine that
		// stalls this goroutine past workerIdle lets them all time out.
		release := make(chan struct{})
		var wg sync.WaitGroup
		for i := 0; i < 10; i++ {
			wg.Add(1)
			w.Schedule(func() { defer wg.Done(); <-release })
		}
		close(release)
		wg.Wait()
		// Several (not all ten: on a loaded machine the first may time
		// out before the last is idle).
		if n := idle(); n < 3 {
			return fmt.Errorf("%d of 10 workers idle after the burst", n)
		}
		return nil
	})
	testutil.WaitFor(t, 120*time.Second, func() error {
		done := make(chan struct{})
		w.Schedule(func() { close(done) })
		<-done // one run at a time, one per poll (10 ms): a trickle
		if n := idle(); n > 2 {
			return fmt.Errorf("%d workers still idle under a trickle", n)
		}
		return nil
	})
	w.close()
	if n := idle(); n != 0 {
		t.Fatalf("%d workers idle after close", n)
	}
}
