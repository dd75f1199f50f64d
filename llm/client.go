package llm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/stichdev/stich/codegen"

	openai "github.com/sashabaranov/go-openai"
)

// Roles of a [Message].
const (
	RoleSystem    = openai.ChatMessageRoleSystem
	RoleUser      = openai.ChatMessageRoleUser
	RoleAssistant = openai.ChatMessageRoleAssistant
)

// Message is one chat message.
type Message struct {
	Role    string
	Content string
}

// NoticeKind says what a [Notice] reports.
type NoticeKind int

const (
	// NoticeRetry: an attempt failed transiently; the call waits Delay and
	// tries again.
	NoticeRetry NoticeKind = iota + 1
	// NoticeFallback: the model failed; the call switches to the action's
	// fallback model.
	NoticeFallback
	// NoticeContinuation: the answer was cut off; the call asks the model
	// to continue it.
	NoticeContinuation
)

// Notice tells the caller what a call is doing, for the session to show.
type Notice struct {
	Kind NoticeKind
	// Provider and Model are what the call uses next.
	Provider, Model string
	// From is "provider/model" that failed (NoticeFallback).
	From string
	// Attempt is the number of the next attempt on Model (1-based).
	Attempt int
	// Delay is the wait before the next attempt (NoticeRetry).
	Delay time.Duration
	// Err is the failure behind a retry or fallback; it contains no key.
	Err error
}

// String describes the notice for users.
func (n Notice) String() string {
	switch n.Kind {
	case NoticeRetry:
		return fmt.Sprintf("%s/%s: %v; retrying in %s (attempt %d)", n.Provider, n.Model, n.Err, n.Delay.Round(time.Millisecond), n.Attempt)
	case NoticeFallback:
		return fmt.Sprintf("%s failed (%v); switching to the fallback model %s/%s", n.From, n.Err, n.Provider, n.Model)
	case NoticeContinuation:
		return fmt.Sprintf("%s/%s: the answer hit the token limit; asking the model to continue", n.Provider, n.Model)
	}
	return "notice"
}

// Request is one call.
type Request struct {
	// Action selects the model configuration.
	Action Action
	// Messages are sent in order; usually a system and a user message.
	Messages []Message
	// Session is the key usage is aggregated under (may be empty).
	Session string
	// OnDelta, if set, receives the answer as it streams, in order, on
	// the calling goroutine. An error return stops the call at once and
	// is returned by Stream (it is never retried).
	OnDelta func(text string) error
	// OnNotice, if set, is told about retries, fallbacks and
	// continuations, on the calling goroutine.
	OnNotice func(Notice)
	// OnUsage, if set, receives the usage of each HTTP request as it ends
	// (model is "provider/model"), on the calling goroutine. Default: the
	// function of [codegen.ContextWithUsage], if any.
	OnUsage func(model string, u Usage)
}

// Result is a call's outcome. Stream returns it even on failure, with the
// text received so far.
type Result struct {
	// Text is the whole answer (the concatenation of the deltas).
	Text string
	// Provider and Model produced the end of the answer.
	Provider, Model string
	// FinishReason is the last finish_reason ("stop", "length", ...).
	FinishReason string
	// Usage sums every request of the call.
	Usage Usage
	// Attempts counts requests; Continuations counts the requests that
	// continued a cut-off answer.
	Attempts, Continuations int
	// FellBack is set when the fallback model was used.
	FellBack bool
}

// Option configures a [Client].
type Option interface{ apply(*Client) }

type optionFunc func(*Client)

func (f optionFunc) apply(c *Client) { f(c) }

// WithHTTPClient sets the HTTP client (default: a client with its own
// transport, closed by [Client.Close]; no overall timeout, the config's
// timeouts apply). The Nomad model router passes one whose transport
// picks a server per request.
func WithHTTPClient(hc *http.Client) Option {
	return optionFunc(func(c *Client) { c.hc, c.ownTransport = hc, nil })
}

// WithSleeper sets how the client waits between attempts (default: a
// timer that returns early with ctx.Err() when ctx is done). Tests inject
// one that records the delays and returns at once.
func WithSleeper(sleep func(ctx context.Context, d time.Duration) error) Option {
	return optionFunc(func(c *Client) { c.sleep = sleep })
}

// WithLogger sets the logger for retries and fallbacks (default: discard).
// Nothing logged contains a key.
func WithLogger(l *slog.Logger) Option { return optionFunc(func(c *Client) { c.log = l }) }

// WithGetenv sets how keys named by api_key_env are read (default
// os.Getenv).
func WithGetenv(getenv func(string) string) Option {
	return optionFunc(func(c *Client) { c.getenv = getenv })
}

// Client makes streaming chat-completion calls with retries, fallback and
// continuation. It is safe for concurrent use.
type Client struct {
	cfg          Config
	providers    map[string]*providerClient
	hc           *http.Client
	ownTransport *http.Transport
	sleep        func(ctx context.Context, d time.Duration) error
	log          *slog.Logger
	usage        *Aggregator
	getenv       func(string) string
}

type providerClient struct {
	cfg ProviderConfig
	key string
	oa  *openai.Client
}

// NewClient validates cfg, resolves every provider's key and returns a
// client. It fails (and holds nothing) if the config is invalid or a
// required key is missing.
func NewClient(cfg Config, opts ...Option) (*Client, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = 0 // the first-token timeout applies
	c := &Client{
		cfg:          cfg,
		providers:    map[string]*providerClient{},
		hc:           &http.Client{Transport: tr},
		ownTransport: tr,
		sleep:        sleepCtx,
		log:          slog.New(slog.DiscardHandler),
		getenv:       os.Getenv,
	}
	for _, o := range opts {
		o.apply(c)
	}
	if c.usage == nil {
		c.usage = NewAggregator()
	}
	var errs []error
	for _, p := range cfg.Providers {
		key, err := p.apiKey(c.getenv)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		oc := openai.DefaultConfig(key)
		oc.BaseURL = strings.TrimRight(p.BaseURL, "/")
		oc.HTTPClient = doer{c.hc}
		c.providers[p.Name] = &providerClient{cfg: p, key: key, oa: openai.NewClientWithConfig(oc)}
	}
	if len(errs) > 0 {
		c.Close()
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// Close releases idle connections of the client's own transport. Calls in
// flight are not affected; it is safe to call more than once.
func (c *Client) Close() {
	if c.ownTransport != nil {
		c.ownTransport.CloseIdleConnections()
	}
}

// Config returns the client's configuration (keys stay redacted when
// printed).
func (c *Client) Config() Config { return c.cfg }

// Usage returns the aggregator the client records usage in.
func (c *Client) Usage() *Aggregator { return c.usage }

// doer records the status and Retry-After header of failed responses in
// the request's context, since go-openai's errors do not carry headers.
type doer struct{ hc *http.Client }

func (d doer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.hc.Do(req)
	if resp != nil && resp.StatusCode >= 400 {
		if info, ok := req.Context().Value(respInfoKey{}).(*respInfo); ok {
			info.status, info.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
		}
	}
	return resp, err
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Backoff returns the wait before retry n (0-based): min(base·2ⁿ, max).
func Backoff(n int, base, maxDelay time.Duration) time.Duration {
	if n > 30 {
		return maxDelay
	}
	return min(base<<n, maxDelay)
}

// ContinuePrompt is the user message that asks a model to continue an
// answer that was cut off.
const ContinuePrompt = "Your previous answer was cut off. Continue it exactly where it stopped: start with the very next character, do not repeat anything, and do not add an introduction, a new code fence or a new <file> tag for the part already written."

type target struct{ provider, model string }

// call is the state of one Stream call.
type call struct {
	req  *Request
	ac   ActionConfig
	text strings.Builder
	res  *Result
	max  int
}

// deliver appends answer text and hands it to the caller.
func (st *call) deliver(d string) error {
	if st.text.Len()+len(d) > st.max {
		return ErrAnswerTooLarge
	}
	st.text.WriteString(d)
	if st.req.OnDelta != nil {
		if err := st.req.OnDelta(d); err != nil {
			return &stopErr{err}
		}
	}
	return nil
}

// stopErr marks an error from the caller's callback.
type stopErr struct{ err error }

func (e *stopErr) Error() string { return e.err.Error() }
func (e *stopErr) Unwrap() error { return e.err }

// Stream makes the call: it streams the answer to req.OnDelta, retrying,
// falling back and continuing as configured. The returned Result holds
// what was received even when err is non-nil. err is an [*Error], the
// callback's error, or (wrapped in an *Error) the context's.
func (c *Client) Stream(ctx context.Context, req Request) (*Result, error) {
	if req.OnUsage == nil {
		if record := codegen.UsageFrom(ctx); record != nil {
			action := string(req.Action)
			req.OnUsage = func(model string, u Usage) {
				record(action, model, codegen.Usage{PromptTokens: uint64(u.PromptTokens), CompletionTokens: uint64(u.CompletionTokens),
					CostUSD: u.CostUSD, Requests: uint64(u.Requests), Estimated: u.Estimated})
			}
		}
	}
	if req.OnNotice == nil {
		if log := codegen.LogFrom(ctx); log != nil {
			req.OnNotice = func(n Notice) { log(n.String()) }
		}
	}
	ac := c.cfg.Resolve(req.Action)
	targets := []target{{ac.Provider, ac.Model}}
	if ac.FallbackModel != "" && (ac.FallbackModel != ac.Model || ac.FallbackProvider != ac.Provider) {
		targets = append(targets, target{ac.FallbackProvider, ac.FallbackModel})
	}
	res := &Result{}
	st := &call{req: &req, ac: ac, res: res, max: c.cfg.MaxAnswerBytes}
	defer func() { res.Text = st.text.String() }()

	var last failure
	var lastTarget target
	for ti, tg := range targets {
		pc := c.providers[tg.provider]
		if ti > 0 {
			from := lastTarget.provider + "/" + lastTarget.model
			if last.kind == ErrAuth && tg.provider == lastTarget.provider {
				break // the same key would be refused again
			}
			res.FellBack = true
			c.log.Warn("llm: switching to fallback model", "action", req.Action, "from", from, "to", tg.provider+"/"+tg.model, "error", c.errorFor(last, req.Action, lastTarget, res).Error())
			c.notify(&req, Notice{Kind: NoticeFallback, Provider: tg.provider, Model: tg.model, From: from, Attempt: 1, Err: c.errorFor(last, req.Action, lastTarget, res)})
		}
		lastTarget = tg
		for attempt := 1; attempt <= c.cfg.Retry.MaxAttempts; attempt++ {
			if attempt > 1 {
				delay := Backoff(attempt-2, c.cfg.Retry.BaseDelay.D(), c.cfg.Retry.MaxDelay.D())
				if last.retryAfter > 0 {
					delay = last.retryAfter
				}
				c.log.Info("llm: retrying", "action", req.Action, "provider", tg.provider, "model", tg.model, "attempt", attempt, "delay", delay, "status", last.status)
				c.notify(&req, Notice{Kind: NoticeRetry, Provider: tg.provider, Model: tg.model, Attempt: attempt, Delay: delay, Err: c.errorFor(last, req.Action, tg, res)})
				if err := c.sleep(ctx, delay); err != nil {
					return res, c.canceled(ctx, req.Action, tg, res)
				}
			}
			finish, f, stop := c.attempt(ctx, pc, tg, st)
			res.Attempts++
			res.Provider, res.Model = tg.provider, tg.model
			if stop != nil {
				if e, ok := stop.(*Error); ok {
					e.Attempts = res.Attempts
				}
				return res, stop
			}
			if f == nil {
				res.FinishReason = finish
				if finish != string(openai.FinishReasonLength) {
					return res, nil
				}
				if res.Continuations >= c.cfg.MaxContinuations {
					return res, &Error{Kind: ErrTruncated, Action: req.Action, Provider: tg.provider, Model: tg.model, Attempts: res.Attempts,
						Detail: fmt.Sprintf("still cut off after %d continuations; raise max_tokens for this action or ask for smaller pieces", res.Continuations)}
				}
				res.Continuations++
				c.notify(&req, Notice{Kind: NoticeContinuation, Provider: tg.provider, Model: tg.model, Attempt: 1})
				attempt = 0 // a continuation is not a retry: fresh budget
				continue
			}
			last = *f
			if !last.retryable || last.retryAfter > c.cfg.Retry.MaxRetryAfter.D() {
				break
			}
		}
		if !last.fallback && last.kind != ErrAuth {
			break
		}
	}
	return res, c.errorFor(last, req.Action, lastTarget, res)
}

func (c *Client) notify(req *Request, n Notice) {
	if req.OnNotice != nil {
		req.OnNotice(n)
	}
}

// errorFor builds the user-facing error of a failure.
func (c *Client) errorFor(f failure, a Action, tg target, res *Result) *Error {
	e := &Error{Kind: f.kind, Action: a, Provider: tg.provider, Model: tg.model, Status: f.status, Attempts: res.Attempts}
	if e.Kind == nil {
		e.Kind = ErrUnavailable
	}
	pc := c.providers[tg.provider]
	key := ""
	if pc != nil {
		key = pc.key
	}
	switch f.kind {
	case ErrAuth:
		src := "the configured key"
		if pc != nil {
			src = pc.cfg.keySource()
		}
		e.Detail = "the provider rejected the API key; check " + src
	case ErrModelNotFound:
		e.Detail = fmt.Sprintf("the provider does not serve model %q; check the model name (for Ollama: ollama pull %s) and that the base URL ends where the API root is (usually /v1)", tg.model, tg.model)
	default:
		e.Detail = scrub(f.detail, key)
	}
	return e
}

func (c *Client) canceled(ctx context.Context, a Action, tg target, res *Result) error {
	return &Error{Kind: ctx.Err(), Action: a, Provider: tg.provider, Model: tg.model, Attempts: res.Attempts, Detail: "the call was stopped"}
}

// isReasoningModel reports OpenAI reasoning models, which take
// max_completion_tokens and no temperature.
func isReasoningModel(model string) bool {
	if i := strings.LastIndexByte(model, '/'); i >= 0 {
		model = model[i+1:]
	}
	for _, p := range [...]string{"o1", "o3", "o4", "gpt-5", "gpt-6"} {
		if strings.HasPrefix(model, p) {
			return true
		}
	}
	return false
}

func (c *Client) buildRequest(pc *providerClient, model string, ac ActionConfig, msgs []openai.ChatCompletionMessage) openai.ChatCompletionRequest {
	r := openai.ChatCompletionRequest{Model: model, Messages: msgs, Stream: true}
	if !pc.cfg.NoStreamUsage {
		r.StreamOptions = &openai.StreamOptions{IncludeUsage: true}
	}
	reasoning := isReasoningModel(model)
	if ac.MaxTokens > 0 {
		if reasoning || pc.cfg.Kind == KindOpenAI {
			r.MaxCompletionTokens = ac.MaxTokens
		} else {
			r.MaxTokens = ac.MaxTokens
		}
	}
	if t := ac.Temperature; t != nil && !reasoning {
		r.Temperature = *t
		if r.Temperature == 0 {
			r.Temperature = math.SmallestNonzeroFloat32 // 0 would be omitted
		}
	}
	if ac.ReasoningEffort != "" && (reasoning || pc.cfg.Kind != KindOpenAI) {
		r.ReasoningEffort = ac.ReasoningEffort
	}
	return r
}

// attempt makes one request. It returns the finish reason on success, a
// failure to retry or fall back from, or stop: an error that ends the
// call (cancellation, the callback's error, an answer too large).
func (c *Client) attempt(ctx context.Context, pc *providerClient, tg target, st *call) (finish string, f *failure, stop error) {
	msgs := make([]openai.ChatCompletionMessage, 0, len(st.req.Messages)+2)
	for _, m := range st.req.Messages {
		msgs = append(msgs, openai.ChatCompletionMessage{Role: m.Role, Content: m.Content})
	}
	var ov *overlap
	if st.text.Len() > 0 {
		prev := st.text.String()
		msgs = append(msgs,
			openai.ChatCompletionMessage{Role: RoleAssistant, Content: prev},
			openai.ChatCompletionMessage{Role: RoleUser, Content: ContinuePrompt})
		ov = &overlap{prev: prev[max(0, len(prev)-overlapWindow):]}
	}
	oreq := c.buildRequest(pc, tg.model, st.ac, msgs)

	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	info := &respInfo{}
	actx = context.WithValue(actx, respInfoKey{}, info)
	reqTimer := time.AfterFunc(c.cfg.RequestTimeout.D(), func() { cancel(errRequestTimeout) })
	defer reqTimer.Stop()
	firstTimer := time.AfterFunc(c.cfg.FirstTokenTimeout.D(), func() { cancel(errFirstToken) })
	defer firstTimer.Stop()
	var idleTimer *time.Timer
	defer func() {
		if idleTimer != nil {
			idleTimer.Stop()
		}
	}()

	received := 0
	var usage Usage
	gotUsage := false
	account := func() {
		if !gotUsage {
			usage = Usage{PromptTokens: estimateMessages(msgs), CompletionTokens: (received + charsPerToken - 1) / charsPerToken, Estimated: true}
		}
		usage.Requests = 1
		usage.CostUSD = cost(c.cfg.Prices, tg.model, usage)
		st.res.Usage = st.res.Usage.Add(usage)
		c.usage.Add(UsageKey{Session: st.req.Session, Action: st.req.Action, Model: tg.provider + "/" + tg.model}, usage)
		if st.req.OnUsage != nil {
			st.req.OnUsage(tg.provider+"/"+tg.model, usage)
		}
	}
	fail := func(err error) (string, *failure, error) {
		if ctx.Err() != nil {
			return "", nil, c.canceled(ctx, st.req.Action, tg, st.res)
		}
		fl := classify(err, info, context.Cause(actx))
		return "", &fl, nil
	}

	stream, err := pc.oa.CreateChatCompletionStream(actx, oreq)
	if err != nil {
		if info.status == 0 && received == 0 && !isTransport(err) && ctx.Err() == nil && context.Cause(actx) == nil {
			// Refused before any request was sent (go-openai's checks).
			usage = Usage{}
			gotUsage = true
			account()
			return "", &failure{kind: ErrBadRequest, detail: err.Error(), fallback: true}, nil
		}
		gotUsage = true // nothing was generated
		account()
		return fail(err)
	}
	defer stream.Close()
	defer account()
	for {
		resp, err := stream.Recv()
		if ctx.Err() != nil {
			// Cancelled: deliver nothing more, close the stream (deferred).
			return "", nil, c.canceled(ctx, st.req.Action, tg, st.res)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if ov != nil {
				if d := ov.flush(); d != "" {
					if e := st.deliver(d); e != nil {
						return "", nil, c.stop(e, st, tg)
					}
				}
			}
			return fail(err)
		}
		if idleTimer == nil {
			firstTimer.Stop()
			idleTimer = time.AfterFunc(c.cfg.IdleTimeout.D(), func() { cancel(errIdle) })
		} else {
			idleTimer.Reset(c.cfg.IdleTimeout.D())
		}
		if resp.Usage != nil {
			usage, gotUsage = fromAPI(resp.Usage), true
		}
		for _, ch := range resp.Choices {
			if ch.Index != 0 {
				continue
			}
			if d := ch.Delta.Content; d != "" {
				received += len(d)
				if ov != nil {
					d = ov.feed(d)
				}
				if d != "" {
					if e := st.deliver(d); e != nil {
						return "", nil, c.stop(e, st, tg)
					}
				}
			}
			if ch.FinishReason != "" && ch.FinishReason != openai.FinishReasonNull {
				finish = string(ch.FinishReason)
			}
		}
	}
	if ov != nil {
		if d := ov.flush(); d != "" {
			if e := st.deliver(d); e != nil {
				return "", nil, c.stop(e, st, tg)
			}
		}
	}
	if finish == "" && !gotUsage {
		// The body ended without a finish reason or usage: the server
		// or a proxy cut the stream.
		return fail(errStreamBroken)
	}
	if finish == "" {
		finish = string(openai.FinishReasonStop)
	}
	return finish, nil, nil
}

func (c *Client) stop(err error, st *call, tg target) error {
	if errors.Is(err, ErrAnswerTooLarge) {
		return &Error{Kind: ErrAnswerTooLarge, Action: st.req.Action, Provider: tg.provider, Model: tg.model,
			Detail: fmt.Sprintf("the answer exceeded %d bytes; the model may be looping", st.max)}
	}
	var se *stopErr
	if errors.As(err, &se) {
		return se.err
	}
	return err
}

// isTransport reports errors from the network rather than from go-openai's
// request checks.
func isTransport(err error) bool {
	var ue interface{ Timeout() bool }
	return errors.As(err, &ue) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "connection")
}

// overlapWindow is how much of the previous text a continuation is
// compared with, and how much of the continuation is held back for it.
const overlapWindow = 256

// minOverlap is the shortest repeat that is removed; shorter matches are
// likely coincidence.
const minOverlap = 8

// overlap removes the start of a continuation that repeats the end of the
// previous text.
type overlap struct {
	prev string
	held []byte
	done bool
}

func (o *overlap) feed(d string) string {
	if o.done {
		return d
	}
	o.held = append(o.held, d...)
	if len(o.held) < min(overlapWindow, len(o.prev)) {
		return ""
	}
	return o.flush()
}

func (o *overlap) flush() string {
	if o.done {
		return ""
	}
	o.done = true
	h := string(o.held)
	for k := min(len(h), len(o.prev)); k >= minOverlap; k-- {
		if strings.HasSuffix(o.prev, h[:k]) {
			return h[k:]
		}
	}
	return h
}
