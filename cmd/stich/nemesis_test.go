package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/stichdev/stich/internal/testutil"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
)

// nemesisSeeds are the schedules every run tries. STICH_NEMESIS_SEED=N
// runs seed N alone (to reproduce a failure); N,M,... runs those seeds.
var nemesisSeeds = []uint64{1, 2, 3, 4, 5}

// nemesisProfile is the nodes' --gossip-profile: local unless
// STICH_NEMESIS_PROFILE names another (lan: to count the LAN profile's
// false failure detections under this load; docs/replication.md).
func nemesisProfile() string {
	if p := os.Getenv("STICH_NEMESIS_PROFILE"); p != "" {
		return p
	}
	return "local"
}

// scheduleFor is how long faults are injected per seed.
const scheduleFor = 20 * time.Second

// TestNemesis runs 3 to 5 `stich serve` processes (R = 3, mutual TLS), each
// in its own network namespace, under a seeded random schedule of
// SIGKILLs, restarts, data-folder wipes, partitions (a node's link cut)
// and heals, while clients post messages to sessions through random nodes
// and watchers follow the sessions through any node. Afterwards, with
// every fault healed, it checks each session's log on every node:
//   - the logs are identical on every node, with seqs 1..N and no gap;
//   - every acknowledged message is in the log once, at the seq its
//     acknowledgement gave;
//   - every event a watcher received is in the log at its seq, unchanged.
//
// The seed is printed; a failure names it.
func TestNemesis(t *testing.T) {
	seeds := nemesisSeeds
	if env := os.Getenv("STICH_NEMESIS_SEED"); env != "" {
		seeds = nil
		for _, s := range strings.Split(env, ",") {
			n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
			if err != nil {
				t.Fatalf("STICH_NEMESIS_SEED=%q: want a number, or numbers separated by commas", env)
			}
			seeds = append(seeds, n)
		}
	}
	creds := clusterCerts(t, "n1", "n2", "n3", "n4", "n5")
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Logf("nemesis seed %d (reproduce: STICH_NEMESIS_SEED=%d go test -run 'TestNemesis' ./cmd/stich/)", seed, seed)
			runNemesis(t, seed, creds)
		})
	}
}

// nemesisNode is one node of the nemesis cluster, running or not.
type nemesisNode struct {
	i       int
	name    string
	data    string
	proc    *node // nil while down
	cut     bool  // its link is down
	wiped   bool  // its data folder was deleted while down
	http    *http.Client
	url     string
	session stichv1connect.SessionServiceClient
	admin   stichv1connect.AdminServiceClient
}

type nemesisCluster struct {
	t     *testing.T
	lab   *netLab
	nodes []*nemesisNode
	creds func(string) []string
	seed  uint64
	// faults are the spans during which a node was down or cut off, and
	// oldLogs the logs of processes that were killed: for counting false
	// failure detections (countDetections).
	faults  []faultSpan
	oldLogs []nodeLog
}

// faultSpan is a time a node was down or cut off (to is zero while it
// lasts).
type faultSpan struct {
	node     string
	from, to time.Time
}

// nodeLog is one process's log, by node name.
type nodeLog struct{ node, log string }

func (c *nemesisCluster) faultStarts(n *nemesisNode) {
	c.faults = append(c.faults, faultSpan{node: n.name, from: time.Now()})
}

func (c *nemesisCluster) faultEnds(n *nemesisNode) {
	for i := range c.faults {
		if c.faults[i].node == n.name && c.faults[i].to.IsZero() {
			c.faults[i].to = time.Now()
		}
	}
}

func (c *nemesisCluster) args(n *nemesisNode, join bool) []string {
	args := []string{"--node-name", n.name, "--http", c.lab.addr(n.i) + ":8080",
		"--gossip-addr", c.lab.addr(n.i) + ":7946", "--actor-addr", c.lab.addr(n.i) + ":0",
		"--gossip-profile", nemesisProfile(), "--scaffold-chunk-delay", "3ms", "--create-limit", "0", "--message-limit", "0", "--build-limit", "0", "--shutdown-grace", "5s",
		// Compact logs between messages: the checker must hold across it.
		"--session-compact-after", "500ms"}
	if join {
		var peers []string
		for _, o := range c.nodes {
			if o != n {
				peers = append(peers, c.lab.addr(o.i)+":7946")
			}
		}
		args = append(args, "--join", strings.Join(peers, ","))
	}
	return append(args, c.creds(n.name)...)
}

// start starts n; a node that cannot join (every peer down or cut off)
// exits, and start reports it.
func (c *nemesisCluster) start(n *nemesisNode, join bool) error {
	// NB: generous: a wiped node is ready once its peers refilled it, and
	// every node of the lab starts on a loaded machine.
	p, err := spawnNode(c.lab.ns(n.i), n.data, 90*time.Second, c.args(n, join)...)
	if err != nil {
		return err
	}
	n.proc, n.wiped = p, false
	if !n.cut {
		c.faultEnds(n)
	}
	return nil
}

func (c *nemesisCluster) kill(n *nemesisNode) {
	c.faultStarts(n)
	n.proc.kill()
	c.oldLogs = append(c.oldLogs, nodeLog{n.name, n.proc.logs()})
	n.proc = nil
}

// detectionGrace is how long after a fault of either node a failure
// detection between them counts as caused by it (detection, a restarted
// node's join, gossip of the failure).
const detectionGrace = 15 * time.Second

// countDetections counts the "member failed" records of every process's
// log, and those that are false: the observer and the member both up and
// connected, with no fault of either within detectionGrace before. It
// returns the false ones' descriptions.
func (c *nemesisCluster) countDetections() (total int, falseOnes []string) {
	logs := append([]nodeLog(nil), c.oldLogs...)
	for _, n := range c.nodes {
		if n.proc != nil {
			logs = append(logs, nodeLog{n.name, n.proc.logs()})
		}
	}
	faulty := func(node string, at time.Time) bool {
		for _, f := range c.faults {
			if f.node == node && f.from.Before(at) && (f.to.IsZero() || f.to.After(at.Add(-detectionGrace))) {
				return true
			}
		}
		return false
	}
	for _, l := range logs {
		for _, line := range strings.Split(l.log, "\n") {
			var rec struct {
				Msg, Member string
				Time        time.Time
			}
			if !strings.Contains(line, `"member failed"`) || json.Unmarshal([]byte(line), &rec) != nil || rec.Msg != "member failed" {
				continue
			}
			total++
			if !faulty(rec.Member, rec.Time) && !faulty(l.node, rec.Time) {
				falseOnes = append(falseOnes, fmt.Sprintf("%s marked %s failed at %s", l.node, rec.Member, rec.Time.Format("15:04:05.000")))
			}
		}
	}
	return total, falseOnes
}

func (c *nemesisCluster) faulty() int {
	f := 0
	for _, n := range c.nodes {
		if n.proc == nil || n.cut {
			f++
		}
	}
	return f
}

func (c *nemesisCluster) pick(rng *rand.Rand, ok func(*nemesisNode) bool) *nemesisNode {
	var cands []*nemesisNode
	for _, n := range c.nodes {
		if ok(n) {
			cands = append(cands, n)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	return cands[rng.IntN(len(cands))]
}

// step applies one random fault or repair and says what it did.
func (c *nemesisCluster) step(rng *rand.Rand) string {
	maxFaulty := (len(c.nodes) - 1) / 2
	down := c.pick(rng, func(n *nemesisNode) bool { return n.proc == nil && !n.cut })
	cut := c.pick(rng, func(n *nemesisNode) bool { return n.cut })
	if down != nil && rng.IntN(2) == 0 {
		what := "restart"
		if down.wiped {
			what = "restart (wiped)"
		}
		if err := c.start(down, true); err != nil {
			return fmt.Sprintf("%s %s failed: %v", what, down.name, firstLine(err.Error()))
		}
		return what + " " + down.name
	}
	if cut != nil && rng.IntN(2) == 0 {
		c.lab.heal(cut.i)
		cut.cut = false
		c.faultEnds(cut)
		return "heal " + cut.name
	}
	if c.faulty() >= maxFaulty {
		return "wait"
	}
	up := c.pick(rng, func(n *nemesisNode) bool { return n.proc != nil && !n.cut })
	if up == nil {
		return "wait"
	}
	switch rng.IntN(3) {
	case 0:
		c.kill(up)
		return "SIGKILL " + up.name
	case 1:
		c.kill(up)
		if err := os.RemoveAll(up.data); err != nil {
			c.t.Fatal(err)
		}
		up.wiped = true
		return "SIGKILL and wipe " + up.name
	default:
		c.faultStarts(up)
		c.lab.cut(up.i)
		up.cut = true
		return "partition " + up.name
	}
}

func firstLine(s string) string { return strings.SplitN(s, "\n", 2)[0] }

// acked is a message whose SendMessage was acknowledged.
type acked struct {
	seq  uint64
	text string
}

// ackedBy is the owner and epoch a write was acknowledged under.
type ackedBy struct {
	seq   uint64
	epoch uint64
	node  string
}

// sessionRecord is what the clients saw of one session.
type sessionRecord struct {
	mu      sync.Mutex
	acked   []acked
	by      []ackedBy
	watched map[uint64]*stichv1.SessionEvent
	// conflict is a watcher that saw one seq with two contents.
	conflict error
}

func runNemesis(t *testing.T, seed uint64, creds func(string) []string) {
	rng := rand.New(rand.NewPCG(seed, 0x6e656d65))
	// A bound for the whole run (the schedule itself lasts scheduleFor),
	// generous for a loaded machine: up to 5 nodes start one after the
	// other, faulted ones restart (a wiped one waits to be refilled), and
	// every session must settle.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	size := 3 + int(seed%3)
	lab := newNetLab(t, size)
	c := &nemesisCluster{t: t, lab: lab, creds: creds, seed: seed}
	for i := 1; i <= size; i++ {
		n := &nemesisNode{i: i, name: fmt.Sprintf("n%d", i), data: t.TempDir(), http: lab.client(i), url: "http://" + lab.addr(i) + ":8080"}
		n.session = stichv1connect.NewSessionServiceClient(n.http, n.url)
		n.admin = stichv1connect.NewAdminServiceClient(n.http, n.url)
		c.nodes = append(c.nodes, n)
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			if n.proc != nil {
				n.proc.kill()
			}
		}
	})
	for i, n := range c.nodes {
		// The first node starts the cluster; the others join it.
		if err := c.start(n, i > 0); err != nil {
			t.Fatalf("seed %d: start %s: %v", seed, n.name, err)
		}
	}
	c.waitHealthy(ctx)

	// Sessions, and their first generation done before the faults.
	const sessions = 3
	ids := make([]string, sessions)
	records := make([]*sessionRecord, sessions)
	for s := range ids {
		res, err := c.nodes[s%size].session.CreateSession(ctx, connect.NewRequest(&stichv1.CreateSessionRequest{
			Prompt: fmt.Sprintf("a list of things number %d with name and done", s)}))
		if err != nil {
			t.Fatal(err)
		}
		ids[s] = res.Msg.GetSessionId()
		records[s] = &sessionRecord{watched: map[uint64]*stichv1.SessionEvent{}}
	}

	// Clients and watchers, until the schedule ends.
	clientCtx, stopClients := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var eps []endpoint
	for _, n := range c.nodes {
		eps = append(eps, endpoint{url: n.url, client: n.session})
	}
	for s, id := range ids {
		rec := records[s]
		crng := rand.New(rand.NewPCG(seed, uint64(s)))
		wg.Add(2)
		go func() { // a client posting messages through random nodes
			defer wg.Done()
			for k := 0; clientCtx.Err() == nil; k++ {
				text := fmt.Sprintf("nemesis seed %d session %d message %d: add a field", seed, s, k)
				n := c.nodes[crng.IntN(size)]
				mctx, mcancel := context.WithTimeout(clientCtx, 5*time.Second)
				res, err := n.session.SendMessage(mctx, connect.NewRequest(&stichv1.SendMessageRequest{SessionId: id, Text: text}))
				mcancel()
				if err == nil {
					rec.mu.Lock()
					rec.acked = append(rec.acked, acked{seq: res.Msg.GetSeq(), text: text})
					rec.by = append(rec.by, ackedBy{seq: res.Msg.GetSeq(), epoch: res.Msg.GetEpoch(), node: res.Msg.GetNode()})
					rec.mu.Unlock()
				}
				select {
				case <-clientCtx.Done():
				case <-time.After(time.Duration(300+crng.IntN(900)) * time.Millisecond):
				}
			}
		}()
		go func() { // a watcher following the session through any node
			defer wg.Done()
			var after uint64
			for clientCtx.Err() == nil {
				_, _ = followAny(clientCtx, eps, id, after, 10*time.Second, func(ev *stichv1.SessionEvent) {
					if ev.GetLogCompacted() != nil {
						return // a notice (seq 0): the checker reads the final log's
					}
					rec.mu.Lock()
					defer rec.mu.Unlock()
					if old, ok := rec.watched[ev.GetSeq()]; ok && !proto.Equal(old, ev) && rec.conflict == nil {
						rec.conflict = fmt.Errorf("a watcher saw seq %d twice with different contents", ev.GetSeq())
					}
					rec.watched[ev.GetSeq()] = ev
					after = ev.GetSeq()
				})
				select {
				case <-clientCtx.Done():
				case <-time.After(200 * time.Millisecond):
				}
			}
		}()
	}

	// The schedule.
	var history []string
	scheduleEnd := time.Now().Add(scheduleFor)
	for time.Now().Before(scheduleEnd) {
		select {
		case <-ctx.Done():
			t.Fatalf("seed %d: %v; schedule so far: %s", seed, ctx.Err(), strings.Join(history, "; "))
		case <-time.After(time.Duration(1000+rng.IntN(2500)) * time.Millisecond):
		}
		history = append(history, fmt.Sprintf("%.1fs %s", (scheduleFor-time.Until(scheduleEnd)).Seconds(), c.step(rng)))
	}
	stopClients()
	wg.Wait()
	t.Logf("seed %d, %d nodes, schedule: %s", seed, size, strings.Join(history, "; "))

	// Heal everything and bring every node back.
	for _, n := range c.nodes {
		if n.cut {
			lab.heal(n.i)
			n.cut = false
			if n.proc != nil {
				c.faultEnds(n)
			}
		}
	}
	testutil.WaitFor(t, 4*time.Minute, func() error {
		for _, n := range c.nodes {
			if n.proc == nil {
				if err := c.start(n, true); err != nil {
					return fmt.Errorf("restart %s: %w", n.name, err)
				}
			}
		}
		return nil
	})
	c.waitHealthy(ctx)

	// Every session settles, then every node serves one log per session.
	for s, id := range ids {
		final := c.settledLog(ctx, id)
		checkNemesisLog(t, seed, id, final, records[s])
	}
	// Failure detection: every "member failed"
	// should follow a fault of one of the two nodes. A false one is
	// reported (docs/replication.md counts them) but not failed on: the
	// cluster must ride it out, and the checks above say it did.
	total, falseOnes := c.countDetections()
	t.Logf("seed %d, gossip profile %s: %d failure detections, %d false (a member up and connected, marked failed by one up and connected) %v", seed, nemesisProfile(), total, len(falseOnes), falseOnes)
	if len(falseOnes) > 0 {
		var spans []string
		for _, f := range c.faults {
			spans = append(spans, fmt.Sprintf("%s %s-%s", f.node, f.from.Format("15:04:05.000"), f.to.Format("15:04:05.000")))
		}
		t.Logf("seed %d: fault spans: %s", seed, strings.Join(spans, "; "))
	}
}

func (c *nemesisCluster) waitHealthy(ctx context.Context) {
	c.t.Helper()
	testutil.WaitFor(c.t, 90*time.Second, func() error {
		for _, n := range c.nodes {
			res, err := n.admin.GetClusterStatus(ctx, connect.NewRequest(&stichv1.GetClusterStatusRequest{}))
			if err != nil {
				return err
			}
			healthy := 0
			for _, m := range res.Msg.GetMembers() {
				if m.GetHealthy() && !m.GetLeaving() {
					healthy++
				}
			}
			if healthy != len(c.nodes) {
				return fmt.Errorf("%s sees %d healthy members, want %d", n.name, healthy, len(c.nodes))
			}
		}
		return nil
	})
}

// settledLog waits until session id is idle with the same last seq on
// every node twice in a row, then returns its log, the same on every node.
func (c *nemesisCluster) settledLog(ctx context.Context, id string) []*stichv1.SessionEvent {
	c.t.Helper()
	var final []*stichv1.SessionEvent
	var lastSeen uint64
	testutil.WaitFor(c.t, 90*time.Second, func() error {
		var seqs []uint64
		for _, n := range c.nodes {
			g, err := n.session.GetSession(ctx, connect.NewRequest(&stichv1.GetSessionRequest{SessionId: id}))
			if err != nil {
				return fmt.Errorf("%s: %w", n.name, err)
			}
			switch g.Msg.GetSession().GetPhase() {
			case stichv1.Phase_PHASE_COMPLETED, stichv1.Phase_PHASE_FAILED, stichv1.Phase_PHASE_STOPPED:
			default:
				return fmt.Errorf("%s: session %s is %v", n.name, id, g.Msg.GetSession().GetPhase())
			}
			seqs = append(seqs, g.Msg.GetSession().GetLastSeq())
		}
		for _, s := range seqs[1:] {
			if s != seqs[0] {
				return fmt.Errorf("session %s: last seqs %v differ between nodes", id, seqs)
			}
		}
		if seqs[0] != lastSeen {
			lastSeen = seqs[0]
			return fmt.Errorf("session %s still moving (last seq %d)", id, seqs[0])
		}
		var logs [][]*stichv1.SessionEvent
		for _, n := range c.nodes {
			l, err := readLog(ctx, n.session, id)
			if err != nil {
				return fmt.Errorf("%s: read log: %w", n.name, err)
			}
			logs = append(logs, l)
		}
		for i, l := range logs[1:] {
			if len(l) != len(logs[0]) {
				return fmt.Errorf("session %s: %s serves %d events, %s %d", id, c.nodes[i+1].name, len(l), c.nodes[0].name, len(logs[0]))
			}
			for j := range l {
				if !proto.Equal(l[j], logs[0][j]) {
					return fmt.Errorf("session %s: event seq %d differs between %s and %s", id, j+1, c.nodes[0].name, c.nodes[i+1].name)
				}
			}
		}
		final = logs[0]
		return nil
	})
	return final
}

// checkNemesisLog is the checker: the final log against what clients saw.
func checkNemesisLog(t *testing.T, seed uint64, id string, final []*stichv1.SessionEvent, rec *sessionRecord) {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	errs := nemesisViolations(final, rec)
	if len(errs) > 0 {
		if len(errs) > 10 {
			errs = append(errs[:10], fmt.Errorf("... and %d more", len(errs)-10))
		}
		t.Errorf("seed %d, session %s: %d events, %d acknowledged messages, %d watched events:\n%v\nreproduce: STICH_NEMESIS_SEED=%d go test -run 'TestNemesis' ./cmd/stich/",
			seed, id, len(final), len(rec.acked), len(rec.watched), errors.Join(errs...), seed)
		return
	}
	compaction := "not compacted"
	if len(final) > 0 && final[0].GetLogCompacted() != nil {
		c := final[0].GetLogCompacted()
		compaction = fmt.Sprintf("compacted: %d chunks removed in seqs %d-%d", c.GetRemoved(), c.GetFromSeq(), c.GetToSeq())
	}
	t.Logf("session %s: %d events (%s), %d acknowledged messages, %d watched events: all in the final log once, in order", id, len(final), compaction, len(rec.acked), len(rec.watched))
}

// nemesisViolations lists what in final contradicts what the clients saw.
// final may be compacted (docs/replication.md, "Log compaction"): it then
// starts with a LogCompacted notice (seq 0), and inside the range the
// notice names seqs may be missing, but only FileChunk events: a gap
// outside it, or a missing acknowledged message or watched event other
// than a chunk, is a violation.
func nemesisViolations(final []*stichv1.SessionEvent, rec *sessionRecord) []error {
	var errs []error
	if rec.conflict != nil {
		errs = append(errs, rec.conflict)
	}
	var from, to uint64 // the compacted range (to == 0: none)
	bySeq := map[uint64]*stichv1.SessionEvent{}
	var last uint64
	for _, ev := range final {
		if c := ev.GetLogCompacted(); c != nil {
			if ev.GetSeq() != 0 || c.GetFromSeq() == 0 || c.GetFromSeq() > c.GetToSeq() {
				errs = append(errs, fmt.Errorf("a malformed compaction notice %v", ev))
			}
			if from == 0 || c.GetFromSeq() < from {
				from = c.GetFromSeq()
			}
			to = max(to, c.GetToSeq())
			continue
		}
		seq := ev.GetSeq()
		if seq <= last {
			errs = append(errs, fmt.Errorf("seq %d follows seq %d (a duplicate or out of order)", seq, last))
			break
		}
		if seq != last+1 && (to == 0 || last+1 < from || seq-1 > to) {
			errs = append(errs, fmt.Errorf("seqs %d-%d are missing outside a compacted range (a gap)", last+1, seq-1))
			break
		}
		bySeq[seq] = ev
		last = seq
	}
	compacted := func(seq uint64) bool { return to > 0 && seq >= from && seq <= to }
	// No two nodes acknowledged writes to the session in one epoch.
	owners := map[uint64]ackedBy{}
	for _, b := range rec.by {
		if b.epoch == 0 {
			errs = append(errs, fmt.Errorf("the write at seq %d was acknowledged without an epoch (node %q)", b.seq, b.node))
			continue
		}
		if o, ok := owners[b.epoch]; ok && o.node != b.node {
			errs = append(errs, fmt.Errorf("epoch %d: %s acknowledged seq %d and %s seq %d", b.epoch, o.node, o.seq, b.node, b.seq))
			continue
		}
		owners[b.epoch] = b
	}
	texts := map[string]int{}
	for _, ev := range final {
		if m := ev.GetMessage(); m != nil && m.GetRole() == "user" {
			texts[m.GetText()]++
		}
	}
	for _, a := range rec.acked {
		ev, ok := bySeq[a.seq]
		switch {
		case a.seq == 0 || a.seq > last:
			errs = append(errs, fmt.Errorf("acknowledged message %q (seq %d) is past the log's end (%d): lost", a.text, a.seq, last))
		case !ok:
			// Never compacted away, even inside a compacted range.
			errs = append(errs, fmt.Errorf("acknowledged message %q (seq %d) is missing from the log: lost", a.text, a.seq))
		case ev.GetMessage().GetText() != a.text:
			errs = append(errs, fmt.Errorf("acknowledged message %q at seq %d: the log holds %v there", a.text, a.seq, ev.GetEvent()))
		}
		if n := texts[a.text]; n != 1 {
			errs = append(errs, fmt.Errorf("acknowledged message %q is in the log %d times", a.text, n))
		}
	}
	for seq, ev := range rec.watched {
		got, ok := bySeq[seq]
		switch {
		case seq == 0 || seq > last:
			errs = append(errs, fmt.Errorf("a watcher received seq %d, past the log's end (%d): a visible event was lost", seq, last))
		case !ok && compacted(seq) && ev.GetFileChunk() != nil:
			// A chunk compacted away after it was watched: allowed.
		case !ok:
			errs = append(errs, fmt.Errorf("a watcher received seq %d (%T), missing from the final log", seq, ev.GetEvent()))
		case !proto.Equal(ev, got):
			errs = append(errs, fmt.Errorf("a watcher received seq %d with other content than the final log's", seq))
		}
	}
	return errs
}

// TestNemesisChecker feeds the checker logs that break each rule.
func TestNemesisChecker(t *testing.T) {
	msg := func(seq uint64, text string) *stichv1.SessionEvent {
		return &stichv1.SessionEvent{Seq: seq, Event: &stichv1.SessionEvent_Message{Message: &stichv1.ChatMessage{Role: "user", Text: text}}}
	}
	chunk := func(seq uint64) *stichv1.SessionEvent {
		return &stichv1.SessionEvent{Seq: seq, Event: &stichv1.SessionEvent_FileChunk{FileChunk: &stichv1.FileChunk{Path: "a.ts", Data: "x"}}}
	}
	notice := func(from, to uint64) *stichv1.SessionEvent {
		return &stichv1.SessionEvent{Event: &stichv1.SessionEvent_LogCompacted{LogCompacted: &stichv1.LogCompacted{FromSeq: from, ToSeq: to, Version: 1, Removed: to - from + 1}}}
	}
	good := []*stichv1.SessionEvent{msg(1, "a"), msg(2, "b"), msg(3, "c")}
	rec := func(acks ...acked) *sessionRecord {
		return &sessionRecord{acked: acks, watched: map[uint64]*stichv1.SessionEvent{2: msg(2, "b")}}
	}
	if errs := nemesisViolations(good, rec(acked{1, "a"}, acked{3, "c"})); len(errs) != 0 {
		t.Fatalf("a consistent log: %v", errs)
	}
	// Epochs: n1 in epoch 4, then n2 in epoch 7 is consistent; n2 also in
	// epoch 4 is not, nor is an acknowledgement without an epoch.
	epochs := func(by ...ackedBy) *sessionRecord { r := rec(acked{1, "a"}, acked{3, "c"}); r.by = by; return r }
	if errs := nemesisViolations(good, epochs(ackedBy{1, 4, "n1"}, ackedBy{3, 7, "n2"})); len(errs) != 0 {
		t.Fatalf("consistent epochs: %v", errs)
	}
	for name, r := range map[string]*sessionRecord{
		"two owners in one epoch": epochs(ackedBy{1, 4, "n1"}, ackedBy{3, 4, "n2"}),
		"no epoch":                epochs(ackedBy{1, 0, "n1"}),
	} {
		if errs := nemesisViolations(good, r); len(errs) == 0 {
			t.Errorf("%s: no violation found", name)
		}
	}
	// A log whose chunks 4-5 were compacted after a watcher saw them; seq 6
	// is a message acknowledged in between.
	uncompacted := []*stichv1.SessionEvent{msg(1, "a"), msg(2, "b"), msg(3, "c"), chunk(4), chunk(5), msg(6, "d"), chunk(7)}
	compacted := []*stichv1.SessionEvent{notice(4, 5), msg(1, "a"), msg(2, "b"), msg(3, "c"), msg(6, "d"), chunk(7)}
	sawChunks := func(acks ...acked) *sessionRecord {
		r := rec(acks...)
		r.watched[4], r.watched[5], r.watched[7] = chunk(4), chunk(5), chunk(7)
		return r
	}
	for name, final := range map[string][]*stichv1.SessionEvent{"uncompacted": uncompacted, "compacted": compacted} {
		if errs := nemesisViolations(final, sawChunks(acked{1, "a"}, acked{6, "d"})); len(errs) != 0 {
			t.Fatalf("a consistent %s log: %v", name, errs)
		}
	}
	msgsOnly := func(r *sessionRecord) *sessionRecord {
		r.watched = map[uint64]*stichv1.SessionEvent{6: msg(6, "d")}
		return r
	}
	for name, tc := range map[string]struct {
		final []*stichv1.SessionEvent
		rec   *sessionRecord
	}{
		"lost ack":        {good[:2], rec(acked{3, "c"})},
		"moved ack":       {good, rec(acked{2, "c"})},
		"duplicated ack":  {append(good[:3:3], msg(4, "a")), rec(acked{1, "a"})},
		"gap":             {[]*stichv1.SessionEvent{msg(1, "a"), msg(3, "c")}, rec()},
		"watched lost":    {good[:1], rec()},
		"watched changed": {[]*stichv1.SessionEvent{msg(1, "a"), msg(2, "x"), msg(3, "c")}, rec()},
		// An acknowledged message is never compacted away.
		"ack compacted": {[]*stichv1.SessionEvent{notice(4, 6), msg(1, "a"), msg(2, "b"), msg(3, "c"), chunk(7)}, sawChunks(acked{6, "d"})},
		// A watched event other than a chunk is never compacted away.
		"watched message compacted": {[]*stichv1.SessionEvent{notice(4, 6), msg(1, "a"), msg(2, "b"), msg(3, "c"), chunk(7)}, msgsOnly(rec())},
		// A chunk outside the announced range is lost, not compacted.
		"chunk past the range":     {[]*stichv1.SessionEvent{notice(4, 5), msg(1, "a"), msg(2, "b"), msg(3, "c"), msg(6, "d")}, sawChunks()},
		"gap outside the range":    {[]*stichv1.SessionEvent{notice(4, 5), msg(1, "a"), msg(3, "c"), msg(6, "d"), chunk(7)}, rec()},
		"compacted without notice": {[]*stichv1.SessionEvent{msg(1, "a"), msg(2, "b"), msg(3, "c"), msg(6, "d"), chunk(7)}, rec()},
	} {
		if errs := nemesisViolations(tc.final, tc.rec); len(errs) == 0 {
			t.Errorf("%s: no violation found", name)
		}
	}
}
