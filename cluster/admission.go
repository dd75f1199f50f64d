package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// admitFunc returns the gossip admission check for a node with the given
// TLS credential: a member is admitted once a mutual TLS handshake with its
// actor endpoint succeeded. Nil (no TLS: a loopback development cluster)
// admits everyone.
func admitFunc(t *TLS) func(context.Context, NodeMeta) error {
	if t == nil {
		return nil
	}
	return func(ctx context.Context, m NodeMeta) error {
		if m.ActorAddr == "" {
			return errors.New("its metadata names no actor endpoint")
		}
		if err := t.checkPeer(ctx, m.ActorAddr); err != nil {
			return fmt.Errorf("mutual TLS with its actor endpoint %s failed (is it using this cluster's CA %q?): %w", m.ActorAddr, t.CA(), err)
		}
		return nil
	}
}

// errNotAdmitted makes memberlist ignore an alive message from a member
// whose admission check has not passed (yet).
var errNotAdmitted = errors.New("not admitted yet: its credentials are being checked")

// admission gates gossip membership: memberlist calls NotifyAlive (under
// its node lock, so it must not block) for every alive message; a member
// seen for the first time is ignored while a goroutine checks it, and once
// the check passes, a push/pull with it (memberlist Join) brings it in.
// It also records name conflicts (memberlist's ConflictDelegate), which a
// joining node turns into a start failure.
//
// NB: it never takes the provider's mutex: the provider calls memberlist
// while holding it, and memberlist calls NotifyAlive under its own lock.
type admission struct {
	p       *Provider
	self    string
	check   func(context.Context, NodeMeta) error
	timeout time.Duration
	quit    <-chan struct{}

	mu       sync.Mutex
	closed   bool
	admitted map[string]string    // member name -> admitted incarnation (admissionKey)
	checking map[string]bool      // admissionKey -> a check is running
	refused  map[string]refusal   // member name -> last failed check
	conflict []conflict           // name conflicts not yet examined
	retry    map[string]time.Time // admissionKey -> earliest recheck after a refusal
	wg       sync.WaitGroup
}

// conflict is a node gossiping under this node's name from another
// address: another live node, or this node's own previous incarnation
// (killed and restarted before the members saw it fail).
type conflict struct {
	name, addr string
}

type refusal struct {
	key string
	err error
}

// recheckAfter is how long a refused incarnation is ignored before it is
// checked again (its operator may have fixed its certificates).
const recheckAfter = 5 * time.Second

// maxRetryEntries is when expired refusals are swept (each incarnation of
// a refused node has its own).
const maxRetryEntries = 256

func newAdmission(p *Provider, self string, timeout time.Duration) *admission {
	return &admission{p: p, self: self, check: p.cfg.Admit, timeout: timeout, quit: p.quit,
		admitted: map[string]string{}, checking: map[string]bool{}, refused: map[string]refusal{}, retry: map[string]time.Time{}}
}

func admissionKey(m NodeMeta) string { return m.ID + "\x00" + m.ActorAddr }

// NotifyAlive implements memberlist.AliveDelegate.
func (a *admission) NotifyAlive(n *memberlist.Node) error {
	if a.check == nil || n.Name == a.self {
		// Our own name at another address is a conflict memberlist
		// reports after this call.
		return nil
	}
	var m NodeMeta
	if err := json.Unmarshal(n.Meta, &m); err != nil {
		return fmt.Errorf("unreadable metadata: %w", err)
	}
	key := admissionKey(m)
	gossipAddr := net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.admitted[n.Name] == key {
		return nil
	}
	if a.closed || a.checking[key] || time.Now().Before(a.retry[key]) {
		return errNotAdmitted
	}
	a.checking[key] = true
	a.wg.Add(1)
	go a.run(n.Name, m, key, gossipAddr)
	return errNotAdmitted
}

// run checks one incarnation of a member, then pulls its state again if
// it passed.
func (a *admission) run(name string, m NodeMeta, key, gossipAddr string) {
	defer a.wg.Done()
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	go func() {
		select {
		case <-a.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := a.check(ctx, m)
	a.mu.Lock()
	delete(a.checking, key)
	if err != nil {
		a.refused[name] = refusal{key: key, err: err}
		now := time.Now()
		if len(a.retry) >= maxRetryEntries {
			for k, at := range a.retry {
				if now.After(at) {
					delete(a.retry, k)
				}
			}
		}
		a.retry[key] = now.Add(recheckAfter)
	} else {
		a.admitted[name] = key
		delete(a.refused, name)
		delete(a.retry, key)
	}
	closed := a.closed
	a.mu.Unlock()
	if err != nil {
		a.p.cfg.Logger.Warn("refused a member: it failed the cluster's admission check", "member", name, "gossip_addr", gossipAddr, "err", err)
		return
	}
	if closed {
		return
	}
	a.p.mu.Lock()
	ml := a.p.ml
	a.p.mu.Unlock()
	if ml == nil {
		return
	}
	// Its alive messages were ignored until now: a push/pull brings in
	// its current state.
	if _, err := ml.Join([]string{gossipAddr}); err != nil {
		a.p.cfg.Logger.Debug("admitted member: state exchange failed; gossip will retry", "member", name, "err", err)
	}
}

// NotifyConflict implements memberlist.ConflictDelegate: another node
// gossips under a name already in use.
func (a *admission) NotifyConflict(existing, other *memberlist.Node) {
	c := conflict{name: existing.Name, addr: net.JoinHostPort(other.Addr.String(), strconv.Itoa(int(other.Port)))}
	if existing.Name != a.self {
		c.addr = net.JoinHostPort(existing.Addr.String(), strconv.Itoa(int(existing.Port))) + " and " + c.addr
	}
	a.p.cfg.Logger.Warn("node name conflict: another node gossips under this name (a restarted node's old incarnation until it is seen to fail, or a second node with the same --node-name)", "name", c.name, "other_addr", c.addr)
	a.mu.Lock()
	if len(a.conflict) < 16 {
		a.conflict = append(a.conflict, c)
	}
	a.mu.Unlock()
}

// takeConflicts returns and clears the conflicts about this node's name.
func (a *admission) takeConflicts() []conflict {
	a.mu.Lock()
	defer a.mu.Unlock()
	var mine []conflict
	for _, c := range a.conflict {
		if c.name == a.self {
			mine = append(mine, c)
		}
	}
	a.conflict = nil
	return mine
}

// joinOutcome reports the state of a start-up join: done once a peer is
// a member; failed (with why) once every check started has refused and
// none is still running.
func (a *admission) joinOutcome(members int) (done bool, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if members > 1 {
		return true, nil
	}
	if len(a.checking) == 0 && len(a.refused) > 0 {
		return true, fmt.Errorf("%w: %s", ErrJoinRefused, a.refusalsLocked())
	}
	return false, nil
}

func (a *admission) refusalsLocked() string {
	var out []string
	for name, r := range a.refused {
		out = append(out, fmt.Sprintf("%s: %v", name, r.err))
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

// stop ends the checks and waits for them.
func (a *admission) stop() {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	a.wg.Wait()
}

// Join failures at start.
var (
	// ErrNameConflict reports a node whose name another member already has.
	ErrNameConflict = errors.New("cluster: node name conflict")
	// ErrJoinRefused reports a join whose members failed the admission
	// check (or whose members refused this node's).
	ErrJoinRefused = errors.New("cluster: join refused")
	// ErrJoinAlone reports a join that answered but admitted no member.
	ErrJoinAlone = errors.New("cluster: joined no member")
)
