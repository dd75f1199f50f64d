// Package audit holds the rules of stich's security audit log: the event
// kinds, how events are appended to a bounded log (merging repeats), and
// how a log is paged and filtered. It is pure (no I/O, no clock, no
// goroutines): the audit grain in package actors drives it, and keeps one
// log per user and one for the whole cluster.
//
// Rules:
//
//  1. A log keeps its last [UserLogMax] (per user) or [ClusterLogMax]
//     (cluster-wide) events; older ones are dropped. Nothing else expires
//     them.
//  2. A refusal (see [Mergeable]) identical to one of the last [mergeScan]
//     events (same kind, user, e-mail, actor, client, method and detail)
//     within [MergeWindow] of it replaces that one with the counts added
//     (and the newer time and a new seq), so a flood of refusals from one
//     client takes one line, not the whole log.
//  3. Events are numbered by seq, 1, 2, ... in append order; a page lists
//     events newest first, below a seq cursor.
//  4. An event never holds a secret: keys are named by their public id.
//
// It imports only the generated protobuf types.
package audit

import (
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// Event is one security event (see [actorsv1.AuditEvent]).
type Event = actorsv1.AuditEvent

// Event kinds.
const (
	SignIn             = "sign_in"             // a browser session started (method: password, oauth:P, sign-in link)
	SignInFailed       = "sign_in_failed"      // wrong password, unverified or disabled account, refused OAuth sign-in
	SignOut            = "sign_out"            // a browser signed out
	SignOutEverywhere  = "sign_out_everywhere" // every browser session ended
	CredentialsRefused = "credentials_refused" // a malformed, unknown, tampered, revoked or expired key or session
	CSRFRefused        = "csrf_refused"        // a cookie call without the right CSRF token
	KeyCreated         = "key_created"         // an API key was made
	KeyRevoked         = "key_revoked"         // an API key or browser session was revoked
	RoleChanged        = "role_changed"        // an admin changed a role
	AccountDisabled    = "account_disabled"    // an admin disabled an account
	AccountEnabled     = "account_enabled"     // an admin enabled it again
	ResetRequested     = "reset_requested"     // a password reset link was sent
	PasswordReset      = "password_reset"      // the password was reset (every browser session ended)
	EmailVerified      = "email_verified"      // the e-mail was verified
	SignUp             = "sign_up"             // an account was made
	InviteCreated      = "invite_created"      // an admin made a sign-up invite
	AdminDenied        = "admin_denied"        // a user called an admin procedure
	VisibilityChanged  = "visibility_changed"  // an app became private, unlisted or public
	AppDeleted         = "app_deleted"         // an app (session) was deleted
	RateLimited        = "rate_limited"        // sign-in attempts, e-mails or a user's requests over their limit
	ModelKeySet        = "model_key_set"       // a user stored their own model key
	ModelKeyCleared    = "model_key_cleared"   // a user removed their own model key
	PreviewTicket      = "preview_ticket"      // a user got a preview ticket for an app they do not own
	PreviewRefused     = "preview_refused"     // a preview pass was refused by the grains (signed out, key revoked, disabled, app private)
)

// Log bounds.
const (
	UserLogMax    = 1000
	ClusterLogMax = 10000
	// MergeWindow is how close in time repeats must be to merge.
	MergeWindow = time.Minute
	// mergeScan is how many of the newest events a new one is compared with.
	mergeScan = 16
	// DefaultPage and MaxPage bound a page.
	DefaultPage = 50
	MaxPage     = 200
	// maxField bounds each text field of an event (runes are not split).
	maxField = 300
)

// Mergeable reports whether events of kind merge with their repeats:
// refusals, which an attacker can repeat at will. Everything that
// succeeded is kept one line each.
func Mergeable(kind string) bool {
	switch kind {
	case SignInFailed, CredentialsRefused, CSRFRefused, AdminDenied, RateLimited:
		return true
	}
	return false
}

// sameEvent reports whether a and b differ only in seq, time and count.
func sameEvent(a, b *Event) bool {
	return a.GetKind() == b.GetKind() && a.GetUserId() == b.GetUserId() && a.GetEmail() == b.GetEmail() &&
		a.GetActorId() == b.GetActorId() && a.GetClient() == b.GetClient() && a.GetMethod() == b.GetMethod() &&
		a.GetDetail() == b.GetDetail()
}

// Clean returns a copy of e with its text fields cut to a bounded length
// and count at least 1.
func Clean(e *Event) *Event {
	c := proto.Clone(e).(*Event)
	for _, f := range []*string{&c.Kind, &c.UserId, &c.Email, &c.ActorId, &c.Client, &c.Method, &c.Detail} {
		*f = cut(*f, maxField)
	}
	if c.Count == 0 {
		c.Count = 1
	}
	return c
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// NB: a rune cut in two leaves invalid bytes at the end, dropped here.
	return strings.ToValidUTF8(s[:n], "")
}

// Append appends events to log (ordered by seq, oldest first) under the
// rules above, at now for events without a time, keeping at most max. It
// returns the new log, the events to store (new or merged) and the seqs
// to delete (merged away or dropped by the bound). log is not modified.
func Append(log []*Event, events []*Event, now time.Time, max int) (next, put []*Event, del []uint64) {
	next = slices.Clone(log)
	var last uint64
	if len(next) > 0 {
		last = next[len(next)-1].GetSeq()
	}
	putAt := map[uint64]bool{}
	for _, in := range events {
		e := Clean(in)
		if e.At == nil {
			e.At = timestamppb.New(now)
		}
		for i := len(next) - 1; Mergeable(e.GetKind()) && i >= 0 && i >= len(next)-mergeScan; i-- {
			old := next[i]
			if sameEvent(old, e) && e.GetAt().AsTime().Sub(old.GetAt().AsTime()).Abs() <= MergeWindow {
				e.Count += old.GetCount()
				next = slices.Delete(next, i, i+1)
				if putAt[old.GetSeq()] {
					delete(putAt, old.GetSeq())
				} else {
					del = append(del, old.GetSeq())
				}
				break
			}
		}
		last++
		e.Seq = last
		next = append(next, e)
		putAt[e.Seq] = true
	}
	if n := len(next) - max; n > 0 {
		for _, e := range next[:n] {
			if putAt[e.GetSeq()] {
				delete(putAt, e.GetSeq())
			} else {
				del = append(del, e.GetSeq())
			}
		}
		next = slices.Clone(next[n:])
	}
	for _, e := range next {
		if putAt[e.GetSeq()] {
			put = append(put, e)
		}
	}
	return next, put, del
}

// Filter selects events; its zero value selects all.
type Filter struct {
	// Kinds, if set, keeps events of these kinds.
	Kinds []string
	// UserID and Email, if set, keep events whose user id is UserID or
	// whose e-mail is Email (case-insensitively).
	UserID, Email string
}

// Match reports whether f selects e.
func (f Filter) Match(e *Event) bool {
	if len(f.Kinds) > 0 && !slices.Contains(f.Kinds, e.GetKind()) {
		return false
	}
	if f.UserID == "" && f.Email == "" {
		return true
	}
	return (f.UserID != "" && e.GetUserId() == f.UserID) ||
		(f.Email != "" && strings.EqualFold(e.GetEmail(), f.Email))
}

// Page returns up to limit events of log (ordered by seq, oldest first)
// with seq below before (0: from the newest) that f selects, newest first,
// and the cursor of the next page (0: none).
func Page(log []*Event, f Filter, before uint64, limit int) ([]*Event, uint64) {
	if limit <= 0 {
		limit = DefaultPage
	}
	limit = min(limit, MaxPage)
	i := len(log) - 1
	if before > 0 {
		i, _ = slices.BinarySearchFunc(log, before, func(e *Event, seq uint64) int {
			switch {
			case e.GetSeq() < seq:
				return -1
			case e.GetSeq() > seq:
				return 1
			}
			return 0
		})
		i--
	}
	var out []*Event
	for ; i >= 0; i-- {
		if !f.Match(log[i]) {
			continue
		}
		if len(out) == limit {
			return out, out[len(out)-1].GetSeq()
		}
		out = append(out, log[i])
	}
	return out, 0
}
