package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Local is the [Runner] for one machine: each workspace is a folder under
// [Config.Root], and each command runs under bubblewrap as the sandbox uid
// with rlimits and, where available, its own cgroup (see the package doc
// for the exact isolation).
type Local struct {
	cfg        Config
	log        *slog.Logger
	bwrap      string
	prlimit    string
	shell      string
	system     []string
	readOnly   []string
	pathPrefix []string
	cg         *cgroups
	passwd     string
	group      string
	forward    string // forwardJS on the host
	// installHostNet makes installs share the host's network namespace
	// with no egress proxy, as before the proxy existed: only for the
	// reference of BenchmarkContainedBuild.
	installHostNet bool
	uid, gid       int
	switchCred     bool

	seq atomic.Uint64
	mu  sync.Mutex
	ws  map[string]*workspace
	// uidUsers counts the workspaces using each uid of the range (index:
	// uid - UID), guarded by mu.
	uidUsers []int
	// modules is the prepared-modules store (modules.go).
	modules modulesStore
}

// workspace is the in-memory state of one workspace folder.
type workspace struct {
	id, dir string
	// uid is the workspace's own sandbox uid (-1: stich's own user).
	uid int
	// exclusive is held shared by Run and exclusively by Install and
	// Cleanup.
	exclusive sync.RWMutex

	mu      sync.Mutex
	running map[uint64]string
	cancels map[uint64]context.CancelFunc
	last    *Result
	lastCmd string
	gone    bool
}

var _ Runner = (*Local)(nil)

// NewLocal checks the machine (bwrap, prlimit, cgroups, folder
// permissions), creates Root and CacheDir, and proves the sandbox works by
// running /bin/true in it. Without bwrap it fails with [ErrUnavailable]
// unless cfg.Unsafe is set.
func NewLocal(cfg Config) (*Local, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &Local{cfg: cfg, log: cfg.Logger, ws: map[string]*workspace{}, uid: cfg.UID, gid: cfg.GID, uidUsers: make([]int, cfg.uidCount())}
	if l.log == nil {
		l.log = slog.Default()
	}
	euid := os.Geteuid()
	switch {
	case euid == 0 && cfg.UID == -1:
		return nil, fmt.Errorf("%w: stich runs as root, so sandboxed code needs its own UID and GID (they are -1)", ErrInvalid)
	case euid != 0 && cfg.UID != -1 && cfg.UID != euid:
		return nil, fmt.Errorf("%w: switching to sandbox uid %d needs root; run stich as root or set UID and GID to -1", ErrInvalid, cfg.UID)
	case cfg.UID == -1:
		l.uid, l.gid = -1, -1
	default:
		l.switchCred = euid == 0
	}

	var err error
	if l.shell, err = lookPath("", "sh"); err != nil {
		return nil, fmt.Errorf("%w: no /bin/sh: %v", ErrUnavailable, err)
	}
	if l.prlimit, err = lookPath(cfg.Prlimit, "prlimit"); err != nil {
		return nil, fmt.Errorf("%w: prlimit (util-linux) not found: %v", ErrUnavailable, err)
	}
	if l.bwrap, err = lookPath(cfg.Bwrap, "bwrap"); err != nil {
		if !cfg.Unsafe {
			return nil, fmt.Errorf("%w: bubblewrap (bwrap) not found: install it (Debian: apt-get install bubblewrap) or set Unsafe to run app code without isolation: %v", ErrUnavailable, err)
		}
		l.bwrap = ""
		l.log.Warn("sandbox: UNSAFE MODE: bubblewrap is missing, so generated apps run WITHOUT namespaces: they can read the host file system and use the network. Install bubblewrap before serving untrusted users.")
	}
	if node, err := lookPath(cfg.Node, "node"); err == nil {
		if prefix, bin := nodePrefix(node); prefix != "" {
			l.readOnly = append(l.readOnly, prefix)
			l.pathPrefix = append(l.pathPrefix, bin)
		}
	} else {
		l.log.Warn("sandbox: node not found; npm and tsc commands will fail", "err", err)
	}
	l.readOnly = append(l.readOnly, cfg.ReadOnly...)
	l.system = systemBinds()

	if err := l.makeDirs(); err != nil {
		return nil, err
	}

	switch cfg.Cgroups {
	case CgroupAuto, CgroupRequired:
		cg, err := probeCgroups(cfg.CgroupRoot)
		if err != nil && cfg.Cgroups == CgroupRequired {
			return nil, fmt.Errorf("%w: cgroups required but unusable: %v", ErrUnavailable, err)
		}
		l.cg = cg
		logCgroups(l.log, cg, err)
	}

	// Prove the sandbox starts (user namespaces allowed, Root reachable by
	// the sandbox uid) before reporting success.
	probe := filepath.Join(cfg.Root, ".probe")
	if err := os.MkdirAll(probe, 0o700); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	if err := l.chown(probe, l.uid); err != nil {
		return nil, err
	}
	s := l.spec(l.uid, probe, ".", []string{"/bin/true"})
	res, err := l.execute(context.Background(), "probe", s, nil, cfg.RunTimeout)
	if err == nil && res.ExitCode != 0 {
		err = fmt.Errorf("exit status %d: %s", res.ExitCode, strings.TrimSpace(res.TailText()))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: the sandbox does not start (is %s traversable by uid %d?): %v", ErrUnavailable, cfg.Root, l.uid, err)
	}
	return l, nil
}

// logCgroups says which cgroups commands get: v2, v1 (and why not v2,
// when a unified hierarchy exists but lacks what stich needs), or none.
func logCgroups(log *slog.Logger, cg *cgroups, err error) {
	switch {
	case err != nil:
		log.Info("sandbox: cgroups unusable, memory is bounded by rlimits only", "err", err)
	case cg.v2Skipped != nil:
		log.Info("sandbox: commands get their own cgroups", "version", cg.Version(), "v2_not_used", cg.v2Skipped.Error())
	default:
		log.Info("sandbox: commands get their own cgroups", "version", cg.Version())
	}
	if err == nil && cg.weightErr != nil {
		log.Warn("sandbox: the sandboxes' CPU weight was not raised; under load they share one host thread's CPU", "err", cg.weightErr)
	}
}

// Unsafe reports whether commands run without bubblewrap.
func (l *Local) Unsafe() bool { return l.bwrap == "" }

// Cgroups reports whether commands get their own cgroups (per-command
// memory and process limits).
func (l *Local) Cgroups() bool { return l.cg != nil }

// CgroupVersion names the cgroup hierarchy commands run under: "v2",
// "v1", or "" when none is usable (rlimits only).
func (l *Local) CgroupVersion() string {
	if l.cg == nil {
		return ""
	}
	return l.cg.Version()
}

// Dir returns the host folder of workspace id, for in-process readers that
// run no app code (the preview bundler). Whatever the sandbox wrote there
// is untrusted: read it only through [os.Root] or with symlink checks.
func (l *Local) Dir(id string) (string, error) {
	if err := checkID(id); err != nil {
		return "", err
	}
	return filepath.Join(l.cfg.Root, id), nil
}

func (l *Local) makeDirs() error {
	if err := os.MkdirAll(l.cfg.Root, 0o711); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	// The sandbox uid must traverse Root to reach its workspace (bwrap
	// binds it as that uid) but not list it.
	if err := os.Chmod(l.cfg.Root, 0o711); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	// Folders a Cleanup moved aside and did not finish deleting (a crash).
	if trash, err := filepath.Glob(filepath.Join(l.cfg.Root, ".trash-*")); err == nil {
		for _, t := range trash {
			_ = os.RemoveAll(t)
		}
	}
	if err := os.MkdirAll(l.cfg.CacheDir, 0o700); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	if l.uid != -1 {
		// A cache made for another uid, or before workspaces had uids of
		// their own, is handed over once: owned by UID and the shared
		// GID, group-writable (installs run with umask 002) and setgid, so
		// every workspace's uid may add to it.
		fi, err := os.Stat(l.cfg.CacheDir)
		if err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && (int(st.Uid) != l.uid || int(st.Gid) != l.gid || fi.Mode()&(os.ModeSetgid|0o070) != os.ModeSetgid|0o070) {
			err := filepath.WalkDir(l.cfg.CacheDir, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if err := os.Lchown(p, l.uid, l.gid); err != nil {
					return err
				}
				switch {
				case d.IsDir():
					return os.Chmod(p, 0o2770)
				case d.Type().IsRegular():
					return os.Chmod(p, 0o660)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("sandbox: npm cache: %w", err)
			}
		}
	}
	etc := filepath.Join(l.cfg.Root, ".etc")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	if err := os.Chmod(etc, 0o755); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	uid, gid := l.uid, l.gid
	if uid == -1 {
		uid, gid = os.Getuid(), os.Getgid()
	}
	// Synthetic account files: the sandbox sees its own user, not the
	// host's accounts.
	l.passwd = filepath.Join(etc, "passwd")
	l.group = filepath.Join(etc, "group")
	var users strings.Builder
	users.WriteString("root:x:0:0:root:/root:/usr/sbin/nologin\n")
	for i := range l.cfg.uidCount() {
		name := "sandbox"
		if i > 0 {
			name = fmt.Sprintf("sandbox%d", i)
		}
		fmt.Fprintf(&users, "%s:x:%d:%d:stich sandbox:/tmp:/usr/sbin/nologin\n", name, uid+i, gid)
	}
	if l.uid != -1 {
		fmt.Fprintf(&users, "sandbox-tools:x:%d:%d:stich tools:/tmp:/usr/sbin/nologin\n", l.uid+l.cfg.uidCount(), gid)
	}
	users.WriteString("nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
	files := map[string]string{
		l.passwd: users.String(),
		l.group:  fmt.Sprintf("root:x:0:\nsandbox:x:%d:\nnogroup:x:65534:\n", gid),
	}
	l.forward = filepath.Join(etc, "forward.js")
	files[l.forward] = forwardJS
	for p, content := range files {
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
	}
	return nil
}

// chown hands a host path to sandbox uid (no-op when there is none).
func (l *Local) chown(p string, uid int) error {
	if !l.switchCred {
		return nil
	}
	if err := os.Lchown(p, uid, l.gid); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	return nil
}

// spec returns the base spec for a command run as uid in host folder ws.
func (l *Local) spec(uid int, ws, dir string, args []string) spec {
	return spec{
		bwrap:        l.bwrap,
		prlimit:      l.prlimit,
		shell:        l.shell,
		unsafe:       l.bwrap == "",
		uid:          uid,
		gid:          l.gid,
		limits:       l.cfg.Limits,
		cgroupMemory: l.cg != nil,
		workspace:    ws,
		dir:          dir,
		system:       l.system,
		readOnly:     l.readOnly,
		passwd:       l.passwd,
		group:        l.group,
		pathPrefix:   l.pathPrefix,
		args:         args,
	}
}

// get returns workspace id; one whose folder exists on disk (from before a
// restart) is adopted.
func (l *Local) get(id string) (*workspace, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if w, ok := l.ws[id]; ok {
		return w, nil
	}
	dir := filepath.Join(l.cfg.Root, id)
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("%w: %s", ErrNoWorkspace, id)
	}
	uid := l.uid
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && l.inRange(int(st.Uid)) {
		uid = int(st.Uid) // keep the uid its files belong to
	}
	w := newWorkspace(id, dir, l.takeUID(id, uid))
	l.ws[id] = w
	return w, nil
}

// inRange reports whether uid is one of the sandbox uids.
func (l *Local) inRange(uid int) bool {
	return l.uid != -1 && uid >= l.uid && uid < l.uid+len(l.uidUsers)
}

// ToolsPrefix starts the ids of the node's own tools workspaces (the
// fixer's parser tools). They run as [Local.ToolsUID], outside the apps'
// uid range, so no app's processes can starve their installs, and other
// workspaces' commands may mount them read-only. Apps' workspace ids
// (sessions "s-…", "cli-…", "eval-…", "build") never start with it.
const ToolsPrefix = "stich-"

// IsTools reports whether id names one of the node's tools workspaces.
func IsTools(id string) bool { return strings.HasPrefix(id, ToolsPrefix) }

// ToolsUID returns the uid of the tools workspaces: UID+UIDs, the one
// after the apps' range (-1 when commands run as stich's own user).
func (l *Local) ToolsUID() int {
	if l.uid == -1 {
		return -1
	}
	return l.uid + len(l.uidUsers)
}

// takeUID assigns workspace id its uid: the tools uid to a tools
// workspace; else want when given (an adopted folder's), else the least
// used of the range. l.mu is held.
func (l *Local) takeUID(id string, want int) int {
	if l.uid == -1 {
		return -1
	}
	if IsTools(id) {
		return l.ToolsUID()
	}
	i := want - l.uid
	if want == -1 || !l.inRange(want) {
		i = 0
		for j, n := range l.uidUsers {
			if n < l.uidUsers[i] {
				i = j
			}
		}
	}
	l.uidUsers[i]++
	return l.uid + i
}

// releaseUID returns a workspace's uid to the range. l.mu is held.
func (l *Local) releaseUID(uid int) {
	if l.inRange(uid) && l.uidUsers[uid-l.uid] > 0 {
		l.uidUsers[uid-l.uid]--
	}
}

// UID returns the sandbox uid of workspace id (-1 when commands run as
// stich's own user).
func (l *Local) UID(id string) (int, error) {
	w, err := l.get(id)
	if err != nil {
		return 0, err
	}
	return w.uid, nil
}

func newWorkspace(id, dir string, uid int) *workspace {
	return &workspace{id: id, dir: dir, uid: uid, running: map[uint64]string{}, cancels: map[uint64]context.CancelFunc{}}
}

// Prepare implements [Runner].
func (l *Local) Prepare(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	dir := filepath.Join(l.cfg.Root, id)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("sandbox: prepare %s: %w", id, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() {
		return fmt.Errorf("sandbox: prepare %s: not a folder", id)
	}
	w, ok := l.ws[id]
	if !ok {
		w = newWorkspace(id, dir, l.takeUID(id, -1))
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && l.inRange(int(st.Uid)) && int(st.Uid) != w.uid && !IsTools(id) {
			// A folder left from before: give it the uid it was made for.
			l.releaseUID(w.uid)
			w.uid = l.takeUID(id, int(st.Uid))
		}
		l.ws[id] = w
	}
	if err := l.mountQuota(dir, w.uid); err != nil {
		return err
	}
	if err := l.chown(dir, w.uid); err != nil {
		return err
	}
	// An app's workspace is its uid's alone; a tools workspace is also
	// readable by the sandbox group, so every app's commands can mount it
	// (read-only) whatever their uid.
	mode := os.FileMode(0o700)
	if IsTools(id) {
		mode = 0o750
	}
	if err := os.Chmod(dir, mode); err != nil {
		return fmt.Errorf("sandbox: prepare %s: %w", id, err)
	}
	if l.bwrap == "" {
		// Unsafe mode has no tmpfs HOME.
		home := filepath.Join(dir, ".home")
		if err := os.MkdirAll(home, 0o700); err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
		if err := l.chown(home, w.uid); err != nil {
			return err
		}
	}
	return nil
}

// WriteFiles implements [Runner]. Every file is written fresh (an existing
// file or symlink at the path is replaced, never written through) and
// handed to the sandbox uid.
func (l *Local) WriteFiles(ctx context.Context, id string, files map[string]string) error {
	w, err := l.get(id)
	if err != nil {
		return err
	}
	paths := make([]string, 0, len(files))
	clean := make(map[string]string, len(files))
	for p := range files {
		c, err := cleanRel(p, false)
		if err != nil {
			return err
		}
		clean[p] = c
		paths = append(paths, p)
	}
	sort.Strings(paths)
	root, err := os.OpenRoot(w.dir)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrNoWorkspace, id, err)
	}
	defer root.Close()
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := l.writeOne(root, w.uid, clean[p], files[p]); err != nil {
			return err
		}
	}
	return nil
}

func (l *Local) writeOne(root *os.Root, uid int, rel, content string) error {
	if dir := path.Dir(rel); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return pathErr(rel, err)
		}
		// Hand each folder on the way to the sandbox uid, through open
		// handles (fchown), so a swapped-in symlink cannot redirect it.
		parts := strings.Split(dir, "/")
		for i := range parts {
			if err := l.fchown(root, uid, strings.Join(parts[:i+1], "/")); err != nil {
				return pathErr(rel, err)
			}
		}
	}
	if err := root.Remove(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
		if err := root.RemoveAll(rel); err != nil {
			return pathErr(rel, err)
		}
	}
	f, err := root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return pathErr(rel, err)
	}
	if l.switchCred {
		if err := f.Chown(uid, l.gid); err != nil {
			f.Close()
			return pathErr(rel, err)
		}
	}
	if _, err := io.WriteString(f, content); err != nil {
		f.Close()
		return pathErr(rel, err)
	}
	if err := f.Close(); err != nil {
		return pathErr(rel, err)
	}
	return nil
}

func (l *Local) fchown(root *os.Root, uid int, rel string) error {
	if !l.switchCred {
		return nil
	}
	f, err := root.Open(rel)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Chown(uid, l.gid)
}

// pathErr reports a failed file operation; escapes through symlinks become
// [ErrPath].
func pathErr(rel string, err error) error {
	if strings.Contains(err.Error(), "escapes from parent") || errors.Is(err, syscall.ELOOP) {
		return fmt.Errorf("%w: %s: %v", ErrPath, rel, err)
	}
	return fmt.Errorf("sandbox: %s: %w", rel, err)
}

// RemoveFiles implements [Runner].
func (l *Local) RemoveFiles(ctx context.Context, id string, paths []string) error {
	w, err := l.get(id)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(w.dir)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrNoWorkspace, id, err)
	}
	defer root.Close()
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return err
		}
		c, err := cleanRel(p, false)
		if err != nil {
			return err
		}
		if err := root.RemoveAll(c); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return pathErr(c, err)
		}
	}
	return nil
}

// ReadFile implements [Runner].
func (l *Local) ReadFile(ctx context.Context, id, p string) ([]byte, error) {
	w, err := l.get(id)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := cleanRel(p, false)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(w.dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNoWorkspace, id, err)
	}
	defer root.Close()
	return readLimited(root, c)
}

func readLimited(root *os.Root, rel string) ([]byte, error) {
	f, err := root.Open(rel)
	if err != nil {
		return nil, pathErr(rel, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, pathErr(rel, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("sandbox: %s: not a regular file", rel)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxReadFile+1))
	if err != nil {
		return nil, pathErr(rel, err)
	}
	if len(b) > MaxReadFile {
		return nil, fmt.Errorf("sandbox: %s: larger than %d bytes", rel, MaxReadFile)
	}
	return b, nil
}

// Run implements [Runner].
func (l *Local) Run(ctx context.Context, id string, cmd Command) (Result, error) {
	w, err := l.get(id)
	if err != nil {
		return Result{}, err
	}
	if err := validateCommand(cmd); err != nil {
		return Result{}, err
	}
	dir, err := cleanRel(cmd.Dir, true)
	if err != nil {
		return Result{}, err
	}
	s := l.spec(w.uid, w.dir, dir, cmd.Args)
	s.limits = cmd.Limits.merged(l.cfg.Limits)
	s.env = cmd.Env
	if s.mounts, err = l.resolveMounts(w, cmd.Mounts); err != nil {
		return Result{}, err
	}
	timeout := cmd.Timeout
	if timeout <= 0 {
		timeout = l.cfg.RunTimeout
	}
	if l.bwrap == "" {
		l.log.Warn("sandbox: UNSAFE MODE: running app code without isolation", "workspace", id, "command", cmd.Args[0])
	}
	w.exclusive.RLock()
	defer w.exclusive.RUnlock()
	return l.track(ctx, w, cmd.Args, func(ctx context.Context) (Result, error) {
		return l.execute(ctx, label(cmd.Args), s, cmd.OnLine, timeout)
	})
}

// track registers a running command so Status and Cleanup see it.
func (l *Local) track(ctx context.Context, w *workspace, args []string, run func(context.Context) (Result, error)) (Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w.mu.Lock()
	if w.gone {
		w.mu.Unlock()
		return Result{}, fmt.Errorf("%w: %s", ErrNoWorkspace, w.id)
	}
	n := l.seq.Add(1)
	line := strings.Join(args, " ")
	w.running[n] = line
	w.cancels[n] = cancel
	w.mu.Unlock()

	res, err := run(ctx)

	w.mu.Lock()
	delete(w.running, n)
	delete(w.cancels, n)
	r := res
	w.last, w.lastCmd = &r, line
	w.mu.Unlock()
	return res, err
}

func validateCommand(cmd Command) error {
	if len(cmd.Args) == 0 || cmd.Args[0] == "" {
		return fmt.Errorf("%w: empty command", ErrInvalid)
	}
	for _, a := range cmd.Args {
		if strings.ContainsRune(a, 0) {
			return fmt.Errorf("%w: NUL in argument", ErrInvalid)
		}
	}
	for _, kv := range cmd.Env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || !validEnvName(k) || strings.ContainsRune(kv, 0) {
			return fmt.Errorf("%w: environment entry %q", ErrInvalid, kv)
		}
	}
	return nil
}

func validEnvName(k string) bool {
	if k == "" {
		return false
	}
	for i, c := range k {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// resolveMounts turns the mounts of a command of workspace into into host
// binds, refusing sources that leave their workspace through symlinks and
// workspaces of another uid that are not tools workspaces (their folder is
// their uid's alone).
func (l *Local) resolveMounts(into *workspace, ms []Mount) ([]boundMount, error) {
	var out []boundMount
	for i, m := range ms {
		w, err := l.get(m.Workspace)
		if err != nil {
			return nil, err
		}
		if w.uid != into.uid && !IsTools(w.id) {
			return nil, fmt.Errorf("%w: mount %s: it belongs to another sandbox uid; only tools workspaces (ids starting with %q) can be mounted into other workspaces", ErrInvalid, m.Workspace, ToolsPrefix)
		}
		sub, err := cleanRel(m.Sub, true)
		if err != nil {
			return nil, err
		}
		wsReal, err := filepath.EvalSymlinks(w.dir)
		if err != nil {
			return nil, fmt.Errorf("sandbox: mount %s: %w", m.Workspace, err)
		}
		host, err := filepath.EvalSymlinks(filepath.Join(w.dir, filepath.FromSlash(sub)))
		if err != nil {
			return nil, fmt.Errorf("sandbox: mount %s/%s: %w", m.Workspace, sub, err)
		}
		if !within(host, wsReal) {
			return nil, fmt.Errorf("%w: mount %s/%s", ErrPath, m.Workspace, sub)
		}
		target := m.Target
		if target == "" {
			if m.Env == "" {
				return nil, fmt.Errorf("%w: mount %d has neither Target nor Env", ErrInvalid, i)
			}
			target = fmt.Sprintf("/mnt/%d", i)
		}
		if !path.IsAbs(target) || path.Clean(target) != target || target == "/" || strings.ContainsRune(target, 0) {
			return nil, fmt.Errorf("%w: mount target %q", ErrInvalid, target)
		}
		if l.bwrap == "" && m.Target != "" {
			return nil, fmt.Errorf("%w: mount targets need bubblewrap (unsafe mode can only pass mounts by Env)", ErrInvalid)
		}
		if m.Env != "" && !validEnvName(m.Env) {
			return nil, fmt.Errorf("%w: mount env %q", ErrInvalid, m.Env)
		}
		out = append(out, boundMount{host: host, target: target, env: m.Env})
	}
	return out, nil
}

// Status implements [Runner].
func (l *Local) Status(ctx context.Context, id string) (Status, error) {
	if err := checkID(id); err != nil {
		return Status{}, err
	}
	w, err := l.get(id)
	if errors.Is(err, ErrNoWorkspace) {
		return Status{ID: id, State: StateMissing}, nil
	}
	if err != nil {
		return Status{}, err
	}
	st := Status{ID: id, State: StateIdle}
	w.mu.Lock()
	for _, c := range w.running {
		st.Running = append(st.Running, c)
	}
	if w.last != nil {
		r := *w.last
		st.Last, st.LastCommand = &r, w.lastCmd
	}
	gone := w.gone
	w.mu.Unlock()
	if gone {
		return Status{ID: id, State: StateMissing}, nil
	}
	sort.Strings(st.Running)
	if len(st.Running) > 0 {
		st.State = StateRunning
	}
	if fi, err := os.Lstat(filepath.Join(w.dir, "node_modules")); err == nil && fi.IsDir() {
		st.Installed = true
	}
	return st, nil
}

// Cleanup implements [Runner]: it cancels the workspace's commands, waits
// for them to end and deletes the folder.
func (l *Local) Cleanup(ctx context.Context, id string) error {
	w, err := l.get(id)
	if errors.Is(err, ErrNoWorkspace) {
		return nil
	}
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.gone = true
	for _, cancel := range w.cancels {
		cancel()
	}
	w.mu.Unlock()

	// Cancelled commands are killed at once, so this wait is short.
	w.exclusive.Lock()
	defer w.exclusive.Unlock()
	if err := unmountQuota(w.dir); err != nil {
		return fmt.Errorf("sandbox: cleanup %s: %w", id, err)
	}
	// Move the folder out of the way before forgetting the workspace, so
	// that no call adopts it (see get) while it is being deleted. Trash
	// names start with "." and are never workspace ids.
	l.mu.Lock()
	trash := filepath.Join(l.cfg.Root, fmt.Sprintf(".trash-%s-%d", id, time.Now().UnixNano()))
	renameErr := os.Rename(w.dir, trash)
	delete(l.ws, id)
	l.releaseUID(w.uid)
	l.mu.Unlock()
	if renameErr != nil {
		if errors.Is(renameErr, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("sandbox: cleanup %s: %w", id, renameErr)
	}
	// os.RemoveAll does not follow symlinks the sandbox left.
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("sandbox: cleanup %s: %w", id, err)
	}
	return nil
}

// lookPath resolves a configured binary (or name in PATH) to an absolute
// path.
func lookPath(configured, name string) (string, error) {
	if configured != "" {
		name = configured
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", err
	}
	return filepath.Abs(p)
}

// joinHost joins a cleaned relative path to a host folder.
func joinHost(dir, rel string) string {
	return filepath.Join(dir, filepath.FromSlash(rel))
}
