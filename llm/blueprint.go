package llm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/stichdev/stich/codegen"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// ErrNoJSON is returned when an answer holds no JSON object.
var ErrNoJSON = errors.New("llm: the answer contains no JSON object")

// BlueprintError lists what is wrong with a blueprint a model wrote, in
// words a repair prompt can quote.
type BlueprintError struct {
	Problems []string
}

// ErrBadBlueprint is wrapped by every [BlueprintError].
var ErrBadBlueprint = errors.New("llm: invalid blueprint")

// Error implements error.
func (e *BlueprintError) Error() string {
	return "llm: invalid blueprint:\n  - " + strings.Join(e.Problems, "\n  - ")
}

// Is makes errors.Is(err, ErrBadBlueprint) hold.
func (e *BlueprintError) Is(target error) bool { return target == ErrBadBlueprint }

// ExtractJSON returns the JSON objects of a model's answer, most likely
// first: the contents of ```json (or bare ```) fences that hold an object,
// then each balanced {...} in the prose. Trailing commas, which models
// often leave, are removed.
func ExtractJSON(answer string) []string {
	var out []string
	eachJSON(answer, func(s string) bool {
		out = append(out, s)
		return true
	})
	return out
}

// eachJSON calls yield with the objects [ExtractJSON] returns, in order,
// until yield returns false. NB: it finds them lazily, so a caller that
// accepts the first (the usual case: a fenced answer) pays for nothing
// else; the blueprint step is on the way to the first streamed token.
func eachJSON(answer string, yield func(string) bool) {
	seen := map[string]bool{}
	n := 0
	add := func(raw string) bool {
		if n >= maxJSONCandidates || seen[raw] {
			return n < maxJSONCandidates
		}
		s := strings.TrimSpace(removeTrailingCommas(raw))
		if s == "" || seen[s] {
			seen[raw] = true
			return true
		}
		seen[raw], seen[s] = true, true
		n++
		return yield(s)
	}
	for _, body := range fenceBodies(answer) {
		body = strings.TrimSpace(body)
		if strings.HasPrefix(body, "{") {
			if obj, ok := balanced(body, 0); ok && !add(obj) {
				return
			}
		}
	}
	// NB: each failed start scans to the end of the answer; bounding the
	// failures keeps a hostile answer ("{{{{...") linear.
	failures := 0
	for i := 0; i < len(answer) && failures < maxJSONStarts; i++ {
		if answer[i] != '{' {
			continue
		}
		if obj, ok := balanced(answer, i); ok {
			if !add(obj) {
				return
			}
			i += len(obj) - 1
		} else {
			failures++
		}
	}
}

// maxJSONStarts bounds the unbalanced '{' ExtractJSON tries, and
// maxJSONCandidates the objects it returns.
const (
	maxJSONStarts     = 16
	maxJSONCandidates = 64
)

// fenceLangs are the info strings of the code fences JSON is read from
// (besides none).
var fenceLangs = []string{"json", "JSON", "jsonc", "javascript", "js"}

// fenceBodies returns the bodies of the answer's code fences, leftmost
// first and not overlapping: "```", an optional info string of
// [fenceLangs] between spaces or tabs, a line break, the body, a line
// break, optional spaces or tabs, "```". It matches what the regular
// expression
//
//	(?s)```[ \t]*(?:json|JSON|jsonc|javascript|js)?[ \t]*\r?\n(.*?)\r?\n[ \t]*```
//
// matches (a test holds it to that), in linear time.
func fenceBodies(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		k := strings.Index(s[i:], "```")
		if k < 0 {
			break
		}
		open := i + k
		body, ok := fenceOpen(s, open+3)
		if !ok {
			i = open + 1
			continue
		}
		end, next, ok := fenceClose(s, body)
		if !ok {
			i = open + 1
			continue
		}
		out = append(out, s[body:end])
		i = next
	}
	return out
}

// fenceOpen matches the rest of an opening fence from j and returns where
// its body starts.
func fenceOpen(s string, j int) (int, bool) {
	j = skipBlanks(s, j)
	for _, lang := range append(fenceLangs, "") {
		if !strings.HasPrefix(s[j:], lang) {
			continue
		}
		p := skipBlanks(s, j+len(lang))
		if p < len(s) && s[p] == '\r' {
			p++
		}
		if p < len(s) && s[p] == '\n' {
			return p + 1, true
		}
	}
	return 0, false
}

// fenceClose finds the closing fence of a body starting at from: the
// first "```" preceded on its line only by spaces or tabs, with the line
// break at or after from. It returns where the body ends and where the
// closing fence ends.
func fenceClose(s string, from int) (end, next int, ok bool) {
	for c := from; c < len(s); {
		k := strings.Index(s[c:], "```")
		if k < 0 {
			return 0, 0, false
		}
		c += k
		q := c
		for q > from && (s[q-1] == ' ' || s[q-1] == '\t') {
			q--
		}
		if q > from && s[q-1] == '\n' {
			end = q - 1
			if end > from && s[end-1] == '\r' {
				end--
			}
			return end, c + 3, true
		}
		c++
	}
	return 0, 0, false
}

func skipBlanks(s string, j int) int {
	for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
		j++
	}
	return j
}

// balanced returns the JSON object starting at s[i] up to its matching
// brace, skipping strings.
func balanced(s string, i int) (string, bool) {
	depth, inStr, esc := 0, false, false
	for j := i; j < len(s); j++ {
		c := s[j]
		switch {
		case inStr:
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				return s[i : j+1], c == '}'
			}
			if depth < 0 {
				return "", false
			}
		}
	}
	return "", false
}

// hasTrailingComma reports whether a comma is followed, after
// whitespace, by } or ] (in a string or not: it is only a quick check).
func hasTrailingComma(s string) bool {
	for i := strings.IndexByte(s, ','); i >= 0; {
		j := i + 1
		for j < len(s) && (s[j] == ' ' || s[j] == '\n' || s[j] == '\t' || s[j] == '\r') {
			j++
		}
		if j < len(s) && (s[j] == '}' || s[j] == ']') {
			return true
		}
		k := strings.IndexByte(s[j:], ',')
		if k < 0 {
			return false
		}
		i = j + k
	}
	return false
}

// removeTrailingCommas drops commas directly before } or ], outside
// strings.
func removeTrailingCommas(s string) string {
	if !hasTrailingComma(s) {
		return s // the usual case: no copy
	}
	var b strings.Builder
	inStr, esc := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			b.WriteByte(c)
			continue
		}
		if c == '"' {
			inStr = true
		}
		if c == ',' {
			j := i + 1
			for j < len(s) && (s[j] == ' ' || s[j] == '\n' || s[j] == '\t' || s[j] == '\r') {
				j++
			}
			if j < len(s) && (s[j] == '}' || s[j] == ']') {
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

var blueprintJSON = protojson.UnmarshalOptions{DiscardUnknown: true}

// ExtractBlueprint reads the blueprint from a model's answer: JSON in a
// code fence or in prose, with proto field names (project_name) or JSON
// names (projectName), unknown fields ignored. It returns a
// [*BlueprintError] listing every missing or invalid part, so that a
// repair prompt can be sent; [ErrNoJSON] if there is no JSON at all.
func ExtractBlueprint(answer string) (*stichv1.Blueprint, error) {
	var (
		found, done bool
		out         *stichv1.Blueprint
		outErr      error
		firstErr    error
	)
	eachJSON(answer, func(c string) bool {
		found = true
		// NB: a blueprint in the expected shape needs no reshaping; trying
		// it as it is first saves a JSON round trip on the way to the first
		// token. Reshaping only changes what protojson refuses or what
		// fails validation, so the outcome is the same.
		if bp := (&stichv1.Blueprint{}); blueprintJSON.Unmarshal([]byte(c), bp) == nil && looksLikeBlueprint(bp) {
			normalizeBlueprint(bp)
			if ValidateBlueprint(bp) == nil {
				out, done = bp, true
				return false
			}
		}
		bp := &stichv1.Blueprint{}
		if err := blueprintJSON.Unmarshal([]byte(reshapeBlueprint(c)), bp); err != nil {
			if firstErr == nil {
				firstErr = &BlueprintError{Problems: []string{"the JSON does not match the blueprint shape: " + protoErr(err)}}
			}
			return true
		}
		if !looksLikeBlueprint(bp) {
			return true // some other object in the prose
		}
		normalizeBlueprint(bp)
		out, outErr, done = bp, ValidateBlueprint(bp), true
		return false
	})
	switch {
	case done:
		return out, outErr
	case !found:
		return nil, ErrNoJSON
	case firstErr != nil:
		return nil, firstErr
	}
	return nil, &BlueprintError{Problems: []string{"no JSON object in the answer has blueprint fields (title, roadmap, ...)"}}
}

// protoErr shortens protojson's messages, which carry a random prefix.
func protoErr(err error) string {
	s := err.Error()
	if i := strings.Index(s, "): "); i >= 0 && i < 40 {
		s = s[i+3:]
	}
	return strings.TrimPrefix(s, "proto: ")
}

func looksLikeBlueprint(bp *stichv1.Blueprint) bool {
	return bp.GetTitle() != "" || bp.GetProjectName() != "" || len(bp.GetRoadmap()) > 0 || bp.GetDescription() != ""
}

// normalizeBlueprint fixes what is unambiguous: whitespace, "./" in
// paths, and which phase is last.
func normalizeBlueprint(bp *stichv1.Blueprint) {
	bp.Title = strings.TrimSpace(bp.Title)
	bp.ProjectName = strings.TrimSpace(bp.ProjectName)
	bp.Description = strings.TrimSpace(bp.Description)
	for i, ph := range bp.Roadmap {
		ph.Name = strings.TrimSpace(ph.Name)
		ph.LastPhase = i == len(bp.Roadmap)-1
		for _, f := range ph.Files {
			f.Path = strings.TrimPrefix(strings.TrimSpace(f.Path), "./")
			f.Purpose = strings.TrimSpace(f.Purpose)
		}
	}
}

var projectNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,213}$`)

// ValidateBlueprint checks a blueprint's shape and returns a
// [*BlueprintError] listing every problem, or nil.
func ValidateBlueprint(bp *stichv1.Blueprint) error {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if bp.GetTitle() == "" {
		add("title is missing")
	}
	switch name := bp.GetProjectName(); {
	case name == "":
		add("project_name is missing (an npm package name such as \"task-tracker\")")
	case !projectNameRE.MatchString(name):
		add("project_name %q must be lowercase letters, digits and dashes (an npm package name)", name)
	}
	if bp.GetDescription() == "" {
		add("description is missing")
	}
	if len(bp.GetViews()) == 0 {
		add("views is empty: list the screens as {\"name\", \"description\"}")
	}
	for i, v := range bp.GetViews() {
		if strings.TrimSpace(v.GetName()) == "" {
			add("views[%d].name is missing", i)
		}
	}
	if len(bp.GetRoadmap()) == 0 {
		add("roadmap is empty: list the implementation phases, each with name, description and files")
	}
	if len(bp.GetRoadmap()) > 12 {
		add("roadmap has %d phases; use at most 12", len(bp.GetRoadmap()))
	}
	seen := map[string]int{}
	total := 0
	for i, ph := range bp.GetRoadmap() {
		if ph.GetName() == "" {
			add("roadmap[%d].name is missing", i)
		}
		if len(ph.GetFiles()) == 0 {
			add("roadmap[%d] (%s) has no files", i, ph.GetName())
		}
		for j, f := range ph.GetFiles() {
			total++
			if err := codegen.CheckPath(f.GetPath()); err != nil {
				add("roadmap[%d].files[%d].path: %s", i, j, strings.TrimPrefix(err.Error(), "codegen: "))
			}
			if f.GetPurpose() == "" {
				add("roadmap[%d].files[%d] (%s): purpose is missing", i, j, f.GetPath())
			}
			if prev, dup := seen[f.GetPath()]; dup && f.GetPath() != "" {
				add("roadmap[%d].files[%d]: %s is already planned in roadmap[%d]; plan each file once", i, j, f.GetPath(), prev)
			}
			seen[f.GetPath()] = i
		}
	}
	if total > codegen.MaxFiles {
		add("the roadmap plans %d files; at most %d", total, codegen.MaxFiles)
	}
	if len(p) > 0 {
		return &BlueprintError{Problems: p}
	}
	return nil
}

// reshapeBlueprint rewrites shapes models commonly use instead of the
// blueprint's: views, fields and files as strings, "phases" for
// "roadmap", a palette as an object, "description" for a file's purpose.
// Anything it does not understand is left for protojson to report.
func reshapeBlueprint(raw string) string {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil {
		return raw
	}
	if _, ok := m["roadmap"]; !ok {
		if ph, ok := m["phases"]; ok {
			m["roadmap"] = ph
			delete(m, "phases")
		}
	}
	for _, k := range []string{"color_palette", "colorPalette"} {
		if obj, ok := m[k].(map[string]any); ok {
			var list []any
			for _, v := range obj {
				list = append(list, v)
			}
			m[k] = list
		}
	}
	if views, ok := m["views"].([]any); ok {
		for i, v := range views {
			if s, ok := v.(string); ok {
				name, desc, _ := strings.Cut(s, ":")
				views[i] = map[string]any{"name": strings.TrimSpace(name), "description": strings.TrimSpace(desc)}
			}
		}
	}
	if ents, ok := m["entities"].([]any); ok {
		for _, e := range ents {
			em, ok := e.(map[string]any)
			if !ok {
				continue
			}
			if fields, ok := em["fields"].([]any); ok {
				for i, f := range fields {
					if s, ok := f.(string); ok {
						name, typ, _ := strings.Cut(s, ":")
						fields[i] = map[string]any{"name": strings.TrimSpace(name), "type": strings.TrimSpace(typ)}
					}
				}
			}
		}
	}
	for _, k := range []string{"pitfalls", "frameworks"} {
		if s, ok := m[k].(string); ok {
			m[k] = []any{s}
		}
	}
	if phases, ok := m["roadmap"].([]any); ok {
		for _, ph := range phases {
			pm, ok := ph.(map[string]any)
			if !ok {
				continue
			}
			files, ok := pm["files"].([]any)
			if !ok {
				continue
			}
			for i, f := range files {
				switch x := f.(type) {
				case string:
					files[i] = map[string]any{"path": x}
				case map[string]any:
					if _, ok := x["purpose"]; !ok {
						if d, ok := x["description"]; ok {
							x["purpose"] = d
						}
					}
				}
			}
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(m) != nil {
		return raw
	}
	return b.String()
}
