package runcheck

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// Render returns at the app's first render (a late one too), at its
// first uncaught exception, and fails for a page that never shows
// anything; one page serves every render.
func TestRender(t *testing.T) {
	c, err := New("")
	if err != nil {
		t.Fatalf("%v (CI installs chromium)", err)
	}
	defer c.Close()
	ctx := context.Background()
	pg, err := c.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	cases := []struct {
		name, script string
		check        func(Rendered) bool
	}{
		{"now", `const h = document.createElement("h1"); h.textContent = "Hello"; document.getElementById("root").append(h);`,
			func(r Rendered) bool { return r.OK() && r.Text == "Hello" }},
		// Rendered after a fetch and a timer: Render waits for it, not
		// for the load event.
		{"late", `fetch("/data.json").then((r) => r.json()).then(() => setTimeout(() => { document.getElementById("root").innerHTML = "<p>Loaded late</p>"; }, 300));`,
			func(r Rendered) bool { return r.OK() && r.Text == "Loaded late" }},
		{"throws", `throw new Error("cannot start");`,
			func(r Rendered) bool {
				return !r.OK() && len(r.Exceptions) == 1 && strings.Contains(r.Exceptions[0], "cannot start")
			}},
		// Text in a hidden element is not a render.
		{"hidden-then-shown", `const root = document.getElementById("root"); root.innerHTML = '<p style="visibility:hidden">secret</p>';
setTimeout(() => { root.innerHTML = "<p>Shown</p>"; }, 200);`,
			func(r Rendered) bool { return r.OK() && r.Text == "Shown" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := pg.Render(ctx, site(page(tc.script)), "/")
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(r) || r.Took <= 0 {
				t.Errorf("rendered %+v", r)
			}
		})
	}
	// A page that never renders: Render gives up at the budget.
	c.budget = 2 * time.Second
	if r, err := pg.Render(ctx, site(page(`const x = 1;`)), "/"); !errors.Is(err, errNotRendered) {
		t.Errorf("a blank page: %+v, %v", r, err)
	}
	if n := c.Starts(); n != 1 {
		t.Errorf("the browser was started %d times for 5 renders", n)
	}
	pg.Close()
	pg.Close()
	if _, err := pg.Render(ctx, site(page(`const x = 1;`)), "/"); err == nil {
		t.Error("a closed page rendered")
	}
}
