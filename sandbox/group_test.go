package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// NewGroup makes a group with the runner's kind of limits on the
// hierarchy probeCgroups picks, and Add writes the process into it;
// without usable cgroups the error says so (ErrNoCgroups), and limits are
// required.
func TestNewGroup(t *testing.T) {
	root := fakeCgroupFS(t, map[string]string{
		"cgroup.controllers":     "cpu memory pids\n",
		"cgroup.subtree_control": "",
	})
	g, err := NewGroup(root, "browser-1", Limits{Memory: 1 << 30, Processes: 2048})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "stich", strconv.Itoa(os.Getpid())+"-browser-1")
	if g.Version() != "v2" || len(g.Dirs()) != 1 || g.Dirs()[0] != dir {
		t.Fatalf("version %s dirs %v, want v2 %s", g.Version(), g.Dirs(), dir)
	}
	if got := readFile(t, filepath.Join(dir, "memory.max")); got != strconv.Itoa(1<<30) {
		t.Errorf("memory.max %s", got)
	}
	if got := readFile(t, filepath.Join(dir, "pids.max")); got != "2048" {
		t.Errorf("pids.max %s", got)
	}
	if err := g.Add(4242); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "cgroup.procs")); got != "4242" {
		t.Errorf("cgroup.procs %q", got)
	}

	if _, err := NewGroup(t.TempDir(), "browser-2", Limits{Memory: 1 << 30, Processes: 2048}); !errors.Is(err, ErrNoCgroups) {
		t.Errorf("no cgroups: %v, want ErrNoCgroups", err)
	}
	if _, err := NewGroup(root, "browser-3", Limits{Processes: 10}); err == nil || !strings.Contains(err.Error(), "required") {
		t.Errorf("no memory limit: %v", err)
	}
}
