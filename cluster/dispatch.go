package cluster

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// workerIdle is how long a worker goroutine waits for another mailbox to
// run before it exits; at most maxIdleWorkers wait at once (when 100,000
// grains passivate together, their runs must not each leave a goroutine
// waiting: a goroutine's struct is never freed by the runtime).
const (
	workerIdle     = 2 * time.Second
	maxIdleWorkers = 32
)

// workers is the dispatcher of every grain's mailbox: it runs a mailbox
// on a goroutine that ran one before and is idle, or on a new one when
// none is. protoactor's default dispatcher starts a goroutine per run;
// a new goroutine starts with a small stack, and a grain's first run
// (its state read from Pebble, whose sstable read path is deep) grew it
// by copying several times: a fifth of an activation's CPU time at
// 100,000 sessions (BenchmarkSessionScale's profile). A reused goroutine
// keeps its stack (the runtime shrinks idle stacks at GC).
//
// Schedule never blocks and never queues: a run waits for no other, as
// with one goroutine per run. Workers exit after workerIdle without work,
// when maxIdleWorkers are idle already, and at once when the node stops.
type workers struct {
	work       chan func() // unbuffered: a send succeeds only to an idle worker
	idle       atomic.Int32
	stop       chan struct{}
	stopOnce   sync.Once
	throughput int
}

var _ actor.Dispatcher = (*workers)(nil)

func newWorkers(throughput int) *workers {
	return &workers{work: make(chan func()), stop: make(chan struct{}), throughput: throughput}
}

// Schedule runs fn on an idle worker, or on a new one.
func (w *workers) Schedule(fn func()) {
	select {
	case w.work <- fn:
	default:
		go w.run(fn)
	}
}

// Throughput is the number of messages a mailbox run handles before it
// yields (protoactor's default).
func (w *workers) Throughput() int { return w.throughput }

func (w *workers) run(fn func()) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		fn()
		fn = nil // nothing kept while idle
		if w.idle.Add(1) > maxIdleWorkers {
			w.idle.Add(-1)
			return
		}
		idle.Reset(workerIdle)
		select {
		case fn = <-w.work:
			w.idle.Add(-1)
		case <-idle.C:
			w.idle.Add(-1)
			return
		case <-w.stop:
			w.idle.Add(-1)
			return
		}
	}
}

// close makes idle workers exit; a running one exits when its run ends.
// Schedule still works after close (on new goroutines that exit when done).
func (w *workers) close() { w.stopOnce.Do(func() { close(w.stop) }) }
