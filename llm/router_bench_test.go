package llm

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkRouterOverhead measures one non-streaming chat request to the
// fake endpoint through the [Router] (reading the body for the model,
// picking the least-loaded server, rewriting the URL, counting in-flight)
// and directly (reference), alternating the two in the same loop over the
// same keep-alive transport. It reports both p50s and their difference;
// the target is an overhead ≤ 0.5 ms p50.
func BenchmarkRouterOverhead(b *testing.B) {
	srv := routerFake(b, "m", "ok")
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	r := NewRouter(WithRouterTransport(tr))
	r.Update(context.Background(), []Backend{{ID: "a", BaseURL: srv.URL, Models: []string{"m"}}})
	// A prompt of realistic size (the router reads the whole body).
	body := `{"model":"m","messages":[{"role":"user","content":"` + strings.Repeat("make the app nicer ", 2000) + `"}]}`
	call := func(rt http.RoundTripper, url string) time.Duration {
		req, _ := http.NewRequest("POST", url+"/chat/completions", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		start := time.Now()
		resp, err := rt.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 4096)
		for {
			if _, err := resp.Body.Read(buf); err != nil {
				break
			}
		}
		resp.Body.Close()
		return time.Since(start)
	}
	var direct, routed []time.Duration
	for b.Loop() {
		direct = append(direct, call(tr, srv.URL))
		routed = append(routed, call(r, "http://stich-router/v1"))
	}
	p50 := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)/2].Microseconds())
	}
	pd, pr := p50(direct), p50(routed)
	b.ReportMetric(pd, "direct-p50-µs")
	b.ReportMetric(pr, "router-p50-µs")
	b.ReportMetric(pr-pd, "overhead-p50-µs")
}
