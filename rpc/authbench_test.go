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

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/auth"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
	"github.com/stichdev/stich/ratelimit"
)

// BenchmarkGetSessionAuth measures GetSession of an idle session. stich:
// through the server's whole edge, with the owner's API key (the key check
// and the ownership check, after their first call, come from the caches).
// Reference: the same session service and validator mounted bare, with no
// edge, authentication or authorization, called anonymously. Both over h2c
// on loopback.
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
	// NB: besides wall time, the process's CPU time per call (client and
	// server run in this process): on a loaded machine wall time mostly
	// measures the other processes, CPU time the work of the call.
	get := func(b *testing.B, c stichv1connect.SessionServiceClient) {
		req := connect.NewRequest(&stichv1.GetSessionRequest{SessionId: id})
		cpu0 := processCPU()
		for b.Loop() {
			if _, err := c.GetSession(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
	}
	b.Run("stich", func(b *testing.B) { get(b, owner) })
	b.Run("reference", func(b *testing.B) {
		val, err := newValidator()
		if err != nil {
			b.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle(stichv1connect.NewSessionServiceHandler(&sessionService{rt: ts.rt, log: ts.srv.log, shutdown: ctx},
			connect.WithInterceptors(val), connect.WithCompressMinBytes(compressMinBytes)))
		protocols := new(http.Protocols)
		protocols.SetUnencryptedHTTP2(true)
		srv := &http.Server{Handler: mux, Protocols: protocols}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		go srv.Serve(ln)
		defer srv.Close()
		// A plain h2c client: no key is sent.
		plain := &http.Client{Transport: &http.Transport{Protocols: protocols}}
		get(b, stichv1connect.NewSessionServiceClient(plain, "http://"+ln.Addr().String()))
	})
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
