package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	clusterv1 "github.com/stichdev/stich/proto/stich/cluster/v1"
)

// keyEpoch is the reserved storage key of a grain's ownership generation:
// it grows by one each time the grain's storage moves to another node, so
// a copy left behind by an interrupted move is recognisably stale. Grains
// must not use keys starting with "$".
const keyEpoch = "$epoch"

// transferTimeout bounds one storage transfer between two nodes.
const transferTimeout = 10 * time.Second

// Epoch returns the grain's ownership generation (0 if never moved).
func (g *GrainStore) Epoch() (uint64, error) {
	v, err := g.Get(keyEpoch)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil || len(v) != 8 {
		return 0, errors.Join(err, fmt.Errorf("cluster: epoch record of %d bytes", len(v)))
	}
	return binary.BigEndian.Uint64(v), nil
}

// ensureLocal makes sure a grain about to be activated here has its
// storage here. If another member holds it (the grain's previous owner
// before a membership change), the storage is moved here first. If no live
// member holds it but a member that failed ranks above this node, the
// grain may have lived there: a durable grain is then Unavailable rather
// than started empty.
func (n *Node) ensureLocal(ctx context.Context, k Kind, identity string) error {
	v := n.currentView()
	if len(v.all) <= 1 && len(v.failed) == 0 {
		return nil // alone in the cluster: nobody else can hold it
	}
	gs, err := n.store.Grain(k.Name, identity)
	if err != nil {
		return err
	}
	if ok, err := gs.Exists(); err != nil || ok {
		return err
	}
	for _, m := range Rank(n.placeKind(k.Name), identity, v.all) {
		if m.Name == n.cfg.Name {
			continue
		}
		held, err := n.askTransfer(ctx, m, k.Name, identity)
		if err != nil {
			return err
		}
		if held {
			return nil
		}
	}
	if k.Ephemeral {
		return nil
	}
	for _, m := range Rank(n.placeKind(k.Name), identity, append(append([]NodeMeta(nil), v.all...), v.failed...)) {
		if m.Name == n.cfg.Name {
			break
		}
		for _, f := range v.failed {
			if f.Name == m.Name {
				return &UnavailableError{Kind: k.Name, Identity: identity, Node: m.Name}
			}
		}
	}
	return nil
}

// askTransfer asks member m to move the grain's storage here; it reports
// whether m held it (and has moved it).
func (n *Node) askTransfer(ctx context.Context, m NodeMeta, kind, identity string) (bool, error) {
	timeout := transferTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	f := n.system.Root.RequestFuture(activatorPID(m), &clusterv1.Transfer{Kind: kind, Identity: identity, To: n.cfg.Name}, timeout)
	res, err := n.wait(ctx, f)
	if err != nil {
		// m cannot say whether it holds the grain: starting it empty here
		// could fork its history, so the caller retries.
		return false, fmt.Errorf("%w: %s did not answer whether it holds %s/%s: %v", ErrMoving, m.Name, kind, identity, err)
	}
	r, ok := res.(*clusterv1.TransferReply)
	if !ok {
		return false, fmt.Errorf("cluster: %s answered %T to a transfer", m.Name, res)
	}
	if e := r.GetError(); e != nil {
		if e.GetCode() == clusterv1.RouteError_CODE_NOT_OWNER {
			// m holds it but thinks someone else owns it: views differ.
			return false, ErrMoving
		}
		return false, routeErrorToGo(e, kind, identity)
	}
	return r.GetHeld(), nil
}

// serveTransfer handles a peer asking for a grain's storage.
func (n *Node) serveTransfer(m *clusterv1.Transfer) *clusterv1.TransferReply {
	gs, err := n.store.Grain(m.GetKind(), m.GetIdentity())
	if err != nil {
		return &clusterv1.TransferReply{Error: routeErrorFromGo(err)}
	}
	if ok, err := gs.Exists(); err != nil {
		return &clusterv1.TransferReply{Error: routeErrorFromGo(err)}
	} else if !ok {
		return &clusterv1.TransferReply{}
	}
	owner, err := n.ownerExcludingLeaving(m.GetKind(), m.GetIdentity())
	if err != nil {
		return &clusterv1.TransferReply{Error: routeErrorFromGo(err)}
	}
	if owner.Name != m.GetTo() {
		return &clusterv1.TransferReply{Error: routeErrorFromGo(&NotOwnerError{Owner: owner.Name})}
	}
	ctx, cancel := context.WithTimeout(context.Background(), transferTimeout)
	defer cancel()
	if err := n.transfer(ctx, m.GetKind(), m.GetIdentity(), owner); err != nil {
		return &clusterv1.TransferReply{Error: routeErrorFromGo(err)}
	}
	return &clusterv1.TransferReply{Held: true}
}

// ownerExcludingLeaving is the owner among live members other than this
// node when it is leaving.
func (n *Node) ownerExcludingLeaving(kind, identity string) (NodeMeta, error) {
	live := n.currentView().live
	if n.leaving.Load() {
		others := make([]NodeMeta, 0, len(live))
		for _, m := range live {
			if m.Name != n.cfg.Name {
				others = append(others, m)
			}
		}
		live = others
	}
	m, ok := Lookup(n.placeKind(kind), identity, live)
	if !ok {
		return NodeMeta{}, fmt.Errorf("%w: %q", ErrNoOwner, kind)
	}
	return m, nil
}

// transfer moves a grain's storage from this node to member to: it stops
// the local activation, sends the storage as an Import, and deletes the
// local copy once to has committed it.
func (n *Node) transfer(ctx context.Context, kind, identity string, to NodeMeta) error {
	key := grainKey(kind, identity)
	a := &n.activations
	a.mu.Lock()
	if a.moving[key] {
		a.mu.Unlock()
		return ErrMoving
	}
	if a.moving == nil {
		a.moving = map[string]bool{}
	}
	a.moving[key] = true
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.moving, key)
		a.mu.Unlock()
	}()
	if err := n.deactivate(ctx, key); err != nil {
		return err
	}
	gs, err := n.store.Grain(kind, identity)
	if err != nil {
		return err
	}
	imp := &clusterv1.Import{Kind: kind, Identity: identity, From: n.cfg.Name}
	err = gs.List("", "", 0, func(k string, v []byte) error {
		if k != keyEpoch {
			imp.Entries = append(imp.Entries, &clusterv1.Entry{Key: k, Value: append([]byte(nil), v...)})
		}
		return nil
	})
	if err != nil {
		return err
	}
	if due, ok, err := gs.Alarm(); err != nil {
		return err
	} else if ok {
		imp.AlarmUnixNano = due.UnixNano()
	}
	epoch, err := gs.Epoch()
	if err != nil {
		return err
	}
	imp.Epoch = epoch + 1
	f := n.system.Root.RequestFuture(activatorPID(to), imp, transferTimeout)
	res, err := n.wait(ctx, f)
	if err != nil {
		return fmt.Errorf("%w: sending %s to %s: %v", ErrMoving, key, to.Name, err)
	}
	if r, ok := res.(*clusterv1.ImportReply); !ok {
		return fmt.Errorf("cluster: %s answered %T to an import", to.Name, res)
	} else if e := r.GetError(); e != nil {
		return fmt.Errorf("%w: %s refused %s: %s", ErrMoving, to.Name, key, e.GetMessage())
	}
	n.metrics.transfers.Add(1)
	return gs.DeleteAll()
}

// serveImport stores a grain moved here. A local copy with an equal or
// newer epoch wins (the import is a stale copy); otherwise the import
// replaces it. An imported alarm fires at once: the grain's work was
// interrupted by the move.
func (n *Node) serveImport(m *clusterv1.Import) *clusterv1.ImportReply {
	gs, err := n.store.Grain(m.GetKind(), m.GetIdentity())
	if err != nil {
		return &clusterv1.ImportReply{Error: routeErrorFromGo(err)}
	}
	if ok, err := gs.Exists(); err != nil {
		return &clusterv1.ImportReply{Error: routeErrorFromGo(err)}
	} else if ok {
		local, err := gs.Epoch()
		if err != nil {
			return &clusterv1.ImportReply{Error: routeErrorFromGo(err)}
		}
		if local >= m.GetEpoch() {
			return &clusterv1.ImportReply{}
		}
	}
	b := gs.NewBatch()
	defer b.Close()
	b.b.DeleteRange(gs.prefix, prefixEnd(gs.prefix), nil)
	b.DeleteAlarm()
	for _, e := range m.GetEntries() {
		b.Put(e.GetKey(), e.GetValue())
	}
	var enc [8]byte
	binary.BigEndian.PutUint64(enc[:], m.GetEpoch())
	b.Put(keyEpoch, enc[:])
	if m.GetAlarmUnixNano() != 0 {
		b.SetAlarm(time.Now())
	}
	if err := b.Commit(); err != nil {
		return &clusterv1.ImportReply{Error: routeErrorFromGo(err)}
	}
	return &clusterv1.ImportReply{}
}

// announceLeaving tells every other live member that this node is
// leaving. NB: memberlist may deliver the departure before the metadata
// update that announced it; a peer that never saw "leaving" counts the
// node as failed, which keeps it in placement and replica sets as if it
// could return.
func (n *Node) announceLeaving(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var errs []error
	for _, m := range n.currentView().all {
		if m.Name == n.cfg.Name {
			continue
		}
		res, err := n.wait(ctx, n.system.Root.RequestFuture(activatorPID(m), &clusterv1.MemberLeaving{Name: n.cfg.Name}, 2*time.Second))
		if _, ok := res.(*clusterv1.MemberLeavingReply); !ok || err != nil {
			errs = append(errs, fmt.Errorf("%s: %T, %w", m.Name, res, err))
		}
	}
	return errors.Join(errs...)
}

// Leave hands every grain this node stores to its next owner and announces
// the departure; afterwards the node serves no grains. It is what SIGTERM
// (and an operator's planned scale-down) does before Shutdown. With no
// other member it only stops the grains.
func (n *Node) Leave(ctx context.Context) error {
	if !n.leaving.CompareAndSwap(false, true) {
		return nil
	}
	others := 0
	for _, m := range n.currentView().live {
		if m.Name != n.cfg.Name {
			others++
		}
	}
	if err := n.activations.drain(ctx, n.system); err != nil {
		return err
	}
	if others == 0 {
		return nil
	}
	start := time.Now()
	if err := n.provider.SetLeaving(ctx); err != nil {
		n.log.Warn("announce leaving", "err", err)
	} else if err := n.announceLeaving(ctx); err != nil {
		n.log.Warn("peers did not confirm the departure", "err", err)
	}
	var replErr error
	if n.repl != nil {
		// Replicated grains stay where they are: every copy this node
		// holds goes to the replica set computed without it, so leaving
		// never removes a copy a majority needed.
		replErr = n.repl.repair(ctx, true)
	}
	type job struct{ kind, identity string }
	var jobs []job
	if err := n.store.Grains(func(kind, identity string) error {
		if k, ok := n.kinds[kind]; n.repl != nil && (!ok || !k.Ephemeral) {
			return nil // replicated (above)
		}
		jobs = append(jobs, job{kind, identity})
		return nil
	}); err != nil {
		return errors.Join(replErr, err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		errs  []error
		moved int
		sem   = make(chan struct{}, 8)
	)
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			var err error
			for attempt := 0; attempt < 5; attempt++ {
				var to NodeMeta
				if to, err = n.ownerExcludingLeaving(j.kind, j.identity); err != nil {
					break
				}
				if err = n.transfer(ctx, j.kind, j.identity, to); err == nil || ctx.Err() != nil {
					break
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s/%s: %w", j.kind, j.identity, err))
			} else {
				moved++
			}
		}()
	}
	wg.Wait()
	n.log.Info("grains handed off", "moved", moved, "failed", len(errs), "took", time.Since(start).Round(time.Millisecond))
	return errors.Join(append(errs, replErr)...)
}
