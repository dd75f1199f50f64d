package rpc

import (
	"context"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"time"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/preview"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// NewPreviewHandler serves app previews at /preview/{session}/ from any
// node: each request asks the session's sandbox grain, wherever the
// cluster placed it, for the file. It must be served on its own origin (a
// separate port or host name), never the API's: generated code then
// cannot read stich's cookies or call its API as the user.
//
// POST /preview/{session}/__stich/report takes the error reports of the
// script injected into each preview and records them in the session.
func NewPreviewHandler(rt *actors.Runtime, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	mux := http.NewServeMux()
	h := &previewHandler{rt: rt, log: log}
	mux.HandleFunc("/preview/{session}/{path...}", h.serve)
	mux.HandleFunc("/preview/{session}", func(w http.ResponseWriter, r *http.Request) {
		if !sessionIDPattern.MatchString(r.PathValue("session")) {
			http.NotFound(w, r)
			return
		}
		http.Redirect(w, r, actors.PreviewPath(r.PathValue("session")), http.StatusMovedPermanently)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "stich preview server on node %s: previews are at /preview/{session}/\n", rt.Node.Name())
	})
	return h.secure(mux)
}

type previewHandler struct {
	rt  *actors.Runtime
	log *slog.Logger
}

// secure adds the headers every preview response carries.
func (h *previewHandler) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// previewCallTimeout bounds one asset or report call to a grain.
const previewCallTimeout = 10 * time.Second

func (h *previewHandler) serve(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("session")
	if !sessionIDPattern.MatchString(id) {
		http.Error(w, "not a session id", http.StatusNotFound)
		return
	}
	rest := r.PathValue("path")
	if rest == "__stich/report" {
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
	a, err := actors.Call[*actorsv1.SandboxAssetReply](ctx, h.rt.Node, actors.KindSandbox, id, &actorsv1.SandboxAsset{Path: "/" + rest})
	if err != nil {
		h.log.Warn("preview asset", "session", id, "path", rest, "err", err)
		w.Header().Set("Retry-After", "2")
		notReady(w, http.StatusServiceUnavailable, "The preview server could not reach this app's sandbox. It retries by itself.")
		return
	}
	switch {
	case !a.GetBuilt():
		var ae *actors.Error
		if _, err := actors.Call[*actorsv1.SnapshotReply](ctx, h.rt.Node, actors.KindSession, id, &actorsv1.GetSnapshot{}); errors.As(err, &ae) && ae.Code == actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND {
			http.Error(w, ae.Message, http.StatusNotFound)
			return
		}
		w.Header().Set("Retry-After", "2")
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

// report records one error report of a running preview in its session.
func (h *previewHandler) report(w http.ResponseWriter, r *http.Request, id string) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rep, err := preview.DecodeReport(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), previewCallTimeout)
	defer cancel()
	_, err = actors.Call[*actorsv1.PreviewReportAck](ctx, h.rt.Node, actors.KindSession, id, &actorsv1.PreviewReport{
		Kind: rep.Kind, Message: rep.Message, Stack: rep.Stack, Source: rep.Source, Line: uint32(rep.Line), Column: uint32(rep.Column)})
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
