package actors

import (
	"context"
	"encoding/json"
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

// starveUID is the first of the three sandbox uids of the two-session test.
const starveUID = 64674

// Limits of the two-session test's sandbox: small enough that the hog
// reaches them quickly, large enough for a scaffold app's build.
const (
	starveProcesses = 128       // tasks per uid and per command
	starveMemory    = 768 << 20 // bytes per command
)

// hogViteConfig is a vite config whose plugin, when the app is built by
// its own vite in the sandbox, keeps a child holding memory up to 96 MiB
// below the command's limit (beside vite's own), takes every
// process its limits allow but a few (sleeps; vite's own threads must
// still start), and never finishes. It reports what it holds in hog.json
// in its workspace.
func hogViteConfig(eatMemory bool) string {
	return fmt.Sprintf(`import { defineConfig } from "vite";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";

const status = { heldChunks: 0, viteRSS: 0, sleeps: 0, spawnErrors: 0, released: 0, holding: false };
const save = () => writeFileSync("hog.json", JSON.stringify(status));
const wait = (ms) => new Promise((r) => setTimeout(r, ms));

// eat runs a child that allocates 16 MiB chunks (at most max), printing a
// line for each, and resolves with the chunks it reached and how it ended;
// with hold it keeps them and resolves once all are allocated.
const eat = (max, hold) => new Promise((resolve) => {
  const code = "const a = []; for (let i = 0; i < " + max + "; i++) { a.push(Buffer.alloc(16 << 20, 1)); process.stdout.write('.\\n'); }" +
    (hold ? " process.stdout.write('held\\n'); setInterval(() => a.length, 1000);" : "");
  let chunks = 0;
  const c = spawn(process.execPath, ["-e", code], { stdio: ["ignore", "pipe", "ignore"] });
  c.stdout.on("data", (d) => {
    const s = d.toString();
    chunks += (s.match(/\./g) || []).length;
    if (s.includes("held")) resolve({ chunks, signal: null, child: c });
  });
  c.on("error", () => resolve({ chunks, signal: "error" }));
  c.on("exit", (code, signal) => resolve({ chunks, signal }));
});

export default defineConfig({
  plugins: [
    {
      name: "hog",
      transform() { return null; },
      async buildStart() {
        if (%t) {
          // Memory: a child holds what the command's memory limit leaves
          // beside vite, less a margin.
          const chunks = Math.floor((%d - process.memoryUsage().rss - (96 << 20)) / (16 << 20));
          const held = await eat(chunks, true);
          status.heldChunks = held.signal === null ? held.chunks : 0;
          status.viteRSS = process.memoryUsage().rss;
          save();
        }
        // Processes: every one the limits allow, then a few back, so that
        // vite's own threads can still start.
        const sleeps = [];
        for (let i = 0; i < %d; i++) {
          try {
            const c = spawn("sleep", ["600"], { stdio: "ignore" });
            c.on("error", () => { status.spawnErrors++; });
            sleeps.push(c);
          } catch (e) { status.spawnErrors++; }
        }
        await wait(2000);
        const alive = sleeps.filter((c) => c.pid !== undefined && c.exitCode === null && c.signalCode === null);
        status.sleeps = alive.length;
        for (const c of alive.slice(0, 4)) { c.kill("SIGKILL"); status.released++; }
        status.holding = true;
        save();
        setInterval(save, 1000);
        await new Promise(() => {}); // holds until the sandbox kills it
      },
    },
  ],
});
`, eatMemory, starveMemory, 2*starveProcesses)
}

// uidTasks returns the pids of uid's processes and the number of tasks
// (processes and threads) they hold.
func uidTasks(uid int) (pids []int, tasks int) {
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
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			switch {
			case len(f) >= 2 && f[0] == "Uid:":
				mine = f[1] == strconv.Itoa(uid)
			case len(f) >= 2 && f[0] == "Threads:":
				threads, _ = strconv.Atoi(f[1])
			}
		}
		if mine {
			pids, tasks = append(pids, pid), tasks+threads
		}
	}
	return pids, tasks
}

// pollFor calls cond every 100 ms until it returns nil or d passes; it
// returns cond's last error.
func pollFor(d time.Duration, cond func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Two apps on one node: one app's build (a check through its sandbox
// grain) holds every process its limits allow and keeps its memory at its
// limit, and never ends; the other session's whole generation, with its
// builds in the same sandbox runner, still completes with its checks and
// a preview. Each
// workspace runs as a uid of its own (RLIMIT_NPROC counts per uid) and
// each command has its own cgroup.
func TestTwoSessionsOneNodeNoStarvation(t *testing.T) {
	base, keep := testutil.SandboxDirs(t)
	scfg := sandbox.DefaultConfig(base)
	// Three uids: the hog's, the other app's, and the fixer tools' workspace
	// (it takes one from the same range; sharing the hog's, its install is
	// starved as the apps' once were).
	scfg.UID, scfg.GID, scfg.UIDs = starveUID, starveUID, 3
	scfg.CacheDir = filepath.Join(keep, "npm-cache-actors-starve") // its own: a runner hands its cache to its uid
	scfg.Limits.Processes, scfg.Limits.Memory = starveProcesses, starveMemory
	r, err := sandbox.NewLocal(scfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := cluster.DefaultLocalConfig()
	cfg.Name, cfg.InMemory = "test", true
	// NB: the hog's vite build (a check) runs until cancelled at the end
	// of the test, so checks may run long; installs get time for load.
	rt, err := Start(context.Background(), Config{Cluster: cfg,
		Providers:       map[string]codegen.Provider{"scaffold": codegen.Scaffold{}},
		DefaultProvider: "scaffold",
		Builds:          &appbuild.Config{Runner: r, Fixer: appbuild.NewLazyFixer(r), InstallTimeout: 4 * time.Minute, TypeCheckTimeout: 10 * time.Minute},
		Previews:        preview.Origins{Scheme: "http", Domain: "preview.test"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Shutdown(context.Background()) })

	// The hog: a check of an app, through its sandbox grain as a session's
	// check goes, that never ends until it is cancelled.
	files, err := scaffold.Files(scaffold.Plan("a recipe tracker with ingredients and ratings", nil))
	if err != nil {
		t.Fatal(err)
	}
	files["vite.config.ts"] = hogViteConfig(r.Cgroups())
	hog := rt.NewSessionID("")
	hogCtx, stopHog := context.WithCancel(context.Background())
	hogDone := make(chan string, 1)
	go func() {
		reply, err := Call[*actorsv1.SandboxCheckReply](hogCtx, rt.Node, KindSandbox, hog, &actorsv1.SandboxCheck{Files: files, NoFix: true, Run: 1})
		hogDone <- fmt.Sprintf("%v (call: %v)", reply, err)
	}()
	var hogUID int
	if err := pollFor(5*time.Minute, func() error {
		hogUID, err = r.UID(hog)
		return err
	}); err != nil {
		stopHog()
		t.Fatalf("the hog's workspace: %v", err)
	}
	// Whatever happens, the hog's processes end with the test (they are
	// the test's own, under its own uid).
	t.Cleanup(func() {
		_, _ = Call[*actorsv1.SandboxCancelAck](context.Background(), rt.Node, KindSandbox, hog, &actorsv1.SandboxCancel{})
		stopHog()
		if err := pollFor(time.Minute, func() error {
			if pids, _ := uidTasks(hogUID); len(pids) > 0 {
				return fmt.Errorf("%d processes of uid %d left", len(pids), hogUID)
			}
			return nil
		}); err != nil {
			pids, _ := uidTasks(hogUID)
			for _, pid := range pids {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			t.Errorf("the hog's processes outlived its cancelled check: %v", err)
		}
	})

	// Until the hog holds its limits: its tasks at the process limit and
	// (with cgroups) an eater killed at the memory limit.
	type hogStatus struct {
		HeldChunks, Sleeps, SpawnErrors, Released int
		ViteRSS                                   int64
		Holding                                   bool
	}
	var st hogStatus
	var held int
	hogLog := func() string {
		select {
		case reply := <-hogDone:
			return "the hog's check call ended: " + reply
		default:
			return "the hog's check is running"
		}
	}
	if err := pollFor(8*time.Minute, func() error {
		_, held = uidTasks(hogUID)
		b, err := r.ReadFile(ctxT(t), hog, "hog.json")
		if err != nil {
			return fmt.Errorf("hog.json: %w (the hog holds %d tasks)", err, held)
		}
		if err := json.Unmarshal(b, &st); err != nil {
			return fmt.Errorf("hog.json %q: %w", b, err)
		}
		switch {
		case !st.Holding || st.SpawnErrors == 0 || held < starveProcesses-16:
			return fmt.Errorf("the hog holds %d tasks of %d (%+v)", held, starveProcesses, st)
		case r.Cgroups() && st.ViteRSS+int64(st.HeldChunks)<<24 < starveMemory-160<<20:
			return fmt.Errorf("the hog does not hold memory up to its limit (%+v)", st)
		}
		return nil
	}); err != nil {
		t.Fatalf("%v; the hog's log:\n%s", err, hogLog())
	}

	// The other session's generation, start to end, while the hog holds.
	other := create(t, rt, "a recipe tracker with ingredients and ratings")
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	var evs []*stichv1.SessionEvent
	var heldAtChecks []int // the hog's tasks as each of the other session's checks ends
	if err := rt.Watch(ctx, other, 0, true, func(ev *stichv1.SessionEvent) error {
		evs = append(evs, ev)
		if strings.HasPrefix(ev.GetLog().GetText(), "checked the app") {
			_, n := uidTasks(hogUID)
			heldAtChecks = append(heldAtChecks, n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
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
	}
	if _, ok := evs[len(evs)-1].GetEvent().(*stichv1.SessionEvent_Completed); !ok || previews == 0 || checked == 0 {
		t.Fatalf("the other session: last event %v, %d checks, %d previews; log:\n%s", evs[len(evs)-1], checked, previews, strings.Join(lines, "\n"))
	}
	for _, l := range lines {
		if strings.Contains(l, "error") && strings.HasPrefix(l, "sandbox") || strings.Contains(l, "Resource temporarily unavailable") || strings.Contains(l, "resource") {
			t.Errorf("the other session's build ran short: %s", l)
		}
	}
	// The hog still held its limits when the other session's first build
	// had run to its end.
	if len(heldAtChecks) == 0 || heldAtChecks[0] < starveProcesses-16 {
		t.Errorf("the hog held %v tasks as the other session's checks ended (at its limit: %d); %s", heldAtChecks, held, hogLog())
	}
	t.Logf("the hog held %d tasks (limit %d), status %+v; the other session completed with %d checks; the hog's tasks as they ended: %v", held, starveProcesses, st, checked, heldAtChecks)
}
