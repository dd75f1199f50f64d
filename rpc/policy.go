package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/audit"
	"github.com/stichdev/stich/auth"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
	"github.com/stichdev/stich/ratelimit"
)

// policy is who may call a procedure.
type policy int

const (
	// policyUser admits any signed-in user.
	policyUser policy = iota + 1
	// policyOwner admits the owner of the session the request names (its
	// session_id field); anyone else gets the not_found an unknown id gets.
	policyOwner
	// policyAdmin admits users with the admin role.
	policyAdmin
	// policyAnyone admits anonymous callers too (sign-up and sign-in);
	// presented credentials that are refused still fail the call.
	policyAnyone
	// policyReader admits the owner of the session the request names, and
	// any other signed-in user when the session is unlisted or public
	// (the session grain decides, and checks again on every message);
	// anyone else gets not_found.
	policyReader
	// policyPublic is policyReader that also admits anonymous callers:
	// they may read an unlisted or public session (the session grain
	// checks again, as an anonymous caller that may only read); a private
	// or unknown session answers them unauthenticated, as every call of
	// theirs did before (the two are indistinguishable). A request that
	// names no session (the gallery) is open to anyone. Anonymous calls
	// count in a per-address bucket ([Config.AnonymousReadLimit]).
	policyPublic
)

// policies lists every procedure the server mounts. A procedure missing
// here is refused for everyone (and TestEveryRouteHasAPolicy fails).
var policies = map[string]policy{
	stichv1connect.AdminServiceGetServerInfoProcedure:    policyUser,
	stichv1connect.AdminServiceGetClusterStatusProcedure: policyAdmin,
	stichv1connect.AdminServiceLeaveProcedure:            policyAdmin,
	stichv1connect.AdminServiceForgetMemberProcedure:     policyAdmin,

	stichv1connect.AccountServiceSignUpProcedure:               policyAnyone,
	stichv1connect.AccountServiceSignInProcedure:               policyAnyone,
	stichv1connect.AccountServiceVerifyEmailProcedure:          policyAnyone,
	stichv1connect.AccountServiceRequestPasswordResetProcedure: policyAnyone,
	stichv1connect.AccountServiceResetPasswordProcedure:        policyAnyone,
	stichv1connect.AccountServiceGetAccountProcedure:           policyUser,
	stichv1connect.AccountServiceUpdateProfileProcedure:        policyUser,
	stichv1connect.AccountServiceListCredentialsProcedure:      policyUser,
	stichv1connect.AccountServiceCreateAPIKeyProcedure:         policyUser,
	stichv1connect.AccountServiceRevokeAPIKeyProcedure:         policyUser,
	stichv1connect.AccountServiceSignOutEverywhereProcedure:    policyUser,
	stichv1connect.AccountServiceCreateInviteProcedure:         policyAdmin,
	stichv1connect.AccountServiceSetUserRoleProcedure:          policyAdmin,
	stichv1connect.AccountServiceListMyAuditEventsProcedure:    policyUser,
	stichv1connect.AccountServiceListAuditEventsProcedure:      policyAdmin,
	stichv1connect.AccountServiceListUsersProcedure:            policyAdmin,
	stichv1connect.AccountServiceSetUserDisabledProcedure:      policyAdmin,
	stichv1connect.AccountServiceSetModelKeyProcedure:          policyUser,
	stichv1connect.AccountServiceClearModelKeyProcedure:        policyUser,
	stichv1connect.AccountServiceListModelKeysProcedure:        policyUser,
	stichv1connect.AccountServiceSetDefaultModelKeyProcedure:   policyUser,

	stichv1connect.SessionServiceCreateSessionProcedure: policyUser,
	stichv1connect.SessionServiceListSessionsProcedure:  policyUser,
	stichv1connect.SessionServiceWatchProcedure:         policyPublic,
	stichv1connect.SessionServiceSendMessageProcedure:   policyOwner,
	stichv1connect.SessionServiceStopProcedure:          policyOwner,
	stichv1connect.SessionServiceResumeProcedure:        policyOwner,
	stichv1connect.SessionServiceGetSessionProcedure:    policyPublic,
	stichv1connect.SessionServiceGetFileProcedure:       policyPublic,
	stichv1connect.SessionServiceListFilesProcedure:     policyPublic,
	stichv1connect.SessionServiceListVersionsProcedure:  policyPublic,
	stichv1connect.SessionServiceDiffVersionsProcedure:  policyPublic,
	stichv1connect.SessionServiceRollbackProcedure:      policyOwner,
	stichv1connect.SessionServiceSaveFileProcedure:      policyOwner,
	stichv1connect.SessionServiceFixProblemsProcedure:   policyOwner,
	stichv1connect.SessionServiceRenameSessionProcedure: policyOwner,
	stichv1connect.SessionServiceDeleteSessionProcedure: policyOwner,
	stichv1connect.SessionServiceSetVisibilityProcedure: policyOwner,
	stichv1connect.SessionServiceListGalleryProcedure:   policyPublic,
	stichv1connect.SessionServiceForkSessionProcedure:   policyReader,
}

// ownersCacheTTL is how long a confirmed (user, session) ownership is
// remembered. Ownership never changes hands; a deleted session answers
// not_found from its grain whatever the cache says.
const (
	ownersCacheTTL = 30 * time.Second
	ownersCacheMax = 10000
)

// authorizer applies [policies] to every call, as a Connect interceptor.
type authorizer struct {
	rt  *actors.Runtime
	log *slog.Logger

	// anonRead limits the calls of anonymous callers per client address
	// (a zero Limit: none).
	anonRead ratelimit.Rule

	mu     sync.Mutex
	owners map[[2]string]time.Time // (user, session) -> until
}

func newAuthorizer(rt *actors.Runtime, log *slog.Logger) *authorizer {
	return &authorizer{rt: rt, log: log, owners: map[[2]string]time.Time{}}
}

var (
	errSignIn = connect.NewError(connect.CodeUnauthenticated,
		errors.New("sign in first: open the sign-in link the node printed, or pass an API key (--token, STICH_TOKEN or `stich login`)"))
	errAdminOnly = connect.NewError(connect.CodePermissionDenied, errors.New("this call needs the admin role"))
)

// admit decides a call before its message is read.
func (z *authorizer) admit(ctx context.Context, procedure string) (*auth.Principal, policy, error) {
	pol, ok := policies[procedure]
	if !ok {
		return nil, 0, connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%s has no access policy", procedure))
	}
	if e := authFailure(ctx); e != nil {
		return nil, pol, e
	}
	p := auth.FromContext(ctx)
	switch {
	case p == nil && pol == policyAnyone:
		return nil, pol, nil
	case p == nil && pol == policyPublic:
		return nil, pol, z.anonymousLimit(ctx)
	case p == nil:
		return nil, pol, errSignIn
	case pol == policyAdmin && !p.IsAdmin():
		recordAudit(ctx, z.rt, z.log, AuditEvent{Kind: audit.AdminDenied, UserID: p.UserID, Method: p.Via, Detail: procedure})
		return nil, pol, errAdminOnly
	}
	return p, pol, nil
}

// checkOwner answers not_found unless p owns the session msg names (or,
// for a [policyReader] procedure, may read it).
func (z *authorizer) checkOwner(ctx context.Context, p *auth.Principal, msg any, pol policy) error {
	if p == nil && pol != policyPublic {
		return errSignIn
	}
	m, ok := msg.(proto.Message)
	if !ok {
		return connect.NewError(connect.CodeInternal, errors.New("rpc: not a protobuf message"))
	}
	r := m.ProtoReflect()
	fd := r.Descriptor().Fields().ByName("session_id")
	if fd == nil && pol == policyPublic {
		return nil // names no session: the gallery
	}
	if fd == nil || fd.Kind() != protoreflect.StringKind {
		return connect.NewError(connect.CodeInternal, fmt.Errorf("rpc: %s has no session_id", r.Descriptor().FullName()))
	}
	id := r.Get(fd).String()
	if !sessionIDPattern.MatchString(id) {
		return nil // the validator refuses it, the same for everyone
	}
	if pol == policyReader || pol == policyPublic {
		return z.mayRead(ctx, p, id)
	}
	return z.owns(ctx, p.UserID, id)
}

// mayRead answers nil when p (nil: an anonymous caller) may read session
// id: see [authorizer.reads] and [authorizer.readsAnonymously].
func (z *authorizer) mayRead(ctx context.Context, p *auth.Principal, id string) error {
	if p == nil {
		return z.readsAnonymously(ctx, id)
	}
	return z.reads(ctx, p, id)
}

// readsAnonymously answers nil when session id is unlisted or public,
// else the unauthenticated every anonymous call got before anonymous
// reading (a private session and an unknown one answer alike). The
// session grain decides, asked as an anonymous caller.
func (z *authorizer) readsAnonymously(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	_, err := actors.Call[*actorsv1.SnapshotReply](ctx, z.rt.Node, actors.KindSession, id,
		&actorsv1.GetSnapshot{Caller: actors.AnonymousCaller()})
	switch {
	case actors.IsNotFound(err):
		return errSignIn
	case err != nil:
		return connect.NewError(connect.CodeUnavailable, errors.New("the session's visibility cannot be checked now; retry"))
	}
	return nil
}

// anonymousLimit counts one anonymous call in the bucket of the client's
// address ("anon:ip:ADDR"); resource_exhausted with the retry delay when
// it is full. Refusals are not audited: a flood of them would be a flood
// of audit writes.
func (z *authorizer) anonymousLimit(ctx context.Context) error {
	if z.anonRead.Limit == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	d, err := actors.Call[*actorsv1.RateLimitReply](ctx, z.rt.Node, actors.KindRateLimit, "anon:ip:"+ClientAddr(ctx),
		&actorsv1.RateLimitCheck{Rule: z.anonRead.Proto(), Cost: 1})
	if err != nil {
		return connect.NewError(connect.CodeUnavailable, errors.New("the request cannot be counted now; retry"))
	}
	if d.GetAllowed() {
		return nil
	}
	after := time.Duration(d.GetRetryAfterMs()) * time.Millisecond
	return retryable(connect.NewError(connect.CodeResourceExhausted,
		fmt.Errorf("too many requests from this address without signing in (%s limit); retry in %s, or sign in", d.GetLimitedBy(), after.Round(time.Second))), after)
}

// reads answers nil when p owns session id or may read it (it is
// unlisted or public), else the not_found an unknown session gets. The
// session grain decides who may read; it checks again on every message.
func (z *authorizer) reads(ctx context.Context, p *auth.Principal, id string) error {
	err := z.owns(ctx, p.UserID, id)
	var ce *connect.Error
	if err == nil || !errors.As(err, &ce) || ce.Code() != connect.CodeNotFound {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	// NB: asked as a plain user: the edge grants admins nothing over
	// other users' sessions (the grain would let an admin read any).
	_, gerr := actors.Call[*actorsv1.SnapshotReply](ctx, z.rt.Node, actors.KindSession, id,
		&actorsv1.GetSnapshot{Caller: actors.UserCaller(p.UserID, false)})
	var ae *actors.Error
	switch {
	case errors.As(gerr, &ae) && ae.Code == actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND:
		return err
	case gerr != nil:
		return connect.NewError(connect.CodeUnavailable, errors.New("the session's visibility cannot be checked now; retry"))
	}
	return nil
}

// owns answers nil when userID's apps index lists session id, else the
// not_found an unknown session gets.
func (z *authorizer) owns(ctx context.Context, userID, id string) error {
	key := [2]string{userID, id}
	now := time.Now()
	z.mu.Lock()
	until, ok := z.owners[key]
	z.mu.Unlock()
	if ok && now.Before(until) {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	_, err := actors.Call[*actorsv1.AppReply](ctx, z.rt.Node, actors.KindApps, userID, &actorsv1.GetApp{SessionId: id})
	var ae *actors.Error
	switch {
	case errors.As(err, &ae) && ae.Code == actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND:
		return connect.NewError(connect.CodeNotFound, fmt.Errorf("session %s does not exist", id))
	case err != nil:
		return connect.NewError(connect.CodeUnavailable, errors.New("the session's owner cannot be checked now; retry"))
	}
	z.mu.Lock()
	if len(z.owners) >= ownersCacheMax {
		clear(z.owners)
	}
	z.owners[key] = now.Add(ownersCacheTTL)
	z.mu.Unlock()
	return nil
}

// The authorizer is two interceptors around the validator: admission
// (who may call the procedure at all) runs first, so an anonymous caller
// learns nothing from validation; ownership runs after validation, so a
// malformed id is invalid_argument for everyone and a well-formed one that
// is not the caller's is not_found, as an unknown one is.

func (z *authorizer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if _, _, err := z.admit(ctx, req.Spec().Procedure); err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (z *authorizer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (z *authorizer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if _, _, err := z.admit(ctx, conn.Spec().Procedure); err != nil {
			return err
		}
		return next(ctx, conn)
	}
}

// ownership is the inner interceptor: it checks the session of each
// request to a [policyOwner] procedure.
func (z *authorizer) ownership() connect.Interceptor { return ownershipInterceptor{z} }

type ownershipInterceptor struct{ z *authorizer }

func (o ownershipInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if pol := policies[req.Spec().Procedure]; pol == policyOwner || pol == policyReader || pol == policyPublic {
			if err := o.z.checkOwner(ctx, auth.FromContext(ctx), req.Any(), pol); err != nil {
				return nil, err
			}
		}
		return next(ctx, req)
	}
}

func (o ownershipInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (o ownershipInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if pol := policies[conn.Spec().Procedure]; pol == policyOwner || pol == policyReader || pol == policyPublic {
			conn = &ownerCheckedConn{StreamingHandlerConn: conn, ctx: ctx, z: o.z, p: auth.FromContext(ctx), pol: pol}
		}
		return next(ctx, conn)
	}
}

// ownerCheckedConn checks each received message's session before the
// handler sees it.
type ownerCheckedConn struct {
	connect.StreamingHandlerConn
	ctx context.Context
	z   *authorizer
	p   *auth.Principal
	pol policy
}

func (c *ownerCheckedConn) Receive(msg any) error {
	if err := c.StreamingHandlerConn.Receive(msg); err != nil {
		return err
	}
	return c.z.checkOwner(c.ctx, c.p, msg, c.pol)
}

// owner is the user whose apps index a call reads and writes: the caller.
// Calls without a principal (in-process, before accounts) use the single
// owner's.
func owner(ctx context.Context) string {
	if p := auth.FromContext(ctx); p != nil {
		return p.UserID
	}
	return OwnerID
}

// callerOf is the grain caller of a request: its principal, the anonymous
// caller for a request that came through the edge without credentials
// ([anonymous]), or the same user [owner] names for in-process calls.
func callerOf(ctx context.Context) *actorsv1.Caller {
	p := auth.FromContext(ctx)
	if p == nil && anonymous(ctx) {
		return actors.AnonymousCaller()
	}
	if p == nil {
		return actors.UserCaller(OwnerID, false)
	}
	return actors.UserCaller(p.UserID, p.IsAdmin())
}

type anonymousKey struct{}

// anonymous reports whether ctx is a request that came through the edge
// without credentials (not an in-process call).
func anonymous(ctx context.Context) bool {
	a, _ := ctx.Value(anonymousKey{}).(bool)
	return a && auth.FromContext(ctx) == nil
}
