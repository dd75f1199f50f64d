package preview

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/evanw/esbuild/pkg/api"

	"github.com/stichdev/stich/tsdiag"
)

// Options configure a [Builder].
type Options struct {
	// Dir is the app folder on the host: index.html, src/, public/ and the
	// node_modules the sandbox installed. It is only read.
	Dir string
	// Entry is the script to bundle, relative to Dir. Default: the module
	// script index.html loads, else src/main.tsx.
	Entry string
	// ReportURL is where the injected reporter POSTs uncaught errors,
	// unhandled rejections and console.error calls (see [Report]), with
	// the build's fresh report token ([Preview.ReportToken]) as the
	// "token" query parameter; on a preview's own origin it is
	// [ReportPath]. Empty leaves the reporter out.
	ReportURL string
	// Roots are further host folders the build may read (a node_modules
	// shared between apps outside Dir). Everything else is refused.
	Roots []string
	// Production builds with NODE_ENV=production and minifies; the default
	// is a development build (readable React errors, no minification).
	Production bool
	// Env adds import.meta.env values (VITE_* variables), as Vite would.
	Env map[string]string
	// Base is the URL path the preview is served under, like Vite's base:
	// it prefixes the bundle's URLs in index.html and in CSS, and is
	// import.meta.env.BASE_URL. It must start and end with "/"; default "/".
	// The Preview's own paths stay relative to it ([Preview.File]).
	Base string
}

// Preview is one built app, held in memory.
type Preview struct {
	files map[string]asset
	// reportToken authenticates this build's error reports ("" without a
	// reporter).
	reportToken string
	// Built is when the build finished; Took how long it ran.
	Built time.Time
	Took  time.Duration

	// Parsed source maps, by the map's path (MapStack).
	mapsMu sync.Mutex
	maps   map[string]*sourceMap
}

type asset struct {
	body        []byte
	contentType string
	etag        string
	immutable   bool // hashed file name: cache forever
}

// Paths lists the served paths, sorted.
func (p *Preview) Paths() []string {
	out := make([]string, 0, len(p.files))
	for k := range p.files {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Asset is one served file of a preview.
type Asset struct {
	// Path is the file's path ("/index.html" for a client-side route).
	Path        string
	Body        []byte
	ContentType string
	ETag        string
	// Immutable marks content-hashed names, cacheable for good.
	Immutable bool
}

// Resolve returns what urlPath serves: its file, or index.html for a path
// without a file extension (client-side routing, as Vite's dev server).
func (p *Preview) Resolve(urlPath string) (Asset, bool) {
	name := path.Clean("/" + urlPath)
	if name == "/" {
		name = "/index.html"
	}
	a, ok := p.files[name]
	if !ok {
		if path.Ext(name) != "" {
			return Asset{}, false
		}
		name = "/index.html"
		if a, ok = p.files[name]; !ok {
			return Asset{}, false
		}
	}
	return Asset{Path: name, Body: a.body, ContentType: a.contentType, ETag: a.etag, Immutable: a.immutable}, true
}

// File returns the content served at urlPath.
func (p *Preview) File(urlPath string) ([]byte, bool) {
	a, ok := p.files[urlPath]
	return a.body, ok
}

// Limits on what a build reads.
const (
	maxSourceFile = 32 << 20
	maxPublicFile = 16 << 20
	maxPublic     = 64 << 20
	maxLinks      = 200_000 // directory entries walked looking for symlinks
)

// ErrRefused: the app folder holds a symlink that leaves the allowed
// folders, or asks to read outside them.
var ErrRefused = errors.New("preview: path outside the app")

// Builder bundles one app, incrementally: a Build after files changed
// reuses what esbuild parsed before. Build calls are serialized.
type Builder struct {
	opts    Options
	dir     string     // Dir, symlinks resolved
	roots   []string   // allowed folders, symlinks resolved
	handles []*os.Root // roots opened, same order
	entry   string
	mu      sync.Mutex
	ctx     api.BuildContext
	closed  bool
	outbase string
}

// NewBuilder checks opts and prepares an esbuild context. It reads
// nothing of the app yet but index.html (for the entry).
func NewBuilder(opts Options) (*Builder, error) {
	if opts.Dir == "" || !filepath.IsAbs(opts.Dir) {
		return nil, fmt.Errorf("preview: Dir %q must be an absolute path", opts.Dir)
	}
	dir, err := filepath.EvalSymlinks(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("preview: %w", err)
	}
	if opts.Base == "" {
		opts.Base = "/"
	}
	if !strings.HasPrefix(opts.Base, "/") || !strings.HasSuffix(opts.Base, "/") || path.Clean(opts.Base)+"/" != opts.Base && opts.Base != "/" ||
		strings.ContainsAny(opts.Base, "\"'<>?#% \t\n") {
		return nil, fmt.Errorf("preview: Base %q must be a clean URL path starting and ending with /", opts.Base)
	}
	b := &Builder{opts: opts, dir: dir, roots: []string{dir}}
	for _, r := range opts.Roots {
		rr, err := filepath.EvalSymlinks(r)
		if err != nil {
			return nil, fmt.Errorf("preview: root %s: %w", r, err)
		}
		b.roots = append(b.roots, rr)
	}
	for _, r := range b.roots {
		h, err := os.OpenRoot(r)
		if err != nil {
			b.closeRoots()
			return nil, fmt.Errorf("preview: %w", err)
		}
		b.handles = append(b.handles, h)
	}
	b.entry = opts.Entry
	if b.entry == "" {
		b.entry = "src/main.tsx"
		if html, err := b.readFile("index.html", 1<<20); err == nil {
			if e := entryFromHTML(string(html)); e != "" {
				b.entry = e
			}
		}
	}
	if clean := path.Clean(b.entry); clean != b.entry || strings.HasPrefix(clean, "../") || path.IsAbs(clean) || clean == ".." {
		b.closeRoots()
		return nil, fmt.Errorf("%w: entry %q", ErrRefused, b.entry)
	}
	mode := "development"
	if opts.Production {
		mode = "production"
	}
	env := map[string]any{"MODE": mode, "DEV": !opts.Production, "PROD": opts.Production, "BASE_URL": opts.Base, "SSR": false}
	for k, v := range opts.Env {
		env[k] = v
	}
	envJSON, _ := json.Marshal(env)
	define := map[string]string{
		"process.env.NODE_ENV": fmt.Sprintf("%q", mode),
		"import.meta.env":      string(envJSON),
	}
	for k, v := range env {
		vj, _ := json.Marshal(v)
		define["import.meta.env."+k] = string(vj)
	}
	b.outbase = filepath.Join(dir, ".stich-preview-out") // never written: Write is false
	ctx, cerr := api.Context(api.BuildOptions{
		AbsWorkingDir:     dir,
		EntryPoints:       []string{filepath.Join(dir, filepath.FromSlash(b.entry))},
		Bundle:            true,
		Write:             false,
		Format:            api.FormatESModule,
		Platform:          api.PlatformBrowser,
		Target:            api.ES2022,
		JSX:               api.JSXAutomatic,
		JSXDev:            !opts.Production,
		MinifyWhitespace:  opts.Production,
		MinifyIdentifiers: opts.Production,
		MinifySyntax:      opts.Production,
		Sourcemap:         sourcemap(opts.Production),
		Outdir:            b.outbase,
		EntryNames:        "assets/[name]-[hash]",
		ChunkNames:        "assets/[name]-[hash]",
		AssetNames:        "assets/[name]-[hash]",
		PublicPath:        opts.Base,
		Define:            define,
		Loader:            loaders,
		LogLevel:          api.LogLevelSilent,
		Plugins:           []api.Plugin{b.guard()},
	})
	if cerr != nil {
		b.closeRoots()
		return nil, fmt.Errorf("preview: %w", cerr)
	}
	b.ctx = ctx
	return b, nil
}

// sourcemap links source maps into development builds (stack traces in
// error reports then point at the app's sources); production builds have
// none, like Vite's.
func sourcemap(production bool) api.SourceMap {
	if production {
		return api.SourceMapNone
	}
	return api.SourceMapLinked
}

// loaders are the file types a Vite app imports, by extension.
var loaders = map[string]api.Loader{
	".js": api.LoaderJS, ".mjs": api.LoaderJS, ".cjs": api.LoaderJS, ".jsx": api.LoaderJSX,
	".ts": api.LoaderTS, ".mts": api.LoaderTS, ".cts": api.LoaderTS, ".tsx": api.LoaderTSX,
	".json": api.LoaderJSON, ".css": api.LoaderCSS, ".txt": api.LoaderText,
	".svg": api.LoaderFile, ".png": api.LoaderFile, ".jpg": api.LoaderFile, ".jpeg": api.LoaderFile,
	".gif": api.LoaderFile, ".webp": api.LoaderFile, ".avif": api.LoaderFile, ".ico": api.LoaderFile,
	".woff": api.LoaderFile, ".woff2": api.LoaderFile, ".ttf": api.LoaderFile, ".otf": api.LoaderFile,
	".mp3": api.LoaderFile, ".mp4": api.LoaderFile, ".webm": api.LoaderFile, ".wasm": api.LoaderFile,
}

// guard is the plugin through which every module's contents is read: only
// files inside the allowed folders, through [os.Root] (so a symlink cannot
// lead out), of bounded size.
func (b *Builder) guard() api.Plugin {
	return api.Plugin{
		Name: "stich-guard",
		Setup: func(pb api.PluginBuild) {
			pb.OnLoad(api.OnLoadOptions{Filter: ".*", Namespace: "file"}, func(args api.OnLoadArgs) (api.OnLoadResult, error) {
				loader, ok := loaders[strings.ToLower(path.Ext(args.Path))]
				if !ok {
					// Extensionless files in node_modules are JS.
					loader = api.LoaderJS
				}
				i, rel, err := b.locate(args.Path)
				if err != nil {
					return api.OnLoadResult{}, err
				}
				content, err := readRooted(b.handles[i], rel, maxSourceFile)
				if err != nil {
					return api.OnLoadResult{}, err
				}
				s := string(content)
				return api.OnLoadResult{Contents: &s, Loader: loader, ResolveDir: filepath.Dir(args.Path)}, nil
			})
		},
	}
}

// locate returns the index of the allowed folder containing p and p
// relative to it.
func (b *Builder) locate(p string) (int, string, error) {
	for i, r := range b.roots {
		if rel, err := filepath.Rel(r, p); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel) {
			return i, rel, nil
		}
	}
	return -1, "", fmt.Errorf("%w: %s", ErrRefused, p)
}

// readFile reads a file of the app folder through os.Root.
func (b *Builder) readFile(rel string, limit int64) ([]byte, error) {
	return readRooted(b.handles[0], rel, limit)
}

func (b *Builder) closeRoots() {
	for _, h := range b.handles {
		h.Close()
	}
	b.handles = nil
}

func readRooted(root *os.Root, rel string, limit int64) ([]byte, error) {
	f, err := root.Open(rel)
	if err != nil {
		if strings.Contains(err.Error(), "escapes") {
			return nil, fmt.Errorf("%w: %s: %v", ErrRefused, rel, err)
		}
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("preview: %s is not a regular file", rel)
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("preview: %s is larger than %d bytes", rel, limit)
	}
	return io.ReadAll(io.LimitReader(f, limit))
}

// checkLinks walks the allowed folders and refuses symlinks that resolve
// outside them: esbuild's resolver reads package.json and tsconfig.json
// files itself (not through the guard), and those must not be host files.
func (b *Builder) checkLinks() error {
	walked := 0
	var bad []string
	for _, r := range b.roots {
		err := filepath.WalkDir(r, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // unreadable entries cannot be followed either
			}
			walked++
			if walked > maxLinks {
				return fmt.Errorf("%w: more than %d files", ErrRefused, maxLinks)
			}
			if d.IsDir() && (d.Name() == ".git" || d.Name() == ".stich") {
				return filepath.SkipDir
			}
			if d.Type()&fs.ModeSymlink == 0 {
				return nil
			}
			target, err := filepath.EvalSymlinks(p)
			if err != nil {
				return nil // dangling: nothing to read
			}
			if _, _, err := b.locate(target); err != nil && len(bad) < 10 {
				rel, _ := filepath.Rel(r, p)
				bad = append(bad, rel)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: symlinks leave the app: %s", ErrRefused, strings.Join(bad, ", "))
	}
	return nil
}

// ErrBuild: the app did not bundle; the diagnostics say why.
var ErrBuild = errors.New("preview: build failed")

// Build bundles the app. Build errors come back as diagnostics in tsc's
// shape with a nil Preview and an error wrapping [ErrBuild]; warnings come
// back with the Preview.
func (b *Builder) Build(ctx context.Context) (*Preview, []tsdiag.Diagnostic, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, nil, errors.New("preview: builder closed")
	}
	start := time.Now()
	if err := b.checkLinks(); err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, b.ctx.Cancel)
	res := b.ctx.Rebuild()
	stop()
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	diags := b.diagnostics(res.Errors, "error")
	warnings := b.diagnostics(res.Warnings, "warning")
	if len(res.Errors) > 0 {
		return nil, append(diags, warnings...), fmt.Errorf("%w: %d errors", ErrBuild, len(res.Errors))
	}
	p, err := b.assemble(res.OutputFiles)
	if err != nil {
		return nil, warnings, err
	}
	p.Built = time.Now()
	p.Took = time.Since(start)
	return p, warnings, nil
}

// Close releases esbuild's context. It is idempotent.
func (b *Builder) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		b.ctx.Dispose()
		b.closeRoots()
	}
}

// Build is a one-shot [Builder].
func Build(ctx context.Context, opts Options) (*Preview, []tsdiag.Diagnostic, error) {
	b, err := NewBuilder(opts)
	if err != nil {
		return nil, nil, err
	}
	defer b.Close()
	return b.Build(ctx)
}

// diagnostics converts esbuild messages to tsc-shaped diagnostics (file
// relative to the app, 1-based line, UTF-16 column).
func (b *Builder) diagnostics(msgs []api.Message, category string) []tsdiag.Diagnostic {
	var out []tsdiag.Diagnostic
	for _, m := range msgs {
		d := tsdiag.Diagnostic{Category: category, Message: m.Text}
		for _, n := range m.Notes {
			if n.Text != "" && len(d.Message) < 4000 {
				d.Message += "\n" + n.Text
			}
		}
		if loc := m.Location; loc != nil && loc.File != "" {
			f := filepath.ToSlash(loc.File)
			if filepath.IsAbs(loc.File) {
				if rel, err := filepath.Rel(b.dir, loc.File); err == nil && !strings.HasPrefix(rel, "..") {
					f = filepath.ToSlash(rel)
				}
			}
			d.File, d.Line = f, loc.Line
			d.Column = utf16Column(loc.LineText, loc.Column) + 1
		}
		out = append(out, d)
	}
	return out
}

// utf16Column converts a byte column within line to UTF-16 units.
func utf16Column(line string, byteCol int) int {
	if byteCol > len(line) {
		return byteCol
	}
	n := 0
	for _, r := range line[:byteCol] {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	if !utf8.ValidString(line[:byteCol]) {
		return byteCol
	}
	return n
}

// assemble turns esbuild's output into served files plus index.html and
// the public/ folder.
func (b *Builder) assemble(outputs []api.OutputFile) (*Preview, error) {
	p := &Preview{files: map[string]asset{}}
	var scripts, styles []string
	for _, o := range outputs {
		rel, err := filepath.Rel(b.outbase, o.Path)
		if err != nil || strings.HasPrefix(rel, "..") {
			return nil, fmt.Errorf("preview: unexpected output %s", o.Path)
		}
		url := "/" + filepath.ToSlash(rel)
		p.add(url, o.Contents, true)
		switch {
		case strings.HasSuffix(url, ".js"):
			scripts = append(scripts, b.opts.Base+url[1:])
		case strings.HasSuffix(url, ".css"):
			styles = append(styles, b.opts.Base+url[1:])
		}
	}
	// public/ is served at the root, as Vite does.
	total := 0
	pub := filepath.Join(b.dir, "public")
	if fi, err := os.Lstat(pub); err == nil && fi.IsDir() {
		err := filepath.WalkDir(pub, func(fp string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !d.Type().IsRegular() {
				return nil
			}
			rel, _ := filepath.Rel(b.dir, fp)
			body, err := b.readFile(rel, maxPublicFile)
			if err != nil {
				return nil
			}
			total += len(body)
			if total > maxPublic {
				return fmt.Errorf("preview: public/ is larger than %d bytes", maxPublic)
			}
			url := "/" + filepath.ToSlash(strings.TrimPrefix(rel, "public"+string(filepath.Separator)))
			if _, taken := p.files[url]; !taken {
				p.add(url, body, false)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	html := defaultHTML
	if raw, err := b.readFile("index.html", 1<<20); err == nil {
		html = string(raw)
	}
	if b.opts.ReportURL != "" {
		p.addReporter(b.opts.ReportURL)
	}
	p.add("/index.html", []byte(rewriteHTML(rebase(html, b.opts.Base), scripts, styles, b.opts.ReportURL != "", b.opts.Base)), false)
	return p, nil
}

func (p *Preview) add(url string, body []byte, immutable bool) {
	sum := sha256.Sum256(body)
	p.files[url] = asset{body: body, contentType: contentType(url), etag: `"` + hex.EncodeToString(sum[:12]) + `"`, immutable: immutable}
}

const defaultHTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <title>App</title>
  </head>
  <body>
    <div id="root"></div>
  </body>
</html>
`

var (
	moduleScript = regexp.MustCompile(`(?is)<script\b[^>]*\btype\s*=\s*["']module["'][^>]*\bsrc\s*=\s*["']([^"']+)["'][^>]*>\s*</script>|<script\b[^>]*\bsrc\s*=\s*["']([^"']+)["'][^>]*\btype\s*=\s*["']module["'][^>]*>\s*</script>`)
	headOpen     = regexp.MustCompile(`(?i)<head\b[^>]*>`)
	headClose    = regexp.MustCompile(`(?i)</head\s*>`)
	bodyClose    = regexp.MustCompile(`(?i)</body\s*>`)
)

// EntryOf returns the script a build of an app with this index.html
// bundles: its first local module script, else src/main.tsx.
func EntryOf(indexHTML string) string {
	if e := entryFromHTML(indexHTML); e != "" {
		return e
	}
	return "src/main.tsx"
}

// entryFromHTML returns the first local module script of index.html,
// relative to the app folder.
func entryFromHTML(html string) string {
	for _, m := range moduleScript.FindAllStringSubmatch(html, -1) {
		src := m[1] + m[2]
		if strings.Contains(src, "://") || strings.HasPrefix(src, "//") {
			continue
		}
		return strings.TrimPrefix(path.Clean("/"+src), "/")
	}
	return ""
}

// rootURL matches root-absolute src and href attributes ("/favicon.svg",
// not "//host/x").
var rootURL = regexp.MustCompile(`(?i)(\s(?:src|href)\s*=\s*["'])/([^/"'])`)

// rebase points index.html's root-absolute URLs under base, as Vite does
// for its base option.
func rebase(html, base string) string {
	if base == "/" {
		return html
	}
	return rootURL.ReplaceAllString(html, "${1}"+base+"${2}")
}

// rewriteHTML replaces index.html's local module scripts by the bundle,
// links the bundled CSS and puts the error reporter first in <head>.
func rewriteHTML(html string, scripts, styles []string, reporter bool, base string) string {
	html = moduleScript.ReplaceAllStringFunc(html, func(tag string) string {
		m := moduleScript.FindStringSubmatch(tag)
		if src := m[1] + m[2]; strings.Contains(src, "://") || strings.HasPrefix(src, "//") {
			return tag
		}
		return ""
	})
	var head strings.Builder
	if reporter {
		head.WriteString(reporterTag(base))
	}
	for _, s := range styles {
		head.WriteString("\n    <link rel=\"stylesheet\" href=\"" + s + "\" />")
	}
	var tail strings.Builder
	for _, s := range scripts {
		tail.WriteString("    <script type=\"module\" src=\"" + s + "\"></script>\n  ")
	}
	if loc := headOpen.FindStringIndex(html); loc != nil {
		html = html[:loc[1]] + head.String() + html[loc[1]:]
	} else if loc := headClose.FindStringIndex(html); loc != nil {
		html = html[:loc[0]] + head.String() + html[loc[0]:]
	} else {
		html = "<head>" + head.String() + "</head>\n" + html
	}
	if loc := bodyClose.FindStringIndex(html); loc != nil {
		html = html[:loc[0]] + tail.String() + html[loc[0]:]
	} else {
		html += tail.String()
	}
	return html
}
