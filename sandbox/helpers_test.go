package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Test uids: each package's sandbox tests use their own, so the per-uid
// process limit and the leftover-process checks see only their own tasks.
const (
	testUID   = 64611 // ordinary runs
	escapeUID = 64612 // escape tests (fork bomb, leftovers)
)

// newTestLocal returns a Local rooted in a fresh temporary folder, with the
// npm cache shared across test runs (so installs after the first are
// offline-fast).
func newTestLocal(t testing.TB, uid int, edit func(*Config)) *Local {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the sandbox tests run as root (they switch to a sandbox uid and use cgroups); CI runs them as root")
	}
	base := t.TempDir()
	traversable(t, base)
	cfg := DefaultConfig(base)
	cfg.UID, cfg.GID = uid, uid
	cfg.CacheDir = testCacheDir(t, uid)
	cfg.RunTimeout = time.Minute
	if edit != nil {
		edit(&cfg)
	}
	l, err := NewLocal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// traversable lets other uids pass through dir and its parent (t.TempDir's
// per-test folder is 0700).
func traversable(t testing.TB, dir string) {
	t.Helper()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
}

var cacheMu sync.Mutex

// testCacheDir returns a persistent npm cache folder for uid under
// /var/tmp (reachable by the sandbox uid, unlike /root).
func testCacheDir(t testing.TB, uid int) string {
	t.Helper()
	cacheMu.Lock()
	defer cacheMu.Unlock()
	base := filepath.Join(os.TempDir(), "stich-test")
	if fi, err := os.Stat("/var/tmp"); err == nil && fi.IsDir() {
		base = "/var/tmp/stich-test"
	}
	if err := os.MkdirAll(base, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o711); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(base, "npm-cache-"+strconv.Itoa(uid))
}

// prepare makes workspace id with files.
func prepare(t testing.TB, l *Local, id string, files map[string]string) {
	t.Helper()
	ctx := context.Background()
	if err := l.Prepare(ctx, id); err != nil {
		t.Fatal(err)
	}
	if len(files) > 0 {
		if err := l.WriteFiles(ctx, id, files); err != nil {
			t.Fatal(err)
		}
	}
}

// run runs args in workspace id and returns the result, the error and all
// output.
func run(t testing.TB, l *Local, id string, cmd Command) (Result, string, error) {
	t.Helper()
	var mu sync.Mutex
	var b strings.Builder
	cmd.OnLine = func(ln Line) {
		mu.Lock()
		defer mu.Unlock()
		b.WriteString(ln.Text)
		b.WriteByte('\n')
	}
	res, err := l.Run(context.Background(), id, cmd)
	mu.Lock()
	defer mu.Unlock()
	return res, b.String(), err
}

// uidProcesses lists the pids of processes owned by uid.
func uidProcesses(uid int) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "Uid:" && f[1] == strconv.Itoa(uid) {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}
