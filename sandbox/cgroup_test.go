package sandbox

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeCgroupFS lays out the files of a cgroup mount that probeCgroups
// reads; folders created under it are plain folders, so what stich writes
// can be read back.
func fakeCgroupFS(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// A unified (v2) hierarchy with memory and pids is preferred: the
// controllers are delegated, and each run gets memory.max, pids.max and
// cpu.max.
func TestCgroupV2Layout(t *testing.T) {
	root := fakeCgroupFS(t, map[string]string{
		"cgroup.controllers":     "cpuset cpu io memory hugetlb pids rdma misc\n",
		"cgroup.subtree_control": "",
	})
	c, err := probeCgroups(root)
	if err != nil {
		t.Fatal(err)
	}
	if c.Version() != "v2" {
		t.Fatalf("version %s, want v2", c.Version())
	}
	for _, d := range []string{root, filepath.Join(root, "stich")} {
		if got := readFile(t, filepath.Join(d, "cgroup.subtree_control")); got != "+memory +pids +cpu +io" {
			t.Errorf("%s subtree_control %q", d, got)
		}
	}
	g, err := c.create("run", Limits{Memory: 256 << 20, Processes: 100, CPUs: 1.5})
	if err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{"memory.max": "268435456", "memory.swap.max": "0", "pids.max": "100", "cpu.max": "150000 100000"} {
		if got := readFile(t, filepath.Join(g.memory, file)); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	// Exactly these files, nothing else (one folder: memory = pids = cpu).
	if g.pids != g.memory {
		t.Errorf("pids folder %s, memory folder %s: want one v2 folder", g.pids, g.memory)
	}
	ents, err := os.ReadDir(g.memory)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "cpu.max memory.max memory.swap.max pids.max" {
		t.Errorf("files written in the run's group: %s", got)
	}
	if c.v2Skipped != nil {
		t.Errorf("v2 used, yet skipped: %v", c.v2Skipped)
	}
	// The parent weighs as several busy threads per core, not one.
	if got, want := readFile(t, filepath.Join(root, "stich", "cpu.weight")), strconv.Itoa(parentWeight(runtime.NumCPU())); got != want || want == "100" {
		t.Errorf("stich cpu.weight %q, want %q (above the default 100)", got, want)
	}
	if c.weightErr != nil {
		t.Errorf("weight error: %v", c.weightErr)
	}
	if err := os.WriteFile(filepath.Join(g.memory, "memory.events"), []byte("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(g.memory, "cpu.stat"), []byte("usage_usec 2500000\nuser_usec 2000000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if st := g.stats(); st.oomKills != 1 || st.cpu != 2500*time.Millisecond {
		t.Errorf("stats %+v", st)
	}
}

// A hybrid host whose unified hierarchy lacks the memory and pids
// controllers (this machine, CI) falls back to v1; with neither usable,
// the error gives both reasons.
func TestCgroupFallback(t *testing.T) {
	hybrid := fakeCgroupFS(t, map[string]string{
		"unified/cgroup.controllers":   "hugetlb\n",
		"memory/memory.usage_in_bytes": "0\n",
		"pids/pids.current":            "0\n",
		"cpu,cpuacct/cpu.cfs_quota_us": "-1\n",
	})
	for _, n := range []string{"cpu", "cpuacct"} {
		if err := os.Symlink("cpu,cpuacct", filepath.Join(hybrid, n)); err != nil {
			t.Fatal(err)
		}
	}
	c, err := probeCgroups(hybrid)
	if err != nil {
		t.Fatal(err)
	}
	if c.Version() != "v1" || c.cpu == "" || c.cpu != c.cpuacct {
		t.Fatalf("hybrid: version %s, cpu %q, cpuacct %q", c.Version(), c.cpu, c.cpuacct)
	}
	// The fallback is logged with the reason v2 was not used.
	var logged bytes.Buffer
	logCgroups(slog.New(slog.NewTextHandler(&logged, nil)), c, nil)
	if got := logged.String(); !strings.Contains(got, "version=v1") || !strings.Contains(got, "v2_not_used=") ||
		!strings.Contains(got, "the memory and pids controllers are not available") {
		t.Errorf("fallback log: %s", got)
	}
	g, err := c.create("run", Limits{Memory: 64 << 20, Processes: 10, CPUs: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(g.cpu, "cpu.cfs_quota_us")); got != "50000" {
		t.Errorf("cfs_quota_us %q", got)
	}
	if len(g.dirs()) != 3 {
		t.Errorf("run folders %v: want memory, pids and one cpu,cpuacct", g.dirs())
	}
	// Each run has its own cpu group below the "stich" parent, whose
	// shares are raised above a single task's 1024 (with the default
	// 1024, every sandbox together got one host thread's CPU under load).
	if real, err := filepath.EvalSymlinks(filepath.Dir(g.cpu)); err != nil || real != filepath.Join(hybrid, "cpu,cpuacct", "stich") {
		t.Errorf("run cpu group %s, want one below cpu,cpuacct/stich", g.cpu)
	}
	if got, want := readFile(t, filepath.Join(hybrid, "cpu,cpuacct", "stich", "cpu.shares")), strconv.Itoa(parentShares(runtime.NumCPU())); got != want {
		t.Errorf("stich cpu.shares %q, want %q", got, want)
	}
	if c.weightErr != nil {
		t.Errorf("shares error: %v", c.weightErr)
	}

	none := fakeCgroupFS(t, map[string]string{"unified/cgroup.controllers": "hugetlb\n"})
	_, err = probeCgroups(none)
	if err == nil || !strings.Contains(err.Error(), "cgroup v2") || !strings.Contains(err.Error(), "cgroup v1") {
		t.Errorf("no usable cgroups: %v", err)
	}
}

// On this machine's real cgroups, a command's processes together get at
// most Limits.CPUs cores.
func TestCPUQuota(t *testing.T) {
	l := newTestLocal(t, testUID, nil)
	if !l.Cgroups() {
		t.Fatal("no cgroups: the sandbox tests run as root with cgroups")
	}
	if l.cg.cpu == "" && !l.cg.v2cpu {
		t.Fatal("no cpu controller to test")
	}
	prepare(t, l, "cpu", nil)
	res, _, err := run(t, l, "cpu", Command{
		Args:    []string{"sh", "-c", `for i in 1 2 3; do (while :; do :; done) & done; wait`},
		Limits:  &Limits{CPUs: 0.25},
		Timeout: 2 * time.Second,
	})
	if err == nil {
		t.Fatal("the busy loops ended by themselves")
	}
	// Three busy loops for 2 s would use up to 6 s of CPU; a quarter core
	// allows 0.5 s.
	if res.CPUTime <= 0 || res.CPUTime > 900*time.Millisecond {
		t.Errorf("CPU time %v over %v with a quota of 0.25 cores", res.CPUTime, res.Duration)
	}
	t.Logf("3 busy loops, 0.25 cores: %v CPU in %v", res.CPUTime, res.Duration)
}

// The parent's weight scales with the cores, at least several task
// weights, within the kernel's bounds (v1 2..262144, v2 1..10000).
func TestParentCPUWeight(t *testing.T) {
	for _, tc := range []struct{ cpus, shares, weight int }{
		{0, 4096, 400}, {1, 4096, 400}, {2, 8192, 800}, {64, 262144, 10000}, {1000, 262144, 10000},
	} {
		if got := parentShares(tc.cpus); got != tc.shares {
			t.Errorf("parentShares(%d) = %d, want %d", tc.cpus, got, tc.shares)
		}
		if got := parentWeight(tc.cpus); got != tc.weight {
			t.Errorf("parentWeight(%d) = %d, want %d", tc.cpus, got, tc.weight)
		}
	}
}

// On this machine's real cgroups the "stich" parent's CPU weight is
// raised when the runner starts.
func TestParentCPUWeightReal(t *testing.T) {
	l := newTestLocal(t, testUID, nil)
	if !l.Cgroups() {
		t.Fatal("no cgroups: the sandbox tests run as root with cgroups")
	}
	switch {
	case l.cg.cpu != "":
		if got, want := readFile(t, filepath.Join(l.cg.cpu, "cpu.shares")), strconv.Itoa(parentShares(runtime.NumCPU())); got != want {
			t.Errorf("%s/cpu.shares %q, want %q", l.cg.cpu, got, want)
		}
	case l.cg.v2cpu:
		if got, want := readFile(t, filepath.Join(l.cg.v2, "cpu.weight")), strconv.Itoa(parentWeight(runtime.NumCPU())); got != want {
			t.Errorf("%s/cpu.weight %q, want %q", l.cg.v2, got, want)
		}
	default:
		t.Fatal("no cpu controller to test")
	}
}
