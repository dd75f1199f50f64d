package rpc

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/auth"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
	"github.com/stichdev/stich/ratelimit"
)

// BenchmarkGetSessionAuth measures what authentication and the
// ownership check add to GetSession of an idle session, as the issue asks:
// "the same call unauthenticated". Three servers over h2c on loopback,
// called in turn (the order rotating) so that a loaded machine slows all
// three alike, each call timed on its own:
//   - stich: the server's whole edge with the owner's API key (the key
//     check and the ownership check come from their caches after the
//     first call);
//   - unauthenticated (the reference of the target, auth-x ≤ 1.1): the
//     same edge (host and origin checks, deadlines, body limit, security
//     headers, metrics and the access log, the validator, the same limits)
//     with neither the authenticator nor the authorizer, called with no key;
//   - bare: the session service and validator alone, no edge at all; edge-x
//     (stich vs bare) says what the whole edge costs, for information.
//
// It reports the p50 of each (stich-p50-us, unauth-p50-us, bare-p50-us),
// their ratios, and the process's CPU time per round of three calls.
func BenchmarkGetSessionAuth(b *testing.B) {
	ts := newTestServer(b, ratelimit.Rule{}, 0)
	ctx := context.Background()
	owner := stichv1connect.NewSessionServiceClient(ts.h2, ts.url)
	res, err := owner.CreateSession(ctx, connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "a todo list"}))
	if err != nil {
		b.Fatal(err)
	}
	id := res.Msg.GetSessionId()
	if err := ts.rt.Watch(ctx, actors.NodeCaller(), id, 0, true, func(*stichv1.SessionEvent) error { return nil }); err != nil {
		b.Fatal(err)
	}
	val, err := newValidator()
	if err != nil {
		b.Fatal(err)
	}
	svc := func() *sessionService {
		return &sessionService{rt: ts.rt, log: ts.srv.log, shutdown: ctx, limits: UserLimits{
			Create: ts.srv.cfg.CreateLimit, Message: ts.srv.cfg.MessageLimit, Save: ts.srv.cfg.SaveLimit}}
	}
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	serve := func(h func(addr string) http.Handler) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := &http.Server{Handler: h(ln.Addr().String()), Protocols: protocols, ReadHeaderTimeout: readHeaderTimeout,
			IdleTimeout: idleTimeout, MaxHeaderBytes: maxHeaderBytes}
		go srv.Serve(ln)
		b.Cleanup(func() { srv.Close() })
		return "http://" + ln.Addr().String()
	}
	unauthURL := serve(func(addr string) http.Handler {
		e, err := newEdge(ts.srv.cfg.Edge, addr)
		if err != nil {
			b.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle(stichv1connect.NewSessionServiceHandler(svc(), connect.WithInterceptors(newObserver(ts.srv.log, prometheus.NewRegistry()), val),
			connect.WithCompressMinBytes(compressMinBytes), connect.WithReadMaxBytes(MaxRequestBytes)))
		return e.wrap(secureHeaders(mux))
	})
	bareURL := serve(func(string) http.Handler {
		mux := http.NewServeMux()
		mux.Handle(stichv1connect.NewSessionServiceHandler(svc(), connect.WithInterceptors(val), connect.WithCompressMinBytes(compressMinBytes)))
		return mux
	})
	// A plain h2c client: no key is sent.
	plain := &http.Client{Transport: &http.Transport{Protocols: protocols}}
	clients := []stichv1connect.SessionServiceClient{owner,
		stichv1connect.NewSessionServiceClient(plain, unauthURL), stichv1connect.NewSessionServiceClient(plain, bareURL)}
	req := connect.NewRequest(&stichv1.GetSessionRequest{SessionId: id})
	// All three answer the same session (the unauthenticated servers call
	// the grain as the single-user owner, as the edge's owner key does).
	var titles [3]string
	for i, c := range clients {
		r, err := c.GetSession(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		titles[i] = r.Msg.GetSession().GetTitle()
	}
	if titles[0] != titles[1] || titles[0] != titles[2] {
		b.Fatalf("the three servers answer differently: titles %q", titles)
	}
	var took [3][]time.Duration
	round := 0
	cpu0 := processCPU()
	for b.Loop() {
		for k := range 3 {
			i := (round + k) % 3
			start := time.Now()
			if _, err := clients[i].GetSession(ctx, req); err != nil {
				b.Fatal(err)
			}
			took[i] = append(took[i], time.Since(start))
		}
		round++
	}
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/round")
	p50 := func(ds []time.Duration) float64 {
		ds = slices.Clone(ds)
		slices.Sort(ds)
		return float64(ds[len(ds)/2]) / 1e3
	}
	s, u, bare := p50(took[0]), p50(took[1]), p50(took[2])
	b.ReportMetric(s, "stich-p50-us")
	b.ReportMetric(u, "unauth-p50-us")
	b.ReportMetric(bare, "bare-p50-us")
	b.ReportMetric(s/u, "auth-x")
	b.ReportMetric(s/bare, "edge-x")
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSignIn measures e-mail and password sign-in through the whole
// edge (the two rate-limit buckets, the directory and user grains, one
// argon2id verification with [auth.DefaultPasswordParams], the browser
// session's write) and reports its p50 in ms (stich-p50-ms). Reference:
// one bare auth.VerifyPassword with the same parameters (ref-p50-ms), the
// floor any sign-in pays.
func BenchmarkSignIn(b *testing.B) {
	lots := ratelimit.Rule{Limit: 1_000_000, Window: time.Minute}
	ts := newTestServerRPC(b, ratelimit.Rule{}, 0, nil, slog.New(slog.DiscardHandler), func(c *Config) {
		c.Accounts = AccountsConfig{Mode: "multi", Mailer: &mailbox{}, Password: auth.DefaultPasswordParams, SignInPerIP: lots, SignInPerEmail: lots}
	})
	const email, password = "bench@example.com", "a long enough password"
	hash, err := auth.HashPassword(password, auth.DefaultPasswordParams)
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := actors.CreateAccount(context.Background(), ts.rt.Node, email, &actorsv1.UserRecord{
		Role: actorsv1.UserRole_USER_ROLE_USER, PasswordHash: hash, EmailVerified: true}); err != nil {
		b.Fatal(err)
	}
	p50 := func(ds []time.Duration) float64 {
		slices.Sort(ds)
		return float64(ds[len(ds)/2]) / 1e6
	}
	var stich, ref []time.Duration
	b.Run("stich", func(b *testing.B) {
		c := stichv1connect.NewAccountServiceClient(http.DefaultClient, ts.url)
		req := connect.NewRequest(&stichv1.SignInRequest{Email: email, Password: password})
		for b.Loop() {
			start := time.Now()
			if _, err := c.SignIn(context.Background(), req); err != nil {
				b.Fatal(err)
			}
			stich = append(stich, time.Since(start))
		}
		b.ReportMetric(p50(stich), "stich-p50-ms")
	})
	b.Run("reference", func(b *testing.B) {
		for b.Loop() {
			start := time.Now()
			if err := auth.VerifyPassword(password, hash); err != nil {
				b.Fatal(err)
			}
			ref = append(ref, time.Since(start))
		}
		b.ReportMetric(p50(ref), "ref-p50-ms")
	})
}
