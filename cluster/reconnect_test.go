package cluster

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"sync/atomic"
	"testing"
	"time"

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
	tc := &testCluster{t: t, nodes: map[string]*Node{}, dirs: map[string]string{}, rf: 1}
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
	t.Cleanup(func() {
		for _, n := range tc.nodes {
			n.Kill()
		}
	})
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
