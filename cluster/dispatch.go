package cluster

import (
	"slices"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// A worker goroutine waits workerIdle for another mailbox to run before
// it exits, and at most maxIdleWorkers wait at once (when 100,000 grains
// passivate together, their runs must not each leave a goroutine waiting:
// the runtime never frees a goroutine's struct).
const (
	workerIdle     = 2 * time.Second
	maxIdleWorkers = 32
)

// workers is the dispatcher of every grain's mailbox: it runs a mailbox
// on a goroutine that ran one before and is idle, or on a new one when
// none is. protoactor's default dispatcher starts a goroutine per run; a
// new goroutine starts with a small stack, and a grain's first run (its
// state read from Pebble, whose sstable read path is deep) grew it by
// copying several times: a fifth of an activation's CPU time at 100,000
// sessions (BenchmarkSessionScale's profile). A reused goroutine keeps its
// stack (the runtime shrinks idle stacks at GC).
//
// Schedule never blocks and never queues: a run waits for no other, as
// with one goroutine per run. The idle workers are a stack: the one idle
// the shortest time takes the next run, so under a trickle of runs the
// others still time out (a FIFO hand-off, as a channel's, would keep every
// idle worker alive). Workers exit after workerIdle without work, when
// maxIdleWorkers are idle already, and when the node stops.
type workers struct {
	throughput int

	mu      sync.Mutex
	idle    []*worker // most recently idle last
	stopped bool
}

// worker is one worker goroutine's hand-off: a run, or nil to exit.
type worker struct{ work chan func() } // buffered 1: Schedule never waits

var _ actor.Dispatcher = (*workers)(nil)

func newWorkers(throughput int) *workers { return &workers{throughput: throughput} }

// Schedule runs fn on the most recently idle worker, or on a new one.
func (w *workers) Schedule(fn func()) {
	w.mu.Lock()
	if n := len(w.idle); n > 0 {
		k := w.idle[n-1]
		w.idle[n-1] = nil
		w.idle = w.idle[:n-1]
		w.mu.Unlock()
		k.work <- fn // k waits with an empty channel
		return
	}
	w.mu.Unlock()
	go w.run(&worker{work: make(chan func(), 1)}, fn)
}

// Throughput is the number of messages a mailbox run handles before it
// yields (protoactor's default).
func (w *workers) Throughput() int { return w.throughput }

func (w *workers) run(k *worker, fn func()) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for fn != nil {
		fn()
		fn = nil // nothing kept while idle
		w.mu.Lock()
		if w.stopped || len(w.idle) >= maxIdleWorkers {
			w.mu.Unlock()
			return
		}
		w.idle = append(w.idle, k)
		w.mu.Unlock()
		idle.Reset(workerIdle)
		select {
		case fn = <-k.work:
		case <-idle.C:
			w.mu.Lock()
			i := slices.Index(w.idle, k)
			if i >= 0 {
				w.idle = slices.Delete(w.idle, i, i+1)
			}
			w.mu.Unlock()
			if i >= 0 {
				return
			}
			fn = <-k.work // Schedule took k meanwhile: its run (or nil) is coming
		}
	}
}

// close makes the idle workers exit; a running one exits when its run
// ends. Schedule still works after close (each run on a new goroutine
// that exits when it is done).
func (w *workers) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	for _, k := range w.idle {
		k.work <- nil
	}
	w.idle = nil
}
