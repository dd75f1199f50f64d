package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/stichdev/stich/internal/testutil"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
)

// netLab is a set of network namespaces this test creates: a hub with a
// bridge, and one namespace per node joined to it by a veth pair, node i
// at 10.77.0.i/24. Nothing outside these namespaces is touched.
type netLab struct {
	t      *testing.T
	prefix string
}

func (l *netLab) ip(args ...string) {
	l.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		l.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func (l *netLab) hub() string       { return l.prefix + "h" }
func (l *netLab) ns(i int) string   { return fmt.Sprintf("%sn%d", l.prefix, i) }
func (l *netLab) addr(i int) string { return fmt.Sprintf("10.77.0.%d", i) }

func newNetLab(t *testing.T, nodes int) *netLab {
	l := &netLab{t: t, prefix: fmt.Sprintf("st%d", os.Getpid()%100000)}
	t.Cleanup(func() {
		for i := 1; i <= nodes; i++ {
			_ = exec.Command("ip", "netns", "del", l.ns(i)).Run()
		}
		_ = exec.Command("ip", "netns", "del", l.hub()).Run()
	})
	l.ip("netns", "add", l.hub())
	l.ip("-n", l.hub(), "link", "set", "lo", "up")
	l.ip("-n", l.hub(), "link", "add", "br0", "type", "bridge")
	l.ip("-n", l.hub(), "link", "set", "br0", "up")
	for i := 1; i <= nodes; i++ {
		ns := l.ns(i)
		l.ip("netns", "add", ns)
		l.ip("-n", ns, "link", "set", "lo", "up")
		l.ip("-n", ns, "link", "add", "v0", "type", "veth", "peer", "name", fmt.Sprintf("h%d", i), "netns", l.hub())
		l.ip("-n", ns, "addr", "add", l.addr(i)+"/24", "dev", "v0")
		l.ip("-n", ns, "link", "set", "v0", "up")
		l.ip("-n", l.hub(), "link", "set", fmt.Sprintf("h%d", i), "master", "br0")
		l.ip("-n", l.hub(), "link", "set", fmt.Sprintf("h%d", i), "up")
	}
	return l
}

// cut and heal take node i's link to the hub down and up.
func (l *netLab) cut(i int)  { l.ip("-n", l.hub(), "link", "set", fmt.Sprintf("h%d", i), "down") }
func (l *netLab) heal(i int) { l.ip("-n", l.hub(), "link", "set", fmt.Sprintf("h%d", i), "up") }

// client returns an HTTP client whose connections are opened from inside
// node i's namespace (the test process stays in its own).
func (l *netLab) client(i int) *http.Client {
	path := "/var/run/netns/" + l.ns(i)
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		ch := make(chan result, 1)
		go func() {
			// NB: a socket belongs to the namespace of the thread that
			// created it; the thread is restored (or, if that fails,
			// never reused: it stays locked and exits with the goroutine).
			runtime.LockOSThread()
			orig, err := os.Open("/proc/thread-self/ns/net")
			if err != nil {
				ch <- result{err: err}
				runtime.UnlockOSThread()
				return
			}
			defer orig.Close()
			target, err := os.Open(path)
			if err != nil {
				ch <- result{err: err}
				runtime.UnlockOSThread()
				return
			}
			defer target.Close()
			if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
				ch <- result{err: fmt.Errorf("setns: %w", err)}
				runtime.UnlockOSThread()
				return
			}
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
				runtime.UnlockOSThread()
			}
			ch <- result{c, err}
		}()
		r := <-ch
		return r.c, r.err
	}
	return &http.Client{Transport: tokenTransport{base: &http.Transport{DialContext: dial, DisableKeepAlives: false}}}
}

// TestPartitionMinorityCannotWrite puts 3 nodes (R = 3) in their own
// network namespaces, cuts the owner of a session off, and checks that the
// cut-off side cannot write the session while the majority side can; after
// healing, the majority's acknowledged writes are all in the session's log,
// identical on every node.
func TestPartitionMinorityCannotWrite(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	lab := newNetLab(t, 3)
	type peer struct {
		n        *node
		sessions stichv1connect.SessionServiceClient
		admin    stichv1connect.AdminServiceClient
	}
	peers := make([]*peer, 4)
	seed := ""
	tlsFlags := clusterCerts(t, "n1", "n2", "n3")
	for i := 1; i <= 3; i++ {
		args := []string{"--node-name", fmt.Sprintf("n%d", i), "--http", lab.addr(i) + ":8080",
			"--gossip-addr", lab.addr(i) + ":7946", "--actor-addr", lab.addr(i) + ":0",
			"--gossip-profile", "local", "--scaffold-chunk-delay", "2ms", "--create-limit", "0", "--message-limit", "0", "--build-limit", "0"}
		args = append(args, tlsFlags(fmt.Sprintf("n%d", i))...)
		if seed != "" {
			args = append(args, "--join", seed)
		}
		n := startNodeIn(t, lab.ns(i), t.TempDir(), args...)
		seed = lab.addr(1) + ":7946"
		hc := lab.client(i)
		peers[i] = &peer{n: n, sessions: stichv1connect.NewSessionServiceClient(hc, n.url),
			admin: stichv1connect.NewAdminServiceClient(hc, n.url)}
	}
	healthy := func(i, want int) error {
		res, err := peers[i].admin.GetClusterStatus(ctx, connect.NewRequest(&stichv1.GetClusterStatusRequest{}))
		if err != nil {
			return err
		}
		got := 0
		for _, m := range res.Msg.GetMembers() {
			if m.GetHealthy() && !m.GetLeaving() {
				got++
			}
		}
		if got != want {
			return fmt.Errorf("n%d sees %d healthy members, want %d", i, got, want)
		}
		return nil
	}
	testutil.WaitFor(t, 30*time.Second, func() error {
		return errors.Join(healthy(1, 3), healthy(2, 3), healthy(3, 3))
	})

	// A completed session owned by n3.
	var id string
	for try := 0; id == "" && try < 30; try++ {
		res, err := peers[1].sessions.CreateSession(ctx, connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "a small notes app with title and body"}))
		if err != nil {
			t.Fatal(err)
		}
		got, err := peers[1].sessions.GetSession(ctx, connect.NewRequest(&stichv1.GetSessionRequest{SessionId: res.Msg.GetSessionId()}))
		if err != nil {
			t.Fatal(err)
		}
		if got.Msg.GetSession().GetNode() == "n3" {
			id = res.Msg.GetSessionId()
		}
	}
	if id == "" {
		t.Fatal("no session landed on n3")
	}
	if _, err := watchAll(ctx, peers[1].sessions, id); err != nil {
		t.Fatal(err)
	}

	lab.cut(3)
	cutAt := time.Now()
	// The cut-off owner cannot get a refinement acknowledged.
	mctx, mcancel := context.WithTimeout(ctx, 20*time.Second)
	_, err := peers[3].sessions.SendMessage(mctx, connect.NewRequest(&stichv1.SendMessageRequest{SessionId: id, Text: "add a search box"}))
	mcancel()
	if err == nil {
		t.Fatal("the minority side acknowledged a write")
	}
	// Unknown: the write left the owner but no majority confirmed it
	// (docs/replication.md, rule 13: its outcome is unknown, not "retry").
	if c := connect.CodeOf(err); c != connect.CodeUnknown && c != connect.CodeUnavailable && c != connect.CodeDeadlineExceeded {
		t.Fatalf("the minority side refused with %v, want Unknown (outcome unknown) or Unavailable", err)
	}
	t.Logf("minority write refused after %s: %v", time.Since(cutAt).Round(time.Millisecond), err)
	// The majority side takes over and writes.
	testutil.WaitFor(t, 60*time.Second, func() error {
		mctx, mcancel := context.WithTimeout(ctx, 5*time.Second)
		defer mcancel()
		_, err := peers[1].sessions.SendMessage(mctx, connect.NewRequest(&stichv1.SendMessageRequest{SessionId: id, Text: "add a dark mode"}))
		return err
	})
	t.Logf("majority wrote %s after the cut", time.Since(cutAt).Round(time.Millisecond))
	// NB: a watch may end early while the session moves between owners;
	// wait for the refinement to complete, then read the whole log.
	testutil.WaitFor(t, 60*time.Second, func() error {
		g, err := peers[2].sessions.GetSession(ctx, connect.NewRequest(&stichv1.GetSessionRequest{SessionId: id}))
		if err != nil {
			return err
		}
		if p := g.Msg.GetSession().GetPhase(); p != stichv1.Phase_PHASE_COMPLETED {
			return fmt.Errorf("phase %v", p)
		}
		return nil
	})
	final, err := readLog(ctx, peers[2].sessions, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(final) == 0 || final[len(final)-1].GetCompleted() == nil {
		t.Fatalf("the majority's log does not end with the refinement's completion (%d events): %v", len(final), final[max(0, len(final)-2):])
	}
	for j, ev := range final {
		if ev.GetSeq() != uint64(j+1) {
			t.Fatalf("event %d has seq %d", j, ev.GetSeq())
		}
	}

	// NB: the cut has lasted about GossipToTheDeadTime (15 s in the local
	// profile) or more: each side's memberlist may have dropped the other
	// for good, and only the provider's reconnect loop (every 5 s) merges
	// them again (cluster.TestPartitionPastDeadTimeHeals).
	lab.heal(3)
	healedAt := time.Now()
	t.Logf("healed after a cut of %s", healedAt.Sub(cutAt).Round(time.Millisecond))
	testutil.WaitFor(t, 90*time.Second, func() error {
		return errors.Join(healthy(1, 3), healthy(2, 3), healthy(3, 3))
	})
	t.Logf("every node sees 3 healthy members %s after the heal", time.Since(healedAt).Round(time.Millisecond))
	// Every node serves the majority's log, whole and identical.
	for i := 1; i <= 3; i++ {
		testutil.WaitFor(t, 30*time.Second, func() error {
			evs, err := readLog(ctx, peers[i].sessions, id)
			if err != nil {
				return err
			}
			if len(evs) != len(final) {
				return fmt.Errorf("n%d serves %d events, the majority acknowledged %d", i, len(evs), len(final))
			}
			for j := range evs {
				if !proto.Equal(evs[j], final[j]) {
					return fmt.Errorf("n%d: event seq %d differs from the majority's", i, j+1)
				}
			}
			return nil
		})
	}
}

// readLog reads a session's whole log. NB: a watch with until_idle stops
// after the page holding the first event that ends work, so a log with
// several generations is read in several watches.
func readLog(ctx context.Context, client stichv1connect.SessionServiceClient, id string) ([]*stichv1.SessionEvent, error) {
	g, err := client.GetSession(ctx, connect.NewRequest(&stichv1.GetSessionRequest{SessionId: id}))
	if err != nil {
		return nil, err
	}
	last := g.Msg.GetSession().GetLastSeq()
	var evs []*stichv1.SessionEvent
	var after uint64 // the last seq read: a compacted log has gaps and a seq-0 notice
	for after < last {
		n := len(evs)
		_, err := follow(ctx, client, id, after, func(ev *stichv1.SessionEvent) {
			evs = append(evs, ev)
			after = max(after, ev.GetSeq())
		})
		if err != nil {
			return evs, err
		}
		if len(evs) == n {
			return evs, fmt.Errorf("log of %s ends at %d, last seq is %d", id, n, last)
		}
	}
	return evs, nil
}
