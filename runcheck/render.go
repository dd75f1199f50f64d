package runcheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Rendered is what [Checker.Render] saw when the page first showed the
// app, or broke.
type Rendered struct {
	// Took is the time from the navigation to the first render (or the
	// first uncaught exception), as the page's caller waited for it.
	Took time.Duration
	// Exceptions are the uncaught exceptions and rejections recorded up
	// to then (none: the app rendered without an error).
	Exceptions []string
	// Text is the start of the app root's visible text.
	Text string
}

// OK reports whether the app rendered without an uncaught exception.
func (r Rendered) OK() bool { return len(r.Exceptions) == 0 && r.Text != "" }

// errNotRendered: the page showed nothing within the check's budget.
var errNotRendered = errors.New("runcheck: the app did not render")

// waitRendered resolves, in the checked document (the one the recorder
// runs in), as soon as the app's root (#root, else the body) holds an
// element with a box on screen and some text, or an uncaught exception
// was recorded: what a user sees as "the preview is there" or "it broke".
// It looks on every animation frame and after every change of the DOM.
const waitRendered = `new Promise((resolve) => {
  const look = () => {
    const raw = document.documentElement.getAttribute("data-stich-runtime");
    if (!raw) return false;
    const r = JSON.parse(raw);
    const root = document.getElementById("root") || document.body;
    const text = root ? (root.innerText || "").trim() : "";
    const shown = root && text !== "" && [...root.querySelectorAll("*")].some((e) => {
      const b = e.getBoundingClientRect();
      return b.width > 0 && b.height > 0 && getComputedStyle(e).visibility !== "hidden";
    });
    if (!shown && r.exceptions.length === 0) return false;
    resolve(JSON.stringify({ exceptions: r.exceptions, text: shown ? text.slice(0, 200) : "" }));
    return true;
  };
  if (look()) return;
  const mo = new MutationObserver(() => { if (look()) mo.disconnect(); });
  mo.observe(document.documentElement, { subtree: true, childList: true, attributes: true, characterData: true });
  const frame = () => { if (!look()) requestAnimationFrame(frame); else mo.disconnect(); };
  requestAnimationFrame(frame);
})`

// Page is a page of the checker's browser kept open for renders: the
// tab of a user who has the session page open, into which a preview is
// loaded when it is ready. It holds one of the checker's [Pages] until
// Close. Render and Close are not safe for concurrent use.
type Page struct {
	c      *Checker
	br     *browser
	tab    *tab
	closed bool
}

// Open makes a page ready for [Page.Render] (starting the browser if
// needed): a browser context of its own on about:blank.
func (c *Checker) Open(ctx context.Context) (*Page, error) {
	select {
	case c.pages <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("runcheck: waiting for a page: %w", ctx.Err())
	}
	br, err := c.browser()
	if err != nil {
		<-c.pages
		return nil, err
	}
	t, err := newPage(ctx, br)
	if err != nil {
		<-c.pages
		return nil, err
	}
	// Each preview is a new app on an origin of its own, which the
	// user's browser has never cached: no render may reuse the files of
	// the one before (they share runcheck's one origin here).
	for _, m := range []string{"Network.enable", "Network.setCacheDisabled"} {
		if err := t.call(ctx, m, map[string]any{"cacheDisabled": true}, nil); err != nil {
			t.close()
			<-c.pages
			return nil, err
		}
	}
	return &Page{c: c, br: br, tab: t}, nil
}

// Close disposes of the page. It is idempotent.
func (p *Page) Close() {
	if p.closed {
		return
	}
	p.closed = true
	p.tab.close()
	<-p.c.pages
}

// Render loads path of app in the page, as [Checker.Check] does (served
// in-process, no network), and returns as soon as the app first rendered
// (its root shows an element with text) or threw: it measures what a
// user waits for after opening a preview, where Check waits for the page
// to settle and takes a screenshot. An error means the page did not load
// or render within the checker's budget, or the browser failed.
func (p *Page) Render(ctx context.Context, app http.Handler, path string) (Rendered, error) {
	if p.closed {
		return Rendered{}, errClosed
	}
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	c, pg := p.c, p.tab
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, c.budget)
	defer cancel()
	served := inject(app)
	pg.claim(func(params json.RawMessage) { c.serve(ctx, p.br, pg.s, served, params) })
	start := time.Now()
	if err := pg.call(ctx, "Page.navigate", map[string]any{"url": Origin + path}, nil); err != nil {
		if ctx.Err() != nil && parent.Err() == nil {
			return Rendered{}, fmt.Errorf("%w within %v: %w", errNotRendered, c.budget, err)
		}
		return Rendered{}, err
	}
	for {
		var ev struct {
			Result struct {
				Value string `json:"value"`
			} `json:"result"`
		}
		err := pg.call(ctx, "Runtime.evaluate", map[string]any{"expression": waitRendered, "awaitPromise": true, "returnByValue": true}, &ev)
		switch {
		case parent.Err() != nil:
			return Rendered{}, fmt.Errorf("runcheck: render: %w", parent.Err())
		case ctx.Err() != nil:
			return Rendered{}, fmt.Errorf("%w within %v", errNotRendered, c.budget)
		case errors.Is(err, errBrowserGone):
			return Rendered{}, err
		case err != nil || ev.Result.Value == "":
			// The page is between documents (the evaluation ran in the
			// one the navigation replaced): ask the new one.
			select {
			case <-time.After(5 * time.Millisecond):
			case <-ctx.Done():
			}
			continue
		}
		took := time.Since(start)
		var r struct {
			Exceptions []string `json:"exceptions"`
			Text       string   `json:"text"`
		}
		if err := json.Unmarshal([]byte(ev.Result.Value), &r); err != nil {
			return Rendered{}, fmt.Errorf("runcheck: render report: %w", err)
		}
		return Rendered{Took: took, Exceptions: r.Exceptions, Text: r.Text}, nil
	}
}
