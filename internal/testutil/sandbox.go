package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// SandboxDirs prepares folders for tests that run app code in the sandbox
// as another uid: a fresh temporary folder for workspaces, and a folder
// kept between runs (for npm caches, so installs after the first run come
// from the cache). Both, and the folders above the temporary one, are made
// traversable (0711) by the sandbox uid. The tests switch uids, so they
// must run as root; the test fails otherwise.
func SandboxDirs(t testing.TB) (workspaces, persistent string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test runs app code in the sandbox under its own uid, which needs root; CI runs as root")
	}
	workspaces = t.TempDir()
	persistent = filepath.Join(os.TempDir(), "stich-test")
	if fi, err := os.Stat("/var/tmp"); err == nil && fi.IsDir() {
		persistent = "/var/tmp/stich-test"
	}
	if err := os.MkdirAll(persistent, 0o711); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Dir(workspaces), workspaces, persistent} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	return workspaces, persistent
}
