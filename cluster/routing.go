package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	clusterv1 "github.com/stichdev/stich/proto/stich/cluster/v1"
)

// activatorName is the well-known actor every node runs to receive
// forwarded grain calls and storage transfers.
const activatorName = "stich-activator"

// Routing errors.
var (
	// ErrNoOwner reports a grain kind no live member serves.
	ErrNoOwner = errors.New("cluster: no live member serves this kind")
	// ErrMoving reports a grain whose storage is being moved between nodes.
	ErrMoving = errors.New("cluster: grain is moving between nodes")
)

// NotOwnerError reports a call that reached a node which does not own the
// grain in its view of the membership.
type NotOwnerError struct{ Owner string }

func (e *NotOwnerError) Error() string {
	return fmt.Sprintf("cluster: not the owner (owner is %q)", e.Owner)
}

// UnavailableError reports a grain whose storage is on a member that is
// unreachable: it must not be started empty as if it were new.
type UnavailableError struct {
	Kind, Identity, Node string
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("%s %s is stored on node %s, which is unreachable; it will be available again when %s returns",
		e.Kind, e.Identity, e.Node, e.Node)
}

// view is an immutable snapshot of the membership.
type view struct {
	live   []NodeMeta // members that serve grains (not leaving)
	all    []NodeMeta // live plus leaving
	failed []NodeMeta
}

func (n *Node) currentView() *view { return n.view.Load() }

// onMembership installs a new view (called from the provider's publishing
// goroutine).
func (n *Node) onMembership(members, failed []NodeMeta) {
	if n.frozenView.Load() {
		return
	}
	v := &view{failed: failed}
	for _, m := range members {
		v.all = append(v.all, m)
		if !m.Leaving {
			v.live = append(v.live, m)
		}
	}
	n.view.Store(v)
	n.viewVersion.Add(1)
	n.publishView()
	n.notifyLost(v)
	if n.repl != nil {
		n.repl.onMembership()
	}
	if n.alarms != nil {
		n.alarms.viewChanged()
	}
}

// owner returns the owner of (kind, identity) in this node's view.
func (n *Node) owner(kind, identity string) (NodeMeta, error) {
	m, ok := lookupFast(n.placeKind(kind), identity, n.currentView().live)
	if !ok {
		if _, known := n.kinds[kind]; !known {
			return NodeMeta{}, fmt.Errorf("%w: %q", ErrUnknownKind, kind)
		}
		return NodeMeta{}, fmt.Errorf("%w: %q", ErrNoOwner, kind)
	}
	return m, nil
}

// placeKind is the kind whose placement grains of kind follow (see
// [Kind.PlaceWith]).
func (n *Node) placeKind(kind string) string {
	if k, ok := n.kinds[kind]; ok && k.PlaceWith != "" {
		return k.PlaceWith
	}
	return kind
}

// Owner returns the name of the member that owns (kind, identity) in this
// node's view.
func (n *Node) Owner(kind, identity string) (string, error) {
	m, err := n.owner(kind, identity)
	return m.Name, err
}

// OwnerIsLive reports whether the top-ranked member for (kind, identity),
// counting failed members too, is live: a grain with that identity can be
// created without waiting for a failed node.
//
// With replication, that is: a majority of the grain's replica set is
// live (its owner may then be any live member).
func (n *Node) OwnerIsLive(kind, identity string) bool {
	v := n.currentView()
	if n.repl != nil && !n.alone() {
		set, liveOthers := n.repl.replicaSet(v, kind, identity, false)
		live := len(liveOthers)
		for _, m := range set {
			if m.Name == n.cfg.Name {
				live++
			}
		}
		return len(set) > 0 && live >= len(set)/2+1
	}
	r := Rank(n.placeKind(kind), identity, append(append([]NodeMeta(nil), v.live...), v.failed...))
	if len(r) == 0 {
		return false
	}
	for _, f := range v.failed {
		if f.Name == r[0].Name {
			return false
		}
	}
	return true
}

func (n *Node) memberByName(name string) (NodeMeta, bool) {
	for _, m := range n.currentView().all {
		if m.Name == name {
			return m, true
		}
	}
	return NodeMeta{}, false
}

func activatorPID(m NodeMeta) *actor.PID { return actor.NewPID(m.ActorAddr, activatorName) }

// Request sends msg to the grain (kind, identity) on whichever member owns
// it, activating it there if needed, and returns its reply. It retries
// while ownership is moving, until ctx is done or, without a deadline,
// Config.CallTimeout has passed.
func (n *Node) Request(ctx context.Context, kind, identity string, msg any) (any, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.cfg.CallTimeout)
		defer cancel()
	}
	backoff, started := 5*time.Millisecond, time.Now()
	hint := ""
	for {
		// A new view (the owner marked failed, a member joined) ends the
		// wait before a retry: taken before the attempt, so that a change
		// during it is not missed.
		changed := n.ViewChanged()
		owner, err := n.owner(kind, identity)
		if err != nil {
			return nil, err
		}
		if hint != "" {
			if m, ok := n.memberByName(hint); ok && !m.Leaving {
				owner = m
			}
			hint = ""
		}
		var res any
		if owner.Name == n.cfg.Name {
			res, err = n.callLocal(ctx, kind, identity, msg)
		} else {
			res, err = n.forward(ctx, owner, kind, identity, msg)
		}
		var notOwner *NotOwnerError
		switch {
		case err == nil:
			return res, nil
		case errors.As(err, &notOwner):
			hint = notOwner.Owner
		case errors.Is(err, ErrMoving), errors.Is(err, ErrDraining) && owner.Name != n.cfg.Name:
		default:
			return nil, err
		}
		// Views are converging or storage is moving: retry shortly, or at
		// once when the view changes. The first retries stay close
		// together (members learn of a failure within a few gossip
		// intervals of each other, and a failover waits on that); a wait
		// that lasts (a grain's copy moving) backs off to 200 ms.
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("cluster: call %s/%s: ownership did not settle: %w (last: %v)", kind, identity, ctx.Err(), err)
		case <-t.C:
		case <-changed:
			t.Stop()
		}
		limit := 200 * time.Millisecond
		if time.Since(started) < 2*time.Second {
			limit = 20 * time.Millisecond
		}
		backoff = min(backoff*2, limit)
	}
}

// callLocal calls a grain this node owns (the caller checked ownership).
func (n *Node) callLocal(ctx context.Context, kind, identity string, msg any) (any, error) {
	if n.leaving.Load() {
		return nil, ErrDraining
	}
	dl, _ := ctx.Deadline()
	for attempt := 0; ; attempt++ {
		timeout := time.Until(dl)
		if timeout <= 0 {
			return nil, fmt.Errorf("cluster: call %s/%s: %w", kind, identity, context.DeadlineExceeded)
		}
		e, err := n.acquire(ctx, kind, identity, n.lookupOnly(kind, msg))
		if err != nil {
			return nil, err
		}
		if n.readOnly(kind, msg) && e.claim != nil {
			if err := e.claim.confirm(ctx); err != nil {
				n.release(e)
				return nil, err
			}
		}
		// No timer of the future's own: ctx has the deadline (checked
		// above) and wait completes the future when it passes. A stopped
		// timer stays in the runtime's timer heap until it is cleaned, and
		// with it the future.
		f := n.system.Root.RequestFuture(e.pid, msg, -1)
		res, err := n.wait(ctx, f)
		n.release(e)
		switch {
		case errors.Is(err, actor.ErrDeadLetter) && attempt < 3:
			// The activation died under the call (a crash); the next
			// acquire waits for it to be gone and starts a new one.
			continue
		case errors.Is(err, actor.ErrTimeout):
			return nil, fmt.Errorf("cluster: %s/%s did not answer in %s: %w", kind, identity, timeout.Round(time.Millisecond), context.DeadlineExceeded)
		case err != nil:
			return nil, fmt.Errorf("cluster: call %s/%s: %w", kind, identity, err)
		}
		return res, nil
	}
}

// forward sends a call to the grain on its owner: directly to the
// activation's PID when this node has it cached, else after asking the
// owner's activator to locate (activate) it. A cached PID that no longer
// answers (the activation stopped: passivated or moved) is dropped and the
// grain located again.
func (n *Node) forward(ctx context.Context, owner NodeMeta, kind, identity string, msg any) (any, error) {
	if _, ok := msg.(proto.Message); !ok {
		return nil, fmt.Errorf("cluster: %T cannot cross nodes (not a protobuf message)", msg)
	}
	if err := checkSize(fmt.Sprintf("call %T to %s/%s", msg, kind, identity), msg.(proto.Message)); err != nil {
		return nil, err
	}
	key := grainKey(kind, identity)
	for attempt := 0; ; attempt++ {
		pid, err := n.locate(ctx, owner, key, kind, identity, n.lookupOnly(kind, msg), n.readOnly(kind, msg))
		if err != nil {
			return nil, err
		}
		dl, _ := ctx.Deadline()
		// When gossip marks the owner failed, a read is re-sent to the next
		// owner. A leaving owner answers (it hands off) and is waited for.
		read := n.readOnly(kind, msg)
		f := n.system.Root.RequestFuture(pid, msg, time.Until(dl))
		var res any
		if read {
			res, err = n.waitMember(ctx, f, owner.Name, false)
		} else {
			// NB: not cut on a failure report: under load memberlist
			// reports live members failed now and then, and a write the
			// member then answers must not be reported lost (seen in CI
			// runs of the cluster tests). See docs/replication.md.
			res, err = n.wait(ctx, f)
		}
		var lost *errMemberLost
		switch {
		case errors.As(err, &lost):
			n.pids.Delete(key)
			if read {
				return nil, fmt.Errorf("%w: %s/%s: its owner %s was lost; re-routing (%w)", ErrMoving, kind, identity, owner.Name, err)
			}
			return nil, fmt.Errorf("%w (%s/%s on %s)", ErrOwnerLost, kind, identity, owner.Name)
		case err != nil && !read && !errors.Is(err, actor.ErrDeadLetter) && n.MemberFailed(owner.Name):
			// Delivered (maybe applied) to an owner now marked failed: its
			// outcome is unknown, which a timeout would not say.
			n.pids.Delete(key)
			return nil, fmt.Errorf("%w (%s/%s on %s: %w)", ErrOwnerLost, kind, identity, owner.Name, err)
		case errors.Is(err, actor.ErrDeadLetter) && attempt < 3:
			n.pids.Delete(key)
			continue
		case errors.Is(err, actor.ErrTimeout):
			n.pids.Delete(key)
			return nil, fmt.Errorf("cluster: %s/%s on %s did not answer: %w", kind, identity, owner.Name, context.DeadlineExceeded)
		case err != nil:
			n.pids.Delete(key)
			return nil, fmt.Errorf("cluster: call %s/%s on %s: %w", kind, identity, owner.Name, err)
		}
		if re, ok := res.(*clusterv1.RouteError); ok && re.GetCode() == clusterv1.RouteError_CODE_TOO_LARGE {
			return nil, routeErrorToGo(re, kind, identity)
		}
		return res, nil
	}
}

// cachedPID is a remote activation's PID, valid for one membership view.
type cachedPID struct {
	pid     *actor.PID
	owner   string
	version uint64
}

// readOnly reports whether msg, sent to a grain of kind, must be confirmed
// (see [Kind.Reads]).
func (n *Node) readOnly(kind string, msg any) bool {
	k, ok := n.kinds[kind]
	return ok && k.Reads != nil && k.Reads(msg)
}

// lookupOnly reports whether msg, sent to a grain of kind, must not create
// it (see [Kind.Creates]).
func (n *Node) lookupOnly(kind string, msg any) bool {
	k, ok := n.kinds[kind]
	return ok && k.Creates != nil && !k.Creates(msg)
}

func (n *Node) locate(ctx context.Context, owner NodeMeta, key, kind, identity string, mustExist, confirm bool) (*actor.PID, error) {
	version := n.viewVersion.Load()
	// NB: a read asks the owner every time, which confirms its claim.
	if v, ok := n.pids.Load(key); ok && !confirm {
		c := v.(cachedPID)
		if c.version == version && c.owner == owner.Name {
			return c.pid, nil
		}
	}
	dl, _ := ctx.Deadline()
	f := n.system.Root.RequestFuture(activatorPID(owner), &clusterv1.Locate{Kind: kind, Identity: identity, DeadlineUnixNano: dl.UnixNano(), MustExist: mustExist, Confirm: confirm},
		time.Until(dl)+50*time.Millisecond) // the owner's own deadline error, more precise, arrives first
	// Locating runs no grain code: it moves on as soon as the owner is
	// marked failed.
	res, err := n.waitMember(ctx, f, owner.Name, false)
	var lost *errMemberLost
	switch {
	case errors.As(err, &lost):
		return nil, fmt.Errorf("%w: %s/%s: its owner %s was lost; re-routing (%w)", ErrMoving, kind, identity, owner.Name, err)
	case errors.Is(err, actor.ErrTimeout):
		return nil, fmt.Errorf("cluster: %s/%s: owner %s did not answer: %w", kind, identity, owner.Name, context.DeadlineExceeded)
	case errors.Is(err, actor.ErrDeadLetter):
		return nil, ErrMoving // the owner's activator is gone: it is leaving
	case err != nil:
		return nil, fmt.Errorf("cluster: locate %s/%s on %s: %w", kind, identity, owner.Name, err)
	}
	r, ok := res.(*clusterv1.LocateReply)
	if !ok {
		return nil, fmt.Errorf("cluster: %s answered %T to locate", owner.Name, res)
	}
	if e := r.GetError(); e != nil {
		return nil, routeErrorToGo(e, kind, identity)
	}
	pid := actor.NewPID(r.GetAddress(), r.GetId())
	n.pids.Store(key, cachedPID{pid: pid, owner: owner.Name, version: version})
	return pid, nil
}

func routeErrorToGo(e *clusterv1.RouteError, kind, identity string) error {
	switch e.GetCode() {
	case clusterv1.RouteError_CODE_NOT_OWNER:
		return &NotOwnerError{Owner: e.GetOwner()}
	case clusterv1.RouteError_CODE_DRAINING:
		return ErrDraining
	case clusterv1.RouteError_CODE_MOVING:
		return ErrMoving
	case clusterv1.RouteError_CODE_UNAVAILABLE:
		return &UnavailableError{Kind: kind, Identity: identity, Node: e.GetOwner()}
	case clusterv1.RouteError_CODE_UNKNOWN_KIND:
		return fmt.Errorf("%w: %s", ErrUnknownKind, e.GetMessage())
	case clusterv1.RouteError_CODE_DEADLINE_EXCEEDED:
		return fmt.Errorf("cluster: %s: %w", e.GetMessage(), context.DeadlineExceeded)
	case clusterv1.RouteError_CODE_NOT_FOUND:
		return fmt.Errorf("%w: %s/%s", ErrNoSuchGrain, kind, identity)
	case clusterv1.RouteError_CODE_UNCONFIRMED:
		return fmt.Errorf("%w: %s", ErrUnconfirmed, e.GetMessage())
	case clusterv1.RouteError_CODE_TOO_LARGE:
		return fmt.Errorf("%w: %s", ErrTooLarge, e.GetMessage())
	}
	return fmt.Errorf("cluster: remote: %s", e.GetMessage())
}

func routeErrorFromGo(err error) *clusterv1.RouteError {
	var notOwner *NotOwnerError
	var unavailable *UnavailableError
	switch {
	case errors.As(err, &notOwner):
		return &clusterv1.RouteError{Code: clusterv1.RouteError_CODE_NOT_OWNER, Owner: notOwner.Owner, Message: err.Error()}
	case errors.Is(err, ErrDraining):
		return &clusterv1.RouteError{Code: clusterv1.RouteError_CODE_DRAINING, Message: err.Error()}
	case errors.Is(err, ErrMoving):
		return &clusterv1.RouteError{Code: clusterv1.RouteError_CODE_MOVING, Message: err.Error()}
	case errors.As(err, &unavailable):
		return &clusterv1.RouteError{Code: clusterv1.RouteError_CODE_UNAVAILABLE, Owner: unavailable.Node, Message: err.Error()}
	case errors.Is(err, ErrUnknownKind):
		return &clusterv1.RouteError{Code: clusterv1.RouteError_CODE_UNKNOWN_KIND, Message: err.Error()}
	case errors.Is(err, context.DeadlineExceeded):
		return &clusterv1.RouteError{Code: clusterv1.RouteError_CODE_DEADLINE_EXCEEDED, Message: err.Error()}
	case errors.Is(err, ErrNoSuchGrain):
		return &clusterv1.RouteError{Code: clusterv1.RouteError_CODE_NOT_FOUND, Message: err.Error()}
	case errors.Is(err, ErrTooLarge):
		return &clusterv1.RouteError{Code: clusterv1.RouteError_CODE_TOO_LARGE, Message: err.Error()}
	case errors.Is(err, ErrUnconfirmed):
		return &clusterv1.RouteError{Code: clusterv1.RouteError_CODE_UNCONFIRMED, Message: err.Error()}
	}
	return &clusterv1.RouteError{Code: clusterv1.RouteError_CODE_INTERNAL, Message: err.Error()}
}

// activator receives forwarded calls, transfers and stats requests. It
// never blocks its mailbox: each request is served on its own goroutine,
// which replies to the original sender.
type activator struct{ n *Node }

func (a *activator) Receive(c actor.Context) {
	sender := c.Sender()
	if sender == nil {
		return
	}
	n := a.n
	reply := func(m proto.Message) { n.system.Root.Send(sender, m) }
	switch m := c.Message().(type) {
	case *clusterv1.Locate:
		if pid := n.activeLocal(m.GetKind(), m.GetIdentity()); pid != nil && !m.GetConfirm() {
			reply(&clusterv1.LocateReply{Address: pid.GetAddress(), Id: pid.GetId()})
			return
		}
		n.goServe(func() { reply(n.serveLocate(m)) })
	case *clusterv1.Transfer:
		n.goServe(func() { reply(n.serveTransfer(m)) })
	case *clusterv1.Import:
		n.goServe(func() { reply(n.serveImport(m)) })
	case *clusterv1.NodeStats:
		counts := map[string]uint32{}
		for k, v := range n.GrainCounts() {
			counts[k] = uint32(v)
		}
		reply(&clusterv1.NodeStatsReply{Name: n.cfg.Name, Grains: counts, Leaving: n.leaving.Load(), Repaired: n.Repaired()})
	case *clusterv1.MemberLeaving:
		n.provider.markLeaving(m.GetName())
		reply(&clusterv1.MemberLeavingReply{})
	case *clusterv1.MemberForget:
		reply(n.serveForget(m))
	default:
		n.serveReplica(m, reply)
	}
}

// goServe runs f on a goroutine the node waits for at shutdown. Once the
// node stops serving, f is dropped (the sender's request times out, as if
// the node were gone): storage may already be closed.
func (n *Node) goServe(f func()) {
	n.servingMu.Lock()
	defer n.servingMu.Unlock()
	if n.servingDone {
		return
	}
	n.serving.Add(1)
	go func() {
		defer n.serving.Done()
		f()
	}()
}

// stopServing refuses new activator handlers and waits for running ones.
func (n *Node) stopServing() {
	n.servingMu.Lock()
	n.servingDone = true
	n.servingMu.Unlock()
	n.serving.Wait()
}

// serveLocate activates a grain this node owns (pulling its storage if
// needed) and returns the activation's PID.
func (n *Node) serveLocate(m *clusterv1.Locate) *clusterv1.LocateReply {
	ctx := context.Background()
	var cancel context.CancelFunc
	if ns := m.GetDeadlineUnixNano(); ns > 0 {
		ctx, cancel = context.WithDeadline(ctx, time.Unix(0, ns))
	} else {
		ctx, cancel = context.WithTimeout(ctx, n.cfg.CallTimeout)
	}
	defer cancel()
	if err := n.checkOwner(m.GetKind(), m.GetIdentity()); err != nil {
		return &clusterv1.LocateReply{Error: routeErrorFromGo(err)}
	}
	e, err := n.acquire(ctx, m.GetKind(), m.GetIdentity(), m.GetMustExist())
	if err != nil {
		return &clusterv1.LocateReply{Error: routeErrorFromGo(err)}
	}
	if m.GetConfirm() && e.claim != nil {
		if err := e.claim.confirm(ctx); err != nil {
			n.release(e)
			return &clusterv1.LocateReply{Error: routeErrorFromGo(err)}
		}
	}
	n.release(e)
	return &clusterv1.LocateReply{Address: e.pid.GetAddress(), Id: e.pid.GetId()}
}

// checkOwner fails unless this node serves grains and owns (kind, identity).
func (n *Node) checkOwner(kind, identity string) error {
	if n.leaving.Load() {
		return ErrDraining
	}
	owner, err := n.owner(kind, identity)
	if err != nil {
		return err
	}
	if owner.Name != n.cfg.Name {
		return &NotOwnerError{Owner: owner.Name}
	}
	return nil
}

// activeLocal returns the PID of the grain's live activation if this node
// owns the grain and the activation is not stopping or moving.
func (n *Node) activeLocal(kind, identity string) *actor.PID {
	if n.checkOwner(kind, identity) != nil {
		return nil
	}
	key := grainKey(kind, identity)
	a := &n.activations
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.byKey[key]
	if a.draining || a.moving[key] || e == nil || e.stopping {
		return nil
	}
	return e.pid
}
