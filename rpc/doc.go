// Package rpc is stich's network edge: the Connect handlers of the public
// API (HTTP/1.1, HTTP/2 and h2c on one mux), health and reflection, request
// validation (protovalidate rules in the .proto files), rate limiting,
// request logs, metrics, the embedded browser UI (package web), and
// graceful shutdown. It translates errors into Connect codes exactly once,
// here.
//
// Package rpc may import actors, web and domain packages; nothing but cmd
// imports it.
package rpc
