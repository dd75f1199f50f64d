package sandbox

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Runner runs untrusted app code in isolated workspaces. A workspace is
// named by an id the caller chooses (one per app); every method takes it, so
// a Runner can live in another process or on another machine (the contract
// matches a remote runner's REST shape: instances, files, commands).
//
// Implementations are safe for concurrent use. Several Run calls may use the
// same workspace at once (a dev server and a type-check); Install excludes
// every other Run and Install of its workspace while it runs.
type Runner interface {
	// Prepare creates the workspace id if it does not exist. It is
	// idempotent: preparing an existing workspace keeps its files.
	Prepare(ctx context.Context, id string) error

	// WriteFiles writes files (slash-separated paths relative to the
	// workspace root → content), creating parent folders. Paths that are
	// absolute, contain "..", or resolve outside the workspace through a
	// symlink are refused with [ErrPath] before anything is written.
	WriteFiles(ctx context.Context, id string, files map[string]string) error

	// RemoveFiles removes files or folders (recursively); missing ones are
	// not an error.
	RemoveFiles(ctx context.Context, id string, paths []string) error

	// ReadFile reads one file of at most [MaxReadFile] bytes. A symlink
	// pointing outside the workspace is refused with [ErrPath].
	ReadFile(ctx context.Context, id, path string) ([]byte, error)

	// Install installs the workspace's npm dependencies with network access
	// and the shared npm cache (see [InstallOptions]). It is the only way
	// untrusted files reach the network, and no package code runs while it
	// does: install scripts are disabled.
	Install(ctx context.Context, id string, opts InstallOptions) (Result, error)

	// Run runs one command in the workspace without network access. A
	// command that exits non-zero is not an error: see [Result.ExitCode].
	// Run returns an error when the command cannot start, when ctx ends
	// (wrapping ctx.Err()), or when it was stopped by or failed at a limit
	// ([ErrTimeout], [ErrCPULimit], [ErrMemoryLimit], [ErrProcessLimit],
	// [ErrFileSizeLimit]); the Result is filled in as far as known.
	Run(ctx context.Context, id string, cmd Command) (Result, error)

	// Status reports the workspace's state; a missing workspace has
	// State [StateMissing] and no error.
	Status(ctx context.Context, id string) (Status, error)

	// Cleanup stops the workspace's running commands and deletes it. It is
	// idempotent.
	Cleanup(ctx context.Context, id string) error
}

// Command is one program run inside a workspace.
type Command struct {
	// Args is the program and its arguments; Args[0] is looked up in the
	// sandbox PATH (node_modules/.bin of the working folder first, then
	// /usr/local/bin, /usr/bin, /bin). No shell is involved.
	Args []string

	// Dir is the working folder, relative to the workspace root ("" is the
	// root).
	Dir string

	// Env adds environment variables ("NAME=value"). The sandbox starts
	// from an empty environment with PATH, HOME (a tmpfs), LANG, CI=1 and
	// NO_COLOR=1.
	Env []string

	// Timeout is the wall-clock limit; 0 means the runner's default. When
	// it passes, every process of the command is killed and Run returns
	// [ErrTimeout].
	Timeout time.Duration

	// Limits overrides the runner's default limits field by field (a zero
	// field keeps the default). Nil keeps all defaults.
	Limits *Limits

	// Mounts are other workspaces made visible read-only (shared tools, a
	// shared node_modules).
	Mounts []Mount

	// OnLine, if set, receives every output line as it is produced (with
	// the line ending removed; lines longer than [MaxLineBytes] are split).
	// Calls never overlap and come in order per stream; a callback that
	// blocks stalls the command's output (and eventually the command).
	OnLine func(Line)
}

// Mount makes (a folder of) another workspace visible, read-only, during a
// command.
type Mount struct {
	// Workspace is the id of the workspace to show.
	Workspace string
	// Sub is a slash-separated folder inside it ("" for all of it).
	Sub string
	// Target is the absolute path where the command sees it, for example
	// "/app/node_modules" to share one install between apps. Empty lets the
	// runner choose; then Env must be set.
	Target string
	// Env, if set, names an environment variable the command receives
	// holding the path where the mount is visible (for example NODE_PATH).
	Env string
}

// InstallOptions tune [Runner.Install].
type InstallOptions struct {
	// Timeout is the wall-clock limit; 0 means the runner's install
	// default.
	Timeout time.Duration
	// OnLine receives npm's output lines, as for [Command.OnLine].
	OnLine func(Line)
}

// Stream tells which output a line came from.
type Stream uint8

const (
	Stdout Stream = 1
	Stderr Stream = 2
)

func (s Stream) String() string {
	switch s {
	case Stdout:
		return "stdout"
	case Stderr:
		return "stderr"
	}
	return "unknown"
}

// Line is one line of a command's output.
type Line struct {
	Stream Stream
	Text   string
}

// Limit names a resource limit.
type Limit string

const (
	LimitWallClock Limit = "wall-clock"
	LimitCPU       Limit = "cpu-time"
	LimitMemory    Limit = "memory"
	LimitProcesses Limit = "processes"
	LimitFileSize  Limit = "file-size"
)

// Limits bound one command. Every process of the command gets the rlimits
// (they are inherited); Memory and the per-run process count are enforced
// for the whole command when the runner has cgroups.
type Limits struct {
	// CPUTime is RLIMIT_CPU: CPU time per process. SIGXCPU at the limit,
	// SIGKILL a second later.
	CPUTime time.Duration
	// Memory is the cgroup memory limit (bytes) for all processes of the
	// command together; the kernel OOM-kills inside the command when it is
	// reached. Without cgroups it becomes node's heap cap
	// (--max-old-space-size) only, and AddressSpace is the real bound.
	Memory int64
	// AddressSpace is RLIMIT_AS (bytes of virtual memory per process). It
	// must stay large for node: V8 reserves about 10 GiB of address space
	// for WebAssembly, which Vite 8's bundler uses.
	AddressSpace int64
	// Processes bounds the number of tasks (processes and threads): per run
	// with cgroups (pids.max), and always as RLIMIT_NPROC. NB: RLIMIT_NPROC
	// counts every task of the sandbox uid on the machine, so concurrent
	// runs of one uid share it; give the runner a dedicated uid.
	Processes int
	// FileSize is RLIMIT_FSIZE: the largest file a process may write.
	FileSize int64
	// OpenFiles is RLIMIT_NOFILE.
	OpenFiles int
	// TmpSize bounds the sandbox's private /tmp (a tmpfs; its pages also
	// count toward Memory).
	TmpSize int64
	// CPUs bounds the cores all processes of the command may use at once
	// (a cgroup CPU quota: cpu.max, or cpu.cfs_quota_us on cgroup v1);
	// 0: no quota. Without a cpu controller only CPUTime applies.
	CPUs float64
}

// merged returns l with every zero field taken from d.
func (l *Limits) merged(d Limits) Limits {
	if l == nil {
		return d
	}
	out := *l
	if out.CPUTime == 0 {
		out.CPUTime = d.CPUTime
	}
	if out.Memory == 0 {
		out.Memory = d.Memory
	}
	if out.CPUs == 0 {
		out.CPUs = d.CPUs
	}
	if out.AddressSpace == 0 {
		out.AddressSpace = d.AddressSpace
	}
	if out.Processes == 0 {
		out.Processes = d.Processes
	}
	if out.FileSize == 0 {
		out.FileSize = d.FileSize
	}
	if out.OpenFiles == 0 {
		out.OpenFiles = d.OpenFiles
	}
	if out.TmpSize == 0 {
		out.TmpSize = d.TmpSize
	}
	return out
}

// Result describes a finished command.
type Result struct {
	// ExitCode is the command's exit status; a command killed by a signal
	// reports 128+signal, as a shell would.
	ExitCode int
	// Duration is the wall-clock time from start to exit.
	Duration time.Duration
	// CPUTime is the user+system time of all the command's processes when
	// the runner has cgroups (cpuacct); otherwise only what the process
	// stich started accounted for, which misses most of the sandbox.
	CPUTime time.Duration
	// MemoryPeak is the highest memory use of the command (bytes), when
	// the runner has cgroups; else 0.
	MemoryPeak int64
	// Exceeded lists the limits the command ran into, even when it
	// recovered (a failed fork in a build that still succeeded).
	Exceeded []Limit
	// Lines counts output lines; Dropped counts lines not delivered after
	// the output budget ([MaxOutputBytes]) was spent.
	Lines, Dropped int
	// Tail holds the last lines of output (up to [TailLines]) for error
	// messages.
	Tail []Line
	// Restored (an install) reports that no command ran: the prepared
	// node_modules of the same dependency set was copied.
	Restored bool
}

// Hit reports whether the command ran into limit l.
func (r Result) Hit(l Limit) bool {
	for _, e := range r.Exceeded {
		if e == l {
			return true
		}
	}
	return false
}

// TailText joins Tail as text, one line per line.
func (r Result) TailText() string {
	var b strings.Builder
	for _, l := range r.Tail {
		b.WriteString(l.Text)
		b.WriteByte('\n')
	}
	return b.String()
}

// State is a workspace's lifecycle state.
type State string

const (
	StateMissing State = "missing"
	StateIdle    State = "idle"
	StateRunning State = "running"
)

// Status is a snapshot of one workspace.
type Status struct {
	ID    string
	State State
	// Running lists the commands running now (argv joined by spaces).
	Running []string
	// Installed reports whether node_modules exists.
	Installed bool
	// Last is the result of the last finished command, if any.
	Last *Result
	// LastCommand is that command's argv, joined by spaces.
	LastCommand string
}

const (
	// MaxLineBytes is the longest line delivered whole; longer lines are
	// split into pieces of this size.
	MaxLineBytes = 64 << 10
	// MaxOutputBytes is the output budget of one command; lines beyond it
	// are counted in [Result.Dropped] but not delivered (the command keeps
	// running).
	MaxOutputBytes = 16 << 20
	// TailLines is how many last lines [Result.Tail] keeps.
	TailLines = 60
	// MaxReadFile is the largest file [Runner.ReadFile] returns.
	MaxReadFile = 64 << 20
)

var (
	// ErrUnavailable: the isolation the runner needs is missing (no bwrap).
	ErrUnavailable = errors.New("sandbox: isolation unavailable")
	// ErrNoWorkspace: the workspace was not prepared (or was cleaned up).
	ErrNoWorkspace = errors.New("sandbox: no such workspace")
	// ErrInvalid: a bad id, command or option.
	ErrInvalid = errors.New("sandbox: invalid request")
	// ErrPath: a file path is absolute, climbs out with "..", or resolves
	// outside the workspace through a symlink.
	ErrPath = errors.New("sandbox: path outside the workspace")
	// ErrDependencies: package.json or the lockfile asks for something the
	// install policy refuses (a URL, git or file dependency, a foreign
	// registry, an .npmrc).
	ErrDependencies = errors.New("sandbox: dependencies refused")
	// ErrResources: the sandbox could not start for lack of machine
	// resources (a namespace or process the kernel refused with EAGAIN),
	// even after retries; the app itself did not run.
	ErrResources = errors.New("sandbox: not enough machine resources to start the sandbox")
	// ErrTimeout: the wall-clock limit passed; every process was killed.
	ErrTimeout = errors.New("sandbox: wall-clock limit reached")
	// ErrCPULimit: a process used up its CPU time.
	ErrCPULimit = errors.New("sandbox: cpu time limit reached")
	// ErrMemoryLimit: the command ran out of memory.
	ErrMemoryLimit = errors.New("sandbox: memory limit reached")
	// ErrProcessLimit: the command could not create more processes.
	ErrProcessLimit = errors.New("sandbox: process limit reached")
	// ErrFileSizeLimit: a process wrote a file past the size limit.
	ErrFileSizeLimit = errors.New("sandbox: file size limit reached")
)

// limitErr maps a limit to its sentinel.
func limitErr(l Limit) error {
	switch l {
	case LimitWallClock:
		return ErrTimeout
	case LimitCPU:
		return ErrCPULimit
	case LimitMemory:
		return ErrMemoryLimit
	case LimitProcesses:
		return ErrProcessLimit
	case LimitFileSize:
		return ErrFileSizeLimit
	}
	return nil
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ValidID reports whether id may name a workspace: 1 to 128 ASCII letters,
// digits, '.', '_' or '-', not starting with a punctuation mark.
func ValidID(id string) bool { return idPattern.MatchString(id) }

func checkID(id string) error {
	if !ValidID(id) {
		return fmt.Errorf("%w: workspace id %q", ErrInvalid, id)
	}
	return nil
}

// cleanRel validates a slash-separated workspace-relative path and returns
// it cleaned. "" and "." are the root only when allowRoot is set.
func cleanRel(p string, allowRoot bool) (string, error) {
	if strings.ContainsRune(p, 0) || strings.HasPrefix(p, "/") || strings.Contains(p, "\\") {
		return "", fmt.Errorf("%w: %q", ErrPath, p)
	}
	parts := strings.Split(p, "/")
	out := parts[:0]
	for _, s := range parts {
		switch s {
		case "", ".":
			continue
		case "..":
			return "", fmt.Errorf("%w: %q", ErrPath, p)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		if allowRoot {
			return ".", nil
		}
		return "", fmt.Errorf("%w: %q names the workspace itself", ErrPath, p)
	}
	return strings.Join(out, "/"), nil
}
