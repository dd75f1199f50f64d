package rpc

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"connectrpc.com/connect"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/audit"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	"github.com/stichdev/stich/ratelimit"
)

// Per-user limits (the bucket grains, keyed by user id, never by address;
// an anonymous caller of a node in --auth single is its owner):
//
//  1. CreateSession, SendMessage and SaveFile each count one request in
//     the caller's bucket of that action ("create:user:ID",
//     "message:user:ID", "save:user:ID") before the call reaches the
//     session; a refusal is resource_exhausted with the retry delay in the
//     message, a google.rpc.RetryInfo detail and a Retry-After header.
//  2. CreateSession and SendMessage are also refused, before any model
//     work, when the caller's daily model budget is used up (see
//     actors/budget.go), unless the caller has a model key of their own.
//  3. Builds and preview rebuilds are limited in the grains
//     (actors.Config.BuildLimit): they start without a request.

// DefaultMessageLimit allows a user 20 chat messages a minute, 5 in any
// 10 s, and 1000 a day.
func DefaultMessageLimit() ratelimit.Rule {
	return ratelimit.Rule{Limit: 20, Window: time.Minute, BurstLimit: 5, BurstWindow: 10 * time.Second, DailyLimit: 1000}
}

// DefaultSaveLimit allows a user 120 file saves a minute (an editor that
// saves as the user types), 40 in any 10 s, and 18000 a day.
func DefaultSaveLimit() ratelimit.Rule {
	return ratelimit.Rule{Limit: 120, Window: time.Minute, BurstLimit: 40, BurstWindow: 10 * time.Second, DailyLimit: 18000}
}

// userLimit counts one request of action by the caller of ctx under rule
// (a zero Limit counts nothing). what names the requests in the refusal
// ("sessions created").
func userLimit(ctx context.Context, rt *actors.Runtime, log *slog.Logger, action string, rule ratelimit.Rule, what string) error {
	if rule.Limit == 0 {
		return nil
	}
	user := owner(ctx)
	d, err := actors.Call[*actorsv1.RateLimitReply](ctx, rt.Node, actors.KindRateLimit, action+":user:"+user,
		&actorsv1.RateLimitCheck{Rule: rule.Proto(), Cost: 1})
	if err != nil {
		return err
	}
	if d.GetAllowed() {
		return nil
	}
	after := time.Duration(d.GetRetryAfterMs()) * time.Millisecond
	recordAudit(ctx, rt, log, AuditEvent{Kind: audit.RateLimited, UserID: user, Detail: "too many " + what})
	return retryable(connect.NewError(connect.CodeResourceExhausted,
		fmt.Errorf("too many %s (%s limit: %d a %s); retry in %s", what, d.GetLimitedBy(), limitOf(rule, d.GetLimitedBy()), windowOf(rule, d.GetLimitedBy()), after.Round(time.Second))), after)
}

func limitOf(r ratelimit.Rule, by string) uint32 {
	switch by {
	case "burst":
		return r.BurstLimit
	case "daily":
		return r.DailyLimit
	}
	return r.Limit
}

func windowOf(r ratelimit.Rule, by string) string {
	d := r.Window
	switch by {
	case "burst":
		d = r.BurstWindow
	case "daily":
		return "day"
	}
	if d == time.Minute {
		return "minute"
	}
	return d.String()
}
