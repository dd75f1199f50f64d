package llm

import (
	"context"
	"sync"

	"google.golang.org/protobuf/proto"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// templateCacheSize bounds the renderings a [templateCache] keeps (each
// is about 160 KB, most of it the lockfile).
const templateCacheSize = 16

// templateCache renders a blueprint's template files as soon as the
// blueprint is made, on a goroutine of its own, so that they are ready
// when phase 1 starts: they are what a user sees stream first, and
// rendering them takes about as long as the session's own steps between
// the blueprint and phase 1 (recording the blueprint, starting the
// phase). A rendering is a pure function of the blueprint, so a cached
// one is what rendering again would give; an entry is keyed by the
// blueprint's deterministic encoding. The zero value is ready to use and
// safe for concurrent use.
type templateCache struct {
	mu      sync.Mutex
	entries map[string]*templateEntry
	order   []string // keys, oldest first
}

type templateEntry struct {
	done  chan struct{} // closed when files and err are set
	files map[string]string
	err   error
}

type renderFunc func(*stichv1.Blueprint) (map[string]string, error)

func templateKey(bp *stichv1.Blueprint) (string, bool) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(bp)
	return string(b), err == nil
}

// start begins rendering bp's template unless it is cached. The
// goroutine renders a copy of bp and ends when the rendering does.
func (c *templateCache) start(bp *stichv1.Blueprint, render renderFunc) {
	key, ok := templateKey(bp)
	if !ok {
		return
	}
	c.mu.Lock()
	if _, ok := c.entries[key]; ok {
		c.mu.Unlock()
		return
	}
	if c.entries == nil {
		c.entries = map[string]*templateEntry{}
	}
	e := &templateEntry{done: make(chan struct{})}
	c.entries[key] = e
	c.order = append(c.order, key)
	if len(c.order) > templateCacheSize {
		delete(c.entries, c.order[0])
		c.order = c.order[1:]
	}
	c.mu.Unlock()
	bp = proto.Clone(bp).(*stichv1.Blueprint)
	go func() {
		defer close(e.done)
		e.files, e.err = render(bp)
	}()
}

// get returns bp's template files: the cached rendering (waiting for it
// if it is in progress), else a new one. The map must not be modified.
func (c *templateCache) get(ctx context.Context, bp *stichv1.Blueprint, render renderFunc) (map[string]string, error) {
	if key, ok := templateKey(bp); ok {
		c.mu.Lock()
		e := c.entries[key]
		c.mu.Unlock()
		if e != nil {
			select {
			case <-e.done:
				if e.err == nil {
					return e.files, nil
				}
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	return render(bp)
}
