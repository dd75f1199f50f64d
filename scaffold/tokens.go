package scaffold

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

const maxTokens = 800

// token is one word or punctuation mark of a prompt.
type token struct {
	w     string // folded lowercase ASCII form; "" for words with no Latin letters or digits
	raw   string // the word as written, for display
	p     byte   // punctuation: one of ",.;:()!?&/+", or 0 for a word
	glued bool   // part of a hyphenated word ("plus-one"), so never a separator
}

func (t token) word() bool { return t.p == 0 }

// tokenize splits text into words and punctuation. Anything else (quotes,
// markup, emoji, symbols) separates words and is dropped, so no markup
// survives into a token. Hyphenated words with a short part are joined
// ("to-do" -> "todo", "e-mail" -> "email"); others are split.
func tokenize(s string) []token {
	if len(s) > maxPromptBytes {
		cut := maxPromptBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	s = strings.ToValidUTF8(s, " ")
	var toks []token
	var cur []rune
	flush := func() {
		if len(cur) == 0 {
			return
		}
		toks = append(toks, wordTokens(string(cur))...)
		cur = cur[:0]
	}
	rs := []rune(s)
	isWordRune := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) }
	for i, r := range rs {
		if len(toks) >= maxTokens {
			break
		}
		switch {
		case isWordRune(r):
			cur = append(cur, r)
		case (r == '\'' || r == '’' || r == '-' || r == '_') && len(cur) > 0 && i+1 < len(rs) && isWordRune(rs[i+1]):
			cur = append(cur, r)
		case strings.ContainsRune(",.;:()!?&/+", r):
			flush()
			toks = append(toks, token{raw: string(r), p: byte(r)})
		case r == '\n' || r == '\r' || r == '•' || r == '·':
			flush()
			if n := len(toks); n > 0 && toks[n-1].p != '.' {
				toks = append(toks, token{raw: ".", p: '.'})
			}
		default:
			flush()
		}
	}
	flush()
	if len(toks) > maxTokens {
		toks = toks[:maxTokens]
	}
	return toks
}

// joinedWord lists hyphenated spellings read as one word.
var joinedWord = set("todo", "todos", "todolist", "email", "emails", "signup", "signups", "login",
	"logins", "checkin", "checkins", "checkout", "ecommerce", "online", "offline", "wifi", "postit",
	"redo", "reread", "rewatch", "cooldown", "warmup", "followup", "followups", "startup", "startups")

// wordTokens handles apostrophes and hyphens inside one word.
func wordTokens(w string) []token {
	w = strings.ReplaceAll(w, "’", "'")
	if strings.Contains(w, "'") {
		// "Grandma's" displays as written but reads as "grandma".
		base := w
		if strings.HasSuffix(strings.ToLower(base), "'s") {
			base = base[:len(base)-2]
		}
		base = strings.ReplaceAll(base, "'", "")
		if !strings.ContainsAny(base, "-_") {
			return []token{{w: asciiWord(base), raw: w}}
		}
		w = base
	}
	if !strings.ContainsAny(w, "-_") {
		return []token{{w: asciiWord(w), raw: w}}
	}
	parts := strings.FieldsFunc(w, func(r rune) bool { return r == '-' || r == '_' })
	// Join "to-do", "e-mail", "x-ray"; keep "plus-one", "check-in" and
	// "is_done" as glued words; split "1-5".
	joined := strings.Join(parts, "")
	single, digits := false, true
	for _, p := range parts {
		single = single || utf8.RuneCountInString(p) == 1
		digits = digits && strings.Trim(p, "0123456789") == ""
	}
	if strings.Contains(w, "-") && !strings.Contains(w, "_") && (single || joinedWord[strings.ToLower(joined)]) {
		return []token{{w: asciiWord(joined), raw: joined}}
	}
	out := make([]token, 0, len(parts))
	for _, p := range parts {
		out = append(out, token{w: asciiWord(p), raw: p, glued: !digits})
	}
	return out
}

// words returns the ASCII forms of the word tokens in toks.
func words(toks []token) []string {
	var out []string
	for _, t := range toks {
		if t.word() && t.w != "" {
			out = append(out, t.w)
		}
	}
	return out
}
