package actors

import (
	"context"
	"time"
)

// job is a goroutine a grain owns: blocking work (a model step, a build)
// runs on it, off the mailbox, and reports back by message. The grain
// cancels it when the work is superseded and, when its activation stops,
// waits for it (bounded), so no job outlives its grain.
type job struct {
	ctx    context.Context // cancelled by stop
	cancel context.CancelFunc
	done   chan struct{}
}

func newJob() *job {
	ctx, cancel := context.WithCancel(context.Background())
	return &job{ctx: ctx, cancel: cancel, done: make(chan struct{})}
}

// start runs fn on the job's goroutine; start it once.
func (j *job) start(fn func()) {
	go func() {
		defer close(j.done)
		fn()
	}()
}

// stop cancels the job. With wait it waits up to limit for the goroutine
// to end and reports whether it did. A nil job is stopped already.
func (j *job) stop(wait bool, limit time.Duration) bool {
	if j == nil {
		return true
	}
	j.cancel()
	if !wait {
		return true
	}
	select {
	case <-j.done:
		return true
	case <-time.After(limit):
		return false
	}
}
