package rpc

import (
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stichdev/stich/actors"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

func appSummary(e *actorsv1.AppEntry) *stichv1.AppSummary {
	return &stichv1.AppSummary{
		SessionId: e.GetSessionId(), Title: e.GetTitle(), Prompt: e.GetPrompt(), Phase: e.GetPhase(),
		Version: e.GetVersion(), CreatedAt: e.GetCreatedAt(), UpdatedAt: e.GetUpdatedAt(), Region: e.GetRegion(),
		ProviderLabel: e.GetProviderLabel(),
	}
}

// errBadPageToken reports a page token this server did not issue.
var errBadPageToken = errors.New("page_token is not a token from a previous ListSessions page; start again without one")

// pageToken encodes the cursor after entry e: its update time and id.
func pageToken(e *actorsv1.AppEntry) string {
	raw := strconv.FormatInt(e.GetUpdatedAt().AsTime().UnixNano(), 10) + "." + e.GetSessionId()
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func parsePageToken(tok string) (*timestamppb.Timestamp, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return nil, "", errBadPageToken
	}
	nanos, id, ok := strings.Cut(string(raw), ".")
	n, err := strconv.ParseInt(nanos, 10, 64)
	if !ok || err != nil || !sessionIDPattern.MatchString(id) {
		return nil, "", errBadPageToken
	}
	return timestamppb.New(time.Unix(0, n)), id, nil
}

func (s *sessionService) ListSessions(ctx context.Context, req *connect.Request[stichv1.ListSessionsRequest]) (*connect.Response[stichv1.ListSessionsResponse], error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	q := &actorsv1.ListApps{Limit: req.Msg.GetPageSize()}
	if tok := req.Msg.GetPageToken(); tok != "" {
		at, id, err := parsePageToken(tok)
		if err != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, err)
		}
		q.AfterUpdatedAt, q.AfterSessionId = at, id
	}
	r, err := actors.Call[*actorsv1.ListAppsReply](ctx, s.rt.Node, actors.KindApps, owner(ctx), q)
	if err != nil {
		return nil, s.fail(ctx, "ListSessions", err)
	}
	res := &stichv1.ListSessionsResponse{Total: r.GetTotal()}
	for _, e := range r.GetEntries() {
		res.Apps = append(res.Apps, appSummary(e))
	}
	if r.GetMore() && len(r.GetEntries()) > 0 {
		res.NextPageToken = pageToken(r.GetEntries()[len(r.GetEntries())-1])
	}
	return connect.NewResponse(res), nil
}

func (s *sessionService) RenameSession(ctx context.Context, req *connect.Request[stichv1.RenameSessionRequest]) (*connect.Response[stichv1.RenameSessionResponse], error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	r, err := actors.Call[*actorsv1.AppReply](ctx, s.rt.Node, actors.KindApps, owner(ctx),
		&actorsv1.RenameApp{SessionId: req.Msg.GetSessionId(), Title: req.Msg.GetTitle()})
	if err != nil {
		return nil, s.fail(ctx, "RenameSession", err)
	}
	return connect.NewResponse(&stichv1.RenameSessionResponse{App: appSummary(r.GetEntry())}), nil
}

// DeleteSession deletes the session's grain storage first, then its index
// entry (which also stops late reports from re-listing it). A retry after
// a partial failure completes the deletion; only an id that neither the
// session nor the index knows answers NotFound.
func (s *sessionService) DeleteSession(ctx context.Context, req *connect.Request[stichv1.DeleteSessionRequest]) (*connect.Response[stichv1.DeleteSessionResponse], error) {
	const proc = "DeleteSession"
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	id := req.Msg.GetSessionId()
	_, err := actors.Call[*actorsv1.DeleteSessionReply](ctx, s.rt.Node, actors.KindSession, id, &actorsv1.DeleteSession{Caller: callerOf(ctx)})
	var ae *actors.Error
	missing := errors.As(err, &ae) && ae.Code == actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND
	if err != nil && !missing {
		return nil, s.fail(ctx, proc, err)
	}
	r, err := actors.Call[*actorsv1.RemoveAppReply](ctx, s.rt.Node, actors.KindApps, owner(ctx), &actorsv1.RemoveApp{SessionId: id})
	if err != nil {
		return nil, s.fail(ctx, proc, err)
	}
	if missing && !r.GetExisted() {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("session "+id+" does not exist"))
	}
	// Its build workspace and preview go too. The session is already
	// deleted: a sandbox that cannot be reached now frees itself when idle.
	if _, err := actors.Call[*actorsv1.SandboxCancelAck](ctx, s.rt.Node, actors.KindSandbox, id, &actorsv1.SandboxCancel{Free: true}); err != nil {
		s.log.WarnContext(ctx, "free the deleted session's sandbox", "session", id, "err", err)
	}
	s.log.InfoContext(ctx, "session deleted", "session", id)
	return connect.NewResponse(&stichv1.DeleteSessionResponse{}), nil
}

// registerApp lists a new session in its owner's index before
// CreateSession answers, so the creator's next ListSessions shows it. The
// session grain reports the same and later changes too; this entry has seq
// 0 and never overrides a report.
func (s *sessionService) registerApp(ctx context.Context, id, prompt, label string) {
	now := timestamppb.Now()
	entry := &actorsv1.AppEntry{
		SessionId: id, Prompt: prompt, Phase: stichv1.Phase_PHASE_PLANNING, CreatedAt: now, UpdatedAt: now,
		ProviderLabel: label, Title: actors.TitleFromPrompt(prompt), TitleSource: actorsv1.TitleSource_TITLE_SOURCE_PROMPT,
	}
	if _, err := actors.Call[*actorsv1.UpsertAppReply](ctx, s.rt.Node, actors.KindApps, owner(ctx), &actorsv1.UpsertApp{Entry: entry}); err != nil {
		s.log.WarnContext(ctx, "apps index not updated; the session's own report will retry", "session", id, "err", err)
	}
}
