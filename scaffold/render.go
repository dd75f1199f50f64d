package scaffold

import (
	"bytes"
	"html"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"text/template"
)

// Templates use <% %> delimiters because TSX is full of {{ }}.
//
// NB: user text reaches a template only through these functions: str (a
// JSON string literal with <, >, & escaped, used in TS and TSX), html (HTML
// text and attributes) and md (Markdown). Identifiers come from the model,
// which keeps them to ASCII letters and digits.
var templates = template.Must(template.New("").Delims("<%", "%>").Funcs(template.FuncMap{
	"str":    tsString,
	"html":   html.EscapeString,
	"md":     mdEscape,
	"tsType": tsType,
	"reader": readerFor,
	"display": func(f field) string {
		return displayFor(f)
	},
	"num": func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) },
}).ParseFS(mustSub(templateFS, "templates/gen"), "*.tmpl"))

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // NB: only reachable if the embedded directory is renamed.
	}
	return sub
}

func execTemplate(name string, data any) (string, error) {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

// mdEscape makes user text inert in Markdown: HTML is escaped and Markdown
// punctuation is backslash-escaped.
func mdEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		default:
			if strings.ContainsRune("\\`*_{}[]()#+-!|~", r) {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

func tsType(t string) string {
	switch t {
	case TypeNumber, TypeRating:
		return "number"
	case TypeBoolean:
		return "boolean"
	case TypeList:
		return "string[]"
	}
	return "string"
}

func readerFor(t string) string {
	switch t {
	case TypeNumber:
		return "asNumber"
	case TypeRating:
		return "asRating"
	case TypeBoolean:
		return "asBoolean"
	case TypeDate:
		return "asDate"
	case TypeList:
		return "asList"
	}
	return "asString"
}

func displayComponent(f field) string {
	switch f.Type {
	case TypeNumber:
		return "NumberText"
	case TypeRating:
		return "Stars"
	case TypeBoolean:
		return "YesNo"
	case TypeDate:
		return "DateText"
	case TypeList:
		return "TagList"
	}
	return "TextValue"
}

func displayFor(f field) string {
	v := "item." + f.Key
	switch c := displayComponent(f); c {
	case "TagList":
		return "<TagList items={" + v + "} />"
	case "TextValue":
		if f.Hint == "url" {
			return "<TextValue value={" + v + "} link />"
		}
		return "<TextValue value={" + v + "} />"
	default:
		return "<" + c + " value={" + v + "} />"
	}
}

type pageData struct {
	*model
	Label  string
	Phases []plannedPhase
}

func (m *model) pageData() pageData {
	return pageData{model: m, Label: Label, Phases: m.plan()}
}

type sortOption struct {
	ID, Label, Compare string
}

// entityView is what the per-entity templates see.
type entityView struct {
	entity
	Searchable []field
	Sorts      []sortOption
}

type recordData struct {
	*model
	Entities      []entityView
	IsKanban      bool
	SchemaImports string
	TypeImports   string
}

func viewOf(e entity) entityView {
	v := entityView{entity: e}
	v.Sorts = append(v.Sorts, sortOption{"newest", "Newest first", "(a, b) => b.createdAt.localeCompare(a.createdAt)"})
	var rating, date, number bool
	for _, f := range e.Fields {
		if f.Type == TypeString || f.Type == TypeList {
			v.Searchable = append(v.Searchable, f)
		}
		id := "by-" + f.Key
		switch {
		case e.Heading != nil && f.Key == e.Heading.Key:
			v.Sorts = append(v.Sorts, sortOption{id, f.Label + " (A–Z)", "(a, b) => a." + f.Key + ".localeCompare(b." + f.Key + ")"})
		case f.Type == TypeRating && !rating:
			rating = true
			v.Sorts = append(v.Sorts, sortOption{id, f.Label + " (highest first)", "(a, b) => b." + f.Key + " - a." + f.Key})
		case f.Type == TypeNumber && !number:
			number = true
			v.Sorts = append(v.Sorts, sortOption{id, f.Label + " (highest first)", "(a, b) => b." + f.Key + " - a." + f.Key})
		case f.Type == TypeDate && !date:
			date = true
			v.Sorts = append(v.Sorts, sortOption{id, f.Label + " (soonest first)",
				`(a, b) => (a.` + f.Key + ` || "9999-12-31").localeCompare(b.` + f.Key + ` || "9999-12-31")`})
		}
	}
	return v
}

func (m *model) recordData() recordData {
	d := recordData{model: m, IsKanban: m.Kind == KindKanban}
	readers := map[string]bool{}
	var types []string
	for _, e := range m.Entities {
		d.Entities = append(d.Entities, viewOf(e))
		types = append(types, e.Type)
		for _, f := range e.Fields {
			readers[readerFor(f.Type)] = true
		}
	}
	imports := []string{"isObject", "toDraft"}
	for r := range readers {
		imports = append(imports, r)
	}
	sort.Strings(imports)
	d.SchemaImports = strings.Join(append(imports, "type Draft", "type FieldDef"), ", ")
	if d.IsKanban {
		types = append(types, "ColumnDef", "ColumnId")
	}
	d.TypeImports = strings.Join(types, ", ")
	return d
}

// entityData is what crud pages, form entry lists and kanban cards see.
type entityData struct {
	Entity         entityView
	CardFields     []field
	DisplayImports string
}

func entityDataOf(e entity) entityData {
	d := entityData{Entity: viewOf(e)}
	used := map[string]bool{}
	for _, f := range e.Fields {
		if e.Heading != nil && f.Key == e.Heading.Key {
			continue
		}
		d.CardFields = append(d.CardFields, f)
		used[displayComponent(f)] = true
	}
	var names []string
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	d.DisplayImports = strings.Join(names, ", ")
	return d
}

type dashboardData struct {
	*model
	Entity entity
}

func (m *model) dashboardData() dashboardData {
	return dashboardData{model: m, Entity: m.Entities[0]}
}

type landingData struct {
	*model
	Eyebrow       string
	FeaturesTitle string
	CTAText       string
	SignupKey     string
}

func (m *model) landingData() landingData {
	e := m.Entities[0]
	eyebrow := "Welcome"
	if !strings.EqualFold(e.Singular, m.Title) && e.Type != "Item" && e.Type != "Product" {
		eyebrow = e.Singular
	}
	return landingData{
		model:         m,
		Eyebrow:       eyebrow,
		FeaturesTitle: "Why " + m.Title,
		CTAText:       "Leave your email and we will keep you posted about " + m.Title + ".",
		SignupKey:     m.StorageKey + ":signups",
	}
}
