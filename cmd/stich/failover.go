package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"syscall"
	"time"

	"connectrpc.com/connect"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
)

// endpoint is one stich node a client command may talk to.
type endpoint struct {
	url    string
	client stichv1connect.SessionServiceClient
}

// endpoints parses --server values (each may hold several URLs separated
// by commas) into the nodes to try, in order.
func endpoints(flag string, values []string) ([]endpoint, error) {
	var out []endpoint
	for _, v := range values {
		for _, raw := range strings.Split(v, ",") {
			raw = strings.TrimRight(strings.TrimSpace(raw), "/")
			if raw == "" {
				continue
			}
			u, err := url.Parse(raw)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return nil, usageError{fmt.Errorf("%s %q: want an http:// or https:// URL of a stich node", flag, raw)}
			}
			out = append(out, endpoint{url: raw, client: stichv1connect.NewSessionServiceClient(apiHTTP, raw)})
		}
	}
	if len(out) == 0 {
		return nil, usageError{fmt.Errorf("%s: give the URL of a stich node", flag)}
	}
	return out, nil
}

// serverList is the --server value that names every endpoint.
func serverList(eps []endpoint) string {
	urls := make([]string, len(eps))
	for i, e := range eps {
		urls[i] = e.url
	}
	return strings.Join(urls, ",")
}

// connectionBroke reports whether err means the connection to the node
// broke (or never came up) rather than that the node refused the request:
// the request may be repeated, on this node or another. A node killed
// mid-stream shows as unavailable, unknown or, when the cut lands inside
// a message, internal ("protocol error: incomplete envelope").
func connectionBroke(err error) bool {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	switch connect.CodeOf(err) {
	case connect.CodeUnavailable, connect.CodeUnknown, connect.CodeDeadlineExceeded, connect.CodeInternal, connect.CodeAborted, connect.CodeCanceled:
		return true
	}
	return false
}

// resumeError is a stream that could not be re-established: it names the
// command that resumes it.
func resumeError(eps []endpoint, id string, after uint64, err error) error {
	return &exitError{code: exitFailure, err: fmt.Errorf("%s\nresume with: stich watch --server %s --after-seq %d %s", describe(err), serverList(eps), after, id)}
}

// defaultReconnectFor is how long a client command keeps trying to
// resume a broken stream, over consecutive failures (--reconnect-for).
const defaultReconnectFor = time.Minute

// followAny watches session id from after until its work ends, on the
// first endpoint that answers; when the stream breaks it resumes from the
// last event received, on the same endpoint or the next one, for up to
// reconnectFor of consecutive failures. handle sees every event once, in
// order (and a LogCompacted notice, seq 0, when the replay skips
// compacted chunks). It returns the last event; on failure the error names the
// command that resumes.
func followAny(ctx context.Context, eps []endpoint, id string, after uint64, reconnectFor time.Duration, handle func(*stichv1.SessionEvent)) (*stichv1.SessionEvent, error) {
	var last *stichv1.SessionEvent
	connected := false // an event has arrived
	var failingSince time.Time
	backoff := 100 * time.Millisecond
	cur, refusedInRound := 0, 0
	for {
		ep := eps[cur]
		stream, err := ep.client.Watch(ctx, connect.NewRequest(&stichv1.WatchRequest{SessionId: id, AfterSeq: after, UntilIdle: true}))
		if err == nil {
			for stream.Receive() {
				ev := stream.Msg()
				if ev.GetLogCompacted() != nil {
					// A notice (seq 0): events before after_seq's next were
					// compacted; it moves no seq.
					handle(ev)
					continue
				}
				if ev.GetSeq() <= after {
					continue // never twice, whatever a node replays
				}
				handle(ev)
				last, after = ev, ev.GetSeq()
				connected, failingSince, backoff, refusedInRound = true, time.Time{}, 100*time.Millisecond, 0
			}
			err = stream.Err()
			stream.Close()
			if err == nil {
				return last, nil
			}
		}
		if ctx.Err() != nil {
			return last, resumeError(eps, id, after, ctx.Err())
		}
		if !connectionBroke(err) {
			if connected {
				return last, resumeError(eps, id, after, err)
			}
			return last, err
		}
		// Before the first event, nodes that all refuse connections are
		// not there: say so at once rather than wait.
		if errors.Is(err, syscall.ECONNREFUSED) {
			refusedInRound++
			if !connected && refusedInRound >= len(eps) {
				return last, err
			}
		} else {
			refusedInRound = 0
		}
		if failingSince.IsZero() {
			failingSince = time.Now()
		} else if time.Since(failingSince) > reconnectFor {
			return last, resumeError(eps, id, after, fmt.Errorf("stream lost and not re-established on any of %d servers within %s: %w", len(eps), reconnectFor, err))
		}
		// The next endpoint at once; after a whole round, wait.
		cur = (cur + 1) % len(eps)
		if cur == 0 || len(eps) == 1 {
			select {
			case <-ctx.Done():
				return last, resumeError(eps, id, after, ctx.Err())
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 2*time.Second)
		}
	}
}

// onAny runs call against each endpoint in turn until one answers, moving
// on only when the request cannot have reached a node (connection
// refused), so that a request that changes state never runs twice.
func onAny[T any](eps []endpoint, call func(endpoint) (T, error)) (T, error) {
	var zero T
	var err error
	for _, ep := range eps {
		var res T
		if res, err = call(ep); err == nil {
			return res, nil
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return zero, err
		}
	}
	return zero, err
}

// readAny is onAny for reads, which may be repeated: it also moves on
// after a broken connection.
func readAny[T any](eps []endpoint, call func(endpoint) (T, error)) (T, error) {
	var zero T
	var err error
	for _, ep := range eps {
		var res T
		if res, err = call(ep); err == nil {
			return res, nil
		}
		if !connectionBroke(err) {
			return zero, err
		}
	}
	return zero, err
}
