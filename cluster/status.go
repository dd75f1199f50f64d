package cluster

import (
	"context"
	"fmt"
	"time"

	clusterv1 "github.com/stichdev/stich/proto/stich/cluster/v1"
)

// MemberStatus is one member as seen by [Node.Status].
type MemberStatus struct {
	NodeMeta
	Healthy bool
	// Repaired: the member takes part in majorities ([Node.Repaired]).
	Repaired bool
	Grains   map[string]uint32
	Err      string
}

// Status asks every live member for its grain counts (concurrently, each
// bounded by ctx) and returns them with the failed members.
func (n *Node) Status(ctx context.Context) (live []MemberStatus, failed []NodeMeta) {
	v := n.currentView()
	live = make([]MemberStatus, len(v.all))
	done := make(chan struct{}, len(v.all))
	for i, m := range v.all {
		live[i].NodeMeta = m
		go func() {
			defer func() { done <- struct{}{} }()
			timeout := 2 * time.Second
			if dl, ok := ctx.Deadline(); ok {
				timeout = min(timeout, time.Until(dl))
			}
			res, err := n.wait(ctx, n.system.Root.RequestFuture(activatorPID(m), &clusterv1.NodeStats{}, timeout))
			if err != nil {
				live[i].Err = err.Error()
				return
			}
			r, ok := res.(*clusterv1.NodeStatsReply)
			if !ok {
				live[i].Err = fmt.Sprintf("answered %T", res)
				return
			}
			live[i].Healthy, live[i].Repaired, live[i].Grains = true, r.GetRepaired(), r.GetGrains()
		}()
	}
	for range v.all {
		<-done
	}
	return live, v.failed
}
