package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/stichdev/stich/internal/testutil"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// sizer answers ReadFile{Path: "N"} with a file of N bytes, and reports
// the node it runs on in the reply's path.
type sizer struct{ ref *GrainRef }

func (s *sizer) Receive(ctx actor.Context) {
	if m, ok := ctx.Message().(*actorsv1.ReadFile); ok {
		n, _ := strconv.Atoi(m.GetPath())
		ctx.Respond(&actorsv1.ReadFileReply{File: &stichv1.File{Path: s.ref.Node.Name(), Content: strings.Repeat("x", n)}})
	}
}

// startSizerNodes starts two nodes serving "sizer" and "shadow" (a sizer
// placed with the sizer of the same identity).
func startSizerNodes(t *testing.T) []*Node {
	t.Helper()
	var nodes []*Node
	for i := 0; i < 2; i++ {
		cfg := DefaultLocalConfig()
		cfg.Name = fmt.Sprintf("m%d", i)
		cfg.InMemory = true
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		slowDetection(cfg.Gossip) // no member fails here (see testCluster.start)
		if i > 0 {
			cfg.Join = []string{nodes[0].GossipAddr()}
		}
		newSizer := func(ref *GrainRef) actor.Actor { return &sizer{ref: ref} }
		n, err := Start(context.Background(), cfg, []Kind{
			{Name: "sizer", Ephemeral: true, New: newSizer},
			{Name: "shadow", Ephemeral: true, PlaceWith: "sizer", New: newSizer},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Kill() })
		nodes = append(nodes, n)
	}
	testutil.WaitFor(t, 60*time.Second, func() error {
		for _, n := range nodes {
			if got := len(n.currentView().live); got != 2 {
				return fmt.Errorf("%s sees %d members", n.Name(), got)
			}
		}
		return nil
	})
	return nodes
}

// remoteID returns an identity whose sizer (and shadow) m1 owns and whose
// shadow, placed by its own kind, m0 would own.
func remoteID(t *testing.T, n *Node) string {
	t.Helper()
	members := n.Members()
	for i := 0; i < 10000; i++ {
		id := fmt.Sprintf("g%d", i)
		s, _ := Lookup("sizer", id, members)
		own, _ := Lookup("shadow", id, members)
		if s.Name == "m1" && own.Name == "m0" {
			return id
		}
	}
	t.Fatal("no identity fits")
	return ""
}

func askSize(ctx context.Context, n *Node, kind, id string, size int) (*actorsv1.ReadFileReply, error) {
	res, err := n.Request(ctx, kind, id, &actorsv1.ReadFile{Path: strconv.Itoa(size)})
	if err != nil {
		return nil, err
	}
	r, ok := res.(*actorsv1.ReadFileReply)
	if !ok {
		return nil, fmt.Errorf("reply %T", res)
	}
	return r, nil
}

// A kind placed with another follows it to the same member, even where
// its own rendezvous order differs.
func TestPlaceWithFollowsTheOtherKind(t *testing.T) {
	nodes := startSizerNodes(t)
	id := remoteID(t, nodes[0])
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, n := range nodes {
		if o, err := n.Owner("shadow", id); err != nil || o != "m1" {
			t.Errorf("%s places shadow/%s on %q (%v), want m1 with its sizer", n.Name(), id, o, err)
		}
		r, err := askSize(ctx, n, "shadow", id, 1)
		if err != nil || r.GetFile().GetPath() != "m1" {
			t.Errorf("shadow/%s called through %s ran on %q (%v), want m1", id, n.Name(), r.GetFile().GetPath(), err)
		}
	}
}

// A call or a reply over MaxMessageBytes between nodes fails at once with
// an error that names its size and the limit (the remote would drop it and
// the caller would wait out its deadline); large messages under the limit,
// several at once, all arrive.
func TestMessagesOverTheLimitFailAtOnce(t *testing.T) {
	nodes := startSizerNodes(t)
	id := remoteID(t, nodes[0])
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	big := &actorsv1.ReadFile{Path: strings.Repeat("p", MaxMessageBytes+1)}
	_, err := nodes[0].Request(ctx, "sizer", id, big)
	var tl *TooLargeError
	if !errors.As(err, &tl) || tl.Size <= MaxMessageBytes || tl.Limit != MaxMessageBytes || !strings.Contains(err.Error(), strconv.Itoa(MaxMessageBytes)) {
		t.Errorf("a call over the limit: %v", err)
	}

	_, err = askSize(ctx, nodes[0], "sizer", id, 5<<20)
	if !errors.Is(err, ErrTooLarge) || errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), strconv.Itoa(MaxMessageBytes)) {
		t.Errorf("a reply over the limit: %v", err)
	}
	// Through the owner itself nothing crosses nodes: no limit.
	if r, err := askSize(ctx, nodes[1], "sizer", id, 5<<20); err != nil || len(r.GetFile().GetContent()) != 5<<20 {
		t.Errorf("a large reply on one node: %v", err)
	}

	// Four replies of 2.5 MiB at once (10 MiB queued to one node).
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := askSize(ctx, nodes[0], "sizer", id, 5<<19)
			if err == nil && len(r.GetFile().GetContent()) != 5<<19 {
				err = fmt.Errorf("%d bytes", len(r.GetFile().GetContent()))
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("large reply %d: %v", i, err)
		}
	}
}
