package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/codegen"
	"github.com/stichdev/stich/llm"
	"github.com/stichdev/stich/nodekey"
	"github.com/stichdev/stich/ratelimit"
	"github.com/stichdev/stich/rpc"
)

// nodeKeyEnv holds the node keys when --node-key-file is not given.
const nodeKeyEnv = "STICH_NODE_KEY"

// budgetFlags are the per-user limits, the daily model budget and the
// node keys sealing users' own model keys.
type budgetFlags struct {
	messageLimit, saveLimit, buildLimit int
	dailyBudget                         float64
	nodeKeyFile                         string
}

// autoBudget is --daily-model-budget's default: decided by --auth.
const autoBudget = -1

// multiUserBudget is the daily model budget of each user under --auth
// multi unless --daily-model-budget says otherwise.
const multiUserBudget = 1.0

func (f *budgetFlags) register(fl *pflag.FlagSet) {
	fl.IntVar(&f.messageLimit, "message-limit", 20, "chat messages (SendMessage) a user may send per minute, a quarter of them in any 10 s, 50x per day; refused with resource_exhausted and the retry delay (0 disables)")
	fl.IntVar(&f.saveLimit, "save-limit", 120, "file saves (SaveFile) a user may make per minute, a third of them in any 10 s, 150x per day (0 disables)")
	fl.IntVar(&f.buildLimit, "build-limit", 120, "builds of a user's apps per hour: each phase's check, the check after an edit, a preview rebuilt on demand; a refused build leaves the app without a preview and says when to retry (0 disables)")
	fl.Float64Var(&f.dailyBudget, "daily-model-budget", autoBudget, fmt.Sprintf("US dollars each user's sessions may spend per UTC day on the node's models (token counts priced as stich models shows); past it, new sessions, messages and generation steps are refused with resource_exhausted until 00:00 UTC. Users with their own model key are exempt. 0: unlimited. Default: unlimited with --auth single (the owner pays for their own node), %.2f with --auth multi", multiUserBudget))
	fl.StringVar(&f.nodeKeyFile, "node-key-file", "", "file of node keys sealing users' own model keys at rest (AES-256-GCM), one \"ID BASE64\" a line, the first current; make or rotate it with 'stich nodekey new FILE' (older keys stay to open what they sealed; a node started with older keys re-seals every user's model keys under the current key and logs 'model keys re-sealed ... remaining=0' when the older keys may be removed from the file). Default: $"+nodeKeyEnv+" in the same form (keys separated by commas); with neither, users cannot store model keys. Every node of a cluster needs the same keys")
}

func (f *budgetFlags) validate() []error {
	var errs []error
	if f.messageLimit < 0 || f.saveLimit < 0 || f.buildLimit < 0 {
		errs = append(errs, errors.New("--message-limit, --save-limit and --build-limit must not be negative"))
	}
	if f.dailyBudget < 0 && f.dailyBudget != autoBudget {
		errs = append(errs, errors.New("--daily-model-budget must not be negative (0: unlimited)"))
	}
	if _, err := f.ring(); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// budget is the daily model budget for an --auth mode.
func (f *budgetFlags) budget(authMode string) float64 {
	if f.dailyBudget != autoBudget {
		return f.dailyBudget
	}
	if authMode == "multi" {
		return multiUserBudget
	}
	return 0
}

// ring loads the node keys (nil when none are configured).
func (f *budgetFlags) ring() (*nodekey.Ring, error) {
	if f.nodeKeyFile != "" {
		r, err := nodekey.Load(f.nodeKeyFile)
		if err != nil {
			return nil, fmt.Errorf("--node-key-file: %w", err)
		}
		return r, nil
	}
	if env := strings.TrimSpace(os.Getenv(nodeKeyEnv)); env != "" {
		r, err := nodekey.Parse(env)
		if err != nil {
			return nil, fmt.Errorf("$%s: %w", nodeKeyEnv, err)
		}
		return r, nil
	}
	return nil, nil
}

func perMinute(n int, burstDiv, dailyMul int) ratelimit.Rule {
	if n == 0 {
		return ratelimit.Rule{}
	}
	return ratelimit.Rule{Limit: uint32(n), Window: time.Minute, BurstLimit: uint32(max(n/burstDiv, 1)), BurstWindow: 10 * time.Second,
		DailyLimit: uint32(n * dailyMul)}
}

func (f *budgetFlags) messageRule() ratelimit.Rule {
	if f.messageLimit == 20 {
		return rpc.DefaultMessageLimit()
	}
	return perMinute(f.messageLimit, 4, 50)
}

func (f *budgetFlags) saveRule() ratelimit.Rule {
	if f.saveLimit == 120 {
		return rpc.DefaultSaveLimit()
	}
	return perMinute(f.saveLimit, 3, 150)
}

func (f *budgetFlags) buildRule() ratelimit.Rule {
	if f.buildLimit == 0 {
		return ratelimit.Rule{}
	}
	return ratelimit.Rule{Limit: uint32(f.buildLimit), Window: time.Hour}
}

// ownKeyProvider makes the provider of a user's own key: one
// OpenAI-compatible endpoint whose model does every action.
func ownKeyProvider(k actors.OwnModelKey) (codegen.Provider, error) {
	client, err := llm.NewClient(llm.Config{
		Providers: []llm.ProviderConfig{{Name: "own", Kind: llm.KindCustom, BaseURL: k.BaseURL, APIKey: llm.Secret(k.APIKey), DefaultModel: k.Model}},
		Prices:    llm.DefaultPrices,
	})
	if err != nil {
		return nil, err
	}
	return llm.NewProvider("own", client), nil
}

// newNodeKeyCmd is `stich nodekey new FILE`: it makes a node key file, or
// rotates one by putting a new current key first (older keys stay, so
// what they sealed still opens).
func newNodeKeyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "nodekey", Short: "Make and rotate the node keys that seal users' model keys (--node-key-file)"}
	var id string
	newCmd := &cobra.Command{
		Use:   "new FILE",
		Short: "Add a new current key to FILE (made with mode 0600 if missing); restart the nodes with the new file, the same on every node",
		Long: `Add a new current key to FILE (made with mode 0600 if missing).

Rotating the node key:
  1. stich nodekey new FILE    (the new key goes first; the older ones stay, only to open)
  2. copy FILE to every node and restart them with --node-key-file FILE. A node started with
     more than one key re-seals every user's model keys under the new key and logs
     "model keys re-sealed under the current node key ... remaining=0" when it is done.
  3. then delete the older key lines from FILE on every node and restart again. With
     remaining=N (keys that did not open), keep the older keys and read the warnings.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			var old *nodekey.Ring
			text, err := os.ReadFile(path)
			switch {
			case errors.Is(err, os.ErrNotExist):
			case err != nil:
				return err
			default:
				if old, err = nodekey.Load(path); err != nil {
					return usageError{err}
				}
			}
			if id == "" {
				id = time.Now().UTC().Format("20060102-150405")
			}
			k, err := nodekey.Generate(id)
			if err != nil {
				return err
			}
			if old != nil && slices.Contains(old.IDs(), id) {
				return usageError{fmt.Errorf("%s already has a key %q: pick another --id", path, id)}
			}
			out := "# stich node keys: the first is current; keep the older ones while values they sealed remain\n" + k.Line() + "\n"
			for _, line := range strings.Split(string(text), "\n") {
				if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
					out += t + "\n"
				}
			}
			tmp := path + ".tmp"
			if err := os.WriteFile(tmp, []byte(out), 0o600); err != nil {
				return err
			}
			if err := os.Rename(tmp, path); err != nil {
				os.Remove(tmp)
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "node key %q is now current in %s\n", id, path)
			return nil
		},
	}
	newCmd.Flags().StringVar(&id, "id", "", "id of the new key (default: the UTC time, 20261207-153000)")
	cmd.AddCommand(newCmd)
	return cmd
}
