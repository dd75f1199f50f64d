package llmtest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	openai "github.com/sashabaranov/go-openai"
)

func client(s *Server, key string) *openai.Client {
	cfg := openai.DefaultConfig(key)
	cfg.BaseURL = s.URL
	return openai.NewClientWithConfig(cfg)
}

func TestStreamProtocol(t *testing.T) {
	s := NewServer(&Script{APIKey: "k", Models: []string{"m"}, Responses: []Response{{Content: "Hello, wörld!", ChunkSize: 4, Usage: &Usage{PromptTokens: 7, CompletionTokens: 3}}}})
	defer s.Close()
	st, err := client(s, "k").CreateChatCompletionStream(context.Background(), openai.ChatCompletionRequest{
		Model: "m", Messages: []openai.ChatCompletionMessage{{Role: "user", Content: "hi"}}, StreamOptions: &openai.StreamOptions{IncludeUsage: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var text strings.Builder
	var deltas int
	var finish openai.FinishReason
	var usage *openai.Usage
	for {
		r, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if r.Usage != nil {
			usage = r.Usage
			if len(r.Choices) != 0 {
				t.Fatal("usage chunk has choices")
			}
		}
		for _, c := range r.Choices {
			if c.Delta.Content != "" {
				deltas++
			}
			text.WriteString(c.Delta.Content)
			if c.FinishReason != "" {
				finish = c.FinishReason
			}
		}
	}
	if text.String() != "Hello, wörld!" || deltas < 3 || finish != openai.FinishReasonStop {
		t.Fatalf("text %q in %d deltas, finish %q", text.String(), deltas, finish)
	}
	if usage == nil || usage.PromptTokens != 7 || usage.CompletionTokens != 3 || usage.TotalTokens != 10 {
		t.Fatalf("usage %+v", usage)
	}
	reqs := s.Requests()
	if len(reqs) != 1 || !reqs[0].Stream || !reqs[0].IncludeUsage || reqs[0].Messages[0].Content != "hi" {
		t.Fatalf("recorded %+v", reqs)
	}
	if s.Disconnects() != 0 {
		t.Fatalf("%d disconnects", s.Disconnects())
	}
}

func TestNonStreaming(t *testing.T) {
	s := NewServer(&Script{Responses: []Response{{Content: "whole answer", FinishReason: "length"}}})
	defer s.Close()
	r, err := client(s, "").CreateChatCompletion(context.Background(), openai.ChatCompletionRequest{Model: "any", Messages: []openai.ChatCompletionMessage{{Role: "user", Content: "hi"}}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Choices[0].Message.Content != "whole answer" || r.Choices[0].FinishReason != openai.FinishReasonLength || r.Usage.CompletionTokens != 3 {
		t.Fatalf("%+v", r)
	}
}

func TestErrors(t *testing.T) {
	s := NewServer(&Script{APIKey: "sk-right-0123456789", Models: []string{"m"}, Responses: []Response{{Status: 429, RetryAfter: "3", Error: "slow down"}}})
	defer s.Close()
	req := openai.ChatCompletionRequest{Model: "m", Messages: []openai.ChatCompletionMessage{{Role: "user", Content: "hi"}}}
	var apiErr *openai.APIError

	_, err := client(s, "sk-wrong-9876543210").CreateChatCompletionStream(context.Background(), req)
	if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != http.StatusUnauthorized || !strings.Contains(apiErr.Message, "sk-wr***3210") {
		t.Fatalf("wrong key: %v", err)
	}
	req.Model = "other"
	_, err = client(s, "sk-right-0123456789").CreateChatCompletionStream(context.Background(), req)
	if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != http.StatusNotFound {
		t.Fatalf("unknown model: %v", err)
	}
	req.Model = "m"
	_, err = client(s, "sk-right-0123456789").CreateChatCompletionStream(context.Background(), req)
	if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != http.StatusTooManyRequests || apiErr.Message != "slow down" {
		t.Fatalf("429: %v", err)
	}
	_, err = client(s, "sk-right-0123456789").CreateChatCompletionStream(context.Background(), req)
	if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != http.StatusInternalServerError || len(s.Mismatches()) != 1 {
		t.Fatalf("exhausted: %v %v", err, s.Mismatches())
	}
	resp, err := http.Post(s.URL+"/chat/completions", "application/json", strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"x"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no key: %d", resp.StatusCode)
	}
}

// TestScriptsLoad checks every script under llm/testdata loads, with its
// content files.
func TestScriptsLoad(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("..", "testdata", "scripts", "*.json"))
	if len(paths) < 10 {
		t.Fatalf("only %d scripts", len(paths))
	}
	for _, p := range paths {
		s, err := LoadScript(p)
		if err != nil {
			t.Fatal(err)
		}
		if s.Description == "" || len(s.Responses) == 0 {
			t.Errorf("%s: no description or responses", p)
		}
		for i, r := range s.Responses {
			if r.Status == 0 && r.Content == "" && r.Chunks == nil && !r.Endless && r.Raw == nil {
				t.Errorf("%s: response %d is empty", p, i)
			}
		}
	}
}
