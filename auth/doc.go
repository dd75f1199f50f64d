// Package auth owns who a caller is: the [Principal] a request carries in
// its context, the format of API keys (made, parsed and hashed here), and
// password hashing with argon2id.
//
// It holds no state and does no I/O: the user grain (package actors) keeps
// users and their key hashes; the RPC edge (package rpc) turns a request's
// credentials into a Principal with these functions. All functions are safe
// for concurrent use.
//
// It must not import rpc, actors or cluster.
package auth
