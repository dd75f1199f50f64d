package runcheck

import (
	"context"
	"encoding/json"
	"sync"
	"time"
)

// tab is a page made ready before a check needs it: a browser context of
// its own, a target on about:blank, attached, with the Fetch and Page
// domains on and the viewport set. Making one costs a renderer process
// and its first load, most of a check's time on a cold page; the Checker
// keeps one spare page ready so that a check starts at navigation.
type tab struct {
	br                 *browser
	context, target, s string
	stop               func()

	mu      sync.Mutex
	loaded  bool                  // the load event of the checked document
	handle  func(json.RawMessage) // serves a paused request; nil before the check claims the page
	serving sync.WaitGroup
}

// newPage makes a page ready in br.
func newPage(ctx context.Context, br *browser) (*tab, error) {
	p := &tab{br: br}
	var bc struct {
		BrowserContextID string `json:"browserContextId"`
	}
	if err := br.call(ctx, "", "Target.createBrowserContext", map[string]any{"disposeOnDetach": true}, &bc); err != nil {
		return nil, err
	}
	p.context = bc.BrowserContextID
	var tg struct {
		TargetID string `json:"targetId"`
	}
	if err := br.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank", "browserContextId": p.context,
		"width": viewportWidth, "height": viewportHeight}, &tg); err != nil {
		p.close()
		return nil, err
	}
	var at struct {
		SessionID string `json:"sessionId"`
	}
	if err := br.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": tg.TargetID, "flatten": true}, &at); err != nil {
		p.close()
		return nil, err
	}
	p.target, p.s = tg.TargetID, at.SessionID
	p.stop = br.listen(p.s, p.event)
	for _, step := range []struct {
		method string
		params any
	}{
		{"Fetch.enable", map[string]any{"patterns": []map[string]any{{"urlPattern": "*", "requestStage": "Request"}}}},
		{"Page.enable", struct{}{}},
		{"Emulation.setDeviceMetricsOverride", map[string]any{"width": viewportWidth, "height": viewportHeight, "deviceScaleFactor": 1, "mobile": false}},
	} {
		if err := br.call(ctx, p.s, step.method, step.params, nil); err != nil {
			p.close()
			return nil, err
		}
	}
	return p, nil
}

// event handles the page's events; it runs on the browser's reader and
// must not block.
func (p *tab) event(m message) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch m.Method {
	case "Page.loadEventFired":
		if p.handle != nil {
			p.loaded = true
		}
	case "Fetch.requestPaused":
		h := p.handle
		if h == nil {
			// Not claimed yet: nothing of a check's should ask anything.
			h = func(json.RawMessage) {}
		}
		p.serving.Add(1)
		go func() {
			defer p.serving.Done()
			h(m.Params)
		}()
	}
}

// claim makes the page serve requests with h from now on.
func (p *tab) claim(h func(json.RawMessage)) {
	p.mu.Lock()
	p.handle, p.loaded = h, false
	p.mu.Unlock()
}

func (p *tab) isLoaded() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.loaded
}

// call sends a command to the page.
func (p *tab) call(ctx context.Context, method string, params, out any) error {
	return p.br.call(ctx, p.s, method, params, out)
}

// close stops the page's events, waits for requests being served, and
// disposes its browser context (which ends its renderer, even a hung one).
func (p *tab) close() {
	if p.stop != nil {
		p.stop()
	}
	p.serving.Wait()
	if p.context != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.br.call(ctx, "", "Target.disposeBrowserContext", map[string]any{"browserContextId": p.context}, nil)
	}
}
