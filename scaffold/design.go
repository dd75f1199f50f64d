package scaffold

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"google.golang.org/protobuf/proto"
)

// Outcome statuses of one refinement.
const (
	// StatusApplied: the blueprint changed as asked; Detail says how.
	StatusApplied = "applied"
	// StatusNotDone: the scaffold cannot do this faithfully; nothing
	// changed. Detail says why (usually "needs a model").
	StatusNotDone = "not done"
	// StatusNoChange: the request changed nothing (already so, or nothing
	// the scaffold recognised); no new version is needed.
	StatusNoChange = "no change"
)

// Outcome is what became of one refinement.
type Outcome struct {
	Request string
	Status  string
	Detail  string
}

// Result is a planned blueprint with the account of how it was made.
type Result struct {
	Blueprint *stichv1.Blueprint
	Choice    Choice
	// NotDone lists what the first prompt asked for that the chosen
	// template does not do (each "X: needs a model" or similar).
	NotDone     []string
	Refinements []Outcome
}

// Changed reports whether the last refinement changed the blueprint, so a
// session can skip making a version when it did not.
func (r Result) Changed() bool {
	return len(r.Refinements) > 0 && r.Refinements[len(r.Refinements)-1].Status == StatusApplied
}

// Design plans an app like [Plan] and says what it did: the kind it chose
// and why (with the runner-up), prompt features it could not honour, and
// for each refinement whether it was applied, not done, or changed nothing.
// Refinements it cannot do faithfully are not approximated: they leave the
// blueprint as it was. appID keys the app's saved data; it should be the
// session's id (empty: a hash of the prompt). Like Plan it never fails.
func Design(appID, prompt string, refinements []string) Result {
	return design(appStorageID(appID, prompt), prompt, refinements)
}

// Redesign is [Design] for an app planned before: the app keeps the
// storage key of its current blueprint (so its saved data keeps loading
// whatever the refinements change), or, when cur has none, the key of the
// prompt's hash that a scaffold without an app id gave it.
func Redesign(cur *stichv1.Blueprint, prompt string, refinements []string) Result {
	storage := firstSetting(settings(cur.GetViews()), "storage")
	if !validStorageID(storage) {
		storage = appStorageID("", prompt)
	}
	return design(storage, prompt, refinements)
}

func design(storage, prompt string, refinements []string) Result {
	if len(refinements) > maxRefinements {
		refinements = refinements[:maxRefinements]
	}
	res := Result{Choice: chooseKind(prompt)}
	// cur is the spec with every applied refinement; blueprint() finishes
	// (mutates) a spec, so it always gets a copy.
	cur := readPrompt(prompt)
	cur.kind = res.Choice.Kind
	prev := buildBlueprint(cur.clone(), storage, prompt, res.Choice)
	for _, r := range refinements {
		out := Outcome{Request: r}
		if why := notFaithful(cur, r); why != "" {
			out.Status, out.Detail = StatusNotDone, why
		} else if why := alreadyThere(cur, r); why != "" {
			out.Status, out.Detail = StatusNoChange, why
		} else {
			next := cur.clone()
			next.apply(r)
			bp := buildBlueprint(next.clone(), storage, prompt, res.Choice)
			if proto.Equal(prev, bp) {
				out.Status, out.Detail = StatusNoChange, "nothing in this request matched what the scaffold can change (title, kind, records, fields, columns, colors); a model can do more"
			} else {
				out.Status, out.Detail = StatusApplied, diffBlueprints(prev, bp)
				cur, prev = next, bp
			}
		}
		res.Refinements = append(res.Refinements, out)
	}
	res.Blueprint = prev
	res.NotDone = promptNotDone(prompt, res.Choice.Kind)
	// The blueprint says so too, so whoever shows it shows the gaps.
	for _, nd := range res.NotDone {
		prev.Pitfalls = append(prev.Pitfalls, "Not done: "+nd+".")
	}
	return res
}

// clone copies a spec deeply enough that applying a refinement or
// finishing the copy leaves the original as it was (tokens are never
// modified in place, so they are shared).
func (s *spec) clone() *spec {
	c := *s
	c.entities = make([]*entitySpec, len(s.entities))
	for i, e := range s.entities {
		ce := &entitySpec{words: append([]string(nil), e.words...), fields: make([]fieldSpec, len(e.fields))}
		for k, f := range e.fields {
			f.words = append([]string(nil), f.words...)
			ce.fields[k] = f
		}
		c.entities[i] = ce
	}
	c.columns = append([]string(nil), s.columns...)
	c.unsupported = append([]string(nil), s.unsupported...)
	c.headWords = append([]token(nil), s.headWords...)
	c.subject = append([]token(nil), s.subject...)
	c.explicitTitle = append([]token(nil), s.explicitTitle...)
	return &c
}

func buildBlueprint(s *spec, storage, prompt string, choice Choice) *stichv1.Blueprint {
	bp := s.blueprint(prompt)
	s.addSettings(bp, storage, prompt, choice)
	m, err := buildModel(bp)
	if err != nil {
		// NB: unreachable, the kind comes from chooseKind; fall back to crud
		// rather than fail.
		bp.AppKind = KindCRUD
		m, _ = buildModel(bp)
	}
	bp.Roadmap = m.roadmap()
	return bp
}

// apply applies one refinement that notFaithful let through: a kind
// change, a quoted rename, or the rules of refine.
func (s *spec) apply(msg string) {
	if kind, ok := refinementKind(msg); ok {
		if kind != s.kind {
			s.kind, s.kindChanged = kind, true
			s.settingsFrom = msg
		}
		return
	}
	if title, rest, ok := quotedRename(msg); ok {
		s.quotedTitle = title
		if strings.TrimSpace(rest) != "" {
			s.refine(rest)
		}
		return
	}
	if s.kind == KindDashboard {
		// A dashboard charts every metric: "a chart of refunds" is the
		// metric "refunds".
		msg = chartOf.ReplaceAllString(msg, "")
	}
	s.refine(msg)
}

var chartOf = regexp.MustCompile(`(?i)\b(?:(?:a|an|the)\s+)?(?:(?:bar|line|pie)\s+)?(?:chart|graph|plot)s?\s+(?:of|for|showing)\s+`)

var quoted = regexp.MustCompile(`"([^"]{1,80})"|“([^”]{1,80})”|'([^']{1,80})'|‘([^’]{1,80})’`)

// quotedRename reads "rename it to "Plant Pal" and make it green": the
// title is exactly the quoted text; rest is what follows the quote.
func quotedRename(msg string) (title, rest string, ok bool) {
	toks := tokenize(msg)
	verb := false
	for i, t := range toks {
		if renameVerb[t.w] && (t.w != "name" || i == 0 || toks[i-1].w != "the") {
			verb = true
			break
		}
	}
	if !verb {
		return "", "", false
	}
	loc := quoted.FindStringSubmatchIndex(msg)
	if loc == nil {
		return "", "", false
	}
	for g := 2; g < len(loc); g += 2 {
		if loc[g] >= 0 {
			title = cleanText(msg[loc[g]:loc[g+1]], maxTitleLen)
			break
		}
	}
	if title == "" {
		return "", "", false
	}
	rest = strings.TrimSpace(msg[loc[1]:])
	rest = strings.TrimLeft(rest, ",.;!& ")
	for _, lead := range []string{"and ", "then ", "also ", "please "} {
		rest = strings.TrimPrefix(rest, lead)
	}
	return title, rest, true
}

// refinementKind reads "make it a quiz", "turn this into a timer",
// "actually I want a calendar": a change word and a kind named in the
// request's main clause.
func refinementKind(msg string) (string, bool) {
	ws := words(tokenize(msg))
	if !hasAny(ws, changeVerb) && !hasAny(ws, set("want", "actually", "should", "prefer")) {
		return "", false
	}
	c := chooseKind(msg)
	if c.Kind == KindCRUD && !strings.Contains(c.Reason, "names the app") {
		return "", false
	}
	if !strings.Contains(c.Reason, "names the app") {
		return "", false
	}
	return c.Kind, true
}

var (
	chartWords   = set("chart", "charts", "graph", "graphs", "plot", "plots", "visualization", "visualisation", "visualize", "visualise", "histogram", "pie")
	themeWords   = set("theme", "themes", "mode", "dark", "light", "night")
	switchWords  = set("switch", "switcher", "toggle", "toggles", "toggling", "choose", "choice", "pick", "remember", "remembers", "selector", "option")
	uiWords      = set("button", "buttons", "icon", "icons", "animation", "animations", "sound", "sounds", "tooltip", "modal", "popup", "shortcut", "shortcuts", "sidebar")
	needsBackend = set("login", "logins", "signin", "password", "passwords", "auth", "authentication", "notify",
		"notification", "notifications", "sync", "share", "sharing", "upload", "uploads", "export", "import", "csv", "pdf", "print", "api", "map", "maps", "payment", "payments")
)

// notFaithful says why the scaffold cannot do a refinement faithfully, or
// "" when its rules can.
func notFaithful(s *spec, msg string) string {
	if _, ok := refinementKind(msg); ok {
		return ""
	}
	if _, _, ok := quotedRename(msg); ok {
		return ""
	}
	ws := words(tokenize(msg))
	if hasAny(ws, chartWords) && s.kind == KindDashboard && chartOf.MatchString(msg) {
		return ""
	}
	if hasAny(ws, chartWords) && s.kind != KindDashboard {
		return "not done: a chart in this app needs a model (the scaffold only draws charts in dashboards; say \"make it a dashboard\" for one)"
	}
	if hasAny(ws, themeWords) && hasAny(ws, switchWords) || containsSeq(ws, "light", "and", "dark") || containsSeq(ws, "dark", "and", "light") {
		return "not done: a theme switch needs a model (the scaffold can only set one palette, e.g. \"make it dark\")"
	}
	for _, w := range ws {
		if needsBackend[w] {
			return fmt.Sprintf("not done: %q needs a model (the scaffold's templates have no such feature)", w)
		}
	}
	if hasAny(ws, uiWords) && !isDeleteButton(ws) {
		for _, w := range ws {
			if uiWords[w] {
				return fmt.Sprintf("not done: a new %s needs a model (the scaffold changes records, fields, columns, titles, colors and the kind of app)", singular(w))
			}
		}
	}
	if isDeleteButton(ws) && !hasDelete(s.kind) {
		return "not done: a delete button in this app needs a model"
	}
	return ""
}

// alreadyThere says why a request needs no change, or "".
func alreadyThere(s *spec, msg string) string {
	if isDeleteButton(words(tokenize(msg))) && hasDelete(s.kind) {
		return "no change: every item already has a Delete button"
	}
	return ""
}

func isDeleteButton(ws []string) bool {
	return hasAny(ws, set("button", "buttons")) && hasAny(ws, set("delete", "remove", "trash", "deleting", "removing"))
}

func hasDelete(kind string) bool {
	switch kind {
	case KindCRUD, KindKanban, KindForm, KindGallery, KindNotes, KindCalendar:
		return true
	}
	return false
}

func containsSeq(ws []string, seq ...string) bool {
	for i := range ws {
		if matchAt(ws, i, seq) {
			return true
		}
	}
	return false
}

// promptNotDone lists features the prompt asks for that the chosen kind's
// template does not have.
func promptNotDone(prompt, kind string) []string {
	ws := words(tokenize(prompt))
	var out []string
	if hasAny(ws, chartWords) && kind != KindDashboard {
		out = append(out, "a chart: needs a model (only dashboards have charts in the scaffold)")
	}
	if hasAny(ws, set("timer", "timers", "countdown", "stopwatch")) && kind != KindTimer {
		out = append(out, "a timer inside this app: needs a model (the scaffold's timer is an app of its own)")
	}
	switch kind {
	case KindTimer:
		if hasAny(ws, set("stopwatch", "lap", "laps")) {
			out = append(out, "a stopwatch that counts up: needs a model (the scaffold's timer counts down)")
		}
		if hasAny(ws, set("tabata", "interval", "intervals", "rounds", "hiit", "repeat", "repeating")) {
			out = append(out, "repeating intervals or rounds: need a model (the scaffold's timer runs one countdown at a time, with presets)")
		}
	case KindCalculator:
		if hasAny(ws, set("scientific", "sin", "cos", "log", "graphing", "trigonometry")) {
			out = append(out, "scientific functions: need a model (the scaffold's calculator does + − × ÷, % and brackets)")
		}
	case KindConverter:
		if hasAny(ws, set("live", "current", "realtime", "today")) && hasAny(ws, set("currency", "currencies", "exchange", "rates", "rate")) {
			out = append(out, "live exchange rates: need a server (the converter uses fixed sample rates)")
		}
	}
	if hasFeature(ws, set("reminder", "reminders", "alarm", "alarms", "notification", "notifications", "notify")) {
		out = append(out, "reminders or notifications: need a model")
	}
	if hasAny(ws, themeWords) && hasAny(ws, switchWords) {
		out = append(out, "a theme switch: needs a model")
	}
	if containsSeq(ws, "send", "emails") || containsSeq(ws, "send", "email") || containsSeq(ws, "email", "me") {
		out = append(out, "sending email: needs a server")
	}
	for _, w := range ws {
		if needsBackend[w] && !notifyWords[w] {
			out = append(out, fmt.Sprintf("%s: needs a model and, for most, a server", w))
			break
		}
	}
	return out
}

// hasFeature reports whether ws names one of feature, not as a count
// ("number of reminders" is data).
func hasFeature(ws []string, feature map[string]bool) bool {
	for i, w := range ws {
		if feature[w] && !(i >= 2 && (ws[i-1] == "of" || ws[i-1] == "many") && numberPrefix[ws[i-2]]) {
			return true
		}
	}
	return false
}

var notifyWords = set("notify", "notification", "notifications")

// diffBlueprints says in words what changed between two blueprints.
func diffBlueprints(a, b *stichv1.Blueprint) string {
	var parts []string
	if a.GetTitle() != b.GetTitle() {
		parts = append(parts, fmt.Sprintf("title %q → %q", a.GetTitle(), b.GetTitle()))
	}
	if a.GetAppKind() != b.GetAppKind() {
		parts = append(parts, fmt.Sprintf("kind %s → %s", a.GetAppKind(), b.GetAppKind()))
	}
	fieldsOf := func(bp *stichv1.Blueprint) map[string]bool {
		m := map[string]bool{}
		for _, e := range bp.GetEntities() {
			m[e.GetName()] = true
			for _, f := range e.GetFields() {
				m[e.GetName()+"."+f.GetName()+":"+f.GetType()] = true
			}
		}
		return m
	}
	fa, fb := fieldsOf(a), fieldsOf(b)
	for _, e := range b.GetEntities() {
		if !fa[e.GetName()] {
			parts = append(parts, "added "+e.GetName())
			continue
		}
		for _, f := range e.GetFields() {
			if !fa[e.GetName()+"."+f.GetName()+":"+f.GetType()] {
				parts = append(parts, "added field "+e.GetName()+"."+f.GetName())
			}
		}
	}
	for _, e := range a.GetEntities() {
		if !fb[e.GetName()] {
			parts = append(parts, "removed "+e.GetName())
			continue
		}
		for _, f := range e.GetFields() {
			if !fb[e.GetName()+"."+f.GetName()+":"+f.GetType()] {
				parts = append(parts, "removed field "+e.GetName()+"."+f.GetName())
			}
		}
	}
	if strings.Join(a.GetColorPalette(), ",") != strings.Join(b.GetColorPalette(), ",") {
		parts = append(parts, "colors changed")
	}
	if len(parts) == 0 {
		parts = append(parts, "views or settings changed")
	}
	return strings.Join(parts, "; ")
}

// addSettings adds the setting views: the storage prefix, the kind choice
// and, for single-purpose kinds, their options read from the prompt.
func (s *spec) addSettings(bp *stichv1.Blueprint, storage, prompt string, choice Choice) {
	bp.Views = append(bp.Views, settingView("storage", storage,
		"the app's localStorage key prefix; fixed for this app, so a rename keeps its saved data"))
	why := choice.Reason
	if choice.RunnerUp != "" {
		why += "; runner-up " + choice.RunnerUp + ": " + choice.RunnerUpReason
	}
	if s.kindChanged {
		why = "changed by a refinement"
	}
	bp.Views = append(bp.Views, settingView("kind", bp.GetAppKind(), why))
	text := prompt
	if s.settingsFrom != "" {
		text = s.settingsFrom + " " + prompt
	}
	topic := false
	for _, kv := range widgetSettings(bp.GetAppKind(), text) {
		bp.Views = append(bp.Views, settingView(kv[0], kv[1], ""))
		topic = topic || kv[0] == "topic"
	}
	if (bp.GetAppKind() == KindQuiz || bp.GetAppKind() == KindFlashcards) && !topic {
		bp.Pitfalls = append(bp.Pitfalls, "The starting questions are general knowledge: questions on the prompt's own topic need a model, or can be added in the app.")
	}
}

var durationRe = regexp.MustCompile(`(?i)\b(\d{1,3})\s*-?\s*(hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)\b`)

// widgetSettings reads a single-purpose kind's options from text.
func widgetSettings(kind, text string) [][2]string {
	ws := words(tokenize(text))
	has := func(xs ...string) bool { return hasAny(ws, set(xs...)) }
	var out [][2]string
	switch kind {
	case KindTimer:
		if has("pomodoro") {
			for _, v := range []string{"1500", "300", "900"} {
				out = append(out, [2]string{"preset", v})
			}
			break
		}
		for _, m := range durationRe.FindAllStringSubmatch(text, 6) {
			n, _ := strconv.Atoi(m[1])
			unit := strings.ToLower(m[2])
			switch {
			case strings.HasPrefix(unit, "h"):
				n *= 3600
			case strings.HasPrefix(unit, "m"):
				n *= 60
			}
			if n > 0 && n <= 24*3600 {
				out = append(out, [2]string{"preset", strconv.Itoa(n)})
			}
		}
	case KindCalculator:
		switch {
		case has("tip", "tips", "bill"):
			out = append(out, [2]string{"variant", "tip"})
		case has("bmi"):
			out = append(out, [2]string{"variant", "bmi"})
		case has("loan", "mortgage", "loans", "repayment"):
			out = append(out, [2]string{"variant", "loan"})
		}
	case KindConverter:
		for _, c := range []struct {
			cat   string
			words []string
		}{
			{"temperature", []string{"temperature", "temperatures", "celsius", "fahrenheit", "kelvin"}},
			{"length", []string{"length", "distance", "distances", "km", "miles", "mile", "inches", "inch", "feet", "metres", "meters", "cm"}},
			{"weight", []string{"weight", "weights", "kg", "kilograms", "pounds", "lbs", "grams", "ounces", "mass"}},
			{"volume", []string{"volume", "cups", "litres", "liters", "ml", "gallons", "cooking", "recipe", "baking"}},
			{"speed", []string{"speed", "mph", "kmh", "knots"}},
			{"currency", []string{"currency", "currencies", "dollars", "euros", "money", "exchange"}},
			{"data", []string{"bytes", "megabytes", "gigabytes", "data"}},
		} {
			if has(c.words...) {
				out = append(out, [2]string{"category", c.cat})
			}
		}
	case KindQuiz, KindFlashcards:
		topics := []struct {
			topic string
			words []string
		}{
			{"capitals", []string{"capitals", "capital", "geography", "countries", "country"}},
			{"math", []string{"math", "maths", "arithmetic", "multiplication", "times", "tables"}},
			{"science", []string{"science", "physics", "chemistry", "biology"}},
			{"history", []string{"history", "historical"}},
			{"spanish", []string{"spanish", "espanol"}},
			{"french", []string{"french", "francais"}},
			{"german", []string{"german", "deutsch"}},
		}
		for _, t := range topics {
			if has(t.words...) {
				out = append(out, [2]string{"topic", t.topic})
				break
			}
		}
	case KindTicTacToe:
		if has("friend", "friends", "two", "2", "pass", "local", "multiplayer", "players") && !has("computer", "ai", "cpu", "bot") {
			out = append(out, [2]string{"opponent", "friend"})
		}
	case KindMemory:
		for _, t := range []string{"animals", "fruit", "space", "sports"} {
			if has(t, singular(t)) {
				out = append(out, [2]string{"topic", t})
				break
			}
		}
	case KindCalendar:
		noun := "event"
		for _, n := range []string{"appointment", "booking", "reservation", "meeting", "class", "session", "lesson", "shift"} {
			if has(n, n+"s", plural(n)) {
				noun = n
				break
			}
		}
		out = append(out, [2]string{"noun", noun})
		if has("booking", "bookings", "book", "appointment", "appointments", "reservation", "reservations", "slot", "slots", "availability") {
			for h := 9; h < 17; h++ {
				out = append(out, [2]string{"slot", fmt.Sprintf("%02d:00", h)})
			}
		}
	}
	return out
}
