package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

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
	v := &view{failed: failed}
	for _, m := range members {
		v.all = append(v.all, m)
		if !m.Leaving {
			v.live = append(v.live, m)
		}
	}
	n.view.Store(v)
	n.viewVersion.Add(1)
}

// owner returns the owner of (kind, identity) in this node's view.
func (n *Node) owner(kind, identity string) (NodeMeta, error) {
	m, ok := Lookup(kind, identity, n.currentView().live)
	if !ok {
		if _, known := n.kinds[kind]; !known {
			return NodeMeta{}, fmt.Errorf("%w: %q", ErrUnknownKind, kind)
		}
		return NodeMeta{}, fmt.Errorf("%w: %q", ErrNoOwner, kind)
	}
	return m, nil
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
func (n *Node) OwnerIsLive(kind, identity string) bool {
	v := n.currentView()
	r := Rank(kind, identity, append(append([]NodeMeta(nil), v.live...), v.failed...))
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
	n.metrics.calls.Add(1)
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.cfg.CallTimeout)
		defer cancel()
	}
	backoff := 5 * time.Millisecond
	hint := ""
	for {
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
			res, err = n.requestLocal(ctx, kind, identity, msg)
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
		// Views are converging or storage is moving: retry shortly.
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("cluster: call %s/%s: ownership did not settle: %w (last: %v)", kind, identity, ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 200*time.Millisecond)
	}
}

// requestLocal serves a call for a grain this node owns.
func (n *Node) requestLocal(ctx context.Context, kind, identity string, msg any) (any, error) {
	if n.leaving.Load() {
		return nil, ErrDraining
	}
	if owner, err := n.owner(kind, identity); err != nil {
		return nil, err
	} else if owner.Name != n.cfg.Name {
		return nil, &NotOwnerError{Owner: owner.Name}
	}
	dl, _ := ctx.Deadline()
	for attempt := 0; ; attempt++ {
		timeout := time.Until(dl)
		if timeout <= 0 {
			return nil, fmt.Errorf("cluster: call %s/%s: %w", kind, identity, context.DeadlineExceeded)
		}
		pid, release, err := n.acquire(ctx, kind, identity)
		if err != nil {
			return nil, err
		}
		f := n.system.Root.RequestFuture(pid, msg, timeout)
		res, err := n.wait(ctx, f)
		release()
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

// forward sends a call to the owner's activator.
func (n *Node) forward(ctx context.Context, owner NodeMeta, kind, identity string, msg any) (any, error) {
	pm, ok := msg.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("cluster: %T cannot cross nodes (not a protobuf message)", msg)
	}
	payload, err := anypb.New(pm)
	if err != nil {
		return nil, fmt.Errorf("cluster: encode %T: %w", msg, err)
	}
	dl, _ := ctx.Deadline()
	fwd := &clusterv1.Forward{Kind: kind, Identity: identity, Payload: payload, DeadlineUnixNano: dl.UnixNano()}
	// The future outlives the owner's deadline slightly so that the owner's
	// own deadline error, which is more precise, arrives first.
	f := n.system.Root.RequestFuture(activatorPID(owner), fwd, time.Until(dl)+50*time.Millisecond)
	res, err := n.wait(ctx, f)
	switch {
	case errors.Is(err, actor.ErrTimeout):
		return nil, fmt.Errorf("cluster: %s/%s on %s did not answer: %w", kind, identity, owner.Name, context.DeadlineExceeded)
	case errors.Is(err, actor.ErrDeadLetter):
		return nil, ErrMoving // the owner's activator is gone: it is leaving
	case err != nil:
		return nil, fmt.Errorf("cluster: call %s/%s on %s: %w", kind, identity, owner.Name, err)
	}
	reply, ok := res.(*clusterv1.ForwardReply)
	if !ok {
		return nil, fmt.Errorf("cluster: %s answered %T to a forwarded call", owner.Name, res)
	}
	if e := reply.GetError(); e != nil {
		return nil, routeErrorToGo(e, kind, identity)
	}
	out, err := reply.GetPayload().UnmarshalNew()
	if err != nil {
		return nil, fmt.Errorf("cluster: decode reply from %s: %w", owner.Name, err)
	}
	return out, nil
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
	case *clusterv1.Forward:
		n.goServe(func() { reply(n.serveForward(m)) })
	case *clusterv1.Transfer:
		n.goServe(func() { reply(n.serveTransfer(m)) })
	case *clusterv1.Import:
		n.goServe(func() { reply(n.serveImport(m)) })
	case *clusterv1.NodeStats:
		counts := map[string]uint32{}
		for k, v := range n.GrainCounts() {
			counts[k] = uint32(v)
		}
		reply(&clusterv1.NodeStatsReply{Name: n.cfg.Name, Grains: counts, Leaving: n.leaving.Load()})
	}
}

// goServe runs f on a goroutine the node waits for at shutdown.
func (n *Node) goServe(f func()) {
	n.serving.Add(1)
	go func() {
		defer n.serving.Done()
		f()
	}()
}

func (n *Node) serveForward(m *clusterv1.Forward) *clusterv1.ForwardReply {
	ctx := context.Background()
	var cancel context.CancelFunc
	if m.GetDeadlineUnixNano() > 0 {
		ctx, cancel = context.WithDeadline(ctx, time.Unix(0, m.GetDeadlineUnixNano()))
	} else {
		ctx, cancel = context.WithTimeout(ctx, n.cfg.CallTimeout)
	}
	defer cancel()
	msg, err := m.GetPayload().UnmarshalNew()
	if err != nil {
		return &clusterv1.ForwardReply{Error: &clusterv1.RouteError{Code: clusterv1.RouteError_CODE_INTERNAL, Message: "decode payload: " + err.Error()}}
	}
	res, err := n.requestLocal(ctx, m.GetKind(), m.GetIdentity(), msg)
	if err != nil {
		return &clusterv1.ForwardReply{Error: routeErrorFromGo(err)}
	}
	pm, ok := res.(proto.Message)
	if !ok {
		return &clusterv1.ForwardReply{Error: &clusterv1.RouteError{Code: clusterv1.RouteError_CODE_INTERNAL, Message: fmt.Sprintf("grain replied %T, not a protobuf message", res)}}
	}
	payload, err := anypb.New(pm)
	if err != nil {
		return &clusterv1.ForwardReply{Error: &clusterv1.RouteError{Code: clusterv1.RouteError_CODE_INTERNAL, Message: err.Error()}}
	}
	return &clusterv1.ForwardReply{Payload: payload}
}

// MemberStatus is one member as seen by [Node.Status].
type MemberStatus struct {
	NodeMeta
	Healthy bool
	Grains  map[string]uint32
	Err     string
}

// Status asks every live member for its grain counts (concurrently, each
// bounded by ctx) and returns them with the failed members.
func (n *Node) Status(ctx context.Context) (live []MemberStatus, failed []NodeMeta) {
	v := n.currentView()
	live = make([]MemberStatus, len(v.all))
	done := make(chan struct{}, len(v.all))
	for i, m := range v.all {
		live[i].NodeMeta = m
		go func() {
			defer func() { done <- struct{}{} }()
			timeout := 2 * time.Second
			if dl, ok := ctx.Deadline(); ok {
				timeout = min(timeout, time.Until(dl))
			}
			res, err := n.wait(ctx, n.system.Root.RequestFuture(activatorPID(m), &clusterv1.NodeStats{}, timeout))
			if err != nil {
				live[i].Err = err.Error()
				return
			}
			r, ok := res.(*clusterv1.NodeStatsReply)
			if !ok {
				live[i].Err = fmt.Sprintf("answered %T", res)
				return
			}
			live[i].Healthy, live[i].Grains = true, r.GetGrains()
		}()
	}
	for range v.all {
		<-done
	}
	return live, v.failed
}
