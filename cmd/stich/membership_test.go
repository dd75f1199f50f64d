package main

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/stichdev/stich/internal/testutil"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
)

// serveMustFail runs stich serve with args, which must exit non-zero
// within a minute; it returns the process's stderr.
func serveMustFail(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args = append([]string{"serve", "--data", t.TempDir(), "--http", "127.0.0.1:0", "--sandbox", "off", "--preview-http", "off"}, args...)
	cmd := exec.CommandContext(ctx, stichBin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("stich serve %v did not exit within a minute; stderr:\n%s", args, stderr.String())
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
		t.Fatalf("stich serve %v: %v, want a non-zero exit; stderr:\n%s", args, err, stderr.String())
	}
	return stderr.String()
}

// lastLine is the one-line reason stich prints last.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestUnnamedNodesOnOneHostJoin starts two nodes on one host without
// --node-name: each generates its own name, keeps it in its data folder,
// and they form one cluster of two.
func TestUnnamedNodesOnOneHostJoin(t *testing.T) {
	dataA, dataB := t.TempDir(), t.TempDir()
	a := startNode(t, dataA, "--gossip-addr", "127.0.0.1:0")
	b := startNode(t, dataB, "--gossip-addr", "127.0.0.1:0", "--join", a.gossip)
	ma := &member{node: a, name: "a", admin: stichv1connect.NewAdminServiceClient(apiHTTP, a.url)}
	mb := &member{node: b, name: "b", admin: stichv1connect.NewAdminServiceClient(apiHTTP, b.url)}
	waitClusterSize(t, 2, ma, mb)
	var names []string
	for _, x := range []struct {
		m    *member
		data string
	}{{ma, dataA}, {mb, dataB}} {
		res, err := x.m.admin.GetClusterStatus(context.Background(), connect.NewRequest(&stichv1.GetClusterStatusRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		kept, err := os.ReadFile(filepath.Join(x.data, "node-name"))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(string(kept)); got != res.Msg.GetNode() {
			t.Fatalf("node calls itself %q, its data folder keeps %q", res.Msg.GetNode(), got)
		}
		names = append(names, res.Msg.GetNode())
	}
	host, _ := os.Hostname()
	if names[0] == names[1] || !strings.HasPrefix(names[0], host+"-") {
		t.Fatalf("generated names %q: want two different names starting with the host name %q", names, host)
	}
}

// TestJoinFailuresExit: a --join that reaches nobody, and a --join under
// a name a live member already has, both fail the start with a message
// saying which.
func TestJoinFailuresExit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	out := serveMustFail(t, "--gossip-addr", "127.0.0.1:0", "--join", dead)
	if l := lastLine(out); !strings.Contains(l, "no member answered at "+dead) {
		t.Fatalf("unreachable --join: last line %q, want it to say no member answered at %s", l, dead)
	}

	a := startNode(t, t.TempDir(), "--node-name", "twin", "--gossip-addr", "127.0.0.1:0")
	out = serveMustFail(t, "--node-name", "twin", "--gossip-addr", "127.0.0.1:0", "--join", a.gossip)
	if l := lastLine(out); !strings.Contains(l, `node name "twin" is taken by a live node at `+a.gossip) {
		t.Fatalf("name conflict: last line %q, want it to name the conflict with %s", l, a.gossip)
	}
	// The first twin is unharmed.
	admin := stichv1connect.NewAdminServiceClient(apiHTTP, a.url)
	if _, err := admin.GetClusterStatus(context.Background(), connect.NewRequest(&stichv1.GetClusterStatusRequest{})); err != nil {
		t.Fatalf("the first node after the conflict: %v", err)
	}
}

// clusterCerts makes a cluster CA, a certificate for each node and a
// gossip key with `stich cluster certs`, and returns the serve flags that
// give node its credentials.
func clusterCerts(t *testing.T, nodes ...string) func(node string) []string {
	t.Helper()
	dir := t.TempDir()
	if code, out, errOut := runCLI(t, "cluster", "certs", "--out", dir, "--node", strings.Join(nodes, ",")); code != 0 {
		t.Fatalf("stich cluster certs: exit %d\n%s%s", code, out, errOut)
	}
	return func(node string) []string {
		return []string{"--tls-ca", filepath.Join(dir, "ca.pem"), "--tls-cert", filepath.Join(dir, node+".pem"),
			"--tls-key", filepath.Join(dir, node+"-key.pem"), "--gossip-key-file", filepath.Join(dir, "gossip.key")}
	}
}

// TestServeMTLSCluster runs 3 `stich serve` nodes on mutual TLS made by
// `stich cluster certs`: they form a cluster, generate a session and serve
// its log identically from every node (the replication stream and actor
// remoting both ran on TLS). A node with certificates from another CA
// cannot join: it exits non-zero saying why, and the member it contacted
// logs that it refused it.
func TestServeMTLSCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	creds := clusterCerts(t, "n1", "n2", "n3")
	ms := make([]*member, 3)
	join := ""
	for i := range ms {
		name := []string{"n1", "n2", "n3"}[i]
		ms[i] = startMember(t, name, t.TempDir(), join, creds(name)...)
		join = ms[0].gossip
	}
	waitClusterSize(t, 3, ms...)
	res, err := ms[0].sessions.CreateSession(ctx, connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: "a reading list with title, author and read flag"}))
	if err != nil {
		t.Fatal(err)
	}
	id := res.Msg.GetSessionId()
	evs, err := watchAll(ctx, ms[1].sessions, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 || evs[len(evs)-1].GetCompleted() == nil {
		t.Fatalf("session %s did not complete: %d events", id, len(evs))
	}
	for _, m := range ms {
		got, err := readLog(ctx, m.sessions, id)
		if err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
		if len(got) != len(evs) {
			t.Fatalf("%s serves %d events, the watcher saw %d", m.name, len(got), len(evs))
		}
		for i := range got {
			if !proto.Equal(got[i], evs[i]) {
				t.Fatalf("%s: event %d differs", m.name, i+1)
			}
		}
	}

	// A stranger with its own CA and gossip key: gossip refuses it.
	foreign := clusterCerts(t, "x")("x")
	xArgs := []string{"--node-name", "x", "--gossip-addr", "127.0.0.1:0", "--join", ms[0].gossip}
	out := serveMustFail(t, append(xArgs, foreign...)...)
	if l := lastLine(out); !strings.Contains(l, "no installed keys could decrypt") {
		t.Fatalf("foreign node: last line %q, want gossip to refuse its key", l)
	}
	// With the cluster's gossip key but a foreign CA: the member refuses
	// its certificate, and it says so.
	foreign[len(foreign)-1] = creds("n1")[len(foreign)-1]
	out = serveMustFail(t, append(xArgs, foreign...)...)
	if l := lastLine(out); !strings.Contains(l, "join refused") || !strings.Contains(l, "certificate signed by unknown authority") {
		t.Fatalf("foreign CA: last line %q, want a join refused for its certificate", l)
	}
	testutil.WaitFor(t, 10*time.Second, func() error {
		if l := ms[0].logs(); !strings.Contains(l, "refused a member") || !strings.Contains(l, `"member":"x"`) {
			return errors.New("n1 has not logged refusing x")
		}
		return nil
	})
}

// TestClusterCertsFiles checks what `stich cluster certs` writes: private
// keys readable by their owner only, a second run that reuses the CA and
// gossip key, and a refusal to overwrite a node's files.
func TestClusterCertsFiles(t *testing.T) {
	dir := t.TempDir()
	if code, out, errOut := runCLI(t, "cluster", "certs", "--out", dir, "--node", "a"); code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	ca, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	gk, _ := os.ReadFile(filepath.Join(dir, "gossip.key"))
	if code, out, errOut := runCLI(t, "cluster", "certs", "--out", dir, "--node", "b"); code != 0 || !strings.Contains(out, "using the cluster CA") {
		t.Fatalf("second run: exit %d: %s%s", code, out, errOut)
	}
	ca2, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	gk2, _ := os.ReadFile(filepath.Join(dir, "gossip.key"))
	if len(ca) == 0 || string(ca) != string(ca2) || len(gk) == 0 || string(gk) != string(gk2) {
		t.Fatal("a second run replaced the CA or the gossip key")
	}
	for _, f := range []string{"ca-key.pem", "a-key.pem", "b-key.pem", "gossip.key"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("%s has mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	if code, _, errOut := runCLI(t, "cluster", "certs", "--out", dir, "--node", "a"); code == 0 || !strings.Contains(errOut, "exists already") {
		t.Fatalf("re-issuing a: exit %d, stderr %q; want a refusal to overwrite", code, errOut)
	}
	if code, _, errOut := runCLI(t, "cluster", "certs", "--out", dir, "--node", "../evil"); code != exitUsage {
		t.Fatalf("--node ../evil: exit %d, stderr %q; want a usage error", code, errOut)
	}
}

// TestServeTLSFlagErrors: plaintext off loopback, half the TLS flags, and
// unreadable credentials are usage errors that say what to do.
func TestServeTLSFlagErrors(t *testing.T) {
	creds := clusterCerts(t, "n1")("n1")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--gossip-addr", "0.0.0.0:0"}, "not a loopback address"},
		{[]string{"--tls-cert", creds[3]}, "give all of --tls-cert, --tls-key and --tls-ca, or none"},
		{[]string{"--tls-ca", creds[1], "--tls-cert", creds[1], "--tls-key", creds[5]}, "--tls-cert/--tls-key/--tls-ca"},
		{append([]string{"--gossip-addr", "0.0.0.0:0", "--actor-addr", "0.0.0.0:0"}, creds[:6]...), "gossip off loopback needs a key"},
	} {
		out := serveMustFail(t, tc.args...)
		if !strings.Contains(out, tc.want) {
			t.Errorf("stich serve %v: stderr %q, want it to say %q", tc.args, out, tc.want)
		}
	}
}
