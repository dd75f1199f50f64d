package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/hashicorp/memberlist"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/cluster"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// startPeer starts one node of a benchmark cluster serving "echo"
// (ephemeral) and "counter" (durable) grains, without replication (R = 1:
// these benchmarks measure routing, failover of the owner and hand-off).
func startPeer(b *testing.B, name, join string, gossip *memberlist.Config) *cluster.Node {
	return startPeerR(b, name, join, gossip, 1)
}

// startPeerR is startPeer with replication factor rf.
func startPeerR(b *testing.B, name, join string, gossip *memberlist.Config, rf int) *cluster.Node {
	b.Helper()
	return startPeerTLS(b, name, join, gossip, rf, nil)
}

// startPeerTLS is startPeerR with the cluster transports on mutual TLS
// with creds (nil: plaintext).
func startPeerTLS(b *testing.B, name, join string, gossip *memberlist.Config, rf int, creds *cluster.TLS) *cluster.Node {
	b.Helper()
	cfg := cluster.DefaultLocalConfig()
	cfg.ReplicationFactor = rf
	cfg.TLS = creds
	if gossip != nil {
		cfg.Gossip = gossip
	}
	cfg.Name, cfg.DataDir = name, b.TempDir()
	cfg.Gossip.BindAddr, cfg.Gossip.BindPort, cfg.Gossip.AdvertisePort = "127.0.0.1", 0, 0
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if join != "" {
		cfg.Join = []string{join}
	}
	n, err := cluster.Start(context.Background(), cfg, []cluster.Kind{
		{Name: "echo", Ephemeral: true, New: func(*cluster.GrainRef) actor.Actor { return echo{} }},
		{Name: "counter", New: func(ref *cluster.GrainRef) actor.Actor { return &counter{ref: ref} }},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { n.Kill() })
	return n
}

// counter is a durable grain with one key.
type counter struct {
	ref *cluster.GrainRef
	n   int
}

func (c *counter) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		if v, err := c.ref.Store.Get("n"); err == nil {
			c.n, _ = strconv.Atoi(string(v))
		}
	case *actorsv1.AlarmFired:
		if err := c.ref.Store.Put("n", []byte(strconv.Itoa(c.n+1))); err != nil {
			// A write that was not acknowledged must not count as one.
			ctx.Respond(&actorsv1.GrainError{Message: err.Error()})
			return
		}
		c.n++
		ctx.Respond(&actorsv1.AlarmAck{})
	}
}

func waitSize(b *testing.B, want int, nodes ...*cluster.Node) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok := true
		for _, n := range nodes {
			if len(n.Members()) != want {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("cluster did not reach %d members", want)
		}
		<-time.After(10 * time.Millisecond)
	}
}

// idOwnedBy returns an identity of kind whose owner is node name.
func idOwnedBy(n *cluster.Node, kind, name string) string {
	for i := 0; ; i++ {
		id := fmt.Sprintf("%s-%d", kind, i)
		if o, _ := n.Owner(kind, id); o == name {
			return id
		}
	}
}

// BenchmarkCrossNodeCall compares a grain call routed by stich from node a
// to the grain's owner b (activator forward, typed payload) with a bare
// protoactor-go remote request from a to an actor on b; with 1 and 64
// concurrent callers.
func BenchmarkCrossNodeCall(b *testing.B) {
	a := startPeer(b, "a", "", nil)
	bn := startPeer(b, "b", a.GossipAddr(), nil)
	waitSize(b, 2, a, bn)
	id := idOwnedBy(a, "echo", "b")
	remote := bn.System().Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return echo{} }))
	msg := &actorsv1.AlarmFired{}
	if _, err := actors.Call[*actorsv1.AlarmAck](context.Background(), a, "echo", id, msg); err != nil {
		b.Fatal(err)
	}
	for _, callers := range []int{1, 64} {
		b.Run(fmt.Sprintf("callers=%d/stich", callers), func(b *testing.B) {
			// Each caller has its own context, as each RPC handler does.
			runCallers(b, callers, func() func() error {
				ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
				b.Cleanup(cancel)
				return func() error {
					_, err := actors.Call[*actorsv1.AlarmAck](ctx, a, "echo", id, msg)
					return err
				}
			})
		})
		b.Run(fmt.Sprintf("callers=%d/reference", callers), func(b *testing.B) {
			runCallers(b, callers, func() func() error {
				return func() error {
					_, err := a.System().Root.RequestFuture(remote, msg, time.Hour).Result()
					return err
				}
			})
		})
	}
}

// BenchmarkMTLSCrossNodeCall compares a grain call routed from node a to
// its owner b in a cluster whose transports run on mutual TLS with the
// same call in a plaintext cluster, both started in this run; with 1 and
// 64 concurrent callers. Each operation is one call of each kind, in
// alternating order, each timed on its own: the machine's load (other
// processes) then weighs on both alike, which separate sub-benchmarks run
// one after the other do not give. Reports mtls-ns and plain-ns (mean per
// call) and mtls-x, their ratio (`make bench` checks it against 1.15).
func BenchmarkMTLSCrossNodeCall(b *testing.B) {
	caCert, caKey, err := cluster.NewCA(cluster.CertOptions{Name: "bench-ca", ValidFor: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	creds := func(name string) *cluster.TLS {
		cert, key, err := cluster.NewNodeCert(cluster.CertOptions{Name: name, ValidFor: time.Hour}, caCert, caKey)
		if err != nil {
			b.Fatal(err)
		}
		t, err := cluster.NewTLS(cert, key, caCert)
		if err != nil {
			b.Fatal(err)
		}
		return t
	}
	pair := func(prefix string, tls func(string) *cluster.TLS) (*cluster.Node, string) {
		a := startPeerTLS(b, prefix+"a", "", nil, 1, tls(prefix+"a"))
		bn := startPeerTLS(b, prefix+"b", a.GossipAddr(), nil, 1, tls(prefix+"b"))
		waitSize(b, 2, a, bn)
		id := idOwnedBy(a, "echo", prefix+"b")
		if _, err := actors.Call[*actorsv1.AlarmAck](context.Background(), a, "echo", id, &actorsv1.AlarmFired{}); err != nil {
			b.Fatal(err)
		}
		return a, id
	}
	tlsA, tlsID := pair("tls-", creds)
	plainA, plainID := pair("plain-", func(string) *cluster.TLS { return nil })
	msg := &actorsv1.AlarmFired{}
	for _, callers := range []int{1, 64} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			var tlsNs, plainNs, calls atomic.Int64
			runCallers(b, callers, func() func() error {
				ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
				b.Cleanup(cancel)
				turn := 0
				timed := func(a *cluster.Node, id string, sum *atomic.Int64) error {
					start := time.Now()
					_, err := actors.Call[*actorsv1.AlarmAck](ctx, a, "echo", id, msg)
					sum.Add(int64(time.Since(start)))
					return err
				}
				return func() error {
					turn++
					calls.Add(1)
					if turn%2 == 0 {
						return errors.Join(timed(tlsA, tlsID, &tlsNs), timed(plainA, plainID, &plainNs))
					}
					return errors.Join(timed(plainA, plainID, &plainNs), timed(tlsA, tlsID, &tlsNs))
				}
			})
			n := float64(calls.Load())
			b.ReportMetric(float64(tlsNs.Load())/n, "mtls-ns")
			b.ReportMetric(float64(plainNs.Load())/n, "plain-ns")
			b.ReportMetric(float64(tlsNs.Load())/float64(plainNs.Load()), "mtls-x")
		})
	}
}

func runCallers(b *testing.B, callers int, newCaller func() func() error) {
	if callers == 1 {
		call := newCaller()
		for i := 0; i < b.N; i++ {
			if err := call(); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	b.SetParallelism(callers / 2) // GOMAXPROCS is 2 here
	b.RunParallel(func(pb *testing.PB) {
		call := newCaller()
		for pb.Next() {
			if err := call(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

// BenchmarkFailover kills the owner of a grain and measures the time until
// a survivor's first successful call on it, next to the time memberlist
// took to declare the node dead in the same run: an ephemeral grain
// without replication, with the local (tuned) profile and memberlist's LAN
// profile; and a durable grain with replication factor 3 (the new owner
// claims an epoch from the surviving replicas and catches up), with the
// local profile.
func BenchmarkFailover(b *testing.B) {
	profiles := map[string]func() *memberlist.Config{
		"local": func() *memberlist.Config { return cluster.DefaultLocalConfig().Gossip },
		"lan":   func() *memberlist.Config { return cluster.DefaultLANConfig().Gossip },
	}
	cases := []struct {
		name, profile, kind string
		rf                  int
	}{
		{"profile=local", "local", "echo", 1},
		{"profile=lan", "lan", "echo", 1},
		{"profile=local/durable-r=3", "local", "counter", 3},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var detect, failover time.Duration
			for i := 0; i < b.N; i++ {
				a := startPeerR(b, "a", "", profiles[c.profile](), c.rf)
				n2 := startPeerR(b, "b", a.GossipAddr(), profiles[c.profile](), c.rf)
				n3 := startPeerR(b, "c", a.GossipAddr(), profiles[c.profile](), c.rf)
				waitSize(b, 3, a, n2, n3)
				id := idOwnedBy(a, c.kind, "c")
				if _, err := actors.Call[*actorsv1.AlarmAck](context.Background(), a, c.kind, id, &actorsv1.AlarmFired{}); err != nil {
					b.Fatal(err)
				}
				killed := time.Now()
				n3.Kill()
				detected := make(chan time.Duration, 1)
				go func() {
					for len(a.Members()) != 2 {
						<-time.After(time.Millisecond)
					}
					detected <- time.Since(killed)
				}()
				for {
					ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
					_, err := actors.Call[*actorsv1.AlarmAck](ctx, a, c.kind, id, &actorsv1.AlarmFired{})
					cancel()
					if err == nil {
						break
					}
				}
				failover += time.Since(killed)
				detect += <-detected
				a.Kill()
				n2.Kill()
			}
			b.ReportMetric(float64(detect.Milliseconds())/float64(b.N), "detect-ms")
			b.ReportMetric(float64(failover.Milliseconds())/float64(b.N), "failover-ms")
		})
	}
}

// BenchmarkDetection measures failure detection: 3 nodes, one killed
// abruptly, the time until both survivors count it failed; with stich's
// LAN profile (cluster.DefaultLANConfig) and, as the reference in the same
// run, memberlist's own LAN defaults, alternating per iteration. Run it
// with -benchtime Nx for N kills of each. Target (benchratio): the LAN
// profile's slowest detection ≤ 2,000 ms.
func BenchmarkDetection(b *testing.B) {
	profiles := []struct {
		name   string
		gossip func() *memberlist.Config
	}{
		{"lan", func() *memberlist.Config { return cluster.DefaultLANConfig().Gossip }},
		{"memberlist-lan", func() *memberlist.Config {
			g := memberlist.DefaultLANConfig()
			g.DeadNodeReclaimTime = 10 * time.Second // as stich's profiles: not a detection setting
			return g
		}},
	}
	sum := make([]time.Duration, len(profiles))
	worst := make([]time.Duration, len(profiles))
	runs := make([][]int64, len(profiles)) // ms, for the log
	for i := 0; i < b.N; i++ {
		for p, prof := range profiles {
			a := startPeer(b, "a", "", prof.gossip())
			n2 := startPeer(b, "b", a.GossipAddr(), prof.gossip())
			n3 := startPeer(b, "c", a.GossipAddr(), prof.gossip())
			waitSize(b, 3, a, n2, n3)
			killed := time.Now()
			n3.Kill()
			deadline := killed.Add(time.Minute)
			for len(a.Members()) != 2 || len(n2.Members()) != 2 {
				if time.Now().After(deadline) {
					b.Fatalf("%s: the killed member was not detected within a minute", prof.name)
				}
				<-time.After(time.Millisecond)
			}
			d := time.Since(killed)
			runs[p] = append(runs[p], d.Milliseconds())
			sum[p] += d
			worst[p] = max(worst[p], d)
			a.Kill()
			n2.Kill()
		}
	}
	for p, prof := range profiles {
		b.Logf("%s: %d kills detected in %v ms", prof.name, b.N, runs[p])
		b.ReportMetric(float64(sum[p].Milliseconds())/float64(b.N), prof.name+"-detect-ms")
		b.ReportMetric(float64(worst[p].Milliseconds()), prof.name+"-max-ms")
	}
}

// BenchmarkHandOff measures a graceful leave of a node storing 1,000
// durable grains: every grain's storage moves to the surviving member.
func BenchmarkHandOff(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		a := startPeer(b, "a", "", nil)
		leaver := startPeer(b, "b", a.GossipAddr(), nil)
		waitSize(b, 2, a, leaver)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		stored := 0
		for j := 0; stored < 1000; j++ {
			id := fmt.Sprintf("g%d", j)
			if o, _ := a.Owner("counter", id); o != "b" {
				continue
			}
			if _, err := actors.Call[*actorsv1.AlarmAck](ctx, a, "counter", id, &actorsv1.AlarmFired{}); err != nil {
				b.Fatal(err)
			}
			stored++
		}
		b.StartTimer()
		start := time.Now()
		if err := leaver.Leave(ctx); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms/1000grains")
		b.StopTimer()
		cancel()
		leaver.Kill()
		a.Kill()
	}
}
