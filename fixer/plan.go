package fixer

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/stichdev/stich/sandbox"
)

// Codes lists the diagnostics the fixer handles, in the order it handles
// them. Unused imports go first (removing them can settle other errors on
// the same import), then the reference's order (TS2307, TS2305,
// TS2613/TS2614, TS2724, TS2304), then the other mistakes models make.
var Codes = []int{17008, 17002, 6192, 6133, 6196, 2307, 2792, 2882, 5097, 2305, 2459, 2460, 2613, 2614, 2724, 1484, 1361, 2304, 2552, 2686, 2503, 2580, 2591, 2551, 7016,
	2339, 2322, 2345, 2554, 18047, 18048, 18049, 2531, 2532, 7006, 7053, 2559, 1192}

// queried are the codes whose fixes need to know what sits at the
// diagnostic's position (a query to the parser).
var queried = map[int]bool{2304: true, 2580: true, 2591: true, 6133: true, 6196: true, 2551: true, 2552: true, 2339: true, 2322: true, 2345: true, 2554: true,
	18047: true, 18048: true, 18049: true, 2531: true, 2532: true, 7006: true, 7053: true, 2559: true, 2722: true, 18046: true, 7031: true}

var priority = func() map[int]int {
	m := map[int]int{}
	order := [][]int{{17008, 17002}, {6192, 6133, 6196}, {2307, 2792, 2882, 5097}, {2305, 2459, 2460}, {2613, 2614}, {2724}, {1484, 1361}, {2304, 2552, 2686, 2503, 2580, 2591}, {2551}, {7016},
		{1192}, {2339, 2322, 2345, 2554, 18047, 18048, 18049, 2531, 2532, 7006, 7053, 2559, 2722, 18046, 7031}}
	for i, codes := range order {
		for _, c := range codes {
			m[c] = i
		}
	}
	return m
}()

// lastPriority is where unused declarations that are no imports go.
const lastPriority = 100

var (
	reQuoted     = regexp.MustCompile(`'([^']*)'`)
	reDidYouMean = regexp.MustCompile(`Did you mean '([A-Za-z_$][A-Za-z0-9_$]*)'\?`)
	reNoMember   = regexp.MustCompile(`(?:has no exported member(?: named)?|declares) '([A-Za-z_$][A-Za-z0-9_$]*)'`)
	reExportedAs = regexp.MustCompile(`declares '([A-Za-z_$][A-Za-z0-9_$]*)' locally, but it is exported as '([A-Za-z_$][A-Za-z0-9_$]*)'`)
	reProperty   = regexp.MustCompile(`^Property '([A-Za-z_$][A-Za-z0-9_$]*)' does not exist on type`)
	reModule     = regexp.MustCompile(`module '([^']+)'`)
	reWord       = regexp.MustCompile(`[A-Za-z_$][A-Za-z0-9_$]*`)
	// The compiler's suggestion for a default import of a module without
	// one (TS2613).
	reNamedInstead = regexp.MustCompile(`Did you mean to use 'import \{ ([A-Za-z_$][A-Za-z0-9_$]*) \} from `)
)

// planner turns diagnostics plus parser facts into edits. It is pure: the
// same input gives the same Result.
type planner struct {
	files   map[string]string
	facts   *facts
	res     *resolver
	edits   map[string]*fileEdit
	created map[string]*createdFile
	out     Result
	queries map[string]query // "file:line:col"
	sites   map[string]*site // "file:line:col:code"
	// done marks rewrites made once for several diagnostics ("file:what").
	done map[string]bool
	// unusedParams are the parameters reported unused, by
	// "file:function start:index".
	unusedParams map[string]bool
	// keep: "file:name" imports a fix of this round will use (not
	// removed as unused).
	keep map[string]bool
	// after fills in a fix's After text once the edits are rendered.
	after    map[int]func() string
	assetsOK bool // asset declarations were added or found
	pkgJSON  *orderedJSON
}

type fileEdit struct {
	path     string
	content  string
	ff       *fileFacts
	models   map[int]*importModel
	added    []*importModel
	edits    []edit
	top      []string // placeholder declarations after the imports
	tail     []string // code appended at the end
	declared map[string]bool
	starts   []int // byte offset of each line start
}

type edit struct {
	start, end int
	text       string
	fix        int // index in Result.Fixes, -1 when shared
}

type createdFile struct {
	path      string
	blocks    []string
	names     map[string]bool
	reactNode bool
	header    string
}

// plan computes the fixes for diags. files is the whole app; f describes
// its sources.
func plan(diags []sandbox.Diagnostic, files map[string]string, f *facts) Result {
	p := &planner{
		files:   files,
		facts:   f,
		res:     newResolver(files),
		edits:   map[string]*fileEdit{},
		created: map[string]*createdFile{},
		queries: map[string]query{},
		after:   map[int]func() string{},
		done:    map[string]bool{},
	}
	p.sites = map[string]*site{}
	p.unusedParams = map[string]bool{}
	p.keep = map[string]bool{}
	for _, q := range f.Queries {
		p.queries[fmt.Sprintf("%s:%d:%d", q.File, q.Line, q.Column)] = q
		if q.Site != nil {
			p.sites[fmt.Sprintf("%s:%d:%d:%d", q.File, q.Line, q.Column, q.Code)] = q.Site
			if q.Code == 6133 && q.Site.Kind == "param" {
				p.unusedParams[fmt.Sprintf("%s:%d:%d", q.File, q.Site.At, q.Site.Index)] = true
			}
			if q.Code == 7006 && q.Site.Method {
				// The names the base type will use stay imported.
				for _, w := range reWord.FindAllString(q.Site.BaseType, -1) {
					p.keep[q.File+":"+w] = true
				}
			}
		}
	}
	type item struct {
		d    sandbox.Diagnostic
		prio int
		seq  int
	}
	var items []item
	for i, d := range diags {
		pr, ok := priority[d.Code]
		if !ok || d.File == "" || p.facts.Files[d.File] == nil {
			p.out.Unfixable = append(p.out.Unfixable, d)
			continue
		}
		if (d.Code == 6133 || d.Code == 6196) && p.importAt(d) < 0 {
			pr = lastPriority
		}
		items = append(items, item{d, pr, i})
	}
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if a.prio != b.prio {
			return a.prio < b.prio
		}
		return a.seq < b.seq
	})
	// Packages first: a name from a library the code imports elsewhere is
	// imported from it only once the library is declared.
	p.undeclaredPackages()
	for _, it := range items {
		if !p.handle(it.d) {
			p.out.Unfixable = append(p.out.Unfixable, it.d)
		}
	}
	p.render()
	return p.out
}

// fe returns the edit state of an existing file.
func (p *planner) fe(file string) *fileEdit {
	if e, ok := p.edits[file]; ok {
		return e
	}
	ff := p.facts.Files[file]
	if ff == nil {
		ff = &fileFacts{}
	}
	e := &fileEdit{path: file, content: p.files[file], ff: ff, models: map[int]*importModel{}, declared: map[string]bool{}}
	e.starts = lineStarts(e.content)
	p.edits[file] = e
	return e
}

func (e *fileEdit) model(i int) *importModel {
	if m, ok := e.models[i]; ok {
		return m
	}
	m := modelOf(i, e.ff.Imports[i], e.content)
	e.models[i] = m
	return m
}

// offset converts a diagnostic position (1-based line, UTF-16 column) to a
// byte offset, or -1.
func (e *fileEdit) offset(line, col int) int {
	if line < 1 || line > len(e.starts) || col < 1 {
		return -1
	}
	pos := e.starts[line-1]
	for units := col - 1; units > 0 && pos < len(e.content); {
		r, size := utf8.DecodeRuneInString(e.content[pos:])
		if r == '\n' || r == '\r' {
			break
		}
		if r >= 0x10000 {
			units -= 2
		} else {
			units--
		}
		pos += size
	}
	return pos
}

// lineStarts returns the byte offset of every line, splitting lines as
// TypeScript does (\n, \r\n, \r, U+2028, U+2029).
func lineStarts(s string) []int {
	starts := []int{0}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\n':
			starts = append(starts, i+1)
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			starts = append(starts, i+1)
		case 0xE2:
			if i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xA8 || s[i+2] == 0xA9) {
				starts = append(starts, i+3)
				i += 2
			}
		}
	}
	return starts
}

// importAt returns the index of the import declaration containing d's
// position, or -1.
func (p *planner) importAt(d sandbox.Diagnostic) int {
	e := p.fe(d.File)
	off := e.offset(d.Line, d.Column)
	for i, im := range e.ff.Imports {
		if im.Start <= off && off < im.End {
			return i
		}
	}
	return -1
}

// bindingAt returns the local name of the import binding at d's position.
func (p *planner) bindingAt(d sandbox.Diagnostic, i int) string {
	e := p.fe(d.File)
	off := e.offset(d.Line, d.Column)
	im := e.ff.Imports[i]
	if b := im.Default; b != nil && b.Start <= off && off < b.End {
		return b.Name
	}
	if b := im.Namespace; b != nil && b.Start <= off && off < b.End {
		return b.Name
	}
	for _, n := range im.Named {
		if n.Start <= off && off < n.End {
			return n.Alias
		}
	}
	return ""
}

// addFix records a fix and returns its index.
func (p *planner) addFix(d sandbox.Diagnostic, target, desc, before, after string) int {
	p.out.Fixes = append(p.out.Fixes, Fix{Code: d.Code, File: d.File, Line: d.Line, Kind: KindEdit, Target: target, Description: desc, Before: before, After: after})
	return len(p.out.Fixes) - 1
}

// importFix records a fix that rewrites import declaration i of d's file.
func (p *planner) importFix(d sandbox.Diagnostic, i int, desc string) {
	e := p.fe(d.File)
	im := e.ff.Imports[i]
	m := e.model(i)
	m.changed = true
	n := p.addFix(d, d.File, desc, e.content[im.Start:im.End], "")
	p.after[n] = m.String
}

func (p *planner) handle(d sandbox.Diagnostic) bool {
	switch d.Code {
	case 6192:
		return p.unusedImportDecl(d)
	case 6133, 6196:
		if i := p.importAt(d); i >= 0 {
			return p.unusedBinding(d, i)
		}
		return p.unusedLocal(d)
	case 2307, 2792, 2882:
		return p.missingModule(d)
	case 5097:
		return p.tsExtension(d)
	case 2305, 2459:
		return p.missingExport(d)
	case 2460:
		return p.exportedAs(d)
	case 2613:
		return p.noDefault(d)
	case 2614:
		return p.useDefault(d)
	case 2724:
		return p.didYouMeanExport(d)
	case 1484:
		return p.typeOnlyImport(d)
	case 2304, 2552, 2686, 2503:
		return p.missingName(d)
	case 2551:
		return p.renameProperty(d)
	case 7016:
		return p.missingTypes(d)
	case 17008, 17002:
		return p.voidElements(d)
	case 1361:
		return p.typeImportAsValue(d)
	case 2339:
		return p.missingProperty(d)
	case 2322, 2345:
		return p.notAssignable(d)
	case 2554:
		return p.useRefArgument(d)
	case 18047, 18048, 18049, 2531, 2532:
		return p.nullableAccess(d)
	case 7006:
		return p.handlerParam(d) || p.helperParam(d) || p.baseParam(d)
	case 2580, 2591:
		return p.nodeGlobal(d)
	case 7053:
		return p.objectKeys(d)
	case 2559:
		return p.styleString(d)
	case 1192:
		return p.libraryDefault(d)
	case 2722:
		return p.optionalCall(d)
	case 18046:
		return p.caughtMessage(d)
	case 7031:
		return p.childrenProps(d)
	}
	return false
}

// quoted returns the n-th quoted word of a message.
func quoted(msg string, n int) string {
	m := reQuoted.FindAllStringSubmatch(msg, -1)
	if n < len(m) {
		return m[n][1]
	}
	return ""
}

// --- unused imports (TS6192, TS6133, TS6196) ---

func (p *planner) unusedImportDecl(d sandbox.Diagnostic) bool {
	i := p.importAt(d)
	if i < 0 {
		return false
	}
	e := p.fe(d.File)
	m := e.model(i)
	if m.removed {
		return true
	}
	m.removed = true
	p.importFix(d, i, fmt.Sprintf("remove the unused import of %q", m.spec))
	return true
}

func (p *planner) unusedBinding(d sandbox.Diagnostic, i int) bool {
	e := p.fe(d.File)
	m := e.model(i)
	local := p.bindingAt(d, i)
	if m.removed {
		return true
	}
	if p.keep[d.File+":"+local] {
		return false // a fix of this round uses it
	}
	if local == "" || !m.removeLocal(local) {
		return false
	}
	p.importFix(d, i, fmt.Sprintf("remove the unused import %s", local))
	return true
}

// --- unused locals (TS6133 outside imports) ---

func (p *planner) unusedLocal(d sandbox.Diagnostic) bool {
	q, ok := p.queries[fmt.Sprintf("%s:%d:%d", d.File, d.Line, d.Column)]
	if !ok || q.Name == "" || q.Role != "declaration" || quoted(d.Message, 0) != q.Name {
		return false
	}
	e := p.fe(d.File)
	switch q.DeclKind {
	case "parameter":
		if p.unusedDecl(d) {
			return true
		}
		if strings.HasPrefix(q.Name, "_") {
			return false
		}
		n := p.addFix(d, d.File, fmt.Sprintf("mark the unused parameter %s with a leading underscore", q.Name), q.Name, "_"+q.Name)
		e.edits = append(e.edits, edit{q.Start, q.End, "_" + q.Name, n})
	case "array-element":
		// [a, setA] → [a]; a hole ([, b]) keeps the other positions.
		start, end := q.Start, q.End
		if q.RemoveEnd > q.RemoveStart {
			start, end = q.RemoveStart, q.RemoveEnd
		}
		n := p.addFix(d, d.File, fmt.Sprintf("drop the unused %s from the array destructuring", q.Name), e.content[start:end], "")
		e.edits = append(e.edits, edit{start, end, "", n})
	case "object-element":
		if q.RemoveEnd <= q.RemoveStart {
			return false
		}
		n := p.addFix(d, d.File, fmt.Sprintf("drop the unused %s from the object destructuring", q.Name), e.content[q.RemoveStart:q.RemoveEnd], "")
		e.edits = append(e.edits, edit{q.RemoveStart, q.RemoveEnd, "", n})
	default:
		return p.unusedDecl(d)
	}
	return true
}

// --- missing modules (TS2307, TS2792, TS2882, TS5097) ---

func (p *planner) missingModule(d sandbox.Diagnostic) bool {
	i := p.importAt(d)
	if i < 0 {
		return false
	}
	e := p.fe(d.File)
	m := e.model(i)
	if m.removed {
		return true
	}
	spec := e.ff.Imports[i].Spec
	kind := classify(spec)
	base := p.res.base(d.File, spec)
	if kind == specPackage {
		// A bare specifier may still mean a project file ("components/X").
		if t := p.res.guessBare(spec); t != "" {
			return p.rewriteSpec(d, i, t)
		}
		return p.install(d, spec)
	}
	if t := p.res.exact(base); t != "" {
		if assetExts[path.Ext(t)] {
			// The file is there; TypeScript lacks declarations for it.
			if kind == specRelative {
				return p.assetTypes(d)
			}
			return p.rewriteSpec(d, i, t)
		}
		if kind != specRelative {
			return p.rewriteSpec(d, i, t)
		}
		return false
	}
	if t := p.res.guess(base); t != "" {
		return p.rewriteSpec(d, i, t)
	}
	// Before any placeholder: the module that exports what the import
	// reads, or a file whose name differs only in spelling.
	if t := p.meant(d.File, i, base); t != "" {
		return p.rewriteSpec(d, i, t)
	}
	// Nothing like it exists: create it from how it is used.
	target := p.stubPath(base, d.File, i)
	if target == "" {
		return false
	}
	if !p.createModule(d, i, target) {
		return false
	}
	if kind != specRelative {
		m.spec = relSpec(d.File, target)
	}
	return true
}

func (p *planner) rewriteSpec(d sandbox.Diagnostic, i int, target string) bool {
	e := p.fe(d.File)
	m := e.model(i)
	spec := relSpec(d.File, target)
	if a := aliasSpec(m.spec, target); a != "" && p.aliasConfigured(m.spec[:2]) {
		spec = a
	}
	if spec == m.spec {
		return false
	}
	old := m.spec
	m.spec = spec
	p.importFix(d, i, fmt.Sprintf("import %q instead of %q, which does not exist", spec, old))
	return true
}

func (p *planner) install(d sandbox.Diagnostic, spec string) bool {
	pkg := packageName(spec)
	if pkg == "" || nodeBuiltins[pkg] || strings.HasPrefix(spec, "node:") {
		return false
	}
	for _, have := range p.out.Install {
		if have == pkg {
			return true // declared (and asked for) already, by this plan
		}
	}
	if p.declarePackage(d, pkg) {
		return true
	}
	for _, have := range p.out.Install {
		if have == pkg {
			p.out.Fixes = append(p.out.Fixes, Fix{Code: d.Code, File: d.File, Line: d.Line, Kind: KindInstall, Package: pkg, Description: "install package " + pkg})
			return true
		}
	}
	p.out.Install = append(p.out.Install, pkg)
	sort.Strings(p.out.Install)
	p.out.Fixes = append(p.out.Fixes, Fix{Code: d.Code, File: d.File, Line: d.Line, Kind: KindInstall, Package: pkg, Description: "install package " + pkg})
	return true
}

// packageJSON returns the app's package.json being edited, or nil.
func (p *planner) packageJSON() *orderedJSON {
	if p.pkgJSON == nil {
		if raw, ok := p.files["package.json"]; ok {
			p.pkgJSON = parseOrdered(raw)
		}
	}
	return p.pkgJSON
}

// declarePackage adds pkg (and its @types package) to package.json at a
// known-good range and asks for an install; false when pkg has no known
// range or the app has no package.json.
func (p *planner) declarePackage(d sandbox.Diagnostic, pkg string) bool {
	kg, ok := knownGood[pkg]
	pj := p.packageJSON()
	if !ok || pj == nil {
		return false
	}
	if pj.hasDep(pkg) {
		return false // declared but not installed: the install failed, not ours
	}
	before := firstLine(p.files["package.json"])
	pj.addDep("dependencies", pkg, kg.version)
	p.addFix(d, "package.json", fmt.Sprintf("add %s %s to dependencies (the code imports it)", pkg, kg.version), before, fmt.Sprintf("%q: %q", pkg, kg.version))
	p.requestInstall(d, pkg)
	if kg.types != "" && !pj.hasDep(kg.types) {
		pj.addDep("devDependencies", kg.types, kg.typesVersion)
		p.addFix(d, "package.json", fmt.Sprintf("add %s %s to devDependencies", kg.types, kg.typesVersion), before, fmt.Sprintf("%q: %q", kg.types, kg.typesVersion))
		p.requestInstall(d, kg.types)
	}
	return true
}

// requestInstall lists pkg in Result.Install with a KindInstall fix.
func (p *planner) requestInstall(d sandbox.Diagnostic, pkg string) {
	p.out.Fixes = append(p.out.Fixes, Fix{Code: d.Code, File: d.File, Line: d.Line, Kind: KindInstall, Package: pkg, Description: "install package " + pkg})
	for _, have := range p.out.Install {
		if have == pkg {
			return
		}
	}
	p.out.Install = append(p.out.Install, pkg)
	sort.Strings(p.out.Install)
}

// undeclaredPackages adds to package.json the packages with a known-good
// range that the sources import without declaring them. tsc does not
// report them when another package pulled them into node_modules, but a
// fresh install would lack them.
func (p *planner) undeclaredPackages() {
	pj := p.packageJSON()
	if pj == nil {
		return
	}
	files := make([]string, 0, len(p.facts.Files))
	for f := range p.facts.Files {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, f := range files {
		for _, im := range p.facts.Files[f].Imports {
			pkg := packageName(im.Spec)
			if classify(im.Spec) != specPackage || pkg == "" || pj.hasDep(pkg) {
				continue
			}
			if _, ok := knownGood[pkg]; ok {
				p.declarePackage(sandbox.Diagnostic{Code: 2307, Category: "error", File: f, Line: im.Line, Message: fmt.Sprintf("Package '%s' is imported but not declared in package.json.", pkg)}, pkg)
			}
		}
	}
}

// guessBare resolves a bare specifier that names a project file
// ("components/Header" meaning "src/components/Header").
func (r *resolver) guessBare(spec string) string {
	if strings.HasPrefix(spec, "@") && !strings.HasPrefix(spec, "@/") {
		return ""
	}
	for _, base := range []string{spec, "src/" + spec} {
		if t := r.exact(base); t != "" && isSource(t) {
			return t
		}
	}
	return ""
}

// stubPath is the file to create for a missing module: base with the
// specifier's extension, else .tsx if a binding is used as JSX, else .ts.
func (p *planner) stubPath(base, file string, i int) string {
	if base == "" || strings.HasPrefix(base, "../") || base == ".." || strings.HasPrefix(base, "node_modules/") {
		return ""
	}
	ext := path.Ext(base)
	switch {
	case ext == ".css" || ext == ".scss" || ext == ".svg":
		return base
	case assetExts[ext]:
		return ""
	case ext == ".js" || ext == ".jsx" || ext == ".ts" || ext == ".tsx":
		base = strings.TrimSuffix(base, ext)
	}
	e := p.fe(file)
	im := e.ff.Imports[i]
	jsx := false
	for _, local := range importLocals(im) {
		if u := e.ff.Usage[local]; u != nil && u.JSX {
			jsx = true
		}
	}
	if jsx || ext == ".jsx" || ext == ".tsx" {
		return base + ".tsx"
	}
	return base + ".ts"
}

func importLocals(im importFact) []string {
	var out []string
	if im.Default != nil {
		out = append(out, im.Default.Name)
	}
	if im.Namespace != nil {
		out = append(out, im.Namespace.Name)
	}
	for _, n := range im.Named {
		out = append(out, n.Alias)
	}
	return out
}

// createModule creates target with the exports import i of d's file
// reads.
func (p *planner) createModule(d sandbox.Diagnostic, i int, target string) bool {
	if p.res.has(target) {
		return false
	}
	e := p.fe(d.File)
	im := e.ff.Imports[i]
	c := p.created[target]
	if c == nil {
		c = &createdFile{path: target, names: map[string]bool{}}
		p.created[target] = c
	}
	switch path.Ext(target) {
	case ".css", ".scss":
		c.header = "/* Created by the stich fixer: " + d.File + " imports this stylesheet. */\n"
	case ".svg":
		c.header = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 24 24\"></svg>\n"
	default:
		c.header = "// Created by the stich fixer: " + d.File + " imports this module, which did not exist.\n// Each export is a placeholder shaped by how it is used; replace it with real code.\n"
		tsx := strings.HasSuffix(target, ".tsx")
		if im.Default != nil && !c.names["default"] {
			c.names["default"] = true
			s := stubFor(im.Default.Name, e.ff.Usage[im.Default.Name], "", true, tsx)
			c.blocks = append(c.blocks, s.code)
			c.reactNode = c.reactNode || s.reactNode
		}
		if im.Namespace != nil {
			u := e.ff.Usage[im.Namespace.Name]
			if u != nil {
				for _, mem := range u.Members {
					if !c.names[mem] {
						c.names[mem] = true
						c.blocks = append(c.blocks, namespaceStub(&usage{Members: []string{mem}, Type: u.Type}))
					}
				}
			}
		}
		for _, n := range im.Named {
			if c.names[n.Name] || n.Name == "default" {
				continue
			}
			c.names[n.Name] = true
			u := e.ff.Usage[n.Alias]
			if n.TypeOnly || im.TypeOnly {
				u = &usage{Count: 1, Type: true}
			}
			s := stubFor(n.Name, u, "export ", false, tsx)
			c.blocks = append(c.blocks, s.code)
			c.reactNode = c.reactNode || s.reactNode
		}
	}
	desc := fmt.Sprintf("create %s, which %s imports, with placeholder exports", target, d.File)
	if path.Ext(target) == ".css" || path.Ext(target) == ".scss" || path.Ext(target) == ".svg" {
		desc = fmt.Sprintf("create an empty %s, which %s imports", target, d.File)
	}
	n := p.addFix(d, target, desc, "", "")
	p.out.Fixes[n].Placeholder = true
	p.after[n] = func() string { return p.createdContent(c) }
	return true
}

func (p *planner) createdContent(c *createdFile) string {
	var b strings.Builder
	b.WriteString(c.header)
	if c.reactNode {
		b.WriteString("import type { ReactNode } from \"react\";\n")
	}
	for _, blk := range c.blocks {
		b.WriteString("\n")
		b.WriteString(blk)
	}
	return b.String()
}

// assetTypes makes asset imports (CSS, images) type-check: Vite's client
// types when the app uses Vite, else wildcard module declarations.
func (p *planner) assetTypes(d sandbox.Diagnostic) bool {
	if p.assetsOK {
		return true
	}
	hasVite := false
	if pkg, ok := p.files["package.json"]; ok {
		hasVite = strings.Contains(pkg, `"vite"`)
	}
	referenced := false
	for _, f := range p.res.paths {
		if strings.HasSuffix(f, ".d.ts") && strings.Contains(p.files[f], "vite/client") {
			referenced = true
		}
	}
	const viteEnv = "src/vite-env.d.ts"
	const shim = "src/assets.d.ts"
	switch {
	case hasVite && !referenced && !p.res.has(viteEnv):
		c := &createdFile{path: viteEnv, header: "/// <reference types=\"vite/client\" />\n", names: map[string]bool{}}
		p.created[viteEnv] = c
		n := p.addFix(d, viteEnv, "add "+viteEnv+" so TypeScript knows Vite's asset imports (CSS, images)", "", c.header)
		_ = n
	case hasVite && !referenced:
		e := p.fe(viteEnv)
		line := "/// <reference types=\"vite/client\" />\n"
		n := p.addFix(d, viteEnv, "reference Vite's client types in "+viteEnv, "", line)
		e.edits = append(e.edits, edit{0, 0, line, n})
	case !p.res.has(shim):
		var b strings.Builder
		b.WriteString("// Created by the stich fixer: module declarations for asset imports.\n")
		for _, ext := range []string{"css", "scss", "svg", "png", "jpg", "jpeg", "gif", "webp"} {
			fmt.Fprintf(&b, "declare module \"*.%s\" {\n  const value: any;\n  export default value;\n}\n", ext)
		}
		c := &createdFile{path: shim, header: b.String(), names: map[string]bool{}}
		p.created[shim] = c
		p.addFix(d, shim, "declare asset modules (CSS, images) in "+shim, "", c.header)
	default:
		return false
	}
	p.assetsOK = true
	return true
}

func (p *planner) tsExtension(d sandbox.Diagnostic) bool {
	i := p.importAt(d)
	if i < 0 {
		return false
	}
	e := p.fe(d.File)
	m := e.model(i)
	spec := stripExt(m.spec)
	if spec == m.spec {
		return false
	}
	old := m.spec
	m.spec = spec
	p.importFix(d, i, fmt.Sprintf("import %q without the %s extension", spec, strings.TrimPrefix(old, spec)))
	return true
}

// --- missing exports (TS2305, TS2613, TS2614, TS2724) ---

// target resolves import i of file to a project file ("" for a package or
// nothing).
func (p *planner) target(file string, i int) string {
	spec := p.fe(file).ff.Imports[i].Spec
	if classify(spec) == specPackage {
		return ""
	}
	if t := p.res.exact(p.res.base(file, spec)); t != "" {
		return t
	}
	// A module this plan creates.
	base := p.res.base(file, spec)
	for _, ext := range []string{".ts", ".tsx"} {
		if _, ok := p.created[base+ext]; ok {
			return base + ext
		}
	}
	return ""
}

func (p *planner) missingExport(d sandbox.Diagnostic) bool {
	mm := reNoMember.FindStringSubmatch(d.Message)
	i := p.importAt(d)
	if mm == nil || i < 0 {
		return false
	}
	name := mm[1]
	e := p.fe(d.File)
	m := e.model(i)
	local := ""
	for _, n := range e.ff.Imports[i].Named {
		if n.Name == name {
			local = n.Alias
		}
	}
	if m.removed || (local != "" && !m.hasLocal(local)) {
		return true // the import went away with an earlier fix
	}
	if p.movedExport(d, i, name) {
		return true
	}
	t := p.target(d.File, i)
	if t == "" {
		return false
	}
	if _, created := p.created[t]; !created && local != "" && !p.declares(t, name) {
		// Another module may export it: import it from there.
		if other, exp, typeOnly := p.findExport(d.File, name); other != "" && other != t {
			wasType := e.ff.Imports[i].TypeOnly
			for _, b := range e.ff.Imports[i].Named {
				wasType = wasType || (b.Name == name && b.TypeOnly)
			}
			m.removeLocal(local)
			p.importFix(d, i, fmt.Sprintf("stop importing %s from %q, which does not export it", name, m.spec))
			e.declared[local] = true
			p.addImport(d, e, relSpec(d.File, other), exp, local, typeOnly || wasType)
			return true
		}
	}
	return p.ensureExport(d, t, name, e.ff.Usage[local], false)
}

// declares reports whether target has a top-level declaration name.
func (p *planner) declares(target, name string) bool {
	ff := p.facts.Files[target]
	if ff == nil {
		return false
	}
	for _, decl := range ff.Declarations {
		if decl.Name == name {
			return true
		}
	}
	return false
}

// meant finds the project file a missing module of import i in file
// meant: the one module that exports every name the import reads (ties
// broken by the closest file name), else the one file whose name is the
// same up to case, hyphens, plural or a small typo. "" when nothing or
// more than one fits equally.
func (p *planner) meant(file string, i int, base string) string {
	im := p.fe(file).ff.Imports[i]
	var want []string
	for _, n := range im.Named {
		if n.Name != "default" {
			want = append(want, n.Name)
		}
	}
	if im.Namespace != nil {
		if u := p.fe(file).ff.Usage[im.Namespace.Name]; u != nil {
			want = append(want, u.Members...)
		}
	}
	byName := p.res.fuzzy(base)
	if len(want) > 0 {
		var exporters []string
		for _, f := range p.res.paths {
			ff := p.facts.Files[f]
			if f == file || ff == nil || strings.HasSuffix(f, ".d.ts") {
				continue
			}
			has := map[string]bool{}
			for _, ex := range ff.Exports {
				has[ex.Name] = true
			}
			all := im.Default == nil || has["default"]
			for _, w := range want {
				all = all && has[w]
			}
			if all {
				exporters = append(exporters, f)
			}
		}
		switch {
		case len(exporters) == 1:
			return exporters[0]
		case len(exporters) > 1:
			for _, f := range exporters {
				if f == byName {
					return f
				}
			}
			return ""
		}
	}
	return byName
}

// ensureExport makes target export name: by exporting an existing
// top-level declaration, else by appending a placeholder shaped by u.
func (p *planner) ensureExport(d sandbox.Diagnostic, target, name string, u *usage, typeOnly bool) bool {
	if c, ok := p.created[target]; ok {
		if !c.names[name] {
			c.names[name] = true
			if typeOnly {
				u = &usage{Count: 1, Type: true}
			}
			s := stubFor(name, u, "export ", false, strings.HasSuffix(target, ".tsx"))
			c.blocks = append(c.blocks, s.code)
			c.reactNode = c.reactNode || s.reactNode
		}
		return true
	}
	te := p.fe(target)
	if te.declared[name] {
		return true
	}
	for _, decl := range te.ff.Declarations {
		if decl.Name == name && !decl.Exported {
			te.declared[name] = true
			line := firstLine(te.content[decl.Start:])
			n := p.addFix(d, target, fmt.Sprintf("export %s from %s", name, target), line, "export "+line)
			te.edits = append(te.edits, edit{decl.Start, decl.Start, "export ", n})
			return true
		}
	}
	for _, decl := range te.ff.Declarations {
		if decl.Name == name {
			return false // exported yet reported missing: not ours to guess
		}
	}
	te.declared[name] = true
	if typeOnly {
		u = &usage{Count: 1, Type: true}
	}
	s := stubFor(name, u, "export ", false, strings.HasSuffix(target, ".tsx"))
	code := "// Placeholder added by the stich fixer: " + d.File + " imports " + name + " from here.\n" + s.code
	if s.reactNode {
		p.ensureReactType(te, "ReactNode")
	}
	te.tail = append(te.tail, code)
	n := p.addFix(d, target, fmt.Sprintf("add a placeholder export %s to %s", name, target), "", code)
	p.out.Fixes[n].Placeholder = true
	return true
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return strings.TrimRight(s[:i], "\r")
	}
	return s
}

// exportsOf lists the value names target exports (not types, not default).
func (p *planner) exportsOf(target string) (values []string, hasDefault bool) {
	ff := p.facts.Files[target]
	if ff == nil {
		return nil, false
	}
	for _, ex := range ff.Exports {
		switch {
		case ex.Name == "default":
			hasDefault = true
		case !ex.TypeOnly && ex.Name != "=":
			values = append(values, ex.Name)
		}
	}
	return values, hasDefault
}

// exportedAs: TS2460, the module exports the name under another name.
func (p *planner) exportedAs(d sandbox.Diagnostic) bool {
	mm := reExportedAs.FindStringSubmatch(d.Message)
	i := p.importAt(d)
	if mm == nil || i < 0 {
		return false
	}
	e := p.fe(d.File)
	m := e.model(i)
	if m.removed {
		return true
	}
	if !m.renameNamed(mm[1], mm[2]) {
		return false
	}
	p.importFix(d, i, fmt.Sprintf("import %s, the name the module exports %s under", mm[2], mm[1]))
	return true
}

// noDefault: `import X from "./m"` where m has no default export.
func (p *planner) noDefault(d sandbox.Diagnostic) bool {
	i := p.importAt(d)
	if i < 0 {
		return false
	}
	e := p.fe(d.File)
	m := e.model(i)
	im := e.ff.Imports[i]
	if m.removed || im.Default == nil || m.def != im.Default.Name {
		return m.removed || (im.Default != nil && m.def == "")
	}
	local := im.Default.Name
	if mm := reNamedInstead.FindStringSubmatch(d.Message); mm != nil && mm[1] == local && classify(im.Spec) == specPackage {
		// A library module without a default export (date-fns v2's
		// default-exporting paths): the compiler names the export.
		m.def = ""
		m.named = append(m.named, namedSpec{name: local, alias: local})
		p.importFix(d, i, fmt.Sprintf("import { %s } from %q: it has no default export", local, im.Spec))
		return true
	}
	t := p.target(d.File, i)
	if t == "" {
		return false
	}
	values, _ := p.exportsOf(t)
	pick := ""
	for _, v := range values {
		if v == local {
			pick = v
		}
	}
	if pick == "" {
		var folded []string
		for _, v := range values {
			if strings.EqualFold(v, local) {
				folded = append(folded, v)
			}
		}
		if len(folded) == 1 {
			pick = folded[0]
		} else if len(values) == 1 {
			pick = values[0]
		}
	}
	if pick == "" {
		// The module declares it without exporting it.
		if !p.ensureExportOfDecl(d, t, local) {
			return false
		}
		pick = local
	}
	m.def = ""
	m.named = append(m.named, namedSpec{name: pick, alias: local})
	p.importFix(d, i, fmt.Sprintf("import { %s } (a named export) instead of a default import", pick))
	return true
}

// ensureExportOfDecl exports an existing unexported declaration name.
func (p *planner) ensureExportOfDecl(d sandbox.Diagnostic, target, name string) bool {
	if _, ok := p.created[target]; ok {
		return false
	}
	te := p.fe(target)
	for _, decl := range te.ff.Declarations {
		if decl.Name == name && !decl.Exported && !decl.TypeOnly {
			return p.ensureExport(d, target, name, nil, false)
		}
	}
	return false
}

// useDefault: `import { X } from "./m"` where m exports X as default.
func (p *planner) useDefault(d sandbox.Diagnostic) bool {
	mm := reNoMember.FindStringSubmatch(d.Message)
	i := p.importAt(d)
	if mm == nil || i < 0 {
		return false
	}
	e := p.fe(d.File)
	m := e.model(i)
	if m.removed {
		return true
	}
	local := ""
	for _, n := range e.ff.Imports[i].Named {
		if n.Name == mm[1] {
			local = n.Alias
		}
	}
	j := m.findNamed(local)
	if local == "" || j < 0 {
		return j < 0 && local != ""
	}
	m.named = append(m.named[:j], m.named[j+1:]...)
	if m.def == "" && !m.typeOnly {
		m.def = local
	} else {
		m.named = append(m.named, namedSpec{name: "default", alias: local})
	}
	p.importFix(d, i, fmt.Sprintf("import %s as the module's default export", local))
	return true
}

// didYouMeanExport: TS2724 names the export the import meant.
func (p *planner) didYouMeanExport(d sandbox.Diagnostic) bool {
	mm := reNoMember.FindStringSubmatch(d.Message)
	sug := reDidYouMean.FindStringSubmatch(d.Message)
	i := p.importAt(d)
	if mm == nil || sug == nil || i < 0 {
		return false
	}
	e := p.fe(d.File)
	m := e.model(i)
	if m.removed {
		return true
	}
	if !m.renameNamed(mm[1], sug[1]) {
		return e.ff.Imports[i].Named != nil // removed earlier
	}
	p.importFix(d, i, fmt.Sprintf("import %s (as the compiler suggests) instead of %s", sug[1], mm[1]))
	return true
}

// typeOnlyImport: TS1484 under verbatimModuleSyntax.
func (p *planner) typeOnlyImport(d sandbox.Diagnostic) bool {
	name := quoted(d.Message, 0)
	i := p.importAt(d)
	if i < 0 || name == "" {
		return false
	}
	e := p.fe(d.File)
	m := e.model(i)
	if m.removed {
		return true
	}
	switch j := m.findNamed(name); {
	case j >= 0:
		m.named[j].typeOnly = true
	case m.def == name && m.ns == "" && len(m.named) == 0:
		m.typeOnly = true
	default:
		return !m.hasLocal(name)
	}
	p.importFix(d, i, fmt.Sprintf("import %s as a type", name))
	return true
}

// --- missing names (TS2304, TS2552, TS2686, TS2503) ---

func (p *planner) missingName(d sandbox.Diagnostic) bool {
	name := quoted(d.Message, 0)
	if !identRe.MatchString(name) {
		return false
	}
	e := p.fe(d.File)
	if e.declared[name] {
		return true
	}
	if _, ok := nodeGlobals[name]; ok && d.Code == 2304 {
		return p.nodeGlobal(d)
	}
	switch {
	case name == "React":
		e.declared[name] = true
		p.addImport(d, e, "react", "", "React", false)
		return true
	case reactValues[name]:
		e.declared[name] = true
		p.addImport(d, e, "react", name, name, false)
		return true
	case reactTypes[name]:
		e.declared[name] = true
		p.addImport(d, e, "react", name, name, true)
		return true
	case reactDOMValues[name]:
		e.declared[name] = true
		p.addImport(d, e, "react-dom", name, name, false)
		return true
	}
	if d.Code == 2686 || d.Code == 2503 {
		return false
	}
	if t, exp, typeOnly := p.findExport(d.File, name); t != "" {
		e.declared[name] = true
		p.addImport(d, e, relSpec(d.File, t), exp, name, typeOnly)
		return true
	}
	if pkg := p.libraryOf(name); pkg != "" {
		e.declared[name] = true
		p.addImport(d, e, pkg, name, name, false)
		return true
	}
	if d.Code == 2552 {
		// Only a typo-sized difference: "Did you mean 'navigate'?" for
		// useNavigate names another thing.
		if sug := reDidYouMean.FindStringSubmatch(d.Message); sug != nil && editDistance(strings.ToLower(name), strings.ToLower(sug[1]), 3) <= 2 {
			q, ok := p.queries[fmt.Sprintf("%s:%d:%d", d.File, d.Line, d.Column)]
			if ok && q.Name == name && q.Role == "reference" {
				n := p.addFix(d, d.File, fmt.Sprintf("rename %s to %s, as the compiler suggests", name, sug[1]), name, sug[1])
				e.edits = append(e.edits, edit{q.Start, q.End, sug[1], n})
				return true
			}
		}
	}
	// Nothing defines it: declare a placeholder shaped by its use.
	e.declared[name] = true
	s := stubFor(name, e.ff.Usage[name], "", false, strings.HasSuffix(d.File, ".tsx") || strings.HasSuffix(d.File, ".jsx"))
	if s.reactNode {
		p.ensureReactType(e, "ReactNode")
	}
	code := "// Placeholder added by the stich fixer: " + name + " was used but never defined or imported.\n" + s.code
	e.top = append(e.top, code)
	n := p.addFix(d, d.File, fmt.Sprintf("declare a placeholder for %s, shaped by how it is used", name), "", code)
	p.out.Fixes[n].Placeholder = true
	return true
}

// findExport finds the one project file that exports name (by name, or as
// its default export from a file named after it). It returns the file, the
// export to import ("" for default) and whether it is a type.
func (p *planner) findExport(from, name string) (file, export string, typeOnly bool) {
	type cand struct {
		file, export string
		typeOnly     bool
	}
	var cands []cand
	for _, f := range p.res.paths {
		ff := p.facts.Files[f]
		if f == from || ff == nil || strings.HasSuffix(f, ".d.ts") {
			continue
		}
		for _, ex := range ff.Exports {
			switch {
			case ex.Name == name:
				cands = append(cands, cand{f, name, ex.TypeOnly})
			case ex.Name == "default" && (ex.Local == name || path.Base(stripExt(f)) == name):
				cands = append(cands, cand{f, "", false})
			}
		}
	}
	if len(cands) == 0 {
		return "", "", false
	}
	// The nearest file wins; ties go to the first in path order.
	best := cands[0]
	for _, c := range cands[1:] {
		if sharedPrefix(path.Dir(from), path.Dir(c.file)) > sharedPrefix(path.Dir(from), path.Dir(best.file)) {
			best = c
		}
	}
	return best.file, best.export, best.typeOnly
}

// addImport makes e import export (named; "" for the default export) from
// spec under the local name local, extending an existing import of spec
// when there is one.
func (p *planner) addImport(d sandbox.Diagnostic, e *fileEdit, spec, export, local string, typeOnly bool) {
	var desc string
	switch {
	case local == "React" && export == "" && spec == "react":
		desc = fmt.Sprintf("import * as React from %q", spec)
	case export == "":
		desc = fmt.Sprintf("import %s from %q", local, spec)
	case typeOnly:
		desc = fmt.Sprintf("import type { %s } from %q", local, spec)
	default:
		desc = fmt.Sprintf("import { %s } from %q", local, spec)
	}
	for i, im := range e.ff.Imports {
		if im.Spec != spec {
			continue
		}
		m := e.model(i)
		if m.removed || m.ns != "" || m.sideEffect {
			continue
		}
		switch {
		case export == "" && local == "React" && spec == "react":
			continue // namespace import below
		case export == "":
			if m.def != "" || m.typeOnly {
				continue
			}
			m.def = local
		case m.typeOnly && !typeOnly:
			if m.def != "" {
				continue
			}
			m.typeOnly = false
			for j := range m.named {
				m.named[j].typeOnly = true
			}
			m.named = append(m.named, namedSpec{name: export, alias: local})
		default:
			m.named = append(m.named, namedSpec{name: export, alias: local, typeOnly: typeOnly && !m.typeOnly})
		}
		p.importFix(d, i, desc)
		return
	}
	for _, m := range e.added {
		if m.spec == spec && !m.typeOnly && m.ns == "" && export != "" {
			m.named = append(m.named, namedSpec{name: export, alias: local, typeOnly: typeOnly})
			n := p.addFix(d, d.File, desc, "", "")
			p.after[n] = m.String
			return
		}
	}
	m := &importModel{index: -1, spec: spec, changed: true}
	switch {
	case local == "React" && export == "":
		m.ns = "React"
	case export == "":
		m.def = local
		m.typeOnly = typeOnly
	default:
		m.named = []namedSpec{{name: export, alias: local}}
		m.typeOnly = typeOnly
	}
	e.added = append(e.added, m)
	n := p.addFix(d, d.File, desc, "", "")
	p.after[n] = m.String
}

// ensureReactType makes e import type name from react (for placeholders).
func (p *planner) ensureReactType(e *fileEdit, name string) {
	if e.declared[name] {
		return
	}
	for i, im := range e.ff.Imports {
		if im.Spec == "react" && e.model(i).hasLocal(name) {
			return
		}
	}
	e.declared[name] = true
	for i, im := range e.ff.Imports {
		if im.Spec != "react" {
			continue
		}
		m := e.model(i)
		if m.removed || m.ns != "" || m.sideEffect || (m.typeOnly && m.def != "") {
			continue
		}
		m.named = append(m.named, namedSpec{name: name, alias: name, typeOnly: !m.typeOnly})
		m.changed = true
		return
	}
	for _, m := range e.added {
		if m.spec == "react" && m.ns == "" && (m.def == "" || !m.typeOnly) {
			m.named = append(m.named, namedSpec{name: name, alias: name, typeOnly: !m.typeOnly})
			return
		}
	}
	e.added = append(e.added, &importModel{index: -1, spec: "react", typeOnly: true, named: []namedSpec{{name: name, alias: name}}, changed: true})
}

// --- properties (TS2551) ---

func (p *planner) renameProperty(d sandbox.Diagnostic) bool {
	mm := reProperty.FindStringSubmatch(d.Message)
	sug := reDidYouMean.FindStringSubmatch(d.Message)
	if mm == nil || sug == nil {
		return false
	}
	q, ok := p.queries[fmt.Sprintf("%s:%d:%d", d.File, d.Line, d.Column)]
	if !ok || q.Name != mm[1] || q.Role != "property" {
		return false
	}
	e := p.fe(d.File)
	n := p.addFix(d, d.File, fmt.Sprintf("use the property %s (as the compiler suggests) instead of %s", sug[1], mm[1]), mm[1], sug[1])
	e.edits = append(e.edits, edit{q.Start, q.End, sug[1], n})
	return true
}

// --- missing types of a package (TS7016) ---

func (p *planner) missingTypes(d sandbox.Diagnostic) bool {
	mm := reModule.FindStringSubmatch(d.Message)
	if mm == nil {
		return false
	}
	pkg := packageName(mm[1])
	if pkg == "" {
		return false
	}
	types := "@types/" + strings.ReplaceAll(strings.TrimPrefix(pkg, "@"), "/", "__")
	if p.packageJSON() != nil && !p.pkgJSON.hasDep(types) {
		before := p.files["package.json"]
		p.pkgJSON.addDevDep(types, "latest")
		n := p.addFix(d, "package.json", fmt.Sprintf("add %s to devDependencies (and install it)", types), firstLine(before), "")
		p.after[n] = func() string { return fmt.Sprintf("%q: %q", types, "latest") }
		p.out.Fixes = append(p.out.Fixes, Fix{Code: d.Code, File: d.File, Line: d.Line, Kind: KindInstall, Package: types, Description: "install package " + types})
		found := false
		for _, have := range p.out.Install {
			found = found || have == types
		}
		if !found {
			p.out.Install = append(p.out.Install, types)
			sort.Strings(p.out.Install)
		}
		return true
	}
	// @types/x was tried (or there is no package.json): declare the module
	// as untyped.
	const shim = "src/modules.d.ts"
	line := fmt.Sprintf("declare module %s;\n", quoteJS(mm[1]))
	if c, ok := p.created[shim]; ok {
		if !c.names[mm[1]] {
			c.names[mm[1]] = true
			c.blocks = append(c.blocks, line)
		}
		return true
	}
	if p.res.has(shim) {
		e := p.fe(shim)
		if strings.Contains(e.content, line) || e.declared[mm[1]] {
			return false
		}
		e.declared[mm[1]] = true
		e.tail = append(e.tail, line)
	} else {
		p.created[shim] = &createdFile{path: shim, header: "// Created by the stich fixer: packages without type declarations.\n", names: map[string]bool{mm[1]: true}, blocks: []string{line}}
	}
	p.addFix(d, shim, fmt.Sprintf("declare %s as an untyped module", mm[1]), "", line)
	return true
}

// --- rendering ---

// render applies the planned edits and fills in Files and the fixes' After
// texts. Edits that would overlap an earlier one are dropped with their
// fix, whose diagnostic becomes unfixable.
func (p *planner) render() {
	p.out.Files = map[string]string{}
	dropped := map[int]bool{}
	paths := make([]string, 0, len(p.edits))
	for f := range p.edits {
		paths = append(paths, f)
	}
	sort.Strings(paths)
	for _, f := range paths {
		e := p.edits[f]
		content, drops := e.apply()
		for _, n := range drops {
			dropped[n] = true
		}
		if content != e.content {
			p.out.Files[f] = content
		}
	}
	for f, c := range p.created {
		p.out.Files[f] = p.createdContent(c)
	}
	if p.pkgJSON != nil {
		if s := p.pkgJSON.String(); s != p.files["package.json"] {
			p.out.Files["package.json"] = s
		}
	}
	var fixes, placeholders []Fix
	for i, fx := range p.out.Fixes {
		if dropped[i] {
			p.out.Unfixable = append(p.out.Unfixable, sandbox.Diagnostic{Code: fx.Code, Category: "error", File: fx.File, Line: fx.Line, Message: "fix dropped: " + fx.Description})
			continue
		}
		if after, ok := p.after[i]; ok {
			fx.After = after()
		}
		if fx.Placeholder {
			placeholders = append(placeholders, fx)
			continue
		}
		fixes = append(fixes, fx)
	}
	p.out.Fixes, p.out.NeedsModel = fixes, placeholders
}

// apply returns the file's content with its edits, and the fixes whose
// edits were dropped.
func (e *fileEdit) apply() (string, []int) {
	var es []edit
	idx := make([]int, 0, len(e.models))
	for i := range e.models {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		m := e.models[i]
		if !m.changed && !m.removed {
			continue
		}
		im := e.ff.Imports[i]
		text := m.String()
		start, end := im.Start, im.End
		if text == "" {
			// Drop the line: the newline before it, or after it for the
			// first line.
			switch {
			case start >= 2 && e.content[start-2:start] == "\r\n":
				start -= 2
			case start >= 1 && e.content[start-1] == '\n':
				start--
			case end < len(e.content) && e.content[end] == '\n':
				end++
			}
		}
		es = append(es, edit{start, end, text, -1})
	}
	es = append(es, e.edits...)
	var top strings.Builder
	for _, m := range e.added {
		if s := m.String(); s != "" {
			if e.ff.ImportsEnd > 0 {
				top.WriteString("\n" + s)
			} else {
				top.WriteString(s + "\n")
			}
		}
	}
	for _, blk := range e.top {
		if e.ff.ImportsEnd > 0 {
			top.WriteString("\n\n" + strings.TrimSuffix(blk, "\n"))
		} else {
			top.WriteString("\n" + blk)
		}
	}
	if top.Len() > 0 {
		text := top.String()
		if e.ff.ImportsEnd == 0 {
			text = strings.TrimPrefix(text, "\n") + "\n"
		}
		es = append(es, edit{e.ff.ImportsEnd, e.ff.ImportsEnd, text, -1})
	}
	if len(e.tail) > 0 {
		text := ""
		if e.content != "" && !strings.HasSuffix(e.content, "\n") {
			text = "\n"
		}
		for _, blk := range e.tail {
			text += "\n" + blk
		}
		es = append(es, edit{len(e.content), len(e.content), text, -1})
	}
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].start != es[j].start {
			return es[i].start < es[j].start
		}
		return es[i].end < es[j].end
	})
	var b strings.Builder
	var drops []int
	last := 0
	for _, ed := range es {
		if ed.start < last || ed.start > len(e.content) || ed.end > len(e.content) {
			if ed.fix >= 0 {
				drops = append(drops, ed.fix)
			}
			continue
		}
		b.WriteString(e.content[last:ed.start])
		b.WriteString(ed.text)
		last = ed.end
	}
	b.WriteString(e.content[last:])
	return b.String(), drops
}

// aliasConfigured reports whether the app's tsconfig maps the path alias
// prefix ("@/" or "~/"), so that an import keeps it.
func (p *planner) aliasConfigured(prefix string) bool {
	for _, f := range []string{"tsconfig.json", "tsconfig.app.json"} {
		if strings.Contains(p.files[f], `"`+prefix+`*"`) {
			return true
		}
	}
	return false
}
