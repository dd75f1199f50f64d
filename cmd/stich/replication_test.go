package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// TestReplicatedSIGKILL runs 3 nodes with the default replication factor
// (3) and 20 sessions generating with the scaffold provider, SIGKILLs the
// node owning the most sessions at a random moment (per seed), and checks
// that every session completes on the survivors, that every event a
// watcher received is in the final log with the same seq and content, and
// that the log has no gaps or duplicates. With the first seed it then
// restarts the killed node with its data, and again with its data folder
// deleted: it rejoins and serves every session's final state.
func TestReplicatedSIGKILL(t *testing.T) {
	for i, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			replicatedKill(t, seed, i == 0, 800*time.Millisecond)
		})
	}
	// The same through a model (the fake OpenAI-compatible endpoint,
	// streaming slowly): the kill lands inside model streams, which the
	// sessions' new owners start again.
	t.Run("model/seed=4", func(t *testing.T) {
		srv := fakeModel(t, "cluster_slow.json")
		t.Setenv("OPENAI_API_KEY", "sk-llmtest-any")
		replicatedKill(t, 4, false, 3*time.Second, "--provider", "openai", "--base-url", srv.URL, "--model", "gpt-test")
		reqs := srv.Requests()
		if len(reqs) < 20*3 {
			t.Fatalf("the model served %d requests for 20 sessions", len(reqs))
		}
		for i, r := range reqs {
			if r.Response < 0 {
				t.Fatalf("model request %d matched no scripted answer: %.200q", i, r.Messages[len(r.Messages)-1].Content)
			}
		}
		t.Logf("the model served %d requests, %d streams abandoned by the killed node", len(reqs), srv.Disconnects())
	})
}

// replicatedKill runs 20 sessions on 3 nodes and SIGKILLs the node owning
// the most of them within killWindow of their creation (at a moment
// seeded by seed); with restart, the node then returns with its data and
// again with its data deleted. extra are stich serve flags.
func replicatedKill(t *testing.T, seed uint64, restart bool, killWindow time.Duration, extra ...string) {
	rng := rand.New(rand.NewPCG(seed, seed))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	n1 := startMember(t, "n1", t.TempDir(), "", extra...)
	n2 := startMember(t, "n2", t.TempDir(), n1.gossip, extra...)
	n3 := startMember(t, "n3", t.TempDir(), n1.gossip, extra...)
	members := map[string]*member{"n1": n1, "n2": n2, "n3": n3}
	waitClusterSize(t, 3, n1, n2, n3)

	nodes := []*member{n1, n2, n3}
	var ids []string
	for i := 0; i < 20; i++ {
		res, err := nodes[i%3].sessions.CreateSession(ctx, connect.NewRequest(&stichv1.CreateSessionRequest{
			Prompt: fmt.Sprintf("a tracker of things number %d with name, count and done", i)}))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Msg.GetSessionId())
	}
	created := time.Now()
	owned := map[string]int{}
	for _, id := range ids {
		res, err := n1.sessions.GetSession(ctx, connect.NewRequest(&stichv1.GetSessionRequest{SessionId: id}))
		if err != nil {
			t.Fatal(err)
		}
		owned[res.Msg.GetSession().GetNode()]++
	}
	victimName := "n1"
	for name, c := range owned {
		if c > owned[victimName] {
			victimName = name
		}
	}
	victim := members[victimName]
	var survivors []*member
	for _, m := range nodes {
		if m != victim {
			survivors = append(survivors, m)
		}
	}

	// Watch every session through a survivor.
	var wg sync.WaitGroup
	results := make([][]*stichv1.SessionEvent, len(ids))
	errs := make([]error, len(ids))
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = watchAll(ctx, survivors[i%2].sessions, id)
		}()
	}
	// SIGKILL the victim at a random moment of the generations.
	delay := time.Duration(rng.Int64N(int64(killWindow)))
	select {
	case <-time.After(time.Until(created.Add(delay))):
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-victim.done
	killed := time.Now()
	t.Logf("seed %d: SIGKILL %s (owner of %d of %d sessions) %s after creation", seed, victimName, owned[victimName], len(ids), delay)
	wg.Wait()
	t.Logf("seed %d: every watch ended %s after the kill", seed, time.Since(killed).Round(time.Millisecond))

	final := map[string]uint64{}
	resumed := 0
	for i, id := range ids {
		if errs[i] != nil {
			t.Fatalf("watch %s: %v", id, errs[i])
		}
		evs := results[i]
		for j, ev := range evs {
			if ev.GetSeq() != uint64(j+1) {
				t.Fatalf("%s: event %d has seq %d (gap or duplicate)", id, j, ev.GetSeq())
			}
			if ev.GetGenerationResumed() != nil {
				resumed++
			}
		}
		if len(evs) == 0 || evs[len(evs)-1].GetCompleted() == nil {
			t.Fatalf("%s did not complete after %s was killed", id, victimName)
		}
		// The final log, read anew, holds every event the watcher saw.
		log, err := watchAll(ctx, survivors[(i+1)%2].sessions, id)
		if err != nil {
			t.Fatalf("re-read %s: %v", id, err)
		}
		if len(log) != len(evs) {
			t.Fatalf("%s: the final log has %d events, the watcher received %d", id, len(log), len(evs))
		}
		for j := range log {
			if !proto.Equal(log[j], evs[j]) {
				t.Fatalf("%s: event seq %d differs between the watcher and the final log:\n%v\n%v", id, j+1, evs[j], log[j])
			}
		}
		final[id] = uint64(len(evs))
	}
	t.Logf("seed %d: %d sessions complete, %d resumed after the kill", seed, len(ids), resumed)
	if !restart {
		return
	}

	check := func(stage string, via *member) {
		t.Helper()
		for _, id := range ids {
			res, err := via.sessions.GetSession(ctx, connect.NewRequest(&stichv1.GetSessionRequest{SessionId: id}))
			if err != nil {
				t.Fatalf("%s: %s: %v", stage, id, err)
			}
			s := res.Msg.GetSession()
			if s.GetLastSeq() != final[id] || s.GetPhase() != stichv1.Phase_PHASE_COMPLETED {
				t.Fatalf("%s: %s: last seq %d (want %d), phase %v", stage, id, s.GetLastSeq(), final[id], s.GetPhase())
			}
		}
	}
	// The victim returns with its (stale) data.
	back := startMember(t, victimName, victim.data, survivors[0].gossip)
	waitClusterSize(t, 3, append(survivors, back)...)
	check("after restart with data", back)
	// Killed again, its data folder deleted: it comes back empty and is
	// refilled; no session moves back with stale (or no) state.
	if err := back.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-back.done
	waitClusterSize(t, 2, survivors...)
	if err := os.RemoveAll(victim.data); err != nil {
		t.Fatal(err)
	}
	wiped := startMember(t, victimName, victim.data, survivors[0].gossip)
	waitClusterSize(t, 3, append(survivors, wiped)...)
	check("after restart with a wiped disk", wiped)
	check("after restart with a wiped disk, via a survivor", survivors[1])
}
