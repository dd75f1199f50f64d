package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// cliRun is a stich client command running as its own process, its
// stdout read line by line.
type cliRun struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr strings.Builder
	// session is the id in generate's header line, once read.
	session string
	done    chan error
}

func startCLI(t *testing.T, ctx context.Context, args ...string) *cliRun {
	t.Helper()
	r := &cliRun{cmd: exec.CommandContext(ctx, stichBin, args...), lines: make(chan string, 4096), done: make(chan error, 1)}
	r.cmd.Stderr = &r.stderr
	out, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			r.lines <- sc.Text()
		}
		close(r.lines)
		r.done <- r.cmd.Wait()
	}()
	return r
}

// events reads the run's NDJSON events until it exits; after is called
// with the number of events read so far after each one.
func (r *cliRun) events(t *testing.T, after func(n int)) []*stichv1.SessionEvent {
	t.Helper()
	var evs []*stichv1.SessionEvent
	for line := range r.lines {
		var header struct {
			SessionID string `json:"session_id"`
			Seq       any    `json:"seq"`
		}
		if json.Unmarshal([]byte(line), &header) == nil && header.Seq == nil && header.SessionID != "" {
			r.session = header.SessionID // generate's header line
			continue
		}
		ev := &stichv1.SessionEvent{}
		if err := protojson.Unmarshal([]byte(line), ev); err != nil {
			t.Fatalf("not an event: %q: %v", line, err)
		}
		evs = append(evs, ev)
		after(len(evs))
	}
	if err := <-r.done; err != nil {
		t.Fatalf("%v: %v; stderr:\n%s", r.cmd.Args, err, r.stderr.String())
	}
	return evs
}

// checkOnceInOrder checks that got is exactly the session's final log
// after seq `after`: every event once, in order, no gaps, same content.
func checkOnceInOrder(t *testing.T, got, log []*stichv1.SessionEvent, after uint64) {
	t.Helper()
	want := log[after:]
	if len(got) != len(want) {
		t.Fatalf("the command printed %d events, the log has %d after seq %d", len(got), len(want), after)
	}
	for i, ev := range got {
		if ev.GetSeq() != after+uint64(i)+1 {
			t.Fatalf("event %d has seq %d, want %d (a gap or a duplicate)", i, ev.GetSeq(), after+uint64(i)+1)
		}
		if !proto.Equal(ev, want[i]) {
			t.Fatalf("event seq %d differs from the log's", ev.GetSeq())
		}
	}
	if got[len(got)-1].GetCompleted() == nil {
		t.Fatalf("the last event (seq %d) is not completed", got[len(got)-1].GetSeq())
	}
}

// TestCLIFailsOver runs 3 nodes (R = 3) and kills the node a client
// command is streaming from: `stich generate --server A,B` and `stich
// watch --server A,B` both finish through B, printing every event of the
// session exactly once.
func TestCLIFailsOver(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	extra := []string{"--scaffold-chunk-delay", "15ms"}
	n1 := startMember(t, "n1", t.TempDir(), "", extra...)
	n2 := startMember(t, "n2", t.TempDir(), n1.gossip, extra...)
	n3 := startMember(t, "n3", t.TempDir(), n1.gossip, extra...)
	n4 := startMember(t, "n4", t.TempDir(), n1.gossip, extra...)
	waitClusterSize(t, 4, n1, n2, n3, n4)
	waitRepaired(t, n1, n2, n3, n4)

	killAt := func(victim *member, at int) func(int) {
		return func(n int) {
			if n == at {
				if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Errorf("kill %s: %v", victim.name, err)
				}
			}
		}
	}

	t.Run("generate", func(t *testing.T) {
		run := startCLI(t, ctx, "generate", "--json", "--server", n1.url+","+n2.url, "a book shelf with title, author and rating")
		evs := run.events(t, killAt(n1, 8))
		if len(evs) == 0 {
			t.Fatal("no events")
		}
		log, err := readLog(ctx, n3.sessions, run.session)
		if err != nil {
			t.Fatal(err)
		}
		checkOnceInOrder(t, evs, log, 0)
		t.Logf("generate: %d events through n1 (killed after event 8) and n2", len(evs))
	})

	t.Run("watch", func(t *testing.T) {
		// n1 returns with its data first: with two of four nodes down, a
		// session whose three copies include both would have no majority.
		n1 = startMember(t, "n1", n1.data, n3.gossip, extra...)
		waitClusterSize(t, 4, n1, n2, n3, n4)
		waitRepaired(t, n1, n2, n3, n4)
		res, err := n3.sessions.CreateSession(ctx, connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "a plant watering log with plant, date and amount"}))
		if err != nil {
			t.Fatal(err)
		}
		id := res.Msg.GetSessionId()
		run := startCLI(t, ctx, "watch", "--json", "--server", n2.url, "--server", n3.url, id)
		evs := run.events(t, killAt(n2, 8))
		log, err := readLog(ctx, n4.sessions, id)
		if err != nil {
			t.Fatal(err)
		}
		checkOnceInOrder(t, evs, log, 0)
		t.Logf("watch: %d events through n2 (killed after event 8) and n3", len(evs))
	})
}

// TestCLIResumeMessage: a watch whose only server dies mid-stream and does
// not come back ends with the exact command that resumes it.
func TestCLIResumeMessage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n := startNode(t, t.TempDir(), "--scaffold-chunk-delay", "15ms", "--replication-factor", "1")
	m := &member{node: n, name: "solo", sessions: sessionClient(n.url)}
	res, err := m.sessions.CreateSession(ctx, connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "a chore chart with chore, person and day"}))
	if err != nil {
		t.Fatal(err)
	}
	id := res.Msg.GetSessionId()
	run := startCLI(t, ctx, "watch", "--json", "--reconnect-for", "2s", "--server", n.url, id)
	var last uint64
	killed := false
	for line := range run.lines {
		var ev struct {
			Seq string `json:"seq"`
		}
		if json.Unmarshal([]byte(line), &ev) == nil {
			fmt.Sscan(ev.Seq, &last)
		}
		// NB: once: a second signal to the exited process is an error.
		if last == 5 && !killed {
			killed = true
			if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
	}
	err = <-run.done
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("watch after its only server died: %v, want exit 1; stderr:\n%s", err, run.stderr.String())
	}
	want := fmt.Sprintf("resume with: stich watch --server %s --after-seq %d %s", n.url, last, id)
	if !strings.Contains(run.stderr.String(), want) {
		t.Fatalf("stderr:\n%s\nwant it to say %q", run.stderr.String(), want)
	}
}
