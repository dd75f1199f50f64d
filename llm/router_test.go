package llm

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stichdev/stich/llm/llmtest"
)

func routerFake(t testing.TB, model, answer string) *llmtest.Server {
	t.Helper()
	return startFake(t, &llmtest.Script{Models: []string{model}, Responses: []llmtest.Response{{Content: answer, Repeat: true}}})
}

func postChat(rt http.RoundTripper, url, model string) (int, string, error) {
	req, _ := http.NewRequest("POST", url+"/chat/completions", strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestRouterMarksDownAndRecovers(t *testing.T) {
	a := routerFake(t, "m", "from-a")
	b := routerFake(t, "m", "from-b")
	r := NewRouter(WithScrapeInterval(10 * time.Millisecond))
	ctx := context.Background()
	r.Update(ctx, []Backend{{ID: "a", BaseURL: a.URL, Models: []string{"m"}}, {ID: "b", BaseURL: b.URL, Models: []string{"m"}}})
	for _, s := range r.Status() {
		if !s.Ready {
			t.Fatalf("%s not ready: %s", s.ID, s.Reason)
		}
	}
	// Equal load: requests alternate.
	var got []string
	for range 4 {
		_, body, err := postChat(r, "http://stich-router/v1", "m")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, body[strings.Index(body, "from-"):][:6])
	}
	slices.Sort(got)
	if strings.Join(got, ",") != "from-a,from-a,from-b,from-b" {
		t.Fatalf("equal load should alternate: %v", got)
	}
	// a stops answering: the failed request takes it out of rotation.
	a.Close()
	for range 4 {
		_, body, err := postChat(r, "http://stich-router/v1", "m")
		if err == nil && !strings.Contains(body, "from-b") {
			t.Fatalf("request reached %q", body)
		}
	}
	var down BackendStatus
	for _, s := range r.Status() {
		if s.ID == "a" {
			down = s
		}
	}
	if down.Ready || !strings.Contains(down.Reason, "not answering") {
		t.Fatalf("a after closing: %+v", down)
	}
	// Unknown model, no model.
	if _, _, err := postChat(r, "http://stich-router/v1", "other"); !errors.Is(err, ErrNoBackend) {
		t.Fatalf("unknown model: %v", err)
	}
	req, _ := http.NewRequest("POST", "http://stich-router/v1/chat/completions", strings.NewReader(`{}`))
	if _, err := r.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "names no model") {
		t.Fatalf("no model: %v", err)
	}
	// A server whose /v1/models lacks the tagged model is not ready.
	r.Update(ctx, []Backend{{ID: "b", BaseURL: b.URL, Models: []string{"m", "not-loaded"}}})
	if s := r.Status(); len(s) != 1 || s[0].Ready || !strings.Contains(s[0].Reason, "not-loaded") {
		t.Fatalf("status %+v", s)
	}
}

func TestParseWaiting(t *testing.T) {
	in := `# HELP vllm:num_requests_waiting Number of requests waiting.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="a"} 3.0
vllm:num_requests_waiting{engine="1",model_name="a"} 2
vllm:num_requests_running{model_name="a"} 9.0
vllm:num_requests_waiting_total 100
`
	if got := parseGauges(strings.NewReader(in), "vllm:num_requests_waiting", "vllm:num_requests_running"); got[0] != 5 || got[1] != 9 {
		t.Fatalf("waiting, running = %v, want 5, 9", got)
	}
}

// FuzzParseGauges feeds arbitrary /metrics bodies (outside bytes) to the
// queue-depth parser: it must not panic, and never reports a negative or
// unparsable queue.
func FuzzParseGauges(f *testing.F) {
	f.Add("vllm:num_requests_waiting{a=\"}\"} 3\nvllm:num_requests_running 1e3\n")
	f.Add("vllm:num_requests_waiting NaN\nvllm:num_requests_waiting{ -Inf\n")
	f.Add("vllm:num_requests_waiting +Inf\nvllm:num_requests_waiting 1e400\n")
	f.Fuzz(func(t *testing.T, body string) {
		for _, v := range parseGauges(strings.NewReader(body), "vllm:num_requests_waiting", "vllm:num_requests_running") {
			if v < 0 {
				t.Fatalf("negative gauge %d from %q", v, body)
			}
		}
	})
}
