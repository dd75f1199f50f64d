package nomad

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"
)

// Service names the jobs register in Nomad's catalogue.
const (
	// ServiceStich is a node's API (its --http port).
	ServiceStich = "stich"
	// ServiceStichGossip is a node's gossip port; new nodes --join it.
	ServiceStichGossip = "stich-gossip"
	// ServiceInference is every model server's OpenAI-compatible API. Its
	// tags name the served models ([ModelTagPrefix]) and the engine.
	ServiceInference = "stich-inference"
	// ModelTagPrefix starts a tag naming a served model: "model=qwen2.5-coder:7b".
	ModelTagPrefix = "model="
	// EngineTagPrefix starts a tag naming the server software: "engine=vllm".
	EngineTagPrefix = "engine="
)

// ErrInvalidJob is wrapped by every job config and spec validation error.
var ErrInvalidJob = errors.New("nomad: invalid job")

// ValidationError lists every problem found at once.
type ValidationError struct{ Problems []string }

func (e *ValidationError) Error() string {
	return "nomad: invalid job: " + strings.Join(e.Problems, "; ")
}

// Is makes errors.Is(err, ErrInvalidJob) hold.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidJob }

func problems(p []string) error {
	if len(p) == 0 {
		return nil
	}
	return &ValidationError{Problems: p}
}

var jobIDRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`)

// Placement is where a job may run; shared by every job kind.
type Placement struct {
	// Region is the Nomad region; empty is the agent's.
	Region string
	// Namespace is the Nomad namespace; empty is "default".
	Namespace string
	// Datacenters lists where the job may be placed; default ["*"] (all).
	Datacenters []string
	// NodePool restricts placement to one node pool; empty is "default".
	NodePool string
}

func (p Placement) apply(j *api.Job) {
	if p.Region != "" {
		j.Region = &p.Region
	}
	if p.Namespace != "" {
		j.Namespace = &p.Namespace
	}
	j.Datacenters = p.Datacenters
	if len(j.Datacenters) == 0 {
		j.Datacenters = []string{"*"}
	}
	if p.NodePool != "" {
		j.NodePool = &p.NodePool
	}
}

// StichJob configures the `stich` service job: Count nodes forming one
// gossip cluster.
type StichJob struct {
	Placement
	// ID is the job id; default "stich".
	ID string
	// Count is the number of nodes; default 3 (replication factor 3
	// survives the loss of one).
	Count int
	// Driver runs the binary: "exec" (default; the binary is at Command on
	// every client) or "raw_exec" (no isolation; tests and trusted hosts).
	Driver string
	// Command is the stich binary on the client; default /usr/local/bin/stich.
	Command string
	// HostVolume is the client host volume holding the nodes' Pebble data
	// (declared in the client config as host_volume "stich-data"); each
	// allocation slot keeps its own folder in it, so a replaced node finds
	// its data again. Default "stich-data". Empty HostVolume with
	// NoHostVolume keeps data in the allocation folder (tests).
	HostVolume   string
	NoHostVolume bool
	// DistinctHosts places each node on its own client, so that losing a
	// host loses at most one copy. Default true (set NoDistinctHosts to
	// turn it off).
	NoDistinctHosts bool
	// ShutdownGrace is passed as --shutdown-grace: the time a node's
	// graceful hand-off may take. Default 20s.
	ShutdownGrace time.Duration
	// KillTimeout is how long Nomad waits after SIGTERM before SIGKILL.
	// It must exceed ShutdownGrace; default ShutdownGrace + 10s. NB: a
	// client caps it at its max_kill_timeout (30s by default).
	KillTimeout time.Duration
	// CPU (MHz) and MemoryMB reserve resources per node; defaults 1000 and 1024.
	CPU, MemoryMB int
	// ExtraArgs are appended to `stich serve` (model and sandbox flags).
	ExtraArgs []string
	// Env is set in the task (for example STICH_LLM_* or API key variables).
	Env map[string]string
}

func (c StichJob) withDefaults() StichJob {
	if c.ID == "" {
		c.ID = "stich"
	}
	if c.Count == 0 {
		c.Count = 3
	}
	if c.Driver == "" {
		c.Driver = "exec"
	}
	if c.Command == "" {
		c.Command = "/usr/local/bin/stich"
	}
	if c.HostVolume == "" && !c.NoHostVolume {
		c.HostVolume = "stich-data"
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = 20 * time.Second
	}
	if c.KillTimeout == 0 {
		c.KillTimeout = c.ShutdownGrace + 10*time.Second
	}
	if c.CPU == 0 {
		c.CPU = 1000
	}
	if c.MemoryMB == 0 {
		c.MemoryMB = 1024
	}
	return c
}

// Validate reports every problem of the (defaulted) config at once.
func (c StichJob) Validate() error {
	c = c.withDefaults()
	var p []string
	if !jobIDRE.MatchString(c.ID) {
		p = append(p, fmt.Sprintf("job id %q: want letters, digits, '.', '_' or '-'", c.ID))
	}
	if c.Count < 1 || c.Count > 100 {
		p = append(p, fmt.Sprintf("count %d: want 1 to 100", c.Count))
	}
	if c.Driver != "exec" && c.Driver != "raw_exec" {
		p = append(p, fmt.Sprintf("driver %q: want exec or raw_exec", c.Driver))
	}
	if !strings.HasPrefix(c.Command, "/") {
		p = append(p, fmt.Sprintf("command %q: want an absolute path", c.Command))
	}
	if c.KillTimeout <= c.ShutdownGrace {
		p = append(p, fmt.Sprintf("kill timeout %s must exceed the shutdown grace %s, or Nomad kills nodes mid hand-off", c.KillTimeout, c.ShutdownGrace))
	}
	if c.CPU < 100 || c.MemoryMB < 256 {
		p = append(p, fmt.Sprintf("resources cpu=%d memory=%d: want at least 100 MHz and 256 MB", c.CPU, c.MemoryMB))
	}
	return problems(p)
}

// Job builds the Nomad job.
//
// Each node's name and data folder come from NOMAD_ALLOC_INDEX, the
// allocation's slot (0..Count-1), which a replacement allocation keeps:
// node stich-1 stays stich-1 with the same Pebble data after a restart,
// a reschedule or an update. Nodes find each other through the
// stich-gossip service: a template lists its registrations into
// STICH_JOIN (which `stich serve` reads as --join); the first node finds
// none and starts a cluster, later ones join it. The template is rendered
// once (change_mode "noop"): after joining, gossip keeps the membership.
func (c StichJob) Job() (*api.Job, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	j := api.NewServiceJob(c.ID, c.ID, "", 50)
	j.Region = nil
	j.Priority = nil
	c.Placement.apply(j)
	if !c.NoDistinctHosts {
		j.Constraints = []*api.Constraint{{Operand: api.ConstraintDistinctHosts, RTarget: "true"}}
	}
	args := []string{
		"serve",
		"--node-name", "stich-${NOMAD_ALLOC_INDEX}",
		"--data", "${NOMAD_ALLOC_DIR}/data",
		"--http", "${NOMAD_ADDR_http}",
		"--gossip-addr", "${NOMAD_ADDR_gossip}",
		"--gossip-profile", "lan",
		"--actor-addr", "${NOMAD_ADDR_actor}",
		"--replication-addr", "${NOMAD_ADDR_repl}",
		"--preview-http", "${NOMAD_ADDR_preview}",
		"--region", "${node.region}",
		"--zone", "${node.datacenter}",
		"--shutdown-grace", c.ShutdownGrace.String(),
	}
	if c.HostVolume != "" {
		args[4] = "/var/lib/stich/node-${NOMAD_ALLOC_INDEX}"
	}
	args = append(args, c.ExtraArgs...)
	task := &api.Task{
		Name:   "stich",
		Driver: c.Driver,
		Config: map[string]any{"command": c.Command, "args": args},
		Env:    c.Env,
		Templates: []*api.Template{{
			DestPath:     ptr("local/join.env"),
			ChangeMode:   ptr("noop"),
			Envvars:      ptr(true),
			EmbeddedTmpl: ptr(`STICH_JOIN={{ range $i, $s := nomadService "` + ServiceStichGossip + `" }}{{ if $i }},{{ end }}{{ $s.Address }}:{{ $s.Port }}{{ end }}` + "\n"),
		}},
		Resources:   &api.Resources{CPU: ptr(c.CPU), MemoryMB: ptr(c.MemoryMB)},
		KillTimeout: ptr(c.KillTimeout),
		KillSignal:  "SIGTERM",
	}
	if c.HostVolume != "" {
		task.VolumeMounts = []*api.VolumeMount{{Volume: ptr("data"), Destination: ptr("/var/lib/stich")}}
	}
	g := &api.TaskGroup{
		Name:  ptr("stich"),
		Count: ptr(c.Count),
		Networks: []*api.NetworkResource{{DynamicPorts: []api.Port{
			{Label: "http"}, {Label: "gossip"}, {Label: "actor"}, {Label: "repl"}, {Label: "preview"},
		}}},
		Services: []*api.Service{
			{
				Name: ServiceStich, PortLabel: "http", Provider: "nomad", Tags: []string{"http"},
				Checks: []api.ServiceCheck{{Name: "metrics", Type: "http", Path: "/metrics", Interval: 10 * time.Second, Timeout: 3 * time.Second}},
			},
			{Name: ServiceStichGossip, PortLabel: "gossip", Provider: "nomad"},
			{Name: ServiceStich + "-preview", PortLabel: "preview", Provider: "nomad"},
		},
		// NB: a node whose --join finds no member answering yet (nodes
		// placed together register before they listen) exits; it is
		// restarted, and its join list rendered again, until one answers.
		RestartPolicy: &api.RestartPolicy{Attempts: ptr(10), Interval: ptr(10 * time.Minute), Delay: ptr(5 * time.Second), Mode: ptr("delay")},
		Update: &api.UpdateStrategy{
			MaxParallel:      ptr(1),
			Canary:           ptr(1),
			AutoPromote:      ptr(false),
			AutoRevert:       ptr(true),
			HealthCheck:      ptr("checks"),
			MinHealthyTime:   ptr(15 * time.Second),
			HealthyDeadline:  ptr(5 * time.Minute),
			ProgressDeadline: ptr(10 * time.Minute),
		},
		Tasks: []*api.Task{task},
	}
	if c.HostVolume != "" {
		g.Volumes = map[string]*api.VolumeRequest{"data": {Name: "data", Type: "host", Source: c.HostVolume}}
	}
	j.TaskGroups = []*api.TaskGroup{g}
	return j, nil
}

// Engine is a model server's software.
type Engine string

// Engines.
const (
	EngineVLLM   Engine = "vllm"
	EngineOllama Engine = "ollama"
)

// InferenceJob configures a GPU model server job: vLLM or Ollama in
// Docker, registered as [ServiceInference] with one tag per served model.
type InferenceJob struct {
	Placement
	// ID is the job id; default "inference-" + Engine.
	ID string
	// Engine is vllm or ollama.
	Engine Engine
	// Model is the model to serve: a Hugging Face id for vLLM
	// ("Qwen/Qwen2.5-Coder-32B-Instruct"), an Ollama tag for Ollama
	// ("qwen2.5-coder:32b").
	Model string
	// ServedName is the model id clients ask for; default Model.
	ServedName string
	// Image is the container image; default vllm/vllm-openai:v0.11.0 or
	// ollama/ollama:0.12.6.
	Image string
	// Count is the number of servers; default 1.
	Count int
	// GPUs per server (device "nvidia/gpu" count); default 1.
	GPUs int
	// GPUMemoryMiB is the least memory each GPU must have; default 24576.
	GPUMemoryMiB int
	// MaxModelLen is vLLM's --max-model-len (0 leaves the model's).
	MaxModelLen int
	// CPU (MHz) and MemoryMB per server; defaults 4000 and 32768.
	CPU, MemoryMB int
	// HealthyDeadline bounds the time from start to a passing readiness
	// check (model download and load); default 30m.
	HealthyDeadline time.Duration
}

func (c InferenceJob) withDefaults() InferenceJob {
	if c.ID == "" {
		c.ID = "inference-" + string(c.Engine)
	}
	if c.ServedName == "" {
		c.ServedName = c.Model
	}
	if c.Image == "" {
		switch c.Engine {
		case EngineVLLM:
			c.Image = "vllm/vllm-openai:v0.11.0"
		case EngineOllama:
			c.Image = "ollama/ollama:0.12.6"
		}
	}
	if c.Count == 0 {
		c.Count = 1
	}
	if c.GPUs == 0 {
		c.GPUs = 1
	}
	if c.GPUMemoryMiB == 0 {
		c.GPUMemoryMiB = 24576
	}
	if c.CPU == 0 {
		c.CPU = 4000
	}
	if c.MemoryMB == 0 {
		c.MemoryMB = 32768
	}
	if c.HealthyDeadline == 0 {
		c.HealthyDeadline = 30 * time.Minute
	}
	return c
}

var modelNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,199}$`)

// Validate reports every problem of the (defaulted) config at once.
func (c InferenceJob) Validate() error {
	c = c.withDefaults()
	var p []string
	if c.Engine != EngineVLLM && c.Engine != EngineOllama {
		p = append(p, fmt.Sprintf("engine %q: want vllm or ollama", c.Engine))
	}
	if !jobIDRE.MatchString(c.ID) {
		p = append(p, fmt.Sprintf("job id %q: want letters, digits, '.', '_' or '-'", c.ID))
	}
	if !modelNameRE.MatchString(c.Model) {
		p = append(p, fmt.Sprintf("model %q: want a model id such as Qwen/Qwen2.5-Coder-7B-Instruct or qwen2.5-coder:7b", c.Model))
	}
	if c.ServedName != c.Model && !modelNameRE.MatchString(c.ServedName) {
		p = append(p, fmt.Sprintf("served name %q: not a model id", c.ServedName))
	}
	if c.Count < 1 || c.GPUs < 1 || c.GPUs > 16 {
		p = append(p, fmt.Sprintf("count %d, gpus %d: want count ≥ 1 and 1-16 GPUs", c.Count, c.GPUs))
	}
	if c.HealthyDeadline < time.Minute {
		p = append(p, fmt.Sprintf("healthy deadline %s: loading a model takes minutes, want at least 1m", c.HealthyDeadline))
	}
	return problems(p)
}

// Job builds the Nomad job.
//
// Readiness: Nomad's native checks look at the status code only. vLLM
// answers /v1/models only once the engine has loaded the model (its
// /health answers as soon as the process is up), so an http check on
// /v1/models gates the deployment; Ollama answers at once and loads
// models on demand, so its check is POST /api/show for the model, which
// is 404 until the model is pulled. stich's own probe then reads
// /v1/models and routes to a server only when it lists the model.
func (c InferenceJob) Job() (*api.Job, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	j := api.NewServiceJob(c.ID, c.ID, "", 50)
	j.Region = nil
	j.Priority = nil
	c.Placement.apply(j)

	task := &api.Task{
		Name:        string(c.Engine),
		Driver:      "docker",
		KillTimeout: ptr(30 * time.Second),
		Resources: &api.Resources{
			CPU: ptr(c.CPU), MemoryMB: ptr(c.MemoryMB),
			Devices: []*api.RequestedDevice{{
				Name:  "nvidia/gpu",
				Count: ptr(uint64(c.GPUs)),
				Constraints: []*api.Constraint{{
					LTarget: "${device.attr.memory}", Operand: ">=", RTarget: fmt.Sprintf("%d MiB", c.GPUMemoryMiB),
				}},
			}},
		},
	}
	check := api.ServiceCheck{
		Name: "model-loaded", Type: "http", Interval: 15 * time.Second, Timeout: 5 * time.Second,
		CheckRestart: &api.CheckRestart{Limit: 3, Grace: ptr(c.HealthyDeadline)},
	}
	var g *api.TaskGroup
	switch c.Engine {
	case EngineVLLM:
		args := []string{
			"--model", c.Model, "--served-model-name", c.ServedName,
			"--host", "0.0.0.0", "--port", "8000",
			"--tensor-parallel-size", fmt.Sprint(c.GPUs),
		}
		if c.MaxModelLen > 0 {
			args = append(args, "--max-model-len", fmt.Sprint(c.MaxModelLen))
		}
		task.Config = map[string]any{
			"image": c.Image, "ports": []string{"http"}, "args": args,
			// NB: vLLM's workers share tensors through /dev/shm; Docker's
			// default 64 MB is far too small.
			"ipc_mode": "host",
		}
		task.Env = map[string]string{"HF_HOME": "/alloc/data/hf"}
		check.Path = "/v1/models"
		g = &api.TaskGroup{Name: ptr("vllm")}
	case EngineOllama:
		task.Config = map[string]any{"image": c.Image, "ports": []string{"http"}}
		task.Env = map[string]string{"OLLAMA_HOST": "0.0.0.0:8000", "OLLAMA_MODELS": "/alloc/data/ollama", "OLLAMA_KEEP_ALIVE": "-1"}
		check.Path, check.Method = "/api/show", "POST"
		check.Body = fmt.Sprintf(`{"model":%q}`, c.Model)
		// Ollama starts empty: a poststart task pulls the model through the
		// server's own API (the check stays failing until it is there).
		pull := &api.Task{
			Name:      "pull",
			Driver:    "docker",
			Lifecycle: &api.TaskLifecycle{Hook: "poststart"},
			Config: map[string]any{
				"image": "curlimages/curl:8.10.1",
				"args": []string{"-fsS", "--retry", "30", "--retry-connrefused", "--retry-delay", "2",
					"-d", fmt.Sprintf(`{"model":%q,"stream":false}`, c.Model), "http://${NOMAD_ADDR_http}/api/pull"},
			},
			Resources: &api.Resources{CPU: ptr(100), MemoryMB: ptr(64)},
		}
		g = &api.TaskGroup{Name: ptr("ollama"), Tasks: []*api.Task{pull}}
	}
	g.Count = ptr(c.Count)
	g.Networks = []*api.NetworkResource{{DynamicPorts: []api.Port{{Label: "http", To: 8000}}}}
	g.Services = []*api.Service{{
		Name: ServiceInference, PortLabel: "http", Provider: "nomad",
		Tags:   []string{ModelTagPrefix + c.ServedName, EngineTagPrefix + string(c.Engine)},
		Checks: []api.ServiceCheck{check},
	}}
	g.Update = &api.UpdateStrategy{
		MaxParallel:      ptr(1),
		HealthCheck:      ptr("checks"),
		MinHealthyTime:   ptr(30 * time.Second),
		HealthyDeadline:  ptr(c.HealthyDeadline),
		ProgressDeadline: ptr(c.HealthyDeadline + 10*time.Minute),
		AutoRevert:       ptr(true),
	}
	g.EphemeralDisk = &api.EphemeralDisk{Sticky: ptr(true), SizeMB: ptr(100 << 10)}
	g.Tasks = append([]*api.Task{task}, g.Tasks...)
	j.TaskGroups = []*api.TaskGroup{g}
	return j, nil
}

// SandboxJob configures the parameterized batch job that runs one app
// build: a dispatch fills workspace_url (a signed, single-use URL the
// task downloads the app from) and result_url (where it uploads its
// build report); the task runs `stich sandbox-build`, which installs,
// type-checks and bundles with the local runner's limits. [BuildRunner]
// dispatches it (stich serve --sandbox nomad).
type SandboxJob struct {
	Placement
	// ID is the job id; default "stich-sandbox".
	ID string
	// Driver runs the build: "exec" (default; chroot and cgroups) or
	// "raw_exec" (tests).
	Driver string
	// Command is the stich binary on the client; default /usr/local/bin/stich.
	Command string
	// CPU (MHz) and MemoryMB bound one build; defaults 2000 and 2048.
	CPU, MemoryMB int
	// MaxRun bounds a build's wall time; default 10m.
	MaxRun time.Duration
	// Args are more flags for `stich sandbox-build` (--npm-cache on a
	// host volume, --sandbox-uid, --npm-registry, --unsafe-sandbox).
	Args []string
}

func (c SandboxJob) withDefaults() SandboxJob {
	if c.ID == "" {
		c.ID = "stich-sandbox"
	}
	if c.Driver == "" {
		c.Driver = "exec"
	}
	if c.Command == "" {
		c.Command = "/usr/local/bin/stich"
	}
	if c.CPU == 0 {
		c.CPU = 2000
	}
	if c.MemoryMB == 0 {
		c.MemoryMB = 2048
	}
	if c.MaxRun == 0 {
		c.MaxRun = 10 * time.Minute
	}
	return c
}

// Validate reports every problem of the (defaulted) config at once.
func (c SandboxJob) Validate() error {
	c = c.withDefaults()
	var p []string
	if !jobIDRE.MatchString(c.ID) {
		p = append(p, fmt.Sprintf("job id %q: want letters, digits, '.', '_' or '-'", c.ID))
	}
	if c.Driver != "exec" && c.Driver != "raw_exec" {
		p = append(p, fmt.Sprintf("driver %q: want exec or raw_exec", c.Driver))
	}
	if !strings.HasPrefix(c.Command, "/") {
		p = append(p, fmt.Sprintf("command %q: want an absolute path", c.Command))
	}
	if c.MaxRun < time.Minute || c.MaxRun > 2*time.Hour {
		p = append(p, fmt.Sprintf("max run %s: want 1m to 2h", c.MaxRun))
	}
	return problems(p)
}

// Job builds the parameterized batch job.
func (c SandboxJob) Job() (*api.Job, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	j := api.NewBatchJob(c.ID, c.ID, "", 40)
	j.Region = nil
	j.Priority = nil
	c.Placement.apply(j)
	j.ParameterizedJob = &api.ParameterizedJobConfig{Payload: "forbidden", MetaRequired: []string{"workspace_url", "result_url"}}
	task := &api.Task{
		Name:   "build",
		Driver: c.Driver,
		Config: map[string]any{
			"command": c.Command,
			"args": append([]string{"sandbox-build",
				"--workspace-url", "${NOMAD_META_workspace_url}",
				"--result-url", "${NOMAD_META_result_url}",
				"--sandbox-dir", "${NOMAD_TASK_DIR}/sandbox"}, c.Args...),
		},
		Resources:   &api.Resources{CPU: ptr(c.CPU), MemoryMB: ptr(c.MemoryMB)},
		KillTimeout: ptr(5 * time.Second),
		LogConfig:   &api.LogConfig{MaxFiles: ptr(2), MaxFileSizeMB: ptr(10)},
	}
	j.TaskGroups = []*api.TaskGroup{{
		Name:  ptr("build"),
		Count: ptr(1),
		// A failed build is an answer, not something to retry; a lost
		// allocation is retried by the runner, which knows the session.
		RestartPolicy:    &api.RestartPolicy{Attempts: ptr(0), Mode: ptr("fail")},
		ReschedulePolicy: &api.ReschedulePolicy{Attempts: ptr(0), Unlimited: ptr(false)},
		MaxRunDuration:   ptr(c.MaxRun),
		EphemeralDisk:    &api.EphemeralDisk{SizeMB: ptr(2048)},
		Tasks:            []*api.Task{task},
	}}
	return j, nil
}

func ptr[T any](v T) *T { return &v }
