package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/stichdev/stich/llm"
	"github.com/stichdev/stich/nomad"
)

// routerBaseURL is the base URL a provider uses to go through the model
// router; the router ignores the host and picks a real server.
const routerBaseURL = "http://stich-router/v1"

// nomadModelFlags make `stich serve` find its model servers in Nomad's
// catalogue instead of one --base-url.
type nomadModelFlags struct {
	on              bool
	addr, token     string
	service         string
	wait, firstWait time.Duration
	scrapeInterval  time.Duration
}

func (n *nomadModelFlags) register(fl *pflag.FlagSet) {
	fl.BoolVar(&n.on, "nomad-models", false, "send model requests to the model servers registered in Nomad (service --nomad-model-service), least loaded first; needs --model")
	fl.StringVar(&n.addr, "nomad-addr", envOr("NOMAD_ADDR", "http://127.0.0.1:4646"), "with --nomad-models or --sandbox nomad: Nomad HTTP API address (env NOMAD_ADDR)")
	fl.StringVar(&n.token, "nomad-token", os.Getenv("NOMAD_TOKEN"), "with --nomad-models or --sandbox nomad: Nomad ACL token (env NOMAD_TOKEN; needs dispatch-job, read-job and read-logs)")
	fl.StringVar(&n.service, "nomad-model-service", nomad.ServiceInference, "with --nomad-models: the Nomad service model servers register")
	fl.DurationVar(&n.wait, "nomad-wait", 10*time.Second, "with --nomad-models: longest blocking query; failing checks are seen within it")
	fl.DurationVar(&n.firstWait, "nomad-first-wait", 10*time.Second, "with --nomad-models: how long start-up waits for the first catalogue read")
	fl.DurationVar(&n.scrapeInterval, "nomad-scrape-interval", 2*time.Second, "with --nomad-models: how often servers' queues are read and failed servers probed again")
}

// start, with --nomad-models, points the model flags at the router,
// starts the catalogue watch feeding it and waits for the first read, so
// the node is ready with its servers known. The returned stop (idempotent)
// ends the watch and waits for its goroutines.
func (n *nomadModelFlags) start(ctx context.Context, models *modelFlags, log *slog.Logger) (stop func(), err error) {
	if !n.on {
		return func() {}, nil
	}
	if models.model == "" && os.Getenv(llm.EnvModel) == "" {
		return nil, usageError{errors.New("--nomad-models needs --model: the model to ask the discovered servers for")}
	}
	if models.provider == "" && os.Getenv(llm.EnvProvider) == "" {
		models.provider = string(llm.KindCustom)
	}
	if models.baseURL == "" {
		models.baseURL = routerBaseURL
	}
	c, err := nomad.NewClient(nomad.ClientConfig{Address: n.addr, Token: n.token})
	if err != nil {
		return nil, usageError{err}
	}
	router := llm.NewRouter(llm.WithScrapeInterval(n.scrapeInterval))
	models.clientOpts = append(models.clientOpts, llm.WithHTTPClient(&http.Client{Transport: router}))

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	first := make(chan struct{})
	var firstOnce sync.Once
	wg.Go(func() {
		c.WatchModelServers(ctx, nomad.WatchConfig{
			Service: n.service, Wait: n.wait,
			OnError: func(err error) { log.Warn("model servers: catalogue read failed", "err", err) },
		}, func(ss []nomad.ModelServer) {
			router.Update(ctx, nomad.Backends(ss))
			router.Refresh(ctx)
			ready := 0
			for _, s := range router.Status() {
				if s.Ready {
					ready++
				} else {
					log.Info("model server out of rotation", "url", s.BaseURL, "reason", s.Reason)
				}
			}
			log.Info("model servers", "registered", len(ss), "in_rotation", ready)
			firstOnce.Do(func() { close(first) })
		})
	})
	wg.Go(func() { router.Run(ctx) })
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t := time.NewTimer(n.firstWait)
	defer t.Stop()
	select {
	case <-first:
		return stop, nil
	case <-t.C:
		stop()
		return nil, fmt.Errorf("--nomad-models: no answer from Nomad at %s within %s (see the warnings above)", n.addr, n.firstWait)
	case <-ctx.Done():
		stop()
		return nil, ctx.Err()
	}
}
