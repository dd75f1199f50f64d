package sandbox

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"time"
)

// CgroupMode says whether the [Local] runner uses cgroups.
type CgroupMode string

const (
	// CgroupAuto uses cgroup v1 memory and pids controllers when they are
	// mounted and writable, and rlimits only otherwise.
	CgroupAuto CgroupMode = "auto"
	// CgroupRequired makes [NewLocal] fail when cgroups are unusable.
	CgroupRequired CgroupMode = "required"
	// CgroupOff never uses cgroups.
	CgroupOff CgroupMode = "off"
)

// Config configures a [Local] runner. Start from [DefaultConfig].
type Config struct {
	// Root is the host folder holding one folder per workspace. It is
	// created (mode 0711) if missing. It must not be shared with anything
	// else: Cleanup deletes workspace folders under it.
	Root string

	// CacheDir is the npm cache shared by every workspace's Install, so a
	// second app with the same dependencies installs from it in seconds.
	// It is mounted read-write only during Install, while only npm runs
	// (install scripts are disabled), never during Run.
	CacheDir string

	// UID and GID are the host identity of every sandboxed process. They
	// must not be 0 and should be used by nothing else on the machine:
	// RLIMIT_NPROC counts every task of the uid. Switching to them needs
	// root; when stich does not run as root, set both to -1 to run as
	// stich's own user (then a fork bomb counts against stich's own process
	// limit — prefer root or a dedicated user).
	UID, GID int

	// UIDs is how many consecutive uids from UID the apps' workspaces
	// use: each workspace gets one of its own while it exists (all share
	// GID), so one app's processes (RLIMIT_NPROC counts per uid) never
	// starve another's. With more workspaces than uids, workspaces share
	// them. Default 1 (every app workspace runs as UID). The node's own
	// tools workspaces (ids starting with [ToolsPrefix]) run as the uid
	// just past the range, UID+UIDs, which no app shares (see
	// [Local.ToolsUID]).
	UIDs int

	// WorkspaceSize bounds each workspace's disk use (bytes): the folder
	// is a tmpfs of that size, mounted by Prepare and unmounted by
	// Cleanup, so an app that fills its disk fills only its own quota
	// (and its memory: tmpfs lives in RAM and is charged to the writing
	// command's cgroup). Needs root; 0 (the default) leaves workspaces on
	// Root's file system with no quota.
	WorkspaceSize int64

	// NoPreparedModules turns off the prepared-modules store: every
	// install runs npm, even of a dependency set installed before (see
	// modules.go). For benchmarks' references.
	NoPreparedModules bool

	// Bwrap is the bubblewrap binary; "" looks up "bwrap" in PATH.
	Bwrap string

	// Prlimit is util-linux's prlimit binary, which sets the rlimits before
	// bwrap starts; "" looks up "prlimit" in PATH.
	Prlimit string

	// Node is the node binary whose install location is bound read-only
	// into the sandbox when it lies outside /usr; "" looks up "node" in
	// PATH.
	Node string

	// ReadOnly lists extra host folders bound read-only at the same path
	// (for a toolchain installed outside /usr and /opt).
	ReadOnly []string

	// Registry is the npm registry Install uses (and the only host the
	// lockfile may resolve packages from). Default https://registry.npmjs.org/.
	Registry string

	// Unsafe runs commands without bubblewrap when it is missing: with the
	// rlimits, the sandbox uid and the cgroup only, no namespaces. The
	// code then sees (and can read) the whole host file system and the
	// network. Never use it where apps come from untrusted users; NewLocal
	// and every command log a warning.
	Unsafe bool

	// Cgroups selects cgroup use; default [CgroupAuto].
	Cgroups CgroupMode

	// CgroupRoot is where cgroups are mounted. Default /sys/fs/cgroup. A
	// unified (v2) hierarchy with the memory and pids controllers is used
	// first (at the root, or at unified/ on a hybrid host); else the v1
	// memory, pids (and, when mounted, cpu and cpuacct) hierarchies; else
	// none, and memory is bounded by rlimits only. NewLocal logs which.
	CgroupRoot string

	// Limits are the defaults for every command.
	Limits Limits

	// RunTimeout is the default wall-clock limit of Run (seconds range).
	RunTimeout time.Duration

	// InstallTimeout is the default wall-clock limit of Install.
	InstallTimeout time.Duration

	// Logger receives warnings (unsafe mode, cgroup fallbacks); nil uses
	// slog.Default().
	Logger *slog.Logger
}

// uidCount returns UIDs with its default.
func (c Config) uidCount() int {
	if c.UIDs <= 1 || c.UID == -1 {
		return 1
	}
	return c.UIDs
}

// DefaultUID is the default sandbox uid and gid: unassigned on Debian
// (between the static and the per-user namespace ranges).
const DefaultUID = 64600

// DefaultConfig returns the production profile with workspaces under root.
func DefaultConfig(root string) Config {
	return Config{
		Root:       filepath.Join(root, "workspaces"),
		CacheDir:   filepath.Join(root, "npm-cache"),
		UID:        DefaultUID,
		GID:        DefaultUID,
		UIDs:       1,
		Registry:   "https://registry.npmjs.org/",
		Cgroups:    CgroupAuto,
		CgroupRoot: "/sys/fs/cgroup",
		Limits: Limits{
			CPUTime:      2 * time.Minute, // per process
			Memory:       2 << 30,         // 2 GiB per command
			AddressSpace: 32 << 30,        // 32 GiB virtual per process (V8 reserves ~10 GiB)
			Processes:    512,             // tasks, threads included
			FileSize:     512 << 20,       // 512 MiB per file
			OpenFiles:    4096,
			TmpSize:      256 << 20, // 256 MiB private /tmp
			CPUs:         2,         // cores at once, per command
		},
		RunTimeout: 2 * time.Minute,
		// The first install on a machine fills the npm cache from the
		// registry: on a loaded 2-core machine that took over 2 minutes
		// (a fresh `make run` then built nothing).
		InstallTimeout: 10 * time.Minute,
	}
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...))
	}
	if c.Root == "" || !filepath.IsAbs(c.Root) {
		bad("Root %q must be an absolute path", c.Root)
	}
	if c.WorkspaceSize < 0 || c.WorkspaceSize > 0 && c.WorkspaceSize < 16<<20 {
		bad("WorkspaceSize %d must be 0 (no quota) or at least 16 MiB", c.WorkspaceSize)
	}
	if c.CacheDir == "" || !filepath.IsAbs(c.CacheDir) {
		bad("CacheDir %q must be an absolute path", c.CacheDir)
	}
	if c.Root != "" && c.CacheDir != "" && (within(c.CacheDir, c.Root) || within(c.Root, c.CacheDir)) {
		bad("CacheDir %q and Root %q must not contain each other", c.CacheDir, c.Root)
	}
	switch {
	case c.UID == -1 && c.GID == -1:
	case c.UID <= 0 || c.GID <= 0:
		bad("UID %d and GID %d must both be positive (or both -1 for stich's own user)", c.UID, c.GID)
	case c.UID+c.uidCount() >= 65534 || c.UIDs > 65536:
		bad("UIDs %d from UID %d, and the tools uid after them, reach the nobody uid 65534", c.UIDs, c.UID)
	}
	if u, err := url.Parse(c.Registry); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		bad("Registry %q must be an http(s) URL", c.Registry)
	}
	switch c.Cgroups {
	case CgroupAuto, CgroupRequired, CgroupOff:
	default:
		bad("Cgroups %q must be auto, required or off", c.Cgroups)
	}
	if c.Cgroups != CgroupOff && !filepath.IsAbs(c.CgroupRoot) {
		bad("CgroupRoot %q must be an absolute path", c.CgroupRoot)
	}
	l := c.Limits
	if l.CPUTime < time.Second {
		bad("Limits.CPUTime %v must be at least 1s", l.CPUTime)
	}
	if l.Memory < 16<<20 {
		bad("Limits.Memory %d must be at least 16 MiB", l.Memory)
	}
	if l.AddressSpace < 64<<20 {
		bad("Limits.AddressSpace %d must be at least 64 MiB", l.AddressSpace)
	}
	if l.Processes < 8 {
		bad("Limits.Processes %d must be at least 8", l.Processes)
	}
	if l.FileSize < 1<<20 {
		bad("Limits.FileSize %d must be at least 1 MiB", l.FileSize)
	}
	if l.OpenFiles < 64 {
		bad("Limits.OpenFiles %d must be at least 64", l.OpenFiles)
	}
	if l.TmpSize < 1<<20 {
		bad("Limits.TmpSize %d must be at least 1 MiB", l.TmpSize)
	}
	if l.CPUs < 0 || l.CPUs > 0 && l.CPUs < 0.05 {
		bad("Limits.CPUs %g must be 0 (no quota) or at least 0.05", l.CPUs)
	}
	if c.RunTimeout < time.Second {
		bad("RunTimeout %v must be at least 1s", c.RunTimeout)
	}
	if c.InstallTimeout < time.Second {
		bad("InstallTimeout %v must be at least 1s", c.InstallTimeout)
	}
	for _, p := range c.ReadOnly {
		if !filepath.IsAbs(p) {
			bad("ReadOnly path %q must be absolute", p)
		}
	}
	return errors.Join(errs...)
}

// within reports whether path p is dir or inside it.
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !filepathHasDotDot(rel)
}

func filepathHasDotDot(rel string) bool {
	return len(rel) >= 3 && rel[:3] == ".."+string(filepath.Separator) || rel == ".."
}
