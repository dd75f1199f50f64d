package bench

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	openai "github.com/sashabaranov/go-openai"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/cluster"
	"github.com/stichdev/stich/codegen"
	"github.com/stichdev/stich/llm"
	"github.com/stichdev/stich/llm/llmtest"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
	"github.com/stichdev/stich/rpc"
)

const firstTokenDelay = 20 * time.Millisecond

func answer(b *testing.B, name string) string {
	b.Helper()
	c, err := os.ReadFile(filepath.Join("..", "llm", "testdata", "answers", name))
	if err != nil {
		b.Fatal(err)
	}
	return string(c)
}

// BenchmarkPlatformFirstToken measures what stich adds before a user sees
// the first streamed file chunk: CreateSession, then Watch until the first
// file_chunk event, with a model endpoint that takes 20 ms to its first
// token. With a model, the first file chunk follows the blueprint call:
// phase 1's template files are written without a model. So the reference
// makes that call directly with go-openai, to its end. Reported as p50
// over the runs; target: stich p50 ≤ reference p50 + 2 ms.
func BenchmarkPlatformFirstToken(b *testing.B) {
	const key = "sk-bench-0123456789"
	script := &llmtest.Script{APIKey: key, Models: []string{"m"}, Responses: []llmtest.Response{
		{When: "Plan this app:", Content: answer(b, "blueprint.txt"), ChunkSize: 256, FirstDelayMS: int(firstTokenDelay / time.Millisecond), Repeat: true},
		{When: "Implement this phase now", Content: answer(b, "phase_core.txt"), ChunkSize: 64, FirstDelayMS: int(firstTokenDelay / time.Millisecond), Repeat: true},
		{Content: "ok", Repeat: true},
	}}
	srv := llmtest.NewServer(script)
	b.Cleanup(srv.Close)

	cfg := llm.DefaultConfigFor(llm.KindCustom, "m")
	cfg.Providers[0].BaseURL, cfg.Providers[0].APIKey = srv.URL, llm.Secret(key)
	client, err := llm.NewClient(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ccfg := cluster.DefaultLocalConfig()
	ccfg.Name, ccfg.InMemory = "bench", true
	ccfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	rt, err := actors.Start(context.Background(), actors.Config{Cluster: ccfg,
		Providers: map[string]codegen.Provider{"model": llm.NewProvider("model", client)}, DefaultProvider: "model"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rt.Shutdown(context.Background()) })
	server, err := rpc.New(rt, rpc.Config{Addr: "127.0.0.1:0", Logger: ccfg.Logger})
	if err != nil {
		b.Fatal(err)
	}
	if err := server.Listen(); err != nil {
		b.Fatal(err)
	}
	go server.Serve()
	b.Cleanup(func() { server.Shutdown(context.Background()) })
	api := stichv1connect.NewSessionServiceClient(http.DefaultClient, "http://"+server.Addr())

	p50 := func(ds []time.Duration) float64 {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return float64(ds[len(ds)/2].Microseconds()) / 1000
	}
	b.Run("stich", func(b *testing.B) {
		var ds []time.Duration
		for i := 0; i < b.N; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			start := time.Now()
			res, err := api.CreateSession(ctx, connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "a task tracker"}))
			if err != nil {
				b.Fatal(err)
			}
			stream, err := api.Watch(ctx, connect.NewRequest(&stichv1.WatchRequest{SessionId: res.Msg.GetSessionId()}))
			if err != nil {
				b.Fatal(err)
			}
			got := false
			for stream.Receive() {
				if stream.Msg().GetFileChunk() != nil {
					ds = append(ds, time.Since(start))
					got = true
					break
				}
			}
			if !got {
				b.Fatalf("no file chunk: %v", stream.Err())
			}
			stream.Close()
			api.Stop(ctx, connect.NewRequest(&stichv1.StopRequest{SessionId: res.Msg.GetSessionId()}))
			cancel()
		}
		b.ReportMetric(p50(ds), "p50-ms")
	})
	b.Run("reference", func(b *testing.B) {
		oc := openai.DefaultConfig(key)
		oc.BaseURL = srv.URL
		direct := openai.NewClientWithConfig(oc)
		var ds []time.Duration
		for i := 0; i < b.N; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			start := time.Now()
			for _, prompt := range []string{"Plan this app: a task tracker"} {
				s, err := direct.CreateChatCompletionStream(ctx, openai.ChatCompletionRequest{Model: "m", Stream: true,
					Messages: []openai.ChatCompletionMessage{{Role: "user", Content: prompt}}})
				if err != nil {
					b.Fatal(err)
				}
				var text strings.Builder
				for {
					r, err := s.Recv()
					if err != nil {
						break
					}
					if len(r.Choices) > 0 {
						text.WriteString(r.Choices[0].Delta.Content)
					}
				}
				s.Close()
			}
			ds = append(ds, time.Since(start))
			cancel()
		}
		b.ReportMetric(p50(ds), "p50-ms")
	})
}
