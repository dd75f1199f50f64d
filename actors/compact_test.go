package actors

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/stichdev/stich/codegen"
	"github.com/stichdev/stich/internal/testutil"
	"github.com/stichdev/stich/pipeline"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// bigFake streams each file as 750 chunks: a session of 4 files logs
// thousands of chunk events. Each write differs (a refinement changes
// what it writes, and so records a version).
type bigFake struct {
	*fakeProvider
	writes *atomic.Int64
}

func newBigFake() bigFake { return bigFake{newFake(), new(atomic.Int64)} }

func (f bigFake) Implement(ctx context.Context, bp *stichv1.Blueprint, phase *stichv1.PhasePlan, files map[string]string, skip map[string]bool, emit codegen.Emitter) error {
	for _, fp := range phase.GetFiles() {
		if skip[fp.GetPath()] {
			continue
		}
		content := fmt.Sprintf("export const x%d = %q;\n", f.writes.Add(1), strings.Repeat(fp.GetPath(), 12000/len(fp.GetPath())))
		if err := codegen.StreamFile(ctx, emit, fp.GetPath(), fp.GetPurpose(), content, 16); err != nil {
			return err
		}
	}
	return nil
}

// logUsage counts the events of a session's log and their bytes (keys and
// values) as stored in Pebble.
func logUsage(t *testing.T, rt *Runtime, id string) (events, bytes int) {
	t.Helper()
	gs, err := rt.Node.Store().Grain(KindSession, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := gs.List(prefixLog, "", 0, func(k string, v []byte) error {
		events++
		bytes += len(k) + len(v)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return events, bytes
}

// readLogAll reads the log after afterSeq through ReadLog pages, as Watch
// does, returning the first page's compaction notice.
func readLogAll(t *testing.T, rt *Runtime, id string, afterSeq uint64) (*stichv1.LogCompacted, []*stichv1.SessionEvent) {
	t.Helper()
	var first *stichv1.LogCompacted
	var evs []*stichv1.SessionEvent
	for page := 0; ; page++ {
		r, err := Call[*actorsv1.ReadLogReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.ReadLog{AfterSeq: afterSeq, Limit: maxLogPage, Caller: NodeCaller()})
		if err != nil {
			t.Fatal(err)
		}
		if page == 0 {
			first = r.GetCompacted()
		}
		if len(r.GetEvents()) == 0 {
			return first, evs
		}
		evs = append(evs, r.GetEvents()...)
		afterSeq = r.GetEvents()[len(r.GetEvents())-1].GetSeq()
	}
}

// withoutChunksUpTo is evs without the FileChunk events at or before seq.
func withoutChunksUpTo(evs []*stichv1.SessionEvent, seq uint64) []*stichv1.SessionEvent {
	var out []*stichv1.SessionEvent
	for _, ev := range evs {
		if ev.GetFileChunk() != nil && ev.GetSeq() <= seq {
			continue
		}
		out = append(out, ev)
	}
	return out
}

func sameEvents(t *testing.T, what string, got, want []*stichv1.SessionEvent) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d events, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !proto.Equal(got[i], want[i]) {
			t.Fatalf("%s: event %d is %v, want %v", what, i, got[i], want[i])
		}
	}
}

// TestLogCompaction: a finished session with thousands of chunk events is
// compacted in bounded steps after it stays idle; its log and stored
// bytes shrink; watchers from 0, from inside the compacted range and from
// after it each get the documented answer; a refinement afterwards is
// compacted again; no user message is ever removed.
func TestLogCompaction(t *testing.T) {
	defer func(n int) { compactStepKeys = n }(compactStepKeys)
	compactStepKeys = 500 // several steps
	dir := t.TempDir()
	prov := newBigFake()

	// First run: no compaction on idle. The whole log, as before.
	rt := startRuntimeConfig(t, dir, prov, Config{CompactLogAfter: -1})
	id := create(t, rt, "a big app")
	watchAll(t, rt, id, 0)
	msgSeq := snapshot(t, rt, id).GetLastSeq()
	post, err := Call[*actorsv1.PostMessageReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.PostMessage{Text: "add a page", Caller: NodeCaller()})
	if err != nil {
		t.Fatal(err)
	}
	watchAll(t, rt, id, msgSeq)
	before := watchAll(t, rt, id, 0)
	checkContiguous(t, before, 0)
	chunks := 0
	var userMsg *stichv1.SessionEvent
	for _, ev := range before {
		if ev.GetFileChunk() != nil {
			chunks++
		}
		if m := ev.GetMessage(); m != nil && m.GetRole() == "user" && m.GetText() == "add a page" {
			userMsg = ev
		}
	}
	if chunks < 3000 {
		t.Fatalf("the session logged %d chunk events, want thousands", chunks)
	}
	if userMsg == nil || userMsg.GetSeq() != post.GetSeq() {
		t.Fatalf("user message at seq %d not in the log: %v", post.GetSeq(), userMsg)
	}
	evBefore, bytesBefore := logUsage(t, rt, id)
	if evBefore != len(before) {
		t.Fatalf("Pebble holds %d log events, Watch returned %d", evBefore, len(before))
	}
	if c, _ := readLogAll(t, rt, id, 0); c != nil {
		t.Fatalf("an uncompacted log reports compaction %v", c)
	}
	rt.Shutdown(context.Background())

	// Second run: the idle session is compacted soon after it is loaded.
	rt = startRuntimeConfig(t, dir, prov, Config{CompactLogAfter: time.Millisecond})
	last := snapshot(t, rt, id).GetLastSeq() // activates it
	if last != before[len(before)-1].GetSeq() {
		t.Fatalf("last seq %d after restart, want %d", last, before[len(before)-1].GetSeq())
	}
	var point uint64 // the last VersionCreated: the compaction point
	for _, ev := range before {
		if ev.GetVersionCreated() != nil {
			point = ev.GetSeq()
		}
	}
	var lastChunk, firstChunk uint64
	for _, ev := range before {
		if ev.GetFileChunk() != nil && ev.GetSeq() <= point {
			lastChunk = ev.GetSeq()
			if firstChunk == 0 {
				firstChunk = ev.GetSeq()
			}
		}
	}
	want := withoutChunksUpTo(before, point)
	testutil.WaitFor(t, 60*time.Second, func() error {
		if n, _ := logUsage(t, rt, id); n != len(want) {
			return fmt.Errorf("log holds %d events, want %d once compacted", n, len(want))
		}
		if c, _ := readLogAll(t, rt, id, 0); c.GetToSeq() != lastChunk {
			return fmt.Errorf("compaction reported up to %d, want %d", c.GetToSeq(), lastChunk)
		}
		return nil
	})
	evAfter, bytesAfter := logUsage(t, rt, id)
	t.Logf("session %s log: %d events, %d bytes in Pebble before compaction; %d events, %d bytes after", id, evBefore, bytesBefore, evAfter, bytesAfter)
	if bytesAfter*2 > bytesBefore {
		t.Fatalf("log bytes %d → %d: compaction should at least halve them", bytesBefore, bytesAfter)
	}
	if s := snapshot(t, rt, id); s.GetLastSeq() != last {
		t.Fatalf("compaction changed the last seq: %d, want %d", s.GetLastSeq(), last)
	}

	// From 0: the notice, then every event but the compacted chunks.
	all := watchAll(t, rt, id, 0)
	if c := all[0].GetLogCompacted(); all[0].GetSeq() != 0 || c == nil || c.GetFromSeq() != firstChunk || c.GetToSeq() != lastChunk ||
		c.GetVersion() != snapshot(t, rt, id).GetVersion() || c.GetRemoved() != uint64(len(before)-len(want)) {
		t.Fatalf("a watch from 0 starts with %v, want LogCompacted{%d..%d, version %d, removed %d}", all[0], firstChunk, lastChunk, snapshot(t, rt, id).GetVersion(), len(before)-len(want))
	}
	sameEvents(t, "watch from 0", all[1:], want)
	found := false
	for _, ev := range all {
		found = found || proto.Equal(ev, userMsg)
	}
	if !found {
		t.Fatalf("the user message at seq %d is not in a watch from 0", userMsg.GetSeq())
	}

	// From inside the compacted range: the notice from there on.
	inside := firstChunk + (lastChunk-firstChunk)/2
	evs := watchAll(t, rt, id, inside)
	if c := evs[0].GetLogCompacted(); c == nil || c.GetFromSeq() != inside+1 || c.GetToSeq() != lastChunk {
		t.Fatalf("a watch from %d starts with %v, want LogCompacted{%d..%d}", inside, evs[0], inside+1, lastChunk)
	}
	var wantInside []*stichv1.SessionEvent
	for _, ev := range want {
		if ev.GetSeq() > inside {
			wantInside = append(wantInside, ev)
		}
	}
	sameEvents(t, fmt.Sprintf("watch from %d", inside), evs[1:], wantInside)

	// From the last compacted chunk on: exactly as before compaction.
	for _, from := range []uint64{lastChunk, point, last - 1} {
		evs := watchAll(t, rt, id, from)
		sameEvents(t, fmt.Sprintf("watch from %d", from), evs, before[from:])
		checkContiguous(t, evs, from)
	}

	// The files the chunks streamed are in the version the notice names.
	files, err := Call[*actorsv1.ListFilesReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.ListFiles{Version: all[0].GetLogCompacted().GetVersion(), Caller: NodeCaller()})
	if err != nil || len(files.GetFiles()) == 0 {
		t.Fatalf("files of the compacted version: %v, %v", files, err)
	}

	// A refinement after compaction streams new chunks; once idle again
	// they are compacted too, and the seqs go on from the last one.
	msg2 := snapshot(t, rt, id).GetLastSeq()
	post2, err := Call[*actorsv1.PostMessageReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.PostMessage{Text: "and a footer", Caller: NodeCaller()})
	if err != nil {
		t.Fatal(err)
	}
	if post2.GetSeq() != msg2+1 {
		t.Fatalf("the next message got seq %d, want %d", post2.GetSeq(), msg2+1)
	}
	watchAll(t, rt, id, msg2)
	testutil.WaitFor(t, 60*time.Second, func() error {
		_, evs := readLogAll(t, rt, id, msg2)
		for _, ev := range evs {
			if ev.GetFileChunk() != nil {
				return fmt.Errorf("chunk at seq %d not compacted yet", ev.GetSeq())
			}
		}
		return nil
	})
	c, evs := readLogAll(t, rt, id, 0)
	if c.GetFromSeq() != firstChunk || c.GetToSeq() <= lastChunk {
		t.Fatalf("after the second compaction a read from 0 reports %v", c)
	}
	users := 0
	for _, ev := range evs {
		if m := ev.GetMessage(); m != nil && m.GetRole() == "user" {
			users++
			if ev.GetSeq() != post.GetSeq() && ev.GetSeq() != post2.GetSeq() {
				t.Fatalf("user message at seq %d, want %d or %d", ev.GetSeq(), post.GetSeq(), post2.GetSeq())
			}
		}
	}
	if users != 2 {
		t.Fatalf("%d user messages in the compacted log, want 2", users)
	}
}

// TestLogCompactionNearQuota: a session whose log nears its quota is
// compacted at once (no idle wait), so a refinement fits a quota the
// chunks of both pieces of work would pass.
func TestLogCompactionNearQuota(t *testing.T) {
	prov := newBigFake()
	// The generation logs ~3,050 events (3/4 of the quota and more), the
	// refinement ~760: together past the quota.
	rt := startRuntimeConfig(t, "", prov, Config{CompactLogAfter: -1, Quota: pipeline.Quota{LogEvents: 3500}})
	id := create(t, rt, "a big app")
	watchAll(t, rt, id, 0)
	gen := snapshot(t, rt, id)
	if gen.GetPhase() != stichv1.Phase_PHASE_COMPLETED || gen.GetLastSeq() < 3000 {
		t.Fatalf("generation: %v (%s) at seq %d", gen.GetPhase(), gen.GetError(), gen.GetLastSeq())
	}
	testutil.WaitFor(t, 60*time.Second, func() error {
		if n, _ := logUsage(t, rt, id); n > 100 {
			return fmt.Errorf("log holds %d events: not compacted yet", n)
		}
		return nil
	})
	if _, err := Call[*actorsv1.PostMessageReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.PostMessage{Text: "add a page", Caller: NodeCaller()}); err != nil {
		t.Fatal(err)
	}
	watchAll(t, rt, id, gen.GetLastSeq())
	s := snapshot(t, rt, id)
	if s.GetPhase() != stichv1.Phase_PHASE_COMPLETED || s.GetLastSeq() <= 3500 {
		t.Fatalf("refinement: %v (%s) at seq %d; want completed past seq 3500", s.GetPhase(), s.GetError(), s.GetLastSeq())
	}
}

// TestLogCompactionReplicated: compaction is a replicated write: every
// copy of a typical scaffold session's log is compacted alike, and after
// its owner leaves the new owner serves the same compacted log.
func TestLogCompactionReplicated(t *testing.T) {
	rts := startPeersWith(t, 3, 0, Config{CompactLogAfter: time.Millisecond})
	var id string
	for {
		id = rts[0].NewSessionID("")
		if o, _ := rts[0].Node.Owner(KindSession, id); o == "n1" {
			break
		}
	}
	if _, err := Call[*actorsv1.CreateSessionReply](ctxT(t), rts[0].Node, KindSession, id, &actorsv1.CreateSession{Caller: NodeCaller(), Prompt: "a recipe tracker with ingredients and ratings"}); err != nil {
		t.Fatal(err)
	}
	watchAll(t, rts[0], id, 0)
	var c *stichv1.LogCompacted
	var evs []*stichv1.SessionEvent
	testutil.WaitFor(t, 60*time.Second, func() error {
		var err error
		if c, evs, err = tryReadLog(t, rts[0], id); err != nil {
			return err
		}
		if c == nil {
			return fmt.Errorf("not compacted yet")
		}
		counts := map[int]bool{}
		for _, rt := range rts {
			n, _ := logUsage(t, rt, id)
			counts[n] = true
		}
		if len(counts) != 1 || !counts[len(evs)] {
			return fmt.Errorf("the three copies hold %v log events, the owner serves %d", counts, len(evs))
		}
		return nil
	})
	for _, ev := range evs {
		if ev.GetFileChunk() != nil && ev.GetSeq() <= c.GetToSeq() {
			t.Fatalf("chunk at seq %d inside the compacted range %v", ev.GetSeq(), c)
		}
	}
	// The owner leaves: the new owner serves the same compacted log.
	if err := rts[1].Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 60*time.Second, func() error {
		r, err := Call[*actorsv1.ReadLogReply](ctxT(t), rts[0].Node, KindSession, id, &actorsv1.ReadLog{Limit: 1, Caller: NodeCaller()})
		if err != nil {
			return err
		}
		if !proto.Equal(r.GetCompacted(), c) {
			return fmt.Errorf("the new owner reports compaction %v, want %v", r.GetCompacted(), c)
		}
		return nil
	})
	testutil.WaitFor(t, 60*time.Second, func() error {
		c2, evs2, err := tryReadLog(t, rts[2], id)
		if err != nil {
			return err
		}
		if !proto.Equal(c2, c) {
			return fmt.Errorf("after the move: compaction %v, want %v", c2, c)
		}
		if len(evs2) != len(evs) {
			return fmt.Errorf("after the move: %d events, want %d", len(evs2), len(evs))
		}
		for i := range evs2 {
			if !proto.Equal(evs2[i], evs[i]) {
				return fmt.Errorf("after the move: event %d is %v, want %v", i, evs2[i], evs[i])
			}
		}
		return nil
	})
}

// tryReadLog is readLogAll from 0 that returns errors (a session moving
// between owners answers some reads with one).
func tryReadLog(t *testing.T, rt *Runtime, id string) (*stichv1.LogCompacted, []*stichv1.SessionEvent, error) {
	var first *stichv1.LogCompacted
	var evs []*stichv1.SessionEvent
	var after uint64
	for page := 0; ; page++ {
		r, err := Call[*actorsv1.ReadLogReply](ctxT(t), rt.Node, KindSession, id, &actorsv1.ReadLog{AfterSeq: after, Limit: maxLogPage, Caller: NodeCaller()})
		if err != nil {
			return nil, nil, err
		}
		if page == 0 {
			first = r.GetCompacted()
		}
		if len(r.GetEvents()) == 0 {
			return first, evs, nil
		}
		evs = append(evs, r.GetEvents()...)
		after = r.GetEvents()[len(r.GetEvents())-1].GetSeq()
	}
}

// TestLogCompactionScaffoldSession measures a typical session: the
// scaffold provider's app (no model), compacted after it went idle. Its
// log keeps fewer events and under half the bytes.
func TestLogCompactionScaffoldSession(t *testing.T) {
	dir := t.TempDir()
	scaffold := codegen.Scaffold{}
	rt := startRuntimeConfig(t, dir, scaffold, Config{CompactLogAfter: -1})
	id := create(t, rt, "a recipe tracker with ingredients and ratings")
	before := watchAll(t, rt, id, 0)
	evBefore, bytesBefore := logUsage(t, rt, id)
	rt.Shutdown(context.Background())

	rt = startRuntimeConfig(t, dir, scaffold, Config{CompactLogAfter: time.Millisecond})
	snapshot(t, rt, id)
	testutil.WaitFor(t, 60*time.Second, func() error {
		if c, _ := readLogAll(t, rt, id, 0); c == nil {
			return fmt.Errorf("not compacted yet")
		}
		return nil
	})
	c, after := readLogAll(t, rt, id, 0)
	evAfter, bytesAfter := logUsage(t, rt, id)
	t.Logf("scaffold session %q: log of %d events (last seq %d), %d bytes in Pebble before compaction; %d events, %d bytes after (%d chunk events removed, seqs %d-%d)",
		"a recipe tracker with ingredients and ratings", evBefore, before[len(before)-1].GetSeq(), bytesBefore, evAfter, bytesAfter, c.GetRemoved(), c.GetFromSeq(), c.GetToSeq())
	if evAfter != len(after) || uint64(evBefore-evAfter) != c.GetRemoved() || bytesAfter*2 > bytesBefore {
		t.Fatalf("events %d → %d (removed %d, served %d), bytes %d → %d", evBefore, evAfter, c.GetRemoved(), len(after), bytesBefore, bytesAfter)
	}
}
