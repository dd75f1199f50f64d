package pipeline

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stichdev/stich/codegen"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/textdiff"
)

// Versions. Each completed piece of work, each edit and each rollback
// records the app's files as the next version: a record (number, time,
// reason, path → sha256) that is never written again, and whose contents
// are content-addressed blobs shared by all versions.
const (
	// MaxDiffBytes caps one file's diff in [Diff].
	MaxDiffBytes = 256 << 10
	// fileChunk is the chunk size of files written at once (restored,
	// edited, fixed) when they are streamed as events.
	fileChunk = 16 << 10
)

// VersionProto is the public view of a version record.
func VersionProto(r *actorsv1.VersionRecord) *stichv1.Version {
	return &stichv1.Version{Number: r.GetNumber(), CreatedAt: r.GetCreatedAt(), Reason: r.GetReason(),
		Files: uint32(len(r.GetFiles())), Bytes: r.GetBytes()}
}

// newVersion makes the record of st's files as the next version (and
// counts it in st); contents holds the files the same batch writes. It
// returns the event announcing it and the effect that stores it.
func newVersion(st *actorsv1.SessionState, reason string, contents map[string][]byte, now *timestamppb.Timestamp) (*stichv1.SessionEvent, RecordVersion) {
	rec := &actorsv1.VersionRecord{Number: st.Versions + 1, CreatedAt: now, Reason: reason, Files: make(map[string]string, len(st.Files))}
	for p, info := range st.Files {
		rec.Files[p] = info.GetSha256()
		rec.Bytes += info.GetSize()
	}
	st.Versions = rec.Number
	st.VersionBytes += rec.Bytes
	ev := &stichv1.SessionEvent{Event: &stichv1.SessionEvent_VersionCreated{VersionCreated: &stichv1.VersionCreated{Version: VersionProto(rec)}}}
	return ev, RecordVersion{Record: rec, Contents: contents}
}

// FileEvents streams a whole file written at once (restored, edited,
// fixed) as generated files stream: started, chunks, done, so every
// watcher rebuilds its content the same way.
func FileEvents(p, purpose, content, sha string) []*stichv1.SessionEvent {
	evs := []*stichv1.SessionEvent{{Event: &stichv1.SessionEvent_FileStarted{FileStarted: &stichv1.FileStarted{Path: p, Purpose: purpose}}}}
	for _, c := range codegen.Chunks(content, fileChunk) {
		evs = append(evs, &stichv1.SessionEvent{Event: &stichv1.SessionEvent_FileChunk{FileChunk: &stichv1.FileChunk{Path: p, Data: c}}})
	}
	return append(evs, &stichv1.SessionEvent{Event: &stichv1.SessionEvent_FileDone{FileDone: &stichv1.FileDone{Path: p, Size: uint64(len(content)), Sha256: sha}}})
}

// Diff compares two versions file by file, reading contents with blob.
func Diff(from, to *actorsv1.VersionRecord, blob func(sha string) (string, error)) ([]*stichv1.FileDiff, error) {
	paths := map[string]bool{}
	for p := range from.GetFiles() {
		paths[p] = true
	}
	for p := range to.GetFiles() {
		paths[p] = true
	}
	var out []*stichv1.FileDiff
	for _, p := range sortedKeys(paths) {
		a, inA := from.GetFiles()[p]
		b, inB := to.GetFiles()[p]
		if a == b {
			continue
		}
		var aText, bText string
		var err error
		aName, bName := "a/"+p, "b/"+p
		change := "modified"
		if inA {
			if aText, err = blob(a); err != nil {
				return nil, err
			}
		} else {
			aName, change = "/dev/null", "added"
		}
		if inB {
			if bText, err = blob(b); err != nil {
				return nil, err
			}
		} else {
			bName, change = "/dev/null", "removed"
		}
		d := &stichv1.FileDiff{Path: p, Change: change, Unified: textdiff.Unified(aName, bName, aText, bText, 3)}
		if len(d.Unified) > MaxDiffBytes {
			d.Unified, d.Truncated = strings.ToValidUTF8(d.Unified[:MaxDiffBytes], ""), true
		}
		out = append(out, d)
	}
	return out, nil
}

// Files lists a version's files, sorted by path.
func Files(r *actorsv1.VersionRecord) []*stichv1.FileInfo {
	out := make([]*stichv1.FileInfo, 0, len(r.GetFiles()))
	for _, p := range sortedKeys(r.GetFiles()) {
		out = append(out, &stichv1.FileInfo{Path: p, Sha256: r.GetFiles()[p]})
	}
	return out
}

// CurrentFiles lists the session's files, sorted by path.
func CurrentFiles(st *actorsv1.SessionState) []*stichv1.FileInfo {
	out := make([]*stichv1.FileInfo, 0, len(st.Files))
	for _, p := range sortedKeys(st.Files) {
		out = append(out, st.Files[p])
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// VersionNotFound is the message of a missing version.
func VersionNotFound(st *actorsv1.SessionState, n uint32) string {
	return fmt.Sprintf("session %s has no version %d (it has %d)", st.GetId(), n, st.GetVersions())
}
