package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble"
	"google.golang.org/protobuf/proto"

	clusterv1 "github.com/stichdev/stich/proto/stich/cluster/v1"
)

// Replication (docs/replication.md). With Config.ReplicationFactor R > 1,
// every durable grain's storage is copied to its replica set S.
// Invariants:
//
//  1. A grain's replica set S is the first R members in rendezvous order
//     over live (not leaving) and failed members; a failed member leaves
//     the ranking when it is forgotten (forget.go).
//  2. A copy's replica record holds the highest epoch it promised, the
//     version (epoch, lsn) of the last write it applied and the replica
//     set that write was made under; they change only under the grain's
//     key lock, in the same synced commit as the data.
//  3. An activation writes only after a majority of S promised its epoch,
//     and, when the newest copy it found was written under another set,
//     a majority of that set too (gone members counting as given) and a
//     write recording S reached a majority of both; a member that promised
//     epoch e refuses writes and installs from activations with an older
//     epoch.
//  4. Before serving, the new owner holds the newest version any member
//     that promised reported, and a majority of S holds it too. Since every
//     acknowledged write is on a majority of S, and majorities intersect,
//     no acknowledged write is lost by a change of owner.
//  5. A write is acknowledged to the grain only after it is synced on a
//     majority of S (the owner counts); any failure fences the claim, and
//     the activation is stopped so the next call claims a new epoch.
//  6. Copies are ordered by version alone: installs and anti-entropy only
//     ever replace a copy by a newer one.
//  7. With R = 1, or while a node has never seen another member, no claim,
//     record or message is involved: commits are local Pebble commits.

// Replication errors.
var (
	// ErrFenced reports a write from an activation whose claim on the grain
	// is no longer valid (a newer activation claimed it, or replication
	// failed); the activation is being stopped.
	ErrFenced = errors.New("cluster: grain activation was superseded; retry")
	// ErrNoQuorum reports a write or activation that could not reach a
	// majority of the grain's replica set.
	ErrNoQuorum = errors.New("cluster: no majority of the grain's replicas answered")
	// ErrOutcomeUnknown reports a write that left this node but was not
	// acknowledged by a majority: it may be lost, or applied later (when
	// a copy that holds it becomes the newest). Resending it blindly may
	// apply it twice; the caller must read the grain to find out.
	ErrOutcomeUnknown = errors.New("cluster: the write may or may not have been applied")
	// ErrNoSuchGrain answers a lookup (see [Kind.Creates]) of a grain that
	// no majority of its replicas holds a copy of.
	ErrNoSuchGrain = errors.New("cluster: no such grain")
)

// Replication timeouts.
const (
	replicaTimeout = 5 * time.Second        // one replication request
	promiseGrace   = 200 * time.Millisecond // extra wait for non-majority promise replies
)

// ReplicationStats are a node's replication counters since it started.
type ReplicationStats struct {
	// Claims counts activations that obtained an epoch from a majority.
	Claims uint64
	// WritesAcked and WritesFailed count this node's replicated writes
	// acknowledged by a majority, and those that were not.
	WritesAcked, WritesFailed uint64
	// FollowerWrites counts other owners' writes applied here, in
	// FollowerGroups synced commits (group commit: writes per group).
	FollowerWrites, FollowerGroups uint64
	// SnapshotsSent counts whole copies sent to followers that were
	// behind; RepairInstalls those sent by anti-entropy.
	SnapshotsSent, RepairInstalls uint64
	// StreamFailures counts replication streams that failed (peer gone,
	// silent or misbehaving).
	StreamFailures uint64
}

type replStats struct {
	claims, writesAcked, writesFailed, followerWrites, followerGroups,
	snapshotsSent, repairInstalls, streamFailures atomic.Uint64
}

// ReplicationStats returns the node's replication counters; ok is false
// when replication is off (R = 1).
func (n *Node) ReplicationStats() (_ ReplicationStats, ok bool) {
	if n.repl == nil {
		return ReplicationStats{}, false
	}
	s := &n.repl.stats
	return ReplicationStats{
		Claims: s.claims.Load(), WritesAcked: s.writesAcked.Load(), WritesFailed: s.writesFailed.Load(),
		FollowerWrites: s.followerWrites.Load(), FollowerGroups: s.followerGroups.Load(),
		SnapshotsSent: s.snapshotsSent.Load(), RepairInstalls: s.repairInstalls.Load(),
		StreamFailures: s.streamFailures.Load(),
	}, true
}

// replicator is a node's replication engine (nil when R = 1).
type replicator struct {
	n     *Node
	r     int
	locks keyLocks

	mu     sync.Mutex
	claims map[string]*claim // live claims by grain key

	tr *replTransport // carries writes to followers, and theirs to us

	stats replStats

	// unreachable, set by fault-injection tests, names members this
	// node's promises and writes do not reach (a partition).
	unreachable atomic.Pointer[func(name string) bool]

	ctx    context.Context // cancelled at stop: ends in-flight fan-outs
	cancel context.CancelFunc
	wg     sync.WaitGroup
	kick   chan struct{} // wakes the anti-entropy loop

	clustered atomic.Bool // the node has seen another member (persisted)
	// incarnation identifies this data folder (replica_incarnation.go);
	// repairedCh is closed, and repairedFlag set, once the node answers
	// promises.
	incarnation  string
	repairedCh   chan struct{}
	repairedFlag atomic.Bool
	repairedOnce sync.Once
	// solo is the one claim every activation shares while the node has
	// never been clustered; fenced once it is.
	solo   *claim
	stopMu sync.Mutex
	done   bool
}

func newReplicator(n *Node, r int) *replicator {
	ctx, cancel := context.WithCancel(context.Background())
	rep := &replicator{n: n, r: r, claims: map[string]*claim{}, ctx: ctx, cancel: cancel, kick: make(chan struct{}, 1),
		repairedCh: make(chan struct{})}
	rep.solo = &claim{r: rep, solo: true}
	return rep
}

// start serves peers' writes and runs the anti-entropy loop.
func (r *replicator) start() {
	r.tr.start()
	r.spawn(r.antiEntropyLoop)
}

// spawn runs f on a goroutine that stop waits for; after stop it does not
// run f.
func (r *replicator) spawn(f func()) bool {
	r.stopMu.Lock()
	defer r.stopMu.Unlock()
	if r.done {
		return false
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		f()
	}()
	return true
}

// stop cancels in-flight requests and waits for every goroutine. It must
// run before the actor system stops. Idempotent.
func (r *replicator) stop() {
	r.stopMu.Lock()
	r.done = true
	r.stopMu.Unlock()
	r.cancel()
	if r.tr != nil {
		r.tr.close()
	}
	r.wg.Wait()
}

// ask sends msg to m's activator and waits for the reply.
func (r *replicator) ask(ctx context.Context, m NodeMeta, msg proto.Message) (any, error) {
	timeout := replicaTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	if timeout <= 0 {
		return nil, context.DeadlineExceeded
	}
	res, err := r.n.wait(ctx, r.n.system.Root.RequestFuture(activatorPID(m), msg, timeout))
	if err != nil {
		return nil, fmt.Errorf("cluster: %s: %w", m.Name, err)
	}
	return res, nil
}

// alone reports whether this node has never been part of a cluster of
// more than one member: then nothing is replicated (R is effectively 1, at
// no cost).
func (n *Node) alone() bool {
	return !n.repl.clustered.Load() && n.solitary()
}

// solitary reports whether the current view has no member but this node.
func (n *Node) solitary() bool {
	v := n.currentView()
	return len(v.all) <= 1 && len(v.failed) == 0
}

// clusteredKey marks, durably, that this node has been part of a cluster
// of several members: after a restart it must not serve replicated grains
// alone (its copies may be stale) until it sees its peers again.
var clusteredKey = []byte{'m', 0, 'c', 'l', 'u', 's', 't', 'e', 'r', 'e', 'd'}

// loadClustered reads the clustered mark at start.
func (r *replicator) loadClustered() error {
	_, closer, err := r.n.store.db.Get(clusteredKey)
	switch {
	case err == nil:
		closer.Close()
		r.clustered.Store(true)
	case !errors.Is(err, pebble.ErrNotFound):
		return fmt.Errorf("cluster: read clustered mark: %w", err)
	}
	return nil
}

// markClustered records, once, that the node has seen another member.
func (r *replicator) markClustered() {
	if r.clustered.Load() || r.n.solitary() {
		return
	}
	if err := r.n.store.db.Set(clusteredKey, nil, pebble.Sync); err != nil {
		r.n.log.Warn("record cluster membership", "err", err)
		return
	}
	r.clustered.Store(true)
}

// replicaSet returns the grain's replica set in view v, and the live
// members of it other than this node. Leaving members are not in any set:
// they push their copies to the sets computed without them before they go
// (and still answer promises meanwhile, so no copy of theirs is missed).
func (r *replicator) replicaSet(v *view, kind, identity string, excludeSelf bool) (set, liveOthers []NodeMeta) {
	everyone := make([]NodeMeta, 0, len(v.live)+len(v.failed))
	for _, m := range v.live {
		if excludeSelf && m.Name == r.n.cfg.Name {
			continue
		}
		everyone = append(everyone, m)
	}
	everyone = append(everyone, v.failed...)
	set = LookupN(kind, identity, everyone, r.r)
	for _, m := range set {
		if m.Name == r.n.cfg.Name {
			continue
		}
		for _, l := range v.all {
			if l.Name == m.Name {
				liveOthers = append(liveOthers, l)
				break
			}
		}
	}
	return set, liveOthers
}

// claim is an activation's right to write a replicated grain.
type claim struct {
	r              *replicator
	kind, identity string
	key            string
	solo           bool // replicator.solo: shared while the node was never clustered
	epoch          uint64
	setNames       []string // names of the replica set, for change detection
	// followers are the live members of the set other than this node,
	// updated as members fail and return (the set itself is fixed).
	followers atomic.Pointer[[]NodeMeta]
	quorum    int // majority of the set

	mu sync.Mutex // serialises commits
	v  version    // last version written
	// joint, until a write has been acknowledged by a majority of it too,
	// is the replica set the grain's newest copy was written under, when
	// it is not this claim's (guarded by mu).
	joint  *jointSet
	fenced atomic.Bool
	entry  atomic.Pointer[activation]
}

// jointSet is a previous replica set a claim's writes must also reach a
// majority of: the members of the recorded set that are not gone.
type jointSet struct {
	names  []string
	quorum int
}

// jointQuorum returns what a claim must reach of the replica set set,
// recorded with a copy: promises (and, for the write recording the new
// set, acknowledgements) from a majority of set, where members that left
// gracefully or were forgotten count as given: they acknowledge no write
// any more and handed their copies on (or were written off by the
// operator). So every quorum the old set's writer could still use meets a
// member that promised the new epoch. A member this node does not know at
// all counts as not given.
func (r *replicator) jointQuorum(set []string) *jointSet {
	j := &jointSet{quorum: len(set)/2 + 1}
	for _, name := range set {
		if name != r.n.cfg.Name && r.n.provider != nil && r.n.provider.gone(name) {
			j.quorum--
			continue
		}
		j.names = append(j.names, name)
	}
	j.quorum = max(j.quorum, 0)
	return j
}

// fence invalidates the claim and stops its activation (queued calls are
// served first; their writes fail with ErrFenced). The activation is
// marked stopping first, so that no new call is handed its PID: a call
// queued behind the poison pill would be dropped unanswered (the caller
// would time out) instead of waiting for the next activation. NB: it takes
// the activations lock; never call it with replicator.mu held.
func (c *claim) fence() {
	if c.fenced.Swap(true) {
		return
	}
	if e := c.entry.Load(); e != nil && e.pid != nil {
		c.r.n.activations.setStopping(e)
		c.r.n.system.Root.Poison(e.pid)
	}
}

// register records a claim so that promises and membership changes can
// fence it.
func (r *replicator) register(c *claim) {
	r.mu.Lock()
	old := r.claims[c.key]
	r.claims[c.key] = c
	r.mu.Unlock()
	if old != nil && old != c {
		old.fence()
	}
}

// drop forgets a claim whose activation stopped.
func (r *replicator) drop(c *claim) {
	if c == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.claims[c.key] == c {
		delete(r.claims, c.key)
	}
}

// fenceOlder fences a local claim of key older than epoch; called with the
// grain's key lock held, after promising epoch.
func (r *replicator) fenceOlder(key string, epoch uint64) {
	r.mu.Lock()
	c := r.claims[key]
	r.mu.Unlock()
	if c != nil && c.epoch < epoch {
		c.fence()
	}
}

// onMembership fences claims whose replica set changed (and solo claims
// once the node is no longer alone), points the others at the members of
// their set that are live now, then wakes anti-entropy.
func (r *replicator) onMembership() {
	r.markClustered()
	v := r.n.currentView()
	if !r.n.alone() && !r.solo.fenced.Swap(true) {
		// The node just joined others: activations started alone stop
		// (their writes fail meanwhile) and claim anew when next called.
		r.n.activations.stopWhere(r.n.system, func(e *activation) bool { return e.claim == r.solo })
	}
	r.mu.Lock()
	var stale []*claim
	for _, c := range r.claims {
		set, live := r.replicaSet(v, c.kind, c.identity, false)
		if !sameNames(set, c.setNames) {
			stale = append(stale, c)
			continue
		}
		// Same set: write to the members of it that are live now (a
		// returning member catches up through the "behind" path).
		c.followers.Store(&live)
	}
	r.mu.Unlock()
	for _, c := range stale {
		c.fence()
	}
	r.tr.prune(v.all)
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// memberNames returns the names of ms, in order.
func memberNames(ms []NodeMeta) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Name
	}
	return out
}

// firstFailed returns the first of names that is a failed member in v, or
// "".
func firstFailed(v *view, names []string) string {
	for _, name := range names {
		if slices.ContainsFunc(v.failed, func(f NodeMeta) bool { return f.Name == name }) {
			return name
		}
	}
	return ""
}

// sameSet reports whether a and b name the same members, in any order.
func sameSet(a, b []string) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(n string) bool { return !slices.Contains(b, n) })
}

func sameNames(set []NodeMeta, names []string) bool {
	if len(set) != len(names) {
		return false
	}
	for i, m := range set {
		if m.Name != names[i] {
			return false
		}
	}
	return true
}

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

// acquireClaim obtains a new epoch for the grain from a majority of its
// replica set, brings this node's copy (and a majority's) up to the newest
// version, and returns the claim the activation writes under.
func (r *replicator) acquireClaim(ctx context.Context, kind, identity string) (*claim, error) {
	key := grainKey(kind, identity)
	if r.n.solitary() {
		return nil, fmt.Errorf("%w: %s: this node has not rejoined its cluster yet", ErrMoving, key)
	}
	if err := r.awaitRepaired(ctx); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrMoving, key, err)
	}
	v := r.n.currentView()
	set, followers := r.replicaSet(v, kind, identity, false)
	quorum := len(set)/2 + 1
	names := memberNames(set)
	inSet := slices.Contains(names, r.n.cfg.Name)
	failedInSet := firstFailed(v, names)
	if !inSet {
		return nil, &UnavailableError{Kind: kind, Identity: identity, Node: failedInSet}
	}
	// Promises go to every live member: members of an older replica set
	// learn the epoch (and fence) and report their copies too.
	var others []NodeMeta
	for _, m := range v.all {
		if m.Name != r.n.cfg.Name {
			others = append(others, m)
		}
	}
	inS := map[string]bool{}
	for _, m := range set {
		inS[m.Name] = true
	}

	type copyAt struct {
		m      NodeMeta
		v      version
		set    []string // the replica set v was written under
		exists bool
		self   bool
	}
	var promisedBy map[string]bool // members that promised the epoch
	var (
		epoch  uint64
		copies []copyAt
	)
	next := uint64(0)
	for attempt := 0; ; attempt++ {
		ok, rec, exists, err := r.promiseLocal(kind, identity, max(next, 1))
		if err != nil {
			return nil, err
		}
		if !ok {
			if attempt > 8 {
				return nil, fmt.Errorf("%w: %s: competing claims", ErrMoving, key)
			}
			next = rec.promised + 1
			continue
		}
		epoch = rec.promised
		copies = []copyAt{{v: rec.v, set: rec.set, exists: exists, self: true}}
		promisedBy = map[string]bool{r.n.cfg.Name: true}
		replies := r.promiseAll(ctx, others, kind, identity, epoch, quorum-1, inS)
		acks, higher := 1, uint64(0)
		for _, p := range replies {
			if p.reply == nil {
				continue
			}
			if !p.reply.GetOk() {
				higher = max(higher, p.reply.GetPromised())
				continue
			}
			if inS[p.m.Name] {
				acks++
			}
			promisedBy[p.m.Name] = true
			copies = append(copies, copyAt{m: p.m, v: versionOf(p.reply.GetVersion()), set: p.reply.GetSet(), exists: p.reply.GetExists()})
		}
		if higher >= epoch && attempt < 3 {
			next = higher + 1
			continue
		}
		if acks < quorum {
			if failedInSet != "" {
				return nil, &UnavailableError{Kind: kind, Identity: identity, Node: failedInSet}
			}
			return nil, fmt.Errorf("%w: %s: %d of %d promised (%w)", ErrMoving, key, acks, len(set), ErrNoQuorum)
		}
		break
	}

	// Catch up from the newest copy.
	newest := copies[0]
	for _, c := range copies[1:] {
		if newest.v.less(c.v) || (newest.v == c.v && c.exists && !newest.exists) {
			newest = c
		}
	}
	// The newest copy was written under another replica set (membership
	// changed since): a majority of that set must have promised too, or
	// the claim that wrote it may still get writes acknowledged there
	// while this one writes to its own set (docs/replication.md,
	// "Changing a grain's replica set").
	var prev *jointSet
	if len(newest.set) > 0 && !sameSet(newest.set, names) {
		prev = r.jointQuorum(newest.set)
		got := 0
		for _, name := range prev.names {
			if promisedBy[name] {
				got++
			}
		}
		if got < prev.quorum {
			if name := firstFailed(v, prev.names); name != "" {
				return nil, &UnavailableError{Kind: kind, Identity: identity, Node: name}
			}
			return nil, fmt.Errorf("%w: %s: %d of its previous replica set %v promised (%w)", ErrMoving, key, got, newest.set, ErrNoQuorum)
		}
	}
	if !newest.self {
		snap, err := r.fetch(ctx, newest.m, kind, identity)
		if errors.Is(err, errSnapshotTooLarge) {
			return nil, err // not "moving": it never will
		}
		if err != nil {
			return nil, fmt.Errorf("%w: fetching %s from %s: %w", ErrMoving, key, newest.m.Name, err)
		}
		if _, err := r.install(snap, epoch); err != nil {
			return nil, err
		}
		newest.v = versionOf(snap.GetVersion())
	}
	c := &claim{r: r, kind: kind, identity: identity, key: key, epoch: epoch, setNames: names,
		quorum: quorum, v: newest.v}
	c.followers.Store(&followers)

	// Make sure a majority of the set holds the newest copy before serving.
	have := 1
	var behind []NodeMeta
	for _, cp := range copies[1:] {
		if !inS[cp.m.Name] {
			continue
		}
		if cp.v == newest.v && cp.exists == newest.exists {
			have++
		} else {
			behind = append(behind, cp.m)
		}
	}
	for _, m := range behind {
		if have >= quorum {
			break
		}
		if err := c.sendSnapshot(ctx, m); err != nil {
			continue
		}
		have++
	}
	if have < quorum {
		return nil, fmt.Errorf("%w: %s: only %d of %d replicas hold its newest copy (%w)", ErrMoving, key, have, len(set), ErrNoQuorum)
	}
	r.register(c)
	// A higher promise given after ours and before register saw no claim
	// to fence: check for one now (invariant 8).
	if rec, err := readRecord(r.n.store.db, kind, identity); err != nil || rec.promised > epoch {
		r.drop(c)
		c.fence()
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %s: epoch %d was superseded by a promise of %d", ErrMoving, key, epoch, rec.promised)
	}
	if prev != nil {
		// Record the new set through a majority of both sets before
		// serving: later claims then find it in any majority of the old.
		c.mu.Lock()
		c.joint = prev
		c.mu.Unlock()
		gs, err := r.n.store.Grain(kind, identity)
		if err == nil {
			b := gs.NewBatch()
			err = c.commit(b)
			b.Close()
		}
		if err != nil {
			r.drop(c)
			c.fence()
			return nil, fmt.Errorf("%w: %s: recording its new replica set: %w", ErrMoving, key, err)
		}
	}
	r.stats.claims.Add(1)
	// An alarm replicated to this node was not armed here: arm it now.
	if gs, err := r.n.store.Grain(kind, identity); err == nil && r.n.alarms != nil {
		if due, ok, err := gs.Alarm(); err == nil && ok {
			r.n.alarms.armIfUnknown(kind, identity, due, r.n.alarms.fireOnStart)
		}
	}
	return c, nil
}

type promiseReply struct {
	m     NodeMeta
	reply *clusterv1.ReplicaPromiseReply
}

// promiseAll sends a promise request to every member and collects the
// replies: all of them, or, once need members of the set have promised,
// those that arrive within promiseGrace.
func (r *replicator) promiseAll(ctx context.Context, members []NodeMeta, kind, identity string, epoch uint64, need int, inS map[string]bool) []promiseReply {
	ch := make(chan promiseReply, len(members))
	msg := &clusterv1.ReplicaPromise{Kind: kind, Identity: identity, Epoch: epoch, From: r.n.cfg.Name}
	for _, m := range members {
		if r.cutOff(m.Name) {
			ch <- promiseReply{m: m}
			continue
		}
		if !r.spawn(func() {
			res, _ := r.ask(ctx, m, msg)
			p, _ := res.(*clusterv1.ReplicaPromiseReply)
			if p != nil && p.GetError() != nil {
				p = nil
			}
			ch <- promiseReply{m: m, reply: p}
		}) {
			ch <- promiseReply{m: m}
		}
	}
	var out []promiseReply
	var grace <-chan time.Time
	got := 0
	for len(out) < len(members) {
		select {
		case p := <-ch:
			out = append(out, p)
			if p.reply.GetOk() && inS[p.m.Name] {
				got++
			}
			if got >= need && grace == nil {
				t := time.NewTimer(promiseGrace)
				defer t.Stop()
				grace = t.C
			}
		case <-grace:
			return out
		}
	}
	return out
}

// commit replicates and commits a batch of the claimed grain.
func (c *claim) commit(b *Batch) error {
	if c.solo {
		if c.fenced.Load() || !c.r.n.alone() {
			return ErrFenced
		}
		return b.commitLocal()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fenced.Load() {
		return ErrFenced
	}
	// NB: lsn keeps counting across epochs; the epoch alone orders chains.
	prev, next := c.v, version{epoch: c.epoch, lsn: c.v.lsn + 1}
	write, err := proto.Marshal(&clusterv1.ReplicaWrite{Kind: c.kind, Identity: c.identity, Epoch: c.epoch,
		Prev: prev.proto(), Next: next.proto(), Repr: b.b.Repr(), Set: c.setNames})
	if err != nil {
		return fmt.Errorf("cluster: write %s: %w", c.key, err)
	}
	if len(write) > maxReplFrame-frameHeader {
		return fmt.Errorf("cluster: write %s: %d bytes, more than the %d a replicated write may carry", c.key, len(write), maxReplFrame-frameHeader)
	}
	// Nothing has left the node yet: a superseded claim fails plainly.
	if err := c.checkPromise(); err != nil {
		return err
	}
	followers := *c.followers.Load()
	inSet := len(followers) // followers[:inSet] are of the claim's set
	jointAcks, jointIn := 0, []bool(nil)
	if c.joint != nil {
		followers = append(followers[:inSet:inSet], c.r.liveOthers(c.joint.names, followers)...)
		jointIn = make([]bool, len(followers))
		for i, m := range followers {
			jointIn[i] = slices.Contains(c.joint.names, m.Name)
		}
		if slices.Contains(c.joint.names, c.r.n.cfg.Name) {
			jointAcks = 1
		}
	}
	// Room for every follower's answer: a "behind" answer is replaced by
	// the outcome of its snapshot, so there are never more.
	results := make(chan replReply, len(followers))
	for i, m := range followers {
		if c.r.cutOff(m.Name) {
			results <- replReply{idx: i, err: fmt.Errorf("cluster: %s is cut off (test)", m.Name)}
			continue
		}
		c.r.tr.send(m.ReplAddr, write, i, results)
	}
	// The local copy, in parallel with the followers'.
	unlock := c.r.locks.lock(c.key)
	rec, err := readRecord(c.r.n.store.db, c.kind, c.identity)
	switch {
	case err != nil:
	case c.fenced.Load():
		err = ErrFenced
	case rec.promised > c.epoch:
		// Never lower a promise (invariant 8): a newer claim owns the grain.
		err = fmt.Errorf("%w: %s promised epoch %d here", ErrFenced, c.key, rec.promised)
	default:
		_ = b.b.Set(replicaKey(c.kind, c.identity), replicaRecord{promised: c.epoch, v: next, set: c.setNames}.encode(), nil)
		err = b.commitLocal()
	}
	unlock()
	if err != nil {
		c.r.stats.writesFailed.Add(1)
		c.fence()
		// The followers were sent the write: it may be applied there.
		return fmt.Errorf("%w: write %s: %w", ErrOutcomeUnknown, c.key, err)
	}
	c.v = next
	acks, answered := 1, 0
	enough := func() bool { return acks >= c.quorum && (c.joint == nil || jointAcks >= c.joint.quorum) }
	timeout := time.NewTimer(replicaTimeout)
	defer timeout.Stop()
wait:
	for !enough() && answered < len(followers) {
		select {
		case res := <-results:
			switch c.judge(res) {
			case synced:
				if res.idx < inSet {
					acks++
				}
				if jointIn != nil && jointIn[res.idx] {
					jointAcks++
				}
				answered++
			case behind:
				// The snapshot is taken after the local commit: it holds next.
				m := followers[res.idx]
				if !c.r.spawn(func() { results <- replReply{idx: res.idx, err: c.sendSnapshot(c.r.ctx, m)} }) {
					answered++
				} else {
					c.r.stats.snapshotsSent.Add(1)
				}
			default:
				answered++
			}
		case <-timeout.C:
			break wait
		case <-c.r.ctx.Done():
			break wait
		}
	}
	if !enough() {
		c.r.stats.writesFailed.Add(1)
		c.fence()
		if c.joint != nil && jointAcks < c.joint.quorum {
			return fmt.Errorf("%w: write %s: %d of its previous replica set %v synced: %w", ErrOutcomeUnknown, c.key, jointAcks, c.joint.names, ErrNoQuorum)
		}
		return fmt.Errorf("%w: write %s: %d of %d replicas synced: %w", ErrOutcomeUnknown, c.key, acks, len(c.setNames), ErrNoQuorum)
	}
	c.joint = nil
	c.r.stats.writesAcked.Add(1)
	return nil
}

// checkPromise fences the claim, and fails, when this node promised a
// newer epoch of the grain than the claim's.
func (c *claim) checkPromise() error {
	unlock := c.r.locks.lock(c.key)
	rec, err := readRecord(c.r.n.store.db, c.kind, c.identity)
	unlock()
	if err != nil {
		return err
	}
	if rec.promised > c.epoch {
		c.fence()
		return fmt.Errorf("%w: %s promised epoch %d here", ErrFenced, c.key, rec.promised)
	}
	return nil
}

// cutOff reports whether a fault-injection test cut this node off from
// member name.
func (r *replicator) cutOff(name string) bool {
	f := r.unreachable.Load()
	return f != nil && (*f)(name)
}

// liveOthers returns the live members named in names that are not this
// node and not in exclude.
func (r *replicator) liveOthers(names []string, exclude []NodeMeta) []NodeMeta {
	var out []NodeMeta
	for _, m := range r.n.currentView().all {
		if m.Name == r.n.cfg.Name || !slices.Contains(names, m.Name) ||
			slices.ContainsFunc(exclude, func(x NodeMeta) bool { return x.Name == m.Name }) {
			continue
		}
		out = append(out, m)
	}
	return out
}

// A follower's answer to a write, judged.
const (
	notSynced = iota
	synced
	behind // it misses earlier writes: send it a snapshot
)

// judge tells what a follower's answer to a write means; an answer from a
// newer epoch fences the claim.
func (c *claim) judge(res replReply) int {
	switch {
	case res.err != nil:
		return notSynced
	case res.rep == nil: // a snapshot installed
		return synced
	case res.rep.GetError() != nil:
		return notSynced
	case res.rep.GetPromised() > c.epoch:
		c.fence()
		return notSynced
	case res.rep.GetOk():
		return synced
	case res.rep.GetBehind():
		return behind
	}
	return notSynced
}

// sendSnapshot installs this node's copy of the grain on m.
func (c *claim) sendSnapshot(ctx context.Context, m NodeMeta) error {
	return c.r.sendInstall(ctx, m, c.kind, c.identity, c.epoch)
}

// fetch fetches m's whole copy of a grain, in chunks (repl_bulk.go).
func (r *replicator) fetch(ctx context.Context, m NodeMeta, kind, identity string) (*clusterv1.ReplicaSnapshot, error) {
	if r.cutOff(m.Name) {
		return nil, fmt.Errorf("cluster: %s is cut off (test)", m.Name)
	}
	ctx, cancel := context.WithTimeout(ctx, bulkTimeout)
	defer cancel()
	return r.tr.fetchSnapshot(ctx, m, kind, identity)
}

// bulkTimeout bounds one whole-copy transfer (each chunk has
// replicaTimeout).
const bulkTimeout = 5 * time.Minute

// sendInstall installs this node's copy of a grain on m, in chunks
// (repl_bulk.go).
func (r *replicator) sendInstall(ctx context.Context, m NodeMeta, kind, identity string, epoch uint64) error {
	if r.cutOff(m.Name) {
		return fmt.Errorf("cluster: %s is cut off (test)", m.Name)
	}
	ctx, cancel := context.WithTimeout(ctx, bulkTimeout)
	defer cancel()
	rep, err := r.tr.installCopy(ctx, m, kind, identity, epoch)
	if err != nil {
		return err
	}
	switch {
	case rep.GetError() != nil:
		return fmt.Errorf("cluster: %s refused an install: %s", m.Name, rep.GetError().GetMessage())
	case !rep.GetOk():
		return fmt.Errorf("%w: %s promised epoch %d", ErrFenced, m.Name, rep.GetPromised())
	}
	return nil
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
// stream (invariants 2, 3 and 6), in their order, in one synced commit:
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
func (r *replicator) install(snap *clusterv1.ReplicaSnapshot, epoch uint64) (bool, error) {
	kind, identity := snap.GetKind(), snap.GetIdentity()
	key := grainKey(kind, identity)
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
	nonEmpty := len(snap.GetEntries()) > 0 || snap.GetAlarmUnixNano() != 0
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
	return true, r.n.store.installSnapshot(snap, replicaRecord{promised: promised, v: sv, set: snap.GetSet()})
}

func (r *replicator) serveInstall(m *clusterv1.ReplicaInstall) *clusterv1.ReplicaWriteReply {
	holds, err := r.install(m.GetSnapshot(), m.GetEpoch())
	switch {
	case errors.Is(err, ErrFenced):
		rec, _ := readRecord(r.n.store.db, m.GetSnapshot().GetKind(), m.GetSnapshot().GetIdentity())
		return &clusterv1.ReplicaWriteReply{Promised: rec.promised}
	case err != nil:
		return &clusterv1.ReplicaWriteReply{Error: routeErrorFromGo(err)}
	case !holds:
		return &clusterv1.ReplicaWriteReply{Error: &clusterv1.RouteError{Code: clusterv1.RouteError_CODE_UNSPECIFIED,
			Message: fmt.Sprintf("%s holds a newer copy of %s than the version %d.%d offered", r.n.cfg.Name, grainKey(m.GetSnapshot().GetKind(), m.GetSnapshot().GetIdentity()), m.GetSnapshot().GetVersion().GetEpoch(), m.GetSnapshot().GetVersion().GetLsn())}}
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
				if err == nil {
					r.stats.repairInstalls.Add(1)
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("%s/%s to %s: %w", g.GetKind(), g.GetIdentity(), name, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// serveReplica dispatches a replication message received by the activator;
// it reports false for other messages.
func (n *Node) serveReplica(msg any, reply func(proto.Message)) bool {
	r := n.repl
	switch m := msg.(type) {
	case *clusterv1.ReplicaPromise:
		if r == nil {
			reply(&clusterv1.ReplicaPromiseReply{Error: &clusterv1.RouteError{Code: clusterv1.RouteError_CODE_INTERNAL, Message: "replication is off on " + n.cfg.Name}})
			return true
		}
		n.goServe(func() { reply(r.servePromise(m)) })
	case *clusterv1.ReplicaConfirm:
		if r == nil {
			reply(&clusterv1.ReplicaConfirmReply{Error: &clusterv1.RouteError{Code: clusterv1.RouteError_CODE_INTERNAL, Message: "replication is off on " + n.cfg.Name}})
			return true
		}
		n.goServe(func() { reply(r.serveConfirm(m)) })
	case *clusterv1.ReplicaPull:
		if r == nil {
			reply(&clusterv1.ReplicaPullReply{Error: &clusterv1.RouteError{Code: clusterv1.RouteError_CODE_INTERNAL, Message: "replication is off on " + n.cfg.Name}})
			return true
		}
		n.goServe(func() { reply(r.servePull(m)) })
	case *clusterv1.ReplicaDigest:
		if r == nil {
			reply(&clusterv1.ReplicaDigestReply{Error: &clusterv1.RouteError{Code: clusterv1.RouteError_CODE_INTERNAL, Message: "replication is off on " + n.cfg.Name}})
			return true
		}
		n.goServe(func() { reply(r.serveDigest(m)) })
	default:
		return false
	}
	return true
}

// mayDeleteAlarm reports whether this node may delete its copy of a
// grain's alarm after delivering it: always without replication; with it,
// only on the grain's owner. A replica keeps its copy (a local delete would
// make it differ from copies of the same version), so that whichever
// member owns the grain next still has the alarm.
func (n *Node) mayDeleteAlarm(kind, identity string) bool {
	if n.repl == nil {
		return true
	}
	if k, ok := n.kinds[kind]; ok && k.Ephemeral {
		return true
	}
	o, err := n.owner(kind, identity)
	return err == nil && o.Name == n.cfg.Name
}
