package actors

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/stichdev/stich/appbuild"
	"github.com/stichdev/stich/cluster"
	"github.com/stichdev/stich/preview"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/ratelimit"
)

// Old versions' previews (a version previewed before a rollback).
//
//  1. A version's build lives in a workspace of its own
//     ([preview.VersionScope] of the session and version), never the
//     current build's: building an old version neither replaces nor
//     disturbs the preview every watcher of the session sees.
//  2. The first asset asked of a version starts its build from the
//     version's stored files (counted against the owner's build limit,
//     like a rebuild); later asks are served from it while it is kept.
//  3. At most [maxVersionBuilds] are kept per session; asking for another
//     evicts the least recently used one that is not building (and starts
//     nothing while that many are building).
//  4. A build that made no preview is kept as failed, with its error and
//     problems, for the preview server to show; it is tried again when
//     asked after [versionRetry].
//  5. Version builds have no error reporter and no runtime check: their
//     errors belong to an old version, not to the session's current state.

// maxVersionBuilds bounds the old versions' builds one sandbox keeps.
const maxVersionBuilds = 3

// versionRetry is how long a failed version build is shown before an ask
// tries it again.
const versionRetry = 30 * time.Second

// versionBuild is one old version's build in a sandbox grain.
type versionBuild struct {
	ws  *appbuild.Workspace
	job *job // nil once ended
	// failed, err, problems: how an ended build failed.
	failed   bool
	err      string
	problems []*stichv1.Diagnostic
	ended    time.Time
	used     time.Time
}

// versionBuilt ends a version's build; it never leaves the process.
type versionBuilt struct {
	version  uint32
	job      *job
	failed   bool
	err      string
	problems []*stichv1.Diagnostic
}

// versionAsset answers an asset of version v's build, starting the build
// when there is none (or a failed one is old enough to try again).
func (g *sandboxGrain) versionAsset(ctx actor.Context, v uint32, p string, offset, limit uint64) *actorsv1.SandboxAssetReply {
	b := g.versions[v]
	now := time.Now()
	if b != nil {
		b.used = now
		switch {
		case b.job != nil:
			return &actorsv1.SandboxAssetReply{}
		case b.failed && now.Sub(b.ended) < versionRetry:
			return &actorsv1.SandboxAssetReply{Failed: true, BuildError: b.err, BuildProblems: b.problems}
		case !b.failed:
			if prev := b.ws.Preview(); prev != nil {
				return assetOf(prev, p, offset, limit)
			}
		}
	}
	if g.rt.cfg.Builds == nil {
		return &actorsv1.SandboxAssetReply{Failed: true, BuildError: g.rt.cfg.BuildsDisabled}
	}
	// NB: when maxVersionBuilds builds are running, none starts: the
	// preview page asks again by itself.
	g.startVersionBuild(ctx, v)
	return &actorsv1.SandboxAssetReply{}
}

// startVersionBuild (re)starts version v's build on a job of its own,
// unless maxVersionBuilds others are running (it reports whether it
// started).
func (g *sandboxGrain) startVersionBuild(ctx actor.Context, v uint32) bool {
	if g.versions == nil {
		g.versions = map[uint32]*versionBuild{}
	}
	b := g.versions[v]
	if b == nil {
		g.evictVersions(maxVersionBuilds - 1)
		if len(g.versions) >= maxVersionBuilds {
			return false
		}
		b = &versionBuild{ws: appbuild.New(*g.rt.cfg.Builds, preview.VersionScope(g.ref.Identity, v), "/", "")}
		g.versions[v] = b
	}
	b.failed, b.err, b.problems, b.used = false, "", nil, time.Now()
	g.rt.versionBuilds.Add(1)
	j := newJob()
	b.job = j
	system, self, ws := ctx.ActorSystem(), ctx.Self(), b.ws
	node, id, rule := g.rt.Node, g.ref.Identity, g.rt.cfg.BuildLimit
	j.start(func() {
		done := buildVersion(j.ctx, ws, node, id, v, rule)
		done.job = j
		if j.ctx.Err() == nil {
			system.Root.Send(self, done)
		}
	})
	return true
}

// onVersionBuilt records the end of a version's build.
func (g *sandboxGrain) onVersionBuilt(m *versionBuilt) {
	b := g.versions[m.version]
	if b == nil || b.job != m.job {
		return // evicted or restarted since
	}
	b.job, b.ended = nil, time.Now()
	b.failed, b.err, b.problems = m.failed, m.err, m.problems
}

// evictVersions frees the least recently used ended builds until at most
// keep remain (builds still running are never evicted).
func (g *sandboxGrain) evictVersions(keep int) {
	for len(g.versions) > keep {
		var oldest uint32
		for v, b := range g.versions {
			if b.job == nil && (oldest == 0 || b.used.Before(g.versions[oldest].used)) {
				oldest = v
			}
		}
		if oldest == 0 {
			return
		}
		g.closeVersion(oldest)
	}
}

// versionBuilding reports whether a version build runs (the grain stays
// active for it).
func (g *sandboxGrain) versionBuilding() bool {
	for _, b := range g.versions {
		if b.job != nil {
			return true
		}
	}
	return false
}

// freeVersions stops every version build and deletes its workspace.
func (g *sandboxGrain) freeVersions() {
	for v := range g.versions {
		g.closeVersion(v)
	}
}

// closeVersion stops version v's build (waiting, bounded) and deletes
// its workspace.
func (g *sandboxGrain) closeVersion(v uint32) {
	b := g.versions[v]
	delete(g.versions, v)
	if b == nil {
		return
	}
	if !b.job.stop(true, 30*time.Second) {
		g.rt.log.Error("version build did not stop within 30s", "session", g.ref.Identity, "version", v)
		return // NB: its workspace is still in use; the runner's sweep removes it
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.ws.Close(ctx); err != nil {
		g.rt.log.Warn("version build cleanup failed", "session", g.ref.Identity, "version", v, "err", err)
	}
}

// buildVersion reads version v's files and builds them in ws (no fixer:
// the version is shown as it was).
func buildVersion(ctx context.Context, ws *appbuild.Workspace, n *cluster.Node, id string, v uint32, rule ratelimit.Rule) (done *versionBuilt) {
	done = &versionBuilt{version: v}
	defer func() {
		if r := recover(); r != nil {
			done.failed, done.err = true, fmt.Sprintf("the build step panicked: %v", r)
		}
	}()
	files, err := versionFiles(ctx, n, id, v, rule)
	if err != nil {
		done.failed, done.err = true, fmt.Sprintf("read version %d's files: %v", v, err)
		return done
	}
	out, err := ws.CheckSteps(ctx, files, false, func(string, string, string) {}, nil)
	if out.Preview != nil && err == nil {
		return done
	}
	done.failed = true
	done.problems = append(diagsToProto(out.Build), diagsToProto(out.Remaining)...)
	switch {
	case err != nil:
		done.err = checkErrorText(err)
	case len(out.Build) > 0:
		done.err = fmt.Sprintf("version %d did not bundle; its problems:", v)
	default:
		done.err = fmt.Sprintf("version %d made no preview", v)
	}
	return done
}

// versionFiles reads version v's files, counted against the session
// owner's build limit (rule).
func versionFiles(ctx context.Context, n *cluster.Node, id string, v uint32, rule ratelimit.Rule) (map[string]string, error) {
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	list, err := Call[*actorsv1.ListFilesReply](cctx, n, KindSession, id, &actorsv1.ListFiles{Version: v, Caller: NodeCaller()})
	if err != nil {
		return nil, err
	}
	if len(list.GetFiles()) == 0 {
		return nil, errors.New("the version has no files")
	}
	if err := takeBuild(cctx, n, rule, list.GetOwner()); err != nil {
		return nil, err
	}
	files := make(map[string]string, len(list.GetFiles()))
	for _, f := range list.GetFiles() {
		r, err := Call[*actorsv1.ReadFileReply](cctx, n, KindSession, id, &actorsv1.ReadFile{Path: f.GetPath(), Version: v, Caller: NodeCaller()})
		if err != nil {
			return nil, err
		}
		files[f.GetPath()] = r.GetFile().GetContent()
	}
	return files, nil
}
