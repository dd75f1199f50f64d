// Package llmtest is an in-process fake of an OpenAI-compatible
// chat-completions server, driven by scripts, for testing package llm and
// everything that generates apps through it without a model.
//
// The fake speaks the protocol as OpenAI, Ollama and vLLM do: POST
// /v1/chat/completions with "stream": true answers with server-sent events
// ("data: {chunk}" lines, a role chunk, content chunks, a chunk with
// finish_reason, a usage chunk when stream_options.include_usage is set,
// then "data: [DONE]"); without "stream" it answers one JSON completion.
// Errors are JSON {"error": {...}} bodies with the status: 401 for a wrong
// key (echoing it masked, as OpenAI does), 404 for an unknown model, and
// whatever a script asks for (429 with Retry-After, 500s, ...). GET
// /v1/models lists the models.
//
// # Scripts
//
// A [Script] (JSON, usually a file under llm/testdata/) lists responses.
// Each request takes the first unused response whose When text occurs in
// the request's messages (an empty When matches any request); a response
// with Repeat is never used up. A response is either an error (Status),
// an answer (Content, ContentFile, or Chunks; cut into ChunkSize pieces,
// paced by DelayMS, ending with FinishReason and Usage), an endless stream
// (Endless), a stream cut off after CutAfter or AbortAfter chunks, or raw
// SSE lines (Raw) for malformed streams. ExpectModel makes a request for
// another model fail with 400, which shows up in [Server.Mismatches].
//
// The server records every request ([Server.Requests]) and counts streams
// the client abandoned ([Server.Disconnects]), so tests can check that
// cancellation closed the connection. Nothing it logs or records contains
// the API key.
//
// Package llmtest must not import stich packages other than the generated
// protobuf types; it is imported only by tests and development tools.
package llmtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Script drives a [Server].
type Script struct {
	// Description says what the script exercises.
	Description string `json:"description,omitempty"`
	// APIKey is the key requests must send as "Authorization: Bearer";
	// empty accepts any key or none.
	APIKey string `json:"api_key,omitempty"`
	// Models are the models the server knows; a request for another gets
	// 404. Empty knows every model.
	Models []string `json:"models,omitempty"`
	// Responses are used in order (see the package doc).
	Responses []Response `json:"responses"`
	// MaxModelLen, when set, is reported as each model's max_model_len
	// in GET /v1/models, as vLLM does.
	MaxModelLen int `json:"max_model_len,omitempty"`
}

// Usage is a usage object as the server reports it.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// Response is one scripted answer.
type Response struct {
	// When, if set, must occur in one of the request's messages.
	When string `json:"when,omitempty"`
	// ExpectModel, if set, is the model the request must ask for.
	ExpectModel string `json:"expect_model,omitempty"`
	// Repeat keeps the response for every later matching request.
	Repeat bool `json:"repeat,omitempty"`

	// Status, if >= 400, answers with an error body.
	Status int `json:"status,omitempty"`
	// RetryAfter is sent as the Retry-After header.
	RetryAfter string `json:"retry_after,omitempty"`
	// Error is the error message (default: the status text).
	Error string `json:"error,omitempty"`
	// EchoAuth appends the request's Authorization header to Error, as a
	// careless proxy does: clients must scrub it.
	EchoAuth bool `json:"echo_auth,omitempty"`

	// Content is the answer; ContentFile reads it from a file relative to
	// the script; Chunks gives the exact content chunks.
	Content     string   `json:"content,omitempty"`
	ContentFile string   `json:"content_file,omitempty"`
	Chunks      []string `json:"chunks,omitempty"`
	// ChunkSize is the size of content chunks in bytes (never splitting a
	// UTF-8 sequence). Default 16.
	ChunkSize int `json:"chunk_size,omitempty"`
	// DelayMS paces chunks; FirstDelayMS delays the first one.
	DelayMS      int `json:"delay_ms,omitempty"`
	FirstDelayMS int `json:"first_delay_ms,omitempty"`
	// FinishReason ends the answer. Default "stop".
	FinishReason string `json:"finish_reason,omitempty"`
	// Usage is reported in the usage chunk. Default: 4 characters per
	// token of the messages and of the answer.
	Usage *Usage `json:"usage,omitempty"`
	// NoUsage sends no usage chunk even when asked for one.
	NoUsage bool `json:"no_usage,omitempty"`

	// Endless streams Content (if any), then EndlessChunk ("lorem ipsum "
	// by default) again and again until the client leaves.
	Endless      bool   `json:"endless,omitempty"`
	EndlessChunk string `json:"endless_chunk,omitempty"`
	// CutAfter ends the body cleanly after that many content chunks,
	// without a finish reason or [DONE]; AbortAfter breaks the
	// connection instead.
	CutAfter   int `json:"cut_after,omitempty"`
	AbortAfter int `json:"abort_after,omitempty"`
	// Raw lines are written as they are (each followed by "\n") instead
	// of a generated stream, for malformed streams.
	Raw []string `json:"raw,omitempty"`
	// KeepaliveLines writes that many ": keep-alive" comment lines before
	// the first chunk.
	KeepaliveLines int `json:"keepalive_lines,omitempty"`
}

// LoadScript reads a script file and the content files it names.
func LoadScript(path string) (*Script, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s Script
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("llmtest: %s: %w", path, err)
	}
	for i := range s.Responses {
		r := &s.Responses[i]
		if r.ContentFile != "" {
			c, err := os.ReadFile(filepath.Join(filepath.Dir(path), r.ContentFile))
			if err != nil {
				return nil, fmt.Errorf("llmtest: %s: response %d: %w", path, i, err)
			}
			r.Content, r.ContentFile = string(c), ""
		}
	}
	return &s, nil
}

// Message is a recorded chat message.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Request is a recorded request.
type Request struct {
	Model               string
	Messages            []Message
	Stream              bool
	IncludeUsage        bool
	MaxTokens           int
	MaxCompletionTokens int
	Temperature         *float64
	ReasoningEffort     string
	// Authorized is whether the request carried the right key.
	Authorized bool
	// Response is the index of the script response used, -1 if none.
	Response int
}

// Server is a running fake.
type Server struct {
	// URL is the API root to configure as base URL (ends in /v1).
	URL string

	ts     *httptest.Server
	script *Script

	mu          sync.Mutex
	waiting     int
	used        []bool
	requests    []Request
	disconnects int
	active      int
	mismatches  []string
	seq         int
}

// NewServer starts a fake on a loopback port. Close it when done.
func NewServer(script *Script) *Server {
	s := &Server{script: script, used: make([]bool, len(script.Responses))}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.chat)
	mux.HandleFunc("POST /chat/completions", s.chat)
	mux.HandleFunc("GET /v1/models", s.models)
	mux.HandleFunc("GET /metrics", s.metrics)
	s.ts = httptest.NewServer(mux)
	s.URL = s.ts.URL + "/v1"
	return s
}

// Close stops the server, closing open connections.
func (s *Server) Close() {
	s.ts.CloseClientConnections()
	s.ts.Close()
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Disconnects counts streams the client left before they ended.
func (s *Server) Disconnects() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.disconnects
}

// Active counts streams in progress.
func (s *Server) Active() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active
}

// Remaining counts responses not used yet (Repeat responses excluded).
func (s *Server) Remaining() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for i, u := range s.used {
		if !u && !s.script.Responses[i].Repeat {
			n++
		}
	}
	return n
}

// Mismatches lists requests that did not match the script: an unexpected
// model, or no response left.
func (s *Server) Mismatches() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.mismatches...)
}

// SetWaiting sets the queue depth GET /metrics reports as vLLM's
// vllm:num_requests_waiting gauge.
func (s *Server) SetWaiting(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waiting = n
}

// metrics answers like vLLM's Prometheus endpoint: the running and waiting
// request gauges, labelled with the model.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	waiting, running := s.waiting, s.active
	s.mu.Unlock()
	model := "default"
	if len(s.script.Models) > 0 {
		model = s.script.Models[0]
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintf(w, "# HELP vllm:num_requests_running Number of requests in model execution batches.\n# TYPE vllm:num_requests_running gauge\n")
	fmt.Fprintf(w, "vllm:num_requests_running{engine=\"0\",model_name=%q} %d.0\n", model, running)
	fmt.Fprintf(w, "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.\n# TYPE vllm:num_requests_waiting gauge\n")
	fmt.Fprintf(w, "vllm:num_requests_waiting{engine=\"0\",model_name=%q} %d.0\n", model, waiting)
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	type model struct {
		ID          string `json:"id"`
		Object      string `json:"object"`
		OwnedBy     string `json:"owned_by"`
		MaxModelLen int    `json:"max_model_len,omitempty"`
	}
	out := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{Object: "list"}
	for _, m := range s.script.Models {
		out.Data = append(out.Data, model{m, "model", "llmtest", s.script.MaxModelLen})
	}
	writeJSON(w, http.StatusOK, out)
}

// chatRequest is the part of a chat-completions request the fake reads.
type chatRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Stream        bool `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	MaxTokens           int      `json:"max_tokens"`
	MaxCompletionTokens int      `json:"max_completion_tokens"`
	Temperature         *float64 `json:"temperature"`
	ReasoningEffort     string   `json:"reasoning_effort"`
}

// content reads a message's content: a string or an array of text parts.
func content(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) == nil {
		var b strings.Builder
		for _, p := range parts {
			b.WriteString(p.Text)
		}
		return b.String()
	}
	return ""
}

func apiError(w http.ResponseWriter, status int, typ, code, msg string) {
	body := map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": code}}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// mask shows a key the way OpenAI's 401 message does.
func mask(k string) string {
	if len(k) <= 9 {
		return "***"
	}
	return k[:5] + "***" + k[len(k)-4:]
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<20)).Decode(&req); err != nil {
		apiError(w, http.StatusBadRequest, "invalid_request_error", "invalid_json", "could not parse the JSON body: "+err.Error())
		return
	}
	rec := Request{
		Model: req.Model, Stream: req.Stream, MaxTokens: req.MaxTokens, MaxCompletionTokens: req.MaxCompletionTokens,
		Temperature: req.Temperature, ReasoningEffort: req.ReasoningEffort, IncludeUsage: req.StreamOptions != nil && req.StreamOptions.IncludeUsage,
		Response: -1,
	}
	promptChars := 0
	for _, m := range req.Messages {
		c := content(m.Content)
		rec.Messages = append(rec.Messages, Message{m.Role, c})
		promptChars += len(c)
	}
	auth := r.Header.Get("Authorization")
	got := strings.TrimPrefix(auth, "Bearer ")
	rec.Authorized = s.script.APIKey == "" || got == s.script.APIKey

	s.mu.Lock()
	idx := -1
	if rec.Authorized && s.knows(req.Model) {
		for i, resp := range s.script.Responses {
			if s.used[i] || !matches(resp.When, rec.Messages) {
				continue
			}
			idx = i
			if !resp.Repeat {
				s.used[i] = true
			}
			break
		}
	}
	rec.Response = idx
	s.requests = append(s.requests, rec)
	s.seq++
	seq := s.seq
	if rec.Authorized && s.knows(req.Model) && idx < 0 {
		s.mismatches = append(s.mismatches, fmt.Sprintf("request %d (model %s): no scripted response left", seq, req.Model))
	}
	var resp Response
	if idx >= 0 {
		resp = s.script.Responses[idx]
		if resp.ExpectModel != "" && resp.ExpectModel != req.Model {
			s.mismatches = append(s.mismatches, fmt.Sprintf("request %d: response %d expects model %s, got %s", seq, idx, resp.ExpectModel, req.Model))
		}
	}
	s.mu.Unlock()

	switch {
	case !rec.Authorized:
		msg := "You didn't provide an API key."
		if got != "" {
			msg = "Incorrect API key provided: " + mask(got) + ". You can find your API key at https://platform.openai.com/account/api-keys."
		}
		apiError(w, http.StatusUnauthorized, "invalid_request_error", "invalid_api_key", msg)
		return
	case !s.knows(req.Model):
		apiError(w, http.StatusNotFound, "invalid_request_error", "model_not_found", fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", req.Model))
		return
	case idx < 0:
		apiError(w, http.StatusInternalServerError, "server_error", "script_exhausted", "llmtest: no scripted response left for this request")
		return
	case resp.ExpectModel != "" && resp.ExpectModel != req.Model:
		apiError(w, http.StatusBadRequest, "invalid_request_error", "unexpected_model", fmt.Sprintf("llmtest: the script expected model %s here", resp.ExpectModel))
		return
	case resp.Status >= 400:
		if resp.RetryAfter != "" {
			w.Header().Set("Retry-After", resp.RetryAfter)
		}
		msg := resp.Error
		if msg == "" {
			msg = http.StatusText(resp.Status)
		}
		if resp.EchoAuth {
			msg += " (request had Authorization: " + auth + ")"
		}
		typ := "server_error"
		if resp.Status < 500 {
			typ = "invalid_request_error"
		}
		if resp.Status == http.StatusTooManyRequests {
			typ = "rate_limit_error"
		}
		apiError(w, resp.Status, typ, "", msg)
		return
	}

	chunks := resp.Chunks
	if chunks == nil && !resp.Endless {
		chunks = split(resp.Content, resp.ChunkSize)
	}
	answer := strings.Join(chunks, "")
	finish := resp.FinishReason
	if finish == "" {
		finish = "stop"
	}
	usage := Usage{PromptTokens: (promptChars + 3) / 4, CompletionTokens: (len(answer) + 3) / 4}
	if resp.Usage != nil {
		usage = *resp.Usage
	}
	usage.TotalTokens = usage.PromptTokens + usage.CompletionTokens
	id := fmt.Sprintf("chatcmpl-llmtest-%d", seq)
	created := time.Now().Unix()

	if !req.Stream {
		body := map[string]any{
			"id": id, "object": "chat.completion", "created": created, "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": answer}, "finish_reason": finish}},
		}
		if !resp.NoUsage {
			body["usage"] = usage
		}
		writeJSON(w, http.StatusOK, body)
		return
	}
	s.stream(w, r, &resp, req, id, created, chunks, finish, usage, rec.IncludeUsage)
}

func (s *Server) knows(model string) bool {
	if len(s.script.Models) == 0 {
		return true
	}
	for _, m := range s.script.Models {
		if m == model {
			return true
		}
	}
	return false
}

func matches(when string, msgs []Message) bool {
	if when == "" {
		return true
	}
	for _, m := range msgs {
		if strings.Contains(m.Content, when) {
			return true
		}
	}
	return false
}

// split cuts s into chunks of about n bytes, never inside a UTF-8
// sequence.
func split(s string, n int) []string {
	if n <= 0 {
		n = 16
	}
	var out []string
	for len(s) > 0 {
		k := min(n, len(s))
		for k < len(s) && k > 1 && !utf8.RuneStart(s[k]) {
			k--
		}
		out = append(out, s[:k])
		s = s[k:]
	}
	return out
}

type chunkChoice struct {
	Index        int               `json:"index"`
	Delta        map[string]string `json:"delta"`
	FinishReason *string           `json:"finish_reason"`
}

type chunk struct {
	ID      string        `json:"id"`
	Object  string        `json:"object"`
	Created int64         `json:"created"`
	Model   string        `json:"model"`
	Choices []chunkChoice `json:"choices"`
	Usage   *Usage        `json:"usage,omitempty"`
}

func (s *Server) stream(w http.ResponseWriter, r *http.Request, resp *Response, req chatRequest, id string, created int64, chunks []string, finish string, usage Usage, includeUsage bool) {
	fl, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	s.mu.Lock()
	s.active++
	s.mu.Unlock()
	completed := false
	defer func() {
		s.mu.Lock()
		s.active--
		if !completed {
			s.disconnects++
		}
		s.mu.Unlock()
	}()
	ctx := r.Context()
	write := func(line string) bool {
		if ctx.Err() != nil {
			return false
		}
		if _, err := fmt.Fprint(w, line); err != nil {
			return false
		}
		if fl != nil {
			fl.Flush()
		}
		return true
	}
	wait := func(ms int) bool {
		if ms <= 0 {
			return ctx.Err() == nil
		}
		t := time.NewTimer(time.Duration(ms) * time.Millisecond)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	event := func(c chunk) bool {
		b, _ := json.Marshal(c)
		return write("data: " + string(b) + "\n\n")
	}
	base := chunk{ID: id, Object: "chat.completion.chunk", Created: created, Model: req.Model}
	delta := func(d map[string]string, fin *string) chunk {
		c := base
		c.Choices = []chunkChoice{{Index: 0, Delta: d, FinishReason: fin}}
		return c
	}

	for range resp.KeepaliveLines {
		if !write(": keep-alive\n") {
			return
		}
	}
	if resp.Raw != nil {
		for _, l := range resp.Raw {
			if !write(l + "\n") {
				return
			}
		}
		completed = true
		return
	}
	if !wait(resp.FirstDelayMS) || !event(delta(map[string]string{"role": "assistant", "content": ""}, nil)) {
		return
	}
	if resp.Endless {
		piece := resp.EndlessChunk
		if piece == "" {
			piece = "lorem ipsum "
		}
		if resp.Content != "" && !event(delta(map[string]string{"content": resp.Content}, nil)) {
			return
		}
		delay := max(resp.DelayMS, 1)
		for range 10_000_000 {
			if !wait(delay) || !event(delta(map[string]string{"content": piece}, nil)) {
				return
			}
		}
		return
	}
	for i, c := range chunks {
		if i > 0 && !wait(resp.DelayMS) {
			return
		}
		if resp.CutAfter > 0 && i == resp.CutAfter {
			completed = true
			return // the body ends: no finish reason, no [DONE]
		}
		if resp.AbortAfter > 0 && i == resp.AbortAfter {
			completed = true
			panic(http.ErrAbortHandler) // the connection breaks
		}
		if !event(delta(map[string]string{"content": c}, nil)) {
			return
		}
	}
	if !event(delta(map[string]string{}, &finish)) {
		return
	}
	if includeUsage && !resp.NoUsage {
		c := base
		c.Choices = []chunkChoice{}
		c.Usage = &usage
		if !event(c) {
			return
		}
	}
	if write("data: [DONE]\n\n") {
		completed = true
	}
}
