package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stichdev/stich/appbuild"
	"github.com/stichdev/stich/codegen"
	"github.com/stichdev/stich/preview"
)

// appFlags configure check, fix and preview of an app folder.
type appFlags struct {
	sandbox sandboxFlags
	verbose bool
	http    string
}

func (f *appFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	f.sandbox.registerRunner(fl, "under your user cache folder, or /var/tmp/stich-sandbox-* as root")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "print install and type-check output")
}

func newCheckCmd(g *globalFlags) *cobra.Command {
	f := &appFlags{}
	cmd := &cobra.Command{
		Use:   "check DIR",
		Short: "Install, type-check and bundle an app folder in the sandbox, and report its diagnostics",
		Long: `Copy an app folder (package.json, index.html, src/ ...; node_modules, .git and dist are
skipped) into a sandbox workspace, install its dependencies from the shared npm cache, type-check
it with its own tsc and bundle it with esbuild. Diagnostics are printed as tsc prints them.
The folder is not changed. Exit status 1 when there are errors.`,
		Example: `  stich check ./recipes`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAppCheck(cmd.Context(), g, f, args[0], false, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f.register(cmd)
	return cmd
}

func newFixCmd(g *globalFlags) *cobra.Command {
	f := &appFlags{}
	cmd := &cobra.Command{
		Use:   "fix DIR",
		Short: "Run the deterministic fixer on an app folder in place; print what changed and what is left",
		Long: `Like stich check, then the deterministic fixer repairs what it can (missing or wrong imports
and exports, default-vs-named imports, undeclared names, unused imports, ...), the fixed files are
written back into DIR, and each fix is printed with its before and after. Exit status 1 when errors
remain.`,
		Example: `  stich fix ./recipes`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAppCheck(cmd.Context(), g, f, args[0], true, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f.register(cmd)
	return cmd
}

func newPreviewCmd(g *globalFlags) *cobra.Command {
	f := &appFlags{}
	cmd := &cobra.Command{
		Use:   "preview DIR",
		Short: "Bundle an app folder (esbuild, after installing in the sandbox) and serve its preview",
		Long: `Install an app folder's dependencies in the sandbox, bundle it with esbuild and serve the
result on --http until interrupted (Ctrl-C). Type errors are printed but do not stop the preview.`,
		Example: `  stich preview ./recipes --http 127.0.0.1:5173`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAppPreview(cmd.Context(), g, f, args[0], cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&f.http, "http", "127.0.0.1:8081", "address to serve the preview on (host:port)")
	return cmd
}

// appDirLimits bound what is read from an app folder.
const maxAppBytes = 64 << 20

// skippedDirs are never copied from an app folder.
var skippedDirs = map[string]bool{"node_modules": true, ".git": true, "dist": true, "build": true, ".stich": true, ".next": true, "coverage": true}

// readAppDir reads the app's source files. Files stich would not accept
// from a model (other extensions, symlinks) are skipped and listed.
func readAppDir(dir string) (files map[string]string, skipped []string, err error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("app folder: %w", err)}
	}
	if !fi.IsDir() {
		return nil, nil, usageError{fmt.Errorf("app folder %s is not a folder", dir)}
	}
	files = map[string]string{}
	total := 0
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if err := codegen.CheckNameChars(rel); err != nil {
			return err // never skipped quietly: the name misleads whoever reads it
		}
		if d.IsDir() {
			if rel != "." && skippedDirs[d.Name()] {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || codegen.CheckPath(rel) != nil {
			skipped = append(skipped, rel)
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Size() > codegen.MaxFileBytes {
			return fmt.Errorf("%s is %d bytes; app files may be at most %d", rel, info.Size(), codegen.MaxFileBytes)
		}
		if len(files) >= codegen.MaxFiles {
			return fmt.Errorf("more than %d files", codegen.MaxFiles)
		}
		if total += int(info.Size()); total > maxAppBytes {
			return fmt.Errorf("more than %d bytes of source", maxAppBytes)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files[rel] = string(b)
		return nil
	})
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("read %s: %w", dir, err)}
	}
	if _, ok := files["package.json"]; !ok {
		return nil, nil, usageError{fmt.Errorf("%s has no package.json: not an app folder", dir)}
	}
	names := make([]string, 0, len(files))
	for p := range files {
		names = append(names, p)
	}
	if err := codegen.CheckFileSet(names); err != nil {
		return nil, nil, usageError{fmt.Errorf("read %s: %w", dir, err)}
	}
	return files, skipped, nil
}

// appWorkspace sets up the sandbox and a workspace for dir.
func appWorkspace(g *globalFlags, f *appFlags, dir, base string, stderr io.Writer) (*appbuild.Workspace, *slog.Logger, error) {
	f.sandbox.mode, f.sandbox.previewHTTP = "local", "off"
	if errs := f.sandbox.validate(); len(errs) > 0 {
		return nil, nil, usageError{errors.Join(errs...)}
	}
	level := "warn"
	if f.verbose {
		level = "info"
	}
	log, err := (&globalFlags{logLevel: level, logFormat: g.logFormat}).logger(stderr)
	if err != nil {
		return nil, nil, err
	}
	cache, err := os.UserCacheDir()
	if err != nil || os.Geteuid() == 0 {
		cache = "/var/tmp"
	}
	cfg, reason := f.sandbox.builds(filepath.Join(cache, "stich-cli"), log)
	if cfg == nil {
		return nil, nil, &exitError{code: exitFailure, err: errors.New(reason)}
	}
	abs, _ := filepath.Abs(dir)
	sum := sha256.Sum256([]byte(abs + "\x00" + time.Now().String()))
	return appbuild.New(*cfg, "cli-"+hex.EncodeToString(sum[:8]), base, ""), log, nil
}

func runAppCheck(ctx context.Context, g *globalFlags, f *appFlags, dir string, fix bool, stdout, stderr io.Writer) error {
	files, skipped, err := readAppDir(dir)
	if err != nil {
		return err
	}
	ws, _, err := appWorkspace(g, f, dir, "/", stderr)
	if err != nil {
		return err
	}
	defer ws.Close(context.WithoutCancel(ctx))
	for _, s := range skipped {
		fmt.Fprintf(stderr, "skipped %s (not an app source file)\n", s)
	}
	fmt.Fprintf(stderr, "checking %d files of %s in the sandbox…\n", len(files), dir)
	out, err := ws.Check(ctx, files, fix, progressPrinter(stderr, f.verbose))
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	if fix {
		paths := make([]string, 0, len(out.Fixed))
		for p := range out.Fixed {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			target := filepath.Join(dir, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return &exitError{code: exitFailure, err: err}
			}
			if err := writeFileAtomic(target, []byte(out.Fixed[p])); err != nil {
				return &exitError{code: exitFailure, err: fmt.Errorf("write %s: %w", p, err)}
			}
		}
		for _, x := range out.Fixes {
			fmt.Fprintf(stdout, "fixed %s:%d TS%d: %s\n", x.File, x.Line, x.Code, x.Description)
			if x.Before != "" || x.After != "" {
				fmt.Fprintf(stdout, "  - %s\n  + %s\n", oneLine(x.Before), oneLine(x.After))
			}
		}
		for _, x := range out.NeedsModel {
			fmt.Fprintf(stdout, "needs a model %s:%d TS%d: %s (a placeholder was written; replace it)\n", x.File, x.Line, x.Code, x.Description)
		}
	}
	for _, d := range out.Remaining {
		fmt.Fprintln(stdout, d.String())
	}
	for _, l := range out.Left {
		fmt.Fprintf(stdout, "left for a model %s:%d TS%d: %s\n", l.File, l.Line, l.Code, l.Reason)
	}
	for _, d := range out.Build {
		fmt.Fprintln(stdout, d.String())
	}
	problems := len(out.Remaining) + len(out.Build)
	switch {
	case problems > 0:
		return &exitError{code: exitFailure, err: fmt.Errorf("%d problem(s) in %s", problems, dir)}
	case len(out.NeedsModel) > 0:
		return &exitError{code: exitFailure, err: fmt.Errorf("%s type-checks only with %d placeholder(s) the fixer wrote: the code they stand for does not exist in the project and needs a model", dir, len(out.NeedsModel))}
	case fix && len(out.Fixes) > 0:
		fmt.Fprintf(stderr, "%d fix(es) written; %s type-checks and bundles cleanly\n", len(out.Fixes), dir)
	default:
		fmt.Fprintf(stderr, "%s type-checks and bundles cleanly\n", dir)
	}
	return nil
}

// appPreviewHandler serves p as `stich preview DIR` does, with the
// headers of a node's previews (CSP, nosniff, no referrer): the app's code
// runs on this origin. Nothing frames it.
func appPreviewHandler(p *preview.Preview) http.Handler {
	return preview.WithHeaders(preview.NewHandler(p), preview.CSP(nil))
}

func runAppPreview(ctx context.Context, g *globalFlags, f *appFlags, dir string, stdout, stderr io.Writer) error {
	if _, _, err := net.SplitHostPort(f.http); err != nil {
		return usageError{fmt.Errorf("--http %q: %w", f.http, err)}
	}
	files, _, err := readAppDir(dir)
	if err != nil {
		return err
	}
	ws, log, err := appWorkspace(g, f, dir, "/", stderr)
	if err != nil {
		return err
	}
	defer ws.Close(context.WithoutCancel(ctx))
	out, err := ws.Check(ctx, files, false, progressPrinter(stderr, f.verbose))
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	for _, d := range out.Remaining {
		fmt.Fprintln(stderr, d.String())
	}
	if out.Preview == nil {
		for _, d := range out.Build {
			fmt.Fprintln(stderr, d.String())
		}
		return &exitError{code: exitFailure, err: fmt.Errorf("%s did not bundle", dir)}
	}
	ln, err := net.Listen("tcp", f.http)
	if err != nil {
		return &exitError{code: exitFailure, err: fmt.Errorf("listen on --http %s: %w", f.http, err)}
	}
	srv := &http.Server{Handler: appPreviewHandler(out.Preview), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	fmt.Fprintf(stdout, "preview of %s at http://%s/ (Ctrl-C stops)\n", dir, ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// progressPrinter prints a check's progress: every line with verbose,
// else only the steps.
func progressPrinter(w io.Writer, verbose bool) appbuild.LogFunc {
	return func(source, level, text string) {
		if verbose || level != "info" && source != appbuild.SourceInstall && source != appbuild.SourceTypeCheck ||
			strings.HasPrefix(text, "installing") || strings.HasPrefix(text, "dependencies installed") || strings.HasPrefix(text, "preview bundled") {
			fmt.Fprintf(w, "%s: %s\n", source, text)
		}
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
