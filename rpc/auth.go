package rpc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/audit"
	"github.com/stichdev/stich/auth"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// Authentication at the edge (after the checks of rpc/edge.go):
//
//  1. A request proves who it is with "Authorization: Bearer KEY" (programs
//     and the CLI) or with the session cookie a browser got from a sign-in
//     link. Either is an API key (package auth); the user grain says whether
//     it is live. No address, header or port grants anything.
//  2. A cookie-authenticated request must also carry the CSRF token (the
//     X-CSRF-Token header, or a csrf query parameter on a plain GET that
//     acts, such as a download); the token derives from the session, and
//     only pages of the server's own origin can read it (a SameSite=Strict
//     cookie readable by script).
//  3. Presented credentials that are malformed, unknown, revoked or expired
//     are refused with unauthenticated, whatever the route; a request with
//     none is anonymous, and the route's policy (rpc/policy.go) decides.
//  4. Live keys are remembered for [keyCacheTTL]: revoking a key takes
//     effect on every node within that time (at once on the node that
//     revoked it).
//  5. Keys naming a user that does not exist are refused without waking a
//     grain (the user kind only activates on EnsureUser), and the unknown
//     user id is remembered for [unknownUserTTL].
//  6. When a key's user grain cannot answer (its member is failing over, a
//     node just joined and the placement is moving), a key this node
//     verified within [staleKeyTTL] stays accepted: the grain being away
//     is not the key being revoked. A refusal from the grain always wins.
//     NB: "no such user" for a user whose key was verified that recently
//     counts as the grain being away (a member that just took the grain
//     over and has no copy yet): accounts are never deleted.

const (
	// OwnerID is the user id of the single owner of a node in --auth
	// single mode; it is also the owner of sessions made before accounts.
	OwnerID = actors.LocalOwner

	sessionCookie = "stich_session"
	csrfCookie    = "stich_csrf"
	csrfHeader    = "X-CSRF-Token"
	// browserSessionTTL is how long a browser stays signed in.
	browserSessionTTL = 30 * 24 * time.Hour
	// signInLinkTTL is how long a printed sign-in link stays usable.
	signInLinkTTL = 24 * time.Hour
	// keyCacheTTL is how long a verified key is trusted without asking its
	// user grain again.
	keyCacheTTL = 5 * time.Second
	// staleKeyTTL is how long after its last verification a key is still
	// accepted while its user grain is unreachable.
	staleKeyTTL = 10 * time.Minute
	// unknownUserTTL is how long a user id found not to exist is refused
	// without asking. NB: user ids of sign-ups are random and unknown before
	// the account exists; a node that makes a user forgets its entry.
	unknownUserTTL = 10 * time.Second
	// keyCacheMax bounds each cache (it is cleared when full).
	keyCacheMax = 10000
)

// authenticator turns credentials into a [auth.Principal].
type authenticator struct {
	rt  *actors.Runtime
	log *slog.Logger
	now func() time.Time

	// check asks a key's user grain (replaced in tests to play a grain
	// that cannot answer).
	check func(ctx context.Context, k auth.APIKey) (*actorsv1.CheckAPIKeyReply, error)

	mu      sync.Mutex
	cache   map[string]cachedKey // by token (see verifyKey)
	unknown map[string]time.Time // user id -> refused until
	links   map[string]time.Time // sign-in link hash -> expiry
}

type cachedKey struct {
	p        *auth.Principal
	verified time.Time
}

func newAuthenticator(rt *actors.Runtime, log *slog.Logger) *authenticator {
	a := &authenticator{rt: rt, log: log, now: time.Now, cache: map[string]cachedKey{}, unknown: map[string]time.Time{}, links: map[string]time.Time{}}
	a.check = func(ctx context.Context, k auth.APIKey) (*actorsv1.CheckAPIKeyReply, error) {
		return actors.Call[*actorsv1.CheckAPIKeyReply](ctx, a.rt.Node, actors.KindUser, k.UserID, &actorsv1.CheckAPIKey{KeyId: k.KeyID, Hash: k.Hash})
	}
	return a
}

// errUnauthenticated is the one answer to bad credentials: it does not say
// which part was wrong.
var errUnauthenticated = connect.NewError(connect.CodeUnauthenticated,
	errors.New("the credentials are not valid (malformed, unknown, revoked or expired); sign in again or use a current API key"))

// verify checks an API key (or browser session token).
func (a *authenticator) verify(ctx context.Context, token, via string) (*auth.Principal, error) {
	return a.verifyKey(ctx, token, via, &AuditEvent{})
}

// verifyKey is verify, noting in ev why a key was refused (and its
// account, when the key named one that exists).
func (a *authenticator) verifyKey(ctx context.Context, token, via string, ev *AuditEvent) (*auth.Principal, error) {
	// NB: the cache is keyed by the token itself (it is in this process's
	// memory while its request is anyway), so a key verified within
	// keyCacheTTL costs one map look-up: no parsing, no SHA-256.
	now := a.now()
	a.mu.Lock()
	c, cached := a.cache[token]
	a.mu.Unlock()
	if cached && now.Before(c.verified.Add(keyCacheTTL)) {
		return &auth.Principal{UserID: c.p.UserID, Role: c.p.Role, Via: via, KeyID: c.p.KeyID}, nil
	}
	k, err := auth.ParseAPIKey(token)
	if err != nil {
		ev.Detail = "malformed"
		return nil, errUnauthenticated
	}
	a.mu.Lock()
	until, unknown := a.unknown[k.UserID]
	a.mu.Unlock()
	if unknown && now.Before(until) {
		ev.Detail = "names no account (" + k.UserID + ")"
		return nil, errUnauthenticated
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	r, err := a.check(ctx, k)
	stale := cached && now.Before(c.verified.Add(staleKeyTTL))
	switch {
	case (err != nil || r.GetNoUser()) && stale:
		a.log.Warn("key accepted from cache: its user grain cannot answer", "user", k.UserID, "key", k.KeyID, "err", err)
		return &auth.Principal{UserID: c.p.UserID, Role: c.p.Role, Via: via, KeyID: k.KeyID}, nil
	case actors.IsNotFound(err) || (err == nil && r.GetNoUser()):
		a.mu.Lock()
		if len(a.unknown) >= keyCacheMax {
			clear(a.unknown)
		}
		a.unknown[k.UserID] = now.Add(unknownUserTTL)
		delete(a.cache, token)
		a.mu.Unlock()
		ev.Detail = "names no account (" + k.UserID + ")"
		return nil, errUnauthenticated
	case err != nil:
		return nil, fmt.Errorf("rpc: check key: %w", err)
	case !r.GetValid():
		a.mu.Lock()
		delete(a.cache, token)
		a.mu.Unlock()
		ev.UserID, ev.Detail = k.UserID, "unknown, tampered, revoked or expired key "+k.KeyID
		if r.GetDisabled() {
			ev.Detail = "key " + k.KeyID + " of a disabled account"
		}
		return nil, errUnauthenticated
	}
	p := &auth.Principal{UserID: k.UserID, Role: auth.RoleUser, Via: via, KeyID: k.KeyID}
	if r.GetRole() == actorsv1.UserRole_USER_ROLE_ADMIN {
		p.Role = auth.RoleAdmin
	}
	a.mu.Lock()
	if len(a.cache) >= keyCacheMax {
		clear(a.cache)
	}
	a.cache[token] = cachedKey{p: p, verified: now}
	a.mu.Unlock()
	return p, nil
}

// forgetUser drops every cached key of userID (its keys, sessions or role
// changed here) and any memory of it not existing (it was just made).
func (a *authenticator) forgetUser(userID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.unknown, userID)
	for h, c := range a.cache {
		if c.p.UserID == userID {
			delete(a.cache, h)
		}
	}
}

// csrfToken derives a browser session's CSRF token.
func csrfToken(sessionToken string) string {
	sum := sha256.Sum256([]byte("stich csrf\x00" + sessionToken))
	return hex.EncodeToString(sum[:16])
}

// wrap resolves the caller of every request (see the rules above). A
// refusal is written here for plain HTTP routes; for RPCs it travels in the
// context to the authorizer, which answers in the caller's protocol.
func (a *authenticator) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, cerr := a.resolve(r)
		ctx := r.Context()
		switch {
		case cerr != nil && !rpcPath.MatchString(r.URL.Path):
			writeError(w, cerr)
			return
		case cerr != nil:
			ctx = context.WithValue(ctx, authFailureKey{}, cerr)
		case p != nil:
			ctx = auth.NewContext(ctx, p)
		default:
			ctx = context.WithValue(ctx, anonymousKey{}, true)
		}
		ctx = context.WithValue(ctx, tlsKey{}, r.TLS != nil)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

type authFailureKey struct{}

// authFailure is the refusal of a request's credentials, if any.
func authFailure(ctx context.Context) *connect.Error {
	e, _ := ctx.Value(authFailureKey{}).(*connect.Error)
	return e
}

// resolve returns the request's principal (nil: anonymous) or why its
// credentials are refused (audited: the account is named when the key
// matched one, or the session's CSRF token was wrong but the session is
// live).
func (a *authenticator) resolve(r *http.Request) (*auth.Principal, *connect.Error) {
	p, cerr, ev := a.resolveCredentials(r)
	if cerr != nil {
		ev.Kind = audit.CredentialsRefused
		if cerr.Code() == connect.CodePermissionDenied {
			ev.Kind = audit.CSRFRefused
		}
		if ev.Detail == "" {
			ev.Detail = "refused: " + cerr.Code().String()
		}
		recordAudit(r.Context(), a.rt, a.log, ev)
	}
	return p, cerr
}

func (a *authenticator) resolveCredentials(r *http.Request) (*auth.Principal, *connect.Error, AuditEvent) {
	var p *auth.Principal
	var err error
	ev := AuditEvent{}
	if h := r.Header.Get("Authorization"); h != "" {
		ev.Method = "api-key"
		token := auth.BearerToken(h)
		if token == "" {
			ev.Detail = "not a Bearer token"
			return nil, connect.NewError(connect.CodeUnauthenticated, errors.New(`the Authorization header must be "Bearer API_KEY"`)), ev
		}
		p, err = a.verifyKey(r.Context(), token, ev.Method, &ev)
	} else if c, cerr := r.Cookie(sessionCookie); cerr == nil && c.Value != "" {
		ev.Method = "browser"
		sent := r.Header.Get(csrfHeader)
		if sent == "" {
			sent = r.URL.Query().Get("csrf")
		}
		if subtle.ConstantTimeCompare([]byte(sent), []byte(csrfToken(c.Value))) != 1 {
			ev.Detail = "missing or wrong CSRF token on " + r.Method + " " + clip(r.URL.Path, 100)
			// NB: name the account only if the session is live (a forged
			// cookie must not make an audit log of the id it names).
			if p, err := a.verify(r.Context(), c.Value, ev.Method); err == nil {
				ev.UserID = p.UserID
			}
			return nil, connect.NewError(connect.CodePermissionDenied, errors.New("missing or wrong CSRF token: reload the page")), ev
		}
		p, err = a.verifyKey(r.Context(), c.Value, ev.Method, &ev)
	}
	if err != nil {
		var ce *connect.Error
		if !errors.As(err, &ce) {
			ce = connect.NewError(connect.CodeUnavailable, errors.New("credentials cannot be checked now; retry"))
		}
		return nil, ce, ev
	}
	return p, nil, ev
}

// NewSignInLink makes a single-use sign-in path ("/auth/signin?token=...")
// for the owner, valid for [signInLinkTTL] on this node.
func (s *Server) NewSignInLink() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("rpc: random: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(token))
	a := s.auth
	a.mu.Lock()
	now := a.now()
	for h, exp := range a.links {
		if !now.Before(exp) {
			delete(a.links, h)
		}
	}
	a.links[hex.EncodeToString(sum[:])] = now.Add(signInLinkTTL)
	a.mu.Unlock()
	return "/auth/signin?token=" + token, nil
}

// takeLink consumes a sign-in link token; false if unknown, used or expired.
func (a *authenticator) takeLink(token string) bool {
	sum := sha256.Sum256([]byte(token))
	h := hex.EncodeToString(sum[:])
	a.mu.Lock()
	defer a.mu.Unlock()
	exp, ok := a.links[h]
	delete(a.links, h)
	return ok && a.now().Before(exp)
}

// signIn serves GET /auth/signin?token=T: a valid link starts a browser
// session for the owner (cookie) and redirects to the UI; any other token
// gets the sign-in page's explanation.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if !s.auth.takeLink(r.URL.Query().Get("token")) {
		s.Audit(r.Context(), AuditEvent{Kind: audit.SignInFailed, Method: "sign-in link", Detail: "a used, expired or mistyped link"})
		writeError(w, connect.NewError(connect.CodeUnauthenticated,
			errors.New("this sign-in link is not valid: it was used already, has expired, or is mistyped; the node prints a new one when it starts")))
		return
	}
	if err := s.StartBrowserSession(r.Context(), w, r, OwnerID); err != nil {
		writeError(w, connect.NewError(connect.CodeUnavailable, errors.New("the session could not be saved; retry the link")))
		s.log.Warn("sign-in failed", "err", err)
		return
	}
	s.Audit(r.Context(), AuditEvent{Kind: audit.SignIn, UserID: OwnerID, Method: "sign-in link"})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// signOut serves POST /auth/signout: the browser session is revoked and
// its cookies cleared. It passes the CSRF check like any cookie call.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil && auth.FromContext(r.Context()) != nil {
		if k, err := auth.ParseAPIKey(c.Value); err == nil {
			ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
			defer cancel()
			if _, err := actors.Call[*actorsv1.UserReply](ctx, s.rt.Node, actors.KindUser, k.UserID, &actorsv1.RevokeAPIKey{KeyId: k.KeyID}); err != nil {
				writeError(w, connect.NewError(connect.CodeUnavailable, errors.New("the session could not be ended; retry")))
				return
			}
			s.auth.forgetUser(k.UserID)
			s.Audit(r.Context(), AuditEvent{Kind: audit.SignOut, UserID: k.UserID, Method: "browser", Detail: "browser session " + k.KeyID + " ended"})
		}
	}
	for _, c := range clearedCookies() {
		http.SetCookie(w, c)
	}
	w.WriteHeader(http.StatusNoContent)
}

// issueKey stores a new key of userID and returns its token.
// A browser key is a browser session (ended by SignOutEverywhere).
func (s *Server) issueKey(ctx context.Context, userID, label string, ttl time.Duration, browser bool) (string, error) {
	token, k, err := auth.NewAPIKey(userID)
	if err != nil {
		return "", err
	}
	rec := &actorsv1.APIKeyRecord{Id: k.KeyID, Hash: k.Hash, Label: label, Browser: browser}
	if ttl > 0 {
		rec.ExpiresAt = timestamppb.New(s.auth.now().Add(ttl))
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if _, err := actors.Call[*actorsv1.UserReply](ctx, s.rt.Node, actors.KindUser, userID, &actorsv1.AddAPIKey{Key: rec}); err != nil {
		return "", fmt.Errorf("rpc: store key: %w", err)
	}
	if !browser {
		// NB: a browser session is audited as the sign-in that made it.
		s.Audit(ctx, AuditEvent{Kind: audit.KeyCreated, UserID: userID, Detail: "key " + k.KeyID + " (" + label + ")"})
	}
	return token, nil
}

// EnsureUser creates a user (if missing) and returns a new API key of it:
// for the single owner at start, and for tests.
func (s *Server) EnsureUser(ctx context.Context, userID string, role auth.Role, label string) (string, error) {
	tmpl := &actorsv1.UserRecord{Role: actorsv1.UserRole_USER_ROLE_USER, Plan: "free"}
	if role == auth.RoleAdmin {
		tmpl.Role, tmpl.Plan = actorsv1.UserRole_USER_ROLE_ADMIN, "owner"
	}
	if !auth.ValidUserID(userID) {
		return "", fmt.Errorf("rpc: invalid user id %q", userID)
	}
	if _, err := actors.EnsureUser(ctx, s.rt.Node, userID, tmpl); err != nil {
		return "", fmt.Errorf("rpc: ensure user %s: %w", userID, err)
	}
	s.auth.forgetUser(userID)
	return s.issueKey(ctx, userID, label, 0, false)
}

// KeyIsLive reports whether token is a live API key (for reusing a saved
// owner key at start).
func (s *Server) KeyIsLive(ctx context.Context, token string) bool {
	p, err := s.auth.verify(ctx, token, "api-key")
	return err == nil && p != nil
}

// adminOnly admits callers with the admin role to a plain HTTP route.
func adminOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := auth.FromContext(r.Context()); {
		case p == nil:
			writeError(w, errSignIn)
		case !p.IsAdmin():
			writeError(w, errAdminOnly)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// newLink serves POST /auth/links (admin): a fresh sign-in link for the
// owner, for a browser that lost its session (`stich signin-link`).
func (s *Server) newLink(w http.ResponseWriter, r *http.Request) {
	path, err := s.NewSignInLink()
	if err != nil {
		writeError(w, connect.NewError(connect.CodeInternal, errors.New("no link could be made")))
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// NB: r.Host passed the edge's allow-list.
	fmt.Fprintf(w, "%s://%s%s\n", scheme, r.Host, path)
}
