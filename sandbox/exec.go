package sandbox

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// startRetries are the waits before each new attempt of a command whose
// sandbox could not start for lack of resources.
var startRetries = []time.Duration{250 * time.Millisecond, time.Second, 3 * time.Second}

// execute runs one sandboxed command line to completion and classifies how
// it ended. It returns only after every process of the command is gone.
// When the sandbox itself could not start for lack of resources (bwrap or
// prlimit refused with EAGAIN, before any app code ran) it tries again,
// says so in the output, and in the end fails with [ErrResources].
func (l *Local) execute(ctx context.Context, label string, s spec, onLine func(Line), timeout time.Duration) (Result, error) {
	for attempt := 0; ; attempt++ {
		var setup []Line
		capture := func(ln Line) {
			if len(setup) < 8 {
				setup = append(setup, ln)
			}
		}
		res, err := l.executeOnce(ctx, label, s, func(ln Line) {
			capture(ln)
			if onLine != nil && !startRefused(setup) {
				onLine(ln)
			}
		}, timeout)
		if err != nil || res.ExitCode == 0 || !startRefused(setup) {
			if attempt > 0 && onLine != nil && err == nil {
				onLine(Line{Stream: Stderr, Text: fmt.Sprintf("stich: the sandbox started after %d retries (the machine was short of processes or namespaces)", attempt)})
			}
			return res, err
		}
		if attempt == len(startRetries) {
			return res, fmt.Errorf("%w: %s (tried %d times)", ErrResources, strings.TrimSpace(setup[0].Text), attempt+1)
		}
		l.log.Warn("sandbox: start refused for lack of resources; retrying", "cmd", label, "attempt", attempt+1, "line", setup[0].Text)
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(startRetries[attempt]):
		}
	}
}

// startRefused reports whether a command's first output lines say that
// the sandbox could not be set up for lack of resources (bwrap's or
// prlimit's own EAGAIN), as opposed to anything the app printed.
func startRefused(lines []Line) bool {
	for _, ln := range lines {
		if (strings.HasPrefix(ln.Text, "bwrap: ") || strings.HasPrefix(ln.Text, "prlimit: ")) &&
			strings.Contains(ln.Text, "Resource temporarily unavailable") {
			return true
		}
	}
	return false
}

// executeOnce is one attempt of execute.
func (l *Local) executeOnce(ctx context.Context, label string, s spec, onLine func(Line), timeout time.Duration) (Result, error) {
	var group *runGroup
	if l.cg != nil {
		g, err := l.cg.create(fmt.Sprintf("%d-%s", l.seq.Add(1), label), s.limits)
		if err != nil {
			return Result{}, err
		}
		group = g
		defer func() {
			group.kill(0)
			group.remove()
		}()
	}

	argv := buildArgv(s)
	gateR, gateW, err := os.Pipe()
	if err != nil {
		return Result{}, fmt.Errorf("sandbox: %w", err)
	}
	defer gateW.Close()

	out := newSink(onLine)
	stdout := &lineWriter{s: out, stream: Stdout}
	stderr := &lineWriter{s: out, stream: Stderr}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = nil
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.ExtraFiles = []*os.File{gateR} // fd 3 of the gate shell
	// NB: a process the command left behind could hold the output pipes
	// open; WaitDelay bounds how long Wait waits for them after the kill.
	cmd.WaitDelay = 5 * time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid: true,
		// The sandbox dies with the thread that started it: that thread
		// is locked below until the command is reaped, so this fires only
		// if stich itself dies.
		Pdeathsig: syscall.SIGKILL,
	}
	if l.switchCred {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(s.uid), Gid: uint32(s.gid), Groups: []uint32{}}
		if !s.unsafe {
			// bwrap reports the command's status and exits before its
			// own child (the sandbox's init) has exited, orphaning it to
			// the host's init. Started as init of a pid namespace of its
			// own, bwrap instead takes that child down and reaps it as it
			// exits, so nothing outlives Run, not even a zombie.
			cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWPID
		}
	}
	if s.unsafe {
		cmd.Env = s.sandboxEnv()
		cmd.Dir = joinHost(s.workspace, s.dir)
	} else {
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		cmd.Dir = "/"
	}

	started := make(chan error, 1)
	exited := make(chan struct{})
	reap := make(chan struct{})
	waited := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		waitNoReap(cmd.Process.Pid)
		close(exited)
		<-reap
		waited <- cmd.Wait()
	}()
	err = <-started
	gateR.Close()
	if err != nil {
		return Result{}, fmt.Errorf("sandbox: start %s: %w", label, err)
	}
	begin := time.Now()
	pid := cmd.Process.Pid
	// stop kills the command. Under bwrap it kills the sandbox's init
	// (bwrap's child) and everything else in the cgroup but bwrap itself:
	// the pid namespace dies with its init and bwrap reaps it and exits, so
	// no orphan is left for the host's init to collect.
	stop := func() {
		if s.unsafe {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			if group != nil {
				group.kill(0)
			}
			return
		}
		for _, c := range childPIDs(pid) {
			_ = syscall.Kill(c, syscall.SIGKILL)
		}
		if group != nil {
			group.kill(pid)
		}
	}
	// stopAndWait stops the command and waits for bwrap to exit, repeating
	// the kill while bwrap may still be creating its child, and killing
	// bwrap itself if it does not exit in time.
	stopAndWait := func() {
		stop()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		grace := time.NewTimer(3 * time.Second)
		defer grace.Stop()
		for {
			select {
			case <-exited:
				return
			case <-tick.C:
				stop()
			case <-grace.C:
				_ = syscall.Kill(-pid, syscall.SIGKILL)
				<-exited
				return
			}
		}
	}
	if group != nil {
		if err := group.add(pid); err != nil {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-exited
			close(reap)
			<-waited
			return Result{}, err
		}
	}
	// Open the gate: the command starts now, inside its cgroup.
	_, _ = gateW.Write([]byte("go\n"))
	gateW.Close()

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var timedOut, canceled bool
	select {
	case <-exited:
	case <-timer.C:
		timedOut = true
		stopAndWait()
	case <-ctx.Done():
		canceled = true
		stopAndWait()
	}
	// The leader is a zombie now, so its process group id cannot be
	// reused: kill whatever it left behind (only possible without bwrap),
	// then reap it.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	if group != nil {
		group.kill(0)
	}
	close(reap)
	<-waited
	stdout.flush()
	stderr.flush()

	res := Result{Duration: time.Since(begin)}
	if ps := cmd.ProcessState; ps != nil {
		res.CPUTime = ps.UserTime() + ps.SystemTime()
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
			res.ExitCode = ws.ExitStatus()
			if ws.Signaled() {
				res.ExitCode = 128 + int(ws.Signal())
			}
		}
	}
	out.mu.Lock()
	res.Lines, res.Dropped = out.lines, out.dropped
	res.Tail = append([]Line(nil), out.tail...)
	hit := map[Limit]bool{}
	for k, v := range out.hits {
		hit[k] = v
	}
	out.mu.Unlock()

	if group != nil {
		st := group.stats()
		res.MemoryPeak = st.peak
		if st.cpu >= 0 {
			res.CPUTime = st.cpu
		}
		if st.oomKills > 0 {
			hit[LimitMemory] = true
		}
		if st.pidsMax > 0 {
			hit[LimitProcesses] = true
		}
	}
	switch res.ExitCode {
	case 128 + int(syscall.SIGXCPU):
		hit[LimitCPU] = true
	case 128 + int(syscall.SIGXFSZ):
		hit[LimitFileSize] = true
	case 128 + int(syscall.SIGKILL):
		if !timedOut && !canceled && !hit[LimitMemory] && res.CPUTime >= s.limits.CPUTime {
			hit[LimitCPU] = true
		}
	}
	if timedOut {
		hit[LimitWallClock] = true
	}
	for _, lim := range []Limit{LimitWallClock, LimitMemory, LimitProcesses, LimitCPU, LimitFileSize} {
		if hit[lim] {
			res.Exceeded = append(res.Exceeded, lim)
		}
	}

	switch {
	case canceled:
		return res, fmt.Errorf("sandbox: %s stopped: %w", label, ctx.Err())
	case timedOut:
		return res, fmt.Errorf("%w: %s killed after %v", ErrTimeout, label, timeout)
	case res.ExitCode != 0 && len(res.Exceeded) > 0:
		return res, fmt.Errorf("%w: %s exited with status %d", limitErr(res.Exceeded[0]), label, res.ExitCode)
	}
	return res, nil
}

// childPIDs lists the children of process pid.
func childPIDs(pid int) []int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if c, err := strconv.Atoi(f); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// waitNoReap blocks until process pid has exited but leaves it a zombie
// (waitid with WNOWAIT), so its pid and process group id stay reserved
// until cmd.Wait reaps it.
func waitNoReap(pid int) {
	const (
		pPID    = 1
		wExited = 4
		wNoWait = 0x1000000
	)
	var info [128]byte // siginfo_t
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid), uintptr(unsafe.Pointer(&info[0])), wExited|wNoWait, 0, 0)
		if errno != syscall.EINTR {
			return
		}
	}
}

// label names a command for errors and cgroup names: its program's base
// name, restricted to safe characters.
func label(args []string) string {
	if len(args) == 0 {
		return "command"
	}
	name := args[0]
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	b := []byte(name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	if len(b) == 0 || len(b) > 40 {
		return "command"
	}
	return string(b)
}
