package main

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOwnerKeyFileAndLogin: `stich serve` saves its owner's key where the
// CLI on the machine finds it (0600 in a 0700 folder), so admin commands
// work with no flag; without that file, nothing is granted (not even on
// loopback); `stich login` saves a key for a server; --token wins.
func TestOwnerKeyFileAndLogin(t *testing.T) {
	n := startNode(t, t.TempDir())
	u, err := url.Parse(n.url)
	if err != nil {
		t.Fatal(err)
	}
	path, err := keyFilePath(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("owner key file: %v", err)
	}
	di, _ := os.Stat(filepath.Dir(path))
	if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
		t.Fatalf("key file %v, folder %v; want 0600 and 0700", fi.Mode(), di.Mode())
	}
	b, _ := os.ReadFile(path)
	key := strings.TrimSpace(string(b))

	if code, out, errs := runCLI(t, "cluster", "status", "--server", n.url); code != 0 || !strings.Contains(out, "(this)") {
		t.Fatalf("status with the saved key: exit %d\n%s%s", code, out, errs)
	}
	code, _, errs := runCLI(t, "cluster", "status", "--server", n.url, "--token", "stich_local_0123456789abcdef_"+strings.Repeat("A", 43))
	if code == 0 || !strings.Contains(errs, "unauthenticated") {
		t.Fatalf("a forged --token: exit %d %s", code, errs)
	}

	code, out, errs := runCLI(t, "signin-link", "--server", n.url)
	if code != 0 || !strings.HasPrefix(out, n.url+"/auth/signin?token=") {
		t.Fatalf("signin-link: exit %d %q %s", code, out, errs)
	}

	// Another OS user's view: no key file. Loopback grants nothing.
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	if code, _, errs := runCLI(t, "signin-link", "--server", n.url); code != 1 || !strings.Contains(errs, "unauthenticated") {
		t.Fatalf("signin-link without a key: exit %d %s", code, errs)
	}
	if code, _, errs := runCLI(t, "leave", "--server", n.url); code == 0 || !strings.Contains(errs, "unauthenticated") {
		t.Fatalf("leave without a key: exit %d %s", code, errs)
	}
	if code, _, errs := runCLI(t, "login", "--server", n.url, "--token", "not-a-key"); code != 2 || !strings.Contains(errs, "not a stich API key") {
		t.Fatalf("login with garbage: exit %d %s", code, errs)
	}
	if code, out, errs := runCLI(t, "login", "--server", n.url, "--token", key); code != 0 || !strings.Contains(out, "signed in") {
		t.Fatalf("login: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := runCLI(t, "apps", "--server", n.url); code != 0 {
		t.Fatalf("apps after login: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := runCLI(t, "leave", "--server", n.url); code != 0 || !strings.Contains(out, "handing off") {
		t.Fatalf("leave with the key: exit %d\n%s%s", code, out, errs)
	}
}
