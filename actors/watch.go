package actors

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/stichdev/stich/pipeline"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// watchBuffer is how many live events a watcher may fall behind before it
// switches to reading the durable log.
var watchBuffer = 1024

// watchRefresh is how often a watcher re-registers with the session grain,
// which also catches up after a grain restart lost its subscriber list (a
// variable for tests).
var watchRefresh = 5 * time.Second

// watchTail is how many logged events a watcher's subscribe asks for in
// its reply (the rest is read page by page).
const watchTail = 64

// Watch sends the session's events with seq > afterSeq to send, in order,
// each exactly once: first from the durable log, then live. With untilIdle
// it returns after the event that ends the work in progress (completed,
// stopped or failed), or after the replay if the session is idle already.
// Otherwise it follows until ctx is done, and then returns nil. The
// session grain checks caller on every subscription and log read (the
// node's shared subscription is renewed as each watcher's caller).
//
// When compaction removed events after afterSeq (file chunks of files
// stored in a version: actors/compact.go), Watch first sends a
// LogCompacted event (seq 0) naming the range in which seqs may be
// missing, and then the remaining events in order; the seqs it skips are
// those compaction removed.
func (rt *Runtime) Watch(ctx context.Context, caller *actorsv1.Caller, sessionID string, afterSeq uint64, untilIdle bool, send func(*stichv1.SessionEvent) error) error {
	w, hubSub := rt.hubs.join(rt, sessionID)
	defer rt.hubs.leave(rt, sessionID, w)
	sub := &actorsv1.Subscribe{SubscriberAddress: hubSub.GetSubscriberAddress(), SubscriberId: hubSub.GetSubscriberId(), Caller: caller}

	// owner is the session's owner in this node's view when the hub last
	// subscribed: when a new view marks it failed, the watcher subscribes
	// again at once, on the new owner, instead of waiting for the refresh
	// (replica.go, invariant 17). A subscribe in flight to a failed owner
	// is re-routed by the cluster (reads move on at once).
	var owner string
	// next is the seq of the next event to send. A subscribe asks for the
	// log after it in its reply (tail), so that a re-subscribe after a
	// failover needs no separate log read before the next event.
	next := afterSeq + 1
	subscribe := func() (*actorsv1.SubscribeReply, error) {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		owner, _ = rt.Node.Owner(KindSession, sessionID)
		s := proto.Clone(sub).(*actorsv1.Subscribe)
		s.TailLimit, s.TailAfterSeq = watchTail, next-1
		return Call[*actorsv1.SubscribeReply](cctx, rt.Node, KindSession, sessionID, s)
	}
	viewChanged := rt.Node.ViewChanged() // before the first subscribe: no change is missed
	reply, err := subscribe()
	if err != nil {
		return err
	}
	notices, lagged := w.events, w.lagged
	if afterSeq > reply.GetLastSeq() {
		return &Error{Code: actorsv1.ErrorCode_ERROR_CODE_OUT_OF_RANGE,
			Message: fmt.Sprintf("after_seq %d is beyond the last event %d of session %s", afterSeq, reply.GetLastSeq(), sessionID)}
	}

	done := false
	// gapsTo is the end of the compacted range announced: up to it, the
	// log may skip seqs.
	var gapsTo uint64
	// Only the end of the work in progress ends an until-idle watch: the
	// log's earlier completions (a generation before a refinement) are
	// history, replayed like any other event.
	idle := !pipeline.Active(reply.GetPhase())
	workFrom := reply.GetLastSeq()
	deliver := func(ev *stichv1.SessionEvent) error {
		if err := send(ev); err != nil {
			return err
		}
		next = ev.GetSeq() + 1
		if untilIdle && !idle && ev.GetSeq() > workFrom && EndsWork(ev) {
			done = true
		}
		return nil
	}
	var catchUp func(upTo uint64) error
	// deliverTail sends the events of a subscribe reply's tail that are
	// next in order.
	deliverTail := func(r *actorsv1.SubscribeReply) error {
		for _, ev := range r.GetTail() {
			if ev.GetSeq() != next || done {
				continue
			}
			if err := deliver(ev); err != nil {
				return err
			}
		}
		return nil
	}
	// resubscribe subscribes again and catches up to the reply's last seq.
	resubscribe := func() error {
		r, err := subscribe()
		if err != nil {
			return err
		}
		if err := deliverTail(r); err != nil {
			return err
		}
		return catchUp(r.GetLastSeq())
	}
	// catchUp reads the log until it has delivered every event up to upTo.
	catchUp = func(upTo uint64) error {
		for next <= upTo && !done {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			page, err := Call[*actorsv1.ReadLogReply](cctx, rt.Node, KindSession, sessionID, &actorsv1.ReadLog{AfterSeq: next - 1, Limit: defaultLogPage, Caller: caller})
			cancel()
			if err != nil {
				return err
			}
			if c := page.GetCompacted(); c != nil && c.GetToSeq() > gapsTo && c.GetToSeq() >= next {
				notice := &stichv1.SessionEvent{Event: &stichv1.SessionEvent_LogCompacted{LogCompacted: c}}
				if err := send(notice); err != nil {
					return err
				}
				gapsTo = c.GetToSeq()
			}
			if len(page.GetEvents()) == 0 {
				return nil
			}
			for _, ev := range page.GetEvents() {
				if ev.GetSeq() != next && (ev.GetSeq() < next || ev.GetSeq()-1 > gapsTo) {
					continue
				}
				if err := deliver(ev); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := deliverTail(reply); err != nil {
		return err
	}
	if err := catchUp(reply.GetLastSeq()); err != nil {
		return err
	}
	if untilIdle && idle {
		return nil
	}
	refresh := time.NewTicker(watchRefresh)
	defer refresh.Stop()
	// ended is nil for a call cut by the end of ctx (a watcher that
	// stops following, maybe from inside send): the watch ends as
	// documented, not with the call's "context canceled".
	ended := func(err error) error {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	for !done {
		if ctx.Err() != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-viewChanged:
			viewChanged = rt.Node.ViewChanged()
			if o, _ := rt.Node.Owner(KindSession, sessionID); o == owner || !rt.Node.MemberFailed(owner) {
				continue // a leaving owner tells its watchers when it stops the session
			}
			if err := resubscribe(); err != nil {
				return ended(err)
			}
		case ev := <-notices:
			if ev.GetSeq() < next {
				continue // already delivered from the log
			}
			if ev.GetSeq() > next {
				if err := catchUp(ev.GetSeq() - 1); err != nil {
					return ended(err)
				}
			}
			if ev.GetSeq() == next && !done {
				if err := deliver(ev); err != nil {
					return err
				}
			}
		case <-lagged:
			if err := resubscribe(); err != nil {
				return ended(err)
			}
		case <-refresh.C:
			if err := resubscribe(); err != nil {
				return ended(err)
			}
		}
	}
	return nil
}

// EndsWork reports whether ev is the last event of a piece of work: the
// session is idle after it (completed, stopped or failed).
func EndsWork(ev *stichv1.SessionEvent) bool {
	switch e := ev.GetEvent().(type) {
	case *stichv1.SessionEvent_Completed:
		return true
	case *stichv1.SessionEvent_PhaseChanged:
		p := e.PhaseChanged.GetPhase()
		return p == stichv1.Phase_PHASE_STOPPED || p == stichv1.Phase_PHASE_FAILED
	}
	return false
}

// hubs multiplexes the watchers of a session on this node onto one
// subscriber actor, so the session grain sends each event once per node,
// not once per watcher.
type hubs struct {
	mu       sync.Mutex
	sessions map[string]*hub
}

// hub is the node-local fan-out of one session's live events.
type hub struct {
	pid      *actor.PID
	sub      *actorsv1.Subscribe
	mu       sync.Mutex
	watchers map[*watcher]struct{}
}

// watcher is one Watch call's buffer of live events.
type watcher struct {
	events chan *stichv1.SessionEvent
	lagged chan struct{}
}

func (h *hub) deliver(ev *stichv1.SessionEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.watchers {
		select {
		case w.events <- ev:
		default:
			select { // dropped: the watcher catches up from the log
			case w.lagged <- struct{}{}:
			default:
			}
		}
	}
}

// lagAll makes every watcher re-subscribe and catch up from the log.
func (h *hub) lagAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.watchers {
		select {
		case w.lagged <- struct{}{}:
		default:
		}
	}
}

// join registers a watcher of sessionID, starting the session's hub on this
// node if needed, and returns the Subscribe message that registers the hub
// with the grain (idempotent).
func (hs *hubs) join(rt *Runtime, sessionID string) (*watcher, *actorsv1.Subscribe) {
	w := &watcher{events: make(chan *stichv1.SessionEvent, watchBuffer), lagged: make(chan struct{}, 1)}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.sessions == nil {
		hs.sessions = map[string]*hub{}
	}
	h := hs.sessions[sessionID]
	if h == nil {
		h = &hub{watchers: map[*watcher]struct{}{}}
		h.pid = rt.Node.System().Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
			switch m := c.Message().(type) {
			case *actorsv1.EventNotice:
				h.deliver(m.GetEvent())
			case *actorsv1.WatchMoved:
				h.lagAll()
			}
		}))
		h.sub = &actorsv1.Subscribe{SubscriberAddress: h.pid.GetAddress(), SubscriberId: h.pid.GetId()}
		hs.sessions[sessionID] = h
	}
	h.mu.Lock()
	h.watchers[w] = struct{}{}
	h.mu.Unlock()
	return w, h.sub
}

// leave removes a watcher; the last one out unsubscribes the hub and stops it.
func (hs *hubs) leave(rt *Runtime, sessionID string, w *watcher) {
	hs.mu.Lock()
	h := hs.sessions[sessionID]
	if h == nil {
		hs.mu.Unlock()
		return
	}
	h.mu.Lock()
	delete(h.watchers, w)
	empty := len(h.watchers) == 0
	h.mu.Unlock()
	if empty {
		delete(hs.sessions, sessionID)
	}
	hs.mu.Unlock()
	if !empty {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _ = Call[*actorsv1.UnsubscribeReply](ctx, rt.Node, KindSession, sessionID,
		&actorsv1.Unsubscribe{SubscriberAddress: h.sub.SubscriberAddress, SubscriberId: h.sub.SubscriberId, Caller: NodeCaller()})
	rt.Node.System().Root.Stop(h.pid)
}
