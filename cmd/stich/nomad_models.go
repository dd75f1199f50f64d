package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stichdev/stich/llm"
	"github.com/stichdev/stich/nomad"
)

func newNomadModelsCmd() *cobra.Command {
	f := &nomadFlags{}
	var service string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "models",
		Short: "List the model servers in Nomad's catalogue, their models and load",
		Long: `Read the model servers registered in Nomad (service stich-inference by default, as the
vllm and ollama jobs register them), probe each one's /v1/models and /metrics, and print
whether it is in rotation, the models it serves with their context length, and its load
(vLLM's running and waiting requests).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			// One catalogue read: the watch's first answer.
			var servers []nomad.ModelServer
			var watchErr error
			wctx, stop := context.WithCancel(ctx)
			err = c.WatchModelServers(wctx, nomad.WatchConfig{Service: service, OnError: func(e error) { watchErr = e; stop() }},
				func(ss []nomad.ModelServer) { servers = ss; stop() })
			stop()
			if watchErr != nil {
				return nomadFailure(watchErr)
			}
			if servers == nil && err != nil {
				return nomadFailure(fmt.Errorf("nomad: reading service %q: %w", service, err))
			}
			r := llm.NewRouter(llm.WithProbeTimeout(timeout / 2))
			r.Update(ctx, nomad.Backends(servers))
			r.Refresh(ctx)
			checks := map[string]string{}
			for _, s := range servers {
				checks[s.ID] = s.Checks
			}
			w := cmd.OutOrStdout()
			if len(servers) == 0 {
				fmt.Fprintf(w, "no model servers registered as %q\n", service)
				return nil
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SERVER\tENGINE\tMODELS (CONTEXT)\tROTATION\tRUNNING\tWAITING\tCHECKS")
			for _, s := range r.Status() {
				var models []string
				for m, n := range s.Served {
					if n > 0 {
						models = append(models, fmt.Sprintf("%s (%d)", m, n))
					} else {
						models = append(models, m)
					}
				}
				sort.Strings(models)
				if len(models) == 0 {
					models = s.Models
				}
				rot := "in"
				if !s.Ready {
					rot = "out: " + s.Reason
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", strings.TrimSuffix(s.BaseURL, "/v1"), orDash(s.Engine),
					strings.Join(models, ", "), rot, s.Running, s.Waiting, orDash(checks[s.ID]))
			}
			return tw.Flush()
		},
	}
	f.registerConn(cmd.Flags())
	cmd.Flags().StringVar(&service, "service", nomad.ServiceInference, "Nomad service the model servers register")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "how long to wait for Nomad and the servers")
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
