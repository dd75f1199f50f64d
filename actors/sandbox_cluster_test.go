package actors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"regexp"
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
)

// startBuildingPeers starts n runtimes that form one cluster and build
// apps (one sandbox runner shared by all: each session's workspace is
// used by one node at a time).
func startBuildingPeers(t *testing.T, n int) []*Runtime {
	t.Helper()
	r := testSandbox(t)
	var rts []*Runtime
	seed := ""
	for i := 0; i < n; i++ {
		cfg := cluster.DefaultLocalConfig()
		cfg.Name = fmt.Sprintf("n%d", i)
		cfg.DataDir = t.TempDir()
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		if seed != "" {
			cfg.Join = []string{seed}
		}
		rt, err := Start(context.Background(), Config{Cluster: cfg, Providers: map[string]codegen.Provider{"scaffold": codegen.Scaffold{}},
			Builds: &appbuild.Config{Runner: r, Fixer: appbuild.NewLazyFixer(r)}, Previews: preview.Origins{Scheme: "http", Domain: "preview.test"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			rt.Shutdown(ctx)
		})
		if seed == "" {
			seed = rt.Node.GossipAddr()
		}
		rts = append(rts, rt)
	}
	testutil.WaitFor(t, 60*time.Second, func() error {
		for _, rt := range rts {
			if got := len(rt.Node.Members()); got != n {
				return fmt.Errorf("%s sees %d members", rt.Node.Name(), got)
			}
		}
		return nil
	})
	return rts
}

// An app whose files total more than the remote's 4 MiB message limit is
// checked and previewed when every request reaches another node than the
// session's: the sandbox lives on the session's node (its files never
// cross nodes), and the preview's bundle, over 4 MiB too, crosses in
// parts. The session is chosen so that placing the sandbox by its own kind
// (as before) would have put it on the other node.
func TestLargeAppChecksAndPreviewsFromAnotherNode(t *testing.T) {
	rts := startBuildingPeers(t, 2)
	members := rts[0].Node.Members()
	var id string
	for {
		id = rts[0].NewSessionID("")
		s, _ := cluster.Lookup(KindSession, id, members)
		b, _ := cluster.Lookup(KindSandbox, id, members)
		if s.Name == "n0" && b.Name == "n1" {
			break
		}
	}
	far := rts[1] // every request goes through n1; the session is on n0
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	if _, err := Call[*actorsv1.CreateSessionReply](ctx, far.Node, KindSession, id, &actorsv1.CreateSession{Caller: NodeCaller(), Prompt: "a recipe tracker"}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Minute, func() error { // a read may be refused while the replicas settle
		return far.Watch(ctx, NodeCaller(), id, 0, true, func(*stichv1.SessionEvent) error { return nil })
	})
	if owner, _ := far.Node.Owner(KindSandbox, id); owner != "n0" {
		t.Fatalf("the sandbox of a session on n0 is placed on %s", owner)
	}

	// 10 data modules of 500 KB (5 MB in all), each imported by App.tsx.
	const parts, partBytes = 10, 500_000
	rnd := rand.New(rand.NewSource(1))
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var imports, uses strings.Builder
	total := 0
	for i := 0; i < parts; i++ {
		b := make([]byte, partBytes)
		for j := range b {
			b[j] = letters[rnd.Intn(len(letters))]
		}
		content := fmt.Sprintf("export const big%d: string = \"BIG%d:%s\";\n", i, i, b)
		total += len(content)
		saveRetry(t, ctx, far, id, fmt.Sprintf("src/big%d.ts", i), content, "")
		fmt.Fprintf(&imports, "import { big%d } from \"./big%d\";\n", i, i)
		fmt.Fprintf(&uses, "big%d.length + ", i)
	}
	if total <= 4<<20 {
		t.Fatalf("the data modules total %d bytes, not over 4 MiB", total)
	}
	app := readRetry(t, ctx, far, id, "src/App.tsx")
	edited := imports.String() + app.GetContent() + "\nconsole.log(" + uses.String() + "0);\n"
	saveRetry(t, ctx, far, id, "src/App.tsx", edited, app.GetSha256())

	// The check of the edit builds a preview whose script holds every
	// module; it is read through n1.
	script := regexp.MustCompile(`src="(/assets/[^"]+\.js)"`)
	var bundle []byte
	testutil.WaitFor(t, 10*time.Minute, func() error {
		cctx, ccancel := context.WithTimeout(ctx, time.Minute)
		defer ccancel()
		page, err := SandboxAsset(cctx, far.Node, id, 0, "/")
		if err != nil {
			return err
		}
		if !page.GetBuilt() || !page.GetFound() {
			return errors.New("no preview yet")
		}
		m := script.FindStringSubmatch(string(page.GetBody()))
		if m == nil {
			return fmt.Errorf("no script in the page:\n%s", page.GetBody())
		}
		js, err := SandboxAsset(cctx, far.Node, id, 0, m[1])
		if err != nil {
			return err
		}
		if !js.GetFound() {
			return fmt.Errorf("%s not found", m[1])
		}
		for i := 0; i < parts; i++ {
			if !strings.Contains(string(js.GetBody()), fmt.Sprintf("BIG%d:", i)) {
				return fmt.Errorf("the preview's script (%d bytes) does not hold big%d yet", len(js.GetBody()), i)
			}
		}
		if uint64(len(js.GetBody())) != js.GetSize() {
			return fmt.Errorf("read %d bytes of a %d-byte script", len(js.GetBody()), js.GetSize())
		}
		bundle = js.GetBody()
		return nil
	})
	if len(bundle) <= 4<<20 {
		t.Errorf("the preview's script is %d bytes, not over 4 MiB", len(bundle))
	}
}

// readRetry reads a file through rt, retrying while the cluster is busy
// (a read the owner could not confirm with its replicas in time).
func readRetry(t *testing.T, ctx context.Context, rt *Runtime, id, path string) *stichv1.File {
	t.Helper()
	var f *stichv1.File
	testutil.WaitFor(t, 5*time.Minute, func() error {
		r, err := Call[*actorsv1.ReadFileReply](ctx, rt.Node, KindSession, id, &actorsv1.ReadFile{Caller: NodeCaller(), Path: path})
		f = r.GetFile()
		return err
	})
	return f
}

// saveRetry saves a file through rt, retrying while the cluster is busy;
// an attempt whose outcome was unknown may have saved it already, which
// a read then shows.
func saveRetry(t *testing.T, ctx context.Context, rt *Runtime, id, path, content, base string) {
	t.Helper()
	testutil.WaitFor(t, 5*time.Minute, func() error {
		_, err := Call[*actorsv1.SaveFileReply](ctx, rt.Node, KindSession, id, &actorsv1.SaveFile{Caller: NodeCaller(), Path: path, Content: content, BaseSha256: base})
		if err == nil {
			return nil
		}
		if r, rerr := Call[*actorsv1.ReadFileReply](ctx, rt.Node, KindSession, id, &actorsv1.ReadFile{Caller: NodeCaller(), Path: path}); rerr == nil && r.GetFile().GetContent() == content {
			return nil
		}
		return fmt.Errorf("save %s: %w", path, err)
	})
}
