package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"sync"
	"time"

	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/hashicorp/memberlist"
)

// NodeMeta is what a member gossips about itself.
type NodeMeta struct {
	// ID is the actor system's id (the protoactor-go member id).
	ID string `json:"id"`
	// Name is the operator-facing node name.
	Name string `json:"name"`
	// ActorAddr is the host:port of the node's actor remoting endpoint.
	ActorAddr string   `json:"actor"`
	Kinds     []string `json:"kinds"`
	Region    string   `json:"region,omitempty"`
	Zone      string   `json:"zone,omitempty"`
	Version   string   `json:"version,omitempty"`
	// HTTPAddr is where the node serves its API.
	HTTPAddr string `json:"http,omitempty"`
	// ReplAddr is the host:port of the node's replication listener
	// (replicated writes to it go there); empty with replication off.
	ReplAddr string `json:"repl,omitempty"`
	// Leaving is set while the node hands its grains off before leaving;
	// placement skips leaving members.
	Leaving bool `json:"leaving,omitempty"`
}

// ProviderConfig configures the memberlist [Provider].
type ProviderConfig struct {
	// Memberlist is the gossip configuration; see [DefaultLANConfig].
	Memberlist *memberlist.Config
	// Join lists host:port gossip addresses of existing members. Empty
	// starts a new cluster.
	Join []string
	// Meta is this node's metadata. ID and ActorAddr are filled in at start.
	Meta NodeMeta
	// Logger receives membership changes.
	Logger *slog.Logger
	// OnChange is called from the provider's one publishing goroutine with
	// the live members and the members that failed (left without saying
	// so) since they were last seen. It must not block for long.
	OnChange func(live, failed []NodeMeta)
}

// Provider is a protoactor-go ClusterProvider backed by hashicorp/memberlist.
// Membership changes reach protoactor-go's topology through one goroutine,
// so topology updates are never concurrent or reordered.
type Provider struct {
	cfg ProviderConfig

	mu      sync.Mutex
	ml      *memberlist.Memberlist
	meta    []byte
	self    NodeMeta
	failed  map[string]NodeMeta // by name: members that died, until they rejoin
	known   map[string]NodeMeta // by name: last metadata seen
	live    map[string]NodeMeta // by name: members alive now
	changed chan struct{}
	quit    chan struct{}
	wg      sync.WaitGroup

	shutdownOnce sync.Once
	shutdownErr  error
}

var _ pcluster.ClusterProvider = (*Provider)(nil)

// NewProvider returns a provider; it starts gossiping in StartMember.
func NewProvider(cfg ProviderConfig) *Provider {
	return &Provider{cfg: cfg, changed: make(chan struct{}, 1), quit: make(chan struct{}),
		failed: map[string]NodeMeta{}, known: map[string]NodeMeta{}, live: map[string]NodeMeta{}}
}

// StartMember joins (or starts) the gossip cluster and begins publishing
// topology to c.
func (p *Provider) StartMember(c *pcluster.Cluster) error {
	host, port, err := c.ActorSystem.GetHostPort()
	if err != nil {
		return fmt.Errorf("cluster: actor address: %w", err)
	}
	meta := p.cfg.Meta
	meta.ID = c.ActorSystem.ID
	meta.ActorAddr = net.JoinHostPort(host, strconv.Itoa(port))
	if rhost, rport, err := net.SplitHostPort(meta.ReplAddr); err == nil {
		if ip := net.ParseIP(rhost); rhost == "" || ip != nil && ip.IsUnspecified() {
			// Listening on every interface: peers reach it where they
			// reach the actor remote.
			meta.ReplAddr = net.JoinHostPort(host, rport)
		}
	}
	meta.Kinds = c.GetClusterKinds()
	b, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	if len(b) > memberlist.MetaMaxSize {
		return fmt.Errorf("cluster: node metadata is %d bytes, more than memberlist's %d", len(b), memberlist.MetaMaxSize)
	}
	p.meta, p.self = b, meta
	conf := *p.cfg.Memberlist
	// The gossip name is the operator's node name: unique in the cluster
	// (memberlist refuses duplicates) and stable across restarts, which
	// placement relies on.
	conf.Name = meta.Name
	conf.Delegate = (*metaDelegate)(p)
	conf.Events = (*eventDelegate)(p)
	conf.Logger = log.New(io.Discard, "", 0)
	ml, err := memberlist.Create(&conf)
	if err != nil {
		return fmt.Errorf("cluster: start gossip: %w", err)
	}
	p.mu.Lock()
	p.ml = ml
	p.mu.Unlock()
	if len(p.cfg.Join) > 0 {
		if _, err := ml.Join(p.cfg.Join); err != nil {
			_ = ml.Shutdown()
			return fmt.Errorf("cluster: join %v: %w", p.cfg.Join, err)
		}
	}
	// Publish the first view before returning, so the node routes calls
	// from its first moment.
	p.publishOnce(c)
	p.wg.Add(1)
	go p.publish(c)
	return nil
}

// StartClient is not supported: every stich node is a full member.
func (p *Provider) StartClient(*pcluster.Cluster) error {
	return fmt.Errorf("cluster: client-only members are not supported")
}

// Shutdown leaves the gossip (announcing it when graceful) and stops the
// publishing goroutine. Idempotent.
func (p *Provider) Shutdown(graceful bool) error {
	p.shutdownOnce.Do(func() {
		close(p.quit)
		p.wg.Wait()
		p.mu.Lock()
		ml := p.ml
		p.mu.Unlock()
		if ml == nil {
			return
		}
		if graceful {
			if err := ml.Leave(5 * time.Second); err != nil {
				p.shutdownErr = err
			}
		}
		if err := ml.Shutdown(); err != nil && p.shutdownErr == nil {
			p.shutdownErr = err
		}
	})
	return p.shutdownErr
}

// GossipAddr returns the address the gossip listens on.
func (p *Provider) GossipAddr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ml == nil {
		return ""
	}
	n := p.ml.LocalNode()
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}

// Members returns the metadata of every live member, this node included,
// sorted by name.
// NB: it reads the provider's own copy, made in the event callbacks, never
// memberlist's Members(): those point into state memberlist keeps writing.
func (p *Provider) Members() []NodeMeta {
	p.mu.Lock()
	defer p.mu.Unlock()
	return byName(p.live)
}

// byName returns the members of m sorted by name.
func byName(m map[string]NodeMeta) []NodeMeta {
	out := make([]NodeMeta, 0, len(m))
	for _, x := range m {
		out = append(out, x)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (p *Provider) signal() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// SetLeaving gossips that this node is handing its grains off.
func (p *Provider) SetLeaving(ctx context.Context) error {
	p.mu.Lock()
	p.self.Leaving = true
	b, err := json.Marshal(p.self)
	if err == nil {
		p.meta = b
	}
	ml := p.ml
	p.mu.Unlock()
	if err != nil || ml == nil {
		return err
	}
	timeout := 5 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	if err := ml.UpdateNode(timeout); err != nil {
		return fmt.Errorf("cluster: announce leaving: %w", err)
	}
	p.signal()
	return nil
}

// markLeaving records that member name is leaving gracefully, as its
// gossiped metadata will say: a departure that arrives before that
// metadata then does not count as a failure.
func (p *Provider) markLeaving(name string) {
	p.mu.Lock()
	if m, ok := p.known[name]; ok {
		m.Leaving = true
		p.known[name] = m
	}
	if m, ok := p.live[name]; ok {
		m.Leaving = true
		p.live[name] = m
	}
	p.mu.Unlock()
	p.signal()
}

// Failed returns the members that failed and have not come back.
func (p *Provider) Failed() []NodeMeta {
	p.mu.Lock()
	defer p.mu.Unlock()
	return byName(p.failed)
}

// publish is the one goroutine that turns membership into topology.
func (p *Provider) publish(c *pcluster.Cluster) {
	defer p.wg.Done()
	for {
		select {
		case <-p.quit:
			return
		case <-p.changed:
		}
		p.publishOnce(c)
	}
}

func (p *Provider) publishOnce(c *pcluster.Cluster) {
	live := p.Members()
	if p.cfg.OnChange != nil {
		p.cfg.OnChange(live, p.Failed())
	}
	var members pcluster.Members
	for _, m := range live {
		host, portStr, err := net.SplitHostPort(m.ActorAddr)
		if err != nil {
			continue
		}
		port, _ := strconv.Atoi(portStr)
		members = append(members, &pcluster.Member{Host: host, Port: int32(port), Id: m.ID, Kinds: m.Kinds})
	}
	c.MemberList.UpdateClusterTopology(members)
	if p.cfg.Logger != nil {
		p.cfg.Logger.Debug("cluster topology published", "members", len(members))
	}
}

// metaDelegate serves this node's metadata. memberlist calls it
// concurrently; it must not block.
type metaDelegate Provider

func (d *metaDelegate) NodeMeta(limit int) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.meta) > limit {
		return nil
	}
	return d.meta
}
func (d *metaDelegate) NotifyMsg([]byte)                           {}
func (d *metaDelegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *metaDelegate) LocalState(join bool) []byte                { return nil }
func (d *metaDelegate) MergeRemoteState(buf []byte, join bool)     {}

// eventDelegate signals the publishing goroutine. memberlist calls it
// synchronously from its own goroutines; it must not block.
type eventDelegate Provider

func (d *eventDelegate) NotifyJoin(n *memberlist.Node) {
	p := (*Provider)(d)
	p.logChange("member joined", n)
	p.mu.Lock()
	delete(p.failed, n.Name)
	p.mu.Unlock()
	p.remember(n)
}

func (d *eventDelegate) NotifyLeave(n *memberlist.Node) {
	p := (*Provider)(d)
	// NB: memberlist does not set n.State here (it updates its own copy),
	// and a member that left without handing its grains off is as good as
	// failed anyway. A stich node announces Leaving before it leaves after
	// a hand-off; any other departure counts as a failure.
	p.mu.Lock()
	m, ok := p.known[n.Name]
	if !ok {
		_ = json.Unmarshal(n.Meta, &m)
	}
	delete(p.live, n.Name)
	failed := !m.Leaving
	if failed {
		if m.Name == "" {
			m.Name = n.Name
		}
		p.failed[n.Name] = m
	}
	p.mu.Unlock()
	if failed {
		p.logChange("member failed", n)
	} else {
		p.logChange("member left", n)
	}
	p.signal()
}

func (d *eventDelegate) NotifyUpdate(n *memberlist.Node) { (*Provider)(d).remember(n) }

// remember records a live member's metadata (copied now: memberlist keeps
// writing n after the callback) and signals the publishing goroutine.
func (p *Provider) remember(n *memberlist.Node) {
	var m NodeMeta
	if json.Unmarshal(n.Meta, &m) == nil && m.ID != "" {
		p.mu.Lock()
		p.known[n.Name], p.live[n.Name] = m, m
		p.mu.Unlock()
	}
	p.signal()
}

func (p *Provider) logChange(msg string, n *memberlist.Node) {
	if p.cfg.Logger != nil {
		p.cfg.Logger.Info(msg, "member", n.Name, "addr", n.Address())
	}
}
