package rpc

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/auth"
	"github.com/stichdev/stich/cluster"
	"github.com/stichdev/stich/codegen"
	"github.com/stichdev/stich/nodekey"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
	"github.com/stichdev/stich/ratelimit"
)

// testNodeKeys is a node key ring of one fresh key.
func testNodeKeys(t testing.TB) *nodekey.Ring {
	t.Helper()
	k, err := nodekey.Generate("test")
	if err != nil {
		t.Fatal(err)
	}
	r, err := nodekey.New(k)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// wantRetry checks a refusal: resource_exhausted, the delay in the
// message, a RetryInfo detail and a Retry-After header.
func wantRetry(t *testing.T, err error, msgPart string) {
	t.Helper()
	wantCode(t, err, connect.CodeResourceExhausted, msgPart)
	if !strings.Contains(err.Error(), "retry in ") {
		t.Fatalf("no retry delay in %q", err)
	}
	var ce *connect.Error
	if !errors.As(err, &ce) {
		t.Fatalf("%T is not a connect error", err)
	}
	if ra := ce.Meta().Get("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("Retry-After %q", ra)
	}
	for _, d := range ce.Details() {
		if m, err := d.Value(); err == nil {
			if ri, ok := m.(*errdetails.RetryInfo); ok && ri.GetRetryDelay().AsDuration() > 0 {
				return
			}
		}
	}
	t.Fatalf("no RetryInfo detail in %v", ce.Details())
}

// Session creation, messages and file saves are limited per user, not per
// address: carol (from 127.0.0.1) is refused while bob (from the same
// address) is not.
func TestPerUserLimits(t *testing.T) {
	one := ratelimit.Rule{Limit: 1, Window: 24 * time.Hour}
	two := ratelimit.Rule{Limit: 2, Window: 24 * time.Hour}
	ts := newTestServerRPC(t, two, 0, nil, slog.New(slog.DiscardHandler), func(c *Config) {
		c.MessageLimit, c.SaveLimit = one, one
	})
	carol := stichv1connect.NewSessionServiceClient(clientAs(t, ts.srv, "carol", auth.RoleUser), ts.url)
	bob := stichv1connect.NewSessionServiceClient(clientAs(t, ts.srv, "bob", auth.RoleUser), ts.url)
	var ids []string
	for range 2 {
		res, err := carol.CreateSession(ctxT(t), connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "a todo list"}))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Msg.GetSessionId())
	}
	_, err := carol.CreateSession(ctxT(t), connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "a todo list"}))
	wantRetry(t, err, "too many sessions created (window limit: 2 a 24h0m0s)")
	if _, err := bob.CreateSession(ctxT(t), connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "a todo list"})); err != nil {
		t.Fatalf("bob is limited by carol's sessions: %v", err)
	}

	if _, err := carol.SendMessage(ctxT(t), connect.NewRequest(&stichv1.SendMessageRequest{SessionId: ids[0], Text: "add a footer"})); err != nil {
		t.Fatal(err)
	}
	_, err = carol.SendMessage(ctxT(t), connect.NewRequest(&stichv1.SendMessageRequest{SessionId: ids[1], Text: "add a footer"}))
	wantRetry(t, err, "too many messages sent")

	// A save needs an idle session.
	waitIdle(t, carol, ids[1])
	if _, err := carol.SaveFile(ctxT(t), connect.NewRequest(&stichv1.SaveFileRequest{SessionId: ids[1], Path: "src/a.ts", Content: "export {};\n"})); err != nil {
		t.Fatal(err)
	}
	_, err = carol.SaveFile(ctxT(t), connect.NewRequest(&stichv1.SaveFileRequest{SessionId: ids[1], Path: "src/b.ts", Content: "export {};\n"}))
	wantRetry(t, err, "too many file saves")
}

// waitIdle follows a session until its work ends.
func waitIdle(t *testing.T, c stichv1connect.SessionServiceClient, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stream, err := c.Watch(ctx, connect.NewRequest(&stichv1.WatchRequest{SessionId: id, UntilIdle: true}))
	if err != nil {
		t.Fatal(err)
	}
	for stream.Receive() {
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
}

// A user past the daily model budget cannot start a session or send a
// message (resource_exhausted, when it resets); with a model key of their
// own they can. Keys are shown by their last 4 characters only.
func TestModelBudgetAndKeysAtTheEdge(t *testing.T) {
	cfg := cluster.DefaultLocalConfig()
	cfg.Name, cfg.InMemory = "rpc-test", true
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	noon := func() time.Time { return time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC) }
	ts := newTestServerRuntime(t, ratelimit.Rule{}, log, actors.Config{Cluster: cfg, NodeKeys: testNodeKeys(t),
		DailyModelBudgetUSD: 0.5, BudgetClock: noon,
		OwnKeyProvider: func(actors.OwnModelKey) (codegen.Provider, error) { return codegen.Scaffold{}, nil },
		Providers:      map[string]codegen.Provider{"scaffold": codegen.Scaffold{}}}, nil)
	hc := clientAs(t, ts.srv, "carol", auth.RoleUser)
	carol := stichv1connect.NewSessionServiceClient(hc, ts.url)
	acct := stichv1connect.NewAccountServiceClient(hc, ts.url)
	res, err := carol.CreateSession(ctxT(t), connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "a todo list"}))
	if err != nil {
		t.Fatal(err)
	}
	id := res.Msg.GetSessionId()
	waitIdle(t, carol, id)
	// The day's spend reaches the budget.
	if _, err := actors.Call[*actorsv1.ModelSpendReply](ctxT(t), ts.rt.Node, actors.KindUser, "carol",
		&actorsv1.ChargeModelSpend{Day: actors.Day(noon()), MicroUsd: 500_000}); err != nil {
		t.Fatal(err)
	}
	_, err = carol.CreateSession(ctxT(t), connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "a todo list"}))
	wantCode(t, err, connect.CodeResourceExhausted, "daily model budget of $0.50 is used up ($0.50 spent today); it resets at 00:00 UTC, in 12h0m")
	var ce *connect.Error
	if errors.As(err, &ce) && ce.Meta().Get("Retry-After") != "43200" {
		t.Fatalf("Retry-After %q", ce.Meta().Get("Retry-After"))
	}
	_, err = carol.SendMessage(ctxT(t), connect.NewRequest(&stichv1.SendMessageRequest{SessionId: id, Text: "add a footer"}))
	wantCode(t, err, connect.CodeResourceExhausted, "daily model budget")
	list, err := acct.ListModelKeys(ctxT(t), connect.NewRequest(&stichv1.ListModelKeysRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if b := list.Msg.GetBudget(); b.GetDailyUsd() != 0.5 || b.GetSpentUsd() != 0.5 || b.GetExempt() || len(list.Msg.GetKeys()) != 0 {
		t.Fatalf("list before a key: %v", list.Msg)
	}

	// Bad keys are refused; a good one is stored and shown by its last 4.
	const secret = "sk-carol-0123456789-wxyz"
	for _, bad := range []*stichv1.SetModelKeyRequest{
		{BaseUrl: "ftp://models.example/v1", ApiKey: secret, Model: "m"},
		{BaseUrl: "https://user:pw@models.example/v1", ApiKey: secret, Model: "m"},
		{BaseUrl: "https://models.example/v1", ApiKey: "short", Model: "m"},
		{BaseUrl: "https://models.example/v1", ApiKey: secret},
	} {
		_, err := acct.SetModelKey(ctxT(t), connect.NewRequest(bad))
		wantCode(t, err, connect.CodeInvalidArgument, "")
	}
	set, err := acct.SetModelKey(ctxT(t), connect.NewRequest(&stichv1.SetModelKeyRequest{BaseUrl: "https://models.example/v1/", ApiKey: secret, Model: "m-1"}))
	if err != nil {
		t.Fatal(err)
	}
	if k := set.Msg.GetKey(); k.GetKeyHint() != "…wxyz" || k.GetBaseUrl() != "https://models.example/v1" || k.GetModel() != "m-1" {
		t.Fatalf("set: %v", k)
	}
	// No RPC answer holds the key: the raw JSON of the list.
	listHoldsNoKey(t, hc, ts.url, "wxyz")
	list, err = acct.ListModelKeys(ctxT(t), connect.NewRequest(&stichv1.ListModelKeysRequest{}))
	if err != nil || !list.Msg.GetBudget().GetExempt() || len(list.Msg.GetKeys()) != 1 {
		t.Fatalf("list with a key: %v %v", list, err)
	}
	// Exempt: work starts again.
	if _, err := carol.CreateSession(ctxT(t), connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "a todo list"})); err != nil {
		t.Fatalf("own key: %v", err)
	}
	if _, err := acct.ClearModelKey(ctxT(t), connect.NewRequest(&stichv1.ClearModelKeyRequest{})); err != nil {
		t.Fatal(err)
	}
	_, err = carol.CreateSession(ctxT(t), connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "a todo list"}))
	wantCode(t, err, connect.CodeResourceExhausted, "daily model budget")
}

// Without a node key, model keys are refused with a message saying what
// the operator must do.
func TestModelKeysNeedANodeKey(t *testing.T) {
	cfg := cluster.DefaultLocalConfig()
	cfg.Name, cfg.InMemory = "rpc-test", true
	ts := newTestServerRuntime(t, ratelimit.Rule{}, slog.New(slog.DiscardHandler), actors.Config{Cluster: cfg,
		Providers: map[string]codegen.Provider{"scaffold": codegen.Scaffold{}}}, nil)
	acct := stichv1connect.NewAccountServiceClient(clientAs(t, ts.srv, "carol", auth.RoleUser), ts.url)
	_, err := acct.SetModelKey(ctxT(t), connect.NewRequest(&stichv1.SetModelKeyRequest{BaseUrl: "https://models.example/v1", ApiKey: "sk-0123456789", Model: "m"}))
	wantCode(t, err, connect.CodeFailedPrecondition, "--node-key-file")
}

// A user keeps several model keys, each with a label: the first is the
// default until another is picked; one can be removed by id; another
// user cannot touch them (not_found); no answer holds a key.
func TestSeveralModelKeysAtTheEdge(t *testing.T) {
	cfg := cluster.DefaultLocalConfig()
	cfg.Name, cfg.InMemory = "rpc-test", true
	ts := newTestServerRuntime(t, ratelimit.Rule{}, slog.New(slog.DiscardHandler), actors.Config{Cluster: cfg, NodeKeys: testNodeKeys(t),
		OwnKeyProvider: func(actors.OwnModelKey) (codegen.Provider, error) { return codegen.Scaffold{}, nil },
		Providers:      map[string]codegen.Provider{"scaffold": codegen.Scaffold{}}}, nil)
	hc := clientAs(t, ts.srv, "carol", auth.RoleUser)
	acct := stichv1connect.NewAccountServiceClient(hc, ts.url)
	dave := stichv1connect.NewAccountServiceClient(clientAs(t, ts.srv, "dave", auth.RoleUser), ts.url)
	const s1, s2 = "sk-openai-0123456789-AAAA", "sk-groq-9876543210-BBBB"
	a, err := acct.SetModelKey(ctxT(t), connect.NewRequest(&stichv1.SetModelKeyRequest{BaseUrl: "https://api.openai.com/v1", ApiKey: s1, Model: "gpt-4.1-mini", Label: "work OpenAI"}))
	if err != nil {
		t.Fatal(err)
	}
	b, err := acct.SetModelKey(ctxT(t), connect.NewRequest(&stichv1.SetModelKeyRequest{BaseUrl: "https://api.groq.com/openai/v1", ApiKey: s2, Model: "llama", Label: "groq"}))
	if err != nil {
		t.Fatal(err)
	}
	ka, kb := a.Msg.GetKey(), b.Msg.GetKey()
	if !ka.GetIsDefault() || kb.GetIsDefault() || ka.GetId() == kb.GetId() || ka.GetLabel() != "work OpenAI" || kb.GetKeyHint() != "…BBBB" {
		t.Fatalf("added: %v / %v", ka, kb)
	}
	_, err = acct.SetModelKey(ctxT(t), connect.NewRequest(&stichv1.SetModelKeyRequest{BaseUrl: "https://x.example/v1", ApiKey: s2, Model: "m", Label: "bad\x00label"}))
	wantCode(t, err, connect.CodeInvalidArgument, "label")

	list := func() map[string]*stichv1.ModelKey {
		t.Helper()
		l, err := acct.ListModelKeys(ctxT(t), connect.NewRequest(&stichv1.ListModelKeysRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]*stichv1.ModelKey{}
		for _, k := range l.Msg.GetKeys() {
			m[k.GetId()] = k
		}
		return m
	}
	if l := list(); len(l) != 2 || !l[ka.GetId()].GetIsDefault() {
		t.Fatalf("list: %v", l)
	}
	// Another user: the same answer as an unknown id.
	for _, id := range []string{ka.GetId(), "not-an-id", "ffffffffffffffff"} {
		_, err = dave.SetDefaultModelKey(ctxT(t), connect.NewRequest(&stichv1.SetDefaultModelKeyRequest{Id: id}))
		wantCode(t, err, connect.CodeNotFound, "")
		_, err = dave.ClearModelKey(ctxT(t), connect.NewRequest(&stichv1.ClearModelKeyRequest{Id: id}))
		wantCode(t, err, connect.CodeNotFound, "")
	}
	if _, err := acct.SetDefaultModelKey(ctxT(t), connect.NewRequest(&stichv1.SetDefaultModelKeyRequest{Id: kb.GetId()})); err != nil {
		t.Fatal(err)
	}
	if l := list(); !l[kb.GetId()].GetIsDefault() || l[ka.GetId()].GetIsDefault() {
		t.Fatalf("after picking the default: %v", l)
	}
	// The sessions run on the default key.
	r, err := actors.Call[*actorsv1.UserReply](ctxT(t), ts.rt.Node, actors.KindUser, "carol", &actorsv1.GetUser{})
	if err != nil {
		t.Fatal(err)
	}
	if k, err := ts.rt.OpenModelKey("carol", actors.DefaultModelKey(r.GetUser())); err != nil || k.APIKey != s2 || k.BaseURL != "https://api.groq.com/openai/v1" {
		t.Fatalf("default key opens to %+v, %v", k, err)
	}
	if _, err := acct.ClearModelKey(ctxT(t), connect.NewRequest(&stichv1.ClearModelKeyRequest{Id: kb.GetId()})); err != nil {
		t.Fatal(err)
	}
	if l := list(); len(l) != 1 || !l[ka.GetId()].GetIsDefault() {
		t.Fatalf("after removing the default: %v", l)
	}
	listHoldsNoKey(t, hc, ts.url, "AAAA")
}

// listHoldsNoKey reads the raw JSON of ListModelKeys as client: it must
// show the key's hint and never the key (every test key holds
// "0123456789").
func listHoldsNoKey(t *testing.T, client *http.Client, url, hint string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctxT(t), "POST", url+stichv1connect.AccountServiceListModelKeysProcedure, strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.Contains(string(body), "0123456789") || !strings.Contains(string(body), hint) {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}
}
