package fixer

import (
	"fmt"
	"sort"
	"strings"
	"unicode"

	"github.com/stichdev/stich/sandbox"
)

// This file holds the rules that need the type checker's view (see
// typedSite in ts/facts.mjs) and the Node globals written in browser code:
//
//   - a helper's untyped parameter (TS7006) typed from its call sites,
//     when every one of them passes the same type and the function is
//     used in no other way;
//   - a property the type lacks (TS2339, no compiler suggestion) renamed
//     to the one property of the declared type that clearly matches it;
//   - process.env.X in a Vite app read from import.meta.env, a top-level
//     require() turned into an import; other Node globals (Buffer,
//     __dirname, ...) left for the model, with the reason.

// helperParam types an untyped parameter of a named function from what
// its call sites pass, when they all agree on one type the helper's file
// can write.
func (p *planner) helperParam(d sandbox.Diagnostic) bool {
	s := p.site(d)
	if s == nil || s.Kind != "param" || s.Typed || !s.Helper || len(s.CallTypes) == 0 {
		return false
	}
	typ := s.CallTypes[0]
	for _, t := range s.CallTypes {
		if t != typ {
			p.leave(d, fmt.Sprintf("the call sites of the function pass different types for %s (%s): which one it takes is the author's call", s.Name, strings.Join(distinct(s.CallTypes), ", ")))
			return false
		}
	}
	if typ == "" || reVagueType.MatchString(typ) || !reNamedType.MatchString(typ) {
		return false
	}
	e := p.fe(d.File)
	if e.content[s.Start:s.End] != s.Name {
		return false
	}
	text := s.Name + ": " + typ
	if !s.Parens {
		text = "(" + text + ")"
	}
	calls := "its call site passes"
	if len(s.CallTypes) > 1 {
		calls = fmt.Sprintf("all %d call sites pass", len(s.CallTypes))
	}
	n := p.addFix(d, d.File, fmt.Sprintf("type the parameter %s as %s, the type %s", s.Name, typ, calls), s.Name, text)
	e.edits = append(e.edits, edit{s.Start, s.End, text, n})
	return true
}

func distinct(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if x == "" {
			x = "a value of no nameable type"
		}
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

// bestMember renames a property the object's type lacks to the one
// property that clearly matches it (see [memberMatch]).
func (p *planner) bestMember(d sandbox.Diagnostic, prop, typ string) bool {
	s := p.site(d)
	if s == nil || s.Kind != "member" || s.Name != prop {
		return false
	}
	members := s.Members
	if len(members) == 0 {
		members = p.declaredMembers(typ)
	}
	if len(members) == 0 {
		return false
	}
	best, why := memberMatch(prop, members)
	if best == "" {
		if why != "" {
			p.leave(d, why)
		}
		return false
	}
	e := p.fe(d.File)
	n := p.addFix(d, d.File, fmt.Sprintf("use the property %s instead of %s: %s", best, prop, why), prop, best)
	e.edits = append(e.edits, edit{s.Start, s.End, best, n})
	return true
}

// declaredMembers returns the property names of the one interface or
// object type named typ the project declares, when it lists them all:
// the checker's answer without the checker, for the project's own types.
func (p *planner) declaredMembers(typ string) []string {
	if !reTypeNameOnly.MatchString(typ) {
		return nil
	}
	var found []string
	n := 0
	for _, f := range p.res.paths {
		ff := p.facts.Files[f]
		if ff == nil {
			continue
		}
		for _, dc := range ff.Declarations {
			if dc.Name == typ && (dc.Kind == "interface" || dc.Kind == "type") {
				n++
				found = dc.Members
			}
		}
	}
	if n != 1 {
		return nil // declared twice (merged interfaces, or two modules): ask the checker
	}
	return found
}

// Match strengths of [memberMatch], strongest first.
const (
	matchNone = iota
	matchWord // shares its main word (ingredientList, ingredients)
	matchAbbrev
	matchSpelling // the same name in another case or separator style
)

// memberMatch picks the member name that clearly matches name: the only
// one in the strongest class any member reaches (another spelling of the
// same words; an abbreviation: qty for quantity, desc for description; a
// shared main word). It returns "" and, when candidates tie, why.
func memberMatch(name string, members []string) (string, string) {
	byScore := map[int][]string{}
	top := matchNone
	for _, m := range members {
		if m == name {
			return "", ""
		}
		sc := matchScore(name, m)
		byScore[sc] = append(byScore[sc], m)
		top = max(top, sc)
	}
	if top == matchNone {
		return "", ""
	}
	cands := byScore[top]
	if len(cands) > 1 {
		sort.Strings(cands)
		return "", fmt.Sprintf("%s matches several properties of the type equally (%s): which one was meant is the author's call", name, strings.Join(cands, ", "))
	}
	why := map[int]string{
		matchSpelling: "the same name spelled differently",
		matchAbbrev:   "an abbreviation of it, and no other property matches",
		matchWord:     "the only property sharing its main word",
	}[top]
	return cands[0], why
}

func matchScore(name, member string) int {
	norm := func(s string) string { return strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(s)) }
	a, b := norm(name), norm(member)
	switch {
	case a == b:
		return matchSpelling
	case len(a) >= 3 && a[0] == b[0] && len(a) < len(b) && isSubsequence(a, b) && (strings.HasPrefix(b, a) || consonantsOf(a) == a):
		// qty ⊂ quantity (all consonants), desc ⊂ description (a prefix).
		return matchAbbrev
	}
	wa, wb := words(name), words(member)
	if len(wa) == 0 || len(wb) == 0 {
		return matchNone
	}
	// The main word: the first one of each (ingredientList, ingredients;
	// prepTime, prepMinutes is not enough: "prep" is a modifier).
	if singular(wa[0]) == singular(wb[0]) && len(wa[0]) >= 4 && (len(wa) == 1 || len(wb) == 1) {
		return matchWord
	}
	return matchNone
}

func isSubsequence(a, b string) bool {
	i := 0
	for j := 0; j < len(b) && i < len(a); j++ {
		if a[i] == b[j] {
			i++
		}
	}
	return i == len(a)
}

// consonantsOf keeps a word's first letter and its consonants.
func consonantsOf(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i == 0 || !strings.ContainsRune("aeiou", r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// words splits camelCase, snake_case and kebab-case names into lower-case
// words.
func words(s string) []string {
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.ToLower(string(cur)))
			cur = nil
		}
	}
	for _, r := range s {
		switch {
		case r == '_' || r == '-' || r == '$':
			flush()
		case unicode.IsUpper(r) && len(cur) > 0 && !unicode.IsUpper(cur[len(cur)-1]):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
	}
	flush()
	return out
}

func singular(w string) string {
	switch {
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		return w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "ss"):
		return w
	case strings.HasSuffix(w, "s") && len(w) > 3:
		return w[:len(w)-1]
	}
	return w
}

// --- Node globals in browser code (TS2580, TS2591, TS2304) ---

// nodeGlobals are the names Node defines and browsers do not.
var nodeGlobals = map[string]string{
	"process":    "",
	"require":    "",
	"Buffer":     "Buffer is Node's; in the browser the bytes are a Uint8Array, text goes through TextEncoder/btoa: how to encode here is the author's call",
	"__dirname":  "__dirname is Node's and has no meaning in a browser bundle: what path the code wanted is the author's call",
	"__filename": "__filename is Node's and has no meaning in a browser bundle: what the code wanted is the author's call",
	"module":     "module (CommonJS) is Node's: an ES module exports with export; what to export is the author's call",
	"exports":    "exports (CommonJS) is Node's: an ES module exports with export; what to export is the author's call",
	"global":     "global is Node's; the browser's is globalThis or window: which one the code needs is the author's call",
}

func (p *planner) nodeGlobal(d sandbox.Diagnostic) bool {
	name := quoted(d.Message, 0)
	reason, ok := nodeGlobals[name]
	if !ok {
		return false
	}
	s := p.site(d)
	switch {
	case s != nil && s.Kind == "env":
		return p.processEnv(d, s)
	case s != nil && s.Kind == "require":
		return p.requireImport(d, s)
	case name == "process":
		reason = "process is Node's; a Vite app reads its settings from import.meta.env, but this use is no process.env.NAME read: what it meant is the author's call"
	case name == "require":
		reason = "require is Node's: only a top-level const x = require(\"m\") (or a destructuring of it) becomes an import; this one needs the author"
	}
	p.leave(d, reason)
	return false
}

// processEnv reads process.env.X from import.meta.env in a Vite app:
// NODE_ENV as MODE, other names with Vite's VITE_ prefix (the only ones
// Vite exposes to the browser) in place of create-react-app's REACT_APP_
// or Next's NEXT_PUBLIC_.
func (p *planner) processEnv(d sandbox.Diagnostic, s *site) bool {
	pj := p.packageJSON()
	if pj == nil || !pj.hasDep("vite") {
		p.leave(d, "process.env is Node's and the app does not use Vite: how its browser code reads settings is the author's call")
		return false
	}
	if s.Flag {
		p.leave(d, "the code assigns to process.env: import.meta.env is read-only settings, so what it meant is the author's call")
		return false
	}
	key := s.Name
	var to string
	switch {
	case key == "NODE_ENV":
		to = "import.meta.env.MODE"
	case strings.HasPrefix(key, "VITE_"):
		to = "import.meta.env." + key
	default:
		for _, pre := range []string{"REACT_APP_", "NEXT_PUBLIC_", "VUE_APP_", "PUBLIC_"} {
			key = strings.TrimPrefix(key, pre)
		}
		to = "import.meta.env.VITE_" + key
	}
	if !p.viteClientTypes(d) {
		return false
	}
	e := p.fe(d.File)
	desc := fmt.Sprintf("read %s from %s: a Vite app has no process.env in the browser", s.Name, to)
	if key != s.Name && s.Name != "NODE_ENV" {
		desc += fmt.Sprintf(" (Vite exposes only VITE_ variables: set VITE_%s where %s was set)", key, s.Name)
	}
	n := p.addFix(d, d.File, desc, s.Text, to)
	e.edits = append(e.edits, edit{s.Start, s.End, to, n})
	return true
}

// viteClientTypes makes import.meta.env type-check: Vite's client types
// referenced from a .d.ts or tsconfig's types, else src/vite-env.d.ts
// created (see assetTypes).
func (p *planner) viteClientTypes(d sandbox.Diagnostic) bool {
	if p.assetsOK || strings.Contains(p.files["tsconfig.json"], "vite/client") || strings.Contains(p.files["tsconfig.app.json"], "vite/client") {
		return true
	}
	for _, f := range p.res.paths {
		if strings.HasSuffix(f, ".d.ts") && strings.Contains(p.files[f], "vite/client") {
			return true
		}
	}
	return p.assetTypes(d) && p.created["src/assets.d.ts"] == nil
}

// requireImport turns a top-level `const x = require("m")` (or `const {
// a, b: c } = require("m")`, or a bare `require("m")`) into the import
// that means the same in an ES module.
func (p *planner) requireImport(d sandbox.Diagnostic, s *site) bool {
	if !s.Flag {
		p.leave(d, "require() inside code (not a top-level const x = require(\"m\")) has no ES-module equivalent in place: a dynamic import() is async, so how to restructure is the author's call")
		return false
	}
	spec := s.Text
	var text string
	switch {
	case s.Name == "*side-effect":
		text = fmt.Sprintf("import %q;", spec)
	case s.Name != "":
		if classify(spec) == specPackage {
			p.leave(d, fmt.Sprintf("const %s = require(%q): whether the package has a default export or %s is its namespace is not known here; the author decides the import", s.Name, spec, s.Name))
			return false
		}
		target := p.res.exact(p.res.base(d.File, spec))
		if target == "" {
			return false
		}
		if _, hasDefault := p.exportsOf(target); hasDefault {
			text = fmt.Sprintf("import %s from %q;", s.Name, spec)
		} else {
			text = fmt.Sprintf("import * as %s from %q;", s.Name, spec)
		}
	case len(s.Bindings) > 0:
		var parts []string
		for _, b := range s.Bindings {
			name, alias, renamed := strings.Cut(b, ":")
			if renamed && alias != name {
				parts = append(parts, name+" as "+alias)
			} else {
				parts = append(parts, name)
			}
		}
		text = fmt.Sprintf("import { %s } from %q;", strings.Join(parts, ", "), spec)
	default:
		return false
	}
	e := p.fe(d.File)
	old := e.content[s.Start:s.End]
	n := p.addFix(d, d.File, "import the module: require() is CommonJS, which the browser bundle does not have", old, text)
	e.edits = append(e.edits, edit{s.Start, s.End, text, n})
	return true
}

// leave records that d is left for the model on purpose, and why.
func (p *planner) leave(d sandbox.Diagnostic, reason string) {
	for _, l := range p.out.Left {
		if l.Code == d.Code && l.File == d.File && l.Line == d.Line && l.Reason == reason {
			return
		}
	}
	p.out.Left = append(p.out.Left, Left{Code: d.Code, File: d.File, Line: d.Line, Reason: reason})
}
