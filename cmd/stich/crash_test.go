package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
)

var stichBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stich-bin-")
	if err != nil {
		panic(err)
	}
	stichBin = filepath.Join(dir, "stich")
	// Key files of test nodes go to a config folder of the test run (the
	// nodes and the CLI processes share it, as on one machine).
	os.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	out, err := exec.Command("go", "build", "-o", stichBin, ".").CombinedOutput()
	if err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// node is a `stich serve` process.
type node struct {
	cmd    *exec.Cmd
	url    string // the API, from the "stich is ready" log line
	gossip string // the gossip address, from the "node started" log line
	// previewBase is the preview server's origin with no app label
	// (http://preview.localhost:PORT; same log line as url).
	previewBase string
	done        chan error    // the process's exit, once
	exited      chan struct{} // closed when the process has exited

	logMu sync.Mutex
	log   strings.Builder // the process's stderr
}

// logs returns what the process has logged so far.
func (n *node) logs() string {
	n.logMu.Lock()
	defer n.logMu.Unlock()
	return n.log.String()
}

// startNode runs stich serve on data (with extra flags) and waits for its
// "ready" log line. The process is killed when the test ends. Builds are
// off unless extra turns them on ("--sandbox", "local": the last value of
// a flag wins).
func startNode(t *testing.T, data string, extra ...string) *node {
	t.Helper()
	return startNodeIn(t, "", data, extra...)
}

// startNodeIn is startNode inside network namespace netns ("" for the
// test's own).
func startNodeIn(t *testing.T, netns, data string, extra ...string) *node {
	t.Helper()
	n, err := spawnNode(netns, data, 2*time.Minute, extra...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.kill)
	return n
}

// kill stops the process (SIGKILL) unless it has exited, and waits for
// its exit. It leaves done to the test.
func (n *node) kill() {
	select {
	case <-n.exited:
		return
	default:
	}
	_ = n.cmd.Process.Kill()
	<-n.exited
}

// spawnNode runs stich serve and waits up to ready for its "ready" log
// line; on failure the process is gone and the error holds its last log
// lines. The caller kills the node.
func spawnNode(netns, data string, ready time.Duration, extra ...string) (*node, error) {
	args := append([]string{"serve", "--data", data, "--http", "127.0.0.1:0", "--log-format", "json",
		"--sandbox", "off", "--preview-http", "127.0.0.1:0"}, extra...)
	cmd := exec.Command(stichBin, args...)
	if netns != "" {
		cmd = exec.Command("ip", append([]string{"netns", "exec", netns, stichBin}, args...)...)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	n := &node{cmd: cmd, done: make(chan error, 1), exited: make(chan struct{})}
	readyc := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		var gossip string
		for sc.Scan() {
			n.logMu.Lock()
			n.log.Write(sc.Bytes())
			n.log.WriteByte('\n')
			n.logMu.Unlock()
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) != nil {
				continue
			}
			switch rec["msg"] {
			case "node started":
				gossip, _ = rec["gossip_addr"].(string)
			case "stich is ready":
				n.previewBase, _ = rec["preview_domain"].(string)
				readyc <- [2]string{rec["url"].(string), gossip}
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() {
		err := cmd.Wait()
		close(n.exited)
		n.done <- err
	}()
	select {
	case r := <-readyc:
		n.url, n.gossip = r[0], r[1]
		return n, nil
	case err := <-n.done:
		return nil, fmt.Errorf("stich serve exited: %v; last log lines:\n%s", err, tail(n.logs(), 5))
	case <-time.After(ready):
		n.kill()
		return nil, fmt.Errorf("stich serve did not become ready within %s; last log lines:\n%s", ready, tail(n.logs(), 5))
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func TestSIGKILLMidGenerationResumesGapFree(t *testing.T) {
	data := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	n1 := startNode(t, data, "--scaffold-chunk-delay", "10ms")
	c1 := stichv1connect.NewSessionServiceClient(apiHTTP, n1.url)
	res, err := c1.CreateSession(ctx, connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "a recipe tracker with ingredients and ratings"}))
	if err != nil {
		t.Fatal(err)
	}
	id := res.Msg.GetSessionId()
	stream, err := c1.Watch(ctx, connect.NewRequest(&stichv1.WatchRequest{SessionId: id}))
	if err != nil {
		t.Fatal(err)
	}
	var before []*stichv1.SessionEvent
	filesDone := 0
	for filesDone < 6 && stream.Receive() {
		ev := stream.Msg()
		before = append(before, ev)
		if ev.GetFileDone() != nil {
			filesDone++
		}
		if ev.GetCompleted() != nil {
			t.Fatal("generation completed before the kill; slow the scaffold down")
		}
	}
	if filesDone < 6 {
		t.Fatalf("stream ended early: %v", stream.Err())
	}
	if err := n1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-n1.done
	stream.Close()

	n2 := startNode(t, data)
	c2 := stichv1connect.NewSessionServiceClient(apiHTTP, n2.url)
	replay, err := c2.Watch(ctx, connect.NewRequest(&stichv1.WatchRequest{SessionId: id, AfterSeq: 0, UntilIdle: true}))
	if err != nil {
		t.Fatal(err)
	}
	var all []*stichv1.SessionEvent
	for replay.Receive() {
		all = append(all, replay.Msg())
	}
	if err := replay.Err(); err != nil {
		t.Fatal(err)
	}
	for i, ev := range all {
		if ev.GetSeq() != uint64(i+1) {
			t.Fatalf("event %d has seq %d: gap or duplicate", i, ev.GetSeq())
		}
	}
	if len(all) <= len(before) || all[len(all)-1].GetCompleted() == nil {
		t.Fatalf("log of %d events does not end in completed", len(all))
	}
	for i, ev := range before {
		if !proto.Equal(ev, all[i]) {
			t.Fatalf("event seq %d seen before the kill differs in the replay", ev.GetSeq())
		}
	}
	resumed := false
	for _, ev := range all[len(before):] {
		if ev.GetGenerationResumed() != nil {
			resumed = true
		}
	}
	if !resumed {
		t.Fatal("no generation_resumed event after the restart")
	}
	// Every file the log announced is stored, with the content the chunks carry.
	content := map[string]*strings.Builder{}
	for _, ev := range all {
		switch {
		case ev.GetFileStarted() != nil:
			content[ev.GetFileStarted().GetPath()] = &strings.Builder{}
		case ev.GetFileChunk() != nil:
			content[ev.GetFileChunk().GetPath()].WriteString(ev.GetFileChunk().GetData())
		}
	}
	for path, b := range content {
		f, err := c2.GetFile(ctx, connect.NewRequest(&stichv1.GetFileRequest{SessionId: id, Path: path}))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if f.Msg.GetFile().GetContent() != b.String() {
			t.Fatalf("%s: stored content differs from the streamed chunks", path)
		}
	}

	// A graceful stop exits 0.
	if err := n2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-n2.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(3 * time.Minute): // generous: a loaded machine; not a timing test
		t.Fatalf("no exit within 3 minutes of SIGTERM; last log lines:\n%s", tail(n2.logs(), 10))
	}
}
