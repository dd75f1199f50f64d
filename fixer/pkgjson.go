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
func (o *orderedJSON) addDevDep(name, version string) {
	deps := parseOrdered(string(o.values["devDependencies"]))
	if deps == nil {
		deps = &orderedJSON{values: map[string]json.RawMessage{}}
		o.keys = append(o.keys, "devDependencies")
	}
	v, _ := json.Marshal(version)
	if _, ok := deps.values[name]; !ok {
		deps.keys = append(deps.keys, name)
	}
	deps.values[name] = v
	sort.Strings(deps.keys)
	o.values["devDependencies"] = json.RawMessage(deps.compact())
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
