package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	clusterv1 "github.com/stichdev/stich/proto/stich/cluster/v1"
)

// Anti-entropy: repair passes that give every member of a grain's replica
// set the newest copy. See replica.go for the invariants.

// antiEntropyLoop repairs copies after membership changes (and once at
// start): see repair.
//
// A pass that did not finish (a member that just joined may not serve yet,
// a member was briefly unreachable, a message timed out) is retried with
// backoff until one does, so a wiped or lagging member is refilled, and
// after a forget every grain gets back to R copies, even when no further
// membership change comes.
func (r *replicator) antiEntropyLoop() {
	retry := time.NewTimer(0)
	<-retry.C
	backoff := time.Duration(0)
	for {
		select {
		case <-r.ctx.Done():
			retry.Stop()
			return
		case <-r.kick:
		case <-retry.C:
		}
		if r.n.alone() {
			continue
		}
		err := errors.Join(r.pullRepair(r.ctx), r.repair(r.ctx, false))
		if err == nil || r.ctx.Err() != nil {
			backoff = 0
			retry.Stop()
			continue
		}
		backoff = min(max(2*backoff, repairRetryMin), repairRetryMax)
		r.n.log.Warn("replica repair incomplete; retrying", "err", err, "retry_in", backoff)
		retry.Reset(backoff)
	}
}

// Retry delays of an unfinished anti-entropy pass.
const (
	repairRetryMin = 250 * time.Millisecond
	repairRetryMax = 30 * time.Second
)

// digestChunk bounds the grains listed in one digest message.
const digestChunk = 256

// repair offers every grain copy this node holds to the other live members
// of its replica set (computed without this node when leaving), and
// installs it on those that hold an older copy or none.
func (r *replicator) repair(ctx context.Context, leaving bool) error {
	return r.repairMembers(ctx, leaving, nil)
}

// repairMembers is repair, to every member or to only one (a pull from a
// new incarnation: then copies and promises alone are offered too).
func (r *replicator) repairMembers(ctx context.Context, leaving bool, only *NodeMeta) error {
	v := r.n.currentView()
	digests := map[string][]*clusterv1.GrainVersion{}
	targets := map[string]NodeMeta{}
	err := r.n.store.replicatedGrains(func(kind, identity string) error {
		rec, err := readRecord(r.n.store.db, kind, identity)
		if err != nil {
			return err
		}
		exists, err := r.n.store.grainExists(kind, identity)
		if err != nil || (!exists && (only == nil || rec.promised == 0)) {
			return err
		}
		if k, ok := r.n.kinds[kind]; ok && k.Ephemeral {
			return nil
		}
		_, others := r.replicaSet(v, kind, identity, leaving)
		for _, m := range others {
			if m.Name == r.n.cfg.Name || (only != nil && m.Name != only.Name) {
				continue
			}
			targets[m.Name] = m
			g := &clusterv1.GrainVersion{Kind: kind, Identity: identity, Version: rec.v.proto()}
			if only != nil {
				g.Promised = rec.promised
			}
			digests[m.Name] = append(digests[m.Name], g)
		}
		return nil
	})
	if err != nil {
		return err
	}
	var errs []error
	for name, list := range digests {
		m := targets[name]
		for len(list) > 0 {
			chunk := list[:min(digestChunk, len(list))]
			list = list[len(chunk):]
			res, err := r.ask(ctx, m, &clusterv1.ReplicaDigest{Grains: chunk})
			if err != nil {
				if leaving && r.departing(name) {
					break // see below
				}
				errs = append(errs, err)
				break
			}
			rep, ok := res.(*clusterv1.ReplicaDigestReply)
			if !ok || rep.GetError() != nil {
				errs = append(errs, fmt.Errorf("cluster: %s answered %T to a digest", name, res))
				break
			}
			for _, g := range rep.GetBehind() {
				err := r.sendInstall(ctx, m, g.GetKind(), g.GetIdentity(), 0)
				switch {
				case err == nil:
					r.stats.repairInstalls.Add(1)
				case errors.Is(err, errAhead):
					// It got a newer copy since the digest (its owner
					// wrote): nothing of ours is missing there.
				case leaving && r.departing(name):
					// A leaving node's target that is leaving (or gone)
					// too: in a whole-cluster shutdown every node is. It
					// will not serve the copy; every copy stays in its
					// data folder, and a restart on the same folders
					// claims from them. Not a failure of this departure.
				default:
					errs = append(errs, fmt.Errorf("%s/%s to %s: %w", g.GetKind(), g.GetIdentity(), name, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// departing reports whether member name is leaving or has left, in this
// node's current view.
func (r *replicator) departing(name string) bool {
	for _, m := range r.n.currentView().all {
		if m.Name == name {
			return m.Leaving
		}
	}
	return r.n.provider != nil && r.n.provider.gone(name)
}
