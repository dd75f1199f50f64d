package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
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
	// GossipAddr is where a failed member gossiped (host:port); set only
	// on the provider's records of failed members, which it re-joins.
	GossipAddr string `json:"gossip,omitempty"`
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
	// so) since they were last seen, less those forgotten. It must not
	// block for long.
	OnChange func(live, failed []NodeMeta)
	// ForgetFailedAfter, if positive, forgets a member that has been failed
	// this long, as [Node.Forget] would (duration; 0 never). See
	// Config.ForgetFailedAfter.
	ForgetFailedAfter time.Duration
	// Admit, if set, checks a member before it may join the gossip (the
	// mutual TLS check of [admitFunc]); nil admits everyone.
	Admit func(context.Context, NodeMeta) error
	// ReconnectInterval is how often the provider tries to join its failed
	// members again (0: a third of memberlist's GossipToTheDeadTime, at
	// least 1 s; see [Provider.reconnect]). memberlist stops gossiping to
	// a dead member after GossipToTheDeadTime and picks only live members
	// for push/pull, so without this the two sides of a partition longer
	// than that might never meet again.
	ReconnectInterval time.Duration
}

// Forget errors: why a member cannot be forgotten.
var (
	// ErrForgetLive reports a member that is live (or leaving): only a
	// failed member can be forgotten.
	ErrForgetLive = errors.New("cluster: the member is live")
	// ErrForgetUnknown reports a name that is not a failed member.
	ErrForgetUnknown = errors.New("cluster: not a failed member")
	// ErrForgetSelf reports a node asked to forget itself.
	ErrForgetSelf = errors.New("cluster: a node cannot forget itself")
	// ErrForgetAlone reports a forget that would leave the node without
	// another live member (it would then refuse every replicated grain as
	// a node restarted alone does; see replica.go).
	ErrForgetAlone = errors.New("cluster: no other live member would be left")
	// ErrForgetUnreplicated reports a forget on a node without replication
	// (R = 1): the failed member holds the only copy of its grains.
	ErrForgetUnreplicated = errors.New("cluster: replication is off")
)

// maxTombstones bounds the forgotten members a provider remembers (the
// oldest go first); each is a few dozen bytes of gossip state.
const maxTombstones = 1024

// tombstone records that a failed member was forgotten. It matches the
// failed incarnation only (ID is its actor system id, new at every start):
// the member restarting and failing again is a new failure. A tombstone
// is dropped when its member joins again.
type tombstone struct {
	Name string `json:"name"`
	ID   string `json:"id,omitempty"`
	// At is when this node learnt it (unix nanoseconds), for eviction.
	At int64 `json:"at"`
}

// gossipState is what a provider sends in memberlist's push/pull state
// sync (LocalState): the members it forgot, so that a member that missed
// the forget message learns it at its next sync.
type gossipState struct {
	Forgotten []tombstone `json:"forgotten,omitempty"`
	// Failed are the members the sender saw fail and not return: a node
	// that starts later learns them here (memberlist tells a joiner nothing
	// of dead members), so its replica sets agree with its peers'.
	Failed []NodeMeta `json:"failed,omitempty"`
}

// Provider is a protoactor-go ClusterProvider backed by hashicorp/memberlist.
// Membership changes reach protoactor-go's topology through one goroutine,
// so topology updates are never concurrent or reordered.
type Provider struct {
	cfg ProviderConfig

	mu     sync.Mutex
	ml     *memberlist.Memberlist
	meta   []byte
	self   NodeMeta
	failed map[string]NodeMeta // by name: members that died, until they rejoin or are forgotten
	// failedAt is when each failed member was seen to fail.
	failedAt map[string]time.Time
	// forgotten holds the members forgotten (by an operator, a peer, or
	// ForgetFailedAfter), by name, until they join again.
	forgotten map[string]tombstone
	known     map[string]NodeMeta // by name: last metadata seen
	live      map[string]NodeMeta // by name: members alive now
	changed   chan struct{}
	quit      chan struct{}
	admission *admission
	wg        sync.WaitGroup

	shutdownOnce sync.Once
	shutdownErr  error
}

var _ pcluster.ClusterProvider = (*Provider)(nil)

// NewProvider returns a provider; it starts gossiping in StartMember.
func NewProvider(cfg ProviderConfig) *Provider {
	return &Provider{cfg: cfg, changed: make(chan struct{}, 1), quit: make(chan struct{}),
		failed: map[string]NodeMeta{}, failedAt: map[string]time.Time{}, forgotten: map[string]tombstone{},
		known: map[string]NodeMeta{}, live: map[string]NodeMeta{}}
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
	p.admission = newAdmission(p, meta.Name, max(conf.TCPTimeout, time.Second))
	conf.Alive, conf.Conflict = p.admission, p.admission
	ml, err := memberlist.Create(&conf)
	if err != nil {
		p.admission.stop()
		return fmt.Errorf("cluster: start gossip: %w", err)
	}
	p.mu.Lock()
	p.ml = ml
	p.mu.Unlock()
	if len(p.cfg.Join) > 0 {
		if err := p.join(ml, 3*max(conf.TCPTimeout, time.Second)); err != nil {
			p.admission.stop()
			_ = ml.Shutdown()
			p.mu.Lock()
			p.ml = nil // a later Shutdown must not leave it again
			p.mu.Unlock()
			return err
		}
	}
	// Publish the first view before returning, so the node routes calls
	// from its first moment.
	p.publishOnce(c)
	p.wg.Add(2)
	go p.publish(c)
	go p.reconnect()
	return nil
}

// maxReconnectBackoff bounds the delay between re-joins of a failed member
// that answers but does not come back (see [Provider.reconnect]).
const maxReconnectBackoff = 2 * time.Minute

// reconnect tries to join the failed members again every
// ReconnectInterval, so that a healed partition merges however long it
// lasted (Serf's reconnect does the same). memberlist alone does not:
// it pushes and pulls state with live members only, probes no dead
// member, gossips to a dead one only while it has news to send and for
// GossipToTheDeadTime at most, then forgets it; two sides that each saw
// the other fail may then never meet again.
//
// A try first pings the member by name (one UDP packet, answered only by
// a node of that name; it waits ProbeTimeout at most) and joins it (a TCP
// state exchange) only if it answered: a member that is unreachable costs
// one packet per interval, and Shutdown, which waits for this goroutine,
// never waits on a TCP dial to a dead host. A member that answers but is
// not live after the exchange (its admission check failed: another
// cluster CA; or its refutation of its death has not arrived yet) is
// tried again after a delay doubling up to maxReconnectBackoff, and is
// logged (Warn) once, on its third such try. Only failed members are
// tried: a member that left gracefully, or was forgotten (by an operator,
// a peer or ForgetFailedAfter), is not in the failed set.
func (p *Provider) reconnect() {
	defer p.wg.Done()
	every := p.cfg.ReconnectInterval
	if every <= 0 {
		every = max(time.Second, p.cfg.Memberlist.GossipToTheDeadTime/3)
	}
	type retry struct {
		id      string // the incarnation tried
		next    time.Time
		delay   time.Duration
		answers int // consecutive tries it answered without coming back
	}
	retries := map[string]*retry{}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.quit:
			return
		case <-t.C:
		}
		p.mu.Lock()
		ml := p.ml
		failed := byName(p.failed)
		p.mu.Unlock()
		if ml == nil {
			continue
		}
		for name := range retries {
			if !slices.ContainsFunc(failed, func(m NodeMeta) bool { return m.Name == name }) {
				delete(retries, name)
			}
		}
		now := time.Now()
		for _, m := range failed {
			select {
			case <-p.quit:
				return
			default:
			}
			r := retries[m.Name]
			if r != nil && r.id != m.ID {
				r = nil // another incarnation failed since
			}
			if m.GossipAddr == "" || r != nil && now.Before(r.next) || !p.stillFailed(m) {
				continue
			}
			addr, err := net.ResolveUDPAddr("udp", m.GossipAddr)
			if err != nil {
				continue
			}
			if _, err := ml.Ping(m.Name, addr); err != nil {
				continue // unreachable (still cut off, or gone): try again next time
			}
			_, err = ml.Join([]string{m.GossipAddr})
			if !p.stillFailed(m) {
				delete(retries, m.Name)
				p.logger().Info("re-joined a failed member", "member", m.Name, "gossip_addr", m.GossipAddr)
				continue
			}
			if r == nil {
				r = &retry{id: m.ID, delay: every}
				retries[m.Name] = r
			}
			r.delay = min(2*r.delay, max(every, maxReconnectBackoff))
			r.next = time.Now().Add(r.delay)
			r.answers++
			lvl := slog.LevelDebug
			if r.answers == 3 {
				lvl = slog.LevelWarn
			}
			p.logger().Log(context.Background(), lvl, "a failed member answers but did not re-join (refused by an admission check?); trying again later",
				"member", m.Name, "gossip_addr", m.GossipAddr, "tries", r.answers, "next_try_in", r.delay, "err", err)
		}
	}
}

// stillFailed reports whether m's incarnation is still a failed member
// here (not back, not forgotten).
func (p *Provider) stillFailed(m NodeMeta) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, ok := p.failed[m.Name]
	return ok && f.ID == m.ID
}

// logger returns the configured logger, or one that discards.
func (p *Provider) logger() *slog.Logger {
	if p.cfg.Logger != nil {
		return p.cfg.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// join joins the members at ProviderConfig.Join and waits until one of
// them is a member here: a join that reaches nobody, meets a name
// conflict, or is refused by every member it reached fails, saying which.
func (p *Provider) join(ml *memberlist.Memberlist, wait time.Duration) error {
	if _, err := ml.Join(p.cfg.Join); err != nil {
		// NB: memberlist's error spans lines (one per address).
		return fmt.Errorf("%w: no member answered at %s: %s", ErrJoinAlone, strings.Join(p.cfg.Join, ", "), strings.Join(strings.Fields(err.Error()), " "))
	}
	deadline := time.Now().Add(wait)
	for {
		// A conflict whose other address still answers is another live
		// node with this name; one that does not is this node's previous
		// incarnation, which the members will see fail.
		for _, c := range p.admission.takeConflicts() {
			if conn, err := net.DialTimeout("tcp", c.addr, time.Second); err == nil {
				conn.Close()
				return fmt.Errorf("join %s: %w: node name %q is taken by a live node at %s: give this node another --node-name (or none: a generated name is unique)",
					strings.Join(p.cfg.Join, ", "), ErrNameConflict, c.name, c.addr)
			}
		}
		done, err := p.admission.joinOutcome(ml.NumMembers())
		if done {
			if err != nil {
				return fmt.Errorf("join %s: %w", strings.Join(p.cfg.Join, ", "), err)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s answered, but no member was admitted within %s", ErrJoinAlone, strings.Join(p.cfg.Join, ", "), wait)
		}
		select {
		case <-p.quit:
			return errors.New("cluster: stopped while joining")
		case <-time.After(20 * time.Millisecond):
		}
	}
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
		if p.admission != nil {
			p.admission.stop()
		}
		p.mu.Lock()
		ml := p.ml
		p.mu.Unlock()
		if ml == nil {
			return
		}
		if graceful {
			if err := ml.Leave(5 * time.Second); err != nil {
				// NB: when every other member leaves at the same time (a
				// whole-cluster SIGTERM), the leave broadcast can lose its
				// last live receiver before it is sent, and Leave waits
				// out its timeout: nobody is left to tell, so the leave
				// did what it could.
				if len(ml.Members()) == 0 {
					p.logger().Info("left the gossip with no live member left to tell", "reason", err)
				} else {
					p.shutdownErr = fmt.Errorf("cluster: leave not announced (the others will detect this node as failed): %w", err)
				}
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
	// NB: not under p.mu: memberlist calls the event delegate, which takes
	// p.mu, with its node lock held, and LocalNode takes that lock (a
	// GossipAddr during a join deadlocked both).
	p.mu.Lock()
	ml := p.ml
	p.mu.Unlock()
	if ml == nil {
		return ""
	}
	n := ml.LocalNode()
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

// forget removes the failed member name from this node's failed set, so
// that it holds no place in placement or replica sets any more, and
// returns the tombstone to tell the other members. It refuses a live or
// leaving member ([ErrForgetLive]), a name that is not a failed member
// ([ErrForgetUnknown]), and a forget that would leave this node without
// another live member ([ErrForgetAlone]).
func (p *Provider) forget(name string) (tombstone, error) {
	p.mu.Lock()
	if _, ok := p.live[name]; ok {
		p.mu.Unlock()
		return tombstone{}, fmt.Errorf("%w: %s", ErrForgetLive, name)
	}
	m, ok := p.failed[name]
	if !ok {
		p.mu.Unlock()
		return tombstone{}, fmt.Errorf("%w: %s", ErrForgetUnknown, name)
	}
	if !p.othersLiveLocked() {
		p.mu.Unlock()
		return tombstone{}, fmt.Errorf("%w: %s", ErrForgetAlone, name)
	}
	t := tombstone{Name: name, ID: m.ID, At: time.Now().UnixNano()}
	p.forgetLocked(t)
	p.mu.Unlock()
	p.logForget("failed member forgotten", t)
	p.signal()
	return t, nil
}

// othersLiveLocked reports whether a member other than this node is live
// and not leaving.
func (p *Provider) othersLiveLocked() bool {
	self := p.self.Name
	if self == "" {
		self = p.cfg.Meta.Name
	}
	for name, m := range p.live {
		if name != self && !m.Leaving {
			return true
		}
	}
	return false
}

// forgetLocked records t and drops its member from the failed set.
func (p *Provider) forgetLocked(t tombstone) {
	if len(p.forgotten) >= maxTombstones {
		if _, ok := p.forgotten[t.Name]; !ok {
			oldest := ""
			for name, x := range p.forgotten {
				if oldest == "" || x.At < p.forgotten[oldest].At {
					oldest = name
				}
			}
			delete(p.forgotten, oldest)
		}
	}
	p.forgotten[t.Name] = t
	delete(p.failed, t.Name)
	delete(p.failedAt, t.Name)
}

// matches reports whether t is about the incarnation with actor id id (an
// empty id on either side matches: the metadata was never seen).
func (t tombstone) matches(id string) bool { return t.ID == "" || id == "" || t.ID == id }

// applyTombstone applies a forget learnt from a peer (a MemberForget
// message or gossip state). It reports whether the member was failed here
// (it is forgotten now) and whether this node sees that incarnation live:
// then the tombstone waits for its failure. A tombstone about another
// incarnation than the one this node knows (the member restarted) is
// obsolete and ignored.
func (p *Provider) applyTombstone(t tombstone) (wasFailed, live bool) {
	if t.Name == "" || t.Name == p.selfName() {
		return false, t.Name != ""
	}
	p.mu.Lock()
	if l, ok := p.live[t.Name]; ok {
		if t.ID != "" && l.ID == t.ID {
			p.forgetLocked(t)
		}
		p.mu.Unlock()
		return false, true
	}
	if f, ok := p.failed[t.Name]; ok && !t.matches(f.ID) {
		p.mu.Unlock()
		return false, false
	}
	_, wasFailed = p.failed[t.Name]
	if old, ok := p.forgotten[t.Name]; ok && !wasFailed && old.ID == t.ID {
		p.mu.Unlock()
		return false, false // known already: the common case of gossip
	}
	t.At = time.Now().UnixNano()
	p.forgetLocked(t)
	p.mu.Unlock()
	if wasFailed {
		p.logForget("failed member forgotten by a peer", t)
		p.signal()
	}
	return wasFailed, false
}

// learnFailed records a member a peer saw fail, unless this node knows
// better: it sees the member live, has it failed already, holds a
// tombstone for that incarnation (it left or was forgotten), or knows
// another incarnation of it (the peer's news is stale).
func (p *Provider) learnFailed(m NodeMeta) {
	if m.Name == "" || m.Name == p.selfName() {
		return
	}
	p.mu.Lock()
	_, live := p.live[m.Name]
	_, failed := p.failed[m.Name]
	t, tomb := p.forgotten[m.Name]
	k, known := p.known[m.Name]
	if live || failed || (tomb && t.matches(m.ID)) || (known && k.ID != m.ID) || len(p.failed) >= maxTombstones {
		p.mu.Unlock()
		return
	}
	p.failed[m.Name] = m
	p.failedAt[m.Name] = time.Now()
	p.known[m.Name] = m
	p.mu.Unlock()
	if p.cfg.Logger != nil {
		p.cfg.Logger.Info("member failed (learnt from a peer)", "member", m.Name, "id", m.ID)
	}
	p.signal()
}

// gone reports whether member name left for good as far as this node
// knows: it left gracefully or was forgotten, and is neither live nor
// failed now.
func (p *Provider) gone(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, tomb := p.forgotten[name]
	_, live := p.live[name]
	_, failed := p.failed[name]
	return tomb && !live && !failed
}

func (p *Provider) selfName() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.self.Name != "" {
		return p.self.Name
	}
	return p.cfg.Meta.Name
}

// expireFailed forgets the members failed for at least
// ProviderConfig.ForgetFailedAfter at now, unless no other live member
// would be left; it reports whether it forgot any.
func (p *Provider) expireFailed(now time.Time) bool {
	after := p.cfg.ForgetFailedAfter
	if after <= 0 {
		return false
	}
	var gone []tombstone
	p.mu.Lock()
	if p.othersLiveLocked() {
		for name, at := range p.failedAt {
			if now.Sub(at) >= after {
				t := tombstone{Name: name, ID: p.failed[name].ID, At: now.UnixNano()}
				p.forgetLocked(t)
				gone = append(gone, t)
			}
		}
	}
	p.mu.Unlock()
	for _, t := range gone {
		p.logForget("failed member forgotten after --forget-failed-after", t)
	}
	if len(gone) > 0 {
		p.signal()
	}
	return len(gone) > 0
}

func (p *Provider) logForget(msg string, t tombstone) {
	if p.cfg.Logger != nil {
		p.cfg.Logger.Warn(msg, "member", t.Name, "id", t.ID)
	}
}

// publish is the one goroutine that turns membership into topology; with
// ProviderConfig.ForgetFailedAfter it also expires failed members.
func (p *Provider) publish(c *pcluster.Cluster) {
	defer p.wg.Done()
	var expire <-chan time.Time
	if after := p.cfg.ForgetFailedAfter; after > 0 {
		t := time.NewTicker(min(max(after/8, 10*time.Millisecond), time.Minute))
		defer t.Stop()
		expire = t.C
	}
	for {
		select {
		case <-p.quit:
			return
		case <-p.changed:
		case now := <-expire:
			p.expireFailed(now) // signals when it forgets
			continue
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

// LocalState sends the forgotten members in every push/pull state sync
// (periodic, and at join).
func (d *metaDelegate) LocalState(join bool) []byte {
	d.mu.Lock()
	st := gossipState{Forgotten: make([]tombstone, 0, len(d.forgotten)), Failed: byName(d.failed)}
	for _, t := range d.forgotten {
		st.Forgotten = append(st.Forgotten, t)
	}
	d.mu.Unlock()
	if len(st.Forgotten) == 0 && len(st.Failed) == 0 {
		return nil
	}
	sort.Slice(st.Forgotten, func(i, j int) bool { return st.Forgotten[i].Name < st.Forgotten[j].Name })
	b, _ := json.Marshal(st)
	return b
}

// MergeRemoteState applies a peer's forgotten members (see
// [Provider.applyTombstone]); state it cannot decode is ignored.
func (d *metaDelegate) MergeRemoteState(buf []byte, join bool) {
	if len(buf) == 0 {
		return
	}
	var st gossipState
	if json.Unmarshal(buf, &st) != nil {
		return
	}
	for _, t := range st.Forgotten {
		(*Provider)(d).applyTombstone(t)
	}
	for _, m := range st.Failed {
		(*Provider)(d).learnFailed(m)
	}
}

// eventDelegate signals the publishing goroutine. memberlist calls it
// synchronously from its own goroutines; it must not block.
type eventDelegate Provider

func (d *eventDelegate) NotifyJoin(n *memberlist.Node) {
	p := (*Provider)(d)
	p.logChange("member joined", n)
	p.mu.Lock()
	delete(p.failed, n.Name)
	delete(p.failedAt, n.Name)
	// A forgotten member that joins again is a member like any other.
	delete(p.forgotten, n.Name)
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
	t, forgotten := p.forgotten[n.Name]
	forgotten = forgotten && t.matches(m.ID)
	if failed && !forgotten {
		if m.Name == "" {
			m.Name = n.Name
		}
		m.GossipAddr = net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
		p.failed[n.Name] = m
		p.failedAt[n.Name] = time.Now()
	}
	if !failed {
		// Gone with its grains handed off: like a forgotten member, it
		// holds no copy a claim must wait for (replica.go, jointQuorum);
		// the tombstone tells members that missed the departure, and
		// nodes that start later, by gossip state.
		p.forgetLocked(tombstone{Name: n.Name, ID: m.ID, At: time.Now().UnixNano()})
	}
	p.mu.Unlock()
	if failed && forgotten {
		p.logChange("forgotten member failed (stays forgotten)", n)
	} else if failed {
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
