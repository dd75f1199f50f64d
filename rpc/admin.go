package rpc

import (
	"context"
	"errors"
	"net/netip"

	"connectrpc.com/connect"

	"github.com/stichdev/stich/actors"
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
}

func (a *adminService) GetServerInfo(ctx context.Context, _ *connect.Request[stichv1.GetServerInfoRequest]) (*connect.Response[stichv1.GetServerInfoResponse], error) {
	def := a.rt.DefaultProvider()
	res := &stichv1.GetServerInfoResponse{
		Version: a.cfg.Version, Node: a.rt.Node.Name(), Region: a.rt.Region(),
		DefaultProvider: def.Name(), DefaultProviderLabel: def.Label(), DefaultModel: a.cfg.DefaultModel,
		Endpoints: a.cfg.ModelEndpoints, Actions: a.cfg.ActionModels,
	}
	if res.Version == "" {
		res.Version = "dev"
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
		p.Healthy, p.Grains, p.Error = m.Healthy, m.Grains, m.Err
		res.Members = append(res.Members, p)
	}
	for _, m := range failed {
		p := memberProto(m)
		p.Error = "failed: left without handing its grains off"
		res.Failed = append(res.Failed, p)
	}
	return connect.NewResponse(res), nil
}

func (a *adminService) Leave(ctx context.Context, req *connect.Request[stichv1.LeaveRequest]) (*connect.Response[stichv1.LeaveResponse], error) {
	ap, err := netip.ParseAddrPort(req.Peer().Addr)
	if err != nil || !ap.Addr().IsLoopback() {
		return nil, connect.NewError(connect.CodePermissionDenied, errors.New("Leave is accepted only from the node's own machine; run `stich leave` there, or send the process SIGTERM"))
	}
	if a.onLeave == nil {
		return nil, connect.NewError(connect.CodeUnimplemented, errors.New("this server cannot leave on request; send the process SIGTERM"))
	}
	go a.onLeave()
	return connect.NewResponse(&stichv1.LeaveResponse{Node: a.rt.Node.Name()}), nil
}
