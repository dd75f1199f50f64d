package cluster

import (
	"context"

	clusterv1 "github.com/stichdev/stich/proto/stich/cluster/v1"
)

// absent reports whether a majority of the grain's replica set holds no
// copy of it (no key, no alarm, no version), asking without writing
// anything: then no write to it was ever acknowledged (acknowledged writes
// are on a majority, and majorities intersect), and a lookup can answer
// that it does not exist instead of claiming it (invariant 14). Members
// that do not answer, and new incarnations not repaired yet, count as
// holding a copy: absent errs towards false, and the caller then claims
// the grain as before.
func (r *replicator) absent(ctx context.Context, kind, identity string) bool {
	if !r.repairedFlag.Load() {
		return false
	}
	rec, err := readRecord(r.n.store.db, kind, identity)
	if err != nil || rec.v != (version{}) {
		return false
	}
	if exists, err := r.n.store.grainExists(kind, identity); err != nil || exists {
		return false
	}
	set, others := r.replicaSet(r.n.currentView(), kind, identity, false)
	quorum := len(set)/2 + 1
	inSet := false
	for _, m := range set {
		inSet = inSet || m.Name == r.n.cfg.Name
	}
	if !inSet {
		return false
	}
	need := quorum - 1
	if need <= 0 {
		return true
	}
	probe := &clusterv1.ReplicaDigest{Grains: []*clusterv1.GrainVersion{{Kind: kind, Identity: identity, Version: version{}.proto()}}}
	answers := make(chan bool, len(others))
	for _, m := range others {
		if r.cutOff(m.Name) || !r.spawn(func() {
			res, err := r.ask(ctx, m, probe)
			rep, ok := res.(*clusterv1.ReplicaDigestReply)
			// serveDigest lists the probe as behind when the member holds
			// no data and version zero.
			answers <- err == nil && ok && rep.GetError() == nil && !rep.GetRepairing() && len(rep.GetBehind()) == 1
		}) {
			answers <- false
		}
	}
	for range others {
		select {
		case none := <-answers:
			if none {
				if need--; need == 0 {
					return true
				}
			}
		case <-ctx.Done():
			return false
		}
	}
	return false
}
