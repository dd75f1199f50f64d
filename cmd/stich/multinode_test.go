package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/stichdev/stich/internal/testutil"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
)

// member is a `stich serve` process in a multi-node test.
type member struct {
	*node
	name, data string
	sessions   stichv1connect.SessionServiceClient
	admin      stichv1connect.AdminServiceClient
}

func startMember(t *testing.T, name, data, join string, extra ...string) *member {
	t.Helper()
	args := []string{"--node-name", name, "--gossip-addr", "127.0.0.1:0", "--scaffold-chunk-delay", "4ms", "--create-limit", "0", "--message-limit", "0", "--build-limit", "0"}
	if join != "" {
		args = append(args, "--join", join)
	}
	args = append(args, extra...)
	n := startNode(t, data, args...)
	return &member{node: n, name: name, data: data,
		sessions: stichv1connect.NewSessionServiceClient(apiHTTP, n.url),
		admin:    stichv1connect.NewAdminServiceClient(apiHTTP, n.url)}
}

// waitClusterSize waits until every m counts want healthy members. A
// member restarted with a wiped data folder answers only once its peers
// have refilled it (docs/replication.md), which on a loaded machine can
// take tens of seconds: hence the generous bound.
func waitClusterSize(t *testing.T, want int, ms ...*member) {
	t.Helper()
	testutil.WaitFor(t, 60*time.Second, func() error {
		for _, m := range ms {
			res, err := m.admin.GetClusterStatus(context.Background(), connect.NewRequest(&stichv1.GetClusterStatusRequest{}))
			if err != nil {
				return err
			}
			healthy := 0
			for _, x := range res.Msg.GetMembers() {
				if x.GetHealthy() && !x.GetLeaving() {
					healthy++
				}
			}
			if healthy != want {
				return fmt.Errorf("%s sees %d healthy members, want %d", m.name, healthy, want)
			}
		}
		return nil
	})
}

// follow is followAny on one client.
func follow(ctx context.Context, client stichv1connect.SessionServiceClient, id string, after uint64, handle func(*stichv1.SessionEvent)) (*stichv1.SessionEvent, error) {
	return followAny(ctx, []endpoint{{url: "http://test", client: client}}, id, after, defaultReconnectFor, handle)
}

// watchAll follows a session through client until its work ends,
// reconnecting like the CLI does, and returns every event.
func watchAll(ctx context.Context, client stichv1connect.SessionServiceClient, id string) ([]*stichv1.SessionEvent, error) {
	var evs []*stichv1.SessionEvent
	_, err := follow(ctx, client, id, 0, func(ev *stichv1.SessionEvent) { evs = append(evs, ev) })
	return evs, err
}

// TestThreeNodesHandOffAndCrash checks the unreplicated path (R = 1):
// storage moves with ownership, and a crashed owner's sessions wait for
// it. See TestReplicatedSIGKILL for R = 3.
func TestThreeNodesHandOffAndCrash(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	r1 := "--replication-factor=1"
	n1 := startMember(t, "n1", t.TempDir(), "", r1)
	n2 := startMember(t, "n2", t.TempDir(), n1.gossip, r1)
	n3 := startMember(t, "n3", t.TempDir(), n1.gossip, r1)
	waitClusterSize(t, 3, n1, n2, n3)

	// 20 sessions, created round-robin through every node.
	nodes := []*member{n1, n2, n3}
	var ids []string
	for i := 0; i < 20; i++ {
		res, err := nodes[i%3].sessions.CreateSession(ctx, connect.NewRequest(&stichv1.CreateSessionRequest{
			Prompt: fmt.Sprintf("a tracker of things number %d with name, count and done", i)}))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Msg.GetSessionId())
	}
	// Watch every session through n1 or n3 while n2 leaves gracefully.
	var wg sync.WaitGroup
	results := make([][]*stichv1.SessionEvent, len(ids))
	errs := make([]error, len(ids))
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			via := []*member{n1, n3}[i%2]
			results[i], errs[i] = watchAll(ctx, via.sessions, id)
		}()
	}
	if err := n2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := waitExit(t, n2); err != nil {
		t.Fatalf("n2 exit after SIGTERM: %v; last log lines:\n%s", err, tail(n2.logs(), 10))
	}
	wg.Wait()
	final := map[string]uint64{}
	for i, id := range ids {
		if errs[i] != nil {
			t.Fatalf("watch %s: %v", id, errs[i])
		}
		evs := results[i]
		for j, ev := range evs {
			if ev.GetSeq() != uint64(j+1) {
				t.Fatalf("%s: event %d has seq %d", id, j, ev.GetSeq())
			}
		}
		if len(evs) == 0 || evs[len(evs)-1].GetCompleted() == nil {
			t.Fatalf("%s did not complete after n2 left", id)
		}
		final[id] = uint64(len(evs))
	}

	// SIGKILL n3: its sessions are unavailable (never empty), the others serve.
	owners := map[string]string{}
	for _, id := range ids {
		res, err := n1.sessions.GetSession(ctx, connect.NewRequest(&stichv1.GetSessionRequest{SessionId: id}))
		if err != nil {
			t.Fatal(err)
		}
		owners[id] = res.Msg.GetSession().GetNode()
	}
	var onN3, onN1 []string
	for id, o := range owners {
		switch o {
		case "n3":
			onN3 = append(onN3, id)
		case "n1":
			onN1 = append(onN1, id)
		}
	}
	if len(onN3) == 0 || len(onN1) == 0 {
		t.Fatalf("owners %v: need sessions on n1 and n3", owners)
	}
	n3.cmd.Process.Signal(syscall.SIGKILL)
	<-n3.done
	killed := time.Now()
	// NB: a call's deadline is generous (a loaded machine); until the
	// survivors declare n3 failed a call may wait on it and expire.
	testutil.WaitFor(t, 2*time.Minute, func() error {
		cctx, ccancel := context.WithTimeout(ctx, 15*time.Second)
		defer ccancel()
		_, err := n1.sessions.GetSession(cctx, connect.NewRequest(&stichv1.GetSessionRequest{SessionId: onN3[0]}))
		if connect.CodeOf(err) != connect.CodeUnavailable || !strings.Contains(err.Error(), "n3") {
			return fmt.Errorf("session of the killed node: %v", err)
		}
		return nil
	})
	t.Logf("the killed node's session answered Unavailable %s after SIGKILL", time.Since(killed).Round(time.Millisecond))
	for _, id := range onN1 {
		res, err := n1.sessions.GetSession(ctx, connect.NewRequest(&stichv1.GetSessionRequest{SessionId: id}))
		if err != nil || res.Msg.GetSession().GetLastSeq() != final[id] {
			t.Fatalf("survivor's session %s: %v", id, err)
		}
	}
	if _, err := n1.sessions.CreateSession(ctx, connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "a new app while n3 is down"})); err != nil {
		t.Fatalf("create while a node is down: %v", err)
	}

	// n3 returns with its data: its sessions are back, intact.
	n3b := startMember(t, "n3", n3.data, n1.gossip, r1)
	waitClusterSize(t, 2, n1, n3b)
	for _, id := range onN3 {
		res, err := n1.sessions.GetSession(ctx, connect.NewRequest(&stichv1.GetSessionRequest{SessionId: id}))
		if err != nil {
			t.Fatalf("%s after n3 returned: %v", id, err)
		}
		s := res.Msg.GetSession()
		if s.GetLastSeq() != final[id] || s.GetPhase() != stichv1.Phase_PHASE_COMPLETED {
			t.Fatalf("%s after n3 returned: last seq %d (want %d), phase %v", id, s.GetLastSeq(), final[id], s.GetPhase())
		}
	}
}
