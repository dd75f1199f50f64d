package fixer

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
)

// orderedJSON is a JSON object whose key order survives a rewrite, so
// adding one devDependency changes one line of package.json.
type orderedJSON struct {
	keys   []string
	values map[string]json.RawMessage
}

// parseOrdered reads a JSON object; nil if raw is not one.
func parseOrdered(raw string) *orderedJSON {
	dec := json.NewDecoder(strings.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	o := &orderedJSON{values: map[string]json.RawMessage{}}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil
		}
		k, ok := t.(string)
		if !ok {
			return nil
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil
		}
		if _, dup := o.values[k]; !dup {
			o.keys = append(o.keys, k)
		}
		o.values[k] = v
	}
	return o
}

func (o *orderedJSON) hasDep(name string) bool {
	for _, field := range []string{"dependencies", "devDependencies", "optionalDependencies"} {
		var deps map[string]any
		if json.Unmarshal(o.values[field], &deps) == nil {
			if _, ok := deps[name]; ok {
				return true
			}
		}
	}
	return false
}

// addDevDep adds name@version to devDependencies, keeping them sorted as
// npm does.
func (o *orderedJSON) addDevDep(name, version string) { o.addDep("devDependencies", name, version) }

// addDep adds name@version to field (dependencies or devDependencies),
// keeping it sorted as npm does.
func (o *orderedJSON) addDep(field, name, version string) {
	deps := parseOrdered(string(o.values[field]))
	if deps == nil {
		deps = &orderedJSON{values: map[string]json.RawMessage{}}
		if _, ok := o.values[field]; !ok {
			o.keys = append(o.keys, field)
		}
	}
	v, _ := json.Marshal(version)
	if _, ok := deps.values[name]; !ok {
		deps.keys = append(deps.keys, name)
	}
	deps.values[name] = v
	sort.Strings(deps.keys)
	o.values[field] = json.RawMessage(deps.compact())
}

func (o *orderedJSON) compact() []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(o.values[k])
	}
	b.WriteByte('}')
	return b.Bytes()
}

// String prints the object indented by two spaces, with a final newline.
func (o *orderedJSON) String() string {
	var out bytes.Buffer
	if err := json.Indent(&out, o.compact(), "", "  "); err != nil {
		return ""
	}
	out.WriteByte('\n')
	return out.String()
}

// knownGood are version ranges of the packages apps commonly import
// without declaring them, checked against the npm registry (2026-12-07)
// to install and type-check with React 19. A package not listed here is
// not added: its name alone says nothing about which version the code was
// written for. types names the @types package a listed package needs.
var knownGood = map[string]struct{ version, types, typesVersion string }{
	"@tanstack/react-query": {version: "^5.108.4"},
	"axios":                 {version: "^1.21.1"},
	"classnames":            {version: "^2.5.1"},
	"clsx":                  {version: "^2.1.1"},
	"date-fns":              {version: "^4.4.0"},
	"dayjs":                 {version: "^1.11.23"},
	"framer-motion":         {version: "^14.14.0"},
	"immer":                 {version: "^11.2.14"},
	"lodash":                {version: "^4.18.1", types: "@types/lodash", typesVersion: "^4.17.28"},
	"lucide-react":          {version: "^1.88.0"},
	"nanoid":                {version: "^5.1.12"},
	"react-icons":           {version: "^5.7.0"},
	"react-router":          {version: "^7.18.7"},
	"react-router-dom":      {version: "^7.18.7"},
	"recharts":              {version: "^3.11.3"},
	"uuid":                  {version: "^14.0.3"},
	"zod":                   {version: "^4.6.7"},
	"zustand":               {version: "^5.1.0"},
}
