package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The escape tests run hostile programs under the real bwrap sandbox and
// check that each is contained, that Run reports what stopped it, and that
// the host is untouched afterwards (no process of the sandbox uid left, no
// file written outside the workspace).

// hostGuard snapshots host state an escape could change and checks it is
// unchanged at the end of the test.
type hostGuard struct {
	t      *testing.T
	files  map[string][32]byte
	absent []string
	data   string
}

func guardHost(t *testing.T, dataDir string, absent ...string) *hostGuard {
	t.Helper()
	g := &hostGuard{t: t, files: map[string][32]byte{}, absent: absent, data: dataDir}
	for _, f := range []string{"/etc/passwd", "/etc/hostname", "/etc/hosts", filepath.Join(dataDir, "stich.db")} {
		if b, err := os.ReadFile(f); err == nil {
			g.files[f] = sha256.Sum256(b)
		}
	}
	for _, p := range absent {
		if _, err := os.Lstat(p); err == nil {
			t.Fatalf("%s exists before the test", p)
		}
	}
	t.Cleanup(g.check)
	return g
}

func (g *hostGuard) check() {
	t := g.t
	for f, sum := range g.files {
		b, err := os.ReadFile(f)
		if err != nil || sha256.Sum256(b) != sum {
			t.Errorf("host file %s changed (err %v)", f, err)
		}
	}
	for _, p := range g.absent {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("sandboxed code created host file %s", p)
			os.RemoveAll(p)
		}
	}
	if entries, err := os.ReadDir(g.data); err == nil && len(entries) != 1 {
		t.Errorf("data dir %s has %d entries after the test, want 1", g.data, len(entries))
	}
	if pids := uidProcesses(escapeUID); len(pids) > 0 {
		t.Errorf("processes of the sandbox uid outlived Run: %v", pids)
	}
}

// escapeSetup returns a runner, a prepared workspace id and a fake stich
// data dir next to the workspaces.
func escapeSetup(t *testing.T, edit func(*Config)) (*Local, string, string) {
	t.Helper()
	l := newTestLocal(t, escapeUID, edit)
	data := filepath.Join(filepath.Dir(l.cfg.Root), "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "stich.db"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	prepare(t, l, "app", nil)
	return l, "app", data
}

func TestEscapeForkBomb(t *testing.T) {
	l, id, data := escapeSetup(t, nil)
	guardHost(t, data)
	const limit = 64
	// Watch the task count of the sandbox uid while the bomb runs.
	var peak atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if n := int64(len(uidProcesses(escapeUID))); n > peak.Load() {
					peak.Store(n)
				}
			}
		}
	}()
	// The bomb runs until a fork fails (a shell says so on stderr), then
	// is cancelled: no wall clock decides whether it got there.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	refused := make(chan string, 1)
	type result struct {
		res Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := l.Run(ctx, id, Command{
			Args:    []string{"sh", "-c", "bomb() { bomb | bomb & }; bomb; exec sleep 1000"},
			Limits:  &Limits{Processes: limit},
			Timeout: 30 * time.Minute,
			OnLine: func(ln Line) {
				if ln.Stream == Stderr && strings.Contains(strings.ToLower(ln.Text), "fork") {
					select {
					case refused <- ln.Text:
					default:
					}
				}
			},
		})
		done <- result{res, err}
	}()
	var line string
	select {
	case line = <-refused:
	case r := <-done:
		t.Fatalf("the bomb ended before a fork was refused: %v", r.err)
	case <-time.After(10 * time.Minute):
		t.Fatal("no fork of the bomb was refused in 10 minutes")
	}
	cancel()
	r := <-done
	close(stop)
	wg.Wait()
	res, err := r.res, r.err
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want the test's cancellation (the bomb ran until then)", err)
	}
	if !res.Hit(LimitProcesses) {
		t.Errorf("Exceeded = %v after %q, want it to include %q", res.Exceeded, line, LimitProcesses)
	}
	if p := peak.Load(); p > limit+8 {
		t.Errorf("the bomb reached %d processes, limit %d", p, limit)
	}
	// The host can still start processes.
	if out, err := exec.Command("true").CombinedOutput(); err != nil {
		t.Errorf("host fork failed after the bomb: %v %s", err, out)
	}
	t.Logf("fork bomb: peak %d tasks (limit %d), %v; error: %v", peak.Load(), limit, res.Exceeded, err)
}

func TestEscapeMemory(t *testing.T) {
	hog := []string{"node", "-e", "const a = []; for (;;) a.push(new Array(1e6).fill(1));"}
	t.Run("cgroup", func(t *testing.T) {
		l, id, data := escapeSetup(t, nil)
		guardHost(t, data)
		if !l.Cgroups() {
			t.Fatal("cgroups are not usable here (need root and cgroup v1 memory+pids)")
		}
		res, _, err := run(t, l, id, Command{Args: hog, Limits: &Limits{Memory: 192 << 20}, Timeout: 10 * time.Minute})
		if !errors.Is(err, ErrMemoryLimit) {
			t.Fatalf("err = %v (tail %q), want the memory limit", err, res.TailText())
		}
		if res.MemoryPeak > 200<<20 {
			t.Errorf("memory peak %d above the 192 MiB limit", res.MemoryPeak)
		}
		t.Logf("memory hog: %v after %v, peak %d MiB", err, res.Duration.Round(time.Millisecond), res.MemoryPeak>>20)
	})
	t.Run("rlimit", func(t *testing.T) {
		l, id, data := escapeSetup(t, func(c *Config) { c.Cgroups = CgroupOff })
		guardHost(t, data)
		res, _, err := run(t, l, id, Command{Args: hog, Limits: &Limits{Memory: 192 << 20, AddressSpace: 2 << 30}, Timeout: 10 * time.Minute})
		if !errors.Is(err, ErrMemoryLimit) {
			t.Fatalf("err = %v (tail %q), want the memory limit", err, res.TailText())
		}
		t.Logf("memory hog without cgroups: %v after %v", err, res.Duration.Round(time.Millisecond))
	})
}

func TestEscapeCPU(t *testing.T) {
	l, id, data := escapeSetup(t, nil)
	guardHost(t, data)
	t.Run("cpu", func(t *testing.T) {
		res, _, err := run(t, l, id, Command{Args: []string{"node", "-e", "for (;;) {}"}, Limits: &Limits{CPUTime: time.Second}, Timeout: 10 * time.Minute})
		if !errors.Is(err, ErrCPULimit) {
			t.Fatalf("err = %v, want the CPU limit", err)
		}
		t.Logf("busy loop: %v after %v (cpu %v)", err, res.Duration.Round(time.Millisecond), res.CPUTime.Round(time.Millisecond))
	})
	t.Run("wall", func(t *testing.T) {
		res, _, err := run(t, l, id, Command{Args: []string{"sh", "-c", "while :; do :; done"}, Timeout: 500 * time.Millisecond})
		if !errors.Is(err, ErrTimeout) || !res.Hit(LimitWallClock) {
			t.Fatalf("err = %v, Exceeded %v: want the wall-clock limit", err, res.Exceeded)
		}
	})
	t.Run("sleeper", func(t *testing.T) {
		// A process that ignores SIGTERM and hides in its own session.
		_, _, err := run(t, l, id, Command{Args: []string{"sh", "-c", "trap '' TERM HUP INT; setsid sleep 1000 & exec sleep 1000"}, Timeout: 300 * time.Millisecond})
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("err = %v, want the wall-clock limit", err)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		var once sync.Once
		_, err := l.Run(ctx, id, Command{
			Args:    []string{"sh", "-c", "echo started; exec sleep 1000"},
			Timeout: time.Minute,
			OnLine:  func(Line) { once.Do(cancel) },
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}

func TestEscapeFileSize(t *testing.T) {
	l, id, data := escapeSetup(t, nil)
	guardHost(t, data)
	res, _, err := run(t, l, id, Command{Args: []string{"sh", "-c", "head -c 8000000 /dev/zero > big"}, Limits: &Limits{FileSize: 2 << 20}})
	if !errors.Is(err, ErrFileSizeLimit) {
		t.Fatalf("err = %v (exit %d), want the file size limit", err, res.ExitCode)
	}
}

func TestEscapeWriteOutside(t *testing.T) {
	l, id, data := escapeSetup(t, nil)
	targets := []string{"/etc/stich-escape", "/root/stich-escape", "/usr/stich-escape", "/stich-escape", filepath.Join(data, "stich-escape"), filepath.Join(l.cfg.Root, "stich-escape"), filepath.Join(l.cfg.CacheDir, "stich-escape")}
	guardHost(t, data, targets...)
	script := new(bytes.Buffer)
	for _, p := range append(targets, "/app/../stich-escape", "/proc/sys/kernel/hostname", "/sys/kernel/stich", "/etc/passwd") {
		fmt.Fprintf(script, "if echo x > %q 2>/dev/null; then echo WROTE %s; else echo DENIED %s; fi\n", p, p, p)
	}
	script.WriteString("echo x > /app/inside && echo WROTE-INSIDE\n")
	res, out, err := run(t, l, id, Command{Args: []string{"sh", "-c", script.String()}})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("script: %v, exit %d\n%s", err, res.ExitCode, out)
	}
	t.Logf("writes from the sandbox:\n%s", out)
	if strings.Contains(out, "WROTE /") {
		t.Errorf("a write outside the workspace succeeded:\n%s", out)
	}
	if !strings.Contains(out, "WROTE-INSIDE") {
		t.Errorf("the workspace is not writable:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(l.cfg.Root, id, "inside")); err != nil {
		t.Errorf("the write inside the workspace is not on the host: %v", err)
	}
	// The sandbox sees neither the data dir nor the other folders of the
	// host, nor other workspaces.
	prepare(t, l, "other", map[string]string{"secret.txt": "other app"})
	_, out, _ = run(t, l, id, Command{Args: []string{"sh", "-c", fmt.Sprintf("ls %q %q /root /home 2>&1; cat /app/../other/secret.txt 2>&1; ls /", data, l.cfg.Root)}})
	if strings.Contains(out, "stich.db") || strings.Contains(out, "other app") || strings.Contains(out, "home\n") {
		t.Errorf("host folders are visible in the sandbox:\n%s", out)
	}
}

func TestEscapeNetwork(t *testing.T) {
	l, id, data := escapeSetup(t, nil)
	guardHost(t, data)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	js := fmt.Sprintf(`const net = require("net");
const s = net.connect(%d, "127.0.0.1");
s.on("connect", () => { console.log("CONNECTED"); process.exit(0); });
s.on("error", (e) => { console.log("ERROR " + e.code); process.exit(3); });`, port)
	res, out, err := run(t, l, id, Command{Args: []string{"node", "-e", js}, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 3 || !strings.Contains(out, "ERROR ECONNREFUSED") {
		t.Errorf("connect to the host's 127.0.0.1:%d: exit %d, output %q; want ECONNREFUSED", port, res.ExitCode, out)
	}
	// No route and no name resolution to the outside either.
	res, out, _ = run(t, l, id, Command{Args: []string{"node", "-e", `require("dns").lookup("registry.npmjs.org", (e) => { console.log(e ? "ERROR " + e.code : "RESOLVED"); process.exit(e ? 3 : 0); });`}, Timeout: 30 * time.Second})
	if res.ExitCode != 3 {
		t.Errorf("DNS lookup from the sandbox: exit %d, output %q; want an error", res.ExitCode, out)
	}
	res, out, _ = run(t, l, id, Command{Args: []string{"node", "-e", `require("net").connect(443, "1.1.1.1").on("connect", () => { console.log("CONNECTED"); process.exit(0); }).on("error", (e) => { console.log("ERROR " + e.code); process.exit(3); });`}, Timeout: 30 * time.Second})
	if res.ExitCode != 3 {
		t.Errorf("connect to 1.1.1.1 from the sandbox: exit %d, output %q; want an error", res.ExitCode, out)
	}
	ln.Close()
	<-done
	if n := accepted.Load(); n != 0 {
		t.Errorf("the host listener accepted %d connections from the sandbox", n)
	}
}

func TestEscapeSymlinks(t *testing.T) {
	l, id, data := escapeSetup(t, nil)
	guardHost(t, data, "/etc/stich-escape", filepath.Join(data, "stich-escape"))
	hostPasswd, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	// The sandbox plants links to host files and folders.
	script := fmt.Sprintf(`ln -s /etc/passwd passwd; ln -s /etc etc; ln -s %q data; ln -s ../../../../../../etc up
cat passwd
if echo x >> passwd 2>/dev/null; then echo WROTE-PASSWD; fi
if echo x > etc/stich-escape 2>/dev/null; then echo WROTE-ETC; fi
if echo x > data/stich-escape 2>/dev/null; then echo WROTE-DATA; fi
if cat data/stich.db 2>/dev/null; then echo READ-DATA; fi`, data)
	res, out, err := run(t, l, id, Command{Args: []string{"sh", "-c", script}})
	if err != nil {
		t.Fatalf("%v (exit %d)\n%s", err, res.ExitCode, out)
	}
	for _, bad := range []string{"WROTE-", "READ-DATA", "secret"} {
		if strings.Contains(out, bad) {
			t.Errorf("the sandbox escaped through a symlink (%s):\n%s", bad, out)
		}
	}
	// What /etc/passwd shows inside is the sandbox's own account list,
	// not the host's.
	if !strings.Contains(out, "stich sandbox") {
		t.Errorf("sandbox /etc/passwd is not the synthetic one:\n%s", out)
	}
	for _, line := range strings.Split(string(hostPasswd), "\n") {
		if name, _, _ := strings.Cut(line, ":"); name != "" && name != "root" && name != "nobody" && strings.Contains(out, "\n"+name+":") {
			t.Errorf("host account %q visible in the sandbox", name)
		}
	}

	// stich's own file access refuses to follow the links out.
	ctx := context.Background()
	for _, p := range []string{"passwd", "etc/hostname", "data/stich.db", "up/passwd"} {
		if b, err := l.ReadFile(ctx, id, p); !errors.Is(err, ErrPath) {
			t.Errorf("ReadFile(%q) = %q, %v; want ErrPath", p, b, err)
		}
	}
	for _, p := range []string{"etc/stich-escape", "data/stich-escape", "up/stich-escape"} {
		if err := l.WriteFiles(ctx, id, map[string]string{p: "x"}); !errors.Is(err, ErrPath) {
			t.Errorf("WriteFiles(%q) = %v; want ErrPath", p, err)
		}
	}
	// Writing to the link's own path replaces the link, not its target.
	if err := l.WriteFiles(ctx, id, map[string]string{"passwd": "mine"}); err != nil {
		t.Fatal(err)
	}
	if b, err := l.ReadFile(ctx, id, "passwd"); err != nil || string(b) != "mine" {
		t.Errorf("after replacing the link: %q, %v", b, err)
	}
	if b, _ := os.ReadFile("/etc/passwd"); !bytes.Equal(b, hostPasswd) {
		t.Fatal("host /etc/passwd changed")
	}
	// Cleanup removes the links, not what they point to.
	if err := l.Cleanup(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(data, "stich.db")); err != nil {
		t.Errorf("cleanup followed a link: %v", err)
	}
}

func TestEscapePaths(t *testing.T) {
	l, id, _ := escapeSetup(t, nil)
	ctx := context.Background()
	for _, p := range []string{"/etc/passwd", "../x", "a/../../x", "", ".", "a\\b", "x\x00y"} {
		if err := l.WriteFiles(ctx, id, map[string]string{p: "x"}); !errors.Is(err, ErrPath) {
			t.Errorf("WriteFiles(%q) = %v, want ErrPath", p, err)
		}
	}
	for _, bad := range []string{"../x", "", "-x", strings.Repeat("a", 200), "a/b"} {
		if err := l.Prepare(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Prepare(%q) = %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := l.Run(ctx, id, Command{Args: []string{"true"}, Dir: "../.."}); !errors.Is(err, ErrPath) {
		t.Errorf("Run with Dir ../.. = %v, want ErrPath", err)
	}
	if _, err := l.Run(ctx, id, Command{Args: []string{"true"}, Mounts: []Mount{{Workspace: id, Sub: "..", Target: "/x"}}}); !errors.Is(err, ErrPath) {
		t.Errorf("Run with a mount of .. = %v, want ErrPath", err)
	}
}

// Filling the disk stops at the workspace's quota (a tmpfs of
// WorkspaceSize): the host's file system never fills, the write fails
// inside the sandbox, and Cleanup unmounts the quota.
func TestEscapeDiskQuota(t *testing.T) {
	const quota = 32 << 20
	l, id, data := escapeSetup(t, func(c *Config) { c.WorkspaceSize = quota })
	guardHost(t, data)
	dir := filepath.Join(l.cfg.Root, id)
	if mounted, err := isMountPoint(dir); err != nil || !mounted {
		t.Fatalf("the workspace is not on its own quota: %v", err)
	}
	// Many files, then one big one: each stays under the file size limit.
	res, out, err := run(t, l, id, Command{Args: []string{"sh", "-c",
		`i=0; while [ $i -lt 8 ]; do head -c 8000000 /dev/zero > f$i || { echo FULL at $i; exit 7; }; i=$((i+1)); done; echo NOT FULL`}})
	if err != nil || res.ExitCode != 7 || !strings.Contains(out, "FULL at") {
		t.Fatalf("filling the workspace: %v, exit %d, output:\n%s", err, res.ExitCode, out)
	}
	var total int64
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if fi, err := e.Info(); err == nil {
			total += fi.Size()
		}
	}
	if total > quota {
		t.Errorf("the workspace holds %d bytes, quota %d", total, quota)
	}
	// Other workspaces and the host still have room.
	prepare(t, l, "other", map[string]string{"a.txt": "fine"})
	if res, _, err := run(t, l, "other", Command{Args: []string{"sh", "-c", "head -c 8000000 /dev/zero > big"}}); err != nil || res.ExitCode != 0 {
		t.Errorf("another workspace cannot write after the first filled its quota: %v exit %d", err, res.ExitCode)
	}
	for _, w := range []string{id, "other"} {
		if err := l.Cleanup(context.Background(), w); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the workspace is still there after Cleanup: %v", err)
	}
	t.Logf("disk fill stopped at %d bytes (quota %d): %s", total, quota, strings.TrimSpace(out))
}

// An install's sandbox (what npm install runs in) reaches only the npm
// registry: not the host's loopback ports (where the node serves HTTP,
// actor remoting and replication), directly or through the egress proxy,
// and no other address. The registry itself is reachable through the
// proxy.
func TestEscapeInstallNetwork(t *testing.T) {
	l, id, data := escapeSetup(t, nil)
	guardHost(t, data)
	var accepted atomic.Int32
	var ports []int
	for range 3 { // stand-ins for the node's HTTP, actor and replication ports
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				accepted.Add(1)
				c.Close()
			}
		}()
	}
	js := fmt.Sprintf(`const net = require("net");
const proxy = new URL(process.env.npm_config_https_proxy);
const direct = (port, host) => new Promise((res) => {
  const s = net.connect(port, host);
  s.setTimeout(5000, () => { s.destroy(); res("TIMEOUT"); });
  s.on("connect", () => { s.destroy(); res("CONNECTED"); });
  s.on("error", (e) => res("ERROR " + e.code));
});
const viaProxy = (target) => new Promise((res) => {
  const s = net.connect(Number(proxy.port), proxy.hostname);
  s.setTimeout(15000, () => { s.destroy(); res("TIMEOUT"); });
  s.on("connect", () => s.write("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n"));
  s.once("data", (d) => { s.destroy(); res(d.toString().split("\r\n")[0]); });
  s.on("error", (e) => res("ERROR " + e.code));
});
(async () => {
  for (const port of %s) {
    console.log("direct " + port + ": " + await direct(port, "127.0.0.1"));
    console.log("proxy " + port + ": " + await viaProxy("127.0.0.1:" + port));
    console.log("proxy localhost " + port + ": " + await viaProxy("localhost:" + port));
  }
  console.log("direct other: " + await direct(443, "1.1.1.1"));
  console.log("proxy other: " + await viaProxy("1.1.1.1:443"));
  console.log("proxy registry: " + await viaProxy("registry.npmjs.org:443"));
})();`, strings.ReplaceAll(fmt.Sprint(ports), " ", ","))
	w, err := l.get(id)
	if err != nil {
		t.Fatal(err)
	}
	s, proxy, err := l.installSpec(w, []string{"node", "-e", js})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.close()
	var mu sync.Mutex
	var out strings.Builder
	res, err := l.execute(context.Background(), "install-net", s, func(ln Line) {
		mu.Lock()
		defer mu.Unlock()
		out.WriteString(ln.Text + "\n")
	}, time.Minute)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("%v exit %d\n%s", err, res.ExitCode, out.String())
	}
	got := out.String()
	t.Logf("from the install sandbox:\n%s", got)
	for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
		name, verdict, _ := strings.Cut(line, ": ")
		switch {
		case name == "proxy registry":
			if !strings.Contains(verdict, " 200 ") {
				t.Errorf("the registry is not reachable through the egress proxy: %q", verdict)
			}
		case strings.HasPrefix(name, "proxy"):
			if !strings.Contains(verdict, " 403 ") {
				t.Errorf("%s: %q, want 403 from the proxy", name, verdict)
			}
		case strings.HasPrefix(name, "direct"):
			if verdict == "CONNECTED" {
				t.Errorf("%s: connected", name)
			}
		}
	}
	if n := strings.Count(got, "\n"); n != 3*3+3 {
		t.Errorf("%d result lines, want %d", n, 3*3+3)
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("the host's listeners accepted %d connections from the install sandbox", n)
	}
}
