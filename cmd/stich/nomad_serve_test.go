package main

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/stichdev/stich/nomad"
	"github.com/stichdev/stich/nomad/nomadtest"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
)

// TestServeRoutesToNomadModelServers runs `stich serve --nomad-models`
// against the Nomad fake, whose catalogue lists two fake model servers of
// the same model; one reports a long queue (vLLM's num_requests_waiting).
// A generation completes, and every model request goes to the other.
func TestServeRoutesToNomadModelServers(t *testing.T) {
	srv, err := nomadtest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	idle := fakeModel(t, "cluster_slow.json")
	busy := fakeModel(t, "cluster_slow.json")
	busy.SetWaiting(50)
	for _, m := range []string{idle.URL, busy.URL} {
		host, port := splitURL(t, m)
		srv.RegisterService(nomad.ServiceInference, "inference-vllm", host, port, []string{"model=gpt-test", "engine=vllm"}, nil)
	}
	n := startNode(t, t.TempDir(), "--nomad-models", "--nomad-addr", srv.URL, "--model", "gpt-test", "--create-limit", "0", "--message-limit", "0", "--build-limit", "0")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sessions := stichv1connect.NewSessionServiceClient(apiHTTP, n.url)
	res, err := sessions.CreateSession(ctx, connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "a tracker of things with name, count and done"}))
	if err != nil {
		t.Fatal(err)
	}
	evs, err := watchAll(ctx, sessions, res.Msg.GetSessionId())
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 || evs[len(evs)-1].GetCompleted() == nil {
		t.Fatalf("the session did not complete: %v", evs[len(evs)-1])
	}
	if len(idle.Requests()) == 0 || len(busy.Requests()) != 0 {
		t.Fatalf("requests: idle server %d, busy server %d; want all on the idle one", len(idle.Requests()), len(busy.Requests()))
	}
	for i, r := range idle.Requests() {
		if r.Response < 0 {
			t.Fatalf("request %d matched no scripted answer", i)
		}
	}
	t.Logf("%d model requests, all to the server with the empty queue", len(idle.Requests()))
}
