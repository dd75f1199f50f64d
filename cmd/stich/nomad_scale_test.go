package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/hashicorp/nomad/api"
	"google.golang.org/protobuf/proto"

	"github.com/stichdev/stich/internal/testutil"
	"github.com/stichdev/stich/nomad"
	"github.com/stichdev/stich/nomad/nomadtest"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
)

// TestNomadScaleDownLosesNothing runs the rendered stich job in the Nomad
// fake, whose raw_exec tasks are real `stich serve` processes with Nomad's
// environment and the join template: the job is applied with two nodes
// (the second's join list, rendered from the stich-gossip service, names
// the first; a node whose join finds nobody listening yet is restarted by
// the job's restart policy) and scaled to three,
// sessions generate, and the job is scaled to two while they do. Nomad
// SIGTERMs slot 2, which hands its grains off and exits before the kill
// timeout; every session completes with a gap-free log that matches what
// its watcher received.
func TestNomadScaleDownLosesNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	srv, err := nomadtest.New(nomadtest.WithNodes(nomadtest.Node{Name: "client-1"}, nomadtest.Node{Name: "client-2"}, nomadtest.Node{Name: "client-3"}))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := nomad.NewClient(nomad.ClientConfig{Address: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	job, err := nomad.StichJob{
		Driver: "raw_exec", Command: stichBin, Count: 2, NoHostVolume: true,
		ExtraArgs: []string{"--gossip-profile", "local", "--sandbox", "off", "--log-format", "json",
			"--scaffold-chunk-delay", "40ms", "--create-limit", "0", "--message-limit", "0", "--build-limit", "0"},
	}.Job()
	if err != nil {
		t.Fatal(err)
	}
	job.TaskGroups[0].RestartPolicy.Delay = new(300 * time.Millisecond) // 5s in the rendered job
	if _, err := c.Apply(ctx, job); err != nil {
		t.Fatal(err)
	}
	nodes := func() map[string]string { // alloc name → API URL
		regs, _, err := c.API().Services().Get(nomad.ServiceStich, nil)
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]string{}
		for _, a := range srv.Allocs("stich") {
			names[a.ID] = a.Name
		}
		out := map[string]string{}
		for _, r := range regs {
			out[names[r.AllocID]] = fmt.Sprintf("http://%s:%d", r.Address, r.Port)
		}
		return out
	}
	clusterSize := func(url string) (int, error) {
		admin := stichv1connect.NewAdminServiceClient(apiHTTP, url)
		res, err := admin.GetClusterStatus(ctx, connect.NewRequest(&stichv1.GetClusterStatusRequest{}))
		if err != nil {
			return 0, err
		}
		n := 0
		for _, m := range res.Msg.GetMembers() {
			if m.GetHealthy() && !m.GetLeaving() {
				n++
			}
		}
		return n, nil
	}
	testutil.WaitFor(t, 60*time.Second, func() error {
		urls := nodes()
		for _, name := range []string{"stich.stich[0]", "stich.stich[1]"} {
			if n, err := clusterSize(urls[name]); err != nil || n != 2 {
				return fmt.Errorf("%s sees %d members (%v)", name, n, err)
			}
		}
		return nil
	})
	var restarts uint64
	for _, a := range srv.Allocs("stich") {
		restarts += a.TaskStates["stich"].Restarts
	}
	t.Logf("two nodes formed one cluster (%d restart(s) of a node whose join found nobody listening)", restarts)
	if err := c.Scale(ctx, "stich", "stich", 3, "test: scale up"); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 60*time.Second, func() error {
		urls := nodes()
		if len(urls) != 3 {
			return fmt.Errorf("%d nodes registered", len(urls))
		}
		for name, u := range urls {
			if n, err := clusterSize(u); err != nil || n != 3 {
				return fmt.Errorf("%s sees %d members (%v)", name, n, err)
			}
		}
		return nil
	})
	urls := nodes()
	sessions := stichv1connect.NewSessionServiceClient(apiHTTP, urls["stich.stich[0]"])

	// Sessions until slot 2 owns at least three, all generating.
	var ids []string
	ownedBy2 := 0
	for len(ids) < 30 && ownedBy2 < 3 {
		res, err := sessions.CreateSession(ctx, connect.NewRequest(&stichv1.CreateSessionRequest{
			Prompt: fmt.Sprintf("a tracker of things number %d with name, count and done", len(ids))}))
		if err != nil {
			t.Fatal(err)
		}
		id := res.Msg.GetSessionId()
		ids = append(ids, id)
		got, err := sessions.GetSession(ctx, connect.NewRequest(&stichv1.GetSessionRequest{SessionId: id}))
		if err != nil {
			t.Fatal(err)
		}
		if got.Msg.GetSession().GetNode() == "stich-2" {
			ownedBy2++
		}
	}
	if ownedBy2 == 0 {
		t.Fatalf("slot 2 owns none of %d sessions", len(ids))
	}
	var wg sync.WaitGroup
	results := make([][]*stichv1.SessionEvent, len(ids))
	errs := make([]error, len(ids))
	for i, id := range ids {
		wg.Go(func() { results[i], errs[i] = watchAll(ctx, sessions, id) })
	}

	// Scale down mid-generation.
	var slot2 *api.AllocationListStub
	for _, a := range srv.Allocs("stich") {
		if a.Name == "stich.stich[2]" && a.DesiredStatus == "run" {
			slot2 = a
		}
	}
	// The scale-down must land inside generations slot 2 runs.
	running := 0
	for _, id := range ids {
		got, err := sessions.GetSession(ctx, connect.NewRequest(&stichv1.GetSessionRequest{SessionId: id}))
		if err != nil {
			t.Fatal(err)
		}
		if s := got.Msg.GetSession(); s.GetNode() == "stich-2" && s.GetPhase() != stichv1.Phase_PHASE_COMPLETED {
			running++
		}
	}
	if running == 0 {
		t.Fatal("no session owned by slot 2 is still generating: the scale-down would test nothing")
	}
	scaled := time.Now()
	if err := c.Scale(ctx, "stich", "stich", 2, "test: scale down"); err != nil {
		t.Fatal(err)
	}
	var stopped *api.AllocationListStub
	testutil.WaitFor(t, 2*time.Minute, func() error {
		for _, a := range srv.Allocs("stich") {
			if a.ID == slot2.ID && a.ClientStatus == "complete" {
				stopped = a
				return nil
			}
		}
		return fmt.Errorf("slot 2 still running")
	})
	took := time.Since(scaled)
	st := stopped.TaskStates["stich"]
	last := st.Events[len(st.Events)-1]
	// NB: exit code 0 says it stopped by itself: the fake's SIGKILL at the
	// kill timeout would leave -1. (took also counts this test's polling,
	// so it is not compared with the kill timeout: on a loaded machine a
	// clean exit just before it was seen just after.)
	if last.Type != "Terminated" || last.ExitCode != 0 {
		t.Fatalf("slot 2 did not stop by itself on SIGTERM within the kill timeout (%s): %s exit %d, seen %s after the scale-down", *job.TaskGroups[0].Tasks[0].KillTimeout, last.Type, last.ExitCode, took)
	}
	t.Logf("slot 2 exited by itself, seen %s after the scale-down (kill timeout %s)", took.Round(time.Millisecond), *job.TaskGroups[0].Tasks[0].KillTimeout)
	// Its log (through the Nomad logs API) has the hand-off note.
	frames, ferrs := c.API().AllocFS().Logs(&api.Allocation{ID: stopped.ID, NodeID: stopped.NodeID}, false, "stich", "stderr", "start", 0, nil, nil)
	var logText strings.Builder
	for f := range frames {
		logText.Write(f.Data)
	}
	select {
	case err := <-ferrs:
		if err != nil {
			t.Fatal(err)
		}
	default:
	}
	var note string
	for _, line := range strings.Split(logText.String(), "\n") {
		if strings.Contains(line, "grains handed off") {
			note = line
		}
	}
	if note == "" || !strings.Contains(note, `"failed":0`) {
		t.Fatalf("slot 2's log has no clean hand-off note: %q", note)
	}
	t.Logf("slot 2 (owner of %d of %d sessions, %d generating) stopped %s after the scale-down; its note: %s", ownedBy2, len(ids), running, took.Round(time.Millisecond), note)

	wg.Wait()
	for i, id := range ids {
		if errs[i] != nil {
			t.Fatalf("watch %s: %v", id, errs[i])
		}
		evs := results[i]
		for j, ev := range evs {
			if ev.GetSeq() != uint64(j+1) {
				t.Fatalf("%s: event %d has seq %d (gap or duplicate)", id, j, ev.GetSeq())
			}
		}
		if len(evs) == 0 || evs[len(evs)-1].GetCompleted() == nil {
			t.Fatalf("%s did not complete", id)
		}
		log, err := watchAll(ctx, sessions, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(log) != len(evs) {
			t.Fatalf("%s: the final log has %d events, the watcher received %d", id, len(log), len(evs))
		}
		for j := range log {
			if !proto.Equal(log[j], evs[j]) {
				t.Fatalf("%s: event %d differs between the watcher and the final log", id, j+1)
			}
		}
	}
	// Two nodes remain, in one cluster.
	for name, u := range nodes() {
		if n, err := clusterSize(u); err != nil || n != 2 {
			t.Fatalf("%s sees %d members after the scale-down (%v)", name, n, err)
		}
	}
}
