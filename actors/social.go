package actors

import (
	"cmp"
	"context"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/stichdev/stich/cluster"
	"github.com/stichdev/stich/pipeline"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// Sharing: visibility, the gallery and forks.
//
//  1. A session's visibility is in its state; the session grain enforces
//     it (actors/caller.go): other signed-in users may send it read-only
//     messages when it is unlisted or public.
//  2. The gallery is one index grain (kind [KindGallery], identity
//     [GalleryID]) of the same type as an owner's apps index, stored and
//     replicated like any grain: it lists public apps of every owner. The
//     RPC edge publishes an app there when its owner makes it public
//     (UpsertApp with publish) and removes it when it stops being public
//     or is deleted (which leaves a tombstone). Sessions of public apps
//     report their changes to it as they report to their owner's index;
//     a report never re-lists an app removed from it, so a late report
//     cannot list an app its owner made private.
//  3. A fork is a new session of the forker's, made by [ForkSession] with
//     the files of the origin's version, idle, recording its origin.

// KindGallery is the grain kind of the public gallery.
const KindGallery = "gallery"

// GalleryID is the identity of the one gallery grain.
const GalleryID = "public"

func (g *sessionGrain) onSetVisibility(ctx actor.Context, m *actorsv1.SetVisibility) {
	out, err := g.step(ctx, pipeline.SetVisibility{Visibility: m.GetVisibility()})
	if err == nil && out.Refusal == nil {
		if r, ok := out.Reply.(*actorsv1.SetVisibilityReply); ok {
			r.Entry = g.appEntry(g.s.Session, g.s.LastSeq)
		}
	}
	g.respond(ctx, "record visibility", out, err)
}

func (g *sessionGrain) onFork(ctx actor.Context, m *actorsv1.ForkSession) {
	if g.loadErr != nil {
		ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_UNAVAILABLE, "session %s cannot be read from storage; retry later", g.ref.Identity))
		return
	}
	if g.s.Session != nil {
		ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS, "session %s already exists", g.ref.Identity))
		return
	}
	owner := cmp.Or(m.GetOwner(), LocalOwner)
	if !mayAccess(m.GetCaller(), owner) {
		ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "a session is created for its caller only"))
		return
	}
	// The fork is the forker's: it refines with this node's default
	// provider, whatever wrote the origin.
	prov := g.rt.DefaultProvider()
	files := make(map[string]string, len(m.GetFiles()))
	for _, f := range m.GetFiles() {
		files[f.GetPath()] = f.GetContent()
	}
	out, err := g.step(ctx, pipeline.Fork{ID: g.ref.Identity, Prompt: m.GetPrompt(), Owner: owner,
		ProviderName: prov.Name(), ProviderLabel: prov.Label(), Region: cluster.RegionOf(g.ref.Identity),
		Blueprint: m.GetBlueprint(), Origin: m.GetOrigin(), Files: files})
	g.respond(ctx, "record fork", out, err)
}

// reportGallery tells the gallery about a public session's change (see
// the doc above: a report never lists an app the gallery removed).
func (g *sessionGrain) reportGallery(entry *actorsv1.AppEntry) {
	g.rt.goBackground(func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, reportTimeout)
		defer cancel()
		if _, err := Call[*actorsv1.UpsertAppReply](ctx, g.rt.Node, KindGallery, GalleryID, &actorsv1.UpsertApp{Entry: entry}); err != nil && ctx.Err() == nil {
			g.rt.log.Warn("gallery report failed", "session", entry.GetSessionId(), "err", err)
		}
	})
}
