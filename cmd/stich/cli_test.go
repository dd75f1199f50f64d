package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code := run(ctx, args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestGenerateEmbeddedWritesApp(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "recipes")
	code, out, errs := runCLI(t, "generate", "--out", dir, "a recipe tracker with ingredients and ratings")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	for _, want := range []string{"scaffold (no model)", "▸ planning", "✓ completed", "Wrote"} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
	pkg, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(pkg, &v); err != nil {
		t.Fatalf("package.json: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "src", "App.tsx")); err != nil {
		t.Fatal(err)
	}
}

func TestGenerateJSONIsNDJSON(t *testing.T) {
	code, out, errs := runCLI(t, "generate", "--json", "a contact form")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil || !strings.HasPrefix(fmt.Sprint(first["session_id"]), "s-") {
		t.Fatalf("first line does not name the session: %q", lines[0])
	}
	lines = lines[1:]
	var last map[string]any
	for i, l := range lines {
		if err := json.Unmarshal([]byte(l), &last); err != nil {
			t.Fatalf("line %d is not JSON: %q", i, l)
		}
		if seq, _ := last["seq"].(string); seq != strings.TrimSpace(seq) || seq == "" {
			t.Fatalf("line %d has no seq: %q", i, l)
		}
	}
	if _, ok := last["completed"]; !ok {
		t.Fatalf("last event is not completed: %v", last)
	}
}

func TestCLIUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"generate"}, 2, "exactly one PROMPT"},
		{[]string{"generate", "   "}, 2, "prompt is empty"},
		{[]string{"generate", "--bogus", "x"}, 2, "unknown flag"},
		{[]string{"serve", "--http", "nonsense"}, 2, "--http"},
		{[]string{"serve", "--auth", "none"}, 2, "--auth"},
		{[]string{"serve", "--auth", "multi", "--signup", "closed"}, 2, "--signup"},
		{[]string{"serve", "--signup-domain", "example.com"}, 2, "need --auth multi"},
		{[]string{"serve", "--auth", "multi", "--public-url", "ftp://x"}, 2, "--public-url"},
		{[]string{"admin", "grant", "ann@example.com", "--role", "boss"}, 2, "--role"},
		{[]string{"admin", "disable"}, 2, "accepts 1 arg"},
		{[]string{"admin", "enable", "nobody"}, 2, "not an e-mail"},
		{[]string{"audit", "--user", "ann@example.com"}, 2, "--user needs --all"},
		{[]string{"audit", "--limit", "0"}, 2, "--limit"},
		{[]string{"admin", "users", "--server", "http://127.0.0.1:1"}, 1, "cannot reach the server"},
		{[]string{"serve", "--trusted-proxies", "proxy.example"}, 2, "--trusted-proxies"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"generate", "--server", "http://127.0.0.1:1", "x"}, 1, "cannot reach the server"},
		{[]string{"watch", "--server", "http://127.0.0.1:1", "s-abcdefgh12345678"}, 1, "cannot reach the server"},
	}
	for _, c := range cases {
		code, _, errs := runCLI(t, c.args...)
		if code != c.code || !strings.Contains(errs, c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", c.args, code, errs, c.code, c.msg)
		}
	}
	nonEmpty := t.TempDir()
	os.WriteFile(filepath.Join(nonEmpty, "keep.txt"), []byte("x"), 0o644)
	if code, _, errs := runCLI(t, "generate", "--out", nonEmpty, "x"); code != 2 || !strings.Contains(errs, "--force") {
		t.Errorf("non-empty --out: exit %d %q", code, errs)
	}
	if code, out, _ := runCLI(t, "version"); code != 0 || !strings.HasPrefix(out, "stich ") {
		t.Errorf("version: %d %q", code, out)
	}
}

// TestServeBadFlagsCreateNothing: stich serve checks every flag before it
// touches its data folder, so a mistyped flag exits 2 with a message and
// leaves no ./stich-data (with a node-name file) behind in the folder it
// was started from.
func TestServeBadFlagsCreateNothing(t *testing.T) {
	cwd := t.TempDir()
	t.Chdir(cwd) // the default --data is ./stich-data
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--http", "nonsense"}, "--http"},
		{[]string{"--auth", "none"}, "--auth"},
		{[]string{"--trusted-proxies", "proxy.example"}, "--trusted-proxies"},
		{[]string{"--gossip-profile", "moon"}, "--gossip-profile"},
		{[]string{"--scaffold-chunk-delay", "-1s"}, "--scaffold-chunk-delay"},
		{[]string{"--sandbox", "elsewhere"}, "--sandbox"},
		{[]string{"--create-limit", "-1"}, "--create-limit"},
		{[]string{"--message-limit", "-1"}, "--message-limit"},
		{[]string{"--daily-model-budget", "-2"}, "--daily-model-budget"},
		{[]string{"--node-key-file", "/nonexistent/node.key"}, "--node-key-file"},
	} {
		code, _, errs := runCLI(t, append([]string{"serve"}, c.args...)...)
		if code != exitUsage || !strings.Contains(errs, c.msg) {
			t.Errorf("serve %v: exit %d, stderr %q; want exit %d mentioning %q", c.args, code, errs, exitUsage, c.msg)
		}
		if ents, err := os.ReadDir(cwd); err != nil || len(ents) > 0 {
			t.Fatalf("serve %v left %v in its folder (%v)", c.args, ents, err)
		}
	}
}

// stich nodekey new makes a 0600 key file and rotates it: the new key
// first, the older kept; serve reads it, and refuses a file others can
// read.
func TestNodeKeyNewAndRotate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.key")
	for _, id := range []string{"first", "second"} {
		if code, out, errs := runCLI(t, "nodekey", "new", path, "--id", id); code != 0 || !strings.Contains(out, id) {
			t.Fatalf("nodekey new %s: %d %q %q", id, code, out, errs)
		}
	}
	if code, _, errs := runCLI(t, "nodekey", "new", path, "--id", "first"); code != exitUsage || !strings.Contains(errs, "already has a key") {
		t.Fatalf("duplicate id: %d %q", code, errs)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", st.Mode(), err)
	}
	f := &budgetFlags{nodeKeyFile: path}
	r, err := f.ring()
	if err != nil || strings.Join(r.IDs(), ",") != "second,first" {
		t.Fatalf("ring %v %v", r, err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ring(); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable key file: %v", err)
	}
}

// An embedded node's owner key is sent to its address only while it
// serves: a process that runs an embedded node and later talks to another
// node on the same port (CI saw one get the stale key: "unauthenticated")
// sends that node its own key file's key, not the stopped node's.
func TestEmbeddedNodeKeyEndsWithTheNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stop, url, err := startEmbedded(ctx, &globalFlags{logLevel: "warn", logFormat: "text"}, &modelFlags{}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	hostport := strings.TrimPrefix(url, "http://")
	if tokenFor(ctx, hostport) == "" {
		stop()
		t.Fatal("the embedded node's key is not used for its address while it serves")
	}
	stop()
	if _, ok := embeddedTokens.Load(hostport); ok {
		t.Fatalf("the stopped embedded node's key is still used for %s", hostport)
	}
}
