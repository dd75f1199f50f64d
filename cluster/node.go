package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/hashicorp/memberlist"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// Config configures a [Node]. Start from [DefaultLocalConfig] (one machine,
// tests) or [DefaultLANConfig] (a data centre) and override what differs.
type Config struct {
	// Name is the operator-facing node name, shown in logs and status.
	// Default: the host name.
	Name string
	// Region and Zone place the node; grains may be pinned to a region.
	Region, Zone string
	// DataDir holds the node's Pebble store. Required unless InMemory.
	DataDir string
	// InMemory keeps storage in memory: nothing survives a restart (tests).
	InMemory bool
	// CacheSize is the store's block cache in bytes (0: 64 MiB).
	CacheSize int64
	// ActorAddr is host:port of the actor remoting listener; port 0 picks a
	// free port.
	ActorAddr string
	// Gossip configures memberlist: bind address, probe intervals,
	// encryption key. Its BindPort 0 picks a free port.
	Gossip *memberlist.Config
	// Join lists gossip host:port addresses of existing members.
	Join []string
	// PassivateAfter is how long an idle grain stays in memory (duration).
	PassivateAfter time.Duration
	// CallTimeout bounds a grain call whose context has no deadline.
	CallTimeout time.Duration
	// DrainTimeout bounds how long Shutdown waits for grains to stop.
	DrainTimeout time.Duration
	// OnAlarm delivers due alarms to grains; nil disables alarms.
	OnAlarm AlarmFunc
	// AlarmsFireOnStart fires every alarm persisted before the node
	// started right away rather than at its due time: for grains whose
	// alarm is a watchdog of interrupted work, a restart is exactly when
	// the work was interrupted.
	AlarmsFireOnStart bool
	// ReplicationFactor R is how many members hold a copy of each durable
	// grain's storage: its owner and the next R-1 members in rendezvous
	// order (docs/replication.md). A write is acknowledged once a majority
	// of the R copies are synced, so any (R-1)/2 nodes may fail. Odd, 1 to
	// 7. With 1, storage moves with ownership instead and a crashed owner's
	// durable grains are unavailable until it returns. A node that has
	// never seen another member replicates nothing whatever R is.
	ReplicationFactor int
	// ReplicationAddr is host:port of the listener for replicated writes
	// from other members (with ReplicationFactor > 1). Empty: the host of
	// ActorAddr, port 0 (a free port; members learn it by gossip).
	ReplicationAddr string
	// ForgetFailedAfter, if positive, makes the node forget a member that
	// has been failed (gone without a graceful leave) this long, as
	// [Node.Forget] does on an operator's request: it leaves the replica
	// sets and anti-entropy copies its grains to their new sets. 0 (the
	// default in every profile) never forgets on its own. NB: during a
	// partition longer than this, each side forgets the other and shrinks
	// its replica sets to its own members, so both sides may accept writes
	// of the same grain; set it only well above any partition the cluster
	// must ride out (docs/replication.md). Needs ReplicationFactor > 1.
	ForgetFailedAfter time.Duration
	// TLS, if set, authenticates and encrypts the cluster's transports:
	// actor remoting and the replication stream use mutual TLS with it,
	// and a gossip member is admitted only once its actor endpoint passed
	// the same check (see [TLS]). Nil keeps them plaintext, which
	// Validate allows only when every address the node listens on or
	// joins is a loopback address (development on one machine).
	TLS *TLS
	// Version and HTTPAddr are gossiped in the node's metadata.
	Version, HTTPAddr string
	// Logger receives the node's logs. Default: slog.Default().
	Logger *slog.Logger
}

// DefaultLANConfig is a node in a data centre network.
func DefaultLANConfig() Config {
	host, _ := os.Hostname()
	g := memberlist.DefaultLANConfig() // probe 1 s, suspicion mult 4, TCP timeout 10 s
	// Failure detection within 2 s (memberlist's LAN defaults take 4.5 to
	// 6.5 s in a cluster of 3): a dead member is probed by someone within
	// about two probe intervals (each member probes the others in turn),
	// the probe and its indirect retries fail within one interval, and
	// the suspicion then lasts SuspicionMult × ProbeInterval (× log10 of
	// the cluster size, for 10 members and more). Worst case with 3 to 9
	// members: 0.8 + 0.4 + 0.8 = 2.0 s; bench.BenchmarkDetection measures
	// it. A live member that is merely slow refutes the suspicion within
	// those 0.8 s (gossip every 100 ms), and memberlist's awareness
	// multiplier (up to 8×) stretches a struggling node's own timeouts;
	// docs/replication.md, "Failure detection", gives the false-positive
	// count under the nemesis test.
	g.ProbeInterval = 400 * time.Millisecond  // memberlist LAN: 1 s
	g.ProbeTimeout = 200 * time.Millisecond   // LAN: 500 ms; a LAN round trip is under 1 ms
	g.SuspicionMult = 2                       // LAN: 4; suspicion 0.8 s with < 10 members
	g.GossipInterval = 100 * time.Millisecond // LAN: 200 ms; spreads suspicions and refutations
	// A node restarted with its old name but a new address (a new port)
	// may reclaim its name 10 s after it was declared dead; memberlist's
	// default never lets it.
	g.DeadNodeReclaimTime = 10 * time.Second
	return Config{
		Name:           host,
		Region:         "local",
		ActorAddr:      "0.0.0.0:0",
		Gossip:         g,
		PassivateAfter: 5 * time.Minute,  // idle grains leave memory after 5 minutes
		CallTimeout:    30 * time.Second, // calls without a deadline give up after 30 s
		DrainTimeout:   20 * time.Second, // shutdown waits up to 20 s for grains
		// 3 copies: survives one node; 1 copy while a node is alone.
		ReplicationFactor: 3,
	}
}

// DefaultWANConfig is a node in a cluster that spans regions: memberlist's
// WAN timings (probe 5 s, suspicion mult 6, TCP timeout 30 s); otherwise
// as DefaultLANConfig.
func DefaultWANConfig() Config {
	c := DefaultLANConfig()
	g := memberlist.DefaultWANConfig()
	g.DeadNodeReclaimTime = c.Gossip.DeadNodeReclaimTime
	c.Gossip = g
	return c
}

// DefaultLocalConfig is a node on one machine (laptop, tests): loopback
// addresses and memberlist's local timings; otherwise as DefaultLANConfig.
func DefaultLocalConfig() Config {
	c := DefaultLANConfig()
	c.ActorAddr = "127.0.0.1:0"
	g := memberlist.DefaultLocalConfig()     // probe 200 ms, TCP timeout 1 s
	g.DeadNodeReclaimTime = time.Millisecond // see DefaultLANConfig; on one machine, at once
	g.BindAddr = "127.0.0.1"
	g.BindPort = 0
	g.AdvertisePort = 0
	c.Gossip = g
	return c
}

// Validate reports every problem with the configuration at once.
func (c *Config) Validate() error {
	var errs []error
	if c.DataDir == "" && !c.InMemory {
		errs = append(errs, errors.New("data dir is required"))
	}
	if _, _, err := net.SplitHostPort(c.ActorAddr); err != nil {
		errs = append(errs, fmt.Errorf("actor address %q: %w", c.ActorAddr, err))
	}
	if c.ReplicationAddr != "" {
		if _, _, err := net.SplitHostPort(c.ReplicationAddr); err != nil {
			errs = append(errs, fmt.Errorf("replication address %q: %w", c.ReplicationAddr, err))
		}
	}
	if c.Gossip == nil {
		errs = append(errs, errors.New("gossip config is required"))
	}
	if c.PassivateAfter <= 0 {
		errs = append(errs, fmt.Errorf("passivate-after must be positive, got %s", c.PassivateAfter))
	}
	if c.CallTimeout <= 0 {
		errs = append(errs, fmt.Errorf("call timeout must be positive, got %s", c.CallTimeout))
	}
	if c.DrainTimeout <= 0 {
		errs = append(errs, fmt.Errorf("drain timeout must be positive, got %s", c.DrainTimeout))
	}
	if c.Name == "" {
		errs = append(errs, errors.New("node name is required"))
	}
	if c.ReplicationFactor < 1 || c.ReplicationFactor > 7 || c.ReplicationFactor%2 == 0 {
		errs = append(errs, fmt.Errorf("replication factor must be odd, from 1 to 7, got %d", c.ReplicationFactor))
	}
	if c.TLS == nil {
		if addr := c.plaintextOffLoopback(); addr != "" {
			errs = append(errs, fmt.Errorf("%w: %s is not a loopback address, and the cluster's transports are plaintext without TLS (give the node a certificate and the cluster CA)", ErrPlaintext, addr))
		}
	}
	if c.ForgetFailedAfter < 0 {
		errs = append(errs, fmt.Errorf("forget-failed-after must not be negative, got %s", c.ForgetFailedAfter))
	} else if c.ForgetFailedAfter > 0 && c.ReplicationFactor == 1 {
		errs = append(errs, errors.New("forget-failed-after needs replication: with a replication factor of 1 a failed node holds the only copy of its grains"))
	}
	return errors.Join(errs...)
}

// ErrPlaintext reports a node without TLS configured to listen on or join
// a non-loopback address.
var ErrPlaintext = errors.New("cluster: plaintext off loopback")

// plaintextOffLoopback returns the first address the node would listen on
// or join that is not a loopback address, or "".
func (c *Config) plaintextOffLoopback() string {
	var addrs []string
	addrs = append(addrs, c.ActorAddr)
	if c.ReplicationAddr != "" {
		addrs = append(addrs, c.ReplicationAddr)
	}
	if c.Gossip != nil {
		addrs = append(addrs, net.JoinHostPort(c.Gossip.BindAddr, strconv.Itoa(c.Gossip.BindPort)))
		if c.Gossip.AdvertiseAddr != "" {
			addrs = append(addrs, net.JoinHostPort(c.Gossip.AdvertiseAddr, strconv.Itoa(c.Gossip.AdvertisePort)))
		}
	}
	addrs = append(addrs, c.Join...)
	for _, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			host = a
		}
		if !isLoopbackHost(host) {
			return a
		}
	}
	return ""
}

// Node is one stich cluster member: actor system, cluster membership,
// grain activations and storage.
type Node struct {
	cfg      Config
	log      *slog.Logger
	store    *Store
	system   *actor.ActorSystem
	cluster  *pcluster.Cluster
	provider *Provider
	alarms   *alarmScheduler
	kinds    map[string]Kind
	props    *actor.Props // shared by every activation (grainProps)
	workers  *workers     // runs the activations' mailboxes (grainProps)
	repl     *replicator  // nil when Config.ReplicationFactor is 1

	activations activations
	metrics     nodeMetrics

	pids        sync.Map // grain key -> cachedPID of remote activations
	view        atomic.Pointer[view]
	viewVersion atomic.Uint64
	viewCh      atomic.Pointer[chan struct{}] // closed when the view changes (ViewChanged)
	lost        lostWatchers                  // calls waiting on remote members
	leaving     atomic.Bool
	serving     sync.WaitGroup // goroutines serving the activator
	servingMu   sync.Mutex     // guards servingDone against serving.Add
	servingDone bool           // set before serving.Wait: no new handlers

	shutdownOnce sync.Once
	shutdownErr  error

	// frozenView, set by fault-injection tests, keeps the node's view of
	// the membership as it is (as a node that gossip has not reached yet).
	frozenView atomic.Bool
}

type nodeMetrics struct {
	activations atomic.Uint64
	transfers   atomic.Uint64
}

// Counters returns how many grain activations this node has started and
// how many grains' storage it has sent to other nodes since it started.
func (n *Node) Counters() (activations, transfers uint64) {
	return n.metrics.activations.Load(), n.metrics.transfers.Load()
}

// Start opens storage, starts the actor system, joins the cluster and
// re-arms persisted alarms. On error everything started is stopped again.
func Start(ctx context.Context, cfg Config, kinds []Kind) (_ *Node, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cluster: invalid config: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: cfg.Logger, kinds: map[string]Kind{}}
	n.activations.byKey = map[string]*activation{}
	n.props = n.grainProps()
	for _, k := range kinds {
		if k.Name == "" || k.New == nil {
			return nil, fmt.Errorf("cluster: kind %q needs a name and a producer", k.Name)
		}
		n.kinds[k.Name] = k
	}
	n.store, err = OpenStore(cfg.DataDir, StoreOptions{InMemory: cfg.InMemory, CacheSize: cfg.CacheSize})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			n.Shutdown(context.Background())
		}
	}()

	var replAddr string
	if cfg.ReplicationFactor > 1 {
		n.repl = newReplicator(n, cfg.ReplicationFactor)
		if err := n.repl.loadClustered(); err != nil {
			return nil, err
		}
		if err := n.repl.loadIncarnation(); err != nil {
			return nil, err
		}
		listen := cfg.ReplicationAddr
		if listen == "" {
			host, _, _ := net.SplitHostPort(cfg.ActorAddr)
			listen = net.JoinHostPort(host, "0")
		}
		if n.repl.tr, err = listenRepl(n.repl, listen, cfg.Logger); err != nil {
			return nil, err
		}
		replAddr = n.repl.tr.addr()
	}
	// NB: created before anything can activate a grain (claims arm
	// replicated alarms); started once the node is up.
	if cfg.OnAlarm != nil {
		n.alarms = newAlarmScheduler(n, cfg.OnAlarm, n.log)
		n.alarms.fireOnStart = cfg.AlarmsFireOnStart
	}

	libLog := slog.New(minLevel{h: cfg.Logger.Handler(), min: slog.LevelWarn}).With("lib", "protoactor")
	n.system = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return libLog }))
	host, portStr, _ := net.SplitHostPort(cfg.ActorAddr)
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("cluster: actor port %q: %w", portStr, err)
	}
	var kindNames []string
	for name := range n.kinds {
		kindNames = append(kindNames, name)
	}
	sort.Strings(kindNames)
	// Until the provider publishes the membership, the node knows only itself.
	n.view.Store(&view{})
	viewCh := make(chan struct{})
	n.viewCh.Store(&viewCh)
	n.provider = NewProvider(ProviderConfig{
		Memberlist: cfg.Gossip, Join: cfg.Join, Logger: cfg.Logger, OnChange: n.onMembership,
		ForgetFailedAfter: cfg.ForgetFailedAfter,
		Admit:             admitFunc(cfg.TLS),
		Meta:              NodeMeta{Name: cfg.Name, Region: cfg.Region, Zone: cfg.Zone, Version: cfg.Version, HTTPAddr: cfg.HTTPAddr, ReplAddr: replAddr},
	})
	// Placement and activation are ours (see acquire); kinds are registered
	// with protoactor-go only so that member metadata lists them.
	var ckinds []pcluster.ConfigOption
	for name := range n.kinds {
		ckinds = append(ckinds, pcluster.WithKinds(pcluster.NewKind(name, actor.PropsFromFunc(func(actor.Context) {}))))
	}
	var remoteOpts []remote.ConfigOption
	if cfg.TLS != nil {
		remoteOpts = append(remoteOpts,
			remote.WithServerOptions(grpc.Creds(credentials.NewTLS(cfg.TLS.ServerConfig()))),
			remote.WithDialOptions(grpc.WithTransportCredentials(credentials.NewTLS(cfg.TLS.ClientConfig()))))
		n.log.Info("cluster transports use mutual TLS", "node", cfg.Name, "ca", cfg.TLS.CA())
	} else {
		n.log.Warn("cluster transports are PLAINTEXT: every member listens on loopback (development only); give --tls-cert, --tls-key and --tls-ca for a cluster across hosts", "node", cfg.Name)
	}
	ccfg := pcluster.Configure("stich", n.provider, &identityLookup{n: n}, remote.Configure(host, port, remoteOpts...), ckinds...)
	// Membership is memberlist's; protoactor-go's own gossip loop would
	// duplicate it (and races; see third_party/protoactor-go/STICH_PATCHES.md).
	ccfg.GossipInterval = 0
	if err := protect(func() { n.cluster = pcluster.New(n.system, ccfg) }); err != nil {
		return nil, fmt.Errorf("cluster: create: %w", err)
	}
	// NB: protoactor-go's StartMember panics on errors.
	if err := protect(n.cluster.StartMember); err != nil {
		return nil, fmt.Errorf("cluster: start member: %w", err)
	}
	if _, err := n.system.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return &activator{n: n} }), activatorName); err != nil {
		return nil, fmt.Errorf("cluster: start activator: %w", err)
	}
	if n.repl != nil {
		n.repl.start()
		n.repl.onMembership() // a first repair pass once the view is known
	}
	if n.alarms != nil {
		if err := n.alarms.start(); err != nil {
			return nil, err
		}
	}
	n.log.Info("node started", "node", cfg.Name, "region", cfg.Region, "actor_addr", n.system.Address(), "gossip_addr", n.provider.GossipAddr(), "data", cfg.DataDir)
	return n, nil
}

func protect(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = e // protoactor-go panics with its provider's errors
				return
			}
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	f()
	return nil
}

// Store returns the node's grain storage.
func (n *Node) Store() *Store { return n.store }

// System returns the node's actor system.
func (n *Node) System() *actor.ActorSystem { return n.system }

// Name returns the node's name.
func (n *Node) Name() string { return n.cfg.Name }

// Region returns the node's region.
func (n *Node) Region() string { return n.cfg.Region }

// GossipAddr returns the address the node gossips on (for --join).
func (n *Node) GossipAddr() string { return n.provider.GossipAddr() }

// Members returns the live members' metadata.
func (n *Node) Members() []NodeMeta { return n.provider.Members() }

// GrainCounts returns the number of live activations per kind.
func (n *Node) GrainCounts() map[string]int { return n.activations.count() }

// wait returns the future's result, or ctx's error as soon as ctx is done.
// NB: no goroutine per call: a done ctx completes the future by sending
// its PID a marker, which also releases the future's resources.
func (n *Node) wait(ctx context.Context, f *actor.Future) (any, error) {
	if ctx.Done() == nil {
		return f.Result()
	}
	stop := context.AfterFunc(ctx, func() { n.system.Root.Send(f.PID(), ctxDone{}) })
	res, err := f.Result()
	stop()
	if _, ok := res.(ctxDone); ok {
		return nil, ctx.Err()
	}
	return res, err
}

// ctxDone completes a future whose caller's context is done.
type ctxDone struct{}

// Shutdown stops the node: it hands its grains to their next owners when
// there are other members ([Node.Leave]), refuses new activations, stops
// every grain (each persists its state as it goes), stops alarms, leaves
// the gossip, stops the actor system and closes storage. It is idempotent;
// later calls return the first call's result.
func (n *Node) Shutdown(ctx context.Context) error {
	n.shutdownOnce.Do(func() {
		var errs []error
		if n.system != nil && n.provider != nil && n.cluster != nil {
			dctx, cancel := context.WithTimeout(ctx, n.cfg.DrainTimeout)
			if err := n.Leave(dctx); err != nil {
				errs = append(errs, fmt.Errorf("hand-off: %w", err))
			}
			cancel()
		}
		if n.system != nil {
			dctx, cancel := context.WithTimeout(ctx, n.cfg.DrainTimeout)
			if err := n.activations.drain(dctx, n.system); err != nil {
				errs = append(errs, err)
			}
			cancel()
			n.stopServing()
		}
		if n.repl != nil {
			n.repl.stop() // before the actor system: it ends in-flight requests
		}
		if n.alarms != nil {
			n.alarms.stop()
		}
		if n.provider != nil {
			if err := n.provider.Shutdown(true); err != nil {
				errs = append(errs, err)
			}
		}
		if n.cluster != nil && n.cluster.Remote != nil {
			_ = protect(func() { n.cluster.Shutdown(false) })
		} else if n.system != nil {
			n.system.Shutdown()
		}
		if n.workers != nil {
			n.workers.close()
		}
		if n.store != nil {
			if err := n.store.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		n.shutdownErr = errors.Join(errs...)
		n.log.Info("node stopped", "node", n.cfg.Name)
	})
	return n.shutdownErr
}

// identityLookup routes protoactor-go's cluster.Get through our activation.
type identityLookup struct{ n *Node }

func (l *identityLookup) Get(ci *pcluster.ClusterIdentity) *actor.PID {
	ctx, cancel := context.WithTimeout(context.Background(), l.n.cfg.CallTimeout)
	defer cancel()
	e, err := l.n.acquire(ctx, ci.Kind, ci.Identity, false)
	if err != nil {
		return nil
	}
	l.n.release(e)
	return e.pid
}
func (l *identityLookup) RemovePid(*pcluster.ClusterIdentity, *actor.PID) {}
func (l *identityLookup) Setup(*pcluster.Cluster, []string, bool)         {}
func (l *identityLookup) Shutdown()                                       {}

// minLevel drops records below min (protoactor-go logs a lot at Info),
// and logs protoactor-go's remote endpoint losses as warnings.
type minLevel struct {
	h   slog.Handler
	min slog.Level
}

func (m minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.min && m.h.Enabled(ctx, l)
}
func (m minLevel) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError && strings.HasPrefix(r.Message, "EndpointWriter") {
		// protoactor-go's remote logs a peer's endpoint going away (lost
		// connection, dial refused) as an error; a member that leaves or
		// fails does exactly that, and membership handles it. A warning.
		r.Level = slog.LevelWarn
	}
	return m.h.Handle(ctx, r)
}
func (m minLevel) WithAttrs(a []slog.Attr) slog.Handler {
	return minLevel{h: m.h.WithAttrs(a), min: m.min}
}
func (m minLevel) WithGroup(g string) slog.Handler { return minLevel{h: m.h.WithGroup(g), min: m.min} }

// PassivateAfter is how long grains should stay in memory when idle.
func (n *Node) PassivateAfter() time.Duration { return n.cfg.PassivateAfter }

// Kill stops the node abruptly, as SIGKILL would: no hand-off, no goodbye
// to the gossip, no draining; storage is closed so the process can reopen
// it. For fault-injection tests and benchmarks.
func (n *Node) Kill() {
	n.shutdownOnce.Do(func() {
		n.leaving.Store(true)
		if n.provider != nil {
			n.provider.mu.Lock()
			ml := n.provider.ml
			n.provider.mu.Unlock()
			n.provider.shutdownOnce.Do(func() {
				close(n.provider.quit)
				n.provider.wg.Wait()
				if n.provider.admission != nil {
					n.provider.admission.stop()
				}
				if ml != nil {
					_ = ml.Shutdown()
				}
			})
		}
		if n.alarms != nil {
			n.alarms.stop()
		}
		if n.repl != nil {
			n.repl.stop()
		}
		if n.cluster != nil && n.cluster.Remote != nil {
			_ = protect(func() { n.cluster.Shutdown(false) })
		}
		n.stopServing()
		if n.store != nil {
			_ = n.store.Close()
		}
	})
}
