package editformat

import (
	"fmt"
	"strings"
)

// This file applies edits to file content. Matching is exact first, then
// whitespace-tolerant (lines compared with surrounding whitespace trimmed);
// an edit that matches nowhere or in more than one place is an error that
// quotes what was expected, so a repair prompt can show it.

// hunk is one @@ section of a unified diff.
type hunk struct {
	oldStart   int // 1-based; meaningful when hasNumbers
	hasNumbers bool
	lines      []dline
}

type dline struct {
	op   byte // ' ', '-', '+'
	text string
}

func (h *hunk) old() []string {
	var out []string
	for _, l := range h.lines {
		if l.op != '+' {
			out = append(out, l.text)
		}
	}
	return out
}

func (h *hunk) new() []string {
	var out []string
	for _, l := range h.lines {
		if l.op != '-' {
			out = append(out, l.text)
		}
	}
	return out
}

// splitLines splits content into lines without their "\n" and reports
// whether it ended with one.
func splitLines(s string) (lines []string, trailingNL bool) {
	if s == "" {
		return nil, true
	}
	trailingNL = strings.HasSuffix(s, "\n")
	s = strings.TrimSuffix(s, "\n")
	return strings.Split(s, "\n"), trailingNL
}

func joinLines(lines []string, trailingNL bool) string {
	if len(lines) == 0 {
		return ""
	}
	s := strings.Join(lines, "\n")
	if trailingNL {
		s += "\n"
	}
	return s
}

// applyHunks applies a file's hunks in order to base.
func applyHunks(base string, hunks []hunk) (string, error) {
	lines, trailingNL := splitLines(base)
	cursor, delta := 0, 0
	for i := range hunks {
		h := &hunks[i]
		old, repl := h.old(), h.new()
		hint := -1
		if h.hasNumbers {
			hint = h.oldStart - 1 + delta
			if len(old) == 0 {
				hint = h.oldStart + delta // "-l,0" inserts after line l
			}
		}
		pos, err := locate(lines, old, cursor, hint)
		if err != nil {
			return "", fmt.Errorf("hunk %d of %d: %w", i+1, len(hunks), err)
		}
		next := make([]string, 0, len(lines)-len(old)+len(repl))
		next = append(next, lines[:pos]...)
		next = append(next, repl...)
		next = append(next, lines[pos+len(old):]...)
		lines = next
		cursor = pos + len(repl)
		delta += len(repl) - len(old)
	}
	return joinLines(lines, trailingNL), nil
}

// matchErr carries which sentinel a failed match is.
type matchErr struct {
	sentinel error
	msg      string
}

func (e *matchErr) Error() string { return e.msg }
func (e *matchErr) Unwrap() error { return e.sentinel }

// locate finds where old occurs in lines: at or after from preferably,
// nearest to hint (when >= 0) if it occurs more than once.
func locate(lines, old []string, from, hint int) (int, error) {
	if len(old) == 0 {
		switch {
		case hint >= 0:
			return min(max(hint, 0), len(lines)), nil
		case len(lines) == 0:
			return 0, nil
		}
		return 0, &matchErr{ErrAmbiguous, "the hunk has no context or removed lines, so where to insert is unknown; include a few unchanged lines around the change"}
	}
	for _, eq := range [...]func(a, b string) bool{exactEq, looseEq} {
		for _, start := range [...]int{from, 0} {
			pos := matches(lines, old, start, eq)
			switch {
			case len(pos) == 1:
				return pos[0], nil
			case len(pos) > 1:
				if hint >= 0 {
					if best, ok := nearest(pos, hint); ok {
						return best, nil
					}
				}
				return 0, &matchErr{ErrAmbiguous, fmt.Sprintf("the lines starting %s occur %d times; include more unchanged lines so they match once", quote(firstNonBlank(old)), len(pos))}
			}
			if from == 0 {
				break
			}
		}
	}
	return 0, &matchErr{ErrNoMatch, fmt.Sprintf("the lines starting %s are not in the file; quote the current content exactly", quote(firstNonBlank(old)))}
}

func exactEq(a, b string) bool { return a == b }
func looseEq(a, b string) bool { return strings.TrimSpace(a) == strings.TrimSpace(b) }

func matches(lines, old []string, from int, eq func(a, b string) bool) []int {
	var out []int
	for p := from; p+len(old) <= len(lines); p++ {
		ok := true
		for j := range old {
			if !eq(lines[p+j], old[j]) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, p)
			if len(out) > 64 {
				break
			}
		}
	}
	return out
}

// nearest picks the match closest to hint, failing on a tie.
func nearest(pos []int, hint int) (int, bool) {
	best, bestD, tie := -1, 1<<62, false
	for _, p := range pos {
		d := p - hint
		if d < 0 {
			d = -d
		}
		switch {
		case d < bestD:
			best, bestD, tie = p, d, false
		case d == bestD:
			tie = true
		}
	}
	return best, !tie
}

func firstNonBlank(lines []string) string {
	for _, l := range lines {
		if s := strings.TrimSpace(l); s != "" {
			return s
		}
	}
	return ""
}

// applySearchReplace replaces the one occurrence of search in base.
func applySearchReplace(base, search, replace string) (string, error) {
	if i := strings.Index(base, search); i >= 0 {
		if strings.Contains(base[i+1:], search) {
			return "", &matchErr{ErrAmbiguous, fmt.Sprintf("the SEARCH text starting %s occurs more than once; include more lines so it matches once", quote(firstLine(search)))}
		}
		return base[:i] + replace + base[i+len(search):], nil
	}
	lines, trailingNL := splitLines(base)
	sl, _ := splitLines(search)
	sl = trimBlankEnds(sl)
	if len(sl) == 0 {
		return "", &matchErr{ErrNoMatch, "the SEARCH text is blank"}
	}
	pos := matches(lines, sl, 0, looseEq)
	switch {
	case len(pos) == 0:
		return "", &matchErr{ErrNoMatch, fmt.Sprintf("the SEARCH text starting %s is not in the file; quote the current content exactly", quote(firstNonBlank(sl)))}
	case len(pos) > 1:
		return "", &matchErr{ErrAmbiguous, fmt.Sprintf("the SEARCH text starting %s occurs %d times; include more lines so it matches once", quote(firstNonBlank(sl)), len(pos))}
	}
	rl, _ := splitLines(replace)
	rl = reindent(rl, sl, lines[pos[0]:pos[0]+len(sl)])
	next := make([]string, 0, len(lines)-len(sl)+len(rl))
	next = append(next, lines[:pos[0]]...)
	next = append(next, rl...)
	next = append(next, lines[pos[0]+len(sl):]...)
	return joinLines(next, trailingNL), nil
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if t := strings.TrimSpace(l); t != "" {
			return t
		}
	}
	return ""
}

func trimBlankEnds(ls []string) []string {
	for len(ls) > 0 && strings.TrimSpace(ls[0]) == "" {
		ls = ls[1:]
	}
	for len(ls) > 0 && strings.TrimSpace(ls[len(ls)-1]) == "" {
		ls = ls[:len(ls)-1]
	}
	return ls
}

// reindent shifts replacement lines by the indentation the matched lines
// have beyond the SEARCH lines (models often drop a level of indentation
// when they quote code).
func reindent(repl, search, matched []string) []string {
	var si, mi string
	for k := range search {
		if strings.TrimSpace(search[k]) != "" {
			si, mi = indentOf(search[k]), indentOf(matched[k])
			break
		}
	}
	if !strings.HasPrefix(mi, si) || len(mi) == len(si) {
		return repl
	}
	extra := mi[len(si):]
	out := make([]string, len(repl))
	for i, l := range repl {
		if strings.TrimSpace(l) == "" {
			out[i] = l
		} else {
			out[i] = extra + l
		}
	}
	return out
}

func indentOf(s string) string {
	return s[:len(s)-len(strings.TrimLeft(s, " \t"))]
}
