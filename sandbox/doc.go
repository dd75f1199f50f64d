// Package sandbox runs untrusted app code — the generated apps' npm
// installs, type-checks, builds and the fixer's parser — in isolated
// workspaces, and parses what tsc prints.
//
// # What it owns
//
// The [Runner] contract (workspaces named by id: prepare, write/read/remove
// files, install dependencies, run commands with streamed output, status,
// cleanup), its [Local] implementation on bubblewrap, the npm install
// policy ([CheckDependencies]), and the tsc diagnostic shape ([Diagnostic],
// [ParseTSC], [TypeCheck]) shared with the fixer and the preview.
//
// # Guarantees of Local
//
// Generated code never runs inside the stich process or with its
// privileges. Every command runs as:
//
//  1. A separate process tree started as the workspace's own sandbox uid
//     (one of [Config.UIDs] from [Config.UID], never root; all share
//     [Config.GID]; the node's tools workspaces, ids starting with
//     [ToolsPrefix], run as the uid after that range, which no app shares), under bwrap with --unshare-all (user, mount, pid, ipc,
//     uts, cgroup and network namespaces), --disable-userns, --cap-drop
//     ALL, --new-session and --die-with-parent. stich's own thread holds a
//     parent-death signal on bwrap, so the tree dies with stich; bwrap
//     starts as init of a pid namespace of its own, so the sandbox's init
//     it orphans on exit is reaped at once, not left to the host's init.
//  2. A file system of read-only system folders (/usr and the /bin, /lib
//     links, the /etc files node and npm need, node's install location),
//     synthetic /etc/passwd and /etc/group naming only the sandbox user,
//     fresh /proc and /dev, a size-bounded private /tmp (also HOME), and
//     the workspace at /app as the only writable host folder. The root is
//     remounted read-only. The npm cache (/cache) is a second writable bind
//     during Install only. Other workspaces can be mounted read-only.
//  3. No network: a network namespace of its own (only a loopback of its
//     own); Install reaches the registry alone (see below).
//  4. rlimits set by prlimit before bwrap starts: CPU time, address space,
//     tasks (RLIMIT_NPROC, per uid: a uid per workspace, so one app's
//     processes never starve another's), file size, open files, no core
//     dumps.
//     Where cgroups are writable (as root), each command also gets its
//     own group — cgroup v2 (memory.max, pids.max, cpu.max) when the
//     unified hierarchy has the memory and pids controllers, else v1
//     (memory, pids, and the cpu quota when mounted) —, joined before the
//     command runs (a gate shell waits on a pipe until then); memory,
//     tasks and cores ([Limits.CPUs]) are then bounded per command and OOM
//     kills are reported. The groups sit below a "stich" parent whose CPU
//     weight is raised to four task weights per core (v1 cpu.shares, v2
//     cpu.weight): at the default, all sandboxes together got one host
//     thread's CPU under load. NewLocal logs the version in use. Without cgroups memory is bounded
//     by RLIMIT_AS (large, because V8 reserves ~10 GiB for WebAssembly)
//     and node's --max-old-space-size.
//  5. A wall-clock limit. At the limit, on context cancellation and after
//     the command exits, the process group is killed, the cgroup emptied,
//     and the pid namespace takes every remaining process with it. Run
//     returns only when all processes are gone.
//  6. With [Config.WorkspaceSize], the workspace is a tmpfs of that size:
//     filling the disk fills only that quota.
//  7. A command whose sandbox cannot start for lack of resources (bwrap
//     or prlimit refused with EAGAIN, before any app code ran) is tried
//     again after 0.25, 1 and 3 s, then fails with [ErrResources].
//  8. [Local.Reconcile] makes a workspace hold exactly a file set, removing
//     whatever else the app's commands left (links out of it included).
//  9. Host-side file access ([Runner.WriteFiles], [Runner.ReadFile],
//     [Runner.RemoveFiles]) goes through [os.Root]: symlinks planted by
//     the sandbox cannot redirect stich's writes or reads outside the
//     workspace, and written files replace whatever was at their path.
//
// Install is the one step with a way out, and only to the registry: it
// keeps its own network namespace (no host loopback, no route), and npm's
// proxy is a forwarder on the namespace's loopback that hands connections
// to an HTTP proxy the runner serves on a unix socket bound into the
// sandbox for the length of the install; that proxy tunnels only to the
// registry's host and port ([Config.Registry]) and refuses everything else
// with 403. npm also runs with --ignore-scripts (no package code runs),
// after [CheckDependencies] refused URL, git, file and link specs,
// lockfile URLs outside the registry and any .npmrc. In unsafe mode
// (no bubblewrap) installs use the host's network. A dependency set that
// npm ci installed before (the same lockfile but for the app's name, every
// package with a sha512 integrity) is not installed again: the
// node_modules npm made is kept, root-owned, outside every sandbox
// (Root/.modules) and copied into the next workspace that needs it,
// owned by that workspace's uid (modules.go; [Result.Restored]).
//
// Not covered: disk use without [Config.WorkspaceSize] (only the size of
// single files is bounded), a seccomp filter and Landlock (possible
// hardening), and io limits (io.max needs a device per workspace; the v2
// io controller is enabled for the groups but no limit is set). [Config.Unsafe] drops the namespaces entirely; it
// exists for development machines without bubblewrap and logs a warning on
// every command.
//
// # Concurrency
//
// [Local] is safe for concurrent use. Commands of one workspace may run
// concurrently; Install and Cleanup wait for them and exclude the others.
// Output callbacks of one command never overlap.
//
// # Imports
//
// The standard library only (the install egress proxy is net/http). It
// must not import actors, rpc, cluster, cmd
// or any other stich package: the sandbox grain imports it, not the other
// way around.
package sandbox
