//go:build scale

package actors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stichdev/stich/cluster"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// BenchmarkSessionScale: one node holding 100,000 sessions (set
// STICH_SCALE_SESSIONS for another size). It runs once whatever b.N (it is
// built only with -tags scale: `make bench` runs it with -benchtime 1x).
//
// The sessions are written as the session grain writes a session (its
// state and first event, one synced commit per session through the
// grain's storage, 16 at once), not through CreateSession: CreateSession
// also starts a model turn per session, which is not what is measured
// here. The state is a created session's (prompt, options, owner; no
// files yet) at rest (phase completed, so that activating it starts no
// work); STICH_SCALE_FILES=20 gives each 20 files' metadata. Each is then activated by a ResumeSession call (the grain's load
// path) and left idle until it passivates.
//
// It reports, from runtime.ReadMemStats after a GC (the Go heap's live
// bytes, HeapAlloc, and its spans in use, HeapInuse, as *-inuse-*;
// Pebble's block cache and memtables are off the Go heap), and the
// process's resident set (VmRSS, after the Go heap gave back its free
// pages) as *-rss-*, which counts those too:
//   - passivated-B/session: heap kept per session once all have
//     passivated, against before any was activated (goal: 0);
//   - active-B/session: heap per active idle session (goal: <= 2,048);
//   - act-p50-us at this size and act100-p50-us on a second node holding
//     100 sessions, activations of passivated sessions alternating between
//     the two, and their ratio act-x (goal: <= 1.2).
func BenchmarkSessionScale(b *testing.B) {
	n := 100_000
	if s := os.Getenv("STICH_SCALE_SESSIONS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 200 {
			b.Fatalf("STICH_SCALE_SESSIONS=%q: want a number >= 200", s)
		}
	}
	// Long enough for all to be active when measured, as a grain idle
	// for less than that is; STICH_SCALE_PASSIVATE shortens it for a quick
	// run at a small size.
	passivateAfter := 90 * time.Second
	if s := os.Getenv("STICH_SCALE_PASSIVATE"); s != "" {
		var err error
		if passivateAfter, err = time.ParseDuration(s); err != nil {
			b.Fatal(err)
		}
	}
	start := func(name string) *Runtime {
		cfg := cluster.DefaultLocalConfig()
		cfg.Name, cfg.DataDir = name, b.TempDir()
		cfg.PassivateAfter = passivateAfter
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		// STICH_SCALE_CACHE_MB: another block cache size than the node's
		// default (64 MiB), to see what the cache costs or saves; the
		// figures of record are with the default.
		if s := os.Getenv("STICH_SCALE_CACHE_MB"); s != "" {
			mb, err := strconv.Atoi(s)
			if err != nil || mb <= 0 {
				b.Fatalf("STICH_SCALE_CACHE_MB=%q: want a number of MiB", s)
			}
			cfg.CacheSize = int64(mb) << 20
		}
		rt, err := Start(context.Background(), Config{Cluster: cfg})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { rt.Shutdown(context.Background()) })
		return rt
	}
	for b.Loop() { // once: the figures are the metrics below
	}
	big, small := start("big"), start("small")
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()

	// A session as created (prompt, options, owner), at rest; with
	// STICH_SCALE_FILES=n, one holding n files' metadata.
	files := 0
	if s := os.Getenv("STICH_SCALE_FILES"); s != "" {
		var err error
		if files, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	st := &actorsv1.SessionState{Prompt: "a recipe tracker", Phase: stichv1.Phase_PHASE_COMPLETED,
		Files: map[string]*stichv1.FileInfo{}, CreatedAt: timestamppb.Now(), Options: &stichv1.SessionOptions{Provider: "scaffold"}, Owner: LocalOwner}
	for i := 0; i < files; i++ {
		p := fmt.Sprintf("src/file%02d.tsx", i)
		st.Files[p] = &stichv1.FileInfo{Path: p, Size: 1000, Sha256: strings.Repeat("ab", 32)}
	}
	ev, _ := proto.Marshal(chunkEvent())
	id := func(i int) string { return fmt.Sprintf("s-scale%08d", i) }
	seed := func(rt *Runtime, count int) time.Duration {
		began := time.Now()
		each(b, count, 16, func(i int) error {
			gs, err := rt.Node.Store().Grain(KindSession, id(i))
			if err != nil {
				return err
			}
			s := proto.Clone(st).(*actorsv1.SessionState)
			s.Id = id(i)
			state, _ := proto.Marshal(s)
			batch := gs.NewBatch()
			batch.Put(keyState, state)
			batch.Put(logKey(1), ev)
			return batch.Commit()
		})
		return time.Since(began)
	}
	activate := func(rt *Runtime, i int) (time.Duration, error) {
		began := time.Now()
		r, err := Call[*actorsv1.PhaseReply](ctx, rt.Node, KindSession, id(i), &actorsv1.ResumeSession{Caller: NodeCaller()})
		if err == nil && r.GetPhase() != stichv1.Phase_PHASE_COMPLETED {
			err = fmt.Errorf("session %s: phase %v", id(i), r.GetPhase())
		}
		return time.Since(began), err
	}
	// heap is the Go heap after a GC: live objects (HeapAlloc) and spans
	// in use (HeapInuse, which also counts the free room of spans that
	// still hold an object).
	// rss is the process's resident set (VmRSS) after the Go heap gave
	// back its free pages: the Go heap in use plus what is off it (Pebble's
	// memtables and block cache, allocated by cgo; goroutine stacks).
	type heapAt struct{ alloc, inuse, rss uint64 }
	heap := func() heapAt {
		var m runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m)
		debug.FreeOSMemory()
		return heapAt{m.HeapAlloc, m.HeapInuse, vmRSS(b)}
	}
	per := func(a, b uint64, n int) float64 { return (float64(a) - float64(b)) / float64(n) }
	active := func(rt *Runtime) int { return rt.Node.GrainCounts()[KindSession] }
	waitPassivated := func(rt *Runtime) {
		for active(rt) > 0 {
			time.Sleep(time.Second)
		}
	}

	seeded := seed(big, n)
	seed(small, 100)
	b.ReportMetric(seeded.Seconds(), "seed-s")

	// The first activations, as after a restart.
	before := heap()
	began := time.Now()
	each(b, n, 8, func(i int) error {
		_, err := activate(big, i)
		return err
	})
	b.ReportMetric(time.Since(began).Seconds(), "activate-all-s")
	withActive := heap()
	// STICH_SCALE_HEAPPROFILE=file writes the heap with every session
	// active to file.active and after they passivated to file.passivated
	// (run with -memprofilerate 1 to see each allocation).
	profile := func(suffix string) {
		p := os.Getenv("STICH_SCALE_HEAPPROFILE")
		if p == "" {
			return
		}
		f, err := os.Create(p + suffix)
		if err != nil {
			b.Fatal(err)
		}
		err = pprof.WriteHeapProfile(f)
		if err = errors.Join(err, f.Close()); err != nil {
			b.Fatal(err)
		}
	}
	profile(".active")
	// Pebble's own memory (off the Go heap, in the rss figures).
	pebbleMem := func(rt *Runtime) string {
		m := rt.Node.Store().DB().Metrics()
		return fmt.Sprintf("pebble: block cache %d MiB, memtables %d MiB", m.BlockCache.Size>>20, m.MemTable.Size>>20)
	}
	b.Logf("with all active, %s", pebbleMem(big))
	nActive := active(big)
	b.Logf("%d of %d sessions active when measured (heap: live %d MiB, in use %d MiB, rss %d MiB; before: %d, %d, %d MiB)", nActive, n, withActive.alloc>>20, withActive.inuse>>20, withActive.rss>>20, before.alloc>>20, before.inuse>>20, before.rss>>20)
	// The first activation of the small node's sessions warms it: they
	// are measured after passivating, as the big node's are.
	for i := 0; i < 100; i++ {
		if _, err := activate(small, i); err != nil {
			b.Fatal(err)
		}
	}
	waitPassivated(big)
	passivated := heap()
	profile(".passivated")
	b.Logf("after passivating, %s", pebbleMem(big))
	b.Logf("after passivating: heap live %d MiB, in use %d MiB, rss %d MiB", passivated.alloc>>20, passivated.inuse>>20, passivated.rss>>20)
	b.ReportMetric(per(passivated.alloc, before.alloc, n), "passivated-B/session")
	b.ReportMetric(per(passivated.inuse, before.inuse, n), "passivated-inuse-B/session")
	b.ReportMetric(per(passivated.rss, before.rss, n), "passivated-rss-B/session")
	if nActive > 0 {
		b.ReportMetric(per(withActive.alloc, passivated.alloc, nActive), "active-B/session")
		b.ReportMetric(per(withActive.inuse, passivated.inuse, nActive), "active-inuse-B/session")
		b.ReportMetric(per(withActive.rss, passivated.rss, nActive), "active-rss-B/session")
	}

	// Activation of a passivated session at this size and on the node
	// holding 100, alternating.
	waitPassivated(small)
	var atSize, at100 []time.Duration
	for i := 0; i < 100; i++ {
		d, err := activate(big, (i*7919)%n)
		if err != nil {
			b.Fatal(err)
		}
		atSize = append(atSize, d)
		if d, err = activate(small, i); err != nil {
			b.Fatal(err)
		}
		at100 = append(at100, d)
	}
	p50 := func(ds []time.Duration) float64 {
		slices.Sort(ds)
		return float64(ds[len(ds)/2].Microseconds())
	}
	s, r := p50(atSize), p50(at100)
	b.ReportMetric(s, "act-p50-us")
	b.ReportMetric(r, "act100-p50-us")
	b.ReportMetric(s/r, "act-x")

	// STICH_SCALE_CPUPROFILE=file profiles (after the figures above)
	// STICH_SCALE_CPUPROFILE_N (30,000) activations of passivated sessions
	// of the big node, one at a time as measured, to file: run it at this
	// size and at a small one (STICH_SCALE_SESSIONS=2000, with a short
	// STICH_SCALE_PASSIVATE: rounds of n/2 activations, waiting for them
	// to passivate between) and compare per activation.
	if p := os.Getenv("STICH_SCALE_CPUPROFILE"); p != "" {
		total := 30_000
		if s := os.Getenv("STICH_SCALE_CPUPROFILE_N"); s != "" {
			var err error
			if total, err = strconv.Atoi(s); err != nil {
				b.Fatal(err)
			}
		}
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		waitPassivated(big)
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		var ds []time.Duration
		var took time.Duration
		for len(ds) < total {
			if len(ds) > 0 {
				waitPassivated(big)
			}
			began := time.Now()
			for i := 0; i < n/2 && len(ds) < total; i++ {
				d, err := activate(big, (i*7919+1)%n)
				if err != nil {
					b.Fatal(err)
				}
				ds = append(ds, d)
			}
			took += time.Since(began)
		}
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		b.Logf("profiled %d activations at %d sessions: %v each on average, p50 %v µs", len(ds), n, took/time.Duration(len(ds)), p50(ds))
	}
}

// vmRSS returns the process's resident set size from /proc/self/status.
func vmRSS(b *testing.B) uint64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				b.Fatalf("VmRSS %q: %v", v, err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// each runs fn(0..n-1) on workers goroutines and fails b on the first
// error.
func each(b *testing.B, n, workers int, fn func(i int) error) {
	b.Helper()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		next int
		ferr error
	)
	for range workers {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				stop := ferr != nil
				mu.Unlock()
				if i >= n || stop {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					ferr = err
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if ferr != nil {
		b.Fatal(ferr)
	}
}
