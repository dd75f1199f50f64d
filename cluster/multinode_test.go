package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/hashicorp/memberlist"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stichdev/stich/internal/testutil"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// pcounter is a cross-node test grain: it counts AlarmFired calls durably
// and answers with an AlarmAck whose due seconds carry the count (any
// registered protobuf message would do; remote calls need one).
type pcounter struct {
	ref   *GrainRef
	count int64
}

func (c *pcounter) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		if v, err := c.ref.Store.Get("count"); err == nil {
			c.count, _ = strconv.ParseInt(string(v), 10, 64)
		}
	case *actorsv1.AlarmFired:
		if m.GetDue() == nil { // a nil due means "read"
			ctx.Respond(&actorsv1.PostMessageReply{Seq: uint64(c.count)})
			return
		}
		c.count++
		if err := c.ref.Store.Put("count", []byte(strconv.FormatInt(c.count, 10))); err != nil {
			ctx.Respond(&actorsv1.GrainError{Message: err.Error()})
			return
		}
		ctx.Respond(&actorsv1.PostMessageReply{Seq: uint64(c.count)})
	}
}

type testCluster struct {
	t     testing.TB
	nodes map[string]*Node
	dirs  map[string]string
	seed  string
	rf    int // Config.ReplicationFactor
	// logKind serves "counter" with logGrain instead of pcounter.
	logKind bool
	// pushPull, if set, is memberlist's state sync interval.
	pushPull time.Duration
	// forgetAfter is Config.ForgetFailedAfter.
	forgetAfter time.Duration
	// noWait: start does not wait for every node to see the new one (some
	// views are frozen).
	noWait bool
	// tls holds each node's TLS credential (nil: plaintext on loopback).
	tls map[string]*TLS
	// logs, if set, receives every node's log.
	logs io.Writer
	// kind, if set, is the kind every node serves (instead of "counter").
	kind func(name string) Kind
	// onAlarm, if set, is Config.OnAlarm (alarms fire at once on start).
	onAlarm AlarmFunc
	// configure, if set, edits each node's configuration last.
	configure func(name string, cfg *Config)
	// detectsFailures: the test kills or cuts off a member and waits for
	// the others to declare it failed, so failure detection is fast
	// (suspicion 3 s instead of 6 s; see start).
	detectsFailures bool
}

// newTestCluster starts nodes without replication (R = 1: storage moves
// with ownership), with slow failure detection (no member fails); see
// newReplicatedCluster.
func newTestCluster(t *testing.T, names ...string) *testCluster {
	return newClusterR(t, 1, names...)
}

func newClusterR(t *testing.T, rf int, names ...string) *testCluster {
	return startCluster(&testCluster{t: t, nodes: map[string]*Node{}, dirs: map[string]string{}, rf: rf}, names...)
}

// startCluster starts the named nodes of tc (each is killed when the
// test ends: see start).
func startCluster(tc *testCluster, names ...string) *testCluster {
	for _, name := range names {
		tc.start(name)
	}
	return tc
}

func (tc *testCluster) start(name string) *Node {
	tc.t.Helper()
	cfg := DefaultLocalConfig()
	cfg.Name = name
	if tc.dirs[name] == "" {
		tc.dirs[name] = tc.t.TempDir()
	}
	cfg.DataDir = tc.dirs[name]
	cfg.ReplicationFactor = tc.rf
	cfg.ForgetFailedAfter = tc.forgetAfter
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if tc.logs != nil {
		cfg.Logger = slog.New(slog.NewTextHandler(tc.logs, nil)).With("test_node", name)
	}
	cfg.TLS = tc.tls[name]
	cfg.Gossip.Name = name
	// Failure detection. Under -race on a loaded machine (CI runs this
	// package beside others; a load average of 20 to 30 on 2 cores here)
	// the nodes of a test, all in this one process, can be slow together
	// to answer probes and to refute suspicions. With this helper's old
	// settings (probe 200 ms, suspicion 0.6 s once a second member
	// confirmed it) live members were declared failed: their grains
	// moved, 3 s call deadlines expired, and tests failed (among them
	// TestClusterRoutesToOneOwner, which kills no one). A member is
	// declared failed when it has not refuted a suspicion within
	// SuspicionMult × ProbeInterval (with SuspicionMult 6 and fewer than
	// 6 members, memberlist waits that long whatever others confirm),
	// so:
	//   - by default no member is meant to fail: suspicion 6 s;
	//   - a test that kills or cuts off a member and waits for its
	//     failure (detectsFailures): suspicion 3 s; a killed member
	//     should be declared failed within about 4.5 s on a quiet
	//     machine (its first probe within 2 probe intervals, 0.5 s to
	//     fail it, then the suspicion), and those tests wait for it for
	//     a minute or more.
	// (memberlist's awareness also stretches a struggling node's probe
	// interval and timeout, up to 8x, while it misses acks.)
	if tc.detectsFailures {
		fastDetection(cfg.Gossip)
	} else {
		slowDetection(cfg.Gossip)
	}
	if tc.pushPull > 0 {
		cfg.Gossip.PushPullInterval = tc.pushPull
	}
	if tc.seed != "" {
		// Join through every running member: each learns of the new one
		// at once, instead of by gossip (UDP, lossy under load).
		for _, other := range tc.nodes {
			if other.Name() != name {
				cfg.Join = append(cfg.Join, other.GossipAddr())
			}
		}
		if len(cfg.Join) == 0 {
			cfg.Join = []string{tc.seed}
		}
	}
	newGrain := func(ref *GrainRef) actor.Actor { return &pcounter{ref: ref} }
	if tc.logKind {
		newGrain = func(ref *GrainRef) actor.Actor { return &logGrain{ref: ref} }
	}
	kind := Kind{Name: "counter", New: newGrain}
	if tc.logKind {
		kind.Reads = func(msg any) bool {
			switch m := msg.(type) {
			case *actorsv1.AlarmFired:
				return m.GetDue() == nil
			case *actorsv1.ReadFile:
				return true
			}
			return false
		}
	}
	if tc.kind != nil {
		kind = tc.kind(name)
	}
	if tc.onAlarm != nil {
		cfg.OnAlarm, cfg.AlarmsFireOnStart = tc.onAlarm, true
	}
	if tc.configure != nil {
		tc.configure(name, &cfg)
	}
	n, err := Start(context.Background(), cfg, []Kind{kind})
	if err != nil {
		tc.t.Fatal(err)
	}
	// NB: registered after the data folder's TempDir, so it runs before
	// the folder is removed (cleanups run last-in first-out): removing
	// the folder of a running store fails the test when Pebble writes a
	// file meanwhile ("directory not empty"). Kill is idempotent.
	tc.t.Cleanup(n.Kill)
	if tc.seed == "" {
		tc.seed = n.provider.GossipAddr()
	}
	tc.nodes[name] = n
	if !tc.noWait {
		tc.waitMembers(len(tc.nodes))
	}
	return n
}

// slowDetection sets the failure detection of a test in which no member
// is meant to fail: a member that refutes a suspicion within 6 s is not
// declared failed (see testCluster.start).
func slowDetection(g *memberlist.Config) {
	g.ProbeInterval = time.Second
	g.ProbeTimeout = 500 * time.Millisecond
	g.SuspicionMult = 6
}

// fastDetection sets the failure detection of a test that kills or cuts
// off a member and waits for the others to declare it failed: suspicion
// 3 s (see testCluster.start).
func fastDetection(g *memberlist.Config) {
	g.ProbeInterval = 500 * time.Millisecond
	g.ProbeTimeout = 250 * time.Millisecond
	g.SuspicionMult = 6
}

// waitMembers waits until every node sees want live members (generous:
// a failure takes a few seconds to detect, more on a loaded machine).
func (tc *testCluster) waitMembers(want int) {
	tc.t.Helper()
	testutil.WaitFor(tc.t, 90*time.Second, func() error {
		for name, n := range tc.nodes {
			if got := len(n.currentView().live); got != want {
				return fmt.Errorf("%s sees %d live members, want %d", name, got, want)
			}
		}
		return nil
	})
}

// call increments (incr) or reads the counter id through n. Its deadline
// is generous: on a loaded machine under -race a call that queues behind
// others (a replicated write syncs to disk on a majority) can take
// seconds (3 s deadlines expired); no test here is about how long a call
// takes.
func (tc *testCluster) call(n *Node, id string, incr bool) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	msg := &actorsv1.AlarmFired{}
	if incr {
		msg.Due = nowProto()
	}
	res, err := n.Request(ctx, "counter", id, msg)
	if err != nil {
		return 0, err
	}
	r, ok := res.(*actorsv1.PostMessageReply)
	if !ok {
		return 0, fmt.Errorf("reply %T %v", res, res)
	}
	return r.GetSeq(), nil
}

func TestClusterRoutesToOneOwner(t *testing.T) {
	tc := newTestCluster(t, "a", "b", "c")
	nodes := []*Node{tc.nodes["a"], tc.nodes["b"], tc.nodes["c"]}
	// Every node agrees on every owner.
	for i := 0; i < 200; i++ {
		id := fmt.Sprintf("g%d", i)
		o, _ := nodes[0].Owner("counter", id)
		for _, n := range nodes[1:] {
			if o2, _ := n.Owner("counter", id); o2 != o {
				t.Fatalf("%s: owner %s on a, %s on %s", id, o, o2, n.Name())
			}
		}
	}
	// Concurrent increments from every node land on one activation.
	var wg sync.WaitGroup
	for _, n := range nodes {
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := tc.call(n, "shared", true); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	got, err := tc.call(nodes[1], "shared", false)
	if err != nil || got != 60 {
		t.Fatalf("count = %d, %v; want 60", got, err)
	}
	active := 0
	for _, n := range nodes {
		active += n.GrainCounts()["counter"]
	}
	if active != 1 {
		t.Fatalf("%d activations of one grain across the cluster", active)
	}
}

func TestClusterJoinLeaveMovesStorage(t *testing.T) {
	tc := newTestCluster(t, "a", "b")
	const grains = 40
	for i := 0; i < grains; i++ {
		for j := 0; j <= i%3; j++ {
			if _, err := tc.call(tc.nodes["a"], fmt.Sprintf("g%d", i), true); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(via *Node) {
		t.Helper()
		for i := 0; i < grains; i++ {
			got, err := tc.call(via, fmt.Sprintf("g%d", i), false)
			if err != nil || got != uint64(i%3+1) {
				t.Fatalf("g%d via %s = %d, %v; want %d", i, via.Name(), got, err, i%3+1)
			}
		}
	}
	// A third node joins: the grains it now owns move to it, intact.
	c := tc.start("c")
	check(c)
	owned := 0
	for i := 0; i < grains; i++ {
		if o, _ := c.Owner("counter", fmt.Sprintf("g%d", i)); o == "c" {
			owned++
			gs, _ := c.Store().Grain("counter", fmt.Sprintf("g%d", i))
			if ok, _ := gs.Exists(); !ok {
				t.Fatalf("g%d is owned by c but not stored there", i)
			}
		}
	}
	if owned == 0 {
		t.Fatal("c owns none of the grains; the test proves nothing")
	}
	// b leaves gracefully: everything it held moves; nothing is lost.
	if err := tc.nodes["b"].Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	delete(tc.nodes, "b")
	tc.waitMembers(2)
	check(tc.nodes["a"])
	check(c)
	for name, n := range tc.nodes {
		_ = n.Store().Grains(func(kind, id string) error {
			if o, _ := n.Owner(kind, id); o != name {
				t.Errorf("%s stores %s, owned by %s", name, id, o)
			}
			return nil
		})
	}
}

func TestClusterCrashedOwnerIsUnavailableThenReturns(t *testing.T) {
	tc := startCluster(&testCluster{t: t, nodes: map[string]*Node{}, dirs: map[string]string{}, rf: 1, detectsFailures: true}, "a", "b", "c")
	var onC, onA string
	for i := 0; onC == "" || onA == ""; i++ {
		id := fmt.Sprintf("g%d", i)
		switch o, _ := tc.nodes["a"].Owner("counter", id); o {
		case "c":
			onC = id
		case "a":
			onA = id
		}
	}
	for _, id := range []string{onC, onA} {
		if _, err := tc.call(tc.nodes["b"], id, true); err != nil {
			t.Fatal(err)
		}
	}
	tc.nodes["c"].Kill()
	delete(tc.nodes, "c")
	tc.waitMembers(2)
	// c's grain must not start empty on a survivor.
	_, err := tc.call(tc.nodes["a"], onC, false)
	var ue *UnavailableError
	if !errors.As(err, &ue) || ue.Node != "c" {
		t.Fatalf("grain of the crashed node: %v, want UnavailableError naming c", err)
	}
	// Survivors keep serving their own grains, and new grains.
	if got, err := tc.call(tc.nodes["b"], onA, true); err != nil || got != 2 {
		t.Fatalf("survivor's grain: %d, %v", got, err)
	}
	// c restarts with its data: its grain is back, intact.
	tc.start("c")
	if got, err := tc.call(tc.nodes["a"], onC, false); err != nil || got != 1 {
		t.Fatalf("after c returned: %d, %v", got, err)
	}
}

func nowProto() *timestamppb.Timestamp { return timestamppb.Now() }
