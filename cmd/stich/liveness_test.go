package main

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/cluster"
	"github.com/stichdev/stich/internal/testutil"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// appPhases lists the signed-in user's apps through m (ListSessions reads
// the apps index, a grain of its own: no session is called) by session id.
func appPhases(ctx context.Context, m *member) (map[string]stichv1.Phase, error) {
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	out := map[string]stichv1.Phase{}
	token := ""
	for {
		res, err := m.sessions.ListSessions(cctx, connect.NewRequest(&stichv1.ListSessionsRequest{PageSize: 100, PageToken: token}))
		if err != nil {
			return nil, err
		}
		for _, a := range res.Msg.GetApps() {
			out[a.GetSessionId()] = a.GetPhase()
		}
		if token = res.Msg.GetNextPageToken(); token == "" {
			return out, nil
		}
	}
}

// waitRepaired waits until every member of ms reports, in its cluster
// status, every member it sees as healthy and repaired (the status's
// repaired: rule 12 of docs/replication.md): before a test kills a
// member, so that the others can form majorities without it.
func waitRepaired(t *testing.T, ms ...*member) {
	t.Helper()
	testutil.WaitFor(t, 2*time.Minute, func() error {
		for _, m := range ms {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			res, err := m.admin.GetClusterStatus(ctx, connect.NewRequest(&stichv1.GetClusterStatusRequest{}))
			cancel()
			if err != nil {
				return fmt.Errorf("status of %s: %w", m.name, err)
			}
			if got := len(res.Msg.GetMembers()); got != len(ms) {
				return fmt.Errorf("%s sees %d members, want %d", m.name, got, len(ms))
			}
			for _, x := range res.Msg.GetMembers() {
				if !x.GetHealthy() || !x.GetRepaired() {
					return fmt.Errorf("%s sees %s healthy=%v repaired=%v", m.name, x.GetName(), x.GetHealthy(), x.GetRepaired())
				}
			}
		}
		return nil
	})
}

// TestOwnerSIGKILLUnwatchedSessionsComplete runs 3 nodes (R = 3), creates
// 20 sessions that nobody watches, and SIGKILLs the node owning most of
// them mid-generation: every session completes on the survivors with no
// call to any session from anyone (the replicas arm the killed owner's
// watchdog alarms as soon as gossip marks it failed; replica.go, invariant
// 16). Completion is observed through the apps index (ListSessions), which
// every session reports its phase to and which calls no session; only
// then are the sessions read.
func TestOwnerSIGKILLUnwatchedSessionsComplete(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	// Slow enough that the sessions are still generating at the kill even
	// on a loaded machine (a scaffold app streams some 100 chunks).
	extra := []string{"--scaffold-chunk-delay", "300ms"}
	n1 := startMember(t, "n1", t.TempDir(), "", extra...)
	n2 := startMember(t, "n2", t.TempDir(), n1.gossip, extra...)
	n3 := startMember(t, "n3", t.TempDir(), n1.gossip, extra...)
	waitClusterSize(t, 3, n1, n2, n3)
	nodes := []*member{n1, n2, n3}
	// Every node's new data folder must be repaired by its peers first: a
	// node that is not takes part in no majority until every member it
	// knows has repaired it, and the victim will not return.
	waitRepaired(t, nodes...)

	// 20 sessions, created at once round-robin through every node.
	const count = 20
	ids := make([]string, count)
	errs := make([]error, count)
	var wg sync.WaitGroup
	for i := range count {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, ccancel := context.WithTimeout(ctx, time.Minute)
			defer ccancel()
			res, err := nodes[i%3].sessions.CreateSession(cctx, connect.NewRequest(&stichv1.CreateSessionRequest{
				Prompt: fmt.Sprintf("a tracker of things number %d with name, count and done", i)}))
			if err == nil {
				ids[i] = res.Msg.GetSessionId()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("create session %d: %v", i, err)
		}
	}

	// The owner of each session, by placement over the three members (as
	// every node computes it; no session is asked).
	var metas []cluster.NodeMeta
	for _, m := range nodes {
		metas = append(metas, cluster.NodeMeta{Name: m.name, Kinds: []string{actors.KindSession}})
	}
	owned := map[string][]string{}
	for _, id := range ids {
		o, _ := cluster.Lookup(actors.KindSession, id, metas)
		owned[o.Name] = append(owned[o.Name], id)
	}
	victim := nodes[0]
	for _, m := range nodes {
		if len(owned[m.name]) > len(owned[victim.name]) {
			victim = m
		}
	}
	var survivors []*member
	for _, m := range nodes {
		if m != victim {
			survivors = append(survivors, m)
		}
	}
	phases, err := appPhases(ctx, survivors[0])
	if err != nil {
		t.Fatal(err)
	}
	generating := 0
	for _, id := range owned[victim.name] {
		if phases[id] != stichv1.Phase_PHASE_COMPLETED {
			generating++
		}
	}
	if generating == 0 {
		t.Fatalf("every session of %s completed before the kill; slow the scaffold down", victim.name)
	}
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-victim.exited
	killed := time.Now()
	t.Logf("killed %s, owner of %d of %d sessions (%d of them not completed)", victim.name, len(owned[victim.name]), count, generating)

	// Nobody calls a session until the apps index shows them all completed.
	var last map[string]stichv1.Phase
	testutil.WaitFor(t, 5*time.Minute, func() error {
		for _, m := range survivors {
			p, err := appPhases(ctx, m)
			if err != nil {
				return err
			}
			last = p
			for _, id := range ids {
				if p[id] != stichv1.Phase_PHASE_COMPLETED {
					return fmt.Errorf("%s: session %s is %v (%s owned it)", m.name, id, p[id], victim.name)
				}
			}
		}
		return nil
	})
	t.Logf("all %d sessions completed %s after the kill (apps index: %d entries)", count, time.Since(killed).Round(time.Second), len(last))

	// Now read them: each is completed, its log ending with the completion.
	for _, id := range ids {
		cctx, ccancel := context.WithTimeout(ctx, 30*time.Second)
		res, err := survivors[0].sessions.GetSession(cctx, connect.NewRequest(&stichv1.GetSessionRequest{SessionId: id}))
		ccancel()
		if err != nil {
			t.Fatalf("read %s: %v", id, err)
		}
		s := res.Msg.GetSession()
		if s.GetPhase() != stichv1.Phase_PHASE_COMPLETED || s.GetNode() == victim.name {
			t.Fatalf("%s: phase %v on %s", id, s.GetPhase(), s.GetNode())
		}
	}
	for _, id := range owned[victim.name][:1] {
		evs, err := readLog(ctx, survivors[1].sessions, id)
		if err != nil {
			t.Fatalf("log of %s: %v", id, err)
		}
		for j, ev := range evs {
			if ev.GetSeq() != uint64(j+1) {
				t.Fatalf("%s: event %d has seq %d", id, j, ev.GetSeq())
			}
		}
		if len(evs) == 0 || evs[len(evs)-1].GetCompleted() == nil {
			t.Fatalf("%s: the log does not end with the completion", id)
		}
	}
}
