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

// fuzzy finds the one source file whose name is base's up to letter case,
// hyphens and underscores, a plural "s", or a small typo (one edit in
// names of 4 to 7 letters, two from 8), nearest to base's folder. A
// folder's index file goes by the folder's name. "" when none, or when two
// fit equally well.
func (r *resolver) fuzzy(base string) string {
	want := fuzzyKey(path.Base(strings.TrimSuffix(stripExt(base), "/index")))
	if len(want) < 3 {
		return ""
	}
	type cand struct {
		p           string
		dist, score int
	}
	var best []cand
	for _, p := range r.paths {
		if !isSource(p) || strings.HasSuffix(p, ".d.ts") {
			continue
		}
		name := path.Base(strings.TrimSuffix(stripExt(p), "/index"))
		if path.Base(stripExt(p)) == "index" {
			name = path.Base(path.Dir(p))
		}
		got := fuzzyKey(name)
		dist := editDistance(want, got, 3)
		limit := 0
		switch {
		case len(want) >= 8:
			limit = 2
		case len(want) >= 4:
			limit = 1
		}
		if dist > limit {
			continue
		}
		c := cand{p, dist, sharedPrefix(path.Dir(base), path.Dir(p))*2 - strings.Count(p, "/")}
		switch {
		case len(best) == 0 || c.dist < best[0].dist || c.dist == best[0].dist && c.score > best[0].score:
			best = []cand{c}
		case c.dist == best[0].dist && c.score == best[0].score:
			best = append(best, c)
		}
	}
	if len(best) != 1 {
		return ""
	}
	return best[0].p
}

// fuzzyKey folds a file name for [resolver.fuzzy]: lower case, without
// separators, singular.
func fuzzyKey(name string) string {
	k := strings.ToLower(strings.NewReplacer("-", "", "_", "", ".", "").Replace(name))
	switch {
	case strings.HasSuffix(k, "ies") && len(k) > 4:
		k = strings.TrimSuffix(k, "ies") + "y"
	case strings.HasSuffix(k, "ss"):
	case strings.HasSuffix(k, "s") && len(k) > 3:
		k = strings.TrimSuffix(k, "s")
	}
	return k
}

// editDistance is the Levenshtein distance of a and b, or max+1 once it
// exceeds max.
func editDistance(a, b string, max int) int {
	if d := len(a) - len(b); d > max || -d > max {
		return max + 1
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		low := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			low = min(low, cur[j])
		}
		if low > max {
			return max + 1
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// aliasSpec keeps a project alias ("@/x", "~/x") an import was written
// with when it is rewritten to target: "" when spec used none or target
// is outside src/.
func aliasSpec(spec, target string) string {
	if !strings.HasPrefix(spec, "@/") && !strings.HasPrefix(spec, "~/") || !strings.HasPrefix(target, "src/") {
		return ""
	}
	to := strings.TrimPrefix(target, "src/")
	if isSource(to) {
		to = strings.TrimSuffix(stripExt(to), "/index")
	}
	return spec[:2] + to
}
