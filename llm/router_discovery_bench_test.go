package llm_test

import (
	"context"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/stichdev/stich/llm"
	"github.com/stichdev/stich/llm/llmtest"
	"github.com/stichdev/stich/nomad"
	"github.com/stichdev/stich/nomad/nomadtest"
)

// BenchmarkServiceChangeToRouting measures the time from a model server's
// registration in the Nomad fake's catalogue to the router having it in
// rotation (watcher's blocking query wakes, checks read, /v1/models
// probed), and from its deregistration to the router dropping it; the
// reference, measured in the same loop, is one bare blocking-query round
// trip of the fake (registration to Services().Get returning). The target
// is a p50 within one such round trip plus the probe.
func BenchmarkServiceChangeToRouting(b *testing.B) {
	srv, err := nomadtest.New(nomadtest.WithMaxWait(time.Minute))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	c, err := nomad.NewClient(nomad.ClientConfig{Address: srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	ms := llmtest.NewServer(&llmtest.Script{Models: []string{"m"}})
	defer ms.Close()
	host, p, _ := net.SplitHostPort(strings.TrimSuffix(strings.TrimPrefix(ms.URL, "http://"), "/v1"))
	port, _ := strconv.Atoi(p)

	router := llm.NewRouter(llm.WithScrapeInterval(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	changed := make(chan int, 16)
	wg.Go(func() {
		c.WatchModelServers(ctx, nomad.WatchConfig{Wait: time.Minute}, func(ss []nomad.ModelServer) {
			router.Update(ctx, nomad.Backends(ss))
			ready := 0
			for _, s := range router.Status() {
				if s.Ready {
					ready++
				}
			}
			changed <- ready
		})
	})
	defer func() { cancel(); wg.Wait() }()
	<-changed // first read: empty
	awaitReady := func(want int) {
		for n := range changed {
			if n == want {
				return
			}
		}
	}
	var bare, appear, leave []time.Duration
	for b.Loop() {
		// Reference: a bare blocking query woken by a registration.
		_, qm, err := c.API().Services().Get("ref", nil)
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan time.Time, 1)
		go func() {
			c.API().Services().Get("ref", &api.QueryOptions{WaitIndex: qm.LastIndex, WaitTime: time.Minute})
			done <- time.Now()
		}()
		time.Sleep(time.Millisecond) // let the query block
		start := time.Now()
		refID := srv.RegisterService("ref", "ref", host, port, nil, nil)
		bare = append(bare, (<-done).Sub(start))
		srv.DeregisterService(refID)

		start = time.Now()
		id := srv.RegisterService(nomad.ServiceInference, "inference", host, port, []string{"model=m"}, nil)
		awaitReady(1)
		appear = append(appear, time.Since(start))
		start = time.Now()
		srv.DeregisterService(id)
		awaitReady(0)
		leave = append(leave, time.Since(start))
	}
	p50 := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)/2].Microseconds())
	}
	b.ReportMetric(p50(bare), "bare-query-p50-µs")
	b.ReportMetric(p50(appear), "appear-to-routed-p50-µs")
	b.ReportMetric(p50(leave), "leave-to-dropped-p50-µs")
}
