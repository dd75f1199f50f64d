package rpc

import (
	"context"
	"net"
	"net/http"
	"testing"

	"connectrpc.com/connect"

	"github.com/stichdev/stich/actors"
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
	get := func(b *testing.B, c stichv1connect.SessionServiceClient) {
		req := connect.NewRequest(&stichv1.GetSessionRequest{SessionId: id})
		for b.Loop() {
			if _, err := c.GetSession(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
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
