package scaffold

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// Errors returned by [Files]. Wrapped errors carry the details.
var (
	// ErrUnknownKind means the blueprint's app_kind is not one of [Kinds].
	ErrUnknownKind = errors.New("scaffold: unknown app kind")
	// ErrNoRoadmap means the blueprint has no roadmap (or no file in it).
	ErrNoRoadmap = errors.New("scaffold: blueprint has no roadmap")
	// ErrRoadmapMismatch means the roadmap does not list exactly the files
	// the blueprint renders, each once. A blueprint from [Plan] always
	// matches; one edited by hand may not.
	ErrRoadmapMismatch = errors.New("scaffold: roadmap does not match the rendered files")
)

// Pinned npm packages of every generated app. All kinds share this one set,
// so one node_modules serves them all. templates/package-lock.json must be
// regenerated whenever these change (see lockfile_test.go).
var (
	npmDependencies = map[string]string{
		"react":     "19.3.1",
		"react-dom": "19.3.1",
	}
	npmDevDependencies = map[string]string{
		"@types/react":     "19.3.3",
		"@types/react-dom": "19.3.0",
		"typescript":       "7.0.2",
		"vite":             "8.3.8",
	}
	npmScripts = map[string]string{
		"dev":       "vite",
		"build":     "tsc --noEmit && vite build",
		"typecheck": "tsc --noEmit",
		"preview":   "vite preview",
	}
)

const (
	appVersion      = "0.1.0"
	lockPlaceholder = `"stich-scaffold-placeholder"`
)

//go:embed templates
var templateFS embed.FS

type plannedFile struct {
	Path    string
	Purpose string
}

type plannedPhase struct {
	Name        string
	Description string
	Files       []plannedFile
}

// firstApp is the one path two phases list: the first phase writes a first
// version of it (see [model.firstApp]) and the last phase the full one.
const firstApp = "src/App.tsx"

// plan lists the files a model renders, by phase. Files of one phase import
// only files of the same or earlier phases, so each phase type-checks on
// its own once the dependencies are installed. The first phase writes the
// entry (src/main.tsx) and a first version of src/App.tsx, so the app
// builds and its preview shows after the first phase; the last phase
// rewrites src/App.tsx in full.
func (m *model) plan() []plannedPhase {
	foundation := plannedPhase{
		Name:        "Foundation",
		Description: "Project setup: pinned dependencies, TypeScript and Vite configuration, the HTML shell, the stylesheet and a first runnable screen.",
		Files: []plannedFile{
			{"package.json", "npm package with exact dependency versions and the dev, build and typecheck scripts"},
			{"package-lock.json", "lockfile pinning every transitive dependency, for reproducible installs"},
			{"tsconfig.json", "strict TypeScript settings for the browser code in src/"},
			{"vite.config.ts", "Vite build configuration"},
			{"index.html", "HTML shell that loads src/main.tsx"},
			{".gitignore", "keeps node_modules and build output out of version control"},
			{"README.md", "how to run, type-check and build the app"},
			{"public/favicon.svg", "app icon in the palette's primary color"},
			{"src/vite-env.d.ts", "Vite client types, including CSS imports"},
			{"src/styles.css", "responsive stylesheet built on the color palette"},
			{"src/main.tsx", "entry point that mounts the app"},
			{firstApp, "first version of the app (its title and what is being built), so the preview works after this phase; the last phase replaces it"},
		},
	}
	data := plannedPhase{Name: "Data model"}
	views := plannedPhase{Name: "Views"}
	switch m.Kind {
	case KindCRUD, KindForm, KindKanban:
		data.Description = "Record types, field metadata, validation and localStorage persistence."
		data.Files = []plannedFile{
			{"src/types.ts", "TypeScript types of the records"},
			{"src/fields.ts", "field metadata, form drafts, validation and safe value readers"},
			{"src/schema.ts", "field definitions, labels, parsing, sorting and search for each record type"},
			{"src/storage.ts", "useStoredList hook: state persisted to localStorage, validated on load"},
		}
		views.Description = "Forms with inputs that match each field's type, record views and the app shell."
		views.Files = []plannedFile{
			{"src/components/FieldInput.tsx", "labelled input for one field: text, number, date, checkbox, list or rating"},
			{"src/components/StarRating.tsx", "accessible 1-5 star picker"},
			{"src/components/EntityForm.tsx", "add/edit form with validation messages"},
			{"src/components/Display.tsx", "read-only renderings of field values"},
		}
		switch m.Kind {
		case KindCRUD:
			views.Files = append(views.Files, plannedFile{"src/components/EmptyState.tsx", "placeholder for lists with nothing in them yet"})
			for _, e := range m.Entities {
				views.Files = append(views.Files, plannedFile{
					"src/components/" + e.Component + "Page.tsx",
					"list, search, sort, add, edit and delete " + strings.ToLower(e.Plural),
				})
			}
		case KindForm:
			e := m.Entities[0]
			views.Files = append(views.Files,
				plannedFile{"src/components/EmptyState.tsx", "placeholder for lists with nothing in them yet"},
				plannedFile{"src/components/" + e.Type + "Entries.tsx", "list of submitted " + strings.ToLower(e.Plural)})
		case KindKanban:
			e := m.Entities[0]
			views.Files = append(views.Files,
				plannedFile{"src/components/Board.tsx", "columns with move buttons and drag and drop"},
				plannedFile{"src/components/" + e.Type + "Card.tsx", "one " + strings.ToLower(e.Singular) + " card"})
		}
	case KindTimer, KindCalculator, KindConverter, KindQuiz, KindFlashcards, KindTicTacToe,
		KindMemory, KindGallery, KindNotes, KindCalendar:
		data.Description = "Settings generated from the prompt, the kind's logic and localStorage persistence."
		data.Files = []plannedFile{
			{"src/logic.ts", "the rules and calculations of this " + m.Kind + " app, apart from the view"},
			{"src/config.ts", "settings read from the prompt: title, storage key and options"},
			{"src/persist.ts", "usePersisted hook: state saved to localStorage under the app's fixed key"},
		}
		views.Description = "The app's screen inside a shared page frame."
		views.Files = []plannedFile{
			{"src/components/Shell.tsx", "page frame: header, main area and footer"},
		}
	case KindDashboard:
		data.Description = "Metric definitions, number formatting and twelve months of sample data."
		data.Files = []plannedFile{
			{"src/types.ts", "shape of one period of metrics"},
			{"src/format.ts", "currency, count, percent and rating formatting; totals and changes"},
			{"src/data.ts", "metric definitions and sample data"},
		}
		views.Description = "Summary cards, an SVG bar chart and a data table."
		views.Files = []plannedFile{
			{"src/components/SummaryCard.tsx", "one metric's total or average and its trend"},
			{"src/components/BarChart.tsx", "responsive, accessible SVG bar chart"},
			{"src/components/DataTable.tsx", "table of the numbers behind the chart"},
		}
	case KindLanding:
		data.Name = "Content"
		data.Description = "Page copy, features and sign-up storage."
		data.Files = []plannedFile{
			{"src/types.ts", "feature and sign-up types"},
			{"src/content.ts", "every text on the page"},
			{"src/storage.ts", "useStoredList hook: sign-ups persisted to localStorage"},
		}
		views.Name = "Sections"
		views.Description = "Hero, features, call to action and footer."
		views.Files = []plannedFile{
			{"src/components/Hero.tsx", "headline, tagline and primary actions"},
			{"src/components/Features.tsx", "grid of feature highlights"},
			{"src/components/CallToAction.tsx", "validated email sign-up"},
			{"src/components/Footer.tsx", "footer with copyright"},
		}
	}
	views.Files = append(views.Files,
		plannedFile{firstApp, "app shell: header, navigation and main content"})
	return []plannedPhase{foundation, data, views}
}

// roadmap turns the plan into blueprint phases.
func (m *model) roadmap() []*stichv1.PhasePlan {
	phases := m.plan()
	out := make([]*stichv1.PhasePlan, len(phases))
	for i, p := range phases {
		pp := &stichv1.PhasePlan{Name: p.Name, Description: p.Description, LastPhase: i == len(phases)-1}
		for _, f := range p.Files {
			pp.Files = append(pp.Files, &stichv1.FilePlan{Path: f.Path, Purpose: f.Purpose})
		}
		out[i] = pp
	}
	return out
}

// Files renders the complete app for a blueprint as a map from
// slash-separated relative path to file content. The output is a pure
// function of the blueprint. It returns an error wrapping [ErrUnknownKind],
// [ErrNoRoadmap] or [ErrRoadmapMismatch] for a blueprint it cannot render.
func Files(bp *stichv1.Blueprint) (map[string]string, error) {
	m, err := buildModel(bp)
	if err != nil {
		return nil, err
	}
	if err := checkRoadmap(bp.GetRoadmap(), m.plan()); err != nil {
		return nil, err
	}
	return m.render()
}

// RenderFiles renders only the files at paths of the app for bp: for each
// path the app has, what [Files] returns for it; paths the app does not
// have are left out. It accepts the blueprints Files accepts and returns
// the same errors, without rendering the rest of the app.
func RenderFiles(bp *stichv1.Blueprint, paths ...string) (map[string]string, error) {
	m, err := buildModel(bp)
	if err != nil {
		return nil, err
	}
	plan := m.plan()
	if err := checkRoadmap(bp.GetRoadmap(), plan); err != nil {
		return nil, err
	}
	want := make(map[string]bool, len(paths))
	for _, p := range paths {
		want[p] = true
	}
	out := make(map[string]string, len(paths))
	for _, ph := range plan {
		for _, f := range ph.Files {
			if !want[f.Path] {
				continue
			}
			content, err := m.renderFile(f.Path)
			if err != nil {
				return nil, fmt.Errorf("scaffold: render %s: %w", f.Path, err)
			}
			out[f.Path] = content
		}
	}
	return out, nil
}

func checkRoadmap(roadmap []*stichv1.PhasePlan, want []plannedPhase) error {
	got := map[string]int{}
	for _, p := range roadmap {
		seen := map[string]bool{}
		for _, f := range p.GetFiles() {
			if seen[f.GetPath()] {
				return fmt.Errorf("%w: %q is listed twice in phase %q", ErrRoadmapMismatch, f.GetPath(), clampRunes(p.GetName(), 80))
			}
			seen[f.GetPath()] = true
			got[f.GetPath()]++
		}
	}
	if len(got) == 0 {
		return ErrNoRoadmap
	}
	wanted := map[string]int{}
	for _, p := range want {
		for _, f := range p.Files {
			wanted[f.Path]++
		}
	}
	for _, p := range want {
		for _, f := range p.Files {
			switch {
			case got[f.Path] == 0:
				return fmt.Errorf("%w: %q is not in the roadmap", ErrRoadmapMismatch, f.Path)
			case got[f.Path] > wanted[f.Path]:
				return fmt.Errorf("%w: %q is listed twice", ErrRoadmapMismatch, f.Path)
			}
		}
	}
	var extra []string
	for path := range got {
		if wanted[path] == 0 {
			extra = append(extra, path)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return fmt.Errorf("%w: %q is not rendered for this blueprint", ErrRoadmapMismatch, clampRunes(extra[0], 80))
	}
	return nil
}

// PhaseFiles renders the files phase index of bp's roadmap writes: what
// [Files] returns for each, except the first version of src/App.tsx in
// the first phase (the last phase writes the full one). It accepts the
// blueprints Files accepts and returns the same errors; an index outside
// the roadmap is an [ErrRoadmapMismatch].
func PhaseFiles(bp *stichv1.Blueprint, index int) (map[string]string, error) {
	m, err := buildModel(bp)
	if err != nil {
		return nil, err
	}
	plan := m.plan()
	if err := checkRoadmap(bp.GetRoadmap(), plan); err != nil {
		return nil, err
	}
	if index < 0 || index >= len(bp.GetRoadmap()) {
		return nil, fmt.Errorf("%w: no phase %d in a roadmap of %d", ErrRoadmapMismatch, index+1, len(bp.GetRoadmap()))
	}
	later := map[string]bool{}
	for _, ph := range bp.GetRoadmap()[index+1:] {
		for _, f := range ph.GetFiles() {
			later[f.GetPath()] = true
		}
	}
	out := map[string]string{}
	for _, f := range bp.GetRoadmap()[index].GetFiles() {
		p := f.GetPath()
		var content string
		if p == firstApp && later[p] {
			content, err = m.firstApp()
		} else {
			content, err = m.renderFile(p)
		}
		if err != nil {
			return nil, fmt.Errorf("scaffold: render %s: %w", p, err)
		}
		out[p] = content
	}
	return out, nil
}

// firstApp renders the first version of src/App.tsx: the app's header and
// a note of what the next phases add, with no import (it builds with the
// first phase's files alone).
func (m *model) firstApp() (string, error) {
	name := m.Kind
	for _, t := range catalog {
		if t.Kind == m.Kind {
			name = t.Name
		}
	}
	return execTemplate("first_app.tsx.tmpl", struct {
		Title, Description, Kind string
	}{m.Title, m.Description, strings.ToLower(name)})
}

// render produces every planned file.
func (m *model) render() (map[string]string, error) {
	out := map[string]string{}
	for _, p := range m.plan() {
		for _, f := range p.Files {
			content, err := m.renderFile(f.Path)
			if err != nil {
				return nil, fmt.Errorf("scaffold: render %s: %w", f.Path, err)
			}
			out[f.Path] = content
		}
	}
	return out, nil
}

func staticFile(name string) (string, error) {
	b, err := templateFS.ReadFile("templates/" + name)
	return string(b), err
}

func (m *model) renderFile(path string) (string, error) {
	switch path {
	case "package.json":
		return packageJSON(m.Project)
	case "package-lock.json":
		lock, err := staticFile("package-lock.json")
		if err != nil {
			return "", err
		}
		return strings.ReplaceAll(lock, lockPlaceholder, tsString(m.Project)), nil
	case "tsconfig.json":
		return staticFile("static/tsconfig.json")
	case "vite.config.ts":
		return staticFile("static/vite.config.ts")
	case ".gitignore":
		return staticFile("static/gitignore")
	case "index.html":
		return execTemplate("index.html.tmpl", m.pageData())
	case "README.md":
		return execTemplate("README.md.tmpl", m.pageData())
	case "public/favicon.svg":
		return m.favicon(), nil
	case "src/styles.css":
		return m.stylesheet()
	case "src/vite-env.d.ts", "src/main.tsx", "src/fields.ts", "src/storage.ts",
		"src/components/FieldInput.tsx", "src/components/StarRating.tsx",
		"src/components/EntityForm.tsx", "src/components/Display.tsx", "src/components/EmptyState.tsx":
		return staticFile("static/" + path)
	case "src/components/Board.tsx":
		return staticFile("static/kanban/Board.tsx")
	case "src/format.ts":
		return staticFile("static/dashboard/format.ts")
	case "src/components/SummaryCard.tsx", "src/components/BarChart.tsx", "src/components/DataTable.tsx":
		return staticFile("static/dashboard/" + strings.TrimPrefix(path, "src/components/"))
	case "src/components/Hero.tsx", "src/components/Features.tsx",
		"src/components/CallToAction.tsx", "src/components/Footer.tsx":
		return staticFile("static/landing/" + strings.TrimPrefix(path, "src/components/"))
	}
	switch m.Kind {
	case KindCRUD, KindForm, KindKanban:
		switch path {
		case "src/types.ts":
			return execTemplate("types.ts.tmpl", m.recordData())
		case "src/schema.ts":
			return execTemplate("schema.ts.tmpl", m.recordData())
		case "src/App.tsx":
			return execTemplate(m.Kind+"_app.tsx.tmpl", m.recordData())
		}
		for _, e := range m.Entities {
			switch path {
			case "src/components/" + e.Component + "Page.tsx":
				return execTemplate("crud_page.tsx.tmpl", entityDataOf(e))
			case "src/components/" + e.Type + "Entries.tsx":
				return execTemplate("form_entries.tsx.tmpl", entityDataOf(e))
			case "src/components/" + e.Type + "Card.tsx":
				return execTemplate("kanban_card.tsx.tmpl", entityDataOf(e))
			}
		}
	case KindDashboard:
		switch path {
		case "src/types.ts":
			return execTemplate("dashboard_types.ts.tmpl", m.dashboardData())
		case "src/data.ts":
			return execTemplate("dashboard_data.ts.tmpl", m.dashboardData())
		case "src/App.tsx":
			return staticFile("static/dashboard/App.tsx")
		}
	case KindTimer, KindCalculator, KindConverter, KindQuiz, KindFlashcards, KindTicTacToe,
		KindMemory, KindGallery, KindNotes, KindCalendar:
		switch path {
		case "src/config.ts":
			return m.Widget.configTS()
		case "src/logic.ts", "src/App.tsx":
			return staticFile("static/" + m.Kind + "/" + strings.TrimPrefix(path, "src/"))
		case "src/persist.ts":
			return staticFile("static/widgets/persist.ts")
		case "src/components/Shell.tsx":
			return staticFile("static/widgets/Shell.tsx")
		}
	case KindLanding:
		switch path {
		case "src/types.ts":
			return execTemplate("landing_types.ts.tmpl", nil)
		case "src/content.ts":
			return execTemplate("landing_content.ts.tmpl", m.landingData())
		case "src/App.tsx":
			return staticFile("static/landing/App.tsx")
		}
	}
	return "", fmt.Errorf("no renderer for %s", path)
}

func packageJSON(name string) (string, error) {
	pkg := struct {
		Name            string            `json:"name"`
		Private         bool              `json:"private"`
		Version         string            `json:"version"`
		Type            string            `json:"type"`
		Scripts         map[string]string `json:"scripts"`
		Dependencies    map[string]string `json:"dependencies"`
		DevDependencies map[string]string `json:"devDependencies"`
	}{name, true, appVersion, "module", npmScripts, npmDependencies, npmDevDependencies}
	// NB: no HTML escaping: "&&" in scripts must stay readable, and every
	// value here is a slug or a constant, never user text.
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(pkg); err != nil {
		return "", err
	}
	return b.String(), nil
}

// favicon draws a rounded square with the title's first letter. Only an
// ASCII letter or digit is drawn, so no user text reaches the SVG markup.
func (m *model) favicon() string {
	letter := ""
	if w := splitIdent(m.Title); len(w) > 0 {
		letter = strings.ToUpper(w[0][:1])
	}
	text := ""
	if letter != "" {
		text = fmt.Sprintf(`<text x="32" y="43" font-family="system-ui, sans-serif" font-size="34" font-weight="700" text-anchor="middle" fill="%s">%s</text>`, m.Colors.PrimaryText, letter)
	}
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="14" fill="%s"/>%s</svg>`+"\n", m.Colors.Primary, text)
}

func (m *model) stylesheet() (string, error) {
	c := m.Colors
	scheme := "light"
	if c.Dark {
		scheme = "dark"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "/* Palette: primary, accent, background, surface, text, and shades derived from them. */\n:root {\n")
	for _, kv := range [][2]string{
		{"primary", c.Primary}, {"primary-text", c.PrimaryText}, {"primary-soft", c.PrimarySoft},
		{"accent", c.Accent}, {"bg", c.Bg}, {"surface", c.Surface}, {"text", c.Text},
		{"muted", c.Muted}, {"border", c.Border}, {"danger", c.Danger}, {"success", c.Success}, {"star", c.Star},
	} {
		fmt.Fprintf(&b, "  --%s: %s;\n", kv[0], kv[1])
	}
	fmt.Fprintf(&b, "  color-scheme: %s;\n}\n\n", scheme)
	parts := []string{"base.css"}
	switch m.Kind {
	case KindCRUD, KindForm:
		parts = append(parts, "records.css")
	case KindKanban:
		parts = append(parts, "records.css", "kanban.css")
	case KindDashboard:
		parts = append(parts, "dashboard.css")
	case KindLanding:
		parts = append(parts, "landing.css")
	default:
		parts = append(parts, "records.css", "widgets.css")
	}
	for i, p := range parts {
		css, err := staticFile("css/" + p)
		if err != nil {
			return "", err
		}
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(css)
	}
	return b.String(), nil
}
