package actors

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// BenchmarkFirstPreview measures what a user waits for after Build: the
// time from CreateSession of a scaffold app to its first PreviewReady (the
// preview is served) and to its first RuntimeChecked (the node's browser
// rendered it), warm: the npm cache holds the pinned set (a warm-up
// session ran first) and the browser is running. Each iteration is a new
// session (a new workspace). Reported: the medians, and the median time
// of each check sub-step of the first check (from its CheckStep events),
// which says what dominates. The reference is the time to the session's
// Completed in the same run (the preview used to arrive only then).
func BenchmarkFirstPreview(b *testing.B) {
	checker := benchBrowser(b)
	rt := startBenchRuntime(b, "first", testSandbox(b), checker)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	errDone := errors.New("done")
	var ready, rendered, completed []time.Duration
	steps := map[string][]time.Duration{}
	one := func(n int) {
		id := rt.NewSessionID("")
		t0 := time.Now()
		if _, err := Call[*actorsv1.CreateSessionReply](ctx, rt.Node, KindSession, id, &actorsv1.CreateSession{Caller: NodeCaller(),
			Prompt: fmt.Sprintf("a recipe tracker with ingredients and ratings %d", n), Options: &stichv1.SessionOptions{Provider: "scaffold"}}); err != nil {
			b.Fatal(err)
		}
		var tReady, tRendered time.Time
		first := map[string]time.Duration{}
		checks := 0
		err := rt.Watch(ctx, NodeCaller(), id, 0, false, func(ev *stichv1.SessionEvent) error {
			switch {
			case ev.GetPreviewReady() != nil && tReady.IsZero():
				tReady = ev.GetTime().AsTime()
			case ev.GetRuntimeChecked() != nil && tRendered.IsZero():
				tRendered = ev.GetTime().AsTime()
				checks++
			case ev.GetCheckStep().GetEnded() && tRendered.IsZero():
				s := ev.GetCheckStep()
				first[s.GetStep()] += time.Duration(s.GetDurationMs()) * time.Millisecond
			case ev.GetLog().GetLevel() == "error":
				return fmt.Errorf("session %d: %s", n, ev.GetLog().GetText())
			case ev.GetCompleted() != nil:
				if tReady.IsZero() || tRendered.IsZero() {
					return errors.New("completed without a preview")
				}
				if n >= 0 {
					ready = append(ready, tReady.Sub(t0))
					rendered = append(rendered, tRendered.Sub(t0))
					completed = append(completed, ev.GetTime().AsTime().Sub(t0))
					for k, d := range first {
						steps[k] = append(steps[k], d)
					}
				}
				return errDone
			}
			return nil
		})
		if !errors.Is(err, errDone) {
			b.Fatalf("session %d: %v", n, err)
		}
	}
	one(-1) // warm: the npm cache, the fixer's tools, the browser
	n := 0
	for b.Loop() {
		one(n)
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
	b.ReportMetric(med(ready), "ready-ms-p50")
	b.ReportMetric(med(rendered), "rendered-ms-p50")
	b.ReportMetric(med(completed), "completed-ms-p50")
	if c := med(completed); c > 0 {
		b.ReportMetric(med(ready)/c, "ready/completed")
		b.ReportMetric(med(rendered)/c, "rendered/completed")
	}
	var parts []string
	for _, k := range []string{"install", "typecheck", "bundle", "runtime", "review"} {
		if len(steps[k]) > 0 {
			b.ReportMetric(med(steps[k]), k+"-ms-p50")
			parts = append(parts, fmt.Sprintf("%s %v", k, steps[k]))
		}
	}
	b.Logf("%d sessions: ready %v, rendered %v, completed %v; first check: %s", n, ready, rendered, completed, strings.Join(parts, "; "))
}
