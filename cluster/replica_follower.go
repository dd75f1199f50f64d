package cluster

import (
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble"

	clusterv1 "github.com/stichdev/stich/proto/stich/cluster/v1"
)

// A replica's side of replication: promises, replicated writes, installs
// and digests. See replica.go for the invariants.

// promiseLocal promises epoch e for a grain on this node. It returns
// whether it did, and the record (after the promise if given).
func (r *replicator) promiseLocal(kind, identity string, e uint64) (bool, replicaRecord, bool, error) {
	unlock := r.locks.lock(grainKey(kind, identity))
	defer unlock()
	rec, err := readRecord(r.n.store.db, kind, identity)
	if err != nil {
		return false, rec, false, err
	}
	exists, err := r.n.store.grainExists(kind, identity)
	if err != nil {
		return false, rec, false, err
	}
	if e <= rec.promised {
		return false, rec, exists, nil
	}
	rec.promised = e
	if err := r.n.store.writeRecord(kind, identity, rec); err != nil {
		return false, rec, exists, err
	}
	r.fenceOlder(grainKey(kind, identity), e)
	return true, rec, exists, nil
}

// servePromise handles a new owner asking for a promise.
func (r *replicator) servePromise(m *clusterv1.ReplicaPromise) *clusterv1.ReplicaPromiseReply {
	if err := r.awaitRepaired(r.ctx); err != nil {
		return &clusterv1.ReplicaPromiseReply{Error: &clusterv1.RouteError{Code: clusterv1.RouteError_CODE_UNAVAILABLE, Message: err.Error()}}
	}
	ok, rec, exists, err := r.promiseLocal(m.GetKind(), m.GetIdentity(), m.GetEpoch())
	if err != nil {
		return &clusterv1.ReplicaPromiseReply{Error: routeErrorFromGo(err)}
	}
	return &clusterv1.ReplicaPromiseReply{Ok: ok, Promised: rec.promised, Version: rec.v.proto(), Exists: exists, Set: rec.set}
}

// serveWrites applies replicated writes that arrived together on one
// stream (invariants 2, 3 and 9), in their order, in one synced commit:
// group commit across grains. It returns one reply per write.
func (r *replicator) serveWrites(ws []*clusterv1.ReplicaWrite) []*clusterv1.ReplicaWriteReply {
	replies := make([]*clusterv1.ReplicaWriteReply, len(ws))
	keys := make([]string, 0, len(ws))
	for _, m := range ws {
		keys = append(keys, grainKey(m.GetKind(), m.GetIdentity()))
	}
	// NB: no one else holds two key locks, and these are taken in order.
	locked := slices.Compact(slices.Sorted(slices.Values(keys)))
	for _, k := range locked {
		defer r.locks.lock(k)()
	}
	recs := make(map[string]replicaRecord, len(locked))
	b := r.n.store.db.NewBatch()
	defer b.Close()
	var staged []int
	for i, m := range ws {
		key := keys[i]
		rec, ok := recs[key]
		if !ok {
			var err error
			if rec, err = readRecord(r.n.store.db, m.GetKind(), m.GetIdentity()); err != nil {
				replies[i] = &clusterv1.ReplicaWriteReply{Error: routeErrorFromGo(err)}
				continue
			}
			recs[key] = rec
		}
		next := versionOf(m.GetNext())
		switch {
		case m.GetEpoch() < rec.promised:
			replies[i] = &clusterv1.ReplicaWriteReply{Promised: rec.promised}
			continue
		case !rec.v.less(next) && next.epoch == rec.v.epoch && m.GetEpoch() == next.epoch:
			replies[i] = &clusterv1.ReplicaWriteReply{Ok: true} // already applied: the same chain
			continue
		case !rec.v.less(next):
			// A copy of another epoch, not older: this write is not in its
			// history, and its writer is superseded (invariant 9).
			replies[i] = &clusterv1.ReplicaWriteReply{Promised: max(rec.promised, rec.v.epoch)}
			continue
		case rec.v != versionOf(m.GetPrev()):
			replies[i] = &clusterv1.ReplicaWriteReply{Behind: true}
			continue
		}
		if m.GetEpoch() > rec.promised {
			r.fenceOlder(key, m.GetEpoch())
		}
		applied := replicaRecord{promised: max(rec.promised, m.GetEpoch()), v: next, set: m.GetSet()}
		if err := r.n.store.stageRepr(b, m.GetKind(), m.GetIdentity(), m.GetRepr(), applied); err != nil {
			replies[i] = &clusterv1.ReplicaWriteReply{Error: routeErrorFromGo(err)}
			continue
		}
		recs[key] = applied
		replies[i] = &clusterv1.ReplicaWriteReply{Ok: true}
		staged = append(staged, i)
	}
	if len(staged) == 0 {
		return replies
	}
	if err := b.Commit(pebble.Sync); err != nil {
		failed := &clusterv1.ReplicaWriteReply{Error: routeErrorFromGo(fmt.Errorf("cluster: apply replicated writes: %w", err))}
		for _, i := range staged {
			replies[i] = failed
		}
		return replies
	}
	r.stats.followerGroups.Add(1)
	r.stats.followerWrites.Add(uint64(len(staged)))
	return replies
}

// install brings the local copy of a grain to snap. epoch is the
// sender's claim, 0 for anti-entropy. It reports whether the local copy
// now holds snap's version (or, from the owner, a later version of the
// owner's own chain):
//
//   - from the owner (epoch at least the promise), any copy that is not
//     of the owner's chain and at least as new is replaced, even by an
//     older version: a copy the owner did not catch up from holds only
//     writes no majority acknowledged (invariant 10);
//   - from anti-entropy, only an older copy (or none) is replaced, and a
//     newer copy answers false (invariant 6);
//   - the promise is raised to the snapshot's epoch, and to the sender's
//     (invariant 11).
//
// snap is the copy's head; its entries are staged in body, which install
// consumes (ingests or drops). Until the ingest, every reader of the
// grain here sees its previous copy and record (replica_install.go).
func (r *replicator) install(snap *clusterv1.ReplicaSnapshot, body *copyStage, epoch uint64) (bool, error) {
	defer body.close()
	kind, identity := snap.GetKind(), snap.GetIdentity()
	key := grainKey(kind, identity)
	// The staged files are synced before the key lock is taken: under it,
	// only the replica record's table and the ingest.
	if err := body.sync(); err != nil {
		return false, err
	}
	unlock := r.locks.lock(key)
	defer unlock()
	rec, err := readRecord(r.n.store.db, kind, identity)
	if err != nil {
		return false, err
	}
	if epoch != 0 && epoch < rec.promised {
		return false, fmt.Errorf("%w: promised epoch %d", ErrFenced, rec.promised)
	}
	exists, err := r.n.store.grainExists(kind, identity)
	if err != nil {
		return false, err
	}
	sv := versionOf(snap.GetVersion())
	nonEmpty := body.entries > 0 || snap.GetAlarmUnixNano() != 0
	promised := max(rec.promised, epoch, sv.epoch)
	var replace bool
	switch {
	case sv == rec.v && (exists || !nonEmpty):
		replace = false // the same copy
	case epoch != 0:
		// Ahead in the owner's own chain (a later write overtook the
		// snapshot): holds it.
		replace = !(rec.v.epoch == epoch && sv.less(rec.v))
	case rec.v.less(sv) || sv == rec.v:
		replace = true
	default:
		return false, nil // anti-entropy offered an older copy
	}
	if promised > rec.promised {
		r.fenceOlder(key, promised)
	}
	if !replace {
		if promised > rec.promised {
			rec.promised = promised
			return true, r.n.store.writeRecord(kind, identity, rec)
		}
		return true, nil
	}
	return true, r.n.store.installSnapshot(snap, body, replicaRecord{promised: promised, v: sv, set: snap.GetSet()})
}

func (r *replicator) serveInstall(m *clusterv1.ReplicaInstall, body *copyStage) *clusterv1.ReplicaWriteReply {
	holds, err := r.install(m.GetSnapshot(), body, m.GetEpoch())
	switch {
	case errors.Is(err, ErrFenced):
		rec, _ := readRecord(r.n.store.db, m.GetSnapshot().GetKind(), m.GetSnapshot().GetIdentity())
		return &clusterv1.ReplicaWriteReply{Promised: rec.promised}
	case err != nil:
		return &clusterv1.ReplicaWriteReply{Error: routeErrorFromGo(err)}
	case !holds:
		// Anti-entropy offered an older copy: the follower is ahead.
		return &clusterv1.ReplicaWriteReply{Newer: true}
	}
	return &clusterv1.ReplicaWriteReply{Ok: true}
}

// serveDigest answers which of the listed copies this node holds an older
// version of (or none).
func (r *replicator) serveDigest(m *clusterv1.ReplicaDigest) *clusterv1.ReplicaDigestReply {
	learn := !r.repairedFlag.Load()
	out := &clusterv1.ReplicaDigestReply{Repairing: learn}
	for _, g := range m.GetGrains() {
		if learn && g.GetPromised() > 0 {
			if err := r.raisePromise(g.GetKind(), g.GetIdentity(), g.GetPromised()); err != nil {
				return &clusterv1.ReplicaDigestReply{Error: routeErrorFromGo(err)}
			}
		}
		rec, err := readRecord(r.n.store.db, g.GetKind(), g.GetIdentity())
		if err != nil {
			return &clusterv1.ReplicaDigestReply{Error: routeErrorFromGo(err)}
		}
		exists, err := r.n.store.grainExists(g.GetKind(), g.GetIdentity())
		if err != nil {
			return &clusterv1.ReplicaDigestReply{Error: routeErrorFromGo(err)}
		}
		if gv := versionOf(g.GetVersion()); rec.v.less(gv) || (!exists && rec.v == gv) {
			out.Behind = append(out.Behind, g)
		}
	}
	return out
}
