package main

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stichdev/stich/codegen"
	"github.com/stichdev/stich/llm"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// modelFlags select a model provider. Each also reads from the llm
// package's STICH_LLM_* variable when not given.
type modelFlags struct {
	config    string
	provider  string
	baseURL   string
	model     string
	fallback  string
	apiKeyEnv string
	// clientOpts are passed to llm.NewClient (the Nomad model router).
	clientOpts []llm.Option
}

func (f *modelFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&f.config, "llm-config", "", "JSON or YAML file configuring model providers and per-action models (env STICH_LLM_CONFIG)")
	fl.StringVar(&f.provider, "provider", "", "use a model: openai, anthropic, gemini, ollama, vllm, llamacpp, openrouter or custom (env STICH_LLM_PROVIDER); none or scaffold means the scaffold (--model-provider is an alias)")
	aliasModelProvider(fl)
	fl.StringVar(&f.baseURL, "base-url", "", "OpenAI-compatible API root of the model provider, up to /v1 (env STICH_LLM_BASE_URL)")
	fl.StringVar(&f.model, "model", "", "model id for every agent action (env STICH_LLM_MODEL); per-action models need --llm-config")
	fl.StringVar(&f.fallback, "fallback-model", "", "model to switch to when --model keeps failing (same provider)")
	fl.StringVar(&f.apiKeyEnv, "api-key-env", "", "name of the environment variable holding the API key, e.g. OPENAI_API_KEY (env STICH_LLM_API_KEY_ENV; or put the key itself in STICH_LLM_API_KEY)")
}

// aliasModelProvider makes --model-provider, the flag's earlier name, an
// alias of --provider on fl.
func aliasModelProvider(fl *pflag.FlagSet) {
	fl.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if name == "model-provider" {
			name = "provider"
		}
		return pflag.NormalizedName(name)
	})
}

// getenv overlays the flags on the process environment for llm.LoadConfig.
func (f *modelFlags) getenv(name string) string {
	switch {
	case name == llm.EnvConfig && f.config != "":
		return f.config
	case name == llm.EnvProvider && f.provider != "":
		return f.provider
	case name == llm.EnvBaseURL && f.baseURL != "":
		return f.baseURL
	case name == llm.EnvModel && f.model != "":
		return f.model
	case name == llm.EnvAPIKeyEnv && f.apiKeyEnv != "":
		return f.apiKeyEnv
	}
	return os.Getenv(name)
}

// load returns the model configuration, or ok=false when none is set.
func (f *modelFlags) load() (llm.Config, bool, error) {
	if f.provider == "scaffold" {
		return llm.Config{}, false, nil // asked for explicitly: no model
	}
	if f.provider == "" && (f.baseURL != "" || f.model != "") && os.Getenv(llm.EnvProvider) == "" && f.config == "" && os.Getenv(llm.EnvConfig) == "" {
		return llm.Config{}, false, usageError{errors.New("--base-url and --model need --provider (for any OpenAI-compatible endpoint: --provider custom)")}
	}
	cfg, ok, err := llm.LoadConfig(f.getenv)
	if err != nil {
		return cfg, false, usageError{err}
	}
	if ok {
		// One --model means that model for every action: the preset's
		// per-action models (and fallbacks) may not exist at this endpoint.
		if model := f.getenv(llm.EnvModel); model != "" && f.getenv(llm.EnvConfig) == "" {
			for _, a := range llm.Actions {
				ac := cfg.Actions[a]
				ac.Model, ac.FallbackModel, ac.FallbackProvider = model, f.fallback, ""
				if cfg.Actions == nil {
					cfg.Actions = map[llm.Action]llm.ActionConfig{}
				}
				cfg.Actions[a] = ac
			}
		}
		if err := cfg.Validate(); err != nil {
			return cfg, false, usageError{err}
		}
	}
	return cfg, ok, nil
}

// providers builds the code providers: the scaffold always, plus a model
// provider (then the default) when one is configured.
func (f *modelFlags) providers(scaffold codegen.Scaffold) (map[string]codegen.Provider, string, error) {
	out := map[string]codegen.Provider{"scaffold": scaffold}
	cfg, ok, err := f.load()
	if err != nil || !ok {
		return out, "scaffold", err
	}
	client, err := llm.NewClient(cfg, f.clientOpts...)
	if err != nil {
		return nil, "", usageError{err}
	}
	name := cfg.DefaultProvider
	if name == "" || name == "scaffold" {
		name = "model"
	}
	out[name] = llm.NewProvider(name, client)
	return out, name, nil
}

func newModelsCmd() *cobra.Command {
	f := &modelFlags{}
	cmd := &cobra.Command{
		Use:   "models",
		Short: "List the configured model providers and per-action models",
		Long: `List the model providers stich would use with the same flags and STICH_LLM_* variables,
and the model, fallback and limits of each agent action. API keys are never printed: only
whether one is set. With nothing configured, apps are written by the scaffold (no model).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			cfg, ok, err := f.load()
			if err != nil {
				return err
			}
			fmt.Fprintln(out, "scaffold        built in, deterministic — labelled \"scaffold (no model)\"")
			if !ok {
				fmt.Fprintln(out, "\nNo model provider is configured; the scaffold writes every app.")
				fmt.Fprintln(out, "Configure one with --provider/--base-url/--model or STICH_LLM_* (see stich serve --help).")
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "\nPROVIDER\tKIND\tBASE URL\tDEFAULT MODEL\tKEY")
			for _, p := range cfg.Providers {
				key := keyStatus(p)
				def := ""
				if p.Name == cfg.DefaultProvider {
					def = " (default)"
				}
				fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\t%s\n", p.Name, def, p.Kind, p.BaseURL, p.DefaultModel, key)
			}
			fmt.Fprintln(tw, "\nACTION\tPROVIDER\tMODEL\tFALLBACK\tMAX TOKENS\tEFFORT")
			actions := append([]llm.Action(nil), llm.Actions...)
			sort.Slice(actions, func(i, j int) bool { return actions[i] < actions[j] })
			for _, a := range actions {
				ac := cfg.Resolve(a)
				fb := fallbackOf(ac)
				if fb == "" {
					fb = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", a, ac.Provider, ac.Model, fb, ac.MaxTokens, ac.ReasoningEffort)
			}
			return tw.Flush()
		},
	}
	f.register(cmd.Flags())
	return cmd
}

// keyStatus says whether a provider's API key is set, never the key.
func keyStatus(p llm.ProviderConfig) string {
	switch {
	case p.APIKey.Reveal() != "":
		return "set (config)"
	case p.APIKeyEnv != "" && os.Getenv(p.APIKeyEnv) != "":
		return "set ($" + p.APIKeyEnv + ")"
	case p.APIKeyEnv != "":
		return "missing ($" + p.APIKeyEnv + " is empty)"
	}
	return "none"
}

// fallbackOf is "provider/model" of an action's fallback, or "".
func fallbackOf(ac llm.ActionConfig) string {
	if ac.FallbackModel == "" {
		return ""
	}
	return strings.Trim(ac.FallbackProvider+"/"+ac.FallbackModel, "/")
}

// modelInfo describes a model configuration for AdminService.GetServerInfo:
// endpoints (with key status, never keys), per-action models sorted by
// action, and the model that writes code.
func modelInfo(cfg llm.Config) ([]*stichv1.ModelEndpoint, []*stichv1.ActionModel, string) {
	var eps []*stichv1.ModelEndpoint
	def := cfg.DefaultProvider
	if def == "" && len(cfg.Providers) > 0 {
		def = cfg.Providers[0].Name
	}
	for _, p := range cfg.Providers {
		eps = append(eps, &stichv1.ModelEndpoint{Name: p.Name, Kind: string(p.Kind), BaseUrl: p.BaseURL,
			DefaultModel: p.DefaultModel, IsDefault: p.Name == def, ApiKey: keyStatus(p)})
	}
	actions := append([]llm.Action(nil), llm.Actions...)
	sort.Slice(actions, func(i, j int) bool { return actions[i] < actions[j] })
	var acts []*stichv1.ActionModel
	for _, a := range actions {
		ac := cfg.Resolve(a)
		acts = append(acts, &stichv1.ActionModel{Action: string(a), Provider: ac.Provider, Model: ac.Model,
			Fallback: fallbackOf(ac), MaxTokens: uint32(max(ac.MaxTokens, 0)), ReasoningEffort: ac.ReasoningEffort})
	}
	return eps, acts, cfg.Resolve(llm.ActionPhaseImplementation).Model
}
