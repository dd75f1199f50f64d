package preview

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Every response of a wrapped handler, found or not, carries the policy and
// the preview headers; HSTS only over TLS.
func TestWithHeaders(t *testing.T) {
	p := &Preview{}
	h := WithHeaders(NewHandler(p), CSP(nil))
	for _, path := range []string{"/", "/missing.js"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		hd := rec.Header()
		if csp := hd.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self';") || !strings.HasSuffix(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if hd.Get("X-Content-Type-Options") != "nosniff" || hd.Get("Referrer-Policy") != "no-referrer" ||
			hd.Get("Cross-Origin-Resource-Policy") != "same-origin" || hd.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: headers %v", path, hd)
		}
	}
	if csp := CSP([]string{"http://a.test", "http://b.test"}); !strings.HasSuffix(csp, "frame-ancestors http://a.test http://b.test") {
		t.Errorf("CSP with UI origins: %q", csp)
	}
}
