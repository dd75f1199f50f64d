package cluster

import (
	"context"
	"errors"
	"fmt"

	clusterv1 "github.com/stichdev/stich/proto/stich/cluster/v1"
)

// Reads are fenced (invariant 14). An owner cut off from its replicas
// keeps its activation until a write fails or its view changes, and a
// majority elsewhere may meanwhile claim the grain and write to it. So a
// read (see [Kind.Reads]) of a replicated grain is served only after the
// owner asked its replica set which epoch each promised and a majority
// (itself included) promised none newer than its claim: no newer claim
// can then have written anything yet, and the read sees every
// acknowledged write (read-through-majority; no clocks, one round trip).
// A read the owner cannot confirm answers [ErrUnconfirmed].

// ErrUnconfirmed answers a read on an owner that could not confirm, with
// a majority of the grain's replicas, that its claim is still the newest.
var ErrUnconfirmed = errors.New("cluster: the grain's owner cannot reach a majority of its replicas to confirm it is current")

// confirm checks that c is still the newest claim on a majority of its
// replica set. A member that promised a newer epoch fences c.
func (c *claim) confirm(ctx context.Context) error {
	if c.solo {
		return nil // never clustered: nothing else can have claimed it
	}
	if c.fenced.Load() {
		return fmt.Errorf("%w: %s", ErrMoving, c.key)
	}
	if err := c.checkPromise(); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrMoving, c.key, err)
	}
	need := c.quorum - 1
	if need <= 0 {
		return nil
	}
	followers := *c.followers.Load()
	msg := &clusterv1.ReplicaConfirm{Kind: c.kind, Identity: c.identity}
	answers := make(chan uint64, len(followers)) // promised epoch; 0: no answer
	for _, m := range followers {
		if c.r.cutOff(m.Name) || !c.r.spawn(func() {
			res, err := c.r.ask(ctx, m, msg)
			rep, ok := res.(*clusterv1.ReplicaConfirmReply)
			if err != nil || !ok || rep.GetError() != nil {
				answers <- 0
				return
			}
			answers <- max(rep.GetPromised(), 1) // NB: 0 is "no answer"
		}) {
			answers <- 0
		}
	}
	for range followers {
		select {
		case p := <-answers:
			switch {
			case p > c.epoch:
				c.fence()
				return fmt.Errorf("%w: %s: a replica promised epoch %d", ErrMoving, c.key, p)
			case p > 0:
				if need--; need == 0 {
					return nil
				}
			}
		case <-ctx.Done():
			return fmt.Errorf("%w: %s/%s: %w", ErrUnconfirmed, c.kind, c.identity, ctx.Err())
		}
	}
	return fmt.Errorf("%w: %s/%s", ErrUnconfirmed, c.kind, c.identity)
}

// serveConfirm answers which epoch of a grain this node promised.
func (r *replicator) serveConfirm(m *clusterv1.ReplicaConfirm) *clusterv1.ReplicaConfirmReply {
	rec, err := readRecord(r.n.store.db, m.GetKind(), m.GetIdentity())
	if err != nil {
		return &clusterv1.ReplicaConfirmReply{Error: routeErrorFromGo(err)}
	}
	return &clusterv1.ReplicaConfirmReply{Promised: rec.promised}
}
