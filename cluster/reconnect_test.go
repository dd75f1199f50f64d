package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/hashicorp/memberlist"

	"github.com/stichdev/stich/internal/testutil"
)

// gossipCut partitions the gossip of in-process nodes: every node's
// memberlist transport (a real NetTransport on loopback) drops what it
// sends to a node on the other side, UDP packets silently and TCP dials
// with an error, as a cut network would. Both sides drop, so nothing
// crosses either way.
type gossipCut struct {
	sides atomic.Pointer[map[string]int] // gossip addr -> side; nil: healed
}

func (g *gossipCut) cut(sides map[string]int) { g.sides.Store(&sides) }
func (g *gossipCut) heal()                    { g.sides.Store(nil) }

func (g *gossipCut) blocked(from, to string) bool {
	m := g.sides.Load()
	return m != nil && (*m)[from] != (*m)[to]
}

// cutTransport is one node's transport under a gossipCut.
type cutTransport struct {
	*memberlist.NetTransport
	cut  *gossipCut
	self string // this node's gossip addr
}

var errCut = errors.New("test partition: no route to host")

func (t *cutTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	if t.cut.blocked(t.self, addr) {
		return time.Now(), nil // lost on the way
	}
	return t.NetTransport.WriteTo(b, addr)
}

func (t *cutTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	if t.cut.blocked(t.self, a.Addr) {
		return time.Now(), nil
	}
	return t.NetTransport.WriteToAddress(b, a)
}

func (t *cutTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	if t.cut.blocked(t.self, addr) {
		return nil, errCut
	}
	return t.NetTransport.DialTimeout(addr, timeout)
}

func (t *cutTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if t.cut.blocked(t.self, a.Addr) {
		return nil, errCut
	}
	return t.NetTransport.DialAddressTimeout(a, timeout)
}

// TestPartitionPastDeadTimeHeals cuts one node off from the other two
// until each side's memberlist has given the other up (declared it dead
// and, past GossipToTheDeadTime, dropped it: memberlist alone would never
// contact it again), then heals the network: the provider's reconnect
// loop merges the sides, and every node sees all three members live and
// none failed.
func TestPartitionPastDeadTimeHeals(t *testing.T) {
	var cut gossipCut
	addrs := map[string]string{} // node name -> gossip addr
	tc := &testCluster{t: t, nodes: map[string]*Node{}, dirs: map[string]string{}, rf: 1, detectsFailures: true}
	tc.configure = func(name string, cfg *Config) {
		nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
			BindAddrs: []string{cfg.Gossip.BindAddr}, Logger: log.New(io.Discard, "", 0)})
		if err != nil {
			t.Fatal(err)
		}
		port := nt.GetAutoBindPort()
		cfg.Gossip.BindPort, cfg.Gossip.AdvertisePort = port, port
		addrs[name] = net.JoinHostPort(cfg.Gossip.BindAddr, fmt.Sprint(port))
		cfg.Gossip.Transport = &cutTransport{NetTransport: nt, cut: &cut, self: addrs[name]}
		// memberlist drops a dead member from its list after this; the
		// reconnect interval is a third of it (1 s at least).
		cfg.Gossip.GossipToTheDeadTime = time.Second
	}
	for _, name := range []string{"a", "b", "c"} {
		tc.start(name)
	}

	cut.cut(map[string]int{addrs["a"]: 1, addrs["b"]: 1, addrs["c"]: 2})
	// Each side sees the other fail and holds it failed for three times
	// GossipToTheDeadTime: its memberlist has dropped the other side by
	// then (it reaps the dead past that time at its next probe round,
	// every few hundred milliseconds) and would never contact it again.
	const hold = 3 * time.Second
	sees := func(name string, live int) error {
		n := tc.nodes[name]
		if got := len(n.currentView().live); got != live {
			return fmt.Errorf("%s sees %d live members, want %d", name, got, live)
		}
		return nil
	}
	failedLongEnough := func(name string, want int) error {
		p := tc.nodes[name].provider
		p.mu.Lock()
		defer p.mu.Unlock()
		if len(p.failedAt) != want {
			return fmt.Errorf("%s sees %d members failed, want %d", name, len(p.failedAt), want)
		}
		for m, at := range p.failedAt {
			if since := time.Since(at); since < hold {
				return fmt.Errorf("%s has seen %s failed for %s only", name, m, since)
			}
		}
		return nil
	}
	testutil.WaitFor(t, 90*time.Second, func() error {
		return errors.Join(sees("a", 2), sees("b", 2), sees("c", 1),
			failedLongEnough("a", 1), failedLongEnough("b", 1), failedLongEnough("c", 2))
	})

	cut.heal()
	testutil.WaitFor(t, 90*time.Second, func() error {
		var errs []error
		for _, name := range []string{"a", "b", "c"} {
			errs = append(errs, sees(name, 3))
			if f := tc.nodes[name].provider.Failed(); len(f) > 0 {
				errs = append(errs, fmt.Errorf("%s still has %d failed members", name, len(f)))
			}
		}
		return errors.Join(errs...)
	})
}

// TestReconnectLeavesRefusedMemberOut: a failed member whose address now
// answers for its name but fails the admission check (it restarted with
// another cluster's CA) stays out, and the reconnect loop tries it at
// doubling intervals (2 s, 4 s, 8 s, ...), saying so once at Warn.
func TestReconnectLeavesRefusedMemberOut(t *testing.T) {
	issue := testCA(t, "cluster-ca")
	logs := &syncBuffer{}
	tc := &testCluster{t: t, nodes: map[string]*Node{}, dirs: map[string]string{}, rf: 1, logs: logs, detectsFailures: true,
		tls: map[string]*TLS{"a": issue("a"), "b": issue("b"), "c": issue("c")}}
	tc.configure = func(name string, cfg *Config) { cfg.Gossip.GossipToTheDeadTime = time.Second } // reconnect every 1 s
	for _, name := range []string{"a", "b", "c"} {
		tc.start(name)
	}
	_, port, err := net.SplitHostPort(tc.nodes["c"].GossipAddr())
	if err != nil {
		t.Fatal(err)
	}
	tc.nodes["c"].Kill()
	delete(tc.nodes, "c")
	// Hold c's gossip port until the foreign c takes it (other tests on
	// this machine bind ports too).
	hold := holdPort(t, "127.0.0.1:"+port)
	tc.waitMembers(2)
	hold()

	// c again, at its gossip address, with a certificate of another CA.
	cfg := DefaultLocalConfig()
	cfg.Name, cfg.DataDir, cfg.TLS, cfg.ReplicationFactor = "c", t.TempDir(), testCA(t, "other-ca")("c"), 1
	cfg.Gossip.BindPort, _ = strconv.Atoi(port)
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil)).With("test_node", "c-foreign")
	foreign, err := Start(context.Background(), cfg, []Kind{{Name: "counter", New: func(ref *GrainRef) actor.Actor { return &pcounter{ref: ref} }}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(foreign.Kill)

	// Its third answered try (1 s, then 2 s and 4 s later) is the one
	// logged at Warn, with the next 8 s away.
	testutil.WaitFor(t, 90*time.Second, func() error {
		for _, name := range []string{"a", "b"} {
			found := false
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, "level=WARN") && strings.Contains(l, "answers but did not re-join") &&
					strings.Contains(l, "test_node="+name+" member=c ") && strings.Contains(l, "tries=3 next_try_in=8s") {
					found = true
				}
			}
			if !found {
				return fmt.Errorf("%s has not logged its third refused re-join of c", name)
			}
		}
		return nil
	})
	for _, name := range []string{"a", "b"} {
		for _, m := range tc.nodes[name].Members() {
			if m.Name == "c" {
				t.Fatalf("%s lists the foreign c as a member", name)
			}
		}
		if !slices.ContainsFunc(tc.nodes[name].provider.Failed(), func(m NodeMeta) bool { return m.Name == "c" }) {
			t.Fatalf("%s's failed members: %v, want c's old incarnation among them", name, tc.nodes[name].provider.Failed())
		}
	}
	if got := len(foreign.Members()); got != 1 {
		t.Fatalf("the foreign c lists %d members, want itself alone", got)
	}
	// Exactly one Warn per member: the other tries are at Debug.
	t.Logf("admission refusals logged: %d", strings.Count(logs.String(), "refused a member"))
	n := 0
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "answers but did not re-join") && strings.Contains(l, " member=c ") {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d Warn lines about c's refused re-joins, want 2 (one from a, one from b):\n%s", n, logs.String())
	}
}

// holdPort binds addr (TCP and UDP) until the returned func is called.
func holdPort(t *testing.T, addr string) (release func()) {
	t.Helper()
	var ln net.Listener
	var pc net.PacketConn
	testutil.WaitFor(t, 10*time.Second, func() error { // the closed node's sockets may linger a moment
		var err error
		if ln == nil {
			if ln, err = net.Listen("tcp", addr); err != nil {
				return err
			}
		}
		pc, err = net.ListenPacket("udp", addr)
		return err
	})
	return func() {
		ln.Close()
		pc.Close()
	}
}
