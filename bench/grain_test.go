package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/cluster"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// echo answers every AlarmFired with an AlarmAck: the smallest typed grain.
type echo struct{}

func (echo) Receive(c actor.Context) {
	if _, ok := c.Message().(*actorsv1.AlarmFired); ok {
		c.Respond(&actorsv1.AlarmAck{})
	}
}

func startNode(b *testing.B) *cluster.Node {
	b.Helper()
	cfg := cluster.DefaultLocalConfig()
	cfg.Name, cfg.InMemory = "bench", true
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	n, err := cluster.Start(context.Background(), cfg, []cluster.Kind{{Name: "echo", New: func(*cluster.GrainRef) actor.Actor { return echo{} }}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { n.Shutdown(context.Background()) })
	return n
}

// BenchmarkGrainCall compares a call through actors.Call (activation
// lookup, context deadline, typed reply) with a bare protoactor-go request
// to a local PID of the same actor.
func BenchmarkGrainCall(b *testing.B) {
	n := startNode(b)
	msg := &actorsv1.AlarmFired{}
	b.Run("stich", func(b *testing.B) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		if _, err := actors.Call[*actorsv1.AlarmAck](ctx, n, "echo", "one", msg); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := actors.Call[*actorsv1.AlarmAck](ctx, n, "echo", "one", msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reference", func(b *testing.B) {
		pid := n.System().Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return echo{} }))
		for i := 0; i < b.N; i++ {
			res, err := n.System().Root.RequestFuture(pid, msg, time.Hour).Result()
			if err != nil {
				b.Fatal(err)
			}
			if _, ok := res.(*actorsv1.AlarmAck); !ok {
				b.Fatal(fmt.Sprintf("reply %T", res))
			}
		}
	})
}
