package actors

import (
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
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
//  3. anyone else, and a message with no caller, gets the NOT_FOUND an
//     unknown session gets: nothing tells them it exists.

// NodeCaller is the caller of the node's own calls, made on no user's
// behalf.
func NodeCaller() *actorsv1.Caller { return &actorsv1.Caller{Node: true} }

// UserCaller is the caller of a call made for userID.
func UserCaller(userID string, admin bool) *actorsv1.Caller {
	return &actorsv1.Caller{UserId: userID, Admin: admin}
}

// callerMessage is a grain message that says who sent it.
type callerMessage interface {
	GetCaller() *actorsv1.Caller
}

// mayAccess reports whether c may use a session owned by owner.
func mayAccess(c *actorsv1.Caller, owner string) bool {
	switch {
	case c == nil:
		return false
	case c.GetNode() || c.GetAdmin():
		return true
	}
	return c.GetUserId() != "" && c.GetUserId() == owner
}
