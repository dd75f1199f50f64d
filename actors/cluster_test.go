package actors

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stichdev/stich/cluster"
	"github.com/stichdev/stich/codegen"
	"github.com/stichdev/stich/internal/testutil"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// startPeers starts n runtimes that form one cluster, each with the
// scaffold provider pacing its chunks by delay.
func startPeers(t *testing.T, n int, delay time.Duration) []*Runtime {
	t.Helper()
	return startPeersWith(t, n, delay, Config{})
}

// startPeersWith is startPeers with agent's settings (its Cluster and
// Providers are set here; a PassivateAfter in its Cluster is kept).
func startPeersWith(t *testing.T, n int, delay time.Duration, agent Config) []*Runtime {
	t.Helper()
	var rts []*Runtime
	seed := ""
	for i := 0; i < n; i++ {
		cfg := cluster.DefaultLocalConfig()
		cfg.Name = fmt.Sprintf("n%d", i)
		cfg.DataDir = t.TempDir()
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		if agent.Cluster.PassivateAfter > 0 {
			cfg.PassivateAfter = agent.Cluster.PassivateAfter
		}
		if seed != "" {
			cfg.Join = []string{seed}
		}
		agent.Cluster, agent.Providers = cfg, map[string]codegen.Provider{"scaffold": codegen.Scaffold{ChunkDelay: delay}}
		rt, err := Start(context.Background(), agent)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rt.Shutdown(context.Background()) })
		if seed == "" {
			seed = rt.Node.GossipAddr()
		}
		rts = append(rts, rt)
	}
	testutil.WaitFor(t, 20*time.Second, func() error {
		for _, rt := range rts {
			if got := len(rt.Node.Members()); got != n {
				return fmt.Errorf("%s sees %d members", rt.Node.Name(), got)
			}
		}
		return nil
	})
	return rts
}

func TestSessionAcrossNodesSurvivesOwnerLeaving(t *testing.T) {
	rts := startPeers(t, 3, 5*time.Millisecond)
	// Create through n0 a session that n1 owns; watch it through n2.
	var id string
	for {
		id = rts[0].NewSessionID("")
		if o, _ := rts[0].Node.Owner(KindSession, id); o == "n1" {
			break
		}
	}
	if _, err := Call[*actorsv1.CreateSessionReply](ctxT(t), rts[0].Node, KindSession, id, &actorsv1.CreateSession{Caller: NodeCaller(), Prompt: "a recipe tracker with ingredients and ratings"}); err != nil {
		t.Fatal(err)
	}
	type result struct {
		evs []*stichv1.SessionEvent
		err error
	}
	done := make(chan result, 1)
	seen := make(chan uint64, 1024)
	go func() {
		var evs []*stichv1.SessionEvent
		err := rts[2].Watch(ctxT(t), NodeCaller(), id, 0, true, func(ev *stichv1.SessionEvent) error {
			evs = append(evs, ev)
			select {
			case seen <- ev.GetSeq():
			default:
			}
			return nil
		})
		done <- result{evs, err}
	}()
	// Let some events flow, then the owner leaves mid-generation. (NB: a
	// range over seen hung the test for good when the watch ended first.)
	for s := uint64(0); s < 20; {
		select {
		case s = <-seen:
		case r := <-done:
			t.Fatalf("the watch ended before the owner left: %v (%d events: %v)", r.err, len(r.evs), kinds(r.evs))
		}
	}
	if err := rts[1].Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	checkContiguous(t, r.evs, 0)
	if r.evs[len(r.evs)-1].GetCompleted() == nil {
		t.Fatalf("watch ended with %v", kinds(r.evs[len(r.evs)-1:]))
	}
	owner, _ := rts[0].Node.Owner(KindSession, id)
	if owner == "n1" {
		t.Fatal("the session is still placed on the node that left")
	}
	s, err := Call[*actorsv1.SnapshotReply](ctxT(t), rts[2].Node, KindSession, id, &actorsv1.GetSnapshot{Caller: NodeCaller()})
	if err != nil || s.GetSession().GetPhase() != stichv1.Phase_PHASE_COMPLETED || s.GetSession().GetLastSeq() != uint64(len(r.evs)) {
		t.Fatalf("after hand-off: %v %v", s, err)
	}
}

func TestAppsIndexAcrossNodes(t *testing.T) {
	rts := startPeers(t, 3, 0)
	indexOwner, err := rts[0].Node.Owner(KindApps, LocalOwner)
	if err != nil {
		t.Fatal(err)
	}
	// One session owned by each node, all created through n0: each
	// reports to the one index, wherever it lives.
	ids := map[string]string{}
	for len(ids) < 3 {
		id := rts[0].NewSessionID("")
		o, _ := rts[0].Node.Owner(KindSession, id)
		if _, ok := ids[o]; ok {
			continue
		}
		ids[o] = id
		if _, err := Call[*actorsv1.CreateSessionReply](ctxT(t), rts[0].Node, KindSession, id,
			&actorsv1.CreateSession{Caller: NodeCaller(), Prompt: "a recipe tracker with ingredients and ratings", Owner: LocalOwner}); err != nil {
			t.Fatal(err)
		}
	}
	completed := func(rt *Runtime, want int) func() error {
		return func() error {
			r, err := Call[*actorsv1.ListAppsReply](ctxT(t), rt.Node, KindApps, LocalOwner, &actorsv1.ListApps{})
			if err != nil {
				return err
			}
			done := 0
			for _, e := range r.GetEntries() {
				if e.GetPhase() == stichv1.Phase_PHASE_COMPLETED && e.GetVersion() == 1 {
					done++
				}
			}
			if len(r.GetEntries()) != want || done != want {
				return fmt.Errorf("%s lists %d apps, %d completed; want %d", rt.Node.Name(), len(r.GetEntries()), done, want)
			}
			return nil
		}
	}
	for _, rt := range rts {
		testutil.WaitFor(t, 30*time.Second, completed(rt, 3))
	}
	// The index's node leaves: the index moves with its storage.
	var rest []*Runtime
	for _, rt := range rts {
		if rt.Node.Name() == indexOwner {
			if err := rt.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			continue
		}
		rest = append(rest, rt)
	}
	testutil.WaitFor(t, 30*time.Second, completed(rest[0], 3))
	// Delete, through one node, a session another node owns.
	var victim string
	for o, id := range ids {
		if o != rest[0].Node.Name() && o != indexOwner {
			victim = id
		}
	}
	if _, err := Call[*actorsv1.DeleteSessionReply](ctxT(t), rest[0].Node, KindSession, victim, &actorsv1.DeleteSession{Caller: NodeCaller()}); err != nil {
		t.Fatal(err)
	}
	if _, err := Call[*actorsv1.RemoveAppReply](ctxT(t), rest[0].Node, KindApps, LocalOwner, &actorsv1.RemoveApp{SessionId: victim}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 30*time.Second, completed(rest[1], 2))
	_, err = Call[*actorsv1.SnapshotReply](ctxT(t), rest[1].Node, KindSession, victim, &actorsv1.GetSnapshot{Caller: NodeCaller()})
	if ae, ok := err.(*Error); !ok || ae.Code != actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND {
		t.Fatalf("deleted session answers %v", err)
	}
}

// TestWatchReroutesWhenOwnerFails: a watch through n2 of a session that
// n1 owns and is generating continues, gap-free, to the completion on the
// new owner after n1 dies (killed: no hand-off, no goodbye), driven by the
// failure event alone: the periodic re-subscribe is pushed out of reach.
// Before rule 18 the watcher waited for that refresh, then for a call
// timeout on the dead owner, and the watch failed.
func TestWatchReroutesWhenOwnerFails(t *testing.T) {
	old := watchRefresh
	watchRefresh = time.Hour
	t.Cleanup(func() { watchRefresh = old })
	rts := startPeers(t, 3, 30*time.Millisecond)
	// Every member must be repaired (a new data folder takes part in no
	// majority until all the others repaired it; n1 will not return).
	testutil.WaitFor(t, time.Minute, func() error {
		for _, rt := range rts {
			if !rt.Node.Repaired() {
				return fmt.Errorf("%s is not repaired yet", rt.Node.Name())
			}
		}
		return nil
	})
	var id string
	for {
		id = rts[0].NewSessionID("")
		if o, _ := rts[0].Node.Owner(KindSession, id); o == "n1" {
			break
		}
	}
	if _, err := Call[*actorsv1.CreateSessionReply](ctxT(t), rts[0].Node, KindSession, id, &actorsv1.CreateSession{Caller: NodeCaller(), Prompt: "a recipe tracker with ingredients and ratings"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	type result struct {
		evs []*stichv1.SessionEvent
		err error
	}
	done := make(chan result, 1)
	seen := make(chan uint64, 4096)
	go func() {
		var evs []*stichv1.SessionEvent
		err := rts[2].Watch(ctx, NodeCaller(), id, 0, true, func(ev *stichv1.SessionEvent) error {
			evs = append(evs, ev)
			select {
			case seen <- ev.GetSeq():
			default:
			}
			return nil
		})
		done <- result{evs, err}
	}()
	for s := uint64(0); s < 10; {
		select {
		case s = <-seen:
		case r := <-done:
			t.Fatalf("the watch ended before the kill: %v (%d events)", r.err, len(r.evs))
		}
	}
	rts[1].Node.Kill()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if ctx.Err() != nil {
		t.Fatal("the watch ended only at its deadline")
	}
	checkContiguous(t, r.evs, 0)
	if len(r.evs) == 0 || r.evs[len(r.evs)-1].GetCompleted() == nil {
		t.Fatalf("watch ended with %v", kinds(r.evs[max(len(r.evs)-1, 0):]))
	}
	if owner, _ := rts[2].Node.Owner(KindSession, id); owner == "n1" {
		t.Fatal("the session is still placed on the killed node")
	}
	resumed := false
	for _, ev := range r.evs[10:] {
		resumed = resumed || ev.GetGenerationResumed() != nil
	}
	if !resumed {
		t.Fatalf("no generation_resumed after the kill (the generation ended before it?): %v", kinds(r.evs[10:]))
	}
}
