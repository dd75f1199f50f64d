package actors

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/stichdev/stich/cluster"
	"github.com/stichdev/stich/pipeline"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// LocalOwner is the owner of every session until stich has user accounts:
// the identity of the one apps index grain.
const LocalOwner = "local"

// Storage keys of an apps grain.
const (
	prefixApp  = "app/"  // app/<session id> -> AppEntry
	prefixGone = "gone/" // gone/<session id> -> empty: deleted, ignore reports
)

// ListApps page bounds.
const (
	DefaultAppsPage = 50
	MaxAppsPage     = 200
)

// maxTitleRunes bounds titles derived from prompts and blueprints.
const maxTitleRunes = 80

// appsGrain is one owner's index of apps (sessions): the list the apps
// screen shows. Its identity is the owner. Session grains report their
// title, phase and version to it (see [sessionGrain.reportApp]); the RPC
// edge renames and removes entries. Entries and tombstones of deleted apps
// are durable; the whole index is held in memory while the grain is active
// (an entry is a few hundred bytes).
type appsGrain struct {
	rt   *Runtime
	ref  *cluster.GrainRef
	apps map[string]*actorsv1.AppEntry // nil until loaded
	gone map[string]bool
}

func newAppsGrain(rt *Runtime, ref *cluster.GrainRef) *appsGrain {
	return &appsGrain{rt: rt, ref: ref}
}

func (g *appsGrain) Receive(ctx actor.Context) {
	receiveStored(ctx, g.ref, g.rt.log, "the apps list of "+g.ref.Identity, g)
}

func (g *appsGrain) load() error {
	if g.apps != nil {
		return nil
	}
	apps := map[string]*actorsv1.AppEntry{}
	gone := map[string]bool{}
	err := g.ref.Store.List(prefixApp, "", 0, func(key string, v []byte) error {
		e := &actorsv1.AppEntry{}
		if err := proto.Unmarshal(v, e); err != nil {
			return errors.Join(errors.New("actors: decode app entry "+key), err)
		}
		apps[e.GetSessionId()] = e
		return nil
	})
	if err != nil {
		return err
	}
	err = g.ref.Store.List(prefixGone, "", 0, func(key string, _ []byte) error {
		gone[strings.TrimPrefix(key, prefixGone)] = true
		return nil
	})
	if err != nil {
		return err
	}
	g.apps, g.gone = apps, gone
	return nil
}

func (g *appsGrain) handle(msg proto.Message) proto.Message {
	switch m := msg.(type) {
	case *actorsv1.UpsertApp:
		return g.upsert(m.GetEntry(), m.GetPublish())
	case *actorsv1.GetApp:
		e, ok := g.apps[m.GetSessionId()]
		if !ok {
			return grainErr(actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND, "session %s does not exist", m.GetSessionId())
		}
		return &actorsv1.AppReply{Entry: e}
	case *actorsv1.RenameApp:
		return g.rename(m)
	case *actorsv1.ListApps:
		return g.list(m)
	case *actorsv1.RemoveApp:
		return g.remove(m.GetSessionId())
	}
	return grainErr(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "apps grain does not handle %T", msg)
}

func (g *appsGrain) save(e *actorsv1.AppEntry) *actorsv1.GrainError {
	b, err := proto.Marshal(e)
	if err == nil {
		err = g.ref.Store.Put(prefixApp+e.GetSessionId(), b)
	}
	if err != nil {
		return grainErr(actorsv1.ErrorCode_ERROR_CODE_INTERNAL, "save app entry: %v", err)
	}
	g.apps[e.GetSessionId()] = e
	return nil
}

// upsert merges a session's report into its entry: phase, version and
// times from the newer report (by seq), the title from the stronger
// source; the user's rename always wins over reports.
func (g *appsGrain) upsert(in *actorsv1.AppEntry, publish bool) proto.Message {
	id := in.GetSessionId()
	if id == "" {
		return grainErr(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "app entry without a session id")
	}
	if g.gone[id] && !publish {
		return &actorsv1.UpsertAppReply{}
	}
	if g.gone[id] {
		// Published again (the gallery): the tombstone goes.
		if err := g.ref.Store.Delete(prefixGone + id); err != nil {
			return grainErr(actorsv1.ErrorCode_ERROR_CODE_INTERNAL, "publish app entry: %v", err)
		}
		delete(g.gone, id)
	}
	old, ok := g.apps[id]
	next := proto.Clone(in).(*actorsv1.AppEntry)
	next.Prompt = pipeline.Truncate(next.GetPrompt(), 300)
	if ok {
		next = proto.Clone(old).(*actorsv1.AppEntry)
		if in.GetSeq() >= old.GetSeq() {
			next.Phase, next.Version, next.UpdatedAt, next.Seq = in.GetPhase(), in.GetVersion(), in.GetUpdatedAt(), in.GetSeq()
			if in.GetRegion() != "" {
				next.Region = in.GetRegion()
			}
			if in.GetProviderLabel() != "" {
				next.ProviderLabel = in.GetProviderLabel()
			}
			next.Visibility = in.GetVisibility()
		}
		if in.GetOwner() != "" {
			next.Owner = in.GetOwner()
		}
		if in.GetForkedFrom() != nil {
			next.ForkedFrom = in.GetForkedFrom()
		}
		if in.GetTitle() != "" && in.GetTitleSource() >= old.GetTitleSource() && old.GetTitleSource() != actorsv1.TitleSource_TITLE_SOURCE_USER {
			next.Title, next.TitleSource = in.GetTitle(), in.GetTitleSource()
		}
		if next.GetPrompt() == "" {
			next.Prompt = pipeline.Truncate(in.GetPrompt(), 300)
		}
		if next.GetCreatedAt() == nil {
			next.CreatedAt = in.GetCreatedAt()
		}
		if proto.Equal(next, old) {
			return &actorsv1.UpsertAppReply{}
		}
	}
	if err := g.save(next); err != nil {
		return err
	}
	return &actorsv1.UpsertAppReply{}
}

func (g *appsGrain) rename(m *actorsv1.RenameApp) proto.Message {
	old, ok := g.apps[m.GetSessionId()]
	if !ok {
		return grainErr(actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND, "session %s does not exist", m.GetSessionId())
	}
	title := strings.Join(strings.Fields(m.GetTitle()), " ")
	if title == "" {
		return grainErr(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "the title must contain non-whitespace text")
	}
	next := proto.Clone(old).(*actorsv1.AppEntry)
	next.Title, next.TitleSource = title, actorsv1.TitleSource_TITLE_SOURCE_USER
	if err := g.save(next); err != nil {
		return err
	}
	return &actorsv1.AppReply{Entry: next}
}

// appBefore orders entries most recently updated first, then by id.
func appBefore(a, b *actorsv1.AppEntry) int {
	if c := b.GetUpdatedAt().AsTime().Compare(a.GetUpdatedAt().AsTime()); c != 0 {
		return c
	}
	return cmp.Compare(a.GetSessionId(), b.GetSessionId())
}

func (g *appsGrain) list(m *actorsv1.ListApps) proto.Message {
	limit := int(m.GetLimit())
	if limit <= 0 {
		limit = DefaultAppsPage
	}
	limit = min(limit, MaxAppsPage)
	all := make([]*actorsv1.AppEntry, 0, len(g.apps))
	for _, e := range g.apps {
		all = append(all, e)
	}
	slices.SortFunc(all, appBefore)
	start := 0
	if m.GetAfterSessionId() != "" {
		cursor := &actorsv1.AppEntry{SessionId: m.GetAfterSessionId(), UpdatedAt: m.GetAfterUpdatedAt()}
		start, _ = slices.BinarySearchFunc(all, cursor, appBefore)
		if start < len(all) && all[start].GetSessionId() == cursor.GetSessionId() && proto.Equal(all[start].GetUpdatedAt(), cursor.GetUpdatedAt()) {
			start++
		}
	}
	end := min(start+limit, len(all))
	return &actorsv1.ListAppsReply{Entries: all[start:end], More: end < len(all), Total: uint32(len(all))}
}

func (g *appsGrain) remove(id string) proto.Message {
	_, existed := g.apps[id]
	if id == "" {
		return grainErr(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "no session id")
	}
	b := g.ref.Store.NewBatch()
	defer b.Close()
	b.Delete(prefixApp + id)
	b.Put(prefixGone+id, nil)
	if err := b.Commit(); err != nil {
		return grainErr(actorsv1.ErrorCode_ERROR_CODE_INTERNAL, "remove app entry: %v", err)
	}
	delete(g.apps, id)
	g.gone[id] = true
	return &actorsv1.RemoveAppReply{Existed: existed}
}

// TitleFromPrompt is the first line of a prompt, cut to a title's length.
func TitleFromPrompt(prompt string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(prompt), "\n")
	return pipeline.Truncate(line, maxTitleRunes)
}

// appEntry is what the session reports to its owner's index.
func (g *sessionGrain) appEntry(st *actorsv1.SessionState, seq uint64) *actorsv1.AppEntry {
	e := &actorsv1.AppEntry{
		SessionId: st.GetId(), Prompt: pipeline.Truncate(st.GetPrompt(), 300), Phase: st.GetPhase(), Version: st.GetVersions(),
		CreatedAt: st.GetCreatedAt(), UpdatedAt: st.GetUpdatedAt(), Region: st.GetRegion(), Seq: seq,
		ProviderLabel: st.GetProviderLabel(), Visibility: st.GetVisibility(), Owner: st.GetOwner(), ForkedFrom: st.GetForkedFrom(),
		Title: TitleFromPrompt(st.GetPrompt()), TitleSource: actorsv1.TitleSource_TITLE_SOURCE_PROMPT,
	}
	if t := strings.TrimSpace(st.GetBlueprint().GetTitle()); t != "" {
		e.Title, e.TitleSource = pipeline.Truncate(t, maxTitleRunes), actorsv1.TitleSource_TITLE_SOURCE_BLUEPRINT
	}
	return e
}

// reportTimeout bounds one report to an apps index.
const reportTimeout = 10 * time.Second

// reportApp tells the owner's apps index about the session, on a goroutine
// the runtime tracks (a grain must not block its mailbox on another grain).
// Reports carry the log seq, so the index keeps the newest whatever the
// order they arrive in. A report that fails is logged and dropped: the
// next one (every phase change sends one) repairs the entry.
func (g *sessionGrain) reportApp(st *actorsv1.SessionState, seq uint64) {
	if st.GetOwner() == "" {
		return
	}
	entry := g.appEntry(st, seq)
	owner := st.GetOwner()
	if st.GetVisibility() == stichv1.Visibility_VISIBILITY_PUBLIC {
		g.reportGallery(entry)
	}
	g.rt.goBackground(func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, reportTimeout)
		defer cancel()
		if _, err := Call[*actorsv1.UpsertAppReply](ctx, g.rt.Node, KindApps, owner, &actorsv1.UpsertApp{Entry: entry}); err != nil && ctx.Err() == nil {
			g.rt.log.Warn("apps index report failed", "session", entry.GetSessionId(), "owner", owner, "err", err)
		}
	})
}
