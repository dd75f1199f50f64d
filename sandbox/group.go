package sandbox

import (
	"errors"
	"fmt"
	"time"
)

// Group is a cgroup of its own for a process tree that is not one of the
// runner's commands (the runtime check's browser), with the limits the
// runner's commands get: memory (swap off) and tasks (pids.max), on the
// same hierarchy the runner picks (v2 where usable, else v1). It has no
// CPU quota (on v1 it joins no cpu hierarchy at all). Processes
// join with [Group.Add]; their children are in it too.
type Group struct {
	g       *runGroup
	version string
}

// ErrNoCgroups: no usable cgroup hierarchy (the caller goes on without a
// group, as the runner does with Cgroups auto).
var ErrNoCgroups = errors.New("sandbox: no usable cgroups")

// NewGroup makes group name (unique in this process; it is prefixed with
// the pid) under the cgroups mounted at root (DefaultConfig's CgroupRoot
// when ""), limited to l.Memory bytes and l.Processes tasks; both must be
// set. The error wraps [ErrNoCgroups] when no hierarchy is usable.
func NewGroup(root, name string, l Limits) (*Group, error) {
	if root == "" {
		root = "/sys/fs/cgroup"
	}
	if l.Memory <= 0 || l.Processes <= 0 {
		return nil, fmt.Errorf("sandbox: group %s: memory and processes limits are required", name)
	}
	cg, err := probeCgroups(root)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoCgroups, err)
	}
	// Memory and tasks only: on v1 the group joins no cpu hierarchy, where
	// the whole browser would count as one task among every process of the
	// machine's root group (starved on a busy machine); l.CPUs is ignored.
	cg.cpu, cg.cpuacct = "", ""
	l.CPUs = 0
	g, err := cg.create(name, l)
	if err != nil {
		return nil, err
	}
	return &Group{g: g, version: cg.Version()}, nil
}

// Version names the hierarchy: "v2" or "v1".
func (g *Group) Version() string { return g.version }

// Dirs lists the group's folders (one on v2; memory and pids first on v1).
func (g *Group) Dirs() []string { return g.g.dirs() }

// Add moves process pid (and so the children it starts later) into the
// group.
func (g *Group) Add(pid int) error { return g.g.add(pid) }

// Procs lists the processes in the group.
func (g *Group) Procs() []int { return g.g.procs() }

// Close kills every process left in the group and removes it once the
// killed processes are gone (reaped by their parents; bounded: 30 s).
func (g *Group) Close() {
	deadline := time.Now().Add(30 * time.Second)
	for {
		g.g.kill(0)
		if len(g.g.procs()) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	g.g.remove()
}
