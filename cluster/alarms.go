package cluster

import (
	"container/heap"
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// AlarmFunc delivers a due alarm to its grain. It returns nil once the grain
// has handled it; an error makes the scheduler retry with backoff. It runs on
// its own goroutine and may block until ctx is done.
type AlarmFunc func(ctx context.Context, n *Node, a Alarm) error

// alarmScheduler fires persisted alarms at least once. It learns of alarm
// changes through the store's hook, and of the alarms persisted before a
// restart by loading them all at start.
type alarmScheduler struct {
	store *Store
	node  *Node
	fire  AlarmFunc
	log   *slog.Logger
	now   func() time.Time
	// fireOnStart fires alarms persisted before the start at once instead
	// of at their due time.
	fireOnStart bool

	mu      sync.Mutex
	entries map[string]*alarmEntry // by kind\x00identity
	queue   alarmQueue
	wake    chan struct{}
	retries map[string]int
	// version counts changes of each alarm, so that an alarm re-set while
	// it was being delivered (even to the same time) is not deleted.
	version map[string]uint64

	// rescan is signalled when the membership view changes; the loop then
	// arms the alarms of grains whose holder left the view since lastView
	// (takeOver; replica.go, invariant 16).
	rescan   chan struct{}
	lastView *view // owned by the loop

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type alarmEntry struct {
	Alarm            // as persisted
	fireAt time.Time // Due, or later when retrying
	index  int       // in queue; -1 while being delivered
}

type alarmQueue []*alarmEntry

func (q alarmQueue) Len() int           { return len(q) }
func (q alarmQueue) Less(i, j int) bool { return q[i].fireAt.Before(q[j].fireAt) }
func (q alarmQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i]; q[i].index = i; q[j].index = j }
func (q *alarmQueue) Push(x any)        { e := x.(*alarmEntry); e.index = len(*q); *q = append(*q, e) }
func (q *alarmQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	e.index = -1
	return e
}
func alarmID(kind, identity string) string { return kind + "\x00" + identity }

func newAlarmScheduler(n *Node, fire AlarmFunc, log *slog.Logger) *alarmScheduler {
	ctx, cancel := context.WithCancel(context.Background())
	return &alarmScheduler{
		store: n.store, node: n, fire: fire, log: log, now: time.Now,
		entries: map[string]*alarmEntry{}, wake: make(chan struct{}, 1), rescan: make(chan struct{}, 1), retries: map[string]int{}, version: map[string]uint64{},
		ctx: ctx, cancel: cancel,
	}
}

// start loads the persisted alarms, hooks the store and starts the loop.
func (s *alarmScheduler) start() error {
	s.store.alarmMu.Lock()
	s.store.alarmHook = s.changed
	alarms, err := s.store.Alarms()
	s.store.alarmMu.Unlock()
	if err != nil {
		return err
	}
	for _, a := range alarms {
		s.changed(a.Kind, a.Identity, a.Due, true)
		if s.fireOnStart {
			s.mu.Lock()
			if e := s.entries[alarmID(a.Kind, a.Identity)]; e != nil && e.index >= 0 && e.fireAt.After(s.now()) {
				e.fireAt = s.now()
				heap.Fix(&s.queue, e.index)
			}
			s.mu.Unlock()
		}
	}
	s.lastView = s.node.currentView()
	s.wg.Add(1)
	go s.loop()
	return nil
}

// stop ends the loop and waits for deliveries in flight. Idempotent.
func (s *alarmScheduler) stop() {
	s.cancel()
	s.wg.Wait()
}

// armIfUnknown schedules a persisted alarm this scheduler does not know
// yet: one that arrived with a replicated copy of a grain this node now
// owns. With fireNow (AlarmsFireOnStart) it fires at once, as after a
// restart: the grain's previous owner was interrupted.
func (s *alarmScheduler) armIfUnknown(kind, identity string, due time.Time, fireNow bool) {
	id := alarmID(kind, identity)
	s.mu.Lock()
	if _, ok := s.entries[id]; ok {
		s.mu.Unlock()
		return
	}
	s.version[id]++
	e := &alarmEntry{Alarm: Alarm{Kind: kind, Identity: identity, Due: due}, fireAt: due}
	if fireNow {
		e.fireAt = s.now()
	}
	s.entries[id] = e
	heap.Push(&s.queue, e)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// viewChanged tells the loop that a new membership view was installed.
// It never blocks (called from the provider's publishing goroutine).
func (s *alarmScheduler) viewChanged() {
	select {
	case s.rescan <- struct{}{}:
	default:
	}
}

// takeOver arms, on this node, the replicated alarms whose grain's holder
// in the last view it scanned (its owner among live and leaving members)
// is gone from the current one (failed or left): nothing else would fire
// them until someone calls the grain (replica.go, invariant 16). Every
// member holding a copy of the alarm arms it; the delivery is a call, so
// it reaches the grain's new owner, which activates it. With
// AlarmsFireOnStart they fire at once (the holder's work was interrupted),
// else when due.
func (s *alarmScheduler) takeOver() {
	n := s.node
	prev, now := s.lastView, n.currentView()
	s.lastView = now
	if n.repl == nil || prev == nil {
		return
	}
	var lost []string
	for _, m := range prev.all {
		if !slices.ContainsFunc(now.all, func(x NodeMeta) bool { return x.Name == m.Name }) && m.Name != n.cfg.Name {
			lost = append(lost, m.Name)
		}
	}
	if len(lost) == 0 {
		return
	}
	alarms, err := s.store.Alarms()
	if err != nil {
		s.log.Error("list alarms after a member was lost", "lost", lost, "err", err)
		return
	}
	armed := 0
	for _, a := range alarms {
		if k, ok := n.kinds[a.Kind]; !ok || k.Ephemeral {
			continue // not replicated: this node's own alarm, armed already
		}
		holder, ok := lookupFast(a.Kind, a.Identity, prev.all)
		if !ok || !slices.Contains(lost, holder.Name) {
			continue
		}
		fireAt := a.Due
		if s.fireOnStart {
			fireAt = s.now()
		}
		if s.armAt(a, fireAt) {
			armed++
		}
	}
	if armed > 0 {
		s.log.Info("alarms of a lost member armed", "lost", lost, "alarms", armed)
	}
}

// armAt schedules a persisted alarm to fire at fireAt, or earlier if it
// is queued already; an alarm being delivered is left alone. It reports
// whether the alarm is now queued at or before fireAt.
func (s *alarmScheduler) armAt(a Alarm, fireAt time.Time) bool {
	id := alarmID(a.Kind, a.Identity)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.entries[id]; ok {
		if e.index < 0 {
			return false // in flight
		}
		if fireAt.Before(e.fireAt) {
			e.fireAt = fireAt
			heap.Fix(&s.queue, e.index)
		}
		return true
	}
	s.version[id]++
	e := &alarmEntry{Alarm: a, fireAt: fireAt}
	s.entries[id] = e
	heap.Push(&s.queue, e)
	return true
}

// changed is the store's hook: called with the store's alarmMu held.
func (s *alarmScheduler) changed(kind, identity string, due time.Time, set bool) {
	id := alarmID(kind, identity)
	s.mu.Lock()
	s.version[id]++
	if !set {
		delete(s.version, id)
	}
	if e, ok := s.entries[id]; ok {
		if e.index >= 0 {
			heap.Remove(&s.queue, e.index)
		}
		delete(s.entries, id)
	}
	if set {
		e := &alarmEntry{Alarm: Alarm{Kind: kind, Identity: identity, Due: due}, fireAt: due}
		s.entries[id] = e
		heap.Push(&s.queue, e)
	} else {
		delete(s.retries, id)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *alarmScheduler) loop() {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		type delivery struct {
			a       Alarm
			version uint64
		}
		var due []delivery
		now := s.now()
		for s.queue.Len() > 0 && !s.queue[0].fireAt.After(now) {
			e := heap.Pop(&s.queue).(*alarmEntry) // stays in entries (index -1) while in flight
			due = append(due, delivery{e.Alarm, s.version[alarmID(e.Kind, e.Identity)]})
		}
		wait := time.Hour
		if s.queue.Len() > 0 {
			wait = s.queue[0].fireAt.Sub(now)
		}
		s.mu.Unlock()
		for _, d := range due {
			s.wg.Add(1)
			go s.deliver(d.a, d.version)
		}
		timer.Reset(wait)
		select {
		case <-s.ctx.Done():
			return
		case <-s.wake:
		case <-s.rescan:
			s.takeOver()
		case <-timer.C:
		}
	}
}

// deliver fires one alarm. On success the alarm is deleted unless the grain
// replaced it meanwhile; on failure it is re-queued with capped backoff.
func (s *alarmScheduler) versionOf(kind, identity string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version[alarmID(kind, identity)]
}

func (s *alarmScheduler) deliver(a Alarm, version uint64) {
	defer s.wg.Done()
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	err := s.fire(ctx, s.node, a)
	cancel()
	id := alarmID(a.Kind, a.Identity)
	if err == nil {
		unchanged := func() bool { return s.versionOf(a.Kind, a.Identity) == version }
		if !s.node.mayDeleteAlarm(a.Kind, a.Identity) {
			unchanged = func() bool { return false }
		}
		if _, derr := s.store.deleteAlarmIf(a.Kind, a.Identity, a.Due, unchanged); derr != nil {
			s.log.Error("alarm delete failed", "kind", a.Kind, "identity", a.Identity, "err", derr)
		}
		s.mu.Lock()
		delete(s.retries, id)
		if e, ok := s.entries[id]; ok && e.index < 0 && e.Due.Equal(a.Due) {
			delete(s.entries, id)
		}
		s.mu.Unlock()
		return
	}
	if s.ctx.Err() != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[id]
	if !ok || e.index >= 0 || !e.Due.Equal(a.Due) {
		return // replaced or deleted meanwhile
	}
	n := s.retries[id]
	s.retries[id] = n + 1
	backoff := min(25*time.Millisecond<<min(n, 11), 30*time.Second) // 25 ms, 50 ms, ...: a failover retries soon
	s.log.Warn("alarm delivery failed; retrying", "kind", a.Kind, "identity", a.Identity, "retry_in", backoff, "err", err)
	e.fireAt = s.now().Add(backoff)
	heap.Push(&s.queue, e)
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
