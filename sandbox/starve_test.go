package sandbox

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// starveUID is the first of the two uids of the starvation test.
const starveUID = 64614

// One workspace holds as many processes as its limit allows (and another
// command of it runs out of memory); a second workspace's commands still
// start and succeed, because each workspace runs as a uid of its own
// (RLIMIT_NPROC counts per uid) and each command has its own cgroup.
func TestNoWorkspaceStarvesAnother(t *testing.T) {
	const limit = 64
	l := newTestLocal(t, starveUID, func(c *Config) {
		c.UIDs = 2
		c.Limits.Processes = limit
	})
	prepare(t, l, "hog", nil)
	prepare(t, l, "other", nil)
	hogUID, _ := l.UID("hog")
	otherUID, _ := l.UID("other")
	if hogUID == otherUID || hogUID < starveUID || otherUID < starveUID || hogUID > starveUID+1 || otherUID > starveUID+1 {
		t.Fatalf("workspace uids %d and %d: want two distinct uids of the range", hogUID, otherUID)
	}

	var wg sync.WaitGroup
	var hogRes Result
	var hogErr, memErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		hogRes, _, hogErr = run(t, l, "hog", Command{
			// node survives failed spawns (a shell exits at the first).
			Args: []string{"node", "-e", `const { spawn } = require("child_process");
let told = false;
const tell = (e) => { if (!told) { told = true; console.error("spawn sleep: " + e.message); } };
for (let i = 0; i < 300; i++) { try { spawn("sleep", ["30"]).on("error", tell); } catch (e) { tell(e); } }
setTimeout(() => {}, 30000);`},
			Timeout: 5 * time.Second,
		})
	}()
	go func() {
		defer wg.Done()
		if !l.Cgroups() {
			return
		}
		_, _, memErr = run(t, l, "hog", Command{
			Args:    []string{"sh", "-c", `head -c 400000000 /dev/zero | tail > /dev/null`},
			Limits:  &Limits{Memory: 64 << 20},
			Timeout: 15 * time.Second,
		})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for len(uidProcesses(hogUID)) < limit-16 { // node's threads count toward the limit too
		if time.Now().After(deadline) {
			t.Fatalf("the hog holds only %d processes", len(uidProcesses(hogUID)))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Until the hog stops growing: it holds all it may.
	held := len(uidProcesses(hogUID))
	for stable := 0; stable < 10; {
		time.Sleep(50 * time.Millisecond)
		if n := len(uidProcesses(hogUID)); n > held {
			held, stable = n, 0
		} else {
			stable++
		}
	}

	// The other app's build: a few processes, while the hog holds its limit.
	res, out, err := run(t, l, "other", Command{
		Args:    []string{"sh", "-c", `for i in 1 2 3 4 5 6 7 8; do true & done; wait; echo built`},
		Timeout: 10 * time.Second,
	})
	if err != nil || res.ExitCode != 0 || !strings.Contains(out, "built") {
		t.Fatalf("the other workspace's command failed while the hog held %d processes: %v (exit %d)\n%s", held, err, res.ExitCode, out)
	}
	wg.Wait()
	if !errors.Is(hogErr, ErrTimeout) || !hogRes.Hit(LimitProcesses) {
		t.Errorf("the hog: %v, exceeded %v; want it to hit the process limit", hogErr, hogRes.Exceeded)
	}
	if l.Cgroups() && !errors.Is(memErr, ErrMemoryLimit) {
		t.Errorf("the memory hog: %v, want ErrMemoryLimit", memErr)
	}
	t.Logf("hog held %d processes (limit %d); the other workspace's command ran in %v", held, limit, res.Duration)
}
