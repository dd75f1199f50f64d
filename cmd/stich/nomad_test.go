package main

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/stichdev/stich/llm/llmtest"
	"github.com/stichdev/stich/nomad"
	"github.com/stichdev/stich/nomad/nomadtest"
)

func TestNomadRenderMatchesExamples(t *testing.T) {
	code, out, errs := runCLI(t, "nomad", "render", "stich")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	want, err := os.ReadFile(filepath.Join("..", "..", "deploy", "nomad", "stich.nomad.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Fatalf("render stich differs from deploy/nomad/stich.nomad.hcl:\n%s", out)
	}
	code, out, _ = runCLI(t, "nomad", "render", "stich", "--json", "--count", "5")
	if code != 0 || !strings.Contains(out, `"Count": 5`) || !strings.Contains(out, `"KillSignal": "SIGTERM"`) {
		t.Fatalf("json render: exit %d\n%s", code, out)
	}
	dir := t.TempDir()
	if code, _, errs := runCLI(t, "nomad", "render", "all", "--model", "qwen2.5-coder:7b", "--out", dir); code != 0 {
		t.Fatalf("render all: %s", errs)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.nomad.hcl"))
	if len(files) != 4 {
		t.Fatalf("render all wrote %v", files)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"nomad", "render", "vllm"}, `model ""`},
		{[]string{"nomad", "render", "postgres"}, `unknown job "postgres"`},
		{[]string{"nomad", "render", "stich", "--shutdown-grace", "40s", "--kill-timeout", "30s"}, "must exceed the shutdown grace"},
	} {
		code, _, errs := runCLI(t, tc.args...)
		if code != exitUsage || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, %q; want usage error with %q", tc.args, code, errs, tc.want)
		}
	}
}

func TestNomadApplyStatusErrors(t *testing.T) {
	srv, err := nomadtest.New(nomadtest.WithACL("tok"), nomadtest.WithNodes(nomadtest.Node{Drivers: []string{"docker"}}))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	code, _, errs := runCLI(t, "nomad", "status", "--nomad-addr", srv.URL, "--nomad-token", "")
	if code != exitFailure || !strings.Contains(errs, "ACL token was refused") || !strings.Contains(errs, "NOMAD_TOKEN") {
		t.Fatalf("no token: exit %d %q", code, errs)
	}
	t.Setenv("NOMAD_TOKEN", "tok")
	code, out, errs := runCLI(t, "nomad", "plan", "ollama", "--model", "qwen2.5-coder:7b", "--nomad-addr", srv.URL)
	if code != exitFailure || !strings.Contains(out, "1 to place") || !strings.Contains(errs, "missing devices") {
		t.Fatalf("plan: exit %d\n%s\n%s", code, out, errs)
	}
	code, _, errs = runCLI(t, "nomad", "apply", "ollama", "--model", "qwen2.5-coder:7b", "--nomad-addr", srv.URL)
	if code != exitFailure || !strings.Contains(errs, "placement failed") || !strings.Contains(errs, "nvidia/gpu") {
		t.Fatalf("apply: exit %d %q", code, errs)
	}
	code, out, errs = runCLI(t, "nomad", "status", "inference-ollama", "--nomad-addr", srv.URL)
	if code != 0 || !strings.Contains(out, `job "inference-ollama": service`) {
		t.Fatalf("status: exit %d\n%s\n%s", code, out, errs)
	}
	code, _, errs = runCLI(t, "nomad", "status", "nope", "--nomad-addr", srv.URL)
	if code != exitFailure || !strings.Contains(errs, "not found") {
		t.Fatalf("status of a missing job: exit %d %q", code, errs)
	}
}

func TestNomadModels(t *testing.T) {
	srv, err := nomadtest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	code, out, errs := runCLI(t, "nomad", "models", "--nomad-addr", srv.URL)
	if code != 0 || !strings.Contains(out, "no model servers") {
		t.Fatalf("empty: exit %d %q %q", code, out, errs)
	}
	ms := llmtest.NewServer(&llmtest.Script{Models: []string{"qwen-coder"}, MaxModelLen: 32768})
	defer ms.Close()
	ms.SetWaiting(4)
	host, port := splitURL(t, ms.URL)
	srv.RegisterService(nomad.ServiceInference, "inference-vllm", host, port, []string{"model=qwen-coder", "engine=vllm"},
		&api.ServiceCheck{Name: "model-loaded", Type: "http", Path: "/v1/models", Interval: time.Hour, Timeout: time.Second})
	srv.RegisterService(nomad.ServiceInference, "inference-vllm", host, port, []string{"model=other-model", "engine=vllm"}, nil)
	code, out, errs = runCLI(t, "nomad", "models", "--nomad-addr", srv.URL)
	if code != 0 {
		t.Fatalf("exit %d %q", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("models:\n%s", out)
	}
	// The server in rotation first: its model with the context length
	// from /v1/models, and the queue from /metrics.
	in := strings.Fields(lines[1])
	if !strings.Contains(lines[1], "qwen-coder (32768)") || !slices.Contains(in, "in") || !slices.Contains(in, "4") || !strings.Contains(lines[1], "model-loaded=") {
		t.Errorf("in-rotation line: %q", lines[1])
	}
	if !strings.Contains(lines[2], "out: does not list other-model") {
		t.Errorf("a server not listing its tagged model must be out of rotation: %q", lines[2])
	}
}

func splitURL(t *testing.T, u string) (string, int) {
	t.Helper()
	hostport := strings.TrimSuffix(strings.TrimPrefix(u, "http://"), "/v1")
	host, p, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(p)
	return host, port
}
