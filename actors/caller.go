package actors

import (
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// Every request to a session grain carries its [actorsv1.Caller]: the user
// the RPC edge authenticated (and their role), or the node itself. The
// grain checks it again after the edge did (defence in depth: a bug in an
// RPC handler, or a message from any other code path, cannot reach another
// user's session):
//
//  1. the node's own calls (its sandbox reading the files it builds, the
//     preview server's reports) and admins pass;
//  2. a user passes for their own sessions only (the session's owner);
//  3. any other signed-in user, and an anonymous caller ([AnonymousCaller]:
//     a visitor who is not signed in), passes for the reads of an unlisted
//     or public session (its snapshot, event log, files, versions and
//     diffs: [isReadOnly]), never for a change;
//  4. anyone else, and a message with no caller, gets the NOT_FOUND an
//     unknown session gets: nothing tells them it exists.
//
// Changing the visibility is the owner's alone (not an admin's): see
// [mayChangeVisibility].

// NodeCaller is the caller of the node's own calls, made on no user's
// behalf.
func NodeCaller() *actorsv1.Caller { return &actorsv1.Caller{Node: true} }

// UserCaller is the caller of a call made for userID.
func UserCaller(userID string, admin bool) *actorsv1.Caller {
	return &actorsv1.Caller{UserId: userID, Admin: admin}
}

// AnonymousCaller is the caller of a visitor who is not signed in: it may
// only read unlisted and public sessions.
func AnonymousCaller() *actorsv1.Caller { return &actorsv1.Caller{Anonymous: true} }

// callerMessage is a grain message that says who sent it.
type callerMessage interface {
	GetCaller() *actorsv1.Caller
}

// mayAccess reports whether c may use a session owned by owner.
func mayAccess(c *actorsv1.Caller, owner string) bool {
	switch {
	case c == nil || c.GetAnonymous():
		return false
	case c.GetNode() || c.GetAdmin():
		return true
	}
	return c.GetUserId() != "" && c.GetUserId() == owner
}

// mayRead reports whether c may read a session owned by owner whose
// visibility is vis (rule 3 above).
func mayRead(c *actorsv1.Caller, owner string, vis stichv1.Visibility) bool {
	if mayAccess(c, owner) {
		return true
	}
	return (c.GetUserId() != "" || c.GetAnonymous()) && Readable(vis)
}

// Readable reports whether an app of visibility vis may be read by
// signed-in users other than its owner.
func Readable(vis stichv1.Visibility) bool {
	return vis == stichv1.Visibility_VISIBILITY_UNLISTED || vis == stichv1.Visibility_VISIBILITY_PUBLIC
}

// mayChangeVisibility reports whether c may change the visibility of a
// session owned by owner: the owner, or the node.
func mayChangeVisibility(c *actorsv1.Caller, owner string) bool {
	if c.GetAnonymous() {
		return false
	}
	return c.GetNode() || (c.GetUserId() != "" && c.GetUserId() == owner)
}

// isReadOnly reports whether msg only reads a session: what a reader who
// is not the owner may send.
func isReadOnly(msg any) bool {
	if _, ok := msg.(*actorsv1.Unsubscribe); ok {
		return true
	}
	return isSessionRead(msg)
}
