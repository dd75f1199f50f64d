package rpc

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stichdev/stich/ratelimit"
)

// rawPost sends a Connect unary JSON call with the given headers.
func rawPost(t *testing.T, url, proc string, body []byte, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodPost, url+proc, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := testHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestEdgeHostAndOrigin: a Host the server was not bound under (DNS
// rebinding) is refused before any handler runs; so is a foreign Origin;
// the server's own names and origin pass.
func TestEdgeHostAndOrigin(t *testing.T) {
	ts := newTestServer(t, ratelimit.Rule{}, 0)
	port := ts.srv.Addr()[strings.LastIndex(ts.srv.Addr(), ":")+1:]
	const proc = "/stich.v1.AdminService/GetServerInfo"
	for _, c := range []struct {
		name   string
		header map[string]string
		status int
	}{
		{"own address", nil, http.StatusOK},
		{"localhost", map[string]string{"Host": "localhost:" + port}, http.StatusOK},
		{"rebinding name", map[string]string{"Host": "attacker.example:" + port}, http.StatusMisdirectedRequest},
		{"rebinding without port", map[string]string{"Host": "attacker.example"}, http.StatusMisdirectedRequest},
		{"own origin", map[string]string{"Origin": "http://127.0.0.1:" + port}, http.StatusOK},
		{"localhost origin", map[string]string{"Origin": "http://localhost:" + port}, http.StatusOK},
		{"foreign origin", map[string]string{"Origin": "http://attacker.example"}, http.StatusForbidden},
		{"other port (the preview origin)", map[string]string{"Origin": "http://127.0.0.1:1"}, http.StatusForbidden},
		{"null origin", map[string]string{"Origin": "null"}, http.StatusForbidden},
	} {
		status, body := rawPost(t, ts.url, proc, []byte("{}"), c.header)
		if status != c.status {
			t.Errorf("%s: status %d (%s), want %d", c.name, status, body, c.status)
		}
	}
}

// TestEdgeBodyLimits: a body past the limit on the wire, and a small gzip
// body that inflates past it, are refused with resource_exhausted (no
// generation starts); the HTTP server's limits are set.
func TestEdgeBodyLimits(t *testing.T) {
	ts := newTestServer(t, ratelimit.Rule{}, 0)
	huge := append(append([]byte(`{"prompt":"`), bytes.Repeat([]byte("a"), MaxRequestBytes+1024)...), `"}`...)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(huge)
	zw.Close()
	if gz.Len() > 100<<10 {
		t.Fatalf("the gzip bomb is %d bytes; want a small body", gz.Len())
	}
	for _, c := range []struct {
		name   string
		body   []byte
		header map[string]string
	}{
		{"raw", huge, nil},
		{"gzip bomb", gz.Bytes(), map[string]string{"Content-Encoding": "gzip"}},
	} {
		status, body := rawPost(t, ts.url, "/stich.v1.SessionService/CreateSession", c.body, c.header)
		var e struct{ Code string }
		_ = json.Unmarshal([]byte(body), &e)
		if status == http.StatusOK || e.Code != "resource_exhausted" {
			t.Errorf("%s: status %d code %q (%.200s), want resource_exhausted", c.name, status, e.Code, body)
		}
	}
	h := ts.srv.http
	if h.ReadHeaderTimeout == 0 || h.IdleTimeout == 0 || h.MaxHeaderBytes != maxHeaderBytes {
		t.Errorf("server limits: %+v", h)
	}
	// A header block past MaxHeaderBytes is refused by the server.
	status, _ := rawPost(t, ts.url, "/stich.v1.AdminService/GetServerInfo", []byte("{}"),
		map[string]string{"X-Padding": strings.Repeat("x", 2*maxHeaderBytes)})
	if status != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("huge header: %d, want 431", status)
	}
}

// TestEdgeClientAddr: X-Forwarded-For counts only when the peer is a
// trusted proxy, and then the right-most untrusted hop is the client.
func TestEdgeClientAddr(t *testing.T) {
	trusted, err := ParseTrustedProxies([]string{"10.0.0.0/8", "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseTrustedProxies([]string{"proxy.example"}); err == nil {
		t.Error("a host name was accepted as a trusted proxy")
	}
	e, err := newEdge(EdgeConfig{TrustedProxies: trusted}, "127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		peer, xff, want string
	}{
		{"127.0.0.1:5000", "203.0.113.9", "127.0.0.1"},       // loopback is not trusted by default
		{"198.51.100.1:5000", "203.0.113.9", "198.51.100.1"}, // an untrusted peer's header is ignored
		{"10.1.2.3:5000", "203.0.113.9", "203.0.113.9"},
		{"10.1.2.3:5000", "1.1.1.1, 203.0.113.9, 10.9.9.9", "203.0.113.9"}, // spoofed left part skipped
		{"192.0.2.7:5000", "", "192.0.2.7"},
		{"10.1.2.3:5000", "garbage, 203.0.113.9", "203.0.113.9"},
		{"10.1.2.3:5000", "203.0.113.9, garbage", "10.1.2.3"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = c.peer
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := e.clientAddr(r); got != c.want {
			t.Errorf("peer %s xff %q: %s, want %s", c.peer, c.xff, got, c.want)
		}
	}
}

// TestEdgeHostRules checks the allow-list derived from the listen address.
func TestEdgeHostRules(t *testing.T) {
	wild, err := newEdge(EdgeConfig{AllowedHosts: []string{"stich.example"}}, "0.0.0.0:8080")
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{"10.0.0.5:8080": true, "[::1]:8080": true, "stich.example": true,
		"STICH.example:443": true, "localhost": true, "other.example": false} {
		if got := wild.hostAllowed(host); got != want {
			t.Errorf("wildcard bind, host %q: %v", host, got)
		}
	}
	if !wild.originAllowed("http://10.0.0.5:8080") || wild.originAllowed("http://10.0.0.5:8081") || wild.originAllowed("https://stich.example") {
		t.Error("wildcard bind: origin rules")
	}
	spec, err := newEdge(EdgeConfig{AllowedOrigins: []string{"https://stich.example"}}, "192.0.2.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	if spec.hostAllowed("10.0.0.5:8080") || !spec.hostAllowed("192.0.2.1:8080") || spec.hostAllowed("localhost:8080") {
		t.Error("specific bind: host rules")
	}
	if !spec.originAllowed("https://stich.example") {
		t.Error("configured origin refused")
	}
	if _, err := newEdge(EdgeConfig{AllowedHosts: []string{"http://x"}}, "127.0.0.1:1"); err == nil {
		t.Error("a URL was accepted as a host name")
	}
	if _, err := newEdge(EdgeConfig{AllowedOrigins: []string{"stich.example"}}, "127.0.0.1:1"); err == nil {
		t.Error("an origin without scheme was accepted")
	}
}
