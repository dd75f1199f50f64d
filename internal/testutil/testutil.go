// Package testutil holds helpers shared by stich's tests. It must not import
// any stich package.
package testutil

import (
	"testing"
	"time"
)

// WaitFor polls cond every 10 ms until it returns nil, failing the test with
// cond's last error if that has not happened within d.
func WaitFor(t testing.TB, d time.Duration, cond func() error) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var err error
	for {
		if err = cond(); err == nil {
			return
		}
		select {
		case <-deadline.C:
			t.Fatalf("condition not met within %s: %v", d, err)
		case <-tick.C:
		}
	}
}
