package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"

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
	cs := c.set.Load()
	need := cs.quorum - 1
	followers := cs.followers
	inSet := len(followers) // followers[:inSet] are of the claim's set
	// While the set changed and no write recorded the new one yet
	// (invariant 16), a majority of the set the newest copy was written
	// under must confirm too: a claim made from that set meets it.
	jointNeed, jointIn := 0, []bool(nil)
	if written := *c.written.Load(); !sameSet(written, cs.names) {
		j := c.r.jointQuorum(written)
		jointNeed = j.quorum
		if slices.Contains(j.names, c.r.n.cfg.Name) {
			jointNeed--
		}
		followers = append(followers[:inSet:inSet], c.r.liveOthers(j.names, followers)...)
		jointIn = make([]bool, len(followers))
		for i, m := range followers {
			jointIn[i] = slices.Contains(j.names, m.Name)
		}
	}
	if need <= 0 && jointNeed <= 0 {
		return nil
	}
	msg := &clusterv1.ReplicaConfirm{Kind: c.kind, Identity: c.identity}
	type answer struct {
		idx      int
		promised uint64 // 0: no answer
	}
	answers := make(chan answer, len(followers))
	for i, m := range followers {
		if c.r.cutOff(m.Name) || !c.r.spawn(func() {
			res, err := c.r.ask(ctx, m, msg)
			rep, ok := res.(*clusterv1.ReplicaConfirmReply)
			if err != nil || !ok || rep.GetError() != nil {
				answers <- answer{idx: i}
				return
			}
			answers <- answer{idx: i, promised: max(rep.GetPromised(), 1)} // NB: 0 is "no answer"
		}) {
			answers <- answer{idx: i}
		}
	}
	for range followers {
		select {
		case a := <-answers:
			switch {
			case a.promised > c.epoch:
				c.fence()
				return fmt.Errorf("%w: %s: a replica promised epoch %d", ErrMoving, c.key, a.promised)
			case a.promised > 0:
				if a.idx < inSet {
					need--
				}
				if jointIn != nil && jointIn[a.idx] {
					jointNeed--
				}
				if need <= 0 && jointNeed <= 0 {
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
