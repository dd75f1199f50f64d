package runcheck

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The browser and every process it starts run in a cgroup of their own
// with Limits (memory, tasks); closing the checker ends them and removes
// the group.
func TestBrowserInCgroup(t *testing.T) {
	c, err := New("")
	if err != nil {
		t.Fatalf("%v (CI installs chromium)", err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// A browser with a page (a renderer): what a check starts. (Not a
	// whole check: on a starved machine a page may not settle in time,
	// which is not what this test is about.)
	br, err := c.browser()
	if err != nil {
		t.Fatal(err)
	}
	pg, err := c.takePage(ctx, br)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.close()
	if ok, err := c.Limited(); !ok {
		t.Fatalf("the browser runs without a cgroup: %v (the tests run as root with cgroups)", err)
	}
	g := c.browserGroup()
	c.mu.Lock()
	root := c.br.cmd.Process.Pid
	c.mu.Unlock()
	dirs := g.Dirs()
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	memFile := "memory.max"
	if g.Version() == "v1" {
		memFile = "memory.limit_in_bytes"
	}
	if got := read(filepath.Join(dirs[0], memFile)); got != strconv.FormatInt(Limits.Memory, 10) {
		t.Errorf("%s %s, want %d", memFile, got, Limits.Memory)
	}
	pidsDir := dirs[0]
	if g.Version() == "v1" {
		pidsDir = dirs[1]
	}
	if got := read(filepath.Join(pidsDir, "pids.max")); got != strconv.Itoa(Limits.Processes) {
		t.Errorf("pids.max %s, want %d", got, Limits.Processes)
	}

	// Every process under the browser's first one (the cgroup gate became
	// bwrap, which started chromium, its zygotes and renderers) is in the
	// group; one that ends while it is looked at is skipped (an exited
	// process not yet reaped, a zombie, reads as in the root cgroup).
	name := "/stich/" + filepath.Base(dirs[0])
	tree := descendants(root)
	for len(tree) < 4 && ctx.Err() == nil { // bwrap, its child, chromium and its helpers
		time.Sleep(100 * time.Millisecond)
		tree = descendants(root)
	}
	if len(tree) < 4 {
		t.Fatalf("the browser has %d processes, want its helpers too", len(tree))
	}
	checked := 0
	for _, pid := range tree {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
		if err != nil {
			continue // it ended
		}
		in := false
		for _, line := range strings.Split(string(b), "\n") {
			_, rest, _ := strings.Cut(line, ":")
			ctrl, path, _ := strings.Cut(rest, ":")
			if (g.Version() == "v2" && ctrl == "" || g.Version() == "v1" && strings.Contains(","+ctrl+",", ",memory,")) && path == name {
				in = true
			}
		}
		if !in && exited(pid) {
			continue
		}
		if !in {
			t.Errorf("process %d of the browser is not in %s:\n%s", pid, name, b)
		}
		checked++
	}
	if checked < 3 {
		t.Fatalf("only %d processes of the browser could be read", checked)
	}

	c.Close()
	for _, d := range dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("the browser's cgroup %s is still there after Close: %v", d, err)
		}
	}
}

// exited reports whether pid has ended (gone, or a zombie not yet reaped).
func exited(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	return i < 0 || len(f) == 0 || f[0] == "Z" || f[0] == "X"
}

// descendants lists root and every process below it.
func descendants(root int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], pid)
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}
