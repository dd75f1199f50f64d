package testutil

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"testing"
	"time"
)

// ChromiumDOM loads url in headless Chromium (Debian's package, which
// `make test` installs), lets the page run for 5 s of virtual time, and
// returns its DOM. The test fails when Chromium is missing or fails.
func ChromiumDOM(t testing.TB, url string) string {
	t.Helper()
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Fatal("no chromium in PATH: the browser tests need it (Debian: apt-get install -y chromium; make test installs it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=5000", "--dump-dom", url)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil && !errors.Is(err, exec.ErrWaitDelay) {
		t.Fatalf("chromium: %v\n%s", err, errb.String())
	}
	return out.String()
}
