package main

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/stichdev/stich/internal/testutil"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// TestClusterForgetCLI runs 3 `stich serve` processes (R = 3), SIGKILLs
// one, and drives `stich cluster forget` through its refusals (no --yes,
// this node, a live node, an unknown name) and a forget that every
// survivor applies; sessions written before stay readable.
func TestClusterForgetCLI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n1 := startMember(t, "n1", t.TempDir(), "")
	n2 := startMember(t, "n2", t.TempDir(), n1.gossip)
	n3 := startMember(t, "n3", t.TempDir(), n1.gossip)
	waitClusterSize(t, 3, n1, n2, n3)
	var ids []string
	for i := range 4 {
		res, err := n1.sessions.CreateSession(ctx, connect.NewRequest(&stichv1.CreateSessionRequest{
			Prompt: fmt.Sprintf("a list of things number %d with a name and a done flag", i)}))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Msg.GetSessionId())
	}
	final := map[string]uint64{}
	for _, id := range ids {
		evs, err := watchAll(ctx, n2.sessions, id)
		if err != nil || len(evs) == 0 || evs[len(evs)-1].GetCompleted() == nil {
			t.Fatalf("session %s: %d events, %v", id, len(evs), err)
		}
		final[id] = evs[len(evs)-1].GetSeq()
	}

	if err := n3.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-n3.done
	failedOn := func(m *member) ([]string, error) {
		res, err := m.admin.GetClusterStatus(ctx, connect.NewRequest(&stichv1.GetClusterStatusRequest{}))
		if err != nil {
			return nil, err
		}
		var names []string
		for _, f := range res.Msg.GetFailed() {
			names = append(names, f.GetName())
		}
		return names, nil
	}
	testutil.WaitFor(t, 60*time.Second, func() error {
		for _, m := range []*member{n1, n2} {
			if got, err := failedOn(m); err != nil || fmt.Sprint(got) != "[n3]" {
				return fmt.Errorf("%s: failed members %v, %v; want [n3]", m.name, got, err)
			}
		}
		return nil
	})
	code, out, _ := runCLI(t, "cluster", "status", "--server", n1.url)
	if code != 0 || !strings.Contains(out, "failed") || !strings.Contains(out, "stich cluster forget NODE") {
		t.Fatalf("status with n3 failed: exit %d\n%s", code, out)
	}

	// Without --yes: refused, explained, nothing changed.
	code, out, errs := runCLI(t, "cluster", "forget", "n3", "--server", n1.url)
	if code != exitUsage || out != "" || !strings.Contains(errs, "one copy fewer") || !strings.Contains(errs, "--yes") {
		t.Fatalf("forget without --yes: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if got, err := failedOn(n2); err != nil || fmt.Sprint(got) != "[n3]" {
		t.Fatalf("after a refused forget n2 lists failed %v, %v", got, err)
	}
	for _, c := range []struct{ name, want string }{
		{"n1", "invalid_argument: n1 is the node answering"},
		{"n2", "failed_precondition: n2 is live"},
		{"nobody", "not_found: nobody is not a failed member"},
	} {
		code, _, errs := runCLI(t, "cluster", "forget", c.name, "--yes", "--server", n1.url)
		if code != exitFailure || !strings.Contains(errs, c.want) {
			t.Fatalf("forget %s: exit %d, stderr %q; want %q", c.name, code, errs, c.want)
		}
	}

	code, out, errs = runCLI(t, "cluster", "forget", "n3", "--yes", "--server", n1.url)
	if code != 0 || !strings.Contains(out, "n1 forgot n3; confirmed by n2") {
		t.Fatalf("forget n3: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	for _, m := range []*member{n1, n2} {
		if got, err := failedOn(m); err != nil || len(got) != 0 {
			t.Fatalf("%s after the forget: failed members %v, %v", m.name, got, err)
		}
	}
	code, out, _ = runCLI(t, "cluster", "status", "--server", n2.url)
	if code != 0 || strings.Contains(out, "n3") {
		t.Fatalf("status after the forget: exit %d\n%s", code, out)
	}
	for _, id := range ids {
		for _, m := range []*member{n1, n2} {
			res, err := m.sessions.GetSession(ctx, connect.NewRequest(&stichv1.GetSessionRequest{SessionId: id}))
			if err != nil || res.Msg.GetSession().GetLastSeq() != final[id] {
				t.Fatalf("%s via %s after the forget: %v, %v; want last seq %d", id, m.name, res, err, final[id])
			}
		}
	}
}
