package rpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/auth"
	"github.com/stichdev/stich/cluster"
	"github.com/stichdev/stich/codegen"
	"github.com/stichdev/stich/internal/testutil"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
	"github.com/stichdev/stich/ratelimit"
)

type testServer struct {
	rt     *actors.Runtime
	srv    *Server
	url    string
	client stichv1connect.SessionServiceClient
	h2     *http.Client
}

func newTestServer(t testing.TB, limit ratelimit.Rule, chunkDelay time.Duration) *testServer {
	t.Helper()
	return newTestServerWith(t, limit, chunkDelay, nil)
}

// newTestServerWith is newTestServer with the node's config adjusted by
// tune (if not nil).
func newTestServerWith(t testing.TB, limit ratelimit.Rule, chunkDelay time.Duration, tune func(*cluster.Config)) *testServer {
	t.Helper()
	return newTestServerLogged(t, limit, chunkDelay, tune, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// newTestServerLogged is newTestServerWith logging to log.
func newTestServerLogged(t testing.TB, limit ratelimit.Rule, chunkDelay time.Duration, tune func(*cluster.Config), log *slog.Logger) *testServer {
	t.Helper()
	return newTestServerRPC(t, limit, chunkDelay, tune, log, nil)
}

// testPasswordParams keep argon2id cheap in tests.
var testPasswordParams = auth.PasswordParams{Time: 1, Memory: 64, Threads: 1, KeyLen: 32}

// newTestServerAccounts is newTestServerLogged with accounts configured by
// acc (cheap password hashing unless acc sets its own).
func newTestServerAccounts(t testing.TB, limit ratelimit.Rule, chunkDelay time.Duration, tune func(*cluster.Config), log *slog.Logger, acc AccountsConfig) *testServer {
	t.Helper()
	return newTestServerRPC(t, limit, chunkDelay, tune, log, func(c *Config) { c.Accounts = acc })
}

// newTestServerRPC is newTestServerLogged with the server's config
// adjusted by tuneRPC (if not nil); password hashing is cheap unless
// tuneRPC sets its own.
func newTestServerRPC(t testing.TB, limit ratelimit.Rule, chunkDelay time.Duration, tune func(*cluster.Config), log *slog.Logger, tuneRPC func(*Config)) *testServer {
	t.Helper()
	cfg := cluster.DefaultLocalConfig()
	cfg.Name, cfg.InMemory = "rpc-test", true
	cfg.Logger = log
	if tune != nil {
		tune(&cfg)
	}
	return newTestServerRuntime(t, limit, log, actors.Config{Cluster: cfg, NodeKeys: testNodeKeys(t),
		Providers: map[string]codegen.Provider{"scaffold": codegen.Scaffold{ChunkDelay: chunkDelay}}}, tuneRPC)
}

// newTestServerRuntime serves a node started with acfg, its RPC
// configuration adjusted by tuneRPC (if not nil).
func newTestServerRuntime(t testing.TB, limit ratelimit.Rule, log *slog.Logger, acfg actors.Config, tuneRPC func(*Config)) *testServer {
	t.Helper()
	rt, err := actors.Start(context.Background(), acfg)
	if err != nil {
		t.Fatal(err)
	}
	rcfg := Config{Addr: "127.0.0.1:0", CreateLimit: limit, Logger: log}
	if tuneRPC != nil {
		tuneRPC(&rcfg)
	}
	if rcfg.Accounts.Password.Time == 0 {
		rcfg.Accounts.Password = testPasswordParams
	}
	srv, err := New(rt, rcfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	t.Cleanup(func() {
		srv.Shutdown(context.Background())
		rt.Shutdown(context.Background())
	})
	url := "http://" + srv.Addr()
	signInOwner(t, srv)
	// h2c with prior knowledge, as buf curl --http2-prior-knowledge does.
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	h2 := &http.Client{Transport: bearerTransport{base: &http.Transport{Protocols: protocols}}}
	return &testServer{rt: rt, srv: srv, url: url, h2: h2,
		client: stichv1connect.NewSessionServiceClient(testHTTP, url)}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func wantCode(t *testing.T, err error, code connect.Code, msgPart string) {
	t.Helper()
	if connect.CodeOf(err) != code {
		t.Fatalf("got %v, want code %v", err, code)
	}
	if msgPart != "" && !strings.Contains(err.Error(), msgPart) {
		t.Fatalf("error %q does not mention %q", err, msgPart)
	}
}

func TestCreateAndWatchOverHTTP2(t *testing.T) {
	ts := newTestServer(t, ratelimit.Rule{}, 0)
	client := stichv1connect.NewSessionServiceClient(ts.h2, ts.url, connect.WithGRPC())
	res, err := client.CreateSession(ctxT(t), connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "a recipe tracker with ingredients and ratings"}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Msg.GetProviderLabel() != "scaffold (no model)" {
		t.Fatalf("label %q", res.Msg.GetProviderLabel())
	}
	id := res.Msg.GetSessionId()
	stream, err := client.Watch(ctxT(t), connect.NewRequest(&stichv1.WatchRequest{SessionId: id, UntilIdle: true}))
	if err != nil {
		t.Fatal(err)
	}
	var seq uint64
	var last *stichv1.SessionEvent
	// A file can be written in more than one phase (the first phase's
	// App.tsx is replaced by the last): count paths, not FileDone events.
	written := map[string]bool{}
	for stream.Receive() {
		ev := stream.Msg()
		if ev.GetSeq() != seq+1 {
			t.Fatalf("seq %d after %d", ev.GetSeq(), seq)
		}
		seq, last = ev.GetSeq(), ev
		if d := ev.GetFileDone(); d != nil {
			written[d.GetPath()] = true
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	files := len(written)
	if last.GetCompleted() == nil || files == 0 {
		t.Fatalf("stream ended with %v after %d files", last, files)
	}
	sess, err := client.GetSession(ctxT(t), connect.NewRequest(&stichv1.GetSessionRequest{SessionId: id}))
	if err != nil {
		t.Fatal(err)
	}
	if sess.Msg.GetSession().GetPhase() != stichv1.Phase_PHASE_COMPLETED || sess.Msg.GetSession().GetBlueprint().GetTitle() == "" {
		t.Fatalf("session %v", sess.Msg.GetSession())
	}
	list, err := client.ListFiles(ctxT(t), connect.NewRequest(&stichv1.ListFilesRequest{SessionId: id}))
	if err != nil || len(list.Msg.GetFiles()) != files {
		t.Fatalf("list files: %d, %v (want %d)", len(list.Msg.GetFiles()), err, files)
	}
	f, err := client.GetFile(ctxT(t), connect.NewRequest(&stichv1.GetFileRequest{SessionId: id, Path: "package.json"}))
	if err != nil || !strings.Contains(f.Msg.GetFile().GetContent(), `"react"`) {
		t.Fatalf("package.json: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	ts := newTestServer(t, ratelimit.Rule{}, 0)
	c := ts.client
	ctx := ctxT(t)
	_, err := c.CreateSession(ctx, connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: ""}))
	wantCode(t, err, connect.CodeInvalidArgument, "prompt")
	_, err = c.CreateSession(ctx, connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: " \n\t "}))
	wantCode(t, err, connect.CodeInvalidArgument, "non-whitespace")
	_, err = c.CreateSession(ctx, connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: strings.Repeat("a", 1<<20)}))
	wantCode(t, err, connect.CodeInvalidArgument, "prompt")
	_, err = c.CreateSession(ctx, connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "x", Options: &stichv1.SessionOptions{Provider: "gpt-9"}}))
	wantCode(t, err, connect.CodeInvalidArgument, "not configured")
	_, err = c.GetSession(ctx, connect.NewRequest(&stichv1.GetSessionRequest{SessionId: "s-nosuchsession000000"}))
	wantCode(t, err, connect.CodeNotFound, "does not exist")
	_, err = c.GetSession(ctx, connect.NewRequest(&stichv1.GetSessionRequest{SessionId: "../../etc"}))
	wantCode(t, err, connect.CodeInvalidArgument, "session_id")
	_, err = c.SendMessage(ctx, connect.NewRequest(&stichv1.SendMessageRequest{SessionId: "s-nosuchsession000000", Text: "hi"}))
	wantCode(t, err, connect.CodeNotFound, "")

	res, err := c.CreateSession(ctx, connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "a todo list"}))
	if err != nil {
		t.Fatal(err)
	}
	id := res.Msg.GetSessionId()
	stream, err := c.Watch(ctx, connect.NewRequest(&stichv1.WatchRequest{SessionId: id, AfterSeq: 1 << 40}))
	if err == nil {
		for stream.Receive() {
		}
		err = stream.Err()
	}
	wantCode(t, err, connect.CodeOutOfRange, "beyond")
	_, err = c.GetFile(ctx, connect.NewRequest(&stichv1.GetFileRequest{SessionId: id, Path: "nope.txt"}))
	wantCode(t, err, connect.CodeNotFound, "nope.txt")
	_, err = c.SaveFile(ctx, connect.NewRequest(&stichv1.SaveFileRequest{SessionId: id, Path: "src/big.ts", Content: strings.Repeat("x", 1<<20)}))
	wantCode(t, err, connect.CodeInvalidArgument, "content")
	_, err = c.SaveFile(ctx, connect.NewRequest(&stichv1.SaveFileRequest{SessionId: id, Path: "src/a.ts", BaseSha256: "abc"}))
	wantCode(t, err, connect.CodeInvalidArgument, "base_sha256")
	_, err = c.SaveFile(ctx, connect.NewRequest(&stichv1.SaveFileRequest{SessionId: "s-nosuchsession000000", Path: "src/a.ts"}))
	wantCode(t, err, connect.CodeNotFound, "")

	// Malformed bodies.
	for _, body := range []string{`{"prompt":`, `{"prompt": 5}`, `not json`} {
		resp, err := testHTTP.Post(ts.url+"/stich.v1.SessionService/CreateSession", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !bytes.Contains(b, []byte("invalid_argument")) {
			t.Fatalf("body %q: %d %s", body, resp.StatusCode, b)
		}
	}
	resp, err := testHTTP.Post(ts.url+"/stich.v1.SessionService/CreateSession", "application/proto", strings.NewReader("\xff\xff\xff"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad protobuf: %d", resp.StatusCode)
	}
}

func TestCreateRateLimited(t *testing.T) {
	ts := newTestServer(t, ratelimit.Rule{Limit: 2, Window: time.Minute}, 0)
	for i := 0; i < 2; i++ {
		if _, err := ts.client.CreateSession(ctxT(t), connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "x"})); err != nil {
			t.Fatal(err)
		}
	}
	_, err := ts.client.CreateSession(ctxT(t), connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "x"}))
	wantCode(t, err, connect.CodeResourceExhausted, "retry in")
	var ce *connect.Error
	errors.As(err, &ce)
	if ce.Meta().Get("Retry-After") == "" || len(ce.Details()) != 1 {
		t.Fatalf("no retry hint: meta %v details %d", ce.Meta(), len(ce.Details()))
	}
}

func TestHealthAndShutdownEndsStreams(t *testing.T) {
	ts := newTestServer(t, ratelimit.Rule{}, 50*time.Millisecond)
	health := grpchealth.NewClient(ts.h2, ts.url, connect.WithGRPC())
	if st, err := health.Check(ctxT(t), &grpchealth.CheckRequest{Service: stichv1connect.SessionServiceName}); err != nil || st.Status != grpchealth.StatusServing {
		t.Fatalf("health: %v %v", st, err)
	}
	res, err := ts.client.CreateSession(ctxT(t), connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "a kanban board"}))
	if err != nil {
		t.Fatal(err)
	}
	stream, err := ts.client.Watch(ctxT(t), connect.NewRequest(&stichv1.WatchRequest{SessionId: res.Msg.GetSessionId()}))
	if err != nil {
		t.Fatal(err)
	}
	if !stream.Receive() {
		t.Fatal(stream.Err())
	}
	go ts.srv.Shutdown(context.Background())
	for stream.Receive() {
	}
	wantCode(t, stream.Err(), connect.CodeUnavailable, "reconnect with after_seq")
}

func TestClientDisconnectLeaksNothing(t *testing.T) {
	ts := newTestServer(t, ratelimit.Rule{}, 20*time.Millisecond)
	res, err := ts.client.CreateSession(ctxT(t), connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "a dashboard of sales metrics"}))
	if err != nil {
		t.Fatal(err)
	}
	id := res.Msg.GetSessionId()
	base := runtime.NumGoroutine()
	for i := 0; i < 20; i++ {
		ctx, cancel := context.WithCancel(ctxT(t))
		stream, err := ts.client.Watch(ctx, connect.NewRequest(&stichv1.WatchRequest{SessionId: id}))
		if err != nil {
			t.Fatal(err)
		}
		stream.Receive()
		cancel()
		stream.Close()
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	testutil.WaitFor(t, 20*time.Second, func() error {
		if n := runtime.NumGoroutine(); n > base+5 {
			return fmt.Errorf("%d goroutines, %d before the streams", n, base)
		}
		return nil
	})
}

// TestSaveFileCaseCollision: a save whose path differs from one of the
// app's files only by letter case is invalid_argument, naming both paths
// (they would be one file on macOS and Windows), and stores nothing.
func TestSaveFileCaseCollision(t *testing.T) {
	ts := newTestServer(t, ratelimit.Rule{}, 0)
	c, ctx := ts.client, ctxT(t)
	res, err := c.CreateSession(ctx, connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "a todo list"}))
	if err != nil {
		t.Fatal(err)
	}
	id := res.Msg.GetSessionId()
	stream, err := c.Watch(ctx, connect.NewRequest(&stichv1.WatchRequest{SessionId: id, UntilIdle: true}))
	if err != nil {
		t.Fatal(err)
	}
	for stream.Receive() {
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	list, err := c.ListFiles(ctx, connect.NewRequest(&stichv1.ListFilesRequest{SessionId: id}))
	if err != nil {
		t.Fatal(err)
	}
	var stored string
	for _, f := range list.Msg.GetFiles() {
		if strings.HasSuffix(f.GetPath(), ".tsx") {
			stored = f.GetPath()
			break
		}
	}
	if stored == "" {
		t.Fatalf("no .tsx file in %v", list.Msg.GetFiles())
	}
	twin := strings.ToUpper(stored[:1]) + stored[1:]
	if twin == stored {
		twin = strings.ToLower(stored[:1]) + stored[1:]
	}
	_, err = c.SaveFile(ctx, connect.NewRequest(&stichv1.SaveFileRequest{SessionId: id, Path: twin, Content: "export {};\n"}))
	wantCode(t, err, connect.CodeInvalidArgument, twin)
	if !strings.Contains(err.Error(), stored) {
		t.Fatalf("error %q does not name the app's %s", err, stored)
	}
	after, err := c.ListFiles(ctx, connect.NewRequest(&stichv1.ListFilesRequest{SessionId: id}))
	if err != nil || len(after.Msg.GetFiles()) != len(list.Msg.GetFiles()) {
		t.Fatalf("files after the refused save: %d, %v (were %d)", len(after.Msg.GetFiles()), err, len(list.Msg.GetFiles()))
	}
}
