package sandbox

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Install runs in a network namespace of its own, like every command: its
// only way out is an HTTP proxy the runner serves on a unix socket for the
// length of the install, bound into the sandbox. The proxy connects only
// to the registry's host and port, so npm (or anything npm were tricked
// into running) reaches neither the node's own ports on the host's
// loopback nor any other address. Inside, [forwardJS] listens on the
// namespace's own loopback and hands each connection to the socket, and
// runs npm with that listener as its proxy.

const (
	// egressSocket and forwardScript are where the proxy's socket and the
	// forwarder appear inside the sandbox.
	egressSocket  = "/run/stich/egress.sock"
	forwardScript = "/run/stich/forward.js"
)

// forwardJS runs inside the install's sandbox: node forward.js CMD ARGS...
// It is fixed text; nothing untrusted reaches it.
const forwardJS = `"use strict";
// stich: the install's one way out. Connections to a loopback port of the
// sandbox's own network namespace go to the node's egress proxy, which
// lets through only the npm registry.
const net = require("net");
const { spawn } = require("child_process");
const sock = process.env.STICH_EGRESS_SOCKET;
const server = net.createServer((c) => {
  const up = net.connect(sock);
  c.pipe(up);
  up.pipe(c);
  c.on("error", () => up.destroy());
  up.on("error", () => c.destroy());
});
server.listen(0, "127.0.0.1", () => {
  const proxy = "http://127.0.0.1:" + server.address().port;
  const env = { ...process.env, npm_config_proxy: proxy, npm_config_https_proxy: proxy, npm_config_noproxy: "",
    HTTP_PROXY: proxy, HTTPS_PROXY: proxy };
  delete env.STICH_EGRESS_SOCKET;
  const child = spawn(process.argv[2], process.argv.slice(3), { stdio: "inherit", env });
  child.on("error", (e) => { console.error("stich egress: " + e.message); process.exit(127); });
  child.on("exit", (code, signal) => { server.close(); process.exit(code === null ? 128 + 9 : code); });
  for (const s of ["SIGTERM", "SIGINT"]) process.on(s, () => child.kill(s));
});
`

// registryAddr returns the host:port installs may reach for registry.
func registryAddr(registry string) (string, error) {
	u, err := url.Parse(registry)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("%w: registry %q", ErrInvalid, registry)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
	}
	if port == "" {
		return "", fmt.Errorf("%w: registry %q: want http or https", ErrInvalid, registry)
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port), nil
}

// egress is one install's proxy.
type egress struct {
	dir   string // holds the socket; removed by close
	sock  string
	allow string // host:port
	log   *slog.Logger
	ln    net.Listener
	srv   *http.Server
	done  chan struct{}

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// startEgress serves a proxy to allow on a fresh unix socket that every
// sandbox uid may connect to.
func startEgress(allow string, log *slog.Logger) (*egress, error) {
	// NB: a short path: unix socket names are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "stich-egress-")
	if err != nil {
		return nil, fmt.Errorf("sandbox: egress: %w", err)
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("sandbox: egress: %w", err)
	}
	e := &egress{dir: dir, sock: filepath.Join(dir, "egress.sock"), allow: allow, log: log, done: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	if e.ln, err = net.Listen("unix", e.sock); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("sandbox: egress: %w", err)
	}
	if err := os.Chmod(e.sock, 0o666); err != nil {
		e.ln.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("sandbox: egress: %w", err)
	}
	// Generous: on a loaded machine the sandboxed npm and forwarder get
	// little CPU (a 10 s header timeout closed CONNECTs unanswered and npm
	// failed with "Proxy connection ended before receiving CONNECT
	// response"); only the install's own processes reach this socket.
	e.srv = &http.Server{Handler: e, ReadHeaderTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	go func() {
		defer close(e.done)
		_ = e.srv.Serve(e.ln)
	}()
	return e, nil
}

// close stops the proxy, ends its tunnels and removes the socket; it
// returns once the server goroutine is gone.
func (e *egress) close() {
	_ = e.srv.Close()
	e.mu.Lock()
	for c := range e.conns {
		c.Close()
	}
	e.mu.Unlock()
	<-e.done
	os.RemoveAll(e.dir)
}

func (e *egress) track(c net.Conn, on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if on {
		e.conns[c] = struct{}{}
	} else {
		delete(e.conns, c)
	}
}

// allowed reports whether host:port is the registry's.
func (e *egress) allowed(hostport string) bool {
	h, p, err := net.SplitHostPort(hostport)
	return err == nil && net.JoinHostPort(strings.ToLower(h), p) == e.allow
}

// ServeHTTP tunnels CONNECT to the registry and forwards plain-HTTP
// proxy requests to it; everything else is refused with 403.
func (e *egress) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		if !e.allowed(r.Host) {
			e.log.Warn("sandbox: install egress refused", "to", r.Host)
			http.Error(w, "stich: installs may reach only the npm registry ("+e.allow+")", http.StatusForbidden)
			return
		}
		e.tunnel(w, r)
		return
	}
	if r.URL.Scheme != "http" || !e.allowed(hostWithPort(r.URL)) {
		e.log.Warn("sandbox: install egress refused", "to", r.URL.Host)
		http.Error(w, "stich: installs may reach only the npm registry ("+e.allow+")", http.StatusForbidden)
		return
	}
	out := r.Clone(r.Context())
	out.RequestURI = ""
	for _, h := range []string{"Proxy-Connection", "Proxy-Authorization", "Connection", "Keep-Alive", "Te", "Trailer", "Upgrade"} {
		out.Header.Del(h)
	}
	res, err := plainTransport.RoundTrip(out)
	if err != nil {
		http.Error(w, "stich: registry: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer res.Body.Close()
	for k, vs := range res.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(res.StatusCode)
	_, _ = io.Copy(w, res.Body)
}

// plainTransport forwards plain-HTTP registry requests (no proxy of its
// own: the registry is reached directly).
var plainTransport = &http.Transport{Proxy: nil, DialContext: (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
	ResponseHeaderTimeout: time.Minute, MaxIdleConnsPerHost: 4}

func hostWithPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// tunnel joins the client to the registry for one CONNECT.
func (e *egress) tunnel(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	up, err := (&net.Dialer{}).DialContext(ctx, "tcp", e.allow)
	cancel()
	if err != nil {
		http.Error(w, "stich: registry: "+err.Error(), http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		up.Close()
		http.Error(w, "stich: no tunnel", http.StatusInternalServerError)
		return
	}
	down, buf, err := hj.Hijack()
	if err != nil {
		up.Close()
		return
	}
	e.track(up, true)
	e.track(down, true)
	defer func() {
		e.track(up, false)
		e.track(down, false)
		up.Close()
		down.Close()
	}()
	if _, err := down.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
		return
	}
	errc := make(chan error, 1)
	go func() {
		// Bytes the client sent after its CONNECT are in buf.
		_, err := io.Copy(up, io.MultiReader(io.LimitReader(buf, int64(buf.Reader.Buffered())), down))
		if tc, ok := up.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		errc <- err
	}()
	_, _ = io.Copy(down, up)
	down.Close() // ends the copy the other way
	<-errc
}
