package llm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultConfigsValidate(t *testing.T) {
	for _, k := range Kinds() {
		c := DefaultConfigFor(k, "some-model")
		if k == KindCustom {
			c.Providers[0].BaseURL = "http://127.0.0.1:9999/v1"
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", k, err)
		}
		for _, a := range Actions {
			if ac := c.Resolve(a); ac.Model == "" || ac.Provider == "" {
				t.Errorf("%s/%s resolves to %+v", k, a, ac)
			}
		}
	}
	o := DefaultOpenAIConfig()
	if ac := o.Resolve(ActionPhaseImplementation); ac.Model != "gpt-5" || ac.FallbackModel != "gpt-4.1" || ac.FallbackProvider != "openai" {
		t.Errorf("openai phase implementation: %+v", ac)
	}
	if p, _ := o.withDefaults().Provider("openai"); p.APIKeyEnv != "OPENAI_API_KEY" || p.BaseURL != "https://api.openai.com/v1" {
		t.Errorf("openai preset: %+v", p)
	}
	l := DefaultOllamaConfig().withDefaults()
	if p, _ := l.Provider("ollama"); p.BaseURL != "http://localhost:11434/v1" || p.APIKeyEnv != "" {
		t.Errorf("ollama preset: %+v", p)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c, err := ReadConfigFile(filepath.Join("testdata", "config", "invalid.json"))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	var ve *ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("err %v", err)
	}
	want := []string{
		`actions.blueprint: provider "zzz" is not configured`,
		`actions.conversation: provider "zzz" is not configured`,
		`actions.fixing: fallback_provider "ghost" is not configured`,
		`actions.fixing: max_tokens -1 is outside 0..1000000`,
		`actions.fixing: reasoning_effort "extreme" is not one of none, minimal, low, medium, high, xhigh, max`,
		`actions.fixing: temperature 3 is outside 0..2`,
		`actions.phase_implementation: provider "zzz" is not configured`,
		`actions.phase_planning: provider "zzz" is not configured`,
		`actions.review: provider "zzz" is not configured`,
		`actions.template_selection: provider "zzz" is not configured`,
		`actions: unknown action "blueprnt" (actions: template_selection, blueprint, phase_planning, phase_implementation, conversation, fixing, review)`,
		`default_provider "zzz" is not a configured provider`,
		`max_answer_bytes 10 is below 1024`,
		`max_continuations 99 is outside 0..20`,
		`prices.m: prices must not be negative`,
		`providers[1] "a": base_url "ftp://x" is not an http(s) URL`,
		`providers[1] "a": duplicate name`,
		`providers[2] "": base_url is required for kind "nope"`,
		`providers[2] "": unknown kind "nope" (kinds: anthropic, custom, gemini, llamacpp, ollama, openai, openrouter, vllm)`,
		`providers[2]: name is empty`,
		`providers[3] "c": base_url is required for kind "custom"`,
		`providers[4] "d": base_url must not contain credentials; use api_key_env`,
		`request_timeout must be positive`,
		`retry.max_attempts 50 is outside 1..20`,
		`retry: base_delay 10s and max_delay 1s must satisfy 0 <= base_delay <= max_delay`,
	}
	if !reflect.DeepEqual(ve.Problems, want) {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(ve.Problems, "\n"), strings.Join(want, "\n"))
	}
	if !strings.HasPrefix(err.Error(), "llm: invalid model configuration:\n  - actions.blueprint") {
		t.Fatalf("message %q", err.Error())
	}
}

func TestParseConfigJSONAndYAML(t *testing.T) {
	j, err := ReadConfigFile(filepath.Join("testdata", "config", "example.json"))
	if err != nil {
		t.Fatal(err)
	}
	y, err := ReadConfigFile(filepath.Join("testdata", "config", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(j, y) {
		t.Fatalf("JSON and YAML differ:\n%+v\n%+v", j, y)
	}
	if err := j.Validate(); err != nil {
		t.Fatal(err)
	}
	if j.FirstTokenTimeout.D() != 90*time.Second || j.Retry.BaseDelay.D() != 250*time.Millisecond || j.Retry.MaxRetryAfter.D() != time.Minute || j.MaxAnswerBytes != 4<<20 {
		t.Fatalf("durations/defaults: %+v", j)
	}
	if ac := j.Resolve(ActionConversation); ac.Provider != "local" || ac.Model != "qwen2.5-coder:14b" || *ac.Temperature != 0.4 {
		t.Fatalf("conversation: %+v", ac)
	}
	if ac := j.Resolve(ActionPhaseImplementation); ac.FallbackProvider != "local" {
		t.Fatalf("phase implementation: %+v", ac)
	}
	if _, err := ParseConfig([]byte(`{"providers": [], "retyr": {}}`), false); err == nil || !strings.Contains(err.Error(), `unknown field "retyr"`) {
		t.Fatalf("unknown field: %v", err)
	}
	if _, err := ParseConfig([]byte("idle_timeout: soon\n"), true); err == nil || !strings.Contains(err.Error(), "soon") {
		t.Fatalf("bad duration: %v", err)
	}
}

func TestLoadConfigFromEnv(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	if _, ok, err := LoadConfig(env()); ok || err != nil {
		t.Fatalf("no env: ok %v err %v", ok, err)
	}
	c, ok, err := LoadConfig(env(
		EnvProvider, "ollama", EnvBaseURL, "http://gpu-box:11434/v1", EnvModel, "llama3.1:8b",
		"STICH_LLM_PHASE_IMPLEMENTATION_MODEL", "qwen2.5-coder:32b",
		"STICH_LLM_PHASE_IMPLEMENTATION_MAX_TOKENS", "20000",
		"STICH_LLM_REVIEW_TEMPERATURE", "0",
	))
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	p, _ := c.Provider("ollama")
	if p.BaseURL != "http://gpu-box:11434/v1" || p.DefaultModel != "llama3.1:8b" {
		t.Fatalf("provider %+v", p)
	}
	if ac := c.Resolve(ActionPhaseImplementation); ac.Model != "qwen2.5-coder:32b" || ac.MaxTokens != 20000 {
		t.Fatalf("phase implementation %+v", ac)
	}
	if ac := c.Resolve(ActionReview); *ac.Temperature != 0 {
		t.Fatalf("review %+v", ac)
	}
	_, _, err = LoadConfig(env(EnvProvider, "ollama", "STICH_LLM_FIXING_MAX_TOKENS", "lots", "STICH_LLM_REVIEW_TEMPERATURE", "warm"))
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 2 {
		t.Fatalf("bad values: %v", err)
	}
	if _, _, err := LoadConfig(env(EnvProvider, "bard")); err == nil || !strings.Contains(err.Error(), "unknown kind") {
		t.Fatalf("unknown kind: %v", err)
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "llm.yaml")
	b, _ := os.ReadFile(filepath.Join("testdata", "config", "example.yaml"))
	os.WriteFile(f, b, 0o600)
	c, ok, err = LoadConfig(env(EnvConfig, f, EnvAPIKey, "sk-from-env-123456789"))
	if err != nil || !ok || c.Providers[0].APIKey.Reveal() != "sk-from-env-123456789" || c.Providers[0].APIKeyEnv != "" {
		t.Fatalf("file + key: %v %+v", err, c.Providers[0])
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("sk-very-secret-value")
	p := ProviderConfig{Name: "x", APIKey: s}
	for _, out := range []string{
		fmt.Sprint(s), fmt.Sprintf("%v %s %q %x %+v %#v", s, s, s, s, p, p), fmt.Sprintf("%v", []Secret{s}),
	} {
		if strings.Contains(out, "very-secret") || strings.Contains(out, "73 6b") {
			t.Fatalf("leaked: %s", out)
		}
	}
	if s.Reveal() != "sk-very-secret-value" || Secret("").String() != "" {
		t.Fatal("Reveal or empty")
	}
}

func TestNewClientNeedsKey(t *testing.T) {
	_, err := NewClient(DefaultOpenAIConfig(), WithGetenv(func(string) string { return "" }))
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "OPENAI_API_KEY is empty or unset") {
		t.Fatalf("err %v", err)
	}
	c, err := NewClient(DefaultOllamaConfig(), WithGetenv(func(string) string { return "" }))
	if err != nil {
		t.Fatalf("ollama needs no key: %v", err)
	}
	c.Close()
	c.Close()
	if _, err := NewClient(Config{}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("empty config: %v", err)
	}
}
