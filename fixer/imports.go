package fixer

import (
	"strings"
)

// importModel is an import declaration being rewritten: the planner edits
// its bindings and it prints the whole declaration again.
type importModel struct {
	index      int // position in fileFacts.Imports; -1 for a new declaration
	spec       string
	specText   string // the original quoted specifier, reused when spec is unchanged
	typeOnly   bool
	def        string
	ns         string
	named      []namedSpec
	attributes string
	sideEffect bool // the original had no bindings
	removed    bool
	changed    bool
}

// renameNamed renames every named binding from to to; it reports whether
// there was one.
func (m *importModel) renameNamed(from, to string) bool {
	changed := false
	for j, n := range m.named {
		if n.name == from {
			m.named[j].name = to
			changed = true
		}
	}
	return changed
}

type namedSpec struct {
	name, alias string
	typeOnly    bool
}

func modelOf(i int, im importFact, content string) *importModel {
	m := &importModel{
		index:      i,
		spec:       im.Spec,
		specText:   content[im.SpecStart:im.SpecEnd],
		typeOnly:   im.TypeOnly,
		attributes: im.Attributes,
	}
	if im.Default != nil {
		m.def = im.Default.Name
	}
	if im.Namespace != nil {
		m.ns = im.Namespace.Name
	}
	for _, n := range im.Named {
		m.named = append(m.named, namedSpec{name: n.Name, alias: n.Alias, typeOnly: n.TypeOnly})
	}
	m.sideEffect = m.def == "" && m.ns == "" && im.Named == nil
	return m
}

// bindings reports whether any binding is left.
func (m *importModel) bindings() bool { return m.def != "" || m.ns != "" || len(m.named) > 0 }

// findNamed returns the index of the named binding with local name alias.
func (m *importModel) findNamed(alias string) int {
	for i, n := range m.named {
		if n.alias == alias {
			return i
		}
	}
	return -1
}

// removeLocal drops the binding with local name local; it reports whether
// there was one.
func (m *importModel) removeLocal(local string) bool {
	switch {
	case m.def == local:
		m.def = ""
	case m.ns == local:
		m.ns = ""
	default:
		i := m.findNamed(local)
		if i < 0 {
			return false
		}
		m.named = append(m.named[:i], m.named[i+1:]...)
	}
	m.changed = true
	return true
}

// hasLocal reports whether the declaration binds local.
func (m *importModel) hasLocal(local string) bool {
	return !m.removed && (m.def == local || m.ns == local || m.findNamed(local) >= 0)
}

// String prints the declaration; "" when nothing is left of it. A
// declaration TypeScript cannot express in one statement (a type-only
// default with named bindings, a namespace with named bindings) prints as
// two.
func (m *importModel) String() string {
	if m.removed || (!m.sideEffect && !m.bindings()) {
		return ""
	}
	from := m.quoted()
	tail := ";"
	if m.attributes != "" {
		tail = " " + m.attributes + ";"
	}
	if m.sideEffect && !m.bindings() {
		return "import " + from + tail
	}
	if m.ns != "" && len(m.named) > 0 {
		a, b := *m, *m
		a.named, b.ns = nil, ""
		b.def = ""
		return a.String() + "\n" + b.String()
	}
	if m.typeOnly && m.def != "" && len(m.named) > 0 {
		a, b := *m, *m
		a.named, b.def = nil, ""
		return a.String() + "\n" + b.String()
	}
	var parts []string
	if m.def != "" {
		parts = append(parts, m.def)
	}
	if m.ns != "" {
		parts = append(parts, "* as "+m.ns)
	}
	if len(m.named) > 0 {
		var specs []string
		for _, n := range m.named {
			s := n.name
			if n.alias != n.name {
				s += " as " + n.alias
			}
			if n.typeOnly && !m.typeOnly {
				s = "type " + s
			}
			specs = append(specs, s)
		}
		parts = append(parts, "{ "+strings.Join(specs, ", ")+" }")
	}
	kw := "import "
	allTypes := m.def == "" && m.ns == "" && len(m.named) > 0
	for _, n := range m.named {
		allTypes = allTypes && n.typeOnly
	}
	if allTypes && !m.typeOnly {
		// import { type A, type B } reads better as import type { A, B }.
		c := *m
		c.typeOnly = true
		c.named = append([]namedSpec(nil), m.named...)
		for j := range c.named {
			c.named[j].typeOnly = false
		}
		return c.String()
	}
	if m.typeOnly {
		kw = "import type "
	}
	line := kw + strings.Join(parts, ", ") + " from " + from + tail
	if len(line) > 100 && len(m.named) > 3 && m.def == "" && m.ns == "" {
		var b strings.Builder
		b.WriteString(kw + "{\n")
		for _, n := range m.named {
			s := n.name
			if n.alias != n.name {
				s += " as " + n.alias
			}
			if n.typeOnly && !m.typeOnly {
				s = "type " + s
			}
			b.WriteString("  " + s + ",\n")
		}
		b.WriteString("} from " + from + tail)
		return b.String()
	}
	return line
}

// quoted returns the module specifier as a string literal, keeping the
// original quotes when the specifier did not change.
func (m *importModel) quoted() string {
	if m.specText != "" && len(m.specText) >= 2 && m.specText[1:len(m.specText)-1] == m.spec {
		return m.specText
	}
	return quoteJS(m.spec)
}

// quoteJS quotes s as a double-quoted JavaScript string literal.
func quoteJS(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\u2028':
			b.WriteString(`\u2028`)
		case '\u2029':
			b.WriteString(`\u2029`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
