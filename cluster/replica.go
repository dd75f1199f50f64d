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
//  6. Anti-entropy only ever replaces a copy by a newer one (by version),
//     and answers an offer of an older copy with a refusal, never Ok.
//  7. With R = 1, or while a node has never seen another member, no claim,
//     record or message is involved: commits are local Pebble commits.
//  8. A promise is never lowered: a claim's commit fails (and fences it)
//     when its node promised a newer epoch, and a claim re-reads its record
//     once registered, for a promise given before any fence could reach it.
//  9. A follower answers "already applied" only to a write of the epoch of
//     the version it holds (the same chain); a write not newer than a copy
//     of another epoch is refused with that epoch, which fences its writer.
// 10. An install from the current owner (its epoch at least the promise)
//     leaves the follower holding the owner's copy, or a later one of the
//     owner's own chain: a copy of another epoch is replaced even by an
//     older version (it holds only writes no majority acknowledged). Ok
//     means "holds it"; judge counts nothing else as synced.
// 11. Every install raises the promise to the copy's epoch (and the
//     sender's): no copy is held under an older promise than its version.
// 12. A data folder new at this start is a new incarnation: it answers no
//     promise and claims nothing until every other member it knows (live
//     or failed) has repaired it by a pull, whose digests carry the
//     promises they hold; it adopts them (replica_incarnation.go). A
//     member that answered its pull counts as done, even if it fails
//     before the others answered.
// 13. A write that left the owner but reached no majority is reported as
//     ErrOutcomeUnknown (it may yet win, on a copy that holds it), never as
//     a plain failure to retry.
// 14. A lookup (a message that cannot create the grain, [Kind.Creates])
//     of a grain no majority of its set holds answers ErrNoSuchGrain and
//     writes nothing anywhere (replica_lookup.go); a read ([Kind.Reads]) is
//     served only after a majority confirmed the owner's claim is the
//     newest, else ErrUnconfirmed (replica_read.go).
// 15. Whole copies travel in bounded chunks on bulk connections to the
//     replication listener, never as one actor message; a copy over
//     maxSnapshotBytes fails with its size and the limit (repl_bulk.go).
// 16. A membership change fences a live claim only when the grain's owner
//     changed (this node is no longer the first live member in rendezvous
//     order, or no longer in the grain's replica set). A claim whose owner
//     stayed keeps its epoch and activation and writes to the new set from
//     its next write on; until a write recording the new set is
//     acknowledged by a majority of the set the newest acknowledged copy
//     was written under (gone members counting as given, as in rule 3),
//     its writes and read confirmations must also reach a majority of that
//     set. So a later claim meets it as rule 3 makes it meet any claim of
//     the old set. New members get the copy through the write's "behind"
//     path and anti-entropy.
// 17. Alarms are held by every replica and armed when the holder is lost:
//     a grain's alarm is part of its replicated copy; when a view no
//     longer has the member that held the grain in the previous view (its
//     owner among live and leaving members) because it failed or left,
//     every member with a copy of the alarm arms it (at once with
//     AlarmsFireOnStart), and its delivery, a call, activates the grain on
//     its new owner (the next in placement order) without waiting for any
//     other call; at least once, as every alarm (alarms.go, takeOver).
//     Delay after the kill: the holder members' detection of the failure
//     (memberlist probe + suspicion, then gossip of "dead"), plus one
//     claim on the new owner (promises from a majority of the set, at most
//     promiseGrace more for the rest, a copy fetch if it is behind), plus
//     the grain's own start.
// 18. Reads and watchers follow membership events, not timeouts
//     (liveness.go): a locate or a read (Kind.Reads) waiting on a remote
//     owner is re-sent to the new owner as soon as this node's view marks
//     that owner failed; watchers subscribe again when a new view marks
//     their grain's owner failed (Node.ViewChanged). Any other call is
//     not cut (a false failure report must not lose a write the member
//     then answers); if it ends without an answer from an owner marked
//     failed, it reports ErrOwnerLost (it may have been applied). A
//     leaving owner is waited for: it answers while it hands off.
// 19. An install is received in bounded memory (staged on disk as its
//     chunks arrive) and applied in one atomic step (a Pebble ingest of
//     the staged tables with the grain's alarm and replica record, under
//     the key lock); until then the receiver's readers, promises and
//     digests see its previous copy and record, and a cut or killed
//     install leaves them so (replica_install.go).
//
// Files: replica_claim.go (the owner: claims, writes, sends),
// replica_follower.go (promises, writes, installs, digests),
// replica_antientropy.go (repair passes), replica_incarnation.go,
// replica_lookup.go, replica_read.go, replica_store.go (records, copies),
// repl_transport.go (the write stream), repl_bulk.go (whole copies),
// replica_install.go (staged installs),
// liveness.go and alarms.go (rules 17 and 18).

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
	// CopiesStaged counts whole copies received here (fetched or sent to
	// be installed) that were staged on disk (over stageSpillBytes);
	// CopiesDropped those whose transfer broke before its end, of which
	// nothing was installed (replica_install.go).
	CopiesStaged, CopiesDropped uint64
}

type replStats struct {
	claims, writesAcked, writesFailed, followerWrites, followerGroups,
	snapshotsSent, repairInstalls, streamFailures,
	copiesStaged, copiesDropped atomic.Uint64
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
		CopiesStaged:   s.copiesStaged.Load(), CopiesDropped: s.copiesDropped.Load(),
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
	// pulled names the members that answered this new incarnation's
	// repair pull (pullRepair): they are not asked again.
	pulledMu sync.Mutex
	pulled   map[string]bool
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
	return r.askFor(ctx, m, msg, replicaTimeout)
}

// askFor is ask with another timeout than replicaTimeout.
func (r *replicator) askFor(ctx context.Context, m NodeMeta, msg proto.Message, timeout time.Duration) (any, error) {
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
	// set is the claim's current replica set. It changes with membership
	// while this node stays the grain's owner (invariant 16): onMembership
	// stores a new one, each commit reads one.
	set atomic.Pointer[claimSet]
	// written is the replica set recorded with the newest copy the claim
	// knows acknowledged: its own writes', or the copy it caught up from.
	// While it differs from set's, writes and read confirmations must also
	// reach a majority of it (invariant 16). Stored by commit (under mu).
	written atomic.Pointer[[]string]

	mu sync.Mutex // serialises commits
	v  version    // last version written
	// joint, until a write has been acknowledged by a majority of it too,
	// is the replica set the grain's newest copy was written under, when
	// it is not this claim's (guarded by mu).
	joint  *jointSet
	fenced atomic.Bool
	entry  atomic.Pointer[activation]
}

// claimSet is a claim's replica set: its names in rendezvous order, the
// majority of it, and its live members other than this node (updated in
// place as members fail and return).
type claimSet struct {
	names     []string
	quorum    int
	followers []NodeMeta
}

func newClaimSet(set, followers []NodeMeta) *claimSet {
	return &claimSet{names: memberNames(set), quorum: len(set)/2 + 1, followers: followers}
}

// jointSet is a previous replica set a claim's writes must also reach a
// majority of: the members of the recorded set that are not gone.
type jointSet struct {
	names  []string
	quorum int
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

// onMembership applies a membership change to the live claims (invariant
// 16): a claim whose grain now has another owner (or whose replica set no
// longer holds this node) is fenced, and its activation stopped; every
// other claim keeps its epoch and serves on, writing from now on to the
// grain's new replica set and the live members of it (new members are
// refilled by the next write's "behind" path and by anti-entropy, woken
// here). Solo claims are fenced once the node is no longer alone.
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
		owner, ok := lookupFast(c.kind, c.identity, v.live)
		if !ok || owner.Name != r.n.cfg.Name || !slices.ContainsFunc(set, func(m NodeMeta) bool { return m.Name == r.n.cfg.Name }) {
			stale = append(stale, c)
			continue
		}
		// Same owner: the claim keeps its epoch. NB: a returning member
		// catches up through the "behind" path; a new one too.
		c.set.Store(newClaimSet(set, live))
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

type promiseReply struct {
	m     NodeMeta
	reply *clusterv1.ReplicaPromiseReply
}

// cutOff reports whether a fault-injection test cut this node off from
// member name.
func (r *replicator) cutOff(name string) bool {
	f := r.unreachable.Load()
	return f != nil && (*f)(name)
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
