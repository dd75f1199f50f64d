package nomad

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/stichdev/stich/llm"
)

// ModelServer is one registration of [ServiceInference] (or another model
// service) in Nomad's catalogue.
type ModelServer struct {
	// ID is the registration id; AllocID the allocation serving it.
	ID, AllocID string
	// BaseURL is its OpenAI-compatible API root (http://addr:port/v1).
	BaseURL string
	// Models and Engine come from the service tags.
	Models []string
	Engine string
	// Failing is true when one of the allocation's Nomad checks is
	// failing (checks not run yet count as passing: the router's own probe
	// gates them).
	Failing bool
	// Pending is true while a check has not run yet.
	Pending bool
	// Checks summarises the allocation's checks, e.g. "model-loaded=success".
	Checks string
}

// WatchConfig configures [Client.WatchModelServers].
type WatchConfig struct {
	// Service is the catalogue name; default [ServiceInference].
	Service string
	// Wait is a blocking query's longest wait; check results (which do not
	// move the catalogue's index) are re-read at least this often.
	// Default 10s.
	Wait time.Duration
	// PendingWait replaces Wait while some check has not reported yet, so
	// that a new server's first check result is seen quickly; default 1s.
	PendingWait time.Duration
	// RetryDelay follows a failed query; default 2s.
	RetryDelay time.Duration
	// OnError, if set, is told of failed queries (the watch goes on).
	OnError func(error)
}

// WatchModelServers follows the model servers in Nomad's catalogue with
// blocking queries (Services().Get with WaitIndex) and calls onChange with
// the full list whenever it changes: a registration added or removed, or a
// check that starts or stops failing. The first call comes after the first
// query. onChange runs on the watching goroutine, one call at a time, and
// may block (the next query waits). It returns when ctx ends.
func (c *Client) WatchModelServers(ctx context.Context, cfg WatchConfig, onChange func([]ModelServer)) error {
	if cfg.Service == "" {
		cfg.Service = ServiceInference
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 10 * time.Second
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = 2 * time.Second
	}
	if cfg.PendingWait <= 0 {
		cfg.PendingWait = time.Second
	}
	var (
		index uint64
		last  []ModelServer
		first = true
		wait  = cfg.Wait
	)
	for {
		regs, qm, err := c.api.Services().Get(cfg.Service, (&api.QueryOptions{WaitIndex: index, WaitTime: wait}).WithContext(ctx))
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			if cfg.OnError != nil {
				cfg.OnError(c.translate("service "+cfg.Service, err))
			}
			t := time.NewTimer(cfg.RetryDelay)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
			continue
		}
		// NB: an index that goes backwards (a server restored from a
		// snapshot) restarts the watch from zero, as Nomad's docs ask.
		if qm.LastIndex < index {
			index = 0
		} else {
			index = qm.LastIndex
		}
		servers := c.modelServers(ctx, regs)
		wait = cfg.Wait
		for _, s := range servers {
			if s.Pending {
				wait = min(cfg.Wait, cfg.PendingWait)
			}
		}
		if first || !slices.EqualFunc(servers, last, sameServer) {
			first = false
			last = servers
			onChange(servers)
		}
	}
}

func sameServer(a, b ModelServer) bool {
	return a.ID == b.ID && a.BaseURL == b.BaseURL && a.Failing == b.Failing && a.Pending == b.Pending && slices.Equal(a.Models, b.Models)
}

func (c *Client) modelServers(ctx context.Context, regs []*api.ServiceRegistration) []ModelServer {
	checks := map[string]api.AllocCheckStatuses{}
	out := []ModelServer{}
	for _, r := range regs {
		s := ModelServer{ID: r.ID, AllocID: r.AllocID, BaseURL: "http://" + net.JoinHostPort(r.Address, strconv.Itoa(r.Port)) + "/v1"}
		for _, t := range r.Tags {
			switch {
			case strings.HasPrefix(t, ModelTagPrefix):
				s.Models = append(s.Models, strings.TrimPrefix(t, ModelTagPrefix))
			case strings.HasPrefix(t, EngineTagPrefix):
				s.Engine = strings.TrimPrefix(t, EngineTagPrefix)
			}
		}
		sort.Strings(s.Models)
		st, ok := checks[r.AllocID]
		if !ok {
			var err error
			st, err = c.api.Allocations().Checks(r.AllocID, (&api.QueryOptions{}).WithContext(ctx))
			if err != nil {
				// The allocation is gone or its client does not answer:
				// nothing vouches for the registration.
				var ure api.UnexpectedResponseError
				if errors.As(err, &ure) && ure.StatusCode() == 404 {
					st = api.AllocCheckStatuses{"": {Check: "allocation", Status: "failure"}}
				} else {
					st = api.AllocCheckStatuses{"": {Check: "checks", Status: "failure", Output: err.Error()}}
				}
			}
			checks[r.AllocID] = st
		}
		var parts []string
		for _, cs := range st {
			if cs.Service != "" && cs.Service != r.ServiceName {
				continue
			}
			switch cs.Status {
			case "failure":
				s.Failing = true
			case "pending", "":
				s.Pending = true
			}
			parts = append(parts, fmt.Sprintf("%s=%s", cs.Check, cs.Status))
		}
		sort.Strings(parts)
		s.Checks = strings.Join(parts, ",")
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Backends converts discovered servers for the model router.
func Backends(ss []ModelServer) []llm.Backend {
	out := make([]llm.Backend, 0, len(ss))
	for _, s := range ss {
		out = append(out, llm.Backend{ID: s.ID, BaseURL: s.BaseURL, Models: s.Models, Engine: s.Engine, Failing: s.Failing})
	}
	return out
}
