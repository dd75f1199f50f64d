package actors

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stichdev/stich/audit"
	"github.com/stichdev/stich/cluster"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// KindAudit is the audit log grain kind: one log per user (identity: the
// user id) and one for the whole cluster (identity [AuditCluster]), each
// bounded by package audit's rules. Only AppendAudit creates one.
//
// NB: the cluster log is one grain: every security event of the cluster
// is one more entry in it. Events reach it in batches (see
// [Runtime.Audit]), so a flood costs a write per batch, not per event.
const KindAudit = "audit"

// AuditCluster is the identity of the cluster-wide audit log (not a
// possible user id: those start with a letter or digit).
const AuditCluster = "~cluster"

const prefixAuditEvent = "e/" // e/<seq, 20 digits> -> AuditEvent

type auditGrain struct {
	rt     *Runtime
	ref    *cluster.GrainRef
	max    int
	log    []*actorsv1.AuditEvent // oldest first
	loaded bool
}

func newAuditGrain(rt *Runtime, ref *cluster.GrainRef) *auditGrain {
	max := audit.UserLogMax
	if ref.Identity == AuditCluster {
		max = audit.ClusterLogMax
	}
	return &auditGrain{rt: rt, ref: ref, max: max}
}

func auditKey(seq uint64) string { return fmt.Sprintf("%s%020d", prefixAuditEvent, seq) }

func (g *auditGrain) Receive(ctx actor.Context) {
	receiveStored(ctx, g.ref, g.rt.log, "the audit log", g)
}

func (g *auditGrain) load() error {
	if g.loaded {
		return nil
	}
	var log []*actorsv1.AuditEvent
	err := g.ref.Store.List(prefixAuditEvent, "", 0, func(key string, v []byte) error {
		e := &actorsv1.AuditEvent{}
		if err := proto.Unmarshal(v, e); err != nil {
			return fmt.Errorf("actors: decode audit event %s: %w", key, err)
		}
		log = append(log, e)
		return nil
	})
	if err != nil {
		return err
	}
	g.log, g.loaded = log, true
	return nil
}

func (g *auditGrain) handle(msg proto.Message) proto.Message {
	switch m := msg.(type) {
	case *actorsv1.AppendAudit:
		if len(m.GetEvents()) == 0 {
			return &actorsv1.AppendAuditReply{}
		}
		next, put, del := audit.Append(g.log, m.GetEvents(), g.rt.cfg.Now(), g.max)
		b := g.ref.Store.NewBatch()
		defer b.Close()
		for _, seq := range del {
			b.Delete(auditKey(seq))
		}
		for _, e := range put {
			v, err := proto.Marshal(e)
			if err != nil {
				return grainErr(actorsv1.ErrorCode_ERROR_CODE_INTERNAL, "encode audit event: %v", err)
			}
			b.Put(auditKey(e.GetSeq()), v)
		}
		if err := b.Commit(); err != nil {
			return writeErr("append audit events", err)
		}
		g.log = next
		return &actorsv1.AppendAuditReply{}
	case *actorsv1.ListAudit:
		f := audit.Filter{Kinds: m.GetKinds(), UserID: m.GetUserId(), Email: m.GetEmail()}
		events, next := audit.Page(g.log, f, m.GetBeforeSeq(), int(m.GetLimit()))
		return &actorsv1.ListAuditReply{Events: events, NextBeforeSeq: next}
	}
	return grainErr(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "audit grain does not handle %T", msg)
}

// ListAudit reads a page of the audit log id (a user id or
// [AuditCluster]); a log that was never written is empty.
func ListAudit(ctx context.Context, n *cluster.Node, id string, req *actorsv1.ListAudit) (*actorsv1.ListAuditReply, error) {
	r, err := Call[*actorsv1.ListAuditReply](ctx, n, KindAudit, id, req)
	if IsNotFound(err) {
		return &actorsv1.ListAuditReply{}, nil
	}
	return r, err
}

// Recording. Security events are recorded off the request's path: Audit
// queues the event (it never blocks), and one worker per node sends the
// queued events in batches to the user's log and to the cluster log.
//
//  1. The queue holds [auditQueue] events; past that, events are counted
//     as dropped (and logged), and the count is recorded as one event of
//     its own once there is room again: a flood cannot stall requests.
//  2. A batch that cannot be stored is retried [auditTries] times, then
//     dropped and logged.
//  3. Events still queued at Shutdown are written first, within the
//     shutdown's deadline; a crash loses the queued ones (at most a batch
//     interval's worth): the audit log is durable once written, not
//     before.
const (
	auditQueue   = 4096
	auditBatch   = 256
	auditTries   = 3
	auditTimeout = 10 * time.Second
	// auditShutdown bounds writing the queue at Shutdown.
	auditShutdown = 5 * time.Second
)

// auditRecorder is a node's queue of security events (see above).
type auditRecorder struct {
	rt      *Runtime
	ch      chan auditItem
	mu      sync.Mutex
	dropped int
	closed  bool
	done    chan struct{} // closed when the worker has returned
	stop    chan struct{} // closed by close: drain and return
	cancel  context.CancelFunc
}

// auditItem is an event, or a flush marker (done set).
type auditItem struct {
	ev   *actorsv1.AuditEvent
	done chan struct{}
}

// startAuditRecorder starts rt's recorder and its worker.
func startAuditRecorder(rt *Runtime) *auditRecorder {
	r := &auditRecorder{rt: rt, ch: make(chan auditItem, auditQueue), done: make(chan struct{}), stop: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go r.run(ctx)
	return r
}

// Audit records a security event (see package audit for the kinds; set
// Kind, UserId when the event concerns an account, Client, Method, Detail;
// At defaults to now). It never blocks; the event is durable shortly after
// (see [Runtime.FlushAudit]).
func (rt *Runtime) Audit(ev *actorsv1.AuditEvent) {
	r := rt.audit
	if ev.GetAt() == nil {
		ev = proto.Clone(ev).(*actorsv1.AuditEvent)
		ev.At = timestampNow(rt)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		rt.log.Warn("audit event after shutdown, not recorded", "kind", ev.GetKind(), "user", ev.GetUserId())
		return
	}
	select {
	case r.ch <- auditItem{ev: ev}:
	default:
		r.dropped++
		if r.dropped == 1 || r.dropped%1000 == 0 {
			rt.log.Warn("audit queue full: events dropped", "dropped", r.dropped, "kind", ev.GetKind())
		}
	}
}

// FlushAudit waits until every event queued before the call has been
// written (or given up on), or ctx ends.
func (rt *Runtime) FlushAudit(ctx context.Context) error {
	r := rt.audit
	done := make(chan struct{})
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return errors.New("actors: audit recorder stopped")
	}
	r.mu.Unlock()
	select {
	case r.ch <- auditItem{done: done}:
	case <-r.stop:
		return errors.New("actors: audit recorder stopped")
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-r.done:
		return errors.New("actors: audit recorder stopped")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run is the worker: it takes what is queued, up to a batch, and writes it.
func (r *auditRecorder) run(ctx context.Context) {
	defer close(r.done)
	for {
		var first auditItem
		select {
		case first = <-r.ch:
		case <-r.stop:
			r.drain(ctx)
			return
		}
		batch := []auditItem{first}
	fill:
		for len(batch) < auditBatch {
			select {
			case it := <-r.ch:
				batch = append(batch, it)
			default:
				break fill
			}
		}
		r.write(ctx, batch)
	}
}

// drain writes what is left in the queue at shutdown.
func (r *auditRecorder) drain(ctx context.Context) {
	for {
		var batch []auditItem
	fill:
		for len(batch) < auditBatch {
			select {
			case it := <-r.ch:
				batch = append(batch, it)
			default:
				break fill
			}
		}
		if len(batch) == 0 {
			return
		}
		r.write(ctx, batch)
	}
}

// write stores a batch: per user log, then the cluster log; flush markers
// are released after the events before them.
func (r *auditRecorder) write(ctx context.Context, batch []auditItem) {
	var all []*actorsv1.AuditEvent
	byUser := map[string][]*actorsv1.AuditEvent{}
	var users []string
	var markers []chan struct{}
	for _, it := range batch {
		if it.done != nil {
			markers = append(markers, it.done)
			continue
		}
		all = append(all, it.ev)
		if u := it.ev.GetUserId(); u != "" {
			if _, ok := byUser[u]; !ok {
				users = append(users, u)
			}
			byUser[u] = append(byUser[u], it.ev)
		}
	}
	r.mu.Lock()
	if n := r.dropped; n > 0 {
		r.dropped = 0
		all = append(all, &actorsv1.AuditEvent{Kind: "audit_dropped", At: timestampNow(r.rt),
			Detail: strconv.Itoa(n) + " events were dropped: the node's audit queue was full"})
	}
	r.mu.Unlock()
	for _, u := range users {
		r.send(ctx, u, byUser[u])
	}
	r.send(ctx, AuditCluster, all)
	for _, m := range markers {
		close(m)
	}
}

func (r *auditRecorder) send(ctx context.Context, id string, events []*actorsv1.AuditEvent) {
	if len(events) == 0 {
		return
	}
	var err error
	for try := 0; try < auditTries && ctx.Err() == nil; try++ {
		cctx, cancel := context.WithTimeout(ctx, auditTimeout)
		_, err = Call[*actorsv1.AppendAuditReply](cctx, r.rt.Node, KindAudit, id, &actorsv1.AppendAudit{Events: events})
		cancel()
		if err == nil {
			return
		}
	}
	r.rt.log.Error("audit events not recorded", "log", id, "events", len(events), "err", err)
}

// close stops the worker after it has written what is queued, or cuts
// its writes short when ctx ends first; either way the worker has
// returned when close does. Idempotent.
func (r *auditRecorder) close(ctx context.Context) {
	r.mu.Lock()
	first := !r.closed
	r.closed = true
	r.mu.Unlock()
	if first {
		close(r.stop)
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		r.cancel()
		<-r.done
	}
	r.cancel()
}

func timestampNow(rt *Runtime) *timestamppb.Timestamp { return timestamppb.New(rt.cfg.Now()) }
