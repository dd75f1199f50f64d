package scaffold

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// App kinds Files can render.
const (
	KindCRUD      = "crud"
	KindDashboard = "dashboard"
	KindLanding   = "landing"
	KindForm      = "form"
	KindKanban    = "kanban"
)

var kinds = []string{KindCRUD, KindDashboard, KindLanding, KindForm, KindKanban, KindCalendar, KindTimer,
	KindCalculator, KindConverter, KindQuiz, KindFlashcards, KindTicTacToe, KindMemory, KindGallery, KindNotes}

// Kinds returns every app kind Files renders, in a fixed order.
func Kinds() []string { return append([]string(nil), kinds...) }

// Field types a blueprint may use.
const (
	TypeString  = "string"
	TypeNumber  = "number"
	TypeBoolean = "boolean"
	TypeDate    = "date"
	TypeList    = "string[]"
	TypeRating  = "rating"
)

// columnViewPrefix marks the views of a kanban blueprint that are board
// columns; the view name is the column label.
const columnViewPrefix = "Board column"

// model is a blueprint made safe to render: identifiers are ASCII
// TypeScript identifiers, counts and lengths are clamped, colors are valid,
// and every default is filled in. Text fields still hold user text and are
// escaped by whatever writes them.
type model struct {
	Kind        string
	Title       string
	Description string
	Project     string // npm package name
	StorageKey  string // localStorage key prefix, fixed per app
	Widget      widget // single-purpose kinds: the generated src/config.ts
	Colors      colors
	Entities    []entity // crud: 1-4; form, kanban, dashboard, landing: 1
	Columns     []column // kanban
	Features    []feature
	Metrics     []metric
	Periods     []string
}

type entity struct {
	Type       string // PascalCase type name, e.g. "JobApplication"
	Var        string // camelCase prefix for exports, e.g. "jobApplication"
	Singular   string // "Job application"
	Plural     string // "Job applications"
	Component  string // page/card/entries component stem, e.g. "JobApplications"
	StorageKey string
	Fields     []field
	Heading    *field // first plain string field, shown as a card's title
}

type field struct {
	Key      string // camelCase
	Label    string
	Type     string
	Hint     string // for strings: text, textarea, email, tel, url
	Required bool
}

type column struct {
	ID    string
	Label string
}

type feature struct {
	Title string
	Text  string
}

type metric struct {
	Key    string
	Label  string
	Format string // currency, count, percent, rating, decimal
	Values []float64
}

// reservedTypes are names the generated code already uses.
var reservedTypes = set("App", "Draft", "DraftValue", "FieldDef", "FieldType", "TextHint", "Props",
	"React", "StrictMode", "Record", "Partial", "Omit", "Pick", "Array", "String", "Number",
	"Boolean", "Date", "Object", "Map", "Set", "Promise", "Error", "Event", "Element", "Node",
	"Document", "Window", "Symbol", "Function", "JSON", "Math", "Intl", "URL", "Column", "ColumnDef",
	"ColumnId", "MetricDef", "MetricKey", "MetricFormat", "Feature", "Signup", "Content", "Sort",
	"SortOption", "EntityForm", "FieldInput", "StarRating", "EmptyState", "Stars", "TagList", "YesNo",
	"DateText", "NumberText", "TextValue", "Board", "Hero", "Features", "CallToAction", "Footer",
	"SummaryCard", "BarChart", "DataTable", "TableColumn", "ReactNode", "FormEvent", "ChangeEvent",
	"DragEvent", "Tab", "Page", "Any", "Unknown", "Never", "Void", "Null", "Undefined", "Infinity", "NaN")

// Generated code names things after an entity plus one of these suffixes
// (RecipeSort, RecipesPage, RecipeCard); an entity whose own name ends in
// one gets "Item" appended so the names cannot collide.
var reservedSuffixes = []string{"Page", "Card", "Entries", "Labels", "Fields", "Sort", "Sorts",
	"Values", "Props", "Columns", "List", "Title", "Text", "Key", "Draft"}

func hasReservedSuffix(typ string) bool {
	for _, s := range reservedSuffixes {
		if strings.HasSuffix(typ, s) {
			return true
		}
	}
	return false
}

// reservedKeys are record keys the generated code owns.
var reservedKeys = set("id", "createdAt", "constructor", "prototype", "proto", "toString",
	"valueOf", "hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable", "toLocaleString", "period")

func normalizeType(t string) string {
	switch strings.ToLower(strings.TrimSpace(t)) {
	case "number", "int", "integer", "float", "decimal", "currency", "money":
		return TypeNumber
	case "boolean", "bool", "checkbox":
		return TypeBoolean
	case "date", "datetime", "date-time":
		return TypeDate
	case "string[]", "[]string", "array", "list", "tags", "array<string>":
		return TypeList
	case "rating", "stars":
		return TypeRating
	}
	return TypeString
}

// buildModel validates and normalizes a blueprint. It fails only for a kind
// it does not know.
func buildModel(bp *stichv1.Blueprint) (*model, error) {
	kind := strings.ToLower(strings.TrimSpace(bp.GetAppKind()))
	known := false
	for _, k := range kinds {
		known = known || k == kind
	}
	if !known {
		return nil, fmt.Errorf("%w %q (want one of %s)", ErrUnknownKind, clampRunes(bp.GetAppKind(), 40), strings.Join(kinds, ", "))
	}
	m := &model{Kind: kind}
	m.Title = cleanText(bp.GetTitle(), maxTitleLen)
	if m.Title == "" {
		m.Title = "My App"
	}
	m.Description = cleanText(bp.GetDescription(), maxDescLen)
	m.Project = slugify(bp.GetProjectName())
	if m.Project == "stich-app" {
		m.Project = slugify(m.Title)
	}
	m.Colors = resolveColors(bp.GetColorPalette())
	set := settings(bp.GetViews())
	m.StorageKey = storagePrefix(set, m.Project)

	limit := 1
	if kind == KindCRUD {
		limit = maxEntities
	}
	usedTypes := map[string]bool{}
	for _, e := range bp.GetEntities() {
		if len(m.Entities) == limit {
			break
		}
		m.Entities = append(m.Entities, buildEntity(kind, e, usedTypes, m.StorageKey))
	}
	if len(m.Entities) == 0 {
		m.Entities = append(m.Entities, buildEntity(kind, &stichv1.Entity{Name: "Item"}, usedTypes, m.StorageKey))
	}
	if isWidgetKind(kind) {
		m.Widget = buildWidget(m, set)
	}

	switch kind {
	case KindKanban:
		m.Columns = buildColumns(bp.GetViews())
	case KindDashboard:
		m.Metrics, m.Periods = buildMetrics(m.Project, m.Entities[0])
	case KindLanding:
		m.Features = buildFeatures(m.Entities[0])
	}
	return m, nil
}

func buildEntity(kind string, e *stichv1.Entity, used map[string]bool, storagePrefix string) entity {
	words := splitIdent(e.GetName())
	typ := pascalIdent(words)
	if typ == "" {
		typ = "Item"
	}
	if reservedTypes[typ] || hasReservedSuffix(typ) {
		typ += "Item"
	}
	for base, i := typ, 2; used[typ]; i++ {
		typ = base + strconv.Itoa(i)
	}
	used[typ] = true
	words = splitIdent(typ)
	pluralWords := append(append([]string{}, words[:len(words)-1]...), plural(words[len(words)-1]))
	ent := entity{
		Type:     typ,
		Var:      lowerFirst(typ),
		Singular: humanize(typ),
		Plural:   humanize(pascalIdent(pluralWords)),
	}
	ent.Component = pascalIdent(pluralWords)
	if ent.Component == ent.Type {
		ent.Component += "List"
	}
	ent.StorageKey = storagePrefix + ":" + strings.Join(splitIdent(ent.Component), "-")

	usedKeys := map[string]bool{}
	for _, f := range e.GetFields() {
		if len(ent.Fields) == maxFields {
			break
		}
		fw := splitIdent(f.GetName())
		key := camelIdent(fw)
		if key == "" {
			key = "field" + strconv.Itoa(len(ent.Fields)+1)
		}
		if reservedKeys[key] || (kind == KindKanban && key == "status") {
			key += "Value"
		}
		for base, i := key, 2; usedKeys[key]; i++ {
			key = base + strconv.Itoa(i)
		}
		usedKeys[key] = true
		typ := normalizeType(f.GetType())
		fd := field{Key: key, Label: clampRunes(humanize(key), maxLabelLen), Type: typ}
		if typ == TypeString {
			fd.Hint = textHint(splitIdent(key))
		} else {
			fd.Hint = "text"
		}
		ent.Fields = append(ent.Fields, fd)
	}
	if len(ent.Fields) == 0 && kind != KindLanding && kind != KindDashboard {
		ent.Fields = []field{{Key: "name", Label: "Name", Type: TypeString, Hint: "text"}}
	}
	for i := range ent.Fields {
		if ent.Fields[i].Type == TypeString && ent.Fields[i].Hint != "textarea" {
			ent.Heading = &ent.Fields[i]
			break
		}
	}
	// Forms require the first field and any name or email; other kinds
	// require only the heading, so that every card has a title.
	for i := range ent.Fields {
		f := &ent.Fields[i]
		switch kind {
		case KindForm:
			f.Required = i == 0 || f.Hint == "email" || f.Key == "name" || f.Key == "fullName"
		default:
			f.Required = f == ent.Heading
		}
	}
	return ent
}

// textHint picks the input for a string field from its name.
func textHint(words []string) string {
	if len(words) == 0 {
		return "text"
	}
	last := words[len(words)-1]
	for _, w := range words {
		switch {
		case emailWords[w]:
			return "email"
		case telWords[w]:
			return "tel"
		}
	}
	if urlWords[last] || (len(words) > 1 && urlWords[words[0]] && (last == "address" || last == "link")) {
		return "url"
	}
	if textareaWords[last] {
		return "textarea"
	}
	return "text"
}

func buildColumns(views []*stichv1.View) []column {
	var cols []column
	used := map[string]bool{}
	for _, v := range views {
		if !strings.HasPrefix(v.GetDescription(), columnViewPrefix) {
			continue
		}
		label := cleanText(v.GetName(), maxLabelLen)
		id := strings.Join(splitIdent(label), "-")
		if label == "" || id == "" {
			continue
		}
		for base, i := id, 2; used[id]; i++ {
			id = base + "-" + strconv.Itoa(i)
		}
		used[id] = true
		cols = append(cols, column{ID: id, Label: label})
		if len(cols) == maxColumns {
			break
		}
	}
	if len(cols) < 2 {
		cols = nil
		for _, label := range defaultColumns {
			cols = append(cols, column{ID: strings.Join(splitIdent(label), "-"), Label: label})
		}
	}
	return cols
}

// metricFormat picks how a metric is shown from its name.
func metricFormat(f field) string {
	if f.Type == TypeRating {
		return "rating"
	}
	words := splitIdent(f.Key)
	last := words[len(words)-1]
	for _, w := range words {
		switch w {
		case "revenue", "income", "profit", "price", "cost", "costs", "amount", "spend", "spent",
			"expenses", "savings", "sales", "budget", "value", "salary", "fee", "fees", "earnings", "mrr", "arr":
			if last != "rate" && last != "count" {
				return "currency"
			}
		}
	}
	switch last {
	case "rate", "percent", "percentage", "ratio", "share", "satisfaction", "churn", "retention":
		return "percent"
	case "hours", "hrs", "kwh", "km", "miles", "kg", "lbs", "weight", "temperature", "average", "avg", "score":
		return "decimal"
	}
	return "count"
}

var monthNames = []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// buildMetrics turns a dashboard entity's numeric fields into metrics with
// twelve months of deterministic sample data.
func buildMetrics(project string, e entity) ([]metric, []string) {
	var ms []metric
	for _, f := range e.Fields {
		if f.Type != TypeNumber && f.Type != TypeRating {
			continue
		}
		ms = append(ms, metric{Key: f.Key, Label: f.Label, Format: metricFormat(f)})
	}
	if len(ms) == 0 {
		ms = []metric{{Key: "total", Label: "Total", Format: "count"}}
	}
	for i := range ms {
		ms[i].Values = sampleSeries(project, ms[i].Key, ms[i].Format)
	}
	return ms, monthNames
}

// sampleSeries makes a plausible, gently rising monthly series from a hash.
func sampleSeries(project, key, format string) []float64 {
	h := hashString(project, key)
	next := func() float64 { // xorshift32 in [0, 1)
		h ^= h << 13
		h ^= h >> 17
		h ^= h << 5
		return float64(h%10000) / 10000
	}
	var base, step, noise, round float64
	switch format {
	case "currency":
		base, round = 4000+next()*20000, 10
	case "percent":
		base, round = 8+next()*40, 0.1
	case "rating":
		base, round = 3.2+next()*0.8, 0.1
	case "decimal":
		base, round = 5+next()*60, 0.1
	default:
		base, round = 80+next()*2000, 1
	}
	step, noise = base*0.03, base*0.12
	out := make([]float64, len(monthNames))
	for i := range out {
		v := base + step*float64(i) + (next()-0.5)*2*noise
		switch format {
		case "percent":
			v = math.Min(99, math.Max(0.5, v))
		case "rating":
			v = math.Min(5, math.Max(1, v))
		default:
			v = math.Max(0, v)
		}
		out[i] = math.Round(v/round) * round
		if round < 1 {
			out[i] = math.Round(out[i]*10) / 10
		}
	}
	return out
}

var featureTexts = []string{
	"Everything about %s in one place, clear and easy to find.",
	"%s at a glance, on your phone or your desktop.",
	"Always up to date: %s, exactly when you need it.",
	"Thoughtfully designed around %s, so you can focus on what matters.",
	"Simple, fast and friendly %s for everyone.",
	"%s without the hassle: no sign-in, no clutter.",
}

func buildFeatures(e entity) []feature {
	var fs []feature
	for i, f := range e.Fields {
		label := f.Label
		lower := strings.ToLower(label)
		tmpl := featureTexts[i%len(featureTexts)]
		text := fmt.Sprintf(tmpl, lower)
		if strings.HasPrefix(tmpl, "%s") {
			text = fmt.Sprintf(tmpl, label)
		}
		fs = append(fs, feature{Title: label, Text: text})
	}
	if len(fs) == 0 {
		fs = []feature{
			{"Easy to start", "Get going in minutes, with nothing to install and nothing to learn."},
			{"Works everywhere", "Looks great and stays fast on phones, tablets and desktops."},
			{"Made for you", "Every detail is designed around what you actually need."},
		}
	}
	return fs
}
