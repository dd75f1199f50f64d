package scaffold

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

const (
	maxTotalBytes = 512 << 10
	maxFileBytes  = 64 << 10
	maxFileCount  = 48
)

var (
	safePath   = regexp.MustCompile(`^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$`)
	npmName    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,49}$`)
	exactVer   = regexp.MustCompile(`^\d+\.\d+\.\d+$`)
	tsIdent    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)
	hexColor   = regexp.MustCompile(`^#[0-9a-f]{6}$`)
	importFrom = regexp.MustCompile(`(?m)^import\s+(?:[^"']*?\s+from\s+)?"([^"]+)";`)
)

// checkApp verifies the invariants every rendered app must hold, and
// returns its files.
func checkApp(t *testing.T, bp *stichv1.Blueprint) map[string]string {
	t.Helper()
	files, err := Files(bp)
	if err != nil {
		t.Fatalf("Files: %v", err)
	}

	// Roadmap: 2-4 phases, only the last marked last, every file once but
	// src/App.tsx (a first version in the first phase, the full one in
	// the last).
	if n := len(bp.Roadmap); n < 2 || n > 4 {
		t.Errorf("roadmap has %d phases, want 2-4", n)
	}
	phaseOf := map[string]int{} // the phase that writes the file's final content
	firstOf := map[string]int{} // the first phase that writes it
	for i, p := range bp.Roadmap {
		if p.LastPhase != (i == len(bp.Roadmap)-1) {
			t.Errorf("phase %d (%s): last_phase=%v", i, p.Name, p.LastPhase)
		}
		if p.Name == "" || p.Description == "" || len(p.Files) == 0 {
			t.Errorf("phase %d is incomplete: %v", i, p)
		}
		for _, f := range p.Files {
			if j, dup := phaseOf[f.Path]; dup && (f.Path != "src/App.tsx" || j != 0 || i != len(bp.Roadmap)-1) {
				t.Errorf("%s is in the roadmap twice", f.Path)
			}
			phaseOf[f.Path] = i
			if _, ok := firstOf[f.Path]; !ok {
				firstOf[f.Path] = i
			}
			if _, ok := files[f.Path]; !ok {
				t.Errorf("roadmap lists %s but Files did not render it", f.Path)
			}
			if f.Purpose == "" {
				t.Errorf("%s has no purpose", f.Path)
			}
		}
	}

	// Paths and sizes.
	total := 0
	for p, content := range files {
		if _, ok := phaseOf[p]; !ok {
			t.Errorf("Files rendered %s, which is not in the roadmap", p)
		}
		if !safePath.MatchString(p) || path.Clean(p) != p || strings.Contains(p, "..") || path.IsAbs(p) {
			t.Errorf("unsafe path %q", p)
		}
		if len(content) > maxFileBytes {
			t.Errorf("%s is %d bytes", p, len(content))
		}
		if strings.HasPrefix(content, "\n") || strings.Contains(content, "\n\n\n") || !strings.HasSuffix(content, "\n") {
			t.Errorf("%s has stray blank lines or no final newline", p)
		}
		if strings.ContainsAny(content, "\u2028\u2029\u202e") {
			t.Errorf("%s contains a raw line separator or bidi override", p)
		}
		total += len(content)
	}
	if total > maxTotalBytes || len(files) > maxFileCount {
		t.Errorf("app is %d bytes in %d files", total, len(files))
	}

	// package.json: valid, exact versions, the promised scripts.
	var pkg struct {
		Name            string            `json:"name"`
		Scripts         map[string]string `json:"scripts"`
		Dependencies    map[string]string `json:"dependencies"`
		DevDependencies map[string]string `json:"devDependencies"`
	}
	if err := json.Unmarshal([]byte(files["package.json"]), &pkg); err != nil {
		t.Fatalf("package.json: %v", err)
	}
	if !npmName.MatchString(pkg.Name) {
		t.Errorf("package name %q is not npm-safe", pkg.Name)
	}
	for _, s := range []string{"dev", "build", "typecheck"} {
		if pkg.Scripts[s] == "" {
			t.Errorf("package.json has no %q script", s)
		}
	}
	if b := pkg.Scripts["build"]; !strings.Contains(b, "tsc --noEmit") || !strings.Contains(b, "vite build") {
		t.Errorf("build script %q does not type-check and bundle", b)
	}
	for name, v := range merge(pkg.Dependencies, pkg.DevDependencies) {
		if !exactVer.MatchString(v) {
			t.Errorf("%s is pinned to %q, not an exact version", name, v)
		}
	}

	// The lockfile names the same package and the same direct dependencies.
	var lock struct {
		Name     string `json:"name"`
		Packages map[string]struct {
			Name            string            `json:"name"`
			Dependencies    map[string]string `json:"dependencies"`
			DevDependencies map[string]string `json:"devDependencies"`
		} `json:"packages"`
	}
	if err := json.Unmarshal([]byte(files["package-lock.json"]), &lock); err != nil {
		t.Fatalf("package-lock.json: %v", err)
	}
	root := lock.Packages[""]
	if lock.Name != pkg.Name || root.Name != pkg.Name {
		t.Errorf("lockfile names %q/%q, package.json %q", lock.Name, root.Name, pkg.Name)
	}
	if fmt.Sprint(root.Dependencies) != fmt.Sprint(pkg.Dependencies) || fmt.Sprint(root.DevDependencies) != fmt.Sprint(pkg.DevDependencies) {
		t.Errorf("lockfile dependencies %v %v differ from package.json %v %v; regenerate templates/package-lock.json",
			root.Dependencies, root.DevDependencies, pkg.Dependencies, pkg.DevDependencies)
	}

	// Every relative import resolves to a rendered file of the same or an
	// earlier phase, so each phase type-checks once it is written.
	for p, content := range files {
		if !strings.HasSuffix(p, ".ts") && !strings.HasSuffix(p, ".tsx") {
			continue
		}
		for _, m := range importFrom.FindAllStringSubmatch(content, -1) {
			spec := m[1]
			if !strings.HasPrefix(spec, ".") {
				if spec != "react" && spec != "react-dom/client" && spec != "vite" {
					t.Errorf("%s imports %q, which is not a dependency", p, spec)
				}
				continue
			}
			target := path.Join(path.Dir(p), spec)
			found := ""
			for _, cand := range []string{target, target + ".ts", target + ".tsx"} {
				if _, ok := files[cand]; ok {
					found = cand
				}
			}
			if found == "" {
				t.Errorf("%s imports %q, which is not rendered", p, spec)
			} else if firstOf[found] > phaseOf[p] {
				t.Errorf("%s (phase %d) imports %s from a later phase %d", p, phaseOf[p], found, firstOf[found])
			}
		}
	}

	// Each phase's own files (PhaseFiles) import only files of the same or
	// earlier phases; the first phase holds a runnable entry, so the app
	// builds and previews after it.
	for i, ph := range bp.Roadmap {
		got, err := PhaseFiles(bp, i)
		if err != nil {
			t.Fatalf("PhaseFiles(%d): %v", i, err)
		}
		if len(got) != len(ph.Files) {
			t.Errorf("PhaseFiles(%d) rendered %d files for %d planned", i, len(got), len(ph.Files))
		}
		for p, content := range got {
			if p != "src/App.tsx" || i == phaseOf[p] {
				if content != files[p] {
					t.Errorf("PhaseFiles(%d): %s differs from Files'", i, p)
				}
			} else if content == files[p] || !strings.Contains(content, "export default function App()") {
				t.Errorf("PhaseFiles(%d): %s is not a first version of the app:\n%s", i, p, content)
			}
			for _, m := range importFrom.FindAllStringSubmatch(content, -1) {
				spec := m[1]
				if !strings.HasPrefix(spec, ".") {
					continue
				}
				target := path.Join(path.Dir(p), spec)
				ok := false
				for _, cand := range []string{target, target + ".ts", target + ".tsx"} {
					if j, in := firstOf[cand]; in && j <= i {
						ok = true
					}
				}
				if !ok {
					t.Errorf("phase %d: %s imports %q, not written by phase %d or before", i, p, spec, i)
				}
			}
		}
		if i == 0 {
			for _, p := range []string{"index.html", "src/main.tsx", "src/App.tsx", "package.json"} {
				if _, ok := got[p]; !ok {
					t.Errorf("the first phase does not write %s: no preview before the last phase", p)
				}
			}
		}
	}
	if _, err := PhaseFiles(bp, len(bp.Roadmap)); !errors.Is(err, ErrRoadmapMismatch) {
		t.Errorf("PhaseFiles past the roadmap: %v", err)
	}

	// Determinism.
	again, err := Files(bp)
	if err != nil || fmt.Sprint(again) != fmt.Sprint(files) {
		t.Errorf("a second Files call differs (err %v)", err)
	}
	return files
}

func hexPalette(p []string) bool {
	if len(p) != 5 {
		return false
	}
	for _, c := range p {
		if !hexColor.MatchString(c) {
			return false
		}
	}
	return true
}

func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func TestFilesInvariants(t *testing.T) {
	deps := map[string]bool{}
	kinds := map[string]bool{}
	for _, app := range sampleApps {
		t.Run(app.name, func(t *testing.T) {
			bp := app.plan()
			files := checkApp(t, bp)
			kinds[strings.TrimSpace(strings.ToLower(bp.AppKind))] = true
			var pkg map[string]any
			if err := json.Unmarshal([]byte(files["package.json"]), &pkg); err != nil {
				t.Fatal(err)
			}
			d := fmt.Sprint(pkg["dependencies"], pkg["devDependencies"])
			deps[d] = true
		})
	}
	if len(deps) != 1 {
		t.Errorf("apps use %d different dependency sets, want one shared set: %v", len(deps), deps)
	}
	for _, k := range Kinds() {
		if !kinds[k] {
			t.Errorf("no sample app of kind %s", k)
		}
	}
}

// TestFilesEscaping checks that hostile blueprint text reaches the output
// only in escaped form: inside JSON string literals in TS and TSX, as
// entities in HTML, and backslash-escaped in Markdown.
func TestFilesEscaping(t *testing.T) {
	stringLiteral := regexp.MustCompile(`"(?:[^"\\\n]|\\.)*"`)
	for _, kind := range Kinds() {
		t.Run(kind, func(t *testing.T) {
			files := checkApp(t, hostileBlueprint(kind))
			for p, content := range files {
				switch {
				case strings.HasSuffix(p, ".ts") || strings.HasSuffix(p, ".tsx"):
					code := stringLiteral.ReplaceAllString(content, `""`)
					for _, marker := range []string{"alert", "inject", "quoted", "javascript:"} {
						if strings.Contains(code, marker) {
							t.Errorf("%s: hostile text %q outside a string literal", p, marker)
						}
					}
					for _, lit := range stringLiteral.FindAllString(content, -1) {
						if strings.ContainsAny(lit, "<>&") {
							t.Errorf("%s: string literal %s holds unescaped <, > or &", p, lit)
						}
					}
				case p == "index.html":
					for _, raw := range []string{"<script>alert", "<b>", `"quoted"`, "'single'"} {
						if strings.Contains(content, raw) {
							t.Errorf("index.html contains %q unescaped", raw)
						}
					}
				case p == "README.md":
					for _, raw := range []string{"<script", "<b>", "](javascript", "`tick`"} {
						if strings.Contains(content, raw) {
							t.Errorf("README.md contains %q unescaped", raw)
						}
					}
				case p == "package.json" || p == "package-lock.json":
					// The name is checked against npm's rules by checkApp.
				default:
					if strings.Contains(content, "alert") || strings.Contains(content, "inject") {
						t.Errorf("%s contains hostile text", p)
					}
				}
			}
			if !strings.Contains(files["index.html"], "<title>&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;") {
				t.Errorf("index.html title is not HTML-escaped:\n%s", files["index.html"])
			}
			if !strings.Contains(files["src/styles.css"], "--primary: #2563eb;") {
				t.Errorf("an invalid palette color was not replaced by the default")
			}
		})
	}
}

// TestFilesIdentifiers checks that every name the renderer derived is a
// plain identifier, whatever the blueprint said.
func TestFilesIdentifiers(t *testing.T) {
	for _, kind := range Kinds() {
		m, err := buildModel(hostileBlueprint(kind))
		if err != nil {
			t.Fatal(err)
		}
		types := map[string]bool{}
		for _, e := range m.Entities {
			for _, id := range []string{e.Type, e.Var, e.Component} {
				if !tsIdent.MatchString(id) || len(id) > maxIdentLen+8 {
					t.Errorf("%s: bad identifier %q", kind, id)
				}
			}
			if types[e.Type] || reservedTypes[e.Type] || hasReservedSuffix(e.Type) {
				t.Errorf("%s: type %q collides", kind, e.Type)
			}
			types[e.Type] = true
			keys := map[string]bool{}
			for _, f := range e.Fields {
				if !tsIdent.MatchString(f.Key) || keys[f.Key] || reservedKeys[f.Key] {
					t.Errorf("%s: bad or duplicate field key %q", kind, f.Key)
				}
				keys[f.Key] = true
			}
			if len(e.Fields) > maxFields {
				t.Errorf("%s: %d fields", kind, len(e.Fields))
			}
		}
		if len(m.Entities) > maxEntities {
			t.Errorf("%s: %d entities", kind, len(m.Entities))
		}
		for _, c := range m.Columns {
			if !regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`).MatchString(c.ID) {
				t.Errorf("bad column id %q", c.ID)
			}
		}
	}
}

func TestFilesErrors(t *testing.T) {
	good := Plan("a recipe tracker", nil)
	if _, err := Files(good); err != nil {
		t.Fatal(err)
	}
	edit := func(f func(bp *stichv1.Blueprint)) *stichv1.Blueprint {
		bp := proto.Clone(good).(*stichv1.Blueprint)
		f(bp)
		return bp
	}
	tests := []struct {
		name string
		bp   *stichv1.Blueprint
		want error
	}{
		{"nil blueprint", nil, ErrUnknownKind},
		{"unknown kind", edit(func(bp *stichv1.Blueprint) { bp.AppKind = "spreadsheet" }), ErrUnknownKind},
		{"empty kind", edit(func(bp *stichv1.Blueprint) { bp.AppKind = "" }), ErrUnknownKind},
		{"no roadmap", edit(func(bp *stichv1.Blueprint) { bp.Roadmap = nil }), ErrNoRoadmap},
		{"empty phases", edit(func(bp *stichv1.Blueprint) {
			for _, p := range bp.Roadmap {
				p.Files = nil
			}
		}), ErrNoRoadmap},
		{"missing file", edit(func(bp *stichv1.Blueprint) { bp.Roadmap[0].Files = bp.Roadmap[0].Files[1:] }), ErrRoadmapMismatch},
		{"extra file", edit(func(bp *stichv1.Blueprint) {
			bp.Roadmap[2].Files = append(bp.Roadmap[2].Files, &stichv1.FilePlan{Path: "../../etc/passwd"})
		}), ErrRoadmapMismatch},
		{"duplicate file", edit(func(bp *stichv1.Blueprint) {
			bp.Roadmap[1].Files = append(bp.Roadmap[1].Files, bp.Roadmap[0].Files[0])
		}), ErrRoadmapMismatch},
		{"entity renamed after planning", edit(func(bp *stichv1.Blueprint) { bp.Entities[0].Name = "Dish" }), ErrRoadmapMismatch},
	}
	for _, tt := range tests {
		files, err := Files(tt.bp)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
		if files != nil {
			t.Errorf("%s: files returned with an error", tt.name)
		}
	}
	// Files does not care about case or spaces in the kind.
	if _, err := Files(edit(func(bp *stichv1.Blueprint) { bp.AppKind = " CRUD " })); err != nil {
		t.Errorf("kind \" CRUD \": %v", err)
	}
}

// TestFilesGolden pins the rendered apps. The recipe tracker is stored in
// full; for the other samples only files that differ from the recipe
// tracker's are stored. The lockfile is checked by TestFilesInvariants.
func TestFilesGolden(t *testing.T) {
	base, err := Files(sampleApps[0].plan())
	if err != nil {
		t.Fatal(err)
	}
	for i, app := range sampleApps {
		if strings.HasPrefix(app.name, "hostile_") && app.name != "hostile_prompt" && app.name != "hostile_kanban" {
			continue
		}
		t.Run(app.name, func(t *testing.T) {
			files, err := Files(app.plan())
			if err != nil {
				t.Fatal(err)
			}
			var paths []string
			for p := range files {
				if p == "package-lock.json" || (i > 0 && files[p] == base[p]) {
					continue
				}
				paths = append(paths, p)
			}
			sort.Strings(paths)
			var b strings.Builder
			if i > 0 {
				fmt.Fprintf(&b, "# Files that differ from recipe_tracker.txt.\n")
			}
			for _, p := range paths {
				fmt.Fprintf(&b, "-- %s --\n%s", p, files[p])
				if !strings.HasSuffix(files[p], "\n") {
					b.WriteString("\n")
				}
			}
			checkGolden(t, filepath.Join("files", app.name+".txt"), []byte(b.String()))
		})
	}
}

func TestLabel(t *testing.T) {
	if Label != "scaffold (no model)" {
		t.Errorf("Label = %q", Label)
	}
	files, err := Files(Plan("a recipe tracker", nil))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(files["README.md"], Label) || !strings.Contains(files["index.html"], Label) {
		t.Error("the generated app does not say it came from the scaffold")
	}
}

// TestRenderFilesIsFilesSubset checks that RenderFiles returns exactly
// what Files returns for the paths asked, for every sample app.
func TestRenderFilesIsFilesSubset(t *testing.T) {
	for _, app := range sampleApps {
		bp := app.plan()
		all, err := Files(bp)
		if err != nil {
			t.Fatalf("%s: %v", app.name, err)
		}
		paths := []string{"package.json", "package-lock.json", "index.html", "public/favicon.svg", "src/App.tsx", "no/such/file.ts"}
		got, err := RenderFiles(bp, paths...)
		if err != nil {
			t.Fatalf("%s: %v", app.name, err)
		}
		if len(got) != len(paths)-1 {
			t.Fatalf("%s: rendered %d files, want %d", app.name, len(got), len(paths)-1)
		}
		for p, c := range got {
			if all[p] != c {
				t.Fatalf("%s: %s differs from Files", app.name, p)
			}
		}
	}
	if _, err := RenderFiles(&stichv1.Blueprint{AppKind: "spaceship"}, "package.json"); !errors.Is(err, ErrUnknownKind) {
		t.Fatalf("unknown kind: %v", err)
	}
}
