package actors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/stichdev/stich/appbuild"
	"github.com/stichdev/stich/cluster"
	"github.com/stichdev/stich/codegen"
	"github.com/stichdev/stich/preview"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/runcheck"
	"github.com/stichdev/stich/sandbox"
)

// BenchmarkPreviewReadyRuntimeCheck measures what the runtime check adds
// to preview-ready for a scaffold app, end to end through the session and
// sandbox grains: two runtimes in one process share one sandbox runner,
// one with the node's warm browser (--runtime-check auto) and one without
// (off), each with one generated scaffold session. Each iteration saves an
// edit of src/App.tsx in one session, then in the other (never both at
// once), and times the save to PreviewReady (the preview is usable) and
// to RuntimeChecked (the check's end; "not checked: no browser" without
// a browser). Reported: the medians with and without, their difference
// and ratio, and the warm check's own time (PreviewReady to
// RuntimeChecked, and the check's duration as the sandbox measured it).
func BenchmarkPreviewReadyRuntimeCheck(b *testing.B) {
	checker := benchBrowser(b)
	r := testSandbox(b)
	start := func(name string, c *runcheck.Checker) *Runtime { return startBenchRuntime(b, name, r, c) }
	type side struct {
		rt                *Runtime
		id                string
		app               string
		seq               uint64
		ready, done, took []time.Duration
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	sides := []*side{{rt: start("with", checker)}, {rt: start("without", nil)}}
	for _, s := range sides {
		s.id = s.rt.NewSessionID("")
		if _, err := Call[*actorsv1.CreateSessionReply](ctx, s.rt.Node, KindSession, s.id, &actorsv1.CreateSession{Caller: NodeCaller(),
			Prompt: "a recipe tracker with ingredients and ratings", Options: &stichv1.SessionOptions{Provider: "scaffold"}}); err != nil {
			b.Fatal(err)
		}
		previewed := false
		if err := s.rt.Watch(ctx, NodeCaller(), s.id, 0, true, func(ev *stichv1.SessionEvent) error {
			s.seq = ev.GetSeq()
			previewed = previewed || ev.GetPreviewReady() != nil
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		if !previewed {
			b.Fatalf("%s: the generated app has no preview", s.rt.Node.Name())
		}
		f, err := Call[*actorsv1.ReadFileReply](ctx, s.rt.Node, KindSession, s.id, &actorsv1.ReadFile{Caller: NodeCaller(), Path: "src/App.tsx"})
		if err != nil {
			b.Fatal(err)
		}
		s.app = f.GetFile().GetContent()
	}
	errDone := errors.New("done")
	edit := func(s *side, n int) {
		t0 := time.Now()
		if _, err := Call[*actorsv1.SaveFileReply](ctx, s.rt.Node, KindSession, s.id, &actorsv1.SaveFile{Caller: NodeCaller(),
			Path: "src/App.tsx", Content: s.app + fmt.Sprintf("\n// edit %d\n", n)}); err != nil {
			b.Fatal(err)
		}
		var ready time.Time
		err := s.rt.Watch(ctx, NodeCaller(), s.id, s.seq, false, func(ev *stichv1.SessionEvent) error {
			s.seq = ev.GetSeq()
			switch {
			case ev.GetPreviewReady() != nil:
				ready = ev.GetTime().AsTime()
			case ev.GetRuntimeChecked() != nil:
				if ready.IsZero() {
					return fmt.Errorf("RuntimeChecked before PreviewReady")
				}
				s.ready = append(s.ready, ready.Sub(t0))
				s.done = append(s.done, ev.GetTime().AsTime().Sub(t0))
				s.took = append(s.took, time.Duration(ev.GetRuntimeChecked().GetDurationMs())*time.Millisecond)
				return errDone
			case ev.GetLog().GetLevel() == "error":
				return fmt.Errorf("edit %d: %s", n, ev.GetLog().GetText())
			}
			return nil
		})
		if !errors.Is(err, errDone) {
			b.Fatalf("edit %d: %v", n, err)
		}
	}
	n := 0
	for b.Loop() {
		for _, s := range sides {
			edit(s, n)
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
	with, without := sides[0], sides[1]
	b.ReportMetric(med(with.ready), "ready-ms-p50-with")
	b.ReportMetric(med(without.ready), "ready-ms-p50-without")
	b.ReportMetric(med(with.ready)-med(without.ready), "added-ms-p50")
	if w := med(without.ready); w > 0 {
		b.ReportMetric(med(with.ready)/w, "ratio")
	}
	checks := make([]time.Duration, len(with.done))
	for i := range with.done {
		checks[i] = with.done[i] - with.ready[i]
	}
	b.ReportMetric(med(checks), "check-after-ready-ms-p50")
	b.ReportMetric(med(with.took), "check-ms-p50")
	b.ReportMetric(float64(checker.Starts()), "browser-starts")
	b.Logf("%d edits each; with: ready %v, done %v; without: ready %v", n, with.ready, with.done, without.ready)
}

// startBenchRuntime starts a one-node runtime with builds on r, previews
// and the scaffold, checked by c (nil: no browser); it shuts down at the
// benchmark's end.
// benchBrowser starts a Chromium for a benchmark, closed when it ends.
func benchBrowser(b *testing.B) *runcheck.Checker {
	c, err := runcheck.New("")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

func startBenchRuntime(b *testing.B, name string, r *sandbox.Local, c *runcheck.Checker) *Runtime {
	cfg := cluster.DefaultLocalConfig()
	cfg.Name, cfg.InMemory = name, true
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	rt, err := Start(context.Background(), Config{Cluster: cfg, Providers: map[string]codegen.Provider{"scaffold": codegen.Scaffold{}},
		Builds: &appbuild.Config{Runner: r, Fixer: appbuild.NewLazyFixer(r), InstallTimeout: 10 * time.Minute}, Previews: preview.Origins{Scheme: "http", Domain: "preview.test"},
		Runcheck: c, SandboxIdle: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		rt.Shutdown(ctx)
	})
	return rt
}
