package actors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stichdev/stich/appbuild"
	"github.com/stichdev/stich/cluster"
	"github.com/stichdev/stich/codegen"
	"github.com/stichdev/stich/internal/testutil"
	"github.com/stichdev/stich/preview"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/sandbox"
	"github.com/stichdev/stich/scaffold"
)

// starveUID is the first of the two app uids of the two-session test (the
// fixer tools' uid, past the range, is starveUID+2).
const starveUID = 64674

// Limits of the two-session test's sandbox: small enough that the hog
// reaches them quickly, large enough for a scaffold app's build.
const (
	starveProcesses = 128       // tasks per uid and per command
	starveMemory    = 768 << 20 // bytes per command
	// hogReserve is what the hog leaves below its memory limit (so the
	// pages of its held processes never push it into the OOM killer);
	// the test asserts it holds all but hogSlack.
	hogReserve = 96 << 20
	hogSlack   = hogReserve + 64<<20
)

// hogViteConfig is a vite config whose top-level code (run by the app's
// own `vite build` in the sandbox, as the hog session's check builds it)
// takes every process its limits allow (idle children until a spawn fails
// with EAGAIN), then fills vite's own memory up to hogReserve below
// memLimit (0: no memory part), reports in hog.json, and blocks in open(2)
// on the FIFO "release" until the test opens it for writing or the
// sandbox kills it: nothing of it runs, or needs a thread or a process,
// while it holds. Released, it frees everything and the build goes on.
func hogViteConfig(memLimit int64) string {
	return fmt.Sprintf(`import { defineConfig } from "vite";
import { spawn, spawnSync } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync, writeFileSync } from "node:fs";

const LIMIT = %d, RESERVE = %d, CHUNK = 8 << 20;
const status = { processes: 0, spawnError: "", heldBytes: 0, anonBytes: 0, holding: false, released: false };
const save = () => writeFileSync("hog.json", JSON.stringify(status));

// anon sums the anonymous memory and page tables of every process of the
// sandbox (its pid namespace): what its cgroup cannot reclaim.
const anon = () => {
  let total = 0;
  for (const p of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(p)) continue;
    try {
      const s = readFileSync("/proc/" + p + "/status", "utf8");
      for (const k of ["RssAnon", "VmPTE"]) {
        const m = new RegExp(k + ":\\s+([0-9]+) kB").exec(s);
        if (m) total += Number(m[1]) * 1024;
      }
    } catch {}
  }
  return total;
};

if (spawnSync("mkfifo", ["-m", "0600", "release"]).status !== 0) throw new Error("hog: mkfifo release failed");

// Processes: idle children until the limits refuse one.
const kids = [];
while (kids.length < 100000) {
  let c;
  try { c = spawn("sleep", ["infinity"], { stdio: "ignore" }); } catch (e) { status.spawnError = e.code || e.message; break; }
  const err = await new Promise((res) => { c.once("spawn", () => res(null)); c.once("error", res); });
  if (err) { status.spawnError = err.code || err.message; break; }
  kids.push(c);
}
status.processes = kids.length;

// Memory: touched buffers in vite itself, up to RESERVE below the limit.
const held = [];
for (let round = 0; LIMIT > 0 && round < 4; round++) {
  const n = Math.floor((LIMIT - RESERVE - anon()) / CHUNK);
  if (n <= 0) break;
  for (let i = 0; i < n; i++) held.push(Buffer.alloc(CHUNK, 1));
}
status.heldBytes = held.length * CHUNK;
status.anonBytes = anon();
status.holding = true;
save();

closeSync(openSync("release", "r")); // blocks until the test opens the FIFO for writing

for (const c of kids) c.kill("SIGKILL");
held.length = 0;
status.holding = false;
status.released = true;
save();

export default defineConfig({
  plugins: [{ name: "hog", transform() { return null; } }],
});
`, memLimit, hogReserve)
}

// hogStatus is what the hog reports in hog.json.
type hogStatus struct {
	Processes         int
	SpawnError        string
	HeldBytes         int64
	AnonBytes         int64
	Holding, Released bool
}

// uidTasks returns the pids of uid's processes, the number of tasks
// (processes and threads) they hold and their anonymous memory and page
// tables in bytes.
func uidTasks(uid int) (pids []int, tasks int, anon int64) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue
		}
		mine, threads := false, 1
		var mem int64
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			switch {
			case len(f) >= 2 && f[0] == "Uid:":
				mine = f[1] == strconv.Itoa(uid)
			case len(f) >= 2 && f[0] == "Threads:":
				threads, _ = strconv.Atoi(f[1])
			case len(f) >= 2 && (f[0] == "RssAnon:" || f[0] == "VmPTE:"):
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				mem += kb << 10
			}
		}
		if mine {
			pids, tasks, anon = append(pids, pid), tasks+threads, anon+mem
		}
	}
	return pids, tasks, anon
}

// memoryLimitOf returns the memory limit of pid's cgroup (v1 memory
// controller or v2), or an error.
func memoryLimitOf(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return 0, err
	}
	var tries []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case strings.Contains(","+parts[1]+",", ",memory,"):
			tries = append(tries, filepath.Join("/sys/fs/cgroup/memory", parts[2], "memory.limit_in_bytes"))
		case parts[0] == "0" && parts[1] == "":
			tries = append(tries, filepath.Join("/sys/fs/cgroup", parts[2], "memory.max"), filepath.Join("/sys/fs/cgroup/unified", parts[2], "memory.max"))
		}
	}
	for _, p := range tries {
		if b, err := os.ReadFile(p); err == nil {
			if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
				return n, nil
			}
		}
	}
	return 0, fmt.Errorf("no memory limit for pid %d in %v", pid, tries)
}

// pollFor calls cond every 200 ms until it returns nil or d passes; it
// returns cond's last error.
func pollFor(d time.Duration, cond func() error) error {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		<-tick.C
	}
}

// Two apps on one node: one app's build (its own vite, through its
// sandbox grain as a session's check goes) holds every process its limits
// allow and memory up to its limit, and cannot end until the test releases
// it; meanwhile the other session's whole generation, with its builds in
// the same sandbox runner (and the fixer's tools installed on first use),
// completes with its checks passing and a preview. The hog is at its
// limits before the other session starts, as each of its checks ends and
// after it completed, held by the same processes throughout. Each app's
// workspace runs as a uid of its own (RLIMIT_NPROC counts per uid), the
// fixer's tools as one outside the apps' range, and each command has its
// own cgroup. With one uid for both apps (UIDs 1), the other session's
// sandbox cannot start (EAGAIN) and this test fails.
func TestTwoSessionsOneNodeNoStarvation(t *testing.T) {
	base, keep := testutil.SandboxDirs(t)
	scfg := sandbox.DefaultConfig(base)
	scfg.UID, scfg.GID, scfg.UIDs = starveUID, starveUID, 2
	scfg.CacheDir = filepath.Join(keep, "npm-cache-actors-starve") // its own: a runner hands its cache to its uid
	scfg.Limits.Processes, scfg.Limits.Memory = starveProcesses, starveMemory
	r, err := sandbox.NewLocal(scfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := cluster.DefaultLocalConfig()
	cfg.Name, cfg.InMemory = "test", true
	// The hog's vite build runs until released at the end of the test, so
	// its wall clock (the type-check timeout) must outlast the test; the
	// installs get time for load.
	rt, err := Start(context.Background(), Config{Cluster: cfg,
		Providers:       map[string]codegen.Provider{"scaffold": codegen.Scaffold{}},
		DefaultProvider: "scaffold",
		Builds:          &appbuild.Config{Runner: r, Fixer: appbuild.NewLazyFixer(r), InstallTimeout: 5 * time.Minute, TypeCheckTimeout: time.Hour},
		Previews:        preview.Origins{Scheme: "http", Domain: "preview.test"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Shutdown(context.Background()) })

	// The hog: a check of an app, through its sandbox grain.
	files, err := scaffold.Files(scaffold.Plan("a recipe tracker with ingredients and ratings", nil))
	if err != nil {
		t.Fatal(err)
	}
	var memLimit int64
	if r.Cgroups() {
		memLimit = starveMemory
	}
	files["vite.config.ts"] = hogViteConfig(memLimit)
	hog := rt.NewSessionID("")
	// Its own deadline (else the cluster's default call timeout applies).
	hogCtx, stopHog := context.WithTimeout(context.Background(), 2*time.Hour)
	type hogResult struct {
		reply *actorsv1.SandboxCheckReply
		err   error
	}
	hogDone := make(chan hogResult, 1)
	go func() {
		reply, err := Call[*actorsv1.SandboxCheckReply](hogCtx, rt.Node, KindSandbox, hog, &actorsv1.SandboxCheck{Files: files, NoFix: true, Run: 1})
		hogDone <- hogResult{reply, err}
	}()
	hogEnded := func() string {
		select {
		case res := <-hogDone:
			hogDone <- res
			return fmt.Sprintf("the hog's check ENDED: %v (call: %v)", res.reply, res.err)
		default:
			return "the hog's check is running"
		}
	}
	var hogUID int
	if err := pollFor(5*time.Minute, func() error {
		hogUID, err = r.UID(hog)
		return err
	}); err != nil {
		stopHog()
		t.Fatalf("the hog's workspace: %v", err)
	}
	// Whatever happens, the hog's processes end with the test.
	t.Cleanup(func() {
		_, _ = Call[*actorsv1.SandboxCancelAck](context.Background(), rt.Node, KindSandbox, hog, &actorsv1.SandboxCancel{})
		stopHog()
		if err := pollFor(2*time.Minute, func() error {
			if pids, _, _ := uidTasks(hogUID); len(pids) > 0 {
				return fmt.Errorf("%d processes of uid %d left", len(pids), hogUID)
			}
			return nil
		}); err != nil {
			pids, _, _ := uidTasks(hogUID)
			for _, pid := range pids {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			t.Errorf("the hog's processes outlived its cancelled check: %v", err)
		}
	})

	// Until the hog holds.
	var st hogStatus
	if err := pollFor(30*time.Minute, func() error {
		if strings.HasPrefix(hogEnded(), "the hog's check ENDED") {
			return errors.New(hogEnded())
		}
		b, err := r.ReadFile(context.Background(), hog, "hog.json")
		if err != nil {
			return fmt.Errorf("hog.json: %w", err)
		}
		if err := json.Unmarshal(b, &st); err != nil {
			return fmt.Errorf("hog.json %q: %w", b, err)
		}
		if !st.Holding {
			return fmt.Errorf("the hog does not hold yet: %+v", st)
		}
		return nil
	}); err != nil {
		t.Fatalf("the hog: %v; %s", err, hogEnded())
	}
	if st.SpawnError != "EAGAIN" {
		t.Fatalf("the hog stopped spawning with %q after %d processes, want EAGAIN (its limit): %+v", st.SpawnError, st.Processes, st)
	}
	holders, _, _ := uidTasks(hogUID)
	// atLimit checks, from the host, that the hog's processes are the ones
	// that took its limits (all alive), that its uid has every task its
	// limit allows and, with cgroups, that its command's cgroup is limited
	// to starveMemory and the hog holds all of it but hogSlack.
	atLimit := func(when string) error {
		pids, tasks, anon := uidTasks(hogUID)
		alive := map[int]bool{}
		for _, p := range pids {
			alive[p] = true
		}
		for _, p := range holders {
			if !alive[p] {
				return fmt.Errorf("%s: the hog's process %d is gone (%s)", when, p, hogEnded())
			}
		}
		if tasks < starveProcesses-1 {
			return fmt.Errorf("%s: the hog's uid has %d tasks, its limit is %d (%s)", when, tasks, starveProcesses, hogEnded())
		}
		if memLimit > 0 {
			if anon < memLimit-hogSlack {
				return fmt.Errorf("%s: the hog holds %d MiB of its %d MiB (%s)", when, anon>>20, memLimit>>20, hogEnded())
			}
			var limit int64
			var err error
			for _, p := range holders {
				if limit, err = memoryLimitOf(p); err == nil {
					break
				}
			}
			if err != nil || limit != memLimit {
				return fmt.Errorf("%s: the hog's cgroup memory limit %d (%v), want %d", when, limit, err, memLimit)
			}
		}
		return nil
	}
	if err := atLimit("before the other session"); err != nil {
		t.Fatal(err)
	}

	// The other session's generation, start to end, while the hog holds.
	other := create(t, rt, "a recipe tracker with ingredients and ratings")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	var evs []*stichv1.SessionEvent
	var during []error // the hog's state as each of the other session's checks ends
	if err := rt.Watch(ctx, NodeCaller(), other, 0, true, func(ev *stichv1.SessionEvent) error {
		evs = append(evs, ev)
		if strings.HasPrefix(ev.GetLog().GetText(), "checked the app") {
			during = append(during, atLimit(fmt.Sprintf("as the other session's check %d ended", len(during)+1)))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	after := atLimit("after the other session completed")

	var lines []string
	previews, checked := 0, 0
	for _, ev := range evs {
		if l := ev.GetLog(); l != nil {
			lines = append(lines, l.GetSource()+" "+l.GetLevel()+": "+l.GetText())
			if strings.HasPrefix(l.GetText(), "checked the app") {
				checked++
			}
		}
		if ev.GetPreviewReady() != nil {
			previews++
		}
		if e := ev.GetError(); e != nil {
			t.Errorf("error event in the other session: %v", e)
		}
		for _, d := range ev.GetDiagnostics().GetDiagnostics() {
			if d.GetSeverity() == "error" {
				t.Errorf("the other session's %s check reported an error: %v", ev.GetDiagnostics().GetTool(), d)
			}
		}
	}
	log := strings.Join(lines, "\n")
	if len(evs) == 0 {
		t.Fatal("no events from the other session")
	}
	if _, ok := evs[len(evs)-1].GetEvent().(*stichv1.SessionEvent_Completed); !ok || previews == 0 || checked == 0 {
		t.Fatalf("the other session: last event %v, %d checks, %d previews; log:\n%s", evs[len(evs)-1], checked, previews, log)
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "sandbox error") || strings.Contains(l, "Resource temporarily unavailable") || strings.Contains(l, "resources") || strings.Contains(l, "without the deterministic fixer") {
			t.Errorf("the other session's build ran short: %s", l)
		}
	}
	if len(during) != checked {
		t.Errorf("the hog was sampled at %d of %d checks", len(during), checked)
	}
	for _, err := range append(during, after) {
		if err != nil {
			t.Error(err)
		}
	}

	hogDir, err := r.Dir(hog)
	if err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(hogDir, "release")
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the hog's release FIFO: %v, %v", fi, err)
	}
	f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatalf("releasing the hog (ENXIO: it no longer waits): %v; %s", err, hogEnded())
	}
	f.Close()
	// Released, the hog frees what it held and says so: it was blocked,
	// not dead. (Its vite build does not reliably go on afterwards: vite's
	// bundler can lose work it tried to start while no thread could be
	// created; the cleanup cancels it.)
	if err := pollFor(10*time.Minute, func() error {
		b, err := r.ReadFile(context.Background(), hog, "hog.json")
		if err != nil {
			return err
		}
		var after hogStatus
		if err := json.Unmarshal(b, &after); err != nil {
			return fmt.Errorf("hog.json %q: %w", b, err)
		}
		if !after.Released {
			return fmt.Errorf("not released: %+v", after)
		}
		return nil
	}); err != nil {
		t.Errorf("the hog after its release: %v; %s", err, hogEnded())
	}
	t.Logf("the hog held %d processes (EAGAIN after), %d MiB of %d MiB; the other session completed with %d checks and %d previews", st.Processes, st.AnonBytes>>20, memLimit>>20, checked, previews)
}
