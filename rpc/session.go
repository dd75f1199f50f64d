package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/stichdev/stich/actors"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
)

// callTimeout bounds each unary grain call made by a handler.
const callTimeout = 15 * time.Second

// titleTimeout bounds GetSession's look-up of the user's title.
const titleTimeout = 2 * time.Second

// compressMinBytes is the smallest message the API compresses (when the
// client accepts gzip): file contents, not session events, which are
// mostly smaller and on the way to a watcher.
const compressMinBytes = 8 << 10

// sessionService implements stich.v1.SessionService on top of the grains.
type sessionService struct {
	rt     *actors.Runtime
	log    *slog.Logger
	limits UserLimits
	// shutdown is done when the server begins shutting down; Watch streams
	// then end with Unavailable so clients reconnect elsewhere.
	shutdown context.Context

	// names remembers owners' display names for the gallery (ownerName).
	namesMu sync.Mutex
	names   map[string]ownerNameEntry
}

var _ stichv1connect.SessionServiceHandler = (*sessionService)(nil)

func (s *sessionService) fail(ctx context.Context, procedure string, err error) error {
	return toConnect(ctx, s.log, procedure, err)
}

func (s *sessionService) CreateSession(ctx context.Context, req *connect.Request[stichv1.CreateSessionRequest]) (*connect.Response[stichv1.CreateSessionResponse], error) {
	const proc = "CreateSession"
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if err := userLimit(ctx, s.rt, s.log, "create", s.limits.Create, "sessions created"); err != nil {
		return nil, s.fail(ctx, proc, err)
	}
	if _, err := s.rt.CheckModelBudget(ctx, owner(ctx)); err != nil {
		return nil, s.fail(ctx, proc, err)
	}
	if p := req.Msg.GetOptions().GetProvider(); p != "" {
		if _, ok := s.rt.Provider(p); !ok {
			return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("provider %q is not configured; run `stich models` to list providers", p))
		}
	}
	region := req.Msg.GetOptions().GetRegion()
	if region == "" {
		region = s.rt.Region()
	}
	id := s.rt.NewSessionID(region)
	reply, err := actors.Call[*actorsv1.CreateSessionReply](ctx, s.rt.Node, actors.KindSession, id,
		&actorsv1.CreateSession{Caller: callerOf(ctx), Prompt: req.Msg.GetPrompt(), Options: req.Msg.GetOptions(), Owner: owner(ctx)})
	if err != nil {
		return nil, s.fail(ctx, proc, err)
	}
	s.registerApp(ctx, id, req.Msg.GetPrompt(), reply.GetProviderLabel())
	s.log.InfoContext(ctx, "session created", "session", id, "provider", reply.GetProviderLabel())
	return connect.NewResponse(&stichv1.CreateSessionResponse{SessionId: id, ProviderLabel: reply.GetProviderLabel()}), nil
}

func (s *sessionService) Watch(ctx context.Context, req *connect.Request[stichv1.WatchRequest], stream *connect.ServerStream[stichv1.SessionEvent]) error {
	// End the stream when the server shuts down, not only when the client
	// goes away.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.shutdown, cancel)
	defer stop()
	var last uint64 = req.Msg.GetAfterSeq()
	err := s.rt.Watch(wctx, callerOf(ctx), req.Msg.GetSessionId(), req.Msg.GetAfterSeq(), req.Msg.GetUntilIdle(), func(ev *stichv1.SessionEvent) error {
		if err := stream.Send(ev); err != nil {
			return err
		}
		last = max(last, ev.GetSeq()) // a LogCompacted notice has seq 0
		return nil
	})
	if s.shutdown.Err() != nil && ctx.Err() == nil {
		return connect.NewError(connect.CodeUnavailable, fmt.Errorf("node is shutting down; reconnect with after_seq=%d", last))
	}
	if err != nil && ctx.Err() != nil {
		return nil // the client went away
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return err
	}
	return s.fail(ctx, "Watch", err)
}

func (s *sessionService) SendMessage(ctx context.Context, req *connect.Request[stichv1.SendMessageRequest]) (*connect.Response[stichv1.SendMessageResponse], error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if err := userLimit(ctx, s.rt, s.log, "message", s.limits.Message, "messages sent"); err != nil {
		return nil, s.fail(ctx, "SendMessage", err)
	}
	if _, err := s.rt.CheckModelBudget(ctx, owner(ctx)); err != nil {
		return nil, s.fail(ctx, "SendMessage", err)
	}
	r, err := actors.Call[*actorsv1.PostMessageReply](ctx, s.rt.Node, actors.KindSession, req.Msg.GetSessionId(), &actorsv1.PostMessage{Caller: callerOf(ctx), Text: req.Msg.GetText(), IdempotencyKey: req.Msg.GetIdempotencyKey()})
	if err != nil {
		return nil, s.fail(ctx, "SendMessage", err)
	}
	return connect.NewResponse(&stichv1.SendMessageResponse{Seq: r.GetSeq(), Epoch: r.GetEpoch(), Node: r.GetNode()}), nil
}

func (s *sessionService) Stop(ctx context.Context, req *connect.Request[stichv1.StopRequest]) (*connect.Response[stichv1.StopResponse], error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	r, err := actors.Call[*actorsv1.PhaseReply](ctx, s.rt.Node, actors.KindSession, req.Msg.GetSessionId(), &actorsv1.StopSession{Caller: callerOf(ctx)})
	if err != nil {
		return nil, s.fail(ctx, "Stop", err)
	}
	return connect.NewResponse(&stichv1.StopResponse{Phase: r.GetPhase()}), nil
}

func (s *sessionService) Resume(ctx context.Context, req *connect.Request[stichv1.ResumeRequest]) (*connect.Response[stichv1.ResumeResponse], error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	r, err := actors.Call[*actorsv1.PhaseReply](ctx, s.rt.Node, actors.KindSession, req.Msg.GetSessionId(), &actorsv1.ResumeSession{Caller: callerOf(ctx)})
	if err != nil {
		return nil, s.fail(ctx, "Resume", err)
	}
	return connect.NewResponse(&stichv1.ResumeResponse{Phase: r.GetPhase()}), nil
}

func (s *sessionService) GetSession(ctx context.Context, req *connect.Request[stichv1.GetSessionRequest]) (*connect.Response[stichv1.GetSessionResponse], error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	r, err := actors.Call[*actorsv1.SnapshotReply](ctx, s.rt.Node, actors.KindSession, req.Msg.GetSessionId(), &actorsv1.GetSnapshot{Caller: callerOf(ctx)})
	if err != nil {
		return nil, s.fail(ctx, "GetSession", err)
	}
	sess := r.GetSession()
	if !sess.GetOwned() {
		// A reader sees whose app it is (a display name, never an e-mail).
		sess.OwnerName = s.ownerName(ctx, r.GetOwner())
	}
	if anonymous(ctx) {
		return connect.NewResponse(&stichv1.GetSessionResponse{Session: sess}), nil
	}
	// The user's title, if any, from the apps index. Best effort: the
	// snapshot is the answer; an index that cannot be reached only leaves
	// the title out.
	tctx, tcancel := context.WithTimeout(ctx, titleTimeout)
	app, err := actors.Call[*actorsv1.AppReply](tctx, s.rt.Node, actors.KindApps, owner(ctx), &actorsv1.GetApp{SessionId: sess.GetId()})
	tcancel()
	if err == nil && app.GetEntry().GetTitleSource() == actorsv1.TitleSource_TITLE_SOURCE_USER {
		sess.Title = app.GetEntry().GetTitle()
	}
	return connect.NewResponse(&stichv1.GetSessionResponse{Session: sess}), nil
}

func (s *sessionService) GetFile(ctx context.Context, req *connect.Request[stichv1.GetFileRequest]) (*connect.Response[stichv1.GetFileResponse], error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	r, err := actors.Call[*actorsv1.ReadFileReply](ctx, s.rt.Node, actors.KindSession, req.Msg.GetSessionId(), &actorsv1.ReadFile{Caller: callerOf(ctx), Path: req.Msg.GetPath(), Version: req.Msg.GetVersion()})
	if err != nil {
		return nil, s.fail(ctx, "GetFile", err)
	}
	return connect.NewResponse(&stichv1.GetFileResponse{File: r.GetFile()}), nil
}

func (s *sessionService) ListFiles(ctx context.Context, req *connect.Request[stichv1.ListFilesRequest]) (*connect.Response[stichv1.ListFilesResponse], error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	r, err := actors.Call[*actorsv1.ListFilesReply](ctx, s.rt.Node, actors.KindSession, req.Msg.GetSessionId(), &actorsv1.ListFiles{Caller: callerOf(ctx)})
	if err != nil {
		return nil, s.fail(ctx, "ListFiles", err)
	}
	return connect.NewResponse(&stichv1.ListFilesResponse{Files: r.GetFiles()}), nil
}

func (s *sessionService) ListVersions(ctx context.Context, req *connect.Request[stichv1.ListVersionsRequest]) (*connect.Response[stichv1.ListVersionsResponse], error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	r, err := actors.Call[*actorsv1.ListVersionsReply](ctx, s.rt.Node, actors.KindSession, req.Msg.GetSessionId(), &actorsv1.ListVersions{Caller: callerOf(ctx)})
	if err != nil {
		return nil, s.fail(ctx, "ListVersions", err)
	}
	return connect.NewResponse(&stichv1.ListVersionsResponse{Versions: r.GetVersions()}), nil
}

func (s *sessionService) DiffVersions(ctx context.Context, req *connect.Request[stichv1.DiffVersionsRequest]) (*connect.Response[stichv1.DiffVersionsResponse], error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	r, err := actors.Call[*actorsv1.DiffVersionsReply](ctx, s.rt.Node, actors.KindSession, req.Msg.GetSessionId(),
		&actorsv1.DiffVersions{Caller: callerOf(ctx), From: req.Msg.GetFrom(), To: req.Msg.GetTo()})
	if err != nil {
		return nil, s.fail(ctx, "DiffVersions", err)
	}
	return connect.NewResponse(&stichv1.DiffVersionsResponse{Files: r.GetFiles()}), nil
}

func (s *sessionService) Rollback(ctx context.Context, req *connect.Request[stichv1.RollbackRequest]) (*connect.Response[stichv1.RollbackResponse], error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	r, err := actors.Call[*actorsv1.RollbackReply](ctx, s.rt.Node, actors.KindSession, req.Msg.GetSessionId(), &actorsv1.RollbackSession{Caller: callerOf(ctx), Version: req.Msg.GetVersion()})
	if err != nil {
		return nil, s.fail(ctx, "Rollback", err)
	}
	return connect.NewResponse(&stichv1.RollbackResponse{Version: r.GetVersion()}), nil
}

func (s *sessionService) SaveFile(ctx context.Context, req *connect.Request[stichv1.SaveFileRequest]) (*connect.Response[stichv1.SaveFileResponse], error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if err := userLimit(ctx, s.rt, s.log, "save", s.limits.Save, "file saves"); err != nil {
		return nil, s.fail(ctx, "SaveFile", err)
	}
	r, err := actors.Call[*actorsv1.SaveFileReply](ctx, s.rt.Node, actors.KindSession, req.Msg.GetSessionId(),
		&actorsv1.SaveFile{Caller: callerOf(ctx), Path: req.Msg.GetPath(), Content: req.Msg.GetContent(), BaseSha256: req.Msg.GetBaseSha256()})
	if err != nil {
		return nil, s.fail(ctx, "SaveFile", err)
	}
	return connect.NewResponse(&stichv1.SaveFileResponse{Version: r.GetVersion()}), nil
}

// FixProblems asks the session to run the fixer on its current files. The
// check itself counts in the owner's build bucket (in the grain, as every
// build does); its outcome arrives in the log as a change card.
func (s *sessionService) FixProblems(ctx context.Context, req *connect.Request[stichv1.FixProblemsRequest]) (*connect.Response[stichv1.FixProblemsResponse], error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if _, err := actors.Call[*actorsv1.FixProblemsReply](ctx, s.rt.Node, actors.KindSession, req.Msg.GetSessionId(),
		&actorsv1.FixProblems{Caller: callerOf(ctx)}); err != nil {
		return nil, s.fail(ctx, "FixProblems", err)
	}
	return connect.NewResponse(&stichv1.FixProblemsResponse{}), nil
}

// clientIP returns the host part of a peer address.
func clientIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	if addr == "" {
		return "unknown"
	}
	return addr
}
