package cluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/stichdev/stich/internal/testutil"
)

// testCA makes a cluster CA and returns a function issuing credentials
// signed by it.
func testCA(t *testing.T, name string) func(node string) *TLS {
	t.Helper()
	caCert, caKey, err := NewCA(CertOptions{Name: name, ValidFor: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return func(node string) *TLS {
		cert, key, err := NewNodeCert(CertOptions{Name: node, Hosts: []string{"127.0.0.1"}, ValidFor: time.Hour}, caCert, caKey)
		if err != nil {
			t.Fatal(err)
		}
		c, err := NewTLS(cert, key, caCert)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestMTLSClusterReplicates runs 3 nodes with R = 3 on mutual TLS: calls
// routed between nodes (actor remoting) and replicated writes (the
// replication stream) work, and every node holds every acknowledged write.
func TestMTLSClusterReplicates(t *testing.T) {
	issue := testCA(t, "test-ca")
	tc := &testCluster{t: t, nodes: map[string]*Node{}, dirs: map[string]string{}, rf: 3, logKind: true,
		tls: map[string]*TLS{"a": issue("a"), "b": issue("b"), "c": issue("c")}}
	for _, name := range []string{"a", "b", "c"} {
		tc.start(name)
	}
	ids := []string{"g1", "g2", "g3", "g4", "g5", "g6"}
	want := map[string]uint64{}
	for round := 0; round < 5; round++ {
		for i, id := range ids {
			via := tc.nodes[[]string{"a", "b", "c"}[(i+round)%3]]
			seq, err := appendVia(via, id)
			if err != nil {
				t.Fatalf("append %s via %s: %v", id, via.Name(), err)
			}
			want[id] = seq
		}
	}
	for _, id := range ids {
		if want[id] != 5 {
			t.Fatalf("%s: last acknowledged seq %d, want 5", id, want[id])
		}
		for _, n := range tc.nodes {
			checkLog(t, n, id, want[id])
		}
	}
}

// TestForeignCARefused starts a node whose certificate comes from another
// CA against a TLS cluster: its start fails saying why, the members log
// that they refused it, and it cannot open a replication stream to them.
func TestForeignCARefused(t *testing.T) {
	issue := testCA(t, "cluster-ca")
	foreign := testCA(t, "other-ca")("x")
	logs := &syncBuffer{}
	tc := &testCluster{t: t, nodes: map[string]*Node{}, dirs: map[string]string{}, rf: 3, logKind: true, logs: logs,
		tls: map[string]*TLS{"a": issue("a"), "b": issue("b")}}
	tc.start("a")
	tc.start("b")

	cfg := DefaultLocalConfig()
	cfg.Name, cfg.DataDir, cfg.TLS, cfg.ReplicationFactor = "x", t.TempDir(), foreign, 3
	cfg.Join = []string{tc.nodes["a"].GossipAddr()}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil)).With("test_node", "x")
	kinds := []Kind{{Name: "counter", New: func(ref *GrainRef) actor.Actor { return &logGrain{ref: ref} }}}
	n, err := Start(context.Background(), cfg, kinds)
	if err == nil {
		n.Kill()
		t.Fatal("a node with a foreign CA started and joined")
	}
	if !errors.Is(err, ErrJoinRefused) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("start error = %v, want a join refused for its certificate", err)
	}
	t.Logf("x's start failed: %v", err)
	// a, the member x contacted, says why it refused x (b never hears of
	// x: a does not gossip a member it did not admit).
	testutil.WaitFor(t, 60*time.Second, func() error {
		l := logs.String()
		if !strings.Contains(l, "refused a member: it failed the cluster's admission check\" test_node=a member=x") ||
			!strings.Contains(l, "certificate signed by unknown authority") {
			return errors.New("a has not logged refusing x:\n" + l)
		}
		return nil
	})
	for _, member := range []string{"a", "b"} {
		for _, m := range tc.nodes[member].Members() {
			if m.Name == "x" {
				t.Fatalf("%s lists x as a member", member)
			}
		}
	}
	// x's credential opens no replication stream either.
	d := tls.Dialer{Config: foreign.ClientConfig()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", tc.nodes["a"].repl.tr.addr())
	if err == nil {
		c.Close()
		t.Fatal("a foreign certificate completed a TLS handshake with the replication listener")
	}
	t.Logf("replication listener refused x: %v", err)
	// Nor a connection to the actor remote (which carries ReplicaInstall),
	// even from a client that does not check the server at all: the
	// server refuses x's certificate.
	blind := foreign.ClientConfig()
	blind.VerifyConnection = nil
	blind.NextProtos = []string{"h2"}
	if err := (&TLS{cert: foreign.cert, roots: foreign.roots}).dialActor(ctx, tc.nodes["a"].System().Address(), blind); err == nil {
		t.Fatal("the actor remote accepted a foreign certificate")
	} else {
		t.Logf("actor remote refused x: %v", err)
	}
}

// TestPlaintextOnlyOnLoopback: without TLS, every address the node
// listens on or joins must be loopback.
func TestPlaintextOnlyOnLoopback(t *testing.T) {
	creds := testCA(t, "ca")("n")
	for name, tc := range map[string]struct {
		edit    func(*Config)
		refused bool
	}{
		"loopback":             {func(*Config) {}, false},
		"actor on every iface": {func(c *Config) { c.ActorAddr = "0.0.0.0:0" }, true},
		"gossip on a LAN addr": {func(c *Config) { c.Gossip.BindAddr = "10.1.2.3" }, true},
		"advertised LAN addr":  {func(c *Config) { c.Gossip.AdvertiseAddr = "10.1.2.3" }, true},
		"replication on LAN":   {func(c *Config) { c.ReplicationAddr = "10.1.2.3:0" }, true},
		"join a LAN member":    {func(c *Config) { c.Join = []string{"10.1.2.3:7946"} }, true},
		"localhost join":       {func(c *Config) { c.Join = []string{"localhost:7946"} }, false},
		"LAN with TLS":         {func(c *Config) { c.ActorAddr, c.Gossip.BindAddr, c.TLS = "0.0.0.0:0", "10.1.2.3", creds }, false},
	} {
		cfg := DefaultLocalConfig()
		cfg.Name, cfg.InMemory = "n", true
		tc.edit(&cfg)
		err := cfg.Validate()
		if got := errors.Is(err, ErrPlaintext); got != tc.refused {
			t.Errorf("%s: Validate() = %v, want refused %v", name, err, tc.refused)
		}
	}
}
