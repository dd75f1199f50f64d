package scaffold

import (
	"strings"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// sampleApp is an app the Files tests render and the npmbuild test builds:
// one or more per kind, covering every field type and input hint, plus
// hostile and malformed blueprints.
type sampleApp struct {
	name        string
	prompt      string
	refinements []string
	blueprint   func() *stichv1.Blueprint // instead of the prompt, when set
}

func (a sampleApp) plan() *stichv1.Blueprint {
	if a.blueprint != nil {
		return a.blueprint()
	}
	return Plan(a.prompt, a.refinements)
}

// hostileText is user text that would break TS, TSX, JSON, HTML or
// Markdown if it were pasted in unescaped.
const hostileText = "</script><script>alert(1)</script> \"quoted\" 'single' `tick` ${inject} {brace} <b>&amp; \\ \u2028\u2029 \u202e # [link](javascript:alert(1)) */ //"

var sampleApps = []sampleApp{
	{name: "recipe_tracker", prompt: "a recipe tracker with ingredients and ratings"},
	{name: "crud_all_types", prompt: "a reading log with title, author email, website, phone, started date, pages, finished, genres, rating and review"},
	{name: "crud_tabs", prompt: "a library app with books (title, author, isbn, published date) and members (name, email, is active)",
		refinements: []string{"add a loans page"}},
	{name: "dashboard", prompt: "a sales dashboard showing revenue, orders, visitors, conversion rate and satisfaction rating"},
	{name: "landing", prompt: "landing page for my coffee shop with menu, opening hours and location"},
	{name: "form", prompt: "an event registration form with name, email, phone, website, birthday, number of guests, vegetarian, rating, allergies and comments"},
	{name: "kanban", prompt: "a kanban board for bugs with title, severity, due date, tags, estimate, resolved, rating and notes"},
	{name: "timer", prompt: "a pomodoro timer"},
	{name: "timer_minutes", prompt: "countdown timer for 3 minute planks and 90 second rests"},
	{name: "calculator", prompt: "a simple calculator"},
	{name: "calculator_tip", prompt: "tip calculator to split the bill between friends"},
	{name: "converter", prompt: "convert celsius to fahrenheit and km to miles"},
	{name: "quiz", prompt: "a capitals quiz for my class"},
	{name: "flashcards", prompt: "spanish vocabulary flashcards"},
	{name: "tictactoe", prompt: "tic-tac-toe against the computer"},
	{name: "memory", prompt: "a memory matching game with animals for kids"},
	{name: "gallery", prompt: "a photo gallery for my travel pictures"},
	{name: "notes", prompt: "a markdown notes app"},
	{name: "calendar", prompt: "booking calendar for my hair salon appointments"},
	{name: "hostile_prompt", prompt: "<script>alert('x')</script> tracker called \"Bob's </title><img src=x onerror=alert(1)>\" with {{braces}}, `backticks`, ${injection} and \"quotes\"",
		refinements: []string{"add a </script><script>evil()</script> field"}},
	{name: "hostile_crud", blueprint: func() *stichv1.Blueprint { return hostileBlueprint(KindCRUD) }},
	{name: "hostile_dashboard", blueprint: func() *stichv1.Blueprint { return hostileBlueprint(KindDashboard) }},
	{name: "hostile_landing", blueprint: func() *stichv1.Blueprint { return hostileBlueprint(KindLanding) }},
	{name: "hostile_form", blueprint: func() *stichv1.Blueprint { return hostileBlueprint(KindForm) }},
	{name: "hostile_kanban", blueprint: func() *stichv1.Blueprint { return hostileBlueprint(KindKanban) }},
	{name: "hostile_quiz", blueprint: func() *stichv1.Blueprint { return hostileBlueprint(KindQuiz) }},
	{name: "hostile_calendar", blueprint: func() *stichv1.Blueprint { return hostileBlueprint(KindCalendar) }},
}

// hostileBlueprint is a blueprint from somewhere other than Plan, with
// hostile text everywhere and names that collide with generated code,
// TypeScript keywords and each other. Its roadmap is what Files expects.
func hostileBlueprint(kind string) *stichv1.Blueprint {
	fields := []*stichv1.EntityField{
		{Name: "id", Type: "string"},
		{Name: "constructor", Type: "string"},
		{Name: "__proto__", Type: "number"},
		{Name: "", Type: "boolean"},
		{Name: "123 go", Type: "date"},
		{Name: "due-date", Type: "date"},
		{Name: "dueDate", Type: "DATE"},
		{Name: "class", Type: "string[]"},
		{Name: "status", Type: "rating"},
		{Name: "period", Type: "number"},
		{Name: hostileText, Type: hostileText},
		{Name: "default", Type: "number"},
		{Name: "email", Type: "string"},
		{Name: "homepage url", Type: "string"},
		{Name: "extra1", Type: "string"}, {Name: "extra2", Type: "string"},
	}
	var entities []*stichv1.Entity
	for _, name := range []string{"App", "class", "Recipe Card", "Draft", hostileText, "Recipes", "Recipe", "recipe", "FieldDef"} {
		entities = append(entities, &stichv1.Entity{Name: name, Fields: fields})
	}
	bp := &stichv1.Blueprint{
		Title:        hostileText,
		ProjectName:  "../../etc/" + hostileText,
		Description:  strings.Repeat(hostileText, 20),
		AppKind:      " " + strings.ToUpper(kind) + " ",
		ColorPalette: []string{"red; } body { display:none", "#12345", "#fff", "url(javascript:alert(1))", "#0f172a"},
		Entities:     entities,
		Views: []*stichv1.View{
			{Name: hostileText, Description: columnViewPrefix + " one"},
			{Name: hostileText, Description: columnViewPrefix + " duplicate"},
			{Name: "Done", Description: columnViewPrefix},
			{Name: "done", Description: columnViewPrefix},
			{Name: "🚀", Description: columnViewPrefix},
		},
	}
	// Settings with hostile values: each must be validated or dropped.
	for _, name := range []string{"storage", "topic", "preset", "variant", "category", "opponent", "noun", "slot", "kind"} {
		bp.Views = append(bp.Views, settingView(name, hostileText, hostileText), settingView(name, "9"+hostileText, ""))
	}
	m, err := buildModel(bp)
	if err != nil {
		panic(err)
	}
	bp.Roadmap = m.roadmap()
	return bp
}
