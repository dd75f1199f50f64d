package rpc

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"github.com/cockroachdb/pebble"
	"google.golang.org/protobuf/proto"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/cluster"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
	"github.com/stichdev/stich/ratelimit"
)

const fanOutWatchers = 50

// BenchmarkWatchFanOut measures one session's events reaching 50 Watch
// streams. stich: a scaffold generation (every event appended durably by
// the session grain, then fanned out) followed by 50 watchers. Reference: a
// bare connect-go server stream to 50 clients fed the same events, each
// after a raw synced Pebble commit of its bytes. One op is one whole
// session's events delivered to all 50 watchers.
func BenchmarkWatchFanOut(b *testing.B) {
	ts := newTestServer(b, ratelimit.Rule{}, 0)
	client := stichv1connect.NewSessionServiceClient(ts.h2, ts.url)
	ctx := context.Background()
	const prompt = "a recipe tracker with ingredients and ratings"

	// Record one session's events for the reference.
	res, err := client.CreateSession(ctx, connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: prompt}))
	if err != nil {
		b.Fatal(err)
	}
	var recorded []*stichv1.SessionEvent
	if err := ts.rt.Watch(ctx, actors.NodeCaller(), res.Msg.GetSessionId(), 0, true, func(ev *stichv1.SessionEvent) error {
		recorded = append(recorded, ev)
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(recorded)), "events/op")

	watchAll := func(b *testing.B, c stichv1connect.SessionServiceClient, id string, want int) {
		var wg sync.WaitGroup
		for w := 0; w < fanOutWatchers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				stream, err := c.Watch(ctx, connect.NewRequest(&stichv1.WatchRequest{SessionId: id, UntilIdle: true}))
				if err != nil {
					b.Error(err)
					return
				}
				n := 0
				for stream.Receive() {
					n++
				}
				if stream.Err() != nil || n < want {
					b.Errorf("watcher got %d events (want %d): %v", n, want, stream.Err())
				}
			}()
		}
		wg.Wait()
	}

	b.Run("stich", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			res, err := client.CreateSession(ctx, connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: prompt}))
			if err != nil {
				b.Fatal(err)
			}
			watchAll(b, client, res.Msg.GetSessionId(), len(recorded))
		}
	})

	b.Run("reference", func(b *testing.B) {
		store, err := cluster.OpenStore(b.TempDir(), cluster.StoreOptions{})
		if err != nil {
			b.Fatal(err)
		}
		defer store.Close()
		ref := &refWatch{}
		mux := http.NewServeMux()
		mux.Handle(stichv1connect.NewSessionServiceHandler(ref, connect.WithCompressMinBytes(1024)))
		protocols := new(http.Protocols)
		protocols.SetHTTP1(true)
		protocols.SetUnencryptedHTTP2(true)
		srv := &http.Server{Handler: mux, Protocols: protocols}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		go srv.Serve(ln)
		defer srv.Close()
		c := stichv1connect.NewSessionServiceClient(ts.h2, "http://"+ln.Addr().String())
		payloads := make([][]byte, len(recorded))
		for i, ev := range recorded {
			payloads[i], _ = proto.Marshal(ev)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			ref.reset(fanOutWatchers)
			go func() {
				ref.waitSubscribed()
				for j, ev := range recorded {
					batch := store.DB().NewBatch()
					_ = batch.Set([]byte{byte(i), byte(j >> 8), byte(j)}, payloads[j], nil)
					if err := batch.Commit(pebble.Sync); err != nil {
						panic(err)
					}
					batch.Close()
					ref.publish(ev)
				}
				ref.publish(nil)
			}()
			watchAll(b, c, "s-reference00000000", len(recorded))
		}
	})
}

// refWatch is the reference: a bare server stream fed from a broadcast.
type refWatch struct {
	stichv1connect.UnimplementedSessionServiceHandler
	mu      sync.Mutex
	subs    []chan *stichv1.SessionEvent
	want    int
	allSubs chan struct{}
}

func (r *refWatch) reset(n int) {
	r.mu.Lock()
	r.subs, r.want, r.allSubs = nil, n, make(chan struct{})
	r.mu.Unlock()
}

func (r *refWatch) waitSubscribed() {
	r.mu.Lock()
	ch := r.allSubs
	r.mu.Unlock()
	<-ch
}

func (r *refWatch) publish(ev *stichv1.SessionEvent) {
	r.mu.Lock()
	subs := r.subs
	r.mu.Unlock()
	for _, s := range subs {
		s <- ev
	}
}

func (r *refWatch) Watch(ctx context.Context, req *connect.Request[stichv1.WatchRequest], stream *connect.ServerStream[stichv1.SessionEvent]) error {
	ch := make(chan *stichv1.SessionEvent, 4096)
	r.mu.Lock()
	r.subs = append(r.subs, ch)
	if len(r.subs) == r.want {
		close(r.allSubs)
	}
	r.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-ch:
			if ev == nil {
				return nil
			}
			if err := stream.Send(ev); err != nil {
				return err
			}
		}
	}
}
