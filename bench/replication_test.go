package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/stichdev/stich/actors"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// BenchmarkDurableWrite measures a durable grain write — a call to a
// "counter" grain on its owner that commits one key — with replication
// factor 3 and 1 on a 3-node loopback cluster, against a raw Pebble synced
// commit of the same size on the owner's store (the reference, measured in
// the same run); with 1 and 32 concurrent writers, each on its own grain.
// It reports the p50, p99 and max latency (p50-us ...); ns/op is the mean
// time per write (with 32 writers, the inverse of throughput).
//
// NB: the 3 nodes share one disk and 2 cores here, so R=3 pays three
// fsyncs on one disk per write; on separate machines the followers' syncs
// run on their own disks.
func BenchmarkDurableWrite(b *testing.B) {
	for _, rf := range []int{3, 1} {
		a := startPeerR(b, "a", "", nil, rf)
		n2 := startPeerR(b, "b", a.GossipAddr(), nil, rf)
		n3 := startPeerR(b, "c", a.GossipAddr(), nil, rf)
		waitSize(b, 3, a, n2, n3)
		var ids []string
		for i := 0; len(ids) < 32; i++ {
			id := fmt.Sprintf("w%d", i)
			if o, _ := a.Owner("counter", id); o == "a" {
				ids = append(ids, id)
			}
		}
		msg := &actorsv1.AlarmFired{}
		for _, id := range ids { // activate (claim) outside the timing
			if _, err := actors.Call[*actorsv1.AlarmAck](context.Background(), a, "counter", id, msg); err != nil {
				b.Fatal(err)
			}
		}
		for _, writers := range []int{1, 32} {
			b.Run(fmt.Sprintf("r=%d/writers=%d/stich", rf, writers), func(b *testing.B) {
				next := make(chan string, len(ids))
				for _, id := range ids {
					next <- id
				}
				runTimed(b, writers, func() func() error {
					id := <-next
					ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
					b.Cleanup(cancel)
					return func() error {
						_, err := actors.Call[*actorsv1.AlarmAck](ctx, a, "counter", id, msg)
						return err
					}
				})
			})
			b.Run(fmt.Sprintf("r=%d/writers=%d/reference", rf, writers), func(b *testing.B) {
				db := a.Store().DB()
				var seq sync.Mutex
				w := 0
				runTimed(b, writers, func() func() error {
					seq.Lock()
					w++
					key := []byte("bench\x00raw\x00" + strconv.Itoa(w))
					seq.Unlock()
					n := 0
					return func() error {
						n++
						return db.Set(key, []byte(strconv.Itoa(n)), pebble.Sync)
					}
				})
			})
		}
		if rf == 3 {
			// The floor of any majority-of-3 write on this machine: the
			// three nodes' stores (one disk) each commit synced at once,
			// and the write is done when two have; the third goes on
			// meanwhile, as a lagging follower's does.
			b.Run("r=3/writers=1/floor", func(b *testing.B) {
				dbs := []*pebble.DB{a.Store().DB(), n2.Store().DB(), n3.Store().DB()}
				key := []byte("bench\x00floor")
				var third sync.WaitGroup
				n := 0
				runTimed(b, 1, func() func() error {
					return func() error {
						n++
						val := []byte(strconv.Itoa(n))
						done := make(chan error, len(dbs))
						for _, db := range dbs {
							third.Go(func() { done <- db.Set(key, val, pebble.Sync) })
						}
						return errors.Join(<-done, <-done)
					}
				})
				third.Wait()
			})
		}
		a.Kill()
		n2.Kill()
		n3.Kill()
	}
}

// runTimed runs b.N calls over writers goroutines (each with its own call
// from newCaller) and reports the p50 latency in microseconds.
func runTimed(b *testing.B, writers int, newCaller func() func() error) {
	var (
		mu   sync.Mutex
		lats []time.Duration
		wg   sync.WaitGroup
	)
	calls := make([]func() error, writers)
	for i := range calls {
		calls[i] = newCaller()
	}
	work := make(chan struct{}, b.N)
	for i := 0; i < b.N; i++ {
		work <- struct{}{}
	}
	close(work)
	b.ResetTimer()
	for _, call := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for range work {
				start := time.Now()
				if err := call(); err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	b.StopTimer()
	if len(lats) == 0 {
		return
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	b.ReportMetric(float64(lats[len(lats)/2].Microseconds()), "p50-us")
	b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds()), "p99-us")
	b.ReportMetric(float64(lats[len(lats)-1].Microseconds()), "max-us")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
}

// BenchmarkDurableWriteFloor compares a durable grain write with R=3 (one
// writer, a "counter" grain on its owner, as BenchmarkDurableWrite) with
// the one-disk floor measured in the same run: the three nodes' stores
// (one disk) each commit synced at once, done when two have (a
// majority). The two alternate, one of each per iteration (the floor's
// third commit finishes before the next write starts), so that a change
// of the machine's load touches both. It reports each p50 and their ratio
// floor-x (target, internal/benchratio: at most 1.3).
func BenchmarkDurableWriteFloor(b *testing.B) {
	a := startPeerR(b, "a", "", nil, 3)
	n2 := startPeerR(b, "b", a.GossipAddr(), nil, 3)
	n3 := startPeerR(b, "c", a.GossipAddr(), nil, 3)
	b.Cleanup(func() { a.Kill(); n2.Kill(); n3.Kill() })
	waitSize(b, 3, a, n2, n3)
	id := ""
	for i := 0; id == ""; i++ {
		if o, _ := a.Owner("counter", fmt.Sprintf("f%d", i)); o == "a" {
			id = fmt.Sprintf("f%d", i)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	msg := &actorsv1.AlarmFired{}
	if _, err := actors.Call[*actorsv1.AlarmAck](ctx, a, "counter", id, msg); err != nil { // activate (claim)
		b.Fatal(err)
	}
	dbs := []*pebble.DB{a.Store().DB(), n2.Store().DB(), n3.Store().DB()}
	key := []byte("bench\x00floor")
	var st, floor []time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		if _, err := actors.Call[*actorsv1.AlarmAck](ctx, a, "counter", id, msg); err != nil {
			b.Fatal(err)
		}
		st = append(st, time.Since(start))
		n++
		val := []byte(strconv.Itoa(n))
		done := make(chan error, len(dbs))
		start = time.Now()
		for _, db := range dbs {
			go func() { done <- db.Set(key, val, pebble.Sync) }()
		}
		err := errors.Join(<-done, <-done)
		floor = append(floor, time.Since(start))
		if err = errors.Join(err, <-done); err != nil {
			b.Fatal(err)
		}
	}
	p50 := func(ds []time.Duration) float64 {
		slices.Sort(ds)
		return float64(ds[len(ds)/2].Microseconds())
	}
	s, f := p50(st), p50(floor)
	b.ReportMetric(s, "p50-us")
	b.ReportMetric(f, "floor-p50-us")
	b.ReportMetric(s/f, "floor-x")
}
