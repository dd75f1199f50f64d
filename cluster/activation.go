package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Activation errors.
var (
	// ErrUnknownKind reports a grain kind this node does not serve.
	ErrUnknownKind = errors.New("cluster: unknown grain kind")
	// ErrDraining reports a node that no longer accepts activations
	// because it is shutting down.
	ErrDraining = errors.New("cluster: node is shutting down")
)

// Kind is a grain kind served by a node.
type Kind struct {
	// Name of the kind, e.g. "session".
	Name string
	// New returns the actor of a new activation. It must not block: the
	// grain loads its state when it receives *actor.Started.
	New func(ref *GrainRef) actor.Actor
	// Ephemeral grains (caches, rate-limit buckets) may start empty when
	// their storage is on an unreachable node; durable ones answer
	// [UnavailableError] instead.
	Ephemeral bool
	// Creates, when set, reports whether a message may create the grain.
	// A call with any other message (a lookup) of a replicated grain that
	// is not active and of which no majority of its replicas holds a copy
	// fails with [ErrNoSuchGrain] without activating it: a lookup of an id
	// that does not exist writes nothing anywhere. Nil: every message may
	// create the grain. Called on any goroutine; must not block.
	Creates func(msg any) bool
	// Reads, when set, reports whether a message only reads the grain.
	// Such a call to a replicated grain is served only after its owner
	// confirmed with a majority of the grain's replicas that its claim is
	// still the newest; otherwise it fails with [ErrUnconfirmed] (an owner
	// cut off from its replicas serves no stale state). Nil: no message is
	// confirmed. Called on any goroutine; must not block.
	Reads func(msg any) bool
	// PlaceWith, when set, names another kind whose placement this kind
	// follows: a grain of this kind lives on the member that owns the
	// grain of kind PlaceWith with the same identity (a session's sandbox
	// on its session's node, so the app's files and preview never cross
	// nodes). Every member serving this kind must serve PlaceWith too.
	PlaceWith string
}

// GrainRef is what an activation knows of itself and its node.
type GrainRef struct {
	Kind, Identity string
	// Store is the grain's durable storage.
	Store *GrainStore
	// Node is the node hosting the activation.
	Node *Node

	entry *activation
}

// Passivate stops the activation if no call to it is in flight; it reports
// whether it did. Call it from the grain's own Receive (typically on
// *actor.ReceiveTimeout) after its state is durable. Calls already queued
// are served first (a poison pill, not a stop); calls that arrive later
// start a new activation, which waits until this one has stopped.
func (r *GrainRef) Passivate(ctx actor.Context) bool {
	if !r.Node.activations.markStopping(r.entry) {
		return false
	}
	ctx.Poison(ctx.Self())
	return true
}

// activation is one live grain activation.
type activation struct {
	key      string
	pid      *actor.PID
	stopping bool          // guarded by activations.mu
	inflight int           // calls in flight, guarded by activations.mu
	done     chan struct{} // closed when the actor has stopped; see doneOf; guarded by activations.mu
	stopped  bool          // the actor has stopped; guarded by activations.mu
	claim    *claim        // replication claim; nil when not replicated
	ref      *GrainRef
}

// activations is the node's registry of live grains. Invariant: at most
// one entry per key, and a new activation of a key is spawned only after
// the previous one's done is closed.
type activations struct {
	mu       sync.Mutex
	byKey    map[string]*activation
	peak     int                      // the largest len(byKey) since it was last built
	moving   map[string]bool          // grains whose storage is being transferred
	claiming map[string]chan struct{} // grains whose replication claim is in progress; closed when done
	draining bool
	seq      atomic.Uint64
}

func grainKey(kind, identity string) string { return kind + "/" + identity }

// acquire returns the activation of (kind, identity), spawning it if
// needed, and counts a call in flight until [Node.release] is called with it.
func (n *Node) acquire(ctx context.Context, kind, identity string, mustExist bool) (*activation, error) {
	k, ok := n.kinds[kind]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKind, kind)
	}
	key := grainKey(kind, identity)
	a := &n.activations
	checked := false
	var cl *claim
	for {
		a.mu.Lock()
		if a.draining {
			a.mu.Unlock()
			return nil, ErrDraining
		}
		if a.moving[key] {
			a.mu.Unlock()
			return nil, ErrMoving
		}
		e := a.byKey[key]
		if e != nil && e.stopping {
			done := a.doneOf(e)
			a.mu.Unlock()
			select {
			case <-done:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if e == nil && !checked && n.repl != nil && !k.Ephemeral && n.alone() {
			// Never clustered: the shared solo claim, at no extra cost.
			cl, checked = n.repl.solo, true
		}
		if e == nil && !checked && n.repl != nil && !k.Ephemeral {
			// A replicated grain first claims a new epoch from a majority of
			// its replicas and catches up (replica.go); one claim at a time.
			if wait, busy := a.claiming[key]; busy {
				a.mu.Unlock()
				select {
				case <-wait:
					continue
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			if a.claiming == nil {
				a.claiming = map[string]chan struct{}{}
			}
			wait := make(chan struct{})
			a.claiming[key] = wait
			a.mu.Unlock()
			var c *claim
			var err error
			started := time.Now()
			if mustExist && n.repl.absent(ctx, kind, identity) {
				err = fmt.Errorf("%w: %s", ErrNoSuchGrain, key)
			} else {
				c, err = n.repl.acquireClaim(ctx, kind, identity)
			}
			if err == nil {
				n.log.Debug("grain claimed", "kind", kind, "identity", identity, "took", time.Since(started))
			}
			a.mu.Lock()
			delete(a.claiming, key)
			close(wait)
			if err != nil {
				a.mu.Unlock()
				return nil, err
			}
			if a.byKey[key] != nil || a.draining || a.moving[key] {
				n.repl.drop(c) // lost a race; loop again
				a.mu.Unlock()
				continue
			}
			// Spawn under the same lock: no other claim can start between.
			e, err := n.spawn(k, kind, identity, key, c)
			if err != nil {
				a.mu.Unlock()
				n.repl.drop(c)
				return nil, err
			}
			a.put(key, e)
			if e.stopping {
				a.mu.Unlock()
				continue // superseded before it started: wait for the next one
			}
			e.inflight++
			a.mu.Unlock()
			return e, nil
		}
		if e == nil && !checked {
			// Before a grain starts here, its storage must be here: pull
			// it from the member that holds it (outside the lock).
			a.mu.Unlock()
			if err := n.ensureLocal(ctx, k, identity); err != nil {
				return nil, err
			}
			checked = true
			continue
		}
		if e == nil {
			var err error
			e, err = n.spawn(k, kind, identity, key, cl) // cl: nil or the solo claim
			if err != nil {
				a.mu.Unlock()
				return nil, err
			}
			a.put(key, e)
		}
		e.inflight++
		a.mu.Unlock()
		return e, nil
	}
}

// release ends a call counted by acquire.
func (n *Node) release(e *activation) {
	n.activations.mu.Lock()
	e.inflight--
	n.activations.mu.Unlock()
}

// spawn starts an activation; called with activations.mu held.
func (n *Node) spawn(k Kind, kind, identity, key string, cl *claim) (*activation, error) {
	gs, err := n.store.Grain(kind, identity)
	if err != nil {
		return nil, err
	}
	gs.rep = cl
	// A per-activation suffix keeps names unique even while a stopped
	// activation is still leaving the process registry. The key is the
	// name's start (one string for both).
	name := key + "$" + strconv.FormatUint(n.activations.seq.Add(1), 36)
	e := &activation{key: name[:len(key)], claim: cl}
	e.ref = &GrainRef{Kind: kind, Identity: identity, Store: gs, Node: n, entry: e}
	pid, err := n.system.Root.SpawnNamed(n.props, name)
	if err != nil {
		return nil, fmt.Errorf("cluster: activate %s: %w", key, err)
	}
	e.pid = pid
	if cl != nil && !cl.solo {
		cl.entry.Store(e)
		if cl.fenced.Load() {
			e.stopping = true         // see claim.fence
			n.system.Root.Poison(pid) // superseded before it started
		}
	}
	n.metrics.activations.Add(1)
	return e, nil
}

// grainProps returns the Props that every activation shares: the actor
// finds its activation by its name when it starts (grainActor), so nothing
// (props, middleware chains) is built per activation. Their mailboxes run
// on reused goroutines (workers).
func (n *Node) grainProps() *actor.Props {
	n.workers = newWorkers(300) // protoactor's default throughput
	return actor.PropsFromProducer(func() actor.Actor { return &grainActor{n: n} },
		actor.WithSenderMiddleware(n.replyLimit()), actor.WithDispatcher(n.workers))
}

// grainActor runs one activation's actor (made by its kind's New on
// *actor.Started) and removes the activation from the registry once the
// actor has handled *actor.Stopped, so a waiting caller can start the next
// one.
type grainActor struct {
	n     *Node
	e     *activation
	inner actor.Actor
}

func (g *grainActor) Receive(c actor.Context) {
	if g.inner == nil {
		// The first message (*actor.Started, or after a restart the
		// restarted actor's): spawn registered the activation under the
		// lock this waits for.
		if g.e = g.n.activations.byName(c.Self().GetId()); g.e == nil {
			g.n.log.Error("grain actor without an activation", "name", c.Self().GetId())
			c.Stop(c.Self())
			return
		}
		g.inner = g.n.kinds[g.e.ref.Kind].New(g.e.ref)
	}
	g.inner.Receive(c)
	if _, ok := c.Message().(*actor.Stopped); ok {
		if e := g.e; e.claim != nil && !e.claim.solo {
			g.n.repl.drop(e.claim)
		}
		g.n.activations.remove(g.e)
	}
}

// byName returns the activation whose actor is named name (key$seq), or
// nil.
func (a *activations) byName(name string) *activation {
	i := strings.LastIndexByte(name, '$')
	if i < 0 {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if e := a.byKey[name[:i]]; e != nil && e.pid != nil && e.pid.Id == name {
		return e
	}
	return nil
}

func (a *activations) markStopping(e *activation) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if e.inflight > 0 || e.stopping {
		return false
	}
	e.stopping = true
	return true
}

// setStopping marks e stopping whatever calls are in flight: acquire and
// activeLocal hand out its PID no more (callers wait for the next
// activation), for an activation about to be poisoned.
func (a *activations) setStopping(e *activation) {
	a.mu.Lock()
	e.stopping = true
	a.mu.Unlock()
}

// put registers e under key; the caller holds a.mu.
func (a *activations) put(key string, e *activation) {
	a.byKey[e.key] = e // e.key == key, sharing the actor's name
	a.peak = max(a.peak, len(a.byKey))
}

func (a *activations) remove(e *activation) {
	a.mu.Lock()
	if a.byKey[e.key] == e {
		delete(a.byKey, e.key)
		// A Go map keeps the room of its largest size: after a peak of
		// activations (100,000 sessions resumed after a restart), build
		// it again at its size, or each passivated grain would leave its
		// slot behind.
		if a.peak >= 4096 && len(a.byKey) < a.peak/4 {
			m := make(map[string]*activation, len(a.byKey)) // NB: maps.Clone keeps the room
			for k, v := range a.byKey {
				m[k] = v
			}
			a.byKey, a.peak = m, len(m)
		}
	}
	e.stopping = true
	if !e.stopped {
		e.stopped = true
		if e.done != nil {
			close(e.done)
		}
	}
	a.mu.Unlock()
}

// closedDone is the done channel of an activation that has stopped before
// anyone waited for it.
var closedDone = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// doneOf returns a channel closed once e has stopped, made on first use
// (most activations passivate with no one waiting); the caller holds a.mu.
func (a *activations) doneOf(e *activation) chan struct{} {
	if e.done == nil {
		if e.stopped {
			return closedDone
		}
		e.done = make(chan struct{})
	}
	return e.done
}

// count returns the number of live activations per kind.
func (a *activations) count() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]int{}
	for k := range a.byKey {
		kind, _, _ := cutKind(k)
		out[kind]++
	}
	return out
}

func cutKind(key string) (string, string, bool) {
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			return key[:i], key[i+1:], true
		}
	}
	return key, "", false
}

// drain refuses new activations and stops every live one, waiting until
// they have stopped or ctx is done.
func (a *activations) drain(ctx context.Context, system *actor.ActorSystem) error {
	a.mu.Lock()
	a.draining = true
	live := make([]*activation, 0, len(a.byKey))
	done := make([]chan struct{}, 0, len(a.byKey))
	for _, e := range a.byKey {
		live = append(live, e)
		done = append(done, a.doneOf(e))
		e.stopping = true
	}
	a.mu.Unlock()
	for _, e := range live {
		system.Root.Stop(e.pid)
	}
	for _, d := range done {
		select {
		case <-d:
		case <-ctx.Done():
			return fmt.Errorf("cluster: %d grains still stopping: %w", len(live), ctx.Err())
		}
	}
	return nil
}

// stopWhere stops (after their queued calls) the live activations for
// which match reports true. It does not wait.
func (a *activations) stopWhere(system *actor.ActorSystem, match func(*activation) bool) {
	a.mu.Lock()
	var pids []*actor.PID
	for _, e := range a.byKey {
		if !e.stopping && match(e) {
			e.stopping = true // no new call gets the PID (see claim.fence)
			pids = append(pids, e.pid)
		}
	}
	a.mu.Unlock()
	for _, pid := range pids {
		system.Root.Poison(pid)
	}
}

// deactivate stops the activation of key, if any, after the calls in flight
// to it have finished (or ctx is done), and waits until it has stopped.
// The caller has marked key as moving, so no new activation starts.
func (n *Node) deactivate(ctx context.Context, key string) error {
	a := &n.activations
	for {
		a.mu.Lock()
		e := a.byKey[key]
		if e == nil {
			a.mu.Unlock()
			return nil
		}
		if e.inflight == 0 || ctx.Err() != nil {
			e.stopping = true
			done := a.doneOf(e)
			a.mu.Unlock()
			n.system.Root.Poison(e.pid) // queued calls finish first
			select {
			case <-done:
				return nil
			case <-ctx.Done():
				return fmt.Errorf("cluster: %s did not stop: %w", key, ctx.Err())
			}
		}
		a.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Millisecond):
		}
	}
}
