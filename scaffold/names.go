package scaffold

import (
	"encoding/json"
	"hash/fnv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on what a blueprint may hold. Plan never exceeds them and Files
// clamps a blueprint from elsewhere to them, so output size stays bounded
// whatever the prompt says.
const (
	maxEntities    = 4  // entities in a blueprint
	maxFields      = 12 // fields per entity
	maxColumns     = 6  // kanban columns
	maxIdentLen    = 32 // bytes in a generated TypeScript identifier
	maxLabelLen    = 40 // runes in a field, column or entity label
	maxTitleLen    = 60 // runes in an app title
	maxDescLen     = 400
	maxSlugLen     = 50 // bytes in an npm package name
	maxPromptBytes = 4000
	maxRefinements = 64
)

// foldRune maps common accented Latin letters to ASCII so that identifiers
// derived from "Größe" or "café" stay readable ("grosse", "cafe").
var foldTable = map[rune]string{
	'à': "a", 'á': "a", 'â': "a", 'ã': "a", 'ä': "a", 'å': "a", 'æ': "ae", 'ā': "a", 'ă': "a", 'ą': "a",
	'ç': "c", 'ć': "c", 'č': "c", 'ď': "d", 'đ': "d", 'ð': "d",
	'è': "e", 'é': "e", 'ê': "e", 'ë': "e", 'ē': "e", 'ė': "e", 'ę': "e", 'ě': "e",
	'ì': "i", 'í': "i", 'î': "i", 'ï': "i", 'ī': "i", 'į': "i", 'ı': "i",
	'ł': "l", 'ľ': "l", 'ñ': "n", 'ń': "n", 'ň': "n",
	'ò': "o", 'ó': "o", 'ô': "o", 'õ': "o", 'ö': "o", 'ø': "o", 'ō': "o", 'ő': "o", 'œ': "oe",
	'ř': "r", 'ś': "s", 'š': "s", 'ş': "s", 'ß': "ss", 'ť': "t", 'ţ': "t", 'þ': "th",
	'ù': "u", 'ú': "u", 'û': "u", 'ü': "u", 'ū': "u", 'ů': "u", 'ű': "u", 'ų': "u",
	'ý': "y", 'ÿ': "y", 'ź': "z", 'ż': "z", 'ž': "z",
}

// asciiWord lowercases w and keeps only ASCII letters and digits, folding
// accented Latin letters first.
func asciiWord(w string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(w) {
		switch {
		case r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteRune(r)
		case foldTable[r] != "":
			b.WriteString(foldTable[r])
		}
	}
	return b.String()
}

// splitIdent splits free text or an identifier into lowercase ASCII words:
// "dueDate" -> [due date], "Due-date!" -> [due date], "HTMLParser" -> [html parser].
func splitIdent(s string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if w := asciiWord(string(cur)); w != "" {
			words = append(words, w)
		}
		cur = cur[:0]
	}
	rs := []rune(s)
	for i, r := range rs {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r)) {
			flush()
			continue
		}
		if unicode.IsUpper(r) && len(cur) > 0 {
			prev := cur[len(cur)-1]
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				flush()
			}
		}
		cur = append(cur, r)
	}
	flush()
	return words
}

// camelIdent joins words into a camelCase identifier of at most maxIdentLen
// bytes. It returns "" when no ASCII letters or digits survive.
func camelIdent(words []string) string {
	var b strings.Builder
	for _, w := range words {
		w = asciiWord(w)
		if w == "" {
			continue
		}
		if b.Len() > 0 {
			w = strings.ToUpper(w[:1]) + w[1:]
		}
		if b.Len()+len(w) > maxIdentLen {
			break
		}
		b.WriteString(w)
	}
	s := b.String()
	if s != "" && s[0] >= '0' && s[0] <= '9' {
		s = "n" + s
		if len(s) > maxIdentLen {
			s = s[:maxIdentLen]
		}
	}
	return s
}

// pascalIdent is camelIdent with the first letter upper-cased.
func pascalIdent(words []string) string {
	s := camelIdent(words)
	if s == "" {
		return ""
	}
	if s[0] == 'n' && len(s) > 1 && s[1] >= '0' && s[1] <= '9' {
		return "N" + s[1:]
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// humanize turns an identifier into a sentence-case label: "dueDate" -> "Due date".
func humanize(ident string) string {
	words := splitIdent(ident)
	if len(words) == 0 {
		return ""
	}
	s := strings.Join(words, " ")
	return strings.ToUpper(s[:1]) + s[1:]
}

// titleWord capitalizes a display word, keeping words that already carry
// inner capitals ("iPhone", "CRM") as written.
func titleWord(w string) string {
	rs := []rune(w)
	if len(rs) == 0 {
		return w
	}
	for _, r := range rs[1:] {
		if unicode.IsUpper(r) {
			return w
		}
	}
	rs[0] = unicode.ToUpper(rs[0])
	return string(rs)
}

// titleCase title-cases each word, leaving short joining words lower-case.
func titleCase(words []string) string {
	out := make([]string, 0, len(words))
	for i, w := range words {
		if i > 0 && (w == "of" || w == "and" || w == "for" || w == "the" || w == "a" || w == "to" || w == "in") {
			out = append(out, w)
			continue
		}
		out = append(out, titleWord(w))
	}
	return strings.Join(out, " ")
}

// clampRunes cuts s to at most n runes, at a word boundary when one is near.
func clampRunes(s string, n int) string {
	rs := []rune(s)
	if len(rs) <= n {
		return s
	}
	cut := string(rs[:n])
	if i := strings.LastIndexByte(cut, ' '); i > n/2 {
		cut = cut[:i]
	}
	return strings.TrimRight(cut, " ,.;:-")
}

// cleanText makes user-visible text safe to hold: valid UTF-8, no control or
// format characters (bidi overrides included), single spaces, at most n runes.
// Escaping for a particular output format happens later, at render time.
func cleanText(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			if unicode.IsSpace(r) {
				space = true
			}
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return clampRunes(b.String(), n)
}

// slugify makes an npm-safe package name: lowercase ASCII letters, digits
// and single hyphens, not starting with a dot or underscore, at most
// maxSlugLen bytes.
func slugify(s string) string {
	s = strings.NewReplacer("'", "", "’", "").Replace(s)
	words := splitIdent(s)
	var b strings.Builder
	for _, w := range words {
		if b.Len()+len(w)+1 > maxSlugLen {
			break
		}
		if b.Len() > 0 {
			b.WriteByte('-')
		}
		b.WriteString(w)
	}
	slug := b.String()
	switch slug {
	case "", "node-modules", "favicon-ico":
		return "stich-app"
	}
	return slug
}

// tsString renders s as a TypeScript/JavaScript string literal. It is JSON
// with <, >, & and U+2028/U+2029 escaped, so the literal is safe inside TSX
// expression containers, <script> blocks and JSON files alike.
func tsString(s string) string {
	b, err := json.Marshal(strings.ToValidUTF8(s, "\uFFFD"))
	if err != nil { // NB: a Go string always marshals; keep a safe literal anyway.
		return `""`
	}
	return string(b)
}

// hashString is a stable 32-bit hash used to pick palettes and sample data.
func hashString(parts ...string) uint32 {
	h := fnv.New32a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum32()
}
