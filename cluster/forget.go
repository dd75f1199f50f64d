package cluster

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	clusterv1 "github.com/stichdev/stich/proto/stich/cluster/v1"
)

// Forgetting a failed member (docs/replication.md, "Forgetting a failed
// member"). A member that failed stays in the provider's failed set, and so
// in the rendezvous ranking of every replica set (replica.go, invariant 1),
// until it rejoins. Forgetting it takes it out:
//
//  1. Only a failed member is forgotten: never a live or leaving one, nor
//     the node asked, nor the last other live member.
//  2. The node asked forgets it first, then sends MemberForget to every
//     other live member's activator and reports who confirmed. A member
//     that missed the message learns it from gossip: each provider sends
//     the members it forgot in memberlist's push/pull state sync.
//  3. A forget matches the failed incarnation only (its actor system id):
//     the member restarting under the same name joins as a new member,
//     and its copies are ordered by version like any other (invariant 6),
//     so its stale copies never win.
//  4. Replica sets are recomputed from the new view: claims whose set
//     changed are fenced and anti-entropy copies every grain to its new set
//     (replicator.onMembership). Until that repair is done a grain whose
//     set held the forgotten member has one copy fewer.

// forgetTimeout bounds the wait for each member's confirmation.
const forgetTimeout = 2 * time.Second

// ForgetResult reports which other live members confirmed a forget.
type ForgetResult struct {
	// Confirmed lists the members that applied it, sorted.
	Confirmed []string
	// Unconfirmed maps each member that did not confirm it to the reason;
	// it learns the forget by gossip.
	Unconfirmed map[string]string
}

// Forget takes the failed member name out of the cluster's view: this
// node forgets it at once, then tells every other live member (see the
// numbered rules above). It returns [ErrForgetSelf], [ErrForgetLive],
// [ErrForgetUnknown], [ErrForgetAlone] or [ErrForgetUnreplicated] (wrapped)
// when it refuses, having changed nothing.
func (n *Node) Forget(ctx context.Context, name string) (ForgetResult, error) {
	switch {
	case name == n.cfg.Name:
		return ForgetResult{}, fmt.Errorf("%w: %s", ErrForgetSelf, name)
	case n.repl == nil:
		return ForgetResult{}, fmt.Errorf("%w: %s holds the only copy of its grains", ErrForgetUnreplicated, name)
	}
	t, err := n.provider.forget(name)
	if err != nil {
		return ForgetResult{}, err
	}
	res := ForgetResult{Unconfirmed: map[string]string{}}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	msg := &clusterv1.MemberForget{Name: t.Name, Id: t.ID, From: n.cfg.Name}
	for _, m := range n.provider.Members() {
		if m.Name == n.cfg.Name {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			why := ""
			ans, err := n.wait(ctx, n.system.Root.RequestFuture(activatorPID(m), msg, forgetTimeout))
			r, ok := ans.(*clusterv1.MemberForgetReply)
			switch {
			case err != nil:
				why = err.Error()
			case !ok:
				why = fmt.Sprintf("answered %T", ans)
			case r.GetLive():
				why = fmt.Sprintf("still sees %s live; it forgets it once it sees it fail", name)
			}
			mu.Lock()
			defer mu.Unlock()
			if why == "" {
				res.Confirmed = append(res.Confirmed, m.Name)
			} else {
				res.Unconfirmed[m.Name] = why
			}
		}()
	}
	wg.Wait()
	sort.Strings(res.Confirmed)
	n.log.Warn("failed member forgotten on request", "member", name, "confirmed", res.Confirmed, "unconfirmed", len(res.Unconfirmed))
	return res, nil
}

// serveForget applies a peer's MemberForget.
func (n *Node) serveForget(m *clusterv1.MemberForget) *clusterv1.MemberForgetReply {
	wasFailed, live := n.provider.applyTombstone(tombstone{Name: m.GetName(), ID: m.GetId()})
	return &clusterv1.MemberForgetReply{WasFailed: wasFailed, Live: live}
}
