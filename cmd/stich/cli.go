package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// exitError carries an exit code with a one-line reason.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // the work failed (a session failed, a server error)
	exitUsage   = 2 // bad flags or arguments
)

// run is the whole CLI: it parses args, runs the command, and returns the
// process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		fmt.Fprintf(stderr, "stich: %v\n", ee.err)
		return ee.code
	}
	fmt.Fprintf(stderr, "stich: %v\n", describe(err))
	if isUsage(err) {
		fmt.Fprintln(stderr, "Run 'stich --help' for usage.")
		return exitUsage
	}
	return exitFailure
}

// describe turns a Connect error into a one-line reason.
func describe(err error) string {
	var ce *connect.Error
	if errors.As(err, &ce) {
		msg := ce.Message()
		if ce.Code() == connect.CodeUnavailable && strings.Contains(msg, "connection refused") {
			return "cannot reach the server (connection refused): is `stich serve` running, and is --server right?"
		}
		return fmt.Sprintf("%s: %s", ce.Code(), msg)
	}
	return err.Error()
}

type usageError struct{ error }

func isUsage(err error) bool {
	var ue usageError
	if errors.As(err, &ue) {
		return true
	}
	msg := err.Error()
	return strings.HasPrefix(msg, "unknown command") || strings.HasPrefix(msg, "unknown flag") ||
		strings.HasPrefix(msg, "unknown shorthand flag") || strings.Contains(msg, "invalid argument") ||
		strings.HasPrefix(msg, "accepts ") || strings.HasPrefix(msg, "requires ") || strings.Contains(msg, "flag needs an argument")
}

type globalFlags struct {
	logLevel  string
	logFormat string
	token     string
}

func newRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:   "stich",
		Short: "stich turns a prompt into a working web app",
		Long: `stich plans an app from a prompt, writes its files (with a language model, or with the
built-in scaffold generator when none is configured), checks them, and lets you refine it by chat.

Run a node with 'stich serve', then generate with 'stich generate --server http://127.0.0.1:8080 PROMPT',
or just 'stich generate PROMPT' to run an embedded node for one app.

Every flag can also be set with an environment variable: STICH_ and the flag name in upper case
with '-' as '_' (for example STICH_DATA, STICH_HTTP, STICH_LOG_LEVEL).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := applyEnv(cmd); err != nil {
				return err
			}
			cmd.SetContext(withToken(cmd.Context(), g.token))
			return nil
		},
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.PersistentFlags().StringVar(&g.token, "token", "", "API key for client commands (default: the key `stich login` or the node on this machine saved for --server)")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format: text or json (logs go to stderr)")
	root.AddCommand(newServeCmd(g), newGenerateCmd(g), newWatchCmd(g), newRefineCmd(), newVersionsCmd(), newDiffCmd(), newRollbackCmd(), newDownloadCmd(), newAppsCmd(), newClusterCmd(), newLeaveCmd(), newLoginCmd(), newSignInLinkCmd(), newAdminCmd(), newAuditCmd(), newModelsCmd(), newNodeKeyCmd(), newNomadCmd(), newCheckCmd(g), newFixCmd(g), newPreviewCmd(g), newEvalCmd(g), newSandboxBuildCmd(g), newVersionCmd())
	return root
}

// applyEnv sets every flag not given on the command line from its STICH_*
// environment variable.
func applyEnv(cmd *cobra.Command) error {
	var errs []error
	visit := func(f *pflag.Flag) {
		if f.Changed {
			return
		}
		env := "STICH_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", env, v, err))
			}
		}
	}
	cmd.Flags().VisitAll(visit)
	cmd.InheritedFlags().VisitAll(visit)
	if len(errs) > 0 {
		return usageError{errors.Join(errs...)}
	}
	return nil
}

func (g *globalFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", g.logLevel)}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch g.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageError{fmt.Errorf("--log-format %q: want text or json", g.logFormat)}
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print stich's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "stich %s\n", version)
			return nil
		},
	}
}
