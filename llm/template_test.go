package llm

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"google.golang.org/protobuf/proto"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

func TestTemplateCache(t *testing.T) {
	var calls atomic.Int32
	render := func(bp *stichv1.Blueprint) (map[string]string, error) {
		calls.Add(1)
		if bp.GetTitle() == "fails" {
			return nil, errors.New("no template")
		}
		return map[string]string{"package.json": bp.GetTitle()}, nil
	}
	var c templateCache
	ctx := context.Background()
	bp := &stichv1.Blueprint{Title: "A", Roadmap: []*stichv1.PhasePlan{{Name: "one"}}}
	c.start(bp, render)
	c.start(bp, render) // already started
	got, err := c.get(ctx, proto.Clone(bp).(*stichv1.Blueprint), render)
	if err != nil || got["package.json"] != "A" || calls.Load() != 1 {
		t.Fatalf("got %v %v after %d renderings, want one", got, err, calls.Load())
	}
	// A blueprint that differs in anything is rendered anew.
	other := proto.Clone(bp).(*stichv1.Blueprint)
	other.Roadmap[0].Name = "two"
	if _, err := c.get(ctx, other, render); err != nil || calls.Load() != 2 {
		t.Fatalf("a changed blueprint was served from the cache: %v, %d renderings", err, calls.Load())
	}
	// A failed rendering is retried by get, and its error returned.
	bad := &stichv1.Blueprint{Title: "fails"}
	c.start(bad, render)
	if _, err := c.get(ctx, bad, render); err == nil || calls.Load() != 4 {
		t.Fatalf("failed rendering: %v, %d renderings", err, calls.Load())
	}
	// The cache is bounded.
	for i := range 2 * templateCacheSize {
		c.start(&stichv1.Blueprint{Title: fmt.Sprint(i)}, render)
	}
	c.mu.Lock()
	n, m := len(c.entries), len(c.order)
	c.mu.Unlock()
	if n != templateCacheSize || m != templateCacheSize {
		t.Fatalf("%d entries, %d keys; want %d", n, m, templateCacheSize)
	}
	// get gives up when its context ends while waiting.
	block := make(chan struct{})
	defer close(block)
	slow := &stichv1.Blueprint{Title: "slow"}
	c.start(slow, func(*stichv1.Blueprint) (map[string]string, error) { <-block; return nil, nil })
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.get(cctx, slow, render); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
}
