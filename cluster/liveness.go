package cluster

import (
	"context"
	"errors"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
)

// Liveness driven by membership events (replica.go, invariants 16 and 17):
// a call waiting on a member ends as soon as gossip marks that member
// failed (or, for calls that may move, leaving), instead of waiting out
// its timeout; and the alarms of a failed or departed member's grains
// fire on the members that hold copies of them, without waiting for a
// call.

// ErrOwnerLost reports a call that was in flight to the grain's owner when
// gossip marked that owner failed: the call may or may not have been
// applied there. Unlike ErrMoving it must not be resent blindly; the
// caller reads the grain first. Reads (Kind.Reads), locates and watches
// are re-routed to the new owner instead.
var ErrOwnerLost = errors.New("cluster: the grain's owner was lost while the call was in flight; read the grain before resending")

// memberLost completes a future whose target member was lost.
type memberLost struct{ leaving bool }

// lostWatch is a future waiting on a member.
type lostWatch struct {
	member    string
	onLeaving bool // also when the member starts leaving
	fire      func(leaving bool)
}

// lostWatchers are the futures waiting on remote members, told when a
// new view marks their member failed, gone or leaving.
type lostWatchers struct {
	mu   sync.Mutex
	next uint64
	m    map[uint64]*lostWatch
}

// memberStatus reports whether name is a failed member in v, or a leaving
// one. A member that left after its hand-off is neither: it stopped its
// activations first, so calls to it are answered (or dead-lettered) and
// retried as before.
func memberStatus(v *view, name string) (failed, leaving bool) {
	for _, m := range v.failed {
		if m.Name == name {
			return true, false
		}
	}
	for _, m := range v.all {
		if m.Name == name {
			return false, m.Leaving
		}
	}
	return false, false
}

// MemberFailed reports whether this node's view marks member name failed.
func (n *Node) MemberFailed(name string) bool {
	failed, _ := memberStatus(n.currentView(), name)
	return failed
}

// watchMember calls fire (once, on the publishing goroutine or at once)
// when the view marks member failed, or leaving with onLeaving. The
// returned func cancels the watch.
func (n *Node) watchMember(member string, onLeaving bool, fire func(leaving bool)) (cancel func()) {
	w := &lostWatch{member: member, onLeaving: onLeaving, fire: fire}
	l := &n.lost
	l.mu.Lock()
	if l.m == nil {
		l.m = map[uint64]*lostWatch{}
	}
	l.next++
	id := l.next
	l.m[id] = w
	l.mu.Unlock()
	cancel = func() {
		l.mu.Lock()
		delete(l.m, id)
		l.mu.Unlock()
	}
	// A view installed before the registration is checked here.
	if gone, leaving := memberStatus(n.currentView(), member); gone || (leaving && onLeaving) {
		cancel()
		fire(leaving)
	}
	return cancel
}

// notifyLost tells the watches whose member v marks failed (or leaving)
// (called after v was installed).
func (n *Node) notifyLost(v *view) {
	l := &n.lost
	var due []*lostWatch
	l.mu.Lock()
	for id, w := range l.m {
		if gone, leaving := memberStatus(v, w.member); gone || (leaving && w.onLeaving) {
			due = append(due, w)
			delete(l.m, id)
		}
	}
	l.mu.Unlock()
	for _, w := range due {
		_, leaving := memberStatus(v, w.member)
		w.fire(leaving)
	}
}

// errMemberLost is waitMember's report that the member was lost.
type errMemberLost struct{ leaving bool }

func (e *errMemberLost) Error() string {
	if e.leaving {
		return "cluster: the member is leaving"
	}
	return "cluster: the member failed"
}

// waitMember is wait for a future answered by member: it also ends, with
// *errMemberLost, when the view marks member failed or, with onLeaving,
// leaving.
func (n *Node) waitMember(ctx context.Context, f *actor.Future, member string, onLeaving bool) (any, error) {
	cancel := n.watchMember(member, onLeaving, func(leaving bool) {
		n.system.Root.Send(f.PID(), memberLost{leaving: leaving})
	})
	res, err := n.wait(ctx, f)
	cancel()
	if l, ok := res.(memberLost); ok {
		return nil, &errMemberLost{leaving: l.leaving}
	}
	return res, err
}

// ViewChanged returns a channel closed when the next membership view is
// installed (a member joined, failed, started leaving, left or was
// forgotten). Watchers use it to re-route at once.
func (n *Node) ViewChanged() <-chan struct{} {
	return *n.viewCh.Load()
}

// publishView wakes ViewChanged waiters, after a new view was installed.
func (n *Node) publishView() {
	ch := make(chan struct{})
	old := n.viewCh.Swap(&ch)
	close(*old)
}

// Repaired reports whether the node takes part in majorities: always
// without replication; with it, once its data folder's first repair is
// done (replica.go, invariant 12). A member that is not repaired when
// another fails waits for that member's return, so tests and benchmarks
// that kill a member wait for every other member to be repaired first.
func (n *Node) Repaired() bool {
	return n.repl == nil || n.repl.repairedFlag.Load()
}
