package rpc

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stichdev/stich/preview"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// pathRoutedPreview is the preview server as it was before each app had an
// origin of its own: one origin, apps under /preview/SESSION/, two headers.
// It is the reference of [BenchmarkOriginRouting].
func pathRoutedPreview(asset func(ctx context.Context, id, path string) (*actorsv1.SandboxAssetReply, error)) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/preview/{session}/{path...}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("session")
		if !sessionIDPattern.MatchString(id) {
			http.Error(w, "not a session id", http.StatusNotFound)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), previewCallTimeout)
		defer cancel()
		a, err := asset(ctx, id, "/"+r.PathValue("path"))
		if err != nil || !a.GetFound() {
			http.NotFound(w, r)
			return
		}
		preview.ServeAsset(w, r, preview.Asset{Path: a.GetPath(), Body: a.GetBody(), ContentType: a.GetContentType(), ETag: a.GetEtag(), Immutable: a.GetImmutable()})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		mux.ServeHTTP(w, r)
	})
}

// BenchmarkOriginRouting measures one preview request (a 64 KB script of
// an app's bundle) over loopback HTTP with keep-alive. stich: routed by
// the Host of the app's own origin, with the CSP and the other headers;
// reference: the path routing it replaced. Both read the file from the
// same in-process source, so the grain call (the same for both) is left
// out and the routing and headers are what differ.
func BenchmarkOriginRouting(b *testing.B) {
	const id = "s-abcdefghijklmnopqrst.local"
	body := bytes.Repeat([]byte("console.log('stich');\n"), 64<<10/22)
	asset := func(ctx context.Context, _, path string) (*actorsv1.SandboxAssetReply, error) {
		return &actorsv1.SandboxAssetReply{Built: true, Found: true, Body: body, ContentType: "text/javascript; charset=utf-8",
			Etag: `"abc"`, Immutable: true, Path: path}, nil
	}
	origins := preview.Origins{Scheme: "http", Domain: preview.DefaultDomain, Port: "8081"}
	h := &previewHandler{log: slog.New(slog.NewTextHandler(io.Discard, nil)), origins: origins,
		csp: previewCSP([]string{"http://127.0.0.1:8080", "http://localhost:8080"}), asset: asset}
	for _, c := range []struct {
		name    string
		handler http.Handler
		host    string
		path    string
	}{
		{"reference", pathRoutedPreview(asset), "127.0.0.1:8081", "/preview/" + id + "/assets/index-AbCdEf12.js"},
		{"stich", h.handler(), preview.Label(id) + ".preview.localhost:8081", "/assets/index-AbCdEf12.js"},
	} {
		b.Run(c.name, func(b *testing.B) {
			srv := httptest.NewServer(c.handler)
			defer srv.Close()
			client := srv.Client()
			req, _ := http.NewRequest(http.MethodGet, srv.URL+c.path, nil)
			req.Host = c.host
			for b.Loop() {
				res, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK || n != int64(len(body)) {
					b.Fatalf("%s: %d, %d bytes", c.path, res.StatusCode, n)
				}
				if c.name == "stich" && !strings.Contains(res.Header.Get("Content-Security-Policy"), "script-src 'self'") {
					b.Fatal("no CSP")
				}
			}
		})
	}
}
