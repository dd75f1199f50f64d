package actors

import (
	"errors"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/stichdev/stich/cluster"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	"github.com/stichdev/stich/ratelimit"
)

const keyBucket = "bucket"

// rateLimitGrain is one sliding-window bucket; its identity is the limit
// key, e.g. "create:ip:203.0.113.9". Its counts are durable, so a restart
// does not reset anyone's limit.
type rateLimitGrain struct {
	rt  *Runtime
	ref *cluster.GrainRef
	st  *actorsv1.RateLimitState
}

func newRateLimitGrain(rt *Runtime, ref *cluster.GrainRef) *rateLimitGrain {
	return &rateLimitGrain{rt: rt, ref: ref}
}

func (g *rateLimitGrain) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		ctx.SetReceiveTimeout(g.ref.Node.PassivateAfter())
	case *actor.ReceiveTimeout:
		// protoactor disarms the timeout when it fires: arm it again when
		// a call in flight keeps the grain.
		if !g.ref.Passivate(ctx) {
			ctx.SetReceiveTimeout(g.ref.Node.PassivateAfter())
		}
	case *actorsv1.AlarmFired:
		if err := g.forget(); err != nil {
			ctx.Respond(err)
			return
		}
		ctx.Respond(&actorsv1.AlarmAck{})
	case *actorsv1.RateLimitCheck:
		reply, err := g.check(m)
		if err != nil {
			ctx.Respond(err)
			return
		}
		ctx.Respond(reply)
	}
}

// bucketLifetime is how long after its last counted request a bucket is
// kept: a day (the longest window) and a margin.
const bucketLifetime = 25 * time.Hour

func (g *rateLimitGrain) load() *actorsv1.GrainError {
	if g.st != nil {
		return nil
	}
	st := &actorsv1.RateLimitState{}
	b, err := g.ref.Store.Get(keyBucket)
	switch {
	case errors.Is(err, cluster.ErrNotFound):
	case err != nil:
		return grainErr(actorsv1.ErrorCode_ERROR_CODE_INTERNAL, "read bucket: %v", err)
	default:
		if err := proto.Unmarshal(b, st); err != nil {
			return grainErr(actorsv1.ErrorCode_ERROR_CODE_INTERNAL, "decode bucket: %v", err)
		}
	}
	g.st = st
	return nil
}

// forget deletes the bucket when every count in it has expired.
func (g *rateLimitGrain) forget() *actorsv1.GrainError {
	if err := g.load(); err != nil {
		return err
	}
	if !ratelimit.Forget(g.st, g.rt.cfg.Now()) {
		if err := g.ref.Store.SetAlarm(g.rt.cfg.Now().Add(bucketLifetime)); err != nil {
			return grainErr(actorsv1.ErrorCode_ERROR_CODE_INTERNAL, "re-arm bucket alarm: %v", err)
		}
		return nil
	}
	if err := g.ref.Store.DeleteAll(); err != nil {
		return grainErr(actorsv1.ErrorCode_ERROR_CODE_INTERNAL, "delete bucket: %v", err)
	}
	g.st = &actorsv1.RateLimitState{}
	return nil
}

func (g *rateLimitGrain) check(m *actorsv1.RateLimitCheck) (*actorsv1.RateLimitReply, *actorsv1.GrainError) {
	rule := ratelimit.RuleFromProto(m.GetRule())
	if err := rule.Validate(); err != nil {
		return nil, grainErr(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "%v", err)
	}
	if err := g.load(); err != nil {
		return nil, err
	}
	cost := max(m.GetCost(), 1)
	next := proto.Clone(g.st).(*actorsv1.RateLimitState)
	d := ratelimit.Take(next, rule, cost, g.rt.cfg.Now())
	if d.Allowed {
		b, err := proto.Marshal(next)
		if err == nil {
			// The alarm deletes the bucket once its counts have expired,
			// so buckets of clients long gone do not accumulate.
			batch := g.ref.Store.NewBatch()
			batch.Put(keyBucket, b)
			batch.SetAlarm(g.rt.cfg.Now().Add(bucketLifetime))
			err = batch.Commit()
		}
		if err != nil {
			return nil, grainErr(actorsv1.ErrorCode_ERROR_CODE_INTERNAL, "save bucket: %v", err)
		}
		g.st = next
	}
	return &actorsv1.RateLimitReply{
		Allowed: d.Allowed, RetryAfterMs: uint64(d.RetryAfter / time.Millisecond),
		Remaining: d.Remaining, LimitedBy: d.LimitedBy,
	}, nil
}
