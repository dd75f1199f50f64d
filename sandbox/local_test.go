package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stichdev/stich/internal/testutil"
)

func TestRunStreamsLines(t *testing.T) {
	l := newTestLocal(t, testUID, nil)
	prepare(t, l, "a", map[string]string{"p.js": `
for (let i = 0; i < 1000; i++) console.log("line " + i);
console.error("to stderr");
process.stdout.write("x".repeat(` + "70000" + `) + "\n");
process.stdout.write("no newline at the end");
process.exitCode = 4;`})
	var got []Line
	res, err := l.Run(context.Background(), "a", Command{
		Args:   []string{"node", "p.js"},
		OnLine: func(ln Line) { got = append(got, ln) }, // calls never overlap
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 4 {
		t.Errorf("exit code %d, want 4", res.ExitCode)
	}
	var stdout []string
	sawStderr := false
	for _, ln := range got {
		if ln.Stream == Stderr {
			sawStderr = ln.Text == "to stderr"
			continue
		}
		stdout = append(stdout, ln.Text)
	}
	if !sawStderr {
		t.Error("stderr line missing")
	}
	if len(stdout) != 1003 {
		t.Fatalf("%d stdout lines, want 1003 (1000 + a long line split in two + the last)", len(stdout))
	}
	for i := range 1000 {
		if stdout[i] != "line "+itoa(i) {
			t.Fatalf("line %d = %q", i, stdout[i])
		}
	}
	if len(stdout[1000]) != MaxLineBytes || len(stdout[1000])+len(stdout[1001]) != 70000 {
		t.Errorf("long line split into %d + %d bytes", len(stdout[1000]), len(stdout[1001]))
	}
	if stdout[1002] != "no newline at the end" {
		t.Errorf("last line %q", stdout[1002])
	}
	if res.Lines != len(got) || len(res.Tail) != TailLines || res.Tail[TailLines-1].Text != "no newline at the end" {
		t.Errorf("Lines %d (got %d), tail %d ending %q", res.Lines, len(got), len(res.Tail), res.Tail[len(res.Tail)-1].Text)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestStatusAndCleanupWhileRunning(t *testing.T) {
	l := newTestLocal(t, testUID, nil)
	ctx := context.Background()
	st, err := l.Status(ctx, "a")
	if err != nil || st.State != StateMissing {
		t.Fatalf("status of a missing workspace = %+v, %v", st, err)
	}
	prepare(t, l, "a", map[string]string{"src/x.txt": "x"})
	if err := l.Prepare(ctx, "a"); err != nil { // idempotent, keeps files
		t.Fatal(err)
	}
	if b, err := l.ReadFile(ctx, "a", "src/x.txt"); err != nil || string(b) != "x" {
		t.Fatalf("ReadFile = %q, %v", b, err)
	}
	started := make(chan struct{})
	var once sync.Once
	errc := make(chan error, 1)
	go func() {
		_, err := l.Run(ctx, "a", Command{
			Args:    []string{"sh", "-c", "echo up; exec sleep 1000"},
			Timeout: time.Minute,
			OnLine:  func(Line) { once.Do(func() { close(started) }) },
		})
		errc <- err
	}()
	<-started
	st, err = l.Status(ctx, "a")
	if err != nil || st.State != StateRunning || len(st.Running) != 1 || !strings.HasPrefix(st.Running[0], "sh -c") {
		t.Fatalf("status while running = %+v, %v", st, err)
	}
	if err := l.Cleanup(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Run during Cleanup returned %v, want context.Canceled", err)
	}
	if _, err := os.Stat(filepath.Join(l.cfg.Root, "a")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("workspace folder still there: %v", err)
	}
	if st, _ := l.Status(ctx, "a"); st.State != StateMissing {
		t.Errorf("status after cleanup = %+v", st)
	}
	if _, err := l.Run(ctx, "a", Command{Args: []string{"true"}}); !errors.Is(err, ErrNoWorkspace) {
		t.Errorf("Run after cleanup = %v, want ErrNoWorkspace", err)
	}
	if err := l.Cleanup(ctx, "a"); err != nil {
		t.Errorf("second Cleanup = %v", err)
	}
	testutil.WaitFor(t, 5*time.Second, func() error {
		if p := uidProcesses(testUID); len(p) > 0 {
			return errors.New("processes left")
		}
		return nil
	})
}

func TestConcurrentRuns(t *testing.T) {
	l := newTestLocal(t, testUID, nil)
	prepare(t, l, "a", nil)
	prepare(t, l, "b", nil)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := "a"
			if i%2 == 1 {
				id = "b"
			}
			res, err := l.Run(context.Background(), id, Command{Args: []string{"sh", "-c", "echo $0", itoa(i)}})
			if err == nil && (res.ExitCode != 0 || len(res.Tail) != 1) {
				err = errors.New("bad result")
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestMounts(t *testing.T) {
	l := newTestLocal(t, testUID, nil)
	prepare(t, l, "tools", map[string]string{"lib/hello.txt": "from tools\n"})
	prepare(t, l, "app", nil)
	res, out, err := run(t, l, "app", Command{
		Args:   []string{"sh", "-c", `cat "$TOOLS/hello.txt" /opt/t/lib/hello.txt; if (echo x > /opt/t/lib/new) 2>/dev/null; then echo WROTE; fi`},
		Mounts: []Mount{{Workspace: "tools", Sub: "lib", Env: "TOOLS"}, {Workspace: "tools", Target: "/opt/t"}},
	})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("%v %d %s", err, res.ExitCode, out)
	}
	if out != "from tools\nfrom tools\n" {
		t.Errorf("output %q: mounts not visible or writable", out)
	}
	if _, err := l.Run(context.Background(), "app", Command{Args: []string{"true"}, Mounts: []Mount{{Workspace: "nope", Env: "X"}}}); !errors.Is(err, ErrNoWorkspace) {
		t.Errorf("mount of a missing workspace: %v", err)
	}
	if _, err := l.Run(context.Background(), "app", Command{Args: []string{"true"}, Mounts: []Mount{{Workspace: "tools"}}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("mount without target or env: %v", err)
	}
}

func TestNewLocalWithoutBwrap(t *testing.T) {
	base := t.TempDir()
	traversable(t, base)
	cfg := DefaultConfig(base)
	cfg.UID, cfg.GID = testUID, testUID
	cfg.CacheDir = testCacheDir(t, testUID)
	cfg.Bwrap = filepath.Join(base, "no-such-bwrap")
	if _, err := NewLocal(cfg); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "apt-get install bubblewrap") {
		t.Fatalf("NewLocal without bwrap = %v, want ErrUnavailable saying how to install it", err)
	}

	// Unsafe mode runs with the uid and rlimits only, and says so loudly.
	var logs bytes.Buffer
	cfg.Unsafe = true
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	l, err := NewLocal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !l.Unsafe() || !strings.Contains(logs.String(), "UNSAFE MODE") {
		t.Errorf("no unsafe warning: %q", logs.String())
	}
	prepare(t, l, "a", map[string]string{"f": "data\n"})
	res, out, err := run(t, l, "a", Command{Args: []string{"sh", "-c", "id -u; cat f; grep 'Max processes' /proc/self/limits | tr -s ' ' | cut -d' ' -f3"}, Limits: &Limits{Processes: 77}})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("%v %d %s", err, res.ExitCode, out)
	}
	if out != itoa(testUID)+"\ndata\n77\n" {
		t.Errorf("unsafe run output %q", out)
	}
	if _, err := l.Run(context.Background(), "a", Command{Args: []string{"true"}, Mounts: []Mount{{Workspace: "a", Target: "/x"}}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("mount target in unsafe mode: %v", err)
	}
	_, _, err = run(t, l, "a", Command{Args: []string{"sh", "-c", "exec sleep 100"}, Timeout: 200 * time.Millisecond})
	if !errors.Is(err, ErrTimeout) {
		t.Errorf("unsafe timeout: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig("/var/lib/stich").Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	c := DefaultConfig("relative")
	c.UID = 0
	c.Registry = "ftp://x"
	c.Cgroups = "maybe"
	c.Limits.Processes = 1
	c.RunTimeout = 0
	err := c.Validate()
	for _, want := range []string{"Root", "CacheDir", "UID", "Registry", "Cgroups", "Processes", "RunTimeout"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want a problem with %s", err, want)
		}
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("Validate error does not wrap ErrInvalid")
	}
}

func TestCheckDependencies(t *testing.T) {
	const reg = "https://registry.npmjs.org/"
	ok := []string{
		`{"dependencies":{"react":"19.3.1","@types/react":"^19.0.0","x":"~1.2 || >=3.0.0 <4","y":"latest","z":"*","w":""}}`,
		`{"name":"x","scripts":{"postinstall":"curl evil"}}`,
		`{"dependencies":null,"overrides":{"foo":"1.0.0","bar":{"baz":"2.x"}}}`,
	}
	for _, p := range ok {
		if err := CheckDependencies([]byte(p), nil, reg); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	bad := []string{
		`{"dependencies":{"x":"https://evil.example/x.tgz"}}`,
		`{"dependencies":{"x":"git+ssh://git@github.com/a/b.git"}}`,
		`{"dependencies":{"x":"github:a/b"}}`,
		`{"dependencies":{"x":"a/b"}}`,
		`{"devDependencies":{"x":"file:../../etc"}}`,
		`{"dependencies":{"x":"link:/etc"}}`,
		`{"dependencies":{"x":"npm:evil@1"}}`,
		`{"dependencies":{"../x":"1.0.0"}}`,
		`{"optionalDependencies":{"x":"http://127.0.0.1:8080/"}}`,
		`{"workspaces":["../other"]}`,
		`{"overrides":{"x":"https://evil/x.tgz"}}`,
		`{"dependencies":["x"]}`,
		`not json`,
	}
	for _, p := range bad {
		if err := CheckDependencies([]byte(p), nil, reg); !errors.Is(err, ErrDependencies) {
			t.Errorf("%s: %v, want ErrDependencies", p, err)
		}
	}
	pkg := []byte(`{"dependencies":{"a":"1.0.0"}}`)
	goodLock := `{"lockfileVersion":3,"packages":{"":{"dependencies":{"a":"1.0.0"}},"node_modules/a":{"version":"1.0.0","resolved":"https://registry.npmjs.org/a/-/a-1.0.0.tgz","dependencies":{"b":"^2"}},"node_modules/a/node_modules/b":{"version":"2.0.0"}}}`
	if err := CheckDependencies(pkg, []byte(goodLock), reg); err != nil {
		t.Errorf("good lockfile: %v", err)
	}
	for _, lock := range []string{
		`{"packages":{"node_modules/a":{"resolved":"http://127.0.0.1:9999/a.tgz"}}}`,
		`{"packages":{"node_modules/a":{"link":true,"resolved":"../../etc"}}}`,
		`{"packages":{"../escape":{"version":"1.0.0"}}}`,
		`{"packages":{"node_modules/a":{"version":"git+https://x/y"}}}`,
		`{"dependencies":{"a":{"version":"1.0.0","resolved":"https://evil/a.tgz"}}}`,
	} {
		if err := CheckDependencies(pkg, []byte(lock), reg); !errors.Is(err, ErrDependencies) {
			t.Errorf("lockfile %s: %v, want ErrDependencies", lock, err)
		}
	}
}

func FuzzCheckDependencies(f *testing.F) {
	f.Add([]byte(`{"dependencies":{"react":"19.3.1"}}`), []byte(`{"packages":{"node_modules/a":{"resolved":"https://registry.npmjs.org/a"}}}`))
	f.Add([]byte(`{"overrides":{"a":{"b":{"c":"1"}}}}`), []byte(`{"dependencies":{"a":{"dependencies":{"b":{"version":"1"}}}}}`))
	f.Fuzz(func(t *testing.T, pkg, lock []byte) {
		_ = CheckDependencies(pkg, lock, "https://registry.npmjs.org/")
	})
}

// TestBuildArgvGolden pins the isolation flags: a change to them shows up
// in review as a golden diff.
func TestBuildArgvGolden(t *testing.T) {
	s := spec{
		bwrap: "/usr/bin/bwrap", prlimit: "/usr/bin/prlimit", shell: "/bin/sh",
		uid: 64600, gid: 64600,
		limits:       DefaultConfig("/x").Limits,
		cgroupMemory: true,
		workspace:    "/var/lib/stich/workspaces/app1",
		dir:          "web",
		system:       []string{"--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin"},
		readOnly:     []string{"/opt/node"},
		passwd:       "/var/lib/stich/workspaces/.etc/passwd",
		group:        "/var/lib/stich/workspaces/.etc/group",
		mounts:       []boundMount{{host: "/var/lib/stich/workspaces/tools/node_modules", target: "/mnt/0", env: "NODE_PATH"}},
		env:          []string{"FOO=bar"},
		pathPrefix:   []string{"/opt/node/bin"},
		args:         []string{"tsc", "--noEmit"},
	}
	var b strings.Builder
	write := func(name string, s spec) {
		b.WriteString("# " + name + "\n")
		for _, a := range buildArgv(s) {
			b.WriteString(a + "\n")
		}
		b.WriteString("\n")
	}
	write("run", s)
	install := s
	install.network, install.cache, install.dir, install.mounts = true, "/var/lib/stich/npm-cache", ".", nil
	install.args = []string{"npm", "ci"}
	write("install", install)
	unsafe := s
	unsafe.unsafe, unsafe.cgroupMemory = true, false
	write("unsafe", unsafe)
	golden(t, "argv.golden", []byte(b.String()))

	argv := strings.Join(buildArgv(s), " ")
	for _, must := range []string{"--unshare-all", "--disable-userns", "--die-with-parent", "--new-session", "--cap-drop ALL", "--uid 64600", "--remount-ro /", "--bind /var/lib/stich/workspaces/app1 /app"} {
		if !strings.Contains(argv, must) {
			t.Errorf("argv lacks %q", must)
		}
	}
	if strings.Contains(argv, "--share-net") {
		t.Error("a run shares the network")
	}
}

// A Status (or any call) racing a Cleanup must not adopt the folder being
// deleted: once Cleanup returns, the workspace is missing.
func TestCleanupRacingStatusLeavesNoWorkspace(t *testing.T) {
	l := newTestLocal(t, testUID, nil)
	ctx := context.Background()
	files := map[string]string{}
	for i := range 3000 {
		files[fmt.Sprintf("node_modules/p%d/index.js", i)] = "module.exports = 1;\n"
	}
	for round := range 3 {
		id := fmt.Sprintf("race-%d", round)
		prepare(t, l, id, files)
		stop := make(chan struct{})
		polled := make(chan int)
		go func() {
			n := 0
			for {
				select {
				case <-stop:
					polled <- n
					return
				default:
					_, _ = l.Status(ctx, id)
					n++
				}
			}
		}()
		if err := l.Cleanup(ctx, id); err != nil {
			t.Fatal(err)
		}
		close(stop)
		if n := <-polled; n == 0 {
			t.Fatal("Status never ran during Cleanup")
		}
		st, err := l.Status(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if st.State != StateMissing {
			t.Fatalf("round %d: after Cleanup the workspace is %v", round, st.State)
		}
	}
}
