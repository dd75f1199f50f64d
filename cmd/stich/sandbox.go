package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/stichdev/stich/appbuild"
	"github.com/stichdev/stich/preview"
	"github.com/stichdev/stich/runcheck"
	"github.com/stichdev/stich/sandbox"
)

// sandboxFlags configure where generated apps are built and previewed.
type sandboxFlags struct {
	mode          string
	unsafe        bool
	dir           string
	uid           int
	uids          int
	diskMB        int
	registry      string
	previewHTTP   string
	previewDomain string
	uiOrigin      string
	// npmCache overrides the npm cache folder (stich sandbox-build).
	npmCache string
	nomad    nomadSandboxFlags
	// browser is the runtime check's Chromium: auto, off or a path.
	browser string
}

func (f *sandboxFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&f.mode, "sandbox", "local", "where generated apps are installed, type-checked and previewed: local (bubblewrap on this machine), nomad (a dispatch of the Nomad sandbox job per check; see --sandbox-nomad-*) or off")
	f.nomad.register(fl)
	fl.StringVar(&f.browser, "runtime-check", "auto", "the browser that loads every built preview to record runtime errors for the fixing step: auto (chromium on PATH; none found: previews are not runtime-checked), off, or the path of a Chromium binary")
	f.registerRunner(fl, "<data>/sandbox, or /var/tmp/stich-sandbox-* when the sandbox user cannot reach <data>")
	fl.StringVar(&f.previewHTTP, "preview-http", "127.0.0.1:8081", "address of the preview server (its own origin, apart from the API); off disables previews")
	fl.StringVar(&f.previewDomain, "preview-domain", preview.DefaultDomain, "each app's preview is served at http://SESSION.<domain>:<--preview-http port>/; give a URL such as https://apps.example.net for a deployment behind wildcard DNS (*.apps.example.net) and TLS. Must be a site apart from the UI's")
	fl.StringVar(&f.uiOrigin, "ui-origin", "", "origin browsers reach the UI at, the only one that may frame previews (default http://<--http address>, and http://localhost:<port> for a loopback address)")
}

// defaultRegistry is the npm registry installs use unless told otherwise.
const defaultRegistry = "https://registry.npmjs.org/"

// registerRunner registers the flags of the local runner itself, shared
// by serve and the check, fix and preview commands.
func (f *sandboxFlags) registerRunner(fl *pflag.FlagSet, defaultDir string) {
	fl.BoolVar(&f.unsafe, "unsafe-sandbox", false, "when bubblewrap is missing, run generated apps' tools anyway, WITHOUT isolation (never with untrusted users)")
	fl.StringVar(&f.dir, "sandbox-dir", "", "folder for app workspaces and the shared npm cache (default: "+defaultDir+")")
	fl.IntVar(&f.uid, "sandbox-uid", sandbox.DefaultUID, "first uid, and the gid, generated code runs as (needs root; ignored, with a warning, when stich is not root)")
	fl.IntVar(&f.diskMB, "sandbox-disk-mb", 1024, "disk quota of each app's workspace in MiB (a tmpfs: it takes RAM while the workspace exists; needs root); 0 for none")
	fl.IntVar(&f.uids, "sandbox-uids", 64, "how many uids from --sandbox-uid the apps' workspaces use, one each, so one app's processes never starve another's")
	fl.StringVar(&f.registry, "npm-registry", defaultRegistry, "the npm registry installs may use (the only host generated apps' dependencies may come from)")
}

// validate reports every flag problem at once.
func (f *sandboxFlags) validate() []error {
	var errs []error
	switch f.mode {
	case "local", "nomad", "off":
	default:
		errs = append(errs, fmt.Errorf("--sandbox %q: want local, nomad or off", f.mode))
	}
	errs = append(errs, f.nomad.validate(f.mode)...)
	if f.previewHTTP != "off" {
		if _, _, err := net.SplitHostPort(f.previewHTTP); err != nil {
			errs = append(errs, fmt.Errorf("--preview-http %q: want host:port or off: %w", f.previewHTTP, err))
		}
	}
	if f.previewHTTP != "off" {
		if _, err := f.origins(f.previewHTTP); err != nil {
			errs = append(errs, err)
		}
	}
	if f.uiOrigin != "" {
		u, err := url.Parse(f.uiOrigin)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			errs = append(errs, fmt.Errorf("--ui-origin %q: want an origin such as https://stich.example.com", f.uiOrigin))
		}
	}
	if u, err := url.Parse(f.registry); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("--npm-registry %q: want an http(s) URL", f.registry))
	}
	if f.uid <= 0 {
		errs = append(errs, fmt.Errorf("--sandbox-uid %d: want a positive, unused uid", f.uid))
	}
	if f.diskMB != 0 && f.diskMB < 16 {
		errs = append(errs, fmt.Errorf("--sandbox-disk-mb %d: want 0 (no quota) or at least 16", f.diskMB))
	}
	if f.uids < 1 || f.uid+f.uids-1 >= 65534 {
		errs = append(errs, fmt.Errorf("--sandbox-uids %d: want at least 1, with --sandbox-uid + count below 65534", f.uids))
	}
	return errs
}

// origins names the apps' preview origins for a preview server bound at
// listen: --preview-domain as a bare domain takes http and listen's port;
// as a URL it is taken whole (a proxy in front serves the port).
func (f *sandboxFlags) origins(listen string) (preview.Origins, error) {
	d := f.previewDomain
	if !strings.Contains(d, "://") {
		_, port, err := net.SplitHostPort(listen)
		if err != nil {
			return preview.Origins{}, fmt.Errorf("--preview-http %q: %w", listen, err)
		}
		d = "http://" + net.JoinHostPort(d, port)
		if port == "0" {
			d = "http://" + f.previewDomain // the port is known once bound
		}
	}
	o, err := preview.ParseOrigins(d)
	if err != nil {
		return o, fmt.Errorf("--preview-domain %q: %w", f.previewDomain, err)
	}
	return o, nil
}

// frameAncestors returns the UI origins that may frame previews, for an
// API bound at apiAddr: --ui-origin, else the address itself and, for a
// loopback or unspecified address, its localhost names.
func (f *sandboxFlags) frameAncestors(apiAddr string) []string {
	if f.uiOrigin != "" {
		return []string{strings.TrimSuffix(f.uiOrigin, "/")}
	}
	host, port, err := net.SplitHostPort(apiAddr)
	if err != nil {
		return nil
	}
	var out []string
	ip, perr := netip.ParseAddr(host)
	if perr != nil || !ip.IsUnspecified() && ip.Is4() {
		out = append(out, "http://"+apiAddr)
	}
	if perr == nil && (ip.IsLoopback() || ip.IsUnspecified()) {
		for _, h := range []string{"localhost", "127.0.0.1"} { // NB: CSP sources cannot name IPv6 literals
			if o := "http://" + h + ":" + port; o != "http://"+apiAddr {
				out = append(out, o)
			}
		}
	}
	return out
}

// builds sets up the local sandbox. It returns nil and the reason when
// builds are off: by choice, or because the machine cannot isolate
// generated code and --unsafe-sandbox was not given.
func (f *sandboxFlags) builds(data string, log *slog.Logger) (*appbuild.Config, string) {
	if f.mode == "off" {
		return nil, "builds and previews are off on this node (--sandbox off)"
	}
	dir, err := f.sandboxDir(data)
	if err != nil {
		return nil, "builds and previews are off: " + err.Error()
	}
	cfg := sandbox.DefaultConfig(dir)
	cfg.UID, cfg.GID, cfg.UIDs = f.uid, f.uid, f.uids
	cfg.WorkspaceSize = int64(f.diskMB) << 20
	if os.Geteuid() != 0 {
		log.Warn("sandbox: stich is not root, so generated code runs as stich's own user (still inside bubblewrap); run as root for a separate sandbox uid")
		cfg.UID, cfg.GID = -1, -1
		cfg.WorkspaceSize = 0
	}
	if f.npmCache != "" {
		cfg.CacheDir = f.npmCache
	}
	cfg.Registry = strings.TrimSuffix(f.registry, "/") + "/"
	cfg.Unsafe = f.unsafe
	cfg.Logger = log
	r, err := sandbox.NewLocal(cfg)
	if err != nil {
		if errors.Is(err, sandbox.ErrUnavailable) && !f.unsafe {
			return nil, "builds and previews are off: " + err.Error() + " (or pass --unsafe-sandbox)"
		}
		return nil, "builds and previews are off: " + err.Error()
	}
	log.Info("sandbox ready", "dir", dir, "isolated", !r.Unsafe(), "cgroups", r.CgroupVersion())
	return &appbuild.Config{Runner: r, Fixer: appbuild.NewLazyFixer(r)}, ""
}

// sandboxDir picks the workspace folder: --sandbox-dir, else <data>/sandbox
// when every folder above it lets others through (the sandbox uid must
// reach its workspace), else a folder under /var/tmp named after data.
func (f *sandboxFlags) sandboxDir(data string) (string, error) {
	if f.dir != "" {
		return filepath.Abs(f.dir)
	}
	abs, err := filepath.Abs(data)
	if err != nil {
		return "", err
	}
	if os.Geteuid() != 0 || traversable(abs) {
		return filepath.Join(abs, "sandbox"), nil
	}
	base := "/var/tmp" // survives reboots, unlike /tmp: the npm cache stays warm
	if fi, err := os.Stat(base); err != nil || !fi.IsDir() {
		base = os.TempDir()
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(base, "stich-sandbox-"+hex.EncodeToString(sum[:6])), nil
}

// traversable reports whether others may pass through dir and each folder
// above it.
func traversable(dir string) bool {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}

// runtimeChecker starts the runtime check's browser of this node (lazily:
// nothing runs before the first check), or says in one log line why
// previews are not runtime-checked. It never fails serving.
func (f *sandboxFlags) runtimeChecker(log *slog.Logger) *runcheck.Checker {
	if f.browser == "off" {
		log.Info("runtime check of previews is off (--runtime-check off)")
		return nil
	}
	path := f.browser
	if path == "auto" {
		path = ""
	}
	c, err := runcheck.New(path)
	if err != nil {
		log.Warn("previews are not runtime-checked: no browser (install chromium, or pass --runtime-check PATH)", "err", err)
		return nil
	}
	return c
}
