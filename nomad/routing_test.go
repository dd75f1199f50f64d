package nomad_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/stichdev/stich/llm"
	"github.com/stichdev/stich/llm/llmtest"
	"github.com/stichdev/stich/nomad"
	"github.com/stichdev/stich/nomad/nomadtest"
)

// routedModels wires the pieces as `stich serve` does: the catalogue
// watcher feeds the router, and llm clients call through the router.
type routedModels struct {
	srv    *nomadtest.Server
	router *llm.Router
	mu     sync.Mutex
	seen   [][]nomad.ModelServer
}

func startRouting(t *testing.T, wait time.Duration) *routedModels {
	t.Helper()
	srv, c := newFake(t)
	rm := &routedModels{srv: srv, router: llm.NewRouter(llm.WithScrapeInterval(20 * time.Millisecond))}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Go(func() { rm.router.Run(ctx) })
	wg.Go(func() {
		c.WatchModelServers(ctx, nomad.WatchConfig{Wait: wait, PendingWait: 20 * time.Millisecond}, func(ss []nomad.ModelServer) {
			rm.router.Update(ctx, nomad.Backends(ss))
			rm.mu.Lock()
			rm.seen = append(rm.seen, ss)
			rm.mu.Unlock()
		})
	})
	eventually(t, 5*time.Second, func() error {
		rm.mu.Lock()
		defer rm.mu.Unlock()
		if len(rm.seen) == 0 {
			return fmt.Errorf("no first catalogue read")
		}
		return nil
	})
	return rm
}

func (rm *routedModels) status(id string) (llm.BackendStatus, bool) {
	for _, s := range rm.router.Status() {
		if strings.Contains(s.ID, id) {
			return s, true
		}
	}
	return llm.BackendStatus{}, false
}

// modelServer starts a fake OpenAI endpoint serving model and registers it
// in the catalogue as an inference job's allocation would be, with the
// check at checkPath.
func (rm *routedModels) modelServer(t *testing.T, model, answer, checkPath string) (*llmtest.Server, string) {
	t.Helper()
	ms := llmtest.NewServer(&llmtest.Script{Models: []string{model}, MaxModelLen: 32768, Responses: []llmtest.Response{{Content: answer, Repeat: true}}})
	t.Cleanup(ms.Close)
	var host string
	var port int
	fmt.Sscanf(strings.TrimSuffix(strings.TrimPrefix(ms.URL, "http://"), "/v1"), "127.0.0.1:%d", &port)
	host = "127.0.0.1"
	id := rm.srv.RegisterService(nomad.ServiceInference, "inference-"+model, host, port,
		[]string{nomad.ModelTagPrefix + model, nomad.EngineTagPrefix + "vllm"},
		&api.ServiceCheck{Name: "model-loaded", Type: "http", Path: checkPath, Interval: 20 * time.Millisecond, Timeout: time.Second})
	return ms, id
}

func client(t *testing.T, rt http.RoundTripper, model string) *llm.Client {
	t.Helper()
	c, err := llm.NewClient(llm.Config{
		Providers: []llm.ProviderConfig{{Name: "nomad", Kind: llm.KindCustom, BaseURL: "http://stich-router/v1", DefaultModel: model}},
		Retry:     llm.RetryConfig{MaxAttempts: 1},
	}, llm.WithHTTPClient(&http.Client{Transport: rt}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func ask(t *testing.T, c *llm.Client) string {
	t.Helper()
	res, err := c.Stream(context.Background(), llm.Request{Action: llm.ActionPhaseImplementation, Messages: []llm.Message{{Role: "user", Content: "hello"}}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Text
}

// TestRoutingFollowsCatalogue: a server that appears is routed to within one
// blocking-query cycle (the query wakes on the registration; the wait is
// far longer than the test allows), one whose check fails gets nothing,
// and one that leaves the catalogue leaves the rotation.
func TestRoutingFollowsCatalogue(t *testing.T) {
	const wait = 30 * time.Second // a timeout would fail the test
	rm := startRouting(t, wait)
	a, aID := rm.modelServer(t, "m1", "from A", "/v1/models")
	start := time.Now()
	eventually(t, 5*time.Second, func() error {
		if s, ok := rm.status(aID); !ok || !s.Ready {
			return fmt.Errorf("A not in rotation: %+v", s)
		}
		return nil
	})
	t.Logf("registration to rotation: %s", time.Since(start))
	if s, _ := rm.status(aID); s.Served["m1"] != 32768 {
		t.Errorf("context length from /v1/models = %d, want 32768", s.Served["m1"])
	}
	c := client(t, rm.router, "m1")
	if got := ask(t, c); got != "from A" {
		t.Fatalf("answer %q", got)
	}

	// B serves m1 too, but its Nomad check fails (/health is 404 here).
	b, bID := rm.modelServer(t, "m1", "from B", "/health")
	eventually(t, 5*time.Second, func() error {
		if s, ok := rm.status(bID); !ok || s.Ready || !s.Failing {
			return fmt.Errorf("B not seen failing: %+v", s)
		}
		return nil
	})
	for range 6 {
		if got := ask(t, c); got != "from A" {
			t.Fatalf("a request reached %q", got)
		}
	}
	if n := len(b.Requests()); n != 0 {
		t.Fatalf("B, failing its check, got %d requests", n)
	}
	if n := len(a.Requests()); n != 7 {
		t.Fatalf("A got %d requests, want 7", n)
	}

	// A leaves the catalogue: nothing serves m1 any more.
	rm.srv.DeregisterService(aID)
	eventually(t, 5*time.Second, func() error {
		if _, ok := rm.status(aID); ok {
			return fmt.Errorf("A still known")
		}
		return nil
	})
	if _, err := c.Stream(context.Background(), llm.Request{Action: llm.ActionPhaseImplementation, Messages: []llm.Message{{Role: "user", Content: "x"}}}); err == nil || !strings.Contains(err.Error(), "no model server") {
		t.Fatalf("with no server in rotation: %v", err)
	}
}

// TestRoutingFollowsLoad: with two servers of one model, requests go to the
// one with the shorter queue (vLLM's num_requests_waiting), and away from
// the one holding a request in flight.
func TestRoutingFollowsLoad(t *testing.T) {
	rm := startRouting(t, 30*time.Second)
	c1, c1ID := rm.modelServer(t, "m2", "from C", "/v1/models")
	d, dID := rm.modelServer(t, "m2", "from D", "/v1/models")
	d.SetWaiting(5)
	eventually(t, 5*time.Second, func() error {
		sc, _ := rm.status(c1ID)
		sd, _ := rm.status(dID)
		if !sc.Ready || !sd.Ready || sd.Waiting != 5 {
			return fmt.Errorf("C %+v, D %+v", sc, sd)
		}
		return nil
	})
	c := client(t, rm.router, "m2")
	for range 5 {
		if got := ask(t, c); got != "from C" {
			t.Fatalf("with D's queue at 5, a request went to %q", got)
		}
	}
	if len(d.Requests()) != 0 || len(c1.Requests()) != 5 {
		t.Fatalf("C %d, D %d requests", len(c1.Requests()), len(d.Requests()))
	}
	// D's queue empties; C holds a request in flight: D gets the next ones.
	d.SetWaiting(0)
	eventually(t, 5*time.Second, func() error {
		if sd, _ := rm.status(dID); sd.Waiting != 0 {
			return fmt.Errorf("D waiting %d", sd.Waiting)
		}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://stich-router/v1/chat/completions",
			strings.NewReader(`{"model":"m2","stream":true,"messages":[{"role":"user","content":"hold"}]}`))
		resp, err := (&http.Client{Transport: rm.router}).Do(req)
		if err != nil {
			close(started)
			return
		}
		close(started)
		<-ctx.Done()
		resp.Body.Close()
	}()
	<-started
	sc, _ := rm.status(c1ID)
	sd, _ := rm.status(dID)
	held := c1ID
	if sd.InFlight == 1 {
		held = dID
	} else if sc.InFlight != 1 {
		cancel()
		t.Fatalf("no request in flight: C %+v D %+v", sc, sd)
	}
	want := "from D"
	if held == dID {
		want = "from C"
	}
	for range 3 {
		if got := ask(t, c); got != want {
			cancel()
			t.Fatalf("with a request in flight on %s, a request went to %q", held, got)
		}
	}
	cancel()
	<-done
	eventually(t, 5*time.Second, func() error {
		for _, s := range rm.router.Status() {
			if s.InFlight != 0 {
				return fmt.Errorf("%s still has %d in flight", s.ID, s.InFlight)
			}
		}
		return nil
	})
}
