package textdiff

import (
	"math/rand"
	"strings"
	"testing"
)

// apply replays an edit script onto a, checking it against a as it goes.
func apply(t *testing.T, a []string, ops []Op) []string {
	t.Helper()
	var out []string
	i := 0
	for _, o := range ops {
		switch o.Kind {
		case ' ', '-':
			if i >= len(a) || a[i] != o.Line {
				t.Fatalf("script does not match a at line %d", i)
			}
			i++
			if o.Kind == ' ' {
				out = append(out, o.Line)
			}
		case '+':
			out = append(out, o.Line)
		}
	}
	if i != len(a) {
		t.Fatalf("script consumed %d of %d lines", i, len(a))
	}
	return out
}

func TestLinesRoundTripAndMinimal(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	words := []string{"a", "b", "c", "d", "e"}
	for n := 0; n < 300; n++ {
		a := make([]string, r.Intn(30))
		for i := range a {
			a[i] = words[r.Intn(len(words))]
		}
		b := append([]string(nil), a...)
		for e := r.Intn(5); e > 0; e-- {
			if len(b) > 0 && r.Intn(2) == 0 {
				j := r.Intn(len(b))
				b = append(b[:j], b[j+1:]...)
			} else {
				j := r.Intn(len(b) + 1)
				b = append(b[:j], append([]string{"x"}, b[j:]...)...)
			}
		}
		ops := Lines(a, b)
		if got := apply(t, a, ops); strings.Join(got, "|") != strings.Join(b, "|") {
			t.Fatalf("script turns %v into %v, not %v", a, got, b)
		}
	}
}

func TestUnified(t *testing.T) {
	a := "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\n"
	b := "one\ntwo\nTHREE\nfour\nfive\nsix\nseven\neight\nnine\n"
	want := "--- a/x\n+++ b/x\n@@ -2,3 +2,3 @@\n two\n-three\n+THREE\n four\n@@ -8 +8,2 @@\n eight\n+nine\n"
	if got := Unified("a/x", "b/x", a, b, 1); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if Unified("a", "b", a, a, 3) != "" {
		t.Fatal("equal inputs gave a diff")
	}
	if got := Unified("/dev/null", "b/new", "", "x\n", 3); got != "--- /dev/null\n+++ b/new\n@@ -0,0 +1 @@\n+x\n" {
		t.Fatalf("new file: %q", got)
	}
}
