package rpc

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stichdev/stich/preview"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// The preview server routes by host: an app's own origin serves its files
// under a strict CSP; the bare preview host redirects the old path form;
// malformed app hosts are 404; reports without a token or from another
// origin are refused before any grain is asked.
func TestPreviewRoutingAndHeaders(t *testing.T) {
	const id = "s-abcdefghijklmnopqrst.eu-west"
	var asked []string
	h := &previewHandler{log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		origins: preview.Origins{Scheme: "http", Domain: "preview.localhost", Port: "8081"},
		csp:     previewCSP([]string{"http://127.0.0.1:8080"}),
		asset: func(_ context.Context, sid string, _ uint32, path string) (*actorsv1.SandboxAssetReply, error) {
			asked = append(asked, sid+" "+path)
			return &actorsv1.SandboxAssetReply{Built: true, Found: true, Body: []byte("<!doctype html>"), ContentType: "text/html; charset=utf-8", Etag: `"e"`, Path: "/index.html"}, nil
		}}
	cookie := openPreviewAuth(h, id)
	srv := h.handler()
	do := func(method, host, path string, hdr ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "http://"+host+path, strings.NewReader(`{"kind":"error","message":"x"}`))
		req.Header.Set("Cookie", cookie)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		return w
	}
	app := "s-abcdefghijklmnopqrst--eu-west.preview.localhost:8081"

	w := do("GET", app, "/recipes/1")
	if w.Code != http.StatusOK || len(asked) != 1 || asked[0] != id+" /recipes/1" {
		t.Fatalf("app page: %d, asked %v", w.Code, asked)
	}
	csp := w.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self';", "connect-src 'self';", "frame-ancestors http://127.0.0.1:8080", "object-src 'none'", "base-uri 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP lacks %q: %s", want, csp)
		}
	}
	script := ""
	for _, d := range strings.Split(csp, ";") {
		if d = strings.TrimSpace(d); strings.HasPrefix(d, "script-src ") {
			script = d
		}
	}
	if strings.Contains(csp, "unsafe-eval") || script != "script-src 'self'" {
		t.Errorf("CSP allows eval or inline scripts: %s", csp)
	}
	for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cross-Origin-Resource-Policy": "same-origin"} {
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if w.Header().Get("Strict-Transport-Security") != "" {
		t.Error("HSTS over plain HTTP")
	}

	w = do("GET", "127.0.0.1:8081", "/preview/"+id+"/assets/a.js?v=1")
	if w.Code != http.StatusPermanentRedirect || w.Header().Get("Location") != "http://"+app+"/assets/a.js?v=1" {
		t.Errorf("old path: %d to %q", w.Code, w.Header().Get("Location"))
	}
	for _, c := range []struct{ host, path string }{
		{"a.b.preview.localhost:8081", "/"},
		{"S-UPPER.preview.localhost:8081", "/"},
		{"127.0.0.1:8081", "/preview/S-UPPER/"},
		{"127.0.0.1:8081", "/preview/s-abc.x.y/"},
	} {
		if w := do("GET", c.host, c.path); w.Code != http.StatusNotFound {
			t.Errorf("GET %s%s: %d, want 404", c.host, c.path, w.Code)
		}
	}
	for name, w := range map[string]*httptest.ResponseRecorder{
		"no token":        do("POST", app, "/__stich/report"),
		"another origin":  do("POST", app, "/__stich/report?token=abc", "Origin", "http://other.preview.localhost:8081"),
		"cross-site":      do("POST", app, "/__stich/report?token=abc", "Sec-Fetch-Site", "cross-site"),
		"too long token":  do("POST", app, "/__stich/report?token="+strings.Repeat("a", 65)),
		"GET of a report": do("GET", app, "/__stich/report?token=abc"),
	} {
		if w.Code != http.StatusForbidden && !(name == "GET of a report" && w.Code == http.StatusMethodNotAllowed) {
			t.Errorf("report with %s: %d", name, w.Code)
		}
	}
	if len(asked) != 1 {
		t.Errorf("refused requests reached the grain: %v", asked)
	}

	https := &previewHandler{log: h.log, origins: preview.Origins{Scheme: "https", Domain: "apps.example.net"}, csp: h.csp, asset: h.asset}
	req := httptest.NewRequest("GET", "https://s-abcdefghijklmnopqrst.apps.example.net/", nil)
	req.Header.Set("Cookie", openPreviewAuth(https, "s-abcdefghijklmnopqrst"))
	rec := httptest.NewRecorder()
	https.handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Strict-Transport-Security"), "max-age=") {
		t.Errorf("https previews: %d, HSTS %q", rec.Code, rec.Header().Get("Strict-Transport-Security"))
	}
}

// openPreviewAuth gives h a signer and grains that let every pass in,
// and returns the Cookie header of a valid cookie for app id.
func openPreviewAuth(h *previewHandler, id string) string {
	h.tickets, h.now, h.checked = RandomPreviewSigner(), time.Now, map[[3]string]time.Time{}
	h.access = func(context.Context, preview.Pass) error { return nil }
	v, err := h.tickets.Mint(preview.Pass{Kind: preview.PassCookie, Session: id, User: "u-test", Key: "0123456789abcdef", Expires: time.Now().Add(time.Hour)})
	if err != nil {
		panic(err)
	}
	return preview.CookieName + "=" + v
}
