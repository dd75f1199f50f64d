package actors

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/stichdev/stich/pipeline"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// Log compaction (docs/replication.md, "Log compaction").
//
// A session's log keeps every streamed FileChunk event, which is most of
// its size and redundant once the file is stored in a version. Compaction
// removes the FileChunk events up to the newest VersionCreated event
// (SessionState.last_version_seq) and records what it removed in
// SessionState.log_compaction, in the same synced batch: a normal state
// change on the replicated write path, so every replica and a new owner
// hold the same compacted log. Nothing else is ever removed (user
// messages, FileStarted/FileDone, versions, phases, errors), and seqs are
// never reused or renumbered: the log just has gaps where chunks were.
//
// ReadLog after a seq before the last removed one sets
// ReadLogReply.compacted, and Watch sends it once as a LogCompacted event
// (seq 0) before the events; from at or after that seq, the answer is as
// it was before compaction.

// compactLog asks the session grain to do one bounded step of compaction.
type compactLog struct{}

// compactStepKeys bounds the log keys one compaction step reads (and so
// the deletes of one batch): other messages interleave between steps.
var compactStepKeys = 2048

// defaultCompactAfter is how long a session stays idle before its log is
// compacted, when Config.CompactLogAfter is 0.
const defaultCompactAfter = 2 * time.Minute

// compactPending reports whether the log holds chunks compaction may remove.
func compactPending(st *actorsv1.SessionState) bool {
	return st.GetLastVersionSeq() > st.GetLogCompaction().GetThroughSeq()
}

// nearLogQuota reports whether the log has reached 3/4 of its quota.
func (g *sessionGrain) nearLogQuota() bool {
	q := g.rt.cfg.Quota.LogEvents
	return q > 0 && pipeline.LogEvents(g.s.Session, g.s.LastSeq) >= q-q/4
}

// scheduleCompaction is called after each step and on activation: near
// the log quota it compacts at once; an idle session is compacted once it
// has stayed idle for Config.CompactLogAfter.
func (g *sessionGrain) scheduleCompaction(ctx actor.Context) {
	st := g.s.Session
	if ctx == nil || st == nil || !compactPending(st) {
		return
	}
	if g.nearLogQuota() {
		if !g.compacting {
			g.compacting = true
			ctx.Send(ctx.Self(), compactLog{})
		}
		return
	}
	if pipeline.Active(st.Phase) {
		g.stopCompactTimer()
		return
	}
	after := g.rt.cfg.CompactLogAfter
	if after < 0 || g.compactTimer != nil || g.compacting {
		return
	}
	if after == 0 {
		after = defaultCompactAfter
	}
	system, self := ctx.ActorSystem(), ctx.Self()
	g.compactTimer = time.AfterFunc(after, func() { system.Root.Send(self, compactLog{}) })
}

func (g *sessionGrain) stopCompactTimer() {
	if g.compactTimer != nil {
		g.compactTimer.Stop()
		g.compactTimer = nil
	}
}

// onCompact does one bounded compaction step and asks for the next one
// while chunks remain.
func (g *sessionGrain) onCompact(ctx actor.Context) {
	g.stopCompactTimer()
	g.compacting = false
	st := g.s.Session
	if g.loadErr != nil || st == nil || !compactPending(st) {
		return
	}
	if pipeline.Active(st.Phase) && !g.nearLogQuota() {
		return // the session went back to work: compacted when next idle
	}
	more, err := g.compactStep()
	if err != nil {
		g.compactFailed = true
		g.logWriteFailure("compact log", err)
		return
	}
	if more {
		g.compacting = true
		ctx.Send(ctx.Self(), compactLog{})
	}
}

// errStopScan ends a log scan early.
var errStopScan = errors.New("stop scan")

// compactStep removes the FileChunk events among the next compactStepKeys
// log keys up to the compaction point, and records it with the state in
// one batch. It reports whether more remains.
func (g *sessionGrain) compactStep() (bool, error) {
	st := g.s.Session
	rec := proto.Clone(st.GetLogCompaction()).(*actorsv1.LogCompaction)
	if rec == nil {
		rec = &actorsv1.LogCompaction{}
	}
	target := st.GetLastVersionSeq()
	after := ""
	if rec.ThroughSeq > 0 {
		after = logKey(rec.ThroughSeq)
	}
	var drop []uint64
	scanned, through := 0, rec.ThroughSeq
	err := g.ref.Store.List(prefixLog, after, compactStepKeys, func(key string, v []byte) error {
		seq, err := strconv.ParseUint(strings.TrimPrefix(key, prefixLog), 10, 64)
		if err != nil {
			return fmt.Errorf("actors: log key %q: %w", key, err)
		}
		if seq > target {
			return errStopScan
		}
		scanned++
		through = seq
		ev := &stichv1.SessionEvent{}
		if err := proto.Unmarshal(v, ev); err != nil {
			return fmt.Errorf("actors: log event %d: %w", seq, err)
		}
		if ev.GetFileChunk() != nil {
			drop = append(drop, seq)
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return false, err
	}
	if errors.Is(err, errStopScan) || scanned < compactStepKeys {
		through = target // nothing else is at or before the target
	}
	rec.ThroughSeq = through
	rec.Version = st.GetVersions()
	if len(drop) > 0 {
		if rec.FirstRemovedSeq == 0 {
			rec.FirstRemovedSeq = drop[0]
		}
		rec.LastRemovedSeq = drop[len(drop)-1]
		rec.Removed += uint64(len(drop))
	}
	next := proto.Clone(st).(*actorsv1.SessionState)
	next.LogCompaction = rec
	data, err := proto.Marshal(next)
	if err != nil {
		return false, fmt.Errorf("actors: encode state: %w", err)
	}
	b := g.ref.Store.NewBatch()
	defer b.Close()
	for _, seq := range drop {
		b.Delete(logKey(seq))
	}
	b.Put(keyState, data)
	if err := b.Commit(); err != nil {
		return false, err
	}
	g.s.Session = next
	if len(drop) > 0 {
		g.log().Debug("log compacted", "removed", len(drop), "through", through, "target", target)
	}
	return through < target, nil
}

// compactedSince is what a reader of the log after afterSeq is told was
// compacted away, or nil when nothing after afterSeq was.
func compactedSince(st *actorsv1.SessionState, afterSeq uint64) *stichv1.LogCompacted {
	rec := st.GetLogCompaction()
	if rec.GetRemoved() == 0 || afterSeq >= rec.GetLastRemovedSeq() {
		return nil
	}
	return &stichv1.LogCompacted{FromSeq: max(afterSeq+1, rec.GetFirstRemovedSeq()), ToSeq: rec.GetLastRemovedSeq(),
		Version: rec.GetVersion(), Removed: rec.GetRemoved()}
}
