package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"connectrpc.com/connect"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/auth"
	"github.com/stichdev/stich/cluster"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
)

// adminService implements stich.v1.AdminService.
type adminService struct {
	rt *actors.Runtime
	// onLeave starts the node's graceful exit (hand-off, leave, exit).
	onLeave func()
	// cfg holds the version and model description GetServerInfo reports.
	cfg *Config
	log *slog.Logger
}

func (a *adminService) GetServerInfo(ctx context.Context, _ *connect.Request[stichv1.GetServerInfoRequest]) (*connect.Response[stichv1.GetServerInfoResponse], error) {
	def := a.rt.DefaultProvider()
	res := &stichv1.GetServerInfoResponse{
		Version: a.cfg.Version, Region: a.rt.Region(),
		DefaultProvider: def.Name(), DefaultProviderLabel: def.Label(), DefaultModel: a.cfg.DefaultModel,
		Endpoints: a.cfg.ModelEndpoints, Actions: a.cfg.ActionModels,
		BuildsDisabled: a.rt.BuildsDisabled(),
	}
	if res.Version == "" {
		res.Version = "dev"
	}
	// NB: the cluster's node names are for admins only.
	if p := auth.FromContext(ctx); p != nil && p.IsAdmin() {
		res.Node = a.rt.Node.Name()
	}
	for _, p := range a.rt.Providers() {
		res.Providers = append(res.Providers, &stichv1.CodeProvider{Name: p.Name(), Label: p.Label(), IsDefault: p.Name() == def.Name()})
	}
	return connect.NewResponse(res), nil
}

var _ stichv1connect.AdminServiceHandler = (*adminService)(nil)

func memberProto(m cluster.NodeMeta) *stichv1.ClusterMember {
	return &stichv1.ClusterMember{Name: m.Name, Region: m.Region, Zone: m.Zone, Version: m.Version,
		HttpAddr: m.HTTPAddr, ActorAddr: m.ActorAddr, Leaving: m.Leaving}
}

func (a *adminService) GetClusterStatus(ctx context.Context, _ *connect.Request[stichv1.GetClusterStatusRequest]) (*connect.Response[stichv1.GetClusterStatusResponse], error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	live, failed := a.rt.Node.Status(ctx)
	res := &stichv1.GetClusterStatusResponse{Node: a.rt.Node.Name()}
	for _, m := range live {
		p := memberProto(m.NodeMeta)
		p.Healthy, p.Repaired, p.Grains, p.Error = m.Healthy, m.Repaired, m.Grains, m.Err
		res.Members = append(res.Members, p)
	}
	for _, m := range failed {
		p := memberProto(m)
		p.Error = "failed: left without handing its grains off; it keeps its place in placement and replica sets until it returns or, with replication, is forgotten (stich cluster forget " + m.Name + ")"
		res.Failed = append(res.Failed, p)
	}
	return connect.NewResponse(res), nil
}

func (a *adminService) Leave(ctx context.Context, req *connect.Request[stichv1.LeaveRequest]) (*connect.Response[stichv1.LeaveResponse], error) {
	if a.onLeave == nil {
		return nil, connect.NewError(connect.CodeUnimplemented, errors.New("this server cannot leave on request; send the process SIGTERM"))
	}
	go a.onLeave()
	return connect.NewResponse(&stichv1.LeaveResponse{Node: a.rt.Node.Name()}), nil
}

func (a *adminService) ForgetMember(ctx context.Context, req *connect.Request[stichv1.ForgetMemberRequest]) (*connect.Response[stichv1.ForgetMemberResponse], error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	name, self := req.Msg.GetName(), a.rt.Node.Name()
	res, err := a.rt.Node.Forget(ctx, name)
	switch {
	case errors.Is(err, cluster.ErrForgetSelf):
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%s is the node answering: a node cannot forget itself; ask another member, or take this one out with `stich leave`", name))
	case errors.Is(err, cluster.ErrForgetUnknown):
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("%s is not a failed member in %s's view (see `stich cluster status`): nothing to forget", name, self))
	case errors.Is(err, cluster.ErrForgetLive):
		return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("%s is live: only a failed member can be forgotten; to take a live node out, run `stich leave` on its machine", name))
	case errors.Is(err, cluster.ErrForgetAlone):
		return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("forgetting %s would leave %s without another live member, and a lone member refuses replicated grains: start another node first (it takes %s's place in the replica sets), then forget %s", name, self, name, name))
	case errors.Is(err, cluster.ErrForgetUnreplicated):
		return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("replication is off (--replication-factor 1): %s holds the only copy of its grains; bring it back with its data folder", name))
	case err != nil:
		return nil, toConnect(ctx, a.log, req.Spec().Procedure, err)
	}
	out := &stichv1.ForgetMemberResponse{Node: self, Name: name, Confirmed: res.Confirmed, Unconfirmed: res.Unconfirmed}
	return connect.NewResponse(out), nil
}
