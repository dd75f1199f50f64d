package rpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// The edge is what every request to the API server passes before a
// handler sees it:
//
//  1. The Host header must name this server (see [EdgeConfig.AllowedHosts]):
//     a page on another domain that resolves to this node's address (DNS
//     rebinding) is refused with 421 before anything runs.
//  2. A browser request from another origin (its Origin header) is refused
//     with 403: the API serves only its own UI.
//  3. A request body is cut at [MaxRequestBytes] on the wire; Connect's
//     read limit ([connect.WithReadMaxBytes]) applies again to a message
//     after decompression, so a small gzip body that inflates past it is
//     refused with resource_exhausted, never inflated into memory.
//  4. Unary calls and plain HTTP requests get read and write deadlines;
//     server streams (Watch) live as long as the client stays.
//  5. The client address is the peer's, or the address a trusted proxy
//     (--trusted-proxies) names in X-Forwarded-For; the header of any other
//     peer is ignored.

const (
	// MaxRequestBytes bounds a request body on the wire and one Connect
	// message after decompression (16 MiB; a saved file is at most 1 MiB).
	MaxRequestBytes = 16 << 20
	// smallRequestBytes bounds a message of the health and reflection
	// services (64 KiB).
	smallRequestBytes = 64 << 10
	// maxHeaderBytes bounds a request's header block (64 KiB).
	maxHeaderBytes = 64 << 10
	// readHeaderTimeout bounds reading a request's headers.
	readHeaderTimeout = 10 * time.Second
	// unaryTimeout bounds reading and answering a unary call or plain HTTP
	// request, from its start (a zip download is the longest, at most
	// [downloadTimeout]). NB: one value for both: on HTTP/1 a read deadline
	// that passes while the handler still runs cancels its context.
	unaryTimeout = downloadTimeout + 30*time.Second
	// idleTimeout closes keep-alive connections idle this long.
	idleTimeout = 2 * time.Minute
)

// EdgeConfig configures the request checks of [Server]'s edge.
type EdgeConfig struct {
	// AllowedHosts lists extra host names (without port) the API answers
	// to, e.g. the name a reverse proxy serves it under. The names of the
	// listen address are always allowed: for a specific address, that
	// address (and "localhost" for loopback); for a wildcard address, every
	// IP literal, "localhost" and the machine's host name. "*" allows any
	// Host (only behind a proxy that checks it).
	AllowedHosts []string
	// AllowedOrigins lists extra browser origins ("https://stich.example")
	// allowed to call the API. The server's own origin (any allowed host
	// with the served port) is always allowed.
	AllowedOrigins []string
	// TrustedProxies lists the networks of reverse proxies whose
	// X-Forwarded-For header names the client. Empty: the header is
	// ignored and the client is the TCP peer.
	TrustedProxies []netip.Prefix
}

// edge is the compiled [EdgeConfig] for one bound address.
type edge struct {
	anyHost        bool
	hosts          map[string]bool // lower-case host names, no port
	anyIP          bool            // a wildcard bind: any IP literal is this host
	port           string
	origins        map[string]bool // "scheme://host:port", lower-case
	trustedProxies []netip.Prefix
	// streams are the procedures ("/pkg.Service/Method") that stream
	// server messages: no read or write deadline.
	streams map[string]bool
}

// newEdge compiles cfg for a server bound to addr ("host:port").
func newEdge(cfg EdgeConfig, addr string) (*edge, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("rpc: edge: listen address %q: %w", addr, err)
	}
	e := &edge{hosts: map[string]bool{}, origins: map[string]bool{}, port: port,
		trustedProxies: cfg.TrustedProxies, streams: streamingProcedures()}
	ip, ipErr := netip.ParseAddr(host)
	switch {
	case host == "" || ipErr == nil && ip.IsUnspecified():
		e.anyIP = true
		e.hosts["localhost"] = true
		if name, err := os.Hostname(); err == nil && name != "" {
			e.hosts[strings.ToLower(name)] = true
		}
	default:
		e.hosts[strings.ToLower(host)] = true
		if ipErr == nil && ip.IsLoopback() || strings.EqualFold(host, "localhost") {
			for _, h := range []string{"localhost", "127.0.0.1", "::1"} {
				e.hosts[h] = true
			}
		}
	}
	for _, h := range cfg.AllowedHosts {
		h = strings.ToLower(strings.TrimSpace(h))
		switch {
		case h == "*":
			e.anyHost = true
		case h == "" || strings.ContainsAny(h, "/:@ ") && !isIPv6(h):
			return nil, fmt.Errorf("rpc: edge: allowed host %q: want a host name without scheme or port", h)
		default:
			e.hosts[strings.Trim(h, "[]")] = true
		}
	}
	for _, o := range cfg.AllowedOrigins {
		u, err := url.Parse(strings.TrimSpace(o))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" && u.Path != "/" {
			return nil, fmt.Errorf("rpc: edge: allowed origin %q: want scheme://host[:port]", o)
		}
		e.origins[strings.ToLower(u.Scheme+"://"+u.Host)] = true
	}
	return e, nil
}

func isIPv6(h string) bool {
	ip, err := netip.ParseAddr(strings.Trim(h, "[]"))
	return err == nil && ip.Is6()
}

// streamingProcedures lists the server-streaming procedures of the
// services this server mounts, from their descriptors.
func streamingProcedures() map[string]bool {
	out := map[string]bool{
		"/grpc.health.v1.Health/Watch":                                   true,
		"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      true,
		"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": true,
	}
	for _, fd := range []protoreflect.FileDescriptor{stichv1.File_stich_v1_session_proto, stichv1.File_stich_v1_admin_proto} {
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			for j := 0; j < sd.Methods().Len(); j++ {
				if md := sd.Methods().Get(j); md.IsStreamingServer() || md.IsStreamingClient() {
					out["/"+string(sd.FullName())+"/"+string(md.Name())] = true
				}
			}
		}
	}
	return out
}

// hostAllowed reports whether a Host header ("name[:port]") names this
// server. The port is not compared: what DNS rebinding changes is the name.
func (e *edge) hostAllowed(hostport string) bool {
	if e.anyHost {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	if host == "" {
		return false
	}
	if e.hosts[host] {
		return true
	}
	_, err := netip.ParseAddr(host)
	return e.anyIP && err == nil
}

// originAllowed reports whether a browser's Origin header is this server
// (an allowed host with the served port) or a configured origin.
func (e *edge) originAllowed(origin string) bool {
	origin = strings.ToLower(origin)
	if e.origins[origin] {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Path != "" || u.Host == "" {
		return false
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return port == e.port && e.hostAllowed(u.Host)
}

type clientAddrKey struct{}

// ClientAddr returns the client's IP address for a request that passed the
// edge ("unknown" otherwise).
func ClientAddr(ctx context.Context) string {
	if a, ok := ctx.Value(clientAddrKey{}).(string); ok {
		return a
	}
	return "unknown"
}

// clientAddr is the peer's address, or, when the peer is a trusted proxy,
// the right-most X-Forwarded-For address that is not itself a trusted
// proxy (the left part of the header is whatever the client wrote).
func (e *edge) clientAddr(r *http.Request) string {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return clientIP(r.RemoteAddr)
	}
	addr := peer.Addr().Unmap()
	if !e.trusted(addr) {
		return addr.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a malformed hop: trust nothing further left
		}
		addr = hop.Unmap()
		if !e.trusted(addr) {
			break
		}
	}
	return addr.String()
}

func (e *edge) trusted(a netip.Addr) bool {
	for _, p := range e.trustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// wrap applies the edge to next.
func (e *edge) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !e.hostAllowed(r.Host) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusMisdirectedRequest)
			fmt.Fprintf(w, "this server does not answer to host %q; add it with --allowed-hosts\n", r.Host)
			return
		}
		if o := r.Header.Get("Origin"); o != "" && !e.originAllowed(o) {
			writeError(w, connect.NewError(connect.CodePermissionDenied,
				fmt.Errorf("requests from origin %q are not allowed; add it with --allowed-origins", o)))
			return
		}
		rc := http.NewResponseController(w)
		if !e.streams[r.URL.Path] {
			deadline := time.Now().Add(unaryTimeout)
			// Errors mean the connection cannot take deadlines (a test
			// recorder); the server-wide timeouts still apply then.
			_ = rc.SetReadDeadline(deadline)
			_ = rc.SetWriteDeadline(deadline)
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, MaxRequestBytes)
		}
		ctx := context.WithValue(r.Context(), clientAddrKey{}, e.clientAddr(r))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// ParseTrustedProxies parses a list of addresses or CIDR networks.
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for _, s := range list {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		} else if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		} else {
			errs = append(errs, fmt.Errorf("trusted proxy %q: want an IP address or CIDR network (10.0.0.0/8)", s))
		}
	}
	return out, errors.Join(errs...)
}
