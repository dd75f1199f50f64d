package nomad

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/nomad/api"
	"github.com/zclconf/go-cty/cty"
)

var rewrite = flag.Bool("rewrite", false, "rewrite golden files (nomad/testdata and deploy/nomad)")

// exampleJobs are the jobs checked in under deploy/nomad.
func exampleJobs(t *testing.T) map[string]*api.Job {
	t.Helper()
	must := func(j *api.Job, err error) *api.Job {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	return map[string]*api.Job{
		"stich":            must(StichJob{}.Job()),
		"inference-vllm":   must(InferenceJob{Engine: EngineVLLM, Model: "Qwen/Qwen2.5-Coder-32B-Instruct", ServedName: "qwen2.5-coder-32b", GPUs: 2, GPUMemoryMiB: 40960, MaxModelLen: 32768}.Job()),
		"inference-ollama": must(InferenceJob{Engine: EngineOllama, Model: "qwen2.5-coder:7b", GPUMemoryMiB: 8192}.Job()),
		"stich-sandbox":    must(SandboxJob{}.Job()),
	}
}

func TestJobsGolden(t *testing.T) {
	for name, job := range exampleJobs(t) {
		t.Run(name, func(t *testing.T) {
			if err := CheckJob(job); err != nil {
				t.Fatalf("rendered job fails validation: %v", err)
			}
			got := RenderHCL(job)
			for _, path := range []string{
				filepath.Join("testdata", name+".nomad.hcl"),
				filepath.Join("..", "deploy", "nomad", name+".nomad.hcl"),
			} {
				if *rewrite {
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./nomad -run TestJobsGolden -rewrite)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s is stale; rendered:\n%s", path, got)
				}
			}
		})
	}
}

// hclNode is a parsed HCL body with every attribute evaluated.
type hclNode struct {
	attrs  map[string]cty.Value
	blocks []hclBlock
}

type hclBlock struct {
	typ    string
	labels []string
	body   *hclNode
}

func (n *hclNode) all(typ string) []hclBlock {
	var out []hclBlock
	for _, b := range n.blocks {
		if b.typ == typ {
			out = append(out, b)
		}
	}
	return out
}

func (n *hclNode) one(t *testing.T, typ string) *hclNode {
	t.Helper()
	bs := n.all(typ)
	if len(bs) != 1 {
		t.Fatalf("want one %q block, found %d", typ, len(bs))
	}
	return bs[0].body
}

func (n *hclNode) str(t *testing.T, name string) string {
	t.Helper()
	v, ok := n.attrs[name]
	if !ok || v.Type() != cty.String {
		t.Fatalf("attribute %q missing or not a string (%#v)", name, v)
	}
	return v.AsString()
}

func (n *hclNode) num(t *testing.T, name string) int64 {
	t.Helper()
	v, ok := n.attrs[name]
	if !ok || v.Type() != cty.Number {
		t.Fatalf("attribute %q missing or not a number", name)
	}
	i, _ := v.AsBigFloat().Int64()
	return i
}

func (n *hclNode) dur(t *testing.T, name string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(n.str(t, name))
	if err != nil {
		t.Fatalf("attribute %q: %v", name, err)
	}
	return d
}

func (n *hclNode) strings(t *testing.T, name string) []string {
	t.Helper()
	v, ok := n.attrs[name]
	if !ok || !(v.Type().IsTupleType() || v.Type().IsListType()) {
		t.Fatalf("attribute %q missing or not a list", name)
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		out = append(out, e.AsString())
	}
	return out
}

// parseJobFile parses an HCL job file as Nomad's parser would (hclsyntax)
// and evaluates every attribute without variables: a reference HCL would
// try to resolve (an unescaped ${...}) fails here, as it would make
// `nomad job run` fail.
func parseJobFile(t *testing.T, src []byte) *hclNode {
	t.Helper()
	f, diags := hclsyntax.ParseConfig(src, "job.nomad.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse: %v", diags)
	}
	var walk func(b *hclsyntax.Body) *hclNode
	walk = func(b *hclsyntax.Body) *hclNode {
		n := &hclNode{attrs: map[string]cty.Value{}}
		for name, a := range b.Attributes {
			v, diags := a.Expr.Value(nil)
			if diags.HasErrors() {
				t.Fatalf("attribute %s: %v", name, diags)
			}
			n.attrs[name] = v
		}
		for _, bl := range b.Blocks {
			n.blocks = append(n.blocks, hclBlock{bl.Type, bl.Labels, walk(bl.Body)})
		}
		return n
	}
	root := walk(f.Body.(*hclsyntax.Body))
	if len(root.attrs) != 0 || len(root.blocks) != 1 || root.blocks[0].typ != "job" || len(root.blocks[0].labels) != 1 {
		t.Fatalf("want exactly one job block with an id label")
	}
	return root
}

func readExample(t *testing.T, name string) (*hclNode, string) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "deploy", "nomad", name+".nomad.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	return parseJobFile(t, src), string(src)
}

func TestStichJobFile(t *testing.T) {
	root, _ := readExample(t, "stich")
	job := root.blocks[0].body
	if job.str(t, "type") != "service" || len(job.strings(t, "datacenters")) == 0 {
		t.Fatal("want a service job with datacenters")
	}
	if c := job.one(t, "constraint"); c.str(t, "operator") != "distinct_hosts" {
		t.Error("want a distinct_hosts constraint")
	}
	g := job.one(t, "group")
	if g.num(t, "count") != 3 {
		t.Errorf("count = %d, want 3", g.num(t, "count"))
	}
	up := g.one(t, "update")
	if up.num(t, "max_parallel") != 1 || up.num(t, "canary") < 1 || up.str(t, "health_check") != "checks" {
		t.Error("want update with max_parallel = 1, a canary and health_check = checks")
	}
	var ports []string
	for _, p := range g.one(t, "network").all("port") {
		ports = append(ports, p.labels[0])
	}
	if strings.Join(ports, ",") != "http,gossip,actor,repl,preview" {
		t.Errorf("ports = %v", ports)
	}
	vol := g.all("volume")
	if len(vol) != 1 || vol[0].body.str(t, "type") != "host" || vol[0].body.str(t, "source") != "stich-data" {
		t.Fatal("want a host volume stich-data")
	}
	var services []string
	for _, s := range g.all("service") {
		services = append(services, s.body.str(t, "name")+"@"+s.body.str(t, "port")+"/"+s.body.str(t, "provider"))
	}
	if strings.Join(services, " ") != "stich@http/nomad stich-gossip@gossip/nomad stich-preview@preview/nomad" {
		t.Errorf("services = %v", services)
	}
	task := g.one(t, "task")
	if task.str(t, "kill_signal") != "SIGTERM" {
		t.Error("kill_signal must be SIGTERM (the node hands off on it)")
	}
	cfg := task.one(t, "config")
	args := strings.Join(cfg.strings(t, "args"), " ")
	grace := time.Duration(0)
	for _, want := range []string{"serve", "--node-name stich-${NOMAD_ALLOC_INDEX}", "--data /var/lib/stich/node-${NOMAD_ALLOC_INDEX}", "--gossip-addr ${NOMAD_ADDR_gossip}", "--actor-addr ${NOMAD_ADDR_actor}", "--replication-addr ${NOMAD_ADDR_repl}", "--http ${NOMAD_ADDR_http}"} {
		if !strings.Contains(args, want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
	if _, after, ok := strings.Cut(args, "--shutdown-grace "); ok {
		grace, _ = time.ParseDuration(strings.Fields(after)[0])
	}
	if kt := task.dur(t, "kill_timeout"); grace == 0 || kt <= grace {
		t.Errorf("kill_timeout %s must exceed --shutdown-grace %s", kt, grace)
	}
	if vm := task.one(t, "volume_mount"); vm.str(t, "volume") != vol[0].labels[0] {
		t.Error("volume_mount must mount the group's volume")
	}
	tpl := task.one(t, "template")
	if !strings.Contains(tpl.str(t, "data"), `nomadService "stich-gossip"`) || tpl.attrs["env"] != cty.True {
		t.Errorf("the join template must read the stich-gossip service into the environment: %q", tpl.str(t, "data"))
	}
}

func TestInferenceJobFiles(t *testing.T) {
	for _, tc := range []struct{ name, model, driverKey, checkPath string }{
		{"inference-vllm", "qwen2.5-coder-32b", "ipc_mode", "/v1/models"},
		{"inference-ollama", "qwen2.5-coder:7b", "image", "/api/show"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, _ := readExample(t, tc.name)
			g := root.blocks[0].body.one(t, "group")
			if d := g.one(t, "update").dur(t, "healthy_deadline"); d < 10*time.Minute {
				t.Errorf("healthy_deadline %s: loading a model needs a long one", d)
			}
			svc := g.one(t, "service")
			if svc.str(t, "provider") != "nomad" || svc.str(t, "name") != ServiceInference {
				t.Error("want a Nomad-native stich-inference service")
			}
			if tags := svc.strings(t, "tags"); !strings.Contains(strings.Join(tags, " "), ModelTagPrefix+tc.model) {
				t.Errorf("tags %v do not name %s", tags, tc.model)
			}
			if c := svc.one(t, "check"); c.str(t, "path") != tc.checkPath {
				t.Errorf("readiness check path %q, want %q", c.str(t, "path"), tc.checkPath)
			}
			task := g.all("task")[0].body
			if task.str(t, "driver") != "docker" {
				t.Error("want the docker driver")
			}
			cfg := task.one(t, "config")
			if tc.name == "inference-vllm" {
				if cfg.str(t, "ipc_mode") != "host" || !strings.HasPrefix(cfg.str(t, "image"), "vllm/vllm-openai:") {
					t.Error("vLLM needs vllm/vllm-openai with ipc_mode = host")
				}
			}
			dev := task.one(t, "resources").one(t, "device")
			if dev.num(t, "count") < 1 {
				t.Error("device needs a count")
			}
			c := dev.one(t, "constraint")
			if c.str(t, "attribute") != "${device.attr.memory}" || c.str(t, "operator") != ">=" {
				t.Error("device needs a memory constraint")
			}
			var dn []string
			for _, b := range task.one(t, "resources").all("device") {
				dn = append(dn, b.labels...)
			}
			if strings.Join(dn, ",") != "nvidia/gpu" {
				t.Errorf("device %v, want nvidia/gpu", dn)
			}
		})
	}
}

func TestSandboxJobFile(t *testing.T) {
	root, _ := readExample(t, "stich-sandbox")
	job := root.blocks[0].body
	if job.str(t, "type") != "batch" {
		t.Error("want a batch job")
	}
	if req := job.one(t, "parameterized").strings(t, "meta_required"); strings.Join(req, ",") != "workspace_url,result_url" {
		t.Errorf("meta_required = %v", req)
	}
	g := job.one(t, "group")
	if g.one(t, "restart").num(t, "attempts") != 0 {
		t.Error("a failed build must not be restarted")
	}
	if r := g.one(t, "task").one(t, "resources"); r.num(t, "memory") < 256 {
		t.Error("want a memory limit")
	}
}

func TestConfigValidation(t *testing.T) {
	err := StichJob{Count: -1, Driver: "docker", ShutdownGrace: time.Minute, KillTimeout: 30 * time.Second}.Validate()
	var ve *ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, ErrInvalidJob) || len(ve.Problems) != 3 {
		t.Fatalf("want three problems at once, got %v", err)
	}
	if _, err := (InferenceJob{Engine: "tgi", Model: "bad model"}).Job(); err == nil || !strings.Contains(err.Error(), "engine") || !strings.Contains(err.Error(), "model") {
		t.Errorf("want engine and model problems, got %v", err)
	}
	// CheckJob finds what the server would refuse.
	j, _ := StichJob{}.Job()
	j.TaskGroups[0].Services[0].PortLabel = "nope"
	j.TaskGroups[0].Tasks[0].Driver = ""
	j.Datacenters = nil
	err = CheckJob(j)
	if !errors.As(err, &ve) || len(ve.Problems) != 3 {
		t.Fatalf("want three problems, got %v", err)
	}
}
