package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/cluster"
	"github.com/stichdev/stich/codegen"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// resumeLog records when each session logged "session resumed" on a node.
type resumeLog struct {
	mu      sync.Mutex
	resumed map[string]time.Time // session id -> first resume
}

func (r *resumeLog) Enabled(context.Context, slog.Level) bool  { return true }
func (r *resumeLog) WithAttrs(as []slog.Attr) slog.Handler     { return (&resumeAttrs{r: r}).WithAttrs(as) }
func (r *resumeLog) WithGroup(string) slog.Handler             { return r }
func (r *resumeLog) Handle(context.Context, slog.Record) error { return nil }

// resumeAttrs is the session grain's logger (With("session", id)).
type resumeAttrs struct {
	r       *resumeLog
	session string
}

func (h *resumeAttrs) Enabled(context.Context, slog.Level) bool { return true }
func (h *resumeAttrs) WithAttrs(as []slog.Attr) slog.Handler {
	out := &resumeAttrs{r: h.r, session: h.session}
	for _, a := range as {
		if a.Key == "session" {
			out.session = a.Value.String()
		}
	}
	return out
}
func (h *resumeAttrs) WithGroup(string) slog.Handler { return h }
func (h *resumeAttrs) Handle(_ context.Context, rec slog.Record) error {
	if rec.Message == "session resumed" && h.session != "" {
		h.r.mu.Lock()
		if _, ok := h.r.resumed[h.session]; !ok {
			h.r.resumed[h.session] = time.Now()
		}
		h.r.mu.Unlock()
	}
	return nil
}

func (r *resumeLog) at(id string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.resumed[id]
	return t, ok
}

// startRuntimes starts 3 stich runtimes (R = 3, memberlist's local
// profile, scaffold paced by delay) in one cluster; logs collects the
// sessions' resumes.
func startRuntimes(b *testing.B, delay time.Duration, logs *resumeLog) []*actors.Runtime {
	b.Helper()
	var rts []*actors.Runtime
	seed := ""
	for i := 0; i < 3; i++ {
		cfg := cluster.DefaultLocalConfig()
		cfg.Name = fmt.Sprintf("n%d", i)
		cfg.DataDir = b.TempDir()
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		if logs != nil {
			cfg.Logger = slog.New(logs)
		}
		if seed != "" {
			cfg.Join = []string{seed}
		}
		rt, err := actors.Start(context.Background(), actors.Config{Cluster: cfg, Providers: map[string]codegen.Provider{
			"scaffold": codegen.Scaffold{ChunkDelay: delay}}})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { rt.Node.Kill() })
		if seed == "" {
			seed = rt.Node.GossipAddr()
		}
		rts = append(rts, rt)
	}
	nodes := make([]*cluster.Node, len(rts))
	for i, rt := range rts {
		nodes[i] = rt.Node
	}
	waitSize(b, 3, nodes...)
	// Every member repaired (a new data folder takes part in no majority
	// until all the others repaired it; the killed one will not return).
	deadline := time.Now().Add(time.Minute)
	for _, n := range nodes {
		for !n.Repaired() {
			if time.Now().After(deadline) {
				b.Fatalf("%s was not repaired within a minute", n.Name())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return rts
}

// sessionOwnedBy creates, through rt, a generating session owned by name.
func sessionOwnedBy(b *testing.B, rt *actors.Runtime, name string) string {
	b.Helper()
	var id string
	for {
		id = rt.NewSessionID("")
		if o, _ := rt.Node.Owner(actors.KindSession, id); o == name {
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := actors.Call[*actorsv1.CreateSessionReply](ctx, rt.Node, actors.KindSession, id,
		&actorsv1.CreateSession{Prompt: "a recipe tracker with ingredients and ratings"}); err != nil {
		b.Fatal(err)
	}
	return id
}

// detected returns a channel that receives the time n's view lost a
// member (it sees 2), polled every millisecond; bounded by a minute.
func detected(n *cluster.Node) <-chan time.Time {
	ch := make(chan time.Time, 1)
	go func() {
		deadline := time.Now().Add(time.Minute)
		for len(n.Members()) != 2 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		ch <- time.Now()
	}()
	return ch
}

// BenchmarkFailoverWatched measures, for a session watched through node
// n2 while its owner n1 generates, the time from SIGKILL-like Kill of n1
// to the watcher's next event, against the time n2's memberlist took to
// detect the failure (same run, local profile); over-detect-ms is the
// time from that detection to the first event after it (rule 18:
// re-routed on the event, not a timeout).
func BenchmarkFailoverWatched(b *testing.B) {
	var detect, ownerDetect, next, overBoth time.Duration
	for i := 0; i < b.N; i++ {
		rts := startRuntimes(b, 20*time.Millisecond, nil)
		id := sessionOwnedBy(b, rts[0], "n1")
		events := make(chan time.Time, 4096)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		done := make(chan error, 1)
		go func() {
			done <- rts[2].Watch(ctx, actors.NodeCaller(), id, 0, true, func(*stichv1.SessionEvent) error {
				events <- time.Now()
				return nil
			})
		}()
		for n := 0; n < 10; n++ {
			select {
			case <-events:
			case err := <-done:
				b.Fatalf("watch ended before the kill: %v", err)
			}
		}
		newOwner := rts[0]
		if o, _ := cluster.Lookup(actors.KindSession, id, []cluster.NodeMeta{
			{Name: "n0", Kinds: []string{actors.KindSession}}, {Name: "n2", Kinds: []string{actors.KindSession}}}); o.Name == "n2" {
			newOwner = rts[2]
		}
		det, ownerDet := detected(rts[2].Node), detected(newOwner.Node)
		killed := time.Now()
		rts[1].Node.Kill()
		d := <-det
		od := <-ownerDet
		// The next event is the first one after the watcher's node saw the
		// failure (the dead owner sent the earlier ones).
		var at time.Time
		for at.IsZero() {
			select {
			case t := <-events:
				if t.After(d) {
					at = t
				}
			case err := <-done:
				b.Fatalf("watch ended without an event after the kill: %v", err)
			}
		}
		detect += d.Sub(killed)
		ownerDetect += od.Sub(killed)
		next += at.Sub(killed)
		overBoth += at.Sub(later(d, od))
		cancel()
		<-done
		for _, rt := range rts {
			rt.Node.Kill()
		}
	}
	b.ReportMetric(float64(detect.Milliseconds())/float64(b.N), "detect-ms")
	b.ReportMetric(float64(next.Milliseconds())/float64(b.N), "next-event-ms")
	b.ReportMetric(float64((next-detect).Milliseconds())/float64(b.N), "over-detect-ms")
	// The new owner may learn of the failure later than the watcher's
	// node (by gossip); the session cannot move before it does.
	b.ReportMetric(float64(ownerDetect.Milliseconds())/float64(b.N), "owner-detect-ms")
	b.ReportMetric(float64(overBoth.Milliseconds())/float64(b.N), "over-both-detect-ms")
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// BenchmarkFailoverUnwatched measures, for a generating session nobody
// watches or calls, the time from Kill of its owner n1 to its resumption
// on the new owner (its watchdog alarm fired there; rule 17), against the
// time the new owner's memberlist took to detect the failure.
func BenchmarkFailoverUnwatched(b *testing.B) {
	var detect, resume time.Duration
	for i := 0; i < b.N; i++ {
		logs := &resumeLog{resumed: map[string]time.Time{}}
		rts := startRuntimes(b, 20*time.Millisecond, logs)
		id := sessionOwnedBy(b, rts[0], "n1")
		time.Sleep(200 * time.Millisecond) // generating
		var newOwner *actors.Runtime
		for _, rt := range []*actors.Runtime{rts[0], rts[2]} {
			if o, _ := cluster.Lookup(actors.KindSession, id, []cluster.NodeMeta{
				{Name: "n0", Kinds: []string{actors.KindSession}}, {Name: "n2", Kinds: []string{actors.KindSession}}}); o.Name == rt.Node.Name() {
				newOwner = rt
			}
		}
		det := detected(newOwner.Node)
		killed := time.Now()
		rts[1].Node.Kill()
		d := <-det
		deadline := time.Now().Add(time.Minute)
		var at time.Time
		for {
			if t, ok := logs.at(id); ok && t.After(killed) {
				at = t
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("the unwatched session did not resume within a minute of the kill")
			}
			time.Sleep(time.Millisecond)
		}
		detect += d.Sub(killed)
		resume += at.Sub(killed)
		for _, rt := range rts {
			rt.Node.Kill()
		}
	}
	b.ReportMetric(float64(detect.Milliseconds())/float64(b.N), "detect-ms")
	b.ReportMetric(float64(resume.Milliseconds())/float64(b.N), "resume-ms")
	b.ReportMetric(float64((resume-detect).Milliseconds())/float64(b.N), "over-detect-ms")
}
