package actors

import (
	"errors"
	"fmt"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/stichdev/stich/cluster"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// KindDirectory is the directory grain kind: one grain per e-mail address
// (its identity, see [DirectoryID]), holding the user id that owns it.
// NB: one grain per address, not one for all: sign-ups never queue behind
// each other, and a claim is atomic because one grain decides it.
const KindDirectory = "directory"

const keyDirectory = "owner"

// DirectoryID is the directory grain identity of an e-mail address: trimmed
// and lower-cased, so that one mailbox has one entry.
func DirectoryID(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

type directoryGrain struct {
	rt     *Runtime
	ref    *cluster.GrainRef
	userID *string // nil: not loaded; "" free
}

func newDirectoryGrain(rt *Runtime, ref *cluster.GrainRef) *directoryGrain {
	return &directoryGrain{rt: rt, ref: ref}
}

func (g *directoryGrain) Receive(ctx actor.Context) {
	receiveStored(ctx, g.ref, g.rt.log, "the account directory", g)
}

func (g *directoryGrain) load() error {
	if g.userID != nil {
		return nil
	}
	id := ""
	b, err := g.ref.Store.Get(keyDirectory)
	switch {
	case errors.Is(err, cluster.ErrNotFound):
	case err != nil:
		return fmt.Errorf("actors: read directory: %w", err)
	default:
		id = string(b)
	}
	g.userID = &id
	return nil
}

func (g *directoryGrain) handle(msg proto.Message) proto.Message {
	cur := *g.userID
	switch m := msg.(type) {
	case *actorsv1.LookupEmail:
		if cur == "" {
			return grainErr(actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND, "no account has this e-mail")
		}
		return &actorsv1.DirectoryReply{UserId: cur}
	case *actorsv1.ClaimEmail:
		switch {
		case m.GetUserId() == "":
			return grainErr(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "a claim needs a user id")
		case cur != "":
			return &actorsv1.DirectoryReply{UserId: cur, Claimed: cur == m.GetUserId()}
		}
		if err := g.ref.Store.Put(keyDirectory, []byte(m.GetUserId())); err != nil {
			return writeErr("claim e-mail", err)
		}
		id := m.GetUserId()
		g.userID = &id
		return &actorsv1.DirectoryReply{UserId: id, Claimed: true}
	case *actorsv1.ReleaseEmail:
		if cur == "" || cur != m.GetUserId() {
			return grainErr(actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND, "this e-mail is not held by %s", m.GetUserId())
		}
		if err := g.ref.Store.DeleteAll(); err != nil {
			return writeErr("release e-mail", err)
		}
		free := ""
		g.userID = &free
		return &actorsv1.DirectoryReply{}
	}
	return grainErr(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "directory grain does not handle %T", msg)
}
