package sandbox

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// starveUID is the first of the two uids of the starvation test.
const starveUID = 64614

// One workspace holds as many processes as its limit allows (and another
// command of it runs out of memory); a second workspace's commands still
// start and succeed, because each workspace runs as a uid of its own
// (RLIMIT_NPROC counts per uid) and each command has its own cgroup.
func TestNoWorkspaceStarvesAnother(t *testing.T) {
	const limit = 64
	l := newTestLocal(t, starveUID, func(c *Config) {
		c.UIDs = 2
		c.Limits.Processes = limit
	})
	prepare(t, l, "hog", nil)
	prepare(t, l, "other", nil)
	hogUID, _ := l.UID("hog")
	otherUID, _ := l.UID("other")
	if hogUID == otherUID || hogUID < starveUID || otherUID < starveUID || hogUID > starveUID+1 || otherUID > starveUID+1 {
		t.Fatalf("workspace uids %d and %d: want two distinct uids of the range", hogUID, otherUID)
	}

	// A command of the hog that runs out of memory (first: once the hog
	// holds every process, no command of its uid can start).
	var memErr error
	if l.Cgroups() {
		_, _, memErr = run(t, l, "hog", Command{
			Args:    []string{"sh", "-c", `head -c 400000000 /dev/zero | tail > /dev/null`},
			Limits:  &Limits{Memory: 64 << 20},
			Timeout: 5 * time.Minute,
		})
	}

	// The hog spawns until its uid can have no more processes, says so,
	// and holds them until cancelled (no timeout ends it first).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	full := make(chan string, 1)
	var hogRes Result
	var hogErr error
	hogDone := make(chan struct{})
	go func() {
		defer close(hogDone)
		hogRes, hogErr = l.Run(ctx, "hog", Command{
			Args:    []string{"node", "-e", hogJS},
			Timeout: 10 * time.Minute,
			OnLine:  fullLine(full),
		})
	}()
	var line string
	select {
	case line = <-full:
	case <-hogDone:
		t.Fatalf("the hog ended before it was full: %v", hogErr)
	case <-time.After(5 * time.Minute):
		t.Fatal("the hog did not fill its processes in 5 minutes")
	}
	held := len(uidProcesses(hogUID))

	// The other app's build: a few processes, while the hog holds its limit.
	res, out, err := run(t, l, "other", Command{
		Args:    []string{"sh", "-c", `for i in 1 2 3 4 5 6 7 8; do true & done; wait; echo built`},
		Timeout: 10 * time.Second,
	})
	if err != nil || res.ExitCode != 0 || !strings.Contains(out, "built") {
		t.Fatalf("the other workspace's command failed while the hog held %d processes: %v (exit %d)\n%s", held, err, res.ExitCode, out)
	}
	select {
	case <-hogDone:
		t.Errorf("the hog ended while the other workspace's command ran: %v", hogErr)
	default:
	}
	cancel()
	<-hogDone
	if !strings.Contains(line, " EAGAIN (") || !errors.Is(hogErr, context.Canceled) || !hogRes.Hit(LimitProcesses) {
		t.Errorf("the hog: %q, %v, exceeded %v; want it to hit the process limit and hold until cancelled", line, hogErr, hogRes.Exceeded)
	}
	if l.Cgroups() && !errors.Is(memErr, ErrMemoryLimit) {
		t.Errorf("the memory hog: %v, want ErrMemoryLimit", memErr)
	}
	t.Logf("hog held %d processes (limit %d); the other workspace's command ran in %v", held, limit, res.Duration)
}

// hogJS spawns idle processes one by one until a spawn fails, prints
// "full N CODE (MESSAGE)" on stderr (N spawned, CODE the failure's: EAGAIN at the
// process limit) and holds them until killed. node survives failed spawns (a shell
// exits at the first).
const hogJS = `const { spawn } = require("child_process");
const kids = [];
const full = (e) => console.error("full " + kids.length + " " + e.code + " (" + e.message + ")");
const next = () => {
  let c;
  try { c = spawn("sleep", ["infinity"], { stdio: "ignore" }); } catch (e) { full(e); return; }
  c.once("spawn", () => { kids.push(c); next(); });
  c.once("error", full);
};
next();
setInterval(() => kids.length, 1000);`

// fullLine returns an OnLine that sends hogJS's "full" line to full.
func fullLine(full chan<- string) func(Line) {
	return func(ln Line) {
		if strings.HasPrefix(ln.Text, "full ") {
			select {
			case full <- ln.Text:
			default:
			}
		}
	}
}

// toolsTestUID is the first uid of TestToolsWorkspaceOwnUID (two app uids
// and the tools uid after them: 64617-64619).
const toolsTestUID = 64617

// The node's tools workspace (ids starting with ToolsPrefix) runs as a uid
// outside the apps' range: while an app holds every process its uid may
// have, the tools workspace's commands (the fixer's install) still start,
// and an app of any uid can mount the tools read-only. Before, the tools
// workspace took the least used uid of the range, the hog's here, and its
// commands failed to start (EAGAIN, then ErrResources); apps of another
// uid could not mount it (its folder was 0700).
func TestToolsWorkspaceOwnUID(t *testing.T) {
	const limit = 64
	l := newTestLocal(t, toolsTestUID, func(c *Config) {
		c.UIDs = 2
		c.Limits.Processes = limit
	})
	prepare(t, l, "hog", nil)
	prepare(t, l, "other", nil)
	tools := ToolsPrefix + "test-tools"
	prepare(t, l, tools, map[string]string{"lib/tool.txt": "from the tools\n"})
	hogUID, _ := l.UID("hog")
	otherUID, _ := l.UID("other")
	toolsUID, _ := l.UID(tools)
	if toolsUID != toolsTestUID+2 || l.ToolsUID() != toolsUID || hogUID == otherUID || hogUID > toolsTestUID+1 || otherUID > toolsTestUID+1 {
		t.Fatalf("uids: hog %d, other %d, tools %d (ToolsUID %d); want the apps in %d-%d and the tools at %d", hogUID, otherUID, toolsUID, l.ToolsUID(), toolsTestUID, toolsTestUID+1, toolsTestUID+2)
	}

	// The hog spawns until its uid can have no more processes, says so,
	// and holds them until cancelled.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	full := make(chan string, 1)
	hogDone := make(chan error, 1)
	go func() {
		_, err := l.Run(ctx, "hog", Command{
			Args:    []string{"node", "-e", hogJS},
			Timeout: 10 * time.Minute,
			OnLine:  fullLine(full),
		})
		hogDone <- err
	}()
	var line string
	select {
	case line = <-full:
	case err := <-hogDone:
		t.Fatalf("the hog ended before it was full: %v", err)
	case <-time.After(5 * time.Minute):
		t.Fatal("the hog did not fill its processes in 5 minutes")
	}
	if !strings.Contains(line, " EAGAIN (") {
		t.Fatalf("the hog stopped spawning with %q, want EAGAIN (its process limit)", line)
	}

	// The tools workspace's command (a few processes, as an install) and an
	// app of another uid mounting the tools.
	res, out, err := run(t, l, tools, Command{
		Args: []string{"sh", "-c", `for i in 1 2 3 4 5 6 7 8; do true & done; wait; cat lib/tool.txt`},
	})
	if err != nil || res.ExitCode != 0 || out != "from the tools\n" {
		t.Errorf("the tools workspace's command while the hog (uid %d) is %s: %v, exit %d, %q", hogUID, line, err, res.ExitCode, out)
	}
	res, out, err = run(t, l, "other", Command{
		Args:   []string{"sh", "-c", `cat "$TOOLS/tool.txt"; if (echo x > "$TOOLS/new") 2>/dev/null; then echo WROTE; fi`},
		Mounts: []Mount{{Workspace: tools, Sub: "lib", Env: "TOOLS"}},
	})
	if err != nil || res.ExitCode != 0 || out != "from the tools\n" {
		t.Errorf("an app of uid %d mounting the tools: %v, exit %d, %q", otherUID, err, res.ExitCode, out)
	}
	// An app's own workspace stays its own: mounting it elsewhere is refused.
	if _, err := l.Run(context.Background(), "other", Command{Args: []string{"true"}, Mounts: []Mount{{Workspace: "hog", Env: "X"}}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("mounting another app's workspace: %v, want ErrInvalid", err)
	}
	select {
	case err := <-hogDone:
		t.Errorf("the hog ended while the others ran: %v", err)
	default:
	}
	cancel()
	<-hogDone
	t.Logf("the hog (uid %d): %s; the tools ran as uid %d", hogUID, line, toolsUID)
}
