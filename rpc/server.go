package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/preview"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
	"github.com/stichdev/stich/ratelimit"
)

// Config configures a [Server].
type Config struct {
	// Addr is the HTTP listen address, e.g. "127.0.0.1:8080"; port 0 picks
	// a free port.
	Addr string
	// Listener, if set, is used instead of listening on Addr (so a caller
	// can learn the bound address before the server exists).
	Listener net.Listener
	// CreateLimit limits CreateSession per user; a zero Limit disables
	// it.
	CreateLimit ratelimit.Rule
	// AnonymousReadLimit limits the calls of callers who are not signed in
	// (reading the gallery and public or unlisted apps) per client
	// address; zero is [DefaultAnonymousReadLimit].
	AnonymousReadLimit ratelimit.Rule
	// MessageLimit and SaveLimit limit SendMessage and SaveFile per user
	// (rpc/limits.go); a zero Limit disables one.
	MessageLimit, SaveLimit ratelimit.Rule
	// Logger receives request logs. Default slog.Default().
	Logger *slog.Logger
	// Version is reported on the index page.
	Version string
	// ModelEndpoints and ActionModels describe the model configuration
	// for GetServerInfo (empty when apps are written by the scaffold).
	// Set by the caller that configured the providers; never API keys.
	ModelEndpoints []*stichv1.ModelEndpoint
	ActionModels   []*stichv1.ActionModel
	// DefaultModel is the model that writes code ("" for the scaffold).
	DefaultModel string
	// Edge configures the Host, Origin and client-address checks every
	// request passes (rpc/edge.go).
	Edge EdgeConfig
	// Accounts configures sign-up and sign-in (rpc/account.go).
	Accounts AccountsConfig
	// OnLeave, if set, is called (once, on its own goroutine) when an
	// operator asks the node to leave the cluster through AdminService.
	OnLeave func()
	// Previews names the apps' preview origins: the UI may frame them and
	// nothing else.
	Previews preview.Origins
	// PreviewTickets signs the preview tickets of PreviewTicketPath
	// (rpc/previewauth.go); the preview servers of every node must check
	// them with the same keys. Nil: a random key of this process.
	PreviewTickets *preview.Signer
	// Signed, if set, serves every path under SignedPrefix ("/v1/x/") by
	// itself: its requests carry a signed URL as their only authority
	// (the Nomad builds' workspace and result URLs), never a session.
	SignedPrefix string
	Signed       http.Handler
	// OAuth configures sign-in through outside providers (rpc/oauth.go).
	OAuth OAuthConfig
}

// UserLimits are the per-user limits of the session service.
type UserLimits struct {
	Create, Message, Save ratelimit.Rule
}

// DefaultCreateLimit allows a user 30 new sessions a minute, 10 in any
// 10 s, and 1000 a day.
func DefaultCreateLimit() ratelimit.Rule {
	return ratelimit.Rule{Limit: 30, Window: time.Minute, BurstLimit: 10, BurstWindow: 10 * time.Second, DailyLimit: 1000}
}

// DefaultAnonymousReadLimit allows one client address, not signed in, 600
// calls a minute, 200 in any 10 s, and 20000 a day: a visitor's browser
// opening a public app makes a dozen calls, and a reloading page some
// more; a scraper is slowed to a crawl.
func DefaultAnonymousReadLimit() ratelimit.Rule {
	return ratelimit.Rule{Limit: 600, Window: time.Minute, BurstLimit: 200, BurstWindow: 10 * time.Second, DailyLimit: 20000}
}

// Server serves the Connect API of one node.
type Server struct {
	cfg      Config
	log      *slog.Logger
	rt       *actors.Runtime
	health   *grpchealth.StaticChecker
	handler  http.Handler
	http     *http.Server
	auth     *authenticator
	authz    *authorizer
	accounts *accountService
	// previewTickets signs preview tickets (cfg.PreviewTickets).
	previewTickets *preview.Signer

	mu       sync.Mutex
	ln       net.Listener
	shutdown context.Context
	cancel   context.CancelFunc

	shutdownOnce sync.Once
	shutdownErr  error
}

// New builds the server's handlers; [Server.Listen] binds it.
func New(rt *actors.Runtime, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	for _, l := range []struct {
		name string
		rule ratelimit.Rule
	}{{"create", cfg.CreateLimit}, {"message", cfg.MessageLimit}, {"save", cfg.SaveLimit}, {"anonymous read", cfg.AnonymousReadLimit}} {
		if l.rule.Limit > 0 {
			if err := l.rule.Validate(); err != nil {
				return nil, fmt.Errorf("rpc: %s limit: %w", l.name, err)
			}
		}
	}
	val, err := newValidator()
	if err != nil {
		return nil, fmt.Errorf("rpc: validator: %w", err)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, rt: rt, auth: newAuthenticator(rt, cfg.Logger), authz: newAuthorizer(rt, cfg.Logger),
		previewTickets: cfg.PreviewTickets}
	if s.previewTickets == nil {
		s.previewTickets = RandomPreviewSigner()
	}
	s.authz.anonRead = cfg.AnonymousReadLimit
	if s.authz.anonRead.Limit == 0 {
		s.authz.anonRead = DefaultAnonymousReadLimit()
	}
	if err := s.cfg.Accounts.setDefaults(s); err != nil {
		return nil, err
	}
	s.accounts = newAccountService(s)
	s.shutdown, s.cancel = context.WithCancel(context.Background())

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	obs := newObserver(s.log, reg)
	reg.MustRegister(grainCollector{rt: rt})

	opts := []connect.HandlerOption{
		connect.WithInterceptors(obs, s.authz, val, s.authz.ownership()),
		// NB: session events are small and latency-bound; gzip (a pooled
		// writer is often lost to GC) cost more on the way to a watcher
		// than it saved in bytes. Large replies (files) are compressed.
		connect.WithCompressMinBytes(compressMinBytes),
		// NB: applies to a message after decompression: a gzip bomb is
		// refused when it inflates past the limit, not after.
		connect.WithReadMaxBytes(MaxRequestBytes),
	}
	mux := http.NewServeMux()
	// Routes that need a caller go through s.auth.wrap (rpc/auth.go); the
	// UI's files, health, reflection and the sign-in link do not.
	sessionPath, sessionHandler := stichv1connect.NewSessionServiceHandler(&sessionService{
		rt: rt, log: s.log, shutdown: s.shutdown,
		limits: UserLimits{Create: cfg.CreateLimit, Message: cfg.MessageLimit, Save: cfg.SaveLimit},
	}, opts...)
	mux.Handle(sessionPath, s.auth.wrap(sessionHandler))
	adminPath, adminHandler := stichv1connect.NewAdminServiceHandler(&adminService{rt: rt, onLeave: cfg.OnLeave, cfg: &s.cfg, log: s.log}, opts...)
	mux.Handle(adminPath, s.auth.wrap(adminHandler))
	accountPath, accountHandler := stichv1connect.NewAccountServiceHandler(s.accounts, opts...)
	mux.Handle(accountPath, s.auth.wrap(accountHandler))
	mux.Handle("GET /api/sessions/{id}/download.zip", s.auth.wrap(http.HandlerFunc(s.download)))
	mux.Handle("GET /api/sessions/{id}/screenshot.png", s.auth.wrap(http.HandlerFunc(s.screenshot)))
	mux.Handle("POST /api/sessions/{id}/preview-ticket", s.auth.wrap(http.HandlerFunc(s.previewTicket)))
	mux.Handle("POST /api/sessions/{id}/versions/{version}/preview-ticket", s.auth.wrap(http.HandlerFunc(s.previewTicket)))
	mux.HandleFunc("GET /auth/signin", s.signIn)
	mux.Handle("POST /auth/signout", s.auth.wrap(http.HandlerFunc(s.signOut)))
	mux.Handle("POST /auth/links", s.auth.wrap(adminOnly(http.HandlerFunc(s.newLink))))
	// NB: not behind s.auth.wrap: these are top-level browser navigations
	// (no CSRF header), anonymous by nature; the flow's state and its
	// cookie are their credential.
	signIn, err := newOAuthSignIn(s, cfg.OAuth)
	if err != nil {
		return nil, err
	}
	signIn.register(mux)
	mux.HandleFunc("/api/sessions/{id}/download.zip", methodNotAllowed("GET, HEAD"))
	mux.HandleFunc("/api/sessions/{id}/screenshot.png", methodNotAllowed("GET, HEAD"))
	mux.HandleFunc("/api/sessions/{id}/preview-ticket", methodNotAllowed("POST"))
	mux.HandleFunc("/api/sessions/{id}/versions/{version}/preview-ticket", methodNotAllowed("POST"))
	mux.HandleFunc("/api/", apiNotFound)
	services := []string{stichv1connect.SessionServiceName, stichv1connect.AdminServiceName, stichv1connect.AccountServiceName}
	s.health = grpchealth.NewStaticChecker(services...)
	small := connect.WithReadMaxBytes(smallRequestBytes)
	mux.Handle(grpchealth.NewHandler(s.health, connect.WithCompressMinBytes(compressMinBytes), small))
	reflector := grpcreflect.NewStaticReflector(services...)
	mux.Handle(grpcreflect.NewHandlerV1(reflector, small))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector, small))
	// Signed single-use URLs (the Nomad sandbox runner's workspace and
	// report): the URL's HMAC is the credential, checked by cfg.Signed.
	if cfg.Signed != nil && strings.HasPrefix(cfg.SignedPrefix, "/") && strings.HasSuffix(cfg.SignedPrefix, "/") {
		mux.Handle(cfg.SignedPrefix, cfg.Signed)
	}
	mux.Handle("GET /metrics", s.auth.wrap(adminOnly(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))))
	mux.Handle("/", s.webHandler())
	s.handler = secureHeaders(mux)

	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	s.http = &http.Server{
		Protocols:         protocols,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// secureHeaders adds what every API and UI response carries: no MIME
// sniffing, no framing (the UI's index has its own frame-ancestors), no
// embedding by other sites (previews may not load API answers as
// scripts or images), and HSTS when the request came over TLS (directly,
// or through a proxy that says so; browsers ignore HSTS over plain HTTP).
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// Listen binds the listen address.
func (s *Server) Listen() error {
	ln := s.cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", s.cfg.Addr); err != nil {
			return fmt.Errorf("rpc: listen on %s: %w", s.cfg.Addr, err)
		}
	}
	e, err := newEdge(s.cfg.Edge, ln.Addr().String())
	if err != nil {
		if s.cfg.Listener == nil {
			ln.Close()
		}
		return err
	}
	s.http.Handler = e.wrap(s.handler)
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	return nil
}

// Addr returns the bound address, or "" before Listen.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Serve serves until Shutdown; it returns nil after a clean shutdown.
func (s *Server) Serve() error {
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	if ln == nil {
		return errors.New("rpc: Serve before Listen")
	}
	s.log.Info("serving", "addr", ln.Addr().String())
	if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops serving: health turns NOT_SERVING, open Watch streams end
// with Unavailable (clients reconnect with after_seq), and in-flight unary
// calls finish, within ctx. Idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() {
		s.health.SetStatus(stichv1connect.SessionServiceName, grpchealth.StatusNotServing)
		s.health.SetStatus("", grpchealth.StatusNotServing)
		s.cancel()
		s.shutdownErr = s.http.Shutdown(ctx)
	})
	return s.shutdownErr
}

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	// NB: no node name: this page is served to anyone.
	fmt.Fprintf(w, "stich %s\n\nConnect API: /%s/*\nHealth: /grpc.health.v1.Health/Check\nMetrics: /metrics\n",
		s.cfg.Version, stichv1connect.SessionServiceName)
}
