package llm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Action is one thing the agent asks a model to do. Each has its own
// model configuration.
type Action string

// The agent's actions.
const (
	ActionTemplateSelection   Action = "template_selection"
	ActionBlueprint           Action = "blueprint"
	ActionPhasePlanning       Action = "phase_planning"
	ActionPhaseImplementation Action = "phase_implementation"
	ActionConversation        Action = "conversation"
	ActionFixing              Action = "fixing"
	ActionReview              Action = "review"
)

// Actions lists every action, in the order the agent uses them.
var Actions = []Action{
	ActionTemplateSelection, ActionBlueprint, ActionPhasePlanning, ActionPhaseImplementation,
	ActionConversation, ActionFixing, ActionReview,
}

// Kind is a provider preset: it supplies the base URL, the environment
// variable the key usually lives in, and request quirks.
type Kind string

// Provider kinds. All are reached through their OpenAI-compatible
// chat-completions endpoint.
const (
	KindOpenAI     Kind = "openai"
	KindAnthropic  Kind = "anthropic"  // https://api.anthropic.com/v1/ (OpenAI SDK compatibility)
	KindGemini     Kind = "gemini"     // https://generativelanguage.googleapis.com/v1beta/openai/
	KindOllama     Kind = "ollama"     // http://localhost:11434/v1
	KindVLLM       Kind = "vllm"       // http://localhost:8000/v1
	KindLlamaCpp   Kind = "llamacpp"   // llama-server, http://localhost:8080/v1
	KindOpenRouter Kind = "openrouter" // https://openrouter.ai/api/v1
	KindCustom     Kind = "custom"     // any OpenAI-compatible URL; base_url required
)

type preset struct {
	baseURL string
	keyEnv  string
	needKey bool
}

var presets = map[Kind]preset{
	KindOpenAI:     {"https://api.openai.com/v1", "OPENAI_API_KEY", true},
	KindAnthropic:  {"https://api.anthropic.com/v1/", "ANTHROPIC_API_KEY", true},
	KindGemini:     {"https://generativelanguage.googleapis.com/v1beta/openai/", "GEMINI_API_KEY", true},
	KindOllama:     {"http://localhost:11434/v1", "", false},
	KindVLLM:       {"http://localhost:8000/v1", "", false},
	KindLlamaCpp:   {"http://localhost:8080/v1", "", false},
	KindOpenRouter: {"https://openrouter.ai/api/v1", "OPENROUTER_API_KEY", true},
	KindCustom:     {"", "", false},
}

// Kinds lists the provider kinds.
func Kinds() []Kind {
	out := make([]Kind, 0, len(presets))
	for k := range presets {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Secret holds an API key. It prints, logs and marshals as "[redacted]",
// so a Config can be shown or logged whole.
type Secret string

const redacted = "[redacted]"

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString implements fmt.GoStringer (%#v).
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// MarshalJSON writes "[redacted]": keys are never written back out.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// Reveal returns the key itself, for the Authorization header only.
func (s Secret) Reveal() string { return string(s) }

// Duration is a time.Duration that reads from JSON as "30s" or a number
// of seconds.
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return fmt.Errorf("duration %s: want a string such as \"30s\" or a number of seconds", b)
	}
	*d = Duration(secs * float64(time.Second))
	return nil
}

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// ProviderConfig is one OpenAI-compatible endpoint.
type ProviderConfig struct {
	// Name is how actions refer to the provider, e.g. "openai" or
	// "local". Unique.
	Name string `json:"name"`
	// Kind is the preset: it fills BaseURL and APIKeyEnv when they are
	// empty, and decides request quirks (OpenAI's reasoning models take
	// max_completion_tokens).
	Kind Kind `json:"kind"`
	// BaseURL is the API root, up to and including /v1 (the client
	// appends /chat/completions). Default: the kind's.
	BaseURL string `json:"base_url,omitempty"`
	// APIKeyEnv names the environment variable holding the key, e.g.
	// OPENAI_API_KEY. Preferred over APIKey. Default: the kind's.
	APIKeyEnv string `json:"api_key_env,omitempty"`
	// APIKey is the key itself, for configs built in code or stored
	// encrypted elsewhere. It is never printed or marshaled.
	APIKey Secret `json:"api_key,omitempty"`
	// DefaultModel is used by actions that name no model.
	DefaultModel string `json:"default_model,omitempty"`
	// NoStreamUsage stops sending stream_options.include_usage, for
	// servers that reject it; usage is then estimated.
	NoStreamUsage bool `json:"no_stream_usage,omitempty"`
}

// ActionConfig is the model configuration of one action. Empty fields
// take the default provider's values.
type ActionConfig struct {
	// Provider names the provider; default Config.DefaultProvider.
	Provider string `json:"provider,omitempty"`
	// Model is the model id sent to the provider; default the provider's
	// DefaultModel.
	Model string `json:"model,omitempty"`
	// FallbackProvider and FallbackModel are tried when Model fails after
	// its retries, or is refused (400/404). FallbackProvider defaults to
	// Provider; no FallbackModel means no fallback.
	FallbackProvider string `json:"fallback_provider,omitempty"`
	FallbackModel    string `json:"fallback_model,omitempty"`
	// MaxTokens bounds one answer (max_tokens, or max_completion_tokens
	// for OpenAI reasoning models); 0 leaves it to the server. An answer
	// that hits it is continued (Config.MaxContinuations).
	MaxTokens int `json:"max_tokens,omitempty"`
	// Temperature, when set, is sent (0 to 2); reasoning models get none.
	Temperature *float32 `json:"temperature,omitempty"`
	// ReasoningEffort is sent as reasoning_effort when set: none,
	// minimal, low, medium, high, xhigh or max (what a model accepts
	// varies).
	ReasoningEffort string `json:"reasoning_effort,omitempty"`
}

// RetryConfig bounds retries of transient failures.
type RetryConfig struct {
	// MaxAttempts is the number of attempts per model, the first
	// included. Default 5.
	MaxAttempts int `json:"max_attempts,omitempty"`
	// BaseDelay is the first backoff; the n-th retry waits
	// min(BaseDelay·2ⁿ, MaxDelay). Default 500ms.
	BaseDelay Duration `json:"base_delay,omitempty"`
	// MaxDelay caps the backoff. Default 10s.
	MaxDelay Duration `json:"max_delay,omitempty"`
	// MaxRetryAfter is the longest Retry-After the client waits for; a
	// longer one moves to the fallback model at once. Default 60s.
	MaxRetryAfter Duration `json:"max_retry_after,omitempty"`
}

// Price is what a model costs, in US dollars per million tokens.
type Price struct {
	Input  float64 `json:"input"`
	Output float64 `json:"output"`
}

// Config is everything the llm package needs. Build one with
// [DefaultOpenAIConfig], [DefaultOllamaConfig], [ReadConfigFile] or
// [LoadConfig], then check it with [Config.Validate].
type Config struct {
	// Providers are the endpoints; at least one.
	Providers []ProviderConfig `json:"providers"`
	// DefaultProvider names the provider of actions that name none.
	// Default: the first provider.
	DefaultProvider string `json:"default_provider,omitempty"`
	// Actions holds per-action model configuration, keyed by [Action].
	Actions map[Action]ActionConfig `json:"actions,omitempty"`
	// Prices maps a model id (or an id prefix: the longest match wins) to
	// its price. Models without a price cost 0.
	Prices map[string]Price `json:"prices,omitempty"`
	// Retry bounds retries.
	Retry RetryConfig `json:"retry"`
	// RequestTimeout bounds one attempt, from request to last token.
	// Default 10m.
	RequestTimeout Duration `json:"request_timeout,omitempty"`
	// FirstTokenTimeout bounds the wait for the first chunk; local models
	// may need to load first. Default 2m.
	FirstTokenTimeout Duration `json:"first_token_timeout,omitempty"`
	// IdleTimeout bounds the gap between two chunks. Default 60s.
	IdleTimeout Duration `json:"idle_timeout,omitempty"`
	// MaxContinuations bounds continuation requests for one call (answers
	// cut off by the token limit). Default 3.
	MaxContinuations int `json:"max_continuations,omitempty"`
	// MaxAnswerBytes bounds one call's answer, continuations included; a
	// longer (or endless) stream fails with ErrAnswerTooLarge. Default
	// 4 MiB.
	MaxAnswerBytes int `json:"max_answer_bytes,omitempty"`
}

// DefaultPrices are list prices in USD per million tokens as published by
// the providers in 2025. Check them against your provider's page and
// override in the config file.
var DefaultPrices = map[string]Price{
	"gpt-5":             {1.25, 10},
	"gpt-5-mini":        {0.25, 2},
	"gpt-5-nano":        {0.05, 0.40},
	"gpt-4.1":           {2, 8},
	"gpt-4.1-mini":      {0.40, 1.60},
	"gpt-4.1-nano":      {0.10, 0.40},
	"gpt-4o":            {2.50, 10},
	"gpt-4o-mini":       {0.15, 0.60},
	"o3":                {2, 8},
	"o4-mini":           {1.10, 4.40},
	"claude-opus-4":     {15, 75},
	"claude-sonnet-4":   {3, 15},
	"claude-3-5-haiku":  {0.80, 4},
	"gemini-2.5-pro":    {1.25, 10},
	"gemini-2.5-flash":  {0.30, 2.50},
	"deepseek-chat":     {0.27, 1.10},
	"deepseek-reasoner": {0.55, 2.19},
}

func ptr[T any](v T) *T { return &v }

// baseConfig holds the defaults every profile shares.
func baseConfig() Config {
	prices := make(map[string]Price, len(DefaultPrices))
	for k, v := range DefaultPrices {
		prices[k] = v
	}
	return Config{
		Prices: prices,
		Retry: RetryConfig{
			MaxAttempts:   5,
			BaseDelay:     Duration(500 * time.Millisecond),
			MaxDelay:      Duration(10 * time.Second),
			MaxRetryAfter: Duration(60 * time.Second),
		},
		RequestTimeout:    Duration(10 * time.Minute),
		FirstTokenTimeout: Duration(2 * time.Minute),
		IdleTimeout:       Duration(60 * time.Second),
		MaxContinuations:  3,
		MaxAnswerBytes:    4 << 20,
	}
}

// DefaultOpenAIConfig uses OpenAI with the key in OPENAI_API_KEY: a
// reasoning model for planning and code, a small one for chat, selection
// and review, and gpt-4.1 as every action's fallback.
func DefaultOpenAIConfig() Config {
	c := baseConfig()
	c.Providers = []ProviderConfig{{Name: "openai", Kind: KindOpenAI, DefaultModel: "gpt-5-mini"}}
	c.DefaultProvider = "openai"
	big := func(tokens int, effort string) ActionConfig {
		return ActionConfig{Model: "gpt-5", FallbackModel: "gpt-4.1", MaxTokens: tokens, ReasoningEffort: effort}
	}
	small := func(tokens int, effort string) ActionConfig {
		return ActionConfig{Model: "gpt-5-mini", FallbackModel: "gpt-4.1-mini", MaxTokens: tokens, ReasoningEffort: effort}
	}
	c.Actions = map[Action]ActionConfig{
		ActionTemplateSelection:   small(2000, "minimal"),
		ActionBlueprint:           big(16000, "medium"),
		ActionPhasePlanning:       small(8000, "low"),
		ActionPhaseImplementation: big(32000, "low"),
		ActionConversation:        small(4000, "low"),
		ActionFixing:              big(16000, "low"),
		ActionReview:              small(8000, "low"),
	}
	return c
}

// DefaultOllamaConfig uses a local Ollama at http://localhost:11434 with
// qwen2.5-coder (pull it first: ollama pull qwen2.5-coder:14b). Prompts
// with an app's files need a larger context than Ollama's default: start
// the server with OLLAMA_CONTEXT_LENGTH=32768. Local models are slow to
// load, hence the long first-token timeout.
func DefaultOllamaConfig() Config {
	c := baseConfig()
	c.Providers = []ProviderConfig{{Name: "ollama", Kind: KindOllama, DefaultModel: "qwen2.5-coder:14b"}}
	c.DefaultProvider = "ollama"
	c.FirstTokenTimeout = Duration(5 * time.Minute)
	c.IdleTimeout = Duration(2 * time.Minute)
	code := func(tokens int, temp float32) ActionConfig {
		return ActionConfig{Model: "qwen2.5-coder:14b", FallbackModel: "qwen2.5-coder:7b", MaxTokens: tokens, Temperature: ptr(temp)}
	}
	c.Actions = map[Action]ActionConfig{
		ActionTemplateSelection:   code(1000, 0.1),
		ActionBlueprint:           code(6000, 0.3),
		ActionPhasePlanning:       code(4000, 0.2),
		ActionPhaseImplementation: code(12000, 0.2),
		ActionConversation:        code(2000, 0.5),
		ActionFixing:              code(8000, 0.1),
		ActionReview:              code(4000, 0.1),
	}
	return c
}

// DefaultConfigFor returns the default profile of a provider kind: the
// OpenAI or Ollama profile, or for other kinds a single provider of that
// kind using model for every action.
func DefaultConfigFor(kind Kind, model string) Config {
	switch kind {
	case KindOpenAI:
		return DefaultOpenAIConfig()
	case KindOllama:
		return DefaultOllamaConfig()
	}
	c := baseConfig()
	c.Providers = []ProviderConfig{{Name: string(kind), Kind: kind, DefaultModel: model}}
	c.DefaultProvider = string(kind)
	c.Actions = map[Action]ActionConfig{
		ActionBlueprint:           {MaxTokens: 16000},
		ActionPhaseImplementation: {MaxTokens: 32000},
		ActionFixing:              {MaxTokens: 16000},
	}
	return c
}

// withDefaults fills zero values from baseConfig and the kinds' presets.
func (c Config) withDefaults() Config {
	b := baseConfig()
	if c.Retry.MaxAttempts == 0 {
		c.Retry.MaxAttempts = b.Retry.MaxAttempts
	}
	if c.Retry.BaseDelay == 0 {
		c.Retry.BaseDelay = b.Retry.BaseDelay
	}
	if c.Retry.MaxDelay == 0 {
		c.Retry.MaxDelay = b.Retry.MaxDelay
	}
	if c.Retry.MaxRetryAfter == 0 {
		c.Retry.MaxRetryAfter = b.Retry.MaxRetryAfter
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = b.RequestTimeout
	}
	if c.FirstTokenTimeout == 0 {
		c.FirstTokenTimeout = b.FirstTokenTimeout
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = b.IdleTimeout
	}
	if c.MaxContinuations == 0 {
		c.MaxContinuations = b.MaxContinuations
	}
	if c.MaxAnswerBytes == 0 {
		c.MaxAnswerBytes = b.MaxAnswerBytes
	}
	if c.DefaultProvider == "" && len(c.Providers) > 0 {
		c.DefaultProvider = c.Providers[0].Name
	}
	ps := make([]ProviderConfig, len(c.Providers))
	for i, p := range c.Providers {
		if pr, ok := presets[p.Kind]; ok {
			if p.BaseURL == "" {
				p.BaseURL = pr.baseURL
			}
			if p.APIKeyEnv == "" && p.APIKey == "" {
				p.APIKeyEnv = pr.keyEnv
			}
		}
		ps[i] = p
	}
	c.Providers = ps
	return c
}

// Provider returns the provider named name.
func (c Config) Provider(name string) (ProviderConfig, bool) {
	for _, p := range c.Providers {
		if p.Name == name {
			return p, true
		}
	}
	return ProviderConfig{}, false
}

// Resolve returns the action's configuration with provider, model and
// fallback provider filled in from the defaults.
func (c Config) Resolve(a Action) ActionConfig {
	c = c.withDefaults()
	ac := c.Actions[a]
	if ac.Provider == "" {
		ac.Provider = c.DefaultProvider
	}
	if ac.Model == "" {
		if p, ok := c.Provider(ac.Provider); ok {
			ac.Model = p.DefaultModel
		}
	}
	if ac.FallbackModel != "" && ac.FallbackProvider == "" {
		ac.FallbackProvider = ac.Provider
	}
	return ac
}

// ValidationError lists every problem of a Config.
type ValidationError struct{ Problems []string }

// Error implements error.
func (e *ValidationError) Error() string {
	return "llm: invalid model configuration:\n  - " + strings.Join(e.Problems, "\n  - ")
}

// ErrInvalidConfig is wrapped by every [ValidationError].
var ErrInvalidConfig = errors.New("llm: invalid model configuration")

// Is makes errors.Is(err, ErrInvalidConfig) hold.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidConfig }

var reasoningEfforts = map[string]bool{"": true, "none": true, "minimal": true, "low": true, "medium": true, "high": true, "xhigh": true, "max": true}

// Validate reports every problem of the configuration at once (a
// *ValidationError), or nil. It does not read the environment: a key
// variable that is unset is reported by [NewClient].
func (c Config) Validate() error {
	c = c.withDefaults()
	var probs []string
	add := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	if len(c.Providers) == 0 {
		add("no providers: configure at least one (kinds: %s)", kindList())
	}
	seen := map[string]bool{}
	for i, p := range c.Providers {
		where := fmt.Sprintf("providers[%d] %q", i, p.Name)
		switch {
		case p.Name == "":
			add("providers[%d]: name is empty", i)
		case seen[p.Name]:
			add("%s: duplicate name", where)
		}
		seen[p.Name] = true
		pr, ok := presets[p.Kind]
		if !ok {
			add("%s: unknown kind %q (kinds: %s)", where, p.Kind, kindList())
		}
		if p.BaseURL == "" {
			add("%s: base_url is required for kind %q", where, p.Kind)
		} else if u, err := url.Parse(p.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("%s: base_url %q is not an http(s) URL", where, p.BaseURL)
		} else if u.User != nil {
			add("%s: base_url must not contain credentials; use api_key_env", where)
		}
		if ok && pr.needKey && p.APIKey == "" && p.APIKeyEnv == "" {
			add("%s: kind %q needs an API key: set api_key_env", where, p.Kind)
		}
	}
	if _, ok := c.Provider(c.DefaultProvider); !ok && len(c.Providers) > 0 {
		add("default_provider %q is not a configured provider", c.DefaultProvider)
	}
	known := map[Action]bool{}
	for _, a := range Actions {
		known[a] = true
	}
	var names []string
	for a := range c.Actions {
		names = append(names, string(a))
	}
	sort.Strings(names)
	for _, n := range names {
		a := Action(n)
		if !known[a] {
			add("actions: unknown action %q (actions: %s)", a, actionList())
		}
	}
	for _, a := range Actions {
		ac := c.Resolve(a)
		where := "actions." + string(a)
		if _, ok := c.Provider(ac.Provider); !ok {
			add("%s: provider %q is not configured", where, ac.Provider)
		} else if ac.Model == "" {
			add("%s: no model: set model, or default_model of provider %q", where, ac.Provider)
		}
		if ac.FallbackModel != "" {
			if _, ok := c.Provider(ac.FallbackProvider); !ok {
				add("%s: fallback_provider %q is not configured", where, ac.FallbackProvider)
			}
		}
		if ac.MaxTokens < 0 || ac.MaxTokens > 1_000_000 {
			add("%s: max_tokens %d is outside 0..1000000", where, ac.MaxTokens)
		}
		if t := ac.Temperature; t != nil && (*t < 0 || *t > 2) {
			add("%s: temperature %g is outside 0..2", where, *t)
		}
		if !reasoningEfforts[ac.ReasoningEffort] {
			add("%s: reasoning_effort %q is not one of none, minimal, low, medium, high, xhigh, max", where, ac.ReasoningEffort)
		}
	}
	for m, p := range c.Prices {
		if p.Input < 0 || p.Output < 0 {
			add("prices.%s: prices must not be negative", m)
		}
	}
	r := c.Retry
	if r.MaxAttempts < 1 || r.MaxAttempts > 20 {
		add("retry.max_attempts %d is outside 1..20", r.MaxAttempts)
	}
	if r.BaseDelay < 0 || r.MaxDelay < r.BaseDelay {
		add("retry: base_delay %s and max_delay %s must satisfy 0 <= base_delay <= max_delay", r.BaseDelay.D(), r.MaxDelay.D())
	}
	if r.MaxRetryAfter < 0 {
		add("retry.max_retry_after must not be negative")
	}
	for _, d := range []struct {
		name string
		v    Duration
	}{{"request_timeout", c.RequestTimeout}, {"first_token_timeout", c.FirstTokenTimeout}, {"idle_timeout", c.IdleTimeout}} {
		if d.v <= 0 {
			add("%s must be positive", d.name)
		}
	}
	if c.MaxContinuations < 0 || c.MaxContinuations > 20 {
		add("max_continuations %d is outside 0..20", c.MaxContinuations)
	}
	if c.MaxAnswerBytes < 1024 {
		add("max_answer_bytes %d is below 1024", c.MaxAnswerBytes)
	}
	sort.Strings(probs)
	if len(probs) > 0 {
		return &ValidationError{Problems: probs}
	}
	return nil
}

func kindList() string {
	var s []string
	for _, k := range Kinds() {
		s = append(s, string(k))
	}
	return strings.Join(s, ", ")
}

func actionList() string {
	var s []string
	for _, a := range Actions {
		s = append(s, string(a))
	}
	return strings.Join(s, ", ")
}

// ParseConfig reads a configuration in JSON, or in YAML with the same
// field names. Unknown fields are errors (a misspelt field would otherwise
// be silently ignored). Zero fields take defaults.
func ParseConfig(data []byte, yamlSyntax bool) (Config, error) {
	if yamlSyntax {
		var v any
		if err := yaml.Unmarshal(data, &v); err != nil {
			return Config{}, fmt.Errorf("llm: config: %w", err)
		}
		j, err := json.Marshal(yamlToJSON(v))
		if err != nil {
			return Config{}, fmt.Errorf("llm: config: %w", err)
		}
		data = j
	}
	var c Config
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("llm: config: %w", err)
	}
	return c.withDefaults(), nil
}

// yamlToJSON converts what yaml.v3 decodes into values encoding/json can
// marshal (map keys must be strings).
func yamlToJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = yamlToJSON(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = yamlToJSON(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = yamlToJSON(e)
		}
		return x
	}
	return v
}

// ReadConfigFile reads a JSON (.json) or YAML (.yaml, .yml) config file.
func ReadConfigFile(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("llm: %w", err)
	}
	ext := strings.ToLower(filepath.Ext(path))
	return ParseConfig(b, ext == ".yaml" || ext == ".yml")
}

// Environment variables read by [LoadConfig] and [Config.ApplyEnv].
const (
	// EnvConfig is the path of a JSON or YAML config file.
	EnvConfig = "STICH_LLM_CONFIG"
	// EnvProvider selects a default profile by kind when there is no
	// file: openai, ollama, anthropic, gemini, vllm, llamacpp, openrouter,
	// custom.
	EnvProvider = "STICH_LLM_PROVIDER"
	// EnvBaseURL, EnvAPIKeyEnv, EnvAPIKey and EnvModel override the
	// default provider's base_url, api_key_env, api_key and
	// default_model.
	EnvBaseURL   = "STICH_LLM_BASE_URL"
	EnvAPIKeyEnv = "STICH_LLM_API_KEY_ENV"
	EnvAPIKey    = "STICH_LLM_API_KEY"
	EnvModel     = "STICH_LLM_MODEL"
)

// LoadConfig builds the configuration from the environment: the file in
// STICH_LLM_CONFIG, else the profile of STICH_LLM_PROVIDER; then the
// overrides of [Config.ApplyEnv]; then [Config.Validate]. ok is false
// (and the error nil) when neither variable is set: no model is
// configured. getenv is os.Getenv in production.
func LoadConfig(getenv func(string) string) (c Config, ok bool, err error) {
	switch path, kind := getenv(EnvConfig), getenv(EnvProvider); {
	case path != "":
		if c, err = ReadConfigFile(path); err != nil {
			return Config{}, false, err
		}
	case kind != "":
		if _, known := presets[Kind(kind)]; !known {
			return Config{}, false, fmt.Errorf("llm: %s=%q: unknown kind (kinds: %s)", EnvProvider, kind, kindList())
		}
		c = DefaultConfigFor(Kind(kind), getenv(EnvModel))
	default:
		return Config{}, false, nil
	}
	if err := c.ApplyEnv(getenv); err != nil {
		return Config{}, false, err
	}
	c = c.withDefaults()
	if err := c.Validate(); err != nil {
		return Config{}, false, err
	}
	return c, true, nil
}

// envAction is an action's prefix in environment variable names, e.g.
// STICH_LLM_PHASE_IMPLEMENTATION_.
func envAction(a Action) string { return "STICH_LLM_" + strings.ToUpper(string(a)) + "_" }

// ApplyEnv overrides fields from STICH_LLM_* variables: EnvBaseURL,
// EnvAPIKeyEnv, EnvAPIKey and EnvModel for the default provider, and for
// each action STICH_LLM_<ACTION>_{PROVIDER,MODEL,FALLBACK_PROVIDER,
// FALLBACK_MODEL,MAX_TOKENS,TEMPERATURE,REASONING_EFFORT}, e.g.
// STICH_LLM_PHASE_IMPLEMENTATION_MODEL=gpt-5. Every malformed value is
// reported.
func (c *Config) ApplyEnv(getenv func(string) string) error {
	*c = c.withDefaults()
	var probs []string
	for i := range c.Providers {
		p := &c.Providers[i]
		if p.Name != c.DefaultProvider {
			continue
		}
		if v := getenv(EnvBaseURL); v != "" {
			p.BaseURL = v
		}
		if v := getenv(EnvAPIKeyEnv); v != "" {
			p.APIKeyEnv, p.APIKey = v, ""
		}
		if v := getenv(EnvAPIKey); v != "" {
			p.APIKey, p.APIKeyEnv = Secret(v), ""
		}
		if v := getenv(EnvModel); v != "" {
			p.DefaultModel = v
		}
	}
	for _, a := range Actions {
		pre := envAction(a)
		ac, set := c.Actions[a], false
		str := func(name string, dst *string) {
			if v := getenv(pre + name); v != "" {
				*dst, set = v, true
			}
		}
		str("PROVIDER", &ac.Provider)
		str("MODEL", &ac.Model)
		str("FALLBACK_PROVIDER", &ac.FallbackProvider)
		str("FALLBACK_MODEL", &ac.FallbackModel)
		str("REASONING_EFFORT", &ac.ReasoningEffort)
		if v := getenv(pre + "MAX_TOKENS"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				probs = append(probs, fmt.Sprintf("%sMAX_TOKENS=%q is not an integer", pre, v))
			}
			ac.MaxTokens, set = n, true
		}
		if v := getenv(pre + "TEMPERATURE"); v != "" {
			f, err := strconv.ParseFloat(v, 32)
			if err != nil {
				probs = append(probs, fmt.Sprintf("%sTEMPERATURE=%q is not a number", pre, v))
			}
			ac.Temperature, set = ptr(float32(f)), true
		}
		if set {
			if c.Actions == nil {
				c.Actions = map[Action]ActionConfig{}
			}
			c.Actions[a] = ac
		}
	}
	if len(probs) > 0 {
		return &ValidationError{Problems: probs}
	}
	return nil
}

// apiKey resolves a provider's key from its value or environment
// variable.
func (p ProviderConfig) apiKey(getenv func(string) string) (string, error) {
	if p.APIKey != "" {
		return p.APIKey.Reveal(), nil
	}
	if p.APIKeyEnv == "" {
		return "", nil
	}
	k := getenv(p.APIKeyEnv)
	if k == "" && presets[p.Kind].needKey {
		return "", fmt.Errorf("%w: provider %q: the API key variable %s is empty or unset", ErrAuth, p.Name, p.APIKeyEnv)
	}
	return k, nil
}

// keySource says where a provider's key comes from, for error messages.
func (p ProviderConfig) keySource() string {
	switch {
	case p.APIKey != "":
		return "the api_key of provider " + strconv.Quote(p.Name)
	case p.APIKeyEnv != "":
		return "the environment variable " + p.APIKeyEnv
	}
	return "no API key (provider " + strconv.Quote(p.Name) + " has no api_key_env)"
}
