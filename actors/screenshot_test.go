package actors

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stichdev/stich/appbuild"
	"github.com/stichdev/stich/codegen"
	"github.com/stichdev/stich/preview"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/runcheck"
)

// A built app's preview is announced once per build, before its runtime
// check ends (the check's end follows as its own event, with its
// screenshot); the screenshot is stored: a node started again on the same
// data, with no builds at all, still serves it; deleting the session's
// sandbox (the session was deleted) deletes it.
func TestScreenshotSurvivesRestart(t *testing.T) {
	checker, err := runcheck.New("")
	if err != nil {
		t.Fatalf("%v (CI installs chromium)", err)
	}
	defer checker.Close()
	r := testSandbox(t)
	dir := t.TempDir()
	rt := startRuntimeConfig(t, dir, codegen.Scaffold{}, Config{
		// A loaded machine's npm ci may pass the default 2 minutes.
		Builds: &appbuild.Config{Runner: r, Fixer: appbuild.NewLazyFixer(r), InstallTimeout: 10 * time.Minute}, Previews: preview.Origins{Scheme: "http", Domain: "preview.test"},
		Runcheck: checker, SandboxIdle: time.Minute})
	id := create(t, rt, "a recipe tracker with ingredients and ratings")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	var evs []*stichv1.SessionEvent
	if err := rt.Watch(ctx, NodeCaller(), id, 0, true, func(ev *stichv1.SessionEvent) error {
		evs = append(evs, ev)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Every build: PreviewReady, then (runtime findings, if any, then)
	// RuntimeChecked, before the next build's PreviewReady.
	var order, lines []string
	announced := 0
	for _, ev := range evs {
		if l := ev.GetLog(); l != nil {
			lines = append(lines, l.GetSource()+": "+l.GetText())
		}
		switch {
		case ev.GetPreviewReady() != nil:
			order = append(order, "preview")
			announced++
		case ev.GetRuntimeChecked() != nil:
			order = append(order, "checked")
			if rc := ev.GetRuntimeChecked(); rc.GetStatus() != RuntimeChecked || !rc.GetScreenshot() {
				t.Errorf("runtime checked %v, want checked with a screenshot", rc)
			}
		}
	}
	if announced == 0 || strings.Repeat("preview,checked,", announced) != strings.Join(order, ",")+"," {
		t.Fatalf("preview and check events %v, want each build's preview once, then its check's end; log:\n%s", order, strings.Join(lines, "\n"))
	}
	shot := func(rt *Runtime) []byte {
		t.Helper()
		reply, err := Call[*actorsv1.SandboxScreenshotReply](ctx, rt.Node, KindSandbox, id, &actorsv1.SandboxScreenshot{})
		if err != nil {
			t.Fatal(err)
		}
		return reply.GetPng()
	}
	before := shot(rt)
	if !bytes.HasPrefix(before, []byte("\x89PNG")) || len(before) > runcheck.MaxScreenshotBytes {
		t.Fatalf("screenshot before the restart: %d bytes", len(before))
	}
	if err := rt.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	// No builds on the restarted node: the screenshot can only come from
	// storage.
	rt2 := startRuntimeConfig(t, dir, codegen.Scaffold{}, Config{BuildsDisabled: "off in this test", SandboxIdle: time.Minute})
	if after := shot(rt2); !bytes.Equal(after, before) {
		t.Fatalf("after the restart the screenshot has %d bytes, want the stored %d", len(after), len(before))
	}
	if _, err := Call[*actorsv1.SandboxCancelAck](ctx, rt2.Node, KindSandbox, id, &actorsv1.SandboxCancel{Free: true}); err != nil {
		t.Fatal(err)
	}
	if gone := shot(rt2); len(gone) != 0 {
		t.Fatalf("the session's sandbox was deleted, its screenshot (%d bytes) was not", len(gone))
	}
}
