package sandbox_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stichdev/stich/sandbox"
	"github.com/stichdev/stich/scaffold"
)

// BenchmarkContainedBuild measures building a scaffold app's dependencies
// and types in a fresh workspace from the warm shared npm cache: prepare,
// write, npm ci, tsc, clean up. stich: a uid of its own from a range of 8,
// a 1 GiB tmpfs quota, npm reaching the registry only through the egress
// proxy from its own network namespace. Reference: the sandbox as it was
// before (one uid, no quota, npm in the host's network namespace).
func BenchmarkContainedBuild(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Fatal("the sandbox benchmarks run as root")
	}
	files, err := scaffold.Files(scaffold.Plan("a recipe tracker with ingredients and ratings", nil))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct {
		name      string
		contained bool
	}{{"reference", false}, {"stich", true}} {
		b.Run(c.name, func(b *testing.B) {
			base := b.TempDir()
			for _, d := range []string{filepath.Dir(base), base} {
				if err := os.Chmod(d, 0o711); err != nil {
					b.Fatal(err)
				}
			}
			cfg := sandbox.DefaultConfig(base)
			cfg.UID, cfg.GID = 64680, 64680
			cfg.CacheDir = "/var/tmp/stich-test/npm-cache-bench"
			cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil)) // keep the bench output parseable
			if c.contained {
				cfg.UIDs, cfg.WorkspaceSize = 8, 1<<30
			}
			l, err := sandbox.NewLocal(cfg)
			if err != nil {
				b.Fatal(err)
			}
			if !c.contained {
				sandbox.InstallOnHostNetwork(l)
			}
			n := 0
			build := func() {
				id := fmt.Sprintf("bench-%s-%d", c.name, n)
				n++
				if err := l.Prepare(ctx, id); err != nil {
					b.Fatal(err)
				}
				defer l.Cleanup(ctx, id)
				if err := l.WriteFiles(ctx, id, files); err != nil {
					b.Fatal(err)
				}
				if res, err := l.Install(ctx, id, sandbox.InstallOptions{}); err != nil {
					b.Fatalf("%v\n%s", err, res.TailText())
				}
				if diags, _, err := sandbox.TypeCheck(ctx, l, id, sandbox.TypeCheckOptions{}); err != nil || len(diags) != 0 {
					b.Fatalf("tsc: %v %v", err, diags)
				}
			}
			build() // warm the cache (not timed: b.Loop starts the timer)
			for b.Loop() {
				build()
			}
		})
	}
}
