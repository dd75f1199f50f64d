package actors

import (
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/stichdev/stich/cluster"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// storedState is a grain whose state is read from its store on first use
// and which answers each request from that state.
type storedState interface {
	// load reads the state once; later calls return nil at once.
	load() error
	// handle answers one request (a reply or a *GrainError).
	handle(proto.Message) proto.Message
}

// receiveStored is the lifecycle the small stored grains share (users,
// invites, directory, audit logs, apps indexes): it passivates after the
// node's idle time, acknowledges alarms (these grains set none; a replica
// may still deliver one), and answers every other message from the loaded
// state, or UNAVAILABLE naming what could not be read. It reports whether
// msg was a request it answered.
func receiveStored(ctx actor.Context, ref *cluster.GrainRef, log *slog.Logger, what string, g storedState) bool {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		ctx.SetReceiveTimeout(ref.Node.PassivateAfter())
	case *actor.ReceiveTimeout:
		// protoactor disarms the timeout when it fires: arm it again when
		// a call in flight keeps the grain.
		if !ref.Passivate(ctx) {
			ctx.SetReceiveTimeout(ref.Node.PassivateAfter())
		}
	case *actorsv1.AlarmFired:
		ctx.Respond(&actorsv1.AlarmAck{})
	case proto.Message:
		if err := g.load(); err != nil {
			log.Error("grain load failed", "what", what, "grain", ref.Identity, "err", err)
			ctx.Respond(grainErr(actorsv1.ErrorCode_ERROR_CODE_UNAVAILABLE, "%s cannot be read from storage; retry later", what))
			return false
		}
		ctx.Respond(g.handle(m))
		return true
	}
	return false
}
