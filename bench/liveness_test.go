package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/cluster"
	"github.com/stichdev/stich/codegen"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// stageLog records, per grain identity, when each message was first
// logged about it after since: the session grain's "session resumed"
// (its logger carries "session") and the cluster's debug timings
// ("grain claimed", which carries "identity").
type stageLog struct {
	mu    sync.Mutex
	since time.Time
	at    map[string]time.Time // message + "\x00" + identity -> first time
	took  map[string]string    // same key -> its "took" attributes, for the report
}

func newStageLog() *stageLog {
	return &stageLog{at: map[string]time.Time{}, took: map[string]string{}}
}

func (l *stageLog) reset(since time.Time) {
	l.mu.Lock()
	l.since = since
	clear(l.at)
	clear(l.took)
	l.mu.Unlock()
}

func (l *stageLog) first(msg, id string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.at[msg+"\x00"+id]
	return t, ok
}

func (l *stageLog) detail(msg, id string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.took[msg+"\x00"+id]
}

// stageHandler is a slog.Handler feeding a stageLog.
type stageHandler struct {
	l  *stageLog
	id string
}

func (h *stageHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *stageHandler) WithGroup(string) slog.Handler            { return h }
func (h *stageHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := &stageHandler{l: h.l, id: h.id}
	for _, a := range as {
		if a.Key == "session" || a.Key == "identity" {
			out.id = a.Value.String()
		}
	}
	return out
}
func (h *stageHandler) Handle(_ context.Context, rec slog.Record) error {
	id := h.id
	var took []string
	rec.Attrs(func(a slog.Attr) bool {
		switch {
		case a.Key == "session" || a.Key == "identity":
			id = a.Value.String()
		case strings.HasSuffix(a.Key, "_ms") || a.Key == "took":
			took = append(took, a.Key+"="+a.Value.String())
		}
		return true
	})
	if id == "" {
		return nil
	}
	now := time.Now()
	h.l.mu.Lock()
	defer h.l.mu.Unlock()
	if now.Before(h.l.since) {
		return nil
	}
	k := rec.Message + "\x00" + id
	if _, ok := h.l.at[k]; !ok {
		h.l.at[k] = now
		h.l.took[k] = strings.Join(took, " ")
	}
	return nil
}

// startRuntimes starts 3 stich runtimes (R = 3, memberlist's local
// profile, scaffold paced by delay) in one cluster; logs collects the
// stage timings (nil: discarded).
func startRuntimes(b *testing.B, delay time.Duration, logs *stageLog) []*actors.Runtime {
	b.Helper()
	var rts []*actors.Runtime
	seed := ""
	for i := 0; i < 3; i++ {
		cfg := cluster.DefaultLocalConfig()
		cfg.Name = fmt.Sprintf("n%d", i)
		cfg.DataDir = b.TempDir()
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		if logs != nil {
			cfg.Logger = slog.New(&stageHandler{l: logs})
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
		&actorsv1.CreateSession{Prompt: "a recipe tracker with ingredients and ratings", Caller: actors.NodeCaller()}); err != nil {
		b.Fatal(err)
	}
	return id
}

// waitChunk polls, through rt, the session's log until it holds a file
// chunk (the session is generating), bounded by a minute.
func waitChunk(b *testing.B, rt *actors.Runtime, id string) {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		page, err := actors.Call[*actorsv1.ReadLogReply](ctx, rt.Node, actors.KindSession, id,
			&actorsv1.ReadLog{Limit: 1000, Caller: actors.NodeCaller()})
		cancel()
		if err == nil {
			for _, ev := range page.GetEvents() {
				if _, ok := ev.GetEvent().(*stichv1.SessionEvent_FileChunk); ok {
					return
				}
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.Fatalf("session %s wrote no file chunk within a minute", id)
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

// survivorOwner returns the runtime among rts[0] and rts[2] that owns id
// once n1 is gone.
func survivorOwner(rts []*actors.Runtime, id string) *actors.Runtime {
	o, _ := cluster.Lookup(actors.KindSession, id, []cluster.NodeMeta{
		{Name: "n0", Kinds: []string{actors.KindSession}}, {Name: "n2", Kinds: []string{actors.KindSession}}})
	if o.Name == "n2" {
		return rts[2]
	}
	return rts[0]
}

func ms(d time.Duration) int64 { return d.Milliseconds() }

// BenchmarkSessionFailover kills (SIGKILL-like Node.Kill) the member n1 of
// a fresh 3-node cluster (R = 3, local gossip profile) once per
// iteration, while it owns two generating sessions: one watched through
// n2, one that nobody watches or calls. Each iteration logs one line:
// the watcher's and the new owners' detection, kill→next event and
// (next event − detection) for the watched session (rule 18: re-routed on
// the failure event, not a timeout), and kill→resume and (resume −
// detection) for the unwatched one (rule 17: its replicated watchdog
// alarm fires on the survivors); plus the new owner's claim ("grain
// claimed") and activation ("session resumed") relative to detection.
// `-benchtime Nx` gives N kills in one invocation.
func BenchmarkSessionFailover(b *testing.B) {
	var watchedOver, unwatchedOver, detect []time.Duration
	for i := 0; i < b.N; i++ {
		logs := newStageLog()
		rts := startRuntimes(b, 20*time.Millisecond, logs)
		watched := sessionOwnedBy(b, rts[0], "n1")
		unwatched := sessionOwnedBy(b, rts[0], "n1")
		events := make(chan time.Time, 4096)
		chunk := make(chan struct{}, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		done := make(chan error, 1)
		go func() {
			done <- rts[2].Watch(ctx, actors.NodeCaller(), watched, 0, true, func(ev *stichv1.SessionEvent) error {
				events <- time.Now()
				if _, ok := ev.GetEvent().(*stichv1.SessionEvent_FileChunk); ok {
					select {
					case chunk <- struct{}{}:
					default:
					}
				}
				return nil
			})
		}()
		select {
		case <-chunk:
		case err := <-done:
			b.Fatalf("watch ended before the kill: %v", err)
		case <-time.After(time.Minute):
			b.Fatal("the watched session sent no file chunk within a minute")
		}
		waitChunk(b, rts[0], unwatched)
		wOwner, uOwner := survivorOwner(rts, watched), survivorOwner(rts, unwatched)
		detW, detWO, detUO := detected(rts[2].Node), detected(wOwner.Node), detected(uOwner.Node)
		killed := time.Now()
		logs.reset(killed)
		rts[1].Node.Kill()
		dW, dWO, dUO := <-detW, <-detWO, <-detUO
		// The next event is the first one after the watcher's node saw the
		// failure (the dead owner sent the earlier ones).
		var next time.Time
		for next.IsZero() {
			select {
			case t := <-events:
				if t.After(dW) {
					next = t
				}
			case err := <-done:
				b.Fatalf("watch ended without an event after the kill: %v", err)
			}
		}
		deadline := time.Now().Add(time.Minute)
		var uResumed time.Time
		for {
			if t, ok := logs.first("session resumed", unwatched); ok {
				uResumed = t
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("the unwatched session did not resume within a minute of the kill")
			}
			time.Sleep(time.Millisecond)
		}
		rel := func(msg, id string, from time.Time) string {
			t, ok := logs.first(msg, id)
			if !ok {
				return "-"
			}
			s := fmt.Sprint(ms(t.Sub(from)))
			if d := logs.detail(msg, id); d != "" {
				s += " (" + d + ")"
			}
			return s
		}
		detWatch := later(dW, dWO)
		b.Logf("kill %d: watched: detect watcher %d ms, owner %s %d ms; kill→next %d ms; next−detect %d ms (next−both %d ms; claimed %s, resumed %s ms after both)"+
			" | unwatched: detect owner %s %d ms; kill→resume %d ms; resume−detect %d ms (claimed %s ms after detect)",
			i, ms(dW.Sub(killed)), wOwner.Node.Name(), ms(dWO.Sub(killed)), ms(next.Sub(killed)), ms(next.Sub(dW)), ms(next.Sub(detWatch)),
			rel("grain claimed", watched, detWatch), rel("session resumed", watched, detWatch),
			uOwner.Node.Name(), ms(dUO.Sub(killed)), ms(uResumed.Sub(killed)), ms(uResumed.Sub(dUO)), rel("grain claimed", unwatched, dUO))
		detect = append(detect, dW.Sub(killed))
		watchedOver = append(watchedOver, next.Sub(dW))
		unwatchedOver = append(unwatchedOver, uResumed.Sub(dUO))
		cancel()
		<-done
		for _, rt := range rts {
			rt.Node.Kill()
		}
	}
	b.ReportMetric(median(detect), "detect-ms-p50")
	b.ReportMetric(median(watchedOver), "watched-over-detect-ms-p50")
	b.ReportMetric(maxMs(watchedOver), "watched-over-detect-ms-max")
	b.ReportMetric(median(unwatchedOver), "unwatched-over-detect-ms-p50")
	b.ReportMetric(maxMs(unwatchedOver), "unwatched-over-detect-ms-max")
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func median(ds []time.Duration) float64 {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return float64(s[len(s)/2].Milliseconds())
}

func maxMs(ds []time.Duration) float64 {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return float64(m.Milliseconds())
}
