package rpc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/audit"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// Sharing: SetVisibility, ListGallery, ForkSession (see actors/social.go
// for where visibility and the gallery live).
//
// What a signed-in user who does not own an unlisted or public app may do
// with it: read it (GetSession, Watch, ListFiles, GetFile, ListVersions,
// DiffVersions, the zip download, the screenshot) and fork it. Never:
// SendMessage, Stop, Resume, Rollback, SaveFile, RenameSession,
// DeleteSession, SetVisibility. Anonymous callers (not signed in) may read
// an unlisted or public app and the gallery, but not fork (policyPublic);
// a private app answers them unauthenticated, as an unknown one does. A
// private app is not_found for every signed-in user but its owner.

// maxForkBytes bounds the files a fork copies: they travel to the new
// session's grain in one message (whose node may be another one).
const maxForkBytes = 3 << 20

func (s *sessionService) SetVisibility(ctx context.Context, req *connect.Request[stichv1.SetVisibilityRequest]) (*connect.Response[stichv1.SetVisibilityResponse], error) {
	const proc = "SetVisibility"
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	id, vis := req.Msg.GetSessionId(), req.Msg.GetVisibility()
	r, err := actors.Call[*actorsv1.SetVisibilityReply](ctx, s.rt.Node, actors.KindSession, id,
		&actorsv1.SetVisibility{Caller: callerOf(ctx), Visibility: vis})
	if err != nil {
		return nil, s.fail(ctx, proc, err)
	}
	// The gallery follows: listed when public, removed otherwise. A
	// failure here is the caller's to retry (the call is idempotent).
	if vis == stichv1.Visibility_VISIBILITY_PUBLIC {
		_, err = actors.Call[*actorsv1.UpsertAppReply](ctx, s.rt.Node, actors.KindGallery, actors.GalleryID,
			&actorsv1.UpsertApp{Entry: r.GetEntry(), Publish: true})
	} else {
		_, err = actors.Call[*actorsv1.RemoveAppReply](ctx, s.rt.Node, actors.KindGallery, actors.GalleryID,
			&actorsv1.RemoveApp{SessionId: id})
	}
	if err != nil {
		return nil, s.fail(ctx, proc, fmt.Errorf("rpc: the app is %s, but the gallery was not updated; retry: %w", vis, err))
	}
	if r.GetPrevious() != vis {
		recordAudit(ctx, s.rt, s.log, AuditEvent{Kind: audit.VisibilityChanged, UserID: owner(ctx),
			Detail: "app " + id + ": " + visibilityName(r.GetPrevious()) + " -> " + visibilityName(vis)})
	}
	return connect.NewResponse(&stichv1.SetVisibilityResponse{Visibility: vis}), nil
}

// visibilityName is the word for v in audit lines.
func visibilityName(v stichv1.Visibility) string {
	switch v {
	case stichv1.Visibility_VISIBILITY_UNLISTED:
		return "unlisted"
	case stichv1.Visibility_VISIBILITY_PUBLIC:
		return "public"
	}
	return "private"
}

func (s *sessionService) ListGallery(ctx context.Context, req *connect.Request[stichv1.ListGalleryRequest]) (*connect.Response[stichv1.ListGalleryResponse], error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	q := &actorsv1.ListApps{Limit: req.Msg.GetPageSize()}
	if tok := req.Msg.GetPageToken(); tok != "" {
		at, id, err := parsePageToken(tok)
		if err != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("page_token is not a token from a previous ListGallery page; start again without one"))
		}
		q.AfterUpdatedAt, q.AfterSessionId = at, id
	}
	r, err := actors.Call[*actorsv1.ListAppsReply](ctx, s.rt.Node, actors.KindGallery, actors.GalleryID, q)
	if err != nil {
		return nil, s.fail(ctx, "ListGallery", err)
	}
	res := &stichv1.ListGalleryResponse{}
	names := map[string]string{}
	for _, e := range r.GetEntries() {
		a := appSummary(e)
		o := e.GetOwner()
		if _, ok := names[o]; !ok {
			names[o] = s.ownerName(ctx, o)
		}
		a.OwnerName = names[o]
		res.Apps = append(res.Apps, a)
	}
	if r.GetMore() && len(r.GetEntries()) > 0 {
		res.NextPageToken = pageToken(r.GetEntries()[len(r.GetEntries())-1])
	}
	return connect.NewResponse(res), nil
}

// ownerNameTTL is how long a node remembers an owner's display name for
// the gallery; ownerNameTimeout bounds asking for one (best effort: the
// gallery is the answer, a name that cannot be read is left out).
const (
	ownerNameTTL     = time.Minute
	ownerNameTimeout = 2 * time.Second
	ownerNamesMax    = 10000
)

type ownerNameEntry struct {
	name  string
	until time.Time
}

// ownerName is the display name of user id for the gallery, from the
// user grain's profile (remembered for ownerNameTTL). Never an e-mail:
// a name that looks like one is left out.
func (s *sessionService) ownerName(ctx context.Context, id string) string {
	if id == "" {
		id = actors.LocalOwner
	}
	now := time.Now()
	s.namesMu.Lock()
	e, ok := s.names[id]
	s.namesMu.Unlock()
	if ok && now.Before(e.until) {
		return e.name
	}
	ctx, cancel := context.WithTimeout(ctx, ownerNameTimeout)
	defer cancel()
	u, err := actors.Call[*actorsv1.UserReply](ctx, s.rt.Node, actors.KindUser, id, &actorsv1.GetUser{})
	if err != nil {
		return ""
	}
	name := strings.TrimSpace(u.GetUser().GetDisplayName())
	if strings.Contains(name, "@") {
		name = ""
	}
	s.namesMu.Lock()
	if s.names == nil || len(s.names) >= ownerNamesMax {
		s.names = map[string]ownerNameEntry{}
	}
	s.names[id] = ownerNameEntry{name: name, until: now.Add(ownerNameTTL)}
	s.namesMu.Unlock()
	return name
}

// ForkSession reads the origin's version as the caller (the origin's
// grain refuses a caller who may not read it), then creates the fork as
// the caller's own private session.
func (s *sessionService) ForkSession(ctx context.Context, req *connect.Request[stichv1.ForkSessionRequest]) (*connect.Response[stichv1.ForkSessionResponse], error) {
	const proc = "ForkSession"
	ctx, cancel := context.WithTimeout(ctx, downloadTimeout)
	defer cancel()
	// A fork is a new session: it counts in the caller's create bucket.
	if err := userLimit(ctx, s.rt, s.log, "create", s.limits.Create, "sessions created (forks count too)"); err != nil {
		return nil, s.fail(ctx, proc, err)
	}
	src := req.Msg.GetSessionId()
	caller := callerOf(ctx)
	snap, err := actors.Call[*actorsv1.SnapshotReply](ctx, s.rt.Node, actors.KindSession, src, &actorsv1.GetSnapshot{Caller: caller})
	if err != nil {
		return nil, s.fail(ctx, proc, err)
	}
	version := req.Msg.GetVersion()
	if version == 0 {
		version = snap.GetSession().GetVersion()
	}
	if version == 0 {
		return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("session %s has no version yet; fork it once its first generation completes", src))
	}
	list, err := actors.Call[*actorsv1.ListFilesReply](ctx, s.rt.Node, actors.KindSession, src, &actorsv1.ListFiles{Caller: caller, Version: version})
	if err != nil {
		return nil, s.fail(ctx, proc, err)
	}
	var total uint64
	for _, f := range list.GetFiles() {
		total += f.GetSize()
	}
	if total > maxForkBytes {
		return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("version %d of session %s holds %d bytes; a fork copies at most %d: download the zip instead", version, src, total, maxForkBytes))
	}
	files := make([]*stichv1.File, 0, len(list.GetFiles()))
	for _, f := range list.GetFiles() {
		rf, err := actors.Call[*actorsv1.ReadFileReply](ctx, s.rt.Node, actors.KindSession, src, &actorsv1.ReadFile{Caller: caller, Path: f.GetPath(), Version: version})
		if err != nil {
			return nil, s.fail(ctx, proc, err)
		}
		files = append(files, rf.GetFile())
	}
	sess := snap.GetSession()
	origin := &stichv1.ForkOrigin{SessionId: src, Version: version, Title: forkTitle(sess)}
	id := s.rt.NewSessionID(s.rt.Region())
	reply, err := actors.Call[*actorsv1.CreateSessionReply](ctx, s.rt.Node, actors.KindSession, id, &actorsv1.ForkSession{
		Caller: caller, Owner: owner(ctx), Prompt: sess.GetPrompt(), Blueprint: sess.GetBlueprint(), Origin: origin, Files: files})
	if err != nil {
		return nil, s.fail(ctx, proc, err)
	}
	now := timestamppb.Now()
	entry := &actorsv1.AppEntry{
		SessionId: id, Prompt: sess.GetPrompt(), Phase: stichv1.Phase_PHASE_COMPLETED, Version: 1, CreatedAt: now, UpdatedAt: now,
		ProviderLabel: reply.GetProviderLabel(), Title: origin.GetTitle(), TitleSource: actorsv1.TitleSource_TITLE_SOURCE_PROMPT,
		Owner: owner(ctx), ForkedFrom: origin,
	}
	if _, err := actors.Call[*actorsv1.UpsertAppReply](ctx, s.rt.Node, actors.KindApps, owner(ctx), &actorsv1.UpsertApp{Entry: entry}); err != nil {
		s.log.WarnContext(ctx, "apps index not updated; the session's own report will retry", "session", id, "err", err)
	}
	s.log.InfoContext(ctx, "session forked", "session", id, "from", src, "version", version, "user", owner(ctx))
	return connect.NewResponse(&stichv1.ForkSessionResponse{SessionId: id, Version: version}), nil
}

// forkTitle is the title a fork starts with: the origin's title.
func forkTitle(s *stichv1.Session) string {
	if t := s.GetTitle(); t != "" {
		return t
	}
	if t := s.GetBlueprint().GetTitle(); t != "" {
		return t
	}
	return actors.TitleFromPrompt(s.GetPrompt())
}
