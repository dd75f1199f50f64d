package preview

import (
	"bytes"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync/atomic"
	"time"
)

// Handler serves the current [Preview] of one app. Set swaps in a new
// build atomically, so requests never see half a build. It only looks up
// paths in the in-memory build: there is no file system behind it, so no
// request path can reach anything else.
//
// Mount it on an origin of its own (another port or host than stich's
// API): the app's code runs in the browser there, and must not share
// cookies or storage with stich.
type Handler struct {
	cur atomic.Pointer[Preview]
}

// NewHandler returns a Handler serving p (nil: 503 until Set).
func NewHandler(p *Preview) *Handler {
	h := &Handler{}
	h.cur.Store(p)
	return h
}

// Set replaces the served preview.
func (h *Handler) Set(p *Preview) { h.cur.Store(p) }

// Current returns the served preview.
func (h *Handler) Current() *Preview { return h.cur.Load() }

// ServeHTTP serves GET and HEAD: built files by path, with long caching for
// hashed assets and none for index.html; any other path without a file
// extension falls back to index.html (client-side routing).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := h.cur.Load()
	if p == nil {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Retry-After", "1")
		http.Error(w, "the preview is not built yet", http.StatusServiceUnavailable)
		return
	}
	a, ok := p.Resolve(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	ServeAsset(w, r, a)
}

// ServeAsset writes a with its content type, ETag and caching policy:
// none for index.html, long for hashed assets, revalidation otherwise.
// It answers If-None-Match and Range.
func ServeAsset(w http.ResponseWriter, r *http.Request, a Asset) {
	hd := w.Header()
	hd.Set("Content-Type", a.ContentType)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("ETag", a.ETag)
	switch {
	case a.Path == "/index.html":
		hd.Set("Cache-Control", "no-store")
	case a.Immutable:
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	default:
		hd.Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, a.Path, time.Time{}, bytes.NewReader(a.Body))
}

// contentType names the media type of a served path.
func contentType(p string) string {
	ext := strings.ToLower(path.Ext(p))
	switch ext {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".map", ".json":
		return "application/json; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".wasm":
		return "application/wasm"
	case ".txt":
		return "text/plain; charset=utf-8"
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}
