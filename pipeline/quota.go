package pipeline

import (
	"errors"
	"fmt"

	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// ErrQuota reports a session past one of its quotas (see [Quota]).
var ErrQuota = errors.New("session quota reached")

// Quota bounds what one session may store. A zero field bounds nothing.
//
// A quota is checked before each change a user asks for (a message, a
// resume, a file save, a rollback): a session at or past one is refused
// with RESOURCE_EXHAUSTED and a message naming the quota. A generation
// that passes one while it runs fails with that message (its files so far
// are kept). A change that starts under a quota may end past it by one
// version or one step's events.
type Quota struct {
	// StoredBytes bounds the bytes of all the session's versions, each
	// version's files counted in full (the history a session keeps).
	StoredBytes uint64
	// Versions bounds the versions a session records.
	Versions uint32
	// LogEvents bounds the events in a session's log (events compaction
	// removed do not count: see [LogEvents]).
	LogEvents uint64
}

// check returns a description of the first quota s has reached (at
// reached) or passed ("" when none).
func (q Quota) check(st *actorsv1.SessionState, lastSeq uint64, reached bool) error {
	over := func(have, limit uint64) bool { return limit > 0 && (have > limit || reached && have >= limit) }
	const what = "start a new session (download this app and upload it there) or ask the operator to raise the quota"
	switch {
	case over(uint64(st.GetVersions()), uint64(q.Versions)):
		return fmt.Errorf("%w: session %s has %d versions; its versions quota is %d (stich serve --session-max-versions); %s",
			ErrQuota, st.GetId(), st.GetVersions(), q.Versions, what)
	case over(st.GetVersionBytes(), q.StoredBytes):
		return fmt.Errorf("%w: session %s stores %d bytes of versions; its stored-bytes quota is %d (stich serve --session-max-bytes); %s",
			ErrQuota, st.GetId(), st.GetVersionBytes(), q.StoredBytes, what)
	case over(LogEvents(st, lastSeq), q.LogEvents):
		return fmt.Errorf("%w: session %s's log has %d events; its log quota is %d events (stich serve --session-max-log-events); %s",
			ErrQuota, st.GetId(), LogEvents(st, lastSeq), q.LogEvents, what)
	}
	return nil
}

// LogEvents is the number of events in a session's log whose last event
// is lastSeq: what its log quota counts. Events compaction removed do not
// count (actors/compact.go).
func LogEvents(st *actorsv1.SessionState, lastSeq uint64) uint64 {
	return lastSeq - min(lastSeq, st.GetLogCompaction().GetRemoved())
}
