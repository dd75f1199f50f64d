package scaffold

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// This file is the template catalog: the single-purpose kinds (timer,
// calculator, games, ...) next to the record kinds of model.go, what each
// starts from, and the files a refinement must leave alone.

// Single-purpose app kinds. Each renders a fixed, hand-written app
// configured by a generated src/config.ts.
const (
	KindTimer      = "timer"
	KindCalculator = "calculator"
	KindConverter  = "converter"
	KindQuiz       = "quiz"
	KindFlashcards = "flashcards"
	KindTicTacToe  = "tictactoe"
	KindMemory     = "memory"
	KindGallery    = "gallery"
	KindNotes      = "notes"
	KindCalendar   = "calendar"
)

// Template describes one entry of the catalog.
type Template struct {
	Kind        string
	Name        string
	Description string
	// Protected lists the files a refinement must not rewrite: the pinned
	// build setup and the hand-written logic of the kind. Edits go to the
	// other files (or are reported as not done).
	Protected []string
}

var foundationProtected = []string{"package.json", "package-lock.json", "tsconfig.json", "vite.config.ts", "src/main.tsx", "src/vite-env.d.ts"}

var catalog = []Template{
	{KindCRUD, "Records with relations", "Lists of records with add, edit, search, sort and delete, one tab per record type.", []string{"src/fields.ts", "src/storage.ts"}},
	{KindKanban, "Kanban board", "Cards moved through columns with buttons or drag and drop.", []string{"src/fields.ts", "src/storage.ts", "src/components/Board.tsx"}},
	{KindDashboard, "Dashboard with charts", "Summary cards, an inline-SVG bar chart and a table over twelve months of data.", []string{"src/format.ts", "src/components/BarChart.tsx"}},
	{KindForm, "Form or survey", "A validated form whose submissions are listed next to it.", []string{"src/fields.ts", "src/storage.ts"}},
	{KindLanding, "Landing page", "Hero, features, call to action with an email sign-up, and footer.", nil},
	{KindCalendar, "Calendar or booking", "A month grid with entries per day; with time slots it takes bookings without double-booking.", []string{"src/logic.ts", "src/persist.ts"}},
	{KindTimer, "Timer", "A countdown with presets, pause, reset and a log of finished countdowns.", []string{"src/logic.ts", "src/persist.ts"}},
	{KindCalculator, "Calculator", "A keypad calculator with history, or a tip, BMI or loan calculator.", []string{"src/logic.ts", "src/persist.ts"}},
	{KindConverter, "Unit converter", "Converts length, weight, temperature, volume, speed, time, data and currency.", []string{"src/logic.ts", "src/persist.ts"}},
	{KindQuiz, "Quiz", "Multiple-choice questions, feedback on each answer, a final score and a best score.", []string{"src/logic.ts", "src/persist.ts"}},
	{KindFlashcards, "Flashcards", "A deck to flip through; missed cards come back until every card is known.", []string{"src/logic.ts", "src/persist.ts"}},
	{KindTicTacToe, "Tic-tac-toe", "Two players or against the computer, with a running score.", []string{"src/logic.ts", "src/persist.ts"}},
	{KindMemory, "Memory game", "Find the pairs among face-down tiles in as few moves as possible.", []string{"src/logic.ts", "src/persist.ts"}},
	{KindGallery, "Gallery", "A grid of pictures with tags, a filter and a lightbox.", []string{"src/logic.ts", "src/persist.ts"}},
	{KindNotes, "Notes", "Markdown notes with search, an editor and a safe preview.", []string{"src/logic.ts", "src/persist.ts"}},
}

// Catalog returns every template, in a fixed order: one for each of [Kinds].
func Catalog() []Template {
	out := make([]Template, len(catalog))
	for i, t := range catalog {
		t.Protected = append(append([]string{}, foundationProtected...), t.Protected...)
		out[i] = t
	}
	return out
}

// ProtectedFiles returns the protected files of kind (nil for an unknown kind).
func ProtectedFiles(kind string) []string {
	for _, t := range Catalog() {
		if t.Kind == kind {
			return t.Protected
		}
	}
	return nil
}

func isWidgetKind(kind string) bool {
	switch kind {
	case KindTimer, KindCalculator, KindConverter, KindQuiz, KindFlashcards, KindTicTacToe,
		KindMemory, KindGallery, KindNotes, KindCalendar:
		return true
	}
	return false
}

// settingViewPrefix marks the views that carry settings: the view's name is
// the setting, its description "Setting <name>: <value>". The app id and
// per-kind options travel this way, so [Files] stays a function of the
// blueprint alone.
const settingViewPrefix = "Setting "

func settingView(name, value, why string) *stichv1.View {
	d := settingViewPrefix + name + ": " + value
	if why != "" {
		d += " — " + why
	}
	return &stichv1.View{Name: name, Description: d}
}

// settings reads the setting views of a blueprint: name -> values in order.
func settings(views []*stichv1.View) map[string][]string {
	out := map[string][]string{}
	for _, v := range views {
		d := v.GetDescription()
		if !strings.HasPrefix(d, settingViewPrefix) {
			continue
		}
		name, value, ok := strings.Cut(strings.TrimPrefix(d, settingViewPrefix), ": ")
		if !ok {
			continue
		}
		value, _, _ = strings.Cut(value, " — ")
		out[strings.ToLower(strings.TrimSpace(name))] = append(out[strings.ToLower(strings.TrimSpace(name))], strings.TrimSpace(value))
	}
	return out
}

func firstSetting(s map[string][]string, name string) string {
	if v := s[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// storagePrefix is the app's localStorage key prefix: from the blueprint's
// storage setting when it has one (every planned blueprint does), else from
// the npm name as before the setting existed.
func storagePrefix(s map[string][]string, project string) string {
	id := identChars(firstSetting(s, "storage"), 40)
	if id == "" {
		return project
	}
	return id
}

// identChars keeps ASCII letters, digits and '-' (at most n bytes).
func identChars(v string, n int) string {
	var b strings.Builder
	for _, r := range v {
		if b.Len() == n {
			break
		}
		if r < 128 && (r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// appStorageID is the storage prefix of a planned app: from the caller's
// app id, or, when there is none, a hash of the first prompt (which no
// refinement changes).
func appStorageID(appID, prompt string) string {
	if id := identChars(appID, 32); id != "" {
		return "stich-" + strings.ToLower(id)
	}
	return fmt.Sprintf("stich-%08x", hashString("app", prompt))
}

// validStorageID reports whether a storage key read back from a blueprint
// is one appStorageID could have made (a blueprint is stored session data,
// but a key lands verbatim in generated code, so it is checked).
func validStorageID(v string) bool {
	rest, ok := strings.CutPrefix(v, "stich-")
	return ok && rest != "" && len(rest) <= 32 && identChars(rest, 32) == rest
}

// widget is the generated src/config.ts of a single-purpose kind.
type widget map[string]any

// buildWidget makes the config of a single-purpose kind from the
// blueprint's settings, clamping and validating every value.
func buildWidget(m *model, s map[string][]string) widget {
	w := widget{"title": m.Title, "subtitle": m.Description, "storageKey": m.StorageKey}
	topic := strings.ToLower(identChars(firstSetting(s, "topic"), 20))
	switch m.Kind {
	case KindTimer:
		type preset struct {
			Label   string `json:"label"`
			Seconds int    `json:"seconds"`
		}
		var ps []preset
		for _, v := range s["preset"] {
			secs, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || secs <= 0 || secs > 24*3600 || len(ps) == 6 {
				continue
			}
			ps = append(ps, preset{durationLabel(secs), secs})
		}
		if len(ps) == 0 {
			ps = []preset{{"5 minutes", 300}, {"10 minutes", 600}, {"1 minute", 60}}
		}
		w["presets"] = ps
	case KindCalculator:
		v := firstSetting(s, "variant")
		switch v {
		case "tip", "bmi", "loan":
		default:
			v = "arithmetic"
		}
		w["variant"] = v
	case KindConverter:
		cats := []string{}
		for _, c := range s["category"] {
			if converterCategories[c] && !containsString(cats, c) {
				cats = append(cats, c)
			}
		}
		if len(cats) == 0 {
			cats = []string{"length", "weight", "temperature", "volume", "speed", "time", "data", "currency"}
		}
		w["categories"] = cats
	case KindQuiz:
		qs, ok := quizBanks[topic]
		if !ok {
			qs = quizBanks["general"]
		}
		w["questions"] = qs
	case KindFlashcards:
		cs, ok := flashcardDecks[topic]
		if !ok {
			cs = flashcardDecks["general"]
		}
		w["cards"] = cs
	case KindTicTacToe:
		w["opponent"] = "computer"
		if firstSetting(s, "opponent") == "friend" {
			w["opponent"] = "friend"
		}
	case KindMemory:
		sym, ok := memorySymbols[topic]
		if !ok {
			sym = memorySymbols["animals"]
		}
		w["symbols"] = sym
	case KindGallery:
		w["samples"] = gallerySamples
	case KindNotes:
		w["welcome"] = "# Welcome\n\nWrite in **Markdown**: headings, *emphasis*, `code`, lists and [links](https://example.com).\n\n- Notes save as you type\n- Search finds any word\n"
	case KindCalendar:
		noun := strings.ToLower(identChars(firstSetting(s, "noun"), 20))
		if noun == "" {
			noun = "event"
		}
		w["noun"] = noun
		slots := []string{}
		for _, v := range s["slot"] {
			if len(v) == 5 && v[2] == ':' && v[0] >= '0' && v[0] <= '2' && len(slots) < 16 && !containsString(slots, v) {
				slots = append(slots, v)
			}
		}
		w["slots"] = slots
	}
	return w
}

var converterCategories = set("length", "weight", "temperature", "volume", "speed", "time", "data", "currency")

func durationLabel(secs int) string {
	switch {
	case secs%3600 == 0:
		return plural2(secs/3600, "hour")
	case secs%60 == 0:
		return plural2(secs/60, "minute")
	case secs > 60:
		return fmt.Sprintf("%d:%02d", secs/60, secs%60)
	}
	return plural2(secs, "second")
}

func plural2(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// configTS renders src/config.ts. json.Marshal escapes <, >, & and the
// line separators, so user text cannot end the literal or the script.
func (w widget) configTS() (string, error) {
	b, err := json.MarshalIndent(map[string]any(w), "", "  ")
	if err != nil {
		return "", err
	}
	return "// Settings of this app, generated from its blueprint. Edit freely.\nimport type { Config } from \"./logic\";\n\nexport const config: Config = " + string(b) + ";\n", nil
}

type quizQuestion struct {
	Question string   `json:"question"`
	Choices  []string `json:"choices"`
	Answer   int      `json:"answer"`
}

var quizBanks = map[string][]quizQuestion{
	"general": {
		{"How many continents are there?", []string{"5", "6", "7"}, 2},
		{"Which planet is known as the Red Planet?", []string{"Mars", "Venus", "Jupiter"}, 0},
		{"How many minutes are in two hours?", []string{"100", "120", "140"}, 1},
		{"What do bees make?", []string{"Milk", "Silk", "Honey"}, 2},
		{"Which ocean is the largest?", []string{"Pacific", "Atlantic", "Indian"}, 0},
	},
	"capitals": {
		{"What is the capital of France?", []string{"Lyon", "Paris", "Nice"}, 1},
		{"What is the capital of Japan?", []string{"Tokyo", "Osaka", "Kyoto"}, 0},
		{"What is the capital of Canada?", []string{"Toronto", "Vancouver", "Ottawa"}, 2},
		{"What is the capital of Australia?", []string{"Sydney", "Canberra", "Melbourne"}, 1},
		{"What is the capital of Kenya?", []string{"Nairobi", "Mombasa", "Kisumu"}, 0},
	},
	"math": {
		{"What is 7 × 8?", []string{"54", "56", "64"}, 1},
		{"What is 144 ÷ 12?", []string{"12", "14", "11"}, 0},
		{"What is 15% of 200?", []string{"15", "20", "30"}, 2},
		{"What is the square root of 81?", []string{"9", "8", "7"}, 0},
		{"What is 3³?", []string{"9", "27", "81"}, 1},
	},
	"science": {
		{"What is H₂O?", []string{"Salt", "Water", "Oxygen"}, 1},
		{"What gas do plants take in?", []string{"Carbon dioxide", "Nitrogen", "Helium"}, 0},
		{"What is the closest star to Earth?", []string{"Sirius", "Polaris", "The Sun"}, 2},
		{"How many legs does an insect have?", []string{"6", "8", "4"}, 0},
		{"What force keeps us on the ground?", []string{"Magnetism", "Gravity", "Friction"}, 1},
	},
	"history": {
		{"In which year did the first person walk on the Moon?", []string{"1969", "1959", "1979"}, 0},
		{"Who painted the Mona Lisa?", []string{"Michelangelo", "Leonardo da Vinci", "Raphael"}, 1},
		{"Which wall fell in 1989?", []string{"Hadrian's Wall", "The Great Wall", "The Berlin Wall"}, 2},
		{"Which civilisation built the pyramids of Giza?", []string{"Ancient Egyptians", "Romans", "Aztecs"}, 0},
		{"Where were the first modern Olympic Games held, in 1896?", []string{"Paris", "Athens", "London"}, 1},
	},
}

type flashcard struct {
	Front string `json:"front"`
	Back  string `json:"back"`
}

var flashcardDecks = map[string][]flashcard{
	"general":  {{"Largest planet", "Jupiter"}, {"Boiling point of water at sea level", "100 °C"}, {"Speed of light", "≈ 300,000 km/s"}, {"Author of Hamlet", "William Shakespeare"}, {"Chemical symbol for gold", "Au"}},
	"spanish":  {{"hola", "hello"}, {"gracias", "thank you"}, {"perro", "dog"}, {"casa", "house"}, {"agua", "water"}, {"libro", "book"}},
	"french":   {{"bonjour", "hello"}, {"merci", "thank you"}, {"chat", "cat"}, {"maison", "house"}, {"eau", "water"}, {"livre", "book"}},
	"german":   {{"hallo", "hello"}, {"danke", "thank you"}, {"Hund", "dog"}, {"Haus", "house"}, {"Wasser", "water"}, {"Buch", "book"}},
	"capitals": {{"France", "Paris"}, {"Japan", "Tokyo"}, {"Canada", "Ottawa"}, {"Australia", "Canberra"}, {"Kenya", "Nairobi"}, {"Brazil", "Brasília"}},
	"math":     {{"7 × 8", "56"}, {"9 × 6", "54"}, {"12 × 12", "144"}, {"√81", "9"}, {"2¹⁰", "1024"}},
}

var memorySymbols = map[string][]string{
	"animals": {"🐶", "🐱", "🦊", "🐼", "🐸", "🦁", "🐵", "🐧"},
	"fruit":   {"🍎", "🍌", "🍇", "🍓", "🍒", "🍍", "🥝", "🍑"},
	"space":   {"🚀", "🌙", "⭐", "🪐", "☄️", "🛰️", "🌍", "👽"},
	"sports":  {"⚽", "🏀", "🏈", "⚾", "🎾", "🏐", "🏓", "🎱"},
}

type gallerySample struct {
	Title string   `json:"title"`
	Tags  []string `json:"tags"`
}

var gallerySamples = []gallerySample{
	{"Morning light", []string{"nature"}}, {"City at dusk", []string{"city"}}, {"Quiet lake", []string{"nature"}},
	{"Market day", []string{"city", "people"}}, {"Mountain trail", []string{"nature", "travel"}}, {"Old harbour", []string{"travel"}},
}
