package rpc

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/cluster"
	"github.com/stichdev/stich/codegen"
	"github.com/stichdev/stich/internal/testutil"
	"github.com/stichdev/stich/pipeline"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/ratelimit"
)

// A session past its quota refuses edits and messages at the RPC edge
// with resource_exhausted, naming the quota, its flag and what to do.
func TestSessionQuotaAtTheEdge(t *testing.T) {
	cfg := cluster.DefaultLocalConfig()
	cfg.Name, cfg.InMemory = "rpc-test", true
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ts := newTestServerRuntime(t, ratelimit.Rule{}, log, actors.Config{Cluster: cfg,
		Providers: map[string]codegen.Provider{"scaffold": codegen.Scaffold{}}, Quota: pipeline.Quota{Versions: 2}}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := ts.client
	res, err := c.CreateSession(ctx, connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "a todo list"}))
	if err != nil {
		t.Fatal(err)
	}
	id := res.Msg.GetSessionId()
	testutil.WaitFor(t, 2*time.Minute, func() error {
		s, err := c.GetSession(ctx, connect.NewRequest(&stichv1.GetSessionRequest{SessionId: id}))
		if err != nil {
			return err
		}
		if p := s.Msg.GetSession().GetPhase(); p != stichv1.Phase_PHASE_COMPLETED {
			return fmt.Errorf("phase %v", p)
		}
		return nil
	})
	if _, err := c.SaveFile(ctx, connect.NewRequest(&stichv1.SaveFileRequest{SessionId: id, Path: "src/extra.ts", Content: "export const a = 1;\n"})); err != nil {
		t.Fatal(err)
	}
	_, err = c.SaveFile(ctx, connect.NewRequest(&stichv1.SaveFileRequest{SessionId: id, Path: "src/extra2.ts", Content: "export const b = 1;\n"}))
	wantCode(t, err, connect.CodeResourceExhausted, "versions quota is 2 (stich serve --session-max-versions); start a new session")
	_, err = c.SendMessage(ctx, connect.NewRequest(&stichv1.SendMessageRequest{SessionId: id, Text: "add a footer"}))
	wantCode(t, err, connect.CodeResourceExhausted, "--session-max-versions")
}
