package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stichdev/stich/nomad"
)

// nomadFlags are the connection and job flags of `stich nomad`.
type nomadFlags struct {
	addr, token, region, namespace string

	datacenters []string
	nodePool    string

	// stich
	count         int
	driver        string
	command       string
	hostVolume    string
	noVolume      bool
	noDistinct    bool
	shutdownGrace time.Duration
	killTimeout   time.Duration
	serveArgs     []string
	buildArgs     []string

	// inference
	model        string
	servedName   string
	image        string
	gpus         int
	gpuMemoryMiB int
	maxModelLen  int
}

func (f *nomadFlags) registerConn(fl *pflag.FlagSet) {
	fl.StringVar(&f.addr, "nomad-addr", envOr("NOMAD_ADDR", "http://127.0.0.1:4646"), "Nomad HTTP API address (env NOMAD_ADDR)")
	fl.StringVar(&f.token, "nomad-token", os.Getenv("NOMAD_TOKEN"), "Nomad ACL token (env NOMAD_TOKEN)")
	fl.StringVar(&f.region, "nomad-region", os.Getenv("NOMAD_REGION"), "Nomad region (env NOMAD_REGION; default the agent's)")
	fl.StringVar(&f.namespace, "nomad-namespace", os.Getenv("NOMAD_NAMESPACE"), "Nomad namespace (env NOMAD_NAMESPACE; default \"default\")")
}

func (f *nomadFlags) registerJob(fl *pflag.FlagSet) {
	fl.StringSliceVar(&f.datacenters, "datacenter", nil, "datacenters the job may run in (default all: \"*\")")
	fl.StringVar(&f.nodePool, "node-pool", "", "node pool to place the job in (default \"default\")")
	fl.IntVar(&f.count, "count", 0, "stich: number of nodes (default 3); vllm, ollama: number of servers (default 1)")
	fl.StringVar(&f.driver, "driver", "", "stich, sandbox: task driver, exec (default) or raw_exec")
	fl.StringVar(&f.command, "command", "", "stich, sandbox: path of the stich binary on the clients (default /usr/local/bin/stich)")
	fl.StringVar(&f.hostVolume, "host-volume", "", "stich: client host volume for the nodes' data (default stich-data)")
	fl.BoolVar(&f.noVolume, "no-host-volume", false, "stich: keep data in the allocation folder (lost when an allocation is replaced; for trials)")
	fl.BoolVar(&f.noDistinct, "no-distinct-hosts", false, "stich: allow several nodes on one client (a lost client then loses several copies)")
	fl.DurationVar(&f.shutdownGrace, "shutdown-grace", 0, "stich: graceful hand-off time of a node (default 20s)")
	fl.DurationVar(&f.killTimeout, "kill-timeout", 0, "stich: time from SIGTERM to SIGKILL; must exceed --shutdown-grace (default grace + 10s)")
	fl.StringSliceVar(&f.serveArgs, "serve-arg", nil, "stich: extra `stich serve` arguments, e.g. --serve-arg=--provider=vllm")
	fl.StringArrayVar(&f.buildArgs, "build-arg", nil, "sandbox: extra `stich sandbox-build` arguments, e.g. --build-arg=--npm-cache=/var/cache/stich-npm")
	fl.StringVar(&f.model, "model", "", "vllm: Hugging Face model id; ollama: model tag (required for vllm and ollama)")
	fl.StringVar(&f.servedName, "served-name", "", "vllm: model id clients ask for (default --model)")
	fl.StringVar(&f.image, "image", "", "vllm, ollama: container image (default a pinned vllm/vllm-openai or ollama/ollama)")
	fl.IntVar(&f.gpus, "gpus", 0, "vllm, ollama: GPUs per server (default 1)")
	fl.IntVar(&f.gpuMemoryMiB, "gpu-memory-mib", 0, "vllm, ollama: least memory per GPU in MiB (default 24576)")
	fl.IntVar(&f.maxModelLen, "max-model-len", 0, "vllm: --max-model-len (default the model's)")
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// nomadJobKinds are the jobs `stich nomad` renders.
var nomadJobKinds = []string{"stich", "vllm", "ollama", "sandbox"}

func (f *nomadFlags) job(kind string) (*api.Job, error) {
	pl := nomad.Placement{Region: f.region, Namespace: f.namespace, Datacenters: f.datacenters, NodePool: f.nodePool}
	var (
		j   *api.Job
		err error
	)
	switch kind {
	case "stich":
		j, err = nomad.StichJob{
			Placement: pl, Count: f.count, Driver: f.driver, Command: f.command, HostVolume: f.hostVolume,
			NoHostVolume: f.noVolume, NoDistinctHosts: f.noDistinct, ShutdownGrace: f.shutdownGrace,
			KillTimeout: f.killTimeout, ExtraArgs: f.serveArgs,
		}.Job()
	case "vllm", "ollama":
		j, err = nomad.InferenceJob{
			Placement: pl, Engine: nomad.Engine(kind), Model: f.model, ServedName: f.servedName, Image: f.image,
			Count: f.count, GPUs: f.gpus, GPUMemoryMiB: f.gpuMemoryMiB, MaxModelLen: f.maxModelLen,
		}.Job()
	case "sandbox":
		j, err = nomad.SandboxJob{Placement: pl, Driver: f.driver, Command: f.command, Args: f.buildArgs}.Job()
	default:
		return nil, usageError{fmt.Errorf("unknown job %q: want one of %s", kind, strings.Join(nomadJobKinds, ", "))}
	}
	if err != nil {
		return nil, usageError{err}
	}
	return j, nil
}

func (f *nomadFlags) client() (*nomad.Client, error) {
	c, err := nomad.NewClient(nomad.ClientConfig{Address: f.addr, Token: f.token, Region: f.region, Namespace: f.namespace})
	if err != nil {
		return nil, usageError{err}
	}
	return c, nil
}

// nomadFailure gives Nomad errors the failure exit code with their
// explanation (the errors already say what to do).
func nomadFailure(err error) error {
	if err == nil {
		return nil
	}
	var ue usageError
	if errors.As(err, &ue) {
		return err
	}
	return &exitError{code: exitFailure, err: err}
}

func newNomadCmd() *cobra.Command {
	f := &nomadFlags{}
	cmd := &cobra.Command{
		Use:   "nomad",
		Short: "Render, plan, apply and inspect stich's Nomad jobs",
		Long: `Run stich on Nomad: 'stich nomad render' prints a job file (stich nodes, a vLLM or Ollama
GPU model server, or the sandbox build job), 'plan' shows what Nomad would change, 'apply'
registers the job and waits for its placement, 'status' lists its allocations.

Jobs: ` + strings.Join(nomadJobKinds, ", ") + `. The Nomad API is reached at --nomad-addr (NOMAD_ADDR) with
--nomad-token (NOMAD_TOKEN). See the README's "On Nomad" section.`,
		Example: `  stich nomad render stich --count 3 > stich.nomad.hcl
  stich nomad render vllm --model Qwen/Qwen2.5-Coder-32B-Instruct --gpus 2
  NOMAD_ADDR=http://nomad.internal:4646 NOMAD_TOKEN=... stich nomad plan stich
  stich nomad apply ollama --model qwen2.5-coder:7b --gpu-memory-mib 8192
  stich nomad status stich`,
	}
	render := &cobra.Command{
		Use:   "render JOB",
		Short: "Print a job file (HCL; --json for the API payload)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			asJSON, _ := cmd.Flags().GetBool("json")
			outDir, _ := cmd.Flags().GetString("out")
			kinds := args
			if args[0] == "all" {
				kinds = nomadJobKinds
			}
			for _, kind := range kinds {
				j, err := f.job(kind)
				if err != nil {
					return err
				}
				var b []byte
				if asJSON {
					b, _ = json.MarshalIndent(map[string]any{"Job": j}, "", "  ")
					b = append(b, '\n')
				} else {
					b = nomad.RenderHCL(j)
				}
				if outDir == "" {
					cmd.OutOrStdout().Write(b)
					continue
				}
				ext := ".nomad.hcl"
				if asJSON {
					ext = ".json"
				}
				path := filepath.Join(outDir, *j.ID+ext)
				if err := os.WriteFile(path, b, 0o644); err != nil {
					return &exitError{code: exitFailure, err: err}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", path)
			}
			return nil
		},
	}
	render.Flags().Bool("json", false, "print the JSON payload of PUT /v1/jobs instead of HCL")
	render.Flags().String("out", "", "write one file per job into this folder instead of stdout")
	f.registerJob(render.Flags())
	render.Flags().StringVar(&f.region, "nomad-region", os.Getenv("NOMAD_REGION"), "Nomad region (env NOMAD_REGION)")
	render.Flags().StringVar(&f.namespace, "nomad-namespace", os.Getenv("NOMAD_NAMESPACE"), "Nomad namespace (env NOMAD_NAMESPACE)")

	plan := &cobra.Command{
		Use:   "plan JOB",
		Short: "Show what registering the job would change (nomad job plan)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			j, err := f.job(args[0])
			if err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			p, err := c.Plan(cmd.Context(), j)
			if err != nil {
				return nomadFailure(err)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "job %q: %s (job modify index %d)\n", *j.ID, strings.ToLower(p.Diff), p.JobModifyIndex)
			for _, g := range j.TaskGroups {
				if u := p.Groups[*g.Name]; u != nil {
					fmt.Fprintf(w, "  group %q: %d to place, %d to stop, %d to replace, %d in place, %d unchanged\n",
						*g.Name, u.Place, u.Stop, u.DestructiveUpdate, u.InPlaceUpdate, u.Ignore)
				}
			}
			for _, fl := range p.Failures {
				fmt.Fprintf(w, "  placement would fail: %s\n", fl)
			}
			if len(p.Failures) > 0 {
				return &exitError{code: exitFailure, err: fmt.Errorf("%w: %s", nomad.ErrPlacement, strings.Join(p.Failures, "; "))}
			}
			return nil
		},
	}
	f.registerJob(plan.Flags())
	f.registerConn(plan.Flags())

	apply := &cobra.Command{
		Use:   "apply JOB",
		Short: "Register the job and wait for its placement (nomad job run)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			j, err := f.job(args[0])
			if err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			eval, err := c.Apply(cmd.Context(), j)
			if err != nil {
				return nomadFailure(err)
			}
			if eval == "" {
				fmt.Fprintf(cmd.OutOrStdout(), "registered job %q (dispatched per build)\n", *j.ID)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "registered job %q; evaluation %s placed every allocation\n", *j.ID, eval)
			return nil
		},
	}
	f.registerJob(apply.Flags())
	f.registerConn(apply.Flags())

	status := &cobra.Command{
		Use:   "status [JOB]",
		Short: "Show a job's allocations (default job: stich)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := "stich"
			if len(args) == 1 {
				id = args[0]
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			st, err := c.Status(cmd.Context(), id)
			if err != nil {
				return nomadFailure(err)
			}
			printJobStatus(cmd.OutOrStdout(), st)
			return nil
		},
	}
	f.registerConn(status.Flags())

	scale := &cobra.Command{
		Use:   "scale JOB GROUP COUNT",
		Short: "Set a group's count (nomad job scale); stich nodes hand off before they stop",
		Args:  cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			var n int
			if _, err := fmt.Sscanf(args[2], "%d", &n); err != nil || n < 0 {
				return usageError{fmt.Errorf("count %q: want a number ≥ 0", args[2])}
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			if err := c.Scale(cmd.Context(), args[0], args[1], n, "stich nomad scale"); err != nil {
				return nomadFailure(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "scaled %s/%s to %d\n", args[0], args[1], n)
			return nil
		},
	}
	f.registerConn(scale.Flags())
	cmd.AddCommand(render, plan, apply, status, scale, newNomadModelsCmd())
	return cmd
}

func printJobStatus(w io.Writer, st *nomad.JobStatus) {
	j := st.Job
	fmt.Fprintf(w, "job %q: %s %s, version %d\n", *j.ID, *j.Type, *j.Status, *j.Version)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ALLOC\tID\tNODE\tDESIRED\tSTATUS\tTASKS")
	for _, a := range st.Allocs {
		var tasks []string
		for name, ts := range a.TaskStates {
			tasks = append(tasks, name+"="+ts.State)
		}
		sort.Strings(tasks)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Name, a.ID[:8], a.NodeName, a.DesiredStatus, a.ClientStatus, strings.Join(tasks, ","))
	}
	tw.Flush()
}
