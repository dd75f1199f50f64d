package nomad_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/stichdev/stich/nomad"
	"github.com/stichdev/stich/nomad/nomadtest"
)

func newFake(t *testing.T, opts ...nomadtest.Option) (*nomadtest.Server, *nomad.Client) {
	t.Helper()
	srv, err := nomadtest.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	c, err := nomad.NewClient(nomad.ClientConfig{Address: srv.URL, Token: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

// eventually polls f until it returns nil, returning its last error.
func eventually(t *testing.T, d time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %v", d, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// shellJob is a raw_exec service job whose tasks print their slot, register
// a service and say goodbye on SIGTERM.
func shellJob(count int) *api.Job {
	j := api.NewServiceJob("echo", "echo", "", 50)
	j.Datacenters = []string{"*"}
	j.TaskGroups = []*api.TaskGroup{{
		Name: new("web"), Count: new(count),
		Networks: []*api.NetworkResource{{DynamicPorts: []api.Port{{Label: "http"}}}},
		Services: []*api.Service{{Name: "echo", PortLabel: "http", Provider: "nomad", Tags: []string{"slot"}}},
		Tasks: []*api.Task{{
			Name: "sh", Driver: "raw_exec", KillSignal: "SIGTERM", KillTimeout: new(5 * time.Second),
			Config: map[string]any{"command": "/bin/sh", "args": []string{"-c",
				`trap 'echo bye $NOMAD_ALLOC_INDEX; exit 0' TERM; echo hello ${NOMAD_ALLOC_INDEX} on ${NOMAD_ADDR_http}; while true; do sleep 0.05; done`}},
		}},
	}}
	return j
}

func TestApplyScaleLogs(t *testing.T) {
	srv, c := newFake(t)
	ctx := context.Background()
	if _, err := c.Apply(ctx, shellJob(2)); err != nil {
		t.Fatal(err)
	}
	st, err := c.Status(ctx, "echo")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Allocs) != 2 || st.Allocs[0].Name != "echo.web[0]" || st.Allocs[1].Name != "echo.web[1]" {
		t.Fatalf("allocs = %+v", st.Allocs)
	}
	regs, _, err := c.API().Services().Get("echo", nil)
	if err != nil || len(regs) != 2 {
		t.Fatalf("services = %v, %v", regs, err)
	}
	// Logs of slot 1, through the client's own log streaming.
	alloc := &api.Allocation{ID: st.Allocs[1].ID, NodeID: st.Allocs[1].NodeID}
	readLog := func(follow bool, cancel chan struct{}) (string, error) {
		frames, errs := c.API().AllocFS().Logs(alloc, follow, "sh", "stdout", "start", 0, cancel, nil)
		var b strings.Builder
		for {
			select {
			case f, ok := <-frames:
				if !ok {
					return b.String(), nil
				}
				b.Write(f.Data)
				if follow && strings.Contains(b.String(), "bye") {
					return b.String(), nil
				}
			case err := <-errs:
				return b.String(), err
			}
		}
	}
	eventually(t, 5*time.Second, func() error {
		out, err := readLog(false, nil)
		if err != nil || !strings.Contains(out, "hello 1 on 127.0.0.1:") {
			return errors.New("no hello yet: " + out)
		}
		return nil
	})
	// Follow slot 1's log while scaling down: Nomad stops the highest slot
	// with its kill_signal, and the log shows the trap ran.
	followed := make(chan string, 1)
	cancel := make(chan struct{})
	defer close(cancel)
	go func() { out, _ := readLog(true, cancel); followed <- out }()
	if err := c.Scale(ctx, "echo", "web", 1, "test"); err != nil {
		t.Fatal(err)
	}
	select {
	case out := <-followed:
		if !strings.Contains(out, "bye 1") {
			t.Fatalf("slot 1 log = %q, want its SIGTERM trap", out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("slot 1 did not stop")
	}
	eventually(t, 5*time.Second, func() error {
		regs, _, err := c.API().Services().Get("echo", nil)
		if err != nil || len(regs) != 1 || regs[0].AllocID != st.Allocs[0].ID {
			return errors.New("slot 1 still registered")
		}
		for _, a := range srv.Allocs("echo") {
			if a.Name == "echo.web[1]" && (a.DesiredStatus != "stop" || a.ClientStatus != "complete") {
				return errors.New("slot 1 not complete: " + a.ClientStatus)
			}
		}
		return nil
	})

	// A lost allocation is replaced in the same slot.
	if err := srv.LoseAlloc(st.Allocs[0].ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() error {
		st, err := c.Status(ctx, "echo")
		if err != nil {
			return err
		}
		lost, running := 0, 0
		for _, a := range st.Allocs {
			if a.ClientStatus == "lost" {
				lost++
			}
			if a.ClientStatus == "running" && a.Name == "echo.web[0]" {
				running++
			}
		}
		if lost != 1 || running != 1 {
			return errors.New("want one lost and a replacement running in slot 0")
		}
		return nil
	})
}

func TestPlacementFailures(t *testing.T) {
	ctx := context.Background()
	vllm, err := nomad.InferenceJob{Engine: nomad.EngineVLLM, Model: "Qwen/Qwen2.5-Coder-7B-Instruct"}.Job()
	if err != nil {
		t.Fatal(err)
	}
	_, c := newFake(t, nomadtest.WithNodes(nomadtest.Node{Drivers: []string{"docker"}})) // no GPU
	plan, err := c.Plan(ctx, vllm)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Diff != "Added" || plan.Groups["vllm"].Place != 1 || len(plan.Failures) != 1 {
		t.Fatalf("plan = %+v", plan)
	}
	_, err = c.Apply(ctx, vllm)
	if !errors.Is(err, nomad.ErrPlacement) || !strings.Contains(err.Error(), "missing devices") {
		t.Fatalf("want a missing devices placement failure, got %v", err)
	}
	// A GPU with too little memory is as good as none; enough memory but no
	// docker fails on the driver.
	_, c = newFake(t, nomadtest.WithNodes(nomadtest.Node{GPUs: 1, GPUMemoryMiB: 8192, Drivers: []string{"docker"}}))
	if _, err := c.Apply(ctx, vllm); err == nil || !strings.Contains(err.Error(), "missing devices") {
		t.Fatalf("8 GiB GPU for a 24 GiB constraint: %v", err)
	}
	_, c = newFake(t, nomadtest.WithNodes(nomadtest.Node{GPUs: 1, GPUMemoryMiB: 24576, Drivers: []string{"raw_exec"}}))
	if _, err := c.Apply(ctx, vllm); err == nil || !strings.Contains(err.Error(), "missing drivers") {
		t.Fatalf("no docker: %v", err)
	}
	// distinct_hosts with fewer clients than nodes asked for.
	stich, _ := nomad.StichJob{Driver: "raw_exec", Command: "/bin/true", NoHostVolume: true}.Job()
	if _, err := c.Apply(ctx, stich); !errors.Is(err, nomad.ErrPlacement) || !strings.Contains(err.Error(), "distinct_hosts") {
		t.Fatalf("3 nodes on 1 client with distinct_hosts: %v", err)
	}
}

func TestACLRefused(t *testing.T) {
	srv, err := nomadtest.New(nomadtest.WithACL("right"))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, tc := range []struct{ token, want string }{{"", "no token was given"}, {"wrong", "ACL token not found"}} {
		c, _ := nomad.NewClient(nomad.ClientConfig{Address: srv.URL, Token: tc.token})
		_, err := c.Status(context.Background(), "stich")
		if !errors.Is(err, nomad.ErrACL) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("token %q: got %v", tc.token, err)
		}
	}
	c, _ := nomad.NewClient(nomad.ClientConfig{Address: srv.URL, Token: "right"})
	if _, err := c.Status(context.Background(), "stich"); !errors.Is(err, nomad.ErrNotFound) {
		t.Errorf("right token, no job: %v", err)
	}
	c, _ = nomad.NewClient(nomad.ClientConfig{Address: "http://127.0.0.1:1"})
	if _, err := c.Status(context.Background(), "stich"); !errors.Is(err, nomad.ErrUnreachable) {
		t.Errorf("closed port: %v", err)
	}
	if _, err := nomad.NewClient(nomad.ClientConfig{Address: "127.0.0.1:4646"}); err == nil {
		t.Error("an address without scheme must be refused")
	}
}

func TestBlockingServiceQuery(t *testing.T) {
	srv, c := newFake(t, nomadtest.WithMaxWait(time.Minute))
	srv.RegisterService("m", "j", "127.0.0.1", 1, nil, nil)
	regs, qm, err := c.API().Services().Get("m", nil)
	if err != nil || len(regs) != 1 || qm.LastIndex == 0 {
		t.Fatalf("%v %v %v", regs, qm, err)
	}
	// Timeout: the same index comes back after the wait.
	start := time.Now()
	_, qm2, err := c.API().Services().Get("m", &api.QueryOptions{WaitIndex: qm.LastIndex, WaitTime: 100 * time.Millisecond})
	if err != nil || qm2.LastIndex != qm.LastIndex || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("timeout: index %d→%d after %s, %v", qm.LastIndex, qm2.LastIndex, time.Since(start), err)
	}
	// A change wakes the query with a higher index.
	go func() {
		time.Sleep(50 * time.Millisecond)
		srv.RegisterService("m", "j", "127.0.0.1", 2, nil, nil)
	}()
	regs, qm3, err := c.API().Services().Get("m", &api.QueryOptions{WaitIndex: qm.LastIndex, WaitTime: 30 * time.Second})
	if err != nil || len(regs) != 2 || qm3.LastIndex <= qm.LastIndex {
		t.Fatalf("change: %d regs, index %d, %v", len(regs), qm3.LastIndex, err)
	}
	// Unrelated services do not wake it.
	done := make(chan uint64, 1)
	go func() {
		_, qm, _ := c.API().Services().Get("m", &api.QueryOptions{WaitIndex: qm3.LastIndex, WaitTime: 300 * time.Millisecond})
		done <- qm.LastIndex
	}()
	srv.RegisterService("other", "j", "127.0.0.1", 3, nil, nil)
	if idx := <-done; idx != qm3.LastIndex {
		t.Fatalf("another service moved m's index to %d", idx)
	}
}

func TestEventStreamAndNodes(t *testing.T) {
	srv, c := newFake(t, nomadtest.WithHeartbeat(20*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := c.API().EventStream().Stream(ctx, map[api.Topic][]string{api.TopicJob: {"echo"}}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(ctx, shellJob(1)); err != nil {
		t.Fatal(err)
	}
	select {
	case evs := <-events:
		if evs.Err != nil || len(evs.Events) != 1 || evs.Events[0].Type != "JobRegistered" || evs.Events[0].Key != "echo" {
			t.Fatalf("events = %+v", evs)
		}
		job, err := evs.Events[0].Job()
		if err != nil || *job.ID != "echo" {
			t.Fatalf("payload: %v %v", job, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	// Heartbeats are "{}" lines (nomad/api drops them; read raw).
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/event/stream?topic=Node", nil)
	req.Header.Set("X-Nomad-Token", "s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	resp.Body.Close()
	if err != nil || line != "{}\n" {
		t.Fatalf("heartbeat %q, %v", line, err)
	}
	nodes, _, err := c.API().Nodes().List(nil)
	if err != nil || len(nodes) != 1 || nodes[0].Status != "ready" || nodes[0].Drivers["raw_exec"] == nil {
		t.Fatalf("nodes = %+v %v", nodes, err)
	}
	srv.Close()
}

// TestRestartPolicy: a task that fails while its allocation should run is
// restarted after the policy's delay, up to its attempts; then the
// allocation fails.
func TestRestartPolicy(t *testing.T) {
	_, c := newFake(t)
	ctx := context.Background()
	j := shellJob(2)
	// Slot 0 fails on its first run only; slot 1 always fails.
	j.TaskGroups[0].Tasks[0].Config["args"] = []string{"-c",
		`if [ "$NOMAD_ALLOC_INDEX" = 0 ] && [ -f "$NOMAD_TASK_DIR/ran" ]; then while true; do sleep 0.05; done; fi; touch "$NOMAD_TASK_DIR/ran"; exit 3`}
	j.TaskGroups[0].RestartPolicy = &api.RestartPolicy{Attempts: new(2), Delay: new(10 * time.Millisecond), Interval: new(time.Minute), Mode: new("fail")}
	if _, err := c.Apply(ctx, j); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		st, err := c.Status(ctx, "echo")
		if err != nil {
			return err
		}
		s0, s1 := st.Allocs[0].TaskStates["sh"], st.Allocs[1].TaskStates["sh"]
		if st.Allocs[0].ClientStatus != "running" || s0.Restarts != 1 || s0.State != "running" {
			return fmt.Errorf("slot 0: %s, %d restarts", st.Allocs[0].ClientStatus, s0.Restarts)
		}
		if st.Allocs[1].ClientStatus != "failed" || s1.Restarts != 2 || !s1.Failed {
			return fmt.Errorf("slot 1: %s, %d restarts", st.Allocs[1].ClientStatus, s1.Restarts)
		}
		return nil
	})
}
