package rpc

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/stichdev/stich/auth"
	"github.com/stichdev/stich/cluster"
	"github.com/stichdev/stich/internal/testutil"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
	"github.com/stichdev/stich/ratelimit"
)

// startPeer starts a bare cluster member (no grain kinds) joined to the
// test server's node.
func startPeer(t *testing.T, ts *testServer, name string) *cluster.Node {
	t.Helper()
	cfg := cluster.DefaultLocalConfig()
	cfg.Name, cfg.InMemory = name, true
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Join = []string{ts.rt.Node.GossipAddr()}
	fastDetection(&cfg)
	n, err := cluster.Start(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Kill)
	return n
}

// fastDetection tightens failure detection for tests.
func fastDetection(cfg *cluster.Config) {
	cfg.Gossip.ProbeInterval, cfg.Gossip.ProbeTimeout, cfg.Gossip.SuspicionMult = 200*time.Millisecond, 100*time.Millisecond, 3
}

// waitStatus polls the server's cluster status until cond accepts it.
func waitStatus(t *testing.T, admin stichv1connect.AdminServiceClient, cond func(*stichv1.GetClusterStatusResponse) error) {
	t.Helper()
	testutil.WaitFor(t, 20*time.Second, func() error {
		res, err := admin.GetClusterStatus(context.Background(), connect.NewRequest(&stichv1.GetClusterStatusRequest{}))
		if err != nil {
			return err
		}
		return cond(res.Msg)
	})
}

func statusCounts(live, failed int) func(*stichv1.GetClusterStatusResponse) error {
	return func(s *stichv1.GetClusterStatusResponse) error {
		if len(s.GetMembers()) != live || len(s.GetFailed()) != failed {
			return fmt.Errorf("%d live and %d failed members, want %d and %d", len(s.GetMembers()), len(s.GetFailed()), live, failed)
		}
		return nil
	}
}

// TestForgetMemberRPC checks ForgetMember's refusals (each with its code)
// and a forget that succeeds.
func TestForgetMemberRPC(t *testing.T) {
	ts := newTestServerWith(t, ratelimit.Rule{}, 0, fastDetection)
	admin := stichv1connect.NewAdminServiceClient(testHTTP, ts.url)
	forget := func(name string) (*stichv1.ForgetMemberResponse, error) {
		res, err := admin.ForgetMember(ctxT(t), connect.NewRequest(&stichv1.ForgetMemberRequest{Name: name}))
		if err != nil {
			return nil, err
		}
		return res.Msg, nil
	}
	_, err := forget("")
	wantCode(t, err, connect.CodeInvalidArgument, "name")
	_, err = forget("rpc-test")
	wantCode(t, err, connect.CodeInvalidArgument, "cannot forget itself")
	_, err = forget("nobody")
	wantCode(t, err, connect.CodeNotFound, "not a failed member")
	// Nothing is granted by address: a signed-in user without the admin
	// role is refused on loopback, and so is a caller with no key.
	_, err = stichv1connect.NewAdminServiceClient(clientAs(t, ts.srv, "bob", auth.RoleUser), ts.url).ForgetMember(ctxT(t), connect.NewRequest(&stichv1.ForgetMemberRequest{Name: "b"}))
	wantCode(t, err, connect.CodePermissionDenied, "admin role")
	_, err = stichv1connect.NewAdminServiceClient(http.DefaultClient, ts.url).ForgetMember(ctxT(t), connect.NewRequest(&stichv1.ForgetMemberRequest{Name: "b"}))
	wantCode(t, err, connect.CodeUnauthenticated, "sign in")

	b := startPeer(t, ts, "b")
	c := startPeer(t, ts, "c")
	waitStatus(t, admin, statusCounts(3, 0))
	_, err = forget("b")
	wantCode(t, err, connect.CodeFailedPrecondition, "is live")

	c.Kill()
	waitStatus(t, admin, statusCounts(2, 1))
	res, err := forget("c")
	if err != nil {
		t.Fatal(err)
	}
	if res.GetNode() != "rpc-test" || res.GetName() != "c" || fmt.Sprint(res.GetConfirmed()) != "[b]" || len(res.GetUnconfirmed()) != 0 {
		t.Fatalf("forget c: %v", res)
	}
	waitStatus(t, admin, statusCounts(2, 0))
	_, err = forget("c")
	wantCode(t, err, connect.CodeNotFound, "not a failed member")

	// The last other live member cannot be forgotten.
	b.Kill()
	waitStatus(t, admin, statusCounts(1, 1))
	_, err = forget("b")
	wantCode(t, err, connect.CodeFailedPrecondition, "without another live member")
}
