package scaffold

import "strings"

// This file reads a prompt into a spec: what kind of app, what it is
// called, which records it keeps and which fields they have.

type fieldSpec struct {
	words  []string // lowercase ASCII words of the name
	typ    string
	seeded bool // a default, not asked for
}

type entitySpec struct {
	words  []string // lowercase ASCII words of the singular name
	fields []fieldSpec
}

type spec struct {
	kind          string
	typeWord      string  // last kind word of the head phrase, e.g. "tracker"
	headWords     []token // the head noun phrase as written
	subject       []token // words naming what the app is about
	explicitTitle []token // from "called X" / "call it X"
	entities      []*entitySpec
	columns       []string
	palette       string
	unsupported   []string // words asking for things a browser-only app cannot do
	survey        bool
	seededKind    string // kind the seeded default fields were chosen for
	kindChanged   bool   // a refinement changed the kind
	quotedTitle   string // from a quoted rename, used exactly as written
	settingsFrom  string // the refinement that changed the kind, read for the kind's options
}

func (s *spec) main() *entitySpec {
	if len(s.entities) == 0 {
		s.entities = append(s.entities, &entitySpec{})
	}
	return s.entities[0]
}

// Kind-detection levels: a strong kind word beats a record-keeping noun,
// which beats a weak hint; ties go to the earliest word.
const (
	levelWeak   = 1
	levelCRUD   = 2
	levelStrong = 3
)

var crudVerb = set("track", "tracks", "tracking", "manage", "manages", "managing", "organize",
	"organizes", "organizing", "organise", "organises", "organising", "catalog", "catalogue",
	"cataloging", "cataloguing", "log", "logs", "logging")

func detectKind(toks []token) (kind string, level int) {
	kind = KindCRUD
	for i, t := range toks {
		if !t.word() {
			continue
		}
		k, l := "", 0
		switch {
		case strongKind[t.w] != "":
			k, l = strongKind[t.w], levelStrong
		case t.w == "home" && i+1 < len(toks) && toks[i+1].w == "page":
			k, l = KindLanding, levelStrong
		case crudNoun[t.w] || crudVerb[t.w]:
			k, l = KindCRUD, levelCRUD
		case weakKind[t.w] != "":
			k, l = weakKind[t.w], levelWeak
		}
		if l > level {
			kind, level = k, l
		}
	}
	return kind, level
}

func isKindWord(w string) bool {
	return strongKind[w] != "" || weakKind[w] != "" || crudNoun[w]
}

// headPhrase finds the first noun phrase: the words after leading filler up
// to the first boundary word or punctuation, at most six words.
func headPhrase(toks []token) (phrase []token, end int) {
	i := 0
	for i < len(toks) && (!toks[i].word() || filler[toks[i].w] || leadingVerb[toks[i].w]) {
		if toks[i].word() && (toks[i].w == "called" || toks[i].w == "named") {
			return nil, i
		}
		i++
	}
	for i < len(toks) && toks[i].word() && !boundary[toks[i].w] && len(phrase) < 6 {
		if !filler[toks[i].w] || toks[i].w == "" {
			phrase = append(phrase, toks[i])
		}
		i++
	}
	return phrase, i
}

// kindPhrase finds the first noun phrase after position from that ends in
// a word naming a kind of app, such as "guest list".
func kindPhrase(toks []token, from int) ([]token, int) {
	for i := from; i < len(toks); i++ {
		if !toks[i].word() || !(crudNoun[toks[i].w] || strongKind[toks[i].w] != "") {
			continue
		}
		j := i
		for j > from && toks[j-1].word() && !boundary[toks[j-1].w] && !filler[toks[j-1].w] && i-j < 3 {
			j--
		}
		var phrase []token
		for k := j; k <= i; k++ {
			phrase = append(phrase, toks[k])
		}
		return phrase, i + 1
	}
	return nil, from
}

// splitHead separates the subject of a head phrase from its kind words:
// "recipe tracker app" -> subject [recipe], type word "tracker".
func splitHead(phrase []token) (subject []token, typeWord string) {
	np := phrase
	for len(np) > 0 && appNoun[np[len(np)-1].w] && !(len(np) > 1 && crudNoun[np[len(np)-1].w]) {
		if typeWord == "" {
			typeWord = np[len(np)-1].w
		}
		np = np[:len(np)-1]
	}
	if len(np) > 0 && isKindWord(np[len(np)-1].w) {
		typeWord = np[len(np)-1].w
		np = np[:len(np)-1]
		if len(np) > 0 && strongKind[np[len(np)-1].w] != "" {
			np = np[:len(np)-1]
		}
	}
	return np, typeWord
}

// listItem is one item of a list such as "name, due date and tags".
type listItem struct {
	toks  []token
	group []listItem // a parenthesized list after the item
}

var listTrigger = set("with", "including", "includes", "include", "containing", "contains",
	"having", "has", "have", "showing", "shows", "show", "displaying", "displays", "featuring",
	"fields", "properties", "attributes")

var fieldVerb = set("track", "tracks", "tracking", "record", "records", "recording", "store",
	"stores", "storing", "log", "logs", "logging", "capture", "captures", "capturing", "collect",
	"collects", "collecting", "save", "saves", "saving", "remember", "remembers", "note", "notes")

var subjectVerb = set("track", "tracks", "tracking", "manage", "manages", "managing", "organize",
	"organizes", "organizing", "organise", "organising", "log", "logs", "logging", "record",
	"records", "recording", "catalog", "catalogue", "collect", "collects", "collecting", "store",
	"stores", "storing", "lists", "listing", "planning", "schedule", "scheduling",
	"monitor", "monitoring", "save", "saving", "keep", "keeps", "keeping", "follow", "following",
	"showcase", "showcases", "promote", "promotes", "sell", "sells", "selling", "compare", "browse")

// leadingVerb words may open a prompt before its subject ("Plan my wedding").
var leadingVerb = set("plan", "planning", "organize", "organise", "run", "running", "manage",
	"managing", "sort", "digitize", "digitise", "replace", "replacing")

var pronoun = set("i", "we", "you", "they", "it", "he", "she", "me", "us", "them")

var columnWord = set("columns", "column", "stages", "stage", "lanes", "lane", "statuses", "states", "swimlanes")

// readList reads a list starting at i. It stops at sentence punctuation,
// a closing parenthesis, a clause word, or a new list trigger.
func readList(toks []token, i int) (items []listItem, end int) {
	return readListMode(toks, i, false)
}

// readLabels reads a list of labels such as kanban columns, where words
// like "in" and "to" belong to the items ("In progress", "To do").
func readLabels(toks []token, i int) (items []listItem, end int) {
	return readListMode(toks, i, true)
}

var modal = set("is", "has", "was", "can", "needs", "would", "will", "could", "should", "does", "did")

func readListMode(toks []token, i int, labels bool) (items []listItem, end int) {
	var cur []token
	push := func() {
		if len(cur) > 0 {
			items = append(items, listItem{toks: cur})
			cur = nil
		}
	}
	for ; i < len(toks) && len(items) < 16; i++ {
		t := toks[i]
		if !t.word() {
			switch t.p {
			case ',', '/', '&', '+':
				push()
				continue
			case ':':
				if len(cur) == 0 && len(items) == 0 {
					continue
				}
			case '(':
				push()
				group, j := readListMode(toks, i+1, labels)
				if len(items) > 0 {
					items[len(items)-1].group = append(items[len(items)-1].group, group...)
				}
				i = j
				if i < len(toks) && toks[i].p == ')' {
					continue
				}
				return items, i
			}
			push()
			return items, i
		}
		switch {
		case t.glued:
			// Inside "plus-one" or "check-in": part of the item.
		case t.w == "and" || t.w == "or" || t.w == "plus" || t.w == "nor":
			push()
			continue
		case t.w == "as" && i+2 < len(toks) && toks[i+1].w == "well" && toks[i+2].w == "as":
			push()
			i += 2
			continue
		case t.w == "etc":
			continue
		case len(cur) == 0 && (t.w == "whether" || t.w == "if") && !labels:
			// "whether I watched it": the yes/no word is the field.
			for j := i + 1; j < len(toks) && j <= i+6 && toks[j].word(); j++ {
				if boolWords[toks[j].w] || (strings.HasSuffix(toks[j].w, "ed") && len(toks[j].w) > 4) {
					cur = append(cur, toks[j])
					i = j
					for i+1 < len(toks) && (toks[i+1].w == "it" || toks[i+1].w == "them" || toks[i+1].w == "yet" || toks[i+1].w == "already") {
						i++
					}
					break
				}
			}
			if len(cur) == 0 {
				return items, i
			}
			continue
		case len(cur) == 0 && modal[t.w] && !labels &&
			i+1 < len(toks) && toks[i+1].word() && !clauseEnd[toks[i+1].w] && !determiner[toks[i+1].w] && !pronoun[toks[i+1].w]:
			// "is done", "would recommend": a yes/no field, not the end of the list.
		case (t.w == "on" || t.w == "at") && len(cur) > 0 && strings.HasSuffix(cur[len(cur)-1].w, "ed") &&
			(i+1 == len(toks) || !toks[i+1].word() || listSep[toks[i+1].w]):
			// "started on", "finished at": a date.
		case labels && (t.w == "in" || t.w == "to" || t.w == "on" || t.w == "by" || t.w == "for" && len(cur) == 0):
		case clauseEnd[t.w] || listTrigger[t.w]:
			push()
			return items, i
		}
		cur = append(cur, t)
	}
	push()
	return items, i
}

// cleanItem reduces a list item to the words that name a field, and any
// type its phrasing forces ("number of servings" -> servings: number).
func cleanItem(toks []token) (ws []string, forced string) {
	ws = withoutNumbers(words(toks))
	for i, w := range ws {
		// "a timer", "chart of pages", "reminder feature": a feature, not a
		// field; but "snooze button color" is a field and "number of
		// reminders" a count.
		if featureOnly[w] && (i == 0 || i == len(ws)-1 || determiner[ws[i-1]]) && !(i >= 2 && (ws[i-1] == "of" || ws[i-1] == "many") && numberPrefix[ws[i-2]]) {
			return nil, ""
		}
	}
	for len(ws) > 1 && determiner[ws[0]] {
		ws = ws[1:]
	}
	if len(ws) == 1 && determiner[ws[0]] {
		return nil, ""
	}
	for len(ws) > 1 && itemSuffix[ws[len(ws)-1]] {
		ws = ws[:len(ws)-1]
	}
	if len(ws) >= 3 && numberPrefix[ws[0]] && (ws[1] == "of" || ws[1] == "many" || ws[1] == "much") {
		ws, forced = ws[2:], TypeNumber
	}
	if len(ws) >= 2 && ws[len(ws)-1] == "list" {
		ws, forced = ws[:len(ws)-1], TypeList // "a photos list"
	}
	for len(ws) > 1 && determiner[ws[0]] {
		ws = ws[1:]
	}
	if len(ws) > 4 {
		ws = ws[len(ws)-3:]
	}
	return ws, forced
}

// featureOnly words name features of an app, never data: an item with one
// is not a field ("a timer for each habit", "a chart of pages per month").
var featureOnly = set("chart", "charts", "graph", "graphs", "plot", "plots", "timer", "timers", "countdown",
	"stopwatch", "reminder", "reminders", "alarm", "alarms", "notification", "notifications", "toggle",
	"toggles", "button", "buttons", "feature", "features", "export", "import", "switch", "mode",
	"visualization", "visualisation", "animation", "animations", "sidebar", "filter", "filters", "search")

// rangeWord joins numbers into a range or a frequency ("from 1 to 5",
// "every 3 days", "out of 10").
var rangeWord = set("to", "from", "between", "every", "out", "of", "and", "up", "per", "x")

// withoutNumbers drops numbers, the words that make them a range, and the
// unit right after a number: "mood rating 1-10" is "mood rating",
// "watering every 3 days" is "watering", "1 to 5 stars" is nothing.
func withoutNumbers(ws []string) []string {
	isNum := func(w string) bool { return w != "" && strings.Trim(w, "0123456789") == "" }
	drop := make([]bool, len(ws))
	for i, w := range ws {
		if !isNum(w) {
			continue
		}
		drop[i] = true
		for j := i - 1; j >= 0 && rangeWord[ws[j]]; j-- {
			drop[j] = true
		}
		if i+1 < len(ws) && !isNum(ws[i+1]) && !rangeWord[ws[i+1]] {
			drop[i+1] = true
		}
		for j := i + 1; j < len(ws) && rangeWord[ws[j]] && j+1 < len(ws) && isNum(ws[j+1]); j++ {
			drop[j] = true
		}
	}
	var out []string
	for i, w := range ws {
		if !drop[i] {
			out = append(out, w)
		}
	}
	return out
}

// usableGroup reports whether a parenthesized group names any field.
func usableGroup(group []listItem) bool {
	for _, it := range group {
		if ws, _ := cleanItem(it.toks); usableName(ws) {
			return true
		}
	}
	return false
}

// usableName reports whether item words can name a field or entity.
func usableName(ws []string) bool {
	if len(ws) == 0 {
		return false
	}
	meaningful := false
	for _, w := range ws {
		if strongKind[w] != "" || crudNoun[w] || unsupported[w] || (appNoun[w] && w != "site" && w != "website") {
			return false
		}
		if !nonField[w] && !filler[w] && !boundary[w] {
			meaningful = true
		}
	}
	return meaningful
}

// inferType guesses a field's type from its name.
func inferType(ws []string) string {
	if len(ws) == 0 {
		return TypeString
	}
	last := ws[len(ws)-1]
	first := ws[0]
	for _, w := range ws {
		if ratingWords[w] {
			return TypeRating
		}
	}
	if len(ws) > 1 && (modal[first] || first == "are" || first == "have") {
		return TypeBoolean
	}
	if len(ws) > 1 && (last == "on" || last == "at") && strings.HasSuffix(ws[len(ws)-2], "ed") {
		return TypeDate // "started on"
	}
	if last == "time" || last == "times" {
		if len(ws) > 1 && timeNumberBefore[ws[len(ws)-2]] {
			return TypeNumber
		}
		if len(ws) > 1 && ws[len(ws)-2] == "per" {
			return TypeNumber
		}
		return TypeString
	}
	if last == "number" || last == "no" || last == "num" {
		if len(ws) > 1 && idNumberWords[ws[len(ws)-2]] {
			return TypeString
		}
		return TypeNumber
	}
	if isDateName(ws) {
		return TypeDate
	}
	if numberWords[last] || numberWords[singular(last)] || (len(ws) > 1 && ws[len(ws)-2] == "per") {
		return TypeNumber
	}
	if (boolWords[last] || boolWords[first]) && len(ws) <= 2 {
		return TypeBoolean // "done", "completed today"
	}
	if textareaWords[last] || emailWords[last] || telWords[last] || urlWords[last] {
		return TypeString
	}
	if listWords[last] || (len(last) > 3 && isPlural(last)) {
		return TypeList
	}
	return TypeString
}

// isDateName reports names of dates: "due", "deadline", "date of birth",
// "last watered", "startdate".
func isDateName(ws []string) bool {
	first, last := ws[0], ws[len(ws)-1]
	switch {
	case dateWords[last]:
		return true
	case len(ws) > 1 && first == "last" && strings.HasSuffix(last, "ed"):
		return true
	case len(ws) > 1 && first == "date":
		return true
	}
	compound := strings.HasSuffix(last, "date") && len(last) > 4
	return compound && !strings.HasSuffix(last, "update") && last != "candidate" && last != "validate" && last != "mandate"
}

// fieldFromItem turns list-item words into a field. Names of single values
// are made singular ("ratings" -> rating); lists keep their plural.
func fieldFromItem(ws []string, forced string) fieldSpec {
	typ := forced
	if typ == "" {
		typ = inferType(ws)
	}
	out := append([]string{}, ws...)
	last := out[len(out)-1]
	switch {
	case forced != "", typ == TypeList, textareaWords[last], typ == TypeNumber && numberWords[last], typ == TypeBoolean:
	default:
		out[len(out)-1] = singular(last)
	}
	return fieldSpec{words: out, typ: typ}
}

// entityWordsFor names the record a subject implies: adjectives are dropped,
// the last word is made singular and common subjects are mapped to their
// record ("finance" -> transaction, "todo" -> task).
func entityWordsFor(subject []string) []string {
	var ws []string
	for i, w := range subject {
		last := i == len(subject)-1
		if w != "" && ((last && entityAlias[w] != nil) || !adjective[w] && !filler[w] && !nonField[w] && strongKind[w] == "" && !crudNoun[w]) {
			ws = append(ws, w)
		}
	}
	if len(ws) == 0 {
		return nil
	}
	if len(ws) > 2 {
		ws = ws[len(ws)-2:]
	}
	last := ws[len(ws)-1]
	if alias, ok := entityAlias[last]; ok {
		if len(ws) == 1 || len(alias) > 1 || alias[0] == last {
			return append([]string{}, alias...)
		}
		return append(append([]string{}, ws[:len(ws)-1]...), alias...)
	}
	if alias, ok := entityAlias[singular(last)]; ok && len(ws) == 1 {
		return append([]string{}, alias...)
	}
	ws = append([]string{}, ws...)
	ws[len(ws)-1] = singular(last)
	return ws
}

func sameName(a, b []string) bool {
	return camelIdent(a) == camelIdent(b) || camelIdent(singularized(a)) == camelIdent(singularized(b))
}

func singularized(ws []string) []string {
	if len(ws) == 0 {
		return ws
	}
	out := append([]string{}, ws...)
	out[len(out)-1] = singular(out[len(out)-1])
	return out
}

func (e *entitySpec) addField(f fieldSpec) {
	if len(f.words) == 0 || len(e.fields) >= maxFields {
		return
	}
	for i, g := range e.fields {
		if sameName(g.words, f.words) {
			e.fields[i] = f
			return
		}
	}
	e.fields = append(e.fields, f)
}

// removeField removes the field named ws, or else the first field whose
// last word it is ("remove the date" removes "due date").
func (e *entitySpec) removeField(ws []string) bool {
	match := -1
	for i, g := range e.fields {
		if sameName(g.words, ws) {
			match = i
			break
		}
		if match < 0 && len(ws) == 1 && len(g.words) > 1 && g.words[len(g.words)-1] == singular(ws[0]) {
			match = i
		}
	}
	if match < 0 {
		return false
	}
	e.fields = append(e.fields[:match], e.fields[match+1:]...)
	return true
}

func (s *spec) findEntity(ws []string) *entitySpec {
	if len(ws) == 0 {
		return nil
	}
	for _, e := range s.entities {
		if len(e.words) > 0 && sameName(e.words, entityWordsFor(ws)) {
			return e
		}
	}
	return nil
}

func (s *spec) addEntity(ws []string) *entitySpec {
	ew := entityWordsFor(ws)
	if len(ew) == 0 {
		return nil
	}
	if e := s.findEntity(ws); e != nil {
		return e
	}
	if len(s.entities) > 0 && len(s.entities[0].words) == 0 {
		s.entities[0].words = ew
		return s.entities[0]
	}
	if len(s.entities) >= maxEntities {
		return nil
	}
	e := &entitySpec{words: ew}
	s.entities = append(s.entities, e)
	return e
}

// readPrompt reads the initial prompt.
func readPrompt(prompt string) *spec {
	toks := tokenize(prompt)
	s := &spec{}
	s.kind, _ = detectKind(toks)
	s.palette = paletteWord(toks, false)
	for _, t := range toks {
		if t.word() && unsupported[t.w] && !containsString(s.unsupported, t.w) && len(s.unsupported) < 4 {
			s.unsupported = append(s.unsupported, t.w)
		}
	}
	for _, t := range toks {
		if t.word() && (t.w == "survey" || t.w == "questionnaire" || t.w == "poll" || t.w == "quiz") {
			s.survey = true
		}
	}
	s.explicitTitle = calledName(toks)

	head, headEnd := headPhrase(toks)
	if _, tw := splitHead(head); tw == "" {
		// "Plan my wedding: a guest list with ...": the phrase that names a
		// kind of app is the head.
		if h, e := kindPhrase(toks, headEnd); len(h) > 0 {
			head, headEnd = h, e
		}
	}
	s.headWords = head
	subject, typeWord := splitHead(head)
	s.subject, s.typeWord = subject, typeWord
	if len(subject) > 0 {
		s.entities = []*entitySpec{{words: entityWordsFor(words(subject))}}
	} else if typeWord != "" {
		if alias, ok := entityAlias[typeWord]; ok {
			s.entities = []*entitySpec{{words: append([]string{}, alias...)}}
		}
	}

	// "for/of/about X and Y": the subject when the head phrase has none.
	if len(s.subject) == 0 {
		for i := headEnd; i < len(toks); i++ {
			w := toks[i].w
			if !toks[i].word() || (w != "for" && w != "of" && w != "about") {
				continue
			}
			j := i + 1
			for j < len(toks) && toks[j].word() && (subjectVerb[toks[j].w] || determiner[toks[j].w] || filler[toks[j].w] || adjective[toks[j].w]) && toks[j].w != "" {
				if toks[j].w == "track" || toks[j].w == "tracking" {
					if j+1 < len(toks) && toks[j+1].w == "of" {
						j++
					}
				}
				j++
			}
			items, _ := readList(toks, j)
			s.takeSubjectItems(items, false)
			break
		}
	}

	// "to track X, Y and Z" / "that tracks X": the subject, then fields.
	for i := headEnd; i < len(toks); i++ {
		if !toks[i].word() || !subjectVerb[toks[i].w] {
			continue
		}
		if i > 0 && (toks[i-1].w == "a" || toks[i-1].w == "an" || toks[i-1].w == "the") {
			continue // "a log", "the list": nouns, not verbs
		}
		j := i + 1
		for j < len(toks) && toks[j].word() && (toks[j].w == "of" || toks[j].w == "track" || determiner[toks[j].w] || toks[j].w == "all" || adjective[toks[j].w]) {
			j++
		}
		items, end := readList(toks, j)
		switch {
		case len(s.subject) == 0:
			s.takeSubjectItems(items, true)
		case len(items) == 1 && end < len(toks) && listTrigger[toks[end].w] && s.kind == KindCRUD:
			// "a study planner that tracks assignments with subject and due
			// date": the tracked things are the records.
			if ws, _ := cleanItem(items[0].toks); usableName(ws) && isPlural(ws[len(ws)-1]) {
				s.main().words = entityWordsFor(ws)
			}
		case fieldVerb[toks[i].w]:
			s.addFieldItems(s.main(), items)
		}
		break
	}

	// "with X, Y and Z", "each recipe has X": fields (or kanban columns).
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.p == ':' && i >= headEnd && !(i > 0 && columnWord[toks[i-1].w]) {
			// "A workout logger: exercise, sets, reps and date".
			items, end := readList(toks, i+1)
			s.addFieldItems(s.main(), items)
			i = end - 1
			continue
		}
		if !t.word() {
			continue
		}
		if s.kind == KindKanban && columnWord[t.w] && t.w != "state" {
			j := i + 1
			for j < len(toks) && (toks[j].p == ':' || toks[j].w == "like" || toks[j].w == "called" || toks[j].w == "named" || toks[j].w == "for" || toks[j].w == "of" || toks[j].w == "are" || toks[j].w == "such" || toks[j].w == "as") {
				j++
			}
			if items, end := readLabels(toks, j); len(items) > 0 && j > i+1 || len(items) > 1 {
				s.setColumns(items)
				i = end - 1
				continue
			}
		}
		if !listTrigger[t.w] {
			continue
		}
		if (t.w == "have" || t.w == "has" || t.w == "show" || t.w == "include") && i > 0 && pronoun[toks[i-1].w] {
			continue // "I have a lot of plants"
		}
		if s.kind == KindKanban {
			j := i + 1
			for j < len(toks) && toks[j].word() && !columnWord[toks[j].w] && (determiner[toks[j].w] || strings.Trim(toks[j].w, "0123456789") == "") {
				j++
			}
			if j < len(toks) && columnWord[toks[j].w] {
				continue // "with columns for ..." is read where "columns" is
			}
		}
		target := s.targetBefore(toks, i)
		items, end := readList(toks, i+1)
		if s.kind == KindKanban && len(items) > 1 && columnWord[lastWord(items[len(items)-1].toks)] {
			items[len(items)-1].toks = items[len(items)-1].toks[:len(items[len(items)-1].toks)-1]
			s.setColumns(items)
		} else {
			s.addFieldItems(target, items)
		}
		i = end - 1
	}
	// A prompt with no kind word, no record verb and no record we know
	// ("asdf qwerty") gets a generic Items app.
	if _, level := detectKind(toks); level == 0 && s.typeWord == "" && len(s.entities) == 1 && len(s.entities[0].fields) == 0 {
		ew := s.entities[0].words
		last := ""
		if len(ew) > 0 {
			last = ew[len(ew)-1]
		}
		subj := words(s.subject)
		plural := len(subj) > 0 && len(subj) <= 2 && isPlural(subj[len(subj)-1])
		if knownFields[last] == nil && entityAlias[last] == nil && !plural {
			s.entities[0].words = []string{"item"}
		}
	}
	return s
}

func lastWord(toks []token) string {
	ws := words(toks)
	if len(ws) == 0 {
		return ""
	}
	return ws[len(ws)-1]
}

func containsString(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// takeSubjectItems uses the first item as the subject. Parenthesized items
// ("contacts (name, email)") and, when others is set, further items naming
// common records become more entities; the rest become fields.
func (s *spec) takeSubjectItems(items []listItem, others bool) {
	first := true
	for _, it := range items {
		ws, forced := cleanItem(it.toks)
		if !usableName(ws) {
			continue
		}
		if first {
			first = false
			s.subject = trimTokens(it.toks)
			e := s.addEntity(ws)
			if e != nil {
				s.addFieldItems(e, it.group)
			}
			continue
		}
		if s.kind != KindCRUD {
			s.addFieldItems(s.main(), []listItem{it})
			continue
		}
		if usableGroup(it.group) || (others && knownFields[singular(ws[len(ws)-1])] != nil && len(ws) == 1 && isPlural(ws[0])) || !others {
			if e := s.addEntity(ws); e != nil {
				s.addFieldItems(e, it.group)
			}
			continue
		}
		s.main().addField(fieldFromItem(ws, forced))
	}
}

func trimTokens(toks []token) []token {
	var out []token
	for _, t := range toks {
		if t.word() && (len(out) > 0 || !determiner[t.w]) {
			out = append(out, t)
		}
	}
	return out
}

// addFieldItems adds list items as fields of e; an item with a
// parenthesized group is an entity of its own (crud only).
func (s *spec) addFieldItems(e *entitySpec, items []listItem) {
	if e == nil {
		return
	}
	// "a library with books and authors": a list that names the main
	// record in the plural names records, not fields.
	records := false
	for _, it := range items {
		if ws, _ := cleanItem(it.toks); s.kind == KindCRUD && len(e.words) > 0 && len(ws) > 0 && isPlural(ws[len(ws)-1]) && sameName(ws, e.words) {
			records = true
		}
	}
	for _, it := range items {
		if ws, _ := cleanItem(it.toks); records && len(ws) == 1 && isPlural(ws[0]) && knownFields[singular(ws[0])] != nil {
			s.addEntity(ws)
			continue
		}
		ws, forced := cleanItem(it.toks)
		if !usableName(ws) {
			continue
		}
		if usableGroup(it.group) && s.kind == KindCRUD {
			if ne := s.addEntity(ws); ne != nil {
				s.addFieldItems(ne, it.group)
				continue
			}
		}
		if len(e.words) > 0 && isPlural(ws[len(ws)-1]) && sameName(ws, e.words) {
			continue // "a recipe tracker with recipes"
		}
		e.addField(fieldFromItem(ws, forced))
	}
}

// targetBefore finds the entity a list trigger belongs to: "each author has
// a name" targets (and, in a crud app, creates) Author.
func (s *spec) targetBefore(toks []token, i int) *entitySpec {
	j := i - 1
	for j >= 0 && toks[j].word() && (toks[j].w == "should" || toks[j].w == "must" || toks[j].w == "can" || toks[j].w == "will" || toks[j].w == "also" || toks[j].w == "to") {
		j--
	}
	if j < 0 || !toks[j].word() || toks[j].w == "" {
		return s.main()
	}
	ws := []string{toks[j].w}
	if e := s.findEntity(ws); e != nil {
		return e
	}
	if j > 0 && (toks[j-1].w == "each" || toks[j-1].w == "every") && s.kind == KindCRUD && usableName(ws) {
		if e := s.addEntity(ws); e != nil {
			return e
		}
	}
	return s.main()
}

func (s *spec) setColumns(items []listItem) {
	var cols []string
	for _, it := range items {
		var raw []string
		for _, t := range trimTokens(it.toks) {
			raw = append(raw, t.raw)
		}
		label := cleanText(strings.Join(raw, " "), maxLabelLen)
		if label == "" || len(splitIdent(label)) == 0 {
			continue
		}
		label = titleWord(label)
		dup := false
		for _, c := range cols {
			dup = dup || strings.EqualFold(c, label)
		}
		if !dup && len(cols) < maxColumns {
			cols = append(cols, label)
		}
	}
	if len(cols) >= 2 {
		s.columns = cols
	}
}

// calledName reads "called X" / "named X": up to six words.
func calledName(toks []token) []token {
	for i, t := range toks {
		if !t.word() || (t.w != "called" && t.w != "named" && t.w != "titled") {
			continue
		}
		var out []token
		for j := i + 1; j < len(toks) && toks[j].word() && len(out) < 6; j++ {
			if len(out) > 0 && (listTrigger[toks[j].w] || toks[j].w == "that" || toks[j].w == "which" || toks[j].w == "for" || toks[j].w == "to" || toks[j].w == "where" || toks[j].w == "so") {
				break
			}
			out = append(out, toks[j])
		}
		if len(out) > 0 {
			return out
		}
	}
	return nil
}

var themeWord = set("theme", "themed", "color", "colors", "colour", "colours", "palette", "mode",
	"accent", "accents", "scheme", "style", "tones", "tone", "vibe", "vibes", "look", "design")

// paletteWord finds a color request. In a prompt the color must come with a
// theme word ("a blue theme", "in green", "dark mode"); in a refinement
// ("make it purple") any color word counts.
func paletteWord(toks []token, loose bool) string {
	found := ""
	for i, t := range toks {
		p := colorWords[t.w]
		if p == "" || !t.word() {
			continue
		}
		near := loose
		if i+1 < len(toks) && themeWord[toks[i+1].w] {
			near = true
		}
		if i > 0 && (toks[i-1].w == "in" || toks[i-1].w == "using" || toks[i-1].w == "use" || toks[i-1].w == "mostly") {
			near = true
		}
		if near {
			found = p
		}
	}
	return found
}
