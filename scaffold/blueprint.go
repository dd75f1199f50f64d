package scaffold

import (
	"fmt"
	"sort"
	"strings"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// This file turns a spec into a blueprint: defaults for everything the
// prompt left out, per-kind rules, and the prose fields.

func parseFieldDefs(defs []string) []fieldSpec {
	out := make([]fieldSpec, 0, len(defs))
	for _, d := range defs {
		name, typ, _ := strings.Cut(d, ":")
		out = append(out, fieldSpec{words: strings.Fields(name), typ: typ})
	}
	return out
}

func (s *spec) subjectWords() []string { return words(s.subject) }

// lookup returns the first value in table keyed by one of ws, trying the
// last word first.
func lookup[T any](table map[string]T, ws ...string) (T, bool) {
	for i := len(ws) - 1; i >= 0; i-- {
		if v, ok := table[ws[i]]; ok {
			return v, true
		}
		if v, ok := table[singular(ws[i])]; ok {
			return v, true
		}
	}
	var zero T
	return zero, false
}

func (s *spec) defaultColumns() []string {
	keys := append(s.subjectWords(), s.main().words...)
	if cols, ok := lookup(kanbanColumns, keys...); ok {
		return append([]string{}, cols...)
	}
	return append([]string{}, defaultColumns...)
}

// knownKeys are the single-word keys of knownFields, longest first.
var knownKeys = func() []string {
	var keys []string
	for k := range knownFields {
		if !strings.Contains(k, " ") {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if len(keys[i]) != len(keys[j]) {
			return len(keys[i]) > len(keys[j])
		}
		return keys[i] < keys[j]
	})
	return keys
}()

// defaultFields are the fields an entity gets when nothing asked for any.
func (s *spec) defaultFields(e *entitySpec) []fieldSpec {
	subj := s.subjectWords()
	var defs []string
	switch s.kind {
	case KindForm:
		var ok bool
		defs, ok = lookup(formFields, append(append([]string{}, subj...), s.typeWord)...)
		if !ok {
			defs, ok = lookup(formFields, words(s.headWords)...)
		}
		if !ok {
			defs = []string{"name:string", "email:string", "message:string"}
		}
	case KindDashboard:
		names, ok := lookup(dashboardMetrics, subj...)
		if !ok {
			names, ok = lookup(dashboardMetrics, words(s.headWords)...)
		}
		if !ok {
			names, ok = lookup(dashboardMetrics, e.words...)
		}
		if base := entityWordsFor(subj); !ok && len(base) > 0 && base[0] != "item" {
			// "a plant dashboard": new plants, active plants, growth rate.
			p := plural(base[len(base)-1])
			names, ok = []string{"new " + p, "active " + p, "growth rate"}, true
		}
		if !ok {
			names = []string{"visitors", "signups", "revenue", "conversion rate"}
		}
		for _, n := range names {
			defs = append(defs, n+":number")
		}
	case KindLanding:
		feats, ok := lookup(landingFeatures, append(append([]string{}, subj...), e.words...)...)
		if !ok {
			feats, _ = lookup(landingFeatures, words(s.headWords)...)
		}
		for _, f := range feats {
			defs = append(defs, f+":string")
		}
	default:
		last := "item"
		if len(e.words) > 0 {
			last = e.words[len(e.words)-1]
		} else if s.kind == KindKanban {
			last = "task"
		}
		var ok bool
		if defs, ok = knownFields[strings.Join(e.words, " ")]; ok {
			break
		}
		if defs, ok = knownFields[last]; !ok {
			defs = []string{headingName(last) + ":string", "notes:string"}
			// "houseplant" is a plant, "storybook" a book.
			for _, key := range knownKeys {
				if len(last) > len(key)+2 && strings.HasSuffix(last, key) {
					defs = knownFields[key]
					break
				}
			}
		}
	}
	fs := parseFieldDefs(defs)
	for i := range fs {
		fs[i].seeded = true
	}
	return fs
}

// seedFields gives every entity without fields its defaults, so that a
// refinement such as "also track cooking time" adds to them rather than
// replacing them.
func (s *spec) seedFields() {
	s.main()
	for _, e := range s.entities {
		if len(e.fields) == 0 {
			e.fields = s.defaultFields(e)
			s.seededKind = s.kind
		}
	}
}

// finishEntities applies the per-kind rules: entity counts, names, default
// fields, type coercions and a heading field for record kinds.
func (s *spec) finishEntities() {
	subj := s.subjectWords()
	s.main()
	if s.kind != KindCRUD {
		s.entities = s.entities[:1]
	}
	e := s.entities[0]
	switch s.kind {
	case KindForm:
		switch {
		case s.survey:
			e.words = []string{"response"}
		case len(e.words) == 0:
			e.words = []string{"submission"}
		}
	case KindDashboard:
		var base []string
		for _, w := range subj {
			if w != "" && !adjective[w] && !isKindWord(w) && !filler[w] {
				base = append(base, w)
			}
		}
		if len(base) == 0 && len(e.words) > 0 && e.words[0] != "item" {
			base = e.words
		}
		if len(base) > 2 {
			base = base[len(base)-2:]
		}
		e.words = append(append([]string{}, base...), "metrics")
	case KindLanding:
		if len(e.words) == 0 {
			e.words = []string{"product"}
		}
	case KindKanban:
		if len(e.words) == 0 {
			e.words = []string{"task"}
		}
	}
	// Defaults seeded for another kind may not fit this one.
	if s.seededKind != "" && s.seededKind != s.kind {
		for _, e := range s.entities {
			var kept []fieldSpec
			for _, f := range e.fields {
				drop := f.seeded && (s.kind == KindLanding || (s.kind == KindDashboard && f.typ != TypeNumber && f.typ != TypeRating))
				if !drop {
					kept = append(kept, f)
				}
			}
			e.fields = kept
		}
	}
	for _, e := range s.entities {
		if len(e.words) == 0 {
			e.words = []string{"item"}
		}
		asked := false
		for _, f := range e.fields {
			asked = asked || !f.seeded
		}
		if len(e.fields) == 0 || (s.kind == KindDashboard && !asked) {
			e.fields = s.defaultFields(e)
		}
		var kept []fieldSpec
		for _, f := range e.fields {
			switch s.kind {
			case KindDashboard:
				if f.typ != TypeRating {
					f.typ = TypeNumber
				}
			case KindLanding:
				f.typ = TypeString
			case KindKanban:
				if len(f.words) == 1 && statusField[f.words[0]] {
					continue
				}
			}
			kept = append(kept, f)
		}
		e.fields = kept
		if s.kind == KindCRUD || s.kind == KindKanban || s.kind == KindForm {
			e.fields = withHeading(s.kind, e)
		}
		if len(e.fields) > maxFields {
			e.fields = e.fields[:maxFields]
		}
	}
	if s.kind == KindKanban && len(s.columns) < 2 {
		s.columns = s.defaultColumns()
	}
}

// withHeading makes sure a record's first field names it ("title, due
// date", "name, email"): a name or title field moves to the front, and when
// there is none, one is added. Forms only need some text field.
func withHeading(kind string, e *entitySpec) []fieldSpec {
	fs := e.fields
	if len(fs) > 0 && fs[0].typ == TypeString && textHint(fs[0].words) == "text" {
		return fs
	}
	for i, f := range fs {
		if len(f.words) == 1 && (f.words[0] == "name" || f.words[0] == "title") && f.typ == TypeString {
			out := append([]fieldSpec{f}, fs[:i]...)
			return append(out, fs[i+1:]...)
		}
	}
	if kind == KindForm {
		for _, f := range fs {
			if f.typ == TypeString {
				return fs
			}
		}
	}
	heading := headingName(e.words[len(e.words)-1])
	for _, f := range fs {
		if len(f.words) == 1 && f.words[0] == heading && f.typ == TypeString {
			return fs // "description" heads a transaction even though it reads as long text
		}
	}
	return append([]fieldSpec{{words: []string{heading}, typ: TypeString}}, fs...)
}

// headingName names the field that names a record: what the record's
// known defaults use (a transaction's "description"), else title or name.
func headingName(entityWord string) string {
	if defs, ok := knownFields[entityWord]; ok {
		if name, typ, _ := strings.Cut(defs[0], ":"); typ == TypeString {
			return name
		}
	}
	if titleEntity[entityWord] {
		return "title"
	}
	return "name"
}

var landingFeatures = map[string][]string{
	"coffee": {"menu", "opening hours", "location"}, "cafe": {"menu", "opening hours", "location"},
	"restaurant": {"menu", "opening hours", "reservations"}, "bakery": {"fresh bakes", "opening hours", "location"},
	"shop": {"products", "opening hours", "location"}, "store": {"products", "shipping", "returns"},
	"portfolio": {"projects", "skills", "contact"}, "freelancer": {"services", "projects", "contact"},
	"event": {"schedule", "speakers", "tickets"}, "conference": {"schedule", "speakers", "tickets"},
	"gym": {"classes", "trainers", "membership"}, "studio": {"classes", "teachers", "pricing"},
	"app": {"features", "pricing", "testimonials"}, "saas": {"features", "pricing", "testimonials"},
	"startup": {"features", "pricing", "testimonials"}, "product": {"features", "pricing", "testimonials"},
	"agency": {"services", "case studies", "team"}, "salon": {"services", "prices", "booking"},
	"band": {"music", "tour dates", "merch"}, "podcast": {"episodes", "hosts", "subscribe"},
	"course": {"curriculum", "instructor", "pricing"}, "hotel": {"rooms", "amenities", "location"},
	"wedding": {"our story", "schedule", "rsvp"}, "church": {"services", "events", "community"},
	"school": {"programs", "admissions", "campus"}, "clinic": {"services", "doctors", "appointments"},
	"photographer": {"portfolio", "services", "pricing"}, "designer": {"portfolio", "services", "process"},
	"developer": {"projects", "skills", "contact"}, "consultant": {"services", "case studies", "contact"},
	"artist": {"gallery", "exhibitions", "commissions"}, "musician": {"music", "shows", "contact"},
	"coach": {"programs", "testimonials", "booking"}, "tutor": {"subjects", "rates", "booking"},
	"adoption": {"adoptable pets", "how it works", "volunteer"}, "pet": {"adoptable pets", "how it works", "volunteer"},
	"shelter": {"adoptable pets", "how it works", "volunteer"}, "charity": {"our mission", "donate", "volunteer"},
	"nonprofit": {"our mission", "donate", "volunteer"}, "newsletter": {"what you get", "past issues", "subscribe"},
	"book": {"about the book", "excerpt", "reviews"}, "game": {"features", "screenshots", "platforms"},
}

// title builds the app title.
func (s *spec) title() string {
	if s.quotedTitle != "" {
		return s.quotedTitle
	}
	if len(s.explicitTitle) > 0 {
		return displayWords(s.explicitTitle, false)
	}
	typeWord := s.typeWord
	if appNoun[typeWord] || typeWord == "" {
		typeWord = kindNoun(s.kind)
		if s.kind == KindForm && s.survey {
			typeWord = "survey"
		}
	}
	headSubject, _ := splitHead(s.headWords)
	if s.kindChanged && s.kind != KindLanding {
		typeWord = kindNoun(s.kind)
		subject := headSubject
		if len(subject) == 0 {
			subject = s.subject
		}
		if len(subject) > 0 {
			return cleanText(displayWords(subject, false)+" "+titleWord(typeWord), maxTitleLen)
		}
	}
	switch {
	case len(headSubject) > 0 && s.kind != KindLanding:
		ws := s.headWords
		for len(ws) > 1 && appNoun[ws[len(ws)-1].w] && isKindWord(ws[len(ws)-2].w) {
			ws = ws[:len(ws)-1]
		}
		return displayWords(ws, false)
	case len(s.subject) > 0:
		t := displayWords(s.subject, s.kind == KindCRUD || s.kind == KindKanban)
		if s.kind == KindLanding {
			return t
		}
		typeTok := []token{{w: typeWord, raw: typeWord}}
		for _, h := range s.headWords {
			if h.w == typeWord {
				typeTok = []token{h}
			}
		}
		return cleanText(t+" "+displayWords(typeTok, false), maxTitleLen)
	case len(s.headWords) > 0:
		return displayWords(s.headWords, false)
	}
	return ""
}

// kindNoun is the word a title ends in for a kind ("Recipe Tracker").
func kindNoun(kind string) string {
	switch kind {
	case KindCRUD:
		return "tracker"
	case KindForm:
		return "form"
	case KindKanban:
		return "board"
	case KindLanding:
		return ""
	case KindTicTacToe:
		return "tic-tac-toe"
	case KindMemory:
		return "memory game"
	}
	return kind
}

// displayWords title-cases words as written; sing makes the last word
// singular ("books" -> "Book") when it is plain ASCII.
func displayWords(toks []token, sing bool) string {
	var out []string
	for i, t := range toks {
		if t.p == '&' && len(out) > 0 && i < len(toks)-1 {
			out = append(out, "&")
			continue
		}
		if !t.word() || len(out) == 6 {
			continue
		}
		raw := t.raw
		if sing && i == len(toks)-1 && t.w != "" && strings.ToLower(raw) == t.w {
			raw = singular(t.w)
		}
		if t.w != "" && strings.ToLower(raw) == t.w && len(t.w) <= 4 && (t.w == "crm" || t.w == "kpi" || t.w == "rsvp" || t.w == "faq" || t.w == "api" || t.w == "seo") {
			raw = strings.ToUpper(raw)
		}
		out = append(out, raw)
	}
	return cleanText(titleCase(out), maxTitleLen)
}

// genericTitle names an app from the first words of its prompt.
func genericTitle(prompt string) string {
	var out []token
	for _, t := range tokenize(prompt) {
		if t.word() && !filler[t.w] && !boundary[t.w] && len(out) < 4 {
			out = append(out, t)
		}
	}
	return displayWords(out, false)
}

func joinList(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// blueprint builds the blueprint (without its roadmap) from the spec.
func (s *spec) blueprint(prompt string) *stichv1.Blueprint {
	s.finishEntities()
	title := s.title()
	if title == "" {
		title = genericTitle(prompt)
	}
	if title == "" {
		title = "My App"
	}
	bp := &stichv1.Blueprint{
		Title:       title,
		ProjectName: slugify(title),
		AppKind:     s.kind,
		Frameworks: []string{
			"React " + npmDependencies["react"],
			"TypeScript " + npmDevDependencies["typescript"],
			"Vite " + npmDevDependencies["vite"],
		},
	}
	for _, e := range s.entities {
		pe := &stichv1.Entity{Name: pascalIdent(e.words)}
		if pe.Name == "" {
			pe.Name = "Item"
		}
		for _, f := range e.fields {
			name := camelIdent(f.words)
			if name == "" {
				continue
			}
			pe.Fields = append(pe.Fields, &stichv1.EntityField{Name: name, Type: f.typ})
		}
		bp.Entities = append(bp.Entities, pe)
	}
	if s.kind == KindKanban {
		bp.Views = append(bp.Views, &stichv1.View{Name: "Board", Description: "Columns of cards with buttons (and drag and drop) to move them."})
		for _, c := range s.columns {
			bp.Views = append(bp.Views, &stichv1.View{Name: c, Description: columnViewPrefix + ": cards in the " + strings.ToLower(c) + " stage."})
		}
	}
	// The model applies the same normalization Files will, so the prose
	// below names what is actually rendered.
	m, err := buildModel(bp)
	if err != nil {
		bp.AppKind = KindCRUD
		m, _ = buildModel(bp)
	}
	// Store the names exactly as rendered (deduplicated, reserved names
	// renamed), so that the blueprint describes the app it produces.
	bp.Entities = nil
	for _, e := range m.Entities {
		pe := &stichv1.Entity{Name: e.Type}
		for _, f := range e.Fields {
			pe.Fields = append(pe.Fields, &stichv1.EntityField{Name: f.Key, Type: f.Type})
		}
		bp.Entities = append(bp.Entities, pe)
	}
	bp.ColorPalette = s.colors(title)
	s.describe(bp, m)
	return bp
}

func (s *spec) colors(title string) []string {
	name := s.palette
	if name == "" {
		keys := append(append([]string{}, s.subjectWords()...), words(s.headWords)...)
		for _, e := range s.entities {
			keys = append(keys, e.words...)
		}
		if p, ok := lookup(topicPalette, keys...); ok {
			name = p
		}
	}
	if name == "" {
		name = lightPalettes[hashString(title)%uint32(len(lightPalettes))]
	}
	p := palettes[name]
	return p[:]
}

func lowerLabels(fs []field) []string {
	var out []string
	for _, f := range fs {
		out = append(out, strings.ToLower(f.Label))
	}
	return out
}

// describe writes the prose fields: description, views, flows, pitfalls.
func (s *spec) describe(bp *stichv1.Blueprint, m *model) {
	e := m.Entities[0]
	pl := strings.ToLower(e.Plural)
	view := func(name, desc string) { bp.Views = append(bp.Views, &stichv1.View{Name: name, Description: desc}) }
	storage := "Records are kept in React state and saved to localStorage after every change; on load, stored JSON is validated record by record and anything malformed is skipped. There is no server."
	bp.Pitfalls = []string{
		"localStorage is per browser and holds about 5 MB: data does not sync between devices and is lost if site data is cleared.",
	}
	switch m.Kind {
	case KindCRUD:
		var names []string
		for _, x := range m.Entities {
			names = append(names, strings.ToLower(x.Plural))
		}
		if len(m.Entities) == 1 {
			bp.Description = fmt.Sprintf("Keep track of your %s: add, edit, search and delete them, with %s for each.", pl, joinList(lowerLabels(e.Fields)))
		} else {
			bp.Description = fmt.Sprintf("Keep track of your %s: add, edit, search and delete them, each in its own tab.", joinList(names))
		}
		for _, x := range m.Entities {
			view(x.Plural, fmt.Sprintf("Searchable, sortable cards of %s with an add/edit form (%s) and delete.", strings.ToLower(x.Plural), joinList(lowerLabels(x.Fields))))
		}
		bp.UserFlow = fmt.Sprintf("Open the app%s. Press \"Add\" and fill in the form; the record appears as a card. Search or sort the cards, edit a card in place, or delete it after confirming. An empty list explains how to start.",
			map[bool]string{true: " and pick a tab (" + joinList(names) + ")", false: ""}[len(m.Entities) > 1])
		bp.DataFlow = storage + " Each record type has its own storage key."
	case KindKanban:
		var cols []string
		for _, c := range m.Columns {
			cols = append(cols, c.Label)
		}
		bp.Description = fmt.Sprintf("A board that moves %s through %s. Add, edit and delete cards and move them between columns.", pl, joinList(cols))
		view("Card editor", fmt.Sprintf("Form to add or edit a %s: %s.", strings.ToLower(e.Singular), joinList(lowerLabels(e.Fields))))
		bp.UserFlow = fmt.Sprintf("Add a %s; it starts in %q. Move it with the arrow buttons or by dragging it to another column; edit or delete it from its card.", strings.ToLower(e.Singular), cols[0])
		bp.DataFlow = storage + " A card's column is its status field."
		bp.Pitfalls = append(bp.Pitfalls, "Drag and drop does not work on most touch screens; the arrow buttons always do.")
	case KindForm:
		bp.Description = fmt.Sprintf("Fill in %s. Every answer is checked before it is saved, and submitted entries are listed next to the form.", joinList(lowerLabels(e.Fields)))
		view("Form", fmt.Sprintf("Validated form: %s.", joinList(lowerLabels(e.Fields))))
		view("Submitted entries", "List of saved submissions with delete and clear all.")
		bp.UserFlow = "Fill in the form; required fields are marked and errors appear next to the field. On submit a confirmation shows, the form resets and the entry appears in the list beside it."
		bp.DataFlow = storage
		bp.Pitfalls = append(bp.Pitfalls, "Submissions stay in the visitor's browser: to collect them for real, send them to a server or form service.")
	case KindDashboard:
		var labels []string
		for _, x := range m.Metrics {
			labels = append(labels, strings.ToLower(x.Label))
		}
		bp.Description = fmt.Sprintf("Follow %s month by month, with summary cards, a bar chart and a table.", joinList(labels))
		view("Summary cards", "Total or average of each metric for the chosen period, with the change from the previous month.")
		view("Chart", "SVG bar chart of the selected metric.")
		view("Details table", "The numbers behind the chart, newest month first.")
		bp.UserFlow = "Open the dashboard, choose a period (3, 6 or 12 months) and click a summary card to chart that metric; the table below lists every value."
		bp.DataFlow = "Sample data for twelve months lives in src/data.ts; components derive totals, averages and changes from it. Replace it with real data of the same shape."
		bp.Pitfalls = []string{"The numbers are generated sample data, not real measurements.", "Amounts are shown in US dollars; change the currency in src/format.ts."}
	case KindLanding:
		bp.Description = fmt.Sprintf("Discover %s: %s.", m.Title, joinList(lowerLabels(e.Fields)))
		if len(e.Fields) == 0 {
			bp.Description = fmt.Sprintf("Discover %s: simple, fast and made for you.", m.Title)
		}
		view("Hero", "Headline, tagline and the main call to action.")
		view("Features", "Grid of feature highlights.")
		view("Call to action", "Email sign-up with validation.")
		view("Footer", "Copyright and a link back to the top.")
		bp.UserFlow = "Visitors read the headline, scroll through the features and leave their email in the sign-up form; a thank-you message confirms it."
		bp.DataFlow = "Page copy lives in src/content.ts. Sign-ups are saved to localStorage in the visitor's browser."
		bp.Pitfalls = append(bp.Pitfalls, "Sign-ups stay in the visitor's browser: connect the form to a mailing list service to collect them.")
	default:
		for _, t := range catalog {
			if t.Kind == m.Kind {
				bp.Description = m.Title + ": " + strings.ToLower(t.Description[:1]) + t.Description[1:]
				view(t.Name, t.Description)
			}
		}
		bp.UserFlow = "Open the app and use it right away; it starts with sample content where it needs some."
		bp.DataFlow = "State lives in React; what should survive a reload (scores, history, your own items) is saved to localStorage under the app's fixed storage key."
		bp.Entities = nil
	}
	if len(s.unsupported) > 0 {
		bp.Pitfalls = append(bp.Pitfalls, fmt.Sprintf("The prompt mentions %s: a scaffold app runs entirely in the browser, so these are not part of the scaffold.", joinList(s.unsupported)))
	}
	bp.Description = cleanText(bp.Description, maxDescLen)
}
