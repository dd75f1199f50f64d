package cluster

import (
	"errors"
	"fmt"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	clusterv1 "github.com/stichdev/stich/proto/stich/cluster/v1"
)

// MaxMessageBytes bounds one message (a call or its reply) between nodes
// over actor remoting. The remote's gRPC stream refuses a frame over
// 4 MiB, dropping it with the rest of its batch, which the caller would
// only notice when its deadline passed; this limit, with room for the
// envelope, turns that into an immediate [TooLargeError]. Bulk data
// (snapshots, an app's files, preview assets) moves in parts below it or
// stays on one node.
const MaxMessageBytes = 3 << 20

// ErrTooLarge matches every [TooLargeError].
var ErrTooLarge = errors.New("cluster: message too large to cross nodes")

// TooLargeError reports a message between nodes over [MaxMessageBytes].
type TooLargeError struct {
	// What names the message (its type, and whether it is a reply).
	What        string
	Size, Limit int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("cluster: %s is %d bytes, over the limit of %d bytes for one message between nodes", e.What, e.Size, e.Limit)
}

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// checkSize returns a [TooLargeError] when msg is over the limit.
func checkSize(what string, msg proto.Message) error {
	if size := proto.Size(msg); size > MaxMessageBytes {
		return &TooLargeError{What: what, Size: size, Limit: MaxMessageBytes}
	}
	return nil
}

// replyLimit is the sender middleware of every activation: a message to
// another node over [MaxMessageBytes] (a grain's reply, typically) is
// replaced by a RouteError that says so, which the caller's forward turns
// into a [TooLargeError] at once, and is logged.
func (n *Node) replyLimit() actor.SenderMiddleware {
	return func(next actor.SenderFunc) actor.SenderFunc {
		return func(c actor.SenderContext, target *actor.PID, env *actor.MessageEnvelope) {
			if target != nil && target.GetAddress() != n.system.Address() {
				if m, ok := env.Message.(proto.Message); ok {
					if err := checkSize(fmt.Sprintf("%s's message %T", grainName(c.Self()), m), m); err != nil {
						n.log.Error("message not sent to another node", "err", err, "to", target.GetAddress())
						env = &actor.MessageEnvelope{Header: env.Header, Sender: env.Sender,
							Message: &clusterv1.RouteError{Code: clusterv1.RouteError_CODE_TOO_LARGE, Message: err.Error()}}
					}
				}
			}
			next(c, target, env)
		}
	}
}

// grainName is "kind/identity" of the activation whose actor is pid (named
// kind/identity$seq).
func grainName(pid *actor.PID) string {
	name := pid.GetId()
	if i := strings.LastIndexByte(name, '$'); i >= 0 {
		return name[:i]
	}
	return name
}
