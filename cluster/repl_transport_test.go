package cluster

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	clusterv1 "github.com/stichdev/stich/proto/stich/cluster/v1"
)

// newTestFollower returns a replicator with a store of its own whose
// transport serves replicated writes on loopback, as a follower node's does.
func newTestFollower(t *testing.T, name string) *replicator {
	t.Helper()
	return newTestFollowerTimeout(t, name, replicaTimeout)
}

// newTestFollowerTimeout is newTestFollower with the transport's reply
// timeout set to timeout.
func newTestFollowerTimeout(t *testing.T, name string, timeout time.Duration) *replicator {
	t.Helper()
	s, err := OpenStore("", StoreOptions{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	n := &Node{cfg: Config{Name: name}, log: slog.New(slog.NewTextHandler(io.Discard, nil)), store: s}
	r := newReplicator(n, 3)
	n.repl = r
	if r.tr, err = listenRepl(r, "127.0.0.1:0", n.log); err != nil {
		t.Fatal(err)
	}
	r.tr.replyTimeout = timeout
	r.tr.start()
	t.Cleanup(func() {
		r.stop()
		s.Close()
	})
	return r
}

// grainWrite marshals a replicated write of grain id setting key "v" to
// lsn, on top of version lsn-1 of epoch 1.
func grainWrite(t *testing.T, s *Store, id string, lsn uint64) []byte {
	t.Helper()
	g, err := s.Grain("counter", id)
	if err != nil {
		t.Fatal(err)
	}
	b := g.NewBatch()
	defer b.Close()
	b.Put("v", []byte(strconv.FormatUint(lsn, 10)))
	prev := version{}
	if lsn > 1 {
		prev = version{1, lsn - 1}
	}
	m, err := proto.Marshal(&clusterv1.ReplicaWrite{Kind: "counter", Identity: id, Epoch: 1,
		Prev: prev.proto(), Next: version{1, lsn}.proto(), Repr: b.b.Repr()})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestReplStreamAppliesPipelinedWritesOfManyGrains sends many grains'
// writes at once over one stream, each grain's writes pipelined (sent
// before the previous one is answered), so the follower sees groups with
// several grains and several writes of one grain: every write must be
// applied, in order, with nothing torn or lost.
func TestReplStreamAppliesPipelinedWritesOfManyGrains(t *testing.T) {
	// NB: a reply timeout of a minute, not 5 s: the 9600 writes queue on
	// one stream, and on a loaded machine under -race the last ones could
	// wait longer than 5 s for their answers (this test is not about the
	// timeout).
	leader := newTestFollowerTimeout(t, "leader", time.Minute)
	follower := newTestFollower(t, "follower")
	const grains, perGrain = 64, 150
	results := make(chan replReply, grains*perGrain)
	var wg sync.WaitGroup
	for g := range grains {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("g%d", g)
			for lsn := uint64(1); lsn <= perGrain; lsn++ {
				leader.tr.send(follower.tr.addr(), grainWrite(t, leader.n.store, id, lsn), g*perGrain+int(lsn), results)
			}
		}()
	}
	wg.Wait()
	for range grains * perGrain {
		select {
		case res := <-results:
			if res.err != nil || !res.rep.GetOk() {
				t.Fatalf("write %d: %v, %v", res.idx, res.err, res.rep)
			}
		case <-time.After(2 * time.Minute):
			t.Fatal("writes not answered")
		}
	}
	st, _ := follower.n.ReplicationStats()
	if st.FollowerWrites != grains*perGrain || st.FollowerGroups == 0 || st.FollowerGroups >= st.FollowerWrites {
		t.Errorf("follower stats %+v: want %d writes in fewer commits", st, grains*perGrain)
	}
	for g := range grains {
		id := fmt.Sprintf("g%d", g)
		gs, _ := follower.n.store.Grain("counter", id)
		v, err := gs.Get("v")
		if err != nil || string(v) != strconv.Itoa(perGrain) {
			t.Fatalf("%s on the follower: %q, %v; want %d", id, v, err, perGrain)
		}
		rec, err := readRecord(follower.n.store.db, "counter", id)
		if err != nil || rec.v != (version{1, perGrain}) {
			t.Fatalf("%s: record %+v, %v", id, rec, err)
		}
	}
}

// TestServeWritesGroup checks one group's answers write by write: a write
// that skips a version is "behind", one from an older epoch is refused,
// one touching another grain's keys fails alone, and the others commit.
func TestServeWritesGroup(t *testing.T) {
	f := newTestFollower(t, "follower")
	decode := func(b []byte) *clusterv1.ReplicaWrite {
		m := &clusterv1.ReplicaWrite{}
		if err := proto.Unmarshal(b, m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	s := f.n.store
	foreign := decode(grainWrite(t, s, "b", 1))
	foreign.Identity = "c" // b's keys in c's write
	if err := s.writeRecord("counter", "old", replicaRecord{promised: 5}); err != nil {
		t.Fatal(err)
	}
	group := []*clusterv1.ReplicaWrite{
		decode(grainWrite(t, s, "a", 1)),
		decode(grainWrite(t, s, "a", 2)),   // on top of the previous one in the group
		decode(grainWrite(t, s, "d", 2)),   // d has nothing: behind
		foreign,                            // refused, alone
		decode(grainWrite(t, s, "old", 1)), // epoch 1 < promised 5
		decode(grainWrite(t, s, "a", 2)),   // a duplicate: already applied
	}
	replies := f.serveWrites(group)
	check := func(i int, ok, behind bool, promised uint64, failed bool) {
		t.Helper()
		r := replies[i]
		if r.GetOk() != ok || r.GetBehind() != behind || r.GetPromised() != promised || (r.GetError() != nil) != failed {
			t.Errorf("write %d: reply %v", i, r)
		}
	}
	check(0, true, false, 0, false)
	check(1, true, false, 0, false)
	check(2, false, true, 0, false)
	check(3, false, false, 0, true)
	check(4, false, false, 5, false)
	check(5, true, false, 0, false)
	ga, _ := s.Grain("counter", "a")
	if v, err := ga.Get("v"); err != nil || string(v) != "2" {
		t.Errorf("a = %q, %v; want 2", v, err)
	}
	for _, id := range []string{"c", "d", "old"} {
		if exists, _ := s.grainExists("counter", id); exists {
			t.Errorf("%s was written", id)
		}
	}
}

// TestReplStreamRefusesGarbage sends what no stich node sends: the
// follower drops that stream, stays up, and serves a real one after.
func TestReplStreamRefusesGarbage(t *testing.T) {
	f := newTestFollower(t, "follower")
	huge := binary.BigEndian.AppendUint32([]byte(replMagic), maxReplFrame+1)
	huge = binary.BigEndian.AppendUint64(append(huge, frameWrite), 1)
	badType := appendFrame([]byte(replMagic), frameWriteReply, 1, nil)
	badProto := appendFrame([]byte(replMagic), frameWrite, 1, []byte{0xff, 0xff, 0xff})
	for name, garbage := range map[string][]byte{
		"wrong preamble": []byte("GET / HTTP/1.1\r\n\r\n"),
		"oversized":      huge,
		"wrong type":     badType,
		"bad protobuf":   badProto,
	} {
		c, err := net.Dial("tcp", f.tr.addr())
		if err != nil {
			t.Fatal(err)
		}
		c.Write(garbage)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := c.Read(make([]byte, 64)); !errors.Is(err, io.EOF) {
			t.Errorf("%s: read %d bytes, %v; want the stream closed", name, n, err)
		}
		c.Close()
	}
	// A client that connects and says nothing is dropped after the reply
	// timeout.
	impatient := newTestFollowerTimeout(t, "impatient", 200*time.Millisecond)
	silent, err := net.Dial("tcp", impatient.tr.addr())
	if err != nil {
		t.Fatal(err)
	}
	silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := silent.Read(make([]byte, 64)); !errors.Is(err, io.EOF) {
		t.Errorf("silent client: read %d bytes, %v; want the stream closed", n, err)
	}
	silent.Close()
	leader := newTestFollower(t, "leader")
	results := make(chan replReply, 1)
	leader.tr.send(f.tr.addr(), grainWrite(t, leader.n.store, "a", 1), 0, results)
	if res := <-results; res.err != nil || !res.rep.GetOk() {
		t.Fatalf("a real write after garbage: %v, %v", res.err, res.rep)
	}
}

// TestReplStreamPeerStopsAnswering: a peer that accepts writes and never
// answers fails them after the reply timeout (not later, not never), and
// the next write dials a new stream.
func TestReplStreamPeerStopsAnswering(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go io.Copy(io.Discard, c) // reads, never answers
		}
	}()
	leader := newTestFollowerTimeout(t, "leader", 300*time.Millisecond)
	for round := 1; round <= 2; round++ {
		results := make(chan replReply, 2)
		start := time.Now()
		leader.tr.send(ln.Addr().String(), grainWrite(t, leader.n.store, "a", 1), 0, results)
		leader.tr.send(ln.Addr().String(), grainWrite(t, leader.n.store, "b", 1), 1, results)
		for range 2 {
			select {
			case res := <-results:
				if res.err == nil {
					t.Fatalf("round %d: write %d answered %v by a silent peer", round, res.idx, res.rep)
				}
			case <-time.After(2 * time.Minute):
				t.Fatalf("round %d: a write to a silent peer was never failed", round)
			}
		}
		if d := time.Since(start); d < 250*time.Millisecond {
			t.Errorf("round %d: failed after %s, before the reply timeout", round, d)
		}
		if st, _ := leader.n.ReplicationStats(); st.StreamFailures != uint64(round) {
			t.Errorf("round %d: %d stream failures counted", round, st.StreamFailures)
		}
		if got := accepted.Load(); got != int32(round) {
			t.Errorf("round %d: %d streams dialled", round, got)
		}
	}
}

// TestReplStreamFollowerGone: writes pending on a follower that goes away
// fail at once; with the listener gone, later writes fail fast too. "At
// once" is told by the error, not by a duration (a loaded machine can
// take seconds for anything): the leader's reply timeout is a minute, and
// a write that failed by it would say so.
func TestReplStreamFollowerGone(t *testing.T) {
	f := newTestFollower(t, "follower")
	leader := newTestFollowerTimeout(t, "leader", time.Minute)
	results := make(chan replReply, 1)
	leader.tr.send(f.tr.addr(), grainWrite(t, leader.n.store, "a", 1), 0, results)
	if res := <-results; res.err != nil || !res.rep.GetOk() {
		t.Fatalf("first write: %v, %v", res.err, res.rep)
	}
	addr := f.tr.addr()
	f.tr.close()
	for i := range 3 {
		leader.tr.send(addr, grainWrite(t, leader.n.store, "a", 2), i, results)
		select {
		case res := <-results:
			if res.err == nil {
				t.Fatalf("write %d to a closed follower answered %v", i, res.rep)
			}
			if errors.Is(res.err, os.ErrDeadlineExceeded) || errors.Is(res.err, context.DeadlineExceeded) {
				t.Errorf("write %d to a closed follower failed only at the reply timeout: %v", i, res.err)
			}
			t.Logf("write %d: %v", i, res.err)
		case <-time.After(2 * time.Minute):
			t.Fatalf("write %d to a closed follower hangs", i)
		}
	}
	// Once no live member has that address, its stream state goes.
	leader.tr.prune([]NodeMeta{{Name: "other", ReplAddr: "127.0.0.1:1"}})
	leader.tr.mu.Lock()
	left := len(leader.tr.peers)
	leader.tr.mu.Unlock()
	if left != 0 {
		t.Errorf("%d peers kept after prune", left)
	}
}

// TestReplConnKeepsFramesInOrderPastAFullSocket sends large frames from
// several goroutines to a reader that is slow at first, so the socket's
// buffer fills: a send's own write (writeNow) then takes part of a frame
// or none, and the stream's writer writes the rest. Every frame must
// arrive whole, once, in the order of its id.
func TestReplConnKeepsFramesInOrderPastAFullSocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const senders, perSender = 4, 6
	got := make(chan error, 1)
	go func() {
		got <- func() error {
			nc, err := ln.Accept()
			if err != nil {
				return err
			}
			defer nc.Close()
			_ = nc.SetDeadline(time.Now().Add(5 * time.Minute))
			br := bufio.NewReader(nc)
			var magic [len(replMagic)]byte
			if _, err := io.ReadFull(br, magic[:]); err != nil || string(magic[:]) != replMagic {
				return fmt.Errorf("preamble %q: %v", magic[:], err)
			}
			for want := uint64(1); want <= senders*perSender; want++ {
				if want < 8 {
					time.Sleep(20 * time.Millisecond) // the socket's buffer fills meanwhile
				}
				typ, id, payload, err := readFrame(br, nil)
				if err != nil {
					return fmt.Errorf("frame %d: %w", want, err)
				}
				if typ != frameWrite || id != want {
					return fmt.Errorf("frame of type %d and id %d, want id %d", typ, id, want)
				}
				if len(payload) < 1 || !bytes.Equal(payload, bytes.Repeat(payload[:1], len(payload))) {
					return fmt.Errorf("frame %d torn", id)
				}
			}
			return nil
		}()
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := &replConn{nc: nc, peer: "test", replyTimeout: 5 * time.Minute, failures: &atomic.Uint64{}, pending: map[uint64]pendingReply{}, out: []byte(replMagic), wake: make(chan struct{}, 1), done: make(chan struct{})}
	c.raw, _ = nc.(*net.TCPConn).SyscallConn()
	var writer sync.WaitGroup
	writer.Go(c.writeLoop)
	defer func() { c.close(errReplClosed); writer.Wait() }()
	results := make(chan replReply, senders*perSender)
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for i := range perSender {
				size := (256 << 10) + (s*perSender+i)*(32<<10)
				c.send(bytes.Repeat([]byte{byte(1 + s*perSender + i)}, size), i, results)
			}
		})
	}
	wg.Wait()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case r := <-results: // nothing answers: only a failed stream reports
		t.Fatalf("write %d failed: %v", r.idx, r.err)
	}
}
