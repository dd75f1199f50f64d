package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/stichdev/stich/internal/testutil"
)

// counter is a test grain: it counts calls durably and passivates when idle.
type counter struct {
	ref   *GrainRef
	count int
	idle  time.Duration
	// loads is shared by every activation, to count state loads.
	loads *sync.Map
}

type incr struct{}
type getCount struct{}

func (c *counter) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		v, err := c.ref.Store.Get("count")
		if err == nil {
			fmt.Sscan(string(v), &c.count)
		}
		n, _ := c.loads.LoadOrStore(c.ref.Identity, new(int))
		*(n.(*int))++
		if c.idle > 0 {
			ctx.SetReceiveTimeout(c.idle)
		}
	case *incr:
		c.count++
		if err := c.ref.Store.Put("count", []byte(fmt.Sprint(c.count))); err != nil {
			ctx.Respond(err)
			return
		}
		ctx.Respond(c.count)
	case *getCount:
		ctx.Respond(c.count)
	case *actor.ReceiveTimeout:
		c.ref.Passivate(ctx)
	case string: // alarm delivery in tests
		ctx.Respond(c.count)
	}
}

func startTestNode(t *testing.T, dir string, idle time.Duration, onAlarm AlarmFunc) (*Node, *sync.Map) {
	t.Helper()
	cfg := DefaultLocalConfig()
	cfg.Name = "test"
	if dir == "" {
		cfg.InMemory = true
	} else {
		cfg.DataDir = dir
	}
	cfg.OnAlarm = onAlarm
	loads := &sync.Map{}
	n, err := Start(context.Background(), cfg, []Kind{{Name: "counter", New: func(ref *GrainRef) actor.Actor {
		return &counter{ref: ref, idle: idle, loads: loads}
	}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown(context.Background()) })
	return n, loads
}

func call(t *testing.T, n *Node, id string, msg any) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // generous: a loaded machine
	defer cancel()
	res, err := n.Request(ctx, "counter", id, msg)
	if err != nil {
		t.Fatal(err)
	}
	v, ok := res.(int)
	if !ok {
		t.Fatalf("reply %T %v", res, res)
	}
	return v
}

var waitFor = testutil.WaitFor

func TestNodeRequestPassivateRestore(t *testing.T) {
	n, loads := startTestNode(t, "", 50*time.Millisecond, nil)
	if got := call(t, n, "a", &incr{}); got != 1 {
		t.Fatalf("first incr = %d", got)
	}
	if got := call(t, n, "a", &incr{}); got != 2 {
		t.Fatalf("second incr = %d", got)
	}
	waitFor(t, time.Minute, func() error {
		if c := n.GrainCounts()["counter"]; c != 0 {
			return fmt.Errorf("%d live activations", c)
		}
		return nil
	})
	if got := call(t, n, "a", &getCount{}); got != 2 {
		t.Fatalf("count after passivation = %d, want 2 (state restored)", got)
	}
	v, _ := loads.Load("a")
	if l := *(v.(*int)); l != 2 {
		t.Fatalf("state loads = %d, want 2", l)
	}
}

func TestNodeConcurrentCallsOneActivation(t *testing.T) {
	n, loads := startTestNode(t, "", time.Millisecond, nil)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if _, err := n.Request(ctx, "counter", "hot", &incr{}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// Passivation races with the calls above; no increment may be lost.
	if got := call(t, n, "hot", &getCount{}); got != 50 {
		t.Fatalf("count = %d, want 50", got)
	}
	if _, ok := loads.Load("hot"); !ok {
		t.Fatal("never loaded")
	}
}

func TestNodeErrors(t *testing.T) {
	n, _ := startTestNode(t, "", time.Minute, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := n.Request(ctx, "nope", "a", &incr{}); !errors.Is(err, ErrUnknownKind) {
		t.Fatalf("unknown kind: %v", err)
	}
	if _, err := n.Request(ctx, "counter", "bad\x00id", &incr{}); !errors.Is(err, ErrBadName) {
		t.Fatalf("bad identity: %v", err)
	}
	expired, cancel2 := context.WithTimeout(context.Background(), -time.Second)
	defer cancel2()
	if _, err := n.Request(expired, "counter", "a", &incr{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("expired ctx: %v", err)
	}
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatal("second shutdown:", err)
	}
}

func TestAlarmFiresAfterRestart(t *testing.T) {
	dir := t.TempDir()
	fired := make(chan Alarm, 10)
	onAlarm := func(ctx context.Context, _ *Node, a Alarm) error {
		fired <- a
		return nil
	}
	n, _ := startTestNode(t, dir, time.Minute, onAlarm)
	gs, err := n.Store().Grain("counter", "sleepy")
	if err != nil {
		t.Fatal(err)
	}
	due := time.Now().Add(time.Hour)
	if err := gs.SetAlarm(due); err != nil {
		t.Fatal(err)
	}
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-fired:
		t.Fatalf("alarm fired early: %v", a)
	default:
	}

	// Restart with the alarm moved into the past: it must fire once, then
	// be deleted because the handler succeeded.
	s, err := OpenStore(dir, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g2, _ := s.Grain("counter", "sleepy")
	past := time.Now().Add(-time.Second)
	if err := g2.SetAlarm(past); err != nil {
		t.Fatal(err)
	}
	s.Close()
	n2, _ := startTestNode(t, dir, time.Minute, onAlarm)
	select {
	case a := <-fired:
		if a.Kind != "counter" || a.Identity != "sleepy" || !a.Due.Equal(past) {
			t.Fatalf("fired %+v", a)
		}
	case <-time.After(time.Minute):
		t.Fatal("alarm did not fire after restart")
	}
	g3, _ := n2.Store().Grain("counter", "sleepy")
	waitFor(t, time.Minute, func() error {
		if _, ok, _ := g3.Alarm(); ok {
			return errors.New("alarm still persisted")
		}
		return nil
	})
}

func TestAlarmRetriesUntilHandled(t *testing.T) {
	var mu sync.Mutex
	attempts := 0
	onAlarm := func(ctx context.Context, _ *Node, a Alarm) error {
		mu.Lock()
		defer mu.Unlock()
		attempts++
		if attempts < 3 {
			return errors.New("grain busy")
		}
		return nil
	}
	n, _ := startTestNode(t, "", time.Minute, onAlarm)
	gs, _ := n.Store().Grain("counter", "retry")
	if err := gs.SetAlarm(time.Now()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, func() error {
		if _, ok, _ := gs.Alarm(); ok {
			return errors.New("alarm still persisted")
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if attempts != 3 {
		t.Fatalf("attempts = %d, want 3", attempts)
	}
}
