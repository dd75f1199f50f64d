package cluster

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
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
}

// Provider is a protoactor-go ClusterProvider backed by hashicorp/memberlist.
// Membership changes reach protoactor-go's topology through one goroutine,
// so topology updates are never concurrent or reordered.
type Provider struct {
	cfg ProviderConfig

	mu      sync.Mutex
	ml      *memberlist.Memberlist
	meta    []byte
	changed chan struct{}
	quit    chan struct{}
	wg      sync.WaitGroup

	shutdownOnce sync.Once
	shutdownErr  error
}

var _ pcluster.ClusterProvider = (*Provider)(nil)

// NewProvider returns a provider; it starts gossiping in StartMember.
func NewProvider(cfg ProviderConfig) *Provider {
	return &Provider{cfg: cfg, changed: make(chan struct{}, 1), quit: make(chan struct{})}
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
	meta.Kinds = c.GetClusterKinds()
	b, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	if len(b) > memberlist.MetaMaxSize {
		return fmt.Errorf("cluster: node metadata is %d bytes, more than memberlist's %d", len(b), memberlist.MetaMaxSize)
	}
	p.meta = b
	conf := *p.cfg.Memberlist
	conf.Name = meta.ID
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
	p.wg.Add(1)
	go p.publish(c)
	p.signal()
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

// Members returns the metadata of every live member, this node included.
func (p *Provider) Members() []NodeMeta {
	p.mu.Lock()
	ml := p.ml
	p.mu.Unlock()
	if ml == nil {
		return nil
	}
	var out []NodeMeta
	for _, n := range ml.Members() {
		var m NodeMeta
		if err := json.Unmarshal(n.Meta, &m); err != nil || m.ID == "" {
			continue
		}
		out = append(out, m)
	}
	return out
}

func (p *Provider) signal() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
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
		var members pcluster.Members
		for _, m := range p.Members() {
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
}

// metaDelegate serves this node's metadata. memberlist calls it
// concurrently; it must not block.
type metaDelegate Provider

func (d *metaDelegate) NodeMeta(limit int) []byte {
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
	(*Provider)(d).logChange("member joined", n)
	(*Provider)(d).signal()
}
func (d *eventDelegate) NotifyLeave(n *memberlist.Node) {
	(*Provider)(d).logChange("member left", n)
	(*Provider)(d).signal()
}
func (d *eventDelegate) NotifyUpdate(n *memberlist.Node) { (*Provider)(d).signal() }

func (p *Provider) logChange(msg string, n *memberlist.Node) {
	if p.cfg.Logger != nil {
		p.cfg.Logger.Info(msg, "member", n.Name, "addr", n.Address())
	}
}
