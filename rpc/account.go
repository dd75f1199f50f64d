package rpc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/auth"
	"github.com/stichdev/stich/mailer"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
	"github.com/stichdev/stich/ratelimit"
)

// Accounts in --auth multi (AccountService):
//
//  1. Sign-up is open, by invite (an admin's CreateInvite), or limited to
//     e-mail domains (--signup-domain; addresses there need no invite).
//     The answer does not say whether the e-mail had an account: its owner
//     is told by e-mail instead.
//  2. A new account must verify its e-mail (a single-use link, valid for
//     [verifyTokenTTL]) before it can sign in; signing in with the right
//     password before that sends a new link. Until then the account can do
//     nothing: no session, no key, no app.
//  3. A password reset is a single-use link valid for [resetTokenTTL]; it
//     proves the mailbox (the e-mail becomes verified) and ends every
//     browser session.
//  4. Sign-in attempts are limited per client address and per e-mail (the
//     bucket grains), checked before the password is hashed; at most
//     [maxHashing] argon2id computations run at once on a node, so a flood
//     of attempts cannot take its memory. An unknown e-mail costs the same
//     hashing as a wrong password.
//  5. Admins are the node's owner (the operator's key, as in --auth single)
//     and whoever an admin grants the role (`stich admin grant EMAIL`):
//     the first user to sign up is not an admin, so exposing a fresh node
//     hands nothing to whoever is first.

const (
	verifyTokenTTL = 48 * time.Hour
	resetTokenTTL  = time.Hour
	// maxHashing bounds concurrent argon2id computations (64 MiB each).
	maxHashing = 2
	// mailTimeout bounds sending one e-mail within a request.
	mailTimeout = 20 * time.Second
	// defaultInviteTTL is how long an invite stays usable by default.
	defaultInviteTTL = 7 * 24 * time.Hour
)

// mailRule limits the e-mails one address gets (verification links sent
// by sign-in attempts, reset links): 5 in 10 minutes.
var mailRule = ratelimit.Rule{Limit: 5, Window: 10 * time.Minute}

// AccountsConfig configures accounts (the --auth flags of stich serve).
type AccountsConfig struct {
	// Mode is "single" (the default: one owner, signed in by the link the
	// node prints) or "multi" (sign-up and sign-in by e-mail and password).
	Mode string
	// Signup is "open" (the default) or "invite" (an admin's invite is
	// needed, except for addresses of SignupDomains).
	Signup string
	// SignupDomains, if set, limits sign-up to addresses of these domains
	// (with Signup "open"), or lets them sign up without an invite (with
	// "invite").
	SignupDomains []string
	// Mailer sends verification and reset links. Default: [mailer.Log] on
	// the server's logger.
	Mailer mailer.Mailer
	// PublicURL is the UI's base URL in the links of e-mails
	// ("https://stich.example"). Default: http:// and the bound address.
	PublicURL string
	// Password sets argon2id's cost. Default [auth.DefaultPasswordParams].
	Password auth.PasswordParams
	// SignInPerIP and SignInPerEmail limit sign-in attempts (and sign-ups
	// and reset requests, in buckets of their own). Defaults:
	// [DefaultSignInPerIP], [DefaultSignInPerEmail].
	SignInPerIP, SignInPerEmail ratelimit.Rule
}

// DefaultSignInPerIP allows a client address 20 attempts a minute, 10 in
// any 10 s, 500 a day.
func DefaultSignInPerIP() ratelimit.Rule {
	return ratelimit.Rule{Limit: 20, Window: time.Minute, BurstLimit: 10, BurstWindow: 10 * time.Second, DailyLimit: 500}
}

// DefaultSignInPerEmail allows 10 attempts a minute at one e-mail, 5 in
// any 10 s, 100 a day: a password guesser gets little, and its victim is
// locked out for minutes, not days.
func DefaultSignInPerEmail() ratelimit.Rule {
	return ratelimit.Rule{Limit: 10, Window: time.Minute, BurstLimit: 5, BurstWindow: 10 * time.Second, DailyLimit: 100}
}

func (c *AccountsConfig) setDefaults(s *Server) error {
	switch c.Mode {
	case "":
		c.Mode = "single"
	case "single", "multi":
	default:
		return fmt.Errorf("rpc: accounts mode %q: want single or multi", c.Mode)
	}
	switch c.Signup {
	case "":
		c.Signup = "open"
	case "open", "invite":
	default:
		return fmt.Errorf("rpc: sign-up %q: want open or invite", c.Signup)
	}
	for i, d := range c.SignupDomains {
		d = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "@"))
		if d == "" || strings.ContainsAny(d, "@ /") || !strings.Contains(d, ".") {
			return fmt.Errorf("rpc: sign-up domain %q: want a domain such as example.com", c.SignupDomains[i])
		}
		c.SignupDomains[i] = d
	}
	if c.Mailer == nil {
		c.Mailer = mailer.Log{Logger: s.log}
	}
	if c.Password.Time == 0 {
		c.Password = auth.DefaultPasswordParams
	}
	if c.SignInPerIP.Limit == 0 {
		c.SignInPerIP = DefaultSignInPerIP()
	}
	if c.SignInPerEmail.Limit == 0 {
		c.SignInPerEmail = DefaultSignInPerEmail()
	}
	return errors.Join(c.SignInPerIP.Validate(), c.SignInPerEmail.Validate())
}

// accountService implements AccountService.
type accountService struct {
	s   *Server
	cfg *AccountsConfig

	hashing   chan struct{} // semaphore of argon2id computations
	dummyOnce sync.Once
	dummy     string // a hash to verify against for unknown e-mails
}

var _ stichv1connect.AccountServiceHandler = (*accountService)(nil)

func newAccountService(s *Server) *accountService {
	return &accountService{s: s, cfg: &s.cfg.Accounts, hashing: make(chan struct{}, maxHashing)}
}

var errNotMulti = connect.NewError(connect.CodeFailedPrecondition,
	errors.New("this node runs --auth single: there is one owner, signed in by the link the node prints; restart it with --auth multi for accounts"))

// errBadSignIn is the one answer to a wrong e-mail or password.
var errBadSignIn = connect.NewError(connect.CodeUnauthenticated, errors.New("wrong e-mail or password"))

func (a *accountService) multi() error {
	if a.cfg.Mode != "multi" {
		return errNotMulti
	}
	return nil
}

func (a *accountService) fail(ctx context.Context, proc string, err error) error {
	return toConnect(ctx, a.s.log, proc, err)
}

// limit counts one attempt in bucket key under rule.
func (a *accountService) limit(ctx context.Context, key string, rule ratelimit.Rule, what string) error {
	d, err := actors.Call[*actorsv1.RateLimitReply](ctx, a.s.rt.Node, actors.KindRateLimit, key,
		&actorsv1.RateLimitCheck{Rule: rule.Proto(), Cost: 1})
	if err != nil {
		return err
	}
	if !d.GetAllowed() {
		after := time.Duration(d.GetRetryAfterMs()) * time.Millisecond
		audit(ctx, a.s.log, "rate_limited", "bucket", strings.SplitN(key, ":", 3)[0]+":"+strings.SplitN(key, ":", 3)[1])
		return retryable(connect.NewError(connect.CodeResourceExhausted,
			fmt.Errorf("too many %s (%s limit); retry in %s", what, d.GetLimitedBy(), after.Round(time.Second))), after)
	}
	return nil
}

// acquire takes a hashing slot, or fails when ctx ends first.
func (a *accountService) acquire(ctx context.Context) error {
	select {
	case a.hashing <- struct{}{}:
		return nil
	case <-ctx.Done():
		return connect.NewError(connect.CodeUnavailable, errors.New("the server is busy signing others in; retry"))
	}
}

func (a *accountService) hash(ctx context.Context, password string) (string, error) {
	if err := a.acquire(ctx); err != nil {
		return "", err
	}
	defer func() { <-a.hashing }()
	h, err := auth.HashPassword(password, a.cfg.Password)
	if err != nil {
		return "", connect.NewError(connect.CodeInvalidArgument, errors.New("a password has 8 to 1024 bytes"))
	}
	return h, nil
}

// verify checks password against hash ("" for an unknown account: the
// same work is done against a dummy hash, and the answer is a mismatch).
func (a *accountService) verify(ctx context.Context, password, hash string) error {
	a.dummyOnce.Do(func() { a.dummy, _ = auth.HashPassword("no account has this password", a.cfg.Password) })
	if err := a.acquire(ctx); err != nil {
		return err
	}
	defer func() { <-a.hashing }()
	if hash == "" {
		auth.VerifyPassword(password, a.dummy)
		return auth.ErrPasswordMismatch
	}
	return auth.VerifyPassword(password, hash)
}

// publicURL is the base of links in e-mails.
func (a *accountService) publicURL() string {
	if a.cfg.PublicURL != "" {
		return strings.TrimRight(a.cfg.PublicURL, "/")
	}
	return "http://" + a.s.Addr()
}

// mail sends m; a failure is logged (the caller's answer never depends on
// it: it would tell whether the address has an account).
func (a *accountService) mail(ctx context.Context, m mailer.Message) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), mailTimeout)
	defer cancel()
	if err := a.cfg.Mailer.Send(ctx, m); err != nil {
		a.s.log.Warn("e-mail not sent", "subject", m.Subject, "err", err)
	}
}

// sendToken issues a token of purpose for u and e-mails its link.
func (a *accountService) sendToken(ctx context.Context, u *actorsv1.UserRecord, purpose string) error {
	token, hash, err := auth.NewUserToken(u.GetId())
	if err != nil {
		return err
	}
	ttl, path, subject, text := verifyTokenTTL, "/verify", "Verify your e-mail for stich",
		"Open this link to verify your e-mail and finish signing up"
	if purpose == actors.TokenReset {
		ttl, path, subject, text = resetTokenTTL, "/reset", "Reset your stich password",
			"Someone (hopefully you) asked to reset the password of your stich account. Open this link to choose a new one"
	}
	if _, err := actors.Call[*actorsv1.UserReply](ctx, a.s.rt.Node, actors.KindUser, u.GetId(), &actorsv1.IssueUserToken{
		Token: &actorsv1.UserToken{Purpose: purpose, Hash: hash, ExpiresAt: timestamppb.New(a.s.auth.now().Add(ttl))}}); err != nil {
		return err
	}
	a.mail(ctx, mailer.Message{To: u.GetEmail(), Subject: subject,
		Body: fmt.Sprintf("%s (valid for %s):\n\n%s%s?token=%s\n\nIf you did not ask for this, ignore this e-mail.\n", text, ttl, a.publicURL(), path, token)})
	return nil
}

// signupAllowed says whether email may sign up, and whether it needs an
// invite for it.
func (a *accountService) signupAllowed(email string) (ok, needsInvite bool) {
	inDomain := slices.Contains(a.cfg.SignupDomains, auth.EmailDomain(email))
	switch {
	case inDomain:
		return true, false
	case a.cfg.Signup == "invite":
		return true, true
	}
	return len(a.cfg.SignupDomains) == 0, false
}

func (a *accountService) SignUp(ctx context.Context, req *connect.Request[stichv1.SignUpRequest]) (*connect.Response[stichv1.SignUpResponse], error) {
	const proc = "SignUp"
	if err := a.multi(); err != nil {
		return nil, err
	}
	email, err := auth.NormalizeEmail(req.Msg.GetEmail())
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("the e-mail is not a valid address (name@example.com)"))
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if err := a.limit(ctx, "signup:ip:"+ClientAddr(ctx), a.cfg.SignInPerIP, "sign-ups from this address"); err != nil {
		return nil, a.fail(ctx, proc, err)
	}
	ok, needsInvite := a.signupAllowed(email)
	if !ok {
		return nil, connect.NewError(connect.CodePermissionDenied, fmt.Errorf("sign-up on this server is only for addresses at %s", strings.Join(a.cfg.SignupDomains, ", ")))
	}
	var inviteHash string
	if needsInvite {
		if inviteHash, err = auth.InviteHash(req.Msg.GetInviteToken()); err != nil {
			return nil, connect.NewError(connect.CodePermissionDenied, errors.New("sign-up on this server is by invitation: open the invite link you were sent"))
		}
	}
	hash, err := a.hash(ctx, req.Msg.GetPassword())
	if err != nil {
		return nil, err
	}
	if needsInvite {
		if _, err := actors.Call[*actorsv1.InviteReply](ctx, a.s.rt.Node, actors.KindInvite, inviteHash, &actorsv1.ConsumeInvite{}); err != nil {
			if actors.IsNotFound(err) {
				audit(ctx, a.s.log, "invite_refused")
				return nil, connect.NewError(connect.CodePermissionDenied, errors.New("this invite is not valid: it was used already, has expired, or is mistyped; ask for a new one"))
			}
			return nil, a.fail(ctx, proc, err)
		}
	}
	u, created, err := actors.CreateAccount(ctx, a.s.rt.Node, email, &actorsv1.UserRecord{
		DisplayName: strings.TrimSpace(req.Msg.GetDisplayName()), Role: actorsv1.UserRole_USER_ROLE_USER, Plan: "free", PasswordHash: hash})
	if err != nil {
		return nil, a.fail(ctx, proc, err)
	}
	if !created {
		audit(ctx, a.s.log, "sign_up_existing", "user", u.GetId())
		a.mail(ctx, mailer.Message{To: u.GetEmail(), Subject: "Someone tried to sign up to stich with your e-mail",
			Body: fmt.Sprintf("Your e-mail already has a stich account. If this was you, sign in at %s/signin, or reset your password at %s/reset.\n", a.publicURL(), a.publicURL())})
		return connect.NewResponse(&stichv1.SignUpResponse{}), nil
	}
	audit(ctx, a.s.log, "sign_up", "user", u.GetId())
	if err := a.sendToken(ctx, u, actors.TokenVerify); err != nil {
		return nil, a.fail(ctx, proc, err)
	}
	return connect.NewResponse(&stichv1.SignUpResponse{}), nil
}

func (a *accountService) SignIn(ctx context.Context, req *connect.Request[stichv1.SignInRequest]) (*connect.Response[stichv1.SignInResponse], error) {
	const proc = "SignIn"
	if err := a.multi(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	email, err := auth.NormalizeEmail(req.Msg.GetEmail())
	if err != nil {
		return nil, errBadSignIn
	}
	// NB: both buckets are counted before any hashing.
	if err := a.limit(ctx, "signin:ip:"+ClientAddr(ctx), a.cfg.SignInPerIP, "sign-in attempts from this address"); err != nil {
		return nil, a.fail(ctx, proc, err)
	}
	if err := a.limit(ctx, "signin:email:"+actors.DirectoryID(email), a.cfg.SignInPerEmail, "sign-in attempts for this e-mail"); err != nil {
		return nil, a.fail(ctx, proc, err)
	}
	u, err := actors.FindAccount(ctx, a.s.rt.Node, email)
	if err != nil && !actors.IsNotFound(err) {
		return nil, a.fail(ctx, proc, err)
	}
	if err := a.verify(ctx, req.Msg.GetPassword(), u.GetPasswordHash()); err != nil {
		var ce *connect.Error
		if errors.As(err, &ce) {
			return nil, ce
		}
		audit(ctx, a.s.log, "sign_in_failed", "user", u.GetId())
		return nil, errBadSignIn
	}
	if !u.GetEmailVerified() {
		if err := a.limit(ctx, "verifymail:"+u.GetId(), mailRule, "verification e-mails"); err == nil {
			if err := a.sendToken(ctx, u, actors.TokenVerify); err != nil {
				return nil, a.fail(ctx, proc, err)
			}
		}
		return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("verify your e-mail first: open the link sent to %s (a new one was sent)", u.GetEmail()))
	}
	token, csrf, err := a.s.startBrowserSession(ctx, u.GetId())
	if err != nil {
		return nil, a.fail(ctx, proc, err)
	}
	audit(ctx, a.s.log, "sign_in", "user", u.GetId(), "via", "password")
	res := connect.NewResponse(&stichv1.SignInResponse{Account: a.account(u), CsrfToken: csrf})
	for _, c := range sessionCookies(token, isTLS(ctx)) {
		res.Header().Add("Set-Cookie", c.String())
	}
	return res, nil
}

func (a *accountService) VerifyEmail(ctx context.Context, req *connect.Request[stichv1.VerifyEmailRequest]) (*connect.Response[stichv1.VerifyEmailResponse], error) {
	if err := a.consume(ctx, "VerifyEmail", req.Msg.GetToken(), actors.TokenVerify, ""); err != nil {
		return nil, err
	}
	return connect.NewResponse(&stichv1.VerifyEmailResponse{}), nil
}

func (a *accountService) ResetPassword(ctx context.Context, req *connect.Request[stichv1.ResetPasswordRequest]) (*connect.Response[stichv1.ResetPasswordResponse], error) {
	if err := a.consume(ctx, "ResetPassword", req.Msg.GetToken(), actors.TokenReset, req.Msg.GetNewPassword()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&stichv1.ResetPasswordResponse{}), nil
}

// consume uses up an e-mailed token (and sets the new password of a reset).
func (a *accountService) consume(ctx context.Context, proc, token, purpose, password string) error {
	if err := a.multi(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if err := a.limit(ctx, "token:ip:"+ClientAddr(ctx), a.cfg.SignInPerIP, "attempts from this address"); err != nil {
		return a.fail(ctx, proc, err)
	}
	errLink := connect.NewError(connect.CodeNotFound, errors.New("this link is not valid: it was used already, has expired, or is mistyped; ask for a new one"))
	userID, hash, err := auth.ParseUserToken(token)
	if err != nil {
		return errLink
	}
	newHash := ""
	if purpose == actors.TokenReset {
		if newHash, err = a.hash(ctx, password); err != nil {
			return err
		}
	}
	_, err = actors.Call[*actorsv1.UserReply](ctx, a.s.rt.Node, actors.KindUser, userID,
		&actorsv1.ConsumeUserToken{Purpose: purpose, Hash: hash, NewPasswordHash: newHash})
	if actors.IsNotFound(err) {
		audit(ctx, a.s.log, "token_refused", "purpose", purpose)
		return errLink
	}
	if err != nil {
		return a.fail(ctx, proc, err)
	}
	if purpose == actors.TokenReset {
		a.s.auth.forgetUser(userID)
	}
	audit(ctx, a.s.log, "token_used", "user", userID, "purpose", purpose)
	return nil
}

func (a *accountService) RequestPasswordReset(ctx context.Context, req *connect.Request[stichv1.RequestPasswordResetRequest]) (*connect.Response[stichv1.RequestPasswordResetResponse], error) {
	const proc = "RequestPasswordReset"
	if err := a.multi(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	email, err := auth.NormalizeEmail(req.Msg.GetEmail())
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("the e-mail is not a valid address (name@example.com)"))
	}
	if err := a.limit(ctx, "reset:ip:"+ClientAddr(ctx), a.cfg.SignInPerIP, "reset requests from this address"); err != nil {
		return nil, a.fail(ctx, proc, err)
	}
	if err := a.limit(ctx, "reset:email:"+actors.DirectoryID(email), mailRule, "reset requests for this e-mail"); err != nil {
		return nil, a.fail(ctx, proc, err)
	}
	u, err := actors.FindAccount(ctx, a.s.rt.Node, email)
	switch {
	case actors.IsNotFound(err):
	case err != nil:
		return nil, a.fail(ctx, proc, err)
	default:
		if err := a.sendToken(ctx, u, actors.TokenReset); err != nil {
			return nil, a.fail(ctx, proc, err)
		}
		audit(ctx, a.s.log, "reset_requested", "user", u.GetId())
	}
	return connect.NewResponse(&stichv1.RequestPasswordResetResponse{}), nil
}

// account is the public view of u.
func (a *accountService) account(u *actorsv1.UserRecord) *stichv1.Account {
	role := "user"
	if u.GetRole() == actorsv1.UserRole_USER_ROLE_ADMIN {
		role = "admin"
	}
	return &stichv1.Account{UserId: u.GetId(), Email: u.GetEmail(), DisplayName: u.GetDisplayName(), Role: role,
		EmailVerified: u.GetEmailVerified(), CreatedAt: u.GetCreatedAt(), AuthMode: a.cfg.Mode}
}

// me reads the caller's user record.
func (a *accountService) me(ctx context.Context) (*auth.Principal, *actorsv1.UserRecord, error) {
	p := auth.FromContext(ctx)
	if p == nil {
		return nil, nil, errSignIn
	}
	r, err := actors.Call[*actorsv1.UserReply](ctx, a.s.rt.Node, actors.KindUser, p.UserID, &actorsv1.GetUser{})
	return p, r.GetUser(), err
}

func (a *accountService) GetAccount(ctx context.Context, req *connect.Request[stichv1.GetAccountRequest]) (*connect.Response[stichv1.GetAccountResponse], error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	_, u, err := a.me(ctx)
	if err != nil {
		return nil, a.fail(ctx, "GetAccount", err)
	}
	return connect.NewResponse(&stichv1.GetAccountResponse{Account: a.account(u)}), nil
}

func (a *accountService) UpdateProfile(ctx context.Context, req *connect.Request[stichv1.UpdateProfileRequest]) (*connect.Response[stichv1.UpdateProfileResponse], error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	p := auth.FromContext(ctx)
	r, err := actors.Call[*actorsv1.UserReply](ctx, a.s.rt.Node, actors.KindUser, p.UserID, &actorsv1.SetDisplayName{DisplayName: strings.TrimSpace(req.Msg.GetDisplayName())})
	if err != nil {
		return nil, a.fail(ctx, "UpdateProfile", err)
	}
	return connect.NewResponse(&stichv1.UpdateProfileResponse{Account: a.account(r.GetUser())}), nil
}

func (a *accountService) ListCredentials(ctx context.Context, req *connect.Request[stichv1.ListCredentialsRequest]) (*connect.Response[stichv1.ListCredentialsResponse], error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	p, u, err := a.me(ctx)
	if err != nil {
		return nil, a.fail(ctx, "ListCredentials", err)
	}
	now := a.s.auth.now()
	res := &stichv1.ListCredentialsResponse{}
	for _, k := range u.GetApiKeys() {
		if k.GetExpiresAt() != nil && !now.Before(k.GetExpiresAt().AsTime()) {
			continue
		}
		res.Credentials = append(res.Credentials, credential(k, p.KeyID))
	}
	return connect.NewResponse(res), nil
}

func credential(k *actorsv1.APIKeyRecord, current string) *stichv1.Credential {
	return &stichv1.Credential{Id: k.GetId(), Label: k.GetLabel(), Browser: k.GetBrowser() || k.GetLabel() == "browser session",
		CreatedAt: k.GetCreatedAt(), ExpiresAt: k.GetExpiresAt(), Current: k.GetId() == current}
}

func (a *accountService) CreateAPIKey(ctx context.Context, req *connect.Request[stichv1.CreateAPIKeyRequest]) (*connect.Response[stichv1.CreateAPIKeyResponse], error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	p, u, err := a.me(ctx)
	if err != nil {
		return nil, a.fail(ctx, "CreateAPIKey", err)
	}
	if u.GetEmail() != "" && !u.GetEmailVerified() {
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("verify your e-mail before making API keys"))
	}
	label := strings.TrimSpace(req.Msg.GetLabel())
	token, err := a.s.issueKey(ctx, p.UserID, label, 0, false)
	if err != nil {
		return nil, a.fail(ctx, "CreateAPIKey", err)
	}
	k, _ := auth.ParseAPIKey(token)
	return connect.NewResponse(&stichv1.CreateAPIKeyResponse{Token: token,
		Key: &stichv1.Credential{Id: k.KeyID, Label: label, CreatedAt: timestamppb.New(a.s.auth.now())}}), nil
}

func (a *accountService) RevokeAPIKey(ctx context.Context, req *connect.Request[stichv1.RevokeAPIKeyRequest]) (*connect.Response[stichv1.RevokeAPIKeyResponse], error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	p := auth.FromContext(ctx)
	if _, err := actors.Call[*actorsv1.UserReply](ctx, a.s.rt.Node, actors.KindUser, p.UserID, &actorsv1.RevokeAPIKey{KeyId: req.Msg.GetId()}); err != nil {
		if actors.IsNotFound(err) {
			return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("you have no API key or session %s", req.Msg.GetId()))
		}
		return nil, a.fail(ctx, "RevokeAPIKey", err)
	}
	a.s.auth.forgetUser(p.UserID)
	audit(ctx, a.s.log, "key_revoked", "user", p.UserID, "key", req.Msg.GetId())
	return connect.NewResponse(&stichv1.RevokeAPIKeyResponse{}), nil
}

func (a *accountService) SignOutEverywhere(ctx context.Context, req *connect.Request[stichv1.SignOutEverywhereRequest]) (*connect.Response[stichv1.SignOutEverywhereResponse], error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	p := auth.FromContext(ctx)
	r, err := actors.Call[*actorsv1.RevokeBrowserSessionsReply](ctx, a.s.rt.Node, actors.KindUser, p.UserID, &actorsv1.RevokeBrowserSessions{})
	if err != nil {
		return nil, a.fail(ctx, "SignOutEverywhere", err)
	}
	a.s.auth.forgetUser(p.UserID)
	audit(ctx, a.s.log, "sign_out_everywhere", "user", p.UserID, "ended", r.GetEnded())
	res := connect.NewResponse(&stichv1.SignOutEverywhereResponse{Ended: r.GetEnded()})
	if p.Via == "browser" {
		for _, c := range clearedCookies() {
			res.Header().Add("Set-Cookie", c.String())
		}
	}
	return res, nil
}

func (a *accountService) CreateInvite(ctx context.Context, req *connect.Request[stichv1.CreateInviteRequest]) (*connect.Response[stichv1.CreateInviteResponse], error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	ttl := defaultInviteTTL
	if h := req.Msg.GetValidForHours(); h > 0 {
		ttl = time.Duration(h) * time.Hour
	}
	token, hash, err := auth.NewInviteToken()
	if err != nil {
		return nil, a.fail(ctx, "CreateInvite", err)
	}
	exp := timestamppb.New(a.s.auth.now().Add(ttl))
	p := auth.FromContext(ctx)
	if _, err := actors.Call[*actorsv1.InviteReply](ctx, a.s.rt.Node, actors.KindInvite, hash,
		&actorsv1.CreateInvite{Invite: &actorsv1.InviteRecord{ExpiresAt: exp, CreatedBy: p.UserID}}); err != nil {
		return nil, a.fail(ctx, "CreateInvite", err)
	}
	audit(ctx, a.s.log, "invite_created", "user", p.UserID)
	return connect.NewResponse(&stichv1.CreateInviteResponse{Token: token, ExpiresAt: exp}), nil
}

func (a *accountService) SetUserRole(ctx context.Context, req *connect.Request[stichv1.SetUserRoleRequest]) (*connect.Response[stichv1.SetUserRoleResponse], error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	email, err := auth.NormalizeEmail(req.Msg.GetEmail())
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("the e-mail is not a valid address"))
	}
	u, err := actors.FindAccount(ctx, a.s.rt.Node, email)
	if actors.IsNotFound(err) {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("no account has the e-mail %s", email))
	}
	if err != nil {
		return nil, a.fail(ctx, "SetUserRole", err)
	}
	role := actorsv1.UserRole_USER_ROLE_USER
	if req.Msg.GetRole() == "admin" {
		role = actorsv1.UserRole_USER_ROLE_ADMIN
	}
	r, err := actors.Call[*actorsv1.UserReply](ctx, a.s.rt.Node, actors.KindUser, u.GetId(), &actorsv1.SetUserRole{Role: role})
	if err != nil {
		return nil, a.fail(ctx, "SetUserRole", err)
	}
	a.s.auth.forgetUser(u.GetId())
	audit(ctx, a.s.log, "role_changed", "by", auth.FromContext(ctx).UserID, "user", u.GetId(), "role", req.Msg.GetRole())
	return connect.NewResponse(&stichv1.SetUserRoleResponse{Account: a.account(r.GetUser())}), nil
}

// AccountForVerifiedEmail returns the account of an e-mail a provider
// vouched for (OAuth), creating it when sign-up admits the address: open
// sign-up, or an address of --signup-domain (an invite cannot come through
// a provider, so invite-only sign-up admits only existing accounts there).
// An existing account not verified yet becomes verified, and loses every
// credential made before (see actorsv1.MarkEmailVerified). NOT_FOUND-coded
// errors are not returned: a refusal is a *connect.Error with
// PermissionDenied.
func (s *Server) AccountForVerifiedEmail(ctx context.Context, email, displayName string) (userID string, created bool, err error) {
	a := s.accounts
	email, err = auth.NormalizeEmail(email)
	if err != nil {
		return "", false, connect.NewError(connect.CodeInvalidArgument, errors.New("the provider's e-mail is not a valid address"))
	}
	u, err := actors.FindAccount(ctx, s.rt.Node, email)
	if err != nil && !actors.IsNotFound(err) {
		return "", false, err
	}
	if u == nil {
		if ok, needsInvite := a.signupAllowed(email); !ok || needsInvite {
			return "", false, connect.NewError(connect.CodePermissionDenied, errors.New("sign-up on this server is closed to this e-mail"))
		}
		u, created, err = actors.CreateAccount(ctx, s.rt.Node, email, &actorsv1.UserRecord{DisplayName: displayName,
			Role: actorsv1.UserRole_USER_ROLE_USER, Plan: "free", EmailVerified: true})
		if err != nil {
			return "", false, err
		}
	}
	if !u.GetEmailVerified() {
		if _, err := actors.Call[*actorsv1.UserReply](ctx, s.rt.Node, actors.KindUser, u.GetId(), &actorsv1.MarkEmailVerified{}); err != nil {
			return "", false, err
		}
		s.auth.forgetUser(u.GetId())
	}
	if created {
		audit(ctx, s.log, "sign_up", "user", u.GetId(), "via", "verified e-mail")
	}
	return u.GetId(), created, nil
}

// StartBrowserSession signs a browser in as userID (after a sign-in that
// proved who it is, such as an OAuth callback): the session cookie and the
// CSRF cookie are set on w.
func (s *Server) StartBrowserSession(ctx context.Context, w http.ResponseWriter, r *http.Request, userID string) error {
	token, _, err := s.startBrowserSession(ctx, userID)
	if err != nil {
		return err
	}
	for _, c := range sessionCookies(token, r.TLS != nil) {
		http.SetCookie(w, c)
	}
	return nil
}

// startBrowserSession stores a new browser session of userID and returns
// its token and CSRF token.
func (s *Server) startBrowserSession(ctx context.Context, userID string) (token, csrf string, err error) {
	token, err = s.issueKey(ctx, userID, "browser session", browserSessionTTL, true)
	if err != nil {
		return "", "", err
	}
	return token, csrfToken(token), nil
}

// sessionCookies are the cookies of a browser session: the session token
// (HttpOnly) and its CSRF token (readable by the UI's script only, as a
// SameSite=Strict cookie of this origin).
func sessionCookies(token string, secure bool) []*http.Cookie {
	return []*http.Cookie{
		{Name: sessionCookie, Value: token, Path: "/", HttpOnly: true, Secure: secure,
			SameSite: http.SameSiteLaxMode, MaxAge: int(browserSessionTTL / time.Second)},
		{Name: csrfCookie, Value: csrfToken(token), Path: "/", Secure: secure,
			SameSite: http.SameSiteStrictMode, MaxAge: int(browserSessionTTL / time.Second)},
	}
}

func clearedCookies() []*http.Cookie {
	return []*http.Cookie{{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1}, {Name: csrfCookie, Value: "", Path: "/", MaxAge: -1}}
}

type tlsKey struct{}

// isTLS reports whether the request of ctx came over TLS.
func isTLS(ctx context.Context) bool {
	v, _ := ctx.Value(tlsKey{}).(bool)
	return v
}
