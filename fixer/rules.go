package fixer

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/stichdev/stich/sandbox"
)

// This file holds the rules for mistakes that are no import problems:
// JSX written like HTML, React API drift, types the checker already
// knows, nullable access and the unused family beyond imports. Each rule
// acts only on the code the parser located at the diagnostic (a [site])
// and only when the diagnostic's message says exactly what is wrong.

// htmlAttrRenames maps HTML attribute names to React's.
var htmlAttrRenames = map[string]string{
	"class": "className", "for": "htmlFor", "tabindex": "tabIndex", "readonly": "readOnly",
	"maxlength": "maxLength", "minlength": "minLength", "autofocus": "autoFocus", "autocomplete": "autoComplete",
	"colspan": "colSpan", "rowspan": "rowSpan", "contenteditable": "contentEditable", "crossorigin": "crossOrigin",
	"enctype": "encType", "formaction": "formAction", "novalidate": "noValidate", "srcset": "srcSet",
	"spellcheck": "spellCheck", "charset": "charSet", "datetime": "dateTime", "accesskey": "accessKey",
	"onclick": "onClick", "onchange": "onChange", "oninput": "onInput", "onsubmit": "onSubmit",
	"onkeydown": "onKeyDown", "onkeyup": "onKeyUp", "onkeypress": "onKeyPress", "onblur": "onBlur",
	"onfocus": "onFocus", "onmouseover": "onMouseOver", "onmouseout": "onMouseOut", "onmouseenter": "onMouseEnter",
	"onmouseleave": "onMouseLeave", "onmousedown": "onMouseDown", "onmouseup": "onMouseUp", "ondblclick": "onDoubleClick",
	"onload": "onLoad", "onerror": "onError", "onscroll": "onScroll", "ondragstart": "onDragStart", "ondrop": "onDrop",
	"ondragover": "onDragOver", "ontouchstart": "onTouchStart", "ontouchend": "onTouchEnd",
}

func htmlAttrNames() []string {
	out := make([]string, 0, len(htmlAttrRenames))
	for k := range htmlAttrRenames {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var (
	reNoProperty   = regexp.MustCompile(`Property '([A-Za-z_$][A-Za-z0-9_$-]*)' does not exist on type '([^']*)'`)
	reArgType      = regexp.MustCompile(`^Argument of type '(.+)' is not assignable to parameter of type '(.+)'\.`)
	reAssignType   = regexp.MustCompile(`^Type '(.+)' is not assignable to type '(.+)'\.`)
	reSetState     = regexp.MustCompile(`^SetStateAction<(never\[\]|null|undefined)>$`)
	reInputValue   = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*(\??\.[A-Za-z_$][A-Za-z0-9_$]*)*\.value$`)
	reDOMLookup    = regexp.MustCompile(`^document\.(getElementById|querySelector)\(`)
	reElementType  = regexp.MustCompile(`^(HTML|SVG)[A-Za-z]*Element$`)
	reVagueType    = regexp.MustCompile(`\b(any|unknown|never|object|Object)\b`)
	reNamedType    = regexp.MustCompile(`^\(?[A-Za-z_$][A-Za-z0-9_$.]*(<[A-Za-z0-9_$.,<>\[\]| ]*>)?(\[\])*( \| [A-Za-z_$][A-Za-z0-9_$.]*(\[\])*)*\)?(\[\])*$`)
	reTypeNameOnly = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)
)

// site returns the parser's description of what d points at, or nil.
func (p *planner) site(d sandbox.Diagnostic) *site {
	return p.sites[fmt.Sprintf("%s:%d:%d:%d", d.File, d.Line, d.Column, d.Code)]
}

// once reports whether key is new, and marks it done.
func (p *planner) once(key string) bool {
	if p.done[key] {
		return false
	}
	p.done[key] = true
	return true
}

// --- JSX syntax (TS17008, TS17002) ---

// voidElements closes void elements written like HTML (<input ...>,
// <br>): the parse error they cause hides every other diagnostic.
func (p *planner) voidElements(d sandbox.Diagnostic) bool {
	e := p.fe(d.File)
	if len(e.ff.VoidOpen) == 0 {
		return p.closeTags(d, e)
	}
	if !p.once(d.File + ":void") {
		return true
	}
	for _, at := range e.ff.VoidOpen {
		text := " />"
		if at > 0 && (e.content[at-1] == ' ' || e.content[at-1] == '\n') {
			text = "/>"
		}
		line := strings.Count(e.content[:at], "\n") + 1
		n := p.addFix(sandbox.Diagnostic{Code: d.Code, File: d.File, Line: line}, d.File, "close the void element with />, as JSX requires", ">", strings.TrimSpace(text))
		e.edits = append(e.edits, edit{at, at + 1, text, n})
	}
	return true
}

// closeTags adds the closing tags of non-void elements left open (<p>
// without </p>), where the file's indentation puts them; the parser
// checked that with all of them the file parses.
func (p *planner) closeTags(d sandbox.Diagnostic, e *fileEdit) bool {
	if len(e.ff.Unclosed) == 0 {
		return false
	}
	if !p.once(d.File + ":unclosed") {
		return true
	}
	for _, c := range e.ff.Unclosed {
		line := strings.Count(e.content[:c.At], "\n") + 1
		n := p.addFix(sandbox.Diagnostic{Code: d.Code, File: d.File, Line: line}, d.File,
			fmt.Sprintf("close <%s> where its content ends (by the indentation): the parse error hid every other diagnostic", c.Tag), "", strings.TrimSpace(c.Text))
		e.edits = append(e.edits, edit{c.At, c.At, c.Text, n})
	}
	return true
}

// --- types imported with import type but used as values (TS1361) ---

func (p *planner) typeImportAsValue(d sandbox.Diagnostic) bool {
	name := quoted(d.Message, 0)
	if !identRe.MatchString(name) || !strings.Contains(d.Message, "import type") {
		return false
	}
	e := p.fe(d.File)
	for i, im := range e.ff.Imports {
		m := e.model(i)
		if m.removed || !m.hasLocal(name) {
			continue
		}
		if !p.once(d.File + ":value-import:" + name) {
			return true
		}
		switch {
		case m.typeOnly:
			m.typeOnly = false
			for j := range m.named {
				m.named[j].typeOnly = m.named[j].alias != name
			}
			if m.def != "" && m.def != name {
				return false // import type D, { X }: not expressible as one import
			}
		default:
			j := m.findNamed(name)
			if j < 0 || !m.named[j].typeOnly {
				return false
			}
			m.named[j].typeOnly = false
		}
		_ = im
		p.importFix(d, i, fmt.Sprintf("import %s as a value: the code uses it as one", name))
		return true
	}
	return false
}

// --- TS2339: ReactDOM.render, children missing from props ---

func (p *planner) missingProperty(d sandbox.Diagnostic) bool {
	mm := reNoProperty.FindStringSubmatch(d.Message)
	if mm == nil {
		return false
	}
	prop, typ := mm[1], mm[2]
	s := p.site(d)
	e := p.fe(d.File)
	switch {
	case prop == "render" && s != nil && s.Kind == "render" && strings.Contains(typ, "react-dom"):
		return p.reactDOMRender(d, e, s)
	case prop == "children" && reTypeNameOnly.MatchString(typ):
		return p.addChildren(d, typ)
	}
	return p.bestMember(d, prop, typ)
}

// reactDOMRender rewrites React 17's ReactDOM.render(el, root) to React
// 18+'s createRoot(root).render(el).
func (p *planner) reactDOMRender(d sandbox.Diagnostic, e *fileEdit, s *site) bool {
	fromReactDOM := false
	for _, im := range e.ff.Imports {
		if im.Spec == "react-dom" && (im.Default != nil && im.Default.Name == s.Name || im.Namespace != nil && im.Namespace.Name == s.Name) {
			fromReactDOM = true
		}
	}
	if !fromReactDOM {
		return false
	}
	root := s.Text2
	if s.Flag && !strings.HasSuffix(root, "!") {
		root += "!"
	}
	text := fmt.Sprintf("createRoot(%s).render(%s)", root, s.Text)
	n := p.addFix(d, d.File, "use createRoot(root).render(element): ReactDOM.render was removed in React 19", e.content[s.Start:s.End], text)
	e.edits = append(e.edits, edit{s.Start, s.End, text, n})
	if !e.declared["createRoot"] {
		e.declared["createRoot"] = true
		p.addImport(d, e, "react-dom/client", "createRoot", "createRoot", false)
	}
	return true
}

// addChildren adds `children?: ReactNode` to the props type typ, which
// the component reads children from.
func (p *planner) addChildren(d sandbox.Diagnostic, typ string) bool {
	file := ""
	var decl declFact
	for _, f := range append([]string{d.File}, p.res.paths...) {
		ff := p.facts.Files[f]
		if ff == nil {
			continue
		}
		for _, dc := range ff.Declarations {
			if dc.Name == typ && dc.BodyEnd > 0 {
				file, decl = f, dc
			}
		}
		if file != "" {
			break
		}
	}
	if file == "" {
		return false
	}
	if !p.once(file + ":children:" + typ) {
		return true
	}
	e := p.fe(file)
	at := decl.BodyEnd
	lineStart := strings.LastIndexByte(e.content[:at], '\n') + 1
	var text string
	if strings.TrimSpace(e.content[lineStart:at]) == "" {
		at = lineStart
		text = "  children?: ReactNode;\n"
	} else {
		prev := strings.TrimRight(e.content[:at], " \t")
		sep := "; "
		if strings.HasSuffix(prev, ";") || strings.HasSuffix(prev, ",") || strings.HasSuffix(prev, "{") {
			sep = " "
		}
		text = sep + "children?: ReactNode "
		if strings.HasSuffix(e.content[:at], " ") {
			text = strings.TrimPrefix(sep, " ") + "children?: ReactNode "
			if sep == " " {
				text = "children?: ReactNode "
			}
		}
	}
	n := p.addFix(d, file, fmt.Sprintf("add children?: ReactNode to %s: the component renders its children", typ), "", strings.TrimSpace(text))
	e.edits = append(e.edits, edit{at, at, text, n})
	p.ensureReactType(e, "ReactNode")
	return true
}

// --- TS2322, TS2345: HTML attributes, useState types, numbers, roots ---

func (p *planner) notAssignable(d sandbox.Diagnostic) bool {
	if mm := reNoProperty.FindStringSubmatch(d.Message); mm != nil {
		if to, ok := htmlAttrRenames[mm[1]]; ok {
			return p.renameHTMLAttr(d, mm[1], to)
		}
	}
	s := p.site(d)
	if s == nil {
		return false
	}
	first := firstLine(d.Message)
	var from, to string
	if mm := reArgType.FindStringSubmatch(first); mm != nil {
		from, to = mm[1], mm[2]
	} else if mm := reAssignType.FindStringSubmatch(first); mm != nil {
		from, to = mm[1], mm[2]
	} else {
		return false
	}
	e := p.fe(d.File)
	switch {
	case s.Kind == "arg" && s.Flag && s.Index == 0 && s.Name == "useEffect" && strings.Contains(to, "EffectCallback"):
		// useEffect(async () => {...}): the effect must return nothing or a
		// cleanup, not a promise; run the async body inside it.
		body := e.content[s.At:s.End]
		text := "() => {\n    void (async () => " + body + ")();\n  }"
		n := p.addFix(d, d.File, "run the async effect inside a synchronous one: an effect must not return a promise", "useEffect(async () => {", "useEffect(() => { void (async () => {")
		e.edits = append(e.edits, edit{s.Start, s.End, text, n})
		return true
	case s.Kind == "arg" && s.Text2 == "expr" && s.Start < s.At && s.At < s.End && s.Index == 0 && s.Name == "useEffect" && strings.HasPrefix(from, "Promise<") && strings.Contains(to, "Destructor"):
		// useEffect(() => load().then(...)): the arrow returns the
		// promise; in braces it returns nothing.
		body := e.content[s.At:s.End]
		text := "{\n    " + body + ";\n  }"
		n := p.addFix(d, d.File, "put the effect's body in braces: an effect returns nothing or a cleanup, not a promise", "() => "+firstLine(body), "() => { "+firstLine(body)+"; }")
		e.edits = append(e.edits, edit{s.At, s.End, text, n})
		return true
	case s.Kind == "arg" && reSetState.MatchString(to):
		return p.typeState(d, e, s, from, reSetState.FindStringSubmatch(to)[1])
	case s.Kind == "arg" && to == "never" && strings.HasPrefix(s.Text, "["):
		// An element of the array passed to the setter of useState([]).
		elem := from
		if strings.ContainsAny(elem, "|&") {
			elem = "(" + elem + ")"
		}
		return p.typeState(d, e, s, elem+"[]", "never[]")
	case from == "string" && (to == "number" || to == "SetStateAction<number>") && (s.Kind == "arg" || s.Kind == "prop") && reInputValue.MatchString(s.Text):
		text := "Number(" + s.Text + ")"
		n := p.addFix(d, d.File, "convert the input's string value with Number(): the code expects a number", s.Text, text)
		e.edits = append(e.edits, edit{s.Start, s.End, text, n})
		return true
	case s.Kind == "arg" && strings.HasSuffix(from, " | null") && !strings.Contains(to, "null") && reDOMLookup.MatchString(s.Text):
		text := s.Text + "!"
		n := p.addFix(d, d.File, "assert the looked-up element exists (!): index.html has it", s.Text, text)
		e.edits = append(e.edits, edit{s.End, s.End, "!", n})
		return true
	}
	return false
}

// renameHTMLAttr renames every attribute from on an intrinsic element of
// d's file to React's name.
func (p *planner) renameHTMLAttr(d sandbox.Diagnostic, from, to string) bool {
	e := p.fe(d.File)
	if !p.once(d.File + ":attr:" + from) {
		return true
	}
	found := false
	for _, a := range e.ff.HTMLAttrs {
		if a.Name != from {
			continue
		}
		found = true
		line := strings.Count(e.content[:a.Start], "\n") + 1
		n := p.addFix(sandbox.Diagnostic{Code: d.Code, File: d.File, Line: line}, d.File, fmt.Sprintf("write the <%s> attribute %s as React's %s", a.Tag, from, to), from, to)
		e.edits = append(e.edits, edit{a.Start, a.End, to, n})
	}
	return found
}

// typeState gives useState([]) or useState(null) the type a later setter
// call shows it holds.
func (p *planner) typeState(d sandbox.Diagnostic, e *fileEdit, s *site, argType, stateType string) bool {
	var hook *stateHook
	for i := range e.ff.StateHooks {
		if h := &e.ff.StateHooks[i]; h.Setter == s.Name {
			hook = h
		}
	}
	// Only types the code names: an anonymous object type in the message
	// is the literal's shape, not the type the author meant.
	if hook == nil || hook.TypeArgs || reVagueType.MatchString(argType) || !reNamedType.MatchString(argType) || len(argType) > 200 {
		return false
	}
	var typ string
	switch {
	case stateType == "never[]" && hook.Init == "array" && strings.HasSuffix(argType, "[]"):
		typ = argType
	case stateType == "null" && hook.Init == "null":
		typ = strings.TrimSuffix(argType, " | null") + " | null"
	case stateType == "undefined" && (hook.Init == "undefined" || hook.Init == "none"):
		typ = strings.TrimSuffix(argType, " | undefined") + " | undefined"
	default:
		return false
	}
	if !p.once(d.File + ":state:" + s.Name) {
		return true
	}
	text := "<" + typ + ">"
	n := p.addFix(d, d.File, fmt.Sprintf("type the state of %s as %s, what the code stores in it", s.Name, typ), "useState", "useState"+text)
	e.edits = append(e.edits, edit{hook.At, hook.At, text, n})
	return true
}

// --- TS2554: useRef() without its argument (React 19) ---

func (p *planner) useRefArgument(d sandbox.Diagnostic) bool {
	s := p.site(d)
	if s == nil || s.Kind != "call0" || !strings.Contains(d.Message, "got 0") || s.Text == "" {
		return false
	}
	e := p.fe(d.File)
	if s.Name == "createContext" {
		return p.contextDefault(d, e, s)
	}
	if s.Name != "useRef" {
		return false
	}
	if reElementType.MatchString(s.Text) {
		n := p.addFix(d, d.File, "pass useRef its initial value null (required since React 19)", "useRef<"+s.Text+">()", "useRef<"+s.Text+">(null)")
		e.edits = append(e.edits, edit{s.At, s.At, "null", n})
		return true
	}
	if s.End <= s.Start || strings.Contains(s.Text, "undefined") {
		return false
	}
	typ := s.Text + " | undefined"
	n := p.addFix(d, d.File, "pass useRef its initial value undefined (required since React 19)", "useRef<"+s.Text+">()", "useRef<"+typ+">(undefined)")
	e.edits = append(e.edits, edit{s.Start, s.End, typ, n}, edit{s.At, s.At, "undefined", n})
	return true
}

// contextDefault: createContext<T | null>() without its default value
// (required by React 19's types) gets the empty value its own type
// names: null, else undefined. A type that allows neither needs a real
// default, which is the author's call.
func (p *planner) contextDefault(d sandbox.Diagnostic, e *fileEdit, s *site) bool {
	arg := ""
	for _, v := range []string{"null", "undefined"} {
		if unionHas(s.Text, v) {
			arg = v
			break
		}
	}
	if arg == "" {
		return false
	}
	n := p.addFix(d, d.File, "pass createContext its default value "+arg+", which its type allows (required since React 19)", "createContext<"+s.Text+">()", "createContext<"+s.Text+">("+arg+")")
	e.edits = append(e.edits, edit{s.At, s.At, arg, n})
	return true
}

// unionHas reports whether the type text is a union with the member v at
// its top level.
func unionHas(typ, v string) bool {
	depth := 0
	start := 0
	for i := 0; i <= len(typ); i++ {
		if i < len(typ) {
			switch typ[i] {
			case '<', '(', '[', '{':
				depth++
				continue
			case '>', ')', ']', '}':
				depth--
				continue
			case '|':
			default:
				continue
			}
			if depth != 0 {
				continue
			}
		}
		if strings.TrimSpace(typ[start:i]) == v {
			return true
		}
		start = i + 1
	}
	return false
}

// --- TS18047 and friends: possibly null or undefined ---

func (p *planner) nullableAccess(d sandbox.Diagnostic) bool {
	s := p.site(d)
	if s == nil || s.Kind != "nullable" {
		return false
	}
	name := quoted(d.Message, 0)
	e := p.fe(d.File)
	for _, c := range s.Candidates {
		if name != "" && c.Object != name {
			continue
		}
		if c.Optional || c.Assigned {
			return false
		}
		text := "?"
		if c.At < len(e.content) && e.content[c.At] == '[' {
			text = "?."
		}
		n := p.addFix(d, d.File, fmt.Sprintf("access %s optionally (?.): it may be null or undefined", c.Object), c.Object+".", c.Object+"?.")
		e.edits = append(e.edits, edit{c.At, c.At, text, n})
		return true
	}
	return false
}

// --- TS7006: untyped event handler parameters ---

var eventTypes = map[string]string{
	"onChange": "ChangeEvent", "onInput": "FormEvent", "onSubmit": "FormEvent", "onReset": "FormEvent",
	"onClick": "MouseEvent", "onDoubleClick": "MouseEvent", "onMouseDown": "MouseEvent", "onMouseUp": "MouseEvent",
	"onMouseEnter": "MouseEvent", "onMouseLeave": "MouseEvent", "onMouseOver": "MouseEvent", "onMouseOut": "MouseEvent",
	"onContextMenu": "MouseEvent", "onKeyDown": "KeyboardEvent", "onKeyUp": "KeyboardEvent", "onKeyPress": "KeyboardEvent",
	"onFocus": "FocusEvent", "onBlur": "FocusEvent", "onDragStart": "DragEvent", "onDragOver": "DragEvent", "onDrop": "DragEvent",
}

var elementTypes = map[string]string{
	"input": "HTMLInputElement", "textarea": "HTMLTextAreaElement", "select": "HTMLSelectElement", "form": "HTMLFormElement",
	"button": "HTMLButtonElement", "a": "HTMLAnchorElement", "div": "HTMLDivElement", "span": "HTMLSpanElement",
	"li": "HTMLLIElement", "img": "HTMLImageElement", "label": "HTMLLabelElement", "section": "HTMLElement",
	"article": "HTMLElement", "header": "HTMLElement", "main": "HTMLElement", "nav": "HTMLElement", "ul": "HTMLUListElement",
	"tr": "HTMLTableRowElement", "td": "HTMLTableCellElement", "p": "HTMLParagraphElement", "canvas": "HTMLCanvasElement",
}

// handlerParam types the event parameter of a handler from the JSX
// attributes it is passed to, when they all agree.
func (p *planner) handlerParam(d sandbox.Diagnostic) bool {
	s := p.site(d)
	if s == nil || s.Kind != "param" || s.Typed || s.Index != 0 || s.Count != 1 || len(s.Uses) == 0 {
		return false
	}
	typ := ""
	for _, u := range s.Uses {
		attr, tag, ok := strings.Cut(u, ":")
		ev, el := eventTypes[attr], elementTypes[tag]
		if !ok || ev == "" || el == "" {
			return false
		}
		t := ev + "<" + el + ">"
		if typ != "" && typ != t {
			return false
		}
		typ = t
	}
	e := p.fe(d.File)
	if e.content[s.Start:s.End] != s.Name {
		return false // a default value or a pattern
	}
	text := s.Name + ": " + typ
	if !s.Parens {
		text = "(" + text + ")"
	}
	n := p.addFix(d, d.File, fmt.Sprintf("type the handler parameter %s as %s, the event of the element it handles", s.Name, typ), s.Name, text)
	e.edits = append(e.edits, edit{s.Start, s.End, text, n})
	ev, _, _ := strings.Cut(typ, "<")
	p.ensureReactType(e, ev)
	return true
}

// --- unused declarations beyond imports (TS6133, TS6196) ---

// unusedDecl deletes an unused declaration statement without side
// effects, or a callback's trailing unused parameters.
func (p *planner) unusedDecl(d sandbox.Diagnostic) bool {
	s := p.site(d)
	if s == nil {
		return false
	}
	e := p.fe(d.File)
	switch s.Kind {
	case "stmt":
		if !s.Pure || s.Name != quoted(d.Message, 0) || e.declared[s.Name] {
			return false // e.declared: another fix exports it, for a file that imports it
		}
		n := p.addFix(d, d.File, fmt.Sprintf("delete %s, which is never used", s.Name), firstLine(strings.TrimSpace(e.content[s.Start:s.End])), "")
		e.edits = append(e.edits, edit{s.Start, s.End, "", n})
		return true
	case "param":
		if !s.Callback || s.Index == 0 {
			return false
		}
		// Deletable only when every later parameter goes too.
		for i := s.Index + 1; i < s.Count; i++ {
			if !p.unusedParams[fmt.Sprintf("%s:%d:%d", d.File, s.At, i)] {
				return false
			}
		}
		n := p.addFix(d, d.File, fmt.Sprintf("delete the unused trailing parameter %s", s.Name), e.content[s.Start:s.End], "")
		e.edits = append(e.edits, edit{s.Start, s.End, "", n})
		return true
	}
	return false
}

// --- TS7053: Object.keys(x) indexes x with plain strings ---

func (p *planner) objectKeys(d sandbox.Diagnostic) bool {
	s := p.site(d)
	if s == nil || s.Kind != "keys" || !identRe.MatchString(s.Name) {
		return false
	}
	if !p.once(fmt.Sprintf("%s:keys:%d", d.File, s.Start)) {
		return true
	}
	e := p.fe(d.File)
	text := fmt.Sprintf("(%s as (keyof typeof %s)[])", s.Text, s.Name)
	n := p.addFix(d, d.File, fmt.Sprintf("type Object.keys(%s) as the keys of %s", s.Name, s.Name), s.Text, text)
	e.edits = append(e.edits, edit{s.Start, s.End, text, n})
	return true
}

// --- TS2559: style written as a CSS string ---

var reCSSProp = regexp.MustCompile(`^-?[a-zA-Z][a-zA-Z0-9-]*$`)

// styleString turns style="a: b; c-d: e" (or a template literal) into
// React's style object.
func (p *planner) styleString(d sandbox.Diagnostic) bool {
	s := p.site(d)
	if s == nil || s.Kind != "style" {
		return false
	}
	raw := s.Text
	if strings.HasPrefix(raw, "{") && strings.HasSuffix(raw, "}") {
		raw = strings.TrimSpace(raw[1 : len(raw)-1])
	}
	if len(raw) < 2 {
		return false
	}
	q := raw[0]
	if (q != '"' && q != '\'' && q != '`') || raw[len(raw)-1] != q {
		return false
	}
	body := raw[1 : len(raw)-1]
	if strings.ContainsAny(body, "\\") || (q != '`' && strings.Contains(body, "${")) {
		return false
	}
	var props []string
	for _, decl := range strings.Split(body, ";") {
		decl = strings.TrimSpace(decl)
		if decl == "" {
			continue
		}
		name, value, ok := strings.Cut(decl, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || !reCSSProp.MatchString(name) || value == "" || strings.ContainsAny(value, "\"'`") && q != '`' {
			return false
		}
		key := cssKey(name)
		val := quoteJS(value)
		if strings.Contains(value, "${") {
			if strings.Contains(value, "`") {
				return false
			}
			val = "`" + value + "`"
		}
		props = append(props, key+": "+val)
	}
	if len(props) == 0 {
		return false
	}
	e := p.fe(d.File)
	text := "{{ " + strings.Join(props, ", ") + " }}"
	n := p.addFix(d, d.File, "write the inline style as an object, as React requires", s.Text, text)
	e.edits = append(e.edits, edit{s.Start, s.End, text, n})
	return true
}

// cssKey is a CSS property's name in a React style object.
func cssKey(name string) string {
	if strings.HasPrefix(name, "--") {
		return quoteJS(name)
	}
	parts := strings.Split(strings.TrimPrefix(name, "-"), "-")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	k := strings.Join(parts, "")
	if strings.HasPrefix(name, "-") && k != "" {
		k = strings.ToUpper(k[:1]) + k[1:] // -webkit-x → WebkitX
	}
	return k
}

// --- libraries: names imported from them without an import ---

// libraryExports are names apps commonly use from a library without
// importing them (or import as a default): the fixer imports them when
// the app declares the library in package.json.
var libraryExports = map[string][]string{
	"react-router-dom": {"BrowserRouter", "HashRouter", "Link", "MemoryRouter", "NavLink", "Navigate", "Outlet", "Route", "RouterProvider", "Routes",
		"createBrowserRouter", "createHashRouter", "useLocation", "useMatch", "useNavigate", "useOutletContext", "useParams", "useSearchParams"},
	"date-fns": {"addDays", "addHours", "addMinutes", "addMonths", "addWeeks", "differenceInDays", "differenceInHours", "differenceInMinutes",
		"endOfDay", "endOfMonth", "endOfWeek", "format", "formatDistance", "formatDistanceToNow", "formatISO", "isAfter", "isBefore", "isSameDay",
		"isToday", "isValid", "parse", "parseISO", "startOfDay", "startOfMonth", "startOfWeek", "subDays", "subMonths"},
	"zod":      {"z"},
	"zustand":  {"create"},
	"clsx":     {"clsx"},
	"nanoid":   {"nanoid"},
	"uuid":     {"v4"},
	"recharts": {"Bar", "BarChart", "CartesianGrid", "Cell", "Legend", "Line", "LineChart", "Pie", "PieChart", "ResponsiveContainer", "Tooltip", "XAxis", "YAxis"},
}

// libraryOf returns the declared library that exports name, or "".
func (p *planner) libraryOf(name string) string {
	pj := p.packageJSON()
	if pj == nil {
		return ""
	}
	pkgs := make([]string, 0, len(libraryExports))
	for pkg := range libraryExports {
		pkgs = append(pkgs, pkg)
	}
	sort.Strings(pkgs)
	found := ""
	for _, pkg := range pkgs {
		for _, n := range libraryExports[pkg] {
			if n == name && pj.hasDep(pkg) {
				if found != "" {
					return "" // two libraries export it: not ours to choose
				}
				found = pkg
			}
		}
	}
	return found
}

// libraryDefault: `import Link from "react-router-dom"`, a library without
// a default export that exports the name.
func (p *planner) libraryDefault(d sandbox.Diagnostic) bool {
	i := p.importAt(d)
	if i < 0 {
		return false
	}
	e := p.fe(d.File)
	m := e.model(i)
	im := e.ff.Imports[i]
	if m.removed || im.Default == nil || m.def != im.Default.Name || classify(im.Spec) != specPackage {
		return false
	}
	local := im.Default.Name
	ok := false
	for _, n := range libraryExports[packageName(im.Spec)] {
		ok = ok || n == local
	}
	if !ok {
		return false
	}
	m.def = ""
	m.named = append(m.named, namedSpec{name: local, alias: local})
	p.importFix(d, i, fmt.Sprintf("import { %s }: %s has no default export", local, im.Spec))
	return true
}
