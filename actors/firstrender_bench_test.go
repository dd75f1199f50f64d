package actors

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stichdev/stich/preview"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/runcheck"
)

// BenchmarkFirstRender measures what a user sees after Build: the time
// from CreateSession of a scaffold app to the app rendered in the user's
// browser, warm. The browser is already open (the session page): one
// Chromium with one tab, started and warmed before the timer, reused by
// every iteration. At the session's first PreviewReady it loads the preview
// and the time is taken when the app's root first shows an element with
// text, with no uncaught exception ([runcheck.Checker.Render]). The node
// runs as `stich serve` does with --runtime-check auto: its own browser
// checks each build at the same time, on the same two cores.
//
// The preview is served from the sandbox grain (SandboxAsset, then
// preview.ServeAsset, as the preview server does, without its routing and
// cookie check: microseconds, see BenchmarkOriginRouting); the browser
// gets it through the DevTools protocol, as the runtime check does.
//
// Reported: render-ms p50 and p90 (`make bench` checks p50 ≤ 3,000 ms),
// ready-ms p50 (Build to PreviewReady), after-ready-ms p50 (PreviewReady
// to rendered: the page load as the user waits for it), and the
// reference load-ms p50: the same browser rendering the same session's
// already-built preview after the session completed (no build running),
// measured in the same run. load1 is the machine's load average at the
// end. `make bench` runs it as every actors benchmark (-benchtime 1s
// -count 5: five runs of one session each, figures the medians of the
// runs); for p50 and p90 over N sessions of one run use -benchtime Nx.
func BenchmarkFirstRender(b *testing.B) {
	checker := benchBrowser(b)
	user := benchBrowser(b)
	rt := startBenchRuntime(b, "render", testSandbox(b), checker)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	app := func(id string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			a, err := SandboxAsset(r.Context(), rt.Node, id, 0, r.URL.Path)
			switch {
			case err != nil || !a.GetBuilt():
				http.Error(w, "not built", http.StatusServiceUnavailable)
			case !a.GetFound():
				http.NotFound(w, r)
			default:
				preview.ServeAsset(w, r, preview.Asset{Path: a.GetPath(), Body: a.GetBody(), ContentType: a.GetContentType(), ETag: a.GetEtag(), Immutable: a.GetImmutable()})
			}
		})
	}
	// The user's tab, open before the timer (the session page).
	tab, err := user.Open(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer tab.Close()
	render := func(id string) (runcheck.Rendered, error) {
		r, err := tab.Render(ctx, app(id), "/")
		if err == nil && !r.OK() {
			err = fmt.Errorf("the preview broke: %q", r.Exceptions)
		}
		return r, err
	}
	errDone := errors.New("done")
	var rendered, ready, afterReady, load []time.Duration
	one := func(n int) {
		id := rt.NewSessionID("")
		t0 := time.Now()
		if _, err := Call[*actorsv1.CreateSessionReply](ctx, rt.Node, KindSession, id, &actorsv1.CreateSession{Caller: NodeCaller(),
			Prompt: fmt.Sprintf("a recipe tracker with ingredients and ratings %d", n), Options: &stichv1.SessionOptions{Provider: "scaffold"}}); err != nil {
			b.Fatal(err)
		}
		var tReady, tRendered time.Time
		err := rt.Watch(ctx, NodeCaller(), id, 0, false, func(ev *stichv1.SessionEvent) error {
			switch {
			case ev.GetPreviewReady() != nil && tReady.IsZero():
				tReady = time.Now() // as the watcher sees it
				if _, err := render(id); err != nil {
					return fmt.Errorf("first render: %w", err)
				}
				tRendered = time.Now()
			case ev.GetLog().GetLevel() == "error":
				return fmt.Errorf("session %d: %s", n, ev.GetLog().GetText())
			case ev.GetCompleted() != nil:
				if tRendered.IsZero() {
					return errors.New("completed without a preview")
				}
				return errDone
			}
			return nil
		})
		if !errors.Is(err, errDone) {
			b.Fatalf("session %d: %v", n, err)
		}
		// The reference: the built preview loaded again, nothing running.
		ref, err := render(id)
		if err != nil {
			b.Fatalf("session %d, reference load: %v", n, err)
		}
		if n >= 0 {
			rendered = append(rendered, tRendered.Sub(t0))
			ready = append(ready, tReady.Sub(t0))
			afterReady = append(afterReady, tRendered.Sub(tReady))
			load = append(load, ref.Took)
		}
	}
	one(-1) // warm: the npm cache, the fixer's tools, both browsers
	n := 0
	for b.Loop() {
		one(n)
		n++
	}
	b.ReportMetric(pct(rendered, 50), "render-ms-p50")
	b.ReportMetric(pct(rendered, 90), "render-ms-p90")
	b.ReportMetric(pct(ready, 50), "ready-ms-p50")
	b.ReportMetric(pct(afterReady, 50), "after-ready-ms-p50")
	b.ReportMetric(pct(load, 50), "load-ms-p50")
	b.ReportMetric(loadAvg(), "load1")
	b.Logf("%d sessions: rendered %v; ready %v; reference loads %v", n, ms(rendered), ms(ready), ms(load))
}

// pct is the p-th percentile of ds in milliseconds (nearest rank; 0 for
// none).
func pct(ds []time.Duration, p int) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return float64(s[max(i-1, 0)].Milliseconds())
}

func ms(ds []time.Duration) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = strconv.FormatInt(d.Milliseconds(), 10)
	}
	return out
}

// loadAvg is the machine's 1-minute load average (0 when unknown).
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _ := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	return f
}
