package sandbox

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

const (
	// AppDir is where the workspace appears inside the sandbox.
	AppDir = "/app"
	// cacheDir is where the npm cache appears during Install.
	cacheDir = "/cache"
	// gateScript holds the command until the runner has placed it in its
	// cgroup: it waits for a line on fd 3, closes it and execs the rest of
	// its arguments. It is fixed text; nothing untrusted reaches it. The
	// umask lets every workspace's uid (one group) share the npm cache.
	gateScript = `umask 002; IFS= read -r _ <&3 || exit 125; exec 3<&-; exec "$@"`
)

// etcFiles are the /etc entries node and npm need (TLS roots, name
// resolution, time zone, the dynamic linker cache). Missing ones are
// skipped. /etc/passwd and /etc/group are synthetic (see [Local]).
var etcFiles = []string{
	"/etc/alternatives",
	"/etc/ca-certificates",
	"/etc/ca-certificates.conf",
	"/etc/gai.conf",
	"/etc/host.conf",
	"/etc/hosts",
	"/etc/ld.so.cache",
	"/etc/ld.so.conf",
	"/etc/ld.so.conf.d",
	"/etc/localtime",
	"/etc/nsswitch.conf",
	"/etc/pki",
	"/etc/resolv.conf",
	"/etc/ssl",
}

// spec is everything that decides one sandboxed command line. buildArgv is
// a pure function of it, so the isolation flags are reviewable in golden
// tests.
type spec struct {
	bwrap, prlimit, shell string
	unsafe                bool
	uid, gid              int // -1: unchanged
	limits                Limits
	cgroupMemory          bool // memory is enforced by a cgroup
	workspace             string
	dir                   string // cleaned, relative to the workspace
	network               bool
	cache                 string // host npm cache, "" for none
	system                []string
	readOnly              []string // extra host folders, bound at the same path
	passwd, group         string   // host files bound over /etc/passwd and /etc/group
	mounts                []boundMount
	env                   []string // "K=V", applied after the defaults
	pathPrefix            []string // extra PATH entries (node outside /usr)
	args                  []string
}

type boundMount struct {
	host, target, env string
}

// sandboxEnv returns the environment the command sees.
func (s spec) sandboxEnv() []string {
	root := AppDir
	if s.unsafe {
		root = s.workspace
	}
	cwd := path.Join(root, s.dir)
	pathList := []string{path.Join(cwd, "node_modules/.bin")}
	if s.dir != "." {
		pathList = append(pathList, path.Join(root, "node_modules/.bin"))
	}
	pathList = append(pathList, s.pathPrefix...)
	pathList = append(pathList, "/usr/local/bin", "/usr/bin", "/bin")
	home := "/tmp"
	if s.unsafe {
		home = path.Join(s.workspace, ".home")
	}
	env := map[string]string{
		"PATH":     strings.Join(pathList, ":"),
		"HOME":     home,
		"LANG":     "C.UTF-8",
		"CI":       "1",
		"NO_COLOR": "1",
		"TERM":     "dumb",
		// npm must not phone home or prompt.
		"npm_config_update_notifier": "false",
		"npm_config_fund":            "false",
		"npm_config_audit":           "false",
		"npm_config_yes":             "false",
	}
	if !s.cgroupMemory && s.limits.Memory > 0 {
		// Without a cgroup, cap node's heap so it fails cleanly before
		// the address-space limit tears it down.
		env["NODE_OPTIONS"] = fmt.Sprintf("--max-old-space-size=%d", max(16, s.limits.Memory>>20))
	}
	for _, m := range s.mounts {
		if m.env != "" {
			if s.unsafe {
				env[m.env] = m.host
			} else {
				env[m.env] = m.target
			}
		}
	}
	for _, kv := range s.env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+env[k])
	}
	return out
}

// prlimitArgs returns prlimit and its options, ending with "--".
func (s spec) prlimitArgs() []string {
	l := s.limits
	cpu := int64(l.CPUTime.Seconds())
	return []string{
		s.prlimit,
		fmt.Sprintf("--cpu=%d:%d", cpu, cpu+1),
		fmt.Sprintf("--as=%d", l.AddressSpace),
		fmt.Sprintf("--nproc=%d", l.Processes),
		fmt.Sprintf("--fsize=%d", l.FileSize),
		fmt.Sprintf("--nofile=%d", l.OpenFiles),
		"--core=0",
		"--",
	}
}

// buildArgv returns the host command line: the gate shell, prlimit, then
// bwrap (or, unsafe, the command itself).
func buildArgv(s spec) []string {
	argv := []string{s.shell, "-c", gateScript, "stich-gate"}
	argv = append(argv, s.prlimitArgs()...)
	if s.unsafe {
		return append(argv, s.args...)
	}
	b := []string{s.bwrap,
		"--unshare-all",
	}
	if s.uid != -1 {
		// bwrap runs unprivileged as the sandbox uid, so it can (and must)
		// create a user namespace; nested ones are then refused.
		b = append(b, "--unshare-user", "--disable-userns",
			"--uid", strconv.Itoa(s.uid), "--gid", strconv.Itoa(s.gid))
	}
	if s.network {
		b = append(b, "--share-net")
	}
	b = append(b,
		"--die-with-parent",
		"--new-session",
		"--cap-drop", "ALL",
		"--hostname", "sandbox",
	)
	b = append(b, s.system...)
	for _, p := range s.readOnly {
		b = append(b, "--ro-bind", p, p)
	}
	for _, p := range etcFiles {
		b = append(b, "--ro-bind-try", p, p)
	}
	b = append(b,
		"--ro-bind", s.passwd, "/etc/passwd",
		"--ro-bind", s.group, "/etc/group",
		"--proc", "/proc",
		"--dev", "/dev",
		"--size", strconv.FormatInt(s.limits.TmpSize, 10), "--tmpfs", "/tmp",
		"--bind", s.workspace, AppDir,
	)
	for _, m := range s.mounts {
		b = append(b, "--ro-bind", m.host, m.target)
	}
	if s.cache != "" {
		b = append(b, "--bind", s.cache, cacheDir)
	}
	b = append(b, "--remount-ro", "/", "--chdir", path.Join(AppDir, s.dir), "--clearenv")
	for _, kv := range s.sandboxEnv() {
		k, v, _ := strings.Cut(kv, "=")
		b = append(b, "--setenv", k, v)
	}
	b = append(b, "--")
	b = append(b, s.args...)
	return append(argv, b...)
}

// systemBinds describes the host's top-level system folders for bwrap:
// /usr read-only, and /bin, /lib, /lib64, /sbin (and multiarch variants)
// as the symlinks or read-only folders they are on the host.
func systemBinds() []string {
	args := []string{"--ro-bind", "/usr", "/usr"}
	for _, p := range []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"} {
		fi, err := os.Lstat(p)
		switch {
		case err != nil:
			continue
		case fi.Mode()&os.ModeSymlink != 0:
			if target, err := os.Readlink(p); err == nil {
				args = append(args, "--symlink", target, p)
			}
		case fi.IsDir():
			args = append(args, "--ro-bind", p, p)
		}
	}
	return args
}

// nodePrefix returns the folder to bind for a node binary installed outside
// /usr (nvm, /opt/node), and the bin folder to put on PATH; both "" when
// node lives under /usr.
func nodePrefix(node string) (prefix, bin string) {
	real, err := filepath.EvalSymlinks(node)
	if err != nil {
		return "", ""
	}
	if within(real, "/usr") {
		return "", ""
	}
	bin = filepath.Dir(real)
	return filepath.Dir(bin), bin
}
