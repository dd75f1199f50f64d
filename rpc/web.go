package rpc

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stichdev/stich/web"
)

// The browser UI is a single-page app embedded in the binary (package web).
// [webUI] serves it on the mux's catch-all pattern "/", which every API
// pattern outranks, with these rules:
//
//  1. Paths shaped like an RPC ("/pkg.Service/Method") are never the UI: an
//     unknown service answers 404 (whatever the method), not index.html.
//  2. Only GET and HEAD; anything else is 405.
//  3. Files under /assets/ have content-hashed names: they are cached for a
//     year as immutable; a missing asset is 404 (never index.html, which a
//     browser would try to run as a script).
//  4. Other existing files are served with "no-cache" (revalidated by ETag).
//  5. Any other path without a static-file extension (/s/<id>, /cluster) gets
//     index.html, "no-cache", so the app's router picks the page; a new
//     build is seen on the next load.
//  6. When the UI is not built (a fresh checkout built without `make web`),
//     "/" explains how to build it and shows the plain API summary.

// webCSP allows the UI's own scripts, styles and API, and frames of
// generated apps' previews from their origins (frameSrc, e.g.
// "http://*.preview.localhost:8081"; "" allows no frames).
func webCSP(frameSrc string) string {
	if frameSrc == "" {
		frameSrc = "'none'"
	}
	return "default-src 'self'; img-src 'self' data:; style-src 'self'; " +
		"connect-src 'self'; frame-src " + frameSrc + "; base-uri 'self'; form-action 'self'; " +
		"object-src 'none'; frame-ancestors 'none'"
}

const (
	cacheImmutable = "public, max-age=31536000, immutable"
	cacheRevalid   = "no-cache"
)

// rpcPath matches "/package.Service/..." (gRPC and Connect routes).
var rpcPath = regexp.MustCompile(`^/[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+/`)

// staticExt lists extensions that name files; a missing one is 404, never
// the app. Session ids end in ".region", so the list is explicit.
var staticExt = map[string]bool{
	".js": true, ".mjs": true, ".css": true, ".map": true, ".html": true, ".json": true, ".txt": true,
	".md": true, ".xml": true, ".webmanifest": true, ".png": true, ".jpg": true, ".jpeg": true,
	".gif": true, ".svg": true, ".ico": true, ".webp": true, ".avif": true, ".woff": true,
	".woff2": true, ".ttf": true, ".wasm": true,
}

// contentTypes pins the types of what Vite emits, independent of the
// machine's mime tables.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".json": "application/json",
	".map":  "application/json",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
	".webp": "image/webp",
	".woff": "font/woff", ".woff2": "font/woff2",
	".txt":  "text/plain; charset=utf-8",
	".wasm": "application/wasm",
}

type webFile struct {
	name  string
	data  []byte
	etag  string
	ctype string
	cache string

	gzOnce sync.Once
	gz     []byte // nil when compression does not pay
}

// gzipped returns the file gzip-compressed, computed on first use.
func (f *webFile) gzipped() []byte {
	f.gzOnce.Do(func() {
		if len(f.data) < 1024 || !compressible(f.ctype) {
			return
		}
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		if _, err := zw.Write(f.data); err != nil {
			return
		}
		if zw.Close() != nil || b.Len() >= len(f.data) {
			return
		}
		f.gz = b.Bytes()
	})
	return f.gz
}

func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.HasPrefix(ctype, "application/json") ||
		strings.HasPrefix(ctype, "image/svg") || strings.HasPrefix(ctype, "application/wasm")
}

// webUI serves the embedded UI; see the rules above. It is immutable after
// construction and safe for concurrent use.
type webUI struct {
	files    map[string]*webFile // by path without the leading slash
	index    *webFile            // nil when the UI is not built
	notBuilt http.HandlerFunc
	csp      string // index.html's Content-Security-Policy
}

// newWebUI reads every file of fsys into memory (the built UI is a few
// hundred KB). notBuilt answers "/" when fsys has no index.html.
func newWebUI(fsys fs.FS, notBuilt http.HandlerFunc, frameSrc string) (*webUI, error) {
	u := &webUI{files: map[string]*webFile{}, notBuilt: notBuilt, csp: webCSP(frameSrc)}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if name == "README.md" {
			return nil // the placeholder that keeps //go:embed valid
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		f := &webFile{name: name, data: data, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, ctype: typeOf(name), cache: cacheRevalid}
		if strings.HasPrefix(name, "assets/") {
			f.cache = cacheImmutable
		}
		u.files[name] = f
		return nil
	})
	if err != nil {
		return nil, err
	}
	u.index = u.files["index.html"]
	return u, nil
}

func typeOf(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := contentTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

func (u *webUI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if rpcPath.MatchString(p) {
		http.Error(w, "no such service or method", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+p), "/")
	if f, ok := u.files[name]; ok && name != "index.html" {
		u.serve(w, r, f)
		return
	}
	if name == "assets" || strings.HasPrefix(name, "assets/") || staticExt[strings.ToLower(path.Ext(name))] && name != "index.html" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if u.index == nil {
		u.notBuilt(w, r)
		return
	}
	u.serve(w, r, u.index)
}

func (u *webUI) serve(w http.ResponseWriter, r *http.Request, f *webFile) {
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("Cache-Control", f.cache)
	h.Set("ETag", f.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	if f == u.index {
		h.Set("Content-Security-Policy", u.csp)
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Referrer-Policy", "same-origin")
	}
	gz := f.gzipped()
	if gz != nil {
		h.Add("Vary", "Accept-Encoding")
	}
	if gz == nil || !acceptsGzip(r) || r.Header.Get("Range") != "" {
		// ServeContent handles Range, HEAD and If-None-Match.
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.data))
		return
	}
	if etagMatch(r.Header.Get("If-None-Match"), f.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Encoding", "gzip")
	h.Set("Content-Length", strconv.Itoa(len(gz)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(gz)
	}
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip
// (a "gzip;q=0" refuses it).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// webHandler returns the UI handler for the mux's "/" pattern, serving
// package web's embedded build.
func (s *Server) webHandler() http.Handler {
	u, err := newWebUI(web.Dist(), s.webNotBuilt, s.cfg.Previews.FrameSource())
	if err != nil {
		// The embedded files are part of the binary; reading them cannot
		// fail short of a broken build. Serve the API summary instead.
		s.log.Error("web UI unreadable; serving the API summary at /", "err", err)
		return http.HandlerFunc(s.webNotBuilt)
	}
	return u
}

// webNotBuilt answers "/" in a binary built without `make web`.
func (s *Server) webNotBuilt(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.Error(w, "not found (the web UI is not built into this binary: run `make web`, then rebuild)", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", cacheRevalid)
	_, _ = io.WriteString(w, "The web UI is not built into this binary: run `make web` (or `make run`), then rebuild.\n\n")
	// index writes the plain-text API summary after this note.
	s.index(w, r)
}
