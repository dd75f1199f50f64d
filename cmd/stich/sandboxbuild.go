package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stichdev/stich/appbuild"
)

// sandboxBuildFlags configure one build run by Nomad.
type sandboxBuildFlags struct {
	sandbox      sandboxFlags
	workspaceURL string
	resultURL    string
}

// maxBuildRequest bounds the app fetched from the node (the app size
// limit of a session, JSON-encoded).
const maxBuildRequest = 160 << 20

func newSandboxBuildCmd(g *globalFlags) *cobra.Command {
	f := &sandboxBuildFlags{}
	cmd := &cobra.Command{
		Use:   "sandbox-build --workspace-url URL --result-url URL --sandbox-dir DIR",
		Short: "Run one app check for a node (the task of the Nomad sandbox job)",
		Long: `Fetch an app from the signed, single-use --workspace-url a node handed to the Nomad
sandbox job, install, type-check, fix and bundle it in the local sandbox (bubblewrap, the
sandbox uid, tmpfs quota and cgroup limits: the same as a node's --sandbox local), print progress
lines and sub-steps on stdout ("source<TAB>level<TAB>text" and "step<TAB>start|end<TAB>...", which
the node follows through Nomad's log API) and
upload the report, preview included, to the signed, single-use --result-url. Exit status 1 when
the app could not be fetched or the report not delivered; the app's own errors are in the report.`,
		Hidden: true, // run by Nomad, not by people
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSandboxBuild(cmd.Context(), g, f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	f.sandbox.registerRunner(fl, "required: a folder of the task, such as ${NOMAD_TASK_DIR}/sandbox")
	fl.StringVar(&f.workspaceURL, "workspace-url", "", "signed URL the app is fetched from (NOMAD_META_workspace_url)")
	fl.StringVar(&f.resultURL, "result-url", "", "signed URL the report is uploaded to (NOMAD_META_result_url)")
	fl.StringVar(&f.sandbox.npmCache, "npm-cache", "", "npm cache shared by the client's builds, such as a host volume (default: one in --sandbox-dir, empty for each build)")
	return cmd
}

func runSandboxBuild(ctx context.Context, g *globalFlags, f *sandboxBuildFlags, stdout, stderr io.Writer) error {
	var errs []error
	for _, u := range []struct{ flag, val string }{{"--workspace-url", f.workspaceURL}, {"--result-url", f.resultURL}} {
		if p, err := url.Parse(u.val); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			errs = append(errs, fmt.Errorf("%s %q: want an http(s) URL", u.flag, u.val))
		}
	}
	if f.sandbox.dir == "" {
		errs = append(errs, errors.New("--sandbox-dir: required (a folder of the task)"))
	}
	f.sandbox.mode, f.sandbox.previewHTTP = "local", "off"
	errs = append(errs, f.sandbox.validate()...)
	if len(errs) > 0 {
		return usageError{errors.Join(errs...)}
	}
	log, err := (&globalFlags{logLevel: "warn", logFormat: g.logFormat}).logger(stderr)
	if err != nil {
		return err
	}
	req, err := fetchBuildRequest(ctx, f.workspaceURL)
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	cfg, reason := f.sandbox.builds(f.sandbox.dir, log) // --sandbox-dir is set: data is unused
	var rep appbuild.BuildReport
	if cfg == nil {
		rep = appbuild.BuildReport{Error: "the Nomad client cannot build apps: " + reason}
	} else {
		ws := appbuild.New(*cfg, "build", req.Base, req.ReportURL)
		// Progress and sub-steps, as the node's runner reads them back.
		lines, step := appbuild.LinePrinter(stdout)
		out, cerr := ws.CheckSteps(ctx, req.Files, req.Fix, lines, step)
		rep = appbuild.ReportOf(out, cerr)
		ws.Close(context.WithoutCancel(ctx))
		// Every workspace this build made (the fixer's tools too) goes, its
		// disk quota unmounted, before Nomad removes the task folder.
		if ents, err := os.ReadDir(filepath.Join(f.sandbox.dir, "workspaces")); err == nil {
			for _, e := range ents {
				if err := cfg.Runner.Cleanup(context.WithoutCancel(ctx), e.Name()); err != nil {
					log.Warn("sandbox-build: cleanup", "workspace", e.Name(), "err", err)
				}
			}
		}
	}
	if err := uploadBuildReport(ctx, f.resultURL, rep); err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	return nil
}

var buildHTTP = &http.Client{Timeout: 5 * time.Minute}

func fetchBuildRequest(ctx context.Context, u string) (appbuild.BuildRequest, error) {
	var req appbuild.BuildRequest
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return req, fmt.Errorf("fetch the app: %w", err)
	}
	resp, err := buildHTTP.Do(hr)
	if err != nil {
		return req, fmt.Errorf("fetch the app: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return req, fmt.Errorf("fetch the app: the node answered %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBuildRequest)).Decode(&req); err != nil {
		return req, fmt.Errorf("fetch the app: %w", err)
	}
	return req, nil
}

func uploadBuildReport(ctx context.Context, u string, rep appbuild.BuildReport) error {
	body, err := json.Marshal(rep)
	if err != nil {
		return fmt.Errorf("encode the report: %w", err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("upload the report: %w", err)
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := buildHTTP.Do(hr)
	if err != nil {
		return fmt.Errorf("upload the report: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("upload the report: the node answered %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return nil
}
