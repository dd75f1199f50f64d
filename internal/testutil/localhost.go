package testutil

import (
	"context"
	"net"
	"net/http"
	"strings"
	"time"
)

// LocalhostClient returns an HTTP client that reaches every *.localhost
// name on 127.0.0.1, as browsers do (this machine's resolver does not), so
// tests can request per-app preview origins such as
// http://s-x.preview.localhost:8081/ with the Host header a browser sends.
// It does not follow redirects, so tests see them.
func LocalhostClient() *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err == nil && (host == "localhost" || strings.HasSuffix(host, ".localhost")) {
				addr = net.JoinHostPort("127.0.0.1", port)
			}
			return d.DialContext(ctx, network, addr)
		},
	}
	return &http.Client{Transport: tr, Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}
