package actors

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stichdev/stich/appbuild"
	"github.com/stichdev/stich/cluster"
	"github.com/stichdev/stich/codegen"
	"github.com/stichdev/stich/internal/testutil"
	"github.com/stichdev/stich/preview"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/sandbox"
)

// sandboxUID is the sandbox uid of this package's tests.
const sandboxUID = 64671

// brokenScaffold is the scaffold provider with a model-like mistake in the
// app's entry: a named import of App, which is a default export (TS2614).
type brokenScaffold struct{ codegen.Scaffold }

func (brokenScaffold) Name() string { return "broken" }

func (b brokenScaffold) Implement(ctx context.Context, bp *stichv1.Blueprint, phase *stichv1.PhasePlan, files map[string]string, skip map[string]bool, emit codegen.Emitter) error {
	return b.Scaffold.Implement(ctx, bp, phase, files, skip, &breakEntry{Emitter: emit})
}

// breakEntry holds back src/main.tsx's chunks and sends it whole, broken.
type breakEntry struct {
	codegen.Emitter
	entry strings.Builder
}

func (b *breakEntry) FileChunk(ctx context.Context, path, data string) error {
	if path == "src/main.tsx" {
		b.entry.WriteString(data)
		return nil
	}
	return b.Emitter.FileChunk(ctx, path, data)
}

func (b *breakEntry) FileDone(ctx context.Context, path string) error {
	if path == "src/main.tsx" {
		broken := strings.Replace(b.entry.String(), "import App from", "import { App } from", 1)
		if broken == b.entry.String() {
			return errors.New("test: the scaffold's entry no longer imports App by default")
		}
		if err := b.Emitter.FileChunk(ctx, path, broken); err != nil {
			return err
		}
	}
	return b.Emitter.FileDone(ctx, path)
}

// testSandbox is the sandbox runner of this package's tests and
// benchmarks: its own folders, the package's uid, the npm cache shared by
// the package's runs.
func testSandbox(t testing.TB) *sandbox.Local {
	t.Helper()
	base, keep := testutil.SandboxDirs(t)
	scfg := sandbox.DefaultConfig(base)
	scfg.UID, scfg.GID = sandboxUID, sandboxUID
	scfg.CacheDir = filepath.Join(keep, "npm-cache-actors")
	r, err := sandbox.NewLocal(scfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func startBuildingRuntime(t *testing.T, idle time.Duration) (*Runtime, *sandbox.Local) {
	t.Helper()
	r := testSandbox(t)
	cfg := cluster.DefaultLocalConfig()
	cfg.Name, cfg.InMemory = "test", true
	rt, err := Start(context.Background(), Config{Cluster: cfg, Providers: map[string]codegen.Provider{"broken": brokenScaffold{}}, DefaultProvider: "broken",
		Builds: &appbuild.Config{Runner: r, Fixer: appbuild.NewLazyFixer(r)}, Previews: preview.Origins{Scheme: "http", Domain: "preview.test"}, SandboxIdle: idle})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Shutdown(context.Background()) })
	return rt, r
}

// After each phase the sandbox checks the app: the fixer's repair of a
// model mistake becomes a fix event and a new file content in the session
// (and in its version); the preview is announced. An idle sandbox frees its
// workspace, and asking for the preview then rebuilds it from the
// session's files.
func TestSandboxChecksFixesAndRebuildsAfterIdle(t *testing.T) {
	rt, r := startBuildingRuntime(t, 3*time.Second)
	id := create(t, rt, "a recipe tracker with ingredients and ratings")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var evs []*stichv1.SessionEvent
	if err := rt.Watch(ctx, NodeCaller(), id, 0, true, func(ev *stichv1.SessionEvent) error {
		evs = append(evs, ev)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	checkContiguous(t, evs, 0)
	var fixes []*stichv1.FixApplied
	var previewURL string
	var tscFirst, tscAfter []int
	for _, ev := range evs {
		switch e := ev.GetEvent().(type) {
		case *stichv1.SessionEvent_FixApplied:
			fixes = append(fixes, e.FixApplied)
		case *stichv1.SessionEvent_PreviewReady:
			previewURL = e.PreviewReady.GetUrl()
		case *stichv1.SessionEvent_Diagnostics:
			if e.Diagnostics.GetTool() == "tsc" {
				if len(fixes) == 0 {
					tscFirst = append(tscFirst, len(e.Diagnostics.GetDiagnostics()))
				} else {
					tscAfter = append(tscAfter, len(e.Diagnostics.GetDiagnostics()))
				}
			}
		}
	}
	if _, ok := evs[len(evs)-1].GetEvent().(*stichv1.SessionEvent_Completed); !ok {
		t.Fatalf("last event %v", evs[len(evs)-1])
	}
	// The first phase writes a runnable entry: its preview is announced
	// before the second phase starts, and updated after the last one.
	var previews []int
	secondPhase, lastFile := -1, -1
	for i, ev := range evs {
		switch {
		case ev.GetPreviewReady() != nil:
			previews = append(previews, i)
		case ev.GetPhaseChanged().GetPhase() == stichv1.Phase_PHASE_GENERATING && ev.GetPhaseChanged().GetIndex() == 1 && secondPhase < 0:
			secondPhase = i
		case ev.GetFileDone() != nil:
			lastFile = i
		}
	}
	if len(previews) < 2 || secondPhase < 0 || previews[0] > secondPhase || previews[len(previews)-1] < lastFile {
		t.Errorf("previews at events %v, the second phase at %d, the last file at %d: want one before the second phase and one after the last file", previews, secondPhase, lastFile)
	}
	if len(fixes) == 0 || fixes[0].GetFile() != "src/main.tsx" {
		var lines []string
		if f, err := Call[*actorsv1.ReadFileReply](ctx, rt.Node, KindSession, id, &actorsv1.ReadFile{Caller: NodeCaller(), Path: "src/main.tsx"}); err == nil {
			lines = append(lines, f.GetFile().GetContent())
		}
		for _, ev := range evs {
			if l := ev.GetLog(); l != nil {
				lines = append(lines, l.GetSource()+": "+l.GetText())
			}
		}
		t.Fatalf("fixes %v; tsc before %v after %v; log:\n%s", fixes, tscFirst, tscAfter, strings.Join(lines, "\n"))
	}
	if len(tscFirst) == 0 || tscFirst[0] == 0 || len(tscAfter) == 0 || tscAfter[0] != 0 {
		t.Errorf("tsc diagnostics before the fix %v, after %v", tscFirst, tscAfter)
	}
	if want := "http://" + preview.Label(id) + ".preview.test/"; previewURL != want {
		t.Errorf("preview url %q, want %q", previewURL, want)
	}
	f, err := Call[*actorsv1.ReadFileReply](ctx, rt.Node, KindSession, id, &actorsv1.ReadFile{Caller: NodeCaller(), Path: "src/main.tsx"})
	if err != nil {
		t.Fatal(err)
	}
	if c := f.GetFile().GetContent(); strings.Contains(c, "import { App }") || !strings.Contains(c, "App") {
		t.Errorf("the session keeps the broken entry:\n%s", c)
	}
	v1, err := Call[*actorsv1.ReadFileReply](ctx, rt.Node, KindSession, id, &actorsv1.ReadFile{Caller: NodeCaller(), Path: "src/main.tsx", Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	if v1.GetFile().GetContent() != f.GetFile().GetContent() {
		t.Error("version 1 does not hold the fixed entry")
	}

	// A user's edit is checked (no fixer) and previewed again.
	app, err := Call[*actorsv1.ReadFileReply](ctx, rt.Node, KindSession, id, &actorsv1.ReadFile{Caller: NodeCaller(), Path: "src/App.tsx"})
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1].GetSeq()
	if _, err := Call[*actorsv1.SaveFileReply](ctx, rt.Node, KindSession, id, &actorsv1.SaveFile{Caller: NodeCaller(), Path: "src/App.tsx",
		Content: app.GetFile().GetContent() + "\nconst wrong: number = \"text\";\n", BaseSha256: app.GetFile().GetSha256()}); err != nil {
		t.Fatal(err)
	}
	var editDiags []string
	rebuilt := false
	wctx, wcancel := context.WithCancel(ctx)
	err = rt.Watch(wctx, NodeCaller(), id, last, false, func(ev *stichv1.SessionEvent) error {
		if d := ev.GetDiagnostics(); d != nil && d.GetTool() == "tsc" {
			for _, x := range d.GetDiagnostics() {
				editDiags = append(editDiags, x.GetCode()+" "+x.GetFile())
			}
		}
		if ev.GetFixApplied() != nil {
			t.Errorf("the fixer changed a user's edit: %v", ev.GetFixApplied())
		}
		// The preview is announced when the build is served; the check's
		// diagnostics come with its end (after the runtime check).
		if ev.GetPreviewReady() != nil {
			rebuilt = true
		}
		if ev.GetRuntimeChecked() != nil {
			if !rebuilt {
				t.Errorf("the runtime check ended before the preview was announced")
			}
			wcancel()
		}
		return nil
	})
	if err != nil && !errors.Is(err, context.Canceled) || !rebuilt {
		t.Fatalf("watch after the edit: %v, preview rebuilt %v", err, rebuilt)
	}
	if len(editDiags) != 2 || editDiags[0] != "TS2322 src/App.tsx" || editDiags[1] != "TS6133 src/App.tsx" {
		t.Errorf("diagnostics of the edit: %v", editDiags)
	}

	asset := func() (*actorsv1.SandboxAssetReply, error) {
		return Call[*actorsv1.SandboxAssetReply](ctx, rt.Node, KindSandbox, id, &actorsv1.SandboxAsset{Path: "/recipes/1"})
	}
	a, err := asset()
	if err != nil {
		t.Fatal(err)
	}
	if !a.GetBuilt() || !a.GetFound() || a.GetPath() != "/index.html" || !strings.Contains(string(a.GetBody()), `src="/assets/`) {
		t.Fatalf("preview asset: built=%v found=%v path=%q", a.GetBuilt(), a.GetFound(), a.GetPath())
	}

	// Reports need the build's token, from its reporter script.
	js, err := Call[*actorsv1.SandboxAssetReply](ctx, rt.Node, KindSandbox, id, &actorsv1.SandboxAsset{Path: preview.ReporterPath})
	if err != nil {
		t.Fatal(err)
	}
	_, tok, _ := strings.Cut(string(js.GetBody()), "token=")
	tok, _, _ = strings.Cut(tok, `"`)
	for token, want := range map[string]bool{tok: true, "": false, strings.Repeat("a", 32): false} {
		rc, err := Call[*actorsv1.SandboxReportCheckReply](ctx, rt.Node, KindSandbox, id, &actorsv1.SandboxReportCheck{Token: token})
		if err != nil || rc.GetAccepted() != want {
			t.Errorf("report token %q: accepted %v (%v), want %v", token, rc.GetAccepted(), err, want)
		}
	}
	// A report's stack, at a place of the bundle that is App.tsx's code,
	// comes back as App.tsx's line (the build's source map).
	script, _, _ := strings.Cut(strings.SplitN(string(a.GetBody()), `src="/assets/`, 2)[1], `"`)
	var bundle []byte
	for off := uint64(0); ; {
		part, err := Call[*actorsv1.SandboxAssetReply](ctx, rt.Node, KindSandbox, id, &actorsv1.SandboxAsset{Path: "/assets/" + script, Offset: off})
		if err != nil || !part.GetFound() {
			t.Fatalf("bundle /assets/%s: %v found %v", script, err, part.GetFound())
		}
		bundle = append(bundle, part.GetBody()...)
		off += uint64(len(part.GetBody()))
		if off >= part.GetSize() || len(part.GetBody()) == 0 {
			break
		}
	}
	gl, gc := 0, 0
	for i, l := range strings.Split(string(bundle), "\n") {
		if c := strings.Index(l, `"app-title"`); c >= 0 {
			gl, gc = i+1, c+1
			break
		}
	}
	if gl == 0 {
		t.Fatal("no App.tsx code (app-title) in the bundle")
	}
	stack := fmt.Sprintf("Error: x\n    at App (http://app.preview.test/assets/%s:%d:%d)", script, gl, gc)
	rc, err := Call[*actorsv1.SandboxReportCheckReply](ctx, rt.Node, KindSandbox, id, &actorsv1.SandboxReportCheck{Token: tok, Stack: stack})
	if err != nil || !rc.GetAccepted() || rc.GetFile() != "src/App.tsx" || rc.GetLine() == 0 {
		t.Errorf("report with a stack into App.tsx: %v, mapped to %q:%d", err, rc.GetFile(), rc.GetLine())
	}

	// Idle: the workspace goes.
	testutil.WaitFor(t, 30*time.Second, func() error {
		st, err := r.Status(ctx, id)
		if err != nil {
			return err
		}
		if st.State != sandbox.StateMissing {
			d, _ := r.Dir(id)
			ents, derr := os.ReadDir(d)
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			return fmt.Errorf("workspace state %v: %s %v %v", st.State, d, names, derr)
		}
		return nil
	})
	// Asked again, the preview is rebuilt from the session's files.
	a, err = asset()
	if err != nil {
		t.Fatal(err)
	}
	if a.GetBuilt() {
		t.Fatal("a freed sandbox still serves its preview")
	}
	testutil.WaitFor(t, 2*time.Minute, func() error {
		a, err := asset()
		if err != nil {
			return err
		}
		if !a.GetBuilt() {
			return errors.New("not rebuilt yet")
		}
		return nil
	})
}
