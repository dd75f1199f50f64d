package actors

import (
	"errors"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/stichdev/stich/cluster"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// KindInvite is the invite grain kind: one grain per sign-up invite, its
// identity the hex SHA-256 of the invite token (package auth), so the
// token itself is stored nowhere. Using an invite is atomic: one grain
// decides it.
const KindInvite = "invite"

const keyInvite = "invite"

type inviteGrain struct {
	rt  *Runtime
	ref *cluster.GrainRef
	rec *actorsv1.InviteRecord // nil: not loaded; no expiry: none
}

func newInviteGrain(rt *Runtime, ref *cluster.GrainRef) *inviteGrain {
	return &inviteGrain{rt: rt, ref: ref}
}

func (g *inviteGrain) Receive(ctx actor.Context) {
	receiveStored(ctx, g.ref, g.rt.log, "the invite", g)
}

func (g *inviteGrain) load() error {
	if g.rec != nil {
		return nil
	}
	rec := &actorsv1.InviteRecord{}
	b, err := g.ref.Store.Get(keyInvite)
	switch {
	case errors.Is(err, cluster.ErrNotFound):
	case err != nil:
		return fmt.Errorf("actors: read invite: %w", err)
	default:
		if err := proto.Unmarshal(b, rec); err != nil {
			return fmt.Errorf("actors: decode invite: %w", err)
		}
	}
	g.rec = rec
	return nil
}

func (g *inviteGrain) save(next *actorsv1.InviteRecord) *actorsv1.GrainError {
	b, err := proto.Marshal(next)
	if err == nil {
		err = g.ref.Store.Put(keyInvite, b)
	}
	if err != nil {
		return writeErr("save invite", err)
	}
	g.rec = next
	return nil
}

func (g *inviteGrain) handle(msg proto.Message) proto.Message {
	exists := g.rec.GetExpiresAt() != nil
	switch m := msg.(type) {
	case *actorsv1.CreateInvite:
		if exists {
			return grainErr(actorsv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS, "this invite exists")
		}
		if m.GetInvite().GetExpiresAt() == nil {
			return grainErr(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "an invite needs an expiry")
		}
		next := proto.Clone(m.GetInvite()).(*actorsv1.InviteRecord)
		next.Used = false
		if err := g.save(next); err != nil {
			return err
		}
		return &actorsv1.InviteReply{Invite: next}
	case *actorsv1.ConsumeInvite:
		if !exists || g.rec.GetUsed() || !g.rt.cfg.Now().Before(g.rec.GetExpiresAt().AsTime()) {
			return grainErr(actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND, "this invite is not valid: it was used already, has expired, or is mistyped")
		}
		next := proto.Clone(g.rec).(*actorsv1.InviteRecord)
		next.Used = true
		if err := g.save(next); err != nil {
			return err
		}
		return &actorsv1.InviteReply{Invite: next}
	}
	return grainErr(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "invite grain does not handle %T", msg)
}
