package scaffold

import (
	"strings"
	"testing"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// kindTable holds prompts written the way new users type them (not the
// catalog's own descriptions), with the kind each should get.
var kindTable = []struct {
	prompt string
	kind   string
}{
	// Timers
	{"pomodoro timer", KindTimer},
	{"I need something that counts down 25 minutes while I study", KindTimer},
	{"a countdown for my plank workout, 60 seconds", KindTimer},
	{"egg timer app", KindTimer},
	{"make me a stopwatch thing for cooking", KindTimer},
	{"tabata interval trainer with 20s on 10s off", KindTimer},
	{"a meditation timer with a 10 min preset", KindTimer},
	// Calculators
	{"calculator", KindCalculator},
	{"basic calculator that can do + - * /", KindCalculator},
	{"tip calculator for restaurants", KindCalculator},
	{"help me calculate my BMI", KindCalculator},
	{"mortgage payment calculator", KindCalculator},
	{"an app to split the bill with friends and work out the tip", KindCalculator},
	// Converters
	{"unit converter", KindConverter},
	{"convert celsius to fahrenheit", KindConverter},
	{"I keep forgetting how many cups in a litre, make a cooking conversion tool", KindConverter},
	{"currency converter with euros and dollars", KindConverter},
	{"km to miles converter for my runs", KindConverter},
	// Quizzes
	{"a quiz about world capitals", KindQuiz},
	{"trivia game for our pub night", KindQuiz},
	{"multiple choice test for my biology students", KindQuiz},
	{"a maths quiz for kids that shows their score at the end", KindQuiz},
	// Flashcards
	{"flashcards to learn spanish", KindFlashcards},
	{"help me memorize french vocabulary", KindFlashcards},
	{"study cards for my exam", KindFlashcards},
	{"flash cards app with a deck of times tables", KindFlashcards},
	// Games
	{"tic tac toe", KindTicTacToe},
	{"noughts and crosses for two players", KindTicTacToe},
	{"a simple game I can play against the computer", KindTicTacToe},
	{"memory game with cards you flip to find pairs", KindMemory},
	{"matching game for toddlers with animals", KindMemory},
	{"a card matching puzzle", KindMemory},
	// Galleries
	{"photo gallery", KindGallery},
	{"a place to show off my artwork, like a gallery", KindGallery},
	{"mood board for wedding ideas", KindGallery},
	{"an album of my travel photos", KindGallery},
	// Notes
	{"markdown editor", KindNotes},
	{"a simple notes app", KindNotes},
	{"somewhere to jot down ideas", KindNotes},
	{"note taking app with search", KindNotes},
	// Calendars and bookings
	{"booking page for my hair salon", KindCalendar},
	{"a calendar for family events", KindCalendar},
	{"let clients book appointments with me", KindCalendar},
	{"schedule for the tennis court reservations", KindCalendar},
	// Dashboards
	{"sales dashboard", KindDashboard},
	{"analytics for my website traffic", KindDashboard},
	{"show charts of my monthly spending", KindDashboard},
	{"KPI overview for the team", KindDashboard},
	// Kanban
	{"kanban board for my side projects", KindKanban},
	{"trello clone", KindKanban},
	{"a hiring pipeline with stages", KindKanban},
	// Forms and surveys
	{"customer feedback survey", KindForm},
	{"contact form", KindForm},
	{"RSVP form for my birthday party", KindForm},
	{"a poll asking which pizza to order", KindForm},
	// Landing pages
	{"landing page for my bakery", KindLanding},
	{"a portfolio website", KindLanding},
	{"coming soon page with a waitlist", KindLanding},
	// Records
	{"recipe tracker", KindCRUD},
	{"keep track of my plants and when I watered them", KindCRUD},
	{"book collection", KindCRUD},
	{"inventory for my shop", KindCRUD},
	{"todo list", KindCRUD},
	{"a reading log with a chart of pages per month", KindCRUD},
	{"habit tracker with a timer for each habit", KindCRUD},
	{"expense tracker that shows charts", KindCRUD},
	{"a workout log, not a timer", KindCRUD},
	{"customers and their orders", KindCRUD},
	{"movie watchlist with notes", KindCRUD},
	// Written after the rules, as a held-out check (16 of these 20 passed
	// before the rules were touched for them).
	{"something to time my presentations, like 5 minutes each", KindTimer},
	{"a 10 minute countdown with a big display", KindTimer},
	{"how much should I tip?", KindCalculator},
	{"loan repayment calculator for a car", KindCalculator},
	{"convert pounds to kilograms", KindConverter},
	{"a fun trivia app about movies", KindQuiz},
	{"quiz me on the periodic table", KindQuiz},
	{"learn german words with cards", KindFlashcards},
	{"xs and os game", KindTicTacToe},
	{"a game where you flip cards and match them", KindMemory},
	{"portfolio of my photography with a lightbox", KindGallery},
	{"my daily journal in markdown", KindNotes},
	{"book a table at my restaurant", KindCalendar},
	{"appointment scheduler for a dentist", KindCalendar},
	{"track my runs with distance and time", KindCRUD},
	{"board to organise my wedding tasks by stage", KindKanban},
	{"sign up sheet for volunteers", KindForm},
	{"homepage for my photography business", KindLanding},
	{"chart my weight over time", KindDashboard},
	{"a shopping list", KindCRUD},
	// Negations and features
	{"not a board game, I want a kanban board for chores", KindKanban},
	{"a recipe tracker with a unit converter for ingredients", KindCRUD},
	{"a quiz, not flashcards", KindQuiz},
}

func TestChooseKindTable(t *testing.T) {
	if len(kindTable) < 60 {
		t.Fatalf("the kind table has %d prompts, want at least 60", len(kindTable))
	}
	pass := 0
	for _, tt := range kindTable {
		c := chooseKind(tt.prompt)
		if c.Kind != tt.kind {
			t.Errorf("%q: kind %s (%s), want %s; runner-up %s (%s)", tt.prompt, c.Kind, c.Reason, tt.kind, c.RunnerUp, c.RunnerUpReason)
			continue
		}
		if c.Reason == "" {
			t.Errorf("%q: no reason given", tt.prompt)
			continue
		}
		// The plan must use the kind it chose.
		if bp := Plan(tt.prompt, nil); bp.AppKind != tt.kind {
			t.Errorf("%q: Plan chose %s, chooseKind %s", tt.prompt, bp.AppKind, tt.kind)
			continue
		}
		pass++
	}
	t.Logf("kind table: %d of %d prompts pass", pass, len(kindTable))
}

func TestChooseKindExplains(t *testing.T) {
	c := chooseKind("a recipe tracker with a timer")
	if c.Kind != KindCRUD || c.RunnerUp != KindTimer {
		t.Fatalf("got %+v, want crud with timer as runner-up", c)
	}
	if !strings.Contains(c.Reason, `"tracker" names the app`) || !strings.Contains(c.RunnerUpReason, `"timer" as a feature`) {
		t.Errorf("reasons do not say why: %+v", c)
	}
	res := Design("", "a recipe tracker with a timer", nil)
	if res.Choice != c {
		t.Errorf("Design's choice %+v differs from chooseKind's %+v", res.Choice, c)
	}
	found := false
	for _, v := range res.Blueprint.Views {
		found = found || (v.Name == "kind" && strings.Contains(v.Description, "runner-up timer"))
	}
	if !found {
		t.Errorf("the blueprint's views do not carry the kind choice: %v", res.Blueprint.Views)
	}
	if c := chooseKind("qwerty zxcv"); c.Kind != KindCRUD || !strings.Contains(c.Reason, "default") || c.RunnerUp != "" {
		t.Errorf("gibberish: %+v", c)
	}
}

// TestCatalog: one template per kind, and every protected file is one the
// kind renders.
func TestCatalog(t *testing.T) {
	cat := Catalog()
	if len(cat) != len(Kinds()) {
		t.Fatalf("%d templates for %d kinds", len(cat), len(Kinds()))
	}
	byKind := map[string]*stichv1.Blueprint{}
	for _, a := range sampleApps {
		if a.blueprint == nil {
			bp := a.plan()
			byKind[bp.AppKind] = bp
		}
	}
	kinds := map[string]bool{}
	for _, k := range Kinds() {
		kinds[k] = true
	}
	for _, tmpl := range cat {
		if !kinds[tmpl.Kind] {
			t.Errorf("template of unknown kind %s", tmpl.Kind)
		}
		delete(kinds, tmpl.Kind)
		bp := byKind[tmpl.Kind]
		if bp == nil {
			t.Errorf("no sample of %s", tmpl.Kind)
			continue
		}
		files, err := Files(bp)
		if err != nil {
			t.Fatal(err)
		}
		if len(tmpl.Protected) < len(foundationProtected) || len(ProtectedFiles(tmpl.Kind)) != len(tmpl.Protected) {
			t.Errorf("%s: protected %v", tmpl.Kind, tmpl.Protected)
		}
		for _, p := range tmpl.Protected {
			if _, ok := files[p]; !ok {
				t.Errorf("%s: protected file %s is not rendered", tmpl.Kind, p)
			}
		}
	}
	if len(kinds) != 0 {
		t.Errorf("kinds without a template: %v", kinds)
	}
	if ProtectedFiles("spreadsheet") != nil {
		t.Error("an unknown kind has protected files")
	}
}
