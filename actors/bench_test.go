package actors

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/cockroachdb/pebble"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stichdev/stich/cluster"
	"github.com/stichdev/stich/pipeline"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

func benchStore(b *testing.B) *cluster.Store {
	b.Helper()
	s, err := cluster.OpenStore(b.TempDir(), cluster.StoreOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func chunkEvent() *stichv1.SessionEvent {
	return &stichv1.SessionEvent{Event: &stichv1.SessionEvent_FileChunk{FileChunk: &stichv1.FileChunk{
		Path: "src/components/RecipeForm.tsx", Data: strings.Repeat("const x = 1;\n", 40)}}}
}

// BenchmarkEventAppend compares a session grain's durable event append
// (a streamed chunk through the pipeline's Step: seq assignment and the
// file buffer; encoding, synced commit, fan-out to no watchers) with a
// raw Pebble synced commit of the same bytes, with 1 and 32 sessions
// appending concurrently.
func BenchmarkEventAppend(b *testing.B) {
	for _, sessions := range []int{1, 32} {
		b.Run(fmt.Sprintf("sessions=%d/stich", sessions), func(b *testing.B) {
			s := benchStore(b)
			rt := &Runtime{cfg: Config{Now: time.Now}}
			var next atomic.Int64
			parallel(b, sessions, func() func() {
				gs, err := s.Grain(KindSession, fmt.Sprintf("s-bench%08d", next.Add(1)))
				if err != nil {
					b.Fatal(err)
				}
				g := &sessionGrain{rt: rt, ref: &cluster.GrainRef{Store: gs}, subs: nil}
				// A step streaming a file: each chunk goes through the
				// pipeline (seq, file buffer) and a commit.
				const path = "src/components/RecipeForm.tsx"
				g.s = pipeline.State{Session: &actorsv1.SessionState{Id: "s-bench"}, Run: 1, Working: true,
					Streams: map[string]*strings.Builder{path: {}}}
				data := chunkEvent().GetFileChunk().GetData()
				return func() {
					if g.s.Streams[path].Len() > 256<<10 {
						g.s.Streams[path].Reset() // stay under the file size limit
					}
					if _, err := g.step(nil, pipeline.Work{Run: 1, Kind: pipeline.WorkFileChunk, Path: path, Data: data}); err != nil {
						b.Fatal(err)
					}
					if g.s.Session.Phase == stichv1.Phase_PHASE_FAILED {
						b.Fatal(g.s.Session.Error)
					}
				}
			})
		})
		b.Run(fmt.Sprintf("sessions=%d/reference", sessions), func(b *testing.B) {
			s := benchStore(b)
			ev := chunkEvent()
			ev.Seq, ev.Time = 1, timestamppb.Now()
			data, _ := proto.Marshal(ev)
			var next atomic.Int64
			parallel(b, sessions, func() func() {
				prefix := fmt.Sprintf("g\x00session\x00s-bench%08d\x00log/", next.Add(1))
				seq := 0
				return func() {
					seq++
					batch := s.DB().NewBatch()
					_ = batch.Set([]byte(fmt.Sprintf("%s%020d", prefix, seq)), data, nil)
					if err := batch.Commit(pebble.Sync); err != nil {
						b.Fatal(err)
					}
					batch.Close()
				}
			})
		})
	}
}

// parallel runs b.N operations spread over exactly workers goroutines; each
// goroutine builds its operation with setup.
func parallel(b *testing.B, workers int, setup func() func()) {
	if workers == 1 {
		op := setup()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			op()
		}
		return
	}
	b.SetParallelism((workers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		op := setup()
		for pb.Next() {
			op()
		}
	})
}

// BenchmarkGrainActivation compares activating a session grain that must
// load its state (state record and log position) and answer a call, with a
// raw Pebble Get of the same state plus spawning an actor and calling it.
func BenchmarkGrainActivation(b *testing.B) {
	cfg := cluster.DefaultLocalConfig()
	cfg.Name, cfg.DataDir = "bench", b.TempDir()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	rt, err := Start(context.Background(), Config{Cluster: cfg})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rt.Shutdown(context.Background()) })
	store := rt.Node.Store()
	// A completed session's state, as the grain stores it.
	st := &actorsv1.SessionState{Id: "x", Prompt: "a recipe tracker", Phase: stichv1.Phase_PHASE_COMPLETED,
		Files: map[string]*stichv1.FileInfo{}, CreatedAt: timestamppb.Now(), Options: &stichv1.SessionOptions{Provider: "scaffold"}}
	for i := 0; i < 20; i++ {
		p := fmt.Sprintf("src/file%02d.tsx", i)
		st.Files[p] = &stichv1.FileInfo{Path: p, Size: 1000, Sha256: strings.Repeat("ab", 32)}
	}
	stateBytes, _ := proto.Marshal(st)
	ev, _ := proto.Marshal(chunkEvent())
	seed := func(n int, prefix string) {
		for i := 0; i < n; i++ {
			gs, _ := store.Grain(KindSession, fmt.Sprintf("%s%08d", prefix, i))
			batch := gs.NewBatch()
			batch.Put(keyState, stateBytes)
			batch.Put(logKey(1), ev)
			if err := batch.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	}
	var runs atomic.Int64
	b.Run("stich", func(b *testing.B) {
		prefix := fmt.Sprintf("s-act%d-", runs.Add(1))
		seed(b.N, prefix)
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			r, err := Call[*actorsv1.PhaseReply](ctx, rt.Node, KindSession, fmt.Sprintf("%s%08d", prefix, i), &actorsv1.ResumeSession{Caller: NodeCaller()})
			if err != nil || r.GetPhase() != stichv1.Phase_PHASE_COMPLETED {
				b.Fatal(r, err)
			}
		}
	})
	b.Run("reference", func(b *testing.B) {
		prefix := fmt.Sprintf("s-ref%d-", runs.Add(1))
		seed(b.N, prefix)
		system := rt.Node.System()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			gs, _ := store.Grain(KindSession, fmt.Sprintf("%s%08d", prefix, i))
			pid := system.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
				switch c.Message().(type) {
				case *actor.Started:
					v, err := gs.Get(keyState)
					if err != nil {
						panic(err)
					}
					_ = proto.Unmarshal(v, &actorsv1.SessionState{})
				case *actorsv1.ResumeSession:
					c.Respond(&actorsv1.PhaseReply{Phase: stichv1.Phase_PHASE_COMPLETED})
				}
			}))
			if _, err := system.Root.RequestFuture(pid, &actorsv1.ResumeSession{Caller: NodeCaller()}, time.Hour).Result(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
