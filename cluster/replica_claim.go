package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	clusterv1 "github.com/stichdev/stich/proto/stich/cluster/v1"
)

// The owner's side of replication: claims (epochs, catch-up), the write
// path, and whole-copy sends. See replica.go for the invariants.

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
		snap, body, err := r.fetch(ctx, newest.m, kind, identity)
		if errors.Is(err, errSnapshotTooLarge) {
			return nil, err // not "moving": it never will
		}
		if err != nil {
			return nil, fmt.Errorf("%w: fetching %s from %s: %w", ErrMoving, key, newest.m.Name, err)
		}
		if _, err := r.install(snap, body, epoch); err != nil {
			return nil, err
		}
		newest.v = versionOf(snap.GetVersion())
	}
	c := &claim{r: r, kind: kind, identity: identity, key: key, epoch: epoch, v: newest.v}
	c.set.Store(newClaimSet(set, followers))
	written := names
	if prev != nil {
		written = newest.set
	}
	c.written.Store(&written)

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
	cs := c.set.Load()
	if written := *c.written.Load(); c.joint == nil && !sameSet(written, cs.names) {
		// The set changed under this claim (invariant 16): until a write
		// recording the new set is acknowledged by a majority of the set
		// the newest copy was written under, a claim made from that set
		// must meet this one's writes.
		c.joint = c.r.jointQuorum(written)
	}
	// NB: lsn keeps counting across epochs; the epoch alone orders chains.
	prev, next := c.v, version{epoch: c.epoch, lsn: c.v.lsn + 1}
	write, err := proto.Marshal(&clusterv1.ReplicaWrite{Kind: c.kind, Identity: c.identity, Epoch: c.epoch,
		Prev: prev.proto(), Next: next.proto(), Repr: b.b.Repr(), Set: cs.names})
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
	followers := cs.followers
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
		_ = b.b.Set(replicaKey(c.kind, c.identity), replicaRecord{promised: c.epoch, v: next, set: cs.names}.encode(), nil)
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
	enough := func() bool { return acks >= cs.quorum && (c.joint == nil || jointAcks >= c.joint.quorum) }
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
		return fmt.Errorf("%w: write %s: %d of %d replicas synced: %w", ErrOutcomeUnknown, c.key, acks, len(cs.names), ErrNoQuorum)
	}
	c.joint = nil
	c.written.Store(&cs.names)
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

// fetch fetches m's whole copy of a grain, in chunks (repl_bulk.go): its
// head, and its entries staged to install (the caller closes them).
func (r *replicator) fetch(ctx context.Context, m NodeMeta, kind, identity string) (*clusterv1.ReplicaSnapshot, *copyStage, error) {
	if r.cutOff(m.Name) {
		return nil, nil, fmt.Errorf("cluster: %s is cut off (test)", m.Name)
	}
	ctx, cancel := context.WithTimeout(ctx, bulkTimeout)
	defer cancel()
	return r.tr.fetchSnapshot(ctx, m, kind, identity)
}

// errAhead reports an anti-entropy install refused because the member
// already holds a newer copy: not a failure of the repair.
var errAhead = errors.New("cluster: the member holds a newer copy")

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
	case rep.GetNewer():
		// Only anti-entropy (epoch 0) gets this answer: m holds a newer
		// version, which holds every acknowledged write this copy has
		// (invariant 4: a newer epoch's claim caught up from a majority
		// that holds each of them; a newer version of the same epoch
		// extends the same chain). Nothing to install (invariant 6).
		return errAhead
	case !rep.GetOk():
		return fmt.Errorf("%w: %s promised epoch %d", ErrFenced, m.Name, rep.GetPromised())
	}
	return nil
}
