package actors

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// versionMarker is a side effect the test's edit adds to the app (kept by
// the bundler), so that a build of the edit is told from one without.
const versionMarker = "stich-version-two-marker"

var scriptSrc = regexp.MustCompile(`<script[^>]+src="([^"]+)"`)

// previewScript reads the entry script of a session's preview (version 0:
// the current build; N: version N's build); built is false while there is
// none yet. A failed version build fails the test with its errors.
func previewScript(t *testing.T, ctx context.Context, rt *Runtime, id string, v uint32) (js string, built bool) {
	t.Helper()
	page, err := SandboxAsset(ctx, rt.Node, id, v, "/")
	if err != nil {
		t.Fatal(err)
	}
	if page.GetFailed() {
		t.Fatalf("version %d did not build: %s %v", v, page.GetBuildError(), page.GetBuildProblems())
	}
	if !page.GetBuilt() {
		return "", false
	}
	ms := scriptSrc.FindAllStringSubmatch(string(page.GetBody()), -1)
	if ms == nil {
		t.Fatalf("version %d's page has no script:\n%s", v, page.GetBody())
	}
	// All the page's scripts (the current build's error reporter, then
	// the app's bundle).
	var all strings.Builder
	for _, m := range ms {
		a, err := SandboxAsset(ctx, rt.Node, id, v, m[1])
		if err != nil {
			t.Fatal(err)
		}
		if !a.GetFound() {
			return "", false // a newer build replaced the page's script
		}
		all.Write(a.GetBody())
	}
	return all.String(), true
}

// waitScript polls previewScript until a build is there and ok says it is
// the one awaited.
func waitScript(t *testing.T, ctx context.Context, rt *Runtime, id string, v uint32, ok func(string) bool) string {
	t.Helper()
	for {
		js, built := previewScript(t, ctx, rt, id, v)
		if built && ok(js) {
			return js
		}
		select {
		case <-ctx.Done():
			t.Fatalf("version %d: no build as awaited (built %v)", v, built)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// An old version is built from its own files in a workspace of its own:
// its preview lacks the later edit, the current preview keeps it, the
// build is reused when asked again, a version the session lacks fails
// with a reason, and the builds kept are bounded (the least recently used
// failed one is evicted and built again when asked).
func TestSandboxBuildsAnOldVersionApart(t *testing.T) {
	rt, _ := startBuildingRuntime(t, time.Minute)
	id := create(t, rt, "a recipe tracker with ingredients and ratings")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if err := rt.Watch(ctx, NodeCaller(), id, 0, true, func(*stichv1.SessionEvent) error { return nil }); err != nil {
		t.Fatal(err)
	}
	app, err := Call[*actorsv1.ReadFileReply](ctx, rt.Node, KindSession, id, &actorsv1.ReadFile{Caller: NodeCaller(), Path: "src/App.tsx"})
	if err != nil {
		t.Fatal(err)
	}
	saved, err := Call[*actorsv1.SaveFileReply](ctx, rt.Node, KindSession, id, &actorsv1.SaveFile{Caller: NodeCaller(), Path: "src/App.tsx",
		Content: app.GetFile().GetContent() + "\nconsole.info(\"" + versionMarker + "\");\n", BaseSha256: app.GetFile().GetSha256()})
	if err != nil {
		t.Fatal(err)
	}
	if saved.GetVersion().GetNumber() < 2 {
		t.Fatalf("the edit made version %d", saved.GetVersion().GetNumber())
	}
	has := func(js string) bool { return strings.Contains(js, versionMarker) }
	waitScript(t, ctx, rt, id, 0, has)

	old := waitScript(t, ctx, rt, id, 1, func(string) bool { return true })
	if has(old) || !strings.Contains(old, "createRoot") {
		t.Errorf("version 1's build holds the later edit, or is not the app (%d bytes)", len(old))
	}
	if cur, built := previewScript(t, ctx, rt, id, 0); !built || !has(cur) {
		t.Errorf("building version 1 changed the current preview (built %v)", built)
	}
	builds := rt.versionBuilds.Load()
	if builds != 1 {
		t.Errorf("%d version builds, want 1", builds)
	}
	if again, _ := previewScript(t, ctx, rt, id, 1); again != old || rt.versionBuilds.Load() != builds {
		t.Errorf("version 1 asked again: built %d times, same script %v", rt.versionBuilds.Load(), again == old)
	}

	// Versions the session lacks fail with a reason; each is a build kept
	// (failed) until more than maxVersionBuilds are.
	failed := func(v uint32) *actorsv1.SandboxAssetReply {
		t.Helper()
		for {
			a, err := SandboxAsset(ctx, rt.Node, id, v, "/")
			if err != nil {
				t.Fatal(err)
			}
			if a.GetFailed() || a.GetFound() {
				return a
			}
			select {
			case <-ctx.Done():
				t.Fatalf("version %d: neither built nor failed", v)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	for _, v := range []uint32{97, 98, 99} {
		a := failed(v)
		if !a.GetFailed() || !strings.Contains(a.GetBuildError(), fmt.Sprintf("version %d", v)) {
			t.Fatalf("version %d: failed %v, error %q", v, a.GetFailed(), a.GetBuildError())
		}
	}
	n := rt.versionBuilds.Load()
	if a := failed(97); !a.GetFailed() || rt.versionBuilds.Load() != n {
		t.Errorf("version 97's failure was not kept (builds %d, then %d)", n, rt.versionBuilds.Load())
	}
	// 97 was used last: 1 (the least recently used) was evicted by 99
	// (four builds, three kept), so it is built again.
	waitScript(t, ctx, rt, id, 1, func(js string) bool { return !has(js) })
	if got := rt.versionBuilds.Load(); got != n+1 {
		t.Errorf("version 1 after its eviction: %d builds, want %d", got, n+1)
	}
	if cur, built := previewScript(t, ctx, rt, id, 0); !built || !has(cur) {
		t.Errorf("the current preview changed (built %v)", built)
	}
}
