package rpc

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/audit"
	"github.com/stichdev/stich/auth"
	"github.com/stichdev/stich/auth/oauth"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// Sign-in through an outside provider (package auth/oauth):
//
//	GET /auth/oauth/{provider}/start?next=PATH -> the provider's authorize page
//	GET /auth/oauth/{provider}/callback  -> a browser session, then PATH (or "/")
//	GET /auth/providers                  -> which providers are on (the sign-in page's buttons)
//
// Rules:
//
//  1. The state is single use, expires after [oauth.FlowTTL], and must
//     come back in the browser that started the flow: /start sets it in
//     an HttpOnly cookie (SameSite=Lax: sent on the provider's top-level
//     redirect back) and the callback compares the two. A callback URL
//     handed to another browser (login CSRF) signs nobody in.
//  2. The account is found by the provider's VERIFIED e-mail (directory
//     grain), and the identity is linked in the user grain. The grain
//     refuses to link an account whose e-mail is unverified and that has
//     a password (someone may have signed up first with another's
//     address: a pre-account hijack); its holder signs in with the
//     password and verifies the e-mail first. Accounts made by a sign-in
//     start with the e-mail verified.
//  3. With --auth multi ([OAuthConfig.SignUp]) a new e-mail makes a new
//     account (role user, plan free). With --auth single nothing is made:
//     a sign-in reaches the owner only when the provider's verified e-mail
//     is [OAuthConfig.OwnerEmail] (--oauth-owner-email); any other is
//     refused.
//  4. A refusal is a plain page saying why, audited; nothing is created
//     or linked.

// OAuthConfig configures sign-in through outside identity providers.
type OAuthConfig struct {
	// Providers are the configured providers, in button order.
	Providers []oauth.Provider
	// SignUp lets a sign-in with an e-mail no account has make an account
	// (--auth multi). Without it (--auth single), see OwnerEmail.
	SignUp bool
	// OwnerEmail, with SignUp off, is the owner's address: a provider's
	// verified e-mail equal to it (case aside) signs in as the owner.
	// Empty: no sign-in through providers reaches the owner.
	OwnerEmail string
	// PublicURL, if set, is the origin browsers reach the node at
	// ("https://stich.example"); callbacks go to
	// PublicURL/auth/oauth/PROVIDER/callback, the URL to register at the
	// provider. Default: the request's scheme and Host (the edge has
	// checked the Host against its allow-list).
	PublicURL string
	// Now is the clock of sign-in states. Default time.Now.
	Now func() time.Time
}

const (
	// oauthCookie carries a flow's state in the browser that started it.
	oauthCookie = "stich_oauth"
	oauthPath   = "/auth/oauth/"
	// oauthTimeout bounds a callback's calls to the provider and grains.
	oauthTimeout = 30 * time.Second
)

// oauthSignIn serves the provider routes.
type oauthSignIn struct {
	s         *Server
	cfg       OAuthConfig
	providers map[string]oauth.Provider
	flows     *oauth.Flows
}

func newOAuthSignIn(s *Server, cfg OAuthConfig) (*oauthSignIn, error) {
	o := &oauthSignIn{s: s, cfg: cfg, providers: map[string]oauth.Provider{}, flows: oauth.NewFlows(cfg.Now)}
	for _, p := range cfg.Providers {
		if !oauth.ValidName(p.Name()) {
			return nil, fmt.Errorf("rpc: oauth provider name %q", p.Name())
		}
		if _, dup := o.providers[p.Name()]; dup {
			return nil, fmt.Errorf("rpc: two oauth providers are named %q", p.Name())
		}
		o.providers[p.Name()] = p
	}
	o.cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	o.cfg.OwnerEmail = strings.TrimSpace(cfg.OwnerEmail)
	return o, nil
}

func (o *oauthSignIn) register(mux *http.ServeMux) {
	mux.HandleFunc("GET /auth/providers", o.list)
	mux.HandleFunc("GET "+oauthPath+"{provider}/start", o.start)
	mux.HandleFunc("GET "+oauthPath+"{provider}/callback", o.callback)
}

// providerInfo is one button of the sign-in page.
type providerInfo struct {
	Name  string `json:"name"`
	Label string `json:"label"`
	// Start is the path the button opens.
	Start string `json:"start"`
}

// list serves GET /auth/providers: the providers that are on, and whether
// a sign-in may make an account. Anyone may ask (the sign-in page does,
// before anyone is signed in); it names no secret.
func (o *oauthSignIn) list(w http.ResponseWriter, r *http.Request) {
	out := struct {
		Providers []providerInfo `json:"providers"`
		SignUp    bool           `json:"signUp"`
	}{Providers: []providerInfo{}, SignUp: o.cfg.SignUp}
	for _, p := range o.cfg.Providers {
		out.Providers = append(out.Providers, providerInfo{Name: p.Name(), Label: p.Label(), Start: oauthPath + p.Name() + "/start"})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(out)
}

func (o *oauthSignIn) provider(w http.ResponseWriter, r *http.Request) oauth.Provider {
	p := o.providers[r.PathValue("provider")]
	if p == nil {
		writeError(w, connect.NewError(connect.CodeNotFound, errors.New("no such sign-in provider is configured on this node")))
	}
	return p
}

// redirectURL is the callback URL of provider for request r.
func (o *oauthSignIn) redirectURL(r *http.Request, provider string) string {
	base := o.cfg.PublicURL
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	return base + oauthPath + provider + "/callback"
}

// start serves GET /auth/oauth/{provider}/start.
func (o *oauthSignIn) start(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	p := o.provider(w, r)
	if p == nil {
		return
	}
	// NB: next is checked here and kept with the flow (server side): only
	// a same-origin path, never another site (no open redirect).
	f, err := o.flows.BeginReturn(p.Name(), safeNext(r.URL.Query().Get("next")))
	if err != nil {
		writeError(w, connect.NewError(connect.CodeResourceExhausted, errors.New("too many sign-ins are in progress on this node; retry in a few minutes")))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), oauthTimeout)
	defer cancel()
	to, err := p.AuthURL(ctx, f, o.redirectURL(r, p.Name()))
	if err != nil {
		o.flows.Take(p.Name(), f.State)
		o.s.log.Warn("oauth start failed", "provider", p.Name(), "err", err)
		writeError(w, connect.NewError(connect.CodeUnavailable, fmt.Errorf("%s cannot be reached to sign in; retry later", p.Label())))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: oauthCookie, Value: f.State, Path: oauthPath, HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteLaxMode, MaxAge: int(oauth.FlowTTL / time.Second)})
	http.Redirect(w, r, to, http.StatusFound)
}

// callback serves GET /auth/oauth/{provider}/callback?code=C&state=S.
func (o *oauthSignIn) callback(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	p := o.provider(w, r)
	if p == nil {
		return
	}
	// The flow's cookie has done its work whatever happens next.
	http.SetCookie(w, &http.Cookie{Name: oauthCookie, Value: "", Path: oauthPath, MaxAge: -1})
	q := r.URL.Query()
	refuse := func(reason string, cerr *connect.Error) {
		o.s.Audit(r.Context(), AuditEvent{Kind: audit.SignInFailed, Method: "oauth:" + p.Name(), Detail: reason})
		writeError(w, cerr)
	}
	// NB: taken before any other check: a state is tried once.
	f, err := o.flows.Take(p.Name(), q.Get("state"))
	if err != nil {
		refuse("state", connect.NewError(connect.CodeUnauthenticated,
			fmt.Errorf("this %s sign-in is not valid: it was used already, has expired (after %s), or was not started here; sign in again", p.Label(), oauth.FlowTTL)))
		return
	}
	c, cerr := r.Cookie(oauthCookie)
	if cerr != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(f.State)) != 1 {
		refuse("browser", connect.NewError(connect.CodeUnauthenticated,
			fmt.Errorf("this %s sign-in was started in another browser; sign in again from this one", p.Label())))
		return
	}
	if e := q.Get("error"); e != "" {
		refuse("provider:"+e, connect.NewError(connect.CodeUnauthenticated, fmt.Errorf("%s did not sign you in (%s); sign in again", p.Label(), clip(e, 64))))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), oauthTimeout)
	defer cancel()
	id, err := p.Exchange(ctx, f, q.Get("code"), o.redirectURL(r, p.Name()))
	switch {
	case errors.Is(err, oauth.ErrUnverifiedEmail):
		refuse("unverified_email", connect.NewError(connect.CodePermissionDenied,
			fmt.Errorf("%s has no verified e-mail for this account; verify your primary e-mail at %s, then sign in again", p.Label(), p.Label())))
		return
	case errors.Is(err, oauth.ErrNonce):
		refuse("nonce", connect.NewError(connect.CodeUnauthenticated, fmt.Errorf("%s's answer does not belong to this sign-in; sign in again", p.Label())))
		return
	case err != nil:
		o.s.log.Warn("oauth exchange failed", "provider", p.Name(), "err", err)
		refuse("exchange", connect.NewError(connect.CodeUnauthenticated, fmt.Errorf("%s did not confirm the sign-in; sign in again", p.Label())))
		return
	}
	userID, cerr2 := o.account(ctx, id)
	if cerr2 != nil {
		refuse("account", cerr2)
		return
	}
	if err := o.s.StartBrowserSession(ctx, w, r, userID); err != nil {
		var ae *actors.Error
		if errors.As(err, &ae) && ae.Code == actorsv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION {
			o.s.Audit(r.Context(), AuditEvent{Kind: audit.SignInFailed, UserID: userID, Email: id.Email, Method: "oauth:" + p.Name(), Detail: "the account is disabled"})
			writeError(w, errDisabled)
			return
		}
		o.s.log.Warn("oauth sign-in failed", "provider", p.Name(), "err", err)
		writeError(w, connect.NewError(connect.CodeUnavailable, errors.New("the session could not be saved; sign in again")))
		return
	}
	o.s.Audit(ctx, AuditEvent{Kind: audit.SignIn, UserID: userID, Email: id.Email, Method: "oauth:" + p.Name()})
	http.Redirect(w, r, safeNext(f.Next), http.StatusSeeOther)
}

// fail translates an error from below for the sign-in page.
func (o *oauthSignIn) fail(ctx context.Context, err error) *connect.Error {
	var ce *connect.Error
	if !errors.As(toConnect(ctx, o.s.log, "oauth sign-in", err), &ce) {
		ce = connect.NewError(connect.CodeInternal, errors.New("internal error"))
	}
	return ce
}

// clip cuts s to at most n runes.
func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

// account finds or makes the user of a verified identity and links it
// (rules 2 and 3 above).
func (o *oauthSignIn) account(ctx context.Context, id oauth.Identity) (string, *connect.Error) {
	node := o.s.rt.Node
	method := &actorsv1.AuthMethod{Provider: id.Provider, Subject: id.Subject, Email: strings.TrimSpace(id.Email)}
	var userID string
	if !o.cfg.SignUp {
		if o.cfg.OwnerEmail == "" || !strings.EqualFold(o.cfg.OwnerEmail, method.Email) {
			return "", connect.NewError(connect.CodePermissionDenied,
				errors.New("this node has a single owner (--auth single) and this e-mail is not the owner's (--oauth-owner-email); ask the owner, or run the node with --auth multi"))
		}
		userID = OwnerID
	} else {
		dir, err := actors.Call[*actorsv1.DirectoryReply](ctx, node, actors.KindDirectory, actors.DirectoryID(method.Email), &actorsv1.LookupEmail{})
		var ae *actors.Error
		switch {
		case errors.As(err, &ae) && ae.Code == actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND:
			// A new account follows the sign-up rules (--signup,
			// --signup-domain) as an e-mail sign-up does.
			if ok, needsInvite := o.s.accounts.signupAllowed(method.Email); !ok || needsInvite {
				return "", connect.NewError(connect.CodePermissionDenied,
					errors.New("sign-up on this server is closed to this e-mail: ask its operator for an invite, then sign up with it"))
			}
			if userID, err = o.claim(ctx, method.Email); err != nil {
				return "", o.fail(ctx, err)
			}
		case err != nil:
			return "", o.fail(ctx, err)
		default:
			userID = dir.GetUserId()
		}
		// NB: makes the account if the claim's maker failed before making
		// it; an existing account is left as it is.
		tmpl := &actorsv1.UserRecord{Email: method.Email, DisplayName: clip(id.Name, 100), Role: actorsv1.UserRole_USER_ROLE_USER,
			Plan: "free", EmailVerified: true}
		if _, err := actors.EnsureUser(ctx, node, userID, tmpl); err != nil {
			return "", o.fail(ctx, err)
		}
	}
	if _, err := actors.Call[*actorsv1.UserReply](ctx, node, actors.KindUser, userID, &actorsv1.LinkAuthMethod{Method: method}); err != nil {
		return "", o.fail(ctx, err)
	}
	return userID, nil
}

// claim maps email to a new user id in the directory; if another sign-in
// claimed it first, that one's user.
func (o *oauthSignIn) claim(ctx context.Context, email string) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("rpc: random: %w", err)
	}
	id := "u-" + hex.EncodeToString(b[:])
	r, err := actors.Call[*actorsv1.DirectoryReply](ctx, o.s.rt.Node, actors.KindDirectory, actors.DirectoryID(email), &actorsv1.ClaimEmail{UserId: id})
	if err != nil {
		return "", err
	}
	if !auth.ValidUserID(r.GetUserId()) {
		return "", fmt.Errorf("rpc: directory holds user id %q", r.GetUserId())
	}
	return r.GetUserId(), nil
}
