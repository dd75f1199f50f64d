package rpc

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/audit"
	"github.com/stichdev/stich/auth"
	"github.com/stichdev/stich/preview"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// Who may see a preview (see [preview.Pass] for the ticket and cookie):
//
//  1. The API mints a ticket (POST [PreviewTicketPath]) for a caller who
//     may read the app: its owner, or anyone (signed in or not: an
//     anonymous visitor's ticket is bound to the session alone,
//     [anonymousPass]) when it is unlisted or public ([authorizer.reads]: an admin gets nothing
//     over a private app of another user). Under --auth single the one
//     user is the owner.
//  2. The preview server takes the ticket at [preview.EnterPath], asks the
//     grains again ([grainAccess]: the user grain that the ticket's key is
//     still a live key of a user who is not disabled, the session grain
//     that the user may read the app by its own rule), sets the origin's
//     cookie and redirects.
//  3. Every other request of an app's origin needs that cookie, and the
//     grains are asked again when this node last asked more than
//     [previewRecheck] ago: signing out, revoking the key, disabling the
//     user or making the app private ends access within that bound on
//     every node. The cookie itself lasts at most [preview.CookieTTL].
//  4. Without a valid cookie the origin answers a small 403 page saying to
//     open the app from stich; never the app.
//
// The error reports of a preview (POST [preview.ReportPath]) keep their
// own credential, the build's report token, and the runtime check loads
// builds in-process (actors/sandbox.go): neither needs a ticket.

// PreviewTicketPath is where the UI gets a ticket for a session's preview.
func PreviewTicketPath(sessionID string) string {
	return "/api/sessions/" + sessionID + "/preview-ticket"
}

// PreviewVersionTicketPath is where the UI gets a ticket for the preview
// of a session's version (an old version previewed before a rollback):
// a ticket for that version's origin alone.
func PreviewVersionTicketPath(sessionID string, version uint32) string {
	return "/api/sessions/" + sessionID + "/versions/" + strconv.FormatUint(uint64(version), 10) + "/preview-ticket"
}

// previewRecheck is how often a node asks the grains again whether a
// preview cookie's user may still see the app.
const previewRecheck = 2 * time.Minute

// previewCheckedMax bounds the node's memory of checks (cleared when
// full: the next requests ask again).
const previewCheckedMax = 10000

// errPreviewDenied: the grains say the pass's user may not see the app
// (no such user, key revoked or expired, user disabled, app private or
// gone).
var errPreviewDenied = errors.New("rpc: preview access denied")

// RandomPreviewSigner returns a signer with a random key of this process
// alone, for a node given no shared keys.
func RandomPreviewSigner() *preview.Signer {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	s, err := preview.NewSigner(preview.SignKey{ID: "process", Secret: secret})
	if err != nil {
		panic(err) // NB: a fixed, valid id and a 32-byte key.
	}
	return s
}

// previewTicketReply is the answer of [Server.previewTicket].
type previewTicketReply struct {
	// URL opens the preview: the app's origin's enter path with the
	// ticket, then the app's root.
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// previewTicket serves POST /api/sessions/{id}/preview-ticket to a
// signed-in user who may read the session (the owner; others when it is
// unlisted or public). Another user's private session and an unknown one
// both answer 404. POST /api/sessions/{id}/versions/{version}/preview-ticket
// is the same for the preview of the session's version (404 for a version
// it does not have): its ticket opens that version's origin alone.
func (s *Server) previewTicket(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	p := auth.FromContext(ctx)
	if p == nil {
		// An anonymous visitor: counted per address; it may read an
		// unlisted or public app (policyPublic).
		if err := s.authz.anonymousLimit(ctx); err != nil {
			writeError(w, err.(*connect.Error))
			return
		}
	}
	id := r.PathValue("id")
	if !sessionIDPattern.MatchString(id) {
		writeError(w, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("invalid session id %q", id)))
		return
	}
	var version uint32
	if raw := r.PathValue("version"); raw != "" {
		n, err := strconv.ParseUint(raw, 10, 32)
		if err != nil || n == 0 || raw[0] == '0' {
			writeError(w, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("invalid version %q: want a version number", raw)))
			return
		}
		version = uint32(n)
	}
	if err := s.authz.mayRead(ctx, p, id); err != nil {
		var ce *connect.Error
		if !errors.As(err, &ce) {
			ce = connect.NewError(connect.CodeInternal, err)
		}
		writeError(w, ce)
		return
	}
	origin := s.cfg.Previews.Origin(id)
	if version > 0 {
		if err := s.hasVersion(ctx, id, version); err != nil {
			writeError(w, err)
			return
		}
		origin = s.cfg.Previews.VersionOrigin(id, version)
	}
	if origin == "" {
		writeError(w, connect.NewError(connect.CodeNotFound, errors.New("previews are off on this node")))
		return
	}
	pass := preview.Pass{Kind: preview.PassTicket, Session: preview.VersionScope(id, version), User: anonymousPass, Key: anonymousPass}
	if p != nil {
		if p.KeyID == "" {
			writeError(w, connect.NewError(connect.CodeFailedPrecondition, errors.New("a preview ticket needs a signed-in browser or an API key")))
			return
		}
		pass.User, pass.Key = p.UserID, p.KeyID
		// A reader's ticket is audited (once per ticket, never per asset):
		// the owner's are not (they are the owner's own app), nor an
		// anonymous visitor's (no account to file it under; counted in the
		// address's bucket instead).
		if s.authz.owns(ctx, p.UserID, id) != nil {
			s.Audit(ctx, AuditEvent{Kind: audit.PreviewTicket, UserID: p.UserID, Method: p.Via, Detail: "preview of app " + id + " (another user's)"})
		}
	}
	exp := time.Now().Add(preview.TicketTTL)
	pass.Expires = exp
	ticket, err := s.previewTickets.Mint(pass)
	if err != nil {
		s.log.WarnContext(ctx, "preview ticket", "session", id, "err", err)
		writeError(w, connect.NewError(connect.CodeInternal, errors.New("the preview ticket could not be made")))
		return
	}
	q := url.Values{"ticket": {ticket}, "next": {"/"}}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(previewTicketReply{URL: origin + preview.EnterPath + "?" + q.Encode(), ExpiresAt: exp.UTC()})
}

// hasVersion answers nil when session id (which the caller may read) has
// version v, else not_found.
func (s *Server) hasVersion(ctx context.Context, id string, v uint32) *connect.Error {
	list, err := actors.Call[*actorsv1.ListVersionsReply](ctx, s.rt.Node, actors.KindSession, id, &actorsv1.ListVersions{Caller: actors.NodeCaller()})
	if err != nil {
		if actors.IsNotFound(err) {
			return connect.NewError(connect.CodeNotFound, fmt.Errorf("session %s not found", id))
		}
		s.log.WarnContext(ctx, "preview ticket: list versions", "session", id, "err", err)
		return connect.NewError(connect.CodeUnavailable, errors.New("the app's versions cannot be read now; retry"))
	}
	for _, ver := range list.GetVersions() {
		if ver.GetNumber() == v {
			return nil
		}
	}
	return connect.NewError(connect.CodeNotFound, fmt.Errorf("the app has no version %d", v))
}

// enter turns a ticket for app id into the origin's cookie, after asking
// the grains, and redirects to the ticket URL's next path.
func (h *previewHandler) enter(ctx context.Context, w http.ResponseWriter, r *http.Request, id string) {
	w.Header().Set("Cache-Control", "no-store")
	now := h.now()
	pass, err := h.tickets.Verify(r.URL.Query().Get("ticket"), preview.PassTicket, id, now)
	if err != nil {
		h.refuse(w, "The link to this preview is not valid or has expired.")
		return
	}
	if !h.allowed(ctx, w, pass, true) {
		return
	}
	pass.Kind, pass.Expires = preview.PassCookie, now.Add(preview.CookieTTL)
	cookie, err := h.tickets.Mint(pass)
	if err != nil {
		h.log.Warn("preview cookie", "session", id, "err", err)
		http.Error(w, "the preview could not be opened", http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, h.cookie(cookie, int(preview.CookieTTL/time.Second)))
	http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
}

// admitted reports whether r carries a valid cookie for app id whose user
// may still see it; when not, it has answered.
func (h *previewHandler) admitted(ctx context.Context, w http.ResponseWriter, r *http.Request, id string) bool {
	c, err := r.Cookie(preview.CookieName)
	if err != nil {
		h.refuse(w, "This preview opens only from stich.")
		return false
	}
	pass, err := h.tickets.Verify(c.Value, preview.PassCookie, id, h.now())
	if err != nil {
		h.refuse(w, "Your access to this preview has expired or is not valid.")
		return false
	}
	return h.allowed(ctx, w, pass, false)
}

// allowed asks the grains whether pass still grants the app (at once when
// fresh, else when this node last asked more than [previewRecheck] ago);
// when not, it has answered.
func (h *previewHandler) allowed(ctx context.Context, w http.ResponseWriter, pass preview.Pass, fresh bool) bool {
	key := [3]string{pass.User, pass.Key, pass.Session}
	now := h.now()
	if !fresh {
		h.mu.Lock()
		at, ok := h.checked[key]
		h.mu.Unlock()
		if ok && now.Sub(at) < previewRecheck && !now.Before(at) {
			return true
		}
	}
	err := h.access(ctx, pass)
	switch {
	case errors.Is(err, errPreviewDenied):
		h.mu.Lock()
		delete(h.checked, key)
		h.mu.Unlock()
		// Audited once per refused pass: the cookie is deleted with this
		// answer, and requests without one are not audited.
		ev := AuditEvent{Kind: audit.PreviewRefused, Detail: "preview of app " + pass.Session + " refused (signed out, key revoked, account disabled or app private)"}
		if pass.User != anonymousPass {
			ev.UserID = pass.User
		}
		recordAudit(ctx, h.rt, h.log, ev)
		http.SetCookie(w, h.cookie("", -1))
		h.refuse(w, "You may not see this preview (signed out, or the app is private).")
		return false
	case err != nil:
		h.log.Warn("preview access check", "session", pass.Session, "user", pass.User, "err", err)
		w.Header().Set("Retry-After", "2")
		notReady(w, http.StatusServiceUnavailable, "Access to this preview cannot be checked now. The page retries by itself.")
		return false
	}
	h.mu.Lock()
	if len(h.checked) >= previewCheckedMax {
		clear(h.checked)
	}
	h.checked[key] = now
	h.mu.Unlock()
	return true
}

// cookie is the origin's access cookie holding value (maxAge < 0 deletes
// it). It is HttpOnly and scoped to the app's host alone (no Domain). In
// the stich UI the preview is a cross-site frame, where browsers send
// and store only SameSite=None cookies, which must be Secure: so over
// HTTPS, and on *.localhost (a secure context to browsers), the cookie is
// SameSite=None; Secure; Partitioned (kept apart per embedding site, so
// it works where third-party cookies are blocked). Over plain HTTP on
// another domain it can only be SameSite=Lax: the preview then opens in
// a tab of its own but not in a frame (serve previews over HTTPS).
func (h *previewHandler) cookie(value string, maxAge int) *http.Cookie {
	c := &http.Cookie{Name: preview.CookieName, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true, SameSite: http.SameSiteLaxMode}
	d := h.origins.Domain
	if h.origins.Scheme == "https" || d == "localhost" || strings.HasSuffix(d, ".localhost") {
		c.Secure, c.SameSite, c.Partitioned = true, http.SameSiteNoneMode, true
	}
	return c
}

// refuse answers a request without a valid pass: a small page, never the
// app.
func (h *previewHandler) refuse(w http.ResponseWriter, why string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusForbidden)
	fmt.Fprintf(w, `<!doctype html><html><head><meta charset="utf-8"><title>Preview</title>
<style>body{font:15px system-ui,sans-serif;display:grid;place-items:center;height:90vh;color:#555}</style></head>
<body><div data-stich="preview-refused"><p><strong>%s</strong></p><p>Open the app from stich (its Preview tab) to see it here.</p></div></body></html>`, html.EscapeString(why))
}

// maxNextLen bounds a return path (longer ones return to "/").
const maxNextLen = 2048

// safeNext keeps a redirect on this origin (no open redirect): a relative
// path starting with one slash and holding no backslash or control
// character (browsers read "/\\evil" as "//evil"), else "/". The preview
// gate and the sign-in flows (OAuth /start?next=) use it.
func safeNext(next string) string {
	if next == "" || len(next) > maxNextLen || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return next
}

// anonymousPass is the user and key of an anonymous visitor's pass: bound
// to the session alone (never a valid user id, see auth.ValidUserID).
const anonymousPass = "-"

// grainAccess asks the grains whether p still grants its session: an
// anonymous visitor's pass while the session is unlisted or public; p's
// key is a live key of p's user, who is not disabled, and the session
// grain lets the user read the session (as a plain user: an admin role
// grants nothing over another user's private app).
func grainAccess(ctx context.Context, rt *actors.Runtime, p preview.Pass, now time.Time) error {
	// A version's pass grants what its session's would.
	session, _ := preview.ScopeSession(p.Session)
	if p.User == anonymousPass {
		_, err := actors.Call[*actorsv1.SnapshotReply](ctx, rt.Node, actors.KindSession, session,
			&actorsv1.GetSnapshot{Caller: actors.AnonymousCaller()})
		switch {
		case actors.IsNotFound(err):
			return errPreviewDenied
		case err != nil:
			return fmt.Errorf("rpc: preview access: session: %w", err)
		}
		return nil
	}
	u, err := actors.Call[*actorsv1.UserReply](ctx, rt.Node, actors.KindUser, p.User, &actorsv1.GetUser{})
	switch {
	case actors.IsNotFound(err):
		return errPreviewDenied
	case err != nil:
		return fmt.Errorf("rpc: preview access: user: %w", err)
	}
	rec := u.GetUser()
	live := false
	for _, k := range rec.GetApiKeys() {
		if k.GetId() == p.Key && (k.GetExpiresAt() == nil || now.Before(k.GetExpiresAt().AsTime())) {
			live = true
		}
	}
	if !live || rec.GetDisabled() {
		return errPreviewDenied
	}
	_, err = actors.Call[*actorsv1.SnapshotReply](ctx, rt.Node, actors.KindSession, session,
		&actorsv1.GetSnapshot{Caller: actors.UserCaller(p.User, false)})
	switch {
	case actors.IsNotFound(err):
		return errPreviewDenied
	case err != nil:
		return fmt.Errorf("rpc: preview access: session: %w", err)
	}
	return nil
}
