package actors

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stichdev/stich/cluster"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	"github.com/stichdev/stich/ratelimit"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestRateLimitGrainIsDurableAndForgets(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	start := func() *Runtime {
		cfg := cluster.DefaultLocalConfig()
		cfg.Name, cfg.DataDir = "rl", dir
		rt, err := Start(context.Background(), Config{Cluster: cfg, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		return rt
	}
	rule := ratelimit.Rule{Limit: 2, Window: time.Minute}.Proto()
	check := func(rt *Runtime) *actorsv1.RateLimitReply {
		r, err := Call[*actorsv1.RateLimitReply](ctxT(t), rt.Node, KindRateLimit, "create:ip:192.0.2.1", &actorsv1.RateLimitCheck{Rule: rule, Cost: 1})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	rt := start()
	if !check(rt).GetAllowed() || !check(rt).GetAllowed() {
		t.Fatal("first two refused")
	}
	if err := rt.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	rt = start() // counts survive a restart
	defer rt.Shutdown(context.Background())
	r := check(rt)
	if r.GetAllowed() || r.GetRetryAfterMs() != 60_000 || r.GetLimitedBy() != "window" {
		t.Fatalf("third: %v", r)
	}
	_, err := Call[*actorsv1.RateLimitReply](ctxT(t), rt.Node, KindRateLimit, "k", &actorsv1.RateLimitCheck{Rule: &actorsv1.RateLimitRule{Limit: 1, WindowSeconds: 7}})
	var ae *Error
	if !errors.As(err, &ae) || ae.Code != actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT {
		t.Fatalf("bad rule: %v", err)
	}

	gs, _ := rt.Node.Store().Grain(KindRateLimit, "create:ip:192.0.2.1")
	if _, ok, _ := gs.Alarm(); !ok {
		t.Fatal("bucket has no cleanup alarm")
	}
	clock.Add(26 * time.Hour)
	if _, err := Call[*actorsv1.AlarmAck](ctxT(t), rt.Node, KindRateLimit, "create:ip:192.0.2.1", &actorsv1.AlarmFired{}); err != nil {
		t.Fatal(err)
	}
	if _, err := gs.Get(keyBucket); !errors.Is(err, cluster.ErrNotFound) {
		t.Fatalf("expired bucket kept: %v", err)
	}
}
