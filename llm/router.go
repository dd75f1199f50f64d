package llm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrNoBackend is wrapped when no ready model server serves a model.
var ErrNoBackend = errors.New("llm: no model server in rotation serves the model")

// Backend is one OpenAI-compatible model server found by discovery (for
// example a vLLM or Ollama allocation in Nomad's catalogue).
type Backend struct {
	// ID identifies the server across updates (a service registration id).
	ID string
	// BaseURL is its API root, up to and including /v1.
	BaseURL string
	// Models are the models discovery says it serves (service tags);
	// empty means "whatever /v1/models lists".
	Models []string
	// Engine names the server software ("vllm", "ollama"), if known.
	Engine string
	// Failing is set by discovery when the scheduler's health checks fail:
	// the server leaves the rotation whatever it answers.
	Failing bool
}

// BackendStatus is a server as the router sees it, for `stich models`.
type BackendStatus struct {
	Backend
	// Ready: probed, listing its models, not failing, answering.
	Ready bool
	// Reason says why a server is not ready.
	Reason string
	// Served maps each model the server listed to its context length (0
	// when the server does not say; vLLM reports max_model_len).
	Served map[string]int
	// InFlight counts requests this router has open on it; Waiting and
	// Running are the server's own gauges (vLLM's num_requests_waiting and
	// num_requests_running, all clients included), when exported.
	InFlight, Waiting, Running int
	// Requests counts requests routed to it.
	Requests uint64
}

// RouterOption configures a [Router].
type RouterOption func(*Router)

// WithRouterTransport sets the transport requests and probes go through
// (default: a clone of http.DefaultTransport).
func WithRouterTransport(rt http.RoundTripper) RouterOption {
	return func(r *Router) { r.transport = rt }
}

// WithProbeTimeout bounds a capability probe or a metrics scrape
// (default 3s).
func WithProbeTimeout(d time.Duration) RouterOption { return func(r *Router) { r.probeTimeout = d } }

// WithScrapeInterval sets how often [Router.Run] reads the servers' queue
// depth and re-probes servers out of rotation (default 2s).
func WithScrapeInterval(d time.Duration) RouterOption { return func(r *Router) { r.scrapeEvery = d } }

// Router spreads model requests over discovered servers. It is an
// [http.RoundTripper]: give a [Client] an *http.Client using it
// ([WithHTTPClient]) and a provider whose BaseURL is any URL ending in /v1
// (by convention http://stich-router/v1); each request goes to the
// least-loaded ready server serving the request's model.
//
// Load is the router's own in-flight requests on a server plus the queue
// the server reports (vLLM's vllm:num_requests_waiting on /metrics, read
// every scrape interval); ties go to the server that has had fewest
// requests. A server enters the rotation once probed (GET /v1/models lists
// the model; its context length is kept), and leaves it when discovery
// drops it or marks it failing, or when a request to it fails to connect
// or gets a 502/503 — until a later probe succeeds.
//
// A Router is safe for concurrent use. [Router.Update] may block for one
// probe timeout; [Router.Run] owns the scrape goroutine and returns when
// its context ends.
type Router struct {
	transport    http.RoundTripper
	probeTimeout time.Duration
	scrapeEvery  time.Duration

	mu       sync.Mutex
	backends map[string]*routed
}

type routed struct {
	Backend
	base     *url.URL
	ready    bool
	reason   string
	served   map[string]int
	inflight atomic.Int64
	waiting  atomic.Int64
	running  atomic.Int64
	requests atomic.Uint64
}

// NewRouter returns a router with no servers.
func NewRouter(opts ...RouterOption) *Router {
	r := &Router{probeTimeout: 3 * time.Second, scrapeEvery: 2 * time.Second, backends: map[string]*routed{}}
	for _, o := range opts {
		o(r)
	}
	if r.transport == nil {
		r.transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	return r
}

// Update replaces the set of servers with bs (discovery's current view).
// New servers are probed, in parallel, before Update returns, so a server
// that appears is routed to as soon as Update returns; servers no longer
// listed leave at once (requests in flight on them finish).
func (r *Router) Update(ctx context.Context, bs []Backend) {
	var probe []*routed
	r.mu.Lock()
	next := map[string]*routed{}
	for _, b := range bs {
		old := r.backends[b.ID]
		if old != nil && old.BaseURL == b.BaseURL {
			modelsChanged := !slices.Equal(old.Models, b.Models)
			old.Backend = b
			if b.Failing {
				old.ready, old.reason = false, "failing its health checks"
			} else if !old.ready || modelsChanged {
				probe = append(probe, old)
			}
			next[b.ID] = old
			continue
		}
		rb := &routed{Backend: b, reason: "not probed yet"}
		u, err := url.Parse(strings.TrimRight(b.BaseURL, "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			rb.reason = fmt.Sprintf("bad base URL %q", b.BaseURL)
		} else {
			rb.base = u
			if b.Failing {
				rb.reason = "failing its health checks"
			} else {
				probe = append(probe, rb)
			}
		}
		next[b.ID] = rb
	}
	r.backends = next
	r.mu.Unlock()
	r.probeAll(ctx, probe)
}

func (r *Router) probeAll(ctx context.Context, bs []*routed) {
	var wg sync.WaitGroup
	for _, b := range bs {
		wg.Go(func() {
			served, err := r.probe(ctx, b)
			r.mu.Lock()
			defer r.mu.Unlock()
			if err != nil {
				b.ready, b.reason = false, err.Error()
				return
			}
			b.served = served
			var missing []string
			for _, m := range b.Models {
				if _, ok := served[m]; !ok {
					missing = append(missing, m)
				}
			}
			if len(missing) > 0 {
				b.ready, b.reason = false, "does not list "+strings.Join(missing, ", ")+" yet (still loading?)"
				return
			}
			b.ready, b.reason = !b.Failing, ""
		})
	}
	wg.Wait()
}

// probe reads /v1/models: the served models and their context lengths.
func (r *Router) probe(ctx context.Context, b *routed) (map[string]int, error) {
	ctx, cancel := context.WithTimeout(ctx, r.probeTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.base.String()+"/models", nil)
	resp, err := r.transport.RoundTrip(req)
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("probe: GET /v1/models answered %s", resp.Status)
	}
	var list struct {
		Data []struct {
			ID          string `json:"id"`
			MaxModelLen int    `json:"max_model_len"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&list); err != nil {
		return nil, fmt.Errorf("probe: /v1/models: %w", err)
	}
	served := map[string]int{}
	for _, m := range list.Data {
		served[m.ID] = m.MaxModelLen
	}
	return served, nil
}

// Run scrapes the servers' queue depth and re-probes servers out of
// rotation every scrape interval, until ctx ends.
func (r *Router) Run(ctx context.Context) {
	t := time.NewTicker(r.scrapeEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.Refresh(ctx)
	}
}

// Refresh scrapes the ready servers' queue depth and re-probes the servers
// out of rotation, once.
func (r *Router) Refresh(ctx context.Context) {
	r.mu.Lock()
	var ready, down []*routed
	for _, b := range r.backends {
		switch {
		case b.base == nil || b.Failing:
		case b.ready:
			ready = append(ready, b)
		default:
			down = append(down, b)
		}
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, b := range ready {
		wg.Go(func() { r.scrape(ctx, b) })
	}
	wg.Wait()
	r.probeAll(ctx, down)
}

// scrape reads vllm:num_requests_waiting from /metrics (at the server's
// root, beside /v1). Servers without it count as an empty queue.
func (r *Router) scrape(ctx context.Context, b *routed) {
	ctx, cancel := context.WithTimeout(ctx, r.probeTimeout)
	defer cancel()
	root := *b.base
	root.Path = strings.TrimSuffix(root.Path, "/v1") + "/metrics"
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, root.String(), nil)
	resp, err := r.transport.RoundTrip(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.waiting.Store(0)
		return
	}
	g := parseGauges(io.LimitReader(resp.Body, 1<<20), "vllm:num_requests_waiting", "vllm:num_requests_running")
	b.waiting.Store(int64(g[0]))
	b.running.Store(int64(g[1]))
}

// parseGauges sums the samples of each named metric in a Prometheus text
// exposition.
func parseGauges(rd io.Reader, names ...string) []int {
	sc := bufio.NewScanner(rd)
	totals := make([]float64, len(names))
	for sc.Scan() {
		line := sc.Text()
		for i, name := range names {
			if v, ok := sample(line, name); ok {
				totals[i] += v
			}
		}
	}
	out := make([]int, len(names))
	for i, t := range totals {
		out[i] = int(min(t, 1e9))
	}
	return out
}

// sample reads one sample line of metric name (any labels).
func sample(line, name string) (float64, bool) {
	if !strings.HasPrefix(line, name) {
		return 0, false
	}
	rest := strings.TrimPrefix(line, name)
	if strings.HasPrefix(rest, "{") {
		end := strings.LastIndexByte(rest, '}')
		if end < 0 {
			return 0, false
		}
		rest = rest[end+1:]
	} else if rest != "" && rest[0] != ' ' {
		return 0, false
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return 0, false
	}
	// NB: a queue is a count; NaN, infinities and absurd values (outside
	// bytes) are ignored rather than trusted.
	if v, err := strconv.ParseFloat(f[0], 64); err == nil && v > 0 && v < 1e6 {
		return v, true
	}
	return 0, false
}

// pick chooses the least-loaded ready server serving model.
func (r *Router) pick(model string) (*routed, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var best *routed
	var bestLoad int64
	for _, b := range r.backends {
		if !b.ready {
			continue
		}
		if _, ok := b.served[model]; !ok {
			continue
		}
		load := b.inflight.Load() + b.waiting.Load()
		if best == nil || load < bestLoad || (load == bestLoad && b.requests.Load() < best.requests.Load()) ||
			(load == bestLoad && b.requests.Load() == best.requests.Load() && b.ID < best.ID) {
			best, bestLoad = b, load
		}
	}
	if best == nil {
		return nil, fmt.Errorf("%w: %q", ErrNoBackend, model)
	}
	best.inflight.Add(1)
	best.requests.Add(1)
	return best, nil
}

func (r *Router) markDown(b *routed, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b.ready, b.reason = false, reason
}

// maxRoutedBody bounds the request body the router reads to find the model.
const maxRoutedBody = 64 << 20

// RoundTrip sends an OpenAI API request to a server serving the model
// named in its JSON body.
func (r *Router) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		body, err = io.ReadAll(io.LimitReader(req.Body, maxRoutedBody+1))
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("llm: router: read request: %w", err)
		}
		if len(body) > maxRoutedBody {
			return nil, errors.New("llm: router: request body over 64 MiB")
		}
	}
	var head struct {
		Model string `json:"model"`
	}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &head); err != nil {
			return nil, fmt.Errorf("llm: router: request body is not JSON: %w", err)
		}
	}
	if head.Model == "" {
		return nil, errors.New("llm: router: request names no model")
	}
	b, err := r.pick(head.Model)
	if err != nil {
		return nil, err
	}
	out := req.Clone(req.Context())
	u := *b.base
	u.Path = b.base.Path + strings.TrimPrefix(req.URL.Path, "/v1")
	u.RawQuery = req.URL.RawQuery
	out.URL, out.Host = &u, ""
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	resp, err := r.transport.RoundTrip(out)
	if err != nil {
		b.inflight.Add(-1)
		if req.Context().Err() == nil {
			r.markDown(b, "not answering: "+err.Error())
		}
		return nil, err
	}
	if resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable {
		r.markDown(b, "answered "+resp.Status)
	}
	resp.Body = &doneBody{ReadCloser: resp.Body, done: func() { b.inflight.Add(-1) }}
	return resp, nil
}

// doneBody calls done once, when the body is closed or read to the end.
type doneBody struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (d *doneBody) Read(p []byte) (int, error) {
	n, err := d.ReadCloser.Read(p)
	if err != nil {
		d.once.Do(d.done)
	}
	return n, err
}

func (d *doneBody) Close() error {
	err := d.ReadCloser.Close()
	d.once.Do(d.done)
	return err
}

// Status lists the servers, ready ones first, then by id.
func (r *Router) Status() []BackendStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []BackendStatus
	for _, b := range r.backends {
		served := map[string]int{}
		for k, v := range b.served {
			served[k] = v
		}
		bs := BackendStatus{Backend: b.Backend, Ready: b.ready, Reason: b.reason, Served: served,
			InFlight: int(b.inflight.Load()), Waiting: int(b.waiting.Load()), Running: int(b.running.Load()), Requests: b.requests.Load()}
		bs.Models = slices.Clone(b.Models)
		out = append(out, bs)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Ready != out[j].Ready {
			return out[i].Ready
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// ContextLength is the smallest context length the ready servers of model
// report, or 0 when none reports one, so that prompts can be sized for
// any server the router may pick.
func (r *Router) ContextLength(model string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, b := range r.backends {
		if l := b.served[model]; b.ready && l > 0 && (n == 0 || l < n) {
			n = l
		}
	}
	return n
}
