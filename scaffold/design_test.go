package scaffold

import (
	"strings"
	"testing"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"google.golang.org/protobuf/proto"
)

func fieldNames(bp *stichv1.Blueprint) []string {
	var out []string
	for _, e := range bp.Entities {
		for _, f := range e.Fields {
			out = append(out, e.Name+"."+f.Name+":"+f.Type)
		}
	}
	return out
}

// TestPromptFieldsNoFeaturesOrRanges: feature phrases and numeric ranges
// never become fields or parts of field names.
func TestPromptFieldsNoFeaturesOrRanges(t *testing.T) {
	for _, tt := range []struct {
		prompt string
		want   []string // fields that must be there
		banned []string // substrings no field name may contain
	}{
		{"a mood tracker with mood rating 1-10 and notes", []string{"moodRating:rating", "notes:string"}, []string{"110", "1", "10"}},
		{"workout log with sets, reps and weight from 5 to 100 kg", []string{"weight:number"}, []string{"5", "100", "Kg", "kg"}},
		{"plant tracker with watering every 3 days and sunlight", []string{"watering:", "sunlight:string"}, []string{"3", "Days", "Every"}},
		{"book collection with title, author and rating (1 to 5 stars)", []string{"title:string", "author:string", "rating:rating"}, []string{"n1", "Stars", "1"}},
		{"habit tracker with a timer for each habit", []string{"name:string"}, []string{"timer", "Timer"}},
		{"a reading log with a chart of pages per month", []string{"title:string"}, []string{"chart", "pagesPerMonth"}},
		{"plant tracker with sunlight and a reminder feature", []string{"sunlight:string"}, []string{"reminder", "Feature"}},
		{"contacts with name, email and a dark mode toggle", []string{"email:string"}, []string{"toggle", "Toggle", "mode", "Mode"}},
		{"habit tracker that tracks streak and number of reminders", []string{"reminders:number"}, nil},
	} {
		bp := Plan(tt.prompt, nil)
		got := fieldNames(bp)
		joined := strings.Join(got, " ")
		for _, w := range tt.want {
			if !strings.Contains(joined, "."+w) {
				t.Errorf("%q: no field %s in %v", tt.prompt, w, got)
			}
		}
		for _, b := range tt.banned {
			for _, f := range got {
				name, _, _ := strings.Cut(f, ":")
				if strings.Contains(name, b) {
					t.Errorf("%q: field %s contains %q", tt.prompt, f, b)
				}
			}
		}
	}
}

func TestPromptNotDone(t *testing.T) {
	for _, tt := range []struct{ prompt, want string }{
		{"expense tracker that shows charts", "a chart: needs a model"},
		{"habit tracker with a timer for each habit", "a timer inside this app: needs a model"},
		{"todo list with reminders", "reminders or notifications: need a model"},
		{"notes app with a theme switch", "a theme switch: needs a model"},
		{"make me a stopwatch thing for cooking", "a stopwatch that counts up: needs a model"},
		{"tabata interval trainer with 20s on 10s off", "repeating intervals or rounds: need a model"},
		{"scientific calculator with sin and cos", "scientific functions: need a model"},
		{"currency converter with live exchange rates", "live exchange rates: need a server"},
	} {
		res := Design("", tt.prompt, nil)
		if !strings.Contains(strings.Join(res.NotDone, "|"), tt.want) {
			t.Errorf("%q: not-done list %q lacks %q", tt.prompt, res.NotDone, tt.want)
		}
	}
	for _, p := range []string{"sales dashboard with charts", "a contact form with name, email and message", "habit tracker that tracks number of reminders"} {
		if nd := Design("", p, nil).NotDone; len(nd) != 0 {
			t.Errorf("%q: %v reported not done", p, nd)
		}
	}
}

func storageSetting(bp *stichv1.Blueprint) string {
	return firstSetting(settings(bp.Views), "storage")
}

// TestRefinementOutcomes: each refinement is applied, not done (never
// approximated) or reported as changing nothing.
func TestRefinementOutcomes(t *testing.T) {
	const base = "a plant tracker with name, species, snooze button label and last watered date"
	for _, tt := range []struct {
		name       string
		prompt     string
		refinement string
		status     string
		detail     string // substring of the outcome's detail
	}{
		{"chart", base, "add a chart of waterings per month", StatusNotDone, "chart"},
		{"chart graph", base, "show a graph of my plants", StatusNotDone, "needs a model"},
		{"theme switch", base, "add a theme switch that remembers my choice", StatusNotDone, "theme switch needs a model"},
		{"dark light toggle", base, "let me toggle dark mode", StatusNotDone, "theme switch"},
		{"light and dark", base, "support light and dark themes", StatusNotDone, "theme switch"},
		{"delete button already there", base, "add a delete button", StatusNoChange, "already has a Delete button"},
		{"remove button", base, "remove the delete button", StatusNoChange, "already"},
		{"export", base, "add export to csv", StatusNotDone, "needs a model"},
		{"login", base, "add a login page", StatusNotDone, "needs a model"},
		{"email field", base, "add an email field", StatusApplied, "added field Plant.email"},
		{"new button", base, "add a share button", StatusNotDone, "needs a model"},
		{"no-op field", base, "add a species field", StatusNoChange, "nothing"},
		{"thanks", base, "thanks, looks great!", StatusNoChange, "nothing"},
		{"add field", base, "also track pot size", StatusApplied, "added field Plant.potSize"},
		{"remove field", base, "remove the species field", StatusApplied, "removed field Plant.species"},
		{"dark palette", base, "make it dark", StatusApplied, "colors changed"},
		{"quoted rename", base, `rename it to "Leafy Friends" and make it green`, StatusApplied, `"Leafy Friends"`},
		{"kind change", base, "turn it into a kanban board", StatusApplied, "kind crud → kanban"},
		{"widget kind change", base, "actually make it a quiz", StatusApplied, "kind crud → quiz"},
		{"dashboard chart ok", "sales dashboard with revenue and orders", "add a chart of refunds", StatusApplied, "refunds"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := Design("app1", tt.prompt, []string{tt.refinement})
			if len(res.Refinements) != 1 {
				t.Fatalf("%d outcomes", len(res.Refinements))
			}
			o := res.Refinements[0]
			if o.Status != tt.status || !strings.Contains(o.Detail, tt.detail) {
				t.Fatalf("%q: %s (%s), want %s containing %q", tt.refinement, o.Status, o.Detail, tt.status, tt.detail)
			}
			before := Design("app1", tt.prompt, nil).Blueprint
			if tt.status != StatusApplied {
				if !protoEqual(before, res.Blueprint) {
					t.Errorf("%q was %s but the blueprint changed", tt.refinement, o.Status)
				}
				if res.Changed() {
					t.Errorf("Changed() is true for %s", o.Status)
				}
			} else if !res.Changed() {
				t.Errorf("Changed() is false for an applied refinement")
			}
		})
	}
}

// TestDeleteButtonKeepsFields: "delete button" never removes a field whose
// name holds "button".
func TestDeleteButtonKeepsFields(t *testing.T) {
	const p = "an alarm clock collection with name, brand and snooze button color"
	for _, r := range []string{"add a delete button", "remove the button", "delete button please", "get rid of the delete button"} {
		bp := Plan(p, []string{r})
		if !strings.Contains(strings.Join(fieldNames(bp), " "), "snoozeButtonColor") {
			t.Errorf("%q removed the snooze button color field: %v", r, fieldNames(bp))
		}
	}
}

// TestQuotedRename: the title is exactly the quoted text, what follows is
// applied separately, and the storage key never changes.
func TestQuotedRename(t *testing.T) {
	const p = "a recipe tracker with ingredients"
	before := Design("", p, nil).Blueprint
	for _, tt := range []struct{ refinement, title string }{
		{`rename it to "Grandma's Kitchen" and make it green`, "Grandma's Kitchen"},
		{`call it “Soup & Co” please`, "Soup & Co"},
		{`rename the app to 'cook book' with more words after`, "cook book"},
		{`name it "Ñam ñam 2000" then add a servings field`, "Ñam ñam 2000"},
	} {
		res := Design("", p, []string{tt.refinement})
		bp := res.Blueprint
		if bp.Title != tt.title {
			t.Errorf("%q: title %q, want %q", tt.refinement, bp.Title, tt.title)
		}
		if storageSetting(bp) != storageSetting(before) || storageSetting(bp) == "" {
			t.Errorf("%q: storage key %q, was %q", tt.refinement, storageSetting(bp), storageSetting(before))
		}
		files, err := Files(bp)
		if err != nil {
			t.Fatal(err)
		}
		old, _ := Files(before)
		if !strings.Contains(files["src/schema.ts"], storageSetting(before)+":recipes") || !strings.Contains(old["src/schema.ts"], storageSetting(before)+":recipes") {
			t.Errorf("%q: recipes are not stored under the fixed key %s:recipes", tt.refinement, storageSetting(before))
		}
	}
	if bp := Plan(p, []string{`name it "Ñam ñam 2000" then add a servings field`}); !strings.Contains(strings.Join(fieldNames(bp), " "), "servings") {
		t.Errorf("the request after the quoted name was not applied: %v", fieldNames(bp))
	}
	// Unquoted renames still work, and also keep the key.
	bp := Plan(p, []string{"call it Soup Book"})
	if bp.Title != "Soup Book" || storageSetting(bp) != storageSetting(before) {
		t.Errorf("unquoted rename: %q %q", bp.Title, storageSetting(bp))
	}
}

// TestStorageKeyPerApp: the key comes from the app id, is the same for
// every refinement and differs between apps.
func TestStorageKeyPerApp(t *testing.T) {
	a := Design("session-A", "a timer", nil).Blueprint
	b := Design("session-B", "a timer", nil).Blueprint
	if storageSetting(a) == storageSetting(b) {
		t.Errorf("two apps share the storage key %q", storageSetting(a))
	}
	c := Design("session-A", "a timer", []string{`call it "Focus"`, "make it dark"}).Blueprint
	if storageSetting(a) != storageSetting(c) {
		t.Errorf("refinements changed the key: %q -> %q", storageSetting(a), storageSetting(c))
	}
	files, err := Files(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(files["src/config.ts"], `"storageKey": "stich-session-a"`) {
		t.Errorf("config.ts does not use the app's key:\n%s", files["src/config.ts"])
	}
}

func protoEqual(a, b *stichv1.Blueprint) bool { return proto.Equal(a, b) }

// TestRedesignKeepsTheAppsStorageKey: a refinement planned from the app's
// current blueprint keeps its storage key, whatever it was made from (an
// app id, or the prompt's hash for apps planned without one), and a key
// that appStorageID could not have made is not carried into code.
func TestRedesignKeepsTheAppsStorageKey(t *testing.T) {
	const prompt = "a recipe tracker with ratings"
	for _, id := range []string{"s-5cr4esz2iohimzr7bexw.local", ""} {
		cur := Design(id, prompt, nil).Blueprint
		got := Redesign(cur, prompt, []string{`call it "Soup Book"`, "add a notes field"})
		if got.Blueprint.Title != "Soup Book" {
			t.Fatalf("app %q: the refinements were not applied: %q", id, got.Blueprint.Title)
		}
		if storageSetting(got.Blueprint) != storageSetting(cur) {
			t.Errorf("app %q: storage key %q, was %q", id, storageSetting(got.Blueprint), storageSetting(cur))
		}
	}
	tampered := Design("s-a.local", prompt, nil).Blueprint
	for _, v := range tampered.Views {
		if v.Name == "storage" {
			v.Description = settingViewPrefix + `storage: x"; alert(1); //`
		}
	}
	got := storageSetting(Redesign(tampered, prompt, nil).Blueprint)
	if got != appStorageID("", prompt) {
		t.Errorf("a tampered storage key gave %q, want the prompt's %q", got, appStorageID("", prompt))
	}
}
