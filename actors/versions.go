package actors

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stichdev/stich/cluster"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/textdiff"
)

// Storage keys of versions: "ver/<10-digit number>" records and
// content-addressed "blob/<sha256>" file contents shared by all versions.
const (
	prefixVersion = "ver/"
	prefixBlob    = "blob/"
	// maxDiffBytes caps one file's diff in DiffVersions.
	maxDiffBytes = 256 << 10
	// rollbackChunk is the chunk size of files re-streamed by a rollback.
	rollbackChunk = 16 << 10
)

func versionKey(n uint32) string { return fmt.Sprintf("%s%010d", prefixVersion, n) }

func versionProto(r *actorsv1.VersionRecord) *stichv1.Version {
	return &stichv1.Version{Number: r.GetNumber(), CreatedAt: r.GetCreatedAt(), Reason: r.GetReason(),
		Files: uint32(len(r.GetFiles())), Bytes: r.GetBytes()}
}

func (g *sessionGrain) loadVersion(n uint32) (*actorsv1.VersionRecord, error) {
	b, err := g.ref.Store.Get(versionKey(n))
	if errors.Is(err, cluster.ErrNotFound) {
		return nil, &Error{Code: actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND,
			Message: fmt.Sprintf("session %s has no version %d (it has %d)", g.st.Id, n, g.st.Versions)}
	}
	if err != nil {
		return nil, err
	}
	r := &actorsv1.VersionRecord{}
	if err := proto.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("actors: version %d: %w", n, err)
	}
	return r, nil
}

func (g *sessionGrain) blob(sha string) (string, error) {
	b, err := g.ref.Store.Get(prefixBlob + sha)
	if err != nil {
		return "", fmt.Errorf("actors: blob %s: %w", sha, err)
	}
	return string(b), nil
}

// newVersion records the app's files (st.Files) as the next version, within
// the batch that completes the work; pending holds contents that batch
// writes (not yet in storage). It returns the event announcing it.
func (g *sessionGrain) newVersion(st *actorsv1.SessionState, reason string, pending map[string][]byte) (*stichv1.SessionEvent, func(*cluster.Batch), error) {
	prev := map[string]bool{}
	if st.Versions > 0 {
		r, err := g.loadVersion(st.Versions)
		if err != nil {
			return nil, nil, err
		}
		for _, sha := range r.GetFiles() {
			prev[sha] = true
		}
	}
	rec := &actorsv1.VersionRecord{Number: st.Versions + 1, CreatedAt: timestamppb.New(g.rt.cfg.Now()), Reason: reason, Files: map[string]string{}}
	blobs := map[string][]byte{}
	for p, info := range st.Files {
		rec.Files[p] = info.GetSha256()
		rec.Bytes += info.GetSize()
		if prev[info.GetSha256()] {
			continue // stored by an earlier version
		}
		content, ok := pending[p]
		var err error
		if !ok {
			content, err = g.ref.Store.Get(prefixFile + p)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("actors: read %q for version %d: %w", p, rec.Number, err)
		}
		blobs[info.GetSha256()] = content
	}
	data, err := proto.Marshal(rec)
	if err != nil {
		return nil, nil, err
	}
	st.Versions = rec.Number
	ev := &stichv1.SessionEvent{Event: &stichv1.SessionEvent_VersionCreated{VersionCreated: &stichv1.VersionCreated{Version: versionProto(rec)}}}
	return ev, func(b *cluster.Batch) {
		for sha, content := range blobs {
			b.Put(prefixBlob+sha, content)
		}
		b.Put(versionKey(rec.Number), data)
	}, nil
}

func (g *sessionGrain) respondErr(ctx actor.Context, err error) {
	var ae *Error
	if errors.As(err, &ae) {
		ctx.Respond(&actorsv1.GrainError{Code: ae.Code, Message: ae.Message})
		return
	}
	ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_INTERNAL, "%v", err))
}

func (g *sessionGrain) onListVersions(ctx actor.Context) {
	reply := &actorsv1.ListVersionsReply{}
	err := g.ref.Store.List(prefixVersion, "", 0, func(_ string, v []byte) error {
		r := &actorsv1.VersionRecord{}
		if err := proto.Unmarshal(v, r); err != nil {
			return err
		}
		reply.Versions = append(reply.Versions, versionProto(r))
		return nil
	})
	if err != nil {
		g.respondErr(ctx, err)
		return
	}
	ctx.Respond(reply)
}

func (g *sessionGrain) onDiffVersions(ctx actor.Context, m *actorsv1.DiffVersions) {
	from, err := g.loadVersion(m.GetFrom())
	if err != nil {
		g.respondErr(ctx, err)
		return
	}
	to, err := g.loadVersion(m.GetTo())
	if err != nil {
		g.respondErr(ctx, err)
		return
	}
	paths := map[string]bool{}
	for p := range from.GetFiles() {
		paths[p] = true
	}
	for p := range to.GetFiles() {
		paths[p] = true
	}
	sorted := make([]string, 0, len(paths))
	for p := range paths {
		sorted = append(sorted, p)
	}
	sort.Strings(sorted)
	reply := &actorsv1.DiffVersionsReply{}
	for _, p := range sorted {
		a, inA := from.GetFiles()[p]
		b, inB := to.GetFiles()[p]
		if a == b {
			continue
		}
		var aText, bText string
		aName, bName := "a/"+p, "b/"+p
		change := "modified"
		if inA {
			if aText, err = g.blob(a); err != nil {
				g.respondErr(ctx, err)
				return
			}
		} else {
			aName, change = "/dev/null", "added"
		}
		if inB {
			if bText, err = g.blob(b); err != nil {
				g.respondErr(ctx, err)
				return
			}
		} else {
			bName, change = "/dev/null", "removed"
		}
		d := &stichv1.FileDiff{Path: p, Change: change, Unified: textdiff.Unified(aName, bName, aText, bText, 3)}
		if len(d.Unified) > maxDiffBytes {
			d.Unified, d.Truncated = strings.ToValidUTF8(d.Unified[:maxDiffBytes], ""), true
		}
		reply.Files = append(reply.Files, d)
	}
	ctx.Respond(reply)
}

// onRollback restores a version's files as a new version. Changed files
// are re-streamed as events (so a client rebuilding files from the log
// stays right) and written, removed files deleted, in one batch.
func (g *sessionGrain) onRollback(ctx actor.Context, m *actorsv1.RollbackSession) {
	if active(g.st.Phase) {
		ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION,
			"session %s is %s; stop it or wait for it to finish before rolling back", g.st.Id, strings.ToLower(strings.TrimPrefix(g.st.Phase.String(), "PHASE_"))))
		return
	}
	target, err := g.loadVersion(m.GetVersion())
	if err != nil {
		g.respondErr(ctx, err)
		return
	}
	st := proto.Clone(g.st).(*actorsv1.SessionState)
	var evs []*stichv1.SessionEvent
	writes := map[string][]byte{}
	var deletes []string
	paths := make([]string, 0, len(target.GetFiles()))
	for p := range target.GetFiles() {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		sha := target.GetFiles()[p]
		if cur, ok := st.Files[p]; ok && cur.GetSha256() == sha {
			continue
		}
		content, err := g.blob(sha)
		if err != nil {
			g.respondErr(ctx, err)
			return
		}
		evs = append(evs, fileEvents(p, fmt.Sprintf("restored from version %d", target.GetNumber()), content, sha)...)
		writes[p] = []byte(content)
		if st.Files == nil {
			st.Files = map[string]*stichv1.FileInfo{}
		}
		st.Files[p] = &stichv1.FileInfo{Path: p, Size: uint64(len(content)), Sha256: sha}
	}
	for p := range st.Files {
		if _, ok := target.GetFiles()[p]; !ok {
			deletes = append(deletes, p)
		}
	}
	sort.Strings(deletes)
	for _, p := range deletes {
		delete(st.Files, p)
		evs = append(evs, &stichv1.SessionEvent{Event: &stichv1.SessionEvent_FileDeleted{FileDeleted: &stichv1.FileDeleted{Path: p}}})
	}
	vev, vwrite, err := g.newVersion(st, fmt.Sprintf("rollback to version %d", target.GetNumber()), writes)
	if err != nil {
		g.respondErr(ctx, err)
		return
	}
	evs = append(evs, vev)
	err = g.commit(ctx, st, func(b *cluster.Batch) {
		for p, c := range writes {
			b.Put(prefixFile+p, c)
		}
		for _, p := range deletes {
			b.Delete(prefixFile + p)
		}
		vwrite(b)
	}, evs...)
	if err != nil {
		g.respondErr(ctx, err)
		return
	}
	g.st = st
	ctx.Respond(&actorsv1.RollbackReply{Version: vev.GetVersionCreated().GetVersion()})
	g.checkIdle(ctx)
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// fileEvents streams a whole file written at once (restored, edited,
// fixed) as generated files stream: started, chunks, done, so every
// watcher rebuilds its content the same way.
func fileEvents(p, purpose, content, sha string) []*stichv1.SessionEvent {
	evs := []*stichv1.SessionEvent{{Event: &stichv1.SessionEvent_FileStarted{FileStarted: &stichv1.FileStarted{Path: p, Purpose: purpose}}}}
	for rest := content; len(rest) > 0; {
		n := min(rollbackChunk, len(rest))
		for n < len(rest) && n > 1 && !utf8RuneStart(rest[n]) {
			n--
		}
		evs = append(evs, &stichv1.SessionEvent{Event: &stichv1.SessionEvent_FileChunk{FileChunk: &stichv1.FileChunk{Path: p, Data: rest[:n]}}})
		rest = rest[n:]
	}
	return append(evs, &stichv1.SessionEvent{Event: &stichv1.SessionEvent_FileDone{FileDone: &stichv1.FileDone{Path: p, Size: uint64(len(content)), Sha256: sha}}})
}
