package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stichdev/stich/codegen"
	"github.com/stichdev/stich/internal/testutil"
	"github.com/stichdev/stich/llm/llmtest"
)

func userMsg(s string) []Message {
	return []Message{{Role: RoleSystem, Content: "You are terse."}, {Role: RoleUser, Content: s}}
}

func TestStreamDeltasUsageAndCost(t *testing.T) {
	srv := startFake(t, &llmtest.Script{APIKey: testKey, Responses: []llmtest.Response{
		{Content: "Hello, streaming world! ✅", ChunkSize: 3, Usage: &llmtest.Usage{PromptTokens: 1000, CompletionTokens: 500}},
	}})
	c, sl := newClient(t, testConfig(srv.URL))
	var deltas []string
	res, err := c.Stream(context.Background(), Request{Action: ActionConversation, Session: "s1", Messages: userMsg("hi"),
		OnDelta: func(d string) error { deltas = append(deltas, d); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(deltas, "") != "Hello, streaming world! ✅" || len(deltas) < 5 || res.Text != strings.Join(deltas, "") {
		t.Fatalf("deltas %q, text %q", deltas, res.Text)
	}
	want := Usage{PromptTokens: 1000, CompletionTokens: 500, Requests: 1, CostUSD: (1000*2 + 500*8) / 1e6}
	if res.Usage != want || res.FinishReason != "stop" || res.Attempts != 1 || res.Model != "gpt-test" || len(sl.got()) != 0 {
		t.Fatalf("result %+v", res)
	}
	rows := c.Usage().Rows()
	if len(rows) != 1 || rows[0].UsageKey != (UsageKey{"s1", ActionConversation, "fake/gpt-test"}) || rows[0].Usage != want {
		t.Fatalf("rows %+v", rows)
	}
	r := srv.Requests()[0]
	if !r.Stream || !r.IncludeUsage || r.MaxTokens != 1000 || r.Temperature == nil || *r.Temperature < 0.19 || len(r.Messages) != 2 {
		t.Fatalf("request %+v", r)
	}
}

func TestEstimatedUsage(t *testing.T) {
	srv := startScript(t, "no_usage.json")
	c, _ := newClient(t, testConfig(srv.URL))
	msgs := []Message{{Role: RoleUser, Content: strings.Repeat("x", 400)}}
	res, err := c.Stream(context.Background(), Request{Action: ActionReview, Messages: msgs})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Usage.Estimated || res.Usage.CompletionTokens != 10 || res.Usage.PromptTokens != 104 {
		t.Fatalf("usage %+v", res.Usage)
	}
}

func TestRetryAfter(t *testing.T) {
	srv := startScript(t, "rate_limit.json")
	c, sl := newClient(t, testConfig(srv.URL))
	var notices []Notice
	res, err := c.Stream(context.Background(), Request{Action: ActionBlueprint, Messages: userMsg("hi"), OnNotice: func(n Notice) { notices = append(notices, n) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Text != "Hello after the rate limit." || res.Attempts != 3 {
		t.Fatalf("result %+v", res)
	}
	// Retry-After: 2 is honoured; a date in the past falls back to the
	// backoff of the second retry, 1s.
	if got := sl.got(); fmt.Sprint(got) != "[2s 1s]" {
		t.Fatalf("delays %v", got)
	}
	if len(notices) != 2 || notices[0].Kind != NoticeRetry || !errors.Is(notices[0].Err, ErrRateLimited) || notices[1].Attempt != 3 {
		t.Fatalf("notices %v", notices)
	}
	if !strings.Contains(notices[0].String(), "rate limited") || !strings.Contains(notices[0].String(), "retrying in 2s") {
		t.Fatalf("notice text %q", notices[0].String())
	}
	if res.Usage.Requests != 3 {
		t.Fatalf("usage %+v", res.Usage)
	}
}

func TestRetryAfterTooLongFallsBack(t *testing.T) {
	srv := startFake(t, &llmtest.Script{Responses: []llmtest.Response{
		{ExpectModel: "gpt-test", Status: 429, RetryAfter: "3600"},
		{ExpectModel: "gpt-fallback", Content: "ok"},
	}})
	cfg := testConfig(srv.URL)
	cfg.Actions[ActionBlueprint] = ActionConfig{Model: "gpt-test", FallbackModel: "gpt-fallback"}
	c, sl := newClient(t, cfg)
	res, err := c.Stream(context.Background(), Request{Action: ActionBlueprint, Messages: userMsg("hi")})
	if err != nil || res.Text != "ok" || !res.FellBack || len(sl.got()) != 0 {
		t.Fatalf("res %+v err %v delays %v", res, err, sl.got())
	}
}

func TestBackoff(t *testing.T) {
	var got []time.Duration
	for n := range 7 {
		got = append(got, Backoff(n, 500*time.Millisecond, 10*time.Second))
	}
	if fmt.Sprint(got) != "[500ms 1s 2s 4s 8s 10s 10s]" || Backoff(100, time.Second, 3*time.Second) != 3*time.Second {
		t.Fatal(got)
	}
}

func TestFallbackAfterServerErrors(t *testing.T) {
	srv := startScript(t, "fallback.json")
	cfg := testConfig(srv.URL)
	cfg.Actions[ActionPhaseImplementation] = ActionConfig{Model: "gpt-test", FallbackModel: "gpt-fallback", MaxTokens: 100}
	c, sl := newClient(t, cfg)
	var notices []Notice
	res, err := c.Stream(context.Background(), Request{Action: ActionPhaseImplementation, Messages: userMsg("hi"), OnNotice: func(n Notice) { notices = append(notices, n) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Text != "Answer from the fallback model." || !res.FellBack || res.Model != "gpt-fallback" || res.Attempts != 6 {
		t.Fatalf("result %+v", res)
	}
	if got := sl.got(); fmt.Sprint(got) != "[500ms 1s 2s 4s]" {
		t.Fatalf("delays %v", got)
	}
	var kinds []NoticeKind
	for _, n := range notices {
		kinds = append(kinds, n.Kind)
	}
	if fmt.Sprint(kinds) != "[1 1 1 1 2]" {
		t.Fatalf("notices %v", notices)
	}
	fb := notices[4]
	if fb.From != "fake/gpt-test" || fb.Model != "gpt-fallback" || !errors.Is(fb.Err, ErrUnavailable) || strings.Contains(fb.String(), testKey) {
		t.Fatalf("fallback notice %v", fb)
	}
	if m := srv.Mismatches(); len(m) != 0 {
		t.Fatal(m)
	}
}

func TestGiveUpWithoutFallback(t *testing.T) {
	srv := startFake(t, &llmtest.Script{Responses: []llmtest.Response{{Status: 503, Repeat: true, Error: "overloaded"}}})
	cfg := testConfig(srv.URL)
	cfg.Retry.MaxAttempts = 3
	c, sl := newClient(t, cfg)
	_, err := c.Stream(context.Background(), Request{Action: ActionReview, Messages: userMsg("hi")})
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrUnavailable) || e.Attempts != 3 || e.Status != 503 || len(sl.got()) != 2 {
		t.Fatalf("err %v delays %v", err, sl.got())
	}
	if err.Error() != "llm: provider unavailable (fake/gpt-test, HTTP 503, action review, 3 attempts): overloaded" {
		t.Fatalf("message %q", err.Error())
	}
}

func TestContinuation(t *testing.T) {
	srv := startScript(t, "continuation.json")
	c, sl := newClient(t, testConfig(srv.URL))
	var notices []Notice
	var deltas strings.Builder
	res, err := c.Stream(context.Background(), Request{Action: ActionPhaseImplementation, Messages: userMsg("write a.ts"),
		OnDelta:  func(d string) error { deltas.WriteString(d); return nil },
		OnNotice: func(n Notice) { notices = append(notices, n) }})
	if err != nil {
		t.Fatal(err)
	}
	want := "<file path=\"src/a.ts\">\nexport const first = 1;\nexport const second = 2;\n</file>\nDone.\n"
	if res.Text != want || deltas.String() != want || res.Continuations != 1 || res.FinishReason != "stop" || len(sl.got()) != 0 {
		t.Fatalf("result %+v\ntext %q", res, res.Text)
	}
	if len(notices) != 1 || notices[0].Kind != NoticeContinuation {
		t.Fatalf("notices %v", notices)
	}
	reqs := srv.Requests()
	last := reqs[1].Messages
	if len(last) != 4 || last[2].Role != RoleAssistant || !strings.HasSuffix(last[2].Content, "export const sec") || last[3].Content != ContinuePrompt {
		t.Fatalf("continuation request %+v", last)
	}
	if res.Usage.PromptTokens != 130 || res.Usage.CompletionTokens != 32 || res.Usage.Requests != 2 {
		t.Fatalf("usage %+v", res.Usage)
	}
}

func TestTruncatedAfterMaxContinuations(t *testing.T) {
	srv := startFake(t, &llmtest.Script{Responses: []llmtest.Response{{Content: "part. ", FinishReason: "length", Repeat: true}}})
	cfg := testConfig(srv.URL)
	cfg.MaxContinuations = 2
	c, _ := newClient(t, cfg)
	res, err := c.Stream(context.Background(), Request{Action: ActionFixing, Messages: userMsg("hi")})
	if !errors.Is(err, ErrTruncated) || res.Text != "part. part. part. " || res.Continuations != 2 || len(srv.Requests()) != 3 {
		t.Fatalf("err %v res %+v", err, res)
	}
}

func TestBrokenStreamResumes(t *testing.T) {
	srv := startScript(t, "broken_stream.json")
	c, sl := newClient(t, testConfig(srv.URL))
	var deltas strings.Builder
	res, err := c.Stream(context.Background(), Request{Action: ActionConversation, Messages: userMsg("count"),
		OnDelta: func(d string) error { deltas.WriteString(d); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Text != "one two three four five six" || deltas.String() != res.Text || res.Attempts != 3 {
		t.Fatalf("result %+v text %q", res, res.Text)
	}
	if got := sl.got(); fmt.Sprint(got) != "[500ms 1s]" {
		t.Fatalf("delays %v", got)
	}
	if !res.Usage.Estimated {
		t.Fatalf("usage of the cut stream should be estimated: %+v", res.Usage)
	}
}

func TestMalformedStreams(t *testing.T) {
	srv := startScript(t, "malformed.json")
	c, sl := newClient(t, testConfig(srv.URL))
	var notices []Notice
	res, err := c.Stream(context.Background(), Request{Action: ActionConversation, Messages: userMsg("hi"), OnNotice: func(n Notice) { notices = append(notices, n) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Text != "A partial answer, finally." || res.Attempts != 4 || len(sl.got()) != 3 {
		t.Fatalf("result %+v text %q", res, res.Text)
	}
	for _, n := range notices {
		if !errors.Is(n.Err, ErrUnavailable) {
			t.Errorf("notice %v", n)
		}
	}
}

func TestAuthErrorIsClearAndNotRetried(t *testing.T) {
	srv := startScript(t, "auth.json")
	cfg := testConfig(srv.URL)
	cfg.Providers[0].APIKey, cfg.Providers[0].APIKeyEnv = "", "STICH_TEST_FAKE_KEY"
	cfg.Actions[ActionBlueprint] = ActionConfig{Model: "gpt-test", FallbackModel: "gpt-other"}
	c, sl := newClient(t, cfg, WithGetenv(func(k string) string {
		if k == "STICH_TEST_FAKE_KEY" {
			return testKey
		}
		return ""
	}))
	_, err := c.Stream(context.Background(), Request{Action: ActionBlueprint, Messages: userMsg("hi")})
	if !errors.Is(err, ErrAuth) || len(srv.Requests()) != 1 || len(sl.got()) != 0 {
		t.Fatalf("err %v, %d requests", err, len(srv.Requests()))
	}
	want := "llm: authentication failed (fake/gpt-test, HTTP 401, action blueprint): the provider rejected the API key; check the environment variable STICH_TEST_FAKE_KEY"
	if err.Error() != want {
		t.Fatalf("message\n%s\nwant\n%s", err, want)
	}
}

func TestUnknownModel(t *testing.T) {
	srv := startScript(t, "unknown_model.json")
	cfg := testConfig(srv.URL)
	cfg.Actions[ActionBlueprint] = ActionConfig{Model: "gpt-missing", FallbackModel: "gpt-fallback"}
	cfg.Actions[ActionReview] = ActionConfig{Model: "gpt-missing"}
	c, sl := newClient(t, cfg)
	res, err := c.Stream(context.Background(), Request{Action: ActionBlueprint, Messages: userMsg("hi")})
	if err != nil || !res.FellBack || res.Text != "Answer from the fallback model." || res.Attempts != 2 || len(sl.got()) != 0 {
		t.Fatalf("res %+v err %v", res, err)
	}
	_, err = c.Stream(context.Background(), Request{Action: ActionReview, Messages: userMsg("hi")})
	if !errors.Is(err, ErrModelNotFound) || !strings.Contains(err.Error(), `does not serve model "gpt-missing"`) {
		t.Fatalf("err %v", err)
	}
}

func TestCancelStopsReadingAtOnce(t *testing.T) {
	srv := startScript(t, "endless.json")
	c, _ := newClient(t, testConfig(srv.URL))
	leaked := goroutineBaseline(t, c)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	n, after := 0, 0
	canceled := false
	res, err := c.Stream(ctx, Request{Action: ActionPhaseImplementation, Messages: userMsg("go"), OnDelta: func(string) error {
		mu.Lock()
		defer mu.Unlock()
		if canceled {
			after++
		}
		if n++; n == 5 {
			cancel()
			canceled = true
		}
		return nil
	}})
	if !errors.Is(err, context.Canceled) || after != 0 || n != 5 || res.Text != strings.Repeat("lorem ipsum ", 5) || len(srv.Requests()) != 1 {
		t.Fatalf("err %v, %d deltas, %d after cancel, %d requests", err, n, after, len(srv.Requests()))
	}
	testutil.WaitFor(t, 5*time.Second, func() error {
		if srv.Disconnects() != 1 || srv.Active() != 0 {
			return fmt.Errorf("server: %d disconnects, %d active", srv.Disconnects(), srv.Active())
		}
		return nil
	})
	leaked()
}

func TestCancelDuringBackoff(t *testing.T) {
	srv := startFake(t, &llmtest.Script{Responses: []llmtest.Response{{Status: 429, RetryAfter: "30", Repeat: true}}})
	c, err := NewClient(testConfig(srv.URL)) // the real sleeper
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	_, err = c.Stream(ctx, Request{Action: ActionConversation, Messages: userMsg("hi"), OnNotice: func(Notice) { cancel() }})
	if !errors.Is(err, context.Canceled) || len(srv.Requests()) != 1 || time.Since(start) > 10*time.Second {
		t.Fatalf("err %v after %v, %d requests", err, time.Since(start), len(srv.Requests()))
	}
}

func TestFirstTokenTimeoutRetries(t *testing.T) {
	srv := startScript(t, "slow.json")
	cfg := testConfig(srv.URL)
	cfg.FirstTokenTimeout = Duration(100 * time.Millisecond)
	cfg.IdleTimeout = Duration(2 * time.Second)
	c, _ := newClient(t, cfg)
	var notices []Notice
	res, err := c.Stream(context.Background(), Request{Action: ActionConversation, Messages: userMsg("hi"), OnNotice: func(n Notice) { notices = append(notices, n) }})
	if err != nil || res.Text != "slow but steady" || len(notices) != 1 || !errors.Is(notices[0].Err, ErrTimeout) {
		t.Fatalf("res %+v err %v notices %v", res, err, notices)
	}
	testutil.WaitFor(t, 5*time.Second, func() error {
		if srv.Disconnects() != 1 {
			return fmt.Errorf("%d disconnects", srv.Disconnects())
		}
		return nil
	})
}

func TestIdleTimeout(t *testing.T) {
	srv := startFake(t, &llmtest.Script{Responses: []llmtest.Response{{Content: "a b c d e f", ChunkSize: 2, DelayMS: 2000, Repeat: true}}})
	cfg := testConfig(srv.URL)
	cfg.IdleTimeout = Duration(50 * time.Millisecond)
	cfg.Retry.MaxAttempts = 1
	c, _ := newClient(t, cfg)
	res, err := c.Stream(context.Background(), Request{Action: ActionConversation, Messages: userMsg("hi")})
	if !errors.Is(err, ErrTimeout) || res.Text != "a " || !strings.Contains(err.Error(), "idle timeout") {
		t.Fatalf("res %+v err %v", res, err)
	}
}

func TestAnswerTooLarge(t *testing.T) {
	srv := startScript(t, "endless.json")
	cfg := testConfig(srv.URL)
	cfg.MaxAnswerBytes = 4096
	c, sl := newClient(t, cfg)
	res, err := c.Stream(context.Background(), Request{Action: ActionConversation, Messages: userMsg("hi")})
	if !errors.Is(err, ErrAnswerTooLarge) || len(res.Text) > 4096 || len(srv.Requests()) != 1 || len(sl.got()) != 0 {
		t.Fatalf("err %v, %d bytes, %d requests", err, len(res.Text), len(srv.Requests()))
	}
}

func TestCallbackErrorStops(t *testing.T) {
	srv := startFake(t, &llmtest.Script{Responses: []llmtest.Response{{Content: "abcdefgh", ChunkSize: 1, Repeat: true}}})
	c, _ := newClient(t, testConfig(srv.URL))
	stop := errors.New("emitter stopped")
	_, err := c.Stream(context.Background(), Request{Action: ActionConversation, Messages: userMsg("hi"), OnDelta: func(string) error { return stop }})
	if !errors.Is(err, stop) || len(srv.Requests()) != 1 {
		t.Fatalf("err %v, %d requests", err, len(srv.Requests()))
	}
}

func TestRequestShapes(t *testing.T) {
	srv := startFake(t, &llmtest.Script{Responses: []llmtest.Response{{Content: "ok", Repeat: true}}})
	cfg := testConfig(srv.URL)
	cfg.Providers = append(cfg.Providers,
		ProviderConfig{Name: "oai", Kind: KindOpenAI, BaseURL: srv.URL, APIKey: testKey},
		ProviderConfig{Name: "local", Kind: KindOllama, BaseURL: srv.URL, NoStreamUsage: true})
	cfg.Actions[ActionBlueprint] = ActionConfig{Provider: "oai", Model: "gpt-5-mini", MaxTokens: 100, Temperature: ptr(float32(0.5)), ReasoningEffort: "low"}
	cfg.Actions[ActionReview] = ActionConfig{Provider: "oai", Model: "gpt-4.1", MaxTokens: 100, Temperature: ptr(float32(0.5)), ReasoningEffort: "low"}
	cfg.Actions[ActionFixing] = ActionConfig{Provider: "local", Model: "qwen2.5-coder:7b", MaxTokens: 100, Temperature: ptr(float32(0)), ReasoningEffort: "low"}
	c, _ := newClient(t, cfg)
	for _, a := range []Action{ActionBlueprint, ActionReview, ActionFixing} {
		if _, err := c.Stream(context.Background(), Request{Action: a, Messages: userMsg("hi")}); err != nil {
			t.Fatal(a, err)
		}
	}
	r := srv.Requests()
	// A reasoning model: max_completion_tokens, no temperature, effort.
	if r[0].MaxCompletionTokens != 100 || r[0].MaxTokens != 0 || r[0].Temperature != nil || r[0].ReasoningEffort != "low" {
		t.Errorf("gpt-5-mini: %+v", r[0])
	}
	// OpenAI, not reasoning: max_completion_tokens, temperature, no effort.
	if r[1].MaxCompletionTokens != 100 || r[1].Temperature == nil || r[1].ReasoningEffort != "" {
		t.Errorf("gpt-4.1: %+v", r[1])
	}
	// Ollama: max_tokens, temperature 0 sent, no stream_options.
	if r[2].MaxTokens != 100 || r[2].Temperature == nil || *r[2].Temperature != 0 && *r[2].Temperature > 1e-30 || r[2].IncludeUsage || r[2].ReasoningEffort != "low" {
		t.Errorf("ollama: %+v temp %v", r[2], *r[2].Temperature)
	}
	for _, q := range r {
		if !q.Authorized {
			t.Errorf("unauthorized request %+v", q)
		}
	}
}

// TestKeysNeverLeak runs the failure paths that involve keys and checks
// that no error, notice, log line or printed config contains the key.
func TestKeysNeverLeak(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var texts []string
	check := func(what, s string) {
		t.Helper()
		texts = append(texts, s)
		for i := 0; i+8 <= len(testKey); i++ {
			if strings.Contains(s, testKey[i:i+8]) {
				t.Fatalf("%s contains part of the key (%q): %s", what, testKey[i:i+8], s)
			}
		}
	}

	// A 401 that echoes the (wrong) key masked, and a 500 that echoes the
	// whole Authorization header.
	wrong := startFake(t, &llmtest.Script{APIKey: "sk-the-right-key-00000000"})
	echo := startScript(t, "fallback.json")
	for _, url := range []string{wrong.URL, echo.URL} {
		cfg := testConfig(url)
		cfg.Actions[ActionBlueprint] = ActionConfig{Model: "gpt-test", FallbackModel: "gpt-none"}
		c, _ := newClient(t, cfg, WithLogger(logger))
		_, err := c.Stream(context.Background(), Request{Action: ActionBlueprint, Messages: userMsg("hi"), OnNotice: func(n Notice) {
			check("notice", n.String())
			check("notice error", fmt.Sprintf("%+v %#v", n.Err, n.Err))
		}})
		if err == nil {
			t.Fatal("no error")
		}
		check("error", err.Error())
		check("error %#v", fmt.Sprintf("%#v", err))
		check("config", fmt.Sprintf("%v %+v %#v %s", c.Config(), c.Config(), c.Config(), c.Config().Providers[0].APIKey))
		b, _ := json.Marshal(c.Config())
		check("config JSON", string(b))
		logger.Info("config", "cfg", c.Config())
	}
	check("logs", logs.String())
	if !strings.Contains(strings.Join(texts, "\n"), "[redacted]") {
		t.Fatal("nothing was redacted: the test did not exercise echoes")
	}
	if !strings.Contains(logs.String(), "switching to fallback") {
		t.Fatalf("logs lack the fallback: %s", logs.String())
	}
}

func TestScrub(t *testing.T) {
	key := "sk-proj-abcdefghijklmnopqrstuvwx"
	for _, in := range []string{
		"Incorrect API key provided: " + key,
		"Incorrect API key provided: sk-pr***uvwx.",
		"header Authorization: Bearer " + key,
		"key ijklmnop leaked in the middle",
		"Google key AIzaSyA1234567890abcdef",
	} {
		out := scrub(in, key)
		if strings.Contains(out, "ijklmnop") || strings.Contains(out, "sk-pr") || strings.Contains(out, "AIza") || !strings.Contains(out, "[redacted]") {
			t.Errorf("scrub(%q) = %q", in, out)
		}
	}
	if got := scrub("The server had an error", key); got != "The server had an error" {
		t.Errorf("plain message changed: %q", got)
	}
}

func TestConcurrentCalls(t *testing.T) {
	srv := startFake(t, &llmtest.Script{Responses: []llmtest.Response{{Content: "concurrent answer", ChunkSize: 2, Repeat: true}}})
	c, _ := newClient(t, testConfig(srv.URL))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			res, err := c.Stream(context.Background(), Request{Action: ActionConversation, Session: fmt.Sprint("s", i%2), Messages: userMsg("hi")})
			if err == nil && res.Text != "concurrent answer" {
				err = fmt.Errorf("text %q", res.Text)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if u := c.Usage().Session("s0"); u.Requests != 4 {
		t.Fatalf("session usage %+v", u)
	}
	if u := c.Usage().Total(); u.Requests != 8 {
		t.Fatalf("total %+v", u)
	}
	c.Usage().Forget("s0")
	if len(c.Usage().Rows()) != 1 {
		t.Fatal(c.Usage().Rows())
	}
}

func TestPriceOf(t *testing.T) {
	p := DefaultPrices
	for model, want := range map[string]float64{
		"gpt-4.1": 2, "gpt-4.1-mini": 0.4, "gpt-4.1-2025-04-14": 2, "openai/gpt-5": 1.25, "gpt-5-mini-2025-08-07": 0.25, "llama3": 0,
	} {
		got, _ := PriceOf(p, model)
		if got.Input != want {
			t.Errorf("%s: %v, want %v", model, got.Input, want)
		}
	}
}

// TestUsageReportedPerRequest checks that each HTTP request's usage, the
// failed ones included, reaches the recorder of codegen.ContextWithUsage
// with its action and model: what the session grain persists.
func TestUsageReportedPerRequest(t *testing.T) {
	srv := startScript(t, "fallback.json")
	cfg := testConfig(srv.URL)
	cfg.Actions[ActionPhaseImplementation] = ActionConfig{Model: "gpt-test", FallbackModel: "gpt-fallback", MaxTokens: 100}
	c, _ := newClient(t, cfg)
	type rec struct {
		action, model string
		u             codegen.Usage
	}
	var got []rec
	ctx := codegen.ContextWithUsage(context.Background(), func(action, model string, u codegen.Usage) { got = append(got, rec{action, model, u}) })
	res, err := c.Stream(ctx, Request{Action: ActionPhaseImplementation, Messages: userMsg("hi")})
	if err != nil {
		t.Fatal(err)
	}
	var requests, prompt, completion uint64
	var cost float64
	for _, r := range got {
		if r.action != "phase_implementation" || (r.model != "fake/gpt-test" && r.model != "fake/gpt-fallback") {
			t.Fatalf("record %+v", r)
		}
		requests += r.u.Requests
		prompt += r.u.PromptTokens
		completion += r.u.CompletionTokens
		cost += r.u.CostUSD
	}
	if len(got) != res.Attempts || got[len(got)-1].model != "fake/gpt-fallback" || requests != uint64(res.Usage.Requests) ||
		prompt != uint64(res.Usage.PromptTokens) || completion != uint64(res.Usage.CompletionTokens) || cost != res.Usage.CostUSD {
		t.Fatalf("records %+v do not add up to the call's usage %+v (%d attempts)", got, res.Usage, res.Attempts)
	}
}
