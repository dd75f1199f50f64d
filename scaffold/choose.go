package scaffold

import (
	"fmt"
	"sort"
	"strings"
)

// This file chooses the kind of app from the whole prompt. Every kind has
// phrases that point at it, each with a weight. A phrase in the prompt's
// main clause (before "with", "that", "including", ...) names the app and
// counts double; one after it names a feature and counts half; a negated
// one ("no timer", "not a game", "instead of a list") counts against its
// kind. The best total wins; ties go to the phrase seen first.

// Choice is the kind the scaffold chose for a prompt, why, and the kind
// that came closest.
type Choice struct {
	Kind     string
	Reason   string
	RunnerUp string // "" when no other kind scored
	// RunnerUpReason says why the runner-up scored and why it lost.
	RunnerUpReason string
}

type kindRule struct {
	kind   string
	phrase []string
	weight float64
}

func rules(kind string, weight float64, phrases ...string) []kindRule {
	out := make([]kindRule, 0, len(phrases))
	for _, p := range phrases {
		out = append(out, kindRule{kind, strings.Fields(p), weight})
	}
	return out
}

var kindRules = concatRules(
	rules(KindTimer, 3, "timer", "timers", "countdown", "count down", "counts down", "counting down", "pomodoro", "stopwatch", "egg timer", "tabata", "interval training timer"),
	rules(KindTimer, 2, "time my", "time our", "time the", "time each"),
	rules(KindTimer, 1, "hiit", "minutes left", "focus session", "focus sessions"),
	rules(KindCalculator, 3, "calculator", "calc", "calculators"),
	rules(KindCalculator, 2, "calculate", "calculates", "calculating", "bmi", "arithmetic", "mortgage payment", "loan payment", "split the bill", "tip calculator"),
	rules(KindCalculator, 1, "tip", "tips", "mortgage", "loan", "compute"),
	rules(KindConverter, 3, "converter", "convertor", "unit conversion", "conversions"),
	rules(KindConverter, 2, "convert", "converts", "converting", "conversion", "celsius", "fahrenheit", "exchange rate", "exchange rates"),
	rules(KindConverter, 1, "units", "unit", "metric", "imperial"),
	rules(KindQuiz, 3, "quiz", "quizzes", "trivia", "multiple choice", "pub quiz"),
	rules(KindQuiz, 2, "test yourself", "test my knowledge", "questions and answers", "question and answer"),
	rules(KindFlashcards, 3, "flashcard", "flashcards", "flash card", "flash cards", "study cards", "spaced repetition", "anki"),
	rules(KindFlashcards, 1.5, "cards", "learn", "revise", "revision"),
	rules(KindFlashcards, 2, "vocabulary", "vocab", "memorize", "memorise", "memorizing", "memorising", "learn words"),
	rules(KindTicTacToe, 4, "tic tac toe", "tictactoe", "noughts and crosses", "naughts and crosses", "x and o", "xs and os"),
	rules(KindMemory, 4, "memory game", "matching game", "match game", "pairs game", "concentration game", "memory card game", "card matching"),
	rules(KindMemory, 2, "find the pairs", "match the pairs", "matching pairs", "pairs", "flip cards"),
	rules(KindTicTacToe, 1.5, "game", "games", "board game", "two player", "2 player"),
	rules(KindMemory, 1, "game", "games", "puzzle"),
	rules(KindGallery, 3, "gallery", "galleries", "photo album", "album", "moodboard", "mood board", "lightbox", "image grid"),
	rules(KindGallery, 1.5, "photos", "photo", "pictures", "images", "photography", "artwork", "showcase"),
	rules(KindNotes, 3, "note taking", "notetaking", "markdown", "notepad", "scratchpad", "notes app", "note app", "jot down"),
	rules(KindNotes, 2, "notes", "note", "editor", "writing app", "jot"),
	rules(KindCalendar, 3, "calendar", "booking", "bookings", "scheduler", "appointment", "appointments", "reservation", "reservations", "book a slot", "time slots", "agenda"),
	rules(KindCalendar, 2, "book a", "book an", "reserve a", "reserve", "schedule", "schedules", "availability", "slots", "book appointments", "events calendar"),
	rules(KindCalendar, 1, "events", "meetings", "date"),
	rules(KindDashboard, 3, "dashboard", "dashboards", "analytics"),
	rules(KindDashboard, 2, "metrics", "kpi", "kpis", "visualize", "visualise", "charts", "chart", "graphs", "graph"),
	rules(KindDashboard, 1.5, "stats", "statistics", "reports", "report", "insights", "trends"),
	rules(KindKanban, 4, "kanban", "trello"),
	rules(KindKanban, 1.5, "board", "boards", "pipeline", "workflow", "sprint", "scrum", "swimlanes", "columns", "stages", "stage"),
	rules(KindForm, 3, "form", "forms", "survey", "surveys", "questionnaire", "poll", "feedback form", "sign up form", "signup form"),
	rules(KindForm, 2, "registration", "rsvp", "application form", "enquiry", "inquiry"),
	rules(KindForm, 1, "feedback", "signup", "sign up", "contact"),
	rules(KindLanding, 4, "landing page", "landing", "homepage", "home page", "coming soon page"),
	rules(KindLanding, 2, "website", "portfolio", "marketing", "waitlist", "promo", "brochure", "storefront"),
	rules(KindLanding, 1, "site", "launch"),
	rules(KindCRUD, 4, "crud", "keep track", "keeps track", "crm"),
	rules(KindCRUD, 3, "tracker", "trackers", "inventory", "catalog", "catalogue", "todo", "todos", "todo list", "to do list", "checklist", "database"),
	rules(KindCRUD, 2, "track", "tracks", "tracking", "manager", "manage", "manages", "managing", "log", "logs", "logger", "journal", "diary",
		"organizer", "organiser", "organize", "organise", "collection", "directory", "list", "lists", "register", "roster", "wishlist", "watchlist", "ledger"),
	rules(KindCRUD, 1, "planner", "library", "records"),
)

func concatRules(groups ...[]kindRule) []kindRule {
	var out []kindRule
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// featureMark starts the part of a prompt that lists features.
var featureMark = set("with", "that", "which", "including", "includes", "include", "showing", "shows",
	"featuring", "plus", "where", "having", "has", "also", "and")

// negation words turn the next few words against their kind.
var negation = set("no", "not", "without", "dont", "never", "instead", "rather", "isnt", "nor")

type kindHit struct {
	kind   string
	phrase string
	score  float64
	pos    int
	role   string // "names the app", "as a feature", "negated"
}

// chooseKind scores every kind over the whole prompt.
func chooseKind(prompt string) Choice {
	toks := tokenize(prompt)
	var ws []string
	var clauseStart []bool // a new clause starts at a sentence mark
	newClause := true
	for _, t := range toks {
		if !t.word() {
			if t.p == '.' || t.p == ';' || t.p == '!' || t.p == '?' {
				newClause = true
			}
			continue
		}
		if t.w == "" {
			continue
		}
		ws = append(ws, t.w)
		clauseStart = append(clauseStart, newClause)
		newClause = false
	}
	// The main clause is the first sentence up to its first feature mark
	// ("and" only counts once something has been named, so "notes and
	// tasks" stays whole).
	mainEnd := len(ws)
	for i, w := range ws {
		if i > 0 && clauseStart[i] {
			mainEnd = i
			break
		}
		if featureMark[w] && i > 0 && (w != "and" || i > 2) {
			mainEnd = i
			break
		}
	}
	var hits []kindHit
	for i := range ws {
		for _, r := range kindRules {
			if !matchAt(ws, i, r.phrase) {
				continue
			}
			h := kindHit{kind: r.kind, phrase: strings.Join(r.phrase, " "), pos: i}
			switch {
			case negatedAt(ws, i):
				h.score, h.role = -2*r.weight, "negated"
			case i < mainEnd:
				h.score, h.role = 2*r.weight, "names the app"
			default:
				h.score, h.role = r.weight/2, "as a feature"
			}
			hits = append(hits, h)
		}
	}
	// Words already inside a longer phrase do not count again.
	hits = dropInner(hits)

	scores := map[string]float64{}
	first := map[string]int{}
	for _, h := range hits {
		scores[h.kind] += h.score
		if _, ok := first[h.kind]; !ok {
			first[h.kind] = h.pos
		}
	}
	ranked := make([]string, 0, len(scores))
	for k, v := range scores {
		if v > 0 {
			ranked = append(ranked, k)
		}
	}
	sort.Slice(ranked, func(a, b int) bool {
		ka, kb := ranked[a], ranked[b]
		if scores[ka] != scores[kb] {
			return scores[ka] > scores[kb]
		}
		if first[ka] != first[kb] {
			return first[ka] < first[kb]
		}
		return ka < kb
	})
	c := Choice{Kind: KindCRUD}
	if len(ranked) == 0 {
		c.Reason = "no kind of app is named, so it keeps records of what the prompt is about (the default)"
		return c
	}
	c.Kind = ranked[0]
	c.Reason = explain(c.Kind, hits, scores[c.Kind])
	if len(ranked) > 1 {
		c.RunnerUp = ranked[1]
		c.RunnerUpReason = explain(c.RunnerUp, hits, scores[c.RunnerUp])
	}
	return c
}

func matchAt(ws []string, i int, phrase []string) bool {
	if i+len(phrase) > len(ws) {
		return false
	}
	for k, p := range phrase {
		if ws[i+k] != p {
			return false
		}
	}
	return true
}

// negatedAt reports whether one of the three words before i negates it
// ("no timer", "not a game", "instead of a list", "don't want a board").
func negatedAt(ws []string, i int) bool {
	for k := i - 1; k >= 0 && k >= i-3; k-- {
		if negation[ws[k]] {
			return true
		}
		if ws[k] == "but" || ws[k] == "and" || ws[k] == "with" {
			return false
		}
	}
	return false
}

// dropInner removes hits whose words lie inside a longer hit's phrase.
func dropInner(hits []kindHit) []kindHit {
	var out []kindHit
	for _, h := range hits {
		n := len(strings.Fields(h.phrase))
		inner := false
		for _, o := range hits {
			on := len(strings.Fields(o.phrase))
			if on > n && o.pos <= h.pos && h.pos+n <= o.pos+on {
				inner = true
				break
			}
		}
		if !inner {
			out = append(out, h)
		}
	}
	return out
}

// explain lists what counted for a kind, strongest first.
func explain(kind string, hits []kindHit, total float64) string {
	var parts []string
	var mine []kindHit
	for _, h := range hits {
		if h.kind == kind {
			mine = append(mine, h)
		}
	}
	sort.SliceStable(mine, func(a, b int) bool { return mine[a].score > mine[b].score })
	for i, h := range mine {
		if i == 3 {
			break
		}
		parts = append(parts, fmt.Sprintf("%q %s", h.phrase, h.role))
	}
	return fmt.Sprintf("%s (score %g)", strings.Join(parts, ", "), total)
}
