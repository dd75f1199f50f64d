package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	"github.com/stichdev/stich/appbuild"
	"github.com/stichdev/stich/eval"
	"github.com/stichdev/stich/preview"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/proto/stich/v1/stichv1connect"
	"github.com/stichdev/stich/runcheck"
	"github.com/stichdev/stich/sandbox"
)

type evalFlags struct {
	provider    string
	models      modelFlags
	concurrency int
	out         string
	baseline    string
	limit       int
	timeout     time.Duration
	sandbox     sandboxFlags
}

func newEvalCmd(g *globalFlags) *cobra.Command {
	f := &evalFlags{}
	cmd := &cobra.Command{
		Use:   "eval [PROMPTS]",
		Short: "Generate an app for every prompt of a prompt file and score how many work",
		Long: `Run every prompt of PROMPTS (one per line, "category: prompt"; default: stich's own set of
52 prompts) through an embedded node with the given provider, --concurrency at a time. Each
generated app is then installed, type-checked, repaired by the deterministic fixer and bundled in
the sandbox. Recorded per app: generated, clean before and after the fixer, fixes applied,
placeholders left (code that exists nowhere, which needs a model), built, time from the session's
creation to a bundled preview, tokens and cost, and whether the preview rendered in headless
Chromium without console errors, uncaught exceptions, failed requests or a blank page (without a
browser that check is skipped, with a log line, and "rendered" is left out).

Writes --out/run.json and --out/report.html (a scoreboard, a table and charts). With --baseline
(an earlier run.json) it lists regressions and exits 1 when there are any.

Exit codes: 0 done; 1 a regression against --baseline, or the run could not start; 2 bad flags.`,
		Example: `  stich eval --provider scaffold --out eval-scaffold
  stich eval --provider openai --model gpt-4.1 --concurrency 4 --baseline eval-scaffold/run.json prompts.txt
  stich eval compare old/run.json new/run.json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := ""
			if len(args) == 1 {
				file = args[0]
			}
			return runEval(cmd.Context(), g, f, file, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.provider, "provider", "scaffold", "provider that writes the apps: scaffold, or a model provider kind such as openai")
	aliasModelProvider(fl)
	fl.StringVar(&f.models.config, "llm-config", "", "model configuration file (see stich serve --help)")
	fl.StringVar(&f.models.baseURL, "base-url", "", "OpenAI-compatible API root of the model provider")
	fl.StringVar(&f.models.model, "model", "", "model id")
	fl.StringVar(&f.models.apiKeyEnv, "api-key-env", "", "environment variable holding the API key")
	fl.IntVar(&f.concurrency, "concurrency", 2, "apps generated and checked at once")
	fl.StringVar(&f.out, "out", "eval-out", "folder for run.json and report.html")
	fl.StringVar(&f.baseline, "baseline", "", "an earlier run.json to compare with")
	fl.IntVar(&f.limit, "limit", 0, "run only the first N prompts (0: all)")
	fl.DurationVar(&f.timeout, "timeout", 10*time.Minute, "give up on one app after this long")
	f.sandbox.registerRunner(fl, "under your user cache folder, or /var/tmp/stich-sandbox-* as root")
	cmd.AddCommand(newEvalCompareCmd())
	return cmd
}

func newEvalCompareCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "compare BASELINE CURRENT",
		Short: "List what got worse from one eval run (run.json) to another; exit 1 when anything did",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			base, err := readRunFile(args[0])
			if err != nil {
				return err
			}
			cur, err := readRunFile(args[1])
			if err != nil {
				return err
			}
			printSummary(cmd.OutOrStdout(), cur)
			return reportRegressions(cmd.OutOrStdout(), eval.Compare(base, cur), args[0])
		},
	}
}

func readRunFile(path string) (eval.Run, error) {
	fh, err := os.Open(path)
	if err != nil {
		return eval.Run{}, usageError{fmt.Errorf("eval run: %w", err)}
	}
	defer fh.Close()
	r, err := eval.ReadRun(fh)
	if err != nil {
		return eval.Run{}, usageError{fmt.Errorf("%s: %w", path, err)}
	}
	return r, nil
}

func (f *evalFlags) validate() []error {
	var errs []error
	if f.concurrency < 1 || f.concurrency > 64 {
		errs = append(errs, fmt.Errorf("--concurrency %d: want 1 to 64", f.concurrency))
	}
	if f.limit < 0 {
		errs = append(errs, fmt.Errorf("--limit %d: want 0 or more", f.limit))
	}
	if f.timeout <= 0 {
		errs = append(errs, fmt.Errorf("--timeout %v: want a positive duration", f.timeout))
	}
	if f.out == "" {
		errs = append(errs, errors.New("--out is empty"))
	}
	f.sandbox.mode, f.sandbox.previewHTTP = "local", "off"
	return append(errs, f.sandbox.validate()...)
}

func runEval(ctx context.Context, g *globalFlags, f *evalFlags, file string, stdout, stderr io.Writer) error {
	if errs := f.validate(); len(errs) > 0 {
		return usageError{errors.Join(errs...)}
	}
	src, name := io.Reader(strings.NewReader(eval.DefaultPrompts)), "stich's prompt set"
	if file != "" {
		fh, err := os.Open(file)
		if err != nil {
			return usageError{fmt.Errorf("prompt file: %w", err)}
		}
		defer fh.Close()
		src, name = fh, file
	}
	prompts, err := eval.ParsePrompts(src)
	if err != nil {
		return usageError{fmt.Errorf("%s: %w", name, err)}
	}
	if f.limit > 0 && f.limit < len(prompts) {
		prompts = prompts[:f.limit]
	}
	var baseline *eval.Run
	if f.baseline != "" {
		b, err := readRunFile(f.baseline)
		if err != nil {
			return err
		}
		baseline = &b
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return usageError{fmt.Errorf("--out: %w", err)}
	}

	log, err := (&globalFlags{logLevel: "warn", logFormat: g.logFormat}).logger(stderr)
	if err != nil {
		return err
	}
	cache, err := os.UserCacheDir()
	if err != nil || os.Geteuid() == 0 {
		cache = "/var/tmp"
	}
	builds, reason := f.sandbox.builds(filepath.Join(cache, "stich-cli"), log)
	if builds == nil {
		return &exitError{code: exitFailure, err: errors.New(reason)}
	}
	if f.provider != "" && f.provider != "scaffold" {
		f.models.provider = f.provider
	}
	stop, server, err := startEmbedded(ctx, g, &f.models, stderr)
	if err != nil {
		return err
	}
	defer stop()
	client := stichv1connect.NewSessionServiceClient(apiHTTP, server)
	checker, err := runcheck.New("")
	if err != nil {
		fmt.Fprintf(stderr, "runtime check off: %v\n", err)
		checker = nil
	} else {
		defer checker.Close()
	}

	run := eval.Run{Provider: f.provider, Model: f.models.model, PromptFile: name, Concurrency: f.concurrency, Started: time.Now().UTC()}
	run.Apps = make([]eval.App, len(prompts))
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for range f.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				a := evalApp(ctx, client, *builds, checker, f, i, prompts[i])
				mu.Lock()
				run.Apps[i] = a
				done++
				fmt.Fprintf(stderr, "[%d/%d] %s: %s\n", done, len(prompts), prompts[i].Text, verdict(a))
				mu.Unlock()
			}
		}()
	}
	for i := range prompts {
		select {
		case jobs <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(jobs)
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	run.Finished = time.Now().UTC()

	if err := writeEvalFile(filepath.Join(f.out, "run.json"), func(w io.Writer) error { return eval.WriteRun(w, run) }); err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	if err := writeEvalFile(filepath.Join(f.out, "report.html"), func(w io.Writer) error { return eval.WriteHTML(w, run, baseline, f.baseline) }); err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	printSummary(stdout, run)
	fmt.Fprintf(stdout, "wrote %s and %s\n", filepath.Join(f.out, "run.json"), filepath.Join(f.out, "report.html"))
	if baseline != nil {
		return reportRegressions(stdout, eval.Compare(*baseline, run), f.baseline)
	}
	return nil
}

// evalApp generates prompt p's app through the node behind client, then
// checks it in the sandbox with the fixer.
func evalApp(ctx context.Context, client stichv1connect.SessionServiceClient, builds appbuild.Config, checker *runcheck.Checker, f *evalFlags, i int, p eval.Prompt) eval.App {
	a := eval.App{Prompt: p}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	start := time.Now()
	provider := ""
	if f.provider == "scaffold" {
		provider = "scaffold"
	}
	res, err := client.CreateSession(ctx, connect.NewRequest(&stichv1.CreateSessionRequest{Prompt: p.Text, Options: &stichv1.SessionOptions{Provider: provider}}))
	if err != nil {
		a.Error = "create session: " + err.Error()
		return a
	}
	a.SessionID = res.Msg.GetSessionId()
	// The embedded node is the only endpoint; a broken stream is resumed on it.
	last, err := followAny(ctx, []endpoint{{url: "embedded", client: client}}, a.SessionID, 0, time.Minute, func(*stichv1.SessionEvent) {})
	if err == nil {
		err = outcome(a.SessionID, last)
	}
	a.GenerateMS = time.Since(start).Milliseconds()
	if s, serr := client.GetSession(ctx, connect.NewRequest(&stichv1.GetSessionRequest{SessionId: a.SessionID})); serr == nil {
		c := s.Msg.GetSession().GetCounters()
		a.PromptTokens, a.CompletionTokens, a.CostUSD = c.GetPromptTokens(), c.GetCompletionTokens(), c.GetCostUsd()
	}
	if err != nil {
		a.Error = "generate: " + err.Error()
		return a
	}
	files, err := sessionFiles(ctx, client, a.SessionID)
	if err != nil {
		a.Error = "read files: " + err.Error()
		return a
	}
	a.Generated, a.Files = true, len(files)
	ws := appbuild.New(builds, fmt.Sprintf("eval-%d-%d", os.Getpid(), i), "/", "")
	defer ws.Close(context.WithoutCancel(ctx))
	out, err := ws.Check(ctx, files, true, func(string, string, string) {})
	a.ErrorsBefore, a.ErrorsAfter = countErrors(out.Initial), countErrors(out.Remaining)
	a.CleanBefore, a.CleanAfter = a.ErrorsBefore == 0, a.ErrorsAfter == 0
	a.Fixes, a.Placeholders = len(out.Fixes), len(out.NeedsModel)
	if err != nil {
		a.Error = "check: " + err.Error()
		a.CleanAfter = false
		return a
	}
	if out.Preview != nil {
		a.Built = true
		a.PreviewMS = time.Since(start).Milliseconds()
		if checker != nil {
			checkStart := time.Now()
			rep, err := checker.Check(ctx, preview.NewHandler(out.Preview), "/")
			a.RuntimeMS = time.Since(checkStart).Milliseconds()
			if err != nil {
				a.Error = "runtime check: " + err.Error()
			} else {
				ok := rep.OK()
				a.Rendered, a.RuntimeProblems = &ok, rep.Problems()
			}
		}
	} else if len(out.Build) > 0 {
		a.Error = "bundle: " + out.Build[0].String()
	}
	return a
}

func sessionFiles(ctx context.Context, client stichv1connect.SessionServiceClient, id string) (map[string]string, error) {
	list, err := client.ListFiles(ctx, connect.NewRequest(&stichv1.ListFilesRequest{SessionId: id}))
	if err != nil {
		return nil, err
	}
	files := map[string]string{}
	for _, info := range list.Msg.GetFiles() {
		res, err := client.GetFile(ctx, connect.NewRequest(&stichv1.GetFileRequest{SessionId: id, Path: info.GetPath()}))
		if err != nil {
			return nil, err
		}
		files[info.GetPath()] = res.Msg.GetFile().GetContent()
	}
	return files, nil
}

func countErrors(ds []sandbox.Diagnostic) int {
	n := 0
	for _, d := range ds {
		if d.Category == "error" {
			n++
		}
	}
	return n
}

func verdict(a eval.App) string {
	if a.Viable() {
		return fmt.Sprintf("viable (%d fixes, preview after %v)", a.Fixes, time.Duration(a.PreviewMS)*time.Millisecond)
	}
	if a.Error != "" {
		return "not viable: " + a.Error
	}
	return fmt.Sprintf("not viable (clean after fixer %v, %d placeholders, built %v)", a.CleanAfter, a.Placeholders, a.Built)
}

func printSummary(w io.Writer, run eval.Run) {
	s := eval.Summarize(run)
	fmt.Fprintf(w, "provider %s: %d apps\n", run.Provider, s.Apps)
	fmt.Fprintf(w, "  viable apps            %d/%d (%.1f%%)\n", s.Viable, s.Apps, s.ViablePct)
	fmt.Fprintf(w, "  clean before fixer     %d\n  clean after fixer      %d\n", s.CleanBefore, s.CleanAfter)
	fmt.Fprintf(w, "  deterministic fix rate %d/%d (%.1f%%)\n", s.Fixed, s.NeededFixing, s.FixRatePct)
	fmt.Fprintf(w, "  placeholders left      %d\n  built                  %d\n", s.Placeholders, s.Built)
	fmt.Fprintf(w, "  dollars per viable app $%.4f (total $%.4f, %d tokens)\n", s.CostPerViable, s.CostUSD, s.Tokens)
	fmt.Fprintf(w, "  time to preview        p50 %v, p90 %v\n", time.Duration(s.PreviewP50MS)*time.Millisecond, time.Duration(s.PreviewP90MS)*time.Millisecond)
	fmt.Fprintf(w, "  runtime check adds     p50 %v\n", time.Duration(s.RuntimeP50MS)*time.Millisecond)
}

func reportRegressions(w io.Writer, regs []eval.Regression, baseline string) error {
	if len(regs) == 0 {
		fmt.Fprintf(w, "no regressions against %s\n", baseline)
		return nil
	}
	fmt.Fprintf(w, "%d regression(s) against %s:\n", len(regs), baseline)
	for _, r := range regs {
		if r.Prompt != "" {
			fmt.Fprintf(w, "  %s: %s\n", r.Prompt, r.What)
		} else {
			fmt.Fprintf(w, "  %s\n", r.What)
		}
	}
	return &exitError{code: exitFailure, err: fmt.Errorf("%d regression(s) against %s", len(regs), baseline)}
}

func writeEvalFile(path string, write func(io.Writer) error) error {
	var b strings.Builder
	if err := write(&b); err != nil {
		return err
	}
	return writeFileAtomic(path, []byte(b.String()))
}
