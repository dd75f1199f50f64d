// Package textdiff computes line diffs (Myers' O((N+M)·D) algorithm) and
// renders them as unified diffs. It owns nothing else and imports only the
// standard library.
package textdiff

import (
	"fmt"
	"strings"
)

// Op is one line of an edit script.
type Op struct {
	Kind byte // ' ' equal, '-' deleted from a, '+' inserted from b
	Line string
}

// maxEdit bounds the work on pathological inputs: beyond it the diff
// degrades to "replace everything", which is still correct.
const maxEdit = 20000

// Lines returns the edit script that turns a into b, line by line.
func Lines(a, b []string) []Op {
	// Trim the common prefix and suffix: most edits are local.
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	var ops []Op
	for _, l := range a[:pre] {
		ops = append(ops, Op{' ', l})
	}
	ops = append(ops, myers(a[pre:len(a)-suf], b[pre:len(b)-suf])...)
	for _, l := range a[len(a)-suf:] {
		ops = append(ops, Op{' ', l})
	}
	return ops
}

func myers(a, b []string) []Op {
	n, m := len(a), len(b)
	if n == 0 || m == 0 || n+m > 4*maxEdit {
		return replaceAll(a, b)
	}
	max := n + m
	v := make([]int, 2*max+2)
	var trace [][]int
	for d := 0; d <= max; d++ {
		if d > maxEdit {
			return replaceAll(a, b)
		}
		snapshot := make([]int, len(v))
		copy(snapshot, v)
		trace = append(trace, snapshot)
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[max+k-1] < v[max+k+1]) {
				x = v[max+k+1]
			} else {
				x = v[max+k-1] + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[max+k] = x
			if x >= n && y >= m {
				return backtrack(trace, a, b, max)
			}
		}
	}
	return replaceAll(a, b)
}

func backtrack(trace [][]int, a, b []string, max int) []Op {
	x, y := len(a), len(b)
	var rev []Op
	for d := len(trace) - 1; d >= 0; d-- {
		v := trace[d]
		k := x - y
		var prevK int
		if k == -d || (k != d && v[max+k-1] < v[max+k+1]) {
			prevK = k + 1
		} else {
			prevK = k - 1
		}
		prevX := v[max+prevK]
		prevY := prevX - prevK
		for x > prevX && y > prevY {
			rev = append(rev, Op{' ', a[x-1]})
			x--
			y--
		}
		if d > 0 {
			if x == prevX {
				rev = append(rev, Op{'+', b[y-1]})
			} else {
				rev = append(rev, Op{'-', a[x-1]})
			}
		}
		x, y = prevX, prevY
	}
	ops := make([]Op, len(rev))
	for i, o := range rev {
		ops[len(rev)-1-i] = o
	}
	return ops
}

func replaceAll(a, b []string) []Op {
	ops := make([]Op, 0, len(a)+len(b))
	for _, l := range a {
		ops = append(ops, Op{'-', l})
	}
	for _, l := range b {
		ops = append(ops, Op{'+', l})
	}
	return ops
}

// split cuts text into lines without their newlines; a final line without
// a newline is kept.
func split(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\n")
	}
	return lines
}

// Unified renders the diff of a and b as a unified diff with context lines
// of context, headed "--- a/<aName>" and "+++ b/<bName>" (use /dev/null
// for a missing side). Equal inputs give "".
func Unified(aName, bName, a, b string, context int) string {
	if a == b {
		return ""
	}
	ops := Lines(split(a), split(b))
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", aName, bName)
	// Group changes into hunks with context.
	type pos struct{ ai, bi int }
	positions := make([]pos, len(ops)+1)
	ai, bi := 0, 0
	for i, o := range ops {
		positions[i] = pos{ai, bi}
		switch o.Kind {
		case ' ':
			ai++
			bi++
		case '-':
			ai++
		case '+':
			bi++
		}
	}
	positions[len(ops)] = pos{ai, bi}
	i := 0
	for i < len(ops) {
		for i < len(ops) && ops[i].Kind == ' ' {
			i++
		}
		if i == len(ops) {
			break
		}
		start := max(i-context, 0)
		end := i
		for end < len(ops) {
			if ops[end].Kind != ' ' {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].Kind == ' ' {
				run++
			}
			if run == len(ops) || run-end > 2*context {
				end = min(end+context, len(ops))
				break
			}
			end = run
		}
		p0, p1 := positions[start], positions[end]
		fmt.Fprintf(&out, "@@ -%s +%s @@\n", rangeOf(p0.ai, p1.ai-p0.ai), rangeOf(p0.bi, p1.bi-p0.bi))
		for _, o := range ops[start:end] {
			out.WriteByte(o.Kind)
			out.WriteString(o.Line)
			out.WriteByte('\n')
		}
		i = end
	}
	return out.String()
}

func rangeOf(start, n int) string {
	if n == 0 {
		return fmt.Sprintf("%d,0", start)
	}
	if n == 1 {
		return fmt.Sprintf("%d", start+1)
	}
	return fmt.Sprintf("%d,%d", start+1, n)
}
