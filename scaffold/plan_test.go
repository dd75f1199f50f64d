package scaffold

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the golden files under testdata/")

// planCase is one prompt read by Plan; its golden file is
// testdata/plan/<name>.json.
type planCase struct {
	name        string
	prompt      string
	refinements []string
}

// longPrompt is a 1000-word prompt: a real request buried in rambling.
func longPrompt() string {
	var b strings.Builder
	b.WriteString("I need a plant care tracker with watering date, sunlight needs and a photos list. ")
	filler := strings.Fields("so basically my grandmother always said that plants are like people and they need love and water and light and patience because otherwise they wilt and nobody wants that")
	for i := 0; i < 1000-14; i++ {
		b.WriteString(filler[i%len(filler)])
		b.WriteByte(' ')
	}
	return b.String()
}

var planCases = []planCase{
	{name: "recipe_tracker", prompt: "a recipe tracker with ingredients and ratings"},
	{name: "todo_fields", prompt: "Build me a todo app with title, due date and priority"},
	{name: "tracks_phrase", prompt: "A habit tracker that tracks streak, completed today, number of reminders and notes"},
	{name: "kanban_bugs", prompt: "a kanban board for bugs with title, severity, estimate and assignee"},
	{name: "kanban_columns", prompt: "Trello-style board for my writing with columns: Ideas, Drafting, Editing, Published"},
	{name: "dashboard_sales", prompt: "a sales dashboard showing revenue, orders and visitors"},
	{name: "landing_coffee", prompt: "landing page for my coffee shop with menu, opening hours and location, in a green theme"},
	{name: "form_contact", prompt: "a contact form with name, email, phone number and message"},
	{name: "survey", prompt: "a survey about coffee habits"},
	{name: "multi_entity", prompt: "a library app with books (title, author, isbn, published date) and members (name, email, is active)"},
	{name: "crm_unsupported", prompt: "a CRM for contacts and deals with user login and a Postgres database"},
	{
		name:        "refine_fields",
		prompt:      "a recipe tracker",
		refinements: []string{"also track cooking time", "add a notes field", "remove steps", "rename rating to stars"},
	},
	{
		name:        "refine_kind",
		prompt:      "a todo list",
		refinements: []string{"make it a kanban board", "add a Blocked column", "make it purple", "call it Sprint & Stuff"},
	},
	{
		name:        "refine_entities",
		prompt:      "a book tracker",
		refinements: []string{"add an authors page", "add a bio field to authors", "turn it into a dashboard", "actually I want a list instead"},
	},
	{
		name:   "hostile_markup",
		prompt: "<script>alert('x')</script> tracker called \"Bob's </title><img src=x onerror=alert(1)>\" with {{braces}}, `backticks`, ${injection} and \"quotes\"\u2028\u202e",
		refinements: []string{
			"add a </script><script>evil()</script> field",
			"call it Bob & Alice's <b>Bistro</b> `${process.exit(1)}`",
		},
	},
	{name: "emoji_unicode", prompt: "🍕 pizza tracker with 🧀 toppings, größe, café rating and 日本語 notes"},
	{name: "long_prompt", prompt: longPrompt()},
	{name: "empty", prompt: "   \n\t "},
	{name: "gibberish", prompt: "asdf qwerty zxcv"},
	{name: "non_english", prompt: "レシピ管理アプリ"},
}

// goldenBlueprint mirrors a blueprint as stable, readable JSON (protojson
// output is deliberately unstable).
type goldenBlueprint struct {
	Prompt       string         `json:"prompt"`
	Refinements  []string       `json:"refinements,omitempty"`
	Title        string         `json:"title"`
	ProjectName  string         `json:"project_name"`
	AppKind      string         `json:"app_kind"`
	Description  string         `json:"description"`
	ColorPalette []string       `json:"color_palette"`
	Entities     []goldenEntity `json:"entities"`
	Views        []string       `json:"views"`
	UserFlow     string         `json:"user_flow"`
	DataFlow     string         `json:"data_flow"`
	Pitfalls     []string       `json:"pitfalls"`
	Frameworks   []string       `json:"frameworks"`
	Roadmap      []goldenPhase  `json:"roadmap"`
}

type goldenEntity struct {
	Name   string   `json:"name"`
	Fields []string `json:"fields"`
}

type goldenPhase struct {
	Name      string   `json:"name"`
	LastPhase bool     `json:"last_phase,omitempty"`
	Files     []string `json:"files"`
}

func toGolden(c planCase, bp *stichv1.Blueprint) goldenBlueprint {
	prompt := c.prompt
	if len(prompt) > 200 {
		prompt = fmt.Sprintf("%s... (%d bytes)", prompt[:120], len(prompt))
	}
	g := goldenBlueprint{
		Prompt: prompt, Refinements: c.refinements,
		Title: bp.Title, ProjectName: bp.ProjectName, AppKind: bp.AppKind, Description: bp.Description,
		ColorPalette: bp.ColorPalette, UserFlow: bp.UserFlow, DataFlow: bp.DataFlow,
		Pitfalls: bp.Pitfalls, Frameworks: bp.Frameworks,
	}
	for _, e := range bp.Entities {
		ge := goldenEntity{Name: e.Name}
		for _, f := range e.Fields {
			ge.Fields = append(ge.Fields, f.Name+": "+f.Type)
		}
		g.Entities = append(g.Entities, ge)
	}
	for _, v := range bp.Views {
		g.Views = append(g.Views, v.Name+": "+v.Description)
	}
	for _, p := range bp.Roadmap {
		gp := goldenPhase{Name: p.Name, LastPhase: p.LastPhase}
		for _, f := range p.Files {
			gp.Files = append(gp.Files, f.Path)
		}
		g.Roadmap = append(g.Roadmap, gp)
	}
	return g
}

// checkGolden compares got with testdata/<name>, or rewrites it with -rewrite.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *rewrite {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./scaffold -run %s -rewrite to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file; diff:\n%s\n(run with -rewrite after checking the change)", path, lineDiff(string(want), string(got)))
	}
}

// lineDiff lists the lines that differ, prefixed - (want) and + (got).
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	n := max(len(w), len(g))
	shown := 0
	for i := 0; i < n && shown < 40; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n- %s\n+ %s\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}

func TestPlanGolden(t *testing.T) {
	for _, c := range planCases {
		t.Run(c.name, func(t *testing.T) {
			bp := Plan(c.prompt, c.refinements)
			got, err := json.MarshalIndent(toGolden(c, bp), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.Join("plan", c.name+".json"), append(got, '\n'))
		})
	}
}

func TestPlanDeterministic(t *testing.T) {
	for _, c := range planCases {
		a, b := Plan(c.prompt, c.refinements), Plan(c.prompt, c.refinements)
		if !proto.Equal(a, b) {
			t.Errorf("%s: two Plan calls differ", c.name)
		}
	}
}

// TestPlanReading pins the prompt-reading behaviour the contract promises,
// independently of the golden files.
func TestPlanReading(t *testing.T) {
	fieldsOf := func(bp *stichv1.Blueprint, entity int) map[string]string {
		m := map[string]string{}
		if entity < len(bp.Entities) {
			for _, f := range bp.Entities[entity].Fields {
				m[f.Name] = f.Type
			}
		}
		return m
	}
	tests := []struct {
		prompt      string
		refinements []string
		kind        string
		title       string
		entity      string
		fields      map[string]string // subset that must be present
		absent      []string
	}{
		{prompt: "a recipe tracker with ingredients and ratings", kind: "crud", title: "Recipe Tracker", entity: "Recipe",
			fields: map[string]string{"ingredients": "string[]", "rating": "rating"}},
		{prompt: "a task list with title, due date and priority", kind: "crud", entity: "Task",
			fields: map[string]string{"title": "string", "dueDate": "date", "priority": "string"}},
		{prompt: "an inventory app that tracks price, quantity, number of shelves, is fragile and tags", kind: "crud",
			fields: map[string]string{"price": "number", "quantity": "number", "shelves": "number", "isFragile": "boolean", "tags": "string[]"}},
		{prompt: "a birthday list with name, birthday, deadline and done", kind: "crud",
			fields: map[string]string{"birthday": "date", "deadline": "date", "done": "boolean"}},
		{prompt: "a movie catalog with stars, cost and completed", kind: "crud", entity: "Movie",
			fields: map[string]string{"star": "rating", "cost": "number", "completed": "boolean"}},
		{prompt: "an analytics dashboard", kind: "dashboard"},
		{prompt: "a metrics page for my website", kind: "dashboard"},
		{prompt: "a homepage for my bakery", kind: "landing"},
		{prompt: "a marketing site for a yoga studio", kind: "landing"},
		{prompt: "a signup page for a newsletter", kind: "form"},
		{prompt: "a customer survey", kind: "form", entity: "Response"},
		{prompt: "a sales pipeline", kind: "kanban", entity: "Deal"},
		{prompt: "a kanban board", kind: "kanban", entity: "Task"},
		{prompt: "a contact manager", kind: "crud", entity: "Contact"},
		{prompt: "a recipe tracker", refinements: []string{"also track cooking time", "add a notes field"}, kind: "crud",
			fields: map[string]string{"cookingTime": "number", "notes": "string", "ingredients": "string[]"}},
		{prompt: "a recipe tracker", refinements: []string{"remove the steps field"}, absent: []string{"steps"}},
		{prompt: "a recipe tracker", refinements: []string{"make it a kanban board"}, kind: "kanban", entity: "Recipe"},
		{prompt: "a recipe tracker", refinements: []string{"call it Grandma's Kitchen"}, title: "Grandma's Kitchen"},
		{prompt: "asdf qwerty", kind: "crud", title: "Asdf Qwerty", entity: "Item"},
		{prompt: "Make a movie watchlist with title, year and whether I have watched it", entity: "Movie",
			fields: map[string]string{"title": "string", "year": "number", "watched": "boolean"}},
		{prompt: "A gym workout logger: exercise name, sets, reps, weight and date", kind: "crud",
			fields: map[string]string{"exerciseName": "string", "sets": "number", "reps": "number", "weight": "number", "date": "date"}},
		{prompt: "Track my reading: books with title, author, started on, finished on", entity: "Book",
			fields: map[string]string{"title": "string", "startedOn": "date", "finishedOn": "date"}},
		{prompt: "Plan my wedding: guest list with name, email, plus-one and meal choice", kind: "crud", title: "Guest List", entity: "Guest",
			fields: map[string]string{"plusOne": "string", "mealChoice": "string"}},
		{prompt: "A customer feedback survey with rating, would recommend and comments", kind: "form", entity: "Response",
			fields: map[string]string{"rating": "rating", "wouldRecommend": "boolean", "comments": "string"}},
		{prompt: "a plant dashboard", kind: "dashboard", entity: "PlantMetrics", fields: map[string]string{"newPlants": "number"}},
		{prompt: "a habit tracker", refinements: []string{"switch to a dashboard"}, kind: "dashboard", title: "Habit Dashboard"},
	}
	for _, tt := range tests {
		bp := Plan(tt.prompt, tt.refinements)
		name := tt.prompt + " + " + strings.Join(tt.refinements, " + ")
		if tt.kind != "" && bp.AppKind != tt.kind {
			t.Errorf("%s: kind %q, want %q", name, bp.AppKind, tt.kind)
		}
		if tt.title != "" && bp.Title != tt.title {
			t.Errorf("%s: title %q, want %q", name, bp.Title, tt.title)
		}
		if tt.entity != "" && (len(bp.Entities) == 0 || bp.Entities[0].Name != tt.entity) {
			t.Errorf("%s: entities %v, want first %q", name, bp.Entities, tt.entity)
		}
		got := fieldsOf(bp, 0)
		for f, typ := range tt.fields {
			if got[f] != typ {
				t.Errorf("%s: field %s is %q, want %q (fields %v)", name, f, got[f], typ, got)
			}
		}
		for _, f := range tt.absent {
			if _, ok := got[f]; ok {
				t.Errorf("%s: field %s should be gone (fields %v)", name, f, got)
			}
		}
	}
}

func TestInferType(t *testing.T) {
	for in, want := range map[string]string{
		"rating": "rating", "star rating": "rating", "stars": "rating",
		"due date": "date", "deadline": "date", "birthday": "date", "date of birth": "date", "last watered": "date",
		"price": "number", "amount": "number", "cost": "number", "count": "number", "quantity": "number",
		"cooking time": "number", "servings": "number", "number": "number",
		"phone number": "string", "start time": "string",
		"done": "boolean", "completed": "boolean", "is vegan": "boolean", "has photos": "boolean",
		"ingredients": "string[]", "tags": "string[]", "steps": "string[]", "attendees": "string[]",
		"notes": "string", "title": "string", "email": "string", "address": "string", "status": "string",
	} {
		if got := inferType(strings.Fields(in)); got != want {
			t.Errorf("inferType(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPlanStructure(t *testing.T) {
	names := func(bp *stichv1.Blueprint) (out []string) {
		for _, e := range bp.Entities {
			out = append(out, e.Name)
		}
		return out
	}
	columns := func(bp *stichv1.Blueprint) (out []string) {
		for _, v := range bp.Views {
			if strings.HasPrefix(v.Description, columnViewPrefix) {
				out = append(out, v.Name)
			}
		}
		return out
	}
	for _, tt := range []struct {
		prompt      string
		refinements []string
		entities    string
		columns     string
	}{
		{prompt: "a library with books and authors", entities: "Book Author"},
		{prompt: "a CRM for contacts and deals", entities: "Contact Deal"},
		{prompt: "an app to track books and movies", entities: "Book Movie"},
		{prompt: "a book tracker", refinements: []string{"add an authors page"}, entities: "Book Author"},
		{prompt: "a library with books and authors", refinements: []string{"remove authors"}, entities: "Book"},
		{prompt: "a kanban board", columns: "To do|In progress|Done"},
		{prompt: "Build a team task board with columns Backlog, In Progress, Review and Done", columns: "Backlog|In Progress|Review|Done"},
		{prompt: "a kanban board", refinements: []string{"add columns Blocked and QA", "remove the in progress column"}, columns: "To do|Done|Blocked|QA"},
		{prompt: "a hiring pipeline", columns: "Applied|Interview|Offer|Hired"},
	} {
		bp := Plan(tt.prompt, tt.refinements)
		if tt.entities != "" {
			if got := strings.Join(names(bp), " "); got != tt.entities {
				t.Errorf("%q %q: entities %q, want %q", tt.prompt, tt.refinements, got, tt.entities)
			}
		}
		if tt.columns != "" {
			if got := strings.Join(columns(bp), "|"); got != tt.columns {
				t.Errorf("%q %q: columns %q, want %q", tt.prompt, tt.refinements, got, tt.columns)
			}
		}
	}
}
