package preview

import (
	"net/http"
	"strings"
)

// CSP is the content security policy of every app page, whoever serves
// it (a node's preview server or `stich preview DIR`): scripts only from
// the app's own origin (so no inline script, no other app's reporter),
// requests only to it, framing only by frameAncestors (the stich UI's
// origins; none: no framing). Styles may be inline (CSS in JS); images may
// come from anywhere over https (apps show photos).
func CSP(frameAncestors []string) string {
	fa := "'none'"
	if len(frameAncestors) > 0 {
		fa = strings.Join(frameAncestors, " ")
	}
	return "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https:; " +
		"font-src 'self' data:; media-src 'self' data: blob:; connect-src 'self'; worker-src 'self' blob:; frame-src 'self'; " +
		"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors " + fa
}

// SetHeaders sets the headers every preview response carries besides its
// policy: no content sniffing, no referrer, resources for the app's own
// origin only, and HSTS when served over https.
func SetHeaders(hd http.Header, https bool) {
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	// NB: other origins (other apps) may not embed this one's files as
	// scripts, styles or images; navigations (the UI's iframe) are not
	// affected.
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	if https {
		hd.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
	}
}

// WithHeaders wraps h so that every response carries [SetHeaders]'s
// headers and the policy csp (see [CSP]), as on a node's preview server.
func WithHeaders(h http.Handler, csp string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		SetHeaders(hd, r.TLS != nil)
		hd.Set("Content-Security-Policy", csp)
		h.ServeHTTP(w, r)
	})
}
