package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/pebble"

	clusterv1 "github.com/stichdev/stich/proto/stich/cluster/v1"
)

// Incarnations (invariant 12). A node's promises live in its data folder;
// a node whose folder was deleted and that rejoins under the same name
// has forgotten every promise it gave, and answering promises at once
// could give two claims a majority. So each data folder gets an
// incarnation id at its first start, and a folder that was new at this
// start (not a pre-incarnation folder) is a new incarnation that answers
// no promise, and claims nothing, until every other member it knows (live
// or failed, not forgotten) has offered it, by a pull, every copy and
// promise it holds of grains the node is a replica of; the node then
// records that it is repaired.

// Keys of the node's incarnation id and of its repaired mark.
var (
	incarnationKey = []byte{'m', 0, 'i', 'n', 'c', 'a', 'r', 'n', 'a', 't', 'i', 'o', 'n'}
	repairedKey    = []byte{'m', 0, 'r', 'e', 'p', 'a', 'i', 'r', 'e', 'd'}
)

// repairedWait bounds how long a promise request (or a claim) on a new
// incarnation waits for the repair to finish before it is refused: long
// enough to hide a cluster's first formation, when every node is new.
const repairedWait = 2 * time.Second

// errNotRepaired refuses a promise from a new incarnation.
var errNotRepaired = errors.New("cluster: this node's data folder is new and it has not been repaired by its peers yet")

// loadIncarnation reads or creates the node's incarnation id, and whether
// it is repaired. A folder from before incarnations (it has the clustered
// mark) keeps its promises: it counts as repaired.
func (r *replicator) loadIncarnation() error {
	db := r.n.store.db
	v, closer, err := db.Get(incarnationKey)
	switch {
	case err == nil:
		r.incarnation = string(v)
		closer.Close()
	case errors.Is(err, pebble.ErrNotFound):
		var b [8]byte
		_, _ = rand.Read(b[:])
		r.incarnation = hex.EncodeToString(b[:])
		batch := db.NewBatch()
		_ = batch.Set(incarnationKey, []byte(r.incarnation), nil)
		if r.clustered.Load() {
			_ = batch.Set(repairedKey, nil, nil)
		}
		err = batch.Commit(pebble.Sync)
		batch.Close()
		if err != nil {
			return fmt.Errorf("cluster: record incarnation: %w", err)
		}
	default:
		return fmt.Errorf("cluster: read incarnation: %w", err)
	}
	_, closer, err = db.Get(repairedKey)
	switch {
	case err == nil:
		closer.Close()
		r.setRepaired()
	case !errors.Is(err, pebble.ErrNotFound):
		return fmt.Errorf("cluster: read repaired mark: %w", err)
	}
	return nil
}

func (r *replicator) setRepaired() {
	r.repairedOnce.Do(func() {
		r.repairedFlag.Store(true)
		close(r.repairedCh)
	})
}

// awaitRepaired waits, at most repairedWait, for the node to be repaired.
func (r *replicator) awaitRepaired(ctx context.Context) error {
	if r.repairedFlag.Load() {
		return nil
	}
	t := time.NewTimer(repairedWait)
	defer t.Stop()
	select {
	case <-r.repairedCh:
		return nil
	case <-t.C:
	case <-ctx.Done():
	}
	return fmt.Errorf("%w: %s (incarnation %s)", errNotRepaired, r.n.cfg.Name, r.incarnation)
}

// pullRepair asks every other known member to repair this new
// incarnation; once each has (in this pass or an earlier one), the node is
// repaired, durably. A member that repaired it is not asked again: the
// promises its records hold of the previous incarnation's were given
// before this start, and it offered them all; what it promises later this
// node learns as a replica. So a member that repaired this node and then
// fails does not hold the repair up until it returns (only one that never
// did, since it may hold such promises).
func (r *replicator) pullRepair(ctx context.Context) error {
	if r.repairedFlag.Load() {
		return nil
	}
	v := r.n.currentView()
	// Concurrently: a pull waits for the member's offer.
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, m := range v.all {
		if m.Name == r.n.cfg.Name || r.pulledFrom(m.Name) {
			continue
		}
		if r.cutOff(m.Name) {
			mu.Lock()
			errs = append(errs, fmt.Errorf("cluster: %s is cut off (test)", m.Name))
			mu.Unlock()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := r.askFor(ctx, m, &clusterv1.ReplicaPull{From: r.n.cfg.Name, Incarnation: r.incarnation}, pullTimeout)
			if err == nil {
				if rep, ok := res.(*clusterv1.ReplicaPullReply); !ok || rep.GetError() != nil {
					err = fmt.Errorf("cluster: %s refused to repair this node: %v", m.Name, res)
				}
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			r.markPulled(m.Name)
		}()
	}
	wg.Wait()
	for _, m := range v.failed {
		if !r.pulledFrom(m.Name) {
			errs = append(errs, fmt.Errorf("cluster: %s is down and has not repaired this node; it may hold promises this node gave before its data folder was lost", m.Name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cluster: new incarnation not repaired yet: %w", err)
	}
	if err := r.n.store.db.Set(repairedKey, nil, pebble.Sync); err != nil {
		return fmt.Errorf("cluster: record repaired mark: %w", err)
	}
	r.setRepaired()
	r.n.log.Info("new incarnation repaired by its peers; answering promises", "incarnation", r.incarnation)
	return nil
}

// pulledFrom reports whether member name has repaired this new
// incarnation (answered its pull).
func (r *replicator) pulledFrom(name string) bool {
	r.pulledMu.Lock()
	defer r.pulledMu.Unlock()
	return r.pulled[name]
}

func (r *replicator) markPulled(name string) {
	r.pulledMu.Lock()
	defer r.pulledMu.Unlock()
	if r.pulled == nil {
		r.pulled = map[string]bool{}
	}
	r.pulled[name] = true
}

// servePull repairs member from: every copy and promise this node holds
// of grains whose replica set includes it.
func (r *replicator) servePull(m *clusterv1.ReplicaPull) *clusterv1.ReplicaPullReply {
	if r.cutOff(m.GetFrom()) {
		return &clusterv1.ReplicaPullReply{Error: &clusterv1.RouteError{Code: clusterv1.RouteError_CODE_UNAVAILABLE, Message: "cut off (test)"}}
	}
	target, ok := r.awaitMember(m.GetFrom(), pullViewWait)
	if !ok {
		return &clusterv1.ReplicaPullReply{Error: &clusterv1.RouteError{Code: clusterv1.RouteError_CODE_UNAVAILABLE, Message: r.n.cfg.Name + " does not see " + m.GetFrom() + " as a member yet"}}
	}
	ctx, cancel := context.WithTimeout(r.ctx, pullRepairTimeout)
	defer cancel()
	if err := r.repairMembers(ctx, false, &target); err != nil {
		return &clusterv1.ReplicaPullReply{Error: routeErrorFromGo(err)}
	}
	return &clusterv1.ReplicaPullReply{}
}

// pullViewWait bounds how long a pull waits for its sender to appear in
// this node's view. A joiner learns of its peers (it joins through one)
// before they all learn of it by gossip: refusing at once made it retry on
// its anti-entropy backoff, leaving it unrepaired (answering no promise)
// for seconds after the cluster had formed.
const pullViewWait = 3 * time.Second

// pullTimeout bounds the wait for one repair pull's answer: the member
// waits for this node in its view, then offers every copy (servePull). An
// offer that takes longer goes on there; the pull is asked again and finds
// less to send.
const pullTimeout = pullViewWait + replicaTimeout

// pullRepairTimeout bounds a member's offer of its copies to a new
// incarnation.
const pullRepairTimeout = 10 * replicaTimeout

// awaitMember waits, at most d, for member name to be in this node's view
// (not once this node is leaving).
func (r *replicator) awaitMember(name string, d time.Duration) (NodeMeta, bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		changed := r.n.ViewChanged()
		if m, ok := r.n.memberByName(name); ok {
			return m, true
		}
		if r.n.leaving.Load() {
			return NodeMeta{}, false // shutting down: do not hold it up
		}
		select {
		case <-changed:
		case <-t.C:
			return NodeMeta{}, false
		case <-r.ctx.Done():
			return NodeMeta{}, false
		}
	}
}

// raisePromise raises a grain's promise to at least epoch (a new
// incarnation learning the promises its peers hold).
func (r *replicator) raisePromise(kind, identity string, epoch uint64) error {
	key := grainKey(kind, identity)
	unlock := r.locks.lock(key)
	defer unlock()
	rec, err := readRecord(r.n.store.db, kind, identity)
	if err != nil || rec.promised >= epoch {
		return err
	}
	rec.promised = epoch
	r.fenceOlder(key, epoch)
	return r.n.store.writeRecord(kind, identity, rec)
}
