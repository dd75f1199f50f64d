package fixer

import (
	"path"
	"sort"
	"strings"
)

// sourceExts are the extensions TypeScript resolves an extensionless
// import to, in its order.
var sourceExts = []string{".ts", ".tsx", ".d.ts", ".js", ".jsx"}

// assetExts are imports Vite handles that are no TypeScript.
var assetExts = map[string]bool{
	".css": true, ".scss": true, ".sass": true, ".less": true,
	".svg": true, ".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".webp": true, ".avif": true, ".ico": true,
	".json": true, ".txt": true, ".woff": true, ".woff2": true,
}

// isSource reports whether p is a TypeScript or JavaScript module.
func isSource(p string) bool {
	for _, e := range []string{".ts", ".tsx", ".js", ".jsx", ".mts", ".cts", ".mjs", ".cjs"} {
		if strings.HasSuffix(p, e) {
			return true
		}
	}
	return false
}

// specKind classifies an import specifier.
type specKind int

const (
	specRelative specKind = iota // "./x", "../x"
	specAlias                    // "@/x", "~/x", "src/x": a project path alias
	specAbsolute                 // "/src/x"
	specPackage                  // "react", "@scope/pkg/sub"
)

func classify(spec string) specKind {
	switch {
	case spec == "." || spec == ".." || strings.HasPrefix(spec, "./") || strings.HasPrefix(spec, "../"):
		return specRelative
	case strings.HasPrefix(spec, "@/") || strings.HasPrefix(spec, "~/") || strings.HasPrefix(spec, "src/"):
		return specAlias
	case strings.HasPrefix(spec, "/"):
		return specAbsolute
	}
	return specPackage
}

// resolver answers module resolution questions over an app's files, the
// way TypeScript's bundler resolution would.
type resolver struct {
	files map[string]string
	paths []string // sorted project paths (no node_modules)
}

func newResolver(files map[string]string) *resolver {
	r := &resolver{files: files}
	for p := range files {
		if !strings.HasPrefix(p, "node_modules/") && !strings.Contains(p, "/node_modules/") {
			r.paths = append(r.paths, p)
		}
	}
	sort.Strings(r.paths)
	return r
}

// base returns the project path an import of spec from file points at
// (before extensions are tried), or "" for a package.
func (r *resolver) base(file, spec string) string {
	switch classify(spec) {
	case specRelative:
		return path.Join(path.Dir(file), spec)
	case specAlias:
		if strings.HasPrefix(spec, "src/") {
			return path.Clean(spec)
		}
		return path.Join("src", spec[2:])
	case specAbsolute:
		return path.Clean(strings.TrimPrefix(spec, "/"))
	}
	return ""
}

// exact resolves base like TypeScript: as is, with each source extension,
// with .js/.jsx mapped to .ts/.tsx, and as a folder with an index file.
func (r *resolver) exact(base string) string {
	if base == "" {
		return ""
	}
	if _, ok := r.files[base]; ok && (isSource(base) || assetExts[path.Ext(base)]) {
		return base
	}
	for _, e := range sourceExts {
		if _, ok := r.files[base+e]; ok {
			return base + e
		}
	}
	for js, tsExts := range map[string][]string{".js": {".ts", ".tsx"}, ".jsx": {".tsx"}, ".mjs": {".mts"}} {
		if strings.HasSuffix(base, js) {
			for _, e := range tsExts {
				if p := strings.TrimSuffix(base, js) + e; r.has(p) {
					return p
				}
			}
		}
	}
	for _, e := range sourceExts {
		if p := base + "/index" + e; r.has(p) {
			return p
		}
	}
	return ""
}

func (r *resolver) has(p string) bool {
	_, ok := r.files[p]
	return ok
}

// stripExt removes a source extension (and a "/index" file name).
func stripExt(p string) string {
	for _, e := range []string{".d.ts", ".tsx", ".ts", ".jsx", ".js", ".mts", ".cts", ".mjs", ".cjs"} {
		if strings.HasSuffix(p, e) {
			p = strings.TrimSuffix(p, e)
			break
		}
	}
	return p
}

// guess finds the file a broken import most likely meant: the same path
// in another letter case or with another extension, else a file with the
// same name elsewhere in the project, nearest to the intended folder. Only
// files of the same sort (source or the same asset extension) qualify.
func (r *resolver) guess(base string) string {
	if p := r.exact(base); p != "" {
		return p
	}
	wantAsset := assetExts[path.Ext(base)]
	key := func(p string) string {
		if wantAsset {
			return strings.ToLower(p)
		}
		return strings.ToLower(strings.TrimSuffix(stripExt(p), "/index"))
	}
	eligible := func(p string) bool {
		if wantAsset {
			return path.Ext(p) == path.Ext(base)
		}
		return isSource(p) && !strings.HasSuffix(p, ".d.ts")
	}
	want := key(base)
	if !wantAsset {
		want = strings.ToLower(strings.TrimSuffix(stripExt(base), "/index"))
	}
	for _, p := range r.paths {
		if eligible(p) && key(p) == want {
			return p
		}
	}
	name := path.Base(want)
	var best string
	bestScore := -1
	for _, p := range r.paths {
		if !eligible(p) || path.Base(key(p)) != name {
			continue
		}
		score := sharedPrefix(path.Dir(base), path.Dir(p))*2 - strings.Count(p, "/")
		if best == "" || score > bestScore {
			best, bestScore = p, score
		}
	}
	return best
}

// sharedPrefix counts the leading path segments a and b share.
func sharedPrefix(a, b string) int {
	as, bs := strings.Split(a, "/"), strings.Split(b, "/")
	n := 0
	for n < len(as) && n < len(bs) && as[n] == bs[n] {
		n++
	}
	return n
}

// relSpec is the specifier that imports target from file: relative, with
// "./" or "../", without a source extension or "/index", keeping asset
// extensions.
func relSpec(file, target string) string {
	to := target
	if isSource(to) {
		to = stripExt(to)
		if strings.HasSuffix(to, "/index") {
			to = strings.TrimSuffix(to, "/index")
		}
	}
	from := strings.Split(path.Dir(file), "/")
	if path.Dir(file) == "." {
		from = nil
	}
	parts := strings.Split(to, "/")
	i := 0
	for i < len(from) && i < len(parts)-1 && from[i] == parts[i] {
		i++
	}
	var rel []string
	for range from[i:] {
		rel = append(rel, "..")
	}
	rel = append(rel, parts[i:]...)
	s := strings.Join(rel, "/")
	if !strings.HasPrefix(s, "../") {
		s = "./" + s
	}
	return s
}

// packageName returns the npm package an import names ("@scope/pkg" or
// "pkg"), or "" if spec is no valid package specifier.
func packageName(spec string) string {
	parts := strings.Split(spec, "/")
	name := parts[0]
	if strings.HasPrefix(spec, "@") {
		if len(parts) < 2 {
			return ""
		}
		name = parts[0] + "/" + parts[1]
	}
	if !npmName.MatchString(name) || len(name) > 214 {
		return ""
	}
	return name
}

// nodeBuiltins cannot be installed from npm; a browser app importing them
// needs a rewrite a model must make.
var nodeBuiltins = map[string]bool{
	"assert": true, "buffer": true, "child_process": true, "cluster": true, "crypto": true, "dgram": true, "dns": true,
	"events": true, "fs": true, "http": true, "http2": true, "https": true, "module": true, "net": true, "os": true,
	"path": true, "perf_hooks": true, "process": true, "querystring": true, "readline": true, "stream": true,
	"string_decoder": true, "timers": true, "tls": true, "tty": true, "url": true, "util": true, "v8": true, "vm": true,
	"worker_threads": true, "zlib": true,
}
