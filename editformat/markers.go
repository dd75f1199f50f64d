package editformat

import (
	"html"
	"strings"

	"github.com/stichdev/stich/codegen"
)

// This file recognises the marker lines of the formats. Every function
// takes a line without its line ending and allocates nothing unless it
// returns a path or attribute built from escapes.

// fenceOpen reports whether t opens a fenced block: up to three spaces,
// then three or more backticks or tildes, then an info string.
func fenceOpen(t string) (ch byte, n int, info string, ok bool) {
	s := trimIndent(t)
	if len(s) < 3 || (s[0] != '`' && s[0] != '~') {
		return 0, 0, "", false
	}
	ch = s[0]
	for n < len(s) && s[n] == ch {
		n++
	}
	if n < 3 {
		return 0, 0, "", false
	}
	info = strings.TrimSpace(s[n:])
	if ch == '`' && strings.IndexByte(info, '`') >= 0 {
		return 0, 0, "", false // inline code such as ```x``` is not a fence
	}
	return ch, n, info, true
}

// fenceClose reports whether t closes a fence opened with n chars ch.
func fenceClose(t string, ch byte, n int) bool {
	s := trimIndent(t)
	i := 0
	for i < len(s) && s[i] == ch {
		i++
	}
	return i >= n && strings.TrimSpace(s[i:]) == ""
}

// trimIndent removes up to three leading spaces.
func trimIndent(t string) string {
	for i := 0; i < 3 && len(t) > 0 && t[0] == ' '; i++ {
		t = t[1:]
	}
	return t
}

// knownLangs are fence info words that are languages, never paths.
var knownLangs = map[string]bool{
	"ts": true, "tsx": true, "js": true, "jsx": true, "typescript": true, "javascript": true,
	"json": true, "jsonc": true, "html": true, "css": true, "md": true, "markdown": true,
	"svg": true, "xml": true, "txt": true, "text": true, "diff": true, "patch": true,
	"sh": true, "bash": true, "shell": true, "console": true, "mjs": true, "cjs": true,
}

// fenceInfo reads a fence's info string: the language and, when the model
// named one, the path ("tsx path=src/App.tsx", "tsx:src/App.tsx",
// "src/App.tsx", "tsx src/App.tsx", file=, filename=, title=).
func fenceInfo(info string) (lang, p string) {
	first := true
	for info != "" {
		var tok string
		tok, info = nextToken(info)
		if k, v, ok := strings.Cut(tok, "="); ok {
			switch strings.ToLower(k) {
			case "path", "file", "filename", "filepath", "title", "name":
				if v = trimWrap(v); pathLike(v) {
					p = v
				}
			}
			first = false
			continue
		}
		if first {
			first = false
			if l, rest, ok := strings.Cut(tok, ":"); ok && pathLike(trimWrap(rest)) {
				lang, p = l, trimWrap(rest)
				continue
			}
			if !knownLangs[strings.ToLower(tok)] && pathLike(trimWrap(tok)) {
				p = trimWrap(tok)
				continue
			}
			lang = tok
			continue
		}
		if p == "" && pathLike(trimWrap(tok)) {
			p = trimWrap(tok)
		}
	}
	return strings.ToLower(lang), cleanPath(p)
}

// nextToken splits off the first whitespace-separated token, keeping a
// quoted value (k="a b") together.
func nextToken(s string) (tok, rest string) {
	s = strings.TrimLeft(s, " \t{}")
	inQuote := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote != 0:
			if c == inQuote {
				inQuote = 0
			}
		case c == '"' || c == '\'':
			inQuote = c
		case c == ' ' || c == '\t' || c == '}':
			return s[:i], strings.TrimLeft(s[i:], " \t}")
		}
	}
	return s, ""
}

// trimWrap removes quotes, backticks and emphasis around a path, and a
// trailing colon.
func trimWrap(s string) string {
	for {
		n := len(s)
		s = strings.Trim(s, " \t*`\"'")
		s = strings.TrimSuffix(s, ":")
		if len(s) >= 4 && strings.HasPrefix(s, "__") && strings.HasSuffix(s, "__") {
			s = s[2 : len(s)-2]
		}
		if len(s) == n {
			return s
		}
	}
}

// pathLike reports whether s looks like a file path a model means: one
// token of path characters whose last element has an extension (or is a
// dotfile). It does not validate; [codegen.CheckPath] does.
func pathLike(s string) bool {
	if s == "" || len(s) > codegen.MaxPathLength+2 || strings.Contains(s, "://") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == '`' || c == '"' || c == '\'' || c == '<' || c == '>' || c == '|' || c == '(' || c == ')' || c == ',' || c == ';' || c == '=' {
			return false
		}
	}
	base := s[strings.LastIndexByte(s, '/')+1:]
	dot := strings.LastIndexByte(base, '.')
	if dot < 0 || dot == len(base)-1 {
		return false
	}
	ext := base[dot+1:]
	if len(ext) > 12 {
		return false
	}
	for i := 0; i < len(ext); i++ {
		c := ext[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	// "e.g" or "v1.2" are not files: require a letter in the extension.
	return strings.IndexFunc(ext, func(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }) >= 0
}

// cleanPath normalises what models write for a project-relative path:
// "./src/x.ts" and "/src/x.ts" mean "src/x.ts".
func cleanPath(p string) string {
	p = strings.TrimSpace(p)
	for strings.HasPrefix(p, "./") {
		p = p[2:]
	}
	if strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "//") {
		p = p[1:]
	}
	return p
}

// headerLabels are the words models put before a path on a header line.
var headerLabels = map[string]bool{
	"file": true, "filename": true, "file name": true, "path": true, "filepath": true,
	"file path": true, "new file": true, "updated file": true, "modified file": true,
	"create": true, "update": true, "edit": true, "changes to": true, "in": true,
}

// headerPath reports whether t is a line that only names a file: "//
// File: src/App.tsx", "### src/App.tsx", "**src/App.tsx**",
// "`src/App.tsx`:", "<!-- index.html -->" or the bare path.
func headerPath(t string) (string, bool) {
	s := strings.TrimSpace(t)
	if s == "" || len(s) > 2*codegen.MaxPathLength {
		return "", false
	}
	s = strings.TrimPrefix(s, "<!--")
	s = strings.TrimSuffix(s, "-->")
	s = strings.TrimSuffix(strings.TrimSpace(s), "*/")
	s = strings.TrimLeft(s, "#/>-+ \t")
	if i := strings.IndexByte(s, ':'); i > 0 && i <= 16 {
		label := strings.ToLower(strings.Trim(s[:i], "*_` "))
		if headerLabels[label] {
			s = s[i+1:]
		}
	}
	s = trimWrap(s)
	if !pathLike(s) {
		return "", false
	}
	return cleanPath(s), true
}

// commentPath reports whether t, the first line of a fence without a path,
// names the file in a comment ("// src/App.tsx", "# File: x", "<!-- x
// -->", "/* x */") or is a bare path.
func commentPath(t string) (string, bool) {
	return headerPath(t)
}

// tagAttrs parses a one-line opening tag such as <file path="x"
// purpose="y"> starting at s (after "<name"). It returns the attributes and
// what follows the closing '>'.
func tagAttrs(s string) (attrs map[string]string, rest string, selfClosing, ok bool) {
	attrs = map[string]string{}
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) {
			return nil, "", false, false
		}
		if s[i] == '>' {
			return attrs, s[i+1:], false, true
		}
		if strings.HasPrefix(s[i:], "/>") {
			return attrs, s[i+2:], true, true
		}
		j := i
		for j < len(s) && s[j] != '=' && s[j] != ' ' && s[j] != '>' && s[j] != '/' {
			j++
		}
		key := strings.ToLower(s[i:j])
		if j >= len(s) || s[j] != '=' || key == "" {
			if j == i {
				return nil, "", false, false
			}
			i = j // attribute without value
			continue
		}
		j++
		if j >= len(s) {
			return nil, "", false, false
		}
		var val string
		if q := s[j]; q == '"' || q == '\'' {
			end := strings.IndexByte(s[j+1:], q)
			if end < 0 {
				return nil, "", false, false
			}
			val = s[j+1 : j+1+end]
			i = j + 2 + end
		} else {
			k := j
			for k < len(s) && s[k] != ' ' && s[k] != '>' && !strings.HasPrefix(s[k:], "/>") {
				k++
			}
			val = s[j:k]
			i = k
		}
		if strings.IndexByte(val, '&') >= 0 {
			val = html.UnescapeString(val)
		}
		attrs[key] = val
	}
}

// openTag reports whether t opens tag name (e.g. "file") at the start of
// the line.
func openTag(t, name string) (attrs map[string]string, rest string, selfClosing, ok bool) {
	s := strings.TrimLeft(t, " \t")
	if len(s) < len(name)+2 || s[0] != '<' || !strings.EqualFold(s[1:1+len(name)], name) {
		return nil, "", false, false
	}
	s = s[1+len(name):]
	if s[0] != ' ' && s[0] != '>' && s[0] != '\t' && s[0] != '/' {
		return nil, "", false, false
	}
	return tagAttrs(s)
}

// tagPath returns the path attribute of a <file> or <delete> tag.
func tagPath(attrs map[string]string) string {
	for _, k := range [...]string{"path", "file", "filename", "name"} {
		if v, ok := attrs[k]; ok {
			return cleanPath(v)
		}
	}
	return ""
}

// fileClose reports whether t is the closing </file> tag alone.
func fileClose(t string) bool { return strings.TrimSpace(t) == "</file>" }

// fileCloseSuffix reports whether t ends with </file> after content, and
// returns the content before it.
func fileCloseSuffix(t string) (string, bool) {
	s := strings.TrimRight(t, " \t")
	if !strings.HasSuffix(s, "</file>") {
		return "", false
	}
	return s[:len(s)-len("</file>")], true
}

// markerRun reports whether s starts with 5 to 9 copies of c and returns
// the rest.
func markerRun(s string, c byte) (string, bool) {
	i := 0
	for i < len(s) && s[i] == c {
		i++
	}
	if i < 5 || i > 9 {
		return "", false
	}
	return s[i:], true
}

// isSearch reports whether t is a <<<<<<< SEARCH marker, returning a path
// written after it, if any.
func isSearch(t string) (string, bool) {
	rest, ok := markerRun(strings.TrimSpace(t), '<')
	if !ok {
		return "", false
	}
	rest = strings.TrimSpace(rest)
	if !strings.HasPrefix(rest, "SEARCH") {
		return "", false
	}
	if p := trimWrap(rest[len("SEARCH"):]); pathLike(p) {
		return cleanPath(p), true
	}
	return "", true
}

// isDivider reports whether t is the ======= line of a SEARCH/REPLACE block.
func isDivider(t string) bool {
	rest, ok := markerRun(strings.TrimSpace(t), '=')
	return ok && rest == ""
}

// isReplace reports whether t is a >>>>>>> REPLACE marker.
func isReplace(t string) bool {
	rest, ok := markerRun(strings.TrimSpace(t), '>')
	return ok && strings.HasPrefix(strings.TrimSpace(rest), "REPLACE")
}

// diffStart reports whether t begins a bare unified diff in prose.
func diffOldHeader(t string) bool {
	return len(t) > 4 && strings.HasPrefix(t, "--- ") && strings.TrimSpace(t[4:]) != "" && strings.Trim(t, "- ") != ""
}

// diffMeta reports git's extended header lines, which carry nothing the
// parser needs.
func diffMeta(t string) bool {
	for _, p := range [...]string{"index ", "new file mode", "deleted file mode", "old mode", "new mode", "similarity index", "dissimilarity index", "rename from", "rename to", "copy from", "copy to", "Binary files"} {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return false
}

// diffPath reads the path of a ---/+++ header: it drops a timestamp after a
// tab, quotes and the a/ or b/ prefix. /dev/null is returned as is.
func diffPath(s string) string {
	if i := strings.IndexByte(s, '\t'); i >= 0 {
		s = s[:i]
	}
	s = trimWrap(s)
	if s == "/dev/null" {
		return s
	}
	if strings.HasPrefix(s, "a/") || strings.HasPrefix(s, "b/") {
		s = s[2:]
	}
	return cleanPath(s)
}

// gitPaths reads "diff --git a/x b/x".
func gitPaths(t string) (a, b string) {
	s := strings.TrimPrefix(t, "diff --git ")
	if i := strings.Index(s, " b/"); i >= 0 {
		return diffPath(s[:i]), diffPath(s[i+1:])
	}
	f := strings.Fields(s)
	if len(f) == 2 {
		return diffPath(f[0]), diffPath(f[1])
	}
	return "", ""
}

// hunkStart parses "@@ -l,n +l,n @@": the old start line, 0 when absent.
func hunkStart(t string) (oldStart int, hasNumbers, ok bool) {
	if !strings.HasPrefix(t, "@@") {
		return 0, false, false
	}
	s := strings.TrimSpace(t[2:])
	if !strings.HasPrefix(s, "-") {
		return 0, false, true
	}
	s = s[1:]
	n := 0
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' && n < 1<<24 {
		n = n*10 + int(s[i]-'0')
		i++
	}
	if i == 0 {
		return 0, false, true
	}
	return n, true, true
}
