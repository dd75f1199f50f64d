package rpc

import (
	"context"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/preview"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// PreviewConfig configures the preview server.
type PreviewConfig struct {
	// Origins names each app's origin; requests are routed by their Host.
	Origins preview.Origins
	// FrameAncestors are the origins that may frame previews (the stich
	// UI's origins, e.g. "http://127.0.0.1:8080"); none: no framing.
	FrameAncestors []string
	// Logger receives warnings. Default slog.Default().
	Logger *slog.Logger
	// Tickets checks the preview tickets the API mints and signs the
	// origins' cookies (rpc/previewauth.go); every node of a cluster
	// needs the same keys. Nil: a random key of this process (a one-node
	// cluster; tickets from other nodes are refused).
	Tickets *preview.Signer
}

// NewPreviewHandler serves app previews from any node, each app at the
// root of its own origin (http://SESSION.preview.localhost:PORT/, see
// [preview.Origins]): each request asks the session's sandbox grain,
// wherever the cluster placed it, for the file. Distinct origins keep
// apps from reading each other's storage; the preview domain being a site
// apart from the API's keeps them from calling the API with the user's
// cookies.
//
// POST /__stich/report on an app's origin takes the error reports of the
// reporter script injected into each preview, with the build's report
// token, and records them in the session. The old path form
// /preview/SESSION/... on any host redirects to the app's origin.
//
// Every other request of an app's origin needs the origin's cookie, got
// with a ticket from the API: see rpc/previewauth.go.
func NewPreviewHandler(rt *actors.Runtime, cfg PreviewConfig) http.Handler {
	return newPreviewHandler(rt, cfg).handler()
}

func newPreviewHandler(rt *actors.Runtime, cfg PreviewConfig) *previewHandler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Tickets == nil {
		cfg.Tickets = RandomPreviewSigner()
	}
	h := &previewHandler{rt: rt, log: cfg.Logger, origins: cfg.Origins, csp: previewCSP(cfg.FrameAncestors),
		tickets: cfg.Tickets, now: time.Now, checked: map[[3]string]time.Time{}}
	h.asset = func(ctx context.Context, id string, version uint32, path string) (*actorsv1.SandboxAssetReply, error) {
		return actors.SandboxAsset(ctx, rt.Node, id, version, path)
	}
	h.access = func(ctx context.Context, p preview.Pass) error { return grainAccess(ctx, rt, p, h.now()) }
	return h
}

// handler routes by host and adds the headers every preview response
// carries.
func (h *previewHandler) handler() http.Handler {
	cfg := PreviewConfig{Origins: h.origins}
	legacy := http.NewServeMux()
	legacy.HandleFunc("/preview/{session}/{path...}", h.redirect)
	legacy.HandleFunc("/preview/{session}", h.redirect)
	legacy.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "stich preview server: each app is at %s://SESSION.%s/\n", cfg.Origins.Scheme, cfg.Origins.Domain)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		preview.SetHeaders(hd, h.origins.Scheme == "https")
		if id, v, ok := h.origins.App(r.Host); ok {
			hd.Set("Content-Security-Policy", h.csp)
			h.serve(w, r, id, v)
			return
		}
		hd.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		if h.origins.UnderDomain(r.Host) {
			http.Error(w, "no app is served at this host name", http.StatusNotFound)
			return
		}
		legacy.ServeHTTP(w, r)
	})
}

// previewCSP is the policy of every app page (see [preview.CSP]).
func previewCSP(frameAncestors []string) string { return preview.CSP(frameAncestors) }

type previewHandler struct {
	rt      *actors.Runtime
	log     *slog.Logger
	origins preview.Origins
	csp     string
	// asset fetches one file of a session's preview, of its current
	// build (version 0) or of version N's (from its sandbox grain).
	asset func(ctx context.Context, id string, version uint32, path string) (*actorsv1.SandboxAssetReply, error)
	// tickets checks tickets and signs and checks cookies.
	tickets *preview.Signer
	// access asks the grains whether a pass's user, still signed in with
	// its key, may read its session (errPreviewDenied when not).
	access func(ctx context.Context, p preview.Pass) error
	now    func() time.Time

	mu      sync.Mutex
	checked map[[3]string]time.Time // (user, key, session) -> last allowed
}

// redirect sends the old path form /preview/SESSION/REST to the app's
// origin.
func (h *previewHandler) redirect(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("session")
	origin := h.origins.Origin(id)
	if !sessionIDPattern.MatchString(id) || origin == "" {
		http.Error(w, "not a session id", http.StatusNotFound)
		return
	}
	target := origin + "/" + r.PathValue("path")
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	http.Redirect(w, r, target, http.StatusPermanentRedirect)
}

// previewCallTimeout bounds one asset or report call to a grain.
const previewCallTimeout = 10 * time.Second

// serve answers a request of the origin of session id's preview: its
// current build's (version 0) or version N's ([preview.Origins.VersionOrigin]),
// each origin with its own tickets and cookie ([preview.VersionScope]).
func (h *previewHandler) serve(w http.ResponseWriter, r *http.Request, id string, version uint32) {
	if !sessionIDPattern.MatchString(id) {
		http.Error(w, "not a session id", http.StatusNotFound)
		return
	}
	if r.URL.Path == preview.ReportPath && version > 0 {
		// NB: an old version's build has no reporter (its errors are not
		// the session's current problems).
		http.Error(w, "an old version's preview takes no reports", http.StatusNotFound)
		return
	}
	if r.URL.Path == preview.ReportPath {
		// NB: the per-build token is the report's credential (the
		// reporter script that holds it is served only with the cookie).
		h.report(w, r, id)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), previewCallTimeout)
	defer cancel()
	scope := preview.VersionScope(id, version)
	if r.URL.Path == preview.EnterPath {
		h.enter(ctx, w, r, scope)
		return
	}
	if !h.admitted(ctx, w, r, scope) {
		return
	}
	a, err := h.asset(ctx, id, version, r.URL.Path)
	if err != nil {
		h.log.Warn("preview asset", "session", id, "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "2")
		notReady(w, http.StatusServiceUnavailable, "The preview server could not reach this app's sandbox. It retries by itself.")
		return
	}
	switch {
	case a.GetFailed():
		versionFailed(w, version, a)
		return
	case !a.GetBuilt():
		var ae *actors.Error
		if _, err := actors.Call[*actorsv1.SnapshotReply](ctx, h.rt.Node, actors.KindSession, id, &actorsv1.GetSnapshot{Caller: actors.NodeCaller()}); errors.As(err, &ae) && ae.Code == actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND {
			http.Error(w, ae.Message, http.StatusNotFound)
			return
		}
		w.Header().Set("Retry-After", "2")
		if version > 0 {
			notReady(w, http.StatusServiceUnavailable, fmt.Sprintf("Version %d of this app is being built from its own files. The page reloads by itself when it is ready.", version))
			return
		}
		notReady(w, http.StatusServiceUnavailable, "This app's preview is being built. The page reloads by itself when it is ready.")
		return
	case !a.GetFound():
		http.NotFound(w, r)
		return
	}
	preview.ServeAsset(w, r, preview.Asset{Path: a.GetPath(), Body: a.GetBody(), ContentType: a.GetContentType(), ETag: a.GetEtag(), Immutable: a.GetImmutable()})
}

// notReady answers with a small page that retries by itself, so an
// iframe never stays blank.
func notReady(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="2"><title>Preview</title>
<style>body{font:15px system-ui,sans-serif;display:grid;place-items:center;height:90vh;color:#555}</style></head>
<body><p>%s</p></body></html>`, html.EscapeString(msg))
}

// versionFailed answers for a version whose build made no preview: a page
// with the build's error and problems (never a blank frame). It does not
// reload by itself: the sandbox tries again when asked after a while.
func versionFailed(w http.ResponseWriter, version uint32, a *actorsv1.SandboxAssetReply) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusUnprocessableEntity)
	var b strings.Builder
	for i, d := range a.GetBuildProblems() {
		if i == 50 {
			fmt.Fprintf(&b, "<li>… and %d more</li>", len(a.GetBuildProblems())-i)
			break
		}
		where := d.GetFile()
		if d.GetLine() > 0 {
			where += fmt.Sprintf(":%d", d.GetLine())
		}
		fmt.Fprintf(&b, "<li><code>%s</code> %s %s</li>", html.EscapeString(where), html.EscapeString(d.GetCode()), html.EscapeString(d.GetMessage()))
	}
	fmt.Fprintf(w, `<!doctype html><html><head><meta charset="utf-8"><title>Version %d did not build</title>
<style>body{font:15px system-ui,sans-serif;margin:2em;color:#333}code{background:#f3f3f3;padding:0 .2em}li{margin:.3em 0}</style></head>
<body><div data-stich="version-build-failed"><h1 style="font-size:1.2em">Version %d could not be built</h1><p>%s</p><ul>%s</ul></div></body></html>`,
		version, version, html.EscapeString(a.GetBuildError()), b.String())
}

// report records one error report of a running preview in its session.
// It must come from the app's own page (a browser says so in Origin and
// Sec-Fetch-Site) and carry the current build's report token; the build's
// report budget and the session's per-minute limit bound how many count.
func (h *previewHandler) report(w http.ResponseWriter, r *http.Request, id string) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !sameOriginRequest(r) {
		http.Error(w, "reports are taken only from the app's own pages", http.StatusForbidden)
		return
	}
	token := r.URL.Query().Get("token")
	if token == "" || len(token) > 64 {
		http.Error(w, "the report has no valid token", http.StatusForbidden)
		return
	}
	rep, err := preview.DecodeReport(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), previewCallTimeout)
	defer cancel()
	chk, err := actors.Call[*actorsv1.SandboxReportCheckReply](ctx, h.rt.Node, actors.KindSandbox, id, &actorsv1.SandboxReportCheck{Token: token,
		Stack: rep.Stack, Source: rep.Source, Line: uint32(rep.Line), Column: uint32(rep.Column)})
	switch {
	case err != nil:
		h.log.Warn("preview report check", "session", id, "err", err)
		http.Error(w, "the report could not be checked", http.StatusServiceUnavailable)
		return
	case chk.GetExhausted():
		http.Error(w, "this build sent too many reports", http.StatusTooManyRequests)
		return
	case !chk.GetAccepted():
		http.Error(w, "the report's token is not this app's current build's", http.StatusForbidden)
		return
	}
	src, line, col := rep.Source, uint32(rep.Line), uint32(rep.Column)
	if chk.GetFile() != "" {
		// The app's own line, through the build's source map.
		src, line, col = chk.GetFile(), chk.GetLine(), chk.GetColumn()
	}
	_, err = actors.Call[*actorsv1.PreviewReportAck](ctx, h.rt.Node, actors.KindSession, id, &actorsv1.PreviewReport{Caller: actors.NodeCaller(),
		Kind: rep.Kind, Message: rep.Message, Stack: rep.Stack, Source: src, Line: line, Column: col})
	var ae *actors.Error
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.As(err, &ae) && ae.Code == actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND:
		http.Error(w, ae.Message, http.StatusNotFound)
	case errors.As(err, &ae) && ae.Code == actorsv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED:
		w.Header().Set("Retry-After", "60")
		http.Error(w, ae.Message, http.StatusTooManyRequests)
	default:
		h.log.Warn("preview report", "session", id, "err", err)
		http.Error(w, "the report could not be recorded", http.StatusServiceUnavailable)
	}
}

// sameOriginRequest reports whether a browser sent r from r's own origin:
// a cross-origin fetch carries another Origin and Sec-Fetch-Site. A
// request without those headers (not a browser) still needs the token.
func sameOriginRequest(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" {
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}
