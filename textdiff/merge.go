package textdiff

import (
	"slices"
	"strings"
)

// Count returns the lines the change from a to b adds and removes.
func Count(a, b string) (added, removed int) {
	if a == b {
		return 0, 0
	}
	for _, op := range Lines(split(a), split(b)) {
		switch op.Kind {
		case '+':
			added++
		case '-':
			removed++
		}
	}
	return added, removed
}

// hunk replaces base lines [start, end) with lines.
type hunk struct {
	start, end int
	lines      []string
}

// hunks lists the changes from base to b, in base order. Lines keep
// their newlines, so a change of the final newline is a change too.
func hunks(base, b []string) []hunk {
	var out []hunk
	i := 0
	var cur *hunk
	for _, op := range Lines(base, b) {
		switch op.Kind {
		case ' ':
			if cur != nil {
				out = append(out, *cur)
				cur = nil
			}
			i++
		case '-':
			if cur == nil {
				cur = &hunk{start: i, end: i}
			}
			i++
			cur.end = i
		case '+':
			if cur == nil {
				cur = &hunk{start: i, end: i}
			}
			cur.lines = append(cur.lines, op.Line)
		}
	}
	if cur != nil {
		out = append(out, *cur)
	}
	return out
}

func keepNewlines(s string) []string {
	if s == "" {
		return nil
	}
	l := strings.SplitAfter(s, "\n")
	if l[len(l)-1] == "" {
		l = l[:len(l)-1]
	}
	return l
}

// Merge3 applies both the change from base to ours and the change from
// base to theirs to base, line by line. It reports ok false, and no text,
// when the changes overlap (they touch the same lines of base, or insert
// at the same place) and differ: a conflict is never resolved by picking
// a side. Identical changes on both sides are applied once.
func Merge3(base, ours, theirs string) (merged string, ok bool) {
	switch {
	case ours == theirs || theirs == base:
		return ours, true
	case ours == base:
		return theirs, true
	}
	b := keepNewlines(base)
	hs := [2][]hunk{hunks(b, keepNewlines(ours)), hunks(b, keepNewlines(theirs))}
	var out strings.Builder
	i := 0 // next base line to copy
	for len(hs[0]) > 0 || len(hs[1]) > 0 {
		side := 0
		if len(hs[0]) == 0 || len(hs[1]) > 0 && hs[1][0].start < hs[0][0].start {
			side = 1
		}
		h := hs[side][0]
		hs[side] = hs[side][1:]
		if other := hs[1-side]; len(other) > 0 {
			o := other[0]
			if o.start == h.start || o.start < h.end && h.start < o.end {
				if o.start != h.start || o.end != h.end || !slices.Equal(o.lines, h.lines) {
					return "", false
				}
				hs[1-side] = other[1:] // the same change on both sides
			}
		}
		for ; i < h.start; i++ {
			out.WriteString(b[i])
		}
		for _, l := range h.lines {
			out.WriteString(l)
		}
		i = h.end
	}
	for ; i < len(b); i++ {
		out.WriteString(b[i])
	}
	return out.String(), true
}
