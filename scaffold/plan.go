package scaffold

import (
	"strings"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// Label is what users see wherever the scaffold is used; it is never
// passed off as AI.
const Label = "scaffold (no model)"

// Plan reads a prompt and the refinements sent after it (oldest first) and
// returns a complete blueprint whose roadmap lists exactly the files [Files]
// renders for it. It is deterministic and never fails: a prompt it cannot
// read yields a generic crud app named from the prompt's words.
//
// Refinements the scaffold cannot do faithfully leave the blueprint as it
// was; [Design] says which and why.
func Plan(prompt string, refinements []string) *stichv1.Blueprint {
	return Design("", prompt, refinements).Blueprint
}

// chatter words mark a message that asks for nothing.
var chatter = set("thanks", "thank", "thx", "great", "nice", "cool", "ok", "okay", "looks", "good", "awesome",
	"perfect", "love", "wow", "hi", "hello", "hey", "hmm", "yes", "yeah", "yep", "lol", "amazing", "neat",
	"again", "retry", "continue")

var (
	changeVerb = set("make", "turn", "change", "convert", "switch", "instead", "rather", "become",
		"transform", "redo", "rebuild")
	addVerb = set("add", "adds", "adding", "also", "include", "includes", "including", "track",
		"record", "store", "need", "needs", "want", "plus", "with", "capture", "collect", "show",
		"display", "log", "put", "give", "support", "allow", "keep", "remember", "save", "let")
	removeVerb = set("remove", "delete", "drop", "without", "lose", "hide", "exclude", "skip", "ditch")
	renameVerb = set("rename", "retitle", "call", "name", "title")
	entityMark = set("page", "pages", "section", "sections", "tab", "tabs", "screen", "screens",
		"entity", "entities", "table", "tables", "collection", "collections", "area", "view", "views")
)

// refine applies one refinement message to the spec.
func (s *spec) refine(msg string) {
	toks := tokenize(msg)
	ws := words(toks)
	if len(ws) == 0 {
		return
	}
	s.seedFields()
	if p := paletteWord(toks, true); p != "" {
		s.palette = p
		if len(ws) <= 6 && !hasAny(ws, addVerb) {
			return
		}
	}
	for _, t := range toks {
		if t.word() && unsupported[t.w] && !containsString(s.unsupported, t.w) && len(s.unsupported) < 4 {
			s.unsupported = append(s.unsupported, t.w)
		}
	}

	// "call it X", "rename it to X", "rename notes to comments".
	for i, t := range toks {
		if !renameVerb[t.w] || !t.word() {
			continue
		}
		j := i + 1
		if j < len(toks) && (toks[j].w == "it" || toks[j].w == "this" || toks[j].w == "the") {
			j++
			for j < len(toks) && (toks[j].w == "app" || toks[j].w == "title" || toks[j].w == "project" || toks[j].w == "site" || toks[j].w == "page") {
				j++
			}
			if j < len(toks) && (toks[j].w == "to" || toks[j].w == "as") {
				j++
			}
			if name := takeName(toks[j:]); len(name) > 0 {
				s.explicitTitle = name
				return
			}
		}
		if t.w == "rename" || t.w == "retitle" {
			if items, end := readList(toks, i+1); len(items) == 1 && end < len(toks) && toks[end].w == "to" {
				from, _ := cleanItem(items[0].toks)
				to, forced := cleanItem(takeName(toks[end+1:]))
				if usableName(to) {
					for _, e := range s.entities {
						for k, f := range e.fields {
							if sameName(f.words, from) {
								nf := fieldFromItem(to, forced)
								nf.typ = f.typ
								e.fields[k] = nf
								return
							}
						}
					}
				}
			}
		}
	}

	// "make it a kanban board", "turn this into a dashboard", "actually I
	// want a landing page". A strong kind word needs any change word; a
	// weak one or a record-keeping noun needs an explicit change verb.
	if kind, level := detectKind(toks); level > 0 {
		strict := hasAny(ws, changeVerb)
		soft := strict || hasAny(ws, set("want", "should", "actually", "be", "prefer", "need"))
		nouns := level != levelCRUD || hasAny(ws, crudNoun)
		if (level == levelStrong && soft) || (level < levelStrong && strict && nouns) {
			if kind != s.kind {
				s.kind, s.kindChanged = kind, true
			}
			return
		}
	}

	// Removals: "remove the notes field", "drop tags", "without ratings".
	for i, t := range toks {
		if !t.word() || !(removeVerb[t.w] || (t.w == "get" && i+2 < len(toks) && toks[i+1].w == "rid") ||
			(t.w == "no" && i == 0) || (t.w == "need" && i > 0 && (toks[i-1].w == "dont" || toks[i-1].w == "not"))) {
			continue
		}
		j := i + 1
		if t.w == "get" {
			j = i + 3
		}
		items, _ := readList(toks, j)
		if hasAny(ws, columnWord) {
			items, _ = readLabels(toks, j) // "remove the in progress column"
		}
		for _, it := range items {
			if raw := words(trimTokens(it.toks)); len(raw) > 1 && columnWord[raw[len(raw)-1]] {
				s.removeColumn(raw[:len(raw)-1]) // "remove the in progress column"
				continue
			}
			iw, _ := cleanItem(it.toks)
			if len(iw) == 0 {
				continue
			}
			if e := s.findEntity(iw); e != nil && len(s.entities) > 1 && isPlural(iw[len(iw)-1]) {
				s.removeEntity(e) // "remove authors" drops the Authors tab
				continue
			}
			for _, e := range s.entities {
				e.removeField(iw)
			}
		}
		return
	}

	// Additions: "also track cooking time", "add a notes field to recipes",
	// "add an authors page", "add a Blocked column".
	for i, t := range toks {
		if !t.word() || !addVerb[t.w] {
			continue
		}
		j := i + 1
		for j < len(toks) && toks[j].word() && (addVerb[toks[j].w] || determiner[toks[j].w] || toks[j].w == "me" || toks[j].w == "to" && j == i+1 || toks[j].w == "field" || toks[j].w == "fields" || toks[j].w == "for" || toks[j].w == "called" || toks[j].w == "named" || toks[j].w == "of") {
			j++
		}
		if j < len(toks) && toks[j].p == ':' {
			j++
		}
		columns := false
		for k := i + 1; k < j; k++ {
			columns = columns || columnWord[toks[k].w]
		}
		var items []listItem
		var end int
		if columns {
			items, end = readLabels(toks, j) // "add columns Blocked and QA"
		} else {
			items, end = readList(toks, j)
		}
		if len(items) == 0 {
			continue
		}
		s.addItems(items, toks, end, columns)
		return
	}

	// A bare phrase ("cooking time", "notes and tags") adds fields; chat
	// ("thanks, looks great") does not.
	if len(ws) <= 6 && !hasAny(ws, chatter) {
		items, end := readList(toks, 0)
		s.addItems(items, toks, end, false)
	}
}

// addItems adds list items from a refinement as columns, entities or fields.
func (s *spec) addItems(items []listItem, toks []token, end int, columns bool) {
	if len(items) == 0 {
		return
	}
	last := lastWord(items[len(items)-1].toks)
	switch {
	case columns || columnWord[last] || (s.kind == KindKanban && end < len(toks) && columnWord[toks[end].w]):
		if columnWord[last] {
			li := &items[len(items)-1]
			li.toks = li.toks[:len(li.toks)-1]
		}
		cols := append([]string{}, s.columns...)
		if len(cols) == 0 {
			cols = s.defaultColumns()
		}
		for _, it := range items {
			var raw []string
			for _, t := range trimTokens(it.toks) {
				raw = append(raw, t.raw)
			}
			label := titleWord(cleanText(strings.Join(raw, " "), maxLabelLen))
			if label != "" && len(splitIdent(label)) > 0 && len(cols) < maxColumns && !containsFold(cols, label) {
				cols = append(cols, label)
			}
		}
		s.columns = cols
		return
	case entityMark[last] && s.kind == KindCRUD:
		for _, it := range items {
			ws, _ := cleanItem(it.toks)
			for len(ws) > 1 && entityMark[ws[len(ws)-1]] {
				ws = ws[:len(ws)-1]
			}
			if usableName(ws) || (len(ws) > 0 && !nonField[ws[0]]) {
				if e := s.addEntity(ws); e != nil {
					s.addFieldItems(e, it.group)
				}
			}
		}
		return
	}
	target := s.main()
	if end < len(toks) && (toks[end].w == "to" || toks[end].w == "for" || toks[end].w == "on" || toks[end].w == "in") {
		if rest := takeName(toks[end+1:]); len(rest) > 0 {
			if e := s.findEntity(words(trimTokens(rest))); e != nil {
				target = e
			}
		}
	}
	s.addFieldItems(target, items)
}

func (s *spec) removeColumn(ws []string) {
	cols := s.columns
	if len(cols) == 0 {
		cols = s.defaultColumns()
	}
	var out []string
	for _, c := range cols {
		if camelIdent(splitIdent(c)) != camelIdent(ws) {
			out = append(out, c)
		}
	}
	if len(out) >= 2 {
		s.columns = out
	}
}

func (s *spec) removeEntity(e *entitySpec) {
	for i, x := range s.entities {
		if x == e {
			s.entities = append(s.entities[:i], s.entities[i+1:]...)
			return
		}
	}
}

// takeName reads up to six words as a name, stopping at punctuation.
func takeName(toks []token) []token {
	var out []token
	for _, t := range toks {
		if t.p == '&' && len(out) > 0 {
			out = append(out, t)
			continue
		}
		if !t.word() || len(out) == 6 {
			break
		}
		if len(out) == 0 && (t.w == "a" || t.w == "an" || t.w == "to") {
			continue
		}
		if len(out) > 0 && (t.w == "please" || t.w == "instead" || t.w == "thanks") {
			break
		}
		out = append(out, t)
	}
	return out
}

func hasAny(ws []string, in map[string]bool) bool {
	for _, w := range ws {
		if in[w] {
			return true
		}
	}
	return false
}

func containsFold(xs []string, x string) bool {
	for _, y := range xs {
		if strings.EqualFold(y, x) {
			return true
		}
	}
	return false
}
