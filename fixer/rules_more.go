package fixer

import (
	"fmt"
	"strings"

	"github.com/stichdev/stich/sandbox"
)

// More rules by class of mistake (each acts only on the site the parser
// located and only when the message says what is wrong):
//
//   - exports a library moved to another of its modules (react-dom's
//     createRoot to react-dom/client, React 18);
//   - an optional function called as a statement (TS2722) called with ?.;
//   - err.message on a catch clause's variable (TS18046, unknown under
//     strict) read only when err is an Error;
//   - a component destructuring only children without a props type
//     (TS7031) typed { children: ReactNode };
//   - an effect written as an arrow whose body is a promise (TS2322)
//     given braces: an effect returns nothing or a cleanup.

// movedExports maps a library module to the exports that moved from it,
// and where they moved.
var movedExports = map[string]map[string]string{
	"react-dom": {"createRoot": "react-dom/client", "hydrateRoot": "react-dom/client"},
}

// movedExport rewrites an import of names that moved to another module of
// the same library, when every name it imports moved there.
func (p *planner) movedExport(d sandbox.Diagnostic, i int, name string) bool {
	e := p.fe(d.File)
	im := e.ff.Imports[i]
	moved := movedExports[im.Spec]
	to := moved[name]
	if to == "" || im.Default != nil || im.Namespace != nil {
		return false
	}
	m := e.model(i)
	if m.spec == to {
		return true // another name of this import moved it already
	}
	for _, n := range im.Named {
		if moved[n.Name] != to {
			return false
		}
	}
	old := m.spec
	m.spec = to
	p.importFix(d, i, fmt.Sprintf("import %s from %q: it moved there from %q", name, to, old))
	return true
}

// optionalCall: obj.fn(...) as a statement of its own, where fn may be
// undefined, becomes obj.fn?.(...): nothing uses the call's value.
func (p *planner) optionalCall(d sandbox.Diagnostic) bool {
	s := p.site(d)
	if s == nil || s.Kind != "optcall" || !s.Flag || !strings.Contains(d.Message, "possibly 'undefined'") {
		return false
	}
	e := p.fe(d.File)
	n := p.addFix(d, d.File, fmt.Sprintf("call %s only when it is given (?.): it is optional", s.Name), s.Name+"(", s.Name+"?.(")
	e.edits = append(e.edits, edit{s.At, s.At, "?.", n})
	return true
}

// caughtMessage: err.message where err is a catch clause's variable
// (unknown) reads the message of an Error and the string of anything
// else thrown.
func (p *planner) caughtMessage(d sandbox.Diagnostic) bool {
	s := p.site(d)
	if s == nil || s.Kind != "caught" || !s.Flag || s.Text != "message" || quoted(d.Message, 0) != s.Name {
		return false
	}
	e := p.fe(d.File)
	old := s.Name + ".message"
	text := "(" + s.Name + " instanceof Error ? " + s.Name + ".message : String(" + s.Name + "))"
	n := p.addFix(d, d.File, fmt.Sprintf("read %s.message only when %s is an Error: a catch clause's variable is unknown", s.Name, s.Name), old, text)
	e.edits = append(e.edits, edit{s.Start, s.End, text, n})
	return true
}

// childrenProps: a component whose only prop is children, destructured
// without a type, gets { children: ReactNode }.
func (p *planner) childrenProps(d sandbox.Diagnostic) bool {
	s := p.site(d)
	if s == nil || s.Kind != "pattern" || s.Typed || s.Index != 0 || s.Count != 1 || len(s.Bindings) != 1 || s.Bindings[0] != "children" ||
		s.Name == "" || !strings.Contains(d.Message, "'children'") || s.Name[0] < 'A' || s.Name[0] > 'Z' {
		return false
	}
	if !p.once(fmt.Sprintf("%s:pattern:%d", d.File, s.Start)) {
		return true
	}
	e := p.fe(d.File)
	text := ": { children: ReactNode }"
	n := p.addFix(d, d.File, fmt.Sprintf("type %s's children as ReactNode: it takes no other props", s.Name), "{ children }", "{ children }"+text)
	e.edits = append(e.edits, edit{s.End, s.End, text, n})
	p.ensureReactType(e, "ReactNode")
	return true
}

// baseParam types an untyped parameter of a method that overrides one of
// its base class (componentDidCatch(error, info) in a React component)
// with the type the base class gives it.
func (p *planner) baseParam(d sandbox.Diagnostic) bool {
	s := p.site(d)
	if s == nil || s.Kind != "param" || s.Typed || !s.Method || s.BaseType == "" || reVagueType.MatchString(s.BaseType) || !reNamedType.MatchString(s.BaseType) {
		return false
	}
	e := p.fe(d.File)
	if e.content[s.Start:s.End] != s.Name {
		return false
	}
	text := s.Name + ": " + s.BaseType
	n := p.addFix(d, d.File, fmt.Sprintf("type the parameter %s as %s, as the base class declares it", s.Name, s.BaseType), s.Name, text)
	e.edits = append(e.edits, edit{s.Start, s.End, text, n})
	return true
}
