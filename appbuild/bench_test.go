package appbuild

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stichdev/stich/preview"
	"github.com/stichdev/stich/runcheck"
	"github.com/stichdev/stich/sandbox"
	"github.com/stichdev/stich/scaffold"
)

// BenchmarkCheck measures what a user waits for after a phase:
//   - install: dependencies of a new app installed from the shared npm
//     cache (another app installed them before: the second-app case);
//   - recheck: the check after the last file of a phase when package.json
//     did not change (type-check, fixer, esbuild bundle) — the time from
//     the last file to "preview ready".
func BenchmarkCheck(b *testing.B) {
	r := newRunner(b)
	ctx := context.Background()
	prompts := []string{"a recipe tracker with ingredients and ratings", "a kanban board for tasks", "a sales dashboard", "a signup form for a workshop"}
	apps := make([]map[string]string, len(prompts))
	for i, p := range prompts {
		files, err := scaffold.Files(scaffold.Plan(p, nil))
		if err != nil {
			b.Fatal(err)
		}
		apps[i] = files
	}
	lazy := NewLazyFixer(r)
	quiet := func(string, string, string) {}
	// Warm the cache (the first app of the machine).
	warm := New(Config{Runner: r}, "bench-warm", "/", "")
	if _, err := warm.Check(ctx, apps[0], true, quiet); err != nil {
		b.Fatal(err)
	}
	defer warm.Close(ctx)

	b.Run("install", func(b *testing.B) {
		var total time.Duration
		n := 0
		for b.Loop() {
			id := fmt.Sprintf("bench-install-%d", n)
			files := apps[1+n%(len(apps)-1)]
			if err := r.Prepare(ctx, id); err != nil {
				b.Fatal(err)
			}
			if err := r.WriteFiles(ctx, id, files); err != nil {
				b.Fatal(err)
			}
			res, err := r.Install(ctx, id, sandbox.InstallOptions{})
			if err != nil {
				b.Fatalf("%v\n%s", err, res.TailText())
			}
			total += res.Duration
			n++
			b.StopTimer()
			_ = r.Cleanup(ctx, id)
			b.StartTimer()
		}
		b.ReportMetric(float64(total.Milliseconds())/float64(n), "install-ms")
	})

	b.Run("recheck", func(b *testing.B) {
		w := New(Config{Runner: r, Fixer: lazy}, "bench-recheck", "/preview/bench/", "")
		defer w.Close(ctx)
		if _, err := w.Check(ctx, apps[0], true, quiet); err != nil {
			b.Fatal(err)
		}
		edited := map[string]string{}
		for p, c := range apps[0] {
			edited[p] = c
		}
		n := 0
		var tc, bundle time.Duration
		for b.Loop() {
			// A phase changed a file: a new comment each time.
			edited["src/App.tsx"] = apps[0]["src/App.tsx"] + fmt.Sprintf("\n// edit %d\n", n)
			out, err := w.Check(ctx, edited, true, quiet)
			if err != nil || out.Preview == nil || len(out.Remaining) > 0 {
				b.Fatalf("recheck: %v preview=%v remaining=%v", err, out.Preview != nil, out.Remaining)
			}
			tc += out.TypeCheck
			bundle += out.Bundle
			n++
		}
		b.ReportMetric(float64(tc.Milliseconds())/float64(n), "typecheck-ms")
		b.ReportMetric(float64(bundle.Milliseconds())/float64(n), "bundle-ms")
	})
}

// BenchmarkRuntimeCheck measures what the runtime check adds to
// preview-ready: each iteration edits the app, rechecks it (type-check,
// fixer, bundle: preview-ready without the check), then loads the preview
// in the node's warm browser (preview-ready with it). Both medians come
// from the same run, interleaved; "cold" is a browser started for one
// check and stopped after it (as runcheck did before it kept one warm),
// measured on a few iterations.
func BenchmarkRuntimeCheck(b *testing.B) {
	r := newRunner(b)
	ctx := context.Background()
	files, err := scaffold.Files(scaffold.Plan("a recipe tracker with ingredients and ratings", nil))
	if err != nil {
		b.Fatal(err)
	}
	checker, err := runcheck.New("")
	if err != nil {
		b.Fatal(err)
	}
	defer checker.Close()
	quiet := func(string, string, string) {}
	w := New(Config{Runner: r, Fixer: NewLazyFixer(r), InstallTimeout: 10 * time.Minute}, "bench-runtime", "/", "")
	defer w.Close(ctx)
	if _, err := w.Check(ctx, files, true, quiet); err != nil {
		b.Fatal(err)
	}
	edited := maps.Clone(files)
	var without, with, cold []time.Duration
	n, unhealthy := 0, 0
	for b.Loop() {
		edited["src/App.tsx"] = files["src/App.tsx"] + fmt.Sprintf("\n// edit %d\n", n)
		start := time.Now()
		out, err := w.Check(ctx, edited, true, quiet)
		if err != nil || out.Preview == nil {
			b.Fatalf("recheck: %v", err)
		}
		ready := time.Since(start)
		rep, err := checker.Check(ctx, preview.NewHandler(out.Preview), "/")
		if err != nil {
			b.Fatalf("runtime check: %v", err)
		}
		if !rep.OK() {
			b.Logf("runtime check %d found problems in a healthy app: %v", n, rep)
			unhealthy++
		}
		without, with = append(without, ready), append(with, time.Since(start))
		if n < 3 {
			b.StopTimer()
			c, err := runcheck.New("")
			if err != nil {
				b.Fatal(err)
			}
			t := time.Now()
			if _, err := c.Check(ctx, preview.NewHandler(out.Preview), "/"); err != nil {
				b.Fatal(err)
			}
			cold = append(cold, time.Since(t))
			c.Close()
			b.StartTimer()
		}
		n++
	}
	med := func(ds []time.Duration) float64 {
		s := slices.Clone(ds)
		slices.Sort(s)
		if len(s) == 0 {
			return 0
		}
		return float64(s[len(s)/2].Milliseconds())
	}
	added := make([]time.Duration, len(with))
	for i := range with {
		added[i] = with[i] - without[i]
	}
	b.ReportMetric(med(without), "ready-ms-p50-without")
	b.ReportMetric(med(with), "ready-ms-p50-with")
	b.ReportMetric(med(added), "added-ms-p50")
	b.ReportMetric(med(cold), "cold-check-ms-p50")
	b.ReportMetric(float64(checker.Starts()), "browser-starts")
	b.ReportMetric(float64(unhealthy), "false-findings")
}
