package sandbox_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stichdev/stich/sandbox"
	"github.com/stichdev/stich/scaffold"
)

// containedPairs is how many builds of each kind one benchmark operation
// makes (a build takes seconds, and `make bench` runs it once).
const containedPairs = 5

// BenchmarkContainedBuild measures building a scaffold app's dependencies
// and types in a fresh workspace from the warm shared npm cache: prepare,
// write, npm ci, tsc, clean up. stich: a uid of its own from a range of 8,
// a 1 GiB tmpfs quota, npm reaching the registry only through the egress
// proxy from its own network namespace. Reference: the sandbox as it was
// before (one uid, no quota, npm in the host's network namespace).
//
// The two kinds alternate within one run (stich, old, old, stich, ...),
// each build timed on its own, so that this machine's load weighs on both
// alike; it reports the median of each (stich-p50-ms, ref-p50-ms), their
// ratio contained-x (`make bench` checks it) and the pairs measured.
func BenchmarkContainedBuild(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Fatal("the sandbox benchmarks run as root")
	}
	files, err := scaffold.Files(scaffold.Plan("a recipe tracker with ingredients and ratings", nil))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	runner := func(name string, contained bool) func() time.Duration {
		base := b.TempDir()
		for _, d := range []string{filepath.Dir(base), base} {
			if err := os.Chmod(d, 0o711); err != nil {
				b.Fatal(err)
			}
		}
		cfg := sandbox.DefaultConfig(base)
		cfg.UID, cfg.GID = 64680, 64680
		cfg.CacheDir = "/var/tmp/stich-test/npm-cache-bench-" + name // one each: a runner hands its cache to its uid
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))  // keep the bench output parseable
		if contained {
			cfg.UID, cfg.GID = 64681, 64681
			cfg.UIDs, cfg.WorkspaceSize = 8, 1<<30
		}
		l, err := sandbox.NewLocal(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if !contained {
			sandbox.InstallOnHostNetwork(l)
		}
		n := 0
		return func() time.Duration {
			start := time.Now()
			id := fmt.Sprintf("bench-%s-%d", name, n)
			n++
			if err := l.Prepare(ctx, id); err != nil {
				b.Fatal(err)
			}
			defer l.Cleanup(ctx, id)
			if err := l.WriteFiles(ctx, id, files); err != nil {
				b.Fatal(err)
			}
			if res, err := l.Install(ctx, id, sandbox.InstallOptions{Timeout: 10 * time.Minute}); err != nil { // generous: the machine may be loaded
				b.Fatalf("%v\n%s", err, res.TailText())
			}
			if diags, _, err := sandbox.TypeCheck(ctx, l, id, sandbox.TypeCheckOptions{Timeout: 10 * time.Minute}); err != nil || len(diags) != 0 {
				b.Fatalf("tsc: %v %v", err, diags)
			}
			return time.Since(start)
		}
	}
	stich, ref := runner("stich", true), runner("reference", false)
	stich() // warm both caches (not timed: b.Loop starts the timer)
	ref()
	var st, rt []time.Duration
	for b.Loop() {
		for i := 0; i < containedPairs; i++ {
			if len(st)%2 == 0 {
				st = append(st, stich())
				rt = append(rt, ref())
			} else {
				rt = append(rt, ref())
				st = append(st, stich())
			}
		}
	}
	slices.Sort(st)
	slices.Sort(rt)
	s, r := st[len(st)/2].Seconds()*1000, rt[len(rt)/2].Seconds()*1000
	b.ReportMetric(s, "stich-p50-ms")
	b.ReportMetric(r, "ref-p50-ms")
	b.ReportMetric(s/r, "contained-x")
	b.ReportMetric(float64(len(st)), "pairs")
}
