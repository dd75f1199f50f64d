package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Install implements [Runner]. It refuses dependencies that would make npm
// fetch from anywhere but the registry ([CheckDependencies]), then runs
// "npm ci" (with a lockfile) or "npm install" with --prefer-offline
// --ignore-scripts, the shared cache mounted at /cache, and the host network.
//
// NB: bubblewrap cannot filter the network by host: during Install the
// sandbox shares the host's network namespace, loopback included. What
// keeps that safe is that only npm itself runs (no lifecycle scripts) and
// that it only contacts the configured registry, because every dependency
// spec and lockfile URL was checked against it first and no .npmrc may
// redirect it. Enforcing the host list needs an egress proxy or firewall
// outside the sandbox.
func (l *Local) Install(ctx context.Context, id string, opts InstallOptions) (Result, error) {
	w, err := l.get(id)
	if err != nil {
		return Result{}, err
	}
	root, err := os.OpenRoot(w.dir)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %s: %v", ErrNoWorkspace, id, err)
	}
	read := func(name string) ([]byte, error) {
		b, err := readLimited(root, name)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return b, err
	}
	pkg, err := read("package.json")
	if err != nil {
		root.Close()
		return Result{}, err
	}
	lock, err := read("package-lock.json")
	if err != nil {
		root.Close()
		return Result{}, err
	}
	_, npmrcErr := root.Lstat(".npmrc")
	root.Close()
	if pkg == nil {
		return Result{}, fmt.Errorf("%w: no package.json", ErrDependencies)
	}
	if npmrcErr == nil {
		return Result{}, fmt.Errorf("%w: .npmrc is not allowed (it could redirect npm)", ErrDependencies)
	}
	if err := CheckDependencies(pkg, lock, l.cfg.Registry); err != nil {
		return Result{}, err
	}

	key := ""
	if !l.cfg.NoPreparedModules {
		key = modulesKey(pkg, lock)
	}
	if key != "" {
		w.exclusive.Lock()
		res, ok, err := l.restore(ctx, w, key, opts)
		w.exclusive.Unlock()
		if ok || ctx.Err() != nil {
			return res, err
		}
		if err != nil {
			l.log.Warn("sandbox: running npm instead of copying the prepared node_modules", "workspace", id, "err", err)
		}
	}

	args := []string{"npm", "install"}
	if lock != nil {
		args = []string{"npm", "ci"}
	}
	args = append(args, "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts",
		"--loglevel=warn", "--registry="+l.cfg.Registry)
	s, proxy, err := l.installSpec(w, args)
	if err != nil {
		return Result{}, err
	}
	if proxy != nil {
		defer proxy.close()
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = l.cfg.InstallTimeout
	}
	w.exclusive.Lock()
	defer w.exclusive.Unlock()
	return l.track(ctx, w, args, func(ctx context.Context) (Result, error) {
		res, err := l.execute(ctx, "npm-"+args[1], s, opts.OnLine, timeout)
		if err == nil && res.ExitCode != 0 {
			err = fmt.Errorf("sandbox: %s failed with status %d: %s", strings.Join(args[:2], " "), res.ExitCode, lastLines(res, 8))
		}
		if err == nil && key != "" {
			// Kept while the workspace runs nothing else (exclusive):
			// what is copied is what npm made.
			l.saveModules(w, key)
		}
		return res, err
	})
}

// restore copies the prepared set key into w (held exclusively) as an
// install: ok reports it was there and copied.
func (l *Local) restore(ctx context.Context, w *workspace, key string, opts InstallOptions) (res Result, ok bool, err error) {
	res, err = l.track(ctx, w, []string{"restore", "node_modules"}, func(ctx context.Context) (Result, error) {
		start := time.Now()
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		done, err := l.restoreModules(w, key)
		ok = done
		r := Result{Duration: time.Since(start), Restored: done}
		if done && opts.OnLine != nil {
			opts.OnLine(Line{Stream: Stdout, Text: "copied the prepared node_modules of this dependency set (npm ci ran for it before)"})
		}
		return r, err
	})
	return res, ok, err
}

// installSpec returns the spec of an install command in w: the npm cache
// mounted, and (isolated) the egress proxy, which the caller closes.
func (l *Local) installSpec(w *workspace, args []string) (spec, *egress, error) {
	s := l.spec(w.uid, w.dir, ".", args)
	var proxy *egress
	if s.unsafe || l.installHostNet {
		s.network = true // no namespaces: npm uses the host's network
	} else {
		var err error
		if proxy, err = l.egressFor(&s); err != nil {
			return s, nil, err
		}
	}
	s.cache = l.cfg.CacheDir
	s.env = []string{"npm_config_cache=" + cacheDir}
	if s.unsafe {
		s.env = []string{"npm_config_cache=" + l.cfg.CacheDir}
	}
	// Node uses its own CA list; add the system's so a registry behind a
	// corporate or local TLS proxy works.
	if _, err := os.Stat("/etc/ssl/certs/ca-certificates.crt"); err == nil {
		s.env = append(s.env, "NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt")
	}
	return s, proxy, nil
}

// egressFor starts an install's egress proxy and routes s through it: s
// keeps its own network namespace, gets the proxy's socket and the
// forwarder, and runs its command under the forwarder.
func (l *Local) egressFor(s *spec) (*egress, error) {
	allow, err := registryAddr(l.cfg.Registry)
	if err != nil {
		return nil, err
	}
	e, err := startEgress(allow, l.log)
	if err != nil {
		return nil, err
	}
	s.network = false
	s.mounts = append(s.mounts,
		boundMount{host: e.sock, target: egressSocket, env: "STICH_EGRESS_SOCKET"},
		boundMount{host: l.forward, target: forwardScript})
	s.args = append([]string{"node", forwardScript}, s.args...)
	return e, nil
}

func lastLines(r Result, n int) string {
	t := r.Tail
	if len(t) > n {
		t = t[len(t)-n:]
	}
	var parts []string
	for _, l := range t {
		parts = append(parts, l.Text)
	}
	return strings.Join(parts, " | ")
}

var (
	npmName = regexp.MustCompile(`^(@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*$`)
	// npmRange accepts semver versions and ranges ("^1.2.3", ">=1 <2",
	// "1.x || 2", "*") and dist-tags ("latest", "next").
	npmRange = regexp.MustCompile(`^[A-Za-z0-9.^~<>=|*+ _-]*$`)
)

// CheckDependencies enforces the install policy on package.json (and the
// lockfile, when given): every dependency is a registry package with a
// version range or dist-tag (no URLs, git, GitHub shorthands, file: or
// link: paths, npm: aliases), workspaces are not used, and every resolved
// URL in the lockfile is under registry. It reports every problem at once,
// wrapped in [ErrDependencies].
func CheckDependencies(packageJSON, lockJSON []byte, registry string) error {
	var problems []string
	add := func(format string, args ...any) {
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	var pkg map[string]json.RawMessage
	if err := json.Unmarshal(packageJSON, &pkg); err != nil {
		return fmt.Errorf("%w: package.json: %v", ErrDependencies, err)
	}
	for _, field := range []string{"dependencies", "devDependencies", "optionalDependencies", "peerDependencies"} {
		raw, ok := pkg[field]
		if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			continue
		}
		var deps map[string]string
		if err := json.Unmarshal(raw, &deps); err != nil {
			add("%s is not an object of strings", field)
			continue
		}
		names := make([]string, 0, len(deps))
		for n := range deps {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if len(n) > 214 || !npmName.MatchString(n) {
				add("%s: %q is not an npm package name", field, n)
			}
			if v := deps[n]; len(v) > 256 || !npmRange.MatchString(v) {
				add("%s: %s: %q is not a registry version range", field, n, v)
			}
		}
	}
	for _, field := range []string{"workspaces", "bundleDependencies", "bundledDependencies"} {
		if raw, ok := pkg[field]; ok && !isEmptyJSON(raw) {
			add("%q is not allowed", field)
		}
	}
	if raw, ok := pkg["overrides"]; ok && !isEmptyJSON(raw) {
		checkOverrides(raw, "overrides", add)
	}
	if lockJSON != nil {
		prefix := strings.TrimSuffix(registry, "/") + "/"
		var lock struct {
			Packages     map[string]json.RawMessage `json:"packages"`
			Dependencies map[string]json.RawMessage `json:"dependencies"`
		}
		if err := json.Unmarshal(lockJSON, &lock); err != nil {
			add("package-lock.json: %v", err)
		}
		var entries []string
		for k := range lock.Packages {
			entries = append(entries, k)
		}
		sort.Strings(entries)
		for _, k := range entries {
			if k != "" && !strings.HasPrefix(k, "node_modules/") && !strings.Contains(k, "/node_modules/") {
				add("package-lock.json: package %q lies outside node_modules", k)
			}
			checkLockEntry(k, lock.Packages[k], prefix, add)
		}
		for k, raw := range lock.Dependencies {
			checkLockEntry(k, raw, prefix, add)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrDependencies, strings.Join(problems, "; "))
	}
	return nil
}

func isEmptyJSON(raw json.RawMessage) bool {
	s := string(bytes.TrimSpace(raw))
	return s == "null" || s == "{}" || s == "[]" || s == "false"
}

func checkOverrides(raw json.RawMessage, where string, add func(string, ...any)) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		add("%s: %v", where, err)
		return
	}
	var walk func(v any, where string, depth int)
	walk = func(v any, where string, depth int) {
		if depth > 16 {
			add("%s: nested too deep", where)
			return
		}
		switch t := v.(type) {
		case string:
			if !npmRange.MatchString(t) && !strings.HasPrefix(t, "$") {
				add("%s: %q is not a registry version range", where, t)
			}
		case map[string]any:
			for k, c := range t {
				walk(c, where+"."+k, depth+1)
			}
		default:
			add("%s: unexpected value", where)
		}
	}
	walk(v, where, 0)
}

// checkLockEntry checks one lockfile entry (v2/v3 "packages" or v1
// "dependencies", recursively).
func checkLockEntry(key string, raw json.RawMessage, registryPrefix string, add func(string, ...any)) {
	var e struct {
		Resolved     string                     `json:"resolved"`
		Version      string                     `json:"version"`
		Link         bool                       `json:"link"`
		Dependencies map[string]json.RawMessage `json:"dependencies"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		add("package-lock.json: %q: %v", key, err)
		return
	}
	if e.Link {
		add("package-lock.json: %q is a link", key)
	}
	if e.Resolved != "" && !strings.HasPrefix(e.Resolved, registryPrefix) {
		add("package-lock.json: %q resolves outside the registry (%q)", key, e.Resolved)
	}
	if strings.Contains(e.Version, ":") || strings.Contains(e.Version, "/") {
		add("package-lock.json: %q has version %q", key, e.Version)
	}
	for k, d := range e.Dependencies {
		// v1 nesting; v2+ "dependencies" inside packages are plain ranges.
		if len(d) > 0 && d[0] == '{' {
			checkLockEntry(key+">"+k, d, registryPrefix, add)
		} else {
			var v string
			if json.Unmarshal(d, &v) == nil && !npmRange.MatchString(v) {
				add("package-lock.json: %q depends on %s %q", key, k, v)
			}
		}
	}
}
