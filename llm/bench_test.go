package llm

import (
	"context"
	"errors"
	"io"
	"testing"

	openai "github.com/sashabaranov/go-openai"

	"github.com/stichdev/stich/llm/llmtest"
)

var errFirstTokenSeen = errors.New("first token")

// BenchmarkFirstToken measures the time from starting a call to the first
// content delta, through the Client (stich: config resolution, timers,
// retry bookkeeping, usage accounting) and through a bare go-openai
// streaming call (reference), against the same fake endpoint. Both stop
// reading after the first token, so each op opens a new connection.
func BenchmarkFirstToken(b *testing.B) {
	srv := llmtest.NewServer(&llmtest.Script{APIKey: testKey, Responses: []llmtest.Response{
		{Content: "Hello! Here is the first phase of your app.", ChunkSize: 4, Repeat: true},
	}})
	defer srv.Close()
	msgs := userMsg("Write the app.")

	b.Run("stich", func(b *testing.B) {
		c, err := NewClient(testConfig(srv.URL))
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		req := Request{Action: ActionPhaseImplementation, Messages: msgs, OnDelta: func(string) error { return errFirstTokenSeen }}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Stream(context.Background(), req); !errors.Is(err, errFirstTokenSeen) {
				b.Fatal(err)
			}
		}
	})

	b.Run("reference", func(b *testing.B) {
		cfg := openai.DefaultConfig(testKey)
		cfg.BaseURL = srv.URL
		c := openai.NewClientWithConfig(cfg)
		omsgs := []openai.ChatCompletionMessage{{Role: msgs[0].Role, Content: msgs[0].Content}, {Role: msgs[1].Role, Content: msgs[1].Content}}
		temp := float32(0.2)
		b.ReportAllocs()
		for b.Loop() {
			st, err := c.CreateChatCompletionStream(context.Background(), openai.ChatCompletionRequest{
				Model: "gpt-test", Messages: omsgs, MaxTokens: 1000, Temperature: temp,
				StreamOptions: &openai.StreamOptions{IncludeUsage: true},
			})
			if err != nil {
				b.Fatal(err)
			}
			for {
				r, err := st.Recv()
				if err == io.EOF {
					b.Fatal("no content")
				}
				if err != nil {
					b.Fatal(err)
				}
				if len(r.Choices) > 0 && r.Choices[0].Delta.Content != "" {
					break
				}
			}
			st.Close()
		}
	})
}
