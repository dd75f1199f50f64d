package appbuild

import (
	"context"
	"fmt"
	"testing"
	"time"

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
