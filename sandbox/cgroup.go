package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// cgroups is where every command gets its own group: on cgroup v2 one
// folder <unified>/stich/<run> with the memory, pids (and cpu, io where
// enabled) controllers; on v1 the memory and pids hierarchies,
// <root>/{memory,pids}/stich/<run>, plus cpu and cpuacct when mounted.
type cgroups struct {
	v2           string // the v2 "stich" parent ("" on v1)
	v2cpu        bool   // the v2 cpu controller is enabled below v2
	memory, pids string // the v1 "stich" parent folders
	cpuacct      string // v1, optional ("" when not mounted): CPU time of a run
	cpu          string // v1, optional: CPU quota of a run
	// v2Skipped says why a unified (v2) hierarchy that exists was not
	// used (nil when v2 is used or there is none): logged, since the v1
	// fallback matters to an operator on a hybrid host.
	v2Skipped error
	// weightErr says why the parent's CPU weight could not be raised (nil
	// when it was, or there is no cpu controller): logged, the sandboxes
	// then compete for CPU as one host thread.
	weightErr error
}

// Version names the hierarchy in use, for logs: "v2" or "v1".
func (c *cgroups) Version() string {
	if c.v2 != "" {
		return "v2"
	}
	return "v1"
}

// probeCgroups returns usable cgroup parents under root: a unified (v2)
// hierarchy with the memory and pids controllers first — at root itself,
// or at root/unified on a hybrid host —, else the v1 hierarchies. The
// error says why neither can be used (every reason, for the log).
func probeCgroups(root string) (*cgroups, error) {
	var errs []error
	for _, dir := range []string{root, filepath.Join(root, "unified")} {
		if _, err := os.Stat(filepath.Join(dir, "cgroup.controllers")); err != nil {
			continue
		}
		c, err := probeV2(dir)
		if err == nil {
			return c, nil
		}
		errs = append(errs, fmt.Errorf("cgroup v2 at %s: %w", dir, err))
	}
	c, err := probeV1(root)
	if err == nil {
		c.v2Skipped = errors.Join(errs...)
		return c, nil
	}
	errs = append(errs, fmt.Errorf("cgroup v1: %w", err))
	return nil, errors.Join(errs...)
}

// probeV2 sets up <dir>/stich with the controllers stich needs enabled for
// its children.
func probeV2(dir string) (*cgroups, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, f := range strings.Fields(string(b)) {
		have[f] = true
	}
	if !have["memory"] || !have["pids"] {
		return nil, fmt.Errorf("the memory and pids controllers are not available (controllers: %q)", strings.TrimSpace(string(b)))
	}
	want := []string{"memory", "pids"}
	for _, opt := range []string{"cpu", "io"} {
		if have[opt] {
			want = append(want, opt)
		}
	}
	// The parent must delegate the controllers to its children, and
	// stich's folder to the runs' folders.
	enable := func(d string) error {
		var plus []string
		for _, c := range want {
			plus = append(plus, "+"+c)
		}
		return os.WriteFile(filepath.Join(d, "cgroup.subtree_control"), []byte(strings.Join(plus, " ")), 0)
	}
	if err := enable(dir); err != nil {
		return nil, fmt.Errorf("enable controllers: %w", err)
	}
	parent := filepath.Join(dir, "stich")
	if err := os.Mkdir(parent, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, err
	}
	removeStale(parent)
	if err := enable(parent); err != nil {
		return nil, fmt.Errorf("enable controllers below %s: %w", parent, err)
	}
	c := &cgroups{v2: parent, v2cpu: have["cpu"]}
	if c.v2cpu {
		// As on v1 (see parentShares): the sandboxes together weigh as
		// several busy threads per core, not as one.
		if err := os.WriteFile(filepath.Join(parent, "cpu.weight"), []byte(strconv.Itoa(parentWeight(runtime.NumCPU()))), 0); err != nil {
			c.weightErr = fmt.Errorf("set cpu.weight: %w", err)
		}
	}
	g, err := c.create(probeName(), Limits{Memory: 64 << 20, Processes: 8})
	if err != nil {
		return nil, err
	}
	g.remove()
	return c, nil
}

// probeV1 returns usable cgroup v1 parents under root, creating the
// "stich" folders.
func probeV1(root string) (*cgroups, error) {
	c := &cgroups{
		memory: filepath.Join(root, "memory", "stich"),
		pids:   filepath.Join(root, "pids", "stich"),
	}
	for _, dir := range []string{c.memory, c.pids} {
		if _, err := os.Stat(filepath.Dir(dir)); err != nil {
			return nil, fmt.Errorf("controller not mounted: %w", err)
		}
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, err
		}
		removeStale(dir)
	}
	if acct := filepath.Join(root, "cpuacct"); isDir(acct) {
		dir := filepath.Join(acct, "stich")
		if err := os.Mkdir(dir, 0o755); err == nil || errors.Is(err, os.ErrExist) {
			c.cpuacct = dir
			removeStale(dir)
		}
	}
	// cpu and cpuacct are often one hierarchy (cpu,cpuacct, with both
	// names linked to it): then the quota goes in the same folder.
	if cpu := filepath.Join(root, "cpu"); isDir(cpu) {
		dir := filepath.Join(cpu, "stich")
		if real, err := filepath.EvalSymlinks(cpu); err == nil && c.cpuacct != "" {
			if acct, err := filepath.EvalSymlinks(filepath.Dir(c.cpuacct)); err == nil && acct == real {
				dir = c.cpuacct
			}
		}
		if err := os.Mkdir(dir, 0o755); err == nil || errors.Is(err, os.ErrExist) {
			if _, err := os.Stat(filepath.Join(cpu, "cpu.cfs_quota_us")); err == nil {
				c.cpu = dir
				removeStale(dir)
				// The parent competes with every task outside it as one
				// entity: at the default 1024 shares all sandboxes
				// together got one host thread's CPU under load.
				if err := os.WriteFile(filepath.Join(dir, "cpu.shares"), []byte(strconv.Itoa(parentShares(runtime.NumCPU()))), 0); err != nil {
					c.weightErr = fmt.Errorf("set cpu.shares: %w", err)
				}
			}
		}
	}
	// A throwaway group proves we may create groups and set limits.
	g, err := c.create(probeName(), Limits{Memory: 64 << 20, Processes: 8})
	if err != nil {
		return nil, err
	}
	g.remove()
	return c, nil
}

// sharesPerCore is how many busy host threads per core the sandboxes
// together weigh as, against the host's other tasks, when the CPU is
// contended. Each run keeps its own group below the parent (with its
// quota, Limits.CPUs), so runs share the parent's weight between them.
const sharesPerCore = 4

// parentShares is the v1 cpu.shares of the "stich" parent on a host of
// cpus cores: sharesPerCore default task weights (1024) per core, within
// the kernel's bounds.
func parentShares(cpus int) int {
	return min(max(cpus, 1)*sharesPerCore*1024, 262144)
}

// parentWeight is the v2 cpu.weight of the "stich" parent (the default
// weight of a group is 100), within the kernel's bounds.
func parentWeight(cpus int) int {
	return min(max(cpus, 1)*sharesPerCore*100, 10000)
}

// removeStale deletes groups left by stich processes that are gone (named
// <pid>-...); groups still holding processes stay.
func removeStale(parent string) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		pidText, _, ok := strings.Cut(e.Name(), "-")
		pid, err := strconv.Atoi(pidText)
		if !e.IsDir() || !ok || err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat("/proc/" + pidText); err == nil {
			continue
		}
		_ = os.Remove(filepath.Join(parent, e.Name()))
	}
}

// probes numbers probe groups: several probes of one process (the
// runner's, the runtime check's) may run at once.
var probes atomic.Int64

func probeName() string { return "probe-" + strconv.FormatInt(probes.Add(1), 10) }

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// runGroup is one command's cgroups: one folder on v2 (memory = pids =
// the folder), up to four on v1.
type runGroup struct {
	v2                         bool
	memory, pids, cpuacct, cpu string
}

// create makes the groups for one run; name must be unique among this
// process's runs (it is prefixed with the pid).
func (c *cgroups) create(name string, l Limits) (*runGroup, error) {
	name = strconv.Itoa(os.Getpid()) + "-" + name
	if c.v2 != "" {
		return c.createV2(name, l)
	}
	g := &runGroup{memory: filepath.Join(c.memory, name), pids: filepath.Join(c.pids, name)}
	if c.cpuacct != "" {
		g.cpuacct = filepath.Join(c.cpuacct, name)
	}
	if c.cpu != "" {
		g.cpu = filepath.Join(c.cpu, name)
	}
	for _, dir := range g.dirs() {
		if err := os.Mkdir(dir, 0o755); err != nil {
			g.remove()
			return nil, fmt.Errorf("sandbox: cgroup: %w", err)
		}
	}
	set := func(dir, file, value string) error {
		return os.WriteFile(filepath.Join(dir, file), []byte(value), 0)
	}
	mem := strconv.FormatInt(l.Memory, 10)
	if err := set(g.memory, "memory.limit_in_bytes", mem); err != nil {
		g.remove()
		return nil, fmt.Errorf("sandbox: cgroup memory limit: %w", err)
	}
	// Swap counts too where the kernel accounts it (memsw exists only with
	// swap accounting on); no swap means limit_in_bytes is already all.
	_ = set(g.memory, "memory.memsw.limit_in_bytes", mem)
	if err := set(g.pids, "pids.max", strconv.Itoa(l.Processes)); err != nil {
		g.remove()
		return nil, fmt.Errorf("sandbox: cgroup pids limit: %w", err)
	}
	if g.cpu != "" && l.CPUs > 0 {
		const period = 100_000 // µs
		if err := set(g.cpu, "cpu.cfs_period_us", strconv.Itoa(period)); err != nil {
			g.remove()
			return nil, fmt.Errorf("sandbox: cgroup cpu period: %w", err)
		}
		if err := set(g.cpu, "cpu.cfs_quota_us", strconv.Itoa(int(l.CPUs*period))); err != nil {
			g.remove()
			return nil, fmt.Errorf("sandbox: cgroup cpu quota: %w", err)
		}
	}
	return g, nil
}

// createV2 makes one run's v2 group: memory.max (swap off), pids.max,
// cpu.max when the cpu controller is enabled.
func (c *cgroups) createV2(name string, l Limits) (*runGroup, error) {
	dir := filepath.Join(c.v2, name)
	g := &runGroup{v2: true, memory: dir, pids: dir}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sandbox: cgroup: %w", err)
	}
	set := func(file, value string) error {
		return os.WriteFile(filepath.Join(dir, file), []byte(value), 0)
	}
	if err := set("memory.max", strconv.FormatInt(l.Memory, 10)); err != nil {
		g.remove()
		return nil, fmt.Errorf("sandbox: cgroup memory limit: %w", err)
	}
	_ = set("memory.swap.max", "0") // absent without swap accounting
	if err := set("pids.max", strconv.Itoa(l.Processes)); err != nil {
		g.remove()
		return nil, fmt.Errorf("sandbox: cgroup pids limit: %w", err)
	}
	if c.v2cpu && l.CPUs > 0 {
		const period = 100_000 // µs
		if err := set("cpu.max", fmt.Sprintf("%d %d", int(l.CPUs*period), period)); err != nil {
			g.remove()
			return nil, fmt.Errorf("sandbox: cgroup cpu limit: %w", err)
		}
	}
	return g, nil
}

func (g *runGroup) dirs() []string {
	if g.v2 {
		return []string{g.memory}
	}
	out := []string{g.memory, g.pids}
	for _, d := range []string{g.cpuacct, g.cpu} {
		if d != "" && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// add moves process pid (and so its future children) into the group.
func (g *runGroup) add(pid int) error {
	for _, dir := range g.dirs() {
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
			return fmt.Errorf("sandbox: cgroup join: %w", err)
		}
	}
	return nil
}

// procs lists the processes in the group.
func (g *runGroup) procs() []int {
	b, err := os.ReadFile(filepath.Join(g.pids, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// kill sends SIGKILL to every process in the group but except (0 for
// none) until none is left (a fork racing the kill lands in the group and
// is caught next round).
func (g *runGroup) kill(except int) {
	for range 100 {
		n := 0
		for _, pid := range g.procs() {
			if pid != except && !zombie(pid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				n++
			}
		}
		if n == 0 {
			return
		}
	}
}

// groupStats is what a run's cgroups counted.
type groupStats struct {
	oomKills int           // processes the OOM killer took
	pidsMax  int           // forks refused at pids.max
	peak     int64         // highest memory use, bytes
	cpu      time.Duration // CPU time of every process; -1 if unknown
}

func (g *runGroup) stats() groupStats {
	if g.v2 {
		st := groupStats{
			oomKills: readKeyed(filepath.Join(g.memory, "memory.events"), "oom_kill"),
			pidsMax:  readKeyed(filepath.Join(g.pids, "pids.events"), "max"),
			peak:     readInt(filepath.Join(g.memory, "memory.peak")),
			cpu:      -1,
		}
		if us := readKeyed(filepath.Join(g.memory, "cpu.stat"), "usage_usec"); us > 0 {
			st.cpu = time.Duration(us) * time.Microsecond
		}
		return st
	}
	st := groupStats{
		oomKills: readKeyed(filepath.Join(g.memory, "memory.oom_control"), "oom_kill"),
		pidsMax:  readKeyed(filepath.Join(g.pids, "pids.events"), "max"),
		peak:     readInt(filepath.Join(g.memory, "memory.max_usage_in_bytes")),
		cpu:      -1,
	}
	if g.cpuacct != "" {
		st.cpu = time.Duration(readInt(filepath.Join(g.cpuacct, "cpuacct.usage")))
	}
	return st
}

func readInt(file string) int64 {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// remove deletes the group; it must be empty (call kill first).
func (g *runGroup) remove() {
	for _, dir := range g.dirs() {
		_ = os.Remove(dir)
	}
}

// readKeyed reads "key value" lines and returns value for key (0 if absent).
func readKeyed(file, key string) int {
	f, err := os.Open(file)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// zombie reports whether pid has exited but is not reaped yet (cgroup v1
// still lists such processes).
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true // gone
	}
	// The state follows the parenthesized command name, which may itself
	// contain ") ".
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || i+2 >= len(b) || b[i+2] == 'Z'
}
