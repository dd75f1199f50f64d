package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/audit"
	"github.com/stichdev/stich/auth"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// The audit log (see package audit for the kinds and retention):
//
//  1. Every security event is logged at once (one "security event" line
//     whose "audit" attribute is the kind) and queued for the durable
//     logs: the account's own (its last audit.UserLogMax events, read by
//     ListMyAuditEvents and the account page) and the cluster's (the last
//     audit.ClusterLogMax, read by admins with ListAuditEvents).
//  2. An event names an account (UserID) only when the account is known
//     to exist: a refused key or link naming some user id does not make
//     that id an audit log (the id it claimed is in the detail instead).
//  3. The client address and, when someone acts on another's account, the
//     acting user come from the request's context.

// AuditEvent is a security event to record with [Server.Audit].
type AuditEvent struct {
	// Kind is one of package audit's kinds (audit.VisibilityChanged ...).
	Kind string
	// UserID is the account the event concerns (the app's owner for a
	// visibility change); "" when none is known to exist.
	UserID string
	// Email is the account's or the attempted e-mail, if known.
	Email string
	// Method is how the caller proved who it is, when that matters
	// ("password", "oauth:github", "api-key", "browser").
	Method string
	// Detail says what happened, for people, without secrets
	// ("app s-abc: private -> public").
	Detail string
}

// Audit records a security event (see the rules above). It never blocks
// and never fails the request: a durable write that fails is logged.
//
// Other handlers call it for their own events, for example:
//
//	s.Audit(ctx, rpc.AuditEvent{Kind: audit.VisibilityChanged, UserID: owner,
//		Detail: "app " + id + ": private -> public"})
func (s *Server) Audit(ctx context.Context, ev AuditEvent) {
	recordAudit(ctx, s.rt, s.log, ev)
}

// recordAudit is [Server.Audit] for the parts of the edge that hold the
// runtime and logger but not the server.
func recordAudit(ctx context.Context, rt *actors.Runtime, log *slog.Logger, ev AuditEvent) {
	e := &actorsv1.AuditEvent{Kind: ev.Kind, UserId: ev.UserID, Email: ev.Email, Client: ClientAddr(ctx), Method: ev.Method, Detail: ev.Detail}
	if p := auth.FromContext(ctx); p != nil && p.UserID != ev.UserID {
		e.ActorId = p.UserID
	}
	log.LogAttrs(ctx, slog.LevelInfo, "security event", slog.String("audit", e.Kind), slog.String("client", e.Client),
		slog.String("user", e.UserId), slog.String("email", e.Email), slog.String("actor", e.ActorId),
		slog.String("method", e.Method), slog.String("detail", e.Detail))
	if rt != nil {
		rt.Audit(e)
	}
}

// auditView is the public view of an audit event.
func auditView(e *actorsv1.AuditEvent) *stichv1.AuditEvent {
	return &stichv1.AuditEvent{Id: e.GetSeq(), At: e.GetAt(), Kind: e.GetKind(), UserId: e.GetUserId(), Email: e.GetEmail(),
		ActorId: e.GetActorId(), Client: e.GetClient(), Method: e.GetMethod(), Detail: e.GetDetail(), Count: e.GetCount()}
}

// auditCursor parses a page token of the audit listings (a seq; "" the
// newest).
func auditCursor(token string) (uint64, error) {
	if token == "" {
		return 0, nil
	}
	seq, err := strconv.ParseUint(token, 10, 64)
	if err != nil || seq == 0 {
		return 0, connect.NewError(connect.CodeInvalidArgument, errors.New("page_token is not one this server gave"))
	}
	return seq, nil
}

func auditPage(r *actorsv1.ListAuditReply) *stichv1.ListAuditEventsResponse {
	res := &stichv1.ListAuditEventsResponse{}
	for _, e := range r.GetEvents() {
		res.Events = append(res.Events, auditView(e))
	}
	if n := r.GetNextBeforeSeq(); n > 0 {
		res.NextPageToken = strconv.FormatUint(n, 10)
	}
	return res
}

func (a *accountService) ListMyAuditEvents(ctx context.Context, req *connect.Request[stichv1.ListMyAuditEventsRequest]) (*connect.Response[stichv1.ListAuditEventsResponse], error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	before, err := auditCursor(req.Msg.GetPageToken())
	if err != nil {
		return nil, err
	}
	p := auth.FromContext(ctx)
	r, err := actors.ListAudit(ctx, a.s.rt.Node, p.UserID, &actorsv1.ListAudit{BeforeSeq: before, Limit: req.Msg.GetPageSize()})
	if err != nil {
		return nil, a.fail(ctx, "ListMyAuditEvents", err)
	}
	return connect.NewResponse(auditPage(r)), nil
}

func (a *accountService) ListAuditEvents(ctx context.Context, req *connect.Request[stichv1.ListAuditEventsRequest]) (*connect.Response[stichv1.ListAuditEventsResponse], error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	before, err := auditCursor(req.Msg.GetPageToken())
	if err != nil {
		return nil, err
	}
	q := &actorsv1.ListAudit{BeforeSeq: before, Limit: req.Msg.GetPageSize(), Kinds: req.Msg.GetKinds()}
	if user := strings.TrimSpace(req.Msg.GetUser()); strings.Contains(user, "@") {
		// An e-mail: its events name it, or the account that holds it.
		q.Email = user
		if u, err := actors.FindAccount(ctx, a.s.rt.Node, user); err == nil {
			q.UserId = u.GetId()
		} else if !actors.IsNotFound(err) {
			return nil, a.fail(ctx, "ListAuditEvents", err)
		}
	} else {
		q.UserId = user
	}
	r, err := actors.ListAudit(ctx, a.s.rt.Node, actors.AuditCluster, q)
	if err != nil {
		return nil, a.fail(ctx, "ListAuditEvents", err)
	}
	return connect.NewResponse(auditPage(r)), nil
}

// userSummary is the admin page's view of an index entry.
func userSummary(e *actorsv1.UserEntry) *stichv1.UserSummary {
	role := "user"
	if e.GetRole() == actorsv1.UserRole_USER_ROLE_ADMIN {
		role = "admin"
	}
	return &stichv1.UserSummary{UserId: e.GetUserId(), Email: e.GetEmail(), DisplayName: e.GetDisplayName(), Role: role,
		CreatedAt: e.GetCreatedAt(), EmailVerified: e.GetEmailVerified(), Disabled: e.GetDisabled(), LastSignInAt: e.GetLastSignInAt()}
}

// usersToken is the ListUsers cursor: the last entry's creation time (Unix
// nanoseconds) and id.
func usersToken(e *actorsv1.UserEntry) string {
	return strconv.FormatInt(e.GetCreatedAt().AsTime().UnixNano(), 10) + "." + e.GetUserId()
}

func (a *accountService) ListUsers(ctx context.Context, req *connect.Request[stichv1.ListUsersRequest]) (*connect.Response[stichv1.ListUsersResponse], error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	q := &actorsv1.ListUserEntries{Limit: req.Msg.GetPageSize(), Query: req.Msg.GetQuery()}
	if tok := req.Msg.GetPageToken(); tok != "" {
		ns, id, ok := strings.Cut(tok, ".")
		n, err := strconv.ParseInt(ns, 10, 64)
		if !ok || err != nil || !auth.ValidUserID(id) {
			return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("page_token is not one this server gave"))
		}
		q.AfterUserId = id
		q.AfterCreatedAt = timestamppb.New(time.Unix(0, n))
	}
	r, err := actors.ListUsers(ctx, a.s.rt.Node, q)
	if err != nil {
		return nil, a.fail(ctx, "ListUsers", err)
	}
	res := &stichv1.ListUsersResponse{Total: r.GetTotal()}
	for _, e := range r.GetEntries() {
		res.Users = append(res.Users, userSummary(e))
	}
	if r.GetMore() && len(r.GetEntries()) > 0 {
		res.NextPageToken = usersToken(r.GetEntries()[len(r.GetEntries())-1])
	}
	return connect.NewResponse(res), nil
}

func (a *accountService) SetUserDisabled(ctx context.Context, req *connect.Request[stichv1.SetUserDisabledRequest]) (*connect.Response[stichv1.SetUserDisabledResponse], error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	p := auth.FromContext(ctx)
	id := req.Msg.GetUserId()
	if id == p.UserID {
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("you cannot disable your own account"))
	}
	r, err := actors.Call[*actorsv1.UserReply](ctx, a.s.rt.Node, actors.KindUser, id, &actorsv1.SetUserDisabled{Disabled: req.Msg.GetDisabled()})
	if actors.IsNotFound(err) {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("no account %s", id))
	}
	if err != nil {
		return nil, a.fail(ctx, "SetUserDisabled", err)
	}
	// NB: this node refuses the account's keys at once; other nodes within
	// keyCacheTTL (their cached verifications expire).
	a.s.auth.forgetUser(id)
	kind := audit.AccountEnabled
	if req.Msg.GetDisabled() {
		kind = audit.AccountDisabled
	}
	a.s.Audit(ctx, AuditEvent{Kind: kind, UserID: id, Email: r.GetUser().GetEmail()})
	u := r.GetUser()
	return connect.NewResponse(&stichv1.SetUserDisabledResponse{User: userSummary(&actorsv1.UserEntry{UserId: u.GetId(), Email: u.GetEmail(),
		DisplayName: u.GetDisplayName(), Role: u.GetRole(), CreatedAt: u.GetCreatedAt(), EmailVerified: u.GetEmailVerified(),
		Disabled: u.GetDisabled(), LastSignInAt: u.GetLastSignInAt()})}), nil
}
