// Package rpc is stich's network edge: the Connect handlers of the public
// API (HTTP/1.1, HTTP/2 and h2c on one mux), health and reflection, the
// request checks every call passes (edge.go: Host and Origin allow-list,
// body and time limits, client address), authentication (auth.go: API keys,
// browser sessions with CSRF tokens, sign-in links), authorization
// (policy.go: one policy per procedure; sessions only for their owner),
// request validation (protovalidate rules in the .proto files), rate limiting,
// request logs, metrics, the embedded browser UI (package web), and
// graceful shutdown. It translates errors into Connect codes exactly once,
// here.
//
// Package rpc may import actors, web and domain packages; nothing but cmd
// imports it.
package rpc
