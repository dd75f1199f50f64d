package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cgroups is the cgroup v1 memory and pids hierarchies under which every
// command gets its own group, <root>/{memory,pids}/stich/<run>.
type cgroups struct {
	memory, pids string // the "stich" parent folders
	cpuacct      string // optional ("" when not mounted): CPU time of a run
}

// probeCgroups returns usable cgroup v1 parents under root, creating the
// "stich" folders, or an error saying why they cannot be used.
func probeCgroups(root string) (*cgroups, error) {
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil {
		return nil, errors.New("cgroup v2 (unified) hierarchy: only v1 is supported")
	}
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
	// A throwaway group proves we may create groups and set limits.
	g, err := c.create("probe", Limits{Memory: 64 << 20, Processes: 8})
	if err != nil {
		return nil, err
	}
	g.remove()
	return c, nil
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

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// runGroup is one command's cgroups.
type runGroup struct {
	memory, pids, cpuacct string
}

// create makes the groups for one run; name must be unique among this
// process's runs (it is prefixed with the pid).
func (c *cgroups) create(name string, l Limits) (*runGroup, error) {
	name = strconv.Itoa(os.Getpid()) + "-" + name
	g := &runGroup{memory: filepath.Join(c.memory, name), pids: filepath.Join(c.pids, name)}
	if c.cpuacct != "" {
		g.cpuacct = filepath.Join(c.cpuacct, name)
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
	return g, nil
}

func (g *runGroup) dirs() []string {
	if g.cpuacct == "" {
		return []string{g.memory, g.pids}
	}
	return []string{g.memory, g.pids, g.cpuacct}
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
