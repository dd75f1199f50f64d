package fixer

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// facts is what ts/facts.mjs reports. It comes from a parser that read
// untrusted code, so [decodeFacts] checks every offset and name before the
// planner uses it.
type facts struct {
	Version    int                   `json:"version"`
	TypeScript string                `json:"typescript"`
	Files      map[string]*fileFacts `json:"files"`
	Queries    []query               `json:"queries"`
}

type fileFacts struct {
	ParseErrors  int               `json:"parseErrors"`
	Imports      []importFact      `json:"imports"`
	Exports      []exportFact      `json:"exports"`
	ExportStars  []string          `json:"exportStars"`
	Declarations []declFact        `json:"declarations"`
	ImportsEnd   int               `json:"importsEnd"`
	Usage        map[string]*usage `json:"usage"`
	StateHooks   []stateHook       `json:"stateHooks"`
	// VoidOpen are the offsets of the ">" ending a void element's opening
	// tag written without "/" (<input ...>).
	VoidOpen  []int      `json:"voidOpen"`
	HTMLAttrs []attrFact `json:"htmlAttrs"`
	// Unclosed are the closing tags the file's JSX lacks, where its
	// indentation puts them; together they make the file parse.
	Unclosed []closeTag `json:"unclosed"`
}

// closeTag inserts Text (a closing tag, alone on its line or at the end
// of the element's line) at offset At.
type closeTag struct {
	At   int    `json:"at"`
	Text string `json:"text"`
	Tag  string `json:"tag"`
}

// stateHook is `const [value, setter] = useState(init)`.
type stateHook struct {
	Setter   string `json:"setter"`
	At       int    `json:"at"` // just after "useState", where type arguments go
	TypeArgs bool   `json:"typeArgs"`
	Init     string `json:"init"` // "array" ([]), "null", "undefined", "none" or "other"
}

// attrFact is an attribute of an intrinsic JSX element whose name is in
// the request's HTMLAttrs.
type attrFact struct {
	Name  string `json:"name"`
	Start int    `json:"start"`
	End   int    `json:"end"`
	Tag   string `json:"tag"`
}

type importFact struct {
	Start      int      `json:"start"`
	End        int      `json:"end"`
	Line       int      `json:"line"`
	Spec       string   `json:"spec"`
	SpecStart  int      `json:"specStart"`
	SpecEnd    int      `json:"specEnd"`
	TypeOnly   bool     `json:"typeOnly"`
	Default    *binding `json:"default"`
	Namespace  *binding `json:"namespace"`
	Named      []named  `json:"named"`
	Attributes string   `json:"attributes"`
}

type binding struct {
	Name  string `json:"name"`
	Start int    `json:"start"`
	End   int    `json:"end"`
}

type named struct {
	Name     string `json:"name"`
	Alias    string `json:"alias"`
	TypeOnly bool   `json:"typeOnly"`
	Start    int    `json:"start"`
	End      int    `json:"end"`
}

type exportFact struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	TypeOnly bool   `json:"typeOnly"`
	Local    string `json:"local"`
	From     string `json:"from"`
}

type declFact struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	TypeOnly bool   `json:"typeOnly"`
	Exported bool   `json:"exported"`
	Start    int    `json:"start"`
	End      int    `json:"end"`
	// BodyEnd is the offset of the closing brace of an interface or an
	// object type alias, else 0.
	BodyEnd int `json:"bodyEnd"`
	// Members are the property names of an interface or object type
	// alias that lists them all, else nil.
	Members []string `json:"members"`
}

// usage summarizes how a name is used in one file.
type usage struct {
	Count    int      `json:"count"`
	JSX      bool     `json:"jsx"`
	Props    []string `json:"props"`
	Children bool     `json:"children"`
	Call     bool     `json:"call"`
	Args     int      `json:"args"`
	Result   string   `json:"result"` // "array", "object", "value" or ""
	New      bool     `json:"new"`
	Type     bool     `json:"type"`
	TypeArgs int      `json:"typeArgs"`
	Value    bool     `json:"value"`
	Members  []string `json:"members"`
}

// query is what sits at a diagnostic's position.
type query struct {
	Code        int    `json:"code"`
	File        string `json:"file"`
	Line        int    `json:"line"`
	Column      int    `json:"column"`
	Name        string `json:"name"`
	Start       int    `json:"start"`
	End         int    `json:"end"`
	Role        string `json:"role"`     // "declaration", "reference", "property", "import" or ""
	DeclKind    string `json:"declKind"` // "parameter", "array-element", "object-element", ...
	RemoveStart int    `json:"removeStart"`
	RemoveEnd   int    `json:"removeEnd"`
	// Site is what a fix for the diagnostic's code rewrites there.
	Site *site `json:"site"`
}

// site is the code a diagnostic points into, described for its code (see
// siteOf in ts/facts.mjs). Kind says which fields are set.
type site struct {
	Kind  string `json:"kind"`
	Name  string `json:"name"`
	Start int    `json:"start"`
	End   int    `json:"end"`
	At    int    `json:"at"`
	Text  string `json:"text"`
	Text2 string `json:"text2"`
	Flag  bool   `json:"flag"`
	Index int    `json:"index"`
	Count int    `json:"count"`
	// Parameters: written in parentheses, passed as a callback, typed.
	Parens   bool `json:"parens"`
	Callback bool `json:"callback"`
	Typed    bool `json:"typed"`
	Pure     bool `json:"pure"`
	// Uses are "attribute:tag" for each JSX attribute the function is
	// passed to, "other" for any other use.
	Uses       []string         `json:"uses"`
	Candidates []nullableAccess `json:"candidates"`
	// Helper: the parameter belongs to a named function; CallTypes are
	// the types its call sites pass for it, as written in its file ("" for
	// a type that cannot be written there, or a use that is no call).
	Named bool `json:"named"`
	// Method: the parameter belongs to a method of a class that extends
	// another; BaseType is the type the base class's member of the same
	// name gives it, by the checker ("" when none or not writable).
	Method    bool     `json:"method"`
	BaseType  string   `json:"baseType"`
	Helper    bool     `json:"helper"`
	CallTypes []string `json:"callTypes"`
	// Members are the property names of the object a missing property is
	// read from, by the checker.
	Members []string `json:"members"`
	// Bindings are the names a top-level require() destructures ("a", or
	// "a:b" for a: b).
	Bindings []string `json:"bindings"`
}

// nullableAccess is one member access of a possibly-null expression.
type nullableAccess struct {
	Object   string `json:"object"`
	At       int    `json:"at"` // end of the object: where "?" goes
	Optional bool   `json:"optional"`
	Assigned bool   `json:"assigned"`
}

// request is the input of facts.mjs.
type request struct {
	Files     map[string]string   `json:"files"`
	Names     map[string][]string `json:"names"`
	Queries   []queryIn           `json:"queries"`
	HTMLAttrs []string            `json:"htmlAttrs"`
	// Types asks for the checker's view of the queried sites (see
	// needsTypes).
	Types bool `json:"types"`
}

type queryIn struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
	Code   int    `json:"code"`
}

var (
	identRe       = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)
	reJSXTagName  = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$-]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*$`)
	reEnvKey      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	reClosingLine = regexp.MustCompile(`^[ \t]*</[^>\n]+>\n$`)
	// errFacts: the parser's report does not fit the files it was given.
	errFacts = errors.New("fixer: malformed parser output")
)

// maxFactsBytes bounds the parser output stich will decode.
const maxFactsBytes = 64 << 20

// decodeFacts parses and checks the parser's output against the files it
// parsed: every offset must lie inside its file, every binding name must be
// an identifier and must be the text at its offsets, and every file must
// be one that was sent. Anything else rejects the whole report.
func decodeFacts(b []byte, files map[string]string) (*facts, error) {
	if len(b) > maxFactsBytes {
		return nil, fmt.Errorf("%w: %d bytes", errFacts, len(b))
	}
	var f facts
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%w: %v", errFacts, err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("%w: version %d", errFacts, f.Version)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{errFacts}, args...)...)
	}
	for path, ff := range f.Files {
		content, ok := files[path]
		if !ok || ff == nil {
			return nil, bad("unknown file %q", path)
		}
		n := len(content)
		inRange := func(start, end int) bool { return 0 <= start && start <= end && end <= n }
		textIs := func(start, end int, name string) bool {
			return inRange(start, end) && content[start:end] == name && identRe.MatchString(name)
		}
		if !inRange(ff.ImportsEnd, ff.ImportsEnd) {
			return nil, bad("%s: importsEnd %d", path, ff.ImportsEnd)
		}
		for _, im := range ff.Imports {
			if !inRange(im.Start, im.End) || !inRange(im.SpecStart, im.SpecEnd) || im.SpecStart < im.Start || im.SpecEnd > im.End || im.SpecEnd-im.SpecStart < 2 {
				return nil, bad("%s: import at %d", path, im.Start)
			}
			if q := content[im.SpecStart]; (q != '"' && q != '\'') || content[im.SpecEnd-1] != q || strings.ContainsAny(im.Spec, "\x00\n") {
				return nil, bad("%s: import specifier at %d", path, im.SpecStart)
			}
			for _, b := range []*binding{im.Default, im.Namespace} {
				if b != nil && (!textIs(b.Start, b.End, b.Name) || b.Start < im.Start || b.End > im.End) {
					return nil, bad("%s: import binding %q", path, b.Name)
				}
			}
			for _, nb := range im.Named {
				if !identRe.MatchString(nb.Name) && nb.Name != "default" || !identRe.MatchString(nb.Alias) || !inRange(nb.Start, nb.End) || nb.Start < im.Start || nb.End > im.End {
					return nil, bad("%s: import specifier %q", path, nb.Name)
				}
			}
			if len(im.Attributes) > 200 || strings.ContainsAny(im.Attributes, "\x00;") {
				return nil, bad("%s: import attributes", path)
			}
		}
		for _, e := range ff.Exports {
			if e.Name != "default" && e.Name != "=" && !identRe.MatchString(e.Name) {
				return nil, bad("%s: export %q", path, e.Name)
			}
		}
		for _, d := range ff.Declarations {
			if !identRe.MatchString(d.Name) || !inRange(d.Start, d.End) || !inRange(d.BodyEnd, d.BodyEnd) || d.BodyEnd != 0 && (d.BodyEnd < d.Start || d.BodyEnd >= d.End || content[d.BodyEnd] != '}') {
				return nil, bad("%s: declaration %q", path, d.Name)
			}
			for _, m := range d.Members {
				if !identRe.MatchString(m) || len(d.Members) > 200 {
					return nil, bad("%s: member %q of %q", path, m, d.Name)
				}
			}
		}
		for _, h := range ff.StateHooks {
			if !identRe.MatchString(h.Setter) || !inRange(h.At, h.At) || h.At < 8 || content[h.At-8:h.At] != "useState" {
				return nil, bad("%s: useState of %q", path, h.Setter)
			}
		}
		for _, at := range ff.VoidOpen {
			if !inRange(at, at+1) || content[at] != '>' {
				return nil, bad("%s: void element at %d", path, at)
			}
		}
		for _, c := range ff.Unclosed {
			if !inRange(c.At, c.At) || !reJSXTagName.MatchString(c.Tag) || (c.Text != "</"+c.Tag+">" && !reClosingLine.MatchString(c.Text)) ||
				c.Text != "</"+c.Tag+">" && strings.TrimSpace(c.Text) != "</"+c.Tag+">" {
				return nil, bad("%s: closing tag at %d", path, c.At)
			}
		}
		for _, a := range ff.HTMLAttrs {
			if !textIs(a.Start, a.End, a.Name) || !identRe.MatchString(a.Tag) {
				return nil, bad("%s: attribute %q", path, a.Name)
			}
		}
		for name, u := range ff.Usage {
			if u == nil || !identRe.MatchString(name) {
				return nil, bad("%s: usage of %q", path, name)
			}
			for _, p := range u.Props {
				if len(p) > 100 || strings.ContainsAny(p, "\x00\n\"'`") {
					return nil, bad("%s: prop %q", path, p)
				}
			}
			for _, m := range u.Members {
				if !identRe.MatchString(m) {
					return nil, bad("%s: member %q", path, m)
				}
			}
		}
	}
	for _, q := range f.Queries {
		content, ok := files[q.File]
		if !ok {
			return nil, bad("query in unknown file %q", q.File)
		}
		n := len(content)
		if q.Site != nil && !validSite(q.Site, content) {
			return nil, bad("query site %s:%d:%d", q.File, q.Line, q.Column)
		}
		if q.Name == "" {
			continue
		}
		if q.Start < 0 || q.Start > q.End || q.End > n || content[q.Start:q.End] != q.Name || !identRe.MatchString(q.Name) {
			return nil, bad("query %s:%d:%d", q.File, q.Line, q.Column)
		}
		if q.RemoveStart != 0 || q.RemoveEnd != 0 {
			if q.RemoveStart < 0 || q.RemoveStart > q.RemoveEnd || q.RemoveEnd > n || q.RemoveStart > q.Start || q.RemoveEnd < q.End {
				return nil, bad("query removal %s:%d:%d", q.File, q.Line, q.Column)
			}
		}
	}
	return &f, nil
}

// validSite checks a site's offsets and texts against content: ranges
// inside the file, texts equal to what they claim to quote.
func validSite(s *site, content string) bool {
	n := len(content)
	in := func(a, b int) bool { return 0 <= a && a <= b && b <= n }
	if !in(s.Start, s.End) || !in(s.At, s.At) || len(s.Uses) > 64 || len(s.Candidates) > 16 || len(s.CallTypes) > 64 || len(s.Members) > 80 || len(s.Bindings) > 64 {
		return false
	}
	if len(s.BaseType) > 120 || strings.ContainsAny(s.BaseType, "\x00\n{}()\"'`=;") {
		return false
	}
	for _, t := range s.CallTypes {
		if len(t) > 120 || strings.ContainsAny(t, "\x00\n{}()\"'`=;") {
			return false
		}
	}
	for _, m := range s.Members {
		if !identRe.MatchString(m) {
			return false
		}
	}
	for _, b := range s.Bindings {
		name, alias, renamed := strings.Cut(b, ":")
		if !identRe.MatchString(name) || renamed && !identRe.MatchString(alias) {
			return false
		}
	}
	switch s.Kind {
	case "arg", "prop":
		if content[s.Start:s.End] != s.Text {
			return false
		}
	case "render":
		if !strings.Contains(content[s.Start:s.End], s.Text) || !strings.Contains(content[s.Start:s.End], s.Text2) {
			return false
		}
	case "member":
		if content[s.Start:s.End] != s.Name || !identRe.MatchString(s.Name) {
			return false
		}
	case "env":
		if content[s.Start:s.End] != s.Text || !strings.HasPrefix(s.Text, "process.env") || !reEnvKey.MatchString(s.Name) {
			return false
		}
	case "require":
		if !strings.Contains(content[s.Start:s.End], "require(") || len(s.Text) > 300 || strings.ContainsAny(s.Text, "\x00\n\"'`\\") || s.Name != "" && s.Name != "*side-effect" && !identRe.MatchString(s.Name) {
			return false
		}
	case "optcall":
		if content[s.Start:s.End] != s.Name || s.At != s.End {
			return false
		}
	case "caught":
		if !identRe.MatchString(s.Name) || !identRe.MatchString(s.Text) || content[s.Start:s.End] != s.Name+"."+s.Text {
			return false
		}
	case "pattern":
		if s.End <= s.Start || content[s.Start] != '{' || content[s.End-1] != '}' || s.Name != "" && !identRe.MatchString(s.Name) {
			return false
		}
	case "call0":
		if s.Start != 0 && s.End != 0 && !strings.Contains(content[s.Start:s.End], s.Text) {
			return false
		}
	}
	for _, c := range s.Candidates {
		if !in(c.At, c.At) || c.At < len(c.Object) || content[c.At-len(c.Object):c.At] != c.Object {
			return false
		}
	}
	return true
}
